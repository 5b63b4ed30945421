/*
 * iptables_jumps.c: find the jumps to our chains in iptables listings
 * and write the fixes of the ones from the built-in chains.  Pure: texts
 * in, texts out.  See iptables_jumps.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipt_text.h"
#include "iptables_jumps.h"

#define IPT_PORTALS_MATCH	"-m comment --comment " \
	"\"handle ClusterIPs; NOTE: this must be before the NodePort rules\""
#define IPT_NODEPORTS_MATCH	"-m addrtype --dst-type LOCAL " \
	"-m comment --comment " \
	"\"handle service NodePorts; NOTE: this must be the last rule in " \
	"the chain\""
#define IPT_NON_LOCAL_MATCH	"-m comment --comment " \
	"\"Ensure that non-local NodePort traffic can flow\""

/* A jump rule from a built-in chain to one of ours. */
struct ipt_jump {
	const char	*table;
	const char	*chain;		/* built-in */
	const char	*target;	/* ours */
	int		 first;		/* 1: -I CHAIN 1, 0: -A CHAIN */
	const char	*args;
};

/* Listed portal jump before NodePort jump of the same chain. */
static const struct ipt_jump ipt_jumps[] = {
	{ "nat", "PREROUTING", IPT_PORTALS_CONTAINER, 1,
	    IPT_PORTALS_MATCH " -j " IPT_PORTALS_CONTAINER },
	{ "nat", "PREROUTING", IPT_NODEPORT_CONTAINER, 0,
	    IPT_NODEPORTS_MATCH " -j " IPT_NODEPORT_CONTAINER },
	{ "nat", "OUTPUT", IPT_PORTALS_HOST, 1,
	    IPT_PORTALS_MATCH " -j " IPT_PORTALS_HOST },
	{ "nat", "OUTPUT", IPT_NODEPORT_HOST, 0,
	    IPT_NODEPORTS_MATCH " -j " IPT_NODEPORT_HOST },
	{ "filter", "INPUT", IPT_NODEPORT_NON_LOCAL, 1,
	    IPT_NON_LOCAL_MATCH " -j " IPT_NODEPORT_NON_LOCAL },
};
#define IPT_NJUMPS	(sizeof(ipt_jumps) / sizeof(ipt_jumps[0]))

const char *const ipt_nat_chains[] = {
	IPT_PORTALS_CONTAINER, IPT_PORTALS_HOST, IPT_NODEPORT_CONTAINER,
	IPT_NODEPORT_HOST, NULL
};
const char *const ipt_filter_chains[] = {
	IPT_NODEPORT_NON_LOCAL, NULL
};

const struct ipt_read_chain ipt_read_chains[IPT_NREADS] = {
	{ "nat", "PREROUTING" },
	{ "nat", "OUTPUT" },
	{ "filter", "INPUT" },
};

/* Split rule arguments into tokens, removing restore-style quotes. */
struct ipt_toks {
	char	*buf;
	char	**v;
	size_t	 n;
};

/* Tokenize len bytes of s; 0, or -1 if out of memory. */
static int
ipt_tokenize(const char *s, size_t len, struct ipt_toks *tk)
{
	const char	*p = s, *end = s + len;
	char		*w;

	memset(tk, 0, sizeof(*tk));
	if ((tk->buf = malloc(len + 1)) == NULL ||
	    (tk->v = calloc(len / 2 + 1, sizeof(*tk->v))) == NULL) {
		free(tk->buf);
		return (-1);
	}
	w = tk->buf;
	for (;;) {
		while (p < end && isspace((unsigned char)*p))
			p++;
		if (p == end)
			break;
		tk->v[tk->n++] = w;
		while (p < end && !isspace((unsigned char)*p)) {
			if (*p != '"') {
				*w++ = *p++;
				continue;
			}
			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < end)
					p++;
				*w++ = *p;
			}
			if (p < end)
				p++;
		}
		*w++ = '\0';
	}
	return (0);
}

/* Release tokens. */
static void
ipt_toks_free(struct ipt_toks *tk)
{
	free(tk->buf);
	free(tk->v);
	memset(tk, 0, sizeof(*tk));
}

/* Return the chain a rule jumps or goes to, NULL if none. */
static const char *
ipt_toks_target(const struct ipt_toks *tk)
{
	size_t	i;

	for (i = 0; i + 1 < tk->n; i++)
		if (strcmp(tk->v[i], "-j") == 0 || strcmp(tk->v[i], "-g") == 0)
			return (tk->v[i + 1]);
	return (NULL);
}

/* Compare two tokens for qsort. */
static int
ipt_tokcmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

/*
 * Return 1 if two rules have the same arguments in any order: iptables
 * prints matches in its own order, not in the order they were given.
 * Out of memory, return 0 and set t->oom: the answer would be a guess.
 */
static int
ipt_same_rule(const char *a, size_t alen, const char *b, size_t blen,
    struct ipt_text *t)
{
	struct ipt_toks	x, y;
	size_t		i;
	int		same = 0;

	if (ipt_tokenize(a, alen, &x) == -1) {
		t->oom = 1;
		return (0);
	}
	if (ipt_tokenize(b, blen, &y) == -1) {
		ipt_toks_free(&x);
		t->oom = 1;
		return (0);
	}
	if (x.n == y.n) {
		qsort(x.v, x.n, sizeof(*x.v), ipt_tokcmp);
		qsort(y.v, y.n, sizeof(*y.v), ipt_tokcmp);
		for (i = 0; i < x.n && strcmp(x.v[i], y.v[i]) == 0; i++)
			;
		same = i == x.n;
	}
	ipt_toks_free(&x);
	ipt_toks_free(&y);
	return (same);
}

/* Return the index of name in a NULL-terminated list, or -1. */
static int
ipt_chain_index(const char *const *list, const char *name)
{
	int	i;

	for (i = 0; name != NULL && list[i] != NULL; i++)
		if (strcmp(list[i], name) == 0)
			return (i);
	return (-1);
}

/*
 * If line is "-A <chain not in ours> ... -j <one of ours>", return the
 * chain's length and point *rest at the arguments; else return 0.
 */
size_t
ipt_foreign_jump(const char *line, size_t len, const char *const *ours,
    const char **rest, int *target, struct ipt_text *t)
{
	struct ipt_toks	tk;
	char		chain[64];
	size_t		clen;

	if (len < 4 || strncmp(line, "-A ", 3) != 0)
		return (0);
	clen = strcspn(line + 3, " \n");
	if (clen == 0 || clen >= sizeof(chain))
		return (0);
	memcpy(chain, line + 3, clen);
	chain[clen] = '\0';
	if (ipt_chain_index(ours, chain) != -1)
		return (0);
	*rest = line + 3 + clen;
	if (ipt_tokenize(*rest, len - 3 - clen, &tk) == -1) {
		/* Not "no jump": the caller must not keep the rule. */
		t->oom = 1;
		return (0);
	}
	*target = ipt_chain_index(ours, ipt_toks_target(&tk));
	ipt_toks_free(&tk);
	return (*target == -1 ? 0 : clen);
}

/*
 * Compare the "-S" listing of one built-in chain with our jumps from it
 * and write the fixes: deletions to dels, additions to adds.
 */
static void
ipt_jumps_fix(const char *table, const char *chain, const char *listing,
    struct ipt_text *dels, struct ipt_text *adds)
{
	const char *const	*ours;
	const struct ipt_jump	*j;
	const char		*p = listing, *line, *rest;
	size_t			 count[IPT_NJUMPS], pos[IPT_NJUMPS], len, k, i;
	size_t			 idx = 0, ppos = 0;
	int			 target, bad;

	ours = strcmp(table, "nat") == 0 ? ipt_nat_chains : ipt_filter_chains;
	memset(count, 0, sizeof(count));
	memset(pos, 0, sizeof(pos));
	/* A "-S CHAIN" listing has only "-P CHAIN" and "-A CHAIN" lines. */
	while ((line = ipt_next_line(&p, &len)) != NULL) {
		if (strncmp(line, "-A ", 3) != 0)
			continue;
		idx++;
		if (ipt_foreign_jump(line, len, ours, &rest, &target,
		    dels) == 0)
			continue;
		for (k = 0; k < IPT_NJUMPS; k++) {
			j = &ipt_jumps[k];
			if (strcmp(j->table, table) == 0 &&
			    strcmp(j->chain, chain) == 0 &&
			    strcmp(j->target, ours[target]) == 0 &&
			    ipt_same_rule(rest, len - (rest - line), j->args,
			    strlen(j->args), dels))
				break;
		}
		if (k == IPT_NJUMPS)	/* a jump to ours, but not ours */
			ipt_putf(dels, "-D %.*s\n", (int)(len - 3), line + 3);
		else if (count[k]++ == 0)
			pos[k] = idx;
	}
	for (k = 0; k < IPT_NJUMPS; k++) {
		j = &ipt_jumps[k];
		if (strcmp(j->table, table) != 0 || strcmp(j->chain, chain))
			continue;
		/* Exactly one copy; a NodePort jump after the portal one. */
		bad = count[k] != 1 || (!j->first && pos[k] < ppos);
		if (j->first && !bad)
			ppos = pos[k];
		if (!bad)
			continue;
		for (i = 0; i < count[k]; i++)
			ipt_putf(dels, "-D %s %s\n", chain, j->args);
		if (j->first)
			ipt_putf(adds, "-I %s 1 %s\n", chain, j->args);
		else
			ipt_putf(adds, "-A %s %s\n", chain, j->args);
	}
}

/* Fix our jumps from the three listings; fix[0] nat, fix[1] filter. */
int
ipt_jumps_fixes(const char *const listing[IPT_NREADS], struct ipt_text fix[2],
    char *err, size_t errlen)
{
	const struct ipt_read_chain	*rc;
	struct ipt_text			 adds[2];
	int				 i, k, rv = -1;

	memset(fix, 0, 2 * sizeof(*fix));
	memset(adds, 0, sizeof(adds));
	for (i = 0; i < IPT_NREADS; i++) {
		rc = &ipt_read_chains[i];
		k = strcmp(rc->table, "nat") != 0;
		ipt_jumps_fix(rc->table, rc->chain, listing[i] != NULL ?
		    listing[i] : "", &fix[k], &adds[k]);
	}
	/* Deletions first, then additions, so "-I 1" lands in front. */
	for (k = 0; k < 2; k++)
		if (adds[k].len > 0)
			ipt_put(&fix[k], adds[k].buf, adds[k].len);
	if (fix[0].oom || fix[1].oom || adds[0].oom || adds[1].oom) {
		snprintf(err, errlen, "out of memory checking jump rules");
		ipt_text_free(&fix[0]);
		ipt_text_free(&fix[1]);
		goto done;
	}
	rv = 0;
done:
	ipt_text_free(&adds[0]);
	ipt_text_free(&adds[1]);
	return (rv);
}
