/*
 * proxier_rules.c: node IP, node port claims, and the rules of the
 * service ports split by family, each family's applied by its job in
 * the background (rules_job.c).
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "htab.h"
#include "iptables_render.h"
#include "log.h"
#include "migrate.h"
#include "netutil.h"
#include "nodeip.h"
#include "proxier_rules.h"
#include "rules_job.h"
#include "xmalloc.h"

/* A node port held open so that nothing else on the node takes it. */
struct np_claim {
	int		 fd;		/* -1 if the bind failed */
	int		 proto;
	uint16_t	 port;
	char		*owner;		/* service port name */
	char		*conflict;	/* last rival reported, to log once */
	int		 seen;
};

struct proxier_rules {
	struct rules_job	*jobs[2];	/* v4, v6 */
	char			 host_ip4[INET6_ADDRSTRLEN];
	char			 host_ip6[INET6_ADDRSTRLEN];
	const char		*bind_ip;	/* NULL: wildcard */
	char			 bind_buf[INET6_ADDRSTRLEN];
	int			 had_v6;	/* v6 rules were written */
	struct htab		*claims;	/* proto + port -> np_claim */
};

/* Write the hash key of a node port claim. */
static void
proxier_rules_claim_key(int proto, uint16_t port, unsigned char key[3])
{
	key[0] = (unsigned char)proto;
	key[1] = port >> 8;
	key[2] = port & 0xff;
}

/* Close a claim. */
static void
proxier_rules_claim_free(void *arg)
{
	struct np_claim	*c = arg;

	if (c->fd != -1)
		close(c->fd);
	free(c->owner);
	free(c->conflict);
	free(c);
}

/*
 * Claim ps's node port for it.  Returns 1 if ps owns the port (its node
 * port rules may be written), 0 if another service port owns it.
 */
static int
proxier_rules_claim(struct proxier_rules *r, const struct ipt_svcport *ps)
{
	struct np_claim		*c;
	unsigned char		 key[3];
	char			 err[256];

	proxier_rules_claim_key(ps->proto, ps->node_port, key);
	if ((c = htab_get(r->claims, key, sizeof(key))) != NULL) {
		if (strcmp(c->owner, ps->name) == 0) {
			c->seen = 1;
			return (1);
		}
		if (c->conflict == NULL || strcmp(c->conflict, ps->name) != 0) {
			log_warnx("%s: nodePort %u/%s conflicts with %s, which "
			    "holds it; its NodePort rules are not installed",
			    ps->name, ps->node_port,
			    netutil_proto_name(ps->proto), c->owner);
			free(c->conflict);
			c->conflict = xstrdup(ps->name);
		}
		return (0);
	}
	c = xcalloc(1, sizeof(*c));
	c->proto = ps->proto;
	c->port = ps->node_port;
	c->owner = xstrdup(ps->name);
	c->seen = 1;
	c->fd = netutil_listen_any(ps->proto, ps->node_port, 0, err,
	    sizeof(err));
	if (c->fd == -1)
		log_warnx("%s: cannot hold nodePort %u: %s (another process "
		    "uses it; the NodePort rules still redirect to kuproxy)",
		    ps->name, ps->node_port, err);
	if (htab_put(r->claims, key, sizeof(key), c, NULL) == -1)
		fatalx("proxier_rules: out of memory");
	return (1);
}

/* Close the claims nobody asked for in this sync. */
static void
proxier_rules_claims_sweep(struct proxier_rules *r)
{
	struct htab_iter	 it;
	struct np_claim		*c;
	unsigned char		 key[3];
	void			*v;

	htab_iter_init(r->claims, &it);
	while (htab_iter_next(&it, NULL, NULL, &v)) {
		c = v;
		if (c->seen) {
			c->seen = 0;
			continue;
		}
		log_info("nodePort %u/%s released by %s", c->port,
		    netutil_proto_name(c->proto), c->owner);
		proxier_rules_claim_key(c->proto, c->port, key);
		htab_del(r->claims, key, sizeof(key));
		proxier_rules_claim_free(c);
	}
}

/* Find the IP of the default route's interface for family. */
static int
proxier_rules_host(struct proxier_rules *r, int family, char *buf,
    size_t len, char *err, size_t errlen)
{
	if (r->bind_ip != NULL) {
		if ((family == AF_INET6) != (strchr(r->bind_ip, ':') != NULL)) {
			snprintf(err, errlen, "bindAddress %s is not an %s "
			    "address", r->bind_ip,
			    family == AF_INET6 ? "IPv6" : "IPv4");
			return (-1);
		}
		snprintf(buf, len, "%s", r->bind_ip);
		return (0);
	}
	return (nodeip_detect(family, buf, len, err, errlen));
}

/* Set up the rules side of the proxier. */
struct proxier_rules *
proxier_rules_new(struct event_base *base, const struct kp_config *cfg,
    void (*done)(void *, int), void *arg, char *err, size_t errlen)
{
	struct proxier_rules	*r;
	char			 e[256];
	int			 i;

	r = xcalloc(1, sizeof(*r));
	if (!netutil_is_unspecified((const struct sockaddr *)&cfg->bind_ss)) {
		netutil_ntop_ip((const struct sockaddr *)&cfg->bind_ss,
		    r->bind_buf, sizeof(r->bind_buf));
		r->bind_ip = r->bind_buf;
	}
	if (proxier_rules_host(r, AF_INET, r->host_ip4, sizeof(r->host_ip4),
	    err, errlen) == -1 && (r->bind_ip == NULL ||
	    strchr(r->bind_ip, ':') == NULL)) {
		r->host_ip4[0] = '\0';
		if (cfg->services_file != NULL) {
			free(r);
			return (NULL);
		}
		/* The API source can still tell us: the Node's address. */
		log_warnx("%s; until then, waiting for this Node's address "
		    "from the API server", err);
	}
	if (proxier_rules_host(r, AF_INET6, r->host_ip6, sizeof(r->host_ip6),
	    e, sizeof(e)) == -1) {
		log_debug("%s: no IPv6 node IP: %s", __func__, e);
		r->host_ip6[0] = '\0';
	}
	if (r->host_ip4[0] != '\0')
		log_info("node IP %s (DNAT target for local traffic)",
		    r->host_ip4);
	for (i = 0; i < 2; i++) {
		r->jobs[i] = rules_job_new(base, i == 0 ? AF_INET : AF_INET6,
		    i == 0 ? cfg->iptables_path : cfg->ip6tables_path,
		    cfg->conntrack_path, done, arg);
		if (r->jobs[i] == NULL)
			fatalx("--iptables-path/--ip6tables-path must not be "
			    "empty");
		/* Before the first sync, and it leaves our chains be. */
		rules_job_migrate(r->jobs[i], migrate_ipset_path(i == 0 ?
		    cfg->iptables_path : cfg->ip6tables_path));
	}
	if ((r->claims = htab_new()) == NULL)
		fatalx("proxier_rules: out of memory");
	return (r);
}

/* Free the rules side; the rules themselves stay for a successor. */
void
proxier_rules_free(struct proxier_rules *r)
{
	int	i;

	if (r == NULL)
		return;
	for (i = 0; i < 2; i++)
		rules_job_free(r->jobs[i]);
	htab_free(r->claims, proxier_rules_claim_free);
	free(r);
}

/* Return the family of a service port: that of its cluster IP. */
static int
proxier_rules_family(const char *cluster_ip)
{
	return (cluster_ip != NULL && strchr(cluster_ip, ':') != NULL ?
	    AF_INET6 : AF_INET);
}

/* Fill the parameters of one family's rules ("" host_ip: no node IP). */
static void
proxier_rules_params(struct proxier_rules *r, int family,
    struct ipt_params *params)
{
	memset(params, 0, sizeof(*params));
	params->family = family;
	params->bind_ip = r->bind_ip;
	params->host_ip = family == AF_INET6 ? r->host_ip6 : r->host_ip4;
}

/* Stream the rules of staged service ports (see proxier_rules.h). */
void
proxier_rules_stage(struct proxier_rules *r, const struct ipt_svcport *v,
    size_t n)
{
	struct ipt_svcport	*v4, *v6, *d;
	struct ipt_params	 p4, p6;
	size_t			 i, n4 = 0, n6 = 0;

	v4 = xcalloc(n + 1, sizeof(*v4));
	v6 = xcalloc(n + 1, sizeof(*v6));
	for (i = 0; i < n; i++) {
		d = proxier_rules_family(v[i].cluster_ip) == AF_INET6 ?
		    &v6[n6++] : &v4[n4++];
		*d = v[i];
		/* Node ports wait for the adopting sync, which claims them. */
		d->node_port = 0;
	}
	proxier_rules_params(r, AF_INET, &p4);
	proxier_rules_params(r, AF_INET6, &p6);
	if (n4 > 0)
		(void)rules_job_stream(r->jobs[0], &p4, v4, n4);
	if (n6 > 0)
		(void)rules_job_stream(r->jobs[1], &p6, v6, n6);
	free(v4);
	free(v6);
}

/* No more staged rules: let the streams end. */
void
proxier_rules_stage_end(struct proxier_rules *r)
{
	int	i;

	for (i = 0; i < 2; i++)
		rules_job_stream_end(r->jobs[i]);
}

/* Return the number of rule applications that failed. */
uint64_t
proxier_rules_errors(const struct proxier_rules *r)
{
	return (rules_job_errors(r->jobs[0]) + rules_job_errors(r->jobs[1]));
}

/* Does a family's start-up migration still run? */
int
proxier_rules_migrating(const struct proxier_rules *r)
{
	return (rules_job_migrating(r->jobs[0]) ||
	    rules_job_migrating(r->jobs[1]));
}

/* Report each family's sync results to result (see proxier_rules.h). */
void
proxier_rules_set_result(struct proxier_rules *r, void (*result)(void *,
    int, uint64_t))
{
	int	i;

	for (i = 0; i < 2; i++)
		rules_job_set_result(r->jobs[i], result);
}

/* Return 1 if a family's rules lag behind the last sync. */
int
proxier_rules_behind(const struct proxier_rules *r, uint64_t *since)
{
	uint64_t	s;
	int		i, behind = 0;

	*since = 0;
	for (i = 0; i < 2; i++) {
		if (!rules_job_behind(r->jobs[i], &s))
			continue;
		if (!behind || s < *since)
			*since = s;
		behind = 1;
	}
	return (behind);
}

/* Claim node ports and apply the rules of every service port. */
int
proxier_rules_sync(struct proxier_rules *r, const struct ipt_svcport *v,
    size_t n, int force)
{
	struct ipt_svcport	*v4, *v6, *d;
	struct ipt_params	 p4, p6;
	size_t			 i, n4 = 0, n6 = 0;
	int			 own, rv = 0;

	v4 = xcalloc(n + 1, sizeof(*v4));
	v6 = xcalloc(n + 1, sizeof(*v6));
	for (i = 0; i < n; i++) {
		own = v[i].node_port != 0 && v[i].name != NULL &&
		    proxier_rules_claim(r, &v[i]);
		d = proxier_rules_family(v[i].cluster_ip) == AF_INET6 ?
		    &v6[n6++] : &v4[n4++];
		*d = v[i];
		if (!own)
			d->node_port = 0;
	}
	proxier_rules_claims_sweep(r);
	proxier_rules_params(r, AF_INET, &p4);
	proxier_rules_params(r, AF_INET6, &p6);
	if (rules_job_sync(r->jobs[0], &p4, v4, n4, force) == -1)
		rv = -1;
	if (n6 > 0 || r->had_v6 || rules_job_pending(r->jobs[1]) > 0) {
		if (rules_job_sync(r->jobs[1], &p6, v6, n6, force) == -1)
			rv = -1;
		else
			r->had_v6 = n6 > 0;
	}
	free(v4);
	free(v6);
	return (rv);
}

/*
 * Queue the cluster IP of a UDP service port going away for a conntrack
 * flush once the rules that point at it are gone.
 */
void
proxier_rules_forget(struct proxier_rules *r, int proto,
    const char *cluster_ip)
{
	if (proto != IPPROTO_UDP || cluster_ip == NULL)
		return;
	rules_job_forget(r->jobs[proxier_rules_family(cluster_ip) == AF_INET6],
	    cluster_ip);
}

/* Learn the node IP from elsewhere (the Node object) if we have none. */
int
proxier_rules_set_node_ip(struct proxier_rules *r, const char *ip)
{
	char	buf[INET6_ADDRSTRLEN], *dst;
	int	af;

	if ((af = netutil_canon_ip(ip, buf, sizeof(buf))) == -1)
		return (0);
	dst = af == AF_INET6 ? r->host_ip6 : r->host_ip4;
	if (*dst != '\0')
		return (0);
	snprintf(dst, INET6_ADDRSTRLEN, "%s", buf);
	log_info("node IP %s from the Node object (DNAT target for local "
	    "traffic)", dst);
	return (1);
}
