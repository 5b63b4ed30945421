/*
 * test_k8s_decode.c: Service, Endpoints and EndpointSlice decoding, skips
 * and errors.
 */
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "k8s_decode.h"
#include "model.h"
#include "yamljson.h"
#include "tu.h"

/* Load a JSON fixture from tests/data. */
static struct json_object *
load(const char *name)
{
	struct json_object	*o;

	o = json_object_from_file(tu_data(name));
	CU_ASSERT_FATAL(o != NULL);
	return (o);
}

/* Build "ns/s" with the given spec members and decode it. */
static int
svc(const char *spec, struct model_service **out, char *err, size_t errlen)
{
	struct json_object	*o;
	char			 buf[2048];
	int			 rc;

	snprintf(buf, sizeof(buf), "{\"metadata\": {\"name\": \"s\", "
	    "\"namespace\": \"ns\"}, \"spec\": {%s}}", spec);
	o = json_tokener_parse(buf);
	CU_ASSERT_FATAL(o != NULL);
	rc = k8s_decode_service(o, out, err, errlen);
	json_object_put(o);
	return (rc);
}

/* Decode an Endpoints given as JSON text. */
static int
eps(const char *json, struct model_endpoints **out, char *err,
    size_t errlen)
{
	struct json_object	*o;
	int			 rc;

	o = json_tokener_parse(json);
	CU_ASSERT_FATAL(o != NULL);
	rc = k8s_decode_endpoints(o, out, err, errlen);
	json_object_put(o);
	return (rc);
}

/* A ClusterIP Service with TCP and UDP ports. */
static void
test_k8s_decode_clusterip(void)
{
	struct json_object	*o = load("k8s-svc-clusterip.json");
	struct model_service	*ms;
	char			 err[256];

	CU_ASSERT_FATAL(k8s_decode_service(o, &ms, err, sizeof(err)) ==
	    K8S_DECODE_OK);
	CU_ASSERT_STRING_EQUAL(err, "");
	CU_ASSERT_STRING_EQUAL(ms->ns, "shop");
	CU_ASSERT_STRING_EQUAL(ms->name, "web");
	CU_ASSERT_STRING_EQUAL(ms->cluster_ip, "10.96.12.34");
	CU_ASSERT_FATAL(ms->nports == 2);
	CU_ASSERT_STRING_EQUAL(ms->ports[0].name, "http");
	CU_ASSERT(ms->ports[0].proto == IPPROTO_TCP);
	CU_ASSERT(ms->ports[0].port == 80);
	CU_ASSERT(ms->ports[0].node_port == 0);
	CU_ASSERT_STRING_EQUAL(ms->ports[1].name, "dns");
	CU_ASSERT(ms->ports[1].proto == IPPROTO_UDP);
	CU_ASSERT(ms->ports[1].port == 53);
	CU_ASSERT(ms->n_external_ips == 0 && ms->n_lb_ips == 0);
	CU_ASSERT(ms->affinity == MODEL_AFFINITY_NONE);
	CU_ASSERT(ms->affinity_ttl == 10800);
	CU_ASSERT(ms->line == 0);
	model_service_free(ms);
	json_object_put(o);
}

/* NodePort with externalIPs (v4 and v6) and ClientIP with a timeout. */
static void
test_k8s_decode_nodeport(void)
{
	struct json_object	*o = load("k8s-svc-nodeport.json");
	struct model_service	*ms;
	char			 err[256];

	CU_ASSERT_FATAL(k8s_decode_service(o, &ms, err, sizeof(err)) ==
	    K8S_DECODE_OK);
	CU_ASSERT_STRING_EQUAL(ms->ns, "default");
	CU_ASSERT_FATAL(ms->nports == 1);
	CU_ASSERT_STRING_EQUAL(ms->ports[0].name, "");
	CU_ASSERT(ms->ports[0].proto == IPPROTO_TCP);
	CU_ASSERT(ms->ports[0].port == 8080);
	CU_ASSERT(ms->ports[0].node_port == 30080);
	CU_ASSERT_FATAL(ms->n_external_ips == 2);
	CU_ASSERT_STRING_EQUAL(ms->external_ips[0], "192.0.2.10");
	CU_ASSERT_STRING_EQUAL(ms->external_ips[1], "2001:db8::10");
	CU_ASSERT(ms->affinity == MODEL_AFFINITY_CLIENTIP);
	CU_ASSERT(ms->affinity_ttl == 600);
	model_service_free(ms);
	json_object_put(o);
}

/* LoadBalancer: ingress IPs, hostname-only skipped, SCTP dropped. */
static void
test_k8s_decode_loadbalancer(void)
{
	struct json_object	*o = load("k8s-svc-lb.json");
	struct model_service	*ms;
	char			 err[256];

	CU_ASSERT_FATAL(k8s_decode_service(o, &ms, err, sizeof(err)) ==
	    K8S_DECODE_OK);
	CU_ASSERT(strstr(err, "infra/edge: spec.ports[1]: SCTP") == err);
	CU_ASSERT_FATAL(ms->nports == 2);
	CU_ASSERT_STRING_EQUAL(ms->ports[0].name, "https");
	CU_ASSERT_STRING_EQUAL(ms->ports[1].name, "quic");
	CU_ASSERT(ms->ports[1].proto == IPPROTO_UDP);
	CU_ASSERT(ms->ports[1].node_port == 31443);
	CU_ASSERT_FATAL(ms->n_lb_ips == 2);
	CU_ASSERT_STRING_EQUAL(ms->lb_ips[0], "203.0.113.5");
	CU_ASSERT_STRING_EQUAL(ms->lb_ips[1], "2001:db8::5");
	/* ClientIP without a config gets the default timeout. */
	CU_ASSERT(ms->affinity == MODEL_AFFINITY_CLIENTIP);
	CU_ASSERT(ms->affinity_ttl == 10800);
	model_service_free(ms);
	json_object_put(o);
}

/* An IPv6 cluster IP is canonicalised. */
static void
test_k8s_decode_ipv6(void)
{
	struct json_object	*o = load("k8s-svc-ipv6.json");
	struct model_service	*ms;
	char			 err[256];

	CU_ASSERT_FATAL(k8s_decode_service(o, &ms, err, sizeof(err)) ==
	    K8S_DECODE_OK);
	CU_ASSERT_STRING_EQUAL(ms->cluster_ip, "fd00:10:96::1");
	CU_ASSERT(ms->nports == 1 && ms->ports[0].port == 80);
	model_service_free(ms);
	json_object_put(o);
}

/* A Service decoded from YAML remembers its line. */
static void
test_k8s_decode_yaml_line(void)
{
	struct json_object	**d;
	struct model_service	 *ms;
	char			  err[256];
	size_t			  n;
	const char		 *y =
	    "# c\n\nkind: Service\nmetadata: {name: a}\n"
	    "spec:\n  clusterIP: 10.0.0.1\n  ports:\n  - port: 80\n";

	CU_ASSERT_FATAL(yamljson_parse(y, strlen(y), &d, &n, err,
	    sizeof(err)) == 0 && n == 1);
	CU_ASSERT_FATAL(k8s_decode_service(d[0], &ms, err, sizeof(err)) ==
	    K8S_DECODE_OK);
	CU_ASSERT(ms->line == 3);
	CU_ASSERT_STRING_EQUAL(ms->ns, "default");
	model_service_free(ms);
	yamljson_free(d, n);
}

/* No ports is fine. */
static void
test_k8s_decode_no_ports(void)
{
	struct model_service	*ms;
	char			 err[256];

	CU_ASSERT_FATAL(svc("\"clusterIP\": \"10.0.0.1\"", &ms, err,
	    sizeof(err)) == K8S_DECODE_OK);
	CU_ASSERT(ms->nports == 0);
	model_service_free(ms);
}

/* Each reason kube-proxy has to ignore a Service. */
static void
test_k8s_decode_skips(void)
{
	struct model_service	*ms = (void *)1;
	struct json_object	*o;
	char			 err[256];

	CU_ASSERT(svc("\"clusterIP\": \"None\", \"ports\": [{\"port\": 80}]",
	    &ms, err, sizeof(err)) == K8S_DECODE_SKIP);
	CU_ASSERT(ms == NULL);
	CU_ASSERT(strstr(err, "ns/s: headless") == err);
	CU_ASSERT(svc("\"clusterIP\": \"\"", &ms, err, sizeof(err)) ==
	    K8S_DECODE_SKIP);
	CU_ASSERT(svc("\"ports\": [{\"port\": 80}]", &ms, err, sizeof(err)) ==
	    K8S_DECODE_SKIP);
	/* ExternalName is skipped before its (absent) cluster IP matters. */
	CU_ASSERT(svc("\"type\": \"ExternalName\", \"externalName\": "
	    "\"db.example.com\", \"clusterIP\": \"bogus\"", &ms, err,
	    sizeof(err)) == K8S_DECODE_SKIP);
	CU_ASSERT(strstr(err, "ExternalName") != NULL);
	o = json_tokener_parse("{\"metadata\": {\"name\": \"s\", \"labels\": "
	    "{\"service.kubernetes.io/service-proxy-name\": \"other\"}}, "
	    "\"spec\": {\"clusterIP\": \"10.0.0.1\"}}");
	CU_ASSERT(k8s_decode_service(o, &ms, err, sizeof(err)) ==
	    K8S_DECODE_SKIP);
	CU_ASSERT(strstr(err, "service-proxy-name") != NULL);
	json_object_put(o);
	o = json_tokener_parse("{\"metadata\": {\"name\": \"s\", \"labels\": "
	    "{\"service.kubernetes.io/headless\": \"\"}}, "
	    "\"spec\": {\"clusterIP\": \"10.0.0.1\"}}");
	CU_ASSERT(k8s_decode_service(o, &ms, err, sizeof(err)) ==
	    K8S_DECODE_SKIP);
	CU_ASSERT(strstr(err, "default/s: label service.kubernetes.io/"
	    "headless") == err);
	json_object_put(o);
}

/* Expect an error with exactly this message. */
static void
expect_err(const char *spec, const char *msg)
{
	struct model_service	*ms = (void *)1;
	char			 err[256];

	CU_ASSERT(svc(spec, &ms, err, sizeof(err)) == K8S_DECODE_ERR);
	CU_ASSERT(ms == NULL);
	CU_ASSERT_STRING_EQUAL(err, msg);
	if (strcmp(err, msg) != 0)
		fprintf(stderr, "\n  got:  %s\n  want: %s\n", err, msg);
}

#define CIP	"\"clusterIP\": \"10.0.0.1\", "

/* Every invalid field is named in the error. */
static void
test_k8s_decode_errors(void)
{
	expect_err(CIP "\"ports\": [{\"port\": 80}, {\"port\": 70000}]",
	    "ns/s: spec.ports[1].port: must be between 1 and 65535, got "
	    "70000");
	expect_err(CIP "\"ports\": [{\"port\": 0}]",
	    "ns/s: spec.ports[0].port: must be between 1 and 65535, got 0");
	expect_err(CIP "\"ports\": [{\"port\": \"80\"}]",
	    "ns/s: spec.ports[0].port: must be an integer");
	expect_err(CIP "\"ports\": [{\"name\": \"x\"}]",
	    "ns/s: spec.ports[0].port: required");
	expect_err(CIP "\"ports\": [{\"port\": 80, \"protocol\": \"ICMP\"}]",
	    "ns/s: spec.ports[0].protocol: unsupported protocol \"ICMP\"");
	expect_err(CIP "\"ports\": [{\"port\": 80, \"nodePort\": 65536}]",
	    "ns/s: spec.ports[0].nodePort: must be between 0 and 65535, "
	    "got 65536");
	expect_err(CIP "\"ports\": [{\"name\": \"http\", \"port\": 80}, "
	    "{\"name\": \"http\", \"port\": 81, \"protocol\": \"UDP\"}]",
	    "ns/s: spec.ports[1].name: duplicate port name \"http\"");
	expect_err(CIP "\"ports\": [{\"port\": 80}, {\"port\": 81}]",
	    "ns/s: spec.ports[1].name: duplicate port name \"\"");
	expect_err(CIP "\"ports\": {\"port\": 80}",
	    "ns/s: spec.ports: must be a list");
	expect_err(CIP "\"ports\": [80]",
	    "ns/s: spec.ports[0]: must be a mapping");
	expect_err("\"clusterIP\": \"10.0.0.300\"",
	    "ns/s: spec.clusterIP: not an IP address: \"10.0.0.300\"");
	expect_err("\"clusterIP\": 5",
	    "ns/s: spec.clusterIP: must be a string");
	expect_err(CIP "\"externalIPs\": [\"1.2.3.4\", \"example.com\"]",
	    "ns/s: spec.externalIPs[1]: not an IP address: \"example.com\"");
	expect_err(CIP "\"sessionAffinity\": \"Cookie\"",
	    "ns/s: spec.sessionAffinity: must be None or ClientIP, got "
	    "\"Cookie\"");
	expect_err(CIP "\"sessionAffinity\": \"ClientIP\", "
	    "\"sessionAffinityConfig\": {\"clientIP\": "
	    "{\"timeoutSeconds\": 86401}}",
	    "ns/s: spec.sessionAffinityConfig.clientIP.timeoutSeconds: must "
	    "be between 1 and 86400, got 86401");
	expect_err(CIP "\"sessionAffinityConfig\": {\"clientIP\": "
	    "{\"timeoutSeconds\": 0}}",
	    "ns/s: spec.sessionAffinityConfig.clientIP.timeoutSeconds: must "
	    "be between 1 and 86400, got 0");
	expect_err(CIP "\"type\": \"Magic\"",
	    "ns/s: spec.type: unknown type \"Magic\"");
}

/* Errors outside spec: metadata and status. */
static void
test_k8s_decode_errors_meta(void)
{
	struct model_service	*ms;
	struct json_object	*o;
	char			 err[256];

	o = json_tokener_parse("{\"metadata\": {\"namespace\": \"x\"}, "
	    "\"spec\": {\"clusterIP\": \"10.0.0.1\"}}");
	CU_ASSERT(k8s_decode_service(o, &ms, err, sizeof(err)) ==
	    K8S_DECODE_ERR);
	CU_ASSERT_STRING_EQUAL(err, "Service: metadata.name: required");
	json_object_put(o);
	o = json_tokener_parse("{\"metadata\": {\"name\": \"a\"}, "
	    "\"spec\": {\"clusterIP\": \"10.0.0.1\"}, \"status\": "
	    "{\"loadBalancer\": {\"ingress\": [{\"ip\": \"1.2.3\"}]}}}");
	CU_ASSERT(k8s_decode_service(o, &ms, err, sizeof(err)) ==
	    K8S_DECODE_ERR);
	CU_ASSERT_STRING_EQUAL(err, "default/a: status.loadBalancer."
	    "ingress[0].ip: not an IP address: \"1.2.3\"");
	json_object_put(o);
	o = json_tokener_parse("[1]");
	CU_ASSERT(k8s_decode_service(o, &ms, err, sizeof(err)) ==
	    K8S_DECODE_ERR);
	json_object_put(o);
}

/* Endpoints: subsets merged by port name, notReady ignored, sorted. */
static void
test_k8s_decode_endpoints(void)
{
	struct json_object		*o = load("k8s-ep-multi.json");
	struct model_endpoints		*me;
	const struct model_epset	*s;
	char				 err[256];

	CU_ASSERT_FATAL(k8s_decode_endpoints(o, &me, err, sizeof(err)) ==
	    K8S_DECODE_OK);
	CU_ASSERT_STRING_EQUAL(me->ns, "shop");
	CU_ASSERT_STRING_EQUAL(me->name, "web");
	/* "metrics" has only not-ready addresses: no set. */
	CU_ASSERT(me->nsets == 2);
	CU_ASSERT(model_endpoints_port(me, "metrics") == NULL);
	s = model_endpoints_port(me, "http");
	CU_ASSERT_FATAL(s != NULL && s->n == 3);
	CU_ASSERT_STRING_EQUAL(s->eps[0].ip, "10.244.0.3");
	CU_ASSERT(s->eps[0].port == 8081);
	CU_ASSERT_STRING_EQUAL(s->eps[1].ip, "10.244.1.5");
	CU_ASSERT(s->eps[1].port == 8080);
	CU_ASSERT_STRING_EQUAL(s->eps[2].ip, "10.244.2.7");
	s = model_endpoints_port(me, "dns");
	CU_ASSERT_FATAL(s != NULL && s->n == 2);
	CU_ASSERT(s->eps[0].port == 5353 && s->eps[1].port == 5353);
	model_endpoints_free(me);
	json_object_put(o);
}

/* Equal content in another order decodes to an equal object. */
static void
test_k8s_decode_endpoints_order(void)
{
	struct model_endpoints	*a, *b;
	char			 err[256];

	CU_ASSERT_FATAL(eps("{\"metadata\": {\"name\": \"e\"}, \"subsets\": "
	    "[{\"addresses\": [{\"ip\": \"10.0.0.2\"}, {\"ip\": \"10.0.0.1\"}],"
	    " \"ports\": [{\"port\": 80}, {\"name\": \"b\", \"port\": 81}]}]}",
	    &a, err, sizeof(err)) == K8S_DECODE_OK);
	CU_ASSERT_FATAL(eps("{\"metadata\": {\"name\": \"e\"}, \"subsets\": "
	    "[{\"addresses\": [{\"ip\": \"10.0.0.1\"}], \"ports\": "
	    "[{\"name\": \"b\", \"port\": 81}, {\"port\": 80}]}, "
	    "{\"addresses\": [{\"ip\": \"10.0.0.2\"}], \"ports\": "
	    "[{\"port\": 80, \"name\": \"\"}, {\"name\": \"b\", "
	    "\"port\": 81}]}]}", &b, err, sizeof(err)) == K8S_DECODE_OK);
	CU_ASSERT(model_endpoints_equal(a, b));
	CU_ASSERT_STRING_EQUAL(a->ns, "default");
	CU_ASSERT(a->nsets == 2 && a->sets[0].n == 2);
	model_endpoints_free(a);
	model_endpoints_free(b);
	/* No subsets at all is an empty object, not an error. */
	CU_ASSERT_FATAL(eps("{\"metadata\": {\"name\": \"e\"}}", &a, err,
	    sizeof(err)) == K8S_DECODE_OK);
	CU_ASSERT(a->nsets == 0);
	model_endpoints_free(a);
}

/* Expect an Endpoints error with exactly this message. */
static void
expect_ep_err(const char *subsets, const char *msg)
{
	struct model_endpoints	*me = (void *)1;
	char			 buf[1024], err[256];

	snprintf(buf, sizeof(buf), "{\"metadata\": {\"name\": \"e\", "
	    "\"namespace\": \"ns\"}, \"subsets\": %s}", subsets);
	CU_ASSERT(eps(buf, &me, err, sizeof(err)) == K8S_DECODE_ERR);
	CU_ASSERT(me == NULL);
	CU_ASSERT_STRING_EQUAL(err, msg);
	if (strcmp(err, msg) != 0)
		fprintf(stderr, "\n  got:  %s\n  want: %s\n", err, msg);
}

/* Invalid Endpoints fields are named with their path. */
static void
test_k8s_decode_endpoints_errors(void)
{
	expect_ep_err("[{\"addresses\": [{\"ip\": \"10.0.0.1\"}, "
	    "{\"ip\": \"10.0.0.2\"}, {\"ip\": \"10.0.0\"}], "
	    "\"ports\": [{\"port\": 80}]}]",
	    "ns/e: subsets[0].addresses[2].ip: not an IP address: "
	    "\"10.0.0\"");
	expect_ep_err("[{}, {\"addresses\": [{\"hostname\": \"x\"}]}]",
	    "ns/e: subsets[1].addresses[0].ip: required");
	expect_ep_err("[{\"addresses\": [{\"ip\": \"10.0.0.1\"}], "
	    "\"ports\": [{\"port\": 80}, {\"port\": 0}]}]",
	    "ns/e: subsets[0].ports[1].port: must be between 1 and 65535, "
	    "got 0");
	expect_ep_err("[{\"ports\": [{\"port\": 80, \"protocol\": \"X\"}]}]",
	    "ns/e: subsets[0].ports[0].protocol: unsupported protocol "
	    "\"X\"");
	expect_ep_err("{}", "ns/e: subsets: must be a list");
	expect_ep_err("[7]", "ns/e: subsets[0]: must be a mapping");
}

/* k8s_decode_meta defaults the namespace and needs a name. */
static void
test_k8s_decode_meta(void)
{
	struct json_object	*o;
	const char		*ns, *name;

	o = json_tokener_parse("{\"metadata\": {\"name\": \"n\"}}");
	CU_ASSERT(k8s_decode_meta(o, &ns, &name) == 0);
	CU_ASSERT_STRING_EQUAL(ns, "default");
	CU_ASSERT_STRING_EQUAL(name, "n");
	json_object_put(o);
	o = json_tokener_parse("{\"metadata\": {\"namespace\": \"x\"}}");
	CU_ASSERT(k8s_decode_meta(o, &ns, &name) == -1);
	json_object_put(o);
}

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
	struct json_object	*o = load(name);
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
test_k8s_decode_slice_v1(void)
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
test_k8s_decode_slice_v1beta1(void)
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
test_k8s_decode_slice_skips(void)
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
test_k8s_decode_slice_merge(void)
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
	/* The same Service as an Endpoints object decodes equal. */
	o = load("k8s-ep-multi.json");
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
test_k8s_decode_slice_errors(void)
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
}

static const struct tu_case cases[] = {
	{ "ClusterIP service", test_k8s_decode_clusterip },
	{ "NodePort, externalIPs, ClientIP", test_k8s_decode_nodeport },
	{ "LoadBalancer and SCTP", test_k8s_decode_loadbalancer },
	{ "IPv6 cluster IP", test_k8s_decode_ipv6 },
	{ "line from YAML", test_k8s_decode_yaml_line },
	{ "no ports", test_k8s_decode_no_ports },
	{ "skipped services", test_k8s_decode_skips },
	{ "service field errors", test_k8s_decode_errors },
	{ "metadata and status errors", test_k8s_decode_errors_meta },
	{ "endpoints", test_k8s_decode_endpoints },
	{ "endpoints order", test_k8s_decode_endpoints_order },
	{ "endpoints errors", test_k8s_decode_endpoints_errors },
	{ "metadata", test_k8s_decode_meta },
	{ "endpointslice v1", test_k8s_decode_slice_v1 },
	{ "endpointslice v1beta1", test_k8s_decode_slice_v1beta1 },
	{ "endpointslice skips", test_k8s_decode_slice_skips },
	{ "endpointslice merge", test_k8s_decode_slice_merge },
	{ "endpointslice errors", test_k8s_decode_slice_errors },
	{ NULL, NULL }
};

TU_MAIN("k8s_decode", cases)
