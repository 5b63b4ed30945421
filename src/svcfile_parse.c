/*
 * svcfile_parse.c: the services file parser.
 *
 * Parsing is all-or-nothing: one bad object rejects the file, so that a
 * typo never tears down working services.  The file is cut into pieces
 * at its "---" lines (svcfile_cut), each parsed alone; svcfile_cache.c
 * uses the same cut to re-parse only the pieces whose text changed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "htab.h"
#include "k8s_decode.h"
#include "log.h"
#include "model.h"
#include "svcfile_parse.h"
#include "xmalloc.h"
#include "yamljson.h"

#define SVCFILE_ERRLEN		1024

/* What one parse of a piece tracks besides the output. */
struct svcfile_pctx {
	struct yamljson_errbuf	 eb;		/* "FILE:LINE: msg" */
	struct svcfile_objs	*out;
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
void
svcfile_cut(const char *buf, size_t len, struct svcfile_piece **vp,
    size_t *np)
{
	struct svcfile_piece	*v = NULL;
	const char		*nl;
	size_t			 n = 0, cap = 0, off = 0, start = 0;
	int			 line = 0, line0 = 0;

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

/* Parse and decode one piece into out (lines from the piece's start). */
int
svcfile_parse_piece(const struct svcfile_piece *pc, const char *fname,
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
void
svcfile_objs_take(struct svcfile_objs *out, struct svcfile_objs *o,
    int line0)
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
	struct svcfile_piece	*pcs;
	struct svcfile_objs	 one;
	size_t			 npcs, i;
	int			 rc = -1;

	memset(out, 0, sizeof(*out));
	svcfile_cut(buf, len, &pcs, &npcs);
	for (i = 0; i < npcs; i++) {
		if (svcfile_parse_piece(&pcs[i], fname, &one, err,
		    errlen) == -1)
			goto out;
		svcfile_objs_take(out, &one, pcs[i].line0);
		svcfile_objs_free(&one);
	}
	rc = sf_check_dups(out, fname, err, errlen);
out:
	free(pcs);
	if (rc == -1)
		svcfile_objs_free(out);
	return (rc);
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
