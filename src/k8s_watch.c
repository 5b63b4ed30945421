/*
 * k8s_watch.c: list and watch Services and endpoints from the API
 * server and keep the model equal to what the server holds.
 *
 * One kw_res per kind does what client-go's reflector does: list in
 * pages (limit and continue), remember the list's resourceVersion, watch
 * from it with bookmarks, follow resourceVersion through the events.  A
 * watch that ends normally (the server's timeoutSeconds) resumes from
 * the last resourceVersion; a cut or undecodable stream resumes from it
 * after a backoff; 410 Gone or an ERROR event re-lists.  Because
 * resourceVersion only moves once an event is applied, resuming never
 * loses or repeats an event.
 *
 * EndpointSlices are kept in a k8s_slices store grouped by Service; a
 * change to a slice recomputes the merged Endpoints of its Service(s).
 *
 * Invalid objects are logged once per distinct error, with ns/name, and
 * treated as absent (on a list and on a watch alike, so both paths give
 * the same model).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __GLIBC__	/* defined by the headers above */
#include <malloc.h>
#endif

#include <event2/event.h>
#include <curl/curl.h>
#include <json-c/json.h>

#include "config.h"
#include "htab.h"
#include "k8s_client.h"
#include "k8s_decode.h"
#include "k8s_get.h"
#include "k8s_node.h"
#include "k8s_slices.h"
#include "k8s_watch.h"
#include "kubeconfig.h"
#include "log.h"
#include "model.h"
#include "monotime.h"
#include "netutil.h"
#include "xmalloc.h"

#define KW_SERVICES		0
#define KW_ENDPOINTS		1
#define KW_NRES			2

#define KW_MAX_PAGE		(256 * 1024 * 1024)	/* one list answer */
#define KW_MAX_SMALL		(4 * 1024 * 1024)	/* discovery */
#define KW_LIST_TIMEOUT_MS	(5 * 60 * 1000L)
#define KW_GET_TIMEOUT_MS	(30 * 1000L)
#define KW_WATCH_SLACK_S	30	/* past timeoutSeconds */
#define KW_ERRLEN		1024
#define KW_STAGE_BATCH		512	/* Services staged at a time */

/* kube-proxy's informer label selector, URL-encoded. */
#define KW_SELECTOR	"%21service.kubernetes.io%2Fservice-proxy-name" \
			"%2C%21service.kubernetes.io%2Fheadless"

enum kw_state {
	KW_IDLE = 0,		/* not started (endpoints: discovery) */
	KW_LISTING,		/* a list page in flight */
	KW_WATCHING,		/* a watch stream open */
	KW_WAITING,		/* the retry timer runs */
};

/* Why a watch's data callback stopped the stream. */
#define KW_STOP_NONE	0
#define KW_STOP_GONE	1	/* ERROR event 410: re-list */
#define KW_STOP_ERROR	2	/* other ERROR event: re-list */
#define KW_STOP_BAD	3	/* undecodable stream: resume */

struct kw_res {
	struct k8s_watch	*w;
	int			 kind;		/* KW_SERVICES, KW_ENDPOINTS */
	int			 slices;	/* EndpointSlices */
	const char		*what;		/* "services", ... */
	const char		*path;		/* the collection */
	enum kw_state		 state;
	int			 relist;	/* next attempt lists */
	int			 synced;
	unsigned int		 fails;		/* since the last list */
	char			*rv;
	char			*cont;		/* list continue token */
	struct k8s_get		 get;		/* list pages */
	struct k8s_req		*req;		/* the watch */
	struct k8s_jstream	*js;		/* the watch stream */
	struct event		*timer;
	int			 stop;		/* KW_STOP_* */
	char			 stopmsg[KW_ERRLEN];
	uint64_t		 started;	/* watch start, ms */
	unsigned int		 nevents;	/* on this watch */
	/* A list being collected. */
	struct model_service	**lsvcs;
	size_t			 nlsvcs, caplsvcs;
	size_t			 nstaged;	/* lsvcs handed to the stage */
	int			 staging;	/* a stage is open */
	struct model_endpoints	**leps;
	size_t			 nleps, capleps;
	struct k8s_slices	*lstore;
	struct htab		*lbad;
	/* Live. */
	struct k8s_slices	*store;
	struct htab		*bad;		/* "ns/name" -> error logged */
};

struct k8s_watch {
	struct event_base	*base;
	struct model		*model;
	struct k8s_client	*client;
	struct k8s_watch_opts	 opts;
	int			 eps_source;
	struct k8s_node		*node;		/* NULL: no usable name */
	struct kw_res		 res[KW_NRES];
	struct k8s_get		 disc;
	int			 disc_step;	/* 0: v1, 1: v1beta1 */
	unsigned int		 disc_fails;
	struct event		*disc_timer;
	struct k8s_watch_stats	 stats;
};

static void	kw_res_run(struct kw_res *);
static void	kw_disc_start(struct k8s_watch *);

/* Pick the next retry delay of a request that failed *fails times. */
static unsigned int
kw_backoff(const struct k8s_watch *w, unsigned int *fails)
{
	return (k8s_backoff_ms(w->opts.backoff_min_ms, w->opts.backoff_max_ms,
	    fails));
}

/* Return a new "ns/name" key. */
static char *
kw_key(const char *ns, const char *name)
{
	char	*k;

	xasprintf(&k, "%s/%s", ns, name);
	return (k);
}

/* Free callback for string values. */
static void
kw_free_cb(void *v)
{
	free(v);
}

/* Log err for ns/name unless the same was logged; remember it in tab. */
static void
kw_bad_note(struct kw_res *r, struct htab *tab, const char *ns,
    const char *name, const char *err)
{
	char	*k = kw_key(ns, name), *old, q[256];
	void	*prev = NULL;
	size_t	 klen = strlen(k), i;

	r->w->stats.bad_objects++;
	/* The decoder's message starts with "ns/name: " already. */
	if (strncmp(err, k, klen) == 0 && strncmp(err + klen, ": ", 2) == 0)
		err += klen + 2;
	old = htab_get(r->bad, k, klen);
	if (old == NULL || strcmp(old, err) != 0) {
		/* A name that failed validation may hold a newline. */
		for (i = 0; k[i] > 0x20 && k[i] < 0x7f && k[i] != '"'; i++)
			;
		if (k[i] != '\0') {
			k8s_decode_quote(k, q, sizeof(q));
			log_warnx("%s: skipping \"%s\": %s", r->what, q, err);
		} else
			log_warnx("%s: skipping %s: %s", r->what, k, err);
	}
	if (htab_put(tab, k, strlen(k), xstrdup(err), &prev) == -1)
		fatalx("k8s_watch: out of memory");
	free(prev);
	free(k);
}

/* Forget the error of ns/name: it decoded fine or is gone. */
static void
kw_bad_clear(struct kw_res *r, const char *ns, const char *name)
{
	char	*k = kw_key(ns, name);

	free(htab_del(r->bad, k, strlen(k)));
	free(k);
}

/*
 * Decode one object of r's kind.  Returns 1 with *out set (a
 * model_service, model_endpoints or k8s_slice), or 0 if the object is
 * not ours or invalid (logged; noted in tab).
 */
static int
kw_decode(struct kw_res *r, struct json_object *o, struct htab *tab,
    void **out)
{
	const char	*ns, *name;
	char		 err[KW_ERRLEN];
	int		 rc;

	*out = NULL;
	err[0] = '\0';
	if (r->kind == KW_SERVICES)
		rc = k8s_decode_service(o, (struct model_service **)out, err,
		    sizeof(err));
	else if (r->slices)
		rc = k8s_decode_endpointslice(o, (struct k8s_slice **)out,
		    err, sizeof(err));
	else
		rc = k8s_decode_endpoints(o, (struct model_endpoints **)out,
		    err, sizeof(err));
	if (k8s_decode_meta(o, &ns, &name) == -1) {
		ns = "?";
		name = "?";
	}
	if (rc == K8S_DECODE_ERR) {
		kw_bad_note(r, tab, ns, name, err);
		return (0);
	}
	if (tab == r->bad)
		kw_bad_clear(r, ns, name);
	if (err[0] != '\0')
		log_debug("%s: %s", r->what, err);
	return (rc == K8S_DECODE_OK);
}

/* Store the new merged Endpoints of ns/svc (me NULL: none left). */
static void
kw_slices_changed(void *arg, const char *ns, const char *svc,
    struct model_endpoints *me)
{
	struct kw_res	*r = arg;

	if (me == NULL)
		model_delete_endpoints(r->w->model, ns, svc);
	else
		model_update_endpoints(r->w->model, me);
}

/* Apply one ADDED, MODIFIED or DELETED object to the model. */
static void
kw_apply(struct kw_res *r, int deleted, struct json_object *o)
{
	struct model	*m = r->w->model;
	const char	*ns, *name;
	void		*obj = NULL;
	int		 ok = 0;

	if (k8s_decode_meta(o, &ns, &name) == -1) {
		r->w->stats.bad_objects++;
		log_warnx("%s: watch event without metadata.name", r->what);
		return;
	}
	if (deleted)
		kw_bad_clear(r, ns, name);
	else
		ok = kw_decode(r, o, r->bad, &obj);
	if (r->kind == KW_SERVICES) {
		if (ok)
			model_update_service(m, obj);
		else
			model_delete_service(m, ns, name);
	} else if (!r->slices) {
		if (ok)
			model_update_endpoints(m, obj);
		else
			model_delete_endpoints(m, ns, name);
	} else
		k8s_slices_put(r->store, ns, name, obj, kw_slices_changed, r);
}

/* Return metadata.<key> of o as a string, or NULL. */
static const char *
kw_meta_str(struct json_object *o, const char *key)
{
	struct json_object	*meta, *v;

	if (!json_object_object_get_ex(o, "metadata", &meta) ||
	    !json_object_object_get_ex(meta, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return (NULL);
	return (json_object_get_string(v));
}

/* Remember rv (if any) as the point to resume from. */
static void
kw_set_rv(struct kw_res *r, const char *rv)
{
	if (rv == NULL || *rv == '\0')
		return;
	free(r->rv);
	r->rv = xstrdup(rv);
}

/* Stop the stream on an ERROR event and note what to do. */
static int
kw_event_error(struct kw_res *r, struct json_object *st)
{
	struct json_object	*v;
	const char		*msg = "";
	int			 code = 0;

	if (json_object_object_get_ex(st, "code", &v))
		code = json_object_get_int(v);
	if (json_object_object_get_ex(st, "message", &v) &&
	    json_object_is_type(v, json_type_string))
		msg = json_object_get_string(v);
	r->stop = code == 410 ? KW_STOP_GONE : KW_STOP_ERROR;
	snprintf(r->stopmsg, sizeof(r->stopmsg), "ERROR event: code %d: %s",
	    code, msg);
	return (-1);
}

/* Apply one watch event; return -1 to stop the stream. */
static int
kw_event(void *arg, struct json_object *ev)
{
	struct kw_res		*r = arg;
	struct json_object	*t, *o;
	const char		*type;

	if (!json_object_object_get_ex(ev, "type", &t) ||
	    !json_object_is_type(t, json_type_string) ||
	    !json_object_object_get_ex(ev, "object", &o) ||
	    !json_object_is_type(o, json_type_object)) {
		r->stop = KW_STOP_BAD;
		snprintf(r->stopmsg, sizeof(r->stopmsg),
		    "watch event without type or object");
		return (-1);
	}
	type = json_object_get_string(t);
	r->nevents++;
	if (strcmp(type, "ERROR") == 0)
		return (kw_event_error(r, o));
	if (strcmp(type, "BOOKMARK") == 0)
		r->w->stats.bookmarks++;
	else if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0)
		kw_apply(r, 0, o);
	else if (strcmp(type, "DELETED") == 0)
		kw_apply(r, 1, o);
	else
		log_warnx("%s: ignoring watch event of type %s", r->what, type);
	r->w->stats.events++;
	kw_set_rv(r, kw_meta_str(o, "resourceVersion"));
	return (0);
}

/* Decode watch body bytes into events as they complete. */
static int
kw_watch_data(void *arg, const char *buf, size_t len)
{
	struct kw_res	*r = arg;
	char		 err[K8S_CLIENT_ERRLEN];

	if (k8s_jstream_feed(r->js, buf, len, kw_event, r, err,
	    sizeof(err)) == 0)
		return (0);
	if (r->stop == KW_STOP_NONE) {
		r->stop = KW_STOP_BAD;
		snprintf(r->stopmsg, sizeof(r->stopmsg), "%s", err);
	}
	return (-1);
}

/* Try again after a backoff (or at once): a list or a watch. */
static void
kw_retry(struct kw_res *r, int relist, int backoff)
{
	unsigned int	ms = 0;

	if (relist)
		r->relist = 1;
	if (backoff)
		ms = kw_backoff(r->w, &r->fails);
	r->state = KW_WAITING;
	k8s_timer_add(r->timer, ms);
}

/* Log a failed request with what to check; retry after a backoff. */
static void
kw_fail(struct kw_res *r, const char *verb, long status, const char *msg,
    int relist)
{
	const char	*hint = "";
	unsigned int	 ms;

	r->w->stats.errors++;
	if (status == 401 || status == 403)
		hint = "; unauthorized: check the token/client certificate "
		    "in --kubeconfig";
	if (relist)
		r->relist = 1;
	ms = kw_backoff(r->w, &r->fails);
	log_warnx("%s %s from %s: %s%s; retrying in %u ms", verb, r->what,
	    k8s_client_server(r->w->client), msg, hint, ms);
	r->state = KW_WAITING;
	k8s_timer_add(r->timer, ms);
}

/* Resume, re-list or back off after the watch request ended. */
static void
kw_watch_done(void *arg, int result, long status, const char *msg)
{
	struct kw_res	*r = arg;

	r->req = NULL;
	if (result == K8S_REQ_HTTP && status == 410)
		r->stop = KW_STOP_GONE;
	if (result == K8S_REQ_ABORTED || r->stop == KW_STOP_GONE) {
		switch (r->stop) {
		case KW_STOP_GONE:
			r->w->stats.gone++;
			log_info("%s: resourceVersion %s is too old (410 "
			    "Gone): re-listing", r->what, r->rv);
			kw_retry(r, 1, 1);
			break;
		case KW_STOP_ERROR:
			kw_fail(r, "watch", 0, r->stopmsg, 1);
			break;
		default:
			kw_fail(r, "watch", 0, r->stopmsg, 0);
			break;
		}
		return;
	}
	if (result != K8S_REQ_OK)
		kw_fail(r, "watch", status, msg, 0);
	else if (k8s_jstream_pending(r->js))
		kw_fail(r, "watch", 0, "stream ended inside an event", 0);
	else if (r->nevents == 0 && monotime_ms() - r->started < 1000) {
		/* Closed as soon as opened: do not spin on such a server. */
		log_debug("%s: %s watch ended at once", __func__, r->what);
		kw_retry(r, 0, 1);
	} else {
		log_debug("%s: %s watch ended, resuming from %s", __func__,
		    r->what, r->rv);
		kw_retry(r, 0, 0);
	}
}

/* Open a watch from the last resourceVersion. */
static void
kw_watch_begin(struct kw_res *r)
{
	struct k8s_watch	*w = r->w;
	struct k8s_req_cb	 cb = { kw_watch_data, kw_watch_done, r };
	char			*path, *rv, err[K8S_CLIENT_ERRLEN];
	unsigned int		 t;

	t = w->opts.watch_min_s + (unsigned int)(htab_random() %
	    (w->opts.watch_max_s - w->opts.watch_min_s + 1));
	if ((rv = curl_easy_escape(NULL, r->rv, 0)) == NULL)
		fatalx("k8s_watch: out of memory");
	xasprintf(&path, "%s?watch=1&resourceVersion=%s&allowWatchBookmarks="
	    "true&timeoutSeconds=%u&labelSelector=%s", r->path, rv, t,
	    KW_SELECTOR);
	curl_free(rv);
	k8s_jstream_reset(r->js);
	r->stop = KW_STOP_NONE;
	r->nevents = 0;
	r->started = monotime_ms();
	r->state = KW_WATCHING;
	w->stats.watches++;
	r->req = k8s_client_get(w->client, path,
	    (t + KW_WATCH_SLACK_S) * 1000L, &cb, err, sizeof(err));
	free(path);
	if (r->req == NULL)
		kw_fail(r, "watch", 0, err, 0);
}

/*
 * Hand the Services of the first list decoded so far to the model's
 * stage (model.h, services_staged), so that the proxier binds their
 * listeners while the rest of the list is still arriving.  Only the
 * first list: later ones hold few new Services.
 */
static void
kw_list_stage(struct kw_res *r, size_t min)
{
	if (r->kind != KW_SERVICES || r->synced || r->nlsvcs - r->nstaged <
	    min || r->nlsvcs == r->nstaged)
		return;
	model_stage_services(r->w->model, (const struct model_service *
	    const *)r->lsvcs + r->nstaged, r->nlsvcs - r->nstaged);
	r->nstaged = r->nlsvcs;
	r->staging = 1;
}

/* Close the stage, if one is open: its Services are taken or not. */
static void
kw_list_stage_end(struct kw_res *r)
{
	if (!r->staging)
		return;
	r->staging = 0;
	model_stage_end(r->w->model);
}

/* Drop a list being collected. */
static void
kw_list_clear(struct kw_res *r)
{
	size_t	i;

	kw_list_stage_end(r);
	r->nstaged = 0;

	for (i = 0; i < r->nlsvcs; i++)
		model_service_free(r->lsvcs[i]);
	for (i = 0; i < r->nleps; i++)
		model_endpoints_free(r->leps[i]);
	free(r->lsvcs);
	free(r->leps);
	r->lsvcs = NULL;
	r->leps = NULL;
	r->nlsvcs = r->nleps = 0;
	r->caplsvcs = r->capleps = 0;
	k8s_slices_free(r->lstore);
	r->lstore = NULL;
	htab_free(r->lbad, kw_free_cb);
	r->lbad = NULL;
	free(r->cont);
	r->cont = NULL;
}

/*
 * Request the next list page.  The first list asks for
 * resourceVersion=0, as client-go's reflector does: the apiserver then
 * answers from its watch cache, in one page whatever the limit, instead
 * of reading etcd page by page (at 10k Services, 20 round trips and
 * quorum reads).  The answer may be older than etcd's latest, which the
 * watch from its resourceVersion then catches up.  Later lists (after a
 * 410 Gone or an ERROR event) keep the consistent read, as client-go
 * does once its last resourceVersion is unusable.
 */
static void
kw_list_page(struct kw_res *r)
{
	char	*path, *cont = NULL;

	if (r->cont != NULL &&
	    (cont = curl_easy_escape(NULL, r->cont, 0)) == NULL)
		fatalx("k8s_watch: out of memory");
	xasprintf(&path, "%s?limit=%u&labelSelector=%s%s%s%s", r->path,
	    r->w->opts.page_limit, KW_SELECTOR, cont ? "&continue=" : "",
	    cont ? cont : "", !r->synced && cont == NULL ?
	    "&resourceVersion=0" : "");
	curl_free(cont);
	r->state = KW_LISTING;
	if (k8s_get_start(&r->get, path, KW_LIST_TIMEOUT_MS) == -1) {
		kw_list_clear(r);
		kw_fail(r, "list", 0, "cannot start the request", 1);
	}
	free(path);
}

/* Start a full list. */
static void
kw_list_begin(struct kw_res *r)
{
	kw_list_clear(r);
	if ((r->lbad = htab_new()) == NULL)
		fatalx("k8s_watch: out of memory");
	if (r->slices)
		r->lstore = k8s_slices_new();
	kw_list_page(r);
}

/* Keep one decoded list item of r's kind (or drop it, logged). */
static void
kw_list_keep(struct kw_res *r, struct json_object *o)
{
	const char	*ns, *name;
	void		*obj;

	if (!kw_decode(r, o, r->lbad, &obj))
		return;
	if (r->kind == KW_SERVICES) {
		if (r->nlsvcs == r->caplsvcs) {
			r->caplsvcs = r->caplsvcs == 0 ? 256 : r->caplsvcs * 2;
			r->lsvcs = xreallocarray(r->lsvcs, r->caplsvcs,
			    sizeof(*r->lsvcs));
		}
		r->lsvcs[r->nlsvcs++] = obj;
	} else if (!r->slices) {
		if (r->nleps == r->capleps) {
			r->capleps = r->capleps == 0 ? 256 : r->capleps * 2;
			r->leps = xreallocarray(r->leps, r->capleps,
			    sizeof(*r->leps));
		}
		r->leps[r->nleps++] = obj;
	} else {
		k8s_decode_meta(o, &ns, &name);
		k8s_slices_put(r->lstore, ns, name, obj, NULL, NULL);
	}
}

/* An item of a list page arrived (k8s_get): decode and keep it. */
static int
kw_list_item(void *arg, struct json_object *o)
{
	kw_list_keep(arg, o);
	kw_list_stage(arg, KW_STAGE_BATCH);
	return (0);
}

/*
 * Collect the items left in a page (a list whose items were not handed
 * on as they came: "items" spelled with escapes); -1 if the page is
 * malformed.
 */
static int
kw_list_items(struct kw_res *r, struct json_object *doc)
{
	struct json_object	*items;
	size_t			 i, n;

	if (!json_object_object_get_ex(doc, "items", &items) ||
	    json_object_is_type(items, json_type_null))
		return (0);
	if (!json_object_is_type(items, json_type_array))
		return (-1);
	n = json_object_array_length(items);
	for (i = 0; i < n; i++)
		kw_list_keep(r, json_object_array_get_idx(items, i));
	return (0);
}

/* Swap a complete list into the model, then watch. */
static void
kw_list_commit(struct kw_res *r)
{
	struct k8s_watch	*w = r->w;

	if (r->kind == KW_SERVICES) {
		/* As svcfile: the stage ends, then the model settles it. */
		kw_list_stage(r, 1);
		kw_list_stage_end(r);
		model_replace_services(w->model, r->lsvcs, r->nlsvcs);
		r->nlsvcs = 0;
		w->stats.svc_lists++;
	} else {
		if (r->slices) {
			r->leps = k8s_slices_merge_all(r->lstore, &r->nleps);
			k8s_slices_free(r->store);
			r->store = r->lstore;
			r->lstore = NULL;
		}
		model_replace_endpoints(w->model, r->leps, r->nleps);
		r->nleps = 0;
		w->stats.eps_lists++;
	}
	htab_free(r->bad, kw_free_cb);
	r->bad = r->lbad;
	r->lbad = NULL;
	kw_list_clear(r);
#ifdef __GLIBC__
	/* Give the freed list pages back, as svcfile does after a load. */
	malloc_trim(0);
#endif
	log_info("%s: listed at resourceVersion %s", r->what, r->rv);
	if (!r->synced)
		model_set_synced(w->model, r->kind == KW_SERVICES ?
		    MODEL_F_SERVICES : MODEL_F_ENDPOINTS);
	r->synced = 1;
	r->relist = 0;
	r->fails = 0;
	kw_watch_begin(r);
}

/* Collect a list page that arrived, or retry one that failed. */
static void
kw_list_done(void *arg, int result, long status, const char *msg,
    struct json_object *doc)
{
	struct kw_res	*r = arg;
	const char	*cont, *rv;

	/* An empty resourceVersion would leave none to watch from. */
	if (result == K8S_REQ_OK && kw_list_items(r, doc) == -1) {
		result = K8S_REQ_TRANSPORT;
		msg = "list without an items array";
	} else if (result == K8S_REQ_OK &&
	    ((rv = kw_meta_str(doc, "resourceVersion")) == NULL ||
	    *rv == '\0')) {
		result = K8S_REQ_TRANSPORT;
		msg = "list without metadata.resourceVersion";
	}
	if (result != K8S_REQ_OK) {
		json_object_put(doc);
		if (status == 410 && r->cont != NULL)
			msg = "continue token expired (410 Gone)";
		kw_list_clear(r);
		kw_fail(r, "list", status, msg, 1);
		return;
	}
	kw_set_rv(r, kw_meta_str(doc, "resourceVersion"));
	cont = kw_meta_str(doc, "continue");
	free(r->cont);
	r->cont = cont != NULL && *cont != '\0' ? xstrdup(cont) : NULL;
	json_object_put(doc);
	if (r->cont != NULL)
		kw_list_page(r);
	else
		kw_list_commit(r);
}

/* Run a resource's next step: a list or a watch. */
static void
kw_res_run(struct kw_res *r)
{
	if (r->relist || r->rv == NULL)
		kw_list_begin(r);
	else
		kw_watch_begin(r);
}

/* Run a resource's next step when its retry timer fires. */
static void
kw_res_timer(evutil_socket_t fd, short ev, void *arg)
{
	kw_res_run(arg);
}

/* Set up one resource; it starts when kw_res_run is called. */
static void
kw_res_init(struct k8s_watch *w, int kind)
{
	struct kw_res	*r = &w->res[kind];

	r->w = w;
	r->kind = kind;
	r->relist = 1;
	r->what = kind == KW_SERVICES ? "services" : "endpoints";
	r->path = kind == KW_SERVICES ? "/api/v1/services" :
	    "/api/v1/endpoints";
	r->js = k8s_jstream_new(w->opts.max_object);
	/* A list item may be larger than a watch event (max_object). */
	k8s_get_init_list(&r->get, w->client, KW_MAX_PAGE, KW_MAX_PAGE,
	    kw_list_item, kw_list_done, r);
	if ((r->timer = evtimer_new(w->base, kw_res_timer, r)) == NULL ||
	    (r->bad = htab_new()) == NULL)
		fatalx("k8s_watch: out of memory");
}

/* Stop and free one resource. */
static void
kw_res_clear(struct kw_res *r)
{
	if (r->w == NULL)
		return;
	k8s_req_cancel(r->req);
	k8s_get_clear(&r->get);
	kw_list_clear(r);
	k8s_jstream_free(r->js);
	if (r->timer != NULL)
		event_free(r->timer);
	k8s_slices_free(r->store);
	htab_free(r->bad, kw_free_cb);
	free(r->rv);
}

/* Start the endpoints resource on the API discovery chose. */
static void
kw_disc_use(struct k8s_watch *w, int api)
{
	struct kw_res	*r = &w->res[KW_ENDPOINTS];

	w->stats.eps_api = api;
	r->slices = api != K8S_WATCH_EPS_ENDPOINTS;
	switch (api) {
	case K8S_WATCH_EPS_SLICES_V1:
		r->path = "/apis/discovery.k8s.io/v1/endpointslices";
		break;
	case K8S_WATCH_EPS_SLICES_V1BETA1:
		r->path = "/apis/discovery.k8s.io/v1beta1/endpointslices";
		break;
	default:
		r->path = "/api/v1/endpoints";
		break;
	}
	r->what = r->slices ? "endpointslices" : "endpoints";
	if (r->slices)
		r->store = k8s_slices_new();
	log_info("endpoints from %s", r->path);
	kw_res_run(r);
}

/* Return 1 if an APIResourceList names the endpointslices resource. */
static int
kw_disc_has_slices(struct json_object *doc)
{
	struct json_object	*res, *o, *name;
	size_t			 i;

	if (!json_object_object_get_ex(doc, "resources", &res) ||
	    !json_object_is_type(res, json_type_array))
		return (0);
	for (i = 0; i < json_object_array_length(res); i++) {
		o = json_object_array_get_idx(res, i);
		if (json_object_object_get_ex(o, "name", &name) &&
		    json_object_is_type(name, json_type_string) &&
		    strcmp(json_object_get_string(name), "endpointslices") ==
		    0)
			return (1);
	}
	return (0);
}

/* Act on a discovery answer: this version, the next one, or a retry. */
static void
kw_disc_done(void *arg, int result, long status, const char *msg,
    struct json_object *doc)
{
	struct k8s_watch	*w = arg;
	unsigned int		 ms;
	int			 found;

	found = result == K8S_REQ_OK && kw_disc_has_slices(doc);
	json_object_put(doc);
	if (found) {
		kw_disc_use(w, w->disc_step == 0 ? K8S_WATCH_EPS_SLICES_V1 :
		    K8S_WATCH_EPS_SLICES_V1BETA1);
		return;
	}
	if (result == K8S_REQ_OK || (result == K8S_REQ_HTTP &&
	    status == 404)) {
		if (++w->disc_step < 2) {
			kw_disc_start(w);
			return;
		}
		if (w->eps_source != CONFIG_EPS_SLICES) {
			kw_disc_use(w, K8S_WATCH_EPS_ENDPOINTS);
			return;
		}
		msg = "EndpointSlices are not served, but "
		    "--endpoints-source asks for them";
	}
	w->stats.errors++;
	w->disc_step = 0;
	ms = kw_backoff(w, &w->disc_fails);
	log_warnx("API discovery at %s: %s%s; retrying in %u ms",
	    k8s_client_server(w->client), msg, status == 401 ||
	    status == 403 ? "; unauthorized: check the token/client "
	    "certificate in --kubeconfig" : "", ms);
	k8s_timer_add(w->disc_timer, ms);
}

/* Ask whether discovery.k8s.io serves this step's version. */
static void
kw_disc_start(struct k8s_watch *w)
{
	const char	*path = w->disc_step == 0 ?
	    "/apis/discovery.k8s.io/v1" : "/apis/discovery.k8s.io/v1beta1";

	if (k8s_get_start(&w->disc, path, KW_GET_TIMEOUT_MS) == -1)
		k8s_timer_add(w->disc_timer, kw_backoff(w, &w->disc_fails));
}

/* Retry discovery when its timer fires. */
static void
kw_disc_timer(evutil_socket_t fd, short ev, void *arg)
{
	kw_disc_start(arg);
}

/* Fill in the defaults of zero options. */
static void
kw_opts_init(struct k8s_watch *w, const struct k8s_watch_opts *o)
{
	struct k8s_watch_opts	*p = &w->opts;

	if (o != NULL)
		*p = *o;
	if (p->backoff_min_ms == 0)
		p->backoff_min_ms = 500;
	if (p->backoff_max_ms == 0)
		p->backoff_max_ms = 30000;
	if (p->backoff_max_ms < p->backoff_min_ms)
		p->backoff_max_ms = p->backoff_min_ms;
	if (p->page_limit == 0)
		p->page_limit = 500;
	if (p->watch_min_s == 0)
		p->watch_min_s = 300;
	if (p->watch_max_s < p->watch_min_s)
		p->watch_max_s = p->watch_min_s < 600 ? 600 : p->watch_min_s;
	if (p->max_object == 0)
		p->max_object = 64 * 1024 * 1024;
	w->eps_source = p->endpoints_source;
	p->node_name = NULL;
}

/* Create the watch and start its requests. */
struct k8s_watch *
k8s_watch_new(struct event_base *base, const struct kubeconfig *kc,
    struct model *model, const struct k8s_watch_opts *opts, char *err,
    size_t errlen)
{
	struct k8s_watch	*w;

	w = xcalloc(1, sizeof(*w));
	w->base = base;
	w->model = model;
	kw_opts_init(w, opts);
	if ((w->client = k8s_client_new(base, kc, err, errlen)) == NULL) {
		free(w);
		return (NULL);
	}
	kw_res_init(w, KW_SERVICES);
	kw_res_init(w, KW_ENDPOINTS);
	k8s_get_init(&w->disc, w->client, KW_MAX_SMALL, kw_disc_done, w);
	if ((w->disc_timer = evtimer_new(base, kw_disc_timer, w)) == NULL)
		fatalx("k8s_watch: out of memory");
	log_info("watching the API server at %s", k8s_client_server(w->client));
	kw_res_run(&w->res[KW_SERVICES]);
	if (w->eps_source == CONFIG_EPS_ENDPOINTS)
		kw_disc_use(w, K8S_WATCH_EPS_ENDPOINTS);
	else
		kw_disc_start(w);
	w->node = k8s_node_new(base, w->client, opts != NULL ?
	    opts->node_name : NULL, w->opts.backoff_min_ms,
	    w->opts.backoff_max_ms, w->opts.node_ip_cb, w->opts.node_ip_arg);
	return (w);
}

/* Stop everything and free the watch. */
void
k8s_watch_free(struct k8s_watch *w)
{
	int	i;

	if (w == NULL)
		return;
	for (i = 0; i < KW_NRES; i++)
		kw_res_clear(&w->res[i]);
	k8s_get_clear(&w->disc);
	if (w->disc_timer != NULL)
		event_free(w->disc_timer);
	/* The lookup uses the client: it goes first. */
	k8s_node_free(w->node);
	k8s_client_free(w->client);
	free(w);
}

/* Copy the counters. */
void
k8s_watch_get_stats(const struct k8s_watch *w, struct k8s_watch_stats *st)
{
	*st = w->stats;
}

/* Return the HTTP client, for its request counts. */
const struct k8s_client *
k8s_watch_client(const struct k8s_watch *w)
{
	return (w->client);
}
