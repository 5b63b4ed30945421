/*
 * iptables.c: render kube-proxy userspace's portal rules and apply them
 * with one iptables-restore per family; repair the jump rules; clean up;
 * flush UDP conntrack entries.  See iptables.h (the node IP: nodeip.h).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec.h"
#include "iptables.h"
#include "iptables_priv.h"
#include "log.h"
#include "netutil.h"

#define IPT_PORTALS_CONTAINER	"KUBE-PORTALS-CONTAINER"
#define IPT_PORTALS_HOST	"KUBE-PORTALS-HOST"
#define IPT_NODEPORT_CONTAINER	"KUBE-NODEPORT-CONTAINER"
#define IPT_NODEPORT_HOST	"KUBE-NODEPORT-HOST"
#define IPT_NODEPORT_NON_LOCAL	"KUBE-NODEPORT-NON-LOCAL"

#define IPT_PORTALS_MATCH	"-m comment --comment " \
	"\"handle ClusterIPs; NOTE: this must be before the NodePort rules\""
#define IPT_NODEPORTS_MATCH	"-m addrtype --dst-type LOCAL " \
	"-m comment --comment " \
	"\"handle service NodePorts; NOTE: this must be the last rule in " \
	"the chain\""
#define IPT_NON_LOCAL_MATCH	"-m comment --comment " \
	"\"Ensure that non-local NodePort traffic can flow\""

/* Seconds to wait for the xtables lock, as kube-proxy's "-w 5". */
#define IPT_WAIT		"5"
#define IPT_READ_TIMEOUT_MS	60000
/* Bound of a "-S" listing or an iptables-save of one table. */
#define IPT_READ_MAX		(64 * 1024 * 1024)

/* Rule flags of ipt_rule(). */
#define IPT_F_PHYSDEV		0x1
#define IPT_F_LOCAL		0x2

struct ipt {
	int	 family;
	char	*path;		/* iptables */
	char	*restore;	/* iptables-restore */
	char	*save;		/* iptables-save */
	char	*last;		/* text last applied, NULL if none */
	size_t	 lastlen;
	int	 jumps_ok;	/* jumps verified by the last restore */
	int	 ct_warned;	/* "no conntrack" was logged */
	int	 backend;	/* IPT_BACKEND_*, from "iptables -V" */
};

/* What "iptables -V" says the binaries drive. */
#define IPT_BACKEND_UNKNOWN	0	/* not asked yet */
#define IPT_BACKEND_NFT		1	/* "(nf_tables)" */
#define IPT_BACKEND_OTHER	2	/* legacy, or it would not say */

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

static const char *const ipt_nat_chains[] = {
	IPT_PORTALS_CONTAINER, IPT_PORTALS_HOST, IPT_NODEPORT_CONTAINER,
	IPT_NODEPORT_HOST, NULL
};
static const char *const ipt_filter_chains[] = {
	IPT_NODEPORT_NON_LOCAL, NULL
};

/* An accepted service port and its cluster IP in canonical form. */
struct ipt_acc {
	const struct ipt_svcport	*sp;
	char				 key[24];	/* name, 0-padded */
	char				 cip[INET6_ADDRSTRLEN];
};

/* Everything one render needs besides the ports. */
struct ipt_rctx {
	int				 family;
	const char			*slash;		/* "/32", "/128" */
	char				 ctarget[96];	/* container side */
	char				 htarget[96];	/* host side */
	struct ipt_acc			*v;		/* accepted, sorted */
	size_t				 n;
	struct ipt_text			*t;
};

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

/* Note an entry left out of the rules; keep the first reason. */
static void
ipt_skip(struct ipt_text *t, const char *fmt, ...)
{
	va_list	ap;

	if (t->nskipped++ == 0) {
		va_start(ap, fmt);
		vsnprintf(t->skipped, sizeof(t->skipped), fmt, ap);
		va_end(ap);
	}
}

/* Canonicalise ip into buf; 0 if it is an address of family. */
static int
ipt_ip_of(int family, const char *ip, char *buf, size_t len)
{
	if (ip == NULL || netutil_canon_ip(ip, buf, len) != family)
		return (-1);
	return (0);
}

/* Return 1 if name is safe inside a double-quoted restore argument. */
static int
ipt_name_ok(const char *name)
{
	size_t	i;

	if (name == NULL || name[0] == '\0' || strlen(name) > 200)
		return (0);
	for (i = 0; name[i] != '\0'; i++)
		if (!isalnum((unsigned char)name[i]) &&
		    strchr("-._/:", name[i]) == NULL)
			return (0);
	return (1);
}

/* Order service ports by name, protocol, then ports and cluster IP. */
static int
ipt_cmp(const void *a, const void *b)
{
	const struct ipt_svcport	*x, *y;
	int				 c;

	/* The key is NUL-padded: the same order as strcmp(). */
	if ((c = memcmp(((const struct ipt_acc *)a)->key,
	    ((const struct ipt_acc *)b)->key,
	    sizeof(((const struct ipt_acc *)a)->key))) != 0)
		return (c);
	x = ((const struct ipt_acc *)a)->sp;
	y = ((const struct ipt_acc *)b)->sp;
	if ((c = strcmp(x->name, y->name)) != 0)
		return (c);
	if (x->proto != y->proto)
		return (x->proto < y->proto ? -1 : 1);
	if (x->port != y->port)
		return (x->port < y->port ? -1 : 1);
	if (x->node_port != y->node_port)
		return (x->node_port < y->node_port ? -1 : 1);
	if (x->proxy_port != y->proxy_port)
		return (x->proxy_port < y->proxy_port ? -1 : 1);
	return (strcmp(x->cluster_ip, y->cluster_ip));
}

/* Count the invalid IPs of one list as skipped. */
static void
ipt_check_ips(int family, const char *name, const char *const *ips,
    size_t n, struct ipt_text *t)
{
	char	buf[INET6_ADDRSTRLEN];
	size_t	i;

	for (i = 0; i < n; i++)
		if (ipt_ip_of(family, ips[i], buf, sizeof(buf)) == -1)
			ipt_skip(t, "%s: \"%s\" is not an IPv%d address", name,
			    ips[i] ? ips[i] : "", family == AF_INET ? 4 : 6);
}

/*
 * Return 1 if a service port of this family can have rules, with its
 * cluster IP in canonical form in a->cip.
 */
static int
ipt_accept(int family, const struct ipt_svcport *sp, struct ipt_acc *a,
    struct ipt_text *t)
{
	const char	*name = sp->name ? sp->name : "";
	int		 af;

	af = sp->cluster_ip ? netutil_canon_ip(sp->cluster_ip, a->cip,
	    sizeof(a->cip)) : -1;
	if (af != -1 && af != family)
		return (0);		/* the other family's */
	if (!ipt_name_ok(sp->name))
		ipt_skip(t, "invalid service port name \"%s\"", name);
	else if (af == -1)
		ipt_skip(t, "%s: invalid cluster IP \"%s\"", name,
		    sp->cluster_ip ? sp->cluster_ip : "");
	else if (sp->proto != IPPROTO_TCP && sp->proto != IPPROTO_UDP)
		ipt_skip(t, "%s: protocol %d is not TCP or UDP", name,
		    sp->proto);
	else if (sp->port == 0 || sp->proxy_port == 0)
		ipt_skip(t, "%s: port 0", name);
	else {
		ipt_check_ips(family, name, sp->external_ips,
		    sp->n_external_ips, t);
		ipt_check_ips(family, name, sp->lb_ips, sp->n_lb_ips, t);
		return (1);
	}
	return (0);
}

/* Append a NUL-terminated string to a text. */
static void
ipt_puts(struct ipt_text *t, const char *s)
{
	ipt_put(t, s, strlen(s));
}

/* Append a number in decimal to a text. */
static void
ipt_putu(struct ipt_text *t, unsigned int u)
{
	char	buf[16], *p = buf + sizeof(buf);

	do {
		*--p = '0' + u % 10;
		u /= 10;
	} while (u != 0);
	ipt_put(t, p, buf + sizeof(buf) - p);
}

/*
 * Write one rule in kube-proxy's argument order.  Pieces, not printf:
 * this runs for every rule at every sync, and vsnprintf was two thirds
 * of the render time at 20k rules.
 */
static void
ipt_rule(struct ipt_rctx *c, const char *chain, const struct ipt_svcport *sp,
    uint16_t dport, const char *ip, int flags, const char *target,
    uint16_t tport)
{
	struct ipt_text	*t = c->t;
	const char	*p = sp->proto == IPPROTO_TCP ? "tcp" : "udp";

	ipt_put(t, "-A ", 3);
	ipt_puts(t, chain);
	ipt_puts(t, " -m comment --comment \"");
	ipt_puts(t, sp->name);
	ipt_puts(t, "\" -p ");
	ipt_puts(t, p);
	ipt_puts(t, " -m ");
	ipt_puts(t, p);
	ipt_puts(t, " --dport ");
	ipt_putu(t, dport);
	if (ip != NULL) {
		ipt_puts(t, " -d ");
		ipt_puts(t, ip);
		ipt_puts(t, c->slash);
	}
	if (flags & IPT_F_PHYSDEV)
		ipt_puts(t, " -m physdev ! --physdev-is-in");
	if (flags & IPT_F_LOCAL)
		ipt_puts(t, " -m addrtype --dst-type LOCAL");
	ipt_put(t, " ", 1);
	ipt_puts(t, target);
	if (tport != 0)
		ipt_putu(t, tport);
	ipt_put(t, "\n", 1);
	t->nrules++;
}

/* Write the portal rules of one chain: container or host side. */
static void
ipt_render_portals(struct ipt_rctx *c, int host)
{
	const struct ipt_svcport	*sp;
	const char			*chain, *tg;
	char				 ip[INET6_ADDRSTRLEN];
	size_t				 i, j;

	chain = host ? IPT_PORTALS_HOST : IPT_PORTALS_CONTAINER;
	tg = host ? c->htarget : c->ctarget;
	for (i = 0; i < c->n; i++) {
		sp = c->v[i].sp;
		ipt_rule(c, chain, sp, sp->port, c->v[i].cip, 0, tg,
		    sp->proxy_port);
		for (j = 0; j < sp->n_external_ips; j++) {
			if (ipt_ip_of(c->family, sp->external_ips[j], ip,
			    sizeof(ip)) == -1)
				continue;
			if (!host)
				ipt_rule(c, chain, sp, sp->port, ip,
				    IPT_F_PHYSDEV, tg, sp->proxy_port);
			ipt_rule(c, chain, sp, sp->port, ip, IPT_F_LOCAL, tg,
			    sp->proxy_port);
		}
		for (j = 0; j < sp->n_lb_ips; j++) {
			if (ipt_ip_of(c->family, sp->lb_ips[j], ip,
			    sizeof(ip)) == -1)
				continue;
			ipt_rule(c, chain, sp, sp->port, ip, 0, tg,
			    sp->proxy_port);
		}
	}
}

/* Write the NodePort rules of the three NodePort chains. */
static void
ipt_render_nodeports(struct ipt_rctx *c, const char *chain)
{
	const struct ipt_svcport	*sp;
	size_t				 i;

	for (i = 0; i < c->n; i++) {
		sp = c->v[i].sp;
		if (sp->node_port == 0)
			continue;
		if (strcmp(chain, IPT_NODEPORT_CONTAINER) == 0)
			ipt_rule(c, chain, sp, sp->node_port, NULL, 0,
			    c->ctarget, sp->proxy_port);
		else if (strcmp(chain, IPT_NODEPORT_HOST) == 0)
			ipt_rule(c, chain, sp, sp->node_port, NULL, 0,
			    c->htarget, sp->proxy_port);
		else
			ipt_rule(c, chain, sp, sp->proxy_port, NULL, 0,
			    "-m state --state NEW -j ACCEPT", 0);
	}
}

/* Write "-j DNAT --to-destination IP:" or "[IP]:" into buf. */
static void
ipt_dnat_prefix(int family, const char *ip, char *buf, size_t len)
{
	if (family == AF_INET)
		snprintf(buf, len, "-j DNAT --to-destination %s:", ip);
	else
		snprintf(buf, len, "-j DNAT --to-destination [%s]:", ip);
}

/* Fill the targets from the bind and host IPs; -1 with err if unusable. */
static int
ipt_targets(struct ipt_rctx *c, const struct ipt_params *p, char *err,
    size_t errlen)
{
	char		 bind[INET6_ADDRSTRLEN], host[INET6_ADDRSTRLEN];
	const char	*fam = c->family == AF_INET ? "IPv4" : "IPv6";
	int		 af;

	c->slash = c->family == AF_INET ? "/32" : "/128";
	host[0] = '\0';
	if (p->bind_ip == NULL || p->bind_ip[0] == '\0' ||
	    strcmp(p->bind_ip, "0.0.0.0") == 0 || strcmp(p->bind_ip, "::") == 0)
		snprintf(c->ctarget, sizeof(c->ctarget),
		    "-j REDIRECT --to-ports ");
	else {
		af = netutil_canon_ip(p->bind_ip, bind, sizeof(bind));
		if (af != c->family) {
			snprintf(err, errlen, "bind address \"%s\" is not an "
			    "%s address", p->bind_ip, fam);
			return (-1);
		}
		snprintf(host, sizeof(host), "%s", bind);
		ipt_dnat_prefix(c->family, bind, c->ctarget,
		    sizeof(c->ctarget));
	}
	if (host[0] == '\0' && p->host_ip != NULL && p->host_ip[0] != '\0' &&
	    ipt_ip_of(c->family, p->host_ip, host, sizeof(host)) == -1) {
		snprintf(err, errlen, "node IP \"%s\" is not an %s address",
		    p->host_ip, fam);
		return (-1);
	}
	c->htarget[0] = '\0';
	if (host[0] != '\0')
		ipt_dnat_prefix(c->family, host, c->htarget,
		    sizeof(c->htarget));
	return (0);
}

/* Write the whole restore input: both tables, every chain. */
static void
ipt_render_text(struct ipt_rctx *c)
{
	struct ipt_text	*t = c->t;
	size_t		 i;

	ipt_put(t, "*nat\n", 5);
	for (i = 0; ipt_nat_chains[i] != NULL; i++)
		ipt_putf(t, ":%s - [0:0]\n", ipt_nat_chains[i]);
	t->natmark = t->len;
	ipt_render_portals(c, 0);
	ipt_render_portals(c, 1);
	ipt_render_nodeports(c, IPT_NODEPORT_CONTAINER);
	ipt_render_nodeports(c, IPT_NODEPORT_HOST);
	ipt_putf(t, "COMMIT\n*filter\n:%s - [0:0]\n", IPT_NODEPORT_NON_LOCAL);
	t->filtermark = t->len;
	ipt_render_nodeports(c, IPT_NODEPORT_NON_LOCAL);
	ipt_put(t, "COMMIT\n", 7);
}

/* Render the restore input of one family. */
int
ipt_render(const struct ipt_params *p, const struct ipt_svcport *sp,
    size_t n, struct ipt_text *out, char *err, size_t errlen)
{
	struct ipt_rctx	c;
	size_t		i, k;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.family = p->family;
	c.t = out;
	if (c.family != AF_INET && c.family != AF_INET6) {
		snprintf(err, errlen, "unknown address family %d", c.family);
		return (-1);
	}
	if (ipt_targets(&c, p, err, errlen) == -1)
		return (-1);
	/* About 300 bytes per port: one allocation, not a dozen reallocs. */
	if (n > 0 && n < SIZE_MAX / 512 &&
	    (out->buf = malloc(n * 320 + 4096)) != NULL) {
		out->cap = n * 320 + 4096;
		out->buf[0] = '\0';
	}
	if (n > 0 && (c.v = calloc(n, sizeof(*c.v))) == NULL)
		goto oom;
	for (i = 0; i < n; i++)
		if (ipt_accept(c.family, &sp[i], &c.v[c.n], out)) {
			/* The sort compares this copy first: no pointer. */
			k = strlen(sp[i].name);
			memset(c.v[c.n].key, 0, sizeof(c.v[c.n].key));
			memcpy(c.v[c.n].key, sp[i].name,
			    k < sizeof(c.v[c.n].key) ? k :
			    sizeof(c.v[c.n].key));
			c.v[c.n++].sp = &sp[i];
		}
	if (c.n > 0 && c.htarget[0] == '\0') {
		snprintf(err, errlen, "no IPv%d node IP for host-side DNAT: "
		    "set --bind-address to this node's IP",
		    c.family == AF_INET ? 4 : 6);
		free(c.v);
		ipt_text_free(out);
		return (-1);
	}
	if (c.n > 1)
		qsort(c.v, c.n, sizeof(*c.v), ipt_cmp);
	ipt_render_text(&c);
	free(c.v);
	if (out->oom)
		goto oom;
	return (0);

oom:
	free(c.v);
	ipt_text_free(out);
	snprintf(err, errlen, "out of memory rendering iptables rules");
	return (-1);
}

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
 * Out of memory, return 0 and set t->oom.
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

/*
 * If line is "-A <chain not in ours> ... -j <one of ours>", return the
 * chain's length and point *rest at the arguments; else return 0 (and
 * set t->oom if memory ran out, so that no jump is silently kept).
 */
static size_t
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

/* Describe a failed command: its message, and the first output line. */
static void
ipt_exec_error(const struct exec_result *res, const char *what, char *err,
    size_t errlen)
{
	size_t	n = strcspn(res->out, "\n");

	snprintf(err, errlen, "%s: %s%s%.*s", what, res->err,
	    n > 0 ? ": " : "", (int)(n > 300 ? 300 : n), res->out);
}

/* Run "iptables -w 5 -t table -S chain" and fix our jumps from it. */
static int
ipt_jumps_read_one(struct ipt *ipt, const char *table, const char *chain,
    struct ipt_text *dels, struct ipt_text *adds, char *err, size_t errlen)
{
	const char		*argv[] = { ipt->path, "-w", IPT_WAIT, "-t",
				    table, "-S", chain, NULL };
	struct exec_result	 res;
	char			 what[128];

	snprintf(what, sizeof(what), "%s -t %s -S %s", ipt->path, table,
	    chain);
	if (exec_run_max(argv, NULL, 0, IPT_READ_TIMEOUT_MS, IPT_READ_MAX,
	    &res) == -1 || res.truncated) {
		if (res.truncated)
			snprintf(res.err, sizeof(res.err), "output too large");
		ipt_exec_error(&res, what, err, errlen);
		exec_result_free(&res);
		return (-1);
	}
	ipt_jumps_fix(table, chain, res.out, dels, adds);
	exec_result_free(&res);
	return (0);
}

/* Read the three built-in chains; fixes go to fix[0] (nat), fix[1]. */
static int
ipt_jumps_read(struct ipt *ipt, struct ipt_text fix[2], char *err,
    size_t errlen)
{
	struct ipt_text	adds[2];
	int		i, rv = -1;

	memset(adds, 0, sizeof(adds));
	if (ipt_jumps_read_one(ipt, "nat", "PREROUTING", &fix[0], &adds[0],
	    err, errlen) == -1 ||
	    ipt_jumps_read_one(ipt, "nat", "OUTPUT", &fix[0], &adds[0],
	    err, errlen) == -1 ||
	    ipt_jumps_read_one(ipt, "filter", "INPUT", &fix[1], &adds[1],
	    err, errlen) == -1)
		goto done;
	/* Deletions first, then additions, so "-I 1" lands in front. */
	for (i = 0; i < 2; i++)
		if (adds[i].len > 0)
			ipt_put(&fix[i], adds[i].buf, adds[i].len);
	if (fix[0].oom || fix[1].oom || adds[0].oom || adds[1].oom) {
		snprintf(err, errlen, "out of memory checking jump rules");
		goto done;
	}
	rv = 0;
done:
	ipt_text_free(&adds[0]);
	ipt_text_free(&adds[1]);
	return (rv);
}

/* Insert the jump fixes after the chain declarations of each table. */
static int
ipt_splice(const struct ipt_text *t, const struct ipt_text fix[2],
    struct ipt_text *in)
{
	memset(in, 0, sizeof(*in));
	ipt_put(in, t->buf, t->natmark);
	if (fix[0].len > 0)
		ipt_put(in, fix[0].buf, fix[0].len);
	ipt_put(in, t->buf + t->natmark, t->filtermark - t->natmark);
	if (fix[1].len > 0)
		ipt_put(in, fix[1].buf, fix[1].len);
	ipt_put(in, t->buf + t->filtermark, t->len - t->filtermark);
	return (in->oom ? -1 : 0);
}

/* Return the line number an iptables-restore error names, or 0. */
static unsigned long
ipt_error_line(const char *out)
{
	const char	*p = out, *q;

	while ((p = strstr(p, "line")) != NULL) {
		for (q = p + 4; *q == ':' || *q == ' '; q++)
			;
		if (isdigit((unsigned char)*q))
			return (strtoul(q, NULL, 10));
		p += 4;
	}
	return (0);
}

/* Explain a failed restore, quoting the input line it names. */
static void
ipt_restore_error(const struct exec_result *res, const char *input,
    char *err, size_t errlen)
{
	const char	*p = input, *line = NULL, *msg = res->out;
	unsigned long	 want, i;
	size_t		 len = 0, mlen;

	/* The message proper, not the "line N" or "Try ..." lines. */
	while ((mlen = strcspn(msg, "\n")) == 0 ||
	    strncmp(msg, "Error occurred at line", 22) == 0 ||
	    strncmp(msg, "Try `", 5) == 0) {
		if (msg[mlen] == '\0')
			break;
		msg += mlen + 1;
	}
	if ((want = ipt_error_line(res->out)) > 0)
		for (i = 0; i < want; i++)
			if ((line = ipt_next_line(&p, &len)) == NULL)
				break;
	if (line != NULL)
		snprintf(err, errlen, "%s: input line %lu \"%.*s\": %.*s",
		    res->err, want, (int)(len > 300 ? 300 : len), line,
		    (int)(mlen > 300 ? 300 : mlen), msg);
	else
		snprintf(err, errlen, "%s%s%.*s", res->err, mlen ? ": " : "",
		    (int)(mlen > 300 ? 300 : mlen), msg);
}

/* Apply a restore input with "iptables-restore --noflush -w 5". */
static int
ipt_restore(struct ipt *ipt, const char *input, size_t len, char *err,
    size_t errlen)
{
	const char		*argv[] = { ipt->restore, "--noflush", "-w",
				    IPT_WAIT, NULL };
	struct exec_result	 res;
	int			 rv = 0;

	if (exec_run(argv, input, len, IPT_RESTORE_TIMEOUT_MS, &res) == -1) {
		ipt_restore_error(&res, input, err, errlen);
		rv = -1;
	}
	exec_result_free(&res);
	return (rv);
}

/* Create the rule set of one family. */
struct ipt *
ipt_new(const char *iptables_path, int family)
{
	struct ipt	*ipt;

	if (iptables_path == NULL || iptables_path[0] == '\0' ||
	    (family != AF_INET && family != AF_INET6))
		return (NULL);
	if ((ipt = calloc(1, sizeof(*ipt))) == NULL)
		return (NULL);
	ipt->family = family;
	if ((ipt->path = strdup(iptables_path)) == NULL ||
	    asprintf(&ipt->restore, "%s-restore", iptables_path) == -1 ||
	    asprintf(&ipt->save, "%s-save", iptables_path) == -1) {
		ipt->restore = ipt->save = NULL;
		ipt_free(ipt);
		return (NULL);
	}
	return (ipt);
}

/* Free a rule set (the kernel's rules stay). */
void
ipt_free(struct ipt *ipt)
{
	if (ipt == NULL)
		return;
	free(ipt->path);
	free(ipt->restore);
	free(ipt->save);
	free(ipt->last);
	free(ipt);
}

/* Release a prepared restore. */
void
ipt_apply_free(struct ipt_apply *a)
{
	if (a->input != a->text)
		free(a->input);
	free(a->input2);
	free(a->text);
	memset(a, 0, sizeof(*a));
}

/* Forget what was applied: check jumps and re-apply in full next time. */
static void
ipt_forget(struct ipt *ipt)
{
	ipt->jumps_ok = 0;
	free(ipt->last);
	ipt->last = NULL;
	ipt->lastlen = 0;
}

/* Keep text (taking it over) as the one the kernel's rules match. */
static void
ipt_keep(struct ipt *ipt, char *text, size_t len)
{
	free(ipt->last);
	ipt->last = text;
	ipt->lastlen = len;
}

/* Read the jumps and splice their fixes into in (left empty if none). */
static int
ipt_prepare_jumps(struct ipt *ipt, const struct ipt_text *text,
    struct ipt_text *in, char *err, size_t errlen)
{
	struct ipt_text	fix[2];
	int		rv = 0;

	memset(fix, 0, sizeof(fix));
	memset(in, 0, sizeof(*in));
	if (ipt_jumps_read(ipt, fix, err, errlen) == -1)
		rv = -1;
	else if (fix[0].len + fix[1].len > 0 &&
	    ipt_splice(text, fix, in) == -1) {
		snprintf(err, errlen, "out of memory");
		ipt_text_free(in);
		rv = -1;
	}
	ipt_text_free(&fix[0]);
	ipt_text_free(&fix[1]);
	return (rv);
}

/* Render, compare with the last text, check jumps: what to restore. */
int
ipt_sync_prepare(struct ipt *ipt, const struct ipt_params *p,
    const struct ipt_svcport *sp, size_t n, int force, struct ipt_apply *a,
    char *err, size_t errlen)
{
	struct ipt_text	text, in, in2;
	size_t		nadds = 0, ndels = 0;
	ssize_t		nchanges = -1;
	int		same;

	memset(a, 0, sizeof(*a));
	if (p->family != ipt->family) {
		snprintf(err, errlen, "%s: parameters of the other family",
		    ipt->path);
		return (-1);
	}
	if (ipt_render(p, sp, n, &text, err, errlen) == -1)
		return (-1);
	same = ipt->last != NULL && ipt->lastlen == text.len &&
	    memcmp(ipt->last, text.buf, text.len) == 0;
	if (same && ipt->jumps_ok && !force) {
		ipt_text_free(&text);
		return (0);
	}
	if (text.nskipped > 0 && !same)
		log_warnx("%s: %zu service ports or IPs left out, first: %s",
		    ipt->restore, text.nskipped, text.skipped);
	memset(&in, 0, sizeof(in));
	memset(&in2, 0, sizeof(in2));
	/* Only from a state known good; forced syncs repair drift. */
	if (!force && ipt->jumps_ok && ipt->last != NULL &&
	    (nchanges = ipt_incremental(ipt->last, &text, &in, &in2, &nadds,
	    &ndels)) == 0) {
		/* The same rules in another order: nothing to change. */
		ipt_keep(ipt, text.buf, text.len);
		return (0);
	}
	if (nchanges > 0 && in.buf == NULL) {
		/* Deletions only: a single phase. */
		in = in2;
		memset(&in2, 0, sizeof(in2));
	}
	if (nchanges == -1 && (force || !ipt->jumps_ok) &&
	    ipt_prepare_jumps(ipt, &text, &in, err, errlen) == -1) {
		ipt_forget(ipt);
		ipt_text_free(&text);
		return (-1);
	}
	a->argv[0] = ipt->restore;
	a->argv[1] = "--noflush";
	a->argv[2] = "-w";
	a->argv[3] = IPT_WAIT;
	a->argv[4] = NULL;
	a->text = text.buf;
	a->textlen = text.len;
	a->input = in.buf != NULL ? in.buf : text.buf;
	a->inlen = in.buf != NULL ? in.len : text.len;
	a->input2 = in2.buf;
	a->inlen2 = in2.len;
	a->phase = 1;
	a->incremental = nchanges > 0;
	a->nchanges = nchanges > 0 ? (size_t)nchanges : text.nrules;
	a->nadds = nadds;
	a->ndels = ndels;
	return (1);
}

/* After phase 1 succeeded: switch a to the deletions, if there are. */
int
ipt_apply_next(struct ipt_apply *a)
{
	if (a->input2 == NULL)
		return (0);
	if (a->input != a->text)
		free(a->input);
	a->input = a->input2;
	a->inlen = a->inlen2;
	a->input2 = NULL;
	a->inlen2 = 0;
	a->phase = 2;
	return (1);
}

/* Record how the prepared restore went; release it. */
int
ipt_sync_finish(struct ipt *ipt, struct ipt_apply *a, int rv,
    const struct exec_result *res, char *err, size_t errlen)
{
	const char	*what;
	char		 msg[IPT_ERRLEN];

	if (rv == 0 && a->input2 != NULL) {
		/* Phase 2 never ran: the stale rules are still there. */
		snprintf(msg, sizeof(msg),
		    "stale rules not removed (second phase not run)");
		rv = -1;
	} else if (rv != 0 && res == NULL)
		snprintf(msg, sizeof(msg), "%s not run", a->argv[0]);
	else if (rv != 0)
		ipt_restore_error(res, a->input, msg, sizeof(msg));
	if (rv != 0) {
		if (!a->incremental)
			what = "";
		else if (a->phase == 2)
			what = "incremental update, removing stale rules: ";
		else
			what = "incremental update: ";
		snprintf(err, errlen, "%s%s", what, msg);
		/* The next prepare re-checks and applies the full text. */
		ipt_forget(ipt);
		ipt_apply_free(a);
		return (-1);
	}
	ipt->jumps_ok = 1;
	if (a->input == a->text)
		a->input = NULL;	/* it is the text we keep */
	ipt_keep(ipt, a->text, a->textlen);
	a->text = NULL;
	ipt_apply_free(a);
	return (0);
}

/* Ask "iptables -V" once whether the binaries drive nf_tables. */
static int
ipt_backend(struct ipt *ipt)
{
	const char		*argv[] = { ipt->path, "-V", NULL };
	struct exec_result	 res;

	if (ipt->backend != IPT_BACKEND_UNKNOWN)
		return (ipt->backend);
	ipt->backend = IPT_BACKEND_OTHER;
	if (exec_run_max(argv, NULL, 0, IPT_READ_TIMEOUT_MS, 4096, &res) == 0 &&
	    strstr(res.out, "(nf_tables)") != NULL)
		ipt->backend = IPT_BACKEND_NFT;
	exec_result_free(&res);
	return (ipt->backend);
}

/* May rules be streamed now?  Set up st and argv for its restore. */
int
ipt_stream_begin(struct ipt *ipt, struct ipt_stream *st, const char *argv[5])
{
	memset(st, 0, sizeof(*st));
	if (!ipt->jumps_ok || ipt->last == NULL)
		return (-1);
	st->mode = ipt_backend(ipt) == IPT_BACKEND_NFT ? IPT_STREAM_BATCHES :
	    IPT_STREAM_ONCE;
	argv[0] = ipt->restore;
	argv[1] = "--noflush";
	argv[2] = "-w";
	argv[3] = IPT_WAIT;
	argv[4] = NULL;
	return (0);
}

/* Render the rules of sp as appends only: no chain is declared. */
int
ipt_render_adds(const struct ipt_params *p, const struct ipt_svcport *sp,
    size_t n, struct ipt_text *out, char *err, size_t errlen)
{
	struct ipt_text	 t;
	const char	*q, *line, *table = NULL;
	size_t		 len;
	int		 open = 0;

	memset(out, 0, sizeof(*out));
	if (ipt_render(p, sp, n, &t, err, errlen) == -1)
		return (-1);
	q = t.buf != NULL ? t.buf : "";
	while ((line = ipt_next_line(&q, &len)) != NULL) {
		if (line[0] == '*') {
			table = line;
			continue;
		}
		if (len == 6 && memcmp(line, "COMMIT", 6) == 0) {
			if (open)
				ipt_put(out, "COMMIT\n", 7);
			open = 0;
			continue;
		}
		if (len < 3 || memcmp(line, "-A ", 3) != 0)
			continue;	/* a declaration would flush */
		if (!open && table != NULL) {
			ipt_put(out, table, strcspn(table, "\n"));
			ipt_put(out, "\n", 1);
		}
		open = 1;
		ipt_put(out, line, len);
		ipt_put(out, "\n", 1);
		out->nrules++;
	}
	out->nskipped = t.nskipped;
	memcpy(out->skipped, t.skipped, sizeof(out->skipped));
	ipt_text_free(&t);
	if (out->oom) {
		ipt_text_free(out);
		snprintf(err, errlen, "out of memory rendering iptables rules");
		return (-1);
	}
	return (0);
}

/*
 * Keep only the nat rules of an ipt_render_adds() text, for a stream
 * with one COMMIT: no header, no COMMIT.  Returns -1 if it has rules of
 * another table.
 */
static int
ipt_stream_bare(const struct ipt_text *t, struct ipt_text *out)
{
	const char	*q = t->buf != NULL ? t->buf : "", *line;
	size_t		 len;

	memset(out, 0, sizeof(*out));
	while ((line = ipt_next_line(&q, &len)) != NULL) {
		if (line[0] == '*' && (len != 4 || memcmp(line, "*nat", 4))) {
			ipt_text_free(out);
			return (-1);
		}
		if (len > 3 && memcmp(line, "-A ", 3) == 0) {
			ipt_put(out, line, len);
			ipt_put(out, "\n", 1);
		}
	}
	return (out->oom ? -1 : 0);
}

/* Render the next part of a stream; it is appended to st->sent. */
int
ipt_stream_add(struct ipt_stream *st, const struct ipt_params *p,
    const struct ipt_svcport *sp, size_t n, const char **buf, size_t *len,
    char *err, size_t errlen)
{
	struct ipt_text	t, bare;
	size_t		start = st->sent.len;

	*buf = NULL;
	*len = 0;
	if (ipt_render_adds(p, sp, n, &t, err, errlen) == -1)
		return (-1);
	if (st->mode == IPT_STREAM_ONCE) {
		if (ipt_stream_bare(&t, &bare) == -1) {
			ipt_text_free(&t);
			snprintf(err, errlen, "only nat rules can be streamed "
			    "in one transaction");
			return (-1);
		}
		if (bare.len > 0 && !st->open) {
			ipt_put(&st->sent, "*nat\n", 5);
			st->open = 1;
		}
		ipt_put(&st->sent, bare.buf != NULL ? bare.buf : "", bare.len);
		ipt_text_free(&bare);
	} else
		ipt_put(&st->sent, t.buf != NULL ? t.buf : "", t.len);
	if (st->sent.oom) {
		ipt_text_free(&t);
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	st->nrules += t.nrules;
	ipt_text_free(&t);
	if (st->sent.buf != NULL) {
		*buf = st->sent.buf + start;
		*len = st->sent.len - start;
	}
	return (0);
}

/* The closing part of a stream: COMMIT of the one transaction, if any. */
void
ipt_stream_end(struct ipt_stream *st, const char **buf, size_t *len)
{
	size_t	start = st->sent.len;

	*buf = NULL;
	*len = 0;
	if (st->mode != IPT_STREAM_ONCE || !st->open || st->closed)
		return;
	ipt_put(&st->sent, "COMMIT\n", 7);
	st->closed = 1;
	if (st->sent.oom)
		return;
	*buf = st->sent.buf + start;
	*len = st->sent.len - start;
}

/* Forget a stream's text (the restore was not run, or is gone). */
void
ipt_stream_free(struct ipt_stream *st)
{
	ipt_text_free(&st->sent);
	memset(st, 0, sizeof(*st));
}

/*
 * A stream's restore ended: its rules join the known ones, or not.
 * wrote is how much of st->sent was written.
 */
int
ipt_stream_done(struct ipt *ipt, struct ipt_stream *st, size_t wrote, int rv,
    const struct exec_result *res, char *err, size_t errlen)
{
	const char	*sent = st->sent.buf != NULL ? st->sent.buf : "";
	size_t		 len = wrote < st->sent.len ? wrote : st->sent.len;
	char		*t;
	int		 r = 0;

	if (rv != 0) {
		if (res != NULL)
			ipt_restore_error(res, sent, err, errlen);
		else
			snprintf(err, errlen, "%s not run", ipt->restore);
		r = -1;
		goto forget;
	}
	if (ipt->last == NULL || st->sent.oom)
		goto forget;
	if (len > 0) {
		if ((t = realloc(ipt->last, ipt->lastlen + len + 1)) == NULL)
			goto forget;
		memcpy(t + ipt->lastlen, sent, len);
		t[ipt->lastlen + len] = '\0';
		ipt->last = t;
		ipt->lastlen += len;
	}
	ipt_stream_free(st);
	return (0);
forget:
	/* Failed, or the rules are in but what we know of them is lost. */
	ipt_forget(ipt);
	ipt_stream_free(st);
	return (r);
}

/*
 * Make the kernel's rules of this family match the service ports.  A
 * failed incremental update (either phase) is followed at once by a
 * full one.
 */
int
ipt_sync(struct ipt *ipt, const struct ipt_params *p,
    const struct ipt_svcport *sp, size_t n, int force, char *err,
    size_t errlen)
{
	struct ipt_apply	a;
	struct exec_result	res;
	int			r, incremental, try;

	for (try = 0; try < 2; try++) {
		if ((r = ipt_sync_prepare(ipt, p, sp, n, force, &a, err,
		    errlen)) <= 0)
			return (r);
		incremental = a.incremental;
		r = exec_run(a.argv, a.input, a.inlen, IPT_RESTORE_TIMEOUT_MS,
		    &res);
		if (r == 0 && ipt_apply_next(&a)) {
			exec_result_free(&res);
			r = exec_run(a.argv, a.input, a.inlen,
			    IPT_RESTORE_TIMEOUT_MS, &res);
		}
		r = ipt_sync_finish(ipt, &a, r, &res, err, errlen);
		exec_result_free(&res);
		if (r == 0 || !incremental)
			break;
		log_warnx("%s; applying the full rules", err);
	}
	return (r);
}

/* Render the removal of our chains from one table's iptables-save. */
static void
ipt_cleanup_table(struct ipt_text *out, const char *table, const char *save,
    const char *const *ours)
{
	struct ipt_text	 dels;
	const char	*p = save, *line, *rest;
	size_t		 len, clen, i, nexist = 0;
	int		 exists[8], target, k;

	memset(&dels, 0, sizeof(dels));
	memset(exists, 0, sizeof(exists));
	while ((line = ipt_next_line(&p, &len)) != NULL) {
		if (line[0] == ':') {
			clen = strcspn(line + 1, " \n");
			for (k = 0; ours[k] != NULL; k++)
				if (strlen(ours[k]) == clen &&
				    strncmp(line + 1, ours[k], clen) == 0 &&
				    !exists[k]) {
					exists[k] = 1;
					nexist++;
				}
		} else if ((clen = ipt_foreign_jump(line, len, ours, &rest,
		    &target, &dels)) != 0)
			ipt_putf(&dels, "-D %.*s\n", (int)(len - 3), line + 3);
	}
	if (dels.len > 0 || nexist > 0) {
		ipt_putf(out, "*%s\n", table);
		if (dels.len > 0)
			ipt_put(out, dels.buf, dels.len);
		for (i = 0; ours[i] != NULL; i++)
			if (exists[i])
				ipt_putf(out, ":%s - [0:0]\n", ours[i]);
		for (i = 0; ours[i] != NULL; i++)
			if (exists[i])
				ipt_putf(out, "-X %s\n", ours[i]);
		ipt_put(out, "COMMIT\n", 7);
	}
	if (dels.oom)
		out->oom = 1;
	ipt_text_free(&dels);
}

/* Render the removal of our chains and every jump to them. */
int
ipt_render_cleanup(const char *nat_save, const char *filter_save,
    struct ipt_text *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	ipt_cleanup_table(out, "nat", nat_save, ipt_nat_chains);
	ipt_cleanup_table(out, "filter", filter_save, ipt_filter_chains);
	if (out->oom) {
		ipt_text_free(out);
		snprintf(err, errlen, "out of memory rendering the cleanup");
		return (-1);
	}
	return (0);
}

/* Return 1 if an iptables message means "that does not exist". */
static int
ipt_not_found(const char *out)
{
	return (strstr(out, "No chain/target/match by that name") != NULL ||
	    strstr(out, "No such file or directory") != NULL ||
	    strstr(out, "does a matching rule exist") != NULL ||
	    strstr(out, "does not exist") != NULL);
}

/*
 * Read "iptables-save -t table" into *save (NULL: nothing there).
 * Returns 0, 1 if the binary is not installed, -1 with err.
 */
static int
ipt_save_table(struct ipt *ipt, const char *table, char **save, char *err,
    size_t errlen)
{
	const char		*argv[] = { ipt->save, "-t", table, NULL };
	struct exec_result	 res;
	char			 what[128];
	int			 rv = 0;

	*save = NULL;
	snprintf(what, sizeof(what), "%s -t %s", ipt->save, table);
	if (exec_run_max(argv, NULL, 0, IPT_READ_TIMEOUT_MS, IPT_READ_MAX,
	    &res) == -1) {
		if (res.exec_errno == ENOENT)
			rv = 1;
		else if (!ipt_not_found(res.out)) {
			ipt_exec_error(&res, what, err, errlen);
			rv = -1;
		}
	} else if (res.truncated) {
		snprintf(err, errlen, "%s: output too large", what);
		rv = -1;
	} else if ((*save = strdup(res.out)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", what);
		rv = -1;
	}
	exec_result_free(&res);
	return (rv);
}

/* Remove every chain and jump of ours from this family. */
int
ipt_cleanup(struct ipt *ipt, char *err, size_t errlen)
{
	struct ipt_text	 text;
	char		*nat = NULL, *filter = NULL;
	int		 rv = -1, r;

	memset(&text, 0, sizeof(text));
	if ((r = ipt_save_table(ipt, "nat", &nat, err, errlen)) != 0 ||
	    (r = ipt_save_table(ipt, "filter", &filter, err, errlen)) != 0) {
		rv = r == 1 ? 0 : -1;	/* not installed: nothing there */
		goto done;
	}
	if (ipt_render_cleanup(nat, filter, &text, err, errlen) == -1)
		goto done;
	if (text.len == 0 ||
	    ipt_restore(ipt, text.buf, text.len, err, errlen) == 0)
		rv = 0;
	ipt_forget(ipt);
done:
	free(nat);
	free(filter);
	ipt_text_free(&text);
	return (rv);
}

/* Delete the UDP conntrack entries whose original destination is ip. */
int
ipt_flush_conntrack(struct ipt *ipt, const char *conntrack_path,
    const char *ip, char *err, size_t errlen)
{
	const char		*argv[9];
	struct exec_result	 res;
	char			 canon[INET6_ADDRSTRLEN];
	int			 af, i = 0, rv = 0;

	if (ip == NULL || (af = netutil_canon_ip(ip, canon,
	    sizeof(canon))) == -1) {
		snprintf(err, errlen, "conntrack: \"%s\" is not an IP address",
		    ip ? ip : "");
		return (-1);
	}
	if (conntrack_path == NULL || access(conntrack_path, X_OK) == -1) {
		if (!ipt->ct_warned)
			log_warnx("%s not found: stale UDP conntrack entries "
			    "of removed services are not deleted",
			    conntrack_path ? conntrack_path : "conntrack");
		ipt->ct_warned = 1;
		return (0);
	}
	argv[i++] = conntrack_path;
	argv[i++] = "-D";
	argv[i++] = "--orig-dst";
	argv[i++] = canon;
	argv[i++] = "-p";
	argv[i++] = "udp";
	if (af == AF_INET6) {
		argv[i++] = "-f";
		argv[i++] = "ipv6";
	}
	argv[i] = NULL;
	if (exec_run(argv, NULL, 0, IPT_READ_TIMEOUT_MS, &res) == -1 &&
	    !(res.status == 1 &&
	    strstr(res.out, "0 flow entries have been deleted") != NULL)) {
		ipt_exec_error(&res, "conntrack", err, errlen);
		rv = -1;
	}
	exec_result_free(&res);
	return (rv);
}
