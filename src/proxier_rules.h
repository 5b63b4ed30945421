/*
 * proxier_rules.h: the proxier's node-facing side: the node IP, the node
 * port claims, the iptables rule set of the service ports (through
 * iptables.h) and the UDP conntrack flushes of removed ones
 * (conntrack.h).  It knows service ports only as the plain descriptions
 * the caller passes (struct ipt_svcport), never the caller's tables.
 *
 * Nothing here blocks the event loop on a child process: the jump reads
 * ("iptables -S"), each iptables-restore and each "conntrack -D" run in
 * the background, one at a time per family (see rules_job.h for the
 * states of a family's job).  A sync that arrives while a job runs is
 * remembered and replayed through done() when the job is idle again.
 * Conntrack entries of a removed UDP service are flushed only after the
 * restore that removed its rules succeeded (phase 2 if there is one).
 */
#ifndef PROXIER_RULES_H
#define PROXIER_RULES_H

#include <stddef.h>
#include <stdint.h>

/* struct ipt_svcport: what a caller describes its service ports with. */
#include "iptables_render.h"

struct event_base;
struct kp_config;
struct proxier_rules;

/*
 * Set up: pick the node IP (bindAddress if specific, else the address of
 * the default route's interface) and ask "iptables -V" once (blocking:
 * start-up).  Commands run in the background on base; when a sync had to
 * wait for a running one, done(arg, now) is called after it so the
 * caller syncs again: now is 1 after a stream (see
 * proxier_rules_stage), whose rules the sync that waited only has to
 * confirm: it should not wait for the rate limit.  cfg is borrowed and
 * must outlive the result.  Returns NULL with a reason in err (no node
 * IP and a services file as the source).
 */
struct proxier_rules *proxier_rules_new(struct event_base *,
		    const struct kp_config *, void (*done)(void *, int),
		    void *arg, char *err, size_t errlen);
/* Return the number of rule applications that failed so far. */
uint64_t	 proxier_rules_errors(const struct proxier_rules *);
/*
 * Return 1 while a family's start-up removal of what kube-proxy's other
 * modes left runs (see migrate.h), 0 once both are over.
 */
int		 proxier_rules_migrating(const struct proxier_rules *);
/*
 * Call result(arg, ok, start_ms), arg that of done, each time a family's
 * rules of a sync end: ok 1 once applied or found unchanged, 0 on
 * failure; start_ms is when that family's sync started (monotonic).
 */
void		 proxier_rules_set_result(struct proxier_rules *,
		    void (*result)(void *, int, uint64_t));
/*
 * Return 1 if the rules of some family do not reflect the last sync
 * yet (running, waiting or failed), else 0.  If 1, *since is the
 * earliest, over those families, start (monotonic ms) of the last sync
 * whose rules were applied (0: one never was): every sync asked for
 * before it is applied everywhere.
 */
int		 proxier_rules_behind(const struct proxier_rules *,
		    uint64_t *since);
/*
 * Kill a running command (iptables-restore commits all or nothing),
 * close the node port claims and free; NULL is ignored.  The rules stay
 * in the kernel for a successor.
 */
void		 proxier_rules_free(struct proxier_rules *);
/*
 * Apply the rules of the n service ports v (borrowed for the call; the
 * family of each is that of its cluster_ip).  v[i].node_port is what the
 * service port asks for: it is claimed here (held open) and NodePort
 * rules are written only for its owner; claims nobody asked for are
 * closed.  Unless force is set, an unchanged rule set is not re-applied.
 * Everything runs in the background; returns 0, or -1 if the rules of a
 * family could not be rendered or started (logged; retried at the next
 * sync).
 */
int		 proxier_rules_sync(struct proxier_rules *,
		    const struct ipt_svcport *v, size_t n, int force);
/*
 * Staging (a large services file being parsed, see model.h): stream the
 * rules of the n staged service ports v (borrowed for the call), not yet
 * live, into an iptables-restore started for it, appended after the
 * rules there (see iptables.h, Streaming: one COMMIT per call with
 * nf_tables, one for the whole stream with legacy iptables).  Nothing is
 * streamed when a job of that family runs or when the rules are in
 * doubt; the sync that adopts the ports then applies them as usual.
 * Node ports are neither claimed nor streamed here: they wait for that
 * sync.
 */
void		 proxier_rules_stage(struct proxier_rules *,
		    const struct ipt_svcport *v, size_t n);
/*
 * The staging is over: close the streams' input; each restore ends once
 * it has read everything, and a sync that came meanwhile runs after it.
 */
void		 proxier_rules_stage_end(struct proxier_rules *);
/*
 * A service port is going away: for UDP (proto IPPROTO_UDP), queue a
 * conntrack flush of cluster_ip (copied), run once the next sync's
 * restore has removed its rules.  Other protocols are ignored.
 */
void		 proxier_rules_forget(struct proxier_rules *, int proto,
		    const char *cluster_ip);
/*
 * Use ip (the Node object's address) as the node IP of its family if
 * none was found.  Returns 1 if it was taken (the rules need a sync).
 */
int		 proxier_rules_set_node_ip(struct proxier_rules *,
		    const char *ip);

#endif /* PROXIER_RULES_H */
