/*
 * nodeip.h: this node's IP, found as kube-proxy finds it when
 * --bind-address is a wildcard: the first global address of the
 * interface the default route goes through.
 *
 * Linux only: routes are read from /proc/net/route and
 * /proc/net/ipv6_route, addresses with getifaddrs(3).  Errors go to an
 * err buffer and say which flag to set instead; nothing is logged.
 */
#ifndef NODEIP_H
#define NODEIP_H

#include <stddef.h>

/*
 * Find this node's IP of a family (AF_INET or AF_INET6) as kube-proxy
 * does when --bind-address is a wildcard: the first global address of
 * the default route's interface (lowest metric; /proc/net/route or
 * /proc/net/ipv6_route).  Writes the text form into buf.  Returns 0, or
 * -1 with a reason in err, "no default route: cannot choose the node IP;
 * set --bind-address to this node's IP" when there is none.
 */
int	 nodeip_detect(int family, char *buf, size_t len, char *err,
	    size_t errlen);
/*
 * The default route's interface from the text of /proc/net/route
 * (AF_INET) or /proc/net/ipv6_route (AF_INET6): up, not a reject route,
 * not "lo", lowest metric.  Writes its name into ifname.  Returns 0, or
 * -1 if there is none.  Pure; public for tests.
 */
int	 nodeip_parse_default_route(int family, const char *text,
	    char *ifname, size_t len);
/*
 * The first global (not loopback, not link-local) address of a family
 * on interface ifname, in text form into buf.  Returns 0, or -1 with a
 * reason in err (getifaddrs failed, or no such address: "interface X
 * has no global IPv4 address: set --bind-address to this node's IP").
 */
int	 nodeip_iface_addr(int family, const char *ifname, char *buf,
	    size_t len, char *err, size_t errlen);

#endif /* NODEIP_H */
