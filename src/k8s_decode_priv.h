/*
 * k8s_decode_priv.h: the field readers k8s_decode.c shares with
 * k8s_slices.c, so that a Service, an Endpoints and an EndpointSlice
 * report errors in one form ("ns/name: field.path: reason") and sort
 * their endpoint sets the same way.  kd_ is the private prefix of those
 * two files; nothing else includes this header.
 *
 * Every reader returns 0 (or K8S_DECODE_OK) on success and -1
 * (K8S_DECODE_ERR) with the message written through the context.  A
 * path argument is the field path so far, ending in "." when a member
 * name follows ("spec.ports[1].").
 */
#ifndef K8S_DECODE_PRIV_H
#define K8S_DECODE_PRIV_H

#include <stddef.h>
#include <stdint.h>

struct json_object;
struct model_endpoints;
struct model_epset;

#define K8S_LABEL_PROXY_NAME	"service.kubernetes.io/service-proxy-name"
#define K8S_LABEL_HEADLESS	"service.kubernetes.io/headless"

/* Where errors go, and the object they are about. */
struct kd_ctx {
	char		*err;
	size_t		 errlen;
	const char	*ns;
	const char	*name;
};

/* Longest DNS-1123 label and subdomain, as Kubernetes validates them. */
#define KD_LABEL_MAX		63
#define KD_SUBDOMAIN_MAX	253

/*
 * Set up c for object o of kind ("Service", "Endpoints",
 * "EndpointSlice"), writing errors into err.  Clears err.  Returns 0, or
 * -1 with "kind: reason" in err if o is no mapping, has no
 * metadata.name, or a namespace that is no DNS-1123 label or a name that
 * is not what Kubernetes allows (a Service: a DNS-1035 label; the
 * others: a DNS-1123 subdomain); the bad value is quoted (kd_quote).
 */
int	kd_ctx_init(struct kd_ctx *c, struct json_object *o, const char *kind,
	    char *err, size_t errlen);
/*
 * Return 1 if s is a DNS-1123 label (1-63 of a-z, 0-9, '-', no '-' at
 * either end), with dns1035 also starting with a letter; else 0.
 */
int	kd_dns_label(const char *s, int dns1035);
/*
 * Write s into buf (len bytes, NUL-terminated) fit for a message:
 * printable ASCII kept, '"' and '\\' escaped, other bytes as \xNN, cut
 * after 70 characters with "...".
 */
void	kd_quote(const char *s, char *buf, size_t len);
/*
 * Check port name name of field path (ending in "."): empty or a
 * DNS-1123 label.  Returns 0, or -1 with "ns/name: PATHname: ..." in c.
 */
int	kd_port_name(struct kd_ctx *c, const char *path, const char *name);
/* Write "ns/name: <fmt>" into c's buffer; returns K8S_DECODE_ERR. */
int	kd_err(struct kd_ctx *c, const char *fmt, ...)
	    __attribute__((__format__(printf, 2, 3)));
/*
 * Read the optional string member key of o into *out (borrowed from o);
 * absent or null gives def.  Returns 0, or -1 if it is not a string.
 */
int	kd_string(struct kd_ctx *c, struct json_object *o, const char *key,
	    const char *path, const char *def, const char **out);
/*
 * Read the integer member key of o into *out; it must lie in [min,
 * max].  Absent or null gives def, or the error "required" if def is
 * -1.  Returns 0, or -1 if it is missing, no integer or out of range.
 */
int	kd_int(struct kd_ctx *c, struct json_object *o, const char *key,
	    const char *path, int64_t min, int64_t max, int64_t def,
	    int64_t *out);
/*
 * Set *out to the array member key of o (NULL if absent or null).
 * Returns 0, or -1 if it is not an array.
 */
int	kd_array(struct kd_ctx *c, struct json_object *o, const char *key,
	    const char *path, struct json_object **out);
/* Returns 0 if o is a mapping, else -1 ("path: must be a mapping"). */
int	kd_object(struct kd_ctx *c, struct json_object *o, const char *path);
/*
 * Set *out to a new string holding the canonical form of the IP string
 * v (named path in errors).  Returns 0, or -1 with *out NULL if v is
 * NULL, not a string or not an IPv4 or IPv6 address.
 */
int	kd_ip(struct kd_ctx *c, struct json_object *v, const char *path,
	    char **out);
/*
 * Read member "protocol" of o (absent: TCP) into *proto as IPPROTO_TCP,
 * IPPROTO_UDP or IPPROTO_SCTP.  Returns 0, or -1 for anything else.
 */
int	kd_proto(struct kd_ctx *c, struct json_object *o, const char *path,
	    int *proto);
/*
 * Return the set of me for port name, appending an empty one (owned by
 * me) if there is none.  Never fails (allocation failure is fatal).
 */
struct model_epset *kd_epset(struct model_endpoints *me, const char *name);
/* Append (ips[j], port) for every j to set; the strings are copied. */
void	kd_epset_add(struct model_epset *set, char **ips, size_t nips,
	    uint16_t port);
/*
 * Put sets in canonical order: sets by port name, the endpoints of each
 * by IP text, then port.  With dedup, equal endpoints within a set are
 * reduced to one (the copies are freed).
 */
void	kd_sort_sets(struct model_epset *sets, size_t nsets, int dedup);

#endif /* K8S_DECODE_PRIV_H */
