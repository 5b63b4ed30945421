/*
 * test_health.c: kube-proxy's proxier health rule on kuproxy's clock.
 */
#include <stdint.h>

#include "health.h"
#include "tu.h"

/* Unhealthy until the first update, healthy after it. */
static void
test_health_first_update(void)
{
	struct health	h;

	health_init(&h, 60000);
	CU_ASSERT_EQUAL(health_ok(&h, 1000), 0);
	health_queued(&h, 1000);
	CU_ASSERT_EQUAL(health_ok(&h, 2000), 0);
	/* Still never updated, long after: not healthy either. */
	CU_ASSERT_EQUAL(health_ok(&h, 500000), 0);
	health_updated(&h, 500100);
	CU_ASSERT_EQUAL(health_ok(&h, 500100), 1);
	/* Nothing pending: healthy however long nothing happens. */
	CU_ASSERT_EQUAL(health_ok(&h, 5000000), 1);
}

/* A pending update is late after the timeout, counted from the oldest. */
static void
test_health_pending_timeout(void)
{
	struct health	h;

	health_init(&h, 60000);
	health_updated(&h, 1000);
	health_queued(&h, 2000);
	CU_ASSERT_EQUAL(health_ok(&h, 61999), 1);
	/* Newer queued updates do not move the deadline (1.20 would). */
	health_queued(&h, 50000);
	CU_ASSERT_EQUAL(health_ok(&h, 62000), 0);
	CU_ASSERT_EQUAL(health_ok(&h, 100000), 0);
	health_updated(&h, 100000);
	CU_ASSERT_EQUAL(health_ok(&h, 100000), 1);
	CU_ASSERT_EQUAL(h.updated_ms, 100000);
	/* The next pending update starts its own clock. */
	health_queued(&h, 200000);
	CU_ASSERT_EQUAL(health_ok(&h, 259999), 1);
	CU_ASSERT_EQUAL(health_ok(&h, 260000), 0);
}

/* Constant churn: each applied sync moves the oldest pending forward. */
static void
test_health_advance(void)
{
	struct health	h;

	health_init(&h, 2000);
	health_updated(&h, 1);
	CU_ASSERT_EQUAL(health_advance(&h, 5, 6), 0);	/* nothing pending */
	health_queued(&h, 1000);
	CU_ASSERT_EQUAL(health_advance(&h, 900, 950), 0); /* not newer */
	CU_ASSERT_EQUAL(h.updated_ms, 1);
	CU_ASSERT_EQUAL(health_advance(&h, 2500, 2600), 1);
	CU_ASSERT_EQUAL(health_ok(&h, 4000), 1);	/* late from 1000 */
	CU_ASSERT_EQUAL(health_ok(&h, 4500), 0);
	CU_ASSERT_EQUAL(h.updated_ms, 2600);
}

/*
 * The first success comes amid changes (some family still behind):
 * healthy, with that success as the last update (it was once left at
 * "never", so /healthz said 503 with a lastUpdated of boot time).
 */
static void
test_health_first_amid_changes(void)
{
	struct health	h;

	health_init(&h, 2000);
	health_queued(&h, 1000);
	CU_ASSERT_EQUAL(health_ok(&h, 1500), 0);
	CU_ASSERT_EQUAL(health_advance(&h, 1200, 1400), 1);
	CU_ASSERT_EQUAL(h.updated_ms, 1400);
	CU_ASSERT_EQUAL(health_ok(&h, 1500), 1);
	CU_ASSERT_EQUAL(health_ok(&h, 3200), 0);	/* late from 1200 */
}

/* Time zero is a valid instant, and a zero timeout never goes late. */
static void
test_health_edges(void)
{
	struct health	h;

	health_init(&h, 10);
	health_queued(&h, 0);
	health_updated(&h, 0);
	CU_ASSERT_EQUAL(health_ok(&h, 0), 1);
	health_queued(&h, 0);
	CU_ASSERT_EQUAL(health_ok(&h, 100), 0);
	health_init(&h, 0);
	health_updated(&h, 5);
	health_queued(&h, 6);
	CU_ASSERT_EQUAL(health_ok(&h, 1000000), 1);
}

static const struct tu_case cases[] = {
	{ "unhealthy until the first update", test_health_first_update },
	{ "pending update late after the timeout",
	    test_health_pending_timeout },
	{ "pending moved forward by applied syncs", test_health_advance },
	{ "first success amid changes", test_health_first_amid_changes },
	{ "zero times and timeout", test_health_edges },
	{ NULL, NULL }
};

TU_MAIN("health", cases)
