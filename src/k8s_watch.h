/*
 * k8s_watch.h: the Kubernetes API source.  Lists and watches Services
 * and their endpoints (discovery.k8s.io v1 or v1beta1 EndpointSlices, or
 * core v1 Endpoints) like client-go's reflector, and feeds the model.
 *
 * Per kind:
 *
 *	      +-----------------------------------------------+
 *	      v                                               | 410 Gone,
 *	   LISTING --(all pages in: model_replace_*)--> WATCHING  ERROR event
 *	      ^  |                                    |    ^
 *	error |  | error                 stream ended |    | from the last
 *	      |  v                                    v    | resourceVersion
 *	   WAITING (capped exponential backoff,  <----+----+
 *	            full jitter)
 *
 * A re-list never empties the model first: the new list is collected,
 * then swapped in with model_replace_services / model_replace_endpoints,
 * which report only real differences.  The model is marked synced per
 * kind after that kind's first complete list.  Errors are logged and
 * retried; the model keeps its last state meanwhile.
 */
#ifndef K8S_WATCH_H
#define K8S_WATCH_H

#include <stddef.h>

struct event_base;
struct k8s_client;
struct kubeconfig;
struct model;
struct k8s_watch;

#define K8S_WATCH_ERRLEN	512

/* Which endpoints API is watched (k8s_watch_stats.eps_api). */
#define K8S_WATCH_EPS_UNKNOWN		0	/* discovery not done */
#define K8S_WATCH_EPS_SLICES_V1		1	/* discovery.k8s.io/v1 */
#define K8S_WATCH_EPS_SLICES_V1BETA1	2	/* discovery.k8s.io/v1beta1 */
#define K8S_WATCH_EPS_ENDPOINTS		3	/* core v1 Endpoints */

/* Tunables; a zero field takes the default shown. */
struct k8s_watch_opts {
	const char	*node_name;	/* gethostname(), lower-cased */
	int		 endpoints_source; /* CONFIG_EPS_*, AUTO */
	unsigned int	 backoff_min_ms;	/* 500 */
	unsigned int	 backoff_max_ms;	/* 30000 */
	unsigned int	 page_limit;		/* 500 */
	unsigned int	 watch_min_s;		/* 300 */
	unsigned int	 watch_max_s;		/* 600 */
	size_t		 max_object;		/* 64 MiB per watch event */
	/* Called once the node's IP is known (NULL: not called). */
	void		(*node_ip_cb)(void *arg, const char *ip);
	void		*node_ip_arg;
};

/* Counters, exported in /metrics (kuproxy_api_*). */
struct k8s_watch_stats {
	unsigned int	 svc_lists;	/* complete Service lists */
	unsigned int	 eps_lists;	/* complete endpoints lists */
	unsigned int	 watches;	/* watch requests started */
	unsigned int	 events;	/* watch events applied */
	unsigned int	 bookmarks;	/* BOOKMARK events */
	unsigned int	 gone;		/* re-lists forced by 410 Gone */
	unsigned int	 errors;	/* failed requests, broken streams */
	unsigned int	 bad_objects;	/* objects skipped as invalid */
	int		 eps_api;	/* K8S_WATCH_EPS_* */
};

/*
 * Start watching the server of kc (copied) on base, feeding model (not
 * owned; it must outlive the watch).  opts may be NULL for defaults.
 * Requests start on the next loop turn; failures then are logged and
 * retried, never fatal.  Returns the watch, or NULL with a reason in err
 * (no server in kc, the HTTP client cannot be created).
 */
struct k8s_watch *k8s_watch_new(struct event_base *base,
	    const struct kubeconfig *kc, struct model *model,
	    const struct k8s_watch_opts *opts, char *err, size_t errlen);
/* Stop every request and free the watch; the model keeps its content. */
void	k8s_watch_free(struct k8s_watch *);
/* Copy the counters into st. */
void	k8s_watch_get_stats(const struct k8s_watch *,
	    struct k8s_watch_stats *st);

/*
 * Return the watch's HTTP client (borrowed, lives as long as w), whose
 * request counts /metrics reports (k8s_client_counts()).
 */
const struct k8s_client *k8s_watch_client(const struct k8s_watch *w);

#endif /* K8S_WATCH_H */
