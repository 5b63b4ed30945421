/*
 * rules_job.h: the rules of one address family, applied in the
 * background: the commands that proxier_rules.c runs for a family (see
 * iptables.h for what they do).
 *
 * Nothing here blocks the event loop on a child process: the jump reads
 * ("iptables -S"), each iptables-restore and each "conntrack -D" run in
 * the background (exec_start()), one at a time.  The job is in one of
 * these states (enum rules_state in rules_job.c):
 *
 *	IDLE       nothing runs
 *	READING    a jump read runs (the three run one after the other);
 *	           the sync's service ports are kept for the prepare
 *	RESTORE1   the restore of a full text, or phase 1 of an
 *	           incremental update (new rules)
 *	RESTORE2   phase 2 of an incremental update ("-D" of stale rules)
 *	STREAMING  a restore fed the rules of staged service ports
 *	FLUSHING   a "conntrack -D" of a removed UDP service's cluster IP
 *	MIGRATING  at start-up, before the first sync: the removal of
 *	           what kube-proxy's other modes left (see migrate.h)
 *
 *	            stage                    sync, reads due
 *	STREAMING <-------- IDLE ---------------------------> READING
 *	    |               ^ ^ \                                 | all read
 *	    +--ended--------+ |  \ sync, reads not due            v
 *	                      |   +-----------------------> (prepare)
 *	                      |                              |      |
 *	                      | queue empty       unchanged  v      v changed
 *	                      +--------------------- FLUSHING <---- RESTORE1
 *	                                                ^   ok, one    | ok, two
 *	                                                |   phase      | phases
 *	                                                |              v
 *	                                                +-----ok--- RESTORE2
 *
 * FLUSHING is skipped (straight to IDLE) when no flush is queued.  A
 * failed read, prepare or restore goes back to IDLE: the flushes stay
 * queued for the next restore that succeeds.
 *
 * A sync that arrives in any state but IDLE is remembered (forced or
 * not) and replayed through done() when the job is IDLE again; one that
 * arrives while STREAMING also closes the stream's input.  Conntrack
 * entries of a removed UDP service are flushed only after the restore
 * that removed its rules succeeded (phase 2 if there is one).
 */
#ifndef RULES_JOB_H
#define RULES_JOB_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct ipt_params;
struct ipt_svcport;
struct rules_job;

/*
 * Set up the job of family (AF_INET or AF_INET6), driving iptables_path
 * (and its -restore, -save) and conntrack_path (borrowed: it must outlive
 * the job; NULL: no flushes), with its commands run on base.  Asks
 * "iptables -V" once, blocking: call it at start-up.  done(arg, now) is
 * called once a job that a sync had to wait for is over (now: 1 after a
 * stream, see proxier_rules.h).  Returns NULL if iptables_path is empty
 * or family unknown.
 */
struct rules_job *rules_job_new(struct event_base *base, int family,
		    const char *iptables_path, const char *conntrack_path,
		    void (*done)(void *, int), void *arg);
/*
 * Remove what kube-proxy's iptables and ipvs modes left in this family
 * (see migrate.h; ipset_path is copied, NULL: no ipset), in the
 * background: the job is MIGRATING meanwhile, and a sync that arrives
 * waits for it (it is replayed through done()).  Call it once, right
 * after rules_job_new(); nothing happens if the job is not idle.  A
 * failure is logged and leaves the job idle.
 */
void		 rules_job_migrate(struct rules_job *, const char *ipset_path);
/* Kill a running command, free the job; NULL is ignored. */
void		 rules_job_free(struct rules_job *);
/* Return 1 while the job is MIGRATING, else 0. */
int		 rules_job_migrating(const struct rules_job *);
/* Return the number of rule applications that failed so far. */
uint64_t	 rules_job_errors(const struct rules_job *);
/*
 * Make the rules of the family those of the n service ports v
 * (borrowed for the call; copied if the jump reads run first), with
 * params (copied; its strings must outlive the job): if a job runs,
 * remember the sync (and close a stream's input) and return 0; else
 * read the jumps when due, then render and restore, all in the
 * background.  Returns 0, or -1 if there is no node IP in params while
 * n > 0 (logged), or the rules could not be rendered or the command
 * started (logged and counted).
 */
int		 rules_job_sync(struct rules_job *, const struct ipt_params *,
		    const struct ipt_svcport *v, size_t n, int force);
/*
 * Stream the rules of n staged service ports (see ipt_stream_begin()):
 * start the stream when idle, add to it while STREAMING.  Returns 0, or
 * -1 if they were not streamed (another job runs, the rules are in
 * doubt, no node IP, or they cannot be rendered).
 */
int		 rules_job_stream(struct rules_job *, const struct ipt_params *,
		    const struct ipt_svcport *v, size_t n);
/* Close a stream's input; nothing if no stream runs. */
void		 rules_job_stream_end(struct rules_job *);
/* Queue a conntrack flush of ip (copied) for after the next restore. */
void		 rules_job_forget(struct rules_job *, const char *ip);
/*
 * Call result(arg, ok, start_ms), arg that of done, each time the rules
 * of a sync end: ok 1 once applied (or found unchanged), 0 when they
 * failed; start_ms is the monotonic time the sync started.  NULL stops.
 */
void		 rules_job_set_result(struct rules_job *,
		    void (*result)(void *, int, uint64_t));
/*
 * Return 1 if the rules of the last sync asked for (rules_job_sync) are
 * not applied yet: one runs, waits, or failed; else 0.  Sets *since to
 * the start (monotonic ms) of the last sync whose rules were applied,
 * 0 if none was: every sync asked for before it is applied too.
 */
int		 rules_job_behind(const struct rules_job *, uint64_t *since);
/* Return the number of flushes queued for after the next restore. */
size_t		 rules_job_pending(const struct rules_job *);

#endif /* RULES_JOB_H */
