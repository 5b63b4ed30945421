/*
 * test_sockpool.c: listener names (valid systemd FDNAMEs), taking and
 * closing sockets, and the LISTEN_FDS intake.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sockpool.h"
#include "tu.h"

/* Return 1 if fd is open. */
static int
is_open(int fd)
{
	return (fcntl(fd, F_GETFD) != -1);
}

/* A TCP socket. */
static int
tcp_socket(void)
{
	return (socket(AF_INET, SOCK_STREAM, 0));
}

/* Move fd to 100 or above, out of the way of fds 3, 4 and 5. */
static int
high(int fd)
{
	int	h;

	h = fcntl(fd, F_DUPFD, 100);
	close(fd);
	return (h);
}

/* Names: ':' replaced, protocol and port in front, FDNAME rules. */
static void
test_sockpool_names(void)
{
	char	buf[SOCKPOOL_NAMEMAX + 1], big[400];

	CU_ASSERT_EQUAL(sockpool_name(buf, sizeof(buf), IPPROTO_TCP, 30123,
	    "default/web:http"), 0);
	CU_ASSERT_STRING_EQUAL(buf, "tcp/30123/default/web/http");
	CU_ASSERT_EQUAL(sockpool_name(buf, sizeof(buf), IPPROTO_UDP, 53,
	    "kube-system/dns"), 0);
	CU_ASSERT_STRING_EQUAL(buf, "udp/53/kube-system/dns");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CU_ASSERT_EQUAL(sockpool_name(buf, sizeof(buf), IPPROTO_TCP, 1, big),
	    -1);
	CU_ASSERT_TRUE(sockpool_name_valid("tcp/1/a/b"));
	CU_ASSERT_FALSE(sockpool_name_valid(""));
	CU_ASSERT_FALSE(sockpool_name_valid("a:b"));
	CU_ASSERT_FALSE(sockpool_name_valid("a b"));
	CU_ASSERT_FALSE(sockpool_name_valid("a\tb"));
	CU_ASSERT_FALSE(sockpool_name_valid(big));
}

static int	closed_cb_calls;
static char	closed_want[] = "tcp/2/default/c";

/* Count the names close_rest reports. */
static void
closed_cb(const char *name, void *arg)
{
	CU_ASSERT_STRING_EQUAL(name, (const char *)arg);
	closed_cb_calls++;
}

/* Add, take (once), replace, close the rest. */
static void
test_sockpool_take(void)
{
	struct sockpool	*sp = sockpool_new();
	int		 a = tcp_socket(), b = tcp_socket(), c = tcp_socket();
	int		 fd;

	CU_ASSERT_EQUAL(sockpool_add(sp, "tcp/1/default/a", a), 0);
	/* Made close-on-exec and non-blocking. */
	CU_ASSERT_TRUE(fcntl(a, F_GETFD) & FD_CLOEXEC);
	CU_ASSERT_TRUE(fcntl(a, F_GETFL) & O_NONBLOCK);
	CU_ASSERT_EQUAL(sockpool_add(sp, "bad:name", b), -1);
	CU_ASSERT_FALSE(is_open(b));
	CU_ASSERT_EQUAL(sockpool_count(sp), 1);
	fd = sockpool_take(sp, "tcp/1/default/a");
	CU_ASSERT_EQUAL(fd, a);
	CU_ASSERT_EQUAL(sockpool_take(sp, "tcp/1/default/a"), -1);
	CU_ASSERT_EQUAL(sockpool_count(sp), 0);
	/* A second socket under one name replaces (closes) the first. */
	CU_ASSERT_EQUAL(sockpool_add(sp, "tcp/2/default/c", a), 0);
	CU_ASSERT_EQUAL(sockpool_add(sp, "tcp/2/default/c", c), 0);
	CU_ASSERT_FALSE(is_open(a));
	CU_ASSERT_EQUAL(sockpool_count(sp), 1);
	closed_cb_calls = 0;
	CU_ASSERT_EQUAL(sockpool_close_rest(sp, closed_cb, closed_want), 1);
	CU_ASSERT_EQUAL(closed_cb_calls, 1);
	CU_ASSERT_FALSE(is_open(c));
	CU_ASSERT_EQUAL(sockpool_take(NULL, "x"), -1);
	sockpool_free(sp);
}

/* LISTEN_FDS: fds from 3, names, a non-socket and a bad name closed. */
static void
test_sockpool_from_env(void)
{
	struct sockpool	*sp;
	char		 pid[32], err[SOCKPOOL_ERRLEN];
	int		 s1 = high(tcp_socket()), s2 = high(tcp_socket()), p[2], fd;

	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	p[0] = high(p[0]);
	p[1] = high(p[1]);
	/* fds 3, 4, 5: a socket, a pipe (not a socket), a badly named one. */
	CU_ASSERT_EQUAL_FATAL(dup2(s1, 3), 3);
	CU_ASSERT_EQUAL_FATAL(dup2(p[0], 4), 4);
	CU_ASSERT_EQUAL_FATAL(dup2(s2, 5), 5);
	close(s1);
	close(s2);
	close(p[0]);
	close(p[1]);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "3", 1);
	setenv("LISTEN_FDNAMES", "tcp/30001/default/web/p:pipe:bad name", 1);
	sp = sockpool_new();
	CU_ASSERT_EQUAL(sockpool_from_env(sp, err, sizeof(err)), 1);
	CU_ASSERT_PTR_NULL(getenv("LISTEN_PID"));
	CU_ASSERT_PTR_NULL(getenv("LISTEN_FDS"));
	CU_ASSERT_PTR_NULL(getenv("LISTEN_FDNAMES"));
	CU_ASSERT_FALSE(is_open(4));
	CU_ASSERT_FALSE(is_open(5));
	CU_ASSERT_TRUE(fcntl(3, F_GETFD) & FD_CLOEXEC);
	fd = sockpool_take(sp, "tcp/30001/default/web/p");
	CU_ASSERT_EQUAL(fd, 3);
	if (fd != -1)
		close(fd);
	sockpool_free(sp);

	/* Meant for another process: nothing taken, variables gone. */
	s1 = high(tcp_socket());
	CU_ASSERT_EQUAL_FATAL(dup2(s1, 3), 3);
	close(s1);
	setenv("LISTEN_PID", "1", 1);
	setenv("LISTEN_FDS", "1", 1);
	sp = sockpool_new();
	CU_ASSERT_EQUAL(sockpool_from_env(sp, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(sockpool_count(sp), 0);
	CU_ASSERT_PTR_NULL(getenv("LISTEN_FDS"));
	CU_ASSERT_TRUE(is_open(3));
	close(3);
	/* Malformed. */
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "x", 1);
	CU_ASSERT_EQUAL(sockpool_from_env(sp, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "LISTEN_FDS=x"));
	sockpool_free(sp);
}

static const struct tu_case cases[] = {
	{ "names", test_sockpool_names },
	{ "add, take, close the rest", test_sockpool_take },
	{ "LISTEN_FDS", test_sockpool_from_env },
	{ NULL, NULL }
};

/* Run the suite with warnings on stderr. */
int
main(void)
{
	log_init(0);
	return (tu_run("sockpool", cases));
}
