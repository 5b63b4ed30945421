/*
 * svcfile.c: the services file source.
 *
 * Parsing is all-or-nothing: one bad object rejects the file and the
 * model keeps what it had, so a typo never tears down working services.
 *
 * Watching uses inotify on the file's directory, not on the file: an
 * editor or "kubectl ... > tmp && mv tmp file" replaces the inode, and a
 * watch on the old inode would go quiet.  A writer closing the file or
 * a rename into place loads it at once; other events are debounced so
 * that a burst of them is one reload.  A slow stat() poll covers what
 * inotify cannot see (NFS, a directory that did not exist yet, queue
 * overflow).
 *
 * Each load reuses the documents of the last good parse whose text did
 * not change (struct svcfile_cache), so editing one Service in a file
 * of 10k re-parses one document.
 */
#include <sys/inotify.h>
#include <sys/stat.h>

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "htab.h"
#include "k8s_decode.h"
#include "log.h"
#include "model.h"
#include "svcfile.h"
#include "xmalloc.h"
#include "yamljson.h"

#define SVCFILE_DEBOUNCE_MS	100
#define SVCFILE_POLL_SEC	2
#define SVCFILE_ERRLEN		1024
#define SF_DELTA0		((intptr_t)1 << 30)	/* see sf_delta_add */

struct svcfile {
	struct event_base	*base;
	struct model		*model;
	char			*path;
	char			*dir;
	char			*file;		/* basename */
	int			 ifd;		/* inotify, or -1 */
	struct event		*iev;
	struct event		*debounce;
	struct event		*poll;
	struct svcfile_cache	*cache;		/* documents last parsed */
	struct stat		 seen;		/* last file read */
	int			 have_seen;	/* 0: missing or unread */
	int			 missing_warned;
};

/* What one svcfile_parse run tracks besides the output. */
struct svcfile_pctx {
	struct yamljson_errbuf	 eb;		/* "FILE:LINE: msg" */
	struct svcfile_objs	*out;
};

/*
 * What the last good parse found, by the exact text of each document
 * ("piece" of the file from one "---" line to the next), so that a
 * change to one Service out of 10k re-parses one document and hands the
 * model one update, not 3 MB of YAML and 20k objects to compare.  The
 * model owns the objects; the cache keeps only their names.
 */
struct svcfile_cache {
	struct htab		*docs;		/* piece text -> sf_doc */
	struct htab		*names;		/* sf_key() -> 1 */
	size_t			 nsvcs;		/* "S/..." names */
	size_t			 neps;		/* "E/..." names */
	unsigned int		 gen;		/* parses run */
	struct sf_doc		**order;	/* the last good file's */
	size_t			  norder;
	struct svcfile_stage	  stage;	/* staged == NULL: none */
};

/* Services of new documents not yet handed to the stage callback. */
struct sf_batch {
	const struct svcfile_stage	 *st;	/* NULL: not staging */
	const struct model_service	**v;
	size_t				  n;
	int				  any;	/* staged was called */
};

/* One cached document: the objects it defines, as sf_key() names. */
struct sf_doc {
	char			 *text;		/* the piece */
	size_t			  len;
	char			**keys;
	size_t			  nkeys;
	unsigned int		  gen;		/* last parse that saw it */
	int			  line0;	/* lines before it, then */
	struct svcfile_objs	  objs;		/* parsed this time; handed on */
	int			  fresh;	/* parsed this time */
};

/* One piece of the file: a "---" line and what follows it. */
struct sf_piece {
	const char		*p;
	size_t			 len;
	int			 line0;		/* lines before it */
};

/* Keep a note ("FILE:LINE: msg") for the loader to log. */
static void
sf_note(struct svcfile_pctx *p, int line, const char *msg)
{
	struct svcfile_objs	*o = p->out;

	o->notes = xreallocarray(o->notes, o->nnotes + 1, sizeof(*o->notes));
	xasprintf(&o->notes[o->nnotes++], "%s:%d: %s", p->eb.fname,
	    line + p->eb.line0, msg);
}

/*
 * Find the line of the field a decoder message names.  Messages read
 * "ns/name: a.b[2].c: reason"; walk that path as far as it exists and
 * return the line of the deepest node found (the object's own if none).
 */
static int
sf_path_line(struct json_object *o, const char *msg)
{
	struct json_object	*cur = o, *next;
	const char		*p, *end;
	char			 seg[128];
	size_t			 n;
	int			 line = yamljson_line(o);
	long			 idx;

	if ((p = strstr(msg, ": ")) == NULL)
		return (line);
	p += 2;
	if ((end = strstr(p, ": ")) == NULL)
		return (line);
	while (p < end) {
		n = strcspn(p, ".[:");
		if (n >= sizeof(seg) || p + n > end)
			break;
		memcpy(seg, p, n);
		seg[n] = '\0';
		p += n;
		if (n > 0) {
			next = NULL;
			if (!json_object_object_get_ex(cur, seg, &next) ||
			    next == NULL)
				break;
			cur = next;
			line = yamljson_line(cur);
		}
		if (*p == '[') {
			idx = strtol(p + 1, (char **)&p, 10);
			if (*p++ != ']' ||
			    !json_object_is_type(cur, json_type_array) ||
			    idx < 0 || (size_t)idx >=
			    json_object_array_length(cur))
				break;
			cur = json_object_array_get_idx(cur, (size_t)idx);
			if (cur == NULL)
				break;
			line = yamljson_line(cur);
		}
		if (*p == '.')
			p++;
		else if (p < end)
			break;
	}
	return (line);
}

/*
 * Reject a second object of the same kind and ns/name (lines are those
 * of the whole file).  Returns -1 with the error in eb.
 */
static int
sf_check_dup(struct htab *names, struct yamljson_errbuf *eb,
    const char *kind, const char *ns, const char *name, int line)
{
	char	*key;
	void	*prev;
	int	 n;

	n = xasprintf(&key, "%s/%s/%s", kind, ns, name);
	if ((prev = htab_get(names, key, (size_t)n)) != NULL) {
		free(key);
		return (yamljson_fail(eb, line, "%s/%s: duplicate %s "
		    "(first at line %d)", ns, name, kind, (int)(intptr_t)prev));
	}
	if (htab_put(names, key, (size_t)n, (void *)(intptr_t)line,
	    NULL) == -1)
		fatalx("svcfile: out of memory");
	free(key);
	return (0);
}

/* Decode one v1 Service into the output. */
static int
sf_service(struct svcfile_pctx *p, struct json_object *o)
{
	struct svcfile_objs	*out = p->out;
	struct model_service	*ms;
	char			 err[SVCFILE_ERRLEN];
	int			 rc;

	rc = k8s_decode_service(o, &ms, err, sizeof(err));
	if (rc == K8S_DECODE_ERR)
		return (yamljson_fail(&p->eb, sf_path_line(o, err), "%s", err));
	if (err[0] != '\0')
		sf_note(p, sf_path_line(o, err), err);
	if (rc == K8S_DECODE_SKIP)
		return (0);
	out->svcs = xreallocarray(out->svcs, out->nsvcs + 1,
	    sizeof(*out->svcs));
	out->svcs[out->nsvcs++] = ms;
	return (0);
}

/* Decode one v1 Endpoints into the output. */
static int
sf_endpoints(struct svcfile_pctx *p, struct json_object *o)
{
	struct svcfile_objs	*out = p->out;
	struct model_endpoints	*me;
	char			 err[SVCFILE_ERRLEN];

	if (k8s_decode_endpoints(o, &me, err, sizeof(err)) != K8S_DECODE_OK)
		return (yamljson_fail(&p->eb, sf_path_line(o, err), "%s", err));
	out->eps = xreallocarray(out->eps, out->neps + 1, sizeof(*out->eps));
	out->eps[out->neps++] = me;
	return (0);
}

/* Return the string member key of o, or NULL. */
static const char *
sf_str(struct json_object *o, const char *key)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return (NULL);
	return (json_object_get_string(v));
}

/* Handle one object: a document, or a List item ("items[N]"). */
static int
sf_object(struct svcfile_pctx *p, struct json_object *o, const char *where)
{
	struct json_object	*items;
	const char		*kind, *api;
	size_t			 i, n;
	char			 w[64];
	int			 line = yamljson_line(o);

	if (!json_object_is_type(o, json_type_object))
		return (yamljson_fail(&p->eb, line, "%s is not a mapping",
		    where));
	if ((kind = sf_str(o, "kind")) == NULL)
		return (yamljson_fail(&p->eb, line, "%s has no kind", where));
	if ((api = sf_str(o, "apiVersion")) == NULL)
		return (yamljson_fail(&p->eb, line, "%s has no apiVersion",
		    where));
	if (strcmp(kind, "List") == 0 || strcmp(kind, "ServiceList") == 0 ||
	    strcmp(kind, "EndpointsList") == 0) {
		if (strncmp(where, "items[", 6) == 0)
			return (yamljson_fail(&p->eb, line, "%s: nested List",
			    where));
		if (!json_object_object_get_ex(o, "items", &items) ||
		    items == NULL)
			return (0);
		if (!json_object_is_type(items, json_type_array))
			return (yamljson_fail(&p->eb, line,
			    "items: must be a list"));
		n = json_object_array_length(items);
		for (i = 0; i < n; i++) {
			snprintf(w, sizeof(w), "items[%zu]", i);
			if (sf_object(p, json_object_array_get_idx(items, i),
			    w) == -1)
				return (-1);
		}
		return (0);
	}
	/* Other kinds (Pod, EndpointSlice, knative's Service) are ignored. */
	if (strcmp(api, "v1") != 0)
		return (0);
	if (strcmp(kind, "Service") == 0)
		return (sf_service(p, o));
	if (strcmp(kind, "Endpoints") == 0)
		return (sf_endpoints(p, o));
	return (0);
}

/* Return 1 if the line at p (n bytes left) is a "---" document marker. */
static int
sf_is_marker(const char *p, size_t n)
{
	if (n < 3 || memcmp(p, "---", 3) != 0)
		return (0);
	return (n == 3 || p[3] == ' ' || p[3] == '\t' || p[3] == '\r' ||
	    p[3] == '\n');
}

/*
 * Cut buf at every "---" line.  YAML forbids such a line inside any
 * scalar, so each piece parses alone as a stream of its own and gives
 * the same documents.  A file with directives ("%YAML") stays whole.
 */
static void
sf_pieces(const char *buf, size_t len, struct sf_piece **vp, size_t *np)
{
	struct sf_piece	*v = NULL;
	const char	*nl;
	size_t		 n = 0, cap = 0, off = 0, start = 0;
	int		 line = 0, line0 = 0;

	while (off < len) {
		if (buf[off] == '%') {
			n = 0;
			start = 0;
			line0 = 0;
			break;
		}
		if (off > start && sf_is_marker(buf + off, len - off)) {
			if (n == cap) {
				cap = cap == 0 ? 64 : cap * 2;
				v = xreallocarray(v, cap, sizeof(*v));
			}
			v[n].p = buf + start;
			v[n].len = off - start;
			v[n++].line0 = line0;
			start = off;
			line0 = line;
		}
		if ((nl = memchr(buf + off, '\n', len - off)) == NULL)
			break;
		off = (size_t)(nl - buf) + 1;
		line++;
	}
	v = xreallocarray(v, n + 1, sizeof(*v));
	v[n].p = buf + start;
	v[n].len = len - start;
	v[n++].line0 = line0;
	*vp = v;
	*np = n;
}

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

/* Parse and decode one piece into out (lines from the piece's start). */
static int
sf_parse_piece(const struct sf_piece *pc, const char *fname,
    struct svcfile_objs *out, char *err, size_t errlen)
{
	struct svcfile_pctx	  p;
	struct json_object	**docs;
	size_t			  ndocs, i;
	int			  rc = -1;

	memset(out, 0, sizeof(*out));
	if (yamljson_parse_at(pc->p, pc->len, fname, pc->line0, &docs, &ndocs,
	    err, errlen) == -1)
		return (-1);
	memset(&p, 0, sizeof(p));
	p.eb.fname = fname;
	p.eb.err = err;
	p.eb.errlen = errlen;
	p.eb.line0 = pc->line0;
	p.out = out;
	for (i = 0; i < ndocs; i++)
		if (sf_object(&p, docs[i], "document") == -1)
			goto out;
	rc = 0;
out:
	yamljson_free(docs, ndocs);
	if (rc == -1)
		svcfile_objs_free(out);
	return (rc);
}

/* Move a piece's objects to the end of out, their lines moved by line0. */
static void
sf_take(struct svcfile_objs *out, struct svcfile_objs *o, int line0)
{
	size_t	i;

	out->svcs = xreallocarray(out->svcs, out->nsvcs + o->nsvcs + 1,
	    sizeof(*out->svcs));
	for (i = 0; i < o->nsvcs; i++) {
		o->svcs[i]->line += line0;
		out->svcs[out->nsvcs++] = o->svcs[i];
	}
	out->eps = xreallocarray(out->eps, out->neps + o->neps + 1,
	    sizeof(*out->eps));
	for (i = 0; i < o->neps; i++) {
		o->eps[i]->line += line0;
		out->eps[out->neps++] = o->eps[i];
	}
	out->notes = xreallocarray(out->notes, out->nnotes + o->nnotes + 1,
	    sizeof(*out->notes));
	for (i = 0; i < o->nnotes; i++)
		out->notes[out->nnotes++] = o->notes[i];
	o->nsvcs = o->neps = o->nnotes = 0;
}

/* Reject duplicates over the whole output, in file order. */
static int
sf_check_dups(const struct svcfile_objs *out, const char *fname, char *err,
    size_t errlen)
{
	struct yamljson_errbuf	 eb = { fname, err, errlen, 0 };
	struct htab		*names;
	size_t			 i;
	int			 rc = 0;

	if ((names = htab_new()) == NULL)
		fatalx("svcfile: out of memory");
	for (i = 0; rc == 0 && i < out->nsvcs; i++)
		rc = sf_check_dup(names, &eb, "Service", out->svcs[i]->ns,
		    out->svcs[i]->name, out->svcs[i]->line);
	for (i = 0; rc == 0 && i < out->neps; i++)
		rc = sf_check_dup(names, &eb, "Endpoints", out->eps[i]->ns,
		    out->eps[i]->name, out->eps[i]->line);
	htab_free(names, NULL);
	return (rc);
}

/* Parse a whole services file. */
int
svcfile_parse(const char *buf, size_t len, const char *fname,
    struct svcfile_objs *out, char *err, size_t errlen)
{
	struct sf_piece		*pcs;
	struct svcfile_objs	 one;
	size_t			 npcs, i;
	int			 rc = -1;

	memset(out, 0, sizeof(*out));
	sf_pieces(buf, len, &pcs, &npcs);
	for (i = 0; i < npcs; i++) {
		if (sf_parse_piece(&pcs[i], fname, &one, err, errlen) == -1)
			goto out;
		sf_take(out, &one, pcs[i].line0);
		svcfile_objs_free(&one);
	}
	rc = sf_check_dups(out, fname, err, errlen);
out:
	free(pcs);
	if (rc == -1)
		svcfile_objs_free(out);
	return (rc);
}

/* Return the cache name of an object: "S/ns/name" or "E/ns/name". */
static char *
sf_key(int kind, const char *ns, const char *name)
{
	char	*k;

	xasprintf(&k, "%c/%s/%s", kind, ns, name);
	return (k);
}

/* Hand the batch to the stage callback. */
static void
sf_batch_flush(struct sf_batch *b)
{
	if (b->n == 0)
		return;
	b->st->staged(b->st->arg, b->v, b->n);
	b->any = 1;
	b->n = 0;
}

/* Add a new document's Services to the batch; flush it when full. */
static void
sf_batch_add(struct sf_batch *b, const struct svcfile_objs *o)
{
	size_t	i;

	if (b->st == NULL)
		return;
	for (i = 0; i < o->nsvcs; i++) {
		b->v[b->n++] = o->svcs[i];
		if (b->n == SVCFILE_STAGE_BATCH)
			sf_batch_flush(b);
	}
}

/* End the staging, taken or rejected; free the batch. */
static void
sf_batch_end(struct sf_batch *b)
{
	if (b->st != NULL && b->any)
		b->st->end(b->st->arg);
	free(b->v);
	memset(b, 0, sizeof(*b));
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
sf_same(const struct sf_piece *pc, const struct sf_doc *d)
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

/*
 * Parse against the cache: reuse the documents it knows, parse the
 * others, and tell what changed.
 */
int
svcfile_parse_diff(const char *buf, size_t len, const char *fname,
    struct svcfile_cache *c, struct svcfile_diff *out, char *err,
    size_t errlen)
{
	struct sf_piece		*pcs;
	struct sf_doc		*d, **order;
	struct htab		*delta;
	struct htab_iter	 it;
	struct svcfile_objs	 full;
	struct sf_batch		 batch;
	const void		*k;
	size_t			 npcs, i, klen, pre = 0, suf = 0;
	void			*v;
	intptr_t		 n, was;
	int			 rc = -1;

	memset(out, 0, sizeof(*out));
	sf_pieces(buf, len, &pcs, &npcs);
	c->gen++;
	if ((delta = htab_new()) == NULL)
		fatalx("svcfile: out of memory");
	order = xcalloc(npcs, sizeof(*order));
	/*
	 * An edit leaves the pieces before and after it as they were, in
	 * place: compare those with the last file's instead of hashing
	 * 3 MB to look each one up.
	 */
	while (pre < npcs && pre < c->norder && sf_same(&pcs[pre],
	    c->order[pre]))
		pre++;
	while (suf < npcs - pre && suf < c->norder - pre &&
	    sf_same(&pcs[npcs - 1 - suf], c->order[c->norder - 1 - suf]))
		suf++;
	memset(&batch, 0, sizeof(batch));
	if (c->stage.staged != NULL && npcs - pre - suf >= SVCFILE_STAGE_MIN) {
		batch.st = &c->stage;
		batch.v = xcalloc(SVCFILE_STAGE_BATCH, sizeof(*batch.v));
	}
	for (i = 0; i < npcs; i++) {
		if (i < pre)
			d = c->order[i];
		else if (i >= npcs - suf)
			d = c->order[c->norder - (npcs - i)];
		else
			d = htab_get(c->docs, pcs[i].p, pcs[i].len);
		if (d != NULL) {
			/* The same document twice can only be a duplicate. */
			if (d->gen == c->gen)
				goto dup;
		} else {
			d = xcalloc(1, sizeof(*d));
			if (sf_parse_piece(&pcs[i], fname, &d->objs, err,
			    errlen) == -1) {
				free(d);
				goto fail;
			}
			d->fresh = 1;
			sf_batch_add(&batch, &d->objs);
			d->text = xmalloc(pcs[i].len + 1);
			memcpy(d->text, pcs[i].p, pcs[i].len);
			d->len = pcs[i].len;
			sf_doc_keys(d);
			if (htab_put(c->docs, pcs[i].p, pcs[i].len, d,
			    NULL) == -1)
				fatalx("svcfile: out of memory");
		}
		d->gen = c->gen;
		d->line0 = pcs[i].line0;
		order[i] = d;
	}
	if (batch.st != NULL)
		sf_batch_flush(&batch);
	/* Names leaving with dropped documents, arriving with new ones. */
	htab_iter_init(c->docs, &it);
	while (htab_iter_next(&it, NULL, NULL, &v)) {
		d = v;
		for (i = 0; i < d->nkeys; i++)
			if (d->gen != c->gen || d->fresh)
				sf_delta_add(delta, d->keys[i],
				    d->fresh ? 1 : -1);
	}
	htab_iter_init(delta, &it);
	while (htab_iter_next(&it, &k, &klen, &v)) {
		was = htab_get(c->names, k, klen) != NULL;
		if (was + (intptr_t)v - SF_DELTA0 > 1)
			goto dup;
	}
	/* Good: commit the names, hand out the changes. */
	htab_iter_init(delta, &it);
	while (htab_iter_next(&it, &k, &klen, &v)) {
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
	htab_iter_init(c->docs, &it);
	while (htab_iter_next(&it, &k, &klen, &v)) {
		d = v;
		if (d->gen != c->gen) {
			htab_del(c->docs, k, klen);
			sf_doc_free(d);
		} else if (d->fresh) {
			sf_take(&out->objs, &d->objs, d->line0);
			svcfile_objs_free(&d->objs);
			d->fresh = 0;
		}
	}
	free(c->order);
	c->order = order;
	c->norder = npcs;
	order = NULL;
	out->total_svcs = c->nsvcs;
	out->total_eps = c->neps;
	rc = 0;
	goto done;
dup:
	/* Rare: the whole parse names both lines, as without a cache. */
	if (svcfile_parse(buf, len, fname, &full, err, errlen) == 0) {
		svcfile_objs_free(&full);
		snprintf(err, errlen, "%s: duplicate object", fname);
	}
fail:
	/* Back to the cache of the last good parse. */
	htab_iter_init(c->docs, &it);
	while (htab_iter_next(&it, &k, &klen, &v))
		if (((struct sf_doc *)v)->fresh) {
			htab_del(c->docs, k, klen);
			sf_doc_free(v);
		}
done:
	/* After the fail path: the staged objects were still alive. */
	sf_batch_end(&batch);
	htab_free(delta, NULL);
	free(order);
	free(pcs);
	if (rc == -1)
		svcfile_diff_free(out);
	return (rc);
}

/* Apply a diff to the model, which takes its objects; free the diff. */
void
svcfile_diff_apply(struct svcfile_diff *d, struct model *m)
{
	size_t	i;

	/* Services first, as model_replace does. */
	for (i = 0; i < d->ngone_svcs; i++)
		model_delete_service(m, d->gone_svcs[i].ns,
		    d->gone_svcs[i].name);
	for (i = 0; i < d->objs.nsvcs; i++)
		model_update_service(m, d->objs.svcs[i]);
	for (i = 0; i < d->ngone_eps; i++)
		model_delete_endpoints(m, d->gone_eps[i].ns,
		    d->gone_eps[i].name);
	for (i = 0; i < d->objs.neps; i++)
		model_update_endpoints(m, d->objs.eps[i]);
	d->objs.nsvcs = d->objs.neps = 0;
	svcfile_diff_free(d);
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
	htab_free(c->docs, sf_doc_free);
	htab_free(c->names, NULL);
	free(c->order);
	free(c);
}

/* Set or clear the staging callbacks. */
void
svcfile_cache_set_stage(struct svcfile_cache *c, const struct svcfile_stage *st)
{
	if (st == NULL)
		memset(&c->stage, 0, sizeof(c->stage));
	else
		c->stage = *st;
}

/* Free parsed objects (and the arrays holding them). */
void
svcfile_objs_free(struct svcfile_objs *o)
{
	size_t	i;

	for (i = 0; i < o->nsvcs; i++)
		model_service_free(o->svcs[i]);
	for (i = 0; i < o->neps; i++)
		model_endpoints_free(o->eps[i]);
	for (i = 0; i < o->nnotes; i++)
		free(o->notes[i]);
	free(o->svcs);
	free(o->eps);
	free(o->notes);
	memset(o, 0, sizeof(*o));
}

/* Read a whole regular file of at most SVCFILE_MAX_SIZE bytes. */
int
svcfile_read(const char *path, char **buf, size_t *len, struct stat *st,
    char *err, size_t errlen)
{
	return (yamljson_read_file(path, SVCFILE_MAX_SIZE, buf, len, st, err,
	    errlen));
}

/* Return 1 if the file at st is not the one last read. */
static int
sf_changed(const struct svcfile *sf, const struct stat *st)
{
	if (!sf->have_seen)
		return (1);
	return (st->st_ino != sf->seen.st_ino ||
	    st->st_dev != sf->seen.st_dev ||
	    st->st_size != sf->seen.st_size ||
	    st->st_mtim.tv_sec != sf->seen.st_mtim.tv_sec ||
	    st->st_mtim.tv_nsec != sf->seen.st_mtim.tv_nsec ||
	    st->st_ctim.tv_sec != sf->seen.st_ctim.tv_sec ||
	    st->st_ctim.tv_nsec != sf->seen.st_ctim.tv_nsec);
}

/* Read, parse and install the file; keep the old state on failure. */
static int
sf_load(struct svcfile *sf)
{
	struct svcfile_diff	 d;
	struct stat		 st;
	struct timespec		 t0, t1;
	char			 err[SVCFILE_ERRLEN], *buf;
	size_t			 len, i;
	int			 big;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (svcfile_read(sf->path, &buf, &len, &st, err, sizeof(err)) == -1) {
		sf->have_seen = 0;
		if (!sf->missing_warned)
			log_warnx("services file unreadable, keeping previous "
			    "state: %s", err);
		sf->missing_warned = 1;
		return (-1);
	}
	sf->missing_warned = 0;
	sf->seen = st;
	sf->have_seen = 1;
	if (svcfile_parse_diff(buf, len, sf->path, sf->cache, &d, err,
	    sizeof(err)) == -1) {
		free(buf);
		log_warnx("services file rejected, keeping previous state: %s",
		    err);
		return (-1);
	}
	free(buf);
	for (i = 0; i < d.objs.nnotes; i++)
		log_info("%s", d.objs.notes[i]);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_info("services file %s: %zu services, %zu endpoints (%zu new or "
	    "changed, %zu gone), parsed in %ld ms", sf->path, d.total_svcs,
	    d.total_eps, d.objs.nsvcs + d.objs.neps,
	    d.ngone_svcs + d.ngone_eps,
	    (long)((t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000));
	big = d.objs.nsvcs + d.objs.neps + d.ngone_svcs + d.ngone_eps >= 1024;
	svcfile_diff_apply(&d, sf->model);
	model_set_synced(sf->model, MODEL_F_SERVICES | MODEL_F_ENDPOINTS);
#ifdef __GLIBC__
	/*
	 * The parse trees of a large file (100 MB for 10k Services) were
	 * freed, but glibc keeps the memory mapped; give it back so the
	 * daemon's resident size reflects what it really holds.
	 */
	if (big)
		malloc_trim(0);
#endif
	return (0);
}

/* Reload once the debounce timer expired. */
static void
sf_debounce_cb(evutil_socket_t fd, short what, void *arg)
{
	sf_load(arg);
}

/* Start the debounce timer unless it already runs. */
static void
sf_schedule(struct svcfile *sf)
{
	struct timeval	tv = { 0, SVCFILE_DEBOUNCE_MS * 1000 };

	if (!evtimer_pending(sf->debounce, NULL))
		evtimer_add(sf->debounce, &tv);
}

/* Drain inotify; schedule a reload if our file was touched. */
static void
sf_inotify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct svcfile			*sf = arg;
	char				 buf[4096]
	    __attribute__((__aligned__(__alignof__(struct inotify_event))));
	const struct inotify_event	*ev;
	ssize_t				 n;
	char				*p;
	int				 hit = 0, i;

	/* Bounded: a busy directory cannot keep us here forever. */
	for (i = 0; i < 64; i++) {
		if ((n = read(fd, buf, sizeof(buf))) == -1) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("%s: inotify read", sf->dir);
			break;
		}
		for (p = buf; p < buf + n;
		    p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW)
				hit = 1;
			else if (ev->len > 0 &&
			    strcmp(ev->name, sf->file) == 0)
				hit |= (ev->mask & (IN_CLOSE_WRITE |
				    IN_MOVED_TO)) ? 2 : 1;
		}
	}
	/*
	 * A closed writer or a rename into place means the file is
	 * complete: load it now.  Other events (create, attributes,
	 * delete) may be the start of a burst: wait for it to settle.
	 */
	if (hit == 2) {
		evtimer_del(sf->debounce);
		sf_load(sf);
	} else if (hit)
		sf_schedule(sf);
}

/* Reload if the file changed behind inotify's back (the slow poll). */
static void
sf_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct svcfile	*sf = arg;
	struct stat	 st;

	if (stat(sf->path, &st) == -1) {
		if (sf->have_seen)
			log_warnx("services file %s: %s; keeping previous "
			    "state", sf->path, strerror(errno));
		sf->have_seen = 0;
		return;
	}
	if (sf_changed(sf, &st))
		sf_schedule(sf);
}

/* Set up inotify on the file's directory; failure leaves the poll. */
static void
sf_watch(struct svcfile *sf)
{
	uint32_t	mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE |
			    IN_DELETE | IN_MOVED_FROM | IN_ATTRIB;

	if ((sf->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		log_warn("inotify_init1; polling %s every %d s", sf->path,
		    SVCFILE_POLL_SEC);
		return;
	}
	if (inotify_add_watch(sf->ifd, sf->dir, mask) == -1) {
		log_warn("inotify %s; polling %s every %d s", sf->dir,
		    sf->path, SVCFILE_POLL_SEC);
		close(sf->ifd);
		sf->ifd = -1;
		return;
	}
	sf->iev = event_new(sf->base, sf->ifd, EV_READ | EV_PERSIST,
	    sf_inotify_cb, sf);
	if (sf->iev == NULL || event_add(sf->iev, NULL) == -1) {
		log_warnx("%s: cannot watch inotify; polling", sf->dir);
		/* libevent's event_free() does not take NULL. */
		if (sf->iev != NULL)
			event_free(sf->iev);
		sf->iev = NULL;
		close(sf->ifd);
		sf->ifd = -1;
	}
}

/* Pass the Services of a large file still being parsed to the model. */
static void
sf_staged(void *arg, const struct model_service *const *svcs, size_t n)
{
	struct svcfile	*sf = arg;

	model_stage_services(sf->model, svcs, n);
}

/* The staging of a large file is over. */
static void
sf_stage_end(void *arg)
{
	struct svcfile	*sf = arg;

	model_stage_end(sf->model);
}

/* Watch path and feed the model. */
struct svcfile *
svcfile_new(struct event_base *base, const char *path, struct model *model)
{
	struct svcfile		*sf;
	struct svcfile_stage	 st;
	struct timeval		 tv = { SVCFILE_POLL_SEC, 0 };
	char			*tmp;

	sf = xcalloc(1, sizeof(*sf));
	sf->base = base;
	sf->model = model;
	sf->ifd = -1;
	sf->cache = svcfile_cache_new();
	st.staged = sf_staged;
	st.end = sf_stage_end;
	st.arg = sf;
	svcfile_cache_set_stage(sf->cache, &st);
	sf->path = xstrdup(path);
	tmp = xstrdup(path);
	sf->dir = xstrdup(dirname(tmp));
	free(tmp);
	tmp = xstrdup(path);
	sf->file = xstrdup(basename(tmp));
	free(tmp);
	sf->debounce = evtimer_new(base, sf_debounce_cb, sf);
	sf->poll = event_new(base, -1, EV_PERSIST, sf_poll_cb, sf);
	if (sf->debounce == NULL || sf->poll == NULL ||
	    event_add(sf->poll, &tv) == -1) {
		svcfile_free(sf);
		return (NULL);
	}
	sf_watch(sf);
	if (sf_load(sf) == -1 && !sf->have_seen)
		log_info("waiting for services file %s", sf->path);
	return (sf);
}

/* Re-read now. */
int
svcfile_reload(struct svcfile *sf)
{
	if (sf->debounce != NULL)
		evtimer_del(sf->debounce);
	sf->missing_warned = 0;
	return (sf_load(sf));
}

/* Stop watching and free. */
void
svcfile_free(struct svcfile *sf)
{
	if (sf == NULL)
		return;
	if (sf->iev != NULL)
		event_free(sf->iev);
	if (sf->ifd != -1)
		close(sf->ifd);
	if (sf->debounce != NULL)
		event_free(sf->debounce);
	if (sf->poll != NULL)
		event_free(sf->poll);
	svcfile_cache_free(sf->cache);
	free(sf->path);
	free(sf->dir);
	free(sf->file);
	free(sf);
}
