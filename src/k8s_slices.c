/*
 * k8s_slices.c: EndpointSlices: decode one, merge those of a Service,
 * and keep them in a store grouped by Service.
 *
 * The decoder reads the same fields kube-proxy reads (addressType,
 * endpoints[].addresses and conditions.ready, ports[]) with the field
 * readers of k8s_decode.c, so errors look the same as for Endpoints:
 * "ns/name: endpoints[2].addresses[0]: not an IP address: ...".
 *
 * The store indexes slices twice: by "ns/slice" to find the one an event
 * replaces, and by "ns/service" to merge a Service's slices.  A slice
 * whose service-name label changed moves between two groups, and both
 * Services are recomputed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "htab.h"
#include "k8s_decode.h"
#include "k8s_decode_priv.h"
#include "k8s_slices.h"
#include "log.h"
#include "model.h"
#include "xmalloc.h"
#include "yamljson.h"

#define K8S_LABEL_SVC_NAME	"kubernetes.io/service-name"

/* The slices of one Service. */
struct ks_group {
	char			*ns;
	char			*svc;
	struct k8s_slice	**v;
	size_t			 n;
};

/* The store: every slice by name, and grouped by Service. */
struct k8s_slices {
	struct htab		*byname;	/* "ns/slice" -> k8s_slice */
	struct htab		*bysvc;		/* "ns/service" -> ks_group */
};

/* Free an array of sets and everything in it. */
static void
ks_sets_free(struct model_epset *sets, size_t nsets)
{
	size_t	i, j;

	for (i = 0; i < nsets; i++) {
		for (j = 0; j < sets[i].n; j++)
			free(sets[i].eps[j].ip);
		free(sets[i].eps);
		free(sets[i].port_name);
	}
	free(sets);
}

/*
 * Decide whether kube-proxy would use this slice; set *svc to the name
 * of its Service and *v6 to its address family.
 */
static int
ks_skip(struct kd_ctx *c, struct json_object *o, const char **svc,
    int *v6)
{
	struct json_object	*labels, *v;
	const char		*type;
	char			 q[256];

	labels = yamljson_get(yamljson_get(o, "metadata"), "labels");
	v = yamljson_get(labels, K8S_LABEL_SVC_NAME);
	if (!json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0) {
		kd_err(c, "label %s not set", K8S_LABEL_SVC_NAME);
		return (K8S_DECODE_SKIP);
	}
	*svc = json_object_get_string(v);
	if (!kd_dns_label(*svc, 0)) {
		kd_quote(*svc, q, sizeof(q));
		return (kd_err(c, "label %s: not a DNS-1123 label: \"%s\"",
		    K8S_LABEL_SVC_NAME, q));
	}
	/* The same selector as for Services: presence is what counts. */
	if (json_object_object_get_ex(labels, K8S_LABEL_PROXY_NAME, NULL)) {
		kd_err(c, "label %s set", K8S_LABEL_PROXY_NAME);
		return (K8S_DECODE_SKIP);
	}
	if (json_object_object_get_ex(labels, K8S_LABEL_HEADLESS, NULL)) {
		kd_err(c, "label %s set", K8S_LABEL_HEADLESS);
		return (K8S_DECODE_SKIP);
	}
	if (kd_string(c, o, "addressType", "", NULL, &type) == -1)
		return (K8S_DECODE_ERR);
	if (type == NULL)
		return (kd_err(c, "addressType: required"));
	if (strcmp(type, "FQDN") == 0) {
		kd_err(c, "addressType FQDN");
		return (K8S_DECODE_SKIP);
	}
	if (strcmp(type, "IPv4") != 0 && strcmp(type, "IPv6") != 0) {
		kd_quote(type, q, sizeof(q));
		return (kd_err(c, "addressType: unknown address type \"%s\"",
		    q));
	}
	*v6 = strcmp(type, "IPv6") == 0;
	return (K8S_DECODE_OK);
}

/*
 * Read endpoints[i]: 1 with its address in *ip when it is ready and has
 * one, 0 when it is not used, -1 on error.  Only the first address is
 * used, as kube-proxy does: the others are fungible copies.
 */
static int
ks_ep(struct kd_ctx *c, struct json_object *ep, size_t i, int v6,
    char **ip)
{
	struct json_object	*cond, *ready, *addrs;
	char			 path[96];

	*ip = NULL;
	snprintf(path, sizeof(path), "endpoints[%zu]", i);
	if (kd_object(c, ep, path) == -1)
		return (-1);
	cond = yamljson_get(ep, "conditions");
	if (cond != NULL && !json_object_is_type(cond, json_type_object))
		return (kd_err(c, "%s.conditions: must be a mapping", path));
	/* A missing ready means "unknown", which counts as ready. */
	ready = yamljson_get(cond, "ready");
	if (ready != NULL && !json_object_is_type(ready, json_type_boolean))
		return (kd_err(c, "%s.conditions.ready: must be true or false",
		    path));
	if (ready != NULL && !json_object_get_boolean(ready))
		return (0);
	strncat(path, ".", sizeof(path) - strlen(path) - 1);
	if (kd_array(c, ep, "addresses", path, &addrs) == -1)
		return (-1);
	if (addrs == NULL || json_object_array_length(addrs) == 0)
		return (0);
	snprintf(path, sizeof(path), "endpoints[%zu].addresses[0]", i);
	if (kd_ip(c, json_object_array_get_idx(addrs, 0), path, ip) == -1)
		return (-1);
	if ((strchr(*ip, ':') != NULL) != v6) {
		kd_err(c, "%s: not an %s address: \"%s\"", path,
		    v6 ? "IPv6" : "IPv4", *ip);
		free(*ip);
		*ip = NULL;
		return (-1);
	}
	return (1);
}

/* Collect the addresses of the ready endpoints[]. */
static int
ks_addrs(struct kd_ctx *c, struct json_object *o, int v6,
    char ***ips, size_t *nips)
{
	struct json_object	*eps;
	size_t			 i, n;
	int			 rc;

	if (kd_array(c, o, "endpoints", "", &eps) == -1)
		return (-1);
	n = eps != NULL ? json_object_array_length(eps) : 0;
	if (n > 0)
		*ips = xcalloc(n, sizeof(**ips));
	for (i = 0; i < n; i++) {
		rc = ks_ep(c, json_object_array_get_idx(eps, i), i, v6,
		    &(*ips)[*nips]);
		if (rc == -1)
			return (-1);
		if (rc == 1)
			(*nips)++;
	}
	return (0);
}

/* Add every ready address under every ports[] entry with a port. */
static int
ks_ports(struct kd_ctx *c, struct json_object *o, char **ips,
    size_t nips, struct model_endpoints *me)
{
	struct json_object	*ports, *p;
	char			 path[64];
	const char		*name;
	int64_t			 port;
	int			 proto;
	size_t			 i, n;

	if (kd_array(c, o, "ports", "", &ports) == -1)
		return (-1);
	n = ports != NULL ? json_object_array_length(ports) : 0;
	for (i = 0; i < n; i++) {
		p = json_object_array_get_idx(ports, i);
		snprintf(path, sizeof(path), "ports[%zu]", i);
		if (kd_object(c, p, path) == -1)
			return (-1);
		strncat(path, ".", sizeof(path) - strlen(path) - 1);
		if (kd_string(c, p, "name", path, "", &name) == -1 ||
		    kd_port_name(c, path, name) == -1 ||
		    kd_proto(c, p, path, &proto) == -1)
			return (-1);
		/* A null port means "all ports": nothing we can relay to. */
		if (yamljson_get(p, "port") == NULL)
			continue;
		if (kd_int(c, p, "port", path, 1, 65535, -1, &port) == -1)
			return (-1);
		if (nips > 0)
			kd_epset_add(kd_epset(me, name), ips, nips,
			    (uint16_t)port);
	}
	return (0);
}

/* Decode an EndpointSlice (discovery.k8s.io v1 or v1beta1). */
int
k8s_decode_endpointslice(struct json_object *o, struct k8s_slice **out,
    char *err, size_t errlen)
{
	struct kd_ctx		 c;
	struct model_endpoints	 tmp;
	struct k8s_slice	*sl;
	const char		*svc;
	char			**ips = NULL;
	size_t			 nips = 0, i;
	int			 rc, v6 = 0;

	*out = NULL;
	if (kd_ctx_init(&c, o, "EndpointSlice", err, errlen) == -1)
		return (K8S_DECODE_ERR);
	if ((rc = ks_skip(&c, o, &svc, &v6)) != K8S_DECODE_OK)
		return (rc);
	memset(&tmp, 0, sizeof(tmp));
	rc = K8S_DECODE_ERR;
	if (ks_addrs(&c, o, v6, &ips, &nips) == -1 ||
	    ks_ports(&c, o, ips, nips, &tmp) == -1)
		goto out;
	kd_sort_sets(tmp.sets, tmp.nsets, 1);
	sl = xcalloc(1, sizeof(*sl));
	sl->ns = xstrdup(c.ns);
	sl->name = xstrdup(c.name);
	sl->service = xstrdup(svc);
	sl->trigger_ms = k8s_decode_trigger(o);
	sl->sets = tmp.sets;
	sl->nsets = tmp.nsets;
	tmp.sets = NULL;
	tmp.nsets = 0;
	*out = sl;
	rc = K8S_DECODE_OK;
out:
	for (i = 0; i < nips; i++)
		free(ips[i]);
	free(ips);
	ks_sets_free(tmp.sets, tmp.nsets);
	return (rc);
}

/* Merge the slices of one Service into one Endpoints. */
struct model_endpoints *
k8s_slices_merge(const char *ns, const char *service,
    struct k8s_slice *const *slices, size_t n)
{
	struct model_endpoints	*me;
	struct model_epset	*from, *to;
	size_t			 i, j, k;

	me = xcalloc(1, sizeof(*me));
	me->ns = xstrdup(ns);
	me->name = xstrdup(service);
	for (i = 0; i < n; i++) {
		if (slices[i] == NULL)
			continue;
		if (slices[i]->trigger_ms > me->trigger_ms)
			me->trigger_ms = slices[i]->trigger_ms;
		for (j = 0; j < slices[i]->nsets; j++) {
			from = &slices[i]->sets[j];
			if (from->n == 0)
				continue;
			to = kd_epset(me, from->port_name);
			to->eps = xreallocarray(to->eps, to->n + from->n,
			    sizeof(*to->eps));
			for (k = 0; k < from->n; k++) {
				to->eps[to->n].ip = xstrdup(from->eps[k].ip);
				to->eps[to->n].port = from->eps[k].port;
				to->n++;
			}
		}
	}
	/* An endpoint may be in two slices while the controller moves it. */
	kd_sort_sets(me->sets, me->nsets, 1);
	return (me);
}

/* Free a decoded slice; NULL is ignored. */
void
k8s_slice_free(struct k8s_slice *sl)
{
	if (sl == NULL)
		return;
	free(sl->ns);
	free(sl->name);
	free(sl->service);
	ks_sets_free(sl->sets, sl->nsets);
	free(sl);
}

/* Return a new "ns/name" key. */
static char *
ks_key(const char *ns, const char *name)
{
	char	*k;

	xasprintf(&k, "%s/%s", ns, name);
	return (k);
}

/* Free a ks_group (htab callback); the slices are not its own. */
static void
ks_group_free(void *v)
{
	struct ks_group	*gr = v;

	free(gr->ns);
	free(gr->svc);
	free(gr->v);
	free(gr);
}

/* Free a slice (htab callback). */
static void
ks_slice_free_cb(void *v)
{
	k8s_slice_free(v);
}

/* Return a new empty slice store. */
struct k8s_slices *
k8s_slices_new(void)
{
	struct k8s_slices	*st;

	st = xcalloc(1, sizeof(*st));
	if ((st->byname = htab_new()) == NULL ||
	    (st->bysvc = htab_new()) == NULL)
		fatalx("k8s_slices: out of memory");
	return (st);
}

/* Free a slice store and everything in it. */
void
k8s_slices_free(struct k8s_slices *st)
{
	if (st == NULL)
		return;
	htab_free(st->bysvc, ks_group_free);
	htab_free(st->byname, ks_slice_free_cb);
	free(st);
}

/* Take slice s out of its Service's group. */
static void
ks_group_remove(struct k8s_slices *st, struct k8s_slice *s)
{
	struct ks_group	*gr;
	char		*k = ks_key(s->ns, s->service);
	size_t		 i;

	if ((gr = htab_get(st->bysvc, k, strlen(k))) != NULL) {
		for (i = 0; i < gr->n; i++)
			if (gr->v[i] == s)
				break;
		if (i < gr->n)
			gr->v[i] = gr->v[--gr->n];
		if (gr->n == 0)
			ks_group_free(htab_del(st->bysvc, k, strlen(k)));
	}
	free(k);
}

/* Add slice s to its Service's group. */
static void
ks_group_add(struct k8s_slices *st, struct k8s_slice *s)
{
	struct ks_group	*gr;
	char		*k = ks_key(s->ns, s->service);

	if ((gr = htab_get(st->bysvc, k, strlen(k))) == NULL) {
		gr = xcalloc(1, sizeof(*gr));
		gr->ns = xstrdup(s->ns);
		gr->svc = xstrdup(s->service);
		if (htab_put(st->bysvc, k, strlen(k), gr, NULL) == -1)
			fatalx("k8s_slices: out of memory");
	}
	gr->v = xreallocarray(gr->v, gr->n + 1, sizeof(*gr->v));
	gr->v[gr->n++] = s;
	free(k);
}

/* Hand cb the merged Endpoints of ns/svc, or NULL if it has no slice. */
static void
ks_push(struct k8s_slices *st, const char *ns, const char *svc,
    void (*cb)(void *, const char *, const char *, struct model_endpoints *),
    void *arg)
{
	struct ks_group		*gr;
	char			*k = ks_key(ns, svc);

	gr = htab_get(st->bysvc, k, strlen(k));
	free(k);
	cb(arg, ns, svc, gr == NULL ? NULL :
	    k8s_slices_merge(ns, svc, gr->v, gr->n));
}

/*
 * Store s (NULL: only remove) under ns/name, replacing what was there,
 * then recompute the Service the old slice left and the one s joined.
 */
void
k8s_slices_put(struct k8s_slices *st, const char *ns, const char *name,
    struct k8s_slice *s,
    void (*cb)(void *, const char *, const char *, struct model_endpoints *),
    void *arg)
{
	struct k8s_slice	*old;
	char			*k = ks_key(ns, name), *oldsvc = NULL;

	if ((old = htab_del(st->byname, k, strlen(k))) != NULL) {
		oldsvc = xstrdup(old->service);
		ks_group_remove(st, old);
		k8s_slice_free(old);
	}
	if (s != NULL) {
		if (htab_put(st->byname, k, strlen(k), s, NULL) == -1)
			fatalx("k8s_slices: out of memory");
		ks_group_add(st, s);
	}
	free(k);
	if (cb != NULL && oldsvc != NULL)
		ks_push(st, ns, oldsvc, cb, arg);
	if (cb != NULL && s != NULL &&
	    (oldsvc == NULL || strcmp(oldsvc, s->service) != 0))
		ks_push(st, ns, s->service, cb, arg);
	free(oldsvc);
}

/* Merge every Service's slices of the store. */
struct model_endpoints **
k8s_slices_merge_all(struct k8s_slices *st, size_t *n)
{
	struct model_endpoints	**v;
	struct htab_iter	  it;
	struct ks_group		 *gr;
	void			 *p;

	v = xreallocarray(NULL, htab_count(st->bysvc) + 1, sizeof(*v));
	*n = 0;
	htab_iter_init(st->bysvc, &it);
	while (htab_iter_next(&it, NULL, NULL, &p)) {
		gr = p;
		v[(*n)++] = k8s_slices_merge(gr->ns, gr->svc, gr->v, gr->n);
	}
	return (v);
}
