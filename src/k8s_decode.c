/*
 * k8s_decode.c: v1 Service and v1 Endpoints (json-c) to model objects.
 *
 * Only the fields kube-proxy's userspace mode reads are looked at (see
 * the reference, section 6); everything else is ignored, so objects
 * printed by kubectl with managedFields and status decode unchanged.
 * Every error names the object and the field path, e.g.
 * "ns/name: spec.ports[1].port: must be between 1 and 65535, got 70000".
 *
 * Endpoint sets are sorted (by port name, then IP and port) so that two
 * listings of the same Endpoints compare equal in model.c whatever order
 * the API server returned them in.  EndpointSlices (k8s_slices.c) are
 * read with the same field readers and sorted the same way (see
 * k8s_decode_priv.h), so a Service read from Endpoints and from its
 * slices gives equal model objects.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "k8s_decode.h"
#include "k8s_decode_priv.h"
#include "model.h"
#include "netutil.h"
#include "xmalloc.h"
#include "yamljson.h"

#define K8S_DEFAULT_AFFINITY_TTL 10800
#define K8S_MAX_AFFINITY_TTL	86400

/* Write "ns/name: <msg>" into the error buffer; return K8S_DECODE_ERR. */
int
kd_err(struct kd_ctx *c, const char *fmt, ...)
{
	char	msg[512];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "%s/%s: %s", c->ns, c->name, msg);
	return (K8S_DECODE_ERR);
}

/* Read an optional string member; absent or null gives def. */
int
kd_string(struct kd_ctx *c, struct json_object *o, const char *key,
    const char *path, const char *def, const char **out)
{
	struct json_object	*v = yamljson_get(o, key);

	*out = def;
	if (v == NULL)
		return (0);
	if (!json_object_is_type(v, json_type_string))
		return (kd_err(c, "%s%s: must be a string", path, key));
	*out = json_object_get_string(v);
	return (0);
}

/*
 * Read an integer member in [min, max]; absent or null gives def, or an
 * error if def is -1.
 */
int
kd_int(struct kd_ctx *c, struct json_object *o, const char *key,
    const char *path, int64_t min, int64_t max, int64_t def, int64_t *out)
{
	struct json_object	*v = yamljson_get(o, key);

	*out = def;
	if (v == NULL) {
		if (def == -1)
			return (kd_err(c, "%s%s: required", path, key));
		return (0);
	}
	if (!json_object_is_type(v, json_type_int))
		return (kd_err(c, "%s%s: must be an integer", path, key));
	*out = json_object_get_int64(v);
	if (*out < min || *out > max)
		return (kd_err(c, "%s%s: must be between %lld and %lld, got "
		    "%lld", path, key, (long long)min, (long long)max,
		    (long long)*out));
	return (0);
}

/* Return the array member key (NULL if absent), or an error. */
int
kd_array(struct kd_ctx *c, struct json_object *o, const char *key,
    const char *path, struct json_object **out)
{
	*out = yamljson_get(o, key);
	if (*out != NULL && !json_object_is_type(*out, json_type_array))
		return (kd_err(c, "%s%s: must be a list", path, key));
	return (0);
}

/* Check that o is a mapping. */
int
kd_object(struct kd_ctx *c, struct json_object *o, const char *path)
{
	if (!json_object_is_type(o, json_type_object))
		return (kd_err(c, "%s: must be a mapping", path));
	return (0);
}

/* Canonicalise the IP string v into a new string. */
int
kd_ip(struct kd_ctx *c, struct json_object *v, const char *path,
    char **out)
{
	char	buf[INET6_ADDRSTRLEN], q[256];

	*out = NULL;
	if (v == NULL)
		return (kd_err(c, "%s: required", path));
	if (!json_object_is_type(v, json_type_string))
		return (kd_err(c, "%s: must be a string", path));
	if (netutil_canon_ip(json_object_get_string(v), buf, sizeof(buf)) ==
	    -1) {
		kd_quote(json_object_get_string(v), q, sizeof(q));
		return (kd_err(c, "%s: not an IP address: \"%s\"", path, q));
	}
	*out = xstrdup(buf);
	return (0);
}

/* Parse a protocol name (absent: TCP); 0 on success. */
int
kd_proto(struct kd_ctx *c, struct json_object *o, const char *path,
    int *proto)
{
	const char	*s;
	char		 q[256];

	if (kd_string(c, o, "protocol", path, "TCP", &s) == -1)
		return (-1);
	if (strcmp(s, "TCP") == 0)
		*proto = IPPROTO_TCP;
	else if (strcmp(s, "UDP") == 0)
		*proto = IPPROTO_UDP;
	else if (strcmp(s, "SCTP") == 0)
		*proto = IPPROTO_SCTP;
	else {
		kd_quote(s, q, sizeof(q));
		return (kd_err(c, "%sprotocol: unsupported protocol \"%s\"",
		    path, q));
	}
	return (0);
}

/* Read the last-change-trigger-time annotation as epoch ms, or 0. */
uint64_t
k8s_decode_trigger(struct json_object *o)
{
	struct json_object	*v;
	struct tm		 tm;
	const char		*s, *p;
	uint64_t		 ms = 0, scale = 100;
	time_t			 t;
	int			 oh, om, sign;

	v = yamljson_get(yamljson_get(yamljson_get(o, "metadata"),
	    "annotations"), "endpoints.kubernetes.io/last-change-trigger-time");
	if (!json_object_is_type(v, json_type_string))
		return (0);
	s = json_object_get_string(v);
	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return (0);
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			ms += (uint64_t)(*p - '0') * scale;
	if ((t = timegm(&tm)) == (time_t)-1 || t < 0)
		return (0);
	if (*p == 'Z' && p[1] == '\0')
		return ((uint64_t)t * 1000 + ms);
	if ((*p != '+' && *p != '-') || sscanf(p + 1, "%2d:%2d", &oh, &om) !=
	    2 || strlen(p) != 6)
		return (0);
	sign = *p == '-' ? 1 : -1;	/* local = UTC + offset */
	t += sign * (oh * 3600 + om * 60);
	return (t < 0 ? 0 : (uint64_t)t * 1000 + ms);
}

/* Read metadata.namespace and metadata.name. */
int
k8s_decode_meta(struct json_object *o, const char **ns, const char **name)
{
	struct json_object	*meta = yamljson_get(o, "metadata"), *v;

	*ns = "default";
	*name = NULL;
	v = yamljson_get(meta, "namespace");
	if (json_object_is_type(v, json_type_string) &&
	    json_object_get_string_len(v) > 0)
		*ns = json_object_get_string(v);
	v = yamljson_get(meta, "name");
	if (!json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0)
		return (-1);
	*name = json_object_get_string(v);
	return (0);
}

/* Is s a DNS-1123 label (or with dns1035, one starting with a letter)? */
int
kd_dns_label(const char *s, int dns1035)
{
	size_t	i, len = strlen(s);

	if (len == 0 || len > KD_LABEL_MAX)
		return (0);
	/* Not islower(): the locale must not widen what passes. */
	for (i = 0; i < len; i++)
		if ((s[i] < 'a' || s[i] > 'z') && (s[i] < '0' || s[i] > '9') &&
		    s[i] != '-')
			return (0);
	if (s[0] == '-' || s[len - 1] == '-')
		return (0);
	return (!dns1035 || (s[0] >= 'a' && s[0] <= 'z'));
}

/*
 * Is s a DNS-1123 subdomain: at most 253 characters, labels of a-z, 0-9
 * and '-' joined by dots?  As the API server's IsDNS1123Subdomain, the
 * labels of a subdomain are not held to 63 (an EndpointSlice of a
 * 63-character Service is named "<service>-<suffix>").
 */
static int
kd_dns_subdomain(const char *s)
{
	size_t	i, len = strlen(s);

	if (len == 0 || len > KD_SUBDOMAIN_MAX)
		return (0);
	for (i = 0; i < len; i++) {
		if ((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9'))
			continue;
		if (s[i] != '-' && s[i] != '.')
			return (0);
		/* '-' and '.' only between alphanumerics, '-' beside '-'. */
		if (i == 0 || i == len - 1 || s[i - 1] == '.' ||
		    (s[i] == '.' && s[i - 1] == '-') ||
		    (s[i + 1] == '.'))
			return (0);
	}
	return (1);
}

/*
 * Quote s for a message: printable ASCII as it is, '"' and '\\' escaped,
 * anything else as \xNN, cut after 70 characters ("...").  A name that
 * failed validation may hold a newline or a quote: it must not forge a
 * log line or break out of a message.
 */
void
kd_quote(const char *s, char *buf, size_t len)
{
	size_t	o = 0, i;
	char	tmp[8];

	if (len == 0)
		return;
	for (i = 0; s[i] != '\0' && o + 1 < len; i++) {
		if (i == 70) {
			snprintf(tmp, sizeof(tmp), "...");
		} else if (s[i] == '"' || s[i] == '\\')
			snprintf(tmp, sizeof(tmp), "\\%c", s[i]);
		else if ((unsigned char)s[i] < 0x20 ||
		    (unsigned char)s[i] >= 0x7f)
			snprintf(tmp, sizeof(tmp), "\\x%02x",
			    (unsigned char)s[i]);
		else
			snprintf(tmp, sizeof(tmp), "%c", s[i]);
		if (o + strlen(tmp) + 1 > len)
			break;
		memcpy(buf + o, tmp, strlen(tmp));
		o += strlen(tmp);
		if (i == 70)
			break;
	}
	buf[o] = '\0';
}

/* Quote s for a message, as kd_quote. */
void
k8s_decode_quote(const char *s, char *buf, size_t len)
{
	kd_quote(s, buf, len);
}

/* Check an optional port name (path ends in "."): a DNS-1123 label. */
int
kd_port_name(struct kd_ctx *c, const char *path, const char *name)
{
	char	q[256];

	if (*name == '\0' || kd_dns_label(name, 0))
		return (0);
	kd_quote(name, q, sizeof(q));
	return (kd_err(c, "%sname: not a DNS-1123 label (at most 63 of "
	    "a-z, 0-9 and '-'): \"%s\"", path, q));
}

/*
 * Check the names an object is known by.  They end up in iptables
 * comments ("ns/name:port", fed to iptables-restore), metric labels and
 * the port state file, so they are held to what the API server itself
 * enforces: the namespace a DNS-1123 label, a Service's name a DNS-1035
 * label (so the comment stays under iptables' 256 bytes), any other
 * name a DNS-1123 subdomain.  A services file is not validated by an
 * API server: without this, a quote or a newline in a name would write
 * rules of its own into the restore input.
 */
static int
kd_names_check(struct kd_ctx *c, const char *kind)
{
	char	q[256];

	if (!kd_dns_label(c->ns, 0)) {
		kd_quote(c->ns, q, sizeof(q));
		snprintf(c->err, c->errlen, "%s: metadata.namespace: not a "
		    "DNS-1123 label (at most 63 of a-z, 0-9 and '-'): \"%s\"",
		    kind, q);
		return (-1);
	}
	if (strcmp(kind, "Service") == 0 ? !kd_dns_label(c->name, 1) :
	    !kd_dns_subdomain(c->name)) {
		kd_quote(c->name, q, sizeof(q));
		snprintf(c->err, c->errlen, "%s: metadata.name: not a %s: "
		    "\"%s\"", kind, strcmp(kind, "Service") == 0 ?
		    "DNS-1035 label (at most 63 of a-z, 0-9 and '-', a letter "
		    "first)" : "DNS-1123 subdomain (at most 253 of a-z, 0-9, "
		    "'-' and '.')", q);
		return (-1);
	}
	return (0);
}

/* Set up the context for o; fails if o has no usable metadata. */
int
kd_ctx_init(struct kd_ctx *c, struct json_object *o, const char *kind,
    char *err, size_t errlen)
{
	c->err = err;
	c->errlen = errlen;
	if (errlen > 0)
		err[0] = '\0';
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "%s: not a mapping", kind);
		return (-1);
	}
	if (k8s_decode_meta(o, &c->ns, &c->name) == -1) {
		snprintf(err, errlen, "%s: metadata.name: required", kind);
		return (-1);
	}
	return (kd_names_check(c, kind));
}

/* Decide whether kube-proxy would skip this Service; reason in err. */
static int
kd_svc_skip(struct kd_ctx *c, struct json_object *o, const char **cip)
{
	struct json_object	*labels, *spec;
	const char		*type;
	char			 q[256];

	/* Presence is what counts, as in the informers' label selector. */
	labels = yamljson_get(yamljson_get(o, "metadata"), "labels");
	if (!json_object_is_type(labels, json_type_object))
		labels = NULL;
	if (labels != NULL &&
	    json_object_object_get_ex(labels, K8S_LABEL_PROXY_NAME, NULL)) {
		kd_err(c, "label %s set", K8S_LABEL_PROXY_NAME);
		return (K8S_DECODE_SKIP);
	}
	if (labels != NULL &&
	    json_object_object_get_ex(labels, K8S_LABEL_HEADLESS, NULL)) {
		kd_err(c, "label %s set", K8S_LABEL_HEADLESS);
		return (K8S_DECODE_SKIP);
	}
	spec = yamljson_get(o, "spec");
	if (spec != NULL && kd_object(c, spec, "spec") == -1)
		return (K8S_DECODE_ERR);
	if (kd_string(c, spec, "type", "spec.", "ClusterIP", &type) == -1)
		return (K8S_DECODE_ERR);
	if (strcmp(type, "ExternalName") == 0) {
		kd_err(c, "type ExternalName");
		return (K8S_DECODE_SKIP);
	}
	if (strcmp(type, "ClusterIP") != 0 && strcmp(type, "NodePort") != 0 &&
	    strcmp(type, "LoadBalancer") != 0) {
		kd_quote(type, q, sizeof(q));
		return (kd_err(c, "spec.type: unknown type \"%s\"", q));
	}
	if (kd_string(c, spec, "clusterIP", "spec.", "", cip) == -1)
		return (K8S_DECODE_ERR);
	if (**cip == '\0' || strcmp(*cip, "None") == 0) {
		kd_err(c, "headless (no cluster IP)");
		return (K8S_DECODE_SKIP);
	}
	return (K8S_DECODE_OK);
}

/* The protocol string of an already checked port ("TCP" if unset). */
static const char *
kd_port_proto(struct json_object *p)
{
	const char	*s = json_object_get_string(yamljson_get(p,
			    "protocol"));

	return (s != NULL ? s : "TCP");
}

/*
 * Check spec.ports[i] against the ones before it, as the API server
 * does: no port name, no port/protocol and no nodePort/protocol twice.
 * Two ports on one port and protocol would race for one iptables match.
 */
static int
kd_port_dup(struct kd_ctx *c, struct json_object *ports, size_t i,
    const char *name, int64_t port, int64_t node_port)
{
	struct json_object	*p = json_object_array_get_idx(ports, i), *q;
	const char		*other, *proto = kd_port_proto(p);
	size_t			 j;

	for (j = 0; j < i; j++) {
		q = json_object_array_get_idx(ports, j);
		other = json_object_get_string(yamljson_get(q, "name"));
		if (strcmp(other != NULL ? other : "", name) == 0)
			return (kd_err(c, "spec.ports[%zu].name: duplicate "
			    "port name \"%s\"", i, name));
		if (strcmp(kd_port_proto(q), proto) != 0)
			continue;
		if (json_object_get_int64(yamljson_get(q, "port")) == port)
			return (kd_err(c, "spec.ports[%zu].port: duplicate "
			    "port %lld/%s (spec.ports[%zu])", i,
			    (long long)port, proto, j));
		if (node_port != 0 && json_object_get_int64(yamljson_get(q,
		    "nodePort")) == node_port)
			return (kd_err(c, "spec.ports[%zu].nodePort: "
			    "duplicate nodePort %lld/%s (spec.ports[%zu])", i,
			    (long long)node_port, proto, j));
	}
	return (0);
}

/* Append a note ("; "-separated) to err without failing. */
static void
kd_note(struct kd_ctx *c, const char *msg)
{
	size_t	len = strlen(c->err);

	if (len == 0)
		snprintf(c->err, c->errlen, "%s/%s: %s", c->ns, c->name, msg);
	else if (len < c->errlen)
		snprintf(c->err + len, c->errlen - len, "; %s", msg);
}

/* Decode spec.ports[]; SCTP ports are dropped with a note. */
static int
kd_svc_ports(struct kd_ctx *c, struct json_object *spec,
    struct model_service *ms)
{
	struct json_object	*ports, *p;
	struct model_svcport	*mp;
	char			 path[64], note[96];
	const char		*name;
	int64_t			 port, node_port;
	int			 proto;
	size_t			 i, n;

	if (kd_array(c, spec, "ports", "spec.", &ports) == -1)
		return (-1);
	n = ports != NULL ? json_object_array_length(ports) : 0;
	if (n > 0)
		ms->ports = xcalloc(n, sizeof(*ms->ports));
	for (i = 0; i < n; i++) {
		p = json_object_array_get_idx(ports, i);
		snprintf(path, sizeof(path), "spec.ports[%zu]", i);
		if (kd_object(c, p, path) == -1)
			return (-1);
		strncat(path, ".", sizeof(path) - strlen(path) - 1);
		if (kd_string(c, p, "name", path, "", &name) == -1 ||
		    kd_port_name(c, path, name) == -1 ||
		    kd_int(c, p, "port", path, 1, 65535, -1, &port) == -1 ||
		    kd_int(c, p, "nodePort", path, 0, 65535, 0,
		    &node_port) == -1 ||
		    kd_proto(c, p, path, &proto) == -1 ||
		    kd_port_dup(c, ports, i, name, port, node_port) == -1)
			return (-1);
		if (proto == IPPROTO_SCTP) {
			snprintf(note, sizeof(note), "spec.ports[%zu]: SCTP "
			    "is not supported, port dropped", i);
			kd_note(c, note);
			continue;
		}
		mp = &ms->ports[ms->nports++];
		mp->name = xstrdup(name);
		mp->proto = proto;
		mp->port = (uint16_t)port;
		mp->node_port = (uint16_t)node_port;
	}
	return (0);
}

/* Decode a list of IP strings (spec.externalIPs). */
static int
kd_ip_list(struct kd_ctx *c, struct json_object *o, const char *key,
    const char *path, char ***ips, size_t *nips)
{
	struct json_object	*list;
	char			 p[96];
	size_t			 i, n;

	if (kd_array(c, o, key, path, &list) == -1)
		return (-1);
	n = list != NULL ? json_object_array_length(list) : 0;
	if (n > 0)
		*ips = xcalloc(n, sizeof(**ips));
	for (i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s%s[%zu]", path, key, i);
		if (kd_ip(c, json_object_array_get_idx(list, i), p,
		    &(*ips)[*nips]) == -1)
			return (-1);
		(*nips)++;
	}
	return (0);
}

/* Decode status.loadBalancer.ingress[].ip; hostname-only entries skip. */
static int
kd_svc_lb(struct kd_ctx *c, struct json_object *o, struct model_service *ms)
{
	struct json_object	*ingress, *e;
	char			 p[96];
	size_t			 i, n;

	if (kd_array(c, yamljson_get(yamljson_get(o, "status"), "loadBalancer"),
	    "ingress", "status.loadBalancer.", &ingress) == -1)
		return (-1);
	n = ingress != NULL ? json_object_array_length(ingress) : 0;
	if (n > 0)
		ms->lb_ips = xcalloc(n, sizeof(*ms->lb_ips));
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(ingress, i);
		snprintf(p, sizeof(p), "status.loadBalancer.ingress[%zu]", i);
		if (kd_object(c, e, p) == -1)
			return (-1);
		if (yamljson_get(e, "ip") == NULL)
			continue;
		strncat(p, ".ip", sizeof(p) - strlen(p) - 1);
		if (kd_ip(c, yamljson_get(e, "ip"), p,
		    &ms->lb_ips[ms->n_lb_ips]) == -1)
			return (-1);
		ms->n_lb_ips++;
	}
	return (0);
}

/* Decode spec.sessionAffinity and its timeout. */
static int
kd_svc_affinity(struct kd_ctx *c, struct json_object *spec,
    struct model_service *ms)
{
	struct json_object	*cfg;
	const char		*s;
	char			 q[256];
	int64_t			 ttl;

	if (kd_string(c, spec, "sessionAffinity", "spec.", "None", &s) == -1)
		return (-1);
	if (strcmp(s, "None") == 0)
		ms->affinity = MODEL_AFFINITY_NONE;
	else if (strcmp(s, "ClientIP") == 0)
		ms->affinity = MODEL_AFFINITY_CLIENTIP;
	else {
		kd_quote(s, q, sizeof(q));
		return (kd_err(c, "spec.sessionAffinity: must be None or "
		    "ClientIP, got \"%s\"", q));
	}
	cfg = yamljson_get(yamljson_get(spec, "sessionAffinityConfig"),
	    "clientIP");
	if (kd_int(c, cfg, "timeoutSeconds",
	    "spec.sessionAffinityConfig.clientIP.", 1, K8S_MAX_AFFINITY_TTL,
	    K8S_DEFAULT_AFFINITY_TTL, &ttl) == -1)
		return (-1);
	ms->affinity_ttl = (unsigned int)ttl;
	return (0);
}

/* Decode a v1 Service. */
int
k8s_decode_service(struct json_object *o, struct model_service **out,
    char *err, size_t errlen)
{
	struct kd_ctx		 c;
	struct model_service	*ms;
	struct json_object	*spec;
	const char		*cip;
	int			 rc;

	*out = NULL;
	if (kd_ctx_init(&c, o, "Service", err, errlen) == -1)
		return (K8S_DECODE_ERR);
	if ((rc = kd_svc_skip(&c, o, &cip)) != K8S_DECODE_OK)
		return (rc);
	spec = yamljson_get(o, "spec");
	ms = xcalloc(1, sizeof(*ms));
	ms->ns = xstrdup(c.ns);
	ms->name = xstrdup(c.name);
	ms->line = yamljson_line(o);
	if (kd_ip(&c, yamljson_get(spec, "clusterIP"), "spec.clusterIP",
	    &ms->cluster_ip) == -1 ||
	    kd_svc_ports(&c, spec, ms) == -1 ||
	    kd_ip_list(&c, spec, "externalIPs", "spec.", &ms->external_ips,
	    &ms->n_external_ips) == -1 ||
	    kd_svc_lb(&c, o, ms) == -1 ||
	    kd_svc_affinity(&c, spec, ms) == -1) {
		model_service_free(ms);
		return (K8S_DECODE_ERR);
	}
	*out = ms;
	return (K8S_DECODE_OK);
}

/* Return the set for port name, adding an empty one if needed. */
struct model_epset *
kd_epset(struct model_endpoints *me, const char *name)
{
	struct model_epset	*s;
	size_t			 i;

	for (i = 0; i < me->nsets; i++)
		if (strcmp(me->sets[i].port_name, name) == 0)
			return (&me->sets[i]);
	me->sets = xreallocarray(me->sets, me->nsets + 1, sizeof(*me->sets));
	s = &me->sets[me->nsets++];
	memset(s, 0, sizeof(*s));
	s->port_name = xstrdup(name);
	return (s);
}

/* Append (ips[j], port) for every j to a set. */
void
kd_epset_add(struct model_epset *set, char **ips, size_t nips,
    uint16_t port)
{
	size_t	j;

	set->eps = xreallocarray(set->eps, set->n + nips, sizeof(*set->eps));
	for (j = 0; j < nips; j++) {
		set->eps[set->n].ip = xstrdup(ips[j]);
		set->eps[set->n].port = port;
		set->n++;
	}
}

/* Decode subsets[i].addresses[] into canonical IPs. */
static int
kd_ep_addrs(struct kd_ctx *c, struct json_object *sub, size_t si,
    char ***ips, size_t *nips)
{
	struct json_object	*addrs, *a;
	char			 path[96];
	size_t			 i, n;

	snprintf(path, sizeof(path), "subsets[%zu].", si);
	if (kd_array(c, sub, "addresses", path, &addrs) == -1)
		return (-1);
	n = addrs != NULL ? json_object_array_length(addrs) : 0;
	if (n > 0)
		*ips = xcalloc(n, sizeof(**ips));
	for (i = 0; i < n; i++) {
		a = json_object_array_get_idx(addrs, i);
		snprintf(path, sizeof(path), "subsets[%zu].addresses[%zu]",
		    si, i);
		if (kd_object(c, a, path) == -1)
			return (-1);
		strncat(path, ".ip", sizeof(path) - strlen(path) - 1);
		if (kd_ip(c, yamljson_get(a, "ip"), path, &(*ips)[*nips]) == -1)
			return (-1);
		(*nips)++;
	}
	return (0);
}

/* Add every (address, port) of one subset to the sets. */
static int
kd_ep_ports(struct kd_ctx *c, struct json_object *sub, size_t si,
    char **ips, size_t nips, struct model_endpoints *me)
{
	struct json_object	*ports, *p;
	char			 path[96];
	const char		*name;
	int64_t			 port;
	int			 proto;
	size_t			 i, n;

	snprintf(path, sizeof(path), "subsets[%zu].", si);
	if (kd_array(c, sub, "ports", path, &ports) == -1)
		return (-1);
	n = ports != NULL ? json_object_array_length(ports) : 0;
	for (i = 0; i < n; i++) {
		p = json_object_array_get_idx(ports, i);
		snprintf(path, sizeof(path), "subsets[%zu].ports[%zu]", si, i);
		if (kd_object(c, p, path) == -1)
			return (-1);
		strncat(path, ".", sizeof(path) - strlen(path) - 1);
		if (kd_string(c, p, "name", path, "", &name) == -1 ||
		    kd_port_name(c, path, name) == -1 ||
		    kd_int(c, p, "port", path, 1, 65535, -1, &port) == -1 ||
		    kd_proto(c, p, path, &proto) == -1)
			return (-1);
		if (nips > 0)
			kd_epset_add(kd_epset(me, name), ips, nips,
			    (uint16_t)port);
	}
	return (0);
}

/* Order endpoints by IP text, then port. */
static int
kd_ep_cmp(const void *a, const void *b)
{
	const struct model_endpoint	*x = a, *y = b;
	int				 r;

	if ((r = strcmp(x->ip, y->ip)) != 0)
		return (r);
	return ((int)x->port - (int)y->port);
}

/* Order sets by port name. */
static int
kd_set_cmp(const void *a, const void *b)
{
	const struct model_epset	*x = a, *y = b;

	return (strcmp(x->port_name, y->port_name));
}

/*
 * Put sets in canonical order: sets by port name, endpoints by IP and
 * port; with dedup, equal endpoints in one set are reduced to one.
 */
void
kd_sort_sets(struct model_epset *sets, size_t nsets, int dedup)
{
	struct model_epset	*s;
	size_t			 i, j, k;

	for (i = 0; i < nsets; i++) {
		s = &sets[i];
		qsort(s->eps, s->n, sizeof(*s->eps), kd_ep_cmp);
		if (!dedup || s->n == 0)
			continue;
		for (j = 1, k = 0; j < s->n; j++) {
			if (kd_ep_cmp(&s->eps[k], &s->eps[j]) == 0) {
				free(s->eps[j].ip);
				continue;
			}
			s->eps[++k] = s->eps[j];
		}
		s->n = k + 1;
	}
	if (nsets > 1)
		qsort(sets, nsets, sizeof(*sets), kd_set_cmp);
}

/* Decode one subset. */
static int
kd_ep_subset(struct kd_ctx *c, struct json_object *sub, size_t si,
    struct model_endpoints *me)
{
	char	path[32], **ips = NULL;
	size_t	nips = 0, i;
	int	rc = -1;

	snprintf(path, sizeof(path), "subsets[%zu]", si);
	if (kd_object(c, sub, path) == -1)
		return (-1);
	if (kd_ep_addrs(c, sub, si, &ips, &nips) == -1 ||
	    kd_ep_ports(c, sub, si, ips, nips, me) == -1)
		goto out;
	rc = 0;
out:
	for (i = 0; i < nips; i++)
		free(ips[i]);
	free(ips);
	return (rc);
}

/* Decode a v1 Endpoints. */
int
k8s_decode_endpoints(struct json_object *o, struct model_endpoints **out,
    char *err, size_t errlen)
{
	struct kd_ctx		 c;
	struct model_endpoints	*me;
	struct json_object	*subsets;
	size_t			 i, n;

	*out = NULL;
	if (kd_ctx_init(&c, o, "Endpoints", err, errlen) == -1)
		return (K8S_DECODE_ERR);
	if (kd_array(&c, o, "subsets", "", &subsets) == -1)
		return (K8S_DECODE_ERR);
	me = xcalloc(1, sizeof(*me));
	me->ns = xstrdup(c.ns);
	me->name = xstrdup(c.name);
	me->line = yamljson_line(o);
	me->trigger_ms = k8s_decode_trigger(o);
	n = subsets != NULL ? json_object_array_length(subsets) : 0;
	for (i = 0; i < n; i++) {
		if (kd_ep_subset(&c, json_object_array_get_idx(subsets, i), i,
		    me) == -1) {
			model_endpoints_free(me);
			return (K8S_DECODE_ERR);
		}
	}
	kd_sort_sets(me->sets, me->nsets, 0);
	*out = me;
	return (K8S_DECODE_OK);
}
