/*
 * proxier_rules.c: node IP, node port claims and the iptables rule set of
 * the live service ports.
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

/*
 * The restore of one family running in the background: one
 * iptables-restore, or the two phases of an incremental update (new
 * rules, then "-D" of the stale ones; see iptables.h), the second
 * started from the first one's callback with job still set.  Conntrack
 * entries of removed UDP services are flushed only once the restore
 * that removes their rules has succeeded (phase 2 if there is one):
 * flushed earlier, datagrams still arriving would be REDIRECTed again
 * to the closed proxy port and pinned there by conntrack.
 */
struct rules_job {
	struct proxier_rules	*r;
	int			 family;
	struct exec_job		*job;		/* NULL: idle */
	struct ipt_apply	 apply;
	int			 again;		/* a sync came in meanwhile */
	int			 forced;	/* periodic re-assertion */
	int			 incremental;	/* -I/-D of the changes only */
	size_t			 nchanges;
	unsigned int		 fails;		/* in a row */
	struct rules_flushq	 pend;		/* removed, rules still there */
	struct rules_flushq	 inflight;	/* gone with the running job */
	uint64_t		 start_ms;
	int			 again_force;	/* ... and it was forced */
	int			 streaming;	/* job is a stream (staging) */
	int			 stream_bad;	/* a write failed: stop */
	struct ipt_stream	 stream;
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
	struct ipt		*ipt4;
	struct ipt		*ipt6;
	int			 had_v6;	/* v6 rules were written */
	struct htab		*claims;	/* proto + port -> np_claim */
};

static void	proxier_rules_flushq_clear(struct rules_flushq *);
static void	proxier_rules_done(int, struct exec_result *, void *);
static uint64_t	proxier_rules_now(void);
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
	for (i = 0; i < 2; i++) {
		r->jobs[i].r = r;
		r->jobs[i].family = i == 0 ? AF_INET : AF_INET6;
	}
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
	r->ipt4 = ipt_new(cfg->iptables_path, AF_INET);
	r->ipt6 = ipt_new(cfg->ip6tables_path, AF_INET6);
	if (r->ipt4 == NULL || r->ipt6 == NULL)
		fatalx("--iptables-path/--ip6tables-path must not be empty");
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
	for (i = 0; i < 2; i++) {
		if (r->jobs[i].job != NULL) {
			/* iptables-restore commits atomically or not at all. */
			exec_cancel(r->jobs[i].job);
			ipt_apply_free(&r->jobs[i].apply);
		}
		ipt_stream_free(&r->jobs[i].stream);
		proxier_rules_flushq_clear(&r->jobs[i].pend);
		proxier_rules_flushq_clear(&r->jobs[i].inflight);
	}
	htab_free(r->claims, proxier_rules_claim_free);
	ipt_free(r->ipt4);
	ipt_free(r->ipt6);
	free(r);
}

/* Return the family of a service port: that of its cluster IP. */
static int
proxier_rules_family(const struct ipt_svcport *sp)
{
	return (sp->cluster_ip != NULL && strchr(sp->cluster_ip, ':') != NULL ?
	    AF_INET6 : AF_INET);
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

/* Flush the UDP conntrack entries of every queued cluster IP. */
static void
proxier_rules_flushq_run(struct proxier_rules *r, struct rules_job *j,
    struct rules_flushq *q)
{
	char	err[IPT_ERRLEN];
	size_t	i;

	for (i = 0; i < q->n; i++)
		if (ipt_flush_conntrack(j->family == AF_INET6 ? r->ipt6 :
		    r->ipt4, r->cfg->conntrack_path, q->ips[i], err,
		    sizeof(err)) == -1)
			log_warnx("%s: conntrack flush: %s", q->ips[i], err);
	proxier_rules_flushq_clear(q);
}

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
	log_info("%s rules applied in %llu ms (incremental, %zu new rules; "
	    "removing %zu stale)", fam, (unsigned long long)
	    (proxier_rules_now() - j->start_ms), nadds, j->apply.ndels);
	j->job = exec_start(r->base, j->apply.argv, j->apply.input,
	    j->apply.inlen, IPT_RESTORE_TIMEOUT_MS, EXEC_OUTMAX,
	    proxier_rules_done, j, err, errlen);
	return (j->job == NULL ? -1 : 0);
}

/*
 * Take the result of a background restore: start phase 2 if phase 1
 * succeeded and there is one; else record the outcome, flush conntrack
 * after a success, and replay a waiting sync.
 */
static void
proxier_rules_done(int rv, struct exec_result *res, void *arg)
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
	if (ipt_sync_finish(j->family == AF_INET6 ? r->ipt6 : r->ipt4,
	    &j->apply, rv, res, err, sizeof(err)) == -1) {
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
	} else {
		j->fails = 0;
		proxier_rules_flushq_run(r, j, &j->inflight);
		if (phase2)
			log_info("%s stale rules removed in %llu ms (%zu "
			    "rules)", fam, (unsigned long long)
			    (proxier_rules_now() - j->start_ms), ndels);
		else if (j->forced)
			log_debug("%s: %s rules re-asserted in %llu ms",
			    __func__, fam, (unsigned long long)
			    (proxier_rules_now() - j->start_ms));
		else
			log_info("%s rules applied in %llu ms (%s, %zu rules)",
			    fam, (unsigned long long)(proxier_rules_now() -
			    j->start_ms), j->incremental ? "incremental" :
			    "full", j->nchanges);
	}
	if (j->again) {
		j->again = 0;
		r->done(r->done_arg, 0);
	}
}

/*
 * Apply the rule set of one family: render now, run iptables-restore in
 * the background so the relays never stall on it.  A sync arriving
 * while one runs is remembered and replayed when it ends.
 */
static int
proxier_rules_apply(struct proxier_rules *r, int family,
    const struct ipt_svcport *v, size_t n, int force)
{
	struct rules_job	*j = &r->jobs[family == AF_INET6];
	struct ipt_params	 params;
	struct ipt		*ipt = family == AF_INET6 ? r->ipt6 : r->ipt4;
	char			 err[IPT_ERRLEN];
	int			 rv;

	if (j->job != NULL) {
		/* A stream still open ends here: this sync follows it. */
		if (j->streaming)
			proxier_rules_stream_close(j);
		j->again = 1;
		j->again_force |= force;
		return (0);
	}
	memset(&params, 0, sizeof(params));
	params.family = family;
	params.bind_ip = r->bind_ip;
	params.host_ip = family == AF_INET6 ? r->host_ip6 : r->host_ip4;
	if (*params.host_ip == '\0') {
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
	rv = ipt_sync_prepare(ipt, &params, v, n, force, &j->apply, err,
	    sizeof(err));
	if (rv == 0) {
		/* Unchanged: whatever was removed has no rules left. */
		proxier_rules_flushq_run(r, j, &j->pend);
		return (0);
	}
	if (rv == -1)
		goto fail;
	j->job = exec_start(r->base, j->apply.argv, j->apply.input,
	    j->apply.inlen, IPT_RESTORE_TIMEOUT_MS, EXEC_OUTMAX,
	    proxier_rules_done, j, err, sizeof(err));
	if (j->job == NULL) {
		ipt_apply_free(&j->apply);
		goto fail;
	}
	j->forced = force;
	j->incremental = j->apply.incremental;
	j->nchanges = j->apply.nchanges;
	j->start_ms = proxier_rules_now();
	proxier_rules_flushq_move(&j->inflight, &j->pend);
	return (0);
fail:
	log_warnx("%s rules not applied: %s",
	    family == AF_INET6 ? "ip6tables" : "iptables", err);
	r->errors++;
	return (-1);
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
	j->streaming = 0;
	if (ipt_stream_done(j->family == AF_INET6 ? r->ipt6 : r->ipt4,
	    &j->stream, j->wrote, rv, res, err, sizeof(err)) == 0)
		log_info("%s rules applied in %llu ms (streamed while parsing, "
		    "%zu rules)", fam, (unsigned long long)
		    (proxier_rules_now() - j->start_ms), nrules);
	else {
		log_warnx("%s rules streamed while parsing not applied: %s; "
		    "applying the full rules", fam, err);
		r->errors++;
		j->again = 1;
	}
	if (j->again) {
		j->again = 0;
		r->done(r->done_arg, 1);
	}
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
	struct ipt		*ipt = family == AF_INET6 ? r->ipt6 : r->ipt4;
	struct ipt_params	 params;
	const char		*argv[5], *buf;
	char			 err[IPT_ERRLEN];
	size_t			 len;

	if (n == 0)
		return (0);
	if (j->job != NULL && (!j->streaming || j->stream_bad)) {
		/* Busy: the sync that adopts them applies them. */
		log_debug("%s: %zu staged ports not streamed: a restore runs",
		    __func__, n);
		return (-1);
	}
	memset(&params, 0, sizeof(params));
	params.family = family;
	params.bind_ip = r->bind_ip;
	params.host_ip = family == AF_INET6 ? r->host_ip6 : r->host_ip4;
	if (*params.host_ip == '\0')
		return (-1);
	if (j->job == NULL) {
		if (ipt_stream_begin(ipt, &j->stream, argv) == -1) {
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
		j->streaming = 1;
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
	struct ipt_svcport	*v4, *v6;
	size_t			 i, n4 = 0, n6 = 0;

	v4 = xcalloc(n + 1, sizeof(*v4));
	v6 = xcalloc(n + 1, sizeof(*v6));
	/* Node ports wait for the adopting sync, which claims them. */
	for (i = 0; i < n; i++) {
		if (proxier_rules_family(&v[i]) == AF_INET6)
			v6[n6] = v[i], v6[n6++].node_port = 0;
		else
			v4[n4] = v[i], v4[n4++].node_port = 0;
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
		if (r->jobs[i].job != NULL && r->jobs[i].streaming)
			proxier_rules_stream_close(&r->jobs[i]);
}

/* Return the number of rule applications that failed. */
uint64_t
proxier_rules_errors(const struct proxier_rules *r)
{
	return (r->errors);
}

/* Claim node ports and apply the rules of every live service port. */
int
proxier_rules_sync(struct proxier_rules *r, const struct ipt_svcport *v,
    size_t n, int force)
{
	struct ipt_svcport	*v4, *v6, *d;
	size_t			 i, n4 = 0, n6 = 0;
	int			 rv = 0;

	v4 = xcalloc(n + 1, sizeof(*v4));
	v6 = xcalloc(n + 1, sizeof(*v6));
	for (i = 0; i < n; i++) {
		d = proxier_rules_family(&v[i]) == AF_INET6 ? &v6[n6++] :
		    &v4[n4++];
		*d = v[i];
		if (d->node_port != 0 && !proxier_rules_claim(r, &v[i]))
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
proxier_rules_forget(struct proxier_rules *r, int proto, const char *cluster_ip)
{
	if (proto != IPPROTO_UDP || cluster_ip == NULL)
		return;
	proxier_rules_flushq_add(&r->jobs[strchr(cluster_ip, ':') != NULL].pend,
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
