/*
 * iptables_diff.c: the difference between the rules last applied and a
 * new rendering, as the two restore inputs of an incremental update
 * (see "Incremental updates" in iptables.h).  Pure: texts in, texts
 * out.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include "ipt_text.h"
#include "iptables_diff.h"

/*
 * An incremental update (no flush, "-I"/"-D" of the changed rules only)
 * may change at most max(IPT_INCR_MIN, IPT_INCR_PCT % of the rules);
 * beyond that the full text is about as fast and repairs more.
 */
#define IPT_INCR_MIN		64
#define IPT_INCR_PCT		10

/* One "-A" line of a rendered text. */
struct ipt_line {
	int		 table;		/* 0: nat, 1: filter */
	const char	*s;		/* "-A CHAIN ...", no newline */
	size_t		 len;
};

/* Order rule lines by table, then byte by byte. */
static int
ipt_linecmp(const void *a, const void *b)
{
	const struct ipt_line	*x = a, *y = b;
	int			 c;

	if (x->table != y->table)
		return (x->table < y->table ? -1 : 1);
	c = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);
	if (c != 0)
		return (c);
	return (x->len < y->len ? -1 : x->len > y->len);
}

/* Collect the "-A" lines of a rendered text, sorted; 0, -1 if no memory. */
static int
ipt_lines(const char *text, struct ipt_line **vp, size_t *np)
{
	struct ipt_line	*v = NULL, *nv;
	const char	*p = text, *line;
	size_t		 len, n = 0, cap = 0;
	int		 table = 0;

	while ((line = ipt_next_line(&p, &len)) != NULL) {
		if (line[0] == '*')
			table = len == 7 && memcmp(line, "*filter", 7) == 0;
		if (len < 4 || memcmp(line, "-A ", 3) != 0)
			continue;
		if (n == cap) {
			cap = cap == 0 ? 1024 : cap * 2;
			if ((nv = reallocarray(v, cap, sizeof(*v))) == NULL) {
				free(v);
				return (-1);
			}
			v = nv;
		}
		v[n].table = table;
		v[n].s = line;
		v[n++].len = len;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), ipt_linecmp);
	*vp = v;
	*np = n;
	return (0);
}

/* Order rule lines by their place in the rendered text. */
static int
ipt_linepos(const void *a, const void *b)
{
	const struct ipt_line	*x = a, *y = b;

	return (x->s < y->s ? -1 : x->s > y->s);
}

/*
 * Walk two sorted rule sets and write the rules only in o as "-D" lines
 * to dels[table]; collect those only in w into adds (an array of nw
 * entries), *nadds of them.  Both are multisets: a duplicate rule is
 * deleted or added once per copy.  Returns the number of changes, or -1
 * as soon as there are more than max.
 */
static ssize_t
ipt_diff(const struct ipt_line *o, size_t no, const struct ipt_line *w,
    size_t nw, size_t max, struct ipt_text dels[2], struct ipt_line *adds,
    size_t *nadds)
{
	size_t	i = 0, j = 0, nchanges = 0;
	int	c;

	*nadds = 0;
	while (i < no || j < nw) {
		if (i < no && j < nw)
			c = ipt_linecmp(&o[i], &w[j]);
		else
			c = i < no ? -1 : 1;
		if (c == 0) {
			i++;
			j++;
			continue;
		}
		if (++nchanges > max)
			return (-1);
		if (c < 0) {
			ipt_putf(&dels[o[i].table], "-D %.*s\n",
			    (int)(o[i].len - 3), o[i].s + 3);
			i++;
		} else
			adds[(*nadds)++] = w[j++];
	}
	return (nchanges);
}

/*
 * Write the additions to table (0: nat, 1: filter, named name) into in
 * as "-I CHAIN 1 ..." lines, last rendered first, so that they end up
 * at the top of their chains in render order, ahead of any stale rule
 * they replace.  adds is in render order.
 */
static void
ipt_put_inserts(struct ipt_text *in, const char *name, int table,
    const struct ipt_line *adds, size_t nadds)
{
	const struct ipt_line	*l;
	size_t			 i, clen;
	int			 any = 0;

	for (i = nadds; i-- > 0;) {
		l = &adds[i];
		if (l->table != table)
			continue;
		if (!any)
			ipt_putf(in, "*%s\n", name);
		any = 1;
		/* "-A CHAIN rest" -> "-I CHAIN 1 rest". */
		clen = strcspn(l->s + 3, " ");
		if (3 + clen >= l->len)
			ipt_putf(in, "-I %.*s 1\n", (int)clen, l->s + 3);
		else
			ipt_putf(in, "-I %.*s 1 %.*s\n", (int)clen, l->s + 3,
			    (int)(l->len - 4 - clen), l->s + 4 + clen);
	}
	if (any)
		ipt_put(in, "COMMIT\n", 7);
}

/* The inputs of an incremental update, as iptables_diff.h says. */
ssize_t
ipt_incremental(const char *last, const struct ipt_text *t,
    struct ipt_text *addin, struct ipt_text *delin, size_t *nadds,
    size_t *ndels)
{
	static const char *const tables[] = { "nat", "filter" };
	struct ipt_text	 dels[2];
	struct ipt_line	*o = NULL, *w = NULL, *adds = NULL;
	size_t		 no = 0, nw = 0, max;
	ssize_t		 rv = -1;
	int		 k;

	memset(addin, 0, sizeof(*addin));
	memset(delin, 0, sizeof(*delin));
	memset(dels, 0, sizeof(dels));
	*nadds = *ndels = 0;
	if (ipt_lines(last, &o, &no) == -1 ||
	    ipt_lines(t->buf, &w, &nw) == -1)
		goto done;
	if (nw > 0 && (adds = reallocarray(NULL, nw, sizeof(*adds))) == NULL)
		goto done;
	max = (no > nw ? no : nw) * IPT_INCR_PCT / 100;
	if (max < IPT_INCR_MIN)
		max = IPT_INCR_MIN;
	if ((rv = ipt_diff(o, no, w, nw, max, dels, adds, nadds)) <= 0)
		goto done;
	*ndels = (size_t)rv - *nadds;
	if (*nadds > 1)
		qsort(adds, *nadds, sizeof(*adds), ipt_linepos);
	for (k = 0; k < 2; k++) {
		ipt_put_inserts(addin, tables[k], k, adds, *nadds);
		if (dels[k].len == 0)
			continue;
		ipt_putf(delin, "*%s\n", tables[k]);
		ipt_put(delin, dels[k].buf, dels[k].len);
		ipt_put(delin, "COMMIT\n", 7);
	}
	if (addin->oom || delin->oom || dels[0].oom || dels[1].oom)
		rv = -1;
done:
	if (rv <= 0) {
		ipt_text_free(addin);
		ipt_text_free(delin);
		*nadds = *ndels = 0;
	}
	for (k = 0; k < 2; k++)
		ipt_text_free(&dels[k]);
	free(adds);
	free(o);
	free(w);
	return (rv);
}
