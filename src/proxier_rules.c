/*
 * proxier_rules.c: node IP, node port claims, the iptables rule set of
 * the service ports and the conntrack flushes, every command in the
 * background.  See proxier_rules.h for the job states.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "conntrack.h"
#include "exec.h"
#include "htab.h"
#include "iptables.h"
#include "log.h"
#include "netutil.h"
#include "nodeip.h"
#include "proxier_rules.h"
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

/* Cluster IPs whose UDP conntrack entries are to be flushed. */
struct rules_flushq {
	char		**ips;
	size_t		  n;
};

/* A copy of a sync's service ports, kept while its jump reads run. */
struct rules_ports {
	struct ipt_svcport	*v;
	size_t			 n;
	const char		**ips;		/* external and LB IP arrays */
	char			*strs;		/* every string */
};

/* What the job of one family runs now (see proxier_rules.h). */
enum rules_state {
	RULES_IDLE = 0,		/* nothing: job is NULL */
	RULES_READING,		/* jump read number reads.n */
	RULES_RESTORE1,		/* full text, or incremental phase 1 */
	RULES_RESTORE2,		/* incremental phase 2: the "-D" */
	RULES_STREAMING,	/* restore of staged rules, input open */
	RULES_FLUSHING,		/* "conntrack -D" of flushing.ips[0] */
};

/*
 * The commands of one family, one at a time: the jump reads and the
 * restore of a sync, the two phases of an incremental update (see
 * iptables.h) started one from the other's callback, a stream, and the
 * conntrack flushes.  Conntrack entries of removed UDP services are
 * flushed only once the restore that removes their rules has succeeded
 * (phase 2 if there is one): flushed earlier, datagrams still arriving
 * would be REDIRECTed again to the closed proxy port and pinned there
 * by conntrack.
 */
struct rules_job {
	struct proxier_rules	*r;
	int			 family;
	struct ipt		*ipt;
	enum rules_state	 state;
	struct exec_job		*job;		/* NULL iff RULES_IDLE */
	int			 again;		/* a sync came in meanwhile */
	int			 again_force;	/* ... and it was forced */
	int			 forced;	/* this sync re-asserts */
	struct ipt_reads	 reads;		/* RULES_READING */
	struct rules_ports	 ports;		/* RULES_READING */
	struct ipt_apply	 apply;		/* RULES_RESTORE1, 2 */
	int			 incremental;	/* -I/-D of the changes only */
	size_t			 nchanges;
	unsigned int		 fails;		/* in a row */
	uint64_t		 start_ms;
	struct rules_flushq	 pend;		/* removed, rules still there */
	struct rules_flushq	 inflight;	/* gone with the running job */
	struct rules_flushq	 flushing;	/* rules gone: flush these */
	struct conntrack_flush	 ct;		/* RULES_FLUSHING */
	int			 ct_warned;	/* "no conntrack" was logged */
	int			 stream_bad;	/* a write failed: stop */
	struct ipt_stream	 stream;	/* RULES_STREAMING */
	size_t			 wrote;		/* bytes of stream.sent */
};

struct proxier_rules {
	const struct kp_config	*cfg;
	struct event_base	*base;
	void			(*done)(void *, int);	/* ask for a sync */
	void			*done_arg;
	struct rules_job	 jobs[2];		/* v4, v6 */
	uint64_t		 errors;
	char			 host_ip4[INET6_ADDRSTRLEN];
	char			 host_ip6[INET6_ADDRSTRLEN];
	const char		*bind_ip;	/* NULL: wildcard */
	char			 bind_buf[INET6_ADDRSTRLEN];
	int			 had_v6;	/* v6 rules were written */
	struct htab		*claims;	/* proto + port -> np_claim */
};

static void	proxier_rules_flushq_clear(struct rules_flushq *);
static void	proxier_rules_flush_next(struct rules_job *);
static void	proxier_rules_read_next(struct rules_job *);
static uint64_t	proxier_rules_now(void);
static int	proxier_rules_restore(struct rules_job *,
		    const struct ipt_svcport *, size_t, int,
		    const struct ipt_reads *);
static void	proxier_rules_stream_close(struct rules_job *);

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
	r->cfg = cfg;
	r->base = base;
	r->done = done;
	r->done_arg = arg;
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
		r->jobs[i].r = r;
		r->jobs[i].family = i == 0 ? AF_INET : AF_INET6;
		r->jobs[i].ipt = ipt_new(i == 0 ? cfg->iptables_path :
		    cfg->ip6tables_path, r->jobs[i].family);
		if (r->jobs[i].ipt == NULL)
			fatalx("--iptables-path/--ip6tables-path must not be "
			    "empty");
		/* Once, at start-up, where blocking is right. */
		ipt_backend_probe(r->jobs[i].ipt);
	}
	if ((r->claims = htab_new()) == NULL)
		fatalx("proxier_rules: out of memory");
	return (r);
}

/* Release a copy of service ports. */
static void
proxier_rules_ports_free(struct rules_ports *p)
{
	free(p->v);
	free(p->ips);
	free(p->strs);
	memset(p, 0, sizeof(*p));
}

/* Copy a string into the arena at *s. */
static const char *
proxier_rules_ports_str(char **s, const char *str)
{
	char	*p = *s;
	size_t	 len;

	if (str == NULL)
		return (NULL);
	len = strlen(str) + 1;
	memcpy(p, str, len);
	*s = p + len;
	return (p);
}

/* Copy n service ports and everything they point at into p. */
static void
proxier_rules_ports_copy(struct rules_ports *p, const struct ipt_svcport *v,
    size_t n)
{
	struct ipt_svcport	*d;
	const char		**ip;
	char			*s;
	size_t			 i, k, nips = 0, len = 0;

	for (i = 0; i < n; i++) {
		len += (v[i].name ? strlen(v[i].name) + 1 : 0) +
		    (v[i].cluster_ip ? strlen(v[i].cluster_ip) + 1 : 0);
		for (k = 0; k < v[i].n_external_ips; k++)
			len += v[i].external_ips[k] ?
			    strlen(v[i].external_ips[k]) + 1 : 0;
		for (k = 0; k < v[i].n_lb_ips; k++)
			len += v[i].lb_ips[k] ? strlen(v[i].lb_ips[k]) + 1 : 0;
		nips += v[i].n_external_ips + v[i].n_lb_ips;
	}
	p->n = n;
	p->v = xcalloc(n + 1, sizeof(*p->v));
	p->ips = xcalloc(nips + 1, sizeof(*p->ips));
	p->strs = xmalloc(len + 1);
	s = p->strs;
	ip = p->ips;
	for (i = 0; i < n; i++) {
		d = &p->v[i];
		*d = v[i];
		d->name = proxier_rules_ports_str(&s, v[i].name);
		d->cluster_ip = proxier_rules_ports_str(&s, v[i].cluster_ip);
		d->external_ips = ip;
		for (k = 0; k < v[i].n_external_ips; k++)
			*ip++ = proxier_rules_ports_str(&s,
			    v[i].external_ips[k]);
		d->lb_ips = ip;
		for (k = 0; k < v[i].n_lb_ips; k++)
			*ip++ = proxier_rules_ports_str(&s, v[i].lb_ips[k]);
	}
}

/* Free the rules side; the rules themselves stay for a successor. */
void
proxier_rules_free(struct proxier_rules *r)
{
	struct rules_job	*j;
	int			 i;

	if (r == NULL)
		return;
	for (i = 0; i < 2; i++) {
		j = &r->jobs[i];
		/* iptables-restore commits atomically or not at all. */
		exec_cancel(j->job);
		ipt_apply_free(&j->apply);
		ipt_reads_free(&j->reads);
		proxier_rules_ports_free(&j->ports);
		ipt_stream_free(&j->stream);
		proxier_rules_flushq_clear(&j->pend);
		proxier_rules_flushq_clear(&j->inflight);
		proxier_rules_flushq_clear(&j->flushing);
		ipt_free(j->ipt);
	}
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

/* Fill the parameters of one family's rules; -1 if it has no node IP. */
static int
proxier_rules_params(struct proxier_rules *r, int family,
    struct ipt_params *params)
{
	memset(params, 0, sizeof(*params));
	params->family = family;
	params->bind_ip = r->bind_ip;
	params->host_ip = family == AF_INET6 ? r->host_ip6 : r->host_ip4;
	return (*params->host_ip == '\0' ? -1 : 0);
}

/* Return monotonic milliseconds. */
static uint64_t
proxier_rules_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* Queue ip for a conntrack flush. */
static void
proxier_rules_flushq_add(struct rules_flushq *q, const char *ip)
{
	q->ips = xreallocarray(q->ips, q->n + 1, sizeof(*q->ips));
	q->ips[q->n++] = xstrdup(ip);
}

/* Move every entry of from to the end of to. */
static void
proxier_rules_flushq_move(struct rules_flushq *to, struct rules_flushq *from)
{
	size_t	i;

	for (i = 0; i < from->n; i++) {
		to->ips = xreallocarray(to->ips, to->n + 1, sizeof(*to->ips));
		to->ips[to->n++] = from->ips[i];
	}
	free(from->ips);
	from->ips = NULL;
	from->n = 0;
}

/* Empty a queue without flushing. */
static void
proxier_rules_flushq_clear(struct rules_flushq *q)
{
	size_t	i;

	for (i = 0; i < q->n; i++)
		free(q->ips[i]);
	free(q->ips);
	q->ips = NULL;
	q->n = 0;
}
/* The job is done: idle, and replay a sync that waited for it. */
static void
proxier_rules_idle(struct rules_job *j, int now)
{
	struct proxier_rules	*r = j->r;

	j->state = RULES_IDLE;
	j->job = NULL;
	if (j->again) {
		j->again = 0;
		r->done(r->done_arg, now);
	}
}

/* A "conntrack -D" ended: report a failure, go on with the next. */
static void
proxier_rules_flush_done(int rv, struct exec_result *res, void *arg)
{
	struct rules_job	*j = arg;
	char			 err[IPT_ERRLEN];

	j->job = NULL;
	if (conntrack_flush_finish(&j->ct, rv, res, err, sizeof(err)) == -1)
		log_warnx("%s: conntrack flush: %s", j->ct.ip, err);
	proxier_rules_flush_next(j);
}

/*
 * Flush the UDP conntrack entries of the next queued cluster IP whose
 * rules are gone, in the background; idle once the queue is empty.
 */
static void
proxier_rules_flush_next(struct rules_job *j)
{
	struct proxier_rules	*r = j->r;
	struct rules_flushq	*q = &j->flushing;
	char			 err[IPT_ERRLEN], *ip;
	int			 rv;

	while (q->n > 0) {
		ip = q->ips[0];
		memmove(q->ips, q->ips + 1, --q->n * sizeof(*q->ips));
		rv = conntrack_flush_prepare(&j->ct, r->cfg->conntrack_path,
		    ip, &j->ct_warned, err, sizeof(err));
		if (rv == 1 && (j->job = exec_start(r->base, j->ct.argv, NULL,
		    0, CONNTRACK_TIMEOUT_MS, EXEC_OUTMAX,
		    proxier_rules_flush_done, j, err, sizeof(err))) == NULL)
			rv = -1;
		if (rv == -1)
			log_warnx("%s: conntrack flush: %s", ip, err);
		free(ip);
		if (rv == 1) {
			j->state = RULES_FLUSHING;
			return;
		}
		if (rv == 0)		/* no conntrack: nothing to run */
			proxier_rules_flushq_clear(q);
	}
	proxier_rules_flushq_clear(q);
	proxier_rules_idle(j, 0);
}

/* The rules of the queued IPs are gone: flush them, then idle. */
static void
proxier_rules_flush(struct rules_job *j, struct rules_flushq *q)
{
	proxier_rules_flushq_move(&j->flushing, q);
	proxier_rules_flush_next(j);
}

static void	proxier_rules_restore_done(int, struct exec_result *, void *);

/*
 * Start phase 2 of an incremental update, the "-D" of the stale rules,
 * once phase 1 (the new rules) has succeeded.  Returns 0, or -1 with a
 * reason in err if there is a phase 2 and it could not be started.
 */
static int
proxier_rules_phase2(struct rules_job *j, const char *fam, char *err,
    size_t errlen)
{
	struct proxier_rules	*r = j->r;
	size_t			 nadds = j->apply.nadds;

	if (!ipt_apply_next(&j->apply))
		return (0);
	j->state = RULES_RESTORE2;
	log_info("%s rules applied in %llu ms (incremental, %zu new rules; "
	    "removing %zu stale)", fam, (unsigned long long)
	    (proxier_rules_now() - j->start_ms), nadds, j->apply.ndels);
	j->job = exec_start(r->base, j->apply.argv, j->apply.input,
	    j->apply.inlen, IPT_RESTORE_TIMEOUT_MS, EXEC_OUTMAX,
	    proxier_rules_restore_done, j, err, errlen);
	return (j->job == NULL ? -1 : 0);
}

/*
 * Take the result of a background restore: start phase 2 if phase 1
 * succeeded and there is one; else record the outcome, flush conntrack
 * after a success, and replay a waiting sync.
 */
static void
proxier_rules_restore_done(int rv, struct exec_result *res, void *arg)
{
	struct rules_job	*j = arg;
	struct proxier_rules	*r = j->r;
	const char		*fam = j->family == AF_INET6 ? "IPv6" : "IPv4";
	char			 err[IPT_ERRLEN], serr[IPT_ERRLEN];
	size_t			 ndels = j->apply.ndels;
	int			 phase2;

	j->job = NULL;
	serr[0] = '\0';
	if (rv == 0 && j->apply.phase == 1) {
		if (proxier_rules_phase2(j, fam, serr, sizeof(serr)) == -1) {
			rv = -1;
			res = NULL;
		} else if (j->job != NULL)
			return;		/* back here when phase 2 ends */
	}
	phase2 = j->apply.phase == 2;
	if (ipt_sync_finish(j->ipt, &j->apply, rv, res, err,
	    sizeof(err)) == -1) {
		log_warnx("%s %s: %s; retrying at the next sync", fam,
		    phase2 ? "stale rules not removed" : "rules not applied",
		    serr[0] != '\0' ? serr : err);
		r->errors++;
		/* Their rules are still there: flush after the next one. */
		proxier_rules_flushq_move(&j->inflight, &j->pend);
		j->pend = j->inflight;
		memset(&j->inflight, 0, sizeof(j->inflight));
		/*
		 * The next try renders the full rule set (an incremental
		 * one fails when someone removed our rules): try again
		 * soon, a few times, then leave it to the periodic sync.
		 */
		if (++j->fails <= 3)
			j->again = 1;
		proxier_rules_idle(j, 0);
		return;
	}
	j->fails = 0;
	if (phase2)
		log_info("%s stale rules removed in %llu ms (%zu rules)", fam,
		    (unsigned long long)(proxier_rules_now() - j->start_ms),
		    ndels);
	else if (j->forced)
		log_debug("%s: %s rules re-asserted in %llu ms", __func__, fam,
		    (unsigned long long)(proxier_rules_now() - j->start_ms));
	else
		log_info("%s rules applied in %llu ms (%s, %zu rules)", fam,
		    (unsigned long long)(proxier_rules_now() - j->start_ms),
		    j->incremental ? "incremental" : "full", j->nchanges);
	proxier_rules_flush(j, &j->inflight);
}

/* Log that the rules of a family were not applied, and count it. */
static void
proxier_rules_fail(struct rules_job *j, const char *err)
{
	log_warnx("%s rules not applied: %s",
	    j->family == AF_INET6 ? "ip6tables" : "iptables", err);
	j->r->errors++;
}

/* A jump read ended: keep its listing; read on, or prepare the restore. */
static void
proxier_rules_read_done(int rv, struct exec_result *res, void *arg)
{
	struct rules_job	*j = arg;
	char			 err[IPT_ERRLEN];

	j->job = NULL;
	if (ipt_reads_take(j->ipt, &j->reads, rv, res, err,
	    sizeof(err)) == -1) {
		proxier_rules_fail(j, err);
		ipt_reads_free(&j->reads);
		proxier_rules_ports_free(&j->ports);
		proxier_rules_idle(j, 0);
		return;
	}
	if (j->reads.n < IPT_NREADS) {
		proxier_rules_read_next(j);
		return;
	}
	(void)proxier_rules_restore(j, j->ports.v, j->ports.n, j->forced,
	    &j->reads);
	ipt_reads_free(&j->reads);
	proxier_rules_ports_free(&j->ports);
}

/* Start the next jump read ("iptables -S"); on failure, idle. */
static void
proxier_rules_read_next(struct rules_job *j)
{
	struct proxier_rules	*r = j->r;
	char			 err[IPT_ERRLEN];

	j->state = RULES_READING;
	j->job = exec_start(r->base, j->reads.argv[j->reads.n], NULL, 0,
	    IPT_READ_TIMEOUT_MS, IPT_READ_MAX, proxier_rules_read_done, j,
	    err, sizeof(err));
	if (j->job != NULL)
		return;
	(void)ipt_reads_take(j->ipt, &j->reads, -1, NULL, err, sizeof(err));
	proxier_rules_fail(j, err);
	ipt_reads_free(&j->reads);
	proxier_rules_ports_free(&j->ports);
	proxier_rules_idle(j, 0);
}

/*
 * Render and start the restore of one family (reads: the jump listings
 * if they were due), or the conntrack flushes if nothing changed.
 * Returns 0, or -1 if it could not be rendered or started (logged); the
 * job is then idle.
 */
static int
proxier_rules_restore(struct rules_job *j, const struct ipt_svcport *v,
    size_t n, int force, const struct ipt_reads *reads)
{
	struct proxier_rules	*r = j->r;
	struct ipt_params	 params;
	char			 err[IPT_ERRLEN];
	int			 rv;

	(void)proxier_rules_params(r, j->family, &params);
	rv = ipt_sync_prepare(j->ipt, &params, v, n, force, reads, &j->apply,
	    err, sizeof(err));
	if (rv == 0) {
		/* Unchanged: whatever was removed has no rules left. */
		proxier_rules_flush(j, &j->pend);
		return (0);
	}
	if (rv == 1 && (j->job = exec_start(r->base, j->apply.argv,
	    j->apply.input, j->apply.inlen, IPT_RESTORE_TIMEOUT_MS,
	    EXEC_OUTMAX, proxier_rules_restore_done, j, err,
	    sizeof(err))) == NULL) {
		ipt_apply_free(&j->apply);
		rv = -1;
	}
	if (rv == -1) {
		proxier_rules_fail(j, err);
		proxier_rules_idle(j, 0);
		return (-1);
	}
	j->state = RULES_RESTORE1;
	j->forced = force;
	j->incremental = j->apply.incremental;
	j->nchanges = j->apply.nchanges;
	j->start_ms = proxier_rules_now();
	proxier_rules_flushq_move(&j->inflight, &j->pend);
	return (0);
}

/*
 * Apply the rule set of one family in the background, so the relays
 * never stall on it: read the jumps first when due, render, restore.
 * A sync arriving while a job runs is remembered and replayed when it
 * ends.
 */
static int
proxier_rules_apply(struct proxier_rules *r, int family,
    const struct ipt_svcport *v, size_t n, int force)
{
	struct rules_job	*j = &r->jobs[family == AF_INET6];
	struct ipt_params	 params;

	if (j->state != RULES_IDLE) {
		/* A stream still open ends here: this sync follows it. */
		if (j->state == RULES_STREAMING)
			proxier_rules_stream_close(j);
		j->again = 1;
		j->again_force |= force;
		return (0);
	}
	if (proxier_rules_params(r, family, &params) == -1) {
		if (n > 0)
			log_warnx("%zu %s service ports not installed: no %s "
			    "node IP (no default route); set --bind-address",
			    n, family == AF_INET6 ? "IPv6" : "IPv4",
			    family == AF_INET6 ? "IPv6" : "IPv4");
		return (n > 0 ? -1 : 0);
	}
	/* A periodic sync that had to wait must not lose its force. */
	force |= j->again_force;
	j->again_force = 0;
	if (!ipt_reads_due(j->ipt, force))
		return (proxier_rules_restore(j, v, n, force, NULL));
	/* The reads run first: keep what this sync is about meanwhile. */
	proxier_rules_ports_copy(&j->ports, v, n);
	ipt_reads_init(j->ipt, &j->reads);
	j->forced = force;
	proxier_rules_read_next(j);
	return (j->state == RULES_READING ? 0 : -1);
}

/* The stream's restore ended: record it, replay a waiting sync. */
static void
proxier_rules_stream_done(int rv, struct exec_result *res, void *arg)
{
	struct rules_job	*j = arg;
	struct proxier_rules	*r = j->r;
	const char		*fam = j->family == AF_INET6 ? "IPv6" : "IPv4";
	char			 err[IPT_ERRLEN];
	size_t			 nrules = j->stream.nrules;

	j->job = NULL;
	if (ipt_stream_done(j->ipt, &j->stream, j->wrote, rv, res, err,
	    sizeof(err)) == 0)
		log_info("%s rules applied in %llu ms (streamed while parsing, "
		    "%zu rules)", fam, (unsigned long long)
		    (proxier_rules_now() - j->start_ms), nrules);
	else {
		log_warnx("%s rules streamed while parsing not applied: %s; "
		    "applying the full rules", fam, err);
		r->errors++;
		j->again = 1;
	}
	proxier_rules_idle(j, 1);
}

/* Write a part of the stream; on failure stop streaming. */
static int
proxier_rules_stream_write(struct rules_job *j, const char *buf, size_t len)
{
	if (len == 0)
		return (0);
	if (j->stream_bad || exec_job_write(j->job, buf, len) == -1) {
		/* It died: its callback reports why. */
		j->stream_bad = 1;
		exec_job_close_input(j->job);
		return (-1);
	}
	j->wrote += len;
	return (0);
}

/* End a stream's input: its closing part, then end of file. */
static void
proxier_rules_stream_close(struct rules_job *j)
{
	const char	*buf;
	size_t		 len;

	ipt_stream_end(&j->stream, &buf, &len);
	if (proxier_rules_stream_write(j, buf, len) == 0)
		exec_job_close_input(j->job);
}

/*
 * Stream the rules of staged service ports of one family; start the
 * stream if none runs.  Returns 0, or -1 if they were not streamed.
 */
static int
proxier_rules_stream(struct proxier_rules *r, int family,
    const struct ipt_svcport *v, size_t n)
{
	struct rules_job	*j = &r->jobs[family == AF_INET6];
	struct ipt_params	 params;
	const char		*argv[5], *buf;
	char			 err[IPT_ERRLEN];
	size_t			 len;

	if (n == 0)
		return (0);
	if (j->state != RULES_IDLE &&
	    (j->state != RULES_STREAMING || j->stream_bad)) {
		/* Busy: the sync that adopts them applies them. */
		log_debug("%s: %zu staged ports not streamed: a restore runs",
		    __func__, n);
		return (-1);
	}
	if (proxier_rules_params(r, family, &params) == -1)
		return (-1);
	if (j->state == RULES_IDLE) {
		if (ipt_stream_begin(j->ipt, &j->stream, argv) == -1) {
			log_debug("%s: %zu staged ports not streamed: the "
			    "rules are in doubt", __func__, n);
			return (-1);
		}
		j->job = exec_start_stream(r->base, argv,
		    IPT_RESTORE_TIMEOUT_MS, EXEC_OUTMAX,
		    proxier_rules_stream_done, j, err, sizeof(err));
		if (j->job == NULL) {
			log_warnx("%s: %s", argv[0], err);
			ipt_stream_free(&j->stream);
			return (-1);
		}
		j->state = RULES_STREAMING;
		j->stream_bad = 0;
		j->wrote = 0;
		j->start_ms = proxier_rules_now();
	}
	if (ipt_stream_add(&j->stream, &params, v, n, &buf, &len, err,
	    sizeof(err)) == -1) {
		log_debug("%s: %zu staged ports not streamed: %s", __func__, n,
		    err);
		return (-1);
	}
	return (proxier_rules_stream_write(j, buf, len));
}
/* Stream the rules of staged service ports (see proxier_rules.h). */
void
proxier_rules_stage(struct proxier_rules *r, const struct ipt_svcport *v,
    size_t n)
{
	struct ipt_svcport	*v4, *v6, *d;
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
	(void)proxier_rules_stream(r, AF_INET, v4, n4);
	(void)proxier_rules_stream(r, AF_INET6, v6, n6);
	free(v4);
	free(v6);
}

/* No more staged rules: let the streams end. */
void
proxier_rules_stage_end(struct proxier_rules *r)
{
	int	i;

	for (i = 0; i < 2; i++)
		if (r->jobs[i].state == RULES_STREAMING)
			proxier_rules_stream_close(&r->jobs[i]);
}

/* Return the number of rule applications that failed. */
uint64_t
proxier_rules_errors(const struct proxier_rules *r)
{
	return (r->errors);
}

/* Claim node ports and apply the rules of every service port. */
int
proxier_rules_sync(struct proxier_rules *r, const struct ipt_svcport *v,
    size_t n, int force)
{
	struct ipt_svcport	*v4, *v6, *d;
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
	if (proxier_rules_apply(r, AF_INET, v4, n4, force) == -1)
		rv = -1;
	if (n6 > 0 || r->had_v6 || r->jobs[1].pend.n > 0) {
		if (proxier_rules_apply(r, AF_INET6, v6, n6, force) == -1)
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
	proxier_rules_flushq_add(&r->jobs[proxier_rules_family(cluster_ip) ==
	    AF_INET6].pend, cluster_ip);
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
