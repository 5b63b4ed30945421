/*
 * test_metrics_text.c: the Prometheus text of kuproxy's and kube-proxy's
 * families, byte for byte, and the histograms behind them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "histogram.h"
#include "k8s_client.h"
#include "metrics_text.h"
#include "procstat.h"
#include "tu.h"

/* Return buf's text as a new string and empty buf. */
static char *
mt_take(struct evbuffer *buf)
{
	size_t	 len = evbuffer_get_length(buf);
	char	*s = calloc(1, len + 1);

	evbuffer_remove(buf, s, len);
	return (s);
}

/* kube-proxy's buckets, le bounds inclusive, cumulative rows. */
static void
test_metrics_text_histogram(void)
{
	static const double	 b[] = { 0.5, 1, 2 };
	struct histogram	 h;
	struct evbuffer		*buf = evbuffer_new();
	char			*s;

	CU_ASSERT_EQUAL(histogram_sync_nbounds, 15);
	CU_ASSERT_EQUAL(histogram_sync_bounds[0], 0.001);
	CU_ASSERT_EQUAL(histogram_sync_bounds[14], 16.384);
	CU_ASSERT_EQUAL(histogram_netprog_nbounds, 80);
	CU_ASSERT_EQUAL(histogram_netprog_bounds[2], 1);
	CU_ASSERT_EQUAL(histogram_netprog_bounds[79], 300);
	histogram_init(&h, b, 3);
	histogram_observe(&h, 0.5);
	histogram_observe(&h, 0.75);
	histogram_observe(&h, 3);
	histogram_observe(&h, -1);
	CU_ASSERT_EQUAL(histogram_cumulative(&h, 0), 2);
	CU_ASSERT_EQUAL(histogram_cumulative(&h, 1), 3);
	CU_ASSERT_EQUAL(histogram_cumulative(&h, 2), 3);
	CU_ASSERT_EQUAL(histogram_cumulative(&h, 3), 4);
	CU_ASSERT_EQUAL(metrics_text_histogram(buf, "x_seconds", "X.", &h), 0);
	s = mt_take(buf);
	CU_ASSERT_STRING_EQUAL(s,
	    "# HELP x_seconds X.\n"
	    "# TYPE x_seconds histogram\n"
	    "x_seconds_bucket{le=\"0.5\"} 2\n"
	    "x_seconds_bucket{le=\"1\"} 3\n"
	    "x_seconds_bucket{le=\"2\"} 3\n"
	    "x_seconds_bucket{le=\"+Inf\"} 4\n"
	    "x_seconds_sum 4.25\n"
	    "x_seconds_count 4\n");
	free(s);
	/* kube-proxy's le labels as Go prints them. */
	histogram_init(&h, histogram_sync_bounds, histogram_sync_nbounds);
	CU_ASSERT_EQUAL(metrics_text_histogram(buf, "y", "Y", &h), 0);
	s = mt_take(buf);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "y_bucket{le=\"0.001\"} 0\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "y_bucket{le=\"16.384\"} 0\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "y_sum 0\ny_count 0\n"));
	free(s);
	evbuffer_free(buf);
}

/* Help and label values are escaped as the format asks. */
static void
test_metrics_text_escape(void)
{
	struct evbuffer	*buf = evbuffer_new();
	char		*s;

	CU_ASSERT_EQUAL(metrics_text_head(buf, "a", "counter",
	    "back\\slash \"q\"\nnl"), 0);
	CU_ASSERT_EQUAL(metrics_text_label(buf, "x\\y\"z\nw"), 0);
	s = mt_take(buf);
	CU_ASSERT_STRING_EQUAL(s, "# HELP a back\\\\slash \"q\"\\nnl\n"
	    "# TYPE a counter\nx\\\\y\\\"z\\nw");
	free(s);
	evbuffer_free(buf);
}

/* rest_client_requests_total: one row per code, "<error>" for none. */
static void
test_metrics_text_rest(void)
{
	const struct k8s_client_count	 v[] = { { 200, 12 }, { 0, 3 },
					    { 500, 1 } };
	struct evbuffer			*buf = evbuffer_new();
	char				*s;

	CU_ASSERT_EQUAL(metrics_text_rest(buf, "10.0.0.1:6443", v, 3), 0);
	s = mt_take(buf);
	CU_ASSERT_STRING_EQUAL(s,
	    "# HELP rest_client_requests_total [ALPHA] Number of HTTP "
	    "requests, partitioned by status code, method, and host.\n"
	    "# TYPE rest_client_requests_total counter\n"
	    "rest_client_requests_total{code=\"200\",host=\"10.0.0.1:6443\","
	    "method=\"GET\"} 12\n"
	    "rest_client_requests_total{code=\"<error>\",host=\"10.0.0.1:6443\","
	    "method=\"GET\"} 3\n"
	    "rest_client_requests_total{code=\"500\",host=\"10.0.0.1:6443\","
	    "method=\"GET\"} 1\n");
	free(s);
	evbuffer_free(buf);
}

/* The process collector's families and kubernetes_build_info. */
static void
test_metrics_text_process(void)
{
	struct procstat	 st = { 1.5, 4096, 8192, 7, 1024, 1700000000.25 };
	struct evbuffer	*buf = evbuffer_new();
	char		*s;

	CU_ASSERT_EQUAL(metrics_text_process(buf, &st), 0);
	CU_ASSERT_EQUAL(metrics_text_build_info(buf, "1.2\"3"), 0);
	s = mt_take(buf);
	CU_ASSERT_PTR_NOT_NULL(strstr(s,
	    "# TYPE process_cpu_seconds_total counter\n"
	    "process_cpu_seconds_total 1.5\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\nprocess_max_fds 1024\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\nprocess_open_fds 7\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s,
	    "\nprocess_resident_memory_bytes 4096\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s,
	    "\nprocess_virtual_memory_bytes 8192\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s,
	    "\nprocess_start_time_seconds 1700000000.25\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "# TYPE kubernetes_build_info gauge\n"
	    "kubernetes_build_info{buildDate=\"\",compiler=\"cc\","
	    "gitCommit=\"\",gitTreeState=\"\","
	    "gitVersion=\"v1.20.0-kuproxy-1.2\\\"3\",goVersion=\"\","
	    "major=\"1\",minor=\"20\",platform=\"linux/"));
	free(s);
	evbuffer_free(buf);
}

/* /proc/PID/stat, a comm with spaces and parentheses included. */
static void
test_metrics_text_procstat(void)
{
	const char	*line = "4242 (ku (proxy) x) S 1 4242 4242 0 -1 "
			    "4194560 1000 0 0 0 250 150 0 0 20 0 1 0 "
			    "5000 123456789 300 18446744073709551615 1 1 "
			    "0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
	struct procstat	 st;

	memset(&st, 0, sizeof(st));
	CU_ASSERT_EQUAL(procstat_parse_stat(line, 100, 4096, 1700000000,
	    &st), 0);
	CU_ASSERT_EQUAL(st.cpu_seconds, 4.0);
	CU_ASSERT_EQUAL(st.vsize_bytes, 123456789);
	CU_ASSERT_EQUAL(st.rss_bytes, 300 * 4096);
	CU_ASSERT_EQUAL(st.start_time, 1700000050.0);
	CU_ASSERT_EQUAL(procstat_parse_stat("4242 (x) S 1 2", 100, 4096, 0,
	    &st), -1);
	CU_ASSERT_EQUAL(procstat_parse_stat("no paren", 100, 4096, 0, &st),
	    -1);
	/* This process: plausible figures. */
	CU_ASSERT_EQUAL(procstat_read(&st), 0);
	CU_ASSERT(st.rss_bytes > 0);
	CU_ASSERT(st.open_fds >= 3);
	CU_ASSERT(st.max_fds >= st.open_fds);
	CU_ASSERT(st.start_time > 1e9);
}

static const struct tu_case cases[] = {
	{ "histogram buckets and text", test_metrics_text_histogram },
	{ "escaping", test_metrics_text_escape },
	{ "rest_client_requests_total", test_metrics_text_rest },
	{ "process families and build info", test_metrics_text_process },
	{ "proc stat parsing", test_metrics_text_procstat },
	{ NULL, NULL }
};

TU_MAIN("metrics_text", cases)
