/*
 * netutil.h: address parsing and printing, socket helpers.
 */
#ifndef NETUTIL_H
#define NETUTIL_H

#include <sys/socket.h>

#include <netinet/in.h>

#include <stddef.h>
#include <stdint.h>

/* Room for "[v6addr%scope]:65535" and a NUL. */
#define NETUTIL_ADDRSTRLEN	(INET6_ADDRSTRLEN + 16)

/* Flags for netutil_listen(). */
#define NETUTIL_F_REUSEPORT	0x1	/* SO_REUSEPORT, for per-core loops */
#define NETUTIL_F_FREEBIND	0x2	/* IP_FREEBIND, for node port claims */
#define NETUTIL_F_DUALSTACK	0x4	/* on [::], also accept IPv4 */

/*
 * Parse a numeric IPv4 or IPv6 address (no port) into ss.  Returns the
 * address family, or -1 if s is not an IP address.  *len gets the
 * sockaddr length; the port is 0.
 */
int	 netutil_parse_ip(const char *s, struct sockaddr_storage *ss,
	    socklen_t *len);

/*
 * Parse "IP:port" or "[IPv6]:port".  Returns the family, or -1 with a
 * reason in err.  A port of 0 is allowed (callers decide).
 */
int	 netutil_parse_hostport(const char *s, struct sockaddr_storage *ss,
	    socklen_t *len, char *err, size_t errlen);

/* Return the port of an AF_INET or AF_INET6 sockaddr, host order. */
uint16_t netutil_get_port(const struct sockaddr *);
/* Set the port of an AF_INET or AF_INET6 sockaddr. */
void	 netutil_set_port(struct sockaddr *, uint16_t);
/* Return 1 if the address is 0.0.0.0 or ::. */
int	 netutil_is_unspecified(const struct sockaddr *);
/* Return 1 if the address is in 127/8 or is ::1. */
int	 netutil_is_loopback(const struct sockaddr *);

/*
 * Print sa as "1.2.3.4:80" or "[::1]:80" into buf (NETUTIL_ADDRSTRLEN).
 * Returns buf.
 */
const char *netutil_ntop(const struct sockaddr *sa, char *buf, size_t len);
/* Print only the IP of sa into buf.  Returns buf. */
const char *netutil_ntop_ip(const struct sockaddr *sa, char *buf, size_t len);

/*
 * Canonicalise a textual IP: writes the inet_ntop form into buf.
 * Returns the family, or -1 if s is not an IP.
 */
int	 netutil_canon_ip(const char *s, char *buf, size_t len);

/*
 * Open a non-blocking, close-on-exec listening socket: proto is
 * IPPROTO_TCP (SOCK_STREAM, listen()ed) or IPPROTO_UDP (SOCK_DGRAM).
 * SO_REUSEADDR is set for TCP only (on UDP it would hide a bind
 * conflict).  Returns the fd, or -1 with errno set and
 * a reason in err.
 */
int	 netutil_listen(int proto, const struct sockaddr *sa, socklen_t len,
	    int flags, char *err, size_t errlen);
/*
 * netutil_listen() on the wildcard address of both families: [::]:port
 * with IPV6_V6ONLY off (NETUTIL_F_DUALSTACK is implied), or 0.0.0.0:port
 * if the kernel has no IPv6 (socket() fails with EAFNOSUPPORT).  port 0
 * lets the kernel choose.  Returns the fd, or -1 with errno set and a
 * reason in err, as netutil_listen().
 */
int	 netutil_listen_any(int proto, uint16_t port, int flags, char *err,
	    size_t errlen);
/* Return the local port of a bound socket, or 0 on error. */
uint16_t netutil_local_port(int fd);

/* Protocol name to IPPROTO_TCP / IPPROTO_UDP / IPPROTO_SCTP, or -1. */
int	 netutil_proto_parse(const char *);
/* IPPROTO_* to "TCP" / "UDP" / "SCTP". */
const char *netutil_proto_name(int);

#endif /* NETUTIL_H */
