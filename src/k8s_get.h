/*
 * k8s_get.h: fetch one whole JSON document from the API server (a list
 * page, a discovery document, the Node object) over k8s_client, and the
 * retry timing shared by everything that talks to the API server.
 */
#ifndef K8S_GET_H
#define K8S_GET_H

#include <stddef.h>

#include "k8s_client.h"

struct event;
struct json_object;
struct k8s_lstream;

/* The most a list page may hold besides its items (kind, metadata). */
#define K8S_GET_MAXREST		(1024 * 1024)

/* One JSON document fetched whole; embedded in its user, not shared. */
struct k8s_get {
	struct k8s_client	*client;
	struct k8s_req		*req;		/* NULL: none in flight */
	struct k8s_jstream	*js;		/* a document */
	struct k8s_lstream	*ls;		/* or a list */
	int			(*item)(void *arg, struct json_object *o);
	struct json_object	*doc;
	char			 err[K8S_CLIENT_ERRLEN];	/* body */
	/*
	 * The request ended: result and status as k8s_client reports
	 * them (a truncated, empty or doubled body is K8S_REQ_TRANSPORT
	 * with msg saying so); on K8S_REQ_OK doc is the document, owned
	 * by the callee; otherwise doc is NULL.
	 */
	void			(*done)(void *arg, int result, long status,
				    const char *msg, struct json_object *doc);
	void			*arg;
};

/*
 * Set up g to fetch documents of at most maxval bytes through client
 * (borrowed), reporting each through done(arg, ...).  Allocation failure
 * is fatal (set-up time).
 */
void	k8s_get_init(struct k8s_get *g, struct k8s_client *client,
	    size_t maxval, void (*done)(void *, int, long, const char *,
	    struct json_object *), void *arg);
/*
 * Set up g to fetch list pages through client (borrowed): each element
 * of a page's top-level "items" array is passed to item(arg, o) as soon
 * as it has arrived (o borrowed; item returns 0, or -1 to stop the
 * request), so neither the page nor its tree is ever held whole; done's
 * doc is then the page without its items ("items": []).  Items are at
 * most maxitem bytes, a page at most maxbody (0: no bound).  Items of a
 * page that then fails (cut, invalid) have been handed on already: the
 * caller drops them when done reports the failure.  Allocation failure
 * is fatal (set-up time).
 */
void	k8s_get_init_list(struct k8s_get *g, struct k8s_client *client,
	    size_t maxitem, size_t maxbody,
	    int (*item)(void *, struct json_object *),
	    void (*done)(void *, int, long, const char *,
	    struct json_object *), void *arg);
/*
 * Start fetching path (e.g. "/api/v1/nodes/n1"); done is called once,
 * from the loop, when it ends.  At most one request per k8s_get: the
 * caller starts the next from done or after it.  Returns 0, or -1 if it
 * could not be started (logged; done is not called).
 */
int	k8s_get_start(struct k8s_get *g, const char *path, long timeout_ms);
/* Cancel a request in flight (done is not called) and free g's buffers. */
void	k8s_get_clear(struct k8s_get *g);

/*
 * Pick a full-jitter backoff after *fails failures in a row, uniform in
 * [0, min(max_ms, min_ms << *fails)], and count this failure.
 */
unsigned int k8s_backoff_ms(unsigned int min_ms, unsigned int max_ms,
	    unsigned int *fails);
/* Arm the timer ev to fire once after ms milliseconds. */
void	k8s_timer_add(struct event *ev, unsigned int ms);

#endif /* K8S_GET_H */
