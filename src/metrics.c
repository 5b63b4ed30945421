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

#include "config.h"
#include "configz.h"
#include "histogram.h"
#include "k8s_client.h"
#include "k8s_watch.h"
#include "lb.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "metrics_text.h"
#include "monotime.h"
#include "netutil.h"
#include "procstat.h"
#include "proxier.h"
#include "relay.h"
#include "xmalloc.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"unknown"
#endif

/* kube-proxy retries a server that cannot listen every 5 s. */
#define METRICS_RETRY_S	5

struct metrics;

/* One HTTP server: bound, or retrying its address every 5 s. */
struct metrics_srv {
	struct metrics		*m;
	const char		*what;		/* "metricsBindAddress" */
	char			*addr;		/* its value, for logs */
	struct sockaddr_storage	 ss;
	socklen_t		 len;		/* 0: disabled */
	struct evhttp		*http;		/* NULL: not bound yet */
	struct event		*retry;
	int			 failing;	/* the failure was logged */
	void			(*routes)(struct metrics *, struct evhttp *);
};

struct metrics {
	struct event_base	*base;
	struct proxier		*proxier;
	const struct kp_config	*cfg;
	const struct kp_config	*pending; /* NULL: nothing pending */
	const struct k8s_watch	*watch;	/* NULL: no API source */
	struct metrics_srv	 srv[2];	/* metrics, healthz */
	uint64_t		 start_ms;	/* monotonic, for Go's m= */
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

/*
 * Format a time as Go's time.Time.String() does, which kube-proxy's
 * /healthz prints with %q: "2006-01-02 15:04:05.999999999 +0000 UTC
 * m=+1.000000001" (the fraction without trailing zeros; m= the
 * monotonic reading, seconds since start), in UTC; Go's zero time when
 * sec is 0.
 */
static void
metrics_gotime(char *buf, size_t len, time_t sec, long nsec, int64_t mono_ns)
{
	struct tm	tm;
	char		frac[32];
	size_t		n;
	int		off;

	if (sec == 0) {
		snprintf(buf, len, "0001-01-01 00:00:00 +0000 UTC");
		return;
	}
	gmtime_r(&sec, &tm);
	frac[0] = '\0';
	if (nsec > 0) {
		snprintf(frac, sizeof(frac), ".%09ld", nsec);
		for (n = strlen(frac); frac[n - 1] == '0'; n--)
			frac[n - 1] = '\0';
	}
	off = (int)strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(buf + off, len - off, "%s +0000 UTC m=%c%lld.%09lld", frac,
	    mono_ns < 0 ? '-' : '+', (long long)(llabs(mono_ns) / 1000000000),
	    (long long)(llabs(mono_ns) % 1000000000));
}

/*
 * Write kube-proxy's /healthz body, {"lastUpdated": "...","currentTime":
 * "..."}, with lastUpdated the time every family's rules last caught up
 * (Go's zero time before that).  Returns 1 if healthy, else 0.
 */
static int
metrics_health_body(struct metrics *m, struct evbuffer *buf)
{
	struct timespec	now;
	uint64_t	mono = monotime_ms(), upd, upd_mono;
	char		last[96], cur[96];
	int		ok;

	ok = proxier_get_health(m->proxier, mono, &upd, &upd_mono);
	clock_gettime(CLOCK_REALTIME, &now);
	metrics_gotime(cur, sizeof(cur), now.tv_sec, now.tv_nsec,
	    ((int64_t)mono - (int64_t)m->start_ms) * 1000000);
	metrics_gotime(last, sizeof(last), (time_t)(upd / 1000),
	    (long)(upd % 1000) * 1000000,
	    ((int64_t)upd_mono - (int64_t)m->start_ms) * 1000000);
	evbuffer_add_printf(buf, "{\"lastUpdated\": \"%s\",\"currentTime\": "
	    "\"%s\"}", last, cur);
	return (ok);
}

/* Answer /healthz on healthzBindAddress: 200 if healthy, else 503. */
static void
metrics_healthz(struct evhttp_request *req, void *arg)
{
	struct evbuffer	*buf;
	int		 ok;

	if ((buf = metrics_buffer(req)) == NULL)
		return;
	ok = metrics_health_body(arg, buf);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "X-Content-Type-Options", "nosniff");
	metrics_reply(req, ok ? 200 : 503, ok ? "OK" : "Service Unavailable",
	    "application/json", buf);
}

/* Answer /livez: this runs on the event loop, so the loop turns. */
static void
metrics_livez(struct evhttp_request *req, void *arg)
{
	struct evbuffer	*buf;

	if ((buf = metrics_buffer(req)) == NULL)
		return;
	(void)metrics_health_body(arg, buf);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "X-Content-Type-Options", "nosniff");
	metrics_reply(req, 200, "OK", "application/json", buf);
}

/* Answer /healthz on the metrics port as kube-proxy's ping check. */
static void
metrics_ping(struct evhttp_request *req, void *arg)
{
	struct evbuffer	*buf;

	if ((buf = metrics_buffer(req)) == NULL)
		return;
	evbuffer_add_printf(buf, "ok");
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "X-Content-Type-Options", "nosniff");
	metrics_reply(req, 200, "OK", "text/plain; charset=utf-8", buf);
}

/* Answer /configz: the effective configuration (configz.h). */
static void
metrics_configz(struct evhttp_request *req, void *arg)
{
	struct metrics		*m = arg;
	struct evbuffer		*buf;
	struct json_object	*o;

	if ((buf = metrics_buffer(req)) == NULL)
		return;
	o = configz_json(m->cfg);
	if (m->pending != NULL)
		configz_add_pending(o, m->cfg, m->pending);
	evbuffer_add_printf(buf, "%s", json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "X-Content-Type-Options", "nosniff");
	metrics_reply(req, 200, "OK", "application/json", buf);
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

/* Append the reconciler's and the loop's totals. */
static int
metrics_format_totals(const struct proxier_stats *st, struct evbuffer *buf)
{
	if (metrics_text_scalar(buf, "kuproxy_sync_total", "counter",
	    "Completed syncs.", (double)st->syncs) == -1 ||
	    metrics_text_scalar(buf, "kuproxy_sync_errors_total", "counter",
	    "Syncs whose rules failed.", (double)st->sync_errors) == -1 ||
	    metrics_text_scalar(buf, "kuproxy_service_ports", "gauge",
	    "Live service ports.", (double)st->ports) == -1 ||
	    metrics_text_scalar(buf, "kuproxy_connections_active", "gauge",
	    "Relayed TCP connections now open, all service ports.",
	    (double)st->conns) == -1 ||
	    metrics_text_scalar(buf, "kuproxy_accept_pauses_total", "counter",
	    "Times accepts were paused because file descriptors ran out "
	    "(EMFILE/ENFILE).", (double)st->fd_pauses) == -1 ||
	    metrics_text_scalar(buf, "kuproxy_workers", "gauge",
	    "Relay loops (--workers), one thread each when more than one.",
	    (double)st->workers) == -1)
		return (-1);
	return (0);
}

/*
 * Append kube-proxy's own families where kuproxy's meaning is theirs:
 * the sync histogram (a sync, to its rules applied or failed, per
 * address family), the last time rules were applied, the last time a
 * sync was wanted, the failed rule applications (a restore, or the
 * jump reads before it), and the network programming histogram (see
 * metrics.h).
 */
static int
metrics_format_kubeproxy(const struct metrics *m,
    const struct proxier_stats *st, struct evbuffer *buf)
{
	if (metrics_text_histogram(buf,
	    "kubeproxy_sync_proxy_rules_duration_seconds",
	    "[ALPHA] SyncProxyRules latency in seconds",
	    st->sync_duration) == -1 ||
	    metrics_text_scalar(buf,
	    "kubeproxy_sync_proxy_rules_last_timestamp_seconds", "gauge",
	    "[ALPHA] The last time proxy rules were successfully synced",
	    (double)st->applied_wall_ms / 1000.0) == -1 ||
	    metrics_text_scalar(buf,
	    "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds",
	    "gauge", "[ALPHA] The last time a sync of proxy rules was queued",
	    (double)st->queued_wall_ms / 1000.0) == -1 ||
	    metrics_text_scalar(buf,
	    "kubeproxy_sync_proxy_rules_iptables_restore_failures_total",
	    "counter", "[ALPHA] Cumulative proxy iptables restore failures",
	    (double)st->restore_errors) == -1 ||
	    metrics_text_histogram(buf,
	    "kubeproxy_network_programming_duration_seconds",
	    "[ALPHA] In Cluster Network Programming Latency in seconds",
	    st->netprog_duration) == -1)
		return (-1);
	return (0);
}

/* Append the Prometheus text of every series; -1 if out of memory. */
static int
metrics_format(const struct metrics *m, struct evbuffer *buf)
{
	struct metrics_walk	w;
	struct proxier_stats	st;
	struct procstat		ps;
	size_t			j;

	memset(&w, 0, sizeof(w));
	for (j = 0; j < METRICS_NSERIES; j++)
		if ((w.rows[j] = evbuffer_new()) == NULL)
			w.oom = 1;
	if (!w.oom)
		proxier_foreach_port(m->proxier, metrics_port_rows, &w);
	for (j = 0; j < METRICS_NSERIES && !w.oom; j++) {
		if (metrics_text_head(buf, metrics_series[j].name,
		    metrics_series[j].gauge ? "gauge" : "counter",
		    metrics_series[j].help) == -1 ||
		    evbuffer_add_buffer(buf, w.rows[j]) == -1)
			w.oom = 1;
	}
	for (j = 0; j < METRICS_NSERIES; j++)
		if (w.rows[j] != NULL)
			evbuffer_free(w.rows[j]);
	if (w.oom)
		return (-1);
	proxier_get_stats(m->proxier, &st);
	(void)procstat_read(&ps);
	if (metrics_format_totals(&st, buf) == -1 ||
	    metrics_format_kubeproxy(m, &st, buf) == -1 ||
	    metrics_text_process(buf, &ps) == -1 ||
	    metrics_text_build_info(buf, PACKAGE_VERSION) == -1)
		return (-1);
	return (0);
}

/* Append the API source's list and watch counters and its requests. */
static int
metrics_format_watch(const struct k8s_watch *w, struct evbuffer *buf)
{
	const struct k8s_client		*c = k8s_watch_client(w);
	const struct k8s_client_count	*v;
	struct k8s_watch_stats		 st;
	const char			*host;
	size_t				 n;

	k8s_watch_get_stats(w, &st);
	if (evbuffer_add_printf(buf,
	    "# HELP kuproxy_api_lists_total Complete lists from the API "
	    "server.\n"
	    "# TYPE kuproxy_api_lists_total counter\n"
	    "kuproxy_api_lists_total{resource=\"services\"} %u\n"
	    "kuproxy_api_lists_total{resource=\"endpoints\"} %u\n",
	    st.svc_lists, st.eps_lists) == -1 ||
	    metrics_text_scalar(buf, "kuproxy_api_watches_total", "counter",
	    "Watch requests started.", st.watches) == -1 ||
	    metrics_text_scalar(buf, "kuproxy_api_events_total", "counter",
	    "Watch events applied.", st.events) == -1 ||
	    metrics_text_scalar(buf, "kuproxy_api_bookmarks_total", "counter",
	    "Watch BOOKMARK events.", st.bookmarks) == -1 ||
	    metrics_text_scalar(buf, "kuproxy_api_relists_gone_total",
	    "counter", "Re-lists forced by 410 Gone.", st.gone) == -1 ||
	    metrics_text_scalar(buf, "kuproxy_api_errors_total", "counter",
	    "Failed API requests and broken watch streams.",
	    st.errors) == -1 ||
	    metrics_text_scalar(buf, "kuproxy_api_invalid_objects_total",
	    "counter", "Objects skipped as invalid.", st.bad_objects) == -1)
		return (-1);
	/* client-go's host label: the URL's host[:port], no scheme. */
	host = k8s_client_server(c);
	if (strstr(host, "://") != NULL)
		host = strstr(host, "://") + 3;
	n = k8s_client_counts(c, &v);
	return (metrics_text_rest(buf, host, v, n));
}

/* Answer /metrics. */
static void
metrics_metrics(struct evhttp_request *req, void *arg)
{
	struct metrics	*m = arg;
	struct evbuffer	*buf;

	if ((buf = metrics_buffer(req)) == NULL)
		return;
	if (metrics_format(m, buf) == -1 || (m->watch != NULL &&
	    metrics_format_watch(m->watch, buf) == -1)) {
		evbuffer_free(buf);
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	metrics_reply(req, 200, "OK", "text/plain; version=0.0.4", buf);
}

/* Describe one service port as a JSON object in the array arg. */
static void
metrics_port_json(const struct proxier_portinfo *pi, void *arg)
{
	const struct svc_counters	*c = pi->counters;
	struct svc_counters		 ic;
	struct json_object		*o, *eps, *ejected, *per;
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
	/* How the kernel spread the clients over the workers' listeners. */
	per = json_object_new_array();
	for (i = 0; pi->relay != NULL && i < relay_instances(pi->relay);
	    i++) {
		relay_instance_counters(pi->relay, i, &ic);
		json_object_array_add(per,
		    json_object_new_int64((int64_t)ic.accepted));
	}
	json_object_object_add(o, "acceptedPerWorker", per);
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

/* The routes of the metrics server, as kube-proxy's metrics mux. */
static void
metrics_routes_metrics(struct metrics *m, struct evhttp *http)
{
	evhttp_set_cb(http, "/metrics", metrics_metrics, m);
	evhttp_set_cb(http, "/healthz", metrics_ping, m);
	evhttp_set_cb(http, "/healthz/ping", metrics_ping, m);
	evhttp_set_cb(http, "/proxyMode", metrics_proxymode, m);
	evhttp_set_cb(http, "/configz", metrics_configz, m);
	evhttp_set_cb(http, "/debug/services", metrics_debug_services, m);
}

/* The routes of the healthz server. */
static void
metrics_routes_healthz(struct metrics *m, struct evhttp *http)
{
	evhttp_set_cb(http, "/healthz", metrics_healthz, m);
	evhttp_set_cb(http, "/livez", metrics_livez, m);
}

/*
 * Try to bind a server; on failure log once (not per retry) and try
 * again in 5 s, as kube-proxy's wait.Until loop does.
 */
static void
metrics_srv_bind(evutil_socket_t fd, short ev, void *arg)
{
	struct metrics_srv	*s = arg;
	struct timeval		 tv = { METRICS_RETRY_S, 0 };
	const char		*addr = s->addr;
	char			 e[256];

	s->http = metrics_listen(s->m->base, (struct sockaddr *)&s->ss,
	    s->len, e, sizeof(e));
	if (s->http == NULL) {
		/* kube-proxy's bindAddressHardFail: exit rather than retry. */
		if (s->m->cfg->bind_address_hard_fail)
			fatalx("%s %s: %s (bindAddressHardFail)", s->what,
			    addr, e);
		if (!s->failing)
			log_warnx("%s %s: %s; retrying every %d s", s->what,
			    addr, e, METRICS_RETRY_S);
		s->failing = 1;
		evtimer_add(s->retry, &tv);
		return;
	}
	s->routes(s->m, s->http);
	if (s->failing)
		log_info("%s %s: serving now", s->what, addr);
	else
		log_debug("%s: %s %s: serving", __func__, s->what, addr);
	s->failing = 0;
}

/* Set up one server and try to bind it now. */
static void
metrics_srv_init(struct metrics *m, struct metrics_srv *s, const char *what,
    const char *addr, const struct sockaddr_storage *ss, socklen_t len,
    void (*routes)(struct metrics *, struct evhttp *))
{
	s->m = m;
	s->what = what;
	s->addr = xstrdup(addr);
	s->routes = routes;
	s->len = len;
	if (len == 0)
		return;
	memcpy(&s->ss, ss, sizeof(s->ss));
	if ((s->retry = evtimer_new(m->base, metrics_srv_bind, s)) == NULL)
		fatalx("metrics: evtimer_new failed");
	metrics_srv_bind(-1, 0, s);
}

/* Start the servers. */
struct metrics *
metrics_new(struct event_base *base, struct proxier *proxier,
    const struct kp_config *cfg)
{
	struct metrics	*m;

	m = xcalloc(1, sizeof(*m));
	m->base = base;
	m->proxier = proxier;
	m->cfg = cfg;
	m->start_ms = monotime_ms();
	metrics_srv_init(m, &m->srv[0], "metricsBindAddress",
	    cfg->metrics_bind_address, &cfg->metrics_ss, cfg->metrics_len,
	    metrics_routes_metrics);
	metrics_srv_init(m, &m->srv[1], "healthzBindAddress",
	    cfg->healthz_bind_address, &cfg->healthz_ss, cfg->healthz_len,
	    metrics_routes_healthz);
	return (m);
}

/* Return 1 if ss is on the same port as the address s serves. */
static int
metrics_same_port(const struct metrics_srv *s,
    const struct sockaddr_storage *ss)
{
	return (netutil_get_port((const struct sockaddr *)&s->ss) ==
	    netutil_get_port((const struct sockaddr *)ss));
}

/*
 * Bind ss for server s, the old listener still open.  The one case
 * that cannot bind first is the same port on an overlapping address
 * (127.0.0.1:P to 0.0.0.0:P: EADDRINUSE, SO_REUSEADDR does not cover
 * two listeners): then close the old listener and bind at once (a
 * probe in those microseconds is refused, and retried by any prober),
 * and if that fails too take the old address back.  Returns the new
 * server, or NULL with s unchanged (or, in the worst case, retrying its
 * old address) and the reason in err.
 */
static struct evhttp *
metrics_rebind_listen(struct metrics_srv *s, const struct sockaddr_storage *ss,
    socklen_t len, char *err, size_t errlen)
{
	struct evhttp	*http;
	char		 e[256];
	struct timeval	 tv = { METRICS_RETRY_S, 0 };

	http = metrics_listen(s->m->base, (const struct sockaddr *)ss, len,
	    err, errlen);
	if (http != NULL || errno != EADDRINUSE || s->http == NULL ||
	    !metrics_same_port(s, ss))
		return (http);
	evhttp_free(s->http);
	s->http = NULL;
	http = metrics_listen(s->m->base, (const struct sockaddr *)ss, len,
	    err, errlen);
	if (http != NULL)
		return (http);
	s->http = metrics_listen(s->m->base, (struct sockaddr *)&s->ss,
	    s->len, e, sizeof(e));
	if (s->http != NULL)
		s->routes(s->m, s->http);
	else {
		log_warnx("%s %s: %s; retrying every %d s", s->what, s->addr,
		    e, METRICS_RETRY_S);
		s->failing = 1;
		evtimer_add(s->retry, &tv);
	}
	return (NULL);
}

/* Move a server to a new address: bind the new one, then close the old. */
int
metrics_rebind(struct metrics *m, int which, const char *addr,
    const struct sockaddr_storage *ss, socklen_t len)
{
	struct metrics_srv	*s = &m->srv[which];
	struct evhttp		*http = NULL;
	struct timeval		 tv = { METRICS_RETRY_S, 0 };
	char			 e[256];

	if (s->retry == NULL &&
	    (s->retry = evtimer_new(m->base, metrics_srv_bind, s)) == NULL) {
		log_warnx("%s: evtimer_new failed; still %s", s->what,
		    s->addr);
		return (-1);
	}
	if (len != 0 && (http = metrics_rebind_listen(s, ss, len, e,
	    sizeof(e))) == NULL && s->http != NULL) {
		log_warnx("%s: cannot move to %s: %s; still serving %s",
		    s->what, addr, e, s->addr);
		return (-1);
	}
	/* Bound (or the old one was not serving either): switch. */
	if (s->http != NULL)
		evhttp_free(s->http);
	evtimer_del(s->retry);
	s->http = http;
	memcpy(&s->ss, ss, sizeof(s->ss));
	s->len = len;
	free(s->addr);
	s->addr = xstrdup(addr);
	if (len == 0)
		log_info("%s: server stopped (disabled)", s->what);
	else if (http != NULL) {
		s->routes(m, http);
		s->failing = 0;
		log_info("%s %s: serving now", s->what, addr);
	} else {
		log_warnx("%s %s: %s; retrying every %d s", s->what, addr, e,
		    METRICS_RETRY_S);
		s->failing = 1;
		evtimer_add(s->retry, &tv);
	}
	return (0);
}

/* Show a configuration waiting for a restart in /configz. */
void
metrics_set_pending(struct metrics *m, const struct kp_config *pending)
{
	if (m != NULL)
		m->pending = pending;
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
	int	i;

	if (m == NULL)
		return;
	for (i = 0; i < 2; i++) {
		if (m->srv[i].retry != NULL)
			event_free(m->srv[i].retry);
		if (m->srv[i].http != NULL)
			evhttp_free(m->srv[i].http);
		free(m->srv[i].addr);
	}
	free(m);
}
