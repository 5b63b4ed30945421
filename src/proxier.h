/*
 * proxier.h: reconcile the model into the node's state (kube-proxy's
 * userspace proxier.go): one listener, balancer and relay per service
 * port, the persisted proxy ports, the node port claims, and the
 * iptables rule set that points Service addresses at the listeners.
 *
 *	model --(services_changed)----> proxier_request_sync (rate-limited)
 *	      --(endpoints_changed)---> balancer update, no rule work
 *
 * Service port lifecycle (struct proxy_svc):
 *
 *	new --(port + bind ok)--> LIVE --(gone from model)--> closed
 *	 |                         ^
 *	 +--(bind failed)--> retried at the next sync, port released
 */
#ifndef PROXIER_H
#define PROXIER_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct kp_config;
struct lb;
struct loop;
struct model;
struct proxier;
struct proxy_tcp;
struct proxy_udp;

/* One service port: what the model asked for and what serves it. */
struct proxy_svc {
	char		*name;		/* "ns/name:port" or "ns/name" */
	char		*ns;
	char		*svc;
	char		*port_name;
	int		 proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	int		 family;	/* of the cluster IP */
	uint16_t	 port;		/* service port */
	uint16_t	 node_port;	/* 0 if none */
	char		*cluster_ip;
	char		**external_ips;
	size_t		 n_external_ips;
	char		**lb_ips;
	size_t		 n_lb_ips;
	int		 affinity;	/* MODEL_AFFINITY_* */
	unsigned int	 ttl;
	uint16_t	 proxy_port;	/* bound port */
	uint16_t	 listen_port;	/* from the allocator (0: kernel) */
	int		 fd;		/* listener before the relay owns it */
	struct lb	*lb;
	struct proxy_tcp *tcp;
	struct proxy_udp *udp;
	int		 seen;		/* mark for the sync walk */
	int		 staged;	/* bound ahead, not yet serving */
};

/*
 * Create the proxier.  cfg, loop and model are borrowed and must outlive
 * it.  Registers itself as the model's observer, loads the persisted
 * proxy ports from cfg->state_dir, and arms the periodic sync.  Nothing
 * is bound or written until the model is synced.  Returns NULL with a
 * reason in err (e.g. no node IP can be found).
 */
struct proxier	*proxier_new(struct loop *, const struct kp_config *,
		    struct model *, char *err, size_t errlen);
/*
 * Close every listener and relay (established connections are killed),
 * release ports and free everything.  Rules stay in place, so a
 * successor started soon after finds them valid.
 */
void		 proxier_free(struct proxier *);
/* Ask for a sync; runs at once or when minSyncPeriod allows. */
void		 proxier_request_sync(struct proxier *);
/* Reconcile now; force re-applies the rules even if unchanged. */
void		 proxier_sync(struct proxier *, int force);
/*
 * The Node object's address, from the API source: used as the node IP if
 * neither --bind-address nor a default route gave one.
 */
void		 proxier_set_node_ip(struct proxier *, const char *ip);
/* Number of live service ports. */
size_t		 proxier_count(const struct proxier *);
/* Return 1 once a first sync has completed (listeners and rules up). */
int		 proxier_is_ready(const struct proxier *);
/* Monotonic ms of the last completed sync (0: never). */
uint64_t	 proxier_last_sync_ms(const struct proxier *);
/*
 * Append the live table as JSON to buf: {"services":[{"name",
 * "protocol", "proxyPort", "clusterIP", "port", "nodePort",
 * "endpoints", "activeConnections", "accepted", "noEndpoints",
 * "connectErrors"}...]}.
 */
void		 proxier_dump_json(struct proxier *, struct evbuffer *);
/* Append Prometheus text-format metrics to buf. */
void		 proxier_dump_metrics(struct proxier *, struct evbuffer *);

#endif /* PROXIER_H */
