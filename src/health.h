/*
 * health.h: is the proxier healthy?  kube-proxy 1.20's rule
 * (pkg/proxy/healthcheck/proxier_health.go) on kuproxy's clock: a rule
 * update is "queued" when a sync starts and "updated" once every address
 * family's rules reflect it (iptables-restore succeeded or nothing had
 * to change).  Healthy iff an update has completed and nothing queued
 * since has waited longer than the health timeout (2 x syncPeriod, as
 * kube-proxy's server.go sets it).
 *
 * Two deviations from 1.20, both asked for by the truthful-health
 * contract: 1.20 is healthy before the first update (its own TODO calls
 * that useless for a readiness probe) and kuproxy is not; 1.20 times a
 * pending update from the *latest* queued one, so syncs that fail while
 * changes keep coming look healthy forever, and kuproxy times it from
 * the oldest update still pending.  Every time is a caller's clock in
 * ms (monotonic) so the rule is testable without sleeping.
 */
#ifndef HEALTH_H
#define HEALTH_H

#include <stdint.h>

struct health {
	uint64_t	timeout_ms;	/* 0: never late */
	uint64_t	updated_ms;	/* last completed update, 0: never */
	uint64_t	pending_ms;	/* oldest update not done, 0: none */
};

/* Set h up with timeout_ms; nothing queued or updated yet. */
void		health_init(struct health *h, uint64_t timeout_ms);
/* An update was queued at now (kube-proxy's QueuedUpdate()). */
void		health_queued(struct health *h, uint64_t now);
/* Every queued update is done as of now (kube-proxy's Updated()). */
void		health_updated(struct health *h, uint64_t now);
/*
 * Rules were applied at now for the updates queued before t; later ones
 * may still be pending: the oldest pending one is no older than t.  If
 * that moves the pending time forward, now is also the last update (so
 * a node whose first success comes amid changes is healthy, and its
 * lastUpdated is that success) and 1 is returned; else nothing changes
 * and 0 is returned (nothing pending, or t not newer).
 */
int		health_advance(struct health *h, uint64_t t, uint64_t now);
/* Return 1 if healthy at now, else 0 (see above). */
int		health_ok(const struct health *h, uint64_t now);

#endif /* HEALTH_H */
