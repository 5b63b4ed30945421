/*
 * k8s_node.c: this node's address from its Node object.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "k8s_get.h"
#include "k8s_node.h"
#include "log.h"
#include "netutil.h"
#include "xmalloc.h"

#define K8S_NODE_MAX		(4 * 1024 * 1024)
#define K8S_NODE_TIMEOUT_MS	(30 * 1000L)
#define K8S_NODE_TRIES		5

struct k8s_node {
	struct k8s_client	*client;
	char			*name;
	char			*ip;		/* NULL until known */
	struct k8s_get		 get;
	unsigned int		 fails;
	unsigned int		 backoff_min_ms;
	unsigned int		 backoff_max_ms;
	struct event		*timer;
	void			(*cb)(void *, const char *);
	void			*arg;
};

static void	k8s_node_start(struct k8s_node *);

/* Pick the node's address: the first InternalIP, else ExternalIP. */
char *
k8s_node_pick_ip(struct json_object *doc)
{
	struct json_object	*st, *addrs, *a, *t, *v;
	const char		*want[2] = { "InternalIP", "ExternalIP" };
	char			 buf[INET6_ADDRSTRLEN];
	size_t			 i, j;

	if (!json_object_object_get_ex(doc, "status", &st) ||
	    !json_object_object_get_ex(st, "addresses", &addrs) ||
	    !json_object_is_type(addrs, json_type_array))
		return (NULL);
	for (j = 0; j < 2; j++) {
		for (i = 0; i < json_object_array_length(addrs); i++) {
			a = json_object_array_get_idx(addrs, i);
			if (!json_object_object_get_ex(a, "type", &t) ||
			    !json_object_object_get_ex(a, "address", &v) ||
			    !json_object_is_type(t, json_type_string) ||
			    !json_object_is_type(v, json_type_string) ||
			    strcmp(json_object_get_string(t), want[j]) != 0)
				continue;
			if (netutil_canon_ip(json_object_get_string(v), buf,
			    sizeof(buf)) != -1)
				return (xstrdup(buf));
		}
	}
	return (NULL);
}

/* Take the node IP from the Node object, or retry or give up. */
static void
k8s_node_done(void *arg, int result, long status, const char *msg,
    struct json_object *doc)
{
	struct k8s_node	*n = arg;
	unsigned int	 ms;

	if (result == K8S_REQ_OK) {
		n->ip = k8s_node_pick_ip(doc);
		json_object_put(doc);
		if (n->ip == NULL) {
			log_warnx("node %s has no InternalIP or ExternalIP",
			    n->name);
			return;
		}
		log_info("node %s: IP %s", n->name, n->ip);
		if (n->cb != NULL)
			n->cb(n->arg, n->ip);
		return;
	}
	if ((result == K8S_REQ_HTTP && status < 500) ||
	    n->fails + 1 >= K8S_NODE_TRIES) {
		log_warnx("cannot get node %s from %s: %s%s; going on without "
		    "its IP", n->name, k8s_client_server(n->client), msg,
		    status == 401 || status == 403 ? "; unauthorized: check "
		    "the token/client certificate in --kubeconfig" : "");
		return;
	}
	ms = k8s_backoff_ms(n->backoff_min_ms, n->backoff_max_ms, &n->fails);
	log_warnx("cannot get node %s: %s; retrying in %u ms", n->name, msg,
	    ms);
	k8s_timer_add(n->timer, ms);
}

/* Ask for the Node object. */
static void
k8s_node_start(struct k8s_node *n)
{
	char	*path;

	xasprintf(&path, "/api/v1/nodes/%s", n->name);
	if (k8s_get_start(&n->get, path, K8S_NODE_TIMEOUT_MS) == -1)
		k8s_timer_add(n->timer, k8s_backoff_ms(n->backoff_min_ms,
		    n->backoff_max_ms, &n->fails));
	free(path);
}

/* Retry the lookup when its timer fires. */
static void
k8s_node_timer(evutil_socket_t fd, short ev, void *arg)
{
	k8s_node_start(arg);
}

/*
 * Return the node's name as kube-proxy has it: the override, else the
 * host name, lower-cased.  NULL (logged) if it is not a DNS-1123 name.
 */
static char *
k8s_node_name(const char *override)
{
	char	 host[256], *s;
	size_t	 i;

	if (override == NULL) {
		if (gethostname(host, sizeof(host)) == -1) {
			log_warn("gethostname");
			return (NULL);
		}
		host[sizeof(host) - 1] = '\0';
		override = host;
	}
	s = xstrdup(override);
	for (i = 0; s[i] != '\0'; i++) {
		s[i] = tolower((unsigned char)s[i]);
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '.')
			break;
	}
	if (s[i] != '\0' || i == 0) {
		log_warnx("node name \"%s\" is not a DNS name: no node IP "
		    "from the API", override);
		free(s);
		return (NULL);
	}
	return (s);
}

/* Start looking the node up. */
struct k8s_node *
k8s_node_new(struct event_base *base, struct k8s_client *client,
    const char *name_override, unsigned int backoff_min_ms,
    unsigned int backoff_max_ms, void (*cb)(void *, const char *), void *arg)
{
	struct k8s_node	*n;
	char		*name;

	if ((name = k8s_node_name(name_override)) == NULL)
		return (NULL);
	n = xcalloc(1, sizeof(*n));
	n->client = client;
	n->name = name;
	n->backoff_min_ms = backoff_min_ms;
	n->backoff_max_ms = backoff_max_ms;
	n->cb = cb;
	n->arg = arg;
	k8s_get_init(&n->get, client, K8S_NODE_MAX, k8s_node_done, n);
	if ((n->timer = evtimer_new(base, k8s_node_timer, n)) == NULL)
		fatalx("k8s_node: out of memory");
	k8s_node_start(n);
	return (n);
}

/* Stop the lookup and free. */
void
k8s_node_free(struct k8s_node *n)
{
	if (n == NULL)
		return;
	k8s_get_clear(&n->get);
	event_free(n->timer);
	free(n->name);
	free(n->ip);
	free(n);
}
