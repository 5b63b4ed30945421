/*
 * metrics_text.h: the Prometheus text exposition format (version 0.0.4)
 * of kuproxy's and kube-proxy's metric families, appended to an
 * evbuffer.  The helpers take plain figures, so they are testable
 * without a proxier.  Each returns 0, or -1 if the buffer could not
 * grow (out of memory; the buffer then holds part of the text).
 */
#ifndef METRICS_TEXT_H
#define METRICS_TEXT_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct histogram;
struct k8s_client_count;
struct procstat;

/* Append "# HELP name help" and "# TYPE name type" (help escaped). */
int	metrics_text_head(struct evbuffer *, const char *name,
	    const char *type, const char *help);
/* Append s escaped as a label value (\\, \" and \n) without quotes. */
int	metrics_text_label(struct evbuffer *, const char *s);
/* Append a whole unlabelled counter or gauge family of one sample. */
int	metrics_text_scalar(struct evbuffer *, const char *name,
	    const char *type, const char *help, double v);
/*
 * Append a whole histogram family (HELP, TYPE, the cumulative _bucket
 * rows with le, +Inf, _sum and _count).
 */
int	metrics_text_histogram(struct evbuffer *, const char *name,
	    const char *help, const struct histogram *h);
/* Append the process_* families of client_golang's process collector. */
int	metrics_text_process(struct evbuffer *, const struct procstat *st);
/*
 * Append rest_client_requests_total{code,method,host} for the n counts
 * of the client of host ("host:port"); code 0 is client-go's "<error>".
 * Every request kuproxy makes is a GET.
 */
int	metrics_text_rest(struct evbuffer *, const char *host,
	    const struct k8s_client_count *v, size_t n);
/*
 * Append kubernetes_build_info: the kube-proxy release kuproxy stands
 * in for (1.20) and kuproxy's version in gitVersion.
 */
int	metrics_text_build_info(struct evbuffer *, const char *version);

#endif /* METRICS_TEXT_H */
