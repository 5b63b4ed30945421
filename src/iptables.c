/*
 * iptables.c: render kube-proxy userspace's portal rules and apply them
 * with one iptables-restore per family; repair the jump rules; clean up;
 * flush UDP conntrack entries; find the node IP.  See iptables.h.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/route.h>
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
#define IPT_RESTORE_TIMEOUT_MS	120000
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
};

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

/* Everything one render needs besides the ports. */
struct ipt_rctx {
	int				 family;
	const char			*slash;		/* "/32", "/128" */
	char				 ctarget[96];	/* container side */
	char				 htarget[96];	/* host side */
	const struct ipt_svcport	**v;		/* accepted, sorted */
	size_t				 n;
	struct ipt_text			*t;
};

static void	ipt_putf(struct ipt_text *, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));

/* Append n bytes to a text. */
static void
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
static void
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
	const struct ipt_svcport	*x = *(const struct ipt_svcport *const *)a;
	const struct ipt_svcport	*y = *(const struct ipt_svcport *const *)b;
	int				 c;

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

/* Return 1 if a service port of this family can have rules. */
static int
ipt_accept(int family, const struct ipt_svcport *sp, struct ipt_text *t)
{
	char		 buf[INET6_ADDRSTRLEN];
	const char	*name = sp->name ? sp->name : "";
	int		 af;

	af = sp->cluster_ip ? netutil_canon_ip(sp->cluster_ip, buf,
	    sizeof(buf)) : -1;
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

/* Write one rule in kube-proxy's argument order. */
static void
ipt_rule(struct ipt_rctx *c, const char *chain, const struct ipt_svcport *sp,
    uint16_t dport, const char *ip, int flags, const char *target,
    uint16_t tport)
{
	const char	*p = sp->proto == IPPROTO_TCP ? "tcp" : "udp";

	ipt_putf(c->t, "-A %s -m comment --comment \"%s\" -p %s -m %s "
	    "--dport %u", chain, sp->name, p, p, dport);
	if (ip != NULL)
		ipt_putf(c->t, " -d %s%s", ip, c->slash);
	if (flags & IPT_F_PHYSDEV)
		ipt_putf(c->t, " -m physdev ! --physdev-is-in");
	if (flags & IPT_F_LOCAL)
		ipt_putf(c->t, " -m addrtype --dst-type LOCAL");
	if (tport != 0)
		ipt_putf(c->t, " %s%u\n", target, tport);
	else
		ipt_putf(c->t, " %s\n", target);
	c->t->nrules++;
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
		sp = c->v[i];
		ipt_ip_of(c->family, sp->cluster_ip, ip, sizeof(ip));
		ipt_rule(c, chain, sp, sp->port, ip, 0, tg, sp->proxy_port);
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
		sp = c->v[i];
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

/* Fill the targets from the bind and host IPs; -1 with err if unusable. */
static int
ipt_targets(struct ipt_rctx *c, const struct ipt_params *p, char *err,
    size_t errlen)
{
	char		 bind[INET6_ADDRSTRLEN], host[INET6_ADDRSTRLEN];
	const char	*fam = c->family == AF_INET ? "IPv4" : "IPv6";
	const char	*fmt = c->family == AF_INET ? "%s:" : "[%s]:";
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
		snprintf(c->ctarget, sizeof(c->ctarget),
		    "-j DNAT --to-destination ");
		snprintf(c->ctarget + strlen(c->ctarget),
		    sizeof(c->ctarget) - strlen(c->ctarget), fmt, bind);
	}
	if (host[0] == '\0' && p->host_ip != NULL &&
	    ipt_ip_of(c->family, p->host_ip, host, sizeof(host)) == -1) {
		snprintf(err, errlen, "node IP \"%s\" is not an %s address",
		    p->host_ip, fam);
		return (-1);
	}
	c->htarget[0] = '\0';
	if (host[0] != '\0') {
		snprintf(c->htarget, sizeof(c->htarget),
		    "-j DNAT --to-destination ");
		snprintf(c->htarget + strlen(c->htarget),
		    sizeof(c->htarget) - strlen(c->htarget), fmt, host);
	}
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
	size_t		i;

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
	if (n > 0 && (c.v = calloc(n, sizeof(*c.v))) == NULL)
		goto oom;
	for (i = 0; i < n; i++)
		if (ipt_accept(c.family, &sp[i], out))
			c.v[c.n++] = &sp[i];
	if (c.n > 0 && c.htarget[0] == '\0') {
		snprintf(err, errlen, "no IPv%d node IP for host-side DNAT: "
		    "set --bind-address to this node's IP",
		    c.family == AF_INET ? 4 : 6);
		free(c.v);
		ipt_text_free(out);
		return (-1);
	}
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
