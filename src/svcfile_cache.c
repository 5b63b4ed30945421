/*
 * svcfile_cache.c: the document cache of a services file, and the diff.
 *
 * Each parse reuses the documents of the last good parse whose text did
 * not change, so editing one Service in a file of 10k re-parses one
 * document and hands the model one update, not 3 MB of YAML and 20k
 * objects to compare.  The model owns the objects; the cache keeps only
 * their names, by document.
 *
 * A parse is an iterator (svcfile_diff_begin, _next, _finish) so that
 * the caller can stage the Services of a large new file while the rest
 * is parsed; the cache itself calls nobody.  Nothing it keeps changes
 * before svcfile_diff_finish takes a good file: a rejected one only
 * drops the documents it added.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "log.h"
#include "model.h"
#include "svcfile_cache.h"
#include "xmalloc.h"

#define SF_DELTA0		((intptr_t)1 << 30)	/* see sf_delta_add */

/* What the last good parse found, by the exact text of each document. */
struct svcfile_cache {
	struct htab		*docs;		/* piece text -> sf_doc */
	struct htab		*names;		/* sf_key() -> 1 */
	size_t			 nsvcs;		/* "S/..." names */
	size_t			 neps;		/* "E/..." names */
	unsigned int		 gen;		/* parses begun */
	struct sf_doc		**order;	/* the last good file's */
	size_t			  norder;
	int			  busy;		/* an iteration runs */
};

/* One cached document: the objects it defines, as sf_key() names. */
struct sf_doc {
	char			 *text;		/* the piece */
	size_t			  len;
	char			**keys;
	size_t			  nkeys;
	unsigned int		  gen;		/* last parse that saw it */
	int			  line0;	/* lines before it, then */
	struct svcfile_objs	  objs;		/* parsed now; handed on */
	int			  fresh;	/* parsed this time */
};

/*
 * Where an iteration is.  PARSING -> PARSED -> GOOD, then finish commits;
 * any of the first two may go to FAILED instead.
 */
enum sf_iter_state {
	SF_ITER_PARSING = 0,	/* pieces left to parse or Services to hand */
	SF_ITER_PARSED,		/* every piece parsed, names not checked */
	SF_ITER_GOOD,		/* the whole file is good, delta is set */
	SF_ITER_FAILED,		/* rejected, the cache rolled back */
};

struct svcfile_diff_iter {
	struct svcfile_cache		 *c;
	const char			 *buf;		/* borrowed */
	size_t				  len;
	const char			 *fname;	/* borrowed */
	struct svcfile_piece		 *pcs;
	size_t				  npcs;
	size_t				  pre;		/* as last time */
	size_t				  suf;
	size_t				  next;		/* piece to do next */
	struct sf_doc			**order;	/* this file's */
	struct htab			 *delta;	/* GOOD: name counts */
	const struct model_service	**batch;	/* NULL: no staging */
	size_t				  nbatch;
	const struct svcfile_objs	 *pend;		/* new, to batch */
	size_t				  npend;	/* of pend, batched */
	enum sf_iter_state		  state;
	char				 *err;		/* FAILED: why */
};

/* Free a cached document (htab callback). */
static void
sf_doc_free(void *v)
{
	struct sf_doc	*d = v;
	size_t		 i;

	for (i = 0; i < d->nkeys; i++)
		free(d->keys[i]);
	free(d->keys);
	svcfile_objs_free(&d->objs);
	free(d->text);
	free(d);
}

/* Return the cache name of an object: "S/ns/name" or "E/ns/name". */
static char *
sf_key(int kind, const char *ns, const char *name)
{
	char	*k;

	xasprintf(&k, "%c/%s/%s", kind, ns, name);
	return (k);
}

/* Record the names of a freshly parsed document. */
static void
sf_doc_keys(struct sf_doc *d)
{
	struct svcfile_objs	*o = &d->objs;
	size_t			 i;

	d->keys = xcalloc(o->nsvcs + o->neps + 1, sizeof(*d->keys));
	for (i = 0; i < o->nsvcs; i++)
		d->keys[d->nkeys++] = sf_key('S', o->svcs[i]->ns,
		    o->svcs[i]->name);
	for (i = 0; i < o->neps; i++)
		d->keys[d->nkeys++] = sf_key('E', o->eps[i]->ns,
		    o->eps[i]->name);
}

/* Return 1 if a piece has the text of a cached document. */
static int
sf_same(const struct svcfile_piece *pc, const struct sf_doc *d)
{
	return (pc->len == d->len && memcmp(pc->p, d->text, d->len) == 0);
}

/* Add n to the count of key in delta. */
static void
sf_delta_add(struct htab *delta, const char *key, intptr_t n)
{
	intptr_t	v;

	v = (intptr_t)htab_get(delta, key, strlen(key));
	/* Counts are stored plus SF_DELTA0, so that none is NULL. */
	if (v == 0)
		v = SF_DELTA0;
	if (htab_put(delta, key, strlen(key), (void *)(v + n), NULL) == -1)
		fatalx("svcfile: out of memory");
}

/* Split "K/ns/name" (klen bytes, no NUL) into a new svcfile_name. */
static void
sf_gone_add(struct svcfile_diff *out, const char *k, size_t klen)
{
	struct svcfile_name	**v;
	size_t			 *n;
	char			 *key = xstrndup(k, klen);
	const char		 *slash = strchr(key + 2, '/');

	if (key[0] == 'S') {
		v = &out->gone_svcs;
		n = &out->ngone_svcs;
	} else {
		v = &out->gone_eps;
		n = &out->ngone_eps;
	}
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[*n].ns = xstrndup(key + 2, (size_t)(slash - key - 2));
	(*v)[*n].name = xstrdup(slash + 1);
	(*n)++;
	free(key);
}

/* Return a new empty cache. */
struct svcfile_cache *
svcfile_cache_new(void)
{
	struct svcfile_cache	*c;

	c = xcalloc(1, sizeof(*c));
	if ((c->docs = htab_new()) == NULL || (c->names = htab_new()) == NULL)
		fatalx("svcfile: out of memory");
	return (c);
}

/* Free a cache; NULL is ignored. */
void
svcfile_cache_free(struct svcfile_cache *c)
{
	if (c == NULL)
		return;
	if (c->busy)
		fatalx("%s: an iteration still runs", __func__);
	htab_free(c->docs, sf_doc_free);
	htab_free(c->names, NULL);
	free(c->order);
	free(c);
}

/* Start a parse through the cache: cut the file, find what is as it was. */
struct svcfile_diff_iter *
svcfile_diff_begin(struct svcfile_cache *c, const char *buf, size_t len,
    const char *fname)
{
	struct svcfile_diff_iter	*it;
	size_t				 pre = 0, suf = 0, npcs;

	if (c->busy)
		fatalx("%s: an iteration already runs", __func__);
	c->busy = 1;
	c->gen++;
	it = xcalloc(1, sizeof(*it));
	it->c = c;
	it->buf = buf;
	it->len = len;
	it->fname = fname;
	svcfile_cut(buf, len, &it->pcs, &it->npcs);
	npcs = it->npcs;
	it->order = xcalloc(npcs, sizeof(*it->order));
	/*
	 * An edit leaves the pieces before and after it as they were, in
	 * place: compare those with the last file's instead of hashing
	 * 3 MB to look each one up.
	 */
	while (pre < npcs && pre < c->norder && sf_same(&it->pcs[pre],
	    c->order[pre]))
		pre++;
	while (suf < npcs - pre && suf < c->norder - pre &&
	    sf_same(&it->pcs[npcs - 1 - suf], c->order[c->norder - 1 - suf]))
		suf++;
	it->pre = pre;
	it->suf = suf;
	if (npcs - pre - suf >= SVCFILE_STAGE_MIN)
		it->batch = xcalloc(SVCFILE_STAGE_BATCH, sizeof(*it->batch));
	return (it);
}

/*
 * Put the message of a duplicate in err.  Rare: the whole parse names
 * both lines, as without a cache.
 */
static void
sf_iter_dup(struct svcfile_diff_iter *it, char *err, size_t errlen)
{
	struct svcfile_objs	full;

	if (svcfile_parse(it->buf, it->len, it->fname, &full, err,
	    errlen) == 0) {
		svcfile_objs_free(&full);
		snprintf(err, errlen, "%s: duplicate object", it->fname);
	}
}

/* Find or parse the next piece.  Returns -1 with the error in err. */
static int
sf_iter_step(struct svcfile_diff_iter *it, char *err, size_t errlen)
{
	struct svcfile_cache		*c = it->c;
	const struct svcfile_piece	*pc = &it->pcs[it->next];
	struct sf_doc			*d;
	size_t				 i = it->next, npcs = it->npcs;

	if (i < it->pre)
		d = c->order[i];
	else if (i >= npcs - it->suf)
		d = c->order[c->norder - (npcs - i)];
	else
		d = htab_get(c->docs, pc->p, pc->len);
	if (d != NULL) {
		/*
		 * The same document twice is a duplicate if it defines
		 * anything; one that defines nothing (a comment, an empty
		 * "---", a skipped kind) may repeat, as in svcfile_parse.
		 */
		if (d->gen == c->gen && d->nkeys > 0) {
			sf_iter_dup(it, err, errlen);
			return (-1);
		}
	} else {
		d = xcalloc(1, sizeof(*d));
		if (svcfile_parse_piece(pc, it->fname, &d->objs, err,
		    errlen) == -1) {
			free(d);
			return (-1);
		}
		d->fresh = 1;
		d->text = xmalloc(pc->len + 1);
		memcpy(d->text, pc->p, pc->len);
		d->len = pc->len;
		sf_doc_keys(d);
		if (htab_put(c->docs, pc->p, pc->len, d, NULL) == -1)
			fatalx("svcfile: out of memory");
		it->pend = &d->objs;
		it->npend = 0;
	}
	d->gen = c->gen;
	d->line0 = pc->line0;
	it->order[i] = d;
	it->next++;
	return (0);
}

/*
 * Parse pieces until the batch is full (if stage and staging) or none
 * is left.  Returns 1 if the batch is full, 0 at the end of the file,
 * -1 with the error in err.
 */
static int
sf_iter_parse(struct svcfile_diff_iter *it, int stage, char *err,
    size_t errlen)
{
	const struct svcfile_objs	*o;

	for (;;) {
		if (stage && it->batch != NULL && (o = it->pend) != NULL) {
			while (it->npend < o->nsvcs &&
			    it->nbatch < SVCFILE_STAGE_BATCH)
				it->batch[it->nbatch++] = o->svcs[it->npend++];
			if (it->nbatch == SVCFILE_STAGE_BATCH)
				return (1);
		}
		it->pend = NULL;
		if (it->next == it->npcs)
			return (0);
		if (sf_iter_step(it, err, errlen) == -1)
			return (-1);
	}
}

/*
 * Check the names of the whole file: with the documents parsed, count
 * the names leaving with dropped documents and arriving with new ones.
 * Returns -1 with the error in err if a name would be defined twice.
 */
static int
sf_iter_check(struct svcfile_diff_iter *it, char *err, size_t errlen)
{
	struct svcfile_cache	*c = it->c;
	struct htab_iter	 hi;
	struct sf_doc		*d;
	const void		*k;
	size_t			 i, klen;
	void			*v;
	intptr_t		 was;

	if ((it->delta = htab_new()) == NULL)
		fatalx("svcfile: out of memory");
	htab_iter_init(c->docs, &hi);
	while (htab_iter_next(&hi, NULL, NULL, &v)) {
		d = v;
		for (i = 0; i < d->nkeys; i++)
			if (d->gen != c->gen || d->fresh)
				sf_delta_add(it->delta, d->keys[i],
				    d->fresh ? 1 : -1);
	}
	htab_iter_init(it->delta, &hi);
	while (htab_iter_next(&hi, &k, &klen, &v)) {
		was = htab_get(c->names, k, klen) != NULL;
		if (was + (intptr_t)v - SF_DELTA0 > 1) {
			sf_iter_dup(it, err, errlen);
			return (-1);
		}
	}
	return (0);
}

/* Make a good file the cache's last good file; hand out the changes. */
static void
sf_iter_commit(struct svcfile_diff_iter *it, struct svcfile_diff *out)
{
	struct svcfile_cache	*c = it->c;
	struct htab_iter	 hi;
	struct sf_doc		*d;
	const void		*k;
	size_t			 klen;
	void			*v;
	intptr_t		 n, was;

	htab_iter_init(it->delta, &hi);
	while (htab_iter_next(&hi, &k, &klen, &v)) {
		was = htab_get(c->names, k, klen) != NULL;
		n = was + (intptr_t)v - SF_DELTA0;
		if (n == was)
			continue;
		if (n == 0) {
			htab_del(c->names, k, klen);
			sf_gone_add(out, k, klen);
		} else if (htab_put(c->names, k, klen, (void *)1, NULL) == -1)
			fatalx("svcfile: out of memory");
		if (((const char *)k)[0] == 'S')
			c->nsvcs += n - was;
		else
			c->neps += n - was;
	}
	htab_iter_init(c->docs, &hi);
	while (htab_iter_next(&hi, &k, &klen, &v)) {
		d = v;
		if (d->gen != c->gen) {
			htab_del(c->docs, k, klen);
			sf_doc_free(d);
		} else if (d->fresh) {
			svcfile_objs_take(&out->objs, &d->objs, d->line0);
			svcfile_objs_free(&d->objs);
			d->fresh = 0;
		}
	}
	free(c->order);
	c->order = it->order;
	c->norder = it->npcs;
	it->order = NULL;
	out->total_svcs = c->nsvcs;
	out->total_eps = c->neps;
}

/* Drop the documents this parse added: back to the last good parse. */
static void
sf_iter_rollback(struct svcfile_diff_iter *it)
{
	struct svcfile_cache	*c = it->c;
	struct htab_iter	 hi;
	const void		*k;
	size_t			 klen;
	void			*v;

	htab_iter_init(c->docs, &hi);
	while (htab_iter_next(&hi, &k, &klen, &v))
		if (((struct sf_doc *)v)->fresh) {
			htab_del(c->docs, k, klen);
			sf_doc_free(v);
		}
}

/* Reject the file: roll back, keep the error for later calls. */
static int
sf_iter_fail(struct svcfile_diff_iter *it, const char *err)
{
	sf_iter_rollback(it);
	it->nbatch = 0;
	it->pend = NULL;
	it->err = xstrdup(err);
	it->state = SF_ITER_FAILED;
	return (-1);
}

/*
 * Take the iteration as far as the whole file checked, handing out
 * batches on the way if stage.  Returns as svcfile_diff_next.
 */
static int
sf_iter_run(struct svcfile_diff_iter *it, int stage, char *err,
    size_t errlen)
{
	int	rc;

	if (it->state == SF_ITER_PARSING) {
		/* The batch handed out last time is done with. */
		it->nbatch = 0;
		rc = sf_iter_parse(it, stage, err, errlen);
		if (rc == -1)
			return (sf_iter_fail(it, err));
		/* A full batch, or the last one, part full. */
		if (rc == 1 || (stage && it->nbatch > 0))
			return (1);
		it->state = SF_ITER_PARSED;
	}
	if (it->state == SF_ITER_PARSED) {
		if (sf_iter_check(it, err, errlen) == -1)
			return (sf_iter_fail(it, err));
		it->state = SF_ITER_GOOD;
	}
	if (it->state == SF_ITER_FAILED) {
		snprintf(err, errlen, "%s", it->err);
		return (-1);
	}
	return (0);
}

/* Free an iteration; the cache is free for the next. */
static void
sf_iter_free(struct svcfile_diff_iter *it)
{
	it->c->busy = 0;
	htab_free(it->delta, NULL);
	free(it->order);
	free(it->pcs);
	free(it->batch);
	free(it->err);
	free(it);
}

/* Parse on to the next batch of Services to stage. */
int
svcfile_diff_next(struct svcfile_diff_iter *it,
    const struct model_service *const **svcs, size_t *n, char *err,
    size_t errlen)
{
	int	rc;

	rc = sf_iter_run(it, 1, err, errlen);
	*svcs = rc == 1 ? it->batch : NULL;
	*n = rc == 1 ? it->nbatch : 0;
	return (rc);
}

/* Parse the rest; take the file if it is good. */
int
svcfile_diff_finish(struct svcfile_diff_iter *it, struct svcfile_diff *out,
    char *err, size_t errlen)
{
	int	rc;

	memset(out, 0, sizeof(*out));
	rc = sf_iter_run(it, 0, err, errlen);
	if (rc == 0)
		sf_iter_commit(it, out);
	sf_iter_free(it);
	return (rc);
}

/* Stop a parse, leaving the cache as it was. */
void
svcfile_diff_abort(struct svcfile_diff_iter *it)
{
	if (it == NULL)
		return;
	if (it->state != SF_ITER_FAILED)
		sf_iter_rollback(it);
	sf_iter_free(it);
}

/* Parse against the cache in one go. */
int
svcfile_parse_diff(const char *buf, size_t len, const char *fname,
    struct svcfile_cache *c, struct svcfile_diff *out, char *err,
    size_t errlen)
{
	return (svcfile_diff_finish(svcfile_diff_begin(c, buf, len, fname),
	    out, err, errlen));
}

/* Free a diff and whatever the caller did not take. */
void
svcfile_diff_free(struct svcfile_diff *d)
{
	size_t	i;

	for (i = 0; i < d->ngone_svcs; i++) {
		free(d->gone_svcs[i].ns);
		free(d->gone_svcs[i].name);
	}
	for (i = 0; i < d->ngone_eps; i++) {
		free(d->gone_eps[i].ns);
		free(d->gone_eps[i].name);
	}
	free(d->gone_svcs);
	free(d->gone_eps);
	svcfile_objs_free(&d->objs);
	memset(d, 0, sizeof(*d));
}
