/*
 * test_k8s_decode.c: Service and Endpoints decoding, skips and errors
 * (EndpointSlices: test_k8s_slices.c).
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
	struct json_object	*o = tu_json("k8s-svc-clusterip.json");
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
	struct json_object	*o = tu_json("k8s-svc-nodeport.json");
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
	struct json_object	*o = tu_json("k8s-svc-lb.json");
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
	struct json_object	*o = tu_json("k8s-svc-ipv6.json");
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

/* Decode a Service named ns/name (any bytes) with one port; rc. */
static int
svc_named(const char *ns, const char *name, const char *port_name,
    struct model_service **ms, char *err, size_t errlen)
{
	struct json_object	*o, *meta, *spec, *ports, *p;
	int			 rc;

	o = json_object_new_object();
	meta = json_object_new_object();
	spec = json_object_new_object();
	ports = json_object_new_array();
	p = json_object_new_object();
	json_object_object_add(meta, "namespace", json_object_new_string(ns));
	json_object_object_add(meta, "name", json_object_new_string(name));
	json_object_object_add(p, "name", json_object_new_string(port_name));
	json_object_object_add(p, "port", json_object_new_int(80));
	json_object_array_add(ports, p);
	json_object_object_add(spec, "clusterIP",
	    json_object_new_string("10.0.0.1"));
	json_object_object_add(spec, "ports", ports);
	json_object_object_add(o, "metadata", meta);
	json_object_object_add(o, "spec", spec);
	rc = k8s_decode_service(o, ms, err, errlen);
	json_object_put(o);
	return (rc);
}

/* A string of n copies of c after prefix. */
static char *
repeat(const char *prefix, int c, size_t n)
{
	size_t	 plen = strlen(prefix);
	char	*s = malloc(plen + n + 1);

	CU_ASSERT_FATAL(s != NULL);
	memcpy(s, prefix, plen);
	memset(s + plen, c, n);
	s[plen + n] = '\0';
	return (s);
}

/*
 * Names at Kubernetes' limits are taken (a 63-character namespace,
 * Service name and port name; a 253-character Endpoints name); one
 * character more (but for a subdomain's labels, which the API server
 * lets pass 63), an upper-case letter, a Service name starting with a
 * digit, or a quote or newline (which would end an iptables comment
 * and start a rule of its own in the restore input) is an error naming
 * the field, the bad value quoted so it cannot forge a log line.
 */
static void
test_k8s_decode_names(void)
{
	struct model_service	*ms;
	struct model_endpoints	*me;
	struct json_object	*o;
	char			 err[512], buf[1024];
	char			*ns63, *ns64, *n63, *n64, *p63;
	char			*e253, *e254;

	ns63 = repeat("n", 'a', 62);
	ns64 = repeat("n", 'a', 63);
	n63 = repeat("s", 'b', 62);
	n64 = repeat("s", 'b', 63);
	p63 = repeat("p", 'c', 62);
	CU_ASSERT_EQUAL_FATAL(svc_named(ns63, n63, p63, &ms, err,
	    sizeof(err)), K8S_DECODE_OK);
	CU_ASSERT_STRING_EQUAL(ms->ns, ns63);
	CU_ASSERT_STRING_EQUAL(ms->name, n63);
	CU_ASSERT_STRING_EQUAL(ms->ports[0].name, p63);
	model_service_free(ms);

	CU_ASSERT_EQUAL(svc_named(ns64, "s", "", &ms, err, sizeof(err)),
	    K8S_DECODE_ERR);
	snprintf(buf, sizeof(buf), "Service: metadata.namespace: not a "
	    "DNS-1123 label (at most 63 of a-z, 0-9 and '-'): \"%s\"", ns64);
	CU_ASSERT_STRING_EQUAL(err, buf);
	CU_ASSERT_EQUAL(svc_named("ns", n64, "", &ms, err, sizeof(err)),
	    K8S_DECODE_ERR);
	CU_ASSERT(strncmp(err, "Service: metadata.name: not a DNS-1035 "
	    "label (at most 63 of a-z, 0-9 and '-', a letter first): ",
	    95) == 0);
	CU_ASSERT_EQUAL(svc_named("ns", "1abc", "", &ms, err, sizeof(err)),
	    K8S_DECODE_ERR);
	CU_ASSERT(strstr(err, "metadata.name: not a DNS-1035") != NULL);
	CU_ASSERT_EQUAL(svc_named("ns", "Web", "", &ms, err, sizeof(err)),
	    K8S_DECODE_ERR);
	CU_ASSERT_EQUAL(svc_named("ns", "web-", "", &ms, err, sizeof(err)),
	    K8S_DECODE_ERR);
	CU_ASSERT_EQUAL(svc_named("kube_system", "web", "", &ms, err,
	    sizeof(err)), K8S_DECODE_ERR);
	/* An injection attempt: refused, quoted, on one line. */
	CU_ASSERT_EQUAL(svc_named("ns", "a\" -j ACCEPT\n-A INPUT -j DROP\n#",
	    "", &ms, err, sizeof(err)), K8S_DECODE_ERR);
	CU_ASSERT(strstr(err, "\"a\\\" -j ACCEPT\\x0a-A INPUT -j DROP\\x0a#\"")
	    != NULL);
	CU_ASSERT(strchr(err, '\n') == NULL);
	CU_ASSERT_EQUAL(svc_named("ns", "web", "h\"ttp", &ms, err,
	    sizeof(err)), K8S_DECODE_ERR);
	CU_ASSERT_STRING_EQUAL(err, "ns/web: spec.ports[0].name: not a "
	    "DNS-1123 label (at most 63 of a-z, 0-9 and '-'): \"h\\\"ttp\"");
	CU_ASSERT_EQUAL(svc_named("ns", "web", "http x", &ms, err,
	    sizeof(err)), K8S_DECODE_ERR);
	CU_ASSERT_EQUAL(svc_named("ns", "web", p63, &ms, err, sizeof(err)),
	    K8S_DECODE_OK);
	model_service_free(ms);
	free(p63);
	p63 = repeat("p", 'c', 63);
	CU_ASSERT_EQUAL(svc_named("ns", "web", p63, &ms, err, sizeof(err)),
	    K8S_DECODE_ERR);

	/* Endpoints: a DNS-1123 subdomain, 253 at most. */
	e253 = repeat("", 'e', 253);
	e253[63] = e253[127] = e253[191] = '.';
	e254 = repeat("x", 'e', 253);
	e254[64] = e254[128] = e254[192] = '.';
	snprintf(buf, sizeof(buf), "{\"metadata\": {\"name\": \"%s\", "
	    "\"namespace\": \"%s\"}, \"subsets\": [{\"addresses\": [{\"ip\": "
	    "\"10.0.0.1\"}], \"ports\": [{\"name\": \"%s\", \"port\": 80}]}]}",
	    e253, ns63, "http");
	CU_ASSERT_EQUAL(eps(buf, &me, err, sizeof(err)), K8S_DECODE_OK);
	if (me != NULL) {
		CU_ASSERT_STRING_EQUAL(me->name, e253);
		model_endpoints_free(me);
	}
	snprintf(buf, sizeof(buf), "{\"metadata\": {\"name\": \"%s\"}, "
	    "\"subsets\": []}", e254);
	CU_ASSERT_EQUAL(eps(buf, &me, err, sizeof(err)), K8S_DECODE_ERR);
	CU_ASSERT(strncmp(err, "Endpoints: metadata.name: not a DNS-1123 "
	    "subdomain (at most 253", 63) == 0);
	/* Cut at 70 characters in the message. */
	CU_ASSERT(strlen(err) < 200 && strstr(err, "...\"") != NULL);
	CU_ASSERT_EQUAL(eps("{\"metadata\": {\"name\": \"e..x\"}}", &me, err,
	    sizeof(err)), K8S_DECODE_ERR);
	CU_ASSERT_EQUAL(eps("{\"metadata\": {\"name\": \"e.-x\"}}", &me, err,
	    sizeof(err)), K8S_DECODE_ERR);
	/* A subdomain's labels may pass 63, as the API server allows. */
	snprintf(buf, sizeof(buf), "{\"metadata\": {\"name\": \"%s-x.y\"}}",
	    n64);
	CU_ASSERT_EQUAL(eps(buf, &me, err, sizeof(err)), K8S_DECODE_OK);
	if (me != NULL)
		model_endpoints_free(me);
	CU_ASSERT_EQUAL(eps("{\"metadata\": {\"name\": \"e\"}, \"subsets\": "
	    "[{\"ports\": [{\"name\": \"A\", \"port\": 1}]}]}", &me, err,
	    sizeof(err)), K8S_DECODE_ERR);
	CU_ASSERT_STRING_EQUAL(err, "default/e: subsets[0].ports[0].name: not "
	    "a DNS-1123 label (at most 63 of a-z, 0-9 and '-'): \"A\"");
	/* Values in other messages are quoted the same way. */
	o = json_tokener_parse("{\"metadata\": {\"name\": \"s\"}, \"spec\": "
	    "{\"clusterIP\": \"10.0.0.1\\n-A X\", "
	    "\"ports\": [{\"port\": 1}]}}");
	CU_ASSERT_FATAL(o != NULL);
	CU_ASSERT_EQUAL(k8s_decode_service(o, &ms, err, sizeof(err)),
	    K8S_DECODE_ERR);
	CU_ASSERT_STRING_EQUAL(err, "default/s: spec.clusterIP: not an IP "
	    "address: \"10.0.0.1\\x0a-A X\"");
	json_object_put(o);
	free(ns63);
	free(ns64);
	free(n63);
	free(n64);
	free(p63);
	free(e253);
	free(e254);
}

/*
 * 10,000 endpoints in one Endpoints object (and 10,000 ports' worth of
 * addresses in one subset) decode whole, sorted, none lost.
 */
static void
test_k8s_decode_10k_endpoints(void)
{
	struct model_endpoints	*me;
	struct json_object	*o, *meta, *subsets, *sub, *addrs, *ports, *p;
	char			 ip[32], err[256];
	size_t			 i;
	int			 sorted = 1;

	o = json_object_new_object();
	meta = json_object_new_object();
	json_object_object_add(meta, "name", json_object_new_string("big"));
	json_object_object_add(o, "metadata", meta);
	subsets = json_object_new_array();
	sub = json_object_new_object();
	addrs = json_object_new_array();
	/* In reverse order: the decoder sorts. */
	for (i = 10000; i-- > 0;) {
		snprintf(ip, sizeof(ip), "10.%zu.%zu.%zu", i >> 16,
		    (i >> 8) & 255, i & 255);
		p = json_object_new_object();
		json_object_object_add(p, "ip", json_object_new_string(ip));
		json_object_array_add(addrs, p);
	}
	json_object_object_add(sub, "addresses", addrs);
	ports = json_object_new_array();
	p = json_object_new_object();
	json_object_object_add(p, "name", json_object_new_string("p"));
	json_object_object_add(p, "port", json_object_new_int(8080));
	json_object_array_add(ports, p);
	json_object_object_add(sub, "ports", ports);
	json_object_array_add(subsets, sub);
	json_object_object_add(o, "subsets", subsets);

	CU_ASSERT_EQUAL_FATAL(k8s_decode_endpoints(o, &me, err, sizeof(err)),
	    K8S_DECODE_OK);
	CU_ASSERT_FATAL(me->nsets == 1);
	CU_ASSERT_EQUAL(me->sets[0].n, 10000);
	for (i = 1; i < me->sets[0].n; i++)
		if (strcmp(me->sets[0].eps[i - 1].ip, me->sets[0].eps[i].ip) >=
		    0)
			sorted = 0;
	CU_ASSERT(sorted);
	model_endpoints_free(me);
	json_object_put(o);
}

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
	/* The same port or nodePort twice, as the API server refuses. */
	expect_err(CIP "\"ports\": [{\"name\": \"a\", \"port\": 80}, "
	    "{\"name\": \"b\", \"port\": 80, \"protocol\": \"TCP\"}]",
	    "ns/s: spec.ports[1].port: duplicate port 80/TCP (spec.ports[0])");
	expect_err(CIP "\"type\": \"NodePort\", \"ports\": [{\"name\": "
	    "\"a\", \"port\": 80, \"nodePort\": 30080}, {\"name\": \"b\", "
	    "\"port\": 81, \"nodePort\": 30080}]",
	    "ns/s: spec.ports[1].nodePort: duplicate nodePort 30080/TCP "
	    "(spec.ports[0])");
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
	struct json_object		*o = tu_json("k8s-ep-multi.json");
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

/* Return the trigger time of an object with annotation value v. */
static uint64_t
kd_trigger(const char *v)
{
	struct json_object	*o;
	char			 buf[512];
	uint64_t		 ms;

	snprintf(buf, sizeof(buf), "{\"metadata\": {\"name\": \"a\", "
	    "\"annotations\": {\"endpoints.kubernetes.io/"
	    "last-change-trigger-time\": \"%s\"}}}", v);
	o = json_tokener_parse(buf);
	ms = k8s_decode_trigger(o);
	json_object_put(o);
	return (ms);
}

/* The last-change-trigger-time annotation, as the controllers write it. */
static void
test_k8s_decode_trigger(void)
{
	struct json_object	*o;
	struct model_endpoints	*me;
	char			 err[256];

	CU_ASSERT_EQUAL(kd_trigger("2021-01-02T03:04:05Z"), 1609556645000ULL);
	CU_ASSERT_EQUAL(kd_trigger("2021-01-02T03:04:05.25Z"),
	    1609556645250ULL);
	CU_ASSERT_EQUAL(kd_trigger("2021-01-02T03:04:05.123456789Z"),
	    1609556645123ULL);
	CU_ASSERT_EQUAL(kd_trigger("2021-01-02T04:04:05+01:00"),
	    1609556645000ULL);
	CU_ASSERT_EQUAL(kd_trigger("2021-01-02T02:34:05-00:30"),
	    1609556645000ULL);
	CU_ASSERT_EQUAL(kd_trigger("2021-01-02 03:04:05"), 0);
	CU_ASSERT_EQUAL(kd_trigger("2021-01-02T03:04:05Zjunk"), 0);
	CU_ASSERT_EQUAL(kd_trigger("yesterday"), 0);
	o = json_tokener_parse("{\"metadata\": {\"name\": \"a\"}}");
	CU_ASSERT_EQUAL(k8s_decode_trigger(o), 0);
	json_object_put(o);
	/* Carried by a decoded Endpoints. */
	o = json_tokener_parse("{\"metadata\": {\"name\": \"a\", "
	    "\"annotations\": {\"endpoints.kubernetes.io/"
	    "last-change-trigger-time\": \"2021-01-02T03:04:05Z\"}}}");
	CU_ASSERT_FATAL(k8s_decode_endpoints(o, &me, err, sizeof(err)) ==
	    K8S_DECODE_OK);
	CU_ASSERT_EQUAL(me->trigger_ms, 1609556645000ULL);
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

static const struct tu_case cases[] = {
	{ "last-change-trigger-time", test_k8s_decode_trigger },
	{ "ClusterIP service", test_k8s_decode_clusterip },
	{ "NodePort, externalIPs, ClientIP", test_k8s_decode_nodeport },
	{ "LoadBalancer and SCTP", test_k8s_decode_loadbalancer },
	{ "IPv6 cluster IP", test_k8s_decode_ipv6 },
	{ "line from YAML", test_k8s_decode_yaml_line },
	{ "no ports", test_k8s_decode_no_ports },
	{ "skipped services", test_k8s_decode_skips },
	{ "service field errors", test_k8s_decode_errors },
	{ "names at the limits, injection", test_k8s_decode_names },
	{ "10,000 endpoints", test_k8s_decode_10k_endpoints },
	{ "metadata and status errors", test_k8s_decode_errors_meta },
	{ "endpoints", test_k8s_decode_endpoints },
	{ "endpoints order", test_k8s_decode_endpoints_order },
	{ "endpoints errors", test_k8s_decode_endpoints_errors },
	{ "metadata", test_k8s_decode_meta },
	{ NULL, NULL }
};

TU_MAIN("k8s_decode", cases)
