/*
 * k8s_get.c: fetch one whole JSON document from the API server; retry
 * timing.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "htab.h"
#include "k8s_get.h"
#include "k8s_lstream.h"
#include "log.h"

/* Keep the first JSON value of a body, refuse a second. */
static int
k8s_get_store(void *arg, struct json_object *o)
{
	struct k8s_get	*g = arg;

	if (g->doc != NULL)
		return (-1);
	g->doc = json_object_get(o);
	return (0);
}

/* Decode body bytes as they arrive. */
static int
k8s_get_data(void *arg, const char *buf, size_t len)
{
	struct k8s_get	*g = arg;

	if (g->ls != NULL)
		return (k8s_lstream_feed(g->ls, buf, len, g->item, g->arg,
		    g->err, sizeof(g->err)));
	if (k8s_jstream_feed(g->js, buf, len, k8s_get_store, g, g->err,
	    sizeof(g->err)) == -1) {
		if (strcmp(g->err, "stopped") == 0)
			snprintf(g->err, sizeof(g->err), "more than one JSON "
			    "document in the response");
		return (-1);
	}
	return (0);
}

/* Check the body of an ended request and hand the document over. */
static void
k8s_get_done(void *arg, int result, long status, const char *msg)
{
	struct k8s_get		*g = arg;
	struct json_object	*doc = g->doc;

	g->req = NULL;
	g->doc = NULL;
	if (result == K8S_REQ_OK && g->ls != NULL) {
		if ((doc = k8s_lstream_finish(g->ls, g->err,
		    sizeof(g->err))) == NULL) {
			result = K8S_REQ_TRANSPORT;
			msg = g->err;
		}
	} else if (result == K8S_REQ_OK && (doc == NULL ||
	    k8s_jstream_pending(g->js))) {
		result = K8S_REQ_TRANSPORT;
		msg = "truncated or empty response";
	} else if (result == K8S_REQ_ABORTED) {
		result = K8S_REQ_TRANSPORT;
		msg = g->err;
	}
	if (result != K8S_REQ_OK) {
		json_object_put(doc);
		doc = NULL;
	}
	g->done(g->arg, result, status, msg, doc);
}

/* Start fetching path. */
int
k8s_get_start(struct k8s_get *g, const char *path, long timeout_ms)
{
	struct k8s_req_cb	 cb = { k8s_get_data, k8s_get_done, g };
	char			 err[K8S_CLIENT_ERRLEN];

	if (g->ls != NULL)
		k8s_lstream_reset(g->ls);
	else
		k8s_jstream_reset(g->js);
	json_object_put(g->doc);
	g->doc = NULL;
	g->req = k8s_client_get(g->client, path, timeout_ms, &cb, err,
	    sizeof(err));
	if (g->req == NULL) {
		log_warnx("%s", err);
		return (-1);
	}
	return (0);
}

/* Set up a fetch. */
void
k8s_get_init(struct k8s_get *g, struct k8s_client *client, size_t maxval,
    void (*done)(void *, int, long, const char *, struct json_object *),
    void *arg)
{
	memset(g, 0, sizeof(*g));
	g->client = client;
	g->js = k8s_jstream_new(maxval);
	g->done = done;
	g->arg = arg;
}

/* Set up a fetch of list pages whose items are handed on as they come. */
void
k8s_get_init_list(struct k8s_get *g, struct k8s_client *client,
    size_t maxitem, size_t maxbody, int (*item)(void *, struct json_object *),
    void (*done)(void *, int, long, const char *, struct json_object *),
    void *arg)
{
	memset(g, 0, sizeof(*g));
	g->client = client;
	g->ls = k8s_lstream_new(maxitem, K8S_GET_MAXREST, maxbody);
	g->item = item;
	g->done = done;
	g->arg = arg;
}

/* Cancel and free a fetch's request and buffers. */
void
k8s_get_clear(struct k8s_get *g)
{
	k8s_req_cancel(g->req);
	g->req = NULL;
	json_object_put(g->doc);
	g->doc = NULL;
	k8s_jstream_free(g->js);
	g->js = NULL;
	k8s_lstream_free(g->ls);
	g->ls = NULL;
}

/* Pick a full-jitter backoff and count the failure. */
unsigned int
k8s_backoff_ms(unsigned int min_ms, unsigned int max_ms, unsigned int *fails)
{
	uint64_t	cap = min_ms;

	if (*fails < 32)
		cap <<= *fails;
	else
		cap = max_ms;
	if (cap > max_ms)
		cap = max_ms;
	(*fails)++;
	return ((unsigned int)(htab_random() % (cap + 1)));
}

/* Arm a timer for ms milliseconds. */
void
k8s_timer_add(struct event *ev, unsigned int ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(ev, &tv);
}
