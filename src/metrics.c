/*
 * metrics.c: /metrics, /healthz, /proxyMode and /debug/services.
 */
#include <sys/socket.h>

#include <errno.h>
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

#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "netutil.h"
#include "proxier.h"
#include "xmalloc.h"

struct metrics {
	struct proxier	*proxier;
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
	struct timespec	 ts;
	uint64_t	 now, last;
	char		 stamp[64];
	int		 ok;

	if ((buf = metrics_buffer(req)) == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
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

/* Answer /metrics. */
static void
metrics_metrics(struct evhttp_request *req, void *arg)
{
	struct metrics	*m = arg;
	struct evbuffer	*buf;

	if ((buf = metrics_buffer(req)) == NULL)
		return;
	proxier_dump_metrics(m->proxier, buf);
	metrics_reply(req, 200, "OK", "text/plain; version=0.0.4", buf);
}

/* Answer /debug/services. */
static void
metrics_debug_services(struct evhttp_request *req, void *arg)
{
	struct metrics	*m = arg;
	struct evbuffer	*buf;

	if ((buf = metrics_buffer(req)) == NULL)
		return;
	proxier_dump_json(m->proxier, buf);
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
