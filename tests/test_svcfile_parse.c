/*
 * test_svcfile_parse.c: the services file parser, on the fixtures in
 * tests/data and on inline inputs, and the file reader.
 */
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "svcfile_parse.h"
#include "tu.h"

/* Parse a fixture; return svcfile_parse's result. */
static int
parse_fixture(const char *name, struct svcfile_objs *o, char *err,
    size_t errlen)
{
	char	*buf;
	size_t	 len;
	int	 rc;

	CU_ASSERT_FATAL(svcfile_read(tu_data(name), &buf, &len, NULL, err,
	    errlen) == 0);
	rc = svcfile_parse(buf, len, name, o, err, errlen);
	free(buf);
	return (rc);
}

/* Find a parsed Service by ns/name. */
static struct model_service *
find_svc(struct svcfile_objs *o, const char *ns, const char *name)
{
	size_t	i;

	for (i = 0; i < o->nsvcs; i++)
		if (strcmp(o->svcs[i]->ns, ns) == 0 &&
		    strcmp(o->svcs[i]->name, name) == 0)
			return (o->svcs[i]);
	return (NULL);
}

/* Find a parsed Endpoints by ns/name. */
static struct model_endpoints *
find_eps(struct svcfile_objs *o, const char *ns, const char *name)
{
	size_t	i;

	for (i = 0; i < o->neps; i++)
		if (strcmp(o->eps[i]->ns, ns) == 0 &&
		    strcmp(o->eps[i]->name, name) == 0)
			return (o->eps[i]);
	return (NULL);
}

/* A multi-document file: other kinds ignored, SCTP noted. */
static void
test_svcfile_parse_multidoc(void)
{
	struct svcfile_objs		 o;
	struct model_service		*s;
	struct model_endpoints		*e;
	const struct model_epset	*set;
	char				 err[1024];

	CU_ASSERT_FATAL(parse_fixture("svcfile-multidoc.yaml", &o, err,
	    sizeof(err)) == 0);
	CU_ASSERT(o.nsvcs == 2);
	CU_ASSERT(o.neps == 1);
	s = find_svc(&o, "shop", "web");
	CU_ASSERT_FATAL(s != NULL);
	CU_ASSERT(s->line == 3);
	CU_ASSERT_STRING_EQUAL(s->cluster_ip, "10.96.100.1");
	CU_ASSERT_FATAL(s->nports == 2);
	CU_ASSERT(s->ports[0].node_port == 30080);
	CU_ASSERT(s->n_external_ips == 1);
	CU_ASSERT(s->affinity == MODEL_AFFINITY_CLIENTIP);
	CU_ASSERT(s->affinity_ttl == 60);
	s = find_svc(&o, "default", "dns");
	CU_ASSERT_FATAL(s != NULL);
	CU_ASSERT(s->nports == 1 && s->ports[0].proto == IPPROTO_UDP);
	e = find_eps(&o, "shop", "web");
	CU_ASSERT_FATAL(e != NULL);
	set = model_endpoints_port(e, "https");
	CU_ASSERT_FATAL(set != NULL && set->n == 2);
	CU_ASSERT(set->eps[0].port == 8443);
	CU_ASSERT_FATAL(o.nnotes == 1);
	CU_ASSERT(strstr(o.notes[0], "svcfile-multidoc.yaml:61: default/dns: "
	    "spec.ports[1]: SCTP") == o.notes[0]);
	svcfile_objs_free(&o);
	CU_ASSERT(o.svcs == NULL && o.nsvcs == 0);
}

/* "kubectl get svc,ep -o yaml" output, with managedFields and all. */
static void
test_svcfile_parse_kubectl_list(void)
{
	struct svcfile_objs		 o;
	struct model_service		*s;
	struct model_endpoints		*e;
	const struct model_epset	*set;
	char				 err[1024];

	CU_ASSERT_FATAL(parse_fixture("svcfile-list.yaml", &o, err,
	    sizeof(err)) == 0);
	/* db is headless and upstream is ExternalName: both skipped. */
	CU_ASSERT(o.nsvcs == 2);
	CU_ASSERT(o.neps == 2);
	CU_ASSERT(o.nnotes == 2);
	s = find_svc(&o, "default", "kubernetes");
	CU_ASSERT_FATAL(s != NULL);
	CU_ASSERT(s->line == 3);
	CU_ASSERT(s->nports == 1 && s->ports[0].port == 443);
	s = find_svc(&o, "kube-system", "kube-dns");
	CU_ASSERT_FATAL(s != NULL && s->nports == 3);
	CU_ASSERT(s->ports[0].proto == IPPROTO_UDP);
	CU_ASSERT(find_svc(&o, "shop", "db") == NULL);
	e = find_eps(&o, "kube-system", "kube-dns");
	CU_ASSERT_FATAL(e != NULL);
	set = model_endpoints_port(e, "dns");
	CU_ASSERT_FATAL(set != NULL);
	CU_ASSERT(set->n == 2);	/* the not-ready address is left out */
	CU_ASSERT_STRING_EQUAL(set->eps[0].ip, "10.244.0.2");
	CU_ASSERT_STRING_EQUAL(set->eps[1].ip, "10.244.0.4");
	svcfile_objs_free(&o);
}

/* Expect a fixture to be rejected with exactly this error. */
static void
expect_reject(const char *name, const char *msg)
{
	struct svcfile_objs	o;
	char			err[1024];

	CU_ASSERT(parse_fixture(name, &o, err, sizeof(err)) == -1);
	CU_ASSERT(o.nsvcs == 0 && o.svcs == NULL && o.neps == 0);
	CU_ASSERT_STRING_EQUAL(err, msg);
	if (strcmp(err, msg) != 0)
		fprintf(stderr, "\n  got:  %s\n  want: %s\n", err, msg);
}

/* Each kind of bad input is rejected with FILE:LINE. */
static void
test_svcfile_parse_rejects(void)
{
	expect_reject("svcfile-bad-port.yaml", "svcfile-bad-port.yaml:11: "
	    "default/web: spec.ports[1].port: must be between 1 and 65535, "
	    "got 70000");
	expect_reject("svcfile-bad-syntax.yaml", "svcfile-bad-syntax.yaml:5: "
	    "did not find expected key (while parsing a block mapping at "
	    "line 1)");
	expect_reject("svcfile-bad-nokind.yaml", "svcfile-bad-nokind.yaml:6: "
	    "document has no kind");
	expect_reject("svcfile-bad-notmap.yaml", "svcfile-bad-notmap.yaml:8: "
	    "items[1] is not a mapping");
	expect_reject("svcfile-bad-dup.yaml", "svcfile-bad-dup.yaml:8: "
	    "default/web: duplicate Service (first at line 1)");
	expect_reject("svcfile-bad-epip.yaml", "svcfile-bad-epip.yaml:12: "
	    "default/web: subsets[0].addresses[2].ip: not an IP address: "
	    "\"10.0.0.999\"");
}

/* Inline inputs: missing apiVersion, scalar documents, empty files. */
static void
test_svcfile_parse_inline(void)
{
	struct svcfile_objs	 o;
	char			 err[1024];
	const char		*y;

	y = "kind: Service\nmetadata: {name: a}\n";
	CU_ASSERT(svcfile_parse(y, strlen(y), "f", &o, err,
	    sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err, "f:1: document has no apiVersion");
	y = "--- 42\n";
	CU_ASSERT(svcfile_parse(y, strlen(y), "f", &o, err,
	    sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err, "f:1: document is not a mapping");
	y = "# nothing yet\n";
	CU_ASSERT(svcfile_parse(y, strlen(y), "f", &o, err,
	    sizeof(err)) == 0);
	CU_ASSERT(o.nsvcs == 0 && o.neps == 0);
	svcfile_objs_free(&o);
	/* The error line is the bad field's, even deep in a flow map. */
	y = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n"
	    "  clusterIP: 10.0.0.1\n  ports: [{port: 1},\n    {port: 2, "
	    "name: b, protocol: ICMP}]\n";
	CU_ASSERT(svcfile_parse(y, strlen(y), "f", &o, err,
	    sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err, "f:7: default/a: spec.ports[1].protocol: "
	    "unsupported protocol \"ICMP\"");
	/* A missing name points at metadata. */
	y = "apiVersion: v1\nkind: Endpoints\nmetadata:\n  namespace: x\n";
	CU_ASSERT(svcfile_parse(y, strlen(y), "f", &o, err,
	    sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err, "f:4: Endpoints: metadata.name: required");
}

/* svcfile_read refuses what is not a regular file. */
static void
test_svcfile_parse_read_errors(void)
{
	char	*buf, err[256];
	size_t	 len;

	CU_ASSERT(svcfile_read("/nonexistent/x.yaml", &buf, &len, NULL, err,
	    sizeof(err)) == -1);
	CU_ASSERT(strstr(err, "No such file") != NULL);
	CU_ASSERT(svcfile_read("/tmp", &buf, &len, NULL, err,
	    sizeof(err)) == -1);
	CU_ASSERT(strstr(err, "not a regular file") != NULL);
	CU_ASSERT(buf == NULL);
}
static const struct tu_case cases[] = {
	{ "multi-document file", test_svcfile_parse_multidoc },
	{ "kubectl List", test_svcfile_parse_kubectl_list },
	{ "rejected fixtures", test_svcfile_parse_rejects },
	{ "inline inputs", test_svcfile_parse_inline },
	{ "read errors", test_svcfile_parse_read_errors },
	{ NULL, NULL }
};

TU_MAIN("svcfile_parse", cases)
