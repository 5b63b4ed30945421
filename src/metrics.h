/*
 * metrics.h: the HTTP endpoints of kuproxy, on libevent's evhttp, as
 * kube-proxy 1.20 serves them.
 *
 * On metricsBindAddress: /metrics (Prometheus text: the service ports,
 * the reconciler, kube-proxy's kubeproxy_* families, process_*,
 * kubernetes_build_info and, with the API source, its list/watch
 * counters and rest_client_requests_total), /healthz and /healthz/ping
 * ("ok", kube-proxy's ping check), /proxyMode ("userspace"), /configz
 * (configz.h) and /debug/services (the live table as JSON).
 *
 * On healthzBindAddress: /healthz, kube-proxy's JSON
 * {"lastUpdated": "...","currentTime": "..."} with lastUpdated the last
 * time the rules caught up with the syncs, 200 when healthy and 503 when
 * not (the rule of health.h); /livez, the same body, 200 whenever the
 * event loop turns.
 *
 * A server that cannot bind is retried every 5 s (one log line), and
 * never keeps the other from serving.
 *
 * kubeproxy_network_programming_duration_seconds times, as kube-proxy's
 * iptables mode does, an Endpoints (or EndpointSlice) change from its
 * endpoints.kubernetes.io/last-change-trigger-time annotation to the
 * moment it is programmed: in userspace mode, when the balancers of the
 * Service's live ports take the new endpoints (a Service not yet live
 * gets them at its first sync, which is not timed).
 */
#ifndef METRICS_H
#define METRICS_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct kp_config;
struct metrics;
struct k8s_watch;
struct proxier;

/*
 * Start the servers on cfg's metrics and healthz addresses (a zero
 * metrics_len or healthz_len disables one).  proxier and cfg are
 * borrowed and must outlive the result.  An address that cannot be bound
 * is logged and retried every 5 s.  Never NULL.
 */
struct metrics	*metrics_new(struct event_base *, struct proxier *,
		    const struct kp_config *cfg);
/* The servers, for metrics_rebind(). */
#define METRICS_SRV_METRICS	0	/* metricsBindAddress */
#define METRICS_SRV_HEALTHZ	1	/* healthzBindAddress */

/*
 * Move server which (METRICS_SRV_*) to addr (for logs; copied) at ss
 * (len 0: stop it), for a live reload: the new address is bound before
 * the old listener is closed, so the server never stops answering
 * (except for an instant when the new address overlaps the old one on
 * the same port, e.g. 127.0.0.1:P to 0.0.0.0:P, which cannot be bound
 * beside it).  Returns 0 once the server is on the new address (or
 * retrying it every 5 s, if the old one was not bound either), or -1
 * if the new address cannot be bound: logged, and the old one still
 * serves.  Open requests on the old listener are dropped.
 */
int		 metrics_rebind(struct metrics *, int which, const char *addr,
		    const struct sockaddr_storage *ss, socklen_t len);
/*
 * Show pending, a configuration read but waiting for a restart, in
 * /configz (configz_add_pending); NULL clears it.  Borrowed: it must
 * outlive m or be cleared first.  m NULL is ignored.
 */
void		 metrics_set_pending(struct metrics *,
		    const struct kp_config *pending);
/*
 * Report the API source's counters too (kuproxy_api_*): w is borrowed
 * and must outlive m or be unset (NULL) first.  m NULL is ignored.
 */
void		 metrics_set_watch(struct metrics *, const struct k8s_watch *w);
/* Stop the servers (open requests are dropped) and free; NULL ignored. */
void		 metrics_free(struct metrics *);

#endif /* METRICS_H */
