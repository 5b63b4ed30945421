/*
 * metrics.h: the HTTP endpoints of kuproxy, on libevent's evhttp.
 *
 * On metricsBindAddress: /metrics (Prometheus text: the service ports,
 * the reconciler and, with the API source, its list/watch counters),
 * /healthz,
 * /proxyMode ("userspace"), /debug/services (the live table as JSON).
 * On healthzBindAddress: /healthz.  /healthz answers 200 once the first
 * sync is done and the last one is not older than twice the sync
 * period, 503 otherwise, with kube-proxy's JSON body.
 */
#ifndef METRICS_H
#define METRICS_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct metrics;
struct k8s_watch;
struct proxier;

/*
 * Start the servers on the given addresses (a zero len disables one).
 * proxier is borrowed.  Returns NULL with a reason in err if a socket
 * cannot be bound.
 */
struct metrics	*metrics_new(struct event_base *, struct proxier *,
		    const struct sockaddr *metrics, socklen_t metrics_len,
		    const struct sockaddr *healthz, socklen_t healthz_len,
		    uint64_t sync_period_ms, char *err, size_t errlen);
/*
 * Report the API source's counters too (kuproxy_api_*): w is borrowed
 * and must outlive m or be unset (NULL) first.  m NULL is ignored.
 */
void		 metrics_set_watch(struct metrics *, const struct k8s_watch *w);
/* Stop the servers (open requests are dropped) and free; NULL ignored. */
void		 metrics_free(struct metrics *);

#endif /* METRICS_H */
