/*
 * test_lb.c: round robin and ClientIP affinity, after kube-proxy's
 * roundrobin_test.go plus the ttl, expiry and IPv6 cases it lacks; the
 * retry choice (a retry never goes back to an endpoint it tried while
 * another is left) and the ejection timing of issue 10.
 *
 * The shuffle is random, so no test expects a particular order: each
 * reads the order back with lb_endpoint_at and checks that picks
 * follow it.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lb.h"
#include "netutil.h"
#include "tu.h"

#define TTL_DEFAULT_MS	((uint64_t)LB_DEFAULT_TTL * 1000)

/* Fill ep from "ip:port" or "[ip6]:port". */
static void
ep_set(struct lb_endpoint *ep, const char *s)
{
	struct sockaddr_storage	ss;
	char			err[128];

	memset(ep, 0, sizeof(*ep));
	CU_ASSERT_FATAL(netutil_parse_hostport(s, &ss, &ep->addrlen,
	    err, sizeof(err)) != -1);
	CU_ASSERT_FATAL(ep->addrlen <= sizeof(ep->addr));
	memcpy(&ep->addr, &ss, ep->addrlen);
}

/* Fill eps[0..n) from strings and hand them to lb; return its result. */
static int
set_eps(struct lb *lb, const char *const *s, size_t n)
{
	struct lb_endpoint	eps[8];
	size_t			i;

	CU_ASSERT_FATAL(n <= 8);
	for (i = 0; i < n; i++)
		ep_set(&eps[i], s[i]);
	return (lb_set_endpoints(lb, eps, n));
}

/* Return a client address (any port) as a static sockaddr. */
static const struct sockaddr *
client(const char *s)
{
	static struct lb_endpoint	c[16];
	static int			next;
	struct lb_endpoint		*ep = &c[next++ % 16];

	ep_set(ep, s);
	return ((const struct sockaddr *)&ep->addr);
}

/* Return 1 if a and b print the same. */
static int
ep_equal(const struct lb_endpoint *a, const struct lb_endpoint *b)
{
	char	sa[NETUTIL_ADDRSTRLEN], sb[NETUTIL_ADDRSTRLEN];

	netutil_ntop((const struct sockaddr *)&a->addr, sa, sizeof(sa));
	netutil_ntop((const struct sockaddr *)&b->addr, sb, sizeof(sb));
	return (strcmp(sa, sb) == 0);
}

/* Return the i-th endpoint of lb, failing the test if there is none. */
static const struct lb_endpoint *
at(const struct lb *lb, size_t i)
{
	const struct lb_endpoint	*ep;

	ep = lb_endpoint_at(lb, i);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ep);
	return (ep);
}

/* Return a fresh attempt (a new connection), in a rotating slot. */
static struct lb_attempt *
fresh(void)
{
	static struct lb_attempt	a[8];
	static int			next;
	struct lb_attempt		*att = &a[next++ % 8];

	memset(att, 0, sizeof(*att));
	return (att);
}

/* Pick the first try of a new connection from c; check it is want. */
static int
expect(struct lb *lb, const struct sockaddr *c, uint64_t now,
    const struct lb_endpoint *want)
{
	struct lb_endpoint	got;

	if (lb_pick(lb, c, fresh(), now, &got) == -1)
		return (0);
	return (ep_equal(&got, want));
}

/* Pick the next try of a; check it is want. */
static int
expect_try(struct lb *lb, const struct sockaddr *c, struct lb_attempt *a,
    uint64_t now, const struct lb_endpoint *want)
{
	struct lb_endpoint	got;

	if (lb_pick(lb, c, a, now, &got) == -1)
		return (0);
	return (ep_equal(&got, want));
}

/* Pick for a (a new connection if NULL) and return the endpoint. */
static const struct lb_endpoint *
pick_try(struct lb *lb, const struct sockaddr *c, struct lb_attempt *a,
    uint64_t now)
{
	static struct lb_endpoint	slot[8];
	static int			next;
	struct lb_endpoint		*ep = &slot[next++ % 8];

	CU_ASSERT_FATAL(lb_pick(lb, c, a != NULL ? a : fresh(), now, ep) ==
	    0);
	return (ep);
}

/* Pick the first try of a new connection from c. */
static const struct lb_endpoint *
pick(struct lb *lb, const struct sockaddr *c, uint64_t now)
{
	return (pick_try(lb, c, NULL, now));
}

/* Return the index of ep in lb's current order (-1 if absent). */
static int
index_of(const struct lb *lb, const struct lb_endpoint *ep)
{
	size_t	i;

	for (i = 0; i < lb_count(lb); i++)
		if (ep_equal(at(lb, i), ep))
			return ((int)i);
	return (-1);
}

/*
 * Start new connections at now until one gets want; return its attempt
 * (the test fails if 16 do not).
 */
static struct lb_attempt *
attempt_on(struct lb *lb, const struct lb_endpoint *want, uint64_t now)
{
	struct lb_attempt	*a;
	int			 i;

	for (i = 0; i < 16; i++)
		if (ep_equal(pick_try(lb, NULL, a = fresh(), now), want))
			return (a);
	CU_FAIL_FATAL("the endpoint is never picked");
	return (NULL);
}

/* Return the ejection totals of lb. */
static struct lb_stats
stats(const struct lb *lb)
{
	struct lb_stats	st;

	lb_get_stats(lb, &st);
	return (st);
}

/* Return 1 if lb holds exactly the endpoints named in s, in any order. */
static int
holds(const struct lb *lb, const char *const *s, size_t n)
{
	struct lb_endpoint	want;
	unsigned char		used[8] = { 0 };
	size_t			i, j;

	if (lb_count(lb) != n || n > 8)
		return (0);
	for (i = 0; i < n; i++) {
		ep_set(&want, s[i]);
		for (j = 0; j < n; j++) {
			if (!used[j] && ep_equal(at(lb, j), &want))
				break;
		}
		if (j == n)
			return (0);
		used[j] = 1;
	}
	return (1);
}

/* No endpoints: every pick fails, with or without affinity. */
static void
test_lb_no_endpoints(void)
{
	struct lb		*lb;
	struct lb_endpoint	 out;

	lb = lb_new(LB_AFFINITY_NONE, 0);
	CU_ASSERT_EQUAL(lb_count(lb), 0);
	CU_ASSERT_PTR_NULL(lb_endpoint_at(lb, 0));
	CU_ASSERT_EQUAL(lb_pick(lb, NULL, fresh(), 0, &out), -1);
	CU_ASSERT_EQUAL(lb_set_endpoints(lb, NULL, 0), 0);
	CU_ASSERT_EQUAL(lb_pick(lb, NULL, fresh(), 0, &out), -1);
	lb_set_affinity(lb, LB_AFFINITY_CLIENTIP, 0);
	CU_ASSERT_EQUAL(lb_pick(lb, client("10.0.0.1:5"), fresh(), 0, &out),
	    -1);
	/* A report without a pick, or on an empty list, is ignored. */
	lb_report(lb, fresh(), ECONNREFUSED, 0);
	CU_ASSERT_EQUAL(stats(lb).ejections, 0);
	CU_ASSERT_EQUAL(lb_pinned(lb), 0);
	lb_free(lb);
}

/* One endpoint is returned every time. */
static void
test_lb_single_endpoint(void)
{
	static const char *const	 s[] = { "10.1.0.1:40" };
	struct lb			*lb;
	struct lb_endpoint		 want;
	int				 i;

	lb = lb_new(LB_AFFINITY_NONE, 0);
	CU_ASSERT_EQUAL(set_eps(lb, s, 1), 1);
	ep_set(&want, s[0]);
	for (i = 0; i < 4; i++)
		CU_ASSERT(expect(lb, NULL, 0, &want));
	lb_free(lb);
}

/* Three endpoints (one IP, three ports) are taken in order and wrap. */
static void
test_lb_multiple_endpoints(void)
{
	static const char *const	 s[] = {
		"10.1.0.9:1", "10.1.0.9:2", "10.1.0.9:3"
	};
	struct lb			*lb;
	int				 i;

	lb = lb_new(LB_AFFINITY_NONE, 0);
	CU_ASSERT_EQUAL(set_eps(lb, s, 3), 1);
	CU_ASSERT(holds(lb, s, 3));
	for (i = 0; i < 7; i++)
		CU_ASSERT(expect(lb, NULL, 0, at(lb, i % 3)));
	lb_free(lb);
}

/* Two ports of one service: two balancers, each with its own cycle. */
static void
test_lb_multiple_ports(void)
{
	static const char *const	 p[] = {
		"10.1.0.1:1", "10.1.0.2:1", "10.1.0.3:3"
	};
	static const char *const	 q[] = {
		"10.1.0.1:2", "10.1.0.2:2", "10.1.0.3:4"
	};
	struct lb			*lbp, *lbq;
	int				 i;

	lbp = lb_new(LB_AFFINITY_NONE, 0);
	lbq = lb_new(LB_AFFINITY_NONE, 0);
	set_eps(lbp, p, 3);
	set_eps(lbq, q, 3);
	CU_ASSERT(holds(lbp, p, 3));
	CU_ASSERT(holds(lbq, q, 3));
	for (i = 0; i < 4; i++) {
		CU_ASSERT(expect(lbp, NULL, 0, at(lbp, i % 3)));
		if (i % 2 == 0)
			CU_ASSERT(expect(lbq, NULL, 0, at(lbq, i / 2)));
	}
	for (i = 2; i < 5; i++)
		CU_ASSERT(expect(lbq, NULL, 0, at(lbq, i % 3)));
	lb_free(lbp);
	lb_free(lbq);
}

/* A changed list restarts the cycle; an equal multiset changes nothing. */
static void
test_lb_updates(void)
{
	static const char *const	 v1[] = {
		"10.1.0.1:1", "10.1.0.2:2", "10.1.0.3:3"
	};
	static const char *const	 v1r[] = {
		"10.1.0.3:3", "10.1.0.1:1", "10.1.0.2:2"
	};
	static const char *const	 v2[] = { "10.1.0.4:4", "10.1.0.5:5" };
	struct lb			*lb;
	struct lb_endpoint		 out;
	int				 i;

	lb = lb_new(LB_AFFINITY_NONE, 0);
	CU_ASSERT_EQUAL(set_eps(lb, v1, 3), 1);
	CU_ASSERT(expect(lb, NULL, 0, at(lb, 0)));

	/* Same members in another order: position and order are kept. */
	CU_ASSERT_EQUAL(set_eps(lb, v1r, 3), 0);
	CU_ASSERT(expect(lb, NULL, 0, at(lb, 1)));

	CU_ASSERT_EQUAL(set_eps(lb, v2, 2), 1);
	CU_ASSERT(holds(lb, v2, 2));
	for (i = 0; i < 4; i++)
		CU_ASSERT(expect(lb, NULL, 0, at(lb, i % 2)));

	CU_ASSERT_EQUAL(lb_set_endpoints(lb, NULL, 0), 1);
	CU_ASSERT_EQUAL(lb_count(lb), 0);
	CU_ASSERT_EQUAL(lb_pick(lb, NULL, fresh(), 0, &out), -1);
	lb_free(lb);
}

/* Duplicates count: {a, a, b} and {a, b, b} are different lists. */
static void
test_lb_multiset_compare(void)
{
	static const char *const	 aab[] = {
		"10.1.0.1:80", "10.1.0.1:80", "10.1.0.2:80"
	};
	static const char *const	 abb[] = {
		"10.1.0.1:80", "10.1.0.2:80", "10.1.0.2:80"
	};
	static const char *const	 aba[] = {
		"10.1.0.1:80", "10.1.0.2:80", "10.1.0.1:80"
	};
	static const char *const	 v6[] = {
		"[fd00::1]:80", "[fd00::2]:80"
	};
	static const char *const	 v6r[] = {
		"[fd00::2]:80", "[fd00::1]:80"
	};
	static const char *const	 v6p[] = {
		"[fd00::2]:81", "[fd00::1]:80"
	};
	struct lb			*lb;

	lb = lb_new(LB_AFFINITY_NONE, 0);
	CU_ASSERT_EQUAL(set_eps(lb, aab, 3), 1);
	CU_ASSERT(holds(lb, aab, 3));
	CU_ASSERT_EQUAL(set_eps(lb, aba, 3), 0);
	CU_ASSERT_EQUAL(set_eps(lb, abb, 3), 1);
	CU_ASSERT(holds(lb, abb, 3));
	CU_ASSERT_EQUAL(set_eps(lb, v6, 2), 1);
	CU_ASSERT_EQUAL(set_eps(lb, v6r, 2), 0);
	CU_ASSERT_EQUAL(set_eps(lb, v6p, 2), 1);
	lb_free(lb);
}

/* Emptying one service's balancer leaves another's cycle where it was. */
static void
test_lb_service_removal(void)
{
	static const char *const	 foo[] = {
		"10.1.0.1:123", "10.1.0.2:123", "10.1.0.3:123"
	};
	static const char *const	 bar[] = {
		"10.1.0.4:456", "10.1.0.5:456", "10.1.0.6:456"
	};
	struct lb			*lbf, *lbb;
	struct lb_endpoint		 out;
	int				 i;

	lbf = lb_new(LB_AFFINITY_NONE, 0);
	lbb = lb_new(LB_AFFINITY_NONE, 0);
	set_eps(lbf, foo, 3);
	set_eps(lbb, bar, 3);
	for (i = 0; i < 5; i++) {
		CU_ASSERT(expect(lbf, NULL, 0, at(lbf, i % 3)));
		CU_ASSERT(expect(lbb, NULL, 0, at(lbb, i % 3)));
	}
	lb_set_endpoints(lbf, NULL, 0);
	CU_ASSERT_EQUAL(lb_pick(lbf, NULL, fresh(), 0, &out), -1);
	for (i = 5; i < 9; i++)
		CU_ASSERT(expect(lbb, NULL, 0, at(lbb, i % 3)));
	lb_free(lbf);
	lb_free(lbb);
}

/* Check the sticky pattern of upstream's NewServiceCalledFirst/Second. */
static void
check_sticky_three_clients(struct lb *lb)
{
	const struct sockaddr		*c[3];
	const struct lb_endpoint	*ep[3];
	int				 i, j;

	c[0] = client("127.0.0.1:1000");
	c[1] = client("127.0.0.2:1000");
	c[2] = client("127.0.0.3:1000");
	for (i = 0; i < 3; i++) {
		ep[i] = pick(lb, c[i], 0);
		CU_ASSERT(ep_equal(ep[i], at(lb, i)));
		for (j = 0; j < 3; j++)
			CU_ASSERT(expect(lb, c[i], 0, ep[i]));
	}
	for (j = 0; j < 6; j++)
		CU_ASSERT(expect(lb, c[j % 3], 0, ep[j % 3]));
	CU_ASSERT_EQUAL(lb_pinned(lb), 3);
}

/* Affinity set before the endpoints arrive. */
static void
test_lb_sticky_affinity_first(void)
{
	static const char *const	 s[] = {
		"10.1.0.1:1", "10.1.0.2:2", "10.1.0.3:3"
	};
	struct lb			*lb;

	lb = lb_new(LB_AFFINITY_CLIENTIP, LB_DEFAULT_TTL);
	set_eps(lb, s, 3);
	check_sticky_three_clients(lb);
	lb_free(lb);
}

/* Affinity set after the endpoints arrive: same result. */
static void
test_lb_sticky_affinity_second(void)
{
	static const char *const	 s[] = {
		"10.1.0.1:1", "10.1.0.2:2", "10.1.0.3:3"
	};
	struct lb			*lb;

	lb = lb_new(LB_AFFINITY_NONE, 0);
	set_eps(lb, s, 3);
	lb_set_affinity(lb, LB_AFFINITY_CLIENTIP, LB_DEFAULT_TTL);
	check_sticky_three_clients(lb);
	lb_free(lb);
}

/* Removing one endpoint re-pins only its client; adding keeps pins. */
static void
test_lb_sticky_remove_one(void)
{
	static const char *const	 v1[] = {
		"10.2.0.1:1", "10.2.0.1:2", "10.2.0.1:3"
	};
	static const char *const	 v2[] = { "10.2.0.1:1", "10.2.0.1:2" };
	static const char *const	 v3[] = {
		"10.2.0.1:1", "10.2.0.1:2", "10.2.0.1:4"
	};
	const struct sockaddr		*c[6];
	struct lb_endpoint		 pinned[3], gone;
	struct lb			*lb;
	int				 i;

	c[0] = client("127.0.0.1:0");
	c[1] = client("127.0.0.2:0");
	c[2] = client("127.0.0.3:0");
	lb = lb_new(LB_AFFINITY_CLIENTIP, LB_DEFAULT_TTL);
	set_eps(lb, v1, 3);
	for (i = 0; i < 3; i++) {
		pinned[i] = *at(lb, i);
		CU_ASSERT(expect(lb, c[i], 0, &pinned[i]));
		if (i < 2)
			CU_ASSERT(expect(lb, c[i], 0, &pinned[i]));
	}

	CU_ASSERT_EQUAL(set_eps(lb, v2, 2), 1);
	CU_ASSERT_EQUAL(lb_pinned(lb), 2);
	ep_set(&gone, "10.2.0.1:3");
	for (i = 0; i < 3; i++) {
		if (ep_equal(&pinned[i], &gone))
			pinned[i] = *at(lb, 0);
	}
	for (i = 0; i < 3; i++)
		CU_ASSERT(expect(lb, c[i], 0, &pinned[i]));

	CU_ASSERT_EQUAL(set_eps(lb, v3, 3), 1);
	CU_ASSERT_EQUAL(lb_pinned(lb), 3);
	for (i = 0; i < 3; i++)
		CU_ASSERT(expect(lb, c[i], 0, &pinned[i]));
	c[3] = client("127.0.0.4:0");
	c[4] = client("127.0.0.5:0");
	c[5] = client("127.0.0.6:0");
	for (i = 3; i < 6; i++)
		CU_ASSERT(expect(lb, c[i], 0, at(lb, i - 3)));
	lb_free(lb);
}

/* Replacing every endpoint drops every pin; clearing leaves none. */
static void
test_lb_sticky_replace_all(void)
{
	static const char *const	 v1[] = {
		"10.3.0.1:1", "10.3.0.1:2", "10.3.0.1:3"
	};
	static const char *const	 v2[] = { "10.3.0.1:4", "10.3.0.1:5" };
	const struct sockaddr		*c1, *c2, *c3;
	struct lb			*lb;
	struct lb_endpoint		 out;

	c1 = client("127.0.0.1:0");
	c2 = client("127.0.0.2:0");
	c3 = client("127.0.0.3:0");
	lb = lb_new(LB_AFFINITY_CLIENTIP, LB_DEFAULT_TTL);
	set_eps(lb, v1, 3);
	CU_ASSERT(expect(lb, c1, 0, at(lb, 0)));
	CU_ASSERT(expect(lb, c1, 0, at(lb, 0)));
	CU_ASSERT(expect(lb, c2, 0, at(lb, 1)));
	CU_ASSERT(expect(lb, c2, 0, at(lb, 1)));
	CU_ASSERT(expect(lb, c3, 0, at(lb, 2)));
	CU_ASSERT(expect(lb, c1, 0, at(lb, 0)));
	CU_ASSERT(expect(lb, c2, 0, at(lb, 1)));
	CU_ASSERT_EQUAL(lb_pinned(lb), 3);

	CU_ASSERT_EQUAL(set_eps(lb, v2, 2), 1);
	CU_ASSERT_EQUAL(lb_pinned(lb), 0);
	CU_ASSERT(expect(lb, c1, 0, at(lb, 0)));
	CU_ASSERT(expect(lb, c2, 0, at(lb, 1)));
	CU_ASSERT(expect(lb, c1, 0, at(lb, 0)));
	CU_ASSERT(expect(lb, c1, 0, at(lb, 0)));
	CU_ASSERT(expect(lb, c2, 0, at(lb, 1)));
	CU_ASSERT(expect(lb, c2, 0, at(lb, 1)));

	CU_ASSERT_EQUAL(lb_set_endpoints(lb, NULL, 0), 1);
	CU_ASSERT_EQUAL(lb_pinned(lb), 0);
	CU_ASSERT_EQUAL(lb_pick(lb, c1, fresh(), 0, &out), -1);
	lb_free(lb);
}

/* Emptying foo's balancer leaves bar's pins intact. */
static void
test_lb_sticky_service_removal(void)
{
	static const char *const	 foo[] = {
		"10.4.0.1:1", "10.4.0.1:2", "10.4.0.1:3"
	};
	static const char *const	 bar[] = { "10.4.0.1:4", "10.4.0.1:5" };
	const struct sockaddr		*c1, *c2;
	struct lb			*lbf, *lbb;
	struct lb_endpoint		 out;
	int				 i;

	c1 = client("127.0.0.1:0");
	c2 = client("127.0.0.2:0");
	lbf = lb_new(LB_AFFINITY_CLIENTIP, LB_DEFAULT_TTL);
	lbb = lb_new(LB_AFFINITY_CLIENTIP, LB_DEFAULT_TTL);
	set_eps(lbf, foo, 3);
	set_eps(lbb, bar, 2);
	CU_ASSERT(expect(lbf, c1, 0, at(lbf, 0)));
	CU_ASSERT(expect(lbf, c2, 0, at(lbf, 1)));
	CU_ASSERT(expect(lbb, c1, 0, at(lbb, 0)));
	CU_ASSERT(expect(lbb, c2, 0, at(lbb, 1)));

	lb_set_endpoints(lbf, NULL, 0);
	CU_ASSERT_EQUAL(lb_pick(lbf, c1, fresh(), 0, &out), -1);
	CU_ASSERT_EQUAL(lb_pinned(lbf), 0);
	CU_ASSERT_EQUAL(lb_pinned(lbb), 2);
	for (i = 0; i < 6; i++)
		CU_ASSERT(expect(lbb, i % 2 ? c2 : c1, 0, at(lbb, i % 2)));
	lb_free(lbf);
	lb_free(lbb);
}

/*
 * A retry ignores the pin and moves it to the endpoint it takes, one the
 * connection has not tried (kube-proxy took the next in the cycle, which
 * could be the one that just failed).
 */
static void
test_lb_sticky_endpoint_fails(void)
{
	static const char *const	 s[] = {
		"10.5.0.1:1", "10.5.0.2:2", "10.5.0.3:3"
	};
	const struct sockaddr		*c1, *c2, *c3;
	const struct lb_endpoint	*ep1, *ep2, *ep3, *got;
	struct lb_attempt		 a;
	struct lb			*lb;

	c1 = client("127.0.0.1:0");
	c2 = client("127.0.0.2:0");
	c3 = client("127.0.0.3:0");
	lb = lb_new(LB_AFFINITY_CLIENTIP, LB_DEFAULT_TTL);
	set_eps(lb, s, 3);
	ep1 = pick(lb, c1, 0);
	ep2 = pick(lb, c2, 0);
	ep3 = pick(lb, c3, 0);
	/* The cursor is back at ep1, c1's pin: its retry must skip it. */
	memset(&a, 0, sizeof(a));
	CU_ASSERT(expect_try(lb, c1, &a, 0, ep1));
	CU_ASSERT(expect_try(lb, c1, &a, 0, ep2));
	CU_ASSERT(expect(lb, c1, 0, ep2));
	CU_ASSERT(expect_try(lb, c1, &a, 0, ep3));
	CU_ASSERT(expect(lb, c1, 0, ep3));
	/* Every endpoint tried: a fourth try may take any. */
	got = pick_try(lb, c1, &a, 0);
	CU_ASSERT(index_of(lb, got) >= 0);
	CU_ASSERT(expect(lb, c1, 0, got));
	/* The others keep their pins. */
	CU_ASSERT(expect(lb, c2, 0, ep2));
	CU_ASSERT(expect(lb, c3, 0, ep3));
	lb_free(lb);
}

/* A pin lasts ttl seconds from its last use, then the cycle resumes. */
static void
test_lb_ttl_honoured(void)
{
	static const char *const	 s[] = {
		"10.6.0.1:1", "10.6.0.2:2", "10.6.0.3:3"
	};
	const struct sockaddr		*c1;
	struct lb			*lb;

	c1 = client("192.0.2.1:1111");
	lb = lb_new(LB_AFFINITY_CLIENTIP, 2);
	set_eps(lb, s, 3);
	CU_ASSERT(expect(lb, c1, 1000, at(lb, 0)));
	CU_ASSERT(expect(lb, c1, 2999, at(lb, 0)));
	/* The use at 2999 renewed the pin: still there at 4998. */
	CU_ASSERT(expect(lb, c1, 4998, at(lb, 0)));
	/* 2000 ms idle: expired; the next in the cycle is taken. */
	CU_ASSERT(expect(lb, c1, 6998, at(lb, 1)));
	CU_ASSERT(expect(lb, c1, 7000, at(lb, 1)));
	/* 2001 ms idle. */
	CU_ASSERT(expect(lb, c1, 9001, at(lb, 2)));
	CU_ASSERT_EQUAL(lb_pinned(lb), 1);
	lb_free(lb);
}

/* lb_expire drops idle pins and keeps fresh ones. */
static void
test_lb_expire(void)
{
	static const char *const	 s[] = { "10.7.0.1:1", "10.7.0.2:2" };
	const struct sockaddr		*a, *b;
	struct lb			*lb;

	a = client("192.0.2.1:1");
	b = client("192.0.2.2:1");
	lb = lb_new(LB_AFFINITY_CLIENTIP, 2);
	set_eps(lb, s, 2);
	pick(lb, a, 0);
	pick(lb, b, 1500);
	CU_ASSERT_EQUAL(lb_pinned(lb), 2);
	lb_expire(lb, 1999);
	CU_ASSERT_EQUAL(lb_pinned(lb), 2);
	lb_expire(lb, 2000);
	CU_ASSERT_EQUAL(lb_pinned(lb), 1);
	/* b still pinned to the second endpoint. */
	CU_ASSERT(expect(lb, b, 2100, at(lb, 1)));
	lb_expire(lb, 4100);
	CU_ASSERT_EQUAL(lb_pinned(lb), 0);
	lb_free(lb);
}

/* Changing the affinity: ttl-only keeps pins, NONE drops them. */
static void
test_lb_set_affinity(void)
{
	static const char *const	 s[] = { "10.8.0.1:1", "10.8.0.2:2" };
	const struct sockaddr		*a;
	struct lb			*lb;

	a = client("192.0.2.7:9");
	lb = lb_new(LB_AFFINITY_CLIENTIP, 0);
	set_eps(lb, s, 2);
	CU_ASSERT(expect(lb, a, 0, at(lb, 0)));
	/* ttl 0 is the default: pinned until just before 10800 s. */
	CU_ASSERT(expect(lb, a, TTL_DEFAULT_MS - 1, at(lb, 0)));
	CU_ASSERT(expect(lb, a, 2 * TTL_DEFAULT_MS - 1, at(lb, 1)));

	/* Only the ttl changes: the pin stays, under the new ttl. */
	lb_set_affinity(lb, LB_AFFINITY_CLIENTIP, 5);
	CU_ASSERT_EQUAL(lb_pinned(lb), 1);
	CU_ASSERT(expect(lb, a, 2 * TTL_DEFAULT_MS + 4000, at(lb, 1)));
	CU_ASSERT(expect(lb, a, 2 * TTL_DEFAULT_MS + 9000, at(lb, 0)));

	/* Affinity off: pins dropped, plain round robin, nothing pinned. */
	lb_set_affinity(lb, LB_AFFINITY_NONE, 0);
	CU_ASSERT_EQUAL(lb_pinned(lb), 0);
	CU_ASSERT(expect(lb, a, 0, at(lb, 1)));
	CU_ASSERT(expect(lb, a, 0, at(lb, 0)));
	CU_ASSERT_EQUAL(lb_pinned(lb), 0);

	/* Back on: a fresh pin. */
	lb_set_affinity(lb, LB_AFFINITY_CLIENTIP, 100);
	CU_ASSERT(expect(lb, a, 0, at(lb, 1)));
	CU_ASSERT(expect(lb, a, 0, at(lb, 1)));
	CU_ASSERT_EQUAL(lb_pinned(lb), 1);
	lb_free(lb);
}

/* IPv6 clients are keyed by address; ports and v4-mapping do not split. */
static void
test_lb_ipv6_clients(void)
{
	static const char *const	 s[] = {
		"[fd00::a]:80", "[fd00::b]:80", "[fd00::c]:80"
	};
	struct lb			*lb;

	lb = lb_new(LB_AFFINITY_CLIENTIP, 0);
	set_eps(lb, s, 3);
	CU_ASSERT(holds(lb, s, 3));
	CU_ASSERT(expect(lb, client("[2001:db8::1]:1000"), 0, at(lb, 0)));
	CU_ASSERT(expect(lb, client("[2001:db8::2]:1000"), 0, at(lb, 1)));
	CU_ASSERT(expect(lb, client("[2001:db8::1]:2000"), 0, at(lb, 0)));
	CU_ASSERT(expect(lb, client("[2001:db8::2]:3000"), 0, at(lb, 1)));
	CU_ASSERT_EQUAL(lb_pinned(lb), 2);

	/* The same IPv4 client, seen on an IPv4 and a dual-stack socket. */
	CU_ASSERT(expect(lb, client("192.0.2.1:5"), 0, at(lb, 2)));
	CU_ASSERT(expect(lb, client("[::ffff:192.0.2.1]:6"), 0,
	    at(lb, 2)));
	/* An IPv6 address with the same low bytes is another client. */
	CU_ASSERT(expect(lb, client("[::c000:201]:6"), 0, at(lb, 0)));
	CU_ASSERT_EQUAL(lb_pinned(lb), 4);
	lb_free(lb);
}

/* Without a client address there is nothing to pin: plain cycle. */
static void
test_lb_null_client(void)
{
	static const char *const	 s[] = { "10.9.0.1:1", "10.9.0.2:2" };
	struct lb			*lb;
	int				 i;

	lb = lb_new(LB_AFFINITY_CLIENTIP, 0);
	set_eps(lb, s, 2);
	for (i = 0; i < 4; i++)
		CU_ASSERT(expect(lb, NULL, 0, at(lb, i % 2)));
	CU_ASSERT_EQUAL(lb_pinned(lb), 0);
	lb_free(lb);
}

/* The shuffle spreads the first pick over all endpoints. */
static void
test_lb_shuffled(void)
{
	static const char *const	 s[] = {
		"10.10.0.1:1", "10.10.0.2:1", "10.10.0.3:1", "10.10.0.4:1"
	};
	static const char *const	 none[] = { "10.10.0.9:1" };
	struct lb			*lb;
	struct lb_endpoint		 e;
	unsigned int			 seen = 0;
	int				 i, j;

	/* 200 shuffles of 4: one never first has odds 4 * (3/4)^200. */
	lb = lb_new(LB_AFFINITY_NONE, 0);
	for (i = 0; i < 200; i++) {
		set_eps(lb, none, 1);
		set_eps(lb, s, 4);
		for (j = 0; j < 4; j++) {
			ep_set(&e, s[j]);
			if (ep_equal(at(lb, 0), &e))
				seen |= 1U << j;
		}
	}
	CU_ASSERT_EQUAL(seen, 0xf);
	lb_free(lb);
}

/*
 * The issue 10 case: connections share the cursor, so without a record
 * of its own a retry was handed the endpoint that had just failed.
 * Interleaved connections each try every endpoint once, whatever the
 * others do to the cursor.
 */
static void
test_lb_retry_untried(void)
{
	static const char *const	 s[] = {
		"10.11.0.1:1", "10.11.0.2:1", "10.11.0.3:1", "10.11.0.4:1"
	};
	struct lb_attempt		 a[6];
	unsigned int			 seen[6];
	const struct lb_endpoint	*ep;
	struct lb			*lb;
	int				 i, k, idx;

	lb = lb_new(LB_AFFINITY_NONE, 0);
	set_eps(lb, s, 4);
	memset(a, 0, sizeof(a));
	memset(seen, 0, sizeof(seen));
	/* Six connections, four tries each, taken in turn. */
	for (k = 0; k < 4; k++) {
		for (i = 0; i < 6; i++) {
			ep = pick_try(lb, NULL, &a[i], 0);
			idx = index_of(lb, ep);
			CU_ASSERT_FATAL(idx >= 0);
			CU_ASSERT_EQUAL(seen[i] & (1U << idx), 0);
			seen[i] |= 1U << idx;
		}
	}
	for (i = 0; i < 6; i++)
		CU_ASSERT_EQUAL(seen[i], 0xf);
	/* Two endpoints: A takes e0, B takes e1, A's retry is e1 (not e0). */
	set_eps(lb, s, 2);
	memset(a, 0, sizeof(a));
	CU_ASSERT(expect_try(lb, NULL, &a[0], 0, at(lb, 0)));
	CU_ASSERT(expect_try(lb, NULL, &a[1], 0, at(lb, 1)));
	CU_ASSERT(expect_try(lb, NULL, &a[0], 0, at(lb, 1)));
	CU_ASSERT(expect_try(lb, NULL, &a[1], 0, at(lb, 0)));
	/* No failure was reported: nothing is ejected. */
	CU_ASSERT_EQUAL(stats(lb).ejections, 0);
	lb_free(lb);
}

/*
 * Ejection timing: out for 1 s, doubling at each ejection in a row to
 * 30 s, back by itself when the period is over; a success resets the
 * doubling; a failure while out changes nothing.
 */
static void
test_lb_eject_timing(void)
{
	static const char *const	 s[] = {
		"10.12.0.1:1", "10.12.0.2:1", "10.12.0.3:1"
	};
	static const uint64_t		 period[] = {
		1000, 2000, 4000, 8000, 16000, 30000, 30000
	};
	const struct lb_endpoint	*dead, *ep;
	struct lb_attempt		*a;
	struct lb			*lb;
	uint64_t			 t = 5000;
	size_t				 k;
	int				 i, d;

	lb = lb_new(LB_AFFINITY_NONE, 0);
	lb_set_name(lb, "test/eject:p");
	set_eps(lb, s, 3);
	d = 0;
	dead = at(lb, d);
	for (k = 0; k < sizeof(period) / sizeof(period[0]); k++) {
		/* A connection to the dead endpoint fails. */
		a = attempt_on(lb, dead, t);
		lb_report(lb, a, ETIMEDOUT, t);
		CU_ASSERT_EQUAL(stats(lb).ejections, k + 1);
		CU_ASSERT_EQUAL(stats(lb).ejected, 1);
		CU_ASSERT_EQUAL(lb_ejected_until(lb, d), t + period[k]);
		/* Another failure of the same outage changes nothing. */
		lb_report(lb, a, ECONNREFUSED, t + 1);
		CU_ASSERT_EQUAL(stats(lb).ejections, k + 1);
		CU_ASSERT_EQUAL(lb_ejected_until(lb, d), t + period[k]);
		/* Until the period is over, no new connection gets it. */
		for (i = 0; i < 12; i++) {
			ep = pick(lb, NULL, t + period[k] - 1);
			CU_ASSERT(!ep_equal(ep, dead));
		}
		CU_ASSERT_EQUAL(stats(lb).returns, k);
		/* Then it is back, and taken in turn. */
		t += period[k];
		for (i = 0; i < 3; i++)
			if (ep_equal(pick(lb, NULL, t), dead))
				break;
		CU_ASSERT(i < 3);
		CU_ASSERT_EQUAL(stats(lb).returns, k + 1);
		CU_ASSERT_EQUAL(stats(lb).ejected, 0);
		CU_ASSERT_EQUAL(lb_ejected_until(lb, d), 0);
	}
	/* A success resets the doubling: the next ejection is 1 s again. */
	a = attempt_on(lb, dead, t);
	lb_report(lb, a, 0, t);
	lb_report(lb, a, EHOSTUNREACH, t);
	CU_ASSERT_EQUAL(lb_ejected_until(lb, d), t + 1000);
	/* A success while out (a connect begun before) ends it at once. */
	lb_report(lb, a, 0, t + 10);
	CU_ASSERT_EQUAL(lb_ejected_until(lb, d), 0);
	CU_ASSERT_EQUAL(stats(lb).ejected, 0);
	CU_ASSERT_EQUAL(stats(lb).returns, k + 1);
	/* lb_expire returns endpoints whose time is up, without a pick. */
	lb_report(lb, a, ETIMEDOUT, t + 20);
	CU_ASSERT_EQUAL(stats(lb).ejected, 1);
	lb_expire(lb, t + 20 + 999);
	CU_ASSERT_EQUAL(stats(lb).ejected, 1);
	lb_expire(lb, t + 20 + 1000);
	CU_ASSERT_EQUAL(stats(lb).ejected, 0);
	CU_ASSERT_EQUAL(stats(lb).returns, k + 2);
	lb_free(lb);
}

/*
 * The last endpoint in rotation is never ejected, and a pick whose
 * untried endpoints are all ejected takes one of them rather than go
 * back to the one it tried.
 */
static void
test_lb_eject_last(void)
{
	static const char *const	 s[] = {
		"10.13.0.1:1", "10.13.0.2:1", "10.13.0.3:1"
	};
	struct lb_attempt		 a, b;
	const struct lb_endpoint	*e0, *e1, *e2, *ep;
	struct lb			*lb;
	int				 i;

	lb = lb_new(LB_AFFINITY_NONE, 0);
	set_eps(lb, s, 1);
	memset(&a, 0, sizeof(a));
	e0 = pick_try(lb, NULL, &a, 0);
	lb_report(lb, &a, ECONNREFUSED, 0);
	CU_ASSERT_EQUAL(stats(lb).ejections, 0);
	CU_ASSERT(expect(lb, NULL, 1, e0));

	set_eps(lb, s, 3);
	e0 = at(lb, 0);
	e1 = at(lb, 1);
	e2 = at(lb, 2);
	/* e0 and e1 fail and go out. */
	memset(&a, 0, sizeof(a));
	CU_ASSERT(expect_try(lb, NULL, &a, 0, e0));
	lb_report(lb, &a, ECONNREFUSED, 0);
	CU_ASSERT(expect_try(lb, NULL, &a, 0, e1));
	lb_report(lb, &a, ECONNREFUSED, 0);
	CU_ASSERT_EQUAL(stats(lb).ejected, 2);
	/* e2, the last in rotation, fails too: it stays in. */
	CU_ASSERT(expect_try(lb, NULL, &a, 0, e2));
	lb_report(lb, &a, ECONNREFUSED, 0);
	CU_ASSERT_EQUAL(stats(lb).ejected, 2);
	CU_ASSERT_EQUAL(lb_ejected_until(lb, 2), 0);
	/* New connections go to e2 only. */
	for (i = 0; i < 6; i++)
		CU_ASSERT(expect(lb, NULL, 1, e2));
	/* A connection that tried e2: its retry takes an ejected one. */
	memset(&b, 0, sizeof(b));
	CU_ASSERT(expect_try(lb, NULL, &b, 1, e2));
	ep = pick_try(lb, NULL, &b, 1);
	CU_ASSERT(ep_equal(ep, e0) || ep_equal(ep, e1));
	ep = pick_try(lb, NULL, &b, 1);
	CU_ASSERT(ep_equal(ep, e0) || ep_equal(ep, e1));
	/* Every one tried: then the one in rotation, e2. */
	CU_ASSERT(expect_try(lb, NULL, &b, 1, e2));
	lb_free(lb);
}

/*
 * Affinity decides the first try, unless the pinned endpoint is out;
 * a failed pinned endpoint moves the pin.
 */
static void
test_lb_eject_pinned(void)
{
	static const char *const	 s[] = {
		"10.14.0.1:1", "10.14.0.2:1", "10.14.0.3:1"
	};
	const struct sockaddr		*c1, *c2;
	const struct lb_endpoint	*pinned, *moved, *other;
	struct lb_attempt		 a;
	struct lb			*lb;

	c1 = client("192.0.2.10:1");
	c2 = client("192.0.2.11:1");
	lb = lb_new(LB_AFFINITY_CLIENTIP, 0);
	set_eps(lb, s, 3);
	pinned = pick(lb, c1, 0);
	other = pick(lb, c2, 0);
	CU_ASSERT(expect(lb, c1, 1, pinned));
	/* c1's connection fails on its pin: the retry moves the pin. */
	memset(&a, 0, sizeof(a));
	CU_ASSERT(expect_try(lb, c1, &a, 2, pinned));
	lb_report(lb, &a, ECONNREFUSED, 2);
	moved = pick_try(lb, c1, &a, 2);
	CU_ASSERT(!ep_equal(moved, pinned));
	lb_report(lb, &a, 0, 2);
	CU_ASSERT(expect(lb, c1, 3, moved));
	/* c2 stays pinned to its healthy endpoint. */
	CU_ASSERT(expect(lb, c2, 3, other));
	/* c2's pin goes out (another client's failure): c2 moves too. */
	memset(&a, 0, sizeof(a));
	CU_ASSERT(expect_try(lb, c2, &a, 4, other));
	lb_report(lb, &a, ETIMEDOUT, 4);
	if (!ep_equal(other, pinned)) {
		CU_ASSERT_EQUAL(stats(lb).ejected, 2);
	}
	CU_ASSERT(!ep_equal(pick(lb, c2, 5), other));
	lb_free(lb);
}

/*
 * Ejection state follows an endpoint across list changes; endpoints
 * that leave take it with them and come back afresh.  A report for an
 * endpoint that left is ignored; one for an endpoint still listed
 * finds it after a reshuffle.
 */
static void
test_lb_eject_list_change(void)
{
	static const char *const	 s3[] = {
		"10.15.0.1:1", "10.15.0.2:1", "10.15.0.3:1"
	};
	static const char *const	 s4[] = {
		"10.15.0.1:1", "10.15.0.2:1", "10.15.0.3:1", "10.15.0.4:1"
	};
	static const char *const	 s2[] = { "10.15.0.2:1", "10.15.0.3:1" };
	struct lb_endpoint		 e1, e2;
	struct lb_attempt		 a, b, *p;
	struct lb			*lb;
	int				 i;

	ep_set(&e1, "10.15.0.1:1");
	lb = lb_new(LB_AFFINITY_NONE, 0);
	set_eps(lb, s3, 3);
	/* 10.15.0.1 fails twice in a row: out for 2 s. */
	a = *attempt_on(lb, &e1, 0);
	lb_report(lb, &a, ECONNREFUSED, 0);
	lb_expire(lb, 1000);
	lb_report(lb, &a, ECONNREFUSED, 1000);
	CU_ASSERT_EQUAL(lb_ejected_until(lb, index_of(lb, &e1)), 3000);
	/* A fourth endpoint joins: 10.15.0.1 is still out. */
	set_eps(lb, s4, 4);
	CU_ASSERT_EQUAL(stats(lb).ejected, 1);
	CU_ASSERT_EQUAL(lb_ejected_until(lb, index_of(lb, &e1)), 3000);
	for (i = 0; i < 8; i++)
		CU_ASSERT(!ep_equal(pick(lb, NULL, 1500), &e1));
	/* A connection picked before a reshuffle reports after it. */
	ep_set(&e2, "10.15.0.2:1");
	b = *attempt_on(lb, &e2, 1500);
	set_eps(lb, s3, 3);
	set_eps(lb, s4, 4);
	lb_report(lb, &b, ETIMEDOUT, 1500);
	CU_ASSERT_EQUAL(stats(lb).ejected, 2);
	/* 10.15.0.1 leaves: its state goes; back, it starts afresh. */
	set_eps(lb, s2, 2);
	CU_ASSERT(index_of(lb, &e1) == -1);
	CU_ASSERT(stats(lb).ejected <= 1);
	lb_report(lb, &a, ECONNREFUSED, 1600);
	set_eps(lb, s3, 3);
	CU_ASSERT_EQUAL(lb_ejected_until(lb, index_of(lb, &e1)), 0);
	p = attempt_on(lb, &e1, 1700);
	lb_report(lb, p, ECONNREFUSED, 1700);
	CU_ASSERT_EQUAL(lb_ejected_until(lb, index_of(lb, &e1)), 2700);
	lb_free(lb);
}

static const struct tu_case cases[] = {
	{ "no endpoints", test_lb_no_endpoints },
	{ "single endpoint", test_lb_single_endpoint },
	{ "multiple endpoints", test_lb_multiple_endpoints },
	{ "multiple ports", test_lb_multiple_ports },
	{ "updates restart the cycle", test_lb_updates },
	{ "multiset compare", test_lb_multiset_compare },
	{ "service removal", test_lb_service_removal },
	{ "sticky, affinity first", test_lb_sticky_affinity_first },
	{ "sticky, affinity second", test_lb_sticky_affinity_second },
	{ "sticky, remove one endpoint", test_lb_sticky_remove_one },
	{ "sticky, replace all endpoints", test_lb_sticky_replace_all },
	{ "sticky, service removal", test_lb_sticky_service_removal },
	{ "sticky, endpoint fails", test_lb_sticky_endpoint_fails },
	{ "ttl honoured", test_lb_ttl_honoured },
	{ "expire idle pins", test_lb_expire },
	{ "set affinity", test_lb_set_affinity },
	{ "IPv6 clients", test_lb_ipv6_clients },
	{ "NULL client", test_lb_null_client },
	{ "shuffled", test_lb_shuffled },
	{ "retry takes an untried endpoint", test_lb_retry_untried },
	{ "ejection timing", test_lb_eject_timing },
	{ "never eject the last endpoint", test_lb_eject_last },
	{ "ejected pin moves", test_lb_eject_pinned },
	{ "ejection across list changes", test_lb_eject_list_change },
	{ NULL, NULL }
};

TU_MAIN("lb", cases)
