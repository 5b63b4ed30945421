/*
 * iptables_priv.h: what iptables.c shares with iptables_diff.c; not for
 * other modules.
 */
#ifndef IPTABLES_PRIV_H
#define IPTABLES_PRIV_H

#include <sys/types.h>

#include <stddef.h>

struct ipt_text;

/* Append n bytes, a formatted string, to a text (oom is sticky). */
void		 ipt_put(struct ipt_text *, const char *, size_t);
void		 ipt_putf(struct ipt_text *, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));
/* Return the next line of *pp and its length; NULL at the end. */
const char	*ipt_next_line(const char **pp, size_t *len);

/*
 * Render the restore inputs that change the rules of last (the text
 * last applied) into those of t, with no chain declaration: the new
 * rules ("-I CHAIN 1") into addin, the stale ones ("-D") into delin,
 * each per table with changes and left empty if none; their counts in
 * *nadds and *ndels.  Returns the number of changes (0: the same rules,
 * both empty), or -1 if the change is too large for an incremental
 * update or memory ran out.
 */
ssize_t		 ipt_incremental(const char *last, const struct ipt_text *t,
		    struct ipt_text *addin, struct ipt_text *delin,
		    size_t *nadds, size_t *ndels);

#endif /* IPTABLES_PRIV_H */
