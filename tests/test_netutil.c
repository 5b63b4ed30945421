/*
 * test_netutil.c: address parsing and printing, listening sockets.
 * Network tests use only 127.0.0.1 and ::1.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "netutil.h"
#include "tu.h"

/* Parse s as host:port and print it back; return the family. */
static int
roundtrip(const char *s, char *out, size_t outlen)
{
	struct sockaddr_storage	ss;
	socklen_t		len = 0;
	char			err[256] = "";
	int			af;

	af = netutil_parse_hostport(s, &ss, &len, err, sizeof(err));
	if (af == -1) {
		snprintf(out, outlen, "error: %s", err);
		return (-1);
	}
	if ((af == AF_INET && len != sizeof(struct sockaddr_in)) ||
	    (af == AF_INET6 && len != sizeof(struct sockaddr_in6)))
		return (-2);
	netutil_ntop((struct sockaddr *)&ss, out, outlen);
	return (af);
}

/* Return 1 if s is rejected with an error containing want. */
static int
hostport_bad(const char *s, const char *want)
{
	struct sockaddr_storage	ss;
	socklen_t		len;
	char			err[256] = "";

	if (netutil_parse_hostport(s, &ss, &len, err, sizeof(err)) != -1) {
		fprintf(stderr, "accepted \"%s\"\n", s);
		return (0);
	}
	if (strstr(err, want) == NULL) {
		fprintf(stderr, "\"%s\": error \"%s\", want \"%s\"\n", s, err,
		    want);
		return (0);
	}
	return (1);
}

/* netutil_parse_ip: IPv4, IPv6, and anything else. */
static void
test_netutil_parse_ip(void)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 len;
	struct in6_addr		 want6;

	CU_ASSERT_EQUAL(netutil_parse_ip("10.1.2.3", &ss, &len), AF_INET);
	CU_ASSERT_EQUAL(len, sizeof(*sin));
	CU_ASSERT_EQUAL(sin->sin_family, AF_INET);
	CU_ASSERT_EQUAL(ntohl(sin->sin_addr.s_addr), 0x0a010203);
	CU_ASSERT_EQUAL(netutil_get_port((struct sockaddr *)&ss), 0);

	CU_ASSERT_EQUAL(netutil_parse_ip("2001:db8::1", &ss, &len), AF_INET6);
	CU_ASSERT_EQUAL(len, sizeof(*sin6));
	CU_ASSERT_EQUAL(sin6->sin6_family, AF_INET6);
	inet_pton(AF_INET6, "2001:db8::1", &want6);
	CU_ASSERT(memcmp(&sin6->sin6_addr, &want6, sizeof(want6)) == 0);
	CU_ASSERT_EQUAL(netutil_parse_ip("::", &ss, &len), AF_INET6);
	CU_ASSERT_EQUAL(netutil_parse_ip("::ffff:1.2.3.4", &ss, &len),
	    AF_INET6);

	CU_ASSERT_EQUAL(netutil_parse_ip("", &ss, &len), -1);
	CU_ASSERT_EQUAL(netutil_parse_ip("example.com", &ss, &len), -1);
	CU_ASSERT_EQUAL(netutil_parse_ip("1.2.3", &ss, &len), -1);
	CU_ASSERT_EQUAL(netutil_parse_ip("1.2.3.256", &ss, &len), -1);
	CU_ASSERT_EQUAL(netutil_parse_ip("1.2.3.4:80", &ss, &len), -1);
	CU_ASSERT_EQUAL(netutil_parse_ip("[::1]", &ss, &len), -1);
	CU_ASSERT_EQUAL(netutil_parse_ip(" 1.2.3.4", &ss, &len), -1);
	CU_ASSERT_EQUAL(netutil_parse_ip("2001:db8::1::2", &ss, &len), -1);
}

/* netutil_parse_hostport: good forms print back canonically. */
static void
test_netutil_parse_hostport_good(void)
{
	char	buf[NETUTIL_ADDRSTRLEN];

	CU_ASSERT_EQUAL(roundtrip("1.2.3.4:80", buf, sizeof(buf)), AF_INET);
	CU_ASSERT_STRING_EQUAL(buf, "1.2.3.4:80");
	CU_ASSERT_EQUAL(roundtrip("1.2.3.4:0", buf, sizeof(buf)), AF_INET);
	CU_ASSERT_STRING_EQUAL(buf, "1.2.3.4:0");
	CU_ASSERT_EQUAL(roundtrip("127.0.0.1:65535", buf, sizeof(buf)),
	    AF_INET);
	CU_ASSERT_STRING_EQUAL(buf, "127.0.0.1:65535");
	CU_ASSERT_EQUAL(roundtrip("[::1]:80", buf, sizeof(buf)), AF_INET6);
	CU_ASSERT_STRING_EQUAL(buf, "[::1]:80");
	CU_ASSERT_EQUAL(roundtrip("[2001:DB8:0::1]:443", buf, sizeof(buf)),
	    AF_INET6);
	CU_ASSERT_STRING_EQUAL(buf, "[2001:db8::1]:443");
	CU_ASSERT_EQUAL(roundtrip("[::]:0", buf, sizeof(buf)), AF_INET6);
	CU_ASSERT_STRING_EQUAL(buf, "[::]:0");
	CU_ASSERT_EQUAL(roundtrip("[::ffff:10.0.0.1]:53", buf, sizeof(buf)),
	    AF_INET6);
	CU_ASSERT_STRING_EQUAL(buf, "[::ffff:10.0.0.1]:53");
}

/* netutil_parse_hostport: every bad form is rejected, saying why. */
static void
test_netutil_parse_hostport_bad(void)
{
	CU_ASSERT(hostport_bad("1.2.3.4", "missing port"));
	CU_ASSERT(hostport_bad("1.2.3.4:", "invalid port"));
	CU_ASSERT(hostport_bad("1.2.3.4:65536", "invalid port"));
	CU_ASSERT(hostport_bad("1.2.3.4:99999999999999999999999",
	    "invalid port"));
	CU_ASSERT(hostport_bad("1.2.3.4:-1", "invalid port"));
	CU_ASSERT(hostport_bad("1.2.3.4:-0", "invalid port"));
	CU_ASSERT(hostport_bad("1.2.3.4:+80", "invalid port"));
	CU_ASSERT(hostport_bad("1.2.3.4: 80", "invalid port"));
	CU_ASSERT(hostport_bad("1.2.3.4:80 ", "invalid port"));
	CU_ASSERT(hostport_bad("1.2.3.4:http", "invalid port"));
	CU_ASSERT(hostport_bad("1.2.3.4:0x50", "invalid port"));
	CU_ASSERT(hostport_bad("::1:80", "brackets"));
	CU_ASSERT(hostport_bad("2001:db8::1", "brackets"));
	CU_ASSERT(hostport_bad("[::1]", "expected [IPv6]:port"));
	CU_ASSERT(hostport_bad("[::1]80", "expected [IPv6]:port"));
	CU_ASSERT(hostport_bad("[::1:80", "expected [IPv6]:port"));
	CU_ASSERT(hostport_bad("[::1]:", "invalid port"));
	CU_ASSERT(hostport_bad("example.com:80", "not an IP address"));
	CU_ASSERT(hostport_bad(":80", "not an IP address"));
	CU_ASSERT(hostport_bad("[]:80", "not an IP address"));
	CU_ASSERT(hostport_bad("[1111:2222:3333:4444:5555:6666:7777:8888:9999"
	    ":aaaa]:80", "too long"));
}

/* netutil_ntop and netutil_ntop_ip, ports and families. */
static void
test_netutil_ntop(void)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 buf[NETUTIL_ADDRSTRLEN], ip[64];

	CU_ASSERT_EQUAL(netutil_parse_ip("192.0.2.10", &ss, &len), AF_INET);
	netutil_set_port((struct sockaddr *)&ss, 8080);
	CU_ASSERT_EQUAL(netutil_get_port((struct sockaddr *)&ss), 8080);
	CU_ASSERT_STRING_EQUAL(netutil_ntop((struct sockaddr *)&ss, buf,
	    sizeof(buf)), "192.0.2.10:8080");
	CU_ASSERT_STRING_EQUAL(netutil_ntop_ip((struct sockaddr *)&ss, ip,
	    sizeof(ip)), "192.0.2.10");

	CU_ASSERT_EQUAL(netutil_parse_ip("fe80::1:2", &ss, &len), AF_INET6);
	netutil_set_port((struct sockaddr *)&ss, 65535);
	CU_ASSERT_STRING_EQUAL(netutil_ntop((struct sockaddr *)&ss, buf,
	    sizeof(buf)), "[fe80::1:2]:65535");
	CU_ASSERT_STRING_EQUAL(netutil_ntop_ip((struct sockaddr *)&ss, ip,
	    sizeof(ip)), "fe80::1:2");

	/* The longest IPv6 form fits NETUTIL_ADDRSTRLEN. */
	CU_ASSERT_EQUAL(netutil_parse_ip("ffff:ffff:ffff:ffff:ffff:ffff:"
	    "255.255.255.255", &ss, &len), AF_INET6);
	netutil_set_port((struct sockaddr *)&ss, 65535);
	CU_ASSERT_STRING_EQUAL(netutil_ntop((struct sockaddr *)&ss, buf,
	    sizeof(buf)), "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	CU_ASSERT_EQUAL(netutil_get_port((struct sockaddr *)&ss), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(netutil_ntop_ip((struct sockaddr *)&ss,
	    ip, sizeof(ip)), "af"));

	CU_ASSERT_EQUAL(netutil_canon_ip("2001:DB8:0:0::1", ip, sizeof(ip)),
	    AF_INET6);
	CU_ASSERT_STRING_EQUAL(ip, "2001:db8::1");
	CU_ASSERT_EQUAL(netutil_canon_ip("10.0.0.1", ip, sizeof(ip)), AF_INET);
	CU_ASSERT_STRING_EQUAL(ip, "10.0.0.1");
	CU_ASSERT_EQUAL(netutil_canon_ip("10.0.0.01x", ip, sizeof(ip)), -1);
	/* Only the canonical IPv4 form is taken as is. */
	CU_ASSERT_EQUAL(netutil_canon_ip("10.0.0.01", ip, sizeof(ip)), -1);
	CU_ASSERT_EQUAL(netutil_canon_ip("10.0.0", ip, sizeof(ip)), -1);
	CU_ASSERT_EQUAL(netutil_canon_ip("255.255.255.255", ip, sizeof(ip)),
	    AF_INET);
	CU_ASSERT_STRING_EQUAL(ip, "255.255.255.255");
	CU_ASSERT_EQUAL(netutil_canon_ip("::FFFF:10.0.0.1", ip, sizeof(ip)),
	    AF_INET6);
	CU_ASSERT_STRING_EQUAL(ip, "::ffff:10.0.0.1");
}

/* Parse s (IP only) into a static sockaddr. */
static const struct sockaddr *
sa(const char *s)
{
	static struct sockaddr_storage	ss[4];
	static int			n;
	struct sockaddr_storage		*p = &ss[n++ % 4];
	socklen_t			len;

	CU_ASSERT_FATAL(netutil_parse_ip(s, p, &len) != -1);
	return ((const struct sockaddr *)p);
}

/* Address predicates: unspecified, loopback. */
static void
test_netutil_predicates(void)
{
	CU_ASSERT(netutil_is_unspecified(sa("0.0.0.0")));
	CU_ASSERT(netutil_is_unspecified(sa("::")));
	CU_ASSERT(!netutil_is_unspecified(sa("0.0.0.1")));
	CU_ASSERT(!netutil_is_unspecified(sa("::1")));

	CU_ASSERT(netutil_is_loopback(sa("127.0.0.1")));
	CU_ASSERT(netutil_is_loopback(sa("127.255.0.9")));
	CU_ASSERT(netutil_is_loopback(sa("::1")));
	CU_ASSERT(!netutil_is_loopback(sa("128.0.0.1")));
	CU_ASSERT(!netutil_is_loopback(sa("126.255.255.255")));
	CU_ASSERT(!netutil_is_loopback(sa("::2")));
	CU_ASSERT(!netutil_is_loopback(sa("0.0.0.0")));
}

/* Protocol names, both ways. */
static void
test_netutil_proto(void)
{
	CU_ASSERT_EQUAL(netutil_proto_parse("TCP"), IPPROTO_TCP);
	CU_ASSERT_EQUAL(netutil_proto_parse("udp"), IPPROTO_UDP);
	CU_ASSERT_EQUAL(netutil_proto_parse("SCTP"), IPPROTO_SCTP);
	CU_ASSERT_EQUAL(netutil_proto_parse("ICMP"), -1);
	CU_ASSERT_EQUAL(netutil_proto_parse(""), -1);
	CU_ASSERT_STRING_EQUAL(netutil_proto_name(IPPROTO_TCP), "TCP");
	CU_ASSERT_STRING_EQUAL(netutil_proto_name(IPPROTO_UDP), "UDP");
	CU_ASSERT_STRING_EQUAL(netutil_proto_name(IPPROTO_SCTP), "SCTP");
}

/* Open a socket on ip:0 for proto; return the fd (checked). */
static int
listen_any(int proto, const char *ip, char *err, size_t errlen)
{
	struct sockaddr_storage	ss;
	socklen_t		len;

	CU_ASSERT_FATAL(netutil_parse_ip(ip, &ss, &len) != -1);
	return (netutil_listen(proto, (struct sockaddr *)&ss, len, 0, err,
	    errlen));
}

/* A socket on 127.0.0.1:0 gets a kernel port and the promised flags. */
static void
test_netutil_listen(void)
{
	static const int	 protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	char			 err[256];
	size_t			 i;
	int			 fd, type, acc;

	for (i = 0; i < 2; i++) {
		fd = listen_any(protos[i], "127.0.0.1", err, sizeof(err));
		CU_ASSERT_FATAL(fd != -1);
		CU_ASSERT(netutil_local_port(fd) != 0);
		CU_ASSERT(fcntl(fd, F_GETFL) & O_NONBLOCK);
		CU_ASSERT(fcntl(fd, F_GETFD) & FD_CLOEXEC);
		len = sizeof(type);
		CU_ASSERT_EQUAL(getsockopt(fd, SOL_SOCKET, SO_TYPE, &type,
		    &len), 0);
		CU_ASSERT_EQUAL(type, protos[i] == IPPROTO_TCP ? SOCK_STREAM :
		    SOCK_DGRAM);
		len = sizeof(acc);
		CU_ASSERT_EQUAL(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc,
		    &len), 0);
		CU_ASSERT_EQUAL(acc, protos[i] == IPPROTO_TCP);
		len = sizeof(ss);
		CU_ASSERT_EQUAL(getsockname(fd, (struct sockaddr *)&ss, &len),
		    0);
		CU_ASSERT(netutil_is_loopback((struct sockaddr *)&ss));
		close(fd);
	}
	CU_ASSERT_EQUAL(netutil_local_port(-1), 0);
}

/* The same on ::1, skipped if the host has no IPv6. */
static void
test_netutil_listen_ipv6(void)
{
	char	err[256];
	int	fd;

	fd = listen_any(IPPROTO_TCP, "::1", err, sizeof(err));
	if (fd == -1 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL)) {
		fprintf(stderr, "no IPv6 loopback, skipped: %s\n", err);
		return;
	}
	CU_ASSERT_FATAL(fd != -1);
	CU_ASSERT(netutil_local_port(fd) != 0);
	close(fd);
}

/* Binding a port in use fails for TCP and UDP, naming the address. */
static void
test_netutil_bind_conflict(void)
{
	static const int	 protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 err[256], want[64];
	size_t			 i;
	uint16_t		 port;
	int			 fd, fd2;

	for (i = 0; i < 2; i++) {
		fd = listen_any(protos[i], "127.0.0.1", err, sizeof(err));
		CU_ASSERT_FATAL(fd != -1);
		port = netutil_local_port(fd);
		CU_ASSERT_FATAL(netutil_parse_ip("127.0.0.1", &ss, &len) != -1);
		netutil_set_port((struct sockaddr *)&ss, port);
		err[0] = '\0';
		fd2 = netutil_listen(protos[i], (struct sockaddr *)&ss, len, 0,
		    err, sizeof(err));
		CU_ASSERT_EQUAL(fd2, -1);
		CU_ASSERT_EQUAL(errno, EADDRINUSE);
		snprintf(want, sizeof(want), "127.0.0.1:%u/%s", port,
		    netutil_proto_name(protos[i]));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, strerror(EADDRINUSE)));
		if (fd2 != -1)
			close(fd2);
		close(fd);
	}
}

static const struct tu_case cases[] = {
	{ "parse IP", test_netutil_parse_ip },
	{ "parse host:port", test_netutil_parse_hostport_good },
	{ "reject bad host:port", test_netutil_parse_hostport_bad },
	{ "ntop", test_netutil_ntop },
	{ "predicates", test_netutil_predicates },
	{ "protocol names", test_netutil_proto },
	{ "listen on 127.0.0.1:0", test_netutil_listen },
	{ "listen on [::1]:0", test_netutil_listen_ipv6 },
	{ "bind conflict", test_netutil_bind_conflict },
	{ NULL, NULL }
};

TU_MAIN("netutil", cases)
