/*
 * k8s_decode.h: v1 Service and v1 Endpoints objects (json-c trees, from
 * the API or converted from YAML) to model objects.  Pure functions: no
 * I/O, no logging; errors name the object and field.
 *
 * Skipped as kube-proxy skips them: headless (clusterIP "" or "None"),
 * type ExternalName, label service.kubernetes.io/service-proxy-name,
 * label service.kubernetes.io/headless; SCTP ports are dropped with a
 * note in err.
 */
#ifndef K8S_DECODE_H
#define K8S_DECODE_H

#include <stddef.h>

struct json_object;
struct model_service;
struct model_endpoints;
struct model_epset;

#define K8S_DECODE_OK	0	/* *out set */
#define K8S_DECODE_SKIP	1	/* not for us; reason in err, *out NULL */
#define K8S_DECODE_ERR	(-1)	/* invalid; reason in err, *out NULL */

/*
 * Decode a v1 Service.  Validates ports (1-65535, nodePort 0-65535),
 * protocols (TCP/UDP; SCTP ports dropped, noted in err with OK), IPs
 * (v4 and v6), sessionAffinity (None/ClientIP, timeoutSeconds
 * 1-86400).  err gets "ns/name: field: reason".
 */
int	k8s_decode_service(struct json_object *, struct model_service **out,
	    char *err, size_t errlen);
/*
 * Decode a v1 Endpoints: ready addresses only (notReadyAddresses are
 * not used), grouped by port name over all subsets.
 */
int	k8s_decode_endpoints(struct json_object *,
	    struct model_endpoints **out, char *err, size_t errlen);
/* One EndpointSlice (discovery.k8s.io v1 or v1beta1), decoded. */
struct k8s_slice {
	char			*ns;
	char			*name;		/* the slice's own name */
	char			*service;	/* kubernetes.io/service-name */
	struct model_epset	*sets;		/* ready endpoints per port */
	size_t			 nsets;
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
 * sorted and de-duplicated as k8s_decode_endpoints sorts.  Errors name
 * the field ("endpoints[2].addresses[0]").  On OK, *out is the caller's
 * (k8s_slice_free).
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

/*
 * Read metadata.namespace (default "default") and metadata.name.
 * Returns 0, or -1 if the name is missing.  Pointers are borrowed.
 */
int	k8s_decode_meta(struct json_object *, const char **ns,
	    const char **name);

#endif /* K8S_DECODE_H */
