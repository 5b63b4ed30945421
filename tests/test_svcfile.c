/*
 * test_svcfile.c: services file parsing (fixtures in tests/data), the
 * document cache and its iterator, and the live watch on a temporary
 * directory.
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "model.h"
#include "svcfile.h"
#include "svcfile_cache.h"
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
test_svcfile_multidoc(void)
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
test_svcfile_kubectl_list(void)
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
test_svcfile_rejects(void)
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
test_svcfile_inline(void)
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

/* Append s to the string in buf of size len. */
static void
cat(char *buf, size_t len, const char *s)
{
	size_t	n = strlen(buf);

	CU_ASSERT_FATAL(n + strlen(s) < len);
	memcpy(buf + n, s, strlen(s) + 1);
}

/* Append Service si (cluster IP 10.0.0.ip), with Endpoints if ep. */
static void
diff_doc(char *buf, size_t len, int si, int ip, int ep)
{
	char	d[512];

	snprintf(d, sizeof(d), "---\napiVersion: v1\nkind: Service\n"
	    "metadata:\n  name: s%d\nspec:\n  clusterIP: 10.0.0.%d\n"
	    "  ports:\n  - port: 80\n", si, ip);
	cat(buf, len, d);
	if (!ep)
		return;
	snprintf(d, sizeof(d), "---\napiVersion: v1\nkind: Endpoints\n"
	    "metadata: {name: s%d}\nsubsets:\n- addresses: [{ip: 10.1.0.%d}]"
	    "\n  ports: [{port: 8080}]\n", si, ip);
	cat(buf, len, d);
}

/* What the batches of an iteration held. */
struct staged {
	size_t	 calls;		/* batches */
	size_t	 nsvcs;		/* Services in them */
	size_t	 maxbatch;
	size_t	 ends;		/* iterations that gave a batch */
	int	 seen[2000];	/* per Service s<i>: times staged */
	int	 bad_name;
	int	 last;		/* the last s<i> staged, -1 if none */
	int	 out_of_order;
};

/* Record one batch. */
static void
staged_batch(struct staged *st, const struct model_service *const *svcs,
    size_t n)
{
	size_t	 i;
	int	 k;

	st->calls++;
	st->nsvcs += n;
	if (n > st->maxbatch)
		st->maxbatch = n;
	for (i = 0; i < n; i++) {
		if (sscanf(svcs[i]->name, "s%d", &k) != 1 || k < 0 ||
		    k >= 2000)
			st->bad_name = 1;
		else {
			st->seen[k]++;
			if (k <= st->last)
				st->out_of_order = 1;
			st->last = k;
		}
	}
}

/*
 * Parse f through the cache as the watcher does: every batch recorded
 * in st, then finish (or abort after -1).  Returns what finish returns.
 */
static int
stage_parse(struct svcfile_cache *c, const char *f, struct svcfile_diff *d,
    char *err, size_t errlen, struct staged *st)
{
	struct svcfile_diff_iter		 *it;
	const struct model_service *const	 *svcs;
	size_t					  n;
	int					  rc, any = 0;

	st->last = -1;
	it = svcfile_diff_begin(c, f, strlen(f), "f");
	while ((rc = svcfile_diff_next(it, &svcs, &n, err, errlen)) == 1) {
		CU_ASSERT(svcs != NULL && n > 0);
		staged_batch(st, svcs, n);
		any = 1;
	}
	CU_ASSERT(svcs == NULL && n == 0);
	if (rc == 0)
		rc = svcfile_diff_finish(it, d, err, errlen);
	else
		svcfile_diff_abort(it);
	if (any)
		st->ends++;
	return (rc);
}

/*
 * Parse f through the cache into the model (staging into st, if not
 * NULL); then the model must hold exactly what a whole parse of f gives.
 * Returns the diff's size.
 */
static size_t
diff_apply(struct svcfile_cache *c, struct model *m, const char *f,
    struct staged *st)
{
	struct svcfile_diff	 d;
	struct svcfile_objs	 o;
	char			 err[1024];
	size_t			 i, n;
	const struct model_endpoints *me;

	if (st != NULL) {
		CU_ASSERT_FATAL(stage_parse(c, f, &d, err, sizeof(err),
		    st) == 0);
	} else {
		CU_ASSERT_FATAL(svcfile_parse_diff(f, strlen(f), "f", c, &d,
		    err, sizeof(err)) == 0);
	}
	n = d.objs.nsvcs + d.objs.neps + d.ngone_svcs + d.ngone_eps;
	svcfile_diff_apply(&d, m);
	CU_ASSERT_FATAL(svcfile_parse(f, strlen(f), "f", &o, err,
	    sizeof(err)) == 0);
	CU_ASSERT_EQUAL(model_nservices(m), o.nsvcs);
	for (i = 0; i < o.nsvcs; i++)
		CU_ASSERT(model_service_equal(model_get_service(m,
		    o.svcs[i]->ns, o.svcs[i]->name), o.svcs[i]));
	for (i = 0; i < o.neps; i++) {
		me = model_get_endpoints(m, o.eps[i]->ns, o.eps[i]->name);
		CU_ASSERT(me != NULL && model_endpoints_equal(me, o.eps[i]));
	}
	svcfile_objs_free(&o);
	return (n);
}

/*
 * Staging: a file with SVCFILE_STAGE_MIN or more new documents hands
 * their Services out in batches while it is parsed, taken or rejected;
 * a small change is not staged; nothing reaches the model before the
 * whole file is good.
 */
static void
test_svcfile_stage(void)
{
	struct svcfile_cache	*c = svcfile_cache_new();
	struct svcfile_diff	 d;
	struct staged		 st;
	struct model		*m = model_new();
	size_t			 len = 1100 * 400;
	char			*f = calloc(1, len), err[1024];
	int			 i;

	CU_ASSERT_FATAL(f != NULL);
	memset(&st, 0, sizeof(st));
	/* 600 Services with Endpoints: 1200 new documents. */
	for (i = 0; i < 600; i++)
		diff_doc(f, len, i, i % 250 + 1, 1);
	CU_ASSERT_EQUAL(diff_apply(c, m, f, &st), 1200);
	CU_ASSERT_EQUAL(st.calls, 2);
	CU_ASSERT_EQUAL(st.maxbatch, SVCFILE_STAGE_BATCH);
	CU_ASSERT_EQUAL(st.nsvcs, 600);
	CU_ASSERT_EQUAL(st.ends, 1);
	CU_ASSERT_EQUAL(st.bad_name, 0);
	for (i = 0; i < 600; i++)
		CU_ASSERT_EQUAL(st.seen[i], 1);

	/* One changed Service (and its Endpoints): not staged at all. */
	memset(&st, 0, sizeof(st));
	f[0] = '\0';
	for (i = 0; i < 600; i++)
		diff_doc(f, len, i, i == 7 ? 251 : i % 250 + 1, 1);
	CU_ASSERT_EQUAL(diff_apply(c, m, f, &st), 2);
	CU_ASSERT_EQUAL(st.calls + st.ends, 0);

	/*
	 * 1100 Services without Endpoints, the last one bad: the full
	 * batches were staged, then the end; the file is rejected and
	 * the model is as it was.
	 */
	memset(&st, 0, sizeof(st));
	f[0] = '\0';
	for (i = 0; i < 1099; i++)
		diff_doc(f, len, i, i % 250 + 2, 0);	/* all new texts */
	cat(f, len, "---\napiVersion: v1\nkind: Service\nmetadata:\n"
	    "  name: s1099\nspec:\n  clusterIP: 10.0.0.1\n  ports:\n"
	    "  - port: 70000\n");
	CU_ASSERT_EQUAL(stage_parse(c, f, &d, err, sizeof(err), &st), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "70000"));
	CU_ASSERT_EQUAL(st.nsvcs, 2 * SVCFILE_STAGE_BATCH);
	CU_ASSERT_EQUAL(st.ends, 1);
	CU_ASSERT_EQUAL(model_nservices(m), 600);

	/* Without the iterator: the same file parses, nothing is staged. */
	memset(&st, 0, sizeof(st));
	f[0] = '\0';
	for (i = 0; i < 1100; i++)
		diff_doc(f, len, i, i % 250 + 3, 0);	/* all new texts */
	CU_ASSERT(diff_apply(c, m, f, NULL) > 1024);
	CU_ASSERT_EQUAL(model_nservices(m), 1100);
	CU_ASSERT_EQUAL(st.calls + st.ends, 0);
	free(f);
	model_free(m);
	svcfile_cache_free(c);
}

/* Append a List document of Services s<first>..s<first + n - 1>. */
static void
list_doc(char *buf, size_t len, int first, int n)
{
	char	d[256];
	int	i;

	cat(buf, len, "---\napiVersion: v1\nkind: List\nitems:\n");
	for (i = first; i < first + n; i++) {
		snprintf(d, sizeof(d), "- apiVersion: v1\n  kind: Service\n"
		    "  metadata: {name: s%d}\n  spec: {clusterIP: 10.0.0.%d, "
		    "ports: [{port: 80}]}\n", i, i % 250 + 1);
		cat(buf, len, d);
	}
}

/* Return the number of objects in a diff and free it. */
static size_t
diff_size(struct svcfile_diff *d)
{
	size_t	n;

	n = d->objs.nsvcs + d->objs.neps + d->ngone_svcs + d->ngone_eps;
	svcfile_diff_free(d);
	return (n);
}

/*
 * The iterator hands out batches of SVCFILE_STAGE_BATCH, in file order,
 * each Service once, even across a document (a List) bigger than a
 * batch; then 0 until finish, which takes the file.
 */
static void
test_svcfile_iter_batches(void)
{
	struct svcfile_cache			 *c = svcfile_cache_new();
	struct svcfile_diff_iter		 *it;
	struct svcfile_diff			  d;
	const struct model_service *const	 *svcs;
	struct staged				  st;
	size_t					  len = 1700 * 200, n;
	size_t					  sizes[8], nb = 0;
	char					 *f = calloc(1, len), err[1024];
	int					  i, rc;

	CU_ASSERT_FATAL(f != NULL);
	memset(&st, 0, sizeof(st));
	st.last = -1;
	/* 1023 Services, then a List of 600: 1024 new documents. */
	for (i = 0; i < 1023; i++)
		diff_doc(f, len, i, i % 250 + 1, 0);
	list_doc(f, len, 1023, 600);
	it = svcfile_diff_begin(c, f, strlen(f), "f");
	while ((rc = svcfile_diff_next(it, &svcs, &n, err,
	    sizeof(err))) == 1) {
		CU_ASSERT_FATAL(nb < 8);
		sizes[nb++] = n;
		staged_batch(&st, svcs, n);
	}
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_FATAL(nb == 4);
	CU_ASSERT_EQUAL(sizes[0], SVCFILE_STAGE_BATCH);
	CU_ASSERT_EQUAL(sizes[1], SVCFILE_STAGE_BATCH);
	CU_ASSERT_EQUAL(sizes[2], SVCFILE_STAGE_BATCH);
	CU_ASSERT_EQUAL(sizes[3], 1623 - 3 * SVCFILE_STAGE_BATCH);
	CU_ASSERT_EQUAL(st.bad_name + st.out_of_order, 0);
	for (i = 0; i < 1623; i++)
		CU_ASSERT_EQUAL(st.seen[i], 1);
	/* Done: 0 again, and nothing handed out. */
	CU_ASSERT_EQUAL(svcfile_diff_next(it, &svcs, &n, err, sizeof(err)),
	    0);
	CU_ASSERT(svcs == NULL && n == 0);
	CU_ASSERT_EQUAL(svcfile_diff_finish(it, &d, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(d.objs.nsvcs, 1623);
	CU_ASSERT_EQUAL(d.total_svcs, 1623);
	CU_ASSERT_EQUAL(diff_size(&d), 1623);
	/* The same file again: no batch, no change. */
	memset(&st, 0, sizeof(st));
	CU_ASSERT_EQUAL(stage_parse(c, f, &d, err, sizeof(err), &st), 0);
	CU_ASSERT_EQUAL(st.calls, 0);
	CU_ASSERT_EQUAL(diff_size(&d), 0);
	free(f);
	svcfile_cache_free(c);
}

/*
 * Below SVCFILE_STAGE_MIN new documents there is no batch: a small
 * change, or a first file of 1023 documents.
 */
static void
test_svcfile_iter_small(void)
{
	struct svcfile_cache			 *c = svcfile_cache_new();
	struct svcfile_diff_iter		 *it;
	struct svcfile_diff			  d;
	const struct model_service *const	 *svcs;
	size_t					  len = 1100 * 200, n;
	char					 *f = calloc(1, len), err[1024];
	int					  i;

	CU_ASSERT_FATAL(f != NULL);
	for (i = 0; i < SVCFILE_STAGE_MIN - 1; i++)
		diff_doc(f, len, i, i % 250 + 1, 0);
	it = svcfile_diff_begin(c, f, strlen(f), "f");
	CU_ASSERT_EQUAL(svcfile_diff_next(it, &svcs, &n, err, sizeof(err)),
	    0);
	CU_ASSERT(svcs == NULL && n == 0);
	CU_ASSERT_EQUAL(svcfile_diff_finish(it, &d, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(diff_size(&d), SVCFILE_STAGE_MIN - 1);
	/* One more Service at the end, one changed: two documents. */
	f[0] = '\0';
	for (i = 0; i < SVCFILE_STAGE_MIN; i++)
		diff_doc(f, len, i, i == 5 ? 251 : i % 250 + 1, 0);
	it = svcfile_diff_begin(c, f, strlen(f), "f");
	CU_ASSERT_EQUAL(svcfile_diff_next(it, &svcs, &n, err, sizeof(err)),
	    0);
	CU_ASSERT(svcs == NULL && n == 0);
	CU_ASSERT_EQUAL(svcfile_diff_finish(it, &d, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(d.total_svcs, SVCFILE_STAGE_MIN);
	CU_ASSERT_EQUAL(diff_size(&d), 2);
	free(f);
	svcfile_cache_free(c);
}

/*
 * Expect a parse of f through c to give nb batches of nsvcs Services in
 * all, then -1 with svcfile_parse's error, which is want, again on the
 * next call and from finish.
 */
static void
expect_iter_reject(struct svcfile_cache *c, const char *f, size_t nb,
    size_t nsvcs, const char *want)
{
	struct svcfile_diff_iter		 *it;
	struct svcfile_diff			  d;
	struct svcfile_objs			  o;
	const struct model_service *const	 *svcs;
	struct staged				  st;
	char					  err[1024], err2[1024];
	size_t					  n;
	int					  rc;

	memset(&st, 0, sizeof(st));
	st.last = -1;
	it = svcfile_diff_begin(c, f, strlen(f), "f");
	while ((rc = svcfile_diff_next(it, &svcs, &n, err,
	    sizeof(err))) == 1)
		staged_batch(&st, svcs, n);
	CU_ASSERT_EQUAL(rc, -1);
	CU_ASSERT(svcs == NULL && n == 0);
	CU_ASSERT_EQUAL(st.calls, nb);
	CU_ASSERT_EQUAL(st.nsvcs, nsvcs);
	CU_ASSERT_STRING_EQUAL(err, want);
	CU_ASSERT_EQUAL(svcfile_parse(f, strlen(f), "f", &o, err2,
	    sizeof(err2)), -1);
	CU_ASSERT_STRING_EQUAL(err2, err);
	CU_ASSERT_EQUAL(svcfile_diff_next(it, &svcs, &n, err2,
	    sizeof(err2)), -1);
	CU_ASSERT_STRING_EQUAL(err2, err);
	memset(err2, 0, sizeof(err2));
	memset(&d, 0xff, sizeof(d));
	CU_ASSERT_EQUAL(svcfile_diff_finish(it, &d, err2, sizeof(err2)), -1);
	CU_ASSERT_STRING_EQUAL(err2, err);
	CU_ASSERT(d.objs.nsvcs == 0 && d.objs.svcs == NULL &&
	    d.ngone_svcs == 0 && d.total_svcs == 0);
}

/*
 * A rejected file gives its batches, then -1, and leaves the cache as
 * it was: the last good file parses again with no change.  Both a bad
 * field (while parsing) and a duplicate across documents (found once
 * every document is parsed, after the last batch) are rejected so.
 */
static void
test_svcfile_iter_reject(void)
{
	struct svcfile_cache	*c = svcfile_cache_new();
	struct svcfile_diff	 d;
	size_t			 len = 1200 * 200;
	char			*good = calloc(1, len), *f = calloc(1, len);
	char			 err[1024];
	int			 i;

	CU_ASSERT_FATAL(good != NULL && f != NULL);
	for (i = 0; i < 20; i++)
		diff_doc(good, len, i, i + 1, i < 10);
	CU_ASSERT_EQUAL(svcfile_parse_diff(good, strlen(good), "f", c, &d,
	    err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(diff_size(&d), 30);

	/* 1100 new documents, the last one bad. */
	for (i = 0; i < 1099; i++)
		diff_doc(f, len, i, i % 250 + 2, 0);
	cat(f, len, "---\napiVersion: v1\nkind: Service\nmetadata:\n"
	    "  name: s1099\nspec:\n  clusterIP: 10.0.0.1\n  ports:\n"
	    "  - port: 70000\n");
	expect_iter_reject(c, f, 2, 2 * SVCFILE_STAGE_BATCH, "f:9900: "
	    "default/s1099: spec.ports[0].port: must be between 1 and 65535, "
	    "got 70000");
	CU_ASSERT_EQUAL(svcfile_parse_diff(good, strlen(good), "f", c, &d,
	    err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(d.total_svcs, 20);
	CU_ASSERT_EQUAL(d.total_eps, 10);
	CU_ASSERT_EQUAL(diff_size(&d), 0);

	/* 1100 new documents, s7 twice with two texts. */
	f[0] = '\0';
	for (i = 0; i < 1099; i++)
		diff_doc(f, len, i, i % 250 + 2, 0);
	diff_doc(f, len, 7, 3, 0);
	expect_iter_reject(c, f, 3, 1100, "f:9893: default/s7: duplicate "
	    "Service (first at line 65)");
	CU_ASSERT_EQUAL(svcfile_parse_diff(good, strlen(good), "f", c, &d,
	    err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(diff_size(&d), 0);
	free(good);
	free(f);
	svcfile_cache_free(c);
}

/*
 * Abort at any point frees everything parsed (ASan checks) and leaves
 * the cache as it was.
 */
static void
test_svcfile_iter_abort(void)
{
	struct svcfile_cache			 *c = svcfile_cache_new();
	struct svcfile_diff_iter		 *it;
	struct svcfile_diff			  d;
	const struct model_service *const	 *svcs;
	size_t					  len = 1200 * 200, n;
	char					 *f = calloc(1, len), err[1024];
	int					  i;

	CU_ASSERT_FATAL(f != NULL);
	for (i = 0; i < 5; i++)
		diff_doc(f, len, i, i + 1, 1);
	CU_ASSERT_EQUAL(svcfile_parse_diff(f, strlen(f), "f", c, &d, err,
	    sizeof(err)), 0);
	CU_ASSERT_EQUAL(diff_size(&d), 10);
	/* Right after begin, after one batch, once the file is good. */
	f[0] = '\0';
	for (i = 0; i < 1100; i++)
		diff_doc(f, len, i, i % 250 + 2, 0);
	svcfile_diff_abort(svcfile_diff_begin(c, f, strlen(f), "f"));
	it = svcfile_diff_begin(c, f, strlen(f), "f");
	CU_ASSERT_EQUAL(svcfile_diff_next(it, &svcs, &n, err, sizeof(err)),
	    1);
	CU_ASSERT_EQUAL(n, SVCFILE_STAGE_BATCH);
	svcfile_diff_abort(it);
	it = svcfile_diff_begin(c, f, strlen(f), "f");
	while (svcfile_diff_next(it, &svcs, &n, err, sizeof(err)) == 1)
		;
	svcfile_diff_abort(it);
	svcfile_diff_abort(NULL);
	/* The cache still has the first file only. */
	f[0] = '\0';
	for (i = 0; i < 5; i++)
		diff_doc(f, len, i, i + 1, 1);
	CU_ASSERT_EQUAL(svcfile_parse_diff(f, strlen(f), "f", c, &d, err,
	    sizeof(err)), 0);
	CU_ASSERT_EQUAL(d.total_svcs, 5);
	CU_ASSERT_EQUAL(diff_size(&d), 0);
	/* Finish with no next at all: the whole file, no batch. */
	f[0] = '\0';
	for (i = 0; i < 1100; i++)
		diff_doc(f, len, i, i % 250 + 2, 0);
	it = svcfile_diff_begin(c, f, strlen(f), "f");
	CU_ASSERT_EQUAL(svcfile_diff_finish(it, &d, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(d.ngone_eps, 5);
	CU_ASSERT_EQUAL(diff_size(&d), 1100 + 5);
	free(f);
	svcfile_cache_free(c);
}

/*
 * The document cache: only changed documents are parsed and handed to
 * the model, and the model ends up as a whole parse would leave it.
 */
static void
test_svcfile_diff(void)
{
	struct svcfile_cache	*c = svcfile_cache_new();
	struct svcfile_diff	 d;
	struct model		*m = model_new();
	char			 f[8192], err[1024];
	int			 i;

	/* Ten Services, five with Endpoints: everything is new. */
	f[0] = '\0';
	for (i = 0; i < 10; i++)
		diff_doc(f, sizeof(f), i, i + 1, i < 5);
	CU_ASSERT_EQUAL(diff_apply(c, m, f, NULL), 15);
	/* The same file again: nothing. */
	CU_ASSERT_EQUAL(diff_apply(c, m, f, NULL), 0);
	/* A comment on top, s3 changed: two objects, at their new lines. */
	snprintf(f, sizeof(f), "# top\n");
	for (i = 0; i < 10; i++)
		diff_doc(f, sizeof(f), i, i == 3 ? 99 : i + 1, i < 5);
	CU_ASSERT_FATAL(svcfile_parse_diff(f, strlen(f), "f", c, &d, err,
	    sizeof(err)) == 0);
	CU_ASSERT_FATAL(d.objs.nsvcs == 1 && d.objs.neps == 1);
	CU_ASSERT_EQUAL(d.ngone_svcs + d.ngone_eps, 0);
	CU_ASSERT_STRING_EQUAL(d.objs.svcs[0]->cluster_ip, "10.0.0.99");
	/* "# top", 3 x (9 + 7) lines, then "---" and apiVersion. */
	CU_ASSERT_EQUAL(d.objs.svcs[0]->line, 1 + 3 * 16 + 2);
	CU_ASSERT_EQUAL(d.objs.eps[0]->line, 1 + 3 * 16 + 9 + 2);
	CU_ASSERT_EQUAL(d.total_svcs, 10);
	CU_ASSERT_EQUAL(d.total_eps, 5);
	svcfile_diff_apply(&d, m);
	CU_ASSERT_STRING_EQUAL(model_get_service(m, "default",
	    "s3")->cluster_ip, "10.0.0.99");
	/* Service 7 and Endpoints 2 gone. */
	f[0] = '\0';
	for (i = 0; i < 10; i++)
		if (i != 7)
			diff_doc(f, sizeof(f), i, i == 3 ? 99 : i + 1,
			    i < 5 && i != 2);
	CU_ASSERT_EQUAL(diff_apply(c, m, f, NULL), 2);
	CU_ASSERT(model_get_service(m, "default", "s7") == NULL);
	CU_ASSERT(model_get_endpoints(m, "default", "s2") == NULL);
	/* A duplicate is refused with both lines; the model stays. */
	diff_doc(f, sizeof(f), 1, 1, 0);
	CU_ASSERT(svcfile_parse_diff(f, strlen(f), "f", c, &d, err,
	    sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err, "f:111: default/s1: duplicate Service "
	    "(first at line 18)");
	/* So is a repeated document, and a bad field names its line. */
	f[0] = '\0';
	diff_doc(f, sizeof(f), 0, 1, 0);
	diff_doc(f, sizeof(f), 0, 1, 0);
	CU_ASSERT(svcfile_parse_diff(f, strlen(f), "f", c, &d, err,
	    sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err, "f:11: default/s0: duplicate Service "
	    "(first at line 2)");
	f[0] = '\0';
	diff_doc(f, sizeof(f), 0, 1, 0);
	diff_doc(f, sizeof(f), 1, 999, 0);
	CU_ASSERT(svcfile_parse_diff(f, strlen(f), "f", c, &d, err,
	    sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err, "f:16: default/s1: spec.clusterIP: "
	    "not an IP address: \"10.0.0.999\"");
	snprintf(f, sizeof(f), "---\n# c\n---\na: [\n");
	CU_ASSERT(svcfile_parse_diff(f, strlen(f), "f", c, &d, err,
	    sizeof(err)) == -1);
	CU_ASSERT_EQUAL(strncmp(err, "f:5: ", 5), 0);
	CU_ASSERT_EQUAL(model_nservices(m), 9);
	/* A Service moved into another document, with a change. */
	f[0] = '\0';
	for (i = 0; i < 10; i++)
		if (i != 7 && i != 5)
			diff_doc(f, sizeof(f), i, i == 3 ? 99 : i + 1,
			    i < 5 && i != 2);
	cat(f, sizeof(f), "---\napiVersion: v1\nkind: List\nitems:\n"
	    "- apiVersion: v1\n  kind: Service\n  metadata: {name: s5}\n"
	    "  spec: {clusterIP: 10.0.0.55, ports: [{port: 80}]}\n");
	CU_ASSERT_EQUAL(diff_apply(c, m, f, NULL), 1);
	CU_ASSERT_STRING_EQUAL(model_get_service(m, "default",
	    "s5")->cluster_ip, "10.0.0.55");
	/* A "%YAML" directive: the file is one piece, still right. */
	snprintf(f, sizeof(f), "%%YAML 1.1\n");
	diff_doc(f, sizeof(f), 1, 1, 1);
	CU_ASSERT_EQUAL(diff_apply(c, m, f, NULL), 9 + 4);
	/* Empty file: everything gone. */
	CU_ASSERT_EQUAL(diff_apply(c, m, "", NULL), 2);
	CU_ASSERT_EQUAL(model_nservices(m), 0);
	CU_ASSERT(model_get_endpoints(m, "default", "s1") == NULL);
	model_free(m);
	svcfile_cache_free(c);
}

/* svcfile_read refuses what is not a regular file. */
static void
test_svcfile_read_errors(void)
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

/* The live test's observer. */
struct live {
	struct event_base	*base;
	struct model		*model;
	int			 svc_calls;
	int			 ep_calls;
	const char		*want_ip;	/* stop when web has this IP */
};

/* Count a services_changed call. */
static void
live_services(void *arg)
{
	((struct live *)arg)->svc_calls++;
}

/* Count an endpoints_changed call. */
static void
live_endpoints(void *arg, const char *ns, const char *name)
{
	((struct live *)arg)->ep_calls++;
}

/* Return 1 if the model's default/web has the wanted cluster IP. */
static int
live_done(struct live *l)
{
	const struct model_service	*s;

	s = model_get_service(l->model, "default", "web");
	return (s != NULL && l->want_ip != NULL &&
	    strcmp(s->cluster_ip, l->want_ip) == 0);
}

/* Check the condition every 20 ms; stop the loop when it holds. */
static void
live_tick(evutil_socket_t fd, short what, void *arg)
{
	struct live	*l = arg;

	if (live_done(l))
		event_base_loopbreak(l->base);
}

/* Run the loop until live_done or ms milliseconds passed. */
static int
live_run(struct live *l, int ms)
{
	struct event	*tick;
	struct timeval	 tv = { 0, 20000 }, lim;

	lim.tv_sec = ms / 1000;
	lim.tv_usec = (ms % 1000) * 1000;
	tick = event_new(l->base, -1, EV_PERSIST, live_tick, l);
	event_add(tick, &tv);
	event_base_loopexit(l->base, &lim);
	event_base_dispatch(l->base);
	event_free(tick);
	return (live_done(l));
}

/* Write content to path via a temporary file and rename(). */
static void
write_rename(const char *dir, const char *path, const char *content)
{
	char	tmp[512];
	FILE	*f;

	snprintf(tmp, sizeof(tmp), "%s/.tmp-services", dir);
	f = fopen(tmp, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs(content, f);
	CU_ASSERT_FATAL(fclose(f) == 0);
	CU_ASSERT_FATAL(rename(tmp, path) == 0);
}

/* Overwrite path in place. */
static void
write_inplace(const char *path, const char *content)
{
	FILE	*f = fopen(path, "w");

	CU_ASSERT_FATAL(f != NULL);
	fputs(content, f);
	CU_ASSERT_FATAL(fclose(f) == 0);
}

#define LIVE_SVC(ip)							\
	"apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"	\
	"spec:\n  clusterIP: " ip "\n  ports: [{name: http, port: 80}]\n" \
	"---\napiVersion: v1\nkind: Endpoints\nmetadata: {name: web}\n" \
	"subsets: [{addresses: [{ip: 127.0.0.1}], ports: [{name: http, " \
	"port: 8080}]}]\n"

/* The file is watched: changes land, broken files change nothing. */
static void
test_svcfile_live(void)
{
	struct model_observer	 obs;
	struct live		 l;
	struct svcfile		*sf;
	char			 dir[] = "/tmp/kuproxy-svcfile-XXXXXX";
	char			 path[512];
	int			 svc, ep;

	log_init(1, 0);
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/services.yaml", dir);
	memset(&l, 0, sizeof(l));
	l.base = event_base_new();
	l.model = model_new();
	CU_ASSERT_FATAL(l.base != NULL);
	memset(&obs, 0, sizeof(obs));
	obs.services_changed = live_services;
	obs.endpoints_changed = live_endpoints;
	obs.arg = &l;
	model_set_observer(l.model, &obs);

	/* Missing at start: empty and unsynced, then it appears. */
	sf = svcfile_new(l.base, path, l.model);
	CU_ASSERT_FATAL(sf != NULL);
	CU_ASSERT(!model_is_synced(l.model));
	CU_ASSERT(model_nservices(l.model) == 0);
	write_rename(dir, path, LIVE_SVC("10.0.0.1"));
	l.want_ip = "10.0.0.1";
	CU_ASSERT(live_run(&l, 3000));
	CU_ASSERT(model_is_synced(l.model));
	CU_ASSERT(model_get_endpoints(l.model, "default", "web") != NULL);
	CU_ASSERT(l.ep_calls == 1);

	/* Replaced by rename: the new content is in within bounds. */
	write_rename(dir, path, LIVE_SVC("10.0.0.2"));
	l.want_ip = "10.0.0.2";
	CU_ASSERT(live_run(&l, 3000));

	/* Rewritten in place. */
	write_inplace(path, LIVE_SVC("10.0.0.3"));
	l.want_ip = "10.0.0.3";
	CU_ASSERT(live_run(&l, 3000));

	/* A broken file: nothing changes, nobody is told. */
	svc = l.svc_calls;
	ep = l.ep_calls;
	write_rename(dir, path, LIVE_SVC("10.0.0.4") "  - bad: [\n");
	l.want_ip = NULL;
	live_run(&l, 500);
	CU_ASSERT(l.svc_calls == svc && l.ep_calls == ep);
	CU_ASSERT_STRING_EQUAL(model_get_service(l.model, "default",
	    "web")->cluster_ip, "10.0.0.3");
	CU_ASSERT(svcfile_reload(sf) == -1);

	/* The same content again: loaded, but no observer calls. */
	write_rename(dir, path, LIVE_SVC("10.0.0.3"));
	live_run(&l, 500);
	CU_ASSERT(svcfile_reload(sf) == 0);
	CU_ASSERT(l.svc_calls == svc && l.ep_calls == ep);

	svcfile_free(sf);
	model_free(l.model);
	event_base_free(l.base);
	unlink(path);
	CU_ASSERT(rmdir(dir) == 0);
}

static const struct tu_case cases[] = {
	{ "multi-document file", test_svcfile_multidoc },
	{ "kubectl List", test_svcfile_kubectl_list },
	{ "rejected fixtures", test_svcfile_rejects },
	{ "inline inputs", test_svcfile_inline },
	{ "document cache", test_svcfile_diff },
	{ "staging", test_svcfile_stage },
	{ "iterator batches", test_svcfile_iter_batches },
	{ "iterator, small change", test_svcfile_iter_small },
	{ "iterator, rejected file", test_svcfile_iter_reject },
	{ "iterator abort", test_svcfile_iter_abort },
	{ "read errors", test_svcfile_read_errors },
	{ "live watch", test_svcfile_live },
	{ NULL, NULL }
};

TU_MAIN("svcfile", cases)
