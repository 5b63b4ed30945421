/*
 * test_nodeip.c: the node IP: the default route picked from /proc route
 * text, interface addresses, and detection on this host.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodeip.h"
#include "tu.h"

/* As big as the iptables tests' buffers were (IPT_ERRLEN). */
#define NODEIP_TEST_ERRLEN	1024

static const char route4[] =
    "Iface\tDestination\tGateway "
    "\tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
    "eth1\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
    "eth1\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
    "eth0\t00000000\t010010AC\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
    "eth2\t00000000\t010010AC\t0002\t0\t0\t1\t00000000\t0\t0\t0\n";

static const char route6[] =
    "00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 ffffffff 00000001 00000000 "
    "00200200       lo\n"
    "fd000000000000000000000000000000 40 "
    "00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000100 00000001 00000000 "
    "00000001     eth0\n"
    "00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00 "
    "fe800000000000000000000000000001 00000400 00000001 00000000 "
    "00000003     eth3\n";

/* The default route's interface: lowest metric, skipping lo/reject. */
static void
test_nodeip_default_route(void)
{
	char		 ifname[32];

	CU_ASSERT_EQUAL(nodeip_parse_default_route(AF_INET, route4, ifname,
	    sizeof(ifname)), 0);
	CU_ASSERT_STRING_EQUAL(ifname, "eth0");
	CU_ASSERT_EQUAL(nodeip_parse_default_route(AF_INET6, route6, ifname,
	    sizeof(ifname)), 0);
	CU_ASSERT_STRING_EQUAL(ifname, "eth3");
	/* Without default routes there is no answer. */
	CU_ASSERT_EQUAL(nodeip_parse_default_route(AF_INET, "Iface\tDest\n"
	    "eth1\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n",
	    ifname, sizeof(ifname)), -1);
	CU_ASSERT_EQUAL(nodeip_parse_default_route(AF_INET6, "", ifname,
	    sizeof(ifname)), -1);
}

/* Blank lines, a last line without newline, overlong lines, NULL. */
static void
test_nodeip_default_route_lines(void)
{
	char	 ifname[32], text[1024];

	/* The best route is the last line, which has no newline. */
	CU_ASSERT_EQUAL(nodeip_parse_default_route(AF_INET, "\n\n"
	    "eth1\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
	    "\n"
	    "eth4\t00000000\t0101A8C0\t0003\t0\t0\t5\t00000000\t0\t0\t0",
	    ifname, sizeof(ifname)), 0);
	CU_ASSERT_STRING_EQUAL(ifname, "eth4");
	/* A line of 512 bytes or more is passed over. */
	memset(text, ' ', sizeof(text));
	snprintf(text + 600, sizeof(text) - 600, "eth5\t00000000\t0101A8C0"
	    "\t0003\t0\t0\t1\t00000000\t0\t0\t0\n");
	CU_ASSERT_EQUAL(nodeip_parse_default_route(AF_INET, text, ifname,
	    sizeof(ifname)), -1);
	CU_ASSERT_EQUAL(nodeip_parse_default_route(AF_INET, text + 600, ifname,
	    sizeof(ifname)), 0);
	CU_ASSERT_STRING_EQUAL(ifname, "eth5");
	CU_ASSERT_EQUAL(nodeip_parse_default_route(AF_INET, NULL, ifname,
	    sizeof(ifname)), -1);
}

/* Interface addresses: loopback is never the node IP. */
static void
test_nodeip_iface_addr(void)
{
	struct ifaddrs	*ifa, *i;
	char		 buf[64], err[NODEIP_TEST_ERRLEN];
	const char	*name = NULL;
	int		 r;

	CU_ASSERT_EQUAL(nodeip_iface_addr(AF_INET, "lo", buf, sizeof(buf), err,
	    sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "has no global IPv4 address"));
	CU_ASSERT_EQUAL(nodeip_iface_addr(AF_INET, "kuproxy-none0", buf,
	    sizeof(buf), err, sizeof(err)), -1);
	/* Any interface with a global IPv4 address yields an address. */
	CU_ASSERT_FATAL(getifaddrs(&ifa) == 0);
	for (i = ifa; i != NULL && name == NULL; i = i->ifa_next)
		if (i->ifa_addr != NULL && i->ifa_addr->sa_family == AF_INET &&
		    strcmp(i->ifa_name, "lo") != 0 && ntohl(((struct
		    sockaddr_in *)i->ifa_addr)->sin_addr.s_addr) >> 24 != 127)
			name = i->ifa_name;
	if (name != NULL) {
		CU_ASSERT_EQUAL(nodeip_iface_addr(AF_INET, name, buf,
		    sizeof(buf), err, sizeof(err)), 0);
		CU_ASSERT(inet_pton(AF_INET, buf, &r) == 1);
	}
	freeifaddrs(ifa);
}

/* Detection on this host: an IP, or the error naming the flag. */
static void
test_nodeip_detect(void)
{
	char		 buf[64], err[NODEIP_TEST_ERRLEN];
	struct in6_addr	 a;

	if (nodeip_detect(AF_INET, buf, sizeof(buf), err,
	    sizeof(err)) == 0) {
		CU_ASSERT(inet_pton(AF_INET, buf, &a) == 1);
	} else {
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "--bind-address"));
	}
	if (nodeip_detect(AF_INET6, buf, sizeof(buf), err,
	    sizeof(err)) == 0) {
		CU_ASSERT(inet_pton(AF_INET6, buf, &a) == 1);
	} else {
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "--bind-address"));
	}
}

static const struct tu_case cases[] = {
	{ "default route", test_nodeip_default_route },
	{ "default route lines", test_nodeip_default_route_lines },
	{ "iface addr", test_nodeip_iface_addr },
	{ "detect host ip", test_nodeip_detect },
	{ NULL, NULL }
};

TU_MAIN("nodeip", cases)
