/*
 * proxier.h: reconcile the model into the node's state (kube-proxy's
 * userspace proxier.go): one listener, balancer and relay per service
 * port, the persisted proxy ports, and the description of every service
 * port that the rules layer (proxier_rules.h) turns into node port
 * claims and iptables rules.
 *
 *	model --(services_changed)----> proxier_request_sync (rate-limited)
 *	      --(endpoints_changed)---> balancer update, no rule work
 *	      --(services_staged)-----> bind ahead, rules streamed
 *	proxier --(struct ipt_svcport[])--> proxier_rules --> iptables
 *
 * Data flows one way: the proxier hands the rules layer plain
 * descriptions (borrowed for the call), never its own table, and hears
 * back only through the callback it registered (a sync that waited).
 * It speaks upward (to main.c: the service manager's READY=1) only
 * through its declared observer, struct proxier_observer.
 *
 * Service port lifecycle (struct proxier_port, private to proxier.c):
 *
 *	 model (sync walk)                 staging (large file parsed)
 *	       |                                   |
 *	  bind ok                              bind ok
 *	       |                                   v
 *	       |     (sync: in the model)       STAGED  listening, queueing
 *	       |   +--------------------------- |  |    connections, rules
 *	       v   v                            |  |    streamed; not served
 *	      LIVE   relay running, in metrics  |  |
 *	       |                                |  +--(sync: not in the
 *	       +--(sync: gone, or other proto)--+------ model)--> closed
 *	                                                          |
 *	 bind failed: nothing is kept; the port is retried at the next sync
 *	 closed: listener, port and balancer released; a UDP port's
 *	 conntrack entries are flushed once its rules are gone
 */
#ifndef PROXIER_H
#define PROXIER_H

#include <stddef.h>
#include <stdint.h>

struct histogram;
struct kp_config;
struct lb;
struct loop;
struct model;
struct proxier;
struct relay;
struct sockpool;
struct svc_counters;
struct workers;

/*
 * What reporting may see of one live service port (metrics.c).  Every
 * pointer is borrowed for the duration of the callback.
 */
struct proxier_portinfo {
	const char			*name;	/* "ns/name:port", "ns/name" */
	int				 proto;	/* IPPROTO_TCP, IPPROTO_UDP */
	uint16_t			 proxy_port;
	const char			*cluster_ip;
	uint16_t			 port;
	uint16_t			 node_port;	/* 0: none */
	const struct lb			*lb;
	const struct svc_counters	*counters;	/* all workers */
	const struct relay		*relay;	/* per worker; may be NULL */
};

/* Totals of the reconciler, for /metrics. */
struct proxier_stats {
	uint64_t	syncs;		/* completed syncs */
	uint64_t	sync_errors;	/* syncs or rule applications failed */
	size_t		ports;		/* live service ports */
	uint64_t	fd_pauses;	/* EMFILE/ENFILE accept pauses */
	uint64_t	conns;		/* relayed connections now */
	unsigned int	workers;	/* relay loops */
	int		migrating;	/* 1: other modes' leftovers are
					   being removed (start-up) */
	/* Sync to rules applied, per family and sync; borrowed. */
	const struct histogram *sync_duration;
	/* Endpoints trigger time to balancer updated; borrowed. */
	const struct histogram *netprog_duration;
	uint64_t	applied_wall_ms; /* last rules applied, epoch ms */
	uint64_t	queued_wall_ms;	/* last sync wanted, epoch ms */
	uint64_t	restore_errors;	/* failed rule applications */
};

/*
 * The proxier's observer: what the rules did, the only news the proxier
 * sends upward.  Called on the loop, after the proxier's own state is
 * updated, so the callbacks may read it (proxier_get_stats,
 * proxier_foreach_port) but must not change or free it.
 */
struct proxier_observer {
	/*
	 * The rules of every sync so far, or of every sync queued before
	 * the oldest still pending, are applied in every address family:
	 * the moment the health rule records an update (health.h).  The
	 * first call follows the first full sync of the source.
	 */
	void	(*rules_applied)(void *arg);
	/* A family's rules could not be applied; they will be retried. */
	void	(*rules_failed)(void *arg);
	/*
	 * A service port's listener is open (bound, or taken from the
	 * sockpool), under its sockpool name (sockpool.h); fd is borrowed.
	 * For systemd's fd store.
	 */
	void	(*listener_opened)(void *arg, const char *name, int fd);
	/* A listener is closed for good (its Service port is gone). */
	void	(*listener_closed)(void *arg, const char *name);
	void	*arg;
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
 * successor started soon after finds them valid.  NULL is ignored.
 */
void		 proxier_free(struct proxier *);
/*
 * Relay on ws (borrowed; it must outlive the proxier, which closes its
 * relays on it in proxier_free) instead of the main loop alone; shared
 * set: one listener per service port that every worker accepts from,
 * instead of one SO_REUSEPORT listener per worker (for measurement).
 * Call before the first sync.
 */
void		 proxier_set_workers(struct proxier *, struct workers *ws,
		    int shared);
/* Set the observer (copied); NULL clears it.  Either callback may be NULL. */
void		 proxier_set_observer(struct proxier *,
		    const struct proxier_observer *);
/*
 * Take listeners from sp (borrowed; NULL: none) before binding: a
 * service port about to bind its persisted proxy port takes the socket
 * of that name instead.  What is left in sp after the first full sync
 * is closed (reported through listener_closed).  Call before the first
 * sync.
 */
void		 proxier_set_sockpool(struct proxier *, struct sockpool *sp);
/*
 * Call cb with the sockpool name and the listening socket (borrowed) of
 * every service port, staged ones included: what a successor process
 * must receive.
 */
void		 proxier_foreach_listener(struct proxier *,
		    void (*cb)(void *arg, const char *name, int fd), void *arg);
/*
 * Drain: from now on the health rule fails (/healthz answers 503, so a
 * load balancer stops sending), everything else goes on.  Idempotent.
 */
void		 proxier_set_draining(struct proxier *);
/* Return 1 once proxier_set_draining() was called. */
int		 proxier_is_draining(const struct proxier *);
/*
 * A successor serves the same sockets: stop accepting and reading on
 * every listener (which stay open), stop syncing and stop listening to
 * the model.  Established TCP connections and UDP flows go on until
 * they end or proxier_free().  Idempotent.
 */
void		 proxier_retire(struct proxier *);
/* Return the relayed TCP connections plus UDP flows now open. */
uint64_t	 proxier_active(const struct proxier *);
/* Ask for a sync; runs at once or when minSyncPeriod allows. */
void		 proxier_request_sync(struct proxier *);
/*
 * Reconcile now: bind, adopt or close service ports, then hand the rules
 * layer the live set; force re-applies the rules even if unchanged (the
 * periodic sync).  Does nothing until the model is synced.
 */
void		 proxier_sync(struct proxier *, int force);
/*
 * The Node object's address, from the API source: used as the node IP if
 * neither --bind-address nor a default route gave one.
 */
void		 proxier_set_node_ip(struct proxier *, const char *ip);
/*
 * Live reload setters.  None closes, rebinds or re-writes anything:
 *
 * proxier_set_sync_periods: iptables.syncPeriod (the forced periodic
 * sync, re-armed to fire one new period from now, and the health
 * timeout, twice it) and iptables.minSyncPeriod (the rate limit of the
 * next requests).
 */
void		 proxier_set_sync_periods(struct proxier *, uint64_t sync_ms,
		    uint64_t min_sync_ms);
/*
 * udpIdleTimeout: for every UDP relay, its open flows included
 * (proxy_udp_set_idle_timeout), and those created from now on.
 */
void		 proxier_set_udp_idle_timeout(struct proxier *,
		    uint64_t idle_ms);
/*
 * portRange: ports allocated from now on come from [base, base + size)
 * (size 0: kernel-chosen); the bound ones keep their port, those in the
 * new range are claimed in it.
 */
void		 proxier_set_port_range(struct proxier *, uint16_t base,
		    uint32_t size);
/* Return 1 once a first sync has completed (listeners and rules up). */
int		 proxier_is_ready(const struct proxier *);
/* Monotonic ms of the last completed sync (0: never). */
uint64_t	 proxier_last_sync_ms(const struct proxier *);
/*
 * Call cb once per live service port (staged ones are not serving and
 * are left out), sorted by name then protocol.  cb must not change the
 * proxier.
 */
void		 proxier_foreach_port(struct proxier *,
		    void (*cb)(const struct proxier_portinfo *, void *),
		    void *arg);
/* Fill *st with the reconciler's totals. */
void		 proxier_get_stats(const struct proxier *,
		    struct proxier_stats *st);
/*
 * Return 1 if the rules are healthy at now (monotonic ms; the rule of
 * health.h, timeout twice iptables.syncPeriod), else 0.  Sets
 * *updated_wall_ms to the wall-clock time (ms since the epoch) at which
 * every family's rules last caught up with the syncs (0: never), and
 * *updated_ms to the same instant on the monotonic clock.
 */
int		 proxier_get_health(const struct proxier *, uint64_t now,
		    uint64_t *updated_wall_ms, uint64_t *updated_ms);

#endif /* PROXIER_H */
