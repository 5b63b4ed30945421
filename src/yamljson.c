/*
 * yamljson.c: a libyaml event parser that builds json-c trees.
 *
 * The parser keeps an explicit stack of open containers (no recursion,
 * and a depth cap, because json_object_put() itself recurses).  Every
 * node carries its 1-based start line in the json-c userdata slot.
 *
 * Aliases share the anchored subtree by reference count rather than
 * copying it: json_object_deep_copy() refuses objects with userdata, and
 * sharing keeps memory flat.  The logical size of the expansion is still
 * counted, so that a "billion laughs" stream is rejected before any
 * consumer walks it: a stream may hold YAMLJSON_MAX_NODES nodes plus one
 * per input byte.  Nodes written out in the text take at least about a
 * byte each, so a big honest file always fits and only aliases can reach
 * the limit.  Anchors are registered only
 * when their node is complete, so an alias can never form a cycle.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <yaml.h>

#include "xmalloc.h"
#include "yamljson.h"

#define YAMLJSON_MAX_NODES	1000000	/* beyond one per input byte */
#define YAMLJSON_MAX_DEPTH	512

#define YAMLJSON_TAG_STR	"tag:yaml.org,2002:str"

/* One open container. */
struct yj_frame {
	struct json_object	*obj;
	int			 is_map;
	char			*key;		/* pending key, maps only */
	char			*anchor;	/* registered when complete */
	size_t			 nodes;		/* logical size so far */
};

/* A completed anchored node. */
struct yj_anchor {
	char			*name;
	struct json_object	*obj;		/* one reference held */
	size_t			 nodes;
};

struct yj_state;

static int	yj_error(struct yj_state *, const yaml_mark_t *, const char *,
		    ...) __attribute__((__format__(printf, 3, 4)));

struct yj_state {
	struct yj_frame		*stack;
	size_t			 depth;
	struct yj_anchor	*anchors;
	size_t			 nanchors;
	size_t			 total;		/* nodes, aliases expanded */
	size_t			 max_nodes;
	struct json_object	*root;
	int			 have_root;
	struct json_object	**docs;
	size_t			 ndocs;
	char			*err;
	size_t			 errlen;
	size_t			 line0;		/* added to error lines */
};

/* Record line in a node's userdata (no-op for null, which is NULL). */
static void
yj_set_line(struct json_object *o, size_t line)
{
	if (o != NULL)
		json_object_set_userdata(o, (void *)(intptr_t)line, NULL);
}

/* Return the 1-based line of a node made by yamljson_parse, or 0. */
int
yamljson_line(struct json_object *o)
{
	if (o == NULL)
		return (0);
	return ((int)(intptr_t)json_object_get_userdata(o));
}

/* Return 1 if s is a YAML 1.2 core decimal integer (no leading zeros). */
static int
yj_is_int(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	if (*s == '0')
		return (s[1] == '\0');
	if (*s < '1' || *s > '9')
		return (0);
	while (*s >= '0' && *s <= '9')
		s++;
	return (*s == '\0');
}

/* Return 1 if s is a float: digits with a dot and/or an exponent. */
static int
yj_is_float(const char *s)
{
	int	digits = 0, dot = 0;

	if (*s == '-' || *s == '+')
		s++;
	for (; *s != '\0'; s++) {
		if (*s >= '0' && *s <= '9')
			digits++;
		else if (*s == '.' && !dot)
			dot = 1;
		else
			break;
	}
	if (digits == 0)
		return (0);
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			s++;
		if (*s < '0' || *s > '9')
			return (0);
		while (*s >= '0' && *s <= '9')
			s++;
		return (*s == '\0');
	}
	return (dot && *s == '\0');
}

/* Return 1 and set *o if a plain scalar is null, bool or a number. */
static int
yj_resolve(const char *s, struct json_object **o)
{
	long long	 ll;
	double		 d;
	char		*end;

	*o = NULL;
	if (*s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0)
		return (1);
	if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 ||
	    strcmp(s, "TRUE") == 0) {
		*o = json_object_new_boolean(1);
		return (1);
	}
	if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 ||
	    strcmp(s, "FALSE") == 0) {
		*o = json_object_new_boolean(0);
		return (1);
	}
	if (yj_is_int(s)) {
		errno = 0;
		ll = strtoll(s, &end, 10);
		if (errno == 0 && *end == '\0') {
			*o = json_object_new_int64(ll);
			return (1);
		}
		return (0);	/* out of range: keep the text */
	}
	if (yj_is_float(s)) {
		d = strtod(s, &end);
		if (*end == '\0') {
			*o = json_object_new_double(d);
			return (1);
		}
	}
	return (0);
}

/* Convert a scalar event to a node (NULL for null). */
static struct json_object *
yj_scalar(const yaml_event_t *ev)
{
	const char		*s = (const char *)ev->data.scalar.value;
	const char		*tag = (const char *)ev->data.scalar.tag;
	struct json_object	*o;

	if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (tag == NULL || strcmp(tag, YAMLJSON_TAG_STR) != 0) &&
	    (tag != NULL || ev->data.scalar.plain_implicit) &&
	    yj_resolve(s, &o))
		return (o);
	return (json_object_new_string_len(s, (int)ev->data.scalar.length));
}

/* Format an error "line N: msg" into the state's buffer; return -1. */
static int
yj_error(struct yj_state *st, const yaml_mark_t *mark, const char *fmt, ...)
{
	char	msg[256];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(st->err, st->errlen, "line %zu: %s",
	    mark->line + 1 + st->line0, msg);
	return (-1);
}

/* Count nodes against the cap. */
static int
yj_count(struct yj_state *st, size_t n, const yaml_mark_t *mark)
{
	if (n > st->max_nodes || st->total > st->max_nodes - n)
		return (yj_error(st, mark, "more than %zu nodes (alias "
		    "expansion?)", st->max_nodes));
	st->total += n;
	return (0);
}

/* Register (or redefine) an anchor for a completed node. */
static void
yj_anchor_add(struct yj_state *st, char *name, struct json_object *o,
    size_t nodes)
{
	size_t	i;

	for (i = 0; i < st->nanchors; i++) {
		if (strcmp(st->anchors[i].name, name) == 0) {
			free(name);
			json_object_put(st->anchors[i].obj);
			st->anchors[i].obj = json_object_get(o);
			st->anchors[i].nodes = nodes;
			return;
		}
	}
	st->anchors = xreallocarray(st->anchors, st->nanchors + 1,
	    sizeof(*st->anchors));
	st->anchors[st->nanchors].name = name;
	st->anchors[st->nanchors].obj = json_object_get(o);
	st->anchors[st->nanchors].nodes = nodes;
	st->nanchors++;
}

/* Drop every anchor (anchors are scoped to one document). */
static void
yj_anchors_clear(struct yj_state *st)
{
	size_t	i;

	for (i = 0; i < st->nanchors; i++) {
		free(st->anchors[i].name);
		json_object_put(st->anchors[i].obj);
	}
	free(st->anchors);
	st->anchors = NULL;
	st->nanchors = 0;
}

/*
 * Attach a completed node (reference consumed) to the open container or
 * make it the document root.  anchor (may be NULL) is consumed.
 */
static int
yj_attach(struct yj_state *st, struct json_object *o, size_t nodes,
    char *anchor)
{
	struct yj_frame	*f;

	if (anchor != NULL)
		yj_anchor_add(st, anchor, o, nodes);
	if (st->depth == 0) {
		st->root = o;
		st->have_root = 1;
		return (0);
	}
	f = &st->stack[st->depth - 1];
	f->nodes += nodes;
	if (!f->is_map) {
		json_object_array_add(f->obj, o);
		return (0);
	}
	/* The key was checked for duplicates when it was read. */
	json_object_object_add(f->obj, f->key, o);
	free(f->key);
	f->key = NULL;
	return (0);
}

/* Return 1 if the open container is a map waiting for a key. */
static int
yj_want_key(const struct yj_state *st)
{
	return (st->depth > 0 && st->stack[st->depth - 1].is_map &&
	    st->stack[st->depth - 1].key == NULL);
}

/* Take a scalar as the pending key of the open map. */
static int
yj_key(struct yj_state *st, const yaml_event_t *ev)
{
	struct yj_frame	*f = &st->stack[st->depth - 1];
	const char	*k = (const char *)ev->data.scalar.value;

	if (strlen(k) != ev->data.scalar.length)
		return (yj_error(st, &ev->start_mark,
		    "mapping key contains a NUL byte"));
	if (json_object_object_get_ex(f->obj, k, NULL))
		return (yj_error(st, &ev->start_mark, "duplicate key \"%s\"",
		    k));
	f->key = xstrdup(k);
	return (0);
}

/* Open a mapping or sequence. */
static int
yj_open(struct yj_state *st, const yaml_event_t *ev, int is_map)
{
	struct yj_frame	*f;
	yaml_char_t	*anchor;

	if (st->depth >= YAMLJSON_MAX_DEPTH)
		return (yj_error(st, &ev->start_mark, "nesting deeper than %d",
		    YAMLJSON_MAX_DEPTH));
	if (yj_count(st, 1, &ev->start_mark) == -1)
		return (-1);
	if (st->stack == NULL)
		st->stack = xcalloc(YAMLJSON_MAX_DEPTH, sizeof(*st->stack));
	anchor = is_map ? ev->data.mapping_start.anchor :
	    ev->data.sequence_start.anchor;
	f = &st->stack[st->depth++];
	f->obj = is_map ? json_object_new_object() : json_object_new_array();
	if (f->obj == NULL) {
		st->depth--;
		return (yj_error(st, &ev->start_mark, "out of memory"));
	}
	yj_set_line(f->obj, ev->start_mark.line + 1);
	f->is_map = is_map;
	f->key = NULL;
	f->anchor = anchor != NULL ? xstrdup((const char *)anchor) : NULL;
	f->nodes = 1;
	return (0);
}

/* Close the open container and attach it to its parent. */
static int
yj_close(struct yj_state *st, const yaml_event_t *ev)
{
	struct yj_frame	 f;

	f = st->stack[--st->depth];
	return (yj_attach(st, f.obj, f.nodes, f.anchor));
}

/* Handle a scalar event: a key, a value or a root. */
static int
yj_on_scalar(struct yj_state *st, const yaml_event_t *ev)
{
	struct json_object	*o;
	yaml_char_t		*anchor = ev->data.scalar.anchor;

	if (yj_want_key(st))
		return (yj_key(st, ev));
	if (yj_count(st, 1, &ev->start_mark) == -1)
		return (-1);
	o = yj_scalar(ev);
	yj_set_line(o, ev->start_mark.line + 1);
	return (yj_attach(st, o, 1, anchor != NULL ?
	    xstrdup((const char *)anchor) : NULL));
}

/* Handle an alias event: share the anchored node. */
static int
yj_on_alias(struct yj_state *st, const yaml_event_t *ev)
{
	const char	*name = (const char *)ev->data.alias.anchor;
	size_t		 i;

	if (yj_want_key(st))
		return (yj_error(st, &ev->start_mark,
		    "mapping key must be a scalar"));
	for (i = 0; i < st->nanchors; i++)
		if (strcmp(st->anchors[i].name, name) == 0)
			break;
	if (i == st->nanchors)
		return (yj_error(st, &ev->start_mark,
		    "undefined or recursive alias \"%s\"", name));
	if (yj_count(st, st->anchors[i].nodes, &ev->start_mark) == -1)
		return (-1);
	return (yj_attach(st, json_object_get(st->anchors[i].obj),
	    st->anchors[i].nodes, NULL));
}

/* Finish a document: keep its root unless it is empty (null). */
static void
yj_on_doc_end(struct yj_state *st)
{
	if (st->have_root && st->root != NULL) {
		st->docs = xreallocarray(st->docs, st->ndocs + 1,
		    sizeof(*st->docs));
		st->docs[st->ndocs++] = st->root;
	}
	st->root = NULL;
	st->have_root = 0;
	yj_anchors_clear(st);
}

/* Dispatch one parser event; *done is set at stream end. */
static int
yj_event(struct yj_state *st, const yaml_event_t *ev, int *done)
{
	switch (ev->type) {
	case YAML_STREAM_END_EVENT:
		*done = 1;
		return (0);
	case YAML_DOCUMENT_END_EVENT:
		yj_on_doc_end(st);
		return (0);
	case YAML_SCALAR_EVENT:
		return (yj_on_scalar(st, ev));
	case YAML_ALIAS_EVENT:
		return (yj_on_alias(st, ev));
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		if (yj_want_key(st))
			return (yj_error(st, &ev->start_mark,
			    "mapping key must be a scalar"));
		return (yj_open(st, ev, ev->type == YAML_MAPPING_START_EVENT));
	case YAML_MAPPING_END_EVENT:
	case YAML_SEQUENCE_END_EVENT:
		return (yj_close(st, ev));
	default:
		return (0);
	}
}

/* Release everything the state still holds. */
static void
yj_state_free(struct yj_state *st)
{
	size_t	i;

	for (i = st->depth; i > 0; i--) {
		json_object_put(st->stack[i - 1].obj);
		free(st->stack[i - 1].key);
		free(st->stack[i - 1].anchor);
	}
	free(st->stack);
	yj_anchors_clear(st);
	json_object_put(st->root);
	yamljson_free(st->docs, st->ndocs);
}

/*
 * Format libyaml's own error.  Reader errors (bad UTF-8, control
 * characters) carry a byte offset instead of a mark.
 */
static void
yj_parser_error(struct yj_state *st, const yaml_parser_t *p,
    const char *buf, size_t len)
{
	size_t	line, i;

	if (p->error == YAML_MEMORY_ERROR) {
		snprintf(st->err, st->errlen, "line 0: out of memory");
		return;
	}
	line = p->problem_mark.line + 1;
	if (p->error == YAML_READER_ERROR) {
		line = 1;
		for (i = 0; i < p->problem_offset && i < len; i++)
			if (buf[i] == '\n')
				line++;
	}
	if (p->context != NULL)
		snprintf(st->err, st->errlen, "line %zu: %s (%s at line %zu)",
		    line + st->line0, p->problem != NULL ? p->problem :
		    "invalid YAML", p->context,
		    p->context_mark.line + 1 + st->line0);
	else
		snprintf(st->err, st->errlen, "line %zu: %s",
		    line + st->line0, p->problem != NULL ? p->problem :
		    "invalid YAML");
}

/* Parse every document of a YAML stream; errors count from line0. */
static int
yj_parse(const char *buf, size_t len, size_t line0,
    struct json_object ***docs, size_t *ndocs, char *err, size_t errlen)
{
	struct yj_state	 st;
	yaml_parser_t	 parser;
	yaml_event_t	 ev;
	int		 done = 0, rc = -1;

	*docs = NULL;
	*ndocs = 0;
	memset(&st, 0, sizeof(st));
	st.err = err;
	st.errlen = errlen;
	st.line0 = line0;
	st.max_nodes = YAMLJSON_MAX_NODES +
	    (len < SIZE_MAX - YAMLJSON_MAX_NODES ? len : 0);
	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, errlen, "line 0: out of memory");
		return (-1);
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			yj_parser_error(&st, &parser, buf, len);
			rc = -1;
			goto out;
		}
		rc = yj_event(&st, &ev, &done);
		yaml_event_delete(&ev);
		if (rc == -1)
			goto out;
	}
	*docs = st.docs;
	*ndocs = st.ndocs;
	st.docs = NULL;
	st.ndocs = 0;
	rc = 0;
out:
	yj_state_free(&st);
	yaml_parser_delete(&parser);
	return (rc);
}

/* Parse every document of a YAML stream. */
int
yamljson_parse(const char *buf, size_t len, struct json_object ***docs,
    size_t *ndocs, char *err, size_t errlen)
{
	return (yj_parse(buf, len, 0, docs, ndocs, err, errlen));
}

/* Free what yamljson_parse returned. */
void
yamljson_free(struct json_object **docs, size_t ndocs)
{
	size_t	i;

	for (i = 0; i < ndocs; i++)
		json_object_put(docs[i]);
	free(docs);
}

/* Parse a YAML stream read from fname; errors name the file. */
int
yamljson_parse_named(const char *buf, size_t len, const char *fname,
    struct json_object ***docs, size_t *ndocs, char *err, size_t errlen)
{
	return (yamljson_parse_at(buf, len, fname, 0, docs, ndocs, err,
	    errlen));
}

/* Parse a piece of fname that starts after line line0. */
int
yamljson_parse_at(const char *buf, size_t len, const char *fname, int line0,
    struct json_object ***docs, size_t *ndocs, char *err, size_t errlen)
{
	char	yerr[YAMLJSON_MSGLEN];
	int	line;

	if (line0 < 0)
		line0 = 0;
	if (yj_parse(buf, len, (size_t)line0, docs, ndocs, yerr,
	    sizeof(yerr)) == 0)
		return (0);
	/* yamljson_parse says "line N: reason". */
	if (sscanf(yerr, "line %d: ", &line) == 1 &&
	    strchr(yerr, ':') != NULL)
		snprintf(err, errlen, "%s:%d:%s", fname, line,
		    strchr(yerr, ':') + 1);
	else
		snprintf(err, errlen, "%s: %s", fname, yerr);
	return (-1);
}

/* Free a buffer that held n bytes of a file, wiping them first. */
static void
yj_buf_free(char *b, size_t n)
{
	if (b == NULL)
		return;
	/* The file may be a kubeconfig or a token: leave no copy behind. */
	explicit_bzero(b, n);
	free(b);
}

/* Read a whole regular file of at most max bytes, NUL-terminated. */
int
yamljson_read_file(const char *path, size_t max, char **buf, size_t *len,
    struct stat *st, char *err, size_t errlen)
{
	struct stat	 sb;
	char		*b = NULL, *nb;
	size_t		 cap, n = 0;
	ssize_t		 r;
	int		 fd;

	*buf = NULL;
	*len = 0;
	/*
	 * O_NONBLOCK: a FIFO (or a device) put at the path is refused
	 * below instead of blocking the daemon in open().  Symbolic links
	 * are followed: the kubelet's ConfigMap and Secret volumes are
	 * made of them (..data).
	 */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return (-1);
	}
	if (fstat(fd, &sb) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto fail;
	}
	if ((uintmax_t)sb.st_size > max)
		goto too_big;
	/* The file may grow while we read; one byte more detects that. */
	cap = (size_t)sb.st_size + 1;
	b = xmalloc(cap + 1);
	for (;;) {
		if (n == cap) {
			if (cap > max)
				goto too_big;
			cap = cap > max / 2 ? max + 1 : cap * 2;
			nb = xmalloc(cap + 1);
			memcpy(nb, b, n);
			yj_buf_free(b, n);
			b = nb;
		}
		if ((r = read(fd, b + n, cap - n)) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	b[n] = '\0';
	if (st != NULL)
		*st = sb;
	*buf = b;
	*len = n;
	return (0);

too_big:
	snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
fail:
	yj_buf_free(b, n);
	close(fd);
	return (-1);
}

/* Return member key of o, or NULL if absent, null or o is no mapping. */
struct json_object *
yamljson_get(struct json_object *o, const char *key)
{
	struct json_object	*v = NULL;

	if (!json_object_is_type(o, json_type_object))
		return (NULL);
	json_object_object_get_ex(o, key, &v);
	return (v);
}

/* Write "FILE:LINE: msg" into the error buffer; return -1. */
int
yamljson_fail(struct yamljson_errbuf *eb, int line, const char *fmt, ...)
{
	char	msg[YAMLJSON_MSGLEN];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(eb->err, eb->errlen, "%s:%d: %s", eb->fname, line + eb->line0,
	    msg);
	return (-1);
}
