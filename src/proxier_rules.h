/*
 * proxier_rules.h: the proxier's node-facing side: the node IP, the node
 * port claims, and the iptables rule set rendered from the live service
 * ports (through iptables.c) and applied once per sync.
 */
#ifndef PROXIER_RULES_H
#define PROXIER_RULES_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct kp_config;
struct ipt_svcport;
struct proxier_rules;

/*
 * Set up: pick the node IP (bindAddress if specific, else the address of
 * the default route's interface).  iptables-restore runs in the
 * background on base; when a sync had to wait for a running one,
 * done(arg, now) is called after it so the caller syncs again: now is 1
 * after a stream (see proxier_rules_stage), whose rules the sync that
 * waited only has to confirm: it should not wait for the rate limit.
 * Returns NULL with a reason in err.
 */
struct proxier_rules *proxier_rules_new(struct event_base *,
		    const struct kp_config *, void (*done)(void *, int),
		    void *arg, char *err, size_t errlen);
/* Return the number of rule applications that failed so far. */
uint64_t	 proxier_rules_errors(const struct proxier_rules *);
/*
 * Kill a running restore (iptables-restore commits all or nothing),
 * close the node port claims and free; NULL is ignored.  The rules stay
 * in the kernel for a successor.
 */
void		 proxier_rules_free(struct proxier_rules *);
/*
 * Claim node ports and apply the rules for every service port in svcs
 * (name -> struct proxy_svc).  Unless force is set, an unchanged rule
 * set is not re-applied.  The restore runs in the background; returns
 * 0, or -1 if it could not be rendered or started (logged; retried at
 * the next sync).
 */
int		 proxier_rules_sync(struct proxier_rules *,
		    const struct ipt_svcport *v, size_t n, int force);
/*
 * Staging (a large services file being parsed, see model.h): stream the
 * rules of the n staged service ports, not yet live, into an
 * iptables-restore started for it, appended after the rules there (see
 * iptables.h, Streaming: one COMMIT per call with nf_tables, one for
 * the whole stream with legacy iptables).  Nothing is streamed when a
 * restore of that family is running or when the rules are in doubt;
 * the sync that adopts the ports then applies them as usual.  Their
 * node port rules always wait for that sync.
 */
void		 proxier_rules_stage(struct proxier_rules *,
		    const struct ipt_svcport *v, size_t n);
/*
 * The staging is over: close the streams' input; each restore ends once
 * it has read everything, and a sync that came meanwhile runs after it.
 */
void		 proxier_rules_stage_end(struct proxier_rules *);
/*
 * A service port is going away: for UDP, its conntrack entries are
 * flushed once the next sync's restore has removed its rules.
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
