/*
 * ipt_text.c: the text buffer the iptables modules render into.  See
 * ipt_text.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipt_text.h"

/* Append n bytes to a text. */
void
ipt_put(struct ipt_text *t, const char *s, size_t n)
{
	size_t	 ncap;
	char	*p;

	if (t->oom)
		return;
	if (t->len + n + 1 > t->cap) {
		ncap = t->cap == 0 ? 4096 : t->cap;
		while (ncap < t->len + n + 1)
			ncap *= 2;
		if ((p = realloc(t->buf, ncap)) == NULL) {
			t->oom = 1;
			return;
		}
		t->buf = p;
		t->cap = ncap;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

/* Append a formatted string to a text. */
void
ipt_putf(struct ipt_text *t, const char *fmt, ...)
{
	char	 sbuf[512], *big;
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(sbuf, sizeof(sbuf), fmt, ap);
	va_end(ap);
	if (n < 0) {
		t->oom = 1;
		return;
	}
	if ((size_t)n < sizeof(sbuf)) {
		ipt_put(t, sbuf, n);
		return;
	}
	va_start(ap, fmt);
	n = vasprintf(&big, fmt, ap);
	va_end(ap);
	if (n == -1) {
		t->oom = 1;
		return;
	}
	ipt_put(t, big, n);
	free(big);
}

/* Release a rendered text. */
void
ipt_text_free(struct ipt_text *t)
{
	free(t->buf);
	memset(t, 0, sizeof(*t));
}

/* Append a NUL-terminated string to a text. */
void
ipt_puts(struct ipt_text *t, const char *s)
{
	ipt_put(t, s, strlen(s));
}

/* Append a number in decimal to a text. */
void
ipt_putu(struct ipt_text *t, unsigned int u)
{
	char	buf[16], *p = buf + sizeof(buf);

	do {
		*--p = '0' + u % 10;
		u /= 10;
	} while (u != 0);
	ipt_put(t, p, buf + sizeof(buf) - p);
}

/* Return the next line of *pp and its length; NULL at the end. */
const char *
ipt_next_line(const char **pp, size_t *len)
{
	const char	*s = *pp, *nl;

	if (s == NULL || *s == '\0')
		return (NULL);
	if ((nl = strchr(s, '\n')) == NULL) {
		*len = strlen(s);
		*pp = s + *len;
	} else {
		*len = nl - s;
		*pp = nl + 1;
	}
	return (s);
}
