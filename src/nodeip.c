/*
 * nodeip.c: the node IP from the default route, as kube-proxy's
 * utilnet.ChooseHostInterface does: the lowest-metric default route that
 * is up, not a reject route and not through "lo", then the first global
 * address of its interface.
 *
 * The route tables are parsed from their /proc text so the choice can be
 * tested on fixed input (nodeip_parse_default_route).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>

#include <errno.h>
#include <ifaddrs.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "netutil.h"
#include "nodeip.h"

/* Return 1 if an IPv4 default route line is usable; set metric. */
static int
nodeip_route4(const char *line, char *ifname, size_t len, unsigned long *metric)
{
	char		iface[IFNAMSIZ + 1];
	unsigned long	dst, gw, mask;
	unsigned int	flags;
	int		ref, use;

	if (sscanf(line, "%16s %lx %lx %x %d %d %lu %lx", iface, &dst, &gw,
	    &flags, &ref, &use, metric, &mask) != 8)
		return (0);
	if (dst != 0 || mask != 0 || !(flags & RTF_UP) ||
	    (flags & RTF_REJECT) || strcmp(iface, "lo") == 0)
		return (0);
	snprintf(ifname, len, "%s", iface);
	return (1);
}

/* Return 1 if an IPv6 default route line is usable; set metric. */
static int
nodeip_route6(const char *line, char *ifname, size_t len, unsigned long *metric)
{
	char		dst[33], src[33], gw[33], iface[IFNAMSIZ + 1];
	unsigned int	plen, splen, ref, use, flags;

	if (sscanf(line, "%32s %x %32s %x %32s %lx %x %x %x %16s", dst, &plen,
	    src, &splen, gw, metric, &ref, &use, &flags, iface) != 10)
		return (0);
	if (strspn(dst, "0") != 32 || plen != 0 || !(flags & RTF_UP) ||
	    (flags & RTF_REJECT) || strcmp(iface, "lo") == 0)
		return (0);
	snprintf(ifname, len, "%s", iface);
	return (1);
}

/* Find the default route's interface in a /proc route table. */
int
nodeip_parse_default_route(int family, const char *text, char *ifname,
    size_t len)
{
	const char	*line;
	char		 buf[512], cand[IFNAMSIZ + 1];
	unsigned long	 metric, best = 0;
	size_t		 llen;
	int		 found = 0, ok;

	/* One line at a time; the last one may lack its newline. */
	line = text != NULL ? text : "";
	for (; *line != '\0'; line += llen + (line[llen] == '\n')) {
		llen = strcspn(line, "\n");
		if (llen >= sizeof(buf))
			continue;
		memcpy(buf, line, llen);
		buf[llen] = '\0';
		if (family == AF_INET)
			ok = nodeip_route4(buf, cand, sizeof(cand), &metric);
		else
			ok = nodeip_route6(buf, cand, sizeof(cand), &metric);
		if (ok && (!found || metric < best)) {
			snprintf(ifname, len, "%s", cand);
			best = metric;
			found = 1;
		}
	}
	return (found ? 0 : -1);
}

/* Return 1 if a is a global address: not loopback, not link-local. */
static int
nodeip_addr_global(const struct sockaddr *sa)
{
	const struct in6_addr	*a6;
	uint32_t		 a4;

	if (sa->sa_family == AF_INET) {
		a4 = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
		return ((a4 >> 24) != 127 && (a4 >> 16) != 0xa9fe && a4 != 0);
	}
	a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	return (!IN6_IS_ADDR_LOOPBACK(a6) && !IN6_IS_ADDR_LINKLOCAL(a6) &&
	    !IN6_IS_ADDR_UNSPECIFIED(a6) && !IN6_IS_ADDR_V4MAPPED(a6));
}

/* Find the first global address of a family on an interface. */
int
nodeip_iface_addr(int family, const char *ifname, char *buf, size_t len,
    char *err, size_t errlen)
{
	struct ifaddrs	*ifa, *i;
	int		 rv = -1;

	if (getifaddrs(&ifa) == -1) {
		snprintf(err, errlen, "getifaddrs: %s", strerror(errno));
		return (-1);
	}
	for (i = ifa; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != family ||
		    strcmp(i->ifa_name, ifname) != 0 ||
		    !nodeip_addr_global(i->ifa_addr))
			continue;
		netutil_ntop_ip(i->ifa_addr, buf, len);
		rv = 0;
		break;
	}
	freeifaddrs(ifa);
	if (rv == -1)
		snprintf(err, errlen, "interface %s has no global IPv%d "
		    "address: set --bind-address to this node's IP", ifname,
		    family == AF_INET ? 4 : 6);
	return (rv);
}

/* Find the node IP: the default route interface's first address. */
int
nodeip_detect(int family, char *buf, size_t len, char *err,
    size_t errlen)
{
	const char	*path;
	char		 text[65536], ifname[IFNAMSIZ + 1];
	FILE		*f;
	size_t		 n;

	path = family == AF_INET ? "/proc/net/route" : "/proc/net/ipv6_route";
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return (-1);
	}
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	if (nodeip_parse_default_route(family, text, ifname,
	    sizeof(ifname)) == -1) {
		snprintf(err, errlen, "no %sdefault route: cannot choose the "
		    "node IP; set --bind-address to this node's IP",
		    family == AF_INET ? "" : "IPv6 ");
		return (-1);
	}
	return (nodeip_iface_addr(family, ifname, buf, len, err, errlen));
}
