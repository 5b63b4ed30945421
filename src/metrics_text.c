/*
 * metrics_text.c: Prometheus text format helpers (see metrics_text.h).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "histogram.h"
#include "k8s_client.h"
#include "metrics_text.h"
#include "procstat.h"

#if defined(__x86_64__)
#define METRICS_ARCH	"amd64"
#elif defined(__aarch64__)
#define METRICS_ARCH	"arm64"
#elif defined(__i386__)
#define METRICS_ARCH	"386"
#elif defined(__arm__)
#define METRICS_ARCH	"arm"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define METRICS_ARCH	"ppc64le"
#elif defined(__s390x__)
#define METRICS_ARCH	"s390x"
#else
#define METRICS_ARCH	"unknown"
#endif

/* Append s with the characters in special backslash-escaped. */
static int
metrics_text_escape(struct evbuffer *buf, const char *s, int quotes)
{
	const char	*p;
	size_t		 n;

	while (*s != '\0') {
		n = strcspn(s, quotes ? "\\\"\n" : "\\\n");
		if (n > 0 && evbuffer_add(buf, s, n) == -1)
			return (-1);
		p = s + n;
		if (*p == '\0')
			break;
		if (evbuffer_add_printf(buf, "\\%c", *p == '\n' ? 'n' : *p) ==
		    -1)
			return (-1);
		s = p + 1;
	}
	return (0);
}

/* Append HELP and TYPE. */
int
metrics_text_head(struct evbuffer *buf, const char *name, const char *type,
    const char *help)
{
	if (evbuffer_add_printf(buf, "# HELP %s ", name) == -1 ||
	    metrics_text_escape(buf, help, 0) == -1 ||
	    evbuffer_add_printf(buf, "\n# TYPE %s %s\n", name, type) == -1)
		return (-1);
	return (0);
}

/* Append a label value. */
int
metrics_text_label(struct evbuffer *buf, const char *s)
{
	return (metrics_text_escape(buf, s, 1));
}

/* Append a one-sample family. */
int
metrics_text_scalar(struct evbuffer *buf, const char *name,
    const char *type, const char *help, double v)
{
	if (metrics_text_head(buf, name, type, help) == -1 ||
	    evbuffer_add_printf(buf, "%s %.17g\n", name, v) == -1)
		return (-1);
	return (0);
}

/* Append a histogram family. */
int
metrics_text_histogram(struct evbuffer *buf, const char *name,
    const char *help, const struct histogram *h)
{
	size_t	i;

	if (metrics_text_head(buf, name, "histogram", help) == -1)
		return (-1);
	for (i = 0; i < h->nbounds; i++)
		if (evbuffer_add_printf(buf, "%s_bucket{le=\"%.15g\"} %llu\n",
		    name, h->bounds[i],
		    (unsigned long long)histogram_cumulative(h, i)) == -1)
			return (-1);
	if (evbuffer_add_printf(buf, "%s_bucket{le=\"+Inf\"} %llu\n"
	    "%s_sum %.17g\n%s_count %llu\n", name,
	    (unsigned long long)h->count, name, h->sum, name,
	    (unsigned long long)h->count) == -1)
		return (-1);
	return (0);
}

/* Append client_golang's process collector families. */
int
metrics_text_process(struct evbuffer *buf, const struct procstat *st)
{
	if (metrics_text_scalar(buf, "process_cpu_seconds_total", "counter",
	    "Total user and system CPU time spent in seconds.",
	    st->cpu_seconds) == -1 ||
	    metrics_text_scalar(buf, "process_max_fds", "gauge",
	    "Maximum number of open file descriptors.",
	    (double)st->max_fds) == -1 ||
	    metrics_text_scalar(buf, "process_open_fds", "gauge",
	    "Number of open file descriptors.", (double)st->open_fds) == -1 ||
	    metrics_text_scalar(buf, "process_resident_memory_bytes", "gauge",
	    "Resident memory size in bytes.", (double)st->rss_bytes) == -1 ||
	    metrics_text_scalar(buf, "process_start_time_seconds", "gauge",
	    "Start time of the process since unix epoch in seconds.",
	    st->start_time) == -1 ||
	    metrics_text_scalar(buf, "process_virtual_memory_bytes", "gauge",
	    "Virtual memory size in bytes.", (double)st->vsize_bytes) == -1)
		return (-1);
	return (0);
}

/* Append rest_client_requests_total. */
int
metrics_text_rest(struct evbuffer *buf, const char *host,
    const struct k8s_client_count *v, size_t n)
{
	char	code[24];
	size_t	i;

	if (metrics_text_head(buf, "rest_client_requests_total", "counter",
	    "[ALPHA] Number of HTTP requests, partitioned by status code, "
	    "method, and host.") == -1)
		return (-1);
	for (i = 0; i < n; i++) {
		if (v[i].code == 0)
			snprintf(code, sizeof(code), "<error>");
		else
			snprintf(code, sizeof(code), "%ld", v[i].code);
		if (evbuffer_add_printf(buf, "rest_client_requests_total{"
		    "code=\"%s\",host=\"", code) == -1 ||
		    metrics_text_label(buf, host) == -1 ||
		    evbuffer_add_printf(buf, "\",method=\"GET\"} %llu\n",
		    (unsigned long long)v[i].n) == -1)
			return (-1);
	}
	return (0);
}

/* Append kubernetes_build_info. */
int
metrics_text_build_info(struct evbuffer *buf, const char *version)
{
	if (metrics_text_head(buf, "kubernetes_build_info", "gauge",
	    "[ALPHA] A metric with a constant '1' value labeled by major, "
	    "minor, git version, git commit, git tree state, build date, Go "
	    "version, and compiler from which Kubernetes was built, and "
	    "platform on which it is running.") == -1 ||
	    evbuffer_add_printf(buf, "kubernetes_build_info{buildDate=\"\","
	    "compiler=\"cc\",gitCommit=\"\",gitTreeState=\"\","
	    "gitVersion=\"v1.20.0-kuproxy-") == -1 ||
	    metrics_text_label(buf, version) == -1 ||
	    evbuffer_add_printf(buf, "\",goVersion=\"\",major=\"1\","
	    "minor=\"20\",platform=\"linux/" METRICS_ARCH "\"} 1\n") == -1)
		return (-1);
	return (0);
}
