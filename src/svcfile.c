/*
 * svcfile.c: the services file source.
 *
 * Parsing is all-or-nothing: one bad object rejects the file and the
 * model keeps what it had, so a typo never tears down working services.
 *
 * Watching uses inotify on the file's directory, not on the file: an
 * editor or "kubectl ... > tmp && mv tmp file" replaces the inode, and a
 * watch on the old inode would go quiet.  Events are debounced so a
 * burst of writes is one reload.  A slow stat() poll covers what inotify
 * cannot see (NFS, a directory that did not exist yet, queue overflow).
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
	struct stat		 seen;		/* last file read */
	int			 have_seen;	/* 0: missing or unread */
	int			 missing_warned;
};

/* What one svcfile_parse run tracks besides the output. */
struct svcfile_pctx {
	struct yamljson_errbuf	 eb;		/* "FILE:LINE: msg" */
	struct svcfile_objs	*out;
	struct htab		*names;		/* "kind/ns/name" -> line */
};

/* Keep a note ("FILE:LINE: msg") for the loader to log. */
static void
sf_note(struct svcfile_pctx *p, int line, const char *msg)
{
	struct svcfile_objs	*o = p->out;

	o->notes = xreallocarray(o->notes, o->nnotes + 1, sizeof(*o->notes));
	xasprintf(&o->notes[o->nnotes++], "%s:%d: %s", p->eb.fname, line,
	    msg);
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

/* Reject a second object of the same kind and ns/name. */
static int
sf_check_dup(struct svcfile_pctx *p, struct json_object *o,
    const char *kind)
{
	const char	*ns, *name;
	char		*key;
	void		*prev;
	int		 n, line = yamljson_line(o);

	if (k8s_decode_meta(o, &ns, &name) == -1)
		return (0);	/* the decoder reports it */
	n = xasprintf(&key, "%s/%s/%s", kind, ns, name);
	if ((prev = htab_get(p->names, key, (size_t)n)) != NULL) {
		free(key);
		return (yamljson_fail(&p->eb, line, "%s/%s: duplicate %s "
		    "(first at line %d)", ns, name, kind, (int)(intptr_t)prev));
	}
	if (htab_put(p->names, key, (size_t)n, (void *)(intptr_t)line,
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

	if (sf_check_dup(p, o, "Service") == -1)
		return (-1);
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

	if (sf_check_dup(p, o, "Endpoints") == -1)
		return (-1);
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

/* Parse a whole services file. */
int
svcfile_parse(const char *buf, size_t len, const char *fname,
    struct svcfile_objs *out, char *err, size_t errlen)
{
	struct svcfile_pctx	  p;
	struct json_object	**docs;
	size_t			  ndocs, i;
	int			  rc = -1;

	memset(out, 0, sizeof(*out));
	if (yamljson_parse_named(buf, len, fname, &docs, &ndocs, err,
	    errlen) == -1)
		return (-1);
	memset(&p, 0, sizeof(p));
	p.eb.fname = fname;
	p.eb.err = err;
	p.eb.errlen = errlen;
	p.out = out;
	if ((p.names = htab_new()) == NULL)
		fatalx("svcfile: out of memory");
	for (i = 0; i < ndocs; i++)
		if (sf_object(&p, docs[i], "document") == -1)
			goto out;
	rc = 0;
out:
	htab_free(p.names, NULL);
	yamljson_free(docs, ndocs);
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
	struct svcfile_objs	 objs;
	struct stat		 st;
	struct timespec		 t0, t1;
	char			 err[SVCFILE_ERRLEN], *buf;
	size_t			 len, i;

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
	if (svcfile_parse(buf, len, sf->path, &objs, err, sizeof(err)) ==
	    -1) {
		free(buf);
		log_warnx("services file rejected, keeping previous state: %s",
		    err);
		return (-1);
	}
	free(buf);
	for (i = 0; i < objs.nnotes; i++)
		log_info("%s", objs.notes[i]);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_info("services file %s: %zu services, %zu endpoints, parsed in "
	    "%ld ms", sf->path, objs.nsvcs, objs.neps,
	    (long)((t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000));
	/* The model now owns the objects; only the arrays are ours. */
	model_replace(sf->model, objs.svcs, objs.nsvcs, objs.eps, objs.neps);
	objs.nsvcs = objs.neps = 0;
	svcfile_objs_free(&objs);
	model_set_synced(sf->model, MODEL_F_SERVICES | MODEL_F_ENDPOINTS);
#ifdef __GLIBC__
	/*
	 * The parse trees of a large file (100 MB for 10k Services) were
	 * freed, but glibc keeps the memory mapped; give it back so the
	 * daemon's resident size reflects what it really holds.
	 */
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
			if ((ev->mask & IN_Q_OVERFLOW) ||
			    (ev->len > 0 && strcmp(ev->name, sf->file) == 0))
				hit = 1;
		}
	}
	if (hit)
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

/* Watch path and feed the model. */
struct svcfile *
svcfile_new(struct event_base *base, const char *path, struct model *model)
{
	struct svcfile	*sf;
	struct timeval	 tv = { SVCFILE_POLL_SEC, 0 };
	char		*tmp;

	sf = xcalloc(1, sizeof(*sf));
	sf->base = base;
	sf->model = model;
	sf->ifd = -1;
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
	free(sf->path);
	free(sf->dir);
	free(sf->file);
	free(sf);
}
