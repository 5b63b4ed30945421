/*
 * metrics.c: /metrics, /healthz, /proxyMode and /debug/services: the
 * Prometheus and JSON formatting of what the proxier reports through
 * proxier_foreach_port() and proxier_get_stats().
 */
#include <sys/socket.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <json-c/json.h>

#include "k8s_watch.h"
#include "lb.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "monotime.h"
#include "netutil.h"
#include "proxier.h"
#include "xmalloc.h"

struct metrics {
	struct proxier	*proxier;
	const struct k8s_watch *watch;	/* NULL: no API source */
	struct evhttp	*metrics_http;
	struct evhttp	*healthz_http;
	uint64_t	 sync_period_ms;
};

/* Return a new reply buffer, or NULL after answering 500. */
static struct evbuffer *
metrics_buffer(struct evhttp_request *req)
{
	struct evbuffer	*buf;

	if ((buf = evbuffer_new()) == NULL)
		evhttp_send_error(req, 500, "out of memory");
	return (buf);
}

/* Send buf with status code and content type, then free it. */
static void
metrics_reply(struct evhttp_request *req, int code, const char *reason,
    const char *type, struct evbuffer *buf)
{
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", type);
	evhttp_send_reply(req, code, reason, buf);
	evbuffer_free(buf);
}

/* Format the wall-clock time as RFC 3339. */
static void
metrics_timestamp(char *buf, size_t len)
{
	struct timespec	ts;
	struct tm	tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Answer /healthz: healthy once synced and the last sync is recent. */
static void
metrics_healthz(struct evhttp_request *req, void *arg)
{
	struct metrics	*m = arg;
	struct evbuffer	*buf;
	uint64_t	 now, last;
	char		 stamp[64];
	int		 ok;

	if ((buf = metrics_buffer(req)) == NULL)
		return;
	now = monotime_ms();
	last = proxier_last_sync_ms(m->proxier);
	ok = proxier_is_ready(m->proxier) &&
	    now - last < 2 * m->sync_period_ms;
	metrics_timestamp(stamp, sizeof(stamp));
	evbuffer_add_printf(buf, "{\"lastUpdated\": \"%s\",\"currentTime\": "
	    "\"%s\",\"ready\": %s}\n", stamp, stamp, ok ? "true" : "false");
	metrics_reply(req, ok ? 200 : 503, ok ? "OK" : "Service Unavailable",
	    "application/json", buf);
}

/* Answer /proxyMode. */
static void
metrics_proxymode(struct evhttp_request *req, void *arg)
{
	struct evbuffer	*buf;

	if ((buf = metrics_buffer(req)) == NULL)
		return;
	evbuffer_add_printf(buf, "userspace");
	metrics_reply(req, 200, "OK", "text/plain; charset=utf-8", buf);
}

/* The per-service-port series of /metrics. */
static const struct metrics_series {
	const char	*name;
	const char	*help;
	size_t		 off;		/* in svc_counters or lb_stats */
	int		 gauge;
	int		 lb;		/* off is in struct lb_stats */
} metrics_series[] = {
#define M(n, h, f, g) { n, h, offsetof(struct svc_counters, f), g, 0 }
#define L(n, h, f, g) { n, h, offsetof(struct lb_stats, f), g, 1 }
	M("kuproxy_service_connections_active",
	    "Relayed TCP connections or UDP flows now open.", active, 1),
	M("kuproxy_service_connections_total",
	    "TCP connections accepted or UDP flows created.", accepted, 0),
	M("kuproxy_service_no_endpoints_total",
	    "Connections or datagrams refused for lack of endpoints.",
	    no_endpoints, 0),
	M("kuproxy_service_connect_errors_total",
	    "Failed backend connection attempts.", connect_errors, 0),
	M("kuproxy_service_connections_failed_total",
	    "Connections closed because every backend connect attempt "
	    "failed, or refused while accepts were paused.", failed, 0),
	M("kuproxy_service_bytes_in_total",
	    "Bytes relayed from clients to backends.", bytes_in, 0),
	M("kuproxy_service_bytes_out_total",
	    "Bytes relayed from backends to clients.", bytes_out, 0),
	M("kuproxy_service_datagrams_in_total",
	    "UDP datagrams relayed from clients to backends.", dgrams_in, 0),
	M("kuproxy_service_datagrams_out_total",
	    "UDP datagrams relayed from backends to clients.", dgrams_out, 0),
	M("kuproxy_service_datagrams_dropped_total",
	    "UDP datagrams dropped.", dgrams_dropped, 0),
	L("kuproxy_endpoint_ejections_total",
	    "Endpoints taken out of rotation after a failed connect.",
	    ejections, 0),
	L("kuproxy_endpoint_returns_total",
	    "Ejected endpoints put back into rotation.", returns, 0),
	L("kuproxy_endpoints_ejected",
	    "Endpoints out of rotation now.", ejected, 1),
#undef L
#undef M
};
#define METRICS_NSERIES	(sizeof(metrics_series) / sizeof(metrics_series[0]))

/* The series of every live service port, gathered in one walk. */
struct metrics_walk {
	struct evbuffer	*rows[METRICS_NSERIES];
	int		 oom;
};

/* Append one service port's row to each series. */
static void
metrics_port_rows(const struct proxier_portinfo *pi, void *arg)
{
	struct metrics_walk	*w = arg;
	const char		*c = (const char *)pi->counters, *base;
	struct lb_stats		 st;
	size_t			 j;

	lb_get_stats(pi->lb, &st);
	for (j = 0; j < METRICS_NSERIES; j++) {
		base = metrics_series[j].lb ? (const char *)&st : c;
		if (evbuffer_add_printf(w->rows[j],
		    "%s{service=\"%s\",protocol=\"%s\"} %llu\n",
		    metrics_series[j].name, pi->name,
		    netutil_proto_name(pi->proto), (unsigned long long)
		    *(const uint64_t *)(base + metrics_series[j].off)) == -1)
			w->oom = 1;
	}
}

/* Append the Prometheus text of every series; -1 if out of memory. */
static int
metrics_format(struct proxier *p, struct evbuffer *buf)
{
	struct metrics_walk	w;
	struct proxier_stats	st;
	size_t			j;

	memset(&w, 0, sizeof(w));
	for (j = 0; j < METRICS_NSERIES; j++)
		if ((w.rows[j] = evbuffer_new()) == NULL)
			w.oom = 1;
	if (!w.oom)
		proxier_foreach_port(p, metrics_port_rows, &w);
	for (j = 0; j < METRICS_NSERIES && !w.oom; j++) {
		evbuffer_add_printf(buf, "# HELP %s %s\n# TYPE %s %s\n",
		    metrics_series[j].name, metrics_series[j].help,
		    metrics_series[j].name,
		    metrics_series[j].gauge ? "gauge" : "counter");
		evbuffer_add_buffer(buf, w.rows[j]);
	}
	for (j = 0; j < METRICS_NSERIES; j++)
		if (w.rows[j] != NULL)
			evbuffer_free(w.rows[j]);
	if (w.oom)
		return (-1);
	proxier_get_stats(p, &st);
	evbuffer_add_printf(buf, "# HELP kuproxy_sync_total Completed syncs.\n"
	    "# TYPE kuproxy_sync_total counter\nkuproxy_sync_total %llu\n"
	    "# HELP kuproxy_sync_errors_total Syncs whose rules failed.\n"
	    "# TYPE kuproxy_sync_errors_total counter\n"
	    "kuproxy_sync_errors_total %llu\n"
	    "# HELP kuproxy_service_ports Live service ports.\n"
	    "# TYPE kuproxy_service_ports gauge\nkuproxy_service_ports %zu\n"
	    "# HELP kuproxy_connections_active Relayed TCP connections now "
	    "open, all service ports.\n"
	    "# TYPE kuproxy_connections_active gauge\n"
	    "kuproxy_connections_active %llu\n"
	    "# HELP kuproxy_accept_pauses_total Times accepts were paused "
	    "because file descriptors ran out (EMFILE/ENFILE).\n"
	    "# TYPE kuproxy_accept_pauses_total counter\n"
	    "kuproxy_accept_pauses_total %llu\n",
	    (unsigned long long)st.syncs, (unsigned long long)st.sync_errors,
	    st.ports, (unsigned long long)st.conns,
	    (unsigned long long)st.fd_pauses);
	return (0);
}

/* Append the API source's list and watch counters. */
static void
metrics_format_watch(const struct k8s_watch *w, struct evbuffer *buf)
{
	struct k8s_watch_stats	st;

	k8s_watch_get_stats(w, &st);
	evbuffer_add_printf(buf,
	    "# HELP kuproxy_api_lists_total Complete lists from the API "
	    "server.\n"
	    "# TYPE kuproxy_api_lists_total counter\n"
	    "kuproxy_api_lists_total{resource=\"services\"} %u\n"
	    "kuproxy_api_lists_total{resource=\"endpoints\"} %u\n"
	    "# HELP kuproxy_api_watches_total Watch requests started.\n"
	    "# TYPE kuproxy_api_watches_total counter\n"
	    "kuproxy_api_watches_total %u\n"
	    "# HELP kuproxy_api_events_total Watch events applied.\n"
	    "# TYPE kuproxy_api_events_total counter\n"
	    "kuproxy_api_events_total %u\n"
	    "# HELP kuproxy_api_relists_gone_total Re-lists forced by 410 "
	    "Gone.\n"
	    "# TYPE kuproxy_api_relists_gone_total counter\n"
	    "kuproxy_api_relists_gone_total %u\n"
	    "# HELP kuproxy_api_errors_total Failed API requests and broken "
	    "watch streams.\n"
	    "# TYPE kuproxy_api_errors_total counter\n"
	    "kuproxy_api_errors_total %u\n"
	    "# HELP kuproxy_api_invalid_objects_total Objects skipped as "
	    "invalid.\n"
	    "# TYPE kuproxy_api_invalid_objects_total counter\n"
	    "kuproxy_api_invalid_objects_total %u\n",
	    st.svc_lists, st.eps_lists, st.watches, st.events, st.gone,
	    st.errors, st.bad_objects);
}

/* Answer /metrics. */
static void
metrics_metrics(struct evhttp_request *req, void *arg)
{
	struct metrics	*m = arg;
	struct evbuffer	*buf;

	if ((buf = metrics_buffer(req)) == NULL)
		return;
	if (metrics_format(m->proxier, buf) == -1) {
		evbuffer_free(buf);
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	if (m->watch != NULL)
		metrics_format_watch(m->watch, buf);
	metrics_reply(req, 200, "OK", "text/plain; version=0.0.4", buf);
}

/* Describe one service port as a JSON object in the array arg. */
static void
metrics_port_json(const struct proxier_portinfo *pi, void *arg)
{
	const struct svc_counters	*c = pi->counters;
	struct json_object		*o, *eps, *ejected;
	struct lb_stats			 st;
	char				 buf[NETUTIL_ADDRSTRLEN];
	uint64_t			 now, until;
	size_t				 i;

	o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(pi->name));
	json_object_object_add(o, "protocol",
	    json_object_new_string(netutil_proto_name(pi->proto)));
	json_object_object_add(o, "proxyPort",
	    json_object_new_int(pi->proxy_port));
	json_object_object_add(o, "clusterIP",
	    json_object_new_string(pi->cluster_ip));
	json_object_object_add(o, "port", json_object_new_int(pi->port));
	json_object_object_add(o, "nodePort",
	    json_object_new_int(pi->node_port));
	eps = json_object_new_array();
	ejected = json_object_new_array();
	now = monotime_ms();
	for (i = 0; i < lb_count(pi->lb); i++) {
		netutil_ntop((const struct sockaddr *)
		    &lb_endpoint_at(pi->lb, i)->addr, buf, sizeof(buf));
		json_object_array_add(eps, json_object_new_string(buf));
		if ((until = lb_ejected_until(pi->lb, i)) > now)
			json_object_array_add(ejected,
			    json_object_new_string(buf));
	}
	json_object_object_add(o, "endpoints", eps);
	/* Out of rotation after failed connects (lb.h). */
	json_object_object_add(o, "ejectedEndpoints", ejected);
	json_object_object_add(o, "activeConnections",
	    json_object_new_int64((int64_t)c->active));
	json_object_object_add(o, "accepted",
	    json_object_new_int64((int64_t)c->accepted));
	json_object_object_add(o, "noEndpoints",
	    json_object_new_int64((int64_t)c->no_endpoints));
	json_object_object_add(o, "connectErrors",
	    json_object_new_int64((int64_t)c->connect_errors));
	json_object_object_add(o, "failed",
	    json_object_new_int64((int64_t)c->failed));
	json_object_object_add(o, "pinnedClients",
	    json_object_new_int64((int64_t)lb_pinned(pi->lb)));
	lb_get_stats(pi->lb, &st);
	json_object_object_add(o, "ejections",
	    json_object_new_int64((int64_t)st.ejections));
	json_object_object_add(o, "returns",
	    json_object_new_int64((int64_t)st.returns));
	json_object_array_add(arg, o);
}

/* Answer /debug/services: the live table as JSON. */
static void
metrics_debug_services(struct evhttp_request *req, void *arg)
{
	struct metrics		*m = arg;
	struct evbuffer		*buf;
	struct json_object	*root, *arr;

	if ((buf = metrics_buffer(req)) == NULL)
		return;
	root = json_object_new_object();
	arr = json_object_new_array();
	proxier_foreach_port(m->proxier, metrics_port_json, arr);
	json_object_object_add(root, "services", arr);
	evbuffer_add_printf(buf, "%s\n", json_object_to_json_string_ext(root,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	metrics_reply(req, 200, "OK", "application/json", buf);
}

/* Bind an evhttp server to sa. */
static struct evhttp *
metrics_listen(struct event_base *base, const struct sockaddr *sa,
    socklen_t len, char *err, size_t errlen)
{
	struct evhttp	*http;
	int		 fd;

	if ((fd = netutil_listen(IPPROTO_TCP, sa, len, 0, err, errlen)) == -1)
		return (NULL);
	if ((http = evhttp_new(base)) == NULL) {
		close(fd);
		snprintf(err, errlen, "evhttp_new failed");
		return (NULL);
	}
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_timeout(http, 10);
	if (evhttp_accept_socket(http, fd) == -1) {
		close(fd);
		evhttp_free(http);
		snprintf(err, errlen, "evhttp_accept_socket failed");
		return (NULL);
	}
	return (http);
}

/* Start the servers. */
struct metrics *
metrics_new(struct event_base *base, struct proxier *proxier,
    const struct sockaddr *msa, socklen_t mlen, const struct sockaddr *hsa,
    socklen_t hlen, uint64_t sync_period_ms, char *err, size_t errlen)
{
	struct metrics	*m;
	char		 e[256];

	m = xcalloc(1, sizeof(*m));
	m->proxier = proxier;
	m->sync_period_ms = sync_period_ms;
	if (mlen != 0) {
		m->metrics_http = metrics_listen(base, msa, mlen, e, sizeof(e));
		if (m->metrics_http == NULL) {
			snprintf(err, errlen, "metricsBindAddress: %s", e);
			goto fail;
		}
		evhttp_set_cb(m->metrics_http, "/metrics", metrics_metrics, m);
		evhttp_set_cb(m->metrics_http, "/healthz", metrics_healthz, m);
		evhttp_set_cb(m->metrics_http, "/proxyMode",
		    metrics_proxymode, m);
		evhttp_set_cb(m->metrics_http, "/debug/services",
		    metrics_debug_services, m);
	}
	if (hlen != 0) {
		m->healthz_http = metrics_listen(base, hsa, hlen, e, sizeof(e));
		if (m->healthz_http == NULL) {
			snprintf(err, errlen, "healthzBindAddress: %s", e);
			goto fail;
		}
		evhttp_set_cb(m->healthz_http, "/healthz", metrics_healthz, m);
	}
	return (m);
fail:
	metrics_free(m);
	return (NULL);
}

/* Report the API source's counters too. */
void
metrics_set_watch(struct metrics *m, const struct k8s_watch *w)
{
	if (m != NULL)
		m->watch = w;
}

/* Stop the servers. */
void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	if (m->metrics_http != NULL)
		evhttp_free(m->metrics_http);
	if (m->healthz_http != NULL)
		evhttp_free(m->healthz_http);
	free(m);
}
