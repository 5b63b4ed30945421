/*
 * iptables_render.c: render the portal rules of the service ports, and
 * the removal of our chains.  Pure.  See iptables_render.h.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipt_text.h"
#include "iptables_jumps.h"
#include "iptables_render.h"
#include "netutil.h"

/* Rule flags of ipt_rule(). */
#define IPT_F_PHYSDEV		0x1
#define IPT_F_LOCAL		0x2

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
	if (out->oom)
		goto oom;
	free(c.v);
	return (0);

oom:
	free(c.v);
	ipt_text_free(out);
	snprintf(err, errlen, "out of memory rendering iptables rules");
	return (-1);
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
