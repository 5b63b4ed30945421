/*
 * test_k8s_watch.c: the API source against tests/fakeapi/fakeapi.py.
 *
 * Each scenario starts the fake server as a child process on 127.0.0.1,
 * runs k8s_watch on a real event_base feeding a real model, injects a
 * fault through the server's control endpoint, and then checks that the
 * model equals what the server holds (every object decoded the way the
 * watch decodes it).  The stream decoder is also tested on its own, fed
 * every split of a byte stream.  Every wait is bounded.
 *
 * Past 900 lines on purpose: one module's unit tests are one binary
 * (one concern: this module's behaviour), and the cases share fixtures
 * that a split would have to repeat or export.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
#include "tu.h"
#include "xmalloc.h"

#define TW_WAIT_MS	15000

/* The fake API server child. */
struct fa {
	pid_t	 pid;
	int	 tls;
	char	 dir[64];
	char	 url[64];
	char	 script[4096];
};

/* One scenario: the server, the loop, the model, the watch. */
struct tw {
	struct fa		 fa;
	struct event_base	*base;
	struct model		*model;
	struct k8s_watch	*w;
	struct kubeconfig	 kc;
	struct k8s_watch_opts	 opts;
	unsigned int		 svc_calls;
	unsigned int		 ep_calls;
	const char		*guard;		/* must never vanish */
	int			 guard_lost;
	struct htab		*touched;	/* Endpoints announced */
	char			*node_ip;	/* from node_ip_cb */
};

/* The body of a blocking request. */
struct tw_buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

static struct tu_capture cap;	/* the log, while a test reads it */

/* Return monotonic milliseconds. */
static uint64_t
tw_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/*
 * Collect a response body.  The buffer doubles: grown by each piece (16
 * KB from curl), a 5 MB body was copied ~300 times, seconds under ASan.
 */
static size_t
tw_buf_write(char *p, size_t size, size_t n, void *arg)
{
	struct tw_buf	*b = arg;

	if (b->len + size * n + 1 > b->cap) {
		b->cap = 2 * (b->len + size * n + 1);
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, p, size * n);
	b->len += size * n;
	b->p[b->len] = '\0';
	return (size * n);
}

/* A blocking request to the fake server's control endpoint. */
static char *
fa_http(struct fa *fa, const char *path, const char *post)
{
	struct tw_buf	 b = { NULL, 0, 0 };
	char		 url[256];
	long		 code = 0;
	CURL		*e;

	snprintf(url, sizeof(url), "%s%s", fa->url, path);
	if ((e = curl_easy_init()) == NULL)
		return (NULL);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, tw_buf_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
	if (post != NULL)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, post);
	if (fa->tls) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
		curl_easy_setopt(e, CURLOPT_SSLCERT,
		    tu_data("k8s_watch-client.pem"));
		curl_easy_setopt(e, CURLOPT_SSLKEY,
		    tu_data("k8s_watch-client-key.pem"));
	}
	if (curl_easy_perform(e) != CURLE_OK ||
	    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK ||
	    code != 200) {
		free(b.p);
		b.p = NULL;
	}
	curl_easy_cleanup(e);
	return (b.p);
}

/* POST a control command; 0 if the server took it. */
static int
fa_ctl(struct fa *fa, const char *json)
{
	char	*r = fa_http(fa, "/control", json);

	free(r);
	return (r != NULL ? 0 : -1);
}

/* GET a control document as JSON (the caller puts it). */
static struct json_object *
fa_get(struct fa *fa, const char *path)
{
	struct json_object	*o;
	char			*r;

	if ((r = fa_http(fa, path, NULL)) == NULL)
		return (NULL);
	o = json_tokener_parse(r);
	free(r);
	return (o);
}

/* Start fakeapi.py with extra arguments (NULL-terminated). */
static int
fa_start(struct fa *fa, const char *const *extra)
{
	const char	*argv[32];
	char		 portfile[128], buf[32];
	uint64_t	 t0;
	int		 i = 0, fd;
	ssize_t		 n;

	memset(fa, 0, sizeof(*fa));
	snprintf(fa->script, sizeof(fa->script), "%s",
	    tu_data("../fakeapi/fakeapi.py"));
	snprintf(fa->dir, sizeof(fa->dir), "/tmp/kwtest.XXXXXX");
	if (mkdtemp(fa->dir) == NULL)
		return (-1);
	snprintf(portfile, sizeof(portfile), "%s/port", fa->dir);
	argv[i++] = "python3";
	argv[i++] = fa->script;
	argv[i++] = "--port-file";
	argv[i++] = portfile;
	argv[i++] = "--lifetime";
	argv[i++] = "300";
	for (; extra != NULL && *extra != NULL && i < 30; extra++) {
		if (strcmp(*extra, "--tls-cert") == 0)
			fa->tls = 1;
		argv[i++] = *extra;
	}
	argv[i] = NULL;
	if ((fa->pid = fork()) == -1)
		return (-1);
	if (fa->pid == 0) {
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (t0 = tw_now(); tw_now() - t0 < 30000; usleep(20000)) {
		if ((fd = open(portfile, O_RDONLY)) == -1)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		snprintf(fa->url, sizeof(fa->url), "%s://127.0.0.1:%d",
		    fa->tls ? "https" : "http", atoi(buf));
		return (0);
	}
	return (-1);
}

/* Stop the server (bounded) and remove its directory. */
static void
fa_stop(struct fa *fa)
{
	char		 path[128];
	uint64_t	 t0;

	if (fa->pid > 0) {
		kill(fa->pid, SIGTERM);
		for (t0 = tw_now(); tw_now() - t0 < 5000; usleep(10000))
			if (waitpid(fa->pid, NULL, WNOHANG) != 0)
				break;
		if (tw_now() - t0 >= 5000) {
			kill(fa->pid, SIGKILL);
			waitpid(fa->pid, NULL, 0);
		}
	}
	fa->pid = 0;
	snprintf(path, sizeof(path), "%s/port", fa->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/token", fa->dir);
	unlink(path);
	rmdir(fa->dir);
}

/* Observer: count calls, check the guard Service, note Endpoints. */
static void
tw_svc_changed(void *arg)
{
	struct tw	*t = arg;

	t->svc_calls++;
	if (t->guard != NULL &&
	    model_get_service(t->model, "default", t->guard) == NULL)
		t->guard_lost = 1;
}

/* Observer: remember every Endpoints name the model announced. */
static void
tw_ep_changed(void *arg, const char *ns, const char *name)
{
	struct tw	*t = arg;
	char		 k[512];

	t->ep_calls++;
	snprintf(k, sizeof(k), "%s/%s", ns, name);
	if (htab_get(t->touched, k, strlen(k)) == NULL)
		htab_put(t->touched, k, strlen(k), strdup(k), NULL);
}

/* Remember the node IP callback's argument. */
static void
tw_node_ip(void *arg, const char *ip)
{
	struct tw	*t = arg;

	free(t->node_ip);
	t->node_ip = strdup(ip);
}

/* Start a server with extra args and the loop and model; no watch yet. */
static int
tw_init(struct tw *t, const char *const *extra)
{
	struct model_observer	obs = { .services_changed = tw_svc_changed,
	    .endpoints_changed = tw_ep_changed, .arg = t };

	memset(t, 0, sizeof(*t));
	if (fa_start(&t->fa, extra) == -1)
		return (-1);
	t->base = event_base_new();
	t->model = model_new();
	t->touched = htab_new();
	model_set_observer(t->model, &obs);
	t->kc.server = strdup(t->fa.url);
	t->opts.backoff_min_ms = 20;
	t->opts.backoff_max_ms = 200;
	t->opts.node_name = "node-1";
	t->opts.node_ip_cb = tw_node_ip;
	t->opts.node_ip_arg = t;
	return (0);
}

/* Start the watch. */
static int
tw_start(struct tw *t)
{
	char	err[K8S_WATCH_ERRLEN];

	t->w = k8s_watch_new(t->base, &t->kc, t->model, &t->opts, err,
	    sizeof(err));
	return (t->w != NULL ? 0 : -1);
}

/* Tear a scenario down. */
static void
tw_fini(struct tw *t)
{
	k8s_watch_free(t->w);
	model_free(t->model);
	if (t->base != NULL)
		event_base_free(t->base);
	fa_stop(&t->fa);
	htab_free(t->touched, free);
	free(t->kc.server);
	free(t->kc.ca_file);
	free(t->kc.ca_data);
	free(t->kc.cert_data);
	free(t->kc.key_data);
	free(t->kc.token);
	free(t->kc.token_file);
	free(t->node_ip);
}

/* Run the loop until pred holds or ms pass; return pred's last value. */
static int
tw_wait(struct tw *t, int (*pred)(struct tw *, void *), void *arg, int ms)
{
	struct timeval	tv = { 0, 10000 };
	uint64_t	t0 = tw_now();

	while (!pred(t, arg)) {
		if (tw_now() - t0 > (uint64_t)ms)
			return (0);
		event_base_loopexit(t->base, &tv);
		event_base_dispatch(t->base);
	}
	return (1);
}

/* Run the loop for ms milliseconds. */
static void
tw_run(struct tw *t, int ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	event_base_loopexit(t->base, &tv);
	event_base_dispatch(t->base);
}

/* Predicate: the model is synced. */
static int
tw_synced(struct tw *t, void *arg)
{
	return (model_is_synced(t->model));
}

/* Return the watch's counters. */
static struct k8s_watch_stats
tw_stats(struct tw *t)
{
	struct k8s_watch_stats	st;

	k8s_watch_get_stats(t->w, &st);
	return (st);
}

/* Predicate: at least *arg watch requests were made. */
static int
tw_watches_ge(struct tw *t, void *arg)
{
	return (tw_stats(t).watches >= *(unsigned int *)arg);
}

/* Does the model hold exactly the expected Endpoints of one name? */
static int
tw_eps_ok(struct tw *t, struct model_endpoints *want, const char *ns,
    const char *name)
{
	const struct model_endpoints	*got;
	int				 ok;

	got = model_get_endpoints(t->model, ns, name);
	ok = want == NULL ? got == NULL : got != NULL &&
	    model_endpoints_equal(got, want);
	model_endpoints_free(want);
	return (ok);
}

/* Check the Services of the server's state against the model. */
static int
tw_check_svcs(struct tw *t, struct json_object *arr)
{
	struct model_service	*ms;
	const struct model_service *got;
	const char		*ns, *name;
	char			 err[512];
	size_t			 i, nok = 0;
	int			 ok = 1;

	for (i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);

		k8s_decode_meta(o, &ns, &name);
		got = model_get_service(t->model, ns, name);
		if (k8s_decode_service(o, &ms, err, sizeof(err)) ==
		    K8S_DECODE_OK) {
			nok++;
			if (got == NULL || !model_service_equal(got, ms))
				ok = 0;
			model_service_free(ms);
		} else if (got != NULL)
			ok = 0;
	}
	return (ok && model_nservices(t->model) == nok);
}

/* Check core Endpoints; names go into seen. */
static int
tw_check_eps(struct tw *t, struct json_object *arr, struct htab *seen)
{
	struct model_endpoints	*me;
	const char		*ns, *name;
	char			 err[512], k[512];
	size_t			 i;
	int			 ok = 1;

	for (i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);

		k8s_decode_meta(o, &ns, &name);
		snprintf(k, sizeof(k), "%s/%s", ns, name);
		htab_put(seen, k, strlen(k), (void *)1, NULL);
		if (k8s_decode_endpoints(o, &me, err, sizeof(err)) !=
		    K8S_DECODE_OK)
			me = NULL;
		if (!tw_eps_ok(t, me, ns, name))
			ok = 0;
	}
	return (ok);
}

/* Check EndpointSlices merged per Service; names go into seen. */
static int
tw_check_slices(struct tw *t, struct json_object *arr, struct htab *seen)
{
	struct k8s_slice	*sl[64], *s, *grp[64];
	char			 err[512], k[512];
	size_t			 i, j, n = 0, ng;
	int			 ok = 1;

	for (i = 0; i < json_object_array_length(arr) && n < 64; i++)
		if (k8s_decode_endpointslice(json_object_array_get_idx(arr,
		    i), &s, err, sizeof(err)) == K8S_DECODE_OK)
			sl[n++] = s;
	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "%s/%s", sl[i]->ns, sl[i]->service);
		if (htab_get(seen, k, strlen(k)) != NULL)
			continue;
		htab_put(seen, k, strlen(k), (void *)1, NULL);
		for (j = ng = 0; j < n; j++)
			if (strcmp(sl[j]->ns, sl[i]->ns) == 0 &&
			    strcmp(sl[j]->service, sl[i]->service) == 0)
				grp[ng++] = sl[j];
		if (!tw_eps_ok(t, k8s_slices_merge(sl[i]->ns, sl[i]->service,
		    grp, ng), sl[i]->ns, sl[i]->service))
			ok = 0;
	}
	for (i = 0; i < n; i++)
		k8s_slice_free(sl[i]);
	return (ok);
}

/* Predicate: the model equals the server's state. */
static int
tw_matches(struct tw *t, void *arg)
{
	struct json_object	*st, *a;
	struct htab		*seen = htab_new();
	struct htab_iter	 it;
	const void		*k;
	size_t			 klen;
	char			 ns[256], *slash;
	int			 ok = 0, api = tw_stats(t).eps_api;

	if ((st = fa_get(&t->fa, "/control/state")) == NULL)
		goto out;
	json_object_object_get_ex(st, "services", &a);
	ok = tw_check_svcs(t, a);
	if (api == K8S_WATCH_EPS_ENDPOINTS) {
		json_object_object_get_ex(st, "endpoints", &a);
		ok = tw_check_eps(t, a, seen) && ok;
	} else if (api != K8S_WATCH_EPS_UNKNOWN) {
		json_object_object_get_ex(st, "endpointslices", &a);
		ok = tw_check_slices(t, a, seen) && ok;
	}
	/* Anything the model ever announced and the server lacks: gone. */
	htab_iter_init(t->touched, &it);
	while (ok && htab_iter_next(&it, &k, &klen, NULL)) {
		if (htab_get(seen, k, klen) != NULL)
			continue;
		snprintf(ns, sizeof(ns), "%.*s", (int)klen, (const char *)k);
		slash = strchr(ns, '/');
		*slash = '\0';
		if (model_get_endpoints(t->model, ns, slash + 1) != NULL)
			ok = 0;
	}
	json_object_put(st);
out:
	htab_free(seen, NULL);
	return (ok);
}

/* Return the number of watches of kind the server has open. */
static int
tw_watchers(struct tw *t, const char *kind)
{
	struct json_object	*o, *v;
	int			 n = 0;

	if ((o = fa_get(&t->fa, "/control/watchers")) == NULL)
		return (0);
	if (json_object_object_get_ex(o, kind, &v))
		n = json_object_get_int(v);
	json_object_put(o);
	return (n);
}

/* Predicate: the server has a services watch open. */
static int
tw_svc_watching(struct tw *t, void *arg)
{
	return (tw_watchers(t, "services") > 0);
}

/* Predicate: the server has both watches open (faults apply next). */
static int
tw_both_watching(struct tw *t, void *arg)
{
	return (tw_watchers(t, "services") > 0 &&
	    tw_watchers(t, tw_stats(t).eps_api == K8S_WATCH_EPS_ENDPOINTS ?
	    "endpoints" : "endpointslices") > 0);
}

/* Wait until synced, equal to the server, and both watches are open. */
static int
tw_settle(struct tw *t)
{
	return (tw_wait(t, tw_synced, NULL, TW_WAIT_MS) &&
	    tw_wait(t, tw_matches, NULL, TW_WAIT_MS) &&
	    tw_wait(t, tw_both_watching, NULL, TW_WAIT_MS));
}

/* Put a Service: name, cluster IP, port, extra metadata JSON. */
static int
tw_put_svc(struct tw *t, const char *name, const char *cip, int port,
    const char *meta)
{
	char	buf[2048];

	snprintf(buf, sizeof(buf), "{\"op\":\"put\",\"kind\":\"services\","
	    "\"obj\":{\"metadata\":{\"name\":\"%s\",\"namespace\":"
	    "\"default\"%s},\"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":"
	    "\"%s\",\"ports\":[{\"name\":\"p\",\"port\":%d,\"protocol\":"
	    "\"TCP\"}]}}}", name, meta ? meta : "", cip, port);
	return (fa_ctl(&t->fa, buf));
}

/* Put a v1 Endpoints with one address. */
static int
tw_put_eps(struct tw *t, const char *name, const char *ip, int port)
{
	char	buf[1024];

	snprintf(buf, sizeof(buf), "{\"op\":\"put\",\"kind\":\"endpoints\","
	    "\"obj\":{\"metadata\":{\"name\":\"%s\",\"namespace\":"
	    "\"default\"},\"subsets\":[{\"addresses\":[{\"ip\":\"%s\"}],"
	    "\"ports\":[{\"name\":\"p\",\"port\":%d,\"protocol\":\"TCP\"}]}]}}",
	    name, ip, port);
	return (fa_ctl(&t->fa, buf));
}

/* Put an EndpointSlice of svc with up to two addresses. */
static int
tw_put_slice(struct tw *t, const char *name, const char *svc,
    const char *ip1, const char *ip2)
{
	char	buf[1024], eps[256];

	snprintf(eps, sizeof(eps), "{\"addresses\":[\"%s\"],\"conditions\":"
	    "{\"ready\":true}}%s%s%s", ip1, ip2 ? ",{\"addresses\":[\"" : "",
	    ip2 ? ip2 : "", ip2 ? "\"]}" : "");
	snprintf(buf, sizeof(buf), "{\"op\":\"put\",\"kind\":"
	    "\"endpointslices\",\"obj\":{\"apiVersion\":"
	    "\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\","
	    "\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\","
	    "\"labels\":{\"kubernetes.io/service-name\":\"%s\"}},"
	    "\"addressType\":\"IPv4\",\"endpoints\":[%s],\"ports\":[{\"name\":"
	    "\"p\",\"port\":8080,\"protocol\":\"TCP\"}]}}", name, svc, eps);
	return (fa_ctl(&t->fa, buf));
}

/* Delete an object. */
static int
tw_del(struct tw *t, const char *kind, const char *name)
{
	char	buf[256];

	snprintf(buf, sizeof(buf), "{\"op\":\"delete\",\"kind\":\"%s\","
	    "\"ns\":\"default\",\"name\":\"%s\"}", kind, name);
	return (fa_ctl(&t->fa, buf));
}

/* Queue a fault: verb, kind, action JSON. */
static int
tw_fault(struct tw *t, const char *verb, const char *kind,
    const char *action)
{
	char	buf[512];

	snprintf(buf, sizeof(buf), "{\"op\":\"fault\",\"verb\":\"%s\","
	    "\"kind\":\"%s\",\"action\":%s}", verb, kind, action);
	return (fa_ctl(&t->fa, buf));
}

/* A small cluster: Services a, b (+ headless h, foreign f), Endpoints. */
static int
tw_populate(struct tw *t)
{
	return (tw_put_svc(t, "a", "10.0.0.1", 80, NULL) ||
	    tw_put_svc(t, "b", "10.0.0.2", 53, NULL) ||
	    tw_put_svc(t, "h", "None", 80, NULL) ||
	    tw_put_svc(t, "f", "10.0.0.9", 80, ",\"labels\":{\"service."
	    "kubernetes.io/service-proxy-name\":\"other\"}") ||
	    tw_put_eps(t, "a", "10.1.0.1", 8080) ||
	    tw_put_eps(t, "b", "10.1.0.2", 5353));
}

/* Count the requests of verb/kind in the server's log; last in *last. */
static int
tw_requests(struct tw *t, const char *verb, const char *kind,
    struct json_object **last)
{
	struct json_object	*log, *o, *v;
	size_t			 i;
	int			 n = 0;

	if (last != NULL)
		*last = NULL;
	if ((log = fa_get(&t->fa, "/control/requests")) == NULL)
		return (-1);
	for (i = 0; i < json_object_array_length(log); i++) {
		o = json_object_array_get_idx(log, i);
		if (!json_object_object_get_ex(o, "verb", &v) ||
		    !json_object_is_type(v, json_type_string) ||
		    strcmp(json_object_get_string(v), verb) != 0)
			continue;
		if (!json_object_object_get_ex(o, "kind", &v) ||
		    !json_object_is_type(v, json_type_string) ||
		    strcmp(json_object_get_string(v), kind) != 0)
			continue;
		n++;
		if (last != NULL) {
			json_object_put(*last);
			*last = json_object_get(o);
		}
	}
	json_object_put(log);
	return (n);
}

/* The query parameter of a logged request, or "". */
static const char *
tw_query(struct json_object *req, const char *key)
{
	struct json_object	*q, *v;

	if (json_object_object_get_ex(req, "query", &q) &&
	    json_object_object_get_ex(q, key, &v))
		return (json_object_get_string(v));
	return ("");
}

/* What a decoder test collected. */
struct js_out {
	char	*v[16];
	int	 n;
	int	 stop_at;	/* return -1 at this value, -1: never */
};

static const char js_stream[] =
    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
    "\"resourceVersion\":\"1\"},\"s\":\"x\\\"y\\u00e9\\n}\"}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"n\":[1,2.5,-3e2,true,false,"
    "null],\"e\":{}}}\r\n"
    "  \n{\"type\":\"DELETED\",\"object\":{\"a\":[]}}"
    "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":"
    "{\"resourceVersion\":\"9\"}}}\n";

/* Decoder callback: keep each value as a string. */
static int
js_collect(void *arg, struct json_object *o)
{
	struct js_out	*out = arg;

	if (out->n == out->stop_at)
		return (-1);
	if (out->n < 16)
		out->v[out->n++] = strdup(json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN));
	return (0);
}

/* Free what was collected. */
static void
js_out_free(struct js_out *out)
{
	int	i;

	for (i = 0; i < out->n; i++)
		free(out->v[i]);
	memset(out, 0, sizeof(*out));
	out->stop_at = -1;
}

/* The values of js_stream, each parsed on its own. */
static int
js_expected(char **v)
{
	const char	*p = js_stream;
	int		 n = 0;

	while (*p != '\0' && n < 16) {
		struct json_tokener *tok = json_tokener_new();
		struct json_object *o;

		while (*p == ' ' || *p == '\n' || *p == '\r')
			p++;
		if (*p == '\0') {
			json_tokener_free(tok);
			break;
		}
		o = json_tokener_parse_ex(tok, p, strlen(p));
		p += json_tokener_get_parse_end(tok);
		v[n++] = strdup(json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
		json_tokener_free(tok);
	}
	return (n);
}

/* Feed js_stream cut at offsets i and j; compare with want. */
static int
js_split_ok(struct k8s_jstream *js, size_t i, size_t j, char **want,
    int nwant)
{
	struct js_out	 out;
	char		 err[256];
	size_t		 len = strlen(js_stream);
	int		 k, ok;

	memset(&out, 0, sizeof(out));
	out.stop_at = -1;
	k8s_jstream_reset(js);
	ok = k8s_jstream_feed(js, js_stream, i, js_collect, &out, err,
	    sizeof(err)) == 0 &&
	    k8s_jstream_feed(js, js_stream + i, j - i, js_collect, &out, err,
	    sizeof(err)) == 0 &&
	    k8s_jstream_feed(js, js_stream + j, len - j, js_collect, &out,
	    err, sizeof(err)) == 0 && !k8s_jstream_pending(js) &&
	    out.n == nwant;
	for (k = 0; ok && k < nwant; k++)
		ok = strcmp(out.v[k], want[k]) == 0;
	js_out_free(&out);
	return (ok);
}

/* Every 2- and 3-way split of a stream decodes to the same values. */
static void
test_k8s_watch_jstream_splits(void)
{
	struct k8s_jstream	*js = k8s_jstream_new(1 << 20);
	struct js_out		 out;
	char			*want[16], err[256];
	size_t			 i, j, len = strlen(js_stream);
	int			 n, k, bad = 0;

	n = js_expected(want);
	CU_ASSERT_EQUAL(n, 4);
	for (i = 0; i <= len; i++)
		for (j = i; j <= len; j++)
			if (!js_split_ok(js, i, j, want, n))
				bad++;
	CU_ASSERT_EQUAL(bad, 0);
	/* One byte per call. */
	memset(&out, 0, sizeof(out));
	out.stop_at = -1;
	k8s_jstream_reset(js);
	for (i = 0; i < len; i++)
		CU_ASSERT_EQUAL_FATAL(k8s_jstream_feed(js, js_stream + i, 1,
		    js_collect, &out, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(out.n, n);
	for (k = 0; k < n && k < out.n; k++)
		CU_ASSERT_STRING_EQUAL(out.v[k], want[k]);
	js_out_free(&out);
	for (k = 0; k < n; k++)
		free(want[k]);
	k8s_jstream_free(js);
}

/* Feed a string; return feed's result, values in out. */
static int
js_feed_str(struct k8s_jstream *js, const char *s, struct js_out *out,
    char *err, size_t errlen)
{
	return (k8s_jstream_feed(js, s, strlen(s), js_collect, out, err,
	    errlen));
}

/* Garbage, oversize, cut, stopped and null streams are reported. */
static void
test_k8s_watch_jstream_errors(void)
{
	struct k8s_jstream	*js = k8s_jstream_new(16);
	struct js_out		 out;
	char			 err[256];

	memset(&out, 0, sizeof(out));
	out.stop_at = -1;
	/* A value of exactly 16 bytes fits; then garbage. */
	CU_ASSERT_EQUAL(js_feed_str(js, "{\"a\":\"12345678\"}\nnot json\n",
	    &out, err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(out.n, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "invalid JSON"));
	/* 17 bytes, across two calls, is too large. */
	k8s_jstream_reset(js);
	CU_ASSERT_EQUAL(js_feed_str(js, "{\"a\":\"1234", &out, err,
	    sizeof(err)), 0);
	CU_ASSERT_EQUAL(js_feed_str(js, "56789\"}", &out, err, sizeof(err)),
	    -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "larger than 16 bytes"));
	/* A cut value is pending until reset. */
	k8s_jstream_reset(js);
	CU_ASSERT_EQUAL(js_feed_str(js, " {\"a\":", &out, err, sizeof(err)),
	    0);
	CU_ASSERT_EQUAL(k8s_jstream_pending(js), 1);
	k8s_jstream_reset(js);
	CU_ASSERT_EQUAL(k8s_jstream_pending(js), 0);
	CU_ASSERT_EQUAL(js_feed_str(js, "{}\n\n", &out, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(out.n, 2);
	CU_ASSERT_EQUAL(k8s_jstream_pending(js), 0);
	/* The callback stops the stream. */
	out.stop_at = 2;
	CU_ASSERT_EQUAL(js_feed_str(js, "{}{}", &out, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "stopped");
	k8s_jstream_reset(js);
	CU_ASSERT_EQUAL(js_feed_str(js, "null\n", &out, err, sizeof(err)),
	    -1);
	js_out_free(&out);
	k8s_jstream_free(js);
}

/* Return a watch event holding a Service with a big annotation. */
static char *
tw_big_event(size_t size, int as_put)
{
	char	*s, *p;

	s = malloc(size + 1024);
	p = s + sprintf(s, "{\"%s\":\"%s\",\"%s\":{\"metadata\":{\"name\":"
	    "\"big\",\"namespace\":\"default\",\"annotations\":{\"x\":\"",
	    as_put ? "op" : "type", as_put ? "put" : "ADDED",
	    as_put ? "obj" : "object");
	memset(p, 'A', size);
	p += size;
	sprintf(p, "\"}},\"spec\":{\"clusterIP\":\"10.0.0.5\",\"ports\":"
	    "[{\"port\":80,\"protocol\":\"TCP\"}]}}%s}\n",
	    as_put ? ",\"kind\":\"services\"" : "");
	return (s);
}

/* A 5 MB value in odd-sized chunks passes, or trips a smaller cap. */
static void
test_k8s_watch_jstream_big(void)
{
	struct k8s_jstream	*js = k8s_jstream_new(64 << 20);
	struct js_out		 out;
	char			*ev = tw_big_event(5 << 20, 0), err[256];
	size_t			 len = strlen(ev), off, n;
	int			 rc = 0;

	memset(&out, 0, sizeof(out));
	out.stop_at = -1;
	for (off = 0; off < len && rc == 0; off += n) {
		n = len - off < 4093 ? len - off : 4093;
		rc = k8s_jstream_feed(js, ev + off, n, js_collect, &out, err,
		    sizeof(err));
	}
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(out.n, 1);
	CU_ASSERT(out.n == 1 && strlen(out.v[0]) > (5 << 20));
	js_out_free(&out);
	k8s_jstream_free(js);
	js = k8s_jstream_new(1 << 20);
	CU_ASSERT_EQUAL(k8s_jstream_feed(js, ev, len, js_collect, &out, err,
	    sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "larger than"));
	CU_ASSERT_EQUAL(out.n, 0);
	k8s_jstream_free(js);
	free(ev);
}

static const char *const fa_noslices[] = { "--no-slices", NULL };

/* Predicate: stats field at offset >= value (see TW_GE). */
struct tw_ge {
	size_t		off;
	unsigned int	min;
};

/* Predicate for TW_GE. */
static int
tw_stat_ge(struct tw *t, void *arg)
{
	struct k8s_watch_stats	 st = tw_stats(t);
	struct tw_ge		*g = arg;
	unsigned int		 v;

	memcpy(&v, (char *)&st + g->off, sizeof(v));
	return (v >= g->min);
}

/* Wait until counter field reaches min. */
#define TW_GE(t, field, n) __extension__ ({				\
	struct tw_ge	g_ = { offsetof(struct k8s_watch_stats, field),	\
	    (n) };							\
	tw_wait((t), tw_stat_ge, &g_, TW_WAIT_MS);			\
})

/* Does s contain sub? */
static int
tw_has(const char *s, const char *sub)
{
	return (s != NULL && strstr(s, sub) != NULL);
}

/* List, then watch: adds, changes and deletes reach the model. */
static void
test_k8s_watch_list_watch(void)
{
	struct tw		 t;
	struct json_object	*req = NULL;
	struct k8s_watch_stats	 st;
	int			 secs;

	CU_ASSERT_FATAL(tw_init(&t, fa_noslices) == 0);
	CU_ASSERT_FATAL(tw_populate(&t) == 0);
	CU_ASSERT_FATAL(tw_start(&t) == 0);
	CU_ASSERT_FALSE(model_is_synced(t.model));
	CU_ASSERT(tw_settle(&t));
	CU_ASSERT_EQUAL(model_nservices(t.model), 2);
	CU_ASSERT_PTR_NULL(model_get_service(t.model, "default", "h"));
	CU_ASSERT_PTR_NULL(model_get_service(t.model, "default", "f"));
	CU_ASSERT_EQUAL(tw_stats(&t).eps_api, K8S_WATCH_EPS_ENDPOINTS);
	tw_put_svc(&t, "c", "10.0.0.3", 443, NULL);
	tw_put_svc(&t, "a", "10.0.0.1", 81, NULL);
	tw_del(&t, "services", "b");
	tw_put_eps(&t, "c", "10.1.0.3", 8443);
	tw_del(&t, "endpoints", "b");
	CU_ASSERT(tw_wait(&t, tw_matches, NULL, TW_WAIT_MS));
	CU_ASSERT_PTR_NULL(model_get_endpoints(t.model, "default", "b"));
	CU_ASSERT_PTR_NOT_NULL(model_get_endpoints(t.model, "default", "c"));
	CU_ASSERT_EQUAL(model_get_service(t.model, "default", "a")->ports[0].
	    port, 81);
	st = tw_stats(&t);
	CU_ASSERT_EQUAL(st.svc_lists, 1);
	CU_ASSERT_EQUAL(st.eps_lists, 1);
	CU_ASSERT(st.events >= 5);
	CU_ASSERT_EQUAL(st.errors, 0);
	/* What was asked, as kube-proxy asks it. */
	CU_ASSERT_EQUAL(tw_requests(&t, "list", "services", &req), 1);
	CU_ASSERT_STRING_EQUAL(tw_query(req, "limit"), "500");
	CU_ASSERT_STRING_EQUAL(tw_query(req, "labelSelector"),
	    "!service.kubernetes.io/service-proxy-name,"
	    "!service.kubernetes.io/headless");
	json_object_put(req);
	CU_ASSERT_EQUAL(tw_requests(&t, "watch", "services", &req), 1);
	CU_ASSERT_STRING_EQUAL(tw_query(req, "allowWatchBookmarks"), "true");
	CU_ASSERT_STRING_EQUAL(tw_query(req, "resourceVersion"), "106");
	secs = atoi(tw_query(req, "timeoutSeconds"));
	CU_ASSERT(secs >= 300 && secs <= 600);
	json_object_put(req);
	tw_fini(&t);
}

/* Lists come in pages; the model is complete after the last one. */
static void
test_k8s_watch_pagination(void)
{
	struct tw		 t;
	struct json_object	*req = NULL;
	char			 name[16];
	int			 i;

	CU_ASSERT_FATAL(tw_init(&t, fa_noslices) == 0);
	for (i = 0; i < 23; i++) {
		snprintf(name, sizeof(name), "s%02d", i);
		tw_put_svc(&t, name, "10.0.1.1", 1000 + i, NULL);
	}
	t.opts.page_limit = 5;
	CU_ASSERT_FATAL(tw_start(&t) == 0);
	CU_ASSERT(tw_settle(&t));
	CU_ASSERT_EQUAL(model_nservices(t.model), 23);

	CU_ASSERT_EQUAL(tw_requests(&t, "list", "services", &req), 5);
	CU_ASSERT_STRING_EQUAL(tw_query(req, "limit"), "5");
	CU_ASSERT(strlen(tw_query(req, "continue")) > 0);
	json_object_put(req);
	CU_ASSERT_EQUAL(tw_stats(&t).svc_lists, 1);
	tw_fini(&t);
}

/* 410 Gone re-lists without dropping state, as event or as status. */
static void
test_k8s_watch_gone_relist(void)
{
	struct tw	t;
	unsigned int	ep_calls;

	CU_ASSERT_FATAL(tw_init(&t, fa_noslices) == 0);
	CU_ASSERT_FATAL(tw_populate(&t) == 0);
	CU_ASSERT_FATAL(tw_start(&t) == 0);
	CU_ASSERT_FATAL(tw_settle(&t));
	t.guard = "a";
	ep_calls = t.ep_calls;
	tw_put_svc(&t, "b", "10.0.0.2", 54, NULL);
	fa_ctl(&t.fa, "{\"op\":\"compact\"}");
	fa_ctl(&t.fa, "{\"op\":\"close_watches\"}");
	CU_ASSERT(TW_GE(&t, gone, 2));
	CU_ASSERT(TW_GE(&t, svc_lists, 2));
	CU_ASSERT(TW_GE(&t, eps_lists, 2));
	CU_ASSERT(tw_wait(&t, tw_matches, NULL, TW_WAIT_MS));
	CU_ASSERT_EQUAL(model_get_service(t.model, "default", "b")->ports[0].
	    port, 54);
	/* Unchanged Endpoints: not one call; Service a never vanished. */
	CU_ASSERT_EQUAL(t.ep_calls, ep_calls);
	CU_ASSERT_FALSE(t.guard_lost);
	/* The same as an HTTP 410 answer to the watch. */
	fa_ctl(&t.fa, "{\"op\":\"gone_mode\",\"mode\":\"status\"}");
	tw_del(&t, "endpoints", "a");
	fa_ctl(&t.fa, "{\"op\":\"compact\"}");
	fa_ctl(&t.fa, "{\"op\":\"close_watches\"}");
	CU_ASSERT(TW_GE(&t, gone, 4));
	CU_ASSERT(tw_wait(&t, tw_matches, NULL, TW_WAIT_MS));
	CU_ASSERT_PTR_NULL(model_get_endpoints(t.model, "default", "a"));
	CU_ASSERT_FALSE(t.guard_lost);
	tw_fini(&t);
}

/* ERROR events: 500 re-lists after a backoff, 410 counts as Gone. */
static void
test_k8s_watch_error_event(void)
{
	struct tw	 t;
	char		*log;

	CU_ASSERT_FATAL(tw_init(&t, fa_noslices) == 0);
	CU_ASSERT_FATAL(tw_populate(&t) == 0);
	CU_ASSERT_FATAL(tw_start(&t) == 0);
	CU_ASSERT_FATAL(tw_settle(&t));
	tu_capture_begin(&cap, 2);
	tw_fault(&t, "watch", "services", "{\"error_event\":500}");
	fa_ctl(&t.fa, "{\"op\":\"close_watches\"}");
	CU_ASSERT(TW_GE(&t, svc_lists, 2));
	log = tu_capture_end(&cap);
	CU_ASSERT(tw_has(log, "ERROR event: code 500"));
	free(log);
	CU_ASSERT(tw_stats(&t).errors >= 1);
	tw_fault(&t, "watch", "services", "{\"error_event\":410}");
	fa_ctl(&t.fa, "{\"op\":\"close_watches\"}");
	CU_ASSERT(TW_GE(&t, gone, 1));
	CU_ASSERT(TW_GE(&t, svc_lists, 3));
	tw_put_svc(&t, "c", "10.0.0.3", 443, NULL);
	CU_ASSERT(tw_wait(&t, tw_matches, NULL, TW_WAIT_MS));
	tw_fini(&t);
}

/* A stream cut inside an event resumes from the last applied event. */
static void
test_k8s_watch_drop_mid_event(void)
{
	struct tw		 t;
	struct json_object	*log, *o;
	size_t			 i;
	const char		*rvs[2] = { NULL, NULL };
	unsigned int		 w0;

	CU_ASSERT_FATAL(tw_init(&t, fa_noslices) == 0);
	CU_ASSERT_FATAL(tw_populate(&t) == 0);
	CU_ASSERT_FATAL(tw_start(&t) == 0);
	CU_ASSERT_FATAL(tw_settle(&t));
	w0 = tw_stats(&t).watches;
	tw_fault(&t, "watch", "services", "{\"drop_mid_event\":true}");
	fa_ctl(&t.fa, "{\"op\":\"close_watches\"}");
	CU_ASSERT(TW_GE(&t, watches, w0 + 2));
	CU_ASSERT(tw_wait(&t, tw_svc_watching, NULL, TW_WAIT_MS));
	tw_put_svc(&t, "c", "10.0.0.3", 443, NULL);
	CU_ASSERT(TW_GE(&t, errors, 1));
	CU_ASSERT(tw_wait(&t, tw_matches, NULL, TW_WAIT_MS));
	CU_ASSERT_PTR_NOT_NULL(model_get_service(t.model, "default", "c"));
	CU_ASSERT_EQUAL(tw_stats(&t).svc_lists, 1);
	/* The cut watch and the next one asked for the same version. */
	log = fa_get(&t.fa, "/control/requests");
	for (i = 0; log != NULL && i < json_object_array_length(log); i++) {
		o = json_object_array_get_idx(log, i);
		if (strcmp(tw_query(o, "watch"), "1") != 0 ||
		    strcmp(json_object_get_string(o), "") == 0 ||
		    strcmp(json_object_get_string(json_object_object_get(o,
		    "path")), "/api/v1/services") != 0)
			continue;
		rvs[0] = rvs[1];
		rvs[1] = tw_query(o, "resourceVersion");
	}
	CU_ASSERT(rvs[0] != NULL && rvs[1] != NULL &&
	    strcmp(rvs[0], rvs[1]) == 0);
	json_object_put(log);
	tw_fini(&t);
}

/* Garbage on the stream is an error; the watch resumes. */
static void
test_k8s_watch_garbage(void)
{
	struct tw	 t;
	char		*log;

	CU_ASSERT_FATAL(tw_init(&t, fa_noslices) == 0);
	CU_ASSERT_FATAL(tw_populate(&t) == 0);
	CU_ASSERT_FATAL(tw_start(&t) == 0);
	CU_ASSERT_FATAL(tw_settle(&t));
	tu_capture_begin(&cap, 2);
	tw_fault(&t, "watch", "services",
	    "{\"garbage\":\"{\\\"type\\\": nonsense}\\n\"}");
	fa_ctl(&t.fa, "{\"op\":\"close_watches\"}");
	CU_ASSERT(TW_GE(&t, errors, 1));
	tw_put_svc(&t, "c", "10.0.0.3", 443, NULL);
	CU_ASSERT(tw_wait(&t, tw_matches, NULL, TW_WAIT_MS));
	log = tu_capture_end(&cap);
	CU_ASSERT(tw_has(log, "watch services from"));
	CU_ASSERT(tw_has(log, "invalid JSON"));
	free(log);
	CU_ASSERT_EQUAL(tw_stats(&t).svc_lists, 1);
	tw_fini(&t);
}

/* Predicate: the model holds default/big (cheap, unlike tw_matches). */
static int
tw_has_big(struct tw *t, void *arg)
{
	return (model_get_service(t->model, "default", "big") != NULL);
}

/* A 5 MB object arrives whole; over the cap it errors until re-list. */
static void
test_k8s_watch_big_object(void)
{
	struct tw	 t;
	char		*big = tw_big_event(5 << 20, 1), *log;

	CU_ASSERT_FATAL(tw_init(&t, fa_noslices) == 0);
	CU_ASSERT_FATAL(tw_populate(&t) == 0);
	CU_ASSERT_FATAL(tw_start(&t) == 0);
	CU_ASSERT_FATAL(tw_settle(&t));
	CU_ASSERT(fa_ctl(&t.fa, big) == 0);
	/*
	 * Each tw_matches fetches the 5 MB state with the loop stopped: poll
	 * it only once the event is in, or it starves the watch it awaits.
	 */
	CU_ASSERT(tw_wait(&t, tw_has_big, NULL, TW_WAIT_MS));
	CU_ASSERT(tw_wait(&t, tw_matches, NULL, TW_WAIT_MS));
	CU_ASSERT_PTR_NOT_NULL(model_get_service(t.model, "default", "big"));
	CU_ASSERT_EQUAL(tw_stats(&t).errors, 0);
	tw_fini(&t);

	CU_ASSERT_FATAL(tw_init(&t, fa_noslices) == 0);
	CU_ASSERT_FATAL(tw_populate(&t) == 0);
	t.opts.max_object = 1 << 20;
	CU_ASSERT_FATAL(tw_start(&t) == 0);
	CU_ASSERT_FATAL(tw_settle(&t));
	tu_capture_begin(&cap, 2);
	CU_ASSERT(fa_ctl(&t.fa, big) == 0);
	CU_ASSERT(TW_GE(&t, errors, 2));
	log = tu_capture_end(&cap);
	CU_ASSERT(tw_has(log, "larger than 1048576 bytes"));
	free(log);
	CU_ASSERT_PTR_NULL(model_get_service(t.model, "default", "big"));
	fa_ctl(&t.fa, "{\"op\":\"compact\"}");
	CU_ASSERT(TW_GE(&t, svc_lists, 2));
	CU_ASSERT(tw_wait(&t, tw_matches, NULL, TW_WAIT_MS));
	CU_ASSERT_PTR_NOT_NULL(model_get_service(t.model, "default", "big"));
	tw_fini(&t);
	free(big);
}

/* 401, 403, 500 answers are logged with the resource and retried. */
static void
test_k8s_watch_http_errors(void)
{
	struct tw	 t;
	char		*log;

	CU_ASSERT_FATAL(tw_init(&t, fa_noslices) == 0);
	CU_ASSERT_FATAL(tw_populate(&t) == 0);
	tw_fault(&t, "list", "services", "{\"status\":401}");
	tw_fault(&t, "list", "services", "{\"status\":403}");
	tw_fault(&t, "list", "services", "{\"status\":500}");
	tw_fault(&t, "list", "endpoints", "{\"status\":503}");
	tu_capture_begin(&cap, 2);
	CU_ASSERT_FATAL(tw_start(&t) == 0);
	CU_ASSERT(tw_settle(&t));
	tw_fault(&t, "watch", "services", "{\"status\":500}");
	fa_ctl(&t.fa, "{\"op\":\"close_watches\"}");
	CU_ASSERT(TW_GE(&t, errors, 5));
	tw_put_svc(&t, "c", "10.0.0.3", 443, NULL);
	CU_ASSERT(tw_wait(&t, tw_matches, NULL, TW_WAIT_MS));
	log = tu_capture_end(&cap);
	CU_ASSERT(tw_has(log, "list services from http://127.0.0.1:"));
	CU_ASSERT(tw_has(log, "HTTP 401: injected 401; unauthorized: check "
	    "the token/client certificate in --kubeconfig"));
	CU_ASSERT(tw_has(log, "HTTP 403"));
	CU_ASSERT(tw_has(log, "HTTP 500"));
	CU_ASSERT(tw_has(log, "list endpoints from"));
	CU_ASSERT(tw_has(log, "watch services from"));
	free(log);
	CU_ASSERT_EQUAL(tw_stats(&t).svc_lists, 1);
	tw_fini(&t);
}

/* Events dribbled a byte per chunk decode the same. */
static void
test_k8s_watch_dribble(void)
{
	struct tw	t;

	CU_ASSERT_FATAL(tw_init(&t, fa_noslices) == 0);
	CU_ASSERT_FATAL(tw_populate(&t) == 0);
	CU_ASSERT_FATAL(tw_start(&t) == 0);
	CU_ASSERT_FATAL(tw_settle(&t));
	tw_fault(&t, "watch", "services", "{\"dribble\":0}");
	tw_fault(&t, "watch", "endpoints", "{\"dribble\":0.0005}");
	fa_ctl(&t.fa, "{\"op\":\"close_watches\"}");
	CU_ASSERT(tw_wait(&t, tw_svc_watching, NULL, TW_WAIT_MS));
	tw_put_svc(&t, "c", "10.0.0.3", 443, NULL);
	tw_put_svc(&t, "d", "10.0.0.4", 80, NULL);
	tw_put_svc(&t, "a", "10.0.0.1", 82, NULL);
	tw_del(&t, "services", "b");
	tw_put_eps(&t, "c", "10.1.0.3", 8443);
	tw_put_eps(&t, "d", "10.1.0.4", 8080);
	CU_ASSERT(tw_wait(&t, tw_matches, NULL, TW_WAIT_MS));
	CU_ASSERT_EQUAL(tw_stats(&t).errors, 0);
	CU_ASSERT_EQUAL(tw_stats(&t).svc_lists, 1);
	tw_fini(&t);
}

/* The number of endpoints of ns/name port "p", -1 if none. */
static int
tw_neps(struct tw *t, const char *name)
{
	const struct model_endpoints	*me;
	const struct model_epset	*set;

	if ((me = model_get_endpoints(t->model, "default", name)) == NULL ||
	    (set = model_endpoints_port(me, "p")) == NULL)
		return (-1);
	return ((int)set->n);
}

/* EndpointSlices of one Service are merged; moves and deletes follow. */
static void
test_k8s_watch_slices(void)
{
	struct tw	t;
	unsigned int	ep_calls;

	CU_ASSERT_FATAL(tw_init(&t, NULL) == 0);
	tw_put_svc(&t, "a", "10.0.0.1", 80, NULL);
	tw_put_svc(&t, "b", "10.0.0.2", 80, NULL);
	tw_put_slice(&t, "a-1", "a", "10.1.0.1", "10.1.0.2");
	tw_put_slice(&t, "a-2", "a", "10.1.0.2", "10.1.0.3");
	tw_put_slice(&t, "b-1", "b", "10.1.0.9", NULL);
	CU_ASSERT_FATAL(tw_start(&t) == 0);
	CU_ASSERT(tw_settle(&t));
	CU_ASSERT_EQUAL(tw_stats(&t).eps_api, K8S_WATCH_EPS_SLICES_V1);
	CU_ASSERT_EQUAL(tw_neps(&t, "a"), 3);
	CU_ASSERT_EQUAL(tw_neps(&t, "b"), 1);
	tw_del(&t, "endpointslices", "a-2");
	CU_ASSERT(tw_wait(&t, tw_matches, NULL, TW_WAIT_MS));
	CU_ASSERT_EQUAL(tw_neps(&t, "a"), 2);
	/* b-1 moves to Service a: b's Endpoints go away. */
	tw_put_slice(&t, "b-1", "a", "10.1.0.9", NULL);
	CU_ASSERT(tw_wait(&t, tw_matches, NULL, TW_WAIT_MS));
	CU_ASSERT_EQUAL(tw_neps(&t, "a"), 3);
	CU_ASSERT_PTR_NULL(model_get_endpoints(t.model, "default", "b"));
	/* An invalid slice is skipped, the rest flows. */
	tw_put_slice(&t, "a-3", "a", "not-an-ip", NULL);
	tw_put_slice(&t, "b-2", "b", "10.1.0.8", NULL);
	CU_ASSERT(tw_wait(&t, tw_matches, NULL, TW_WAIT_MS));
	CU_ASSERT_EQUAL(tw_neps(&t, "b"), 1);
	CU_ASSERT(tw_stats(&t).bad_objects >= 1);
	/* A re-list of the same slices changes nothing. */
	ep_calls = t.ep_calls;
	fa_ctl(&t.fa, "{\"op\":\"compact\"}");
	fa_ctl(&t.fa, "{\"op\":\"close_watches\"}");
	CU_ASSERT(TW_GE(&t, eps_lists, 2));
	CU_ASSERT(tw_wait(&t, tw_matches, NULL, TW_WAIT_MS));
	CU_ASSERT_EQUAL(t.ep_calls, ep_calls);
	tw_fini(&t);
}

/* Predicate: discovery decided. */
static int
tw_disc_done(struct tw *t, void *arg)
{
	return (tw_stats(t).eps_api != K8S_WATCH_EPS_UNKNOWN);
}

/* v1beta1 when v1 is missing; --endpoints-source forces either way. */
static void
test_k8s_watch_discovery(void)
{
	struct tw	 t;
	char		*log;

	CU_ASSERT_FATAL(tw_init(&t, NULL) == 0);
	fa_ctl(&t.fa, "{\"op\":\"discovery\",\"v1\":false}");
	tw_put_slice(&t, "a-1", "a", "10.1.0.1", NULL);
	CU_ASSERT_FATAL(tw_start(&t) == 0);
	CU_ASSERT(tw_settle(&t));
	CU_ASSERT_EQUAL(tw_stats(&t).eps_api, K8S_WATCH_EPS_SLICES_V1BETA1);
	CU_ASSERT_EQUAL(tw_neps(&t, "a"), 1);
	tw_fini(&t);

	CU_ASSERT_FATAL(tw_init(&t, NULL) == 0);
	tw_put_eps(&t, "a", "10.1.0.1", 80);
	t.opts.endpoints_source = CONFIG_EPS_ENDPOINTS;
	CU_ASSERT_FATAL(tw_start(&t) == 0);
	CU_ASSERT(tw_settle(&t));
	CU_ASSERT_EQUAL(tw_stats(&t).eps_api, K8S_WATCH_EPS_ENDPOINTS);
	CU_ASSERT_EQUAL(tw_neps(&t, "a"), 1);
	CU_ASSERT_EQUAL(tw_requests(&t, "discovery", "v1", NULL), 0);
	tw_fini(&t);

	CU_ASSERT_FATAL(tw_init(&t, fa_noslices) == 0);
	t.opts.endpoints_source = CONFIG_EPS_SLICES;
	tu_capture_begin(&cap, 2);
	CU_ASSERT_FATAL(tw_start(&t) == 0);
	CU_ASSERT(TW_GE(&t, errors, 2));
	log = tu_capture_end(&cap);
	CU_ASSERT(tw_has(log, "EndpointSlices are not served"));
	free(log);
	CU_ASSERT_FALSE(tw_disc_done(&t, NULL));
	CU_ASSERT_FALSE(model_is_synced(t.model));
	/* Once the server serves them, discovery goes through. */
	fa_ctl(&t.fa, "{\"op\":\"discovery\",\"v1\":true}");
	CU_ASSERT(tw_settle(&t));
	CU_ASSERT_EQUAL(tw_stats(&t).eps_api, K8S_WATCH_EPS_SLICES_V1);
	tw_fini(&t);
}

/* Predicate: the node lookup has a result. */
static int
tw_has_node_ip(struct tw *t, void *arg)
{
	return (t->node_ip != NULL);
}

/* Put a Node with the given addresses JSON. */
static int
tw_put_node(struct tw *t, const char *name, const char *addrs)
{
	char	buf[1024];

	snprintf(buf, sizeof(buf), "{\"op\":\"put\",\"kind\":\"nodes\","
	    "\"obj\":{\"metadata\":{\"name\":\"%s\"},\"status\":"
	    "{\"addresses\":%s}}}", name, addrs);
	return (fa_ctl(&t->fa, buf));
}

/* The node's InternalIP, else its ExternalIP; a missing node is logged. */
static void
test_k8s_watch_node_ip(void)
{
	struct tw	 t;
	char		*log;

	CU_ASSERT_FATAL(tw_init(&t, fa_noslices) == 0);
	tw_put_node(&t, "node-1", "[{\"type\":\"Hostname\",\"address\":"
	    "\"node-1\"},{\"type\":\"ExternalIP\",\"address\":\"203.0.113.7\"},"
	    "{\"type\":\"InternalIP\",\"address\":\"10.9.8.7\"}]");
	tw_put_node(&t, "node-2", "[{\"type\":\"ExternalIP\",\"address\":"
	    "\"2001:db8:0::7\"}]");
	CU_ASSERT_FATAL(tw_start(&t) == 0);
	CU_ASSERT(tw_wait(&t, tw_has_node_ip, NULL, TW_WAIT_MS));
	CU_ASSERT(t.node_ip != NULL && strcmp(t.node_ip, "10.9.8.7") == 0);
	k8s_watch_free(t.w);
	free(t.node_ip);
	t.node_ip = NULL;
	t.opts.node_name = "NODE-2";
	CU_ASSERT_FATAL(tw_start(&t) == 0);
	CU_ASSERT(tw_wait(&t, tw_has_node_ip, NULL, TW_WAIT_MS));
	CU_ASSERT(t.node_ip != NULL && strcmp(t.node_ip, "2001:db8::7") == 0);
	k8s_watch_free(t.w);
	free(t.node_ip);
	t.node_ip = NULL;
	t.opts.node_name = "node-3";
	tu_capture_begin(&cap, 2);
	CU_ASSERT_FATAL(tw_start(&t) == 0);
	CU_ASSERT(tw_settle(&t));
	tw_run(&t, 100);
	log = tu_capture_end(&cap);
	CU_ASSERT(tw_has(log, "cannot get node node-3"));
	CU_ASSERT(tw_has(log, "not found"));
	free(log);
	CU_ASSERT_PTR_NULL(t.node_ip);
	tw_fini(&t);
}

/* Write a token file atomically. */
static void
tw_write_token(struct tw *t, const char *tok)
{
	char	tmp[128];
	FILE	*f;

	snprintf(tmp, sizeof(tmp), "%s/token.new", t->fa.dir);
	if ((f = fopen(tmp, "w")) == NULL)
		return;
	fprintf(f, "%s\n", tok);
	fclose(f);
	rename(tmp, t->kc.token_file);
}

/* The token file is read again for every request; no token is logged. */
static void
test_k8s_watch_token(void)
{
	static const char *const args[] = { "--no-slices", "--token",
	    "tok-A", NULL };
	struct tw		 t;
	struct json_object	*req = NULL;
	unsigned int		 w0;
	char			*log;

	CU_ASSERT_FATAL(tw_init(&t, args) == 0);
	CU_ASSERT_FATAL(tw_populate(&t) == 0);
	xasprintf(&t.kc.token_file, "%s/token", t.fa.dir);
	tw_write_token(&t, "tok-A");
	CU_ASSERT_FATAL(tw_start(&t) == 0);
	CU_ASSERT(tw_settle(&t));
	fa_ctl(&t.fa, "{\"op\":\"token\",\"token\":\"tok-B\"}");
	tw_write_token(&t, "tok-B");
	w0 = tw_stats(&t).watches;
	fa_ctl(&t.fa, "{\"op\":\"close_watches\"}");
	CU_ASSERT(TW_GE(&t, watches, w0 + 2));
	tw_put_svc(&t, "c", "10.0.0.3", 443, NULL);
	CU_ASSERT(tw_wait(&t, tw_matches, NULL, TW_WAIT_MS));
	CU_ASSERT_EQUAL(tw_stats(&t).errors, 0);
	tw_requests(&t, "watch", "services", &req);
	CU_ASSERT(req != NULL && strcmp(json_object_get_string(
	    json_object_object_get(req, "auth")), "ok") == 0);
	json_object_put(req);
	tw_fini(&t);

	/* A wrong token: 401 with the hint, retried, never logged. */
	CU_ASSERT_FATAL(tw_init(&t, args) == 0);
	CU_ASSERT_FATAL(tw_populate(&t) == 0);
	t.kc.token = strdup("s3cr3t-wrong");
	log_setverbose(5);
	tu_capture_begin(&cap, 2);
	CU_ASSERT_FATAL(tw_start(&t) == 0);
	CU_ASSERT(TW_GE(&t, errors, 3));
	CU_ASSERT_FALSE(model_is_synced(t.model));
	fa_ctl(&t.fa, "{\"op\":\"token\",\"token\":\"s3cr3t-wrong\"}");
	CU_ASSERT(tw_settle(&t));
	log = tu_capture_end(&cap);
	log_setverbose(0);
	CU_ASSERT(tw_has(log, "HTTP 401"));
	CU_ASSERT(tw_has(log, "unauthorized: check the token/client "
	    "certificate in --kubeconfig"));
	CU_ASSERT_FALSE(tw_has(log, "s3cr3t"));
	free(log);
	tw_fini(&t);
}

/* Read a fixture file into a new buffer. */
static char *
tw_slurp(const char *name, size_t *len)
{
	struct tw_buf	 b = { NULL, 0, 0 };
	char		 chunk[4096];
	size_t		 n;
	FILE		*f;

	if ((f = fopen(tu_data(name), "r")) == NULL)
		return (NULL);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		tw_buf_write(chunk, 1, n, &b);
	fclose(f);
	*len = b.len;
	return (b.p);
}

/* Replace the watch and model with fresh ones on the same server. */
static void
tw_restart(struct tw *t)
{
	struct model_observer	obs = { .services_changed = tw_svc_changed,
	    .endpoints_changed = tw_ep_changed, .arg = t };

	k8s_watch_free(t->w);
	t->w = NULL;
	model_free(t->model);
	t->model = model_new();
	model_set_observer(t->model, &obs);
}

/*
 * Start a watch that must fail on TLS: errors logged (containing want,
 * unless NULL), never synced.
 */
static int
tw_tls_fails(struct tw *t, const char *want)
{
	char	*log;
	int	 ok;

	tu_capture_begin(&cap, 2);
	ok = tw_start(t) == 0 && TW_GE(t, errors, 2) &&
	    !model_is_synced(t->model);
	log = tu_capture_end(&cap);
	ok = ok && tw_has(log, "list services from https://127.0.0.1:") &&
	    (want == NULL || tw_has(log, want));
	if (!ok)
		printf("\n--- log ---\n%s--- end ---\n", log);
	free(log);
	return (ok);
}

/* TLS: CA file or blob, client certificate blobs, insecure, wrong CA. */
static void
test_k8s_watch_tls(void)
{
	char		 ca[4096];
	const char	*args[] = { "--no-slices", "--tls-cert", NULL,
	    "--tls-key", NULL, "--tls-client-ca", ca, NULL };
	struct tw	 t;

	args[2] = strdup(tu_data("k8s_watch-server.pem"));
	args[4] = strdup(tu_data("k8s_watch-server-key.pem"));
	snprintf(ca, sizeof(ca), "%s", tu_data("k8s_watch-ca.pem"));
	CU_ASSERT_FATAL(tw_init(&t, args) == 0);
	CU_ASSERT_FATAL(tw_populate(&t) == 0);
	t.kc.cert_data = tw_slurp("k8s_watch-client.pem", &t.kc.cert_data_len);
	t.kc.key_data = tw_slurp("k8s_watch-client-key.pem",
	    &t.kc.key_data_len);
	t.kc.ca_file = strdup(ca);
	CU_ASSERT_FATAL(tw_start(&t) == 0);
	CU_ASSERT(tw_settle(&t));
	/* The CA as a blob. */
	tw_restart(&t);
	free(t.kc.ca_file);
	t.kc.ca_file = NULL;
	t.kc.ca_data = tw_slurp("k8s_watch-ca.pem", &t.kc.ca_data_len);
	CU_ASSERT_FATAL(tw_start(&t) == 0);
	CU_ASSERT(tw_settle(&t));
	/* Another CA: "SSL certificate problem", retried, not synced. */
	tw_restart(&t);
	free(t.kc.ca_data);
	t.kc.ca_data = NULL;
	t.kc.ca_file = strdup(tu_data("k8s_watch-other-ca.pem"));
	CU_ASSERT(tw_tls_fails(&t, "SSL certificate problem: "));
	/* ... unless verification is off. */
	tw_restart(&t);
	t.kc.insecure = 1;
	CU_ASSERT_FATAL(tw_start(&t) == 0);
	CU_ASSERT(tw_settle(&t));
	/* No client certificate: the server refuses the handshake. */
	tw_restart(&t);
	t.kc.insecure = 0;
	free(t.kc.ca_file);
	t.kc.ca_file = strdup(ca);
	free(t.kc.cert_data);
	free(t.kc.key_data);
	t.kc.cert_data = t.kc.key_data = NULL;
	/* TLS 1.3 reports it on the first read or write, worded variously. */
	CU_ASSERT(tw_tls_fails(&t, NULL));
	tw_fini(&t);
	free((char *)args[2]);
	free((char *)args[4]);
}

/* Bookmarks move resourceVersion: the next watch starts there. */
static void
test_k8s_watch_bookmark(void)
{
	struct tw		 t;
	struct json_object	*req = NULL;
	unsigned int		 w0;

	CU_ASSERT_FATAL(tw_init(&t, fa_noslices) == 0);
	CU_ASSERT_FATAL(tw_populate(&t) == 0);
	CU_ASSERT_FATAL(tw_start(&t) == 0);
	CU_ASSERT_FATAL(tw_settle(&t));
	CU_ASSERT(tw_wait(&t, tw_svc_watching, NULL, TW_WAIT_MS));
	tw_put_svc(&t, "c", "10.0.0.3", 443, NULL);	/* rv 107 */
	CU_ASSERT(tw_wait(&t, tw_matches, NULL, TW_WAIT_MS));
	fa_ctl(&t.fa, "{\"op\":\"bookmark\"}");
	CU_ASSERT(TW_GE(&t, bookmarks, 2));
	w0 = tw_stats(&t).watches;
	fa_ctl(&t.fa, "{\"op\":\"close_watches\"}");
	CU_ASSERT(TW_GE(&t, watches, w0 + 2));
	tw_requests(&t, "watch", "endpoints", &req);
	CU_ASSERT(req != NULL &&
	    strcmp(tw_query(req, "resourceVersion"), "107") == 0);
	json_object_put(req);
	tw_fini(&t);
}

/* A watch the server ends normally resumes without a re-list. */
static void
test_k8s_watch_timeout_rewatch(void)
{
	static const char *const args[] = { "--no-slices", "--max-watch",
	    "1.2", NULL };
	struct tw	t;
	unsigned int	n = 6;

	CU_ASSERT_FATAL(tw_init(&t, args) == 0);
	CU_ASSERT_FATAL(tw_populate(&t) == 0);
	CU_ASSERT_FATAL(tw_start(&t) == 0);
	CU_ASSERT_FATAL(tw_settle(&t));
	CU_ASSERT(tw_wait(&t, tw_watches_ge, &n, TW_WAIT_MS));
	tw_put_svc(&t, "c", "10.0.0.3", 443, NULL);
	CU_ASSERT(tw_wait(&t, tw_matches, NULL, TW_WAIT_MS));
	CU_ASSERT_EQUAL(tw_stats(&t).svc_lists, 1);
	CU_ASSERT_EQUAL(tw_stats(&t).eps_lists, 1);
	CU_ASSERT_EQUAL(tw_stats(&t).errors, 0);
	tw_fini(&t);
}

/* Count the occurrences of sub in s. */
static int
tw_count(const char *s, const char *sub)
{
	int	n = 0;

	while (s != NULL && (s = strstr(s, sub)) != NULL) {
		n++;
		s++;
	}
	return (n);
}

/* An invalid object is logged once by name, skipped, then fixed. */
static void
test_k8s_watch_bad_object(void)
{
	struct tw	 t;
	char		*log;

	CU_ASSERT_FATAL(tw_init(&t, fa_noslices) == 0);
	CU_ASSERT_FATAL(tw_populate(&t) == 0);
	tw_put_svc(&t, "bad", "10.0.0.7", 70000, NULL);
	tu_capture_begin(&cap, 2);
	CU_ASSERT_FATAL(tw_start(&t) == 0);
	CU_ASSERT(tw_settle(&t));
	fa_ctl(&t.fa, "{\"op\":\"compact\"}");
	fa_ctl(&t.fa, "{\"op\":\"close_watches\"}");
	CU_ASSERT(TW_GE(&t, svc_lists, 2));
	CU_ASSERT(tw_wait(&t, tw_matches, NULL, TW_WAIT_MS));
	log = tu_capture_end(&cap);
	CU_ASSERT_EQUAL(tw_count(log, "skipping default/bad"), 1);
	CU_ASSERT(tw_has(log, "70000"));
	free(log);
	CU_ASSERT_PTR_NULL(model_get_service(t.model, "default", "bad"));
	CU_ASSERT_EQUAL(model_nservices(t.model), 2);
	tw_put_svc(&t, "bad", "10.0.0.7", 7000, NULL);
	CU_ASSERT(tw_wait(&t, tw_matches, NULL, TW_WAIT_MS));
	CU_ASSERT_PTR_NOT_NULL(model_get_service(t.model, "default", "bad"));
	tw_fini(&t);
}

/* The Node's address: InternalIP first, canonical, invalid ones passed. */
static void
test_k8s_watch_node_pick(void)
{
	static const struct {
		const char	*json;
		const char	*want;		/* NULL: none */
	} t[] = {
		{ "{\"status\":{\"addresses\":[{\"type\":\"Hostname\","
		    "\"address\":\"n1\"},{\"type\":\"ExternalIP\","
		    "\"address\":\"203.0.113.9\"},{\"type\":\"InternalIP\","
		    "\"address\":\"10.0.0.7\"}]}}", "10.0.0.7" },
		{ "{\"status\":{\"addresses\":[{\"type\":\"InternalIP\","
		    "\"address\":\"bogus\"},{\"type\":\"ExternalIP\","
		    "\"address\":\"FD00::0:7\"}]}}", "fd00::7" },
		{ "{\"status\":{\"addresses\":[{\"type\":\"InternalIP\","
		    "\"address\":7}]}}", NULL },
		{ "{\"status\":{\"addresses\":{}}}", NULL },
		{ "{\"status\":{}}", NULL },
		{ "[]", NULL },
	};
	struct json_object	*o;
	char			*ip;
	size_t			 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		o = json_tokener_parse(t[i].json);
		CU_ASSERT_PTR_NOT_NULL_FATAL(o);
		ip = k8s_node_pick_ip(o);
		if (t[i].want == NULL) {
			CU_ASSERT_PTR_NULL(ip);
		} else
			CU_ASSERT(ip != NULL && strcmp(ip, t[i].want) == 0);
		free(ip);
		json_object_put(o);
	}
}

/* Backoffs stay within [0, min << fails], capped at max. */
static void
test_k8s_watch_backoff(void)
{
	unsigned int	fails = 0, ms, i;

	for (i = 0; i < 40; i++) {
		ms = k8s_backoff_ms(500, 30000, &fails);
		CU_ASSERT(ms <= (i < 6 ? 500u << i : 30000u));
	}
	CU_ASSERT_EQUAL(fails, 40);
}

static const struct tu_case cases[] = {
	{ "jstream: every split", test_k8s_watch_jstream_splits },
	{ "jstream: errors", test_k8s_watch_jstream_errors },
	{ "jstream: 5 MB value", test_k8s_watch_jstream_big },
	{ "list then watch", test_k8s_watch_list_watch },
	{ "pagination", test_k8s_watch_pagination },
	{ "410 Gone re-lists keeping state", test_k8s_watch_gone_relist },
	{ "ERROR events", test_k8s_watch_error_event },
	{ "stream cut mid-event", test_k8s_watch_drop_mid_event },
	{ "garbage JSON", test_k8s_watch_garbage },
	{ "5 MB object, object cap", test_k8s_watch_big_object },
	{ "401/403/5xx", test_k8s_watch_http_errors },
	{ "dribbled bytes", test_k8s_watch_dribble },
	{ "EndpointSlices merged", test_k8s_watch_slices },
	{ "discovery", test_k8s_watch_discovery },
	{ "node IP", test_k8s_watch_node_ip },
	{ "node IP picked from the Node", test_k8s_watch_node_pick },
	{ "backoff bounds", test_k8s_watch_backoff },
	{ "token file rotation, 401", test_k8s_watch_token },
	{ "TLS", test_k8s_watch_tls },
	{ "bookmarks", test_k8s_watch_bookmark },
	{ "watch timeout resumes", test_k8s_watch_timeout_rewatch },
	{ "invalid object", test_k8s_watch_bad_object },
	{ NULL, NULL }
};

TU_MAIN("k8s_watch", cases)
