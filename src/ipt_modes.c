/*
 * ipt_modes.c: the chains and ipsets of kube-proxy's three modes and the
 * pure rendering of their removal.  See ipt_modes.h.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipt_modes.h"
#include "ipt_text.h"

/* A chain (or, with prefix, a family of chains) of some modes. */
struct ipt_mode_chain {
	const char	*table;
	const char	*name;
	int		 prefix;	/* 1: every chain name starting so */
	int		 modes;		/* IPT_MODE_* */
};

/* In the order their removal is written (see ipt_modes.h). */
static const struct ipt_mode_chain ipt_mode_chains[] = {
	{ "nat", "KUBE-PORTALS-CONTAINER", 0, IPT_MODE_USERSPACE },
	{ "nat", "KUBE-PORTALS-HOST", 0, IPT_MODE_USERSPACE },
	{ "nat", "KUBE-NODEPORT-CONTAINER", 0, IPT_MODE_USERSPACE },
	{ "nat", "KUBE-NODEPORT-HOST", 0, IPT_MODE_USERSPACE },
	{ "nat", "KUBE-SERVICES", 0, IPT_MODE_IPTABLES | IPT_MODE_IPVS },
	{ "nat", "KUBE-NODEPORTS", 0, IPT_MODE_IPTABLES },
	{ "nat", "KUBE-POSTROUTING", 0, IPT_MODE_IPTABLES | IPT_MODE_IPVS },
	{ "nat", "KUBE-FIREWALL", 0, IPT_MODE_IPVS },
	{ "nat", "KUBE-NODE-PORT", 0, IPT_MODE_IPVS },
	{ "nat", "KUBE-LOAD-BALANCER", 0, IPT_MODE_IPVS },
	{ "nat", "KUBE-PROXY-CANARY", 0, IPT_MODE_IPTABLES },
	{ "nat", "KUBE-SVC-", 1, IPT_MODE_IPTABLES },
	{ "nat", "KUBE-SEP-", 1, IPT_MODE_IPTABLES },
	{ "nat", "KUBE-FW-", 1, IPT_MODE_IPTABLES },
	{ "nat", "KUBE-XLB-", 1, IPT_MODE_IPTABLES },
	{ "filter", "KUBE-NODEPORT-NON-LOCAL", 0, IPT_MODE_USERSPACE },
	{ "filter", "KUBE-SERVICES", 0, IPT_MODE_IPTABLES },
	{ "filter", "KUBE-EXTERNAL-SERVICES", 0, IPT_MODE_IPTABLES },
	{ "filter", "KUBE-FORWARD", 0, IPT_MODE_IPTABLES | IPT_MODE_IPVS },
	{ "filter", "KUBE-PROXY-CANARY", 0, IPT_MODE_IPTABLES },
	{ "mangle", "KUBE-PROXY-CANARY", 0, IPT_MODE_IPTABLES },
};
#define IPT_MODE_NCHAINS \
	(sizeof(ipt_mode_chains) / sizeof(ipt_mode_chains[0]))

/* ipvs mode's sets (pkg/proxy/ipvs/ipset.go), their IPv4 names. */
static const char *const ipt_mode_ipsets[] = {
	"KUBE-LOOP-BACK", "KUBE-CLUSTER-IP", "KUBE-EXTERNAL-IP",
	"KUBE-EXTERNAL-IP-LOCAL", "KUBE-LOAD-BALANCER",
	"KUBE-LOAD-BALANCER-LOCAL", "KUBE-LOAD-BALANCER-FW",
	"KUBE-LOAD-BALANCER-SOURCE-IP", "KUBE-LOAD-BALANCER-SOURCE-CIDR",
	"KUBE-NODE-PORT-TCP", "KUBE-NODE-PORT-LOCAL-TCP",
	"KUBE-NODE-PORT-UDP", "KUBE-NODE-PORT-LOCAL-UDP",
	"KUBE-NODE-PORT-SCTP-HASH", "KUBE-NODE-PORT-LOCAL-SCTP-HASH", NULL
};

/* A chain of a prefix family, as found in a save. */
struct ipt_mode_pchain {
	const char	*name;		/* in the save, not NUL-terminated */
	size_t		 len;
	size_t		 kind;		/* index in ipt_mode_chains */
};

/* The chains of one table that a cleanup removes, as found. */
struct ipt_mode_table {
	int			 exists[IPT_MODE_NCHAINS]; /* exact names */
	struct ipt_mode_pchain	*pv;	/* prefix chains, in save order */
	size_t			 np;
	size_t			 cap;
	int			 oom;
};

/* Return the index of the entry chain matches in table, or -1. */
static int
ipt_modes_lookup(const char *table, const char *chain, size_t len,
    int modes)
{
	const struct ipt_mode_chain	*c;
	size_t				 i, n;

	for (i = 0; i < IPT_MODE_NCHAINS; i++) {
		c = &ipt_mode_chains[i];
		if ((c->modes & modes) == 0 || strcmp(c->table, table) != 0)
			continue;
		n = strlen(c->name);
		if (c->prefix ? len > n && strncmp(chain, c->name, n) == 0 :
		    len == n && strncmp(chain, c->name, n) == 0)
			return ((int)i);
	}
	return (-1);
}

/* Is chain of table one that a mode in modes makes? */
int
ipt_modes_chain(const char *table, const char *chain, size_t len, int modes)
{
	return (ipt_modes_lookup(table, chain, len, modes) != -1);
}

/*
 * Return the next argument of a rule at *pp (before end), quotes kept,
 * its length in *len, and advance; NULL at the end.
 */
static const char *
ipt_modes_token(const char **pp, const char *end, size_t *len)
{
	const char	*p = *pp, *tok;
	int		 quoted = 0;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end)
		return (NULL);
	for (tok = p; p < end && (quoted || (*p != ' ' && *p != '\t')); p++) {
		if (quoted && *p == '\\' && p + 1 < end)
			p++;
		else if (*p == '"')
			quoted = !quoted;
	}
	*len = p - tok;
	*pp = p;
	return (tok);
}

/* Return the chain a rule's arguments jump or go to (length *len). */
static const char *
ipt_modes_target(const char *args, const char *end, size_t *len)
{
	const char	*p = args, *tok;
	size_t		 tlen;

	while ((tok = ipt_modes_token(&p, end, &tlen)) != NULL)
		if (tlen == 2 && (strncmp(tok, "-j", 2) == 0 ||
		    strncmp(tok, "-g", 2) == 0))
			return (ipt_modes_token(&p, end, len));
	return (NULL);
}

/* Remember a prefix chain of the table (kind: its entry). */
static void
ipt_modes_keep(struct ipt_mode_table *mt, const char *name, size_t len,
    size_t kind)
{
	struct ipt_mode_pchain	*pv;
	size_t			 cap;

	if (mt->oom)
		return;
	if (mt->np == mt->cap) {
		cap = mt->cap == 0 ? 64 : mt->cap * 2;
		if ((pv = realloc(mt->pv, cap * sizeof(*pv))) == NULL) {
			mt->oom = 1;
			return;
		}
		mt->pv = pv;
		mt->cap = cap;
	}
	mt->pv[mt->np].name = name;
	mt->pv[mt->np].len = len;
	mt->pv[mt->np++].kind = kind;
}

/* Describe what one table loses: "nat: A B KUBE-SVC-* (3)". */
static void
ipt_modes_describe(struct ipt_text *w, const char *table,
    const struct ipt_mode_table *mt)
{
	size_t	i, k, n;

	ipt_putf(w, "%s%s:", w->len > 0 ? "; " : "", table);
	for (i = 0; i < IPT_MODE_NCHAINS; i++) {
		if (mt->exists[i])
			ipt_putf(w, " %s", ipt_mode_chains[i].name);
		if (!ipt_mode_chains[i].prefix)
			continue;
		for (k = n = 0; k < mt->np; k++)
			n += mt->pv[k].kind == i;
		if (n > 0)
			ipt_putf(w, " %s* (%zu)", ipt_mode_chains[i].name, n);
	}
}

/* Write "PRE" NAME "POST" for every chain found in one table. */
static void
ipt_modes_each(struct ipt_text *out, const struct ipt_mode_table *mt,
    const char *pre, const char *post)
{
	size_t	i;

	for (i = 0; i < IPT_MODE_NCHAINS; i++)
		if (mt->exists[i]) {
			ipt_puts(out, pre);
			ipt_puts(out, ipt_mode_chains[i].name);
			ipt_puts(out, post);
		}
	for (i = 0; i < mt->np; i++) {
		ipt_puts(out, pre);
		ipt_put(out, mt->pv[i].name, mt->pv[i].len);
		ipt_puts(out, post);
	}
}

/* Write the removal of the chains found in one table. */
static void
ipt_modes_emit(struct ipt_text *out, const char *table,
    const struct ipt_mode_table *mt, const struct ipt_text *dels)
{
	ipt_putf(out, "*%s\n", table);
	if (dels->len > 0)
		ipt_put(out, dels->buf, dels->len);
	/* Flush all first: a removed chain may jump to another. */
	ipt_modes_each(out, mt, ":", " - [0:0]\n");
	ipt_modes_each(out, mt, "-X ", "\n");
	ipt_put(out, "COMMIT\n", 7);
}

/* Render the removal of the modes' chains from one table's save. */
static void
ipt_modes_table(struct ipt_text *out, const char *table, const char *save,
    int modes, struct ipt_modes_found *found, struct ipt_text *w)
{
	struct ipt_mode_table	 mt;
	struct ipt_text		 dels;
	const char		*p = save, *line, *end, *tgt;
	size_t			 len, clen, tlen, nexact = 0;
	int			 i;

	memset(&mt, 0, sizeof(mt));
	memset(&dels, 0, sizeof(dels));
	while ((line = ipt_next_line(&p, &len)) != NULL) {
		end = line + len;
		if (line[0] == ':') {
			clen = strcspn(line + 1, " \n");
			if ((i = ipt_modes_lookup(table, line + 1, clen,
			    modes)) == -1)
				continue;
			if (ipt_mode_chains[i].prefix)
				ipt_modes_keep(&mt, line + 1, clen, i);
			else if (!mt.exists[i]) {
				mt.exists[i] = 1;
				nexact++;
			}
			if (ipt_mode_chains[i].modes == IPT_MODE_IPVS)
				found->ipvs = 1;
		} else if (len > 3 && strncmp(line, "-A ", 3) == 0) {
			clen = strcspn(line + 3, " \n");
			if (ipt_modes_chain(table, line + 3, clen, modes))
				continue;	/* flushed anyway */
			tgt = ipt_modes_target(line + 3 + clen, end, &tlen);
			if (tgt != NULL &&
			    ipt_modes_chain(table, tgt, tlen, modes)) {
				ipt_putf(&dels, "-D %.*s\n", (int)(len - 3),
				    line + 3);
				found->njumps++;
			}
		}
	}
	if (dels.len > 0 || nexact + mt.np > 0) {
		ipt_modes_emit(out, table, &mt, &dels);
		ipt_modes_describe(w, table, &mt);
	}
	found->nchains += nexact + mt.np;
	if (dels.oom || mt.oom)
		out->oom = 1;
	ipt_text_free(&dels);
	free(mt.pv);
}

/* Render the removal of the modes' chains and every jump to them. */
int
ipt_render_cleanup(const char *nat_save, const char *filter_save,
    const char *mangle_save, int modes, struct ipt_text *out,
    struct ipt_modes_found *found, char *err, size_t errlen)
{
	struct ipt_modes_found	 f;
	struct ipt_text		 w;

	memset(out, 0, sizeof(*out));
	memset(&f, 0, sizeof(f));
	memset(&w, 0, sizeof(w));
	ipt_modes_table(out, "nat", nat_save, modes, &f, &w);
	ipt_modes_table(out, "filter", filter_save, modes, &f, &w);
	ipt_modes_table(out, "mangle", mangle_save, modes, &f, &w);
	if (out->oom || w.oom) {
		ipt_text_free(out);
		ipt_text_free(&w);
		snprintf(err, errlen, "out of memory rendering the cleanup");
		return (-1);
	}
	if (w.len >= sizeof(f.what))
		snprintf(f.what, sizeof(f.what), "%.*s...",
		    (int)sizeof(f.what) - 4, w.buf);
	else if (w.len > 0)
		memcpy(f.what, w.buf, w.len + 1);
	ipt_text_free(&w);
	if (found != NULL)
		*found = f;
	return (0);
}

/* Render the destruction of ipvs mode's sets of family that exist. */
int
ipt_modes_ipsets(const char *list, int family, struct ipt_text *out,
    struct ipt_text *names)
{
	const char	*p = list, *line;
	char		 name[64];
	size_t		 len;
	int		 i, n = 0;

	memset(out, 0, sizeof(*out));
	while ((line = ipt_next_line(&p, &len)) != NULL) {
		while (len > 0 && (line[len - 1] == ' ' ||
		    line[len - 1] == '\r'))
			len--;
		for (i = 0; ipt_mode_ipsets[i] != NULL; i++) {
			snprintf(name, sizeof(name), "%s%s", family ==
			    AF_INET6 ? "KUBE-6-" : "KUBE-",
			    ipt_mode_ipsets[i] + 5);
			/* ipset names are 31 bytes at most (ipset.go). */
			name[31] = '\0';
			if (strlen(name) == len &&
			    strncmp(line, name, len) == 0)
				break;
		}
		if (ipt_mode_ipsets[i] == NULL)
			continue;
		ipt_putf(out, "destroy %s\n", name);
		if (names != NULL)
			ipt_putf(names, "%s%s", names->len > 0 ? " " : "",
			    name);
		n++;
	}
	if (out->oom || (names != NULL && names->oom)) {
		ipt_text_free(out);
		return (-1);
	}
	return (n);
}
