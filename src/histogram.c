/*
 * histogram.c: fixed-bucket histograms for /metrics.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "histogram.h"

/* ExponentialBuckets(0.001, 2, 15): 1 ms to 16.384 s. */
const double histogram_sync_bounds[] = {
	0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256,
	0.512, 1.024, 2.048, 4.096, 8.192, 16.384,
};
const size_t histogram_sync_nbounds =
    sizeof(histogram_sync_bounds) / sizeof(histogram_sync_bounds[0]);

/* 0.25 s, 0.5 s, 1..59 s by 1, 60..115 s by 5, 120..300 s by 30. */
const double histogram_netprog_bounds[] = {
	0.25, 0.5,
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
	20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36,
	37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53,
	54, 55, 56, 57, 58, 59,
	60, 65, 70, 75, 80, 85, 90, 95, 100, 105, 110, 115,
	120, 150, 180, 210, 240, 270, 300,
};
const size_t histogram_netprog_nbounds =
    sizeof(histogram_netprog_bounds) / sizeof(histogram_netprog_bounds[0]);

/* Start empty. */
void
histogram_init(struct histogram *h, const double *bounds, size_t n)
{
	memset(h, 0, sizeof(*h));
	h->bounds = bounds;
	h->nbounds = n < HISTOGRAM_MAX ? n : HISTOGRAM_MAX;
}

/* Count v in the first bucket whose bound is >= v. */
void
histogram_observe(struct histogram *h, double v)
{
	size_t	i;

	if (v < 0)
		v = 0;
	for (i = 0; i < h->nbounds; i++)
		if (v <= h->bounds[i]) {
			h->counts[i]++;
			break;
		}
	h->count++;
	h->sum += v;
}

/* Sum the buckets up to i. */
uint64_t
histogram_cumulative(const struct histogram *h, size_t i)
{
	uint64_t	n = 0;
	size_t		j;

	if (i >= h->nbounds)
		return (h->count);
	for (j = 0; j <= i; j++)
		n += h->counts[j];
	return (n);
}
