/*
 * ipt_text.h: a growing NUL-terminated text buffer for iptables-restore
 * inputs, with sticky out-of-memory: appends after a failed one do
 * nothing, and the caller checks oom once at the end.
 */
#ifndef IPT_TEXT_H
#define IPT_TEXT_H

#include <stddef.h>

/* A rendered restore input.  All zero is an empty text. */
struct ipt_text {
	char	*buf;		/* NUL-terminated, NULL when empty */
	size_t	 len;
	size_t	 cap;
	size_t	 nrules;	/* "-A" lines */
	size_t	 nskipped;	/* service ports or IPs left out */
	char	 skipped[256];	/* why the first one was left out */
	int	 oom;		/* an append failed: the text is cut */
	size_t	 natmark;	/* ipt_render: end of the nat declarations */
	size_t	 filtermark;	/* ipt_render: end of the filter ones */
};

/*
 * Append n bytes of s to t, growing it (doubling, 4 KB first).  If
 * memory runs out, t->oom is set and this and every later append do
 * nothing.
 */
void		 ipt_put(struct ipt_text *t, const char *s, size_t n);
/* Append a printf-formatted string to t; oom as for ipt_put(). */
void		 ipt_putf(struct ipt_text *t, const char *fmt, ...)
		    __attribute__((__format__(printf, 2, 3)));
/* Append the NUL-terminated string s to t; oom as for ipt_put(). */
void		 ipt_puts(struct ipt_text *t, const char *s);
/* Append u in decimal to t (no printf: a hot path); as ipt_put(). */
void		 ipt_putu(struct ipt_text *t, unsigned int u);
/*
 * Return the line at *pp (not NUL-terminated: its length, without the
 * newline, goes to *len) and advance *pp past it; NULL when *pp is NULL
 * or at the end of the string.
 */
const char	*ipt_next_line(const char **pp, size_t *len);
/* Release t's buffer and zero it; t may be reused. */
void		 ipt_text_free(struct ipt_text *t);

#endif /* IPT_TEXT_H */
