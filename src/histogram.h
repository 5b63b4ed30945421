/*
 * histogram.h: a Prometheus histogram with fixed bucket bounds (upper
 * bounds in seconds, ascending), as kube-proxy's metrics declare them.
 */
#ifndef HISTOGRAM_H
#define HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#define HISTOGRAM_MAX	80	/* buckets, +Inf not counted */

struct histogram {
	const double	*bounds;		/* borrowed, nbounds long */
	size_t		 nbounds;
	uint64_t	 counts[HISTOGRAM_MAX];	/* per bucket, not cumulative */
	uint64_t	 count;
	double		 sum;
};

/*
 * kube-proxy 1.20's buckets: sync_proxy_rules_duration_seconds
 * (ExponentialBuckets(0.001, 2, 15)) and
 * network_programming_duration_seconds (0.25 s to 5 min).
 */
extern const double	histogram_sync_bounds[];
extern const size_t	histogram_sync_nbounds;
extern const double	histogram_netprog_bounds[];
extern const size_t	histogram_netprog_nbounds;

/*
 * Set h up empty with the n bounds (borrowed, ascending; n is capped at
 * HISTOGRAM_MAX).
 */
void		histogram_init(struct histogram *h, const double *bounds,
		    size_t n);
/* Count one observation of v seconds (negative counts as 0). */
void		histogram_observe(struct histogram *h, double v);
/*
 * Return the cumulative count of observations <= bounds[i] (i <
 * nbounds), or the total count for i == nbounds (the +Inf bucket).
 */
uint64_t	histogram_cumulative(const struct histogram *h, size_t i);

#endif /* HISTOGRAM_H */
