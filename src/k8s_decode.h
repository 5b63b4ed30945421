/*
 * k8s_decode.h: v1 Service and v1 Endpoints objects (json-c trees, from
 * the API or converted from YAML) to model objects.  Pure functions: no
 * I/O, no logging; errors name the object and field.  EndpointSlices are
 * in k8s_slices.h.
 *
 * Skipped as kube-proxy skips them: headless (clusterIP "" or "None"),
 * type ExternalName, label service.kubernetes.io/service-proxy-name,
 * label service.kubernetes.io/headless; SCTP ports are dropped with a
 * note in err.
 */
#ifndef K8S_DECODE_H
#define K8S_DECODE_H

#include <stddef.h>
#include <stdint.h>

struct json_object;
struct model_service;
struct model_endpoints;

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
/*
 * Return the time in metadata.annotations
 * "endpoints.kubernetes.io/last-change-trigger-time" (RFC 3339, as the
 * endpoints controllers write it) in epoch ms, or 0 if it is absent or
 * not a valid time (it only feeds a metric: never an error).
 */
uint64_t k8s_decode_trigger(struct json_object *);
/*
 * Write s into buf (len bytes, NUL-terminated) fit for a log line:
 * printable ASCII kept, '"' and '\\' escaped, any other byte as \xNN,
 * cut after 70 characters with "...".  For names and values that
 * failed validation, which may hold a newline.
 */
void	k8s_decode_quote(const char *s, char *buf, size_t len);
/*
 * Read metadata.namespace (default "default") and metadata.name.
 * Returns 0, or -1 if the name is missing.  Pointers are borrowed.
 */
int	k8s_decode_meta(struct json_object *, const char **ns,
	    const char **name);

#endif /* K8S_DECODE_H */
