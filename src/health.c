/*
 * health.c: kube-proxy's proxier health rule (see health.h).
 */
#include <stdint.h>
#include <string.h>

#include "health.h"

/* Start with nothing queued or updated. */
void
health_init(struct health *h, uint64_t timeout_ms)
{
	memset(h, 0, sizeof(*h));
	h->timeout_ms = timeout_ms;
}

/* Remember the oldest update still pending. */
void
health_queued(struct health *h, uint64_t now)
{
	if (h->pending_ms == 0)
		h->pending_ms = now != 0 ? now : 1;
}

/* Everything queued so far is done. */
void
health_updated(struct health *h, uint64_t now)
{
	h->updated_ms = now != 0 ? now : 1;
	h->pending_ms = 0;
}

/* What was queued before t is done, as of now. */
int
health_advance(struct health *h, uint64_t t, uint64_t now)
{
	if (h->pending_ms == 0 || t <= h->pending_ms)
		return (0);
	h->pending_ms = t;
	h->updated_ms = now != 0 ? now : 1;
	return (1);
}

/* Healthy: updated once, and nothing pending for too long. */
int
health_ok(const struct health *h, uint64_t now)
{
	if (h->updated_ms == 0)
		return (0);
	if (h->pending_ms == 0 || h->timeout_ms == 0)
		return (1);
	return (now < h->pending_ms || now - h->pending_ms < h->timeout_ms);
}
