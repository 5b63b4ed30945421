/*
 * model.h: what the cluster wants, decoded from any source (services
 * file, API watch): Services and Endpoints keyed by namespace/name.
 *
 * Data flows one way: sources --> model --> proxier.  The model tells its
 * observer (the proxier) what changed; it never calls the proxier's
 * functions directly.
 */
#ifndef MODEL_H
#define MODEL_H

#include <stddef.h>
#include <stdint.h>

#define MODEL_AFFINITY_NONE	0
#define MODEL_AFFINITY_CLIENTIP	1

/* Synced flags: set once the first full list of a kind is in. */
#define MODEL_F_SERVICES	0x1
#define MODEL_F_ENDPOINTS	0x2

struct model_svcport {
	char		*name;		/* port name, "" if unnamed */
	int		 proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t	 port;		/* spec.ports[].port */
	uint16_t	 node_port;	/* 0 if none */
};

struct model_service {
	char		*ns;
	char		*name;
	char		*cluster_ip;	/* canonical text form */
	char		**external_ips;	/* canonical */
	size_t		 n_external_ips;
	char		**lb_ips;	/* status.loadBalancer.ingress[].ip */
	size_t		 n_lb_ips;
	int		 affinity;	/* MODEL_AFFINITY_* */
	unsigned int	 affinity_ttl;	/* seconds; 10800 if unset */
	struct model_svcport *ports;
	size_t		 nports;
	int		 line;		/* source line, 0 if unknown */
};

struct model_endpoint {
	char		*ip;		/* canonical text form */
	uint16_t	 port;
};

/* The ready endpoints of one port name, over all subsets. */
struct model_epset {
	char		*port_name;	/* "" if unnamed */
	struct model_endpoint *eps;
	size_t		 n;
};

struct model_endpoints {
	char		*ns;
	char		*name;
	struct model_epset *sets;
	size_t		 nsets;
	int		 line;
	/*
	 * The annotation endpoints.kubernetes.io/last-change-trigger-time
	 * (the latest of its slices'), epoch ms; 0: none.  Not compared by
	 * model_endpoints_equal(): it times a change, it is not one.
	 */
	uint64_t	 trigger_ms;
};

struct model_observer {
	/* Some Service was added, changed or removed, or sync state moved. */
	void	(*services_changed)(void *arg);
	/* The Endpoints of ns/name were added, changed or removed. */
	void	(*endpoints_changed)(void *arg, const char *ns,
		    const char *name);
	/*
	 * Optional: a source part way through a large batch (a services
	 * file of thousands of objects, still being parsed) announces
	 * Services likely to come, so that the observer can prepare them
	 * ahead (bind, install rules) without serving them.  Nothing is
	 * in the model yet: the batch counts only through the updates
	 * that follow, and may still be rejected whole.  The pointers are
	 * borrowed for the call.  stage_end says the batch is over (taken
	 * or rejected); the next services_changed settles what stays.
	 */
	void	(*services_staged)(void *arg,
		    const struct model_service *const *svcs, size_t n);
	void	(*stage_end)(void *arg);
	void	*arg;
};

struct model;

/*
 * Return a new empty model, unsynced, with no observer.  Never NULL
 * (allocation failure is fatal: the model is built at start-up and on
 * config input, never on the connection path).
 */
struct model	*model_new(void);
/* Free the model and every object in it; NULL is ignored. */
void		 model_free(struct model *);
/* Set the observer (copied); NULL clears it. */
void		 model_set_observer(struct model *,
		    const struct model_observer *);

/*
 * Add or replace one object; the model takes ownership.  The observer is
 * told only if the object differs from what was stored.
 */
void		 model_update_service(struct model *, struct model_service *);
void		 model_update_endpoints(struct model *,
		    struct model_endpoints *);
/* Remove one object; absent objects are ignored. */
void		 model_delete_service(struct model *, const char *ns,
		    const char *name);
void		 model_delete_endpoints(struct model *, const char *ns,
		    const char *name);
/*
 * Replace the whole content (a services file load, an API re-list).  The
 * model takes ownership of every element (the arrays stay the caller's).
 * Objects absent from the new content are removed; the observer hears
 * only of real differences.
 */
void		 model_replace(struct model *, struct model_service **svcs,
		    size_t nsvcs, struct model_endpoints **eps, size_t neps);
/*
 * Replace one kind only (an API re-list of Services, or of Endpoints or
 * EndpointSlices merged per Service); the other kind is left alone.  Same
 * rules as model_replace: the model takes ownership of every element
 * (the array stays the caller's), objects absent from the new list are
 * removed, an equal object keeps the stored one, and the observer hears
 * only of real differences (services_changed at most once, after the
 * table is replaced; endpoints_changed once per name added, changed or
 * removed).  svcs or eps may be NULL when n is 0.
 */
void		 model_replace_services(struct model *,
		    struct model_service **svcs, size_t n);
void		 model_replace_endpoints(struct model *,
		    struct model_endpoints **eps, size_t n);
/*
 * Pass staged Services on to the observer (see services_staged) and say
 * the staging is over.  The model itself does not change.
 */
void		 model_stage_services(struct model *,
		    const struct model_service *const *svcs, size_t n);
void		 model_stage_end(struct model *);
/*
 * Mark kinds as synced (MODEL_F_*).  The observer's services_changed is
 * called if this changed the synced state (not when it was already set,
 * so reloading an identical services file makes no calls).
 */
void		 model_set_synced(struct model *, int what);
/* Return 1 when both Services and Endpoints are synced. */
int		 model_is_synced(const struct model *);

/*
 * Return the stored object of ns/name, or NULL if there is none.  The
 * pointer is borrowed: valid until the next update of that object.
 */
const struct model_service *model_get_service(const struct model *,
		    const char *ns, const char *name);
const struct model_endpoints *model_get_endpoints(const struct model *,
		    const char *ns, const char *name);
/* Call cb on every Service, in no particular order. */
void		 model_foreach_service(const struct model *,
		    void (*cb)(const struct model_service *, void *), void *);
/* Return the number of Services. */
size_t		 model_nservices(const struct model *);

/* Deep comparison, 1 if equal (line numbers are ignored). */
int		 model_service_equal(const struct model_service *,
		    const struct model_service *);
int		 model_endpoints_equal(const struct model_endpoints *,
		    const struct model_endpoints *);
/* Return the set of one port name ("" if unnamed), or NULL (borrowed). */
const struct model_epset *model_endpoints_port(const struct model_endpoints *,
		    const char *port_name);
/* Free an object the model does not own, and all it holds; NULL ignored. */
void		 model_service_free(struct model_service *);
void		 model_endpoints_free(struct model_endpoints *);

#endif /* MODEL_H */
