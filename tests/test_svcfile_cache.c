/*
 * test_svcfile_cache.c: the document cache, its diff and its iterator
 * (the batches a large new file is staged in), on generated files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "svcfile.h"
#include "svcfile_cache.h"
#include "svcfile_parse.h"
#include "tu.h"

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
test_svcfile_cache_stage(void)
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
test_svcfile_cache_iter_batches(void)
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
test_svcfile_cache_iter_small(void)
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
test_svcfile_cache_iter_reject(void)
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
test_svcfile_cache_iter_abort(void)
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
test_svcfile_cache_diff(void)
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
/*
 * A document that defines nothing may repeat (found by fuzzing: two
 * empty "---" lines, or the same comment, were refused as a duplicate
 * object that svcfile_parse accepts); one that defines something may
 * not.
 */
static void
test_svcfile_cache_repeat_empty(void)
{
	static const char *const good[] = {
		"---\n---\n---\napiVersion: v1\nkind: Service\n"
		    "metadata: {name: a}\nspec: {clusterIP: 10.0.0.1, "
		    "ports: [{port: 80}]}\n",
		"---\n# same\n---\n# same\n",
		"---\napiVersion: example.com/v1\nkind: Service\n"
		    "metadata: {name: x}\n---\napiVersion: example.com/v1\n"
		    "kind: Service\nmetadata: {name: x}\n",
		"---\napiVersion: v1\nkind: Service\nmetadata: {name: h}\n"
		    "spec: {clusterIP: None}\n---\napiVersion: v1\n"
		    "kind: Service\nmetadata: {name: h}\n"
		    "spec: {clusterIP: None}\n",
	};
	struct svcfile_cache	*c;
	struct svcfile_objs	 ref;
	struct svcfile_diff	 d;
	char			 err[1024];
	size_t			 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		c = svcfile_cache_new();
		CU_ASSERT_FATAL(svcfile_parse(good[i], strlen(good[i]), "f",
		    &ref, err, sizeof(err)) == 0);
		err[0] = '\0';
		CU_ASSERT(svcfile_parse_diff(good[i], strlen(good[i]), "f", c,
		    &d, err, sizeof(err)) == 0);
		CU_ASSERT_STRING_EQUAL(err, "");
		CU_ASSERT_EQUAL(d.total_svcs, ref.nsvcs);
		svcfile_diff_free(&d);
		/* Again, now from the cache. */
		CU_ASSERT(svcfile_parse_diff(good[i], strlen(good[i]), "f", c,
		    &d, err, sizeof(err)) == 0);
		CU_ASSERT_EQUAL(d.total_svcs, ref.nsvcs);
		svcfile_diff_free(&d);
		svcfile_objs_free(&ref);
		svcfile_cache_free(c);
	}
}

static const struct tu_case cases[] = {
	{ "repeated empty documents", test_svcfile_cache_repeat_empty },
	{ "document cache", test_svcfile_cache_diff },
	{ "staging", test_svcfile_cache_stage },
	{ "iterator batches", test_svcfile_cache_iter_batches },
	{ "iterator, small change", test_svcfile_cache_iter_small },
	{ "iterator, rejected file", test_svcfile_cache_iter_reject },
	{ "iterator abort", test_svcfile_cache_iter_abort },
	{ NULL, NULL }
};

TU_MAIN("svcfile_cache", cases)
