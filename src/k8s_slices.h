/*
 * k8s_slices.h: discovery.k8s.io EndpointSlices (v1 and v1beta1): the
 * decoder, the merge of one Service's slices into a model Endpoints, and
 * a store that keeps slices per Service and says which Services changed.
 *
 * A Service's endpoints may be spread over several slices, and a slice
 * may move from one Service to another (its kubernetes.io/service-name
 * label changes), so the store recomputes the merged Endpoints of every
 * Service a change touches: the one a slice left and the one it joined.
 * Merged results are in the canonical order of k8s_decode_endpoints, so
 * the slices of a Service and its Endpoints give model_endpoints_equal
 * objects.  Pure: no I/O, no logging.
 */
#ifndef K8S_SLICES_H
#define K8S_SLICES_H

#include <stddef.h>

#include "k8s_decode.h"		/* K8S_DECODE_OK, _SKIP, _ERR */

struct json_object;
struct model_endpoints;
struct model_epset;
struct k8s_slices;

/* One EndpointSlice (discovery.k8s.io v1 or v1beta1), decoded. */
struct k8s_slice {
	char			*ns;
	char			*name;		/* the slice's own name */
	char			*service;	/* kubernetes.io/service-name */
	struct model_epset	*sets;		/* ready endpoints per port */
	size_t			 nsets;
	uint64_t		 trigger_ms;	/* see model_endpoints */
};

/*
 * Decode an EndpointSlice of either version.  addressType FQDN is
 * skipped (SKIP); endpoints with conditions.ready false are not used (a
 * missing ready counts as ready, as kube-proxy); a slice without the
 * kubernetes.io/service-name label is skipped, and so is one with the
 * service-proxy-name or headless label, as for Services.  Only the first
 * of an endpoint's addresses is used (kube-proxy does the same; the
 * others are copies), an endpoint without addresses is not used, and a
 * ports[] entry whose port is null is dropped without error.  Sets are
 * sorted and de-duplicated as k8s_decode_endpoints sorts.  Returns
 * K8S_DECODE_OK with *out set (the caller's, k8s_slice_free), or
 * K8S_DECODE_SKIP / K8S_DECODE_ERR with *out NULL and the reason in err;
 * errors name the field ("endpoints[2].addresses[0]").
 */
int	k8s_decode_endpointslice(struct json_object *, struct k8s_slice **out,
	    char *err, size_t errlen);
/*
 * Merge the slices of one Service into one model Endpoints (duplicate
 * endpoints across slices appear once).  Returns a new object.  The
 * result is in the canonical order of k8s_decode_endpoints, so the
 * slices of a Service and its Endpoints give model_endpoints_equal
 * objects, and whatever order the slices come in gives equal results.
 * The slices are only read; NULL entries are ignored; n 0 gives an
 * object without sets.
 */
struct model_endpoints *k8s_slices_merge(const char *ns, const char *service,
	    struct k8s_slice *const *slices, size_t n);
/* Free a slice from k8s_decode_endpointslice; NULL is ignored. */
void	k8s_slice_free(struct k8s_slice *);

/* Return a new empty store.  Never NULL (allocation failure is fatal). */
struct k8s_slices *k8s_slices_new(void);
/* Free a store and every slice in it; NULL is ignored. */
void	k8s_slices_free(struct k8s_slices *);
/*
 * Store slice s (owned by the store from now on; NULL only removes)
 * under ns/name, replacing and freeing the slice stored there.  If cb is
 * not NULL, it is then called for every Service whose merged Endpoints
 * the change may have altered: first the Service of the replaced slice,
 * then that of s if it is another one.  cb gets arg, the namespace, the
 * Service name (both valid during the call only) and either the new
 * merged Endpoints (the callee's) or NULL when no slice of that Service
 * is left.  Never fails.
 */
void	k8s_slices_put(struct k8s_slices *, const char *ns, const char *name,
	    struct k8s_slice *s, void (*cb)(void *arg, const char *ns,
	    const char *svc, struct model_endpoints *me), void *arg);
/*
 * Merge the slices of every Service in the store.  Returns a new array
 * (the caller frees it and the objects in it) of *n merged Endpoints, one
 * per Service that has a slice, in no particular order.  Never NULL,
 * even when *n is 0.
 */
struct model_endpoints **k8s_slices_merge_all(struct k8s_slices *,
	    size_t *n);

#endif /* K8S_SLICES_H */
