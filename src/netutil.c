/*
 * netutil.c: address parsing and printing, socket helpers.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "netutil.h"

/* Parse a numeric IP into ss. */
int
netutil_parse_ip(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		*len = sizeof(*sin);
		return (AF_INET);
	}
	if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		*len = sizeof(*sin6);
		return (AF_INET6);
	}
	return (-1);
}

/* Parse "IP:port" or "[IPv6]:port". */
int
netutil_parse_hostport(const char *s, struct sockaddr_storage *ss,
    socklen_t *len, char *err, size_t errlen)
{
	char		 host[INET6_ADDRSTRLEN + 1];
	const char	*colon, *hs, *he;
	char		*end;
	unsigned long	 port;
	int		 af;

	if (*s == '[') {
		hs = s + 1;
		if ((he = strchr(hs, ']')) == NULL || he[1] != ':') {
			snprintf(err, errlen, "\"%s\": expected [IPv6]:port",
			    s);
			return (-1);
		}
		colon = he + 1;
	} else {
		hs = s;
		if ((colon = strrchr(s, ':')) == NULL) {
			snprintf(err, errlen, "\"%s\": missing port", s);
			return (-1);
		}
		he = colon;
		if (memchr(hs, ':', he - hs) != NULL) {
			snprintf(err, errlen,
			    "\"%s\": IPv6 address must be in brackets", s);
			return (-1);
		}
	}
	if ((size_t)(he - hs) >= sizeof(host)) {
		snprintf(err, errlen, "\"%s\": address too long", s);
		return (-1);
	}
	memcpy(host, hs, he - hs);
	host[he - hs] = '\0';
	if ((af = netutil_parse_ip(host, ss, len)) == -1) {
		snprintf(err, errlen, "\"%s\": \"%s\" is not an IP address",
		    s, host);
		return (-1);
	}
	/* strtoul alone would take " 80", "+80" and "-0". */
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (!isdigit((unsigned char)colon[1]) || *end != '\0' || errno != 0 ||
	    port > 65535) {
		snprintf(err, errlen, "\"%s\": invalid port \"%s\"", s,
		    colon + 1);
		return (-1);
	}
	netutil_set_port((struct sockaddr *)ss, (uint16_t)port);
	return (af);
}

/* Return the port of sa in host order. */
uint16_t
netutil_get_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohs(((const struct sockaddr_in *)sa)->sin_port));
	if (sa->sa_family == AF_INET6)
		return (ntohs(((const struct sockaddr_in6 *)sa)->sin6_port));
	return (0);
}

/* Set the port of sa. */
void
netutil_set_port(struct sockaddr *sa, uint16_t port)
{
	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)sa)->sin_port = htons(port);
	else if (sa->sa_family == AF_INET6)
		((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
}

/* Return 1 for the wildcard address of either family. */
int
netutil_is_unspecified(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (((const struct sockaddr_in *)sa)->sin_addr.s_addr ==
		    htonl(INADDR_ANY));
	if (sa->sa_family == AF_INET6)
		return (IN6_IS_ADDR_UNSPECIFIED(
		    &((const struct sockaddr_in6 *)sa)->sin6_addr));
	return (0);
}

/* Return 1 for 127/8 and ::1. */
int
netutil_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ((ntohl(((const struct sockaddr_in *)sa)->
		    sin_addr.s_addr) >> 24) == 127);
	if (sa->sa_family == AF_INET6)
		return (IN6_IS_ADDR_LOOPBACK(
		    &((const struct sockaddr_in6 *)sa)->sin6_addr));
	return (0);
}

/* Print only the IP of sa. */
const char *
netutil_ntop_ip(const struct sockaddr *sa, char *buf, size_t len)
{
	const void	*src;

	if (sa->sa_family == AF_INET)
		src = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		src = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	else {
		snprintf(buf, len, "(af %d)", sa->sa_family);
		return (buf);
	}
	if (inet_ntop(sa->sa_family, src, buf, len) == NULL)
		snprintf(buf, len, "(invalid)");
	return (buf);
}

/* Print sa as ip:port. */
const char *
netutil_ntop(const struct sockaddr *sa, char *buf, size_t len)
{
	char	ip[INET6_ADDRSTRLEN];

	netutil_ntop_ip(sa, ip, sizeof(ip));
	if (sa->sa_family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, netutil_get_port(sa));
	else
		snprintf(buf, len, "%s:%u", ip, netutil_get_port(sa));
	return (buf);
}

/* Canonicalise a textual IP. */
int
netutil_canon_ip(const char *s, char *buf, size_t len)
{
	struct sockaddr_storage	ss;
	socklen_t		sl;
	int			af;

	if ((af = netutil_parse_ip(s, &ss, &sl)) == -1)
		return (-1);
	/*
	 * inet_pton() takes IPv4 only as four decimal numbers without
	 * leading zeros: such text is canonical already.  Skipping
	 * inet_ntop() (an sprintf) was a fifth of a 10k-rule render.
	 */
	if (af == AF_INET && strlen(s) < len)
		memcpy(buf, s, strlen(s) + 1);
	else
		netutil_ntop_ip((struct sockaddr *)&ss, buf, len);
	return (af);
}

/* Open a bound, non-blocking socket; listen() it for TCP. */
int
netutil_listen(int proto, const struct sockaddr *sa, socklen_t len,
    int flags, char *err, size_t errlen)
{
	char	addr[NETUTIL_ADDRSTRLEN];
	int	fd, on = 1, off = 0, type, saved;

	type = proto == IPPROTO_UDP ? SOCK_DGRAM : SOCK_STREAM;
	netutil_ntop(sa, addr, sizeof(addr));
	fd = socket(sa->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return (-1);
	}
	/*
	 * TCP only: on a UDP socket SO_REUSEADDR lets a second socket bind
	 * the very same address and port without an error, hiding a port
	 * collision (Linux then delivers to only one of them).  With port
	 * 0 it is set after bind(): set before, the kernel's search for a
	 * port that no reuse rule lets collide gets quadratic (15 s for 10k
	 * listeners here, against 0.25 s).  It must still be set before
	 * listen(), because accepted sockets inherit it: a successor that
	 * rebinds the port after a restart is refused by the TIME_WAIT
	 * connections of this one unless both sides carry it.
	 */
	if (type == SOCK_STREAM && netutil_get_port(sa) != 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		goto fail;
	/*
	 * SO_REUSEPORT before bind() only on a given port: the siblings
	 * of a worker group.  With port 0 it is set after bind() (and
	 * before listen(), where TCP forms the group), so the kernel's
	 * choice can never be a port another process shares this way.
	 */
	if ((flags & NETUTIL_F_REUSEPORT) && netutil_get_port(sa) != 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1)
		goto fail;
	if ((flags & NETUTIL_F_FREEBIND) && sa->sa_family == AF_INET &&
	    setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &on, sizeof(on)) == -1)
		goto fail;
	if ((flags & NETUTIL_F_DUALSTACK) && sa->sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) == -1)
		goto fail;
	if (bind(fd, sa, len) == -1) {
		saved = errno;
		snprintf(err, errlen, "bind %s/%s: %s", addr,
		    netutil_proto_name(proto), strerror(saved));
		close(fd);
		errno = saved;
		return (-1);
	}
	if (type == SOCK_STREAM && netutil_get_port(sa) == 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		goto fail;
	if ((flags & NETUTIL_F_REUSEPORT) && netutil_get_port(sa) == 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1)
		goto fail;
	if (type == SOCK_STREAM && listen(fd, 4096) == -1)
		goto fail;
	return (fd);

fail:
	saved = errno;
	snprintf(err, errlen, "socket %s/%s: %s", addr,
	    netutil_proto_name(proto), strerror(saved));
	close(fd);
	errno = saved;
	return (-1);
}

/* Listen on the wildcard of both families, or of IPv4 without IPv6. */
int
netutil_listen_any(int proto, uint16_t port, int flags, char *err,
    size_t errlen)
{
	struct sockaddr_in6	sin6;
	struct sockaddr_in	sin;
	int			fd;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(port);
	fd = netutil_listen(proto, (struct sockaddr *)&sin6, sizeof(sin6),
	    flags | NETUTIL_F_DUALSTACK, err, errlen);
	if (fd != -1 || errno != EAFNOSUPPORT)
		return (fd);
	/* A kernel without IPv6 (ipv6.disable=1): plain 0.0.0.0. */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	return (netutil_listen(proto, (struct sockaddr *)&sin, sizeof(sin),
	    flags & ~NETUTIL_F_DUALSTACK, err, errlen));
}

/* Return the local port of fd. */
uint16_t
netutil_local_port(int fd)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return (0);
	return (netutil_get_port((struct sockaddr *)&ss));
}

/* Parse a Kubernetes protocol name. */
int
netutil_proto_parse(const char *s)
{
	if (strcasecmp(s, "TCP") == 0)
		return (IPPROTO_TCP);
	if (strcasecmp(s, "UDP") == 0)
		return (IPPROTO_UDP);
	if (strcasecmp(s, "SCTP") == 0)
		return (IPPROTO_SCTP);
	return (-1);
}

/* Return the Kubernetes name of an IPPROTO_* value. */
const char *
netutil_proto_name(int proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return ("TCP");
	case IPPROTO_UDP:
		return ("UDP");
	case IPPROTO_SCTP:
		return ("SCTP");
	}
	return ("?");
}
