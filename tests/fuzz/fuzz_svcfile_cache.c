/*
 * fuzz_svcfile_cache.c: the services file's document cache and diff
 * (svcfile_cache.c).  The input holds two files, before and after, cut
 * at the first line "=====" (after is empty without one).  They are
 * parsed through one cache in turn, before, after, then before again,
 * the first through the iterator (svcfile_diff_begin/next/finish), the
 * others with svcfile_parse_diff, and each diff is applied to a model.
 * Checked each time against a plain svcfile_parse of the same file:
 * the cache accepts exactly the files the parser accepts, and after a
 * good one the model holds exactly the parser's objects.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "model.h"
#include "svcfile.h"
#include "svcfile_cache.h"
#include "svcfile_parse.h"

/* Parse buf through c with the iterator, as a large file is. */
static int
fsc_iter(struct svcfile_cache *c, const char *buf, size_t len,
    struct svcfile_diff *d, char *err, size_t errlen)
{
	struct svcfile_diff_iter		 *it;
	const struct model_service *const	 *svcs;
	size_t					  n, i;
	int					  rc;

	it = svcfile_diff_begin(c, buf, len, "fuzz.yaml");
	while ((rc = svcfile_diff_next(it, &svcs, &n, err, errlen)) == 1) {
		if (n == 0)
			abort();
		for (i = 0; i < n; i++)
			if (svcs[i]->name == NULL)
				abort();
	}
	if (rc == 0)
		return (svcfile_diff_finish(it, d, err, errlen));
	svcfile_diff_abort(it);
	memset(d, 0, sizeof(*d));
	return (-1);
}

/* A file and what svcfile_parse makes of it. */
struct fsc_file {
	const char		*buf;
	size_t			 len;
	struct svcfile_objs	 ref;
	int			 rc;
	char			 err[1024];
};

/* Parse f alone, for reference. */
static void
fsc_ref(struct fsc_file *f, const uint8_t *buf, size_t len)
{
	f->buf = (const char *)buf;
	f->len = len;
	memset(&f->ref, 0, sizeof(f->ref));
	f->rc = svcfile_parse(f->buf, len, "fuzz.yaml", &f->ref, f->err,
	    sizeof(f->err));
}

/* Parse one file through the cache and compare with svcfile_parse. */
static void
fsc_pass(struct svcfile_cache *c, struct model *m, struct fsc_file *f,
    int iter)
{
	const struct svcfile_objs *ref = &f->ref;
	struct svcfile_diff	 d;
	const struct model_service *s;
	const struct model_endpoints *e;
	const char		*buf = f->buf;
	size_t			 len = f->len, i;
	char			 err[1024];
	int			 rc, rrc = f->rc;

	err[0] = '\0';
	if (iter)
		rc = fsc_iter(c, buf, len, &d, err, sizeof(err));
	else
		rc = svcfile_parse_diff(buf, len, "fuzz.yaml", c, &d, err,
		    sizeof(err));
	if (rc != rrc) {
		fprintf(stderr, "cache %d (%s), parser %d (%s)\n", rc,
		    rc ? err : "", rrc, rrc ? f->err : "");
		abort();
	}
	if (rc == -1) {
		if (err[0] == '\0')
			abort();
		return;
	}
	if (d.total_svcs != ref->nsvcs || d.total_eps != ref->neps)
		abort();
	svcfile_diff_apply(&d, m);
	if (model_nservices(m) != ref->nsvcs)
		abort();
	for (i = 0; i < ref->nsvcs; i++) {
		s = model_get_service(m, ref->svcs[i]->ns,
		    ref->svcs[i]->name);
		if (s == NULL || !model_service_equal(s, ref->svcs[i]))
			abort();
	}
	for (i = 0; i < ref->neps; i++) {
		e = model_get_endpoints(m, ref->eps[i]->ns,
		    ref->eps[i]->name);
		if (e == NULL || !model_endpoints_equal(e, ref->eps[i]))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct fsc_file	 before, after;
	struct svcfile_cache	*c;
	struct model		*m;
	const uint8_t		*a;
	size_t			 blen, alen;

	fuzz_quiet_log();
	blen = fuzz_split(data, len, "\n=====\n", &a, &alen);
	fsc_ref(&before, data, blen);
	fsc_ref(&after, a, alen);
	c = svcfile_cache_new();
	m = model_new();
	fsc_pass(c, m, &before, 1);
	fsc_pass(c, m, &after, 0);
	fsc_pass(c, m, &before, 0);
	model_free(m);
	svcfile_cache_free(c);
	svcfile_objs_free(&before.ref);
	svcfile_objs_free(&after.ref);
	return (0);
}
