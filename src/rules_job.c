/*
 * rules_job.c: the commands of one family's rules, in the background
 * and one at a time: jump reads, restores, streams, conntrack flushes.
 * See rules_job.h for the states.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conntrack.h"
#include "exec.h"
#include "iptables.h"
#include "log.h"
#include "migrate.h"
#include "monotime.h"
#include "rules_job.h"
#include "xmalloc.h"

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

/* What the job runs now (see rules_job.h). */
enum rules_state {
	RULES_IDLE = 0,		/* nothing: job is NULL */
	RULES_READING,		/* jump read number reads.n */
	RULES_RESTORE1,		/* full text, or incremental phase 1 */
	RULES_RESTORE2,		/* incremental phase 2: the "-D" */
	RULES_STREAMING,	/* restore of staged rules, input open */
	RULES_FLUSHING,		/* "conntrack -D" of ct.ip */
	RULES_MIGRATING,	/* removing other modes' leftovers: mig */
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
	int			 family;
	struct ipt		*ipt;
	struct event_base	*base;
	const char		*conntrack_path;
	void			(*done)(void *, int);	/* ask for a sync */
	void			*done_arg;
	/* Called as each sync's rules end: ok or not, its start. */
	void			(*result)(void *, int, uint64_t);
	uint64_t		 errors;
	uint64_t		 req_seq;	/* syncs asked for */
	uint64_t		 run_seq;	/* the one running or last run */
	uint64_t		 ok_seq;	/* the last one applied */
	uint64_t		 sync_ms;	/* when run_seq started */
	uint64_t		 ok_sync_ms;	/* when ok_seq started */
	enum rules_state	 state;
	struct exec_job		*job;		/* NULL if RULES_IDLE or
						   RULES_MIGRATING */
	struct migrate		*mig;		/* RULES_MIGRATING */
	int			 again;		/* a sync came in meanwhile */
	int			 again_force;	/* ... and it was forced */
	struct ipt_params	 params;	/* of the last sync */
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

static void	rules_job_flushq_clear(struct rules_flushq *);
static void	rules_job_idle(struct rules_job *, int);
static void	rules_job_flush_next(struct rules_job *);
static void	rules_job_read_next(struct rules_job *);
static int	rules_job_restore(struct rules_job *,
		    const struct ipt_svcport *, size_t, int,
		    const struct ipt_reads *);
static void	rules_job_restore_done(int, struct exec_result *, void *);
static void	rules_job_stream_close(struct rules_job *);
static void	rules_job_ports_free(struct rules_ports *);
static void	rules_job_flushq_add(struct rules_flushq *, const char *);

/* Set up the job of one family. */
struct rules_job *
rules_job_new(struct event_base *base, int family, const char *iptables_path,
    const char *conntrack_path, void (*done)(void *, int), void *arg)
{
	struct rules_job	*j;

	j = xcalloc(1, sizeof(*j));
	j->family = family;
	j->base = base;
	j->conntrack_path = conntrack_path;
	j->done = done;
	j->done_arg = arg;
	if ((j->ipt = ipt_new(iptables_path, family)) == NULL) {
		free(j);
		return (NULL);
	}
	/* Once, at start-up, where blocking is right. */
	ipt_backend_probe(j->ipt);
	return (j);
}

/* Stop whatever runs and free the job; the rules stay. */
void
rules_job_free(struct rules_job *j)
{
	if (j == NULL)
		return;
	/* iptables-restore commits atomically or not at all. */
	exec_cancel(j->job);
	migrate_cancel(j->mig);
	ipt_apply_free(&j->apply);
	ipt_reads_free(&j->reads);
	rules_job_ports_free(&j->ports);
	ipt_stream_free(&j->stream);
	rules_job_flushq_clear(&j->pend);
	rules_job_flushq_clear(&j->inflight);
	rules_job_flushq_clear(&j->flushing);
	ipt_free(j->ipt);
	free(j);
}

/*
 * The migration is over: replay the syncs that waited for it at once.
 * They applied nothing, so minSyncPeriod has nothing to space out; it
 * would only hold the first rules back (a services file read at start is
 * in the model before the migration's reads end: 1 s late).
 */
static void
rules_job_migrated(void *arg)
{
	struct rules_job	*j = arg;

	j->mig = NULL;
	rules_job_idle(j, 1);
}

/* Remove kube-proxy's other modes' leftovers before the first sync. */
void
rules_job_migrate(struct rules_job *j, const char *ipset_path)
{
	if (j->state != RULES_IDLE)
		return;
	j->mig = migrate_start(j->base, j->ipt, j->family, ipset_path,
	    rules_job_migrated, j);
	if (j->mig != NULL)
		j->state = RULES_MIGRATING;
}

/* Is the start-up migration still running? */
int
rules_job_migrating(const struct rules_job *j)
{
	return (j->state == RULES_MIGRATING);
}

/* Return the number of rule applications of the job that failed. */
uint64_t
rules_job_errors(const struct rules_job *j)
{
	return (j->errors);
}

/* Report results to result(done's arg, ok, start ms) from now on. */
void
rules_job_set_result(struct rules_job *j, void (*result)(void *, int,
    uint64_t))
{
	j->result = result;
}

/* Return 1 if a sync asked for has not been applied yet. */
int
rules_job_behind(const struct rules_job *j, uint64_t *since)
{
	*since = j->ok_sync_ms;
	return (j->ok_seq != j->req_seq);
}

/* The rules of the running sync are applied (ok) or not: say so. */
static void
rules_job_result(struct rules_job *j, int ok)
{
	if (ok) {
		j->ok_seq = j->run_seq;
		j->ok_sync_ms = j->sync_ms;
	}
	if (j->result != NULL)
		j->result(j->done_arg, ok, j->sync_ms);
}

/* Return the number of flushes waiting for a restore. */
size_t
rules_job_pending(const struct rules_job *j)
{
	return (j->pend.n);
}

/* Queue ip for a conntrack flush once its rules are gone. */
void
rules_job_forget(struct rules_job *j, const char *ip)
{
	rules_job_flushq_add(&j->pend, ip);
}

/* No more staged rules: let a stream end. */
void
rules_job_stream_end(struct rules_job *j)
{
	if (j->state == RULES_STREAMING)
		rules_job_stream_close(j);
}

/* Release a copy of service ports. */
static void
rules_job_ports_free(struct rules_ports *p)
{
	free(p->v);
	free(p->ips);
	free(p->strs);
	memset(p, 0, sizeof(*p));
}

/* Copy a string into the arena at *s. */
static const char *
rules_job_ports_str(char **s, const char *str)
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
rules_job_ports_copy(struct rules_ports *p, const struct ipt_svcport *v,
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
		d->name = rules_job_ports_str(&s, v[i].name);
		d->cluster_ip = rules_job_ports_str(&s, v[i].cluster_ip);
		d->external_ips = ip;
		for (k = 0; k < v[i].n_external_ips; k++)
			*ip++ = rules_job_ports_str(&s,
			    v[i].external_ips[k]);
		d->lb_ips = ip;
		for (k = 0; k < v[i].n_lb_ips; k++)
			*ip++ = rules_job_ports_str(&s, v[i].lb_ips[k]);
	}
}

/* Queue ip for a conntrack flush. */
static void
rules_job_flushq_add(struct rules_flushq *q, const char *ip)
{
	q->ips = xreallocarray(q->ips, q->n + 1, sizeof(*q->ips));
	q->ips[q->n++] = xstrdup(ip);
}

/* Move every entry of from to the end of to. */
static void
rules_job_flushq_move(struct rules_flushq *to, struct rules_flushq *from)
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
rules_job_flushq_clear(struct rules_flushq *q)
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
rules_job_idle(struct rules_job *j, int now)
{

	j->state = RULES_IDLE;
	j->job = NULL;
	if (j->again) {
		j->again = 0;
		j->done(j->done_arg, now);
	}
}

/* A "conntrack -D" ended: report a failure, go on with the next. */
static void
rules_job_flush_done(int rv, struct exec_result *res, void *arg)
{
	struct rules_job	*j = arg;
	char			 err[IPT_ERRLEN];

	j->job = NULL;
	if (conntrack_flush_finish(&j->ct, rv, res, err, sizeof(err)) == -1)
		log_warnx("%s: conntrack flush: %s", j->ct.ip, err);
	rules_job_flush_next(j);
}

/*
 * Flush the UDP conntrack entries of the next queued cluster IP whose
 * rules are gone, in the background; idle once the queue is empty.
 */
static void
rules_job_flush_next(struct rules_job *j)
{
	struct rules_flushq	*q = &j->flushing;
	char			 err[IPT_ERRLEN], *ip;
	int			 rv;

	while (q->n > 0) {
		ip = q->ips[0];
		memmove(q->ips, q->ips + 1, --q->n * sizeof(*q->ips));
		rv = conntrack_flush_prepare(&j->ct, j->conntrack_path,
		    ip, &j->ct_warned, err, sizeof(err));
		if (rv == 1 && (j->job = exec_start(j->base, j->ct.argv, NULL,
		    0, CONNTRACK_TIMEOUT_MS, EXEC_OUTMAX,
		    rules_job_flush_done, j, err, sizeof(err))) == NULL)
			rv = -1;
		if (rv == -1)
			log_warnx("%s: conntrack flush: %s", ip, err);
		free(ip);
		if (rv == 1) {
			j->state = RULES_FLUSHING;
			return;
		}
		if (rv == 0)		/* no conntrack: nothing to run */
			rules_job_flushq_clear(q);
	}
	rules_job_flushq_clear(q);
	rules_job_idle(j, 0);
}

/* The rules of the queued IPs are gone: flush them, then idle. */
static void
rules_job_flush(struct rules_job *j, struct rules_flushq *q)
{
	rules_job_flushq_move(&j->flushing, q);
	rules_job_flush_next(j);
}

/*
 * Start phase 2 of an incremental update, the "-D" of the stale rules,
 * once phase 1 (the new rules) has succeeded.  Returns 0, or -1 with a
 * reason in err if there is a phase 2 and it could not be started.
 */
static int
rules_job_phase2(struct rules_job *j, const char *fam, char *err,
    size_t errlen)
{
	size_t			 nadds = j->apply.nadds;

	if (!ipt_apply_next(&j->apply))
		return (0);
	j->state = RULES_RESTORE2;
	log_v(2, "%s rules applied in %llu ms (incremental, %zu new rules; "
	    "removing %zu stale)", fam, (unsigned long long)
	    (monotime_ms() - j->start_ms), nadds, j->apply.ndels);
	j->job = exec_start(j->base, j->apply.argv, j->apply.input,
	    j->apply.inlen, IPT_RESTORE_TIMEOUT_MS, EXEC_OUTMAX,
	    rules_job_restore_done, j, err, errlen);
	return (j->job == NULL ? -1 : 0);
}

/*
 * Take the result of a background restore: start phase 2 if phase 1
 * succeeded and there is one; else record the outcome, flush conntrack
 * after a success, and replay a waiting sync.
 */
static void
rules_job_restore_done(int rv, struct exec_result *res, void *arg)
{
	struct rules_job	*j = arg;
	const char		*fam = j->family == AF_INET6 ? "IPv6" : "IPv4";
	char			 err[IPT_ERRLEN], serr[IPT_ERRLEN];
	size_t			 ndels = j->apply.ndels;
	int			 phase2;

	j->job = NULL;
	serr[0] = '\0';
	if (rv == 0 && j->apply.phase == 1) {
		if (rules_job_phase2(j, fam, serr, sizeof(serr)) == -1) {
			rv = -1;
			res = NULL;
		} else if (j->job != NULL)
			return;		/* back here when phase 2 ends */
	}
	phase2 = j->apply.phase == 2;
	if (ipt_sync_finish(j->ipt, &j->apply, rv, res, err,
	    sizeof(err)) == -1) {
		log_errorx("%s %s: %s; retrying at the next sync", fam,
		    phase2 ? "stale rules not removed" : "rules not applied",
		    serr[0] != '\0' ? serr : err);
		j->errors++;
		/* Their rules are still there: flush after the next one. */
		rules_job_flushq_move(&j->inflight, &j->pend);
		j->pend = j->inflight;
		memset(&j->inflight, 0, sizeof(j->inflight));
		/*
		 * The next try renders the full rule set (an incremental
		 * one fails when someone removed our rules): try again
		 * soon, a few times, then leave it to the periodic sync.
		 */
		if (++j->fails <= 3)
			j->again = 1;
		rules_job_result(j, 0);
		rules_job_idle(j, 0);
		return;
	}
	j->fails = 0;
	rules_job_result(j, 1);
	if (phase2)
		log_v(2, "%s stale rules removed in %llu ms (%zu rules)", fam,
		    (unsigned long long)(monotime_ms() - j->start_ms),
		    ndels);
	else if (j->forced)
		log_debug("%s: %s rules re-asserted in %llu ms", __func__, fam,
		    (unsigned long long)(monotime_ms() - j->start_ms));
	else
		log_v(2, "%s rules applied in %llu ms (%s, %zu rules)", fam,
		    (unsigned long long)(monotime_ms() - j->start_ms),
		    j->incremental ? "incremental" : "full", j->nchanges);
	rules_job_flush(j, &j->inflight);
}

/* Log that the rules of a family were not applied, and count it. */
static void
rules_job_fail(struct rules_job *j, const char *err)
{
	log_errorx("%s rules not applied: %s",
	    j->family == AF_INET6 ? "ip6tables" : "iptables", err);
	j->errors++;
	rules_job_result(j, 0);
}

/* A jump read ended: keep its listing; read on, or prepare the restore. */
static void
rules_job_read_done(int rv, struct exec_result *res, void *arg)
{
	struct rules_job	*j = arg;
	char			 err[IPT_ERRLEN];

	j->job = NULL;
	if (ipt_reads_take(j->ipt, &j->reads, rv, res, err,
	    sizeof(err)) == -1) {
		rules_job_fail(j, err);
		ipt_reads_free(&j->reads);
		rules_job_ports_free(&j->ports);
		rules_job_idle(j, 0);
		return;
	}
	if (j->reads.n < IPT_NREADS) {
		rules_job_read_next(j);
		return;
	}
	(void)rules_job_restore(j, j->ports.v, j->ports.n, j->forced,
	    &j->reads);
	ipt_reads_free(&j->reads);
	rules_job_ports_free(&j->ports);
}

/* Start the next jump read ("iptables -S"); on failure, idle. */
static void
rules_job_read_next(struct rules_job *j)
{
	char			 err[IPT_ERRLEN];

	j->state = RULES_READING;
	j->job = exec_start(j->base, j->reads.argv[j->reads.n], NULL, 0,
	    IPT_READ_TIMEOUT_MS, IPT_READ_MAX, rules_job_read_done, j,
	    err, sizeof(err));
	if (j->job != NULL)
		return;
	(void)ipt_reads_take(j->ipt, &j->reads, -1, NULL, err, sizeof(err));
	rules_job_fail(j, err);
	ipt_reads_free(&j->reads);
	rules_job_ports_free(&j->ports);
	rules_job_idle(j, 0);
}

/*
 * Render and start the restore of one family (reads: the jump listings
 * if they were due), or the conntrack flushes if nothing changed.
 * Returns 0, or -1 if it could not be rendered or started (logged); the
 * job is then idle.
 */
static int
rules_job_restore(struct rules_job *j, const struct ipt_svcport *v,
    size_t n, int force, const struct ipt_reads *reads)
{
	char			 err[IPT_ERRLEN];
	int			 rv;

	rv = ipt_sync_prepare(j->ipt, &j->params, v, n, force, reads,
	    &j->apply, err, sizeof(err));
	if (rv == 0) {
		/* Unchanged: whatever was removed has no rules left. */
		rules_job_result(j, 1);
		rules_job_flush(j, &j->pend);
		return (0);
	}
	if (rv == 1 && (j->job = exec_start(j->base, j->apply.argv,
	    j->apply.input, j->apply.inlen, IPT_RESTORE_TIMEOUT_MS,
	    EXEC_OUTMAX, rules_job_restore_done, j, err,
	    sizeof(err))) == NULL) {
		ipt_apply_free(&j->apply);
		rv = -1;
	}
	if (rv == -1) {
		rules_job_fail(j, err);
		rules_job_idle(j, 0);
		return (-1);
	}
	j->state = RULES_RESTORE1;
	j->forced = force;
	j->incremental = j->apply.incremental;
	j->nchanges = j->apply.nchanges;
	j->start_ms = monotime_ms();
	rules_job_flushq_move(&j->inflight, &j->pend);
	return (0);
}

/* Apply the rule set of the family (see rules_job.h). */
int
rules_job_sync(struct rules_job *j, const struct ipt_params *params,
    const struct ipt_svcport *v, size_t n, int force)
{
	const char	*fam = j->family == AF_INET6 ? "IPv6" : "IPv4";

	j->req_seq++;
	if (j->state != RULES_IDLE) {
		/* A stream still open ends here: this sync follows it. */
		if (j->state == RULES_STREAMING)
			rules_job_stream_close(j);
		j->again = 1;
		j->again_force |= force;
		return (0);
	}
	if (params->host_ip == NULL || *params->host_ip == '\0') {
		if (n > 0) {
			log_warnx("%zu %s service ports not installed: no %s "
			    "node IP (no default route); set --bind-address",
			    n, fam, fam);
			return (-1);
		}
		/* Nothing to apply: up to date. */
		j->run_seq = j->req_seq;
		j->sync_ms = monotime_ms();
		rules_job_result(j, 1);
		return (0);
	}
	j->run_seq = j->req_seq;
	j->sync_ms = monotime_ms();
	j->params = *params;
	/* A periodic sync that had to wait must not lose its force. */
	force |= j->again_force;
	j->again_force = 0;
	if (!ipt_reads_due(j->ipt, force))
		return (rules_job_restore(j, v, n, force, NULL));
	/* The reads run first: keep what this sync is about meanwhile. */
	rules_job_ports_copy(&j->ports, v, n);
	ipt_reads_init(j->ipt, &j->reads);
	j->forced = force;
	rules_job_read_next(j);
	return (j->state == RULES_READING ? 0 : -1);
}

/* The stream's restore ended: record it, replay a waiting sync. */
static void
rules_job_stream_done(int rv, struct exec_result *res, void *arg)
{
	struct rules_job	*j = arg;
	const char		*fam = j->family == AF_INET6 ? "IPv6" : "IPv4";
	char			 err[IPT_ERRLEN];
	size_t			 nrules = j->stream.nrules;

	j->job = NULL;
	if (ipt_stream_done(j->ipt, &j->stream, j->wrote, rv, res, err,
	    sizeof(err)) == 0)
		log_v(2, "%s rules applied in %llu ms (streamed while parsing, "
		    "%zu rules)", fam, (unsigned long long)
		    (monotime_ms() - j->start_ms), nrules);
	else {
		log_errorx("%s rules streamed while parsing not applied: %s; "
		    "applying the full rules", fam, err);
		j->errors++;
		j->again = 1;
	}
	rules_job_idle(j, 1);
}

/* Write a part of the stream; on failure stop streaming. */
static int
rules_job_stream_write(struct rules_job *j, const char *buf, size_t len)
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
rules_job_stream_close(struct rules_job *j)
{
	const char	*buf;
	size_t		 len;

	ipt_stream_end(&j->stream, &buf, &len);
	if (rules_job_stream_write(j, buf, len) == 0)
		exec_job_close_input(j->job);
}

/* Stream the rules of staged service ports (see rules_job.h). */
int
rules_job_stream(struct rules_job *j, const struct ipt_params *params,
    const struct ipt_svcport *v, size_t n)
{
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
	if (params->host_ip == NULL || *params->host_ip == '\0')
		return (-1);
	if (j->state == RULES_IDLE) {
		if (ipt_stream_begin(j->ipt, &j->stream, argv) == -1) {
			log_debug("%s: %zu staged ports not streamed: the "
			    "rules are in doubt", __func__, n);
			return (-1);
		}
		j->job = exec_start_stream(j->base, argv,
		    IPT_RESTORE_TIMEOUT_MS, EXEC_OUTMAX,
		    rules_job_stream_done, j, err, sizeof(err));
		if (j->job == NULL) {
			log_warnx("%s: %s", argv[0], err);
			ipt_stream_free(&j->stream);
			return (-1);
		}
		j->state = RULES_STREAMING;
		j->stream_bad = 0;
		j->wrote = 0;
		j->start_ms = monotime_ms();
	}
	if (ipt_stream_add(&j->stream, params, v, n, &buf, &len, err,
	    sizeof(err)) == -1) {
		log_debug("%s: %zu staged ports not streamed: %s", __func__, n,
		    err);
		return (-1);
	}
	return (rules_job_stream_write(j, buf, len));
}
