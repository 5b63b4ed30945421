/*
 * test_portalloc.c: --proxy-port-range parsing and the port allocator,
 * after kube-proxy's port_allocator_test.go and port_range_test.go.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "portalloc.h"
#include "tu.h"

/* Return 1 if s parses to (base, size). */
static int
parses(const char *s, uint16_t base, uint32_t size)
{
	char		err[256] = "";
	uint16_t	b = 1;
	uint32_t	n = 1;

	if (portalloc_parse_range(s, &b, &n, err, sizeof(err)) == -1) {
		fprintf(stderr, "\"%s\": %s\n", s, err);
		return (0);
	}
	return (b == base && n == size);
}

/* Return 1 if s is rejected with an error naming s and containing why. */
static int
rejected(const char *s, const char *why)
{
	char		err[256] = "";
	uint16_t	b;
	uint32_t	n;

	if (portalloc_parse_range(s, &b, &n, err, sizeof(err)) != -1)
		return (0);
	if (strstr(err, s) == NULL || strstr(err, why) == NULL) {
		fprintf(stderr, "\"%s\": unexpected error \"%s\"\n", s, err);
		return (0);
	}
	return (1);
}

/* The accepted forms, inclusive. */
static void
test_portalloc_parse_valid(void)
{
	CU_ASSERT(parses("", 0, 0));
	CU_ASSERT(parses("  ", 0, 0));
	CU_ASSERT(parses("0", 0, 0));
	CU_ASSERT(parses("0-0", 0, 0));
	CU_ASSERT(parses("0-100", 0, 0));
	CU_ASSERT(parses("0+10", 0, 0));
	CU_ASSERT(parses("8080", 8080, 1));
	CU_ASSERT(parses("30000-32767", 30000, 2768));
	CU_ASSERT(parses(" 30000-32767 ", 30000, 2768));
	CU_ASSERT(parses("30000+10", 30000, 11));
	CU_ASSERT(parses("30000+0", 30000, 1));
	CU_ASSERT(parses("1-1", 1, 1));
	CU_ASSERT(parses("1-65535", 1, 65535));
	CU_ASSERT(parses("65535", 65535, 1));
	CU_ASSERT(parses("65535+0", 65535, 1));
	CU_ASSERT(parses("65000+535", 65000, 536));
}

/* Everything else fails, saying why. */
static void
test_portalloc_parse_invalid(void)
{
	CU_ASSERT(rejected("65536", "greater than 65535"));
	CU_ASSERT(rejected("1-65536", "greater than 65535"));
	CU_ASSERT(rejected("65000+536", "greater than 65535"));
	CU_ASSERT(rejected("99999999999999999999", "greater than 65535"));
	CU_ASSERT(rejected("100-99", "less than start"));
	CU_ASSERT(rejected("100+-1", "negative"));
	CU_ASSERT(rejected("-1", "negative"));
	CU_ASSERT(rejected("-5-10", "negative"));
	CU_ASSERT(rejected("5--10", "negative"));
	CU_ASSERT(rejected("abc", "not a number"));
	CU_ASSERT(rejected("10-2x", "not a number"));
	CU_ASSERT(rejected("1-2-3", "not a number"));
	CU_ASSERT(rejected("1 - 2", "not a number"));
	CU_ASSERT(rejected("0x10", "not a number"));
	CU_ASSERT(rejected("1+2-3", "both"));
	CU_ASSERT(rejected("10-", "missing end port"));
	CU_ASSERT(rejected("+5", "missing start port"));
	CU_ASSERT(rejected("5+", "missing offset"));
}

/* Range "1-1": one port, then exhausted; releasing makes it available. */
static void
test_portalloc_fully_allocated(void)
{
	struct portalloc	*pa;
	uint16_t		 port = 0;

	pa = portalloc_new(1, 1);
	CU_ASSERT_EQUAL(portalloc_get(pa, &port), 0);
	CU_ASSERT_EQUAL(port, 1);
	CU_ASSERT_EQUAL(portalloc_used(pa), 1);
	CU_ASSERT_EQUAL(portalloc_get(pa, &port), -1);
	portalloc_release(pa, 1);
	CU_ASSERT_EQUAL(portalloc_used(pa), 0);
	CU_ASSERT_EQUAL(portalloc_get(pa, &port), 0);
	CU_ASSERT_EQUAL(port, 1);
	CU_ASSERT_EQUAL(portalloc_get(pa, &port), -1);
	portalloc_free(pa);
}

/* Allocate all of pa's 100 ports into order; 1 if each came once. */
static int
allocate_all(struct portalloc *pa, uint16_t *order)
{
	unsigned char	seen[101] = { 0 };
	uint16_t	port;
	int		i;

	for (i = 0; i < 100; i++) {
		if (portalloc_get(pa, &port) == -1 || port < 1 || port > 100 ||
		    seen[port])
			return (0);
		seen[port] = 1;
		order[i] = port;
	}
	return (portalloc_get(pa, &port) == -1);
}

/*
 * Range "1-100": all 100 ports come out once, then none; after a full
 * release they come out again in another order.  Equal orders would
 * need the same random start on most of 100 draws: negligible odds.
 */
static void
test_portalloc_randomish(void)
{
	struct portalloc	*pa;
	uint16_t		 first[100], second[100], p;

	pa = portalloc_new(1, 100);
	CU_ASSERT_FATAL(allocate_all(pa, first));
	CU_ASSERT_EQUAL(portalloc_used(pa), 100);
	for (p = 1; p <= 100; p++)
		portalloc_release(pa, p);
	CU_ASSERT_EQUAL(portalloc_used(pa), 0);
	CU_ASSERT_FATAL(allocate_all(pa, second));
	CU_ASSERT(memcmp(first, second, sizeof(first)) != 0);
	portalloc_free(pa);
}

/* Reserving claims a port once; get then never hands it out. */
static void
test_portalloc_reserve(void)
{
	struct portalloc	*pa;
	uint16_t		 port;
	int			 i, ok = 1;

	pa = portalloc_new(40000, 3);
	CU_ASSERT_EQUAL(portalloc_reserve(pa, 40001), 0);
	CU_ASSERT_EQUAL(portalloc_reserve(pa, 40001), -1);
	CU_ASSERT_EQUAL(portalloc_reserve(pa, 39999), -1);
	CU_ASSERT_EQUAL(portalloc_reserve(pa, 40003), -1);
	CU_ASSERT_EQUAL(portalloc_reserve(pa, 0), -1);
	CU_ASSERT_EQUAL(portalloc_used(pa), 1);
	for (i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL(portalloc_get(pa, &port), 0);
		ok = ok && (port == 40000 || port == 40002);
	}
	CU_ASSERT(ok);
	CU_ASSERT_EQUAL(portalloc_get(pa, &port), -1);
	CU_ASSERT_EQUAL(portalloc_reserve(pa, 40000), -1);
	portalloc_release(pa, 40001);
	CU_ASSERT_EQUAL(portalloc_reserve(pa, 40001), 0);
	portalloc_free(pa);
}

/* Releasing a port outside the range, 0, or a free port changes nothing. */
static void
test_portalloc_release_ignored(void)
{
	struct portalloc	*pa;
	uint16_t		 port;

	pa = portalloc_new(100, 2);
	CU_ASSERT_EQUAL(portalloc_get(pa, &port), 0);
	CU_ASSERT_EQUAL(portalloc_used(pa), 1);
	portalloc_release(pa, 0);
	portalloc_release(pa, 99);
	portalloc_release(pa, 102);
	portalloc_release(pa, 65535);
	portalloc_release(pa, port == 100 ? 101 : 100);
	CU_ASSERT_EQUAL(portalloc_used(pa), 1);
	CU_ASSERT_EQUAL(portalloc_reserve(pa, port), -1);
	portalloc_release(pa, port);
	CU_ASSERT_EQUAL(portalloc_used(pa), 0);
	portalloc_free(pa);
}

/* Kernel-chosen mode hands out 0 and tracks nothing. */
static void
test_portalloc_kernel_mode(void)
{
	struct portalloc	*pa;
	uint16_t		 port = 7;
	int			 i;

	pa = portalloc_new(0, 0);
	for (i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(portalloc_get(pa, &port), 0);
		CU_ASSERT_EQUAL(port, 0);
	}
	CU_ASSERT_EQUAL(portalloc_reserve(pa, 31000), 0);
	CU_ASSERT_EQUAL(portalloc_reserve(pa, 31000), 0);
	portalloc_release(pa, 31000);
	CU_ASSERT_EQUAL(portalloc_used(pa), 0);
	portalloc_free(pa);

	/* Base 0 with a size is still kernel-chosen, as upstream. */
	pa = portalloc_new(0, 100);
	CU_ASSERT_EQUAL(portalloc_get(pa, &port), 0);
	CU_ASSERT_EQUAL(port, 0);
	portalloc_free(pa);
}

/* A range running past 65535 is cut at 65535. */
static void
test_portalloc_top_of_range(void)
{
	struct portalloc	*pa;
	uint16_t		 port;
	int			 i, ok = 1;

	pa = portalloc_new(65530, 100);
	for (i = 0; i < 6; i++) {
		ok = ok && portalloc_get(pa, &port) == 0 && port >= 65530;
	}
	CU_ASSERT(ok);
	CU_ASSERT_EQUAL(portalloc_get(pa, &port), -1);
	CU_ASSERT_EQUAL(portalloc_used(pa), 6);
	portalloc_free(pa);
}

/*
 * With one free port left in a range spanning three bitmap words, get
 * finds it from any random start (scan across words and wrap).
 */
static void
test_portalloc_scan_wraps(void)
{
	static const uint16_t	 holes[] = { 1000, 1063, 1064, 1127, 1129 };
	struct portalloc	*pa;
	uint16_t		 port;
	size_t			 h;
	int			 i, ok = 1;

	pa = portalloc_new(1000, 130);
	for (port = 1000; port < 1130; port++)
		CU_ASSERT_EQUAL(portalloc_reserve(pa, port), 0);
	for (h = 0; h < sizeof(holes) / sizeof(holes[0]); h++) {
		portalloc_release(pa, holes[h]);
		for (i = 0; i < 50; i++) {
			ok = ok && portalloc_get(pa, &port) == 0 &&
			    port == holes[h];
			portalloc_release(pa, holes[h]);
		}
		CU_ASSERT_EQUAL(portalloc_reserve(pa, holes[h]), 0);
	}
	CU_ASSERT(ok);
	CU_ASSERT_EQUAL(portalloc_get(pa, &port), -1);
	portalloc_free(pa);
}

/* A new range: empty, then only its own ports are handed out. */
static void
test_portalloc_set_range(void)
{
	struct portalloc	*pa = portalloc_new(1000, 10);
	uint16_t		 port;
	int			 i;

	for (i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(portalloc_get(pa, &port), 0);
	CU_ASSERT_EQUAL(portalloc_get(pa, &port), -1);
	portalloc_set_range(pa, 2000, 3);
	CU_ASSERT_EQUAL(portalloc_used(pa), 0);
	/* A port still held from the old range: released, ignored. */
	portalloc_release(pa, 1005);
	CU_ASSERT_EQUAL(portalloc_reserve(pa, 2001), 0);
	for (i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL(portalloc_get(pa, &port), 0);
		CU_ASSERT(port == 2000 || port == 2002);
	}
	CU_ASSERT_EQUAL(portalloc_get(pa, &port), -1);
	portalloc_set_range(pa, 0, 0);
	CU_ASSERT_EQUAL(portalloc_get(pa, &port), 0);
	CU_ASSERT_EQUAL(port, 0);
	portalloc_free(pa);
}

static const struct tu_case cases[] = {
	{ "parse valid ranges", test_portalloc_parse_valid },
	{ "parse invalid ranges", test_portalloc_parse_invalid },
	{ "fully allocated 1-1", test_portalloc_fully_allocated },
	{ "randomish allocation 1-100", test_portalloc_randomish },
	{ "reserve", test_portalloc_reserve },
	{ "release ignores strays", test_portalloc_release_ignored },
	{ "kernel-chosen mode", test_portalloc_kernel_mode },
	{ "range cut at 65535", test_portalloc_top_of_range },
	{ "scan across words and wrap", test_portalloc_scan_wraps },
	{ "range changed live", test_portalloc_set_range },
	{ NULL, NULL }
};

TU_MAIN("portalloc", cases)
