/*
 * test_k8s_slices.c: EndpointSlice decoding, skips and errors, the merge
 * of a Service's slices, and the store that recomputes the Services a
 * slice change touches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "k8s_decode.h"
#include "k8s_slices.h"
#include "model.h"
#include "tu.h"

/* Decode an EndpointSlice given as JSON text. */
static int
slice(const char *json, struct k8s_slice **out, char *err, size_t errlen)
{
	struct json_object	*o;
	int			 rc;

	o = json_tokener_parse(json);
	CU_ASSERT_FATAL(o != NULL);
	rc = k8s_decode_endpointslice(o, out, err, errlen);
	json_object_put(o);
	return (rc);
}

/* Decode a slice fixture, which must be OK. */
static struct k8s_slice *
load_slice(const char *name)
{
	struct json_object	*o = tu_json(name);
	struct k8s_slice	*sl = NULL;
	char			 err[256];

	CU_ASSERT(k8s_decode_endpointslice(o, &sl, err, sizeof(err)) ==
	    K8S_DECODE_OK);
	json_object_put(o);
	CU_ASSERT_FATAL(sl != NULL);
	return (sl);
}

/* Metadata of slice "ns/sl" for "svc", followed by the given members. */
#define SLICE_HEAD(labels)						\
	"{\"metadata\": {\"name\": \"sl\", \"namespace\": \"ns\", "	\
	"\"labels\": {\"kubernetes.io/service-name\": \"svc\"" labels	\
	"}}, "

/* A v1 slice: ready and not-ready endpoints, sorted sets. */
static void
test_k8s_slices_v1(void)
{
	struct k8s_slice	*sl = load_slice("k8s-slice-v1.json");

	CU_ASSERT_STRING_EQUAL(sl->ns, "shop");
	CU_ASSERT_STRING_EQUAL(sl->name, "web-7xk2p");
	CU_ASSERT_STRING_EQUAL(sl->service, "web");
	/* Sorted by port name: dns before http. */
	CU_ASSERT_FATAL(sl->nsets == 2);
	CU_ASSERT_STRING_EQUAL(sl->sets[0].port_name, "dns");
	CU_ASSERT_STRING_EQUAL(sl->sets[1].port_name, "http");
	/* 10.244.3.9 is not ready; 10.244.2.7 has no conditions at all. */
	CU_ASSERT_FATAL(sl->sets[1].n == 2);
	CU_ASSERT_STRING_EQUAL(sl->sets[1].eps[0].ip, "10.244.1.5");
	CU_ASSERT_STRING_EQUAL(sl->sets[1].eps[1].ip, "10.244.2.7");
	CU_ASSERT(sl->sets[1].eps[0].port == 8080);
	CU_ASSERT(sl->sets[1].eps[1].port == 8080);
	CU_ASSERT_FATAL(sl->sets[0].n == 2);
	CU_ASSERT(sl->sets[0].eps[0].port == 5353);
	k8s_slice_free(sl);
}

/* A v1beta1 slice (topology instead of zone) decodes the same way. */
static void
test_k8s_slices_v1beta1(void)
{
	struct k8s_slice	*sl = load_slice("k8s-slice-v1beta1.json");
	struct k8s_slice	*b;
	char			 err[256];

	CU_ASSERT_STRING_EQUAL(sl->name, "web-q9d4m");
	CU_ASSERT_STRING_EQUAL(sl->service, "web");
	CU_ASSERT_FATAL(sl->nsets == 1 && sl->sets[0].n == 1);
	CU_ASSERT_STRING_EQUAL(sl->sets[0].eps[0].ip, "10.244.0.3");
	CU_ASSERT(sl->sets[0].eps[0].port == 8081);
	k8s_slice_free(sl);
	/* Empty conditions and ready null count as ready. */
	CU_ASSERT_FATAL(slice(SLICE_HEAD("") "\"addressType\": \"IPv4\", "
	    "\"endpoints\": [{\"addresses\": [\"10.0.0.1\"], \"conditions\": "
	    "{}}, {\"addresses\": [\"10.0.0.2\"], \"conditions\": "
	    "{\"ready\": null}}], \"ports\": [{\"port\": 80}]}", &b, err,
	    sizeof(err)) == K8S_DECODE_OK);
	CU_ASSERT_FATAL(b->nsets == 1 && b->sets[0].n == 2);
	CU_ASSERT_STRING_EQUAL(b->sets[0].port_name, "");
	CU_ASSERT_STRING_EQUAL(b->ns, "ns");
	k8s_slice_free(b);
}

/* Skipped slices, null ports, empty and extra addresses, IPv6. */
static void
test_k8s_slices_skips(void)
{
	struct k8s_slice	*sl = (void *)1;
	char			 err[256];

	CU_ASSERT(slice(SLICE_HEAD("") "\"addressType\": \"FQDN\", "
	    "\"endpoints\": [{\"addresses\": [\"a.example\"]}], \"ports\": "
	    "[{\"port\": 80}]}", &sl, err, sizeof(err)) == K8S_DECODE_SKIP);
	CU_ASSERT(sl == NULL);
	CU_ASSERT_STRING_EQUAL(err, "ns/sl: addressType FQDN");
	CU_ASSERT(slice("{\"metadata\": {\"name\": \"sl\", \"labels\": "
	    "{\"app\": \"x\"}}, \"addressType\": \"IPv4\"}", &sl, err,
	    sizeof(err)) == K8S_DECODE_SKIP);
	CU_ASSERT_STRING_EQUAL(err, "default/sl: label "
	    "kubernetes.io/service-name not set");
	CU_ASSERT(slice("{\"metadata\": {\"name\": \"sl\"}, "
	    "\"addressType\": \"IPv4\"}", &sl, err, sizeof(err)) ==
	    K8S_DECODE_SKIP);
	CU_ASSERT(slice(SLICE_HEAD(", \"service.kubernetes.io/"
	    "service-proxy-name\": \"other\"") "\"addressType\": \"IPv4\"}",
	    &sl, err, sizeof(err)) == K8S_DECODE_SKIP);
	CU_ASSERT_STRING_EQUAL(err, "ns/sl: label "
	    "service.kubernetes.io/service-proxy-name set");
	CU_ASSERT(slice(SLICE_HEAD(", \"service.kubernetes.io/headless\": "
	    "\"\"") "\"addressType\": \"IPv4\"}", &sl, err, sizeof(err)) ==
	    K8S_DECODE_SKIP);
	CU_ASSERT(sl == NULL);
	/*
	 * Port null is dropped without error; an endpoint without
	 * addresses is not used; only the first address counts.
	 */
	CU_ASSERT_FATAL(slice(SLICE_HEAD("") "\"addressType\": \"IPv6\", "
	    "\"endpoints\": [{\"addresses\": []}, {}, {\"addresses\": "
	    "[\"FD00:0:0::2\", \"fd00::3\"]}, {\"addresses\": [\"fd00::1\"]}],"
	    " \"ports\": [{\"name\": \"all\", \"port\": null}, {\"name\": "
	    "\"p\", \"port\": 443}, {\"name\": \"q\"}]}", &sl, err,
	    sizeof(err)) == K8S_DECODE_OK);
	CU_ASSERT_STRING_EQUAL(err, "");
	CU_ASSERT_FATAL(sl->nsets == 1 && sl->sets[0].n == 2);
	CU_ASSERT_STRING_EQUAL(sl->sets[0].port_name, "p");
	CU_ASSERT_STRING_EQUAL(sl->sets[0].eps[0].ip, "fd00::1");
	CU_ASSERT_STRING_EQUAL(sl->sets[0].eps[1].ip, "fd00::2");
	CU_ASSERT(sl->sets[0].eps[1].port == 443);
	k8s_slice_free(sl);
	/* No ready endpoint: no sets at all, as for Endpoints. */
	CU_ASSERT_FATAL(slice(SLICE_HEAD("") "\"addressType\": \"IPv4\", "
	    "\"endpoints\": [{\"addresses\": [\"10.0.0.1\"], \"conditions\": "
	    "{\"ready\": false}}], \"ports\": [{\"port\": 80}]}", &sl, err,
	    sizeof(err)) == K8S_DECODE_OK);
	CU_ASSERT(sl->nsets == 0);
	k8s_slice_free(sl);
	k8s_slice_free(NULL);
}

/* Merging: equal to the Endpoints, de-duplicated, order-independent. */
static void
test_k8s_slices_merge(void)
{
	struct k8s_slice	*sl[5], *rev[5];
	struct model_endpoints	*ep, *a, *b;
	struct json_object	*o;
	char			 err[256];
	int			 i;

	sl[0] = load_slice("k8s-slice-v1.json");
	sl[1] = load_slice("k8s-slice-v1beta1.json");
	/* Overlaps sl[0]: 10.244.2.7:8080 and 10.244.1.5:8080 again. */
	CU_ASSERT_FATAL(slice(SLICE_HEAD("") "\"addressType\": \"IPv4\", "
	    "\"endpoints\": [{\"addresses\": [\"10.244.2.7\"]}, "
	    "{\"addresses\": [\"10.244.1.5\"]}], \"ports\": [{\"name\": "
	    "\"http\", \"port\": 8080}]}", &sl[2], err, sizeof(err)) ==
	    K8S_DECODE_OK);
	/* Only not-ready endpoints for "metrics": no set. */
	CU_ASSERT_FATAL(slice(SLICE_HEAD("") "\"addressType\": \"IPv4\", "
	    "\"endpoints\": [{\"addresses\": [\"10.244.4.1\"], \"conditions\": "
	    "{\"ready\": false}}], \"ports\": [{\"name\": \"metrics\", "
	    "\"port\": 9100}]}", &sl[3], err, sizeof(err)) == K8S_DECODE_OK);
	sl[4] = NULL;
	for (i = 0; i < 5; i++)
		rev[i] = sl[4 - i];
	a = k8s_slices_merge("shop", "web", sl, 5);
	b = k8s_slices_merge("shop", "web", rev, 5);
	CU_ASSERT_STRING_EQUAL(a->ns, "shop");
	CU_ASSERT_STRING_EQUAL(a->name, "web");
	CU_ASSERT_FATAL(a->nsets == 2);
	CU_ASSERT_FATAL(a->sets[1].n == 3);
	CU_ASSERT_STRING_EQUAL(a->sets[1].eps[0].ip, "10.244.0.3");
	CU_ASSERT_STRING_EQUAL(a->sets[1].eps[1].ip, "10.244.1.5");
	CU_ASSERT_STRING_EQUAL(a->sets[1].eps[2].ip, "10.244.2.7");
	CU_ASSERT(model_endpoints_equal(a, b));
	/* No slice had a trigger time; then the latest one wins. */
	CU_ASSERT_EQUAL(a->trigger_ms, 0);
	sl[0]->trigger_ms = 5000;
	sl[2]->trigger_ms = 7000;
	model_endpoints_free(b);
	b = k8s_slices_merge("shop", "web", rev, 5);
	CU_ASSERT_EQUAL(b->trigger_ms, 7000);
	CU_ASSERT(model_endpoints_equal(a, b));
	/* The same Service as an Endpoints object decodes equal. */
	o = tu_json("k8s-ep-multi.json");
	CU_ASSERT_FATAL(k8s_decode_endpoints(o, &ep, err, sizeof(err)) ==
	    K8S_DECODE_OK);
	json_object_put(o);
	CU_ASSERT(model_endpoints_equal(a, ep));
	model_endpoints_free(b);
	/* Without the overlapping slice, the result is still equal. */
	b = k8s_slices_merge("shop", "web", sl, 2);
	CU_ASSERT(model_endpoints_equal(b, ep));
	model_endpoints_free(b);
	/* Without the v1beta1 one, http:10.244.0.3 is missing. */
	b = k8s_slices_merge("shop", "web", sl + 2, 2);
	CU_ASSERT(!model_endpoints_equal(b, ep));
	CU_ASSERT(b->nsets == 1 && b->sets[0].n == 2);
	model_endpoints_free(b);
	b = k8s_slices_merge("shop", "web", NULL, 0);
	CU_ASSERT(b->nsets == 0 && b->sets == NULL);
	model_endpoints_free(b);
	model_endpoints_free(ep);
	model_endpoints_free(a);
	for (i = 0; i < 4; i++)
		k8s_slice_free(sl[i]);
}

/* Expect a slice error with exactly this message. */
static void
expect_slice_err(const char *body, const char *msg)
{
	struct k8s_slice	*sl = (void *)1;
	char			 buf[1024], err[256];

	snprintf(buf, sizeof(buf), SLICE_HEAD("") "%s}", body);
	CU_ASSERT(slice(buf, &sl, err, sizeof(err)) == K8S_DECODE_ERR);
	CU_ASSERT(sl == NULL);
	CU_ASSERT_STRING_EQUAL(err, msg);
	if (strcmp(err, msg) != 0)
		fprintf(stderr, "\n  got:  %s\n  want: %s\n", err, msg);
}

#define V4	"\"addressType\": \"IPv4\", "

/* Invalid slice fields are named with their path. */
static void
test_k8s_slices_errors(void)
{
	struct k8s_slice	*sl;
	char			 err[256];

	expect_slice_err(V4 "\"endpoints\": [{\"addresses\": [\"10.0.0.1\"]},"
	    " {\"addresses\": [\"10.0.0.2\"]}, {\"addresses\": [\"10.0.0\"]}],"
	    " \"ports\": [{\"port\": 80}]",
	    "ns/sl: endpoints[2].addresses[0]: not an IP address: "
	    "\"10.0.0\"");
	expect_slice_err(V4 "\"endpoints\": [{\"addresses\": [\"fd00::1\"]}]",
	    "ns/sl: endpoints[0].addresses[0]: not an IPv4 address: "
	    "\"fd00::1\"");
	expect_slice_err("\"addressType\": \"IPv6\", \"endpoints\": "
	    "[{\"addresses\": [\"10.0.0.1\"]}]",
	    "ns/sl: endpoints[0].addresses[0]: not an IPv6 address: "
	    "\"10.0.0.1\"");
	expect_slice_err(V4 "\"endpoints\": [{\"addresses\": [7]}]",
	    "ns/sl: endpoints[0].addresses[0]: must be a string");
	expect_slice_err(V4 "\"endpoints\": [{\"addresses\": \"10.0.0.1\"}]",
	    "ns/sl: endpoints[0].addresses: must be a list");
	expect_slice_err(V4 "\"endpoints\": [{\"addresses\": [\"10.0.0.1\"]},"
	    " {\"addresses\": [\"10.0.0.2\"], \"conditions\": "
	    "{\"ready\": \"yes\"}}]",
	    "ns/sl: endpoints[1].conditions.ready: must be true or false");
	expect_slice_err(V4 "\"endpoints\": [{\"conditions\": []}]",
	    "ns/sl: endpoints[0].conditions: must be a mapping");
	expect_slice_err(V4 "\"endpoints\": [\"10.0.0.1\"]",
	    "ns/sl: endpoints[0]: must be a mapping");
	expect_slice_err(V4 "\"endpoints\": {}",
	    "ns/sl: endpoints: must be a list");
	expect_slice_err(V4 "\"ports\": [{\"port\": 80}, {\"port\": 0}]",
	    "ns/sl: ports[1].port: must be between 1 and 65535, got 0");
	expect_slice_err(V4 "\"ports\": [{\"port\": \"80\"}]",
	    "ns/sl: ports[0].port: must be an integer");
	expect_slice_err(V4 "\"ports\": [{\"port\": 80, \"protocol\": \"X\"}]",
	    "ns/sl: ports[0].protocol: unsupported protocol \"X\"");
	expect_slice_err(V4 "\"ports\": [{\"name\": 5, \"port\": 80}]",
	    "ns/sl: ports[0].name: must be a string");
	expect_slice_err(V4 "\"ports\": [80]",
	    "ns/sl: ports[0]: must be a mapping");
	expect_slice_err(V4 "\"ports\": 80", "ns/sl: ports: must be a list");
	expect_slice_err("\"endpoints\": []", "ns/sl: addressType: required");
	expect_slice_err("\"addressType\": \"IPv5\"",
	    "ns/sl: addressType: unknown address type \"IPv5\"");
	expect_slice_err("\"addressType\": 4",
	    "ns/sl: addressType: must be a string");
	CU_ASSERT(slice("{\"metadata\": {\"labels\": "
	    "{\"kubernetes.io/service-name\": \"svc\"}}}", &sl, err,
	    sizeof(err)) == K8S_DECODE_ERR);
	CU_ASSERT_STRING_EQUAL(err, "EndpointSlice: metadata.name: required");
	/* Names: the Service label a DNS-1123 label, port names too. */
	CU_ASSERT(slice("{\"metadata\": {\"name\": \"sl\", \"namespace\": "
	    "\"ns\", \"labels\": {\"kubernetes.io/service-name\": "
	    "\"a\\\"b\"}}, " V4 "\"endpoints\": []}", &sl, err,
	    sizeof(err)) == K8S_DECODE_ERR);
	CU_ASSERT_STRING_EQUAL(err, "ns/sl: label kubernetes.io/service-name: "
	    "not a DNS-1123 label: \"a\\\"b\"");
	expect_slice_err(V4 "\"ports\": [{\"name\": \"a b\", \"port\": 80}]",
	    "ns/sl: ports[0].name: not a DNS-1123 label (at most 63 of a-z, "
	    "0-9 and '-'): \"a b\"");
	CU_ASSERT(slice("{\"metadata\": {\"name\": \"SL\", \"labels\": "
	    "{\"kubernetes.io/service-name\": \"svc\"}}}", &sl, err,
	    sizeof(err)) == K8S_DECODE_ERR);
	CU_ASSERT(strncmp(err, "EndpointSlice: metadata.name: not a DNS-1123 "
	    "subdomain", 54) == 0);
}

/* What k8s_slices_put reported, in order. */
struct rec {
	char			 svc[8][32];
	struct model_endpoints	*me[8];
	size_t			 n;
};

/* k8s_slices_put callback: record the Service and keep the result. */
static void
rec_cb(void *arg, const char *ns, const char *svc, struct model_endpoints *me)
{
	struct rec	*r = arg;

	CU_ASSERT_STRING_EQUAL(ns, "ns");
	CU_ASSERT_FATAL(r->n < 8);
	snprintf(r->svc[r->n], sizeof(r->svc[r->n]), "%s", svc);
	r->me[r->n++] = me;
}

/* Free what a rec holds and empty it. */
static void
rec_clear(struct rec *r)
{
	size_t	i;

	for (i = 0; i < r->n; i++)
		model_endpoints_free(r->me[i]);
	memset(r, 0, sizeof(*r));
}

/* Decode slice ns/name of Service svc with one ready endpoint ip:80. */
static struct k8s_slice *
mkslice(const char *name, const char *svc, const char *ip)
{
	struct k8s_slice	*sl = NULL;
	char			 buf[512], err[256];

	snprintf(buf, sizeof(buf), "{\"metadata\": {\"name\": \"%s\", "
	    "\"namespace\": \"ns\", \"labels\": "
	    "{\"kubernetes.io/service-name\": \"%s\"}}, "
	    "\"addressType\": \"IPv4\", \"endpoints\": "
	    "[{\"addresses\": [\"%s\"]}], \"ports\": [{\"port\": 80}]}", name,
	    svc, ip);
	CU_ASSERT_FATAL(slice(buf, &sl, err, sizeof(err)) == K8S_DECODE_OK);
	return (sl);
}

/* Return 1 if me holds exactly the IPs given (port 80, sorted). */
static int
has_ips(const struct model_endpoints *me, const char *a, const char *b)
{
	size_t	n = b != NULL ? 2 : 1;

	if (me == NULL || me->nsets != 1 || me->sets[0].n != n)
		return (0);
	if (strcmp(me->sets[0].eps[0].ip, a) != 0 ||
	    me->sets[0].eps[0].port != 80)
		return (0);
	return (b == NULL || strcmp(me->sets[0].eps[1].ip, b) == 0);
}

/* The store recomputes every Service a slice joins or leaves. */
static void
test_k8s_slices_store_put(void)
{
	struct k8s_slices	*st = k8s_slices_new();
	struct rec		 r;

	memset(&r, 0, sizeof(r));
	k8s_slices_put(st, "ns", "a", mkslice("a", "web", "10.0.0.2"), rec_cb,
	    &r);
	CU_ASSERT_FATAL(r.n == 1);
	CU_ASSERT_STRING_EQUAL(r.svc[0], "web");
	CU_ASSERT(has_ips(r.me[0], "10.0.0.2", NULL));
	CU_ASSERT_STRING_EQUAL(r.me[0]->name, "web");
	rec_clear(&r);
	/* A second slice of the same Service: both are merged. */
	k8s_slices_put(st, "ns", "b", mkslice("b", "web", "10.0.0.1"), rec_cb,
	    &r);
	CU_ASSERT_FATAL(r.n == 1);
	CU_ASSERT(has_ips(r.me[0], "10.0.0.1", "10.0.0.2"));
	rec_clear(&r);
	/* Replaced within its Service: that Service once. */
	k8s_slices_put(st, "ns", "b", mkslice("b", "web", "10.0.0.3"), rec_cb,
	    &r);
	CU_ASSERT_FATAL(r.n == 1);
	CU_ASSERT(has_ips(r.me[0], "10.0.0.2", "10.0.0.3"));
	rec_clear(&r);
	/* Moved to another Service: the one it left, then the new one. */
	k8s_slices_put(st, "ns", "a", mkslice("a", "api", "10.0.0.2"), rec_cb,
	    &r);
	CU_ASSERT_FATAL(r.n == 2);
	CU_ASSERT_STRING_EQUAL(r.svc[0], "web");
	CU_ASSERT(has_ips(r.me[0], "10.0.0.3", NULL));
	CU_ASSERT_STRING_EQUAL(r.svc[1], "api");
	CU_ASSERT(has_ips(r.me[1], "10.0.0.2", NULL));
	rec_clear(&r);
	/* The last slice of a Service removed: NULL for it. */
	k8s_slices_put(st, "ns", "b", NULL, rec_cb, &r);
	CU_ASSERT_FATAL(r.n == 1);
	CU_ASSERT_STRING_EQUAL(r.svc[0], "web");
	CU_ASSERT(r.me[0] == NULL);
	rec_clear(&r);
	/* Removing what is not there reports nothing. */
	k8s_slices_put(st, "ns", "b", NULL, rec_cb, &r);
	CU_ASSERT(r.n == 0);
	k8s_slices_free(st);
	k8s_slices_free(NULL);
}

/* Without a callback the store only collects; merge_all merges. */
static void
test_k8s_slices_store_merge_all(void)
{
	struct k8s_slices	 *st = k8s_slices_new();
	struct model_endpoints	**v;
	size_t			  n, i, web = 0, api = 0;

	v = k8s_slices_merge_all(st, &n);
	CU_ASSERT(v != NULL && n == 0);
	free(v);
	k8s_slices_put(st, "ns", "a", mkslice("a", "web", "10.0.0.2"), NULL,
	    NULL);
	k8s_slices_put(st, "ns", "b", mkslice("b", "web", "10.0.0.1"), NULL,
	    NULL);
	k8s_slices_put(st, "ns", "c", mkslice("c", "api", "10.0.0.9"), NULL,
	    NULL);
	/* c moves to web: api has no slice left. */
	k8s_slices_put(st, "ns", "c", mkslice("c", "web", "10.0.0.1"), NULL,
	    NULL);
	v = k8s_slices_merge_all(st, &n);
	CU_ASSERT_FATAL(n == 1);
	for (i = 0; i < n; i++) {
		if (strcmp(v[i]->name, "web") == 0 &&
		    has_ips(v[i], "10.0.0.1", "10.0.0.2"))
			web++;
		if (strcmp(v[i]->name, "api") == 0)
			api++;
		model_endpoints_free(v[i]);
	}
	free(v);
	CU_ASSERT(web == 1 && api == 0);
	k8s_slices_put(st, "ns", "d", mkslice("d", "api", "10.0.0.9"), NULL,
	    NULL);
	v = k8s_slices_merge_all(st, &n);
	CU_ASSERT(n == 2);
	for (i = 0; i < n; i++)
		model_endpoints_free(v[i]);
	free(v);
	k8s_slices_free(st);
}

static const struct tu_case cases[] = {
	{ "endpointslice v1", test_k8s_slices_v1 },
	{ "endpointslice v1beta1", test_k8s_slices_v1beta1 },
	{ "endpointslice skips", test_k8s_slices_skips },
	{ "endpointslice merge", test_k8s_slices_merge },
	{ "endpointslice errors", test_k8s_slices_errors },
	{ "store: Services a change touches", test_k8s_slices_store_put },
	{ "store: merge of every Service", test_k8s_slices_store_merge_all },
	{ NULL, NULL }
};

TU_MAIN("k8s_slices", cases)
