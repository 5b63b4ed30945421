/*
 * test_relay.c: one service port relayed by several worker threads
 * (workers.h, relay.h), with real sockets on 127.0.0.1.
 *
 * Backends are threads that answer each connection (or datagram) with
 * their id; clients are plain blocking sockets in the test thread, so
 * everything the workers do runs concurrently with the test, as in the
 * daemon.  Built with --enable-tsan, this is the ThreadSanitizer run
 * of the relay layer.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lb.h"
#include "log.h"
#include "loop.h"
#include "netutil.h"
#include "relay.h"
#include "workers.h"
#include "tu.h"

#define NBACKENDS	3
#define BK_CONNS	64	/* connections a backend holds at once */
#define NWORKERS	2

/* One backend: a thread serving TCP or UDP on 127.0.0.1. */
struct backend {
	int		 proto;
	int		 fd;
	uint16_t	 port;
	char		 id;
	int		 stop[2];	/* pipe: stop the thread */
	pthread_t	 th;
};

/* Serve TCP: greet each connection with the id, then echo. */
static void
backend_tcp(struct backend *b)
{
	struct pollfd	pfd[BK_CONNS + 2];
	char		buf[512];
	ssize_t		n;
	int		fd, i, np = 2;

	pfd[0].fd = b->stop[0];
	pfd[1].fd = b->fd;
	pfd[0].events = pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, np, 1000) == -1 && errno != EINTR)
			return;
		if (pfd[0].revents)
			break;
		if ((pfd[1].revents & POLLIN) && np < BK_CONNS + 2 &&
		    (fd = accept4(b->fd, NULL, NULL, SOCK_CLOEXEC)) != -1) {
			(void)send(fd, &b->id, 1, MSG_NOSIGNAL);
			pfd[np].fd = fd;
			pfd[np].events = POLLIN;
			pfd[np++].revents = 0;
		}
		for (i = 2; i < np; i++) {
			if (pfd[i].revents == 0)
				continue;
			n = recv(pfd[i].fd, buf, sizeof(buf), 0);
			if (n > 0 && send(pfd[i].fd, buf, (size_t)n,
			    MSG_NOSIGNAL) == n)
				continue;
			close(pfd[i].fd);
			pfd[i--] = pfd[--np];
		}
	}
	for (i = 2; i < np; i++)
		close(pfd[i].fd);
}

/* Serve UDP: answer each datagram with the id and the datagram. */
static void
backend_udp(struct backend *b)
{
	struct sockaddr_storage	ss;
	struct pollfd		pfd[2];
	socklen_t		len;
	char			buf[512];
	ssize_t			n;

	pfd[0].fd = b->stop[0];
	pfd[1].fd = b->fd;
	pfd[0].events = pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, 1000) == -1 && errno != EINTR)
			return;
		if (pfd[0].revents)
			return;
		if (!(pfd[1].revents & POLLIN))
			continue;
		len = sizeof(ss);
		n = recvfrom(b->fd, buf + 1, sizeof(buf) - 1, MSG_DONTWAIT,
		    (struct sockaddr *)&ss, &len);
		if (n < 0)
			continue;
		buf[0] = b->id;
		(void)sendto(b->fd, buf, (size_t)n + 1, 0,
		    (struct sockaddr *)&ss, len);
	}
}

static void *
backend_main(void *arg)
{
	struct backend	*b = arg;

	if (b->proto == IPPROTO_TCP)
		backend_tcp(b);
	else
		backend_udp(b);
	return (NULL);
}

/* Start backend id on a kernel-chosen port. */
static int
backend_start(struct backend *b, int proto, char id)
{
	struct sockaddr_in	sin;
	char			err[256];
	int			fd;

	memset(b, 0, sizeof(*b));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = netutil_listen(proto, (struct sockaddr *)&sin, sizeof(sin), 0,
	    err, sizeof(err));
	if (fd == -1 || pipe(b->stop) == -1)
		return (-1);
	b->proto = proto;
	b->fd = fd;
	b->port = netutil_local_port(fd);
	b->id = id;
	return (pthread_create(&b->th, NULL, backend_main, b) == 0 ? 0 : -1);
}

static void
backend_stop(struct backend *b)
{
	(void)write(b->stop[1], "x", 1);
	pthread_join(b->th, NULL);
	close(b->stop[0]);
	close(b->stop[1]);
	close(b->fd);
}

/* What a test runs on: workers, backends, a balancer and listeners. */
struct fx {
	struct workers	*ws;
	struct backend	 bk[NBACKENDS];
	struct lb	*lb;
	int		 fds[NWORKERS];
	uint16_t	 port;
	struct relay	*relay;
};

/* Open nfds SO_REUSEPORT listeners of proto on one 127.0.0.1 port. */
static int
fx_listeners(struct fx *f, int proto, int nfds)
{
	struct sockaddr_in	sin;
	char			err[256];
	int			i;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < nfds; i++) {
		f->fds[i] = netutil_listen(proto, (struct sockaddr *)&sin,
		    sizeof(sin), NETUTIL_F_REUSEPORT, err, sizeof(err));
		if (f->fds[i] == -1) {
			fprintf(stderr, "listen: %s\n", err);
			return (-1);
		}
		if (i == 0) {
			f->port = netutil_local_port(f->fds[0]);
			sin.sin_port = htons(f->port);
		}
	}
	return (0);
}

/* Set up nworkers workers, backends and a relay of proto. */
static int
fx_setup(struct fx *f, int proto, int affinity, int nfds)
{
	struct lb_endpoint	eps[NBACKENDS];
	struct sockaddr_in	*sin;
	char			err[256];
	int			i;

	memset(f, 0, sizeof(*f));
	signal(SIGPIPE, SIG_IGN);
	log_init(0);
	if ((f->ws = workers_new(NULL, NWORKERS, 0, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return (-1);
	}
	memset(eps, 0, sizeof(eps));
	for (i = 0; i < NBACKENDS; i++) {
		if (backend_start(&f->bk[i], proto, (char)('a' + i)) == -1)
			return (-1);
		sin = (struct sockaddr_in *)&eps[i].addr;
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin->sin_port = htons(f->bk[i].port);
		eps[i].addrlen = sizeof(*sin);
	}
	f->lb = lb_new(affinity, 0);
	lb_set_endpoints(f->lb, eps, NBACKENDS);
	if (fx_listeners(f, proto, nfds) == -1)
		return (-1);
	f->relay = relay_new(f->ws, proto, "test/relay:p", f->fds,
	    (size_t)nfds, f->lb, 5000, 1, 0);
	return (0);
}

static void
fx_teardown(struct fx *f)
{
	int	i;

	if (f->relay != NULL)
		relay_close(f->relay, 1);
	relay_kill_dying(f->ws);
	workers_free(f->ws);
	for (i = 0; i < NBACKENDS; i++)
		backend_stop(&f->bk[i]);
}

/* A blocking TCP client from src (127.0.0.x) with 5 s timeouts. */
static int
cli_tcp(uint16_t port, in_addr_t src)
{
	struct sockaddr_in	sin;
	struct timeval		tv = { 5, 0 };
	int			fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	if (src != 0) {
		sin.sin_addr.s_addr = src;
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
			goto fail;
	}
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		goto fail;
	return (fd);
fail:
	close(fd);
	return (-1);
}

/* Read the greeting (backend id) of a relayed connection; 0 on error. */
static char
cli_id(int fd)
{
	char	c;

	return (recv(fd, &c, 1, MSG_WAITALL) == 1 ? c : 0);
}

/* Send "ping" and expect it back.  Returns 0 if echoed. */
static int
cli_echo(int fd)
{
	char	buf[4];

	if (send(fd, "ping", 4, MSG_NOSIGNAL) != 4 ||
	    recv(fd, buf, 4, MSG_WAITALL) != 4)
		return (-1);
	return (memcmp(buf, "ping", 4) == 0 ? 0 : -1);
}

/* One connection through the relay: return the backend's id or 0. */
static char
one_conn(uint16_t port, in_addr_t src)
{
	char	id;
	int	fd;

	if ((fd = cli_tcp(port, src)) == -1)
		return (0);
	id = cli_id(fd);
	if (id != 0 && cli_echo(fd) == -1)
		id = 0;
	close(fd);
	return (id);
}

static uint64_t
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* Wait (5 s at most) until the relay counts no active connection. */
static int
wait_idle(const struct relay *r)
{
	struct svc_counters	c;
	uint64_t		end = mono_ms() + 5000;

	for (;;) {
		relay_counters(r, &c);
		if (c.active == 0)
			return (0);
		if (mono_ms() > end)
			return (-1);
		usleep(2000);
	}
}

/*
 * Round-robin over the workers: sequential connections take the
 * endpoints in turn (one cursor, whichever worker accepted), and the
 * kernel gives both workers a share.
 */
static void
test_relay_round_robin(void)
{
	struct fx		f;
	struct svc_counters	c;
	int			count[NBACKENDS] = { 0 }, i, fails = 0;
	char			id;
	size_t			j;

	CU_ASSERT_FATAL(fx_setup(&f, IPPROTO_TCP, LB_AFFINITY_NONE,
	    NWORKERS) == 0);
	for (i = 0; i < 300; i++) {
		id = one_conn(f.port, 0);
		if (id >= 'a' && id < 'a' + NBACKENDS)
			count[id - 'a']++;
		else
			fails++;
	}
	CU_ASSERT_EQUAL(fails, 0);
	for (i = 0; i < NBACKENDS; i++)
		CU_ASSERT_EQUAL(count[i], 100);
	CU_ASSERT_EQUAL(wait_idle(f.relay), 0);
	relay_counters(f.relay, &c);
	CU_ASSERT_EQUAL(c.accepted, 300);
	CU_ASSERT_EQUAL(c.bytes_in, 300 * 4);
	CU_ASSERT_EQUAL(c.bytes_out, 300 * 5);
	CU_ASSERT_EQUAL(relay_instances(f.relay), NWORKERS);
	for (j = 0; j < relay_instances(f.relay); j++) {
		relay_instance_counters(f.relay, j, &c);
		/* Binomial(300, 1/2): below 30 has odds of about 1e-50. */
		CU_ASSERT(c.accepted >= 30);
	}
	fx_teardown(&f);
}

/* ClientIP affinity holds whichever worker accepts the client. */
static void
test_relay_affinity(void)
{
	struct fx		f;
	struct svc_counters	c;
	in_addr_t		src[2];
	char			first[2] = { 0, 0 }, id;
	int			i, k, moved = 0, fails = 0;
	size_t			j;

	src[0] = inet_addr("127.0.0.1");
	src[1] = inet_addr("127.0.0.2");
	CU_ASSERT_FATAL(fx_setup(&f, IPPROTO_TCP, LB_AFFINITY_CLIENTIP,
	    NWORKERS) == 0);
	for (i = 0; i < 200; i++) {
		k = i % 2;
		id = one_conn(f.port, src[k]);
		if (id == 0) {
			fails++;
			continue;
		}
		if (first[k] == 0)
			first[k] = id;
		else if (id != first[k])
			moved++;
	}
	CU_ASSERT_EQUAL(fails, 0);
	CU_ASSERT_EQUAL(moved, 0);
	CU_ASSERT_EQUAL(lb_pinned(f.lb), 2);
	for (j = 0; j < relay_instances(f.relay); j++) {
		relay_instance_counters(f.relay, j, &c);
		CU_ASSERT(c.accepted >= 20);
	}
	fx_teardown(&f);
}

/*
 * UDP: each flow stays with one backend, replies come from the service
 * port, and the kernel spreads the flows over the workers.
 */
static void
test_relay_udp(void)
{
	struct fx		f;
	struct svc_counters	c, sum;
	struct sockaddr_in	sin, from;
	struct timeval		tv = { 5, 0 };
	socklen_t		len;
	uint64_t		end;
	char			buf[64], first;
	int			fd, i, k, bad = 0, lost = 0, moved = 0;
	size_t			j;

	CU_ASSERT_FATAL(fx_setup(&f, IPPROTO_UDP, LB_AFFINITY_NONE,
	    NWORKERS) == 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(f.port);
	for (i = 0; i < 40; i++) {
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		CU_ASSERT_FATAL(fd != -1);
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		first = 0;
		for (k = 0; k < 5; k++) {
			snprintf(buf, sizeof(buf), "flow %d dgram %d", i, k);
			if (sendto(fd, buf, strlen(buf), 0,
			    (struct sockaddr *)&sin, sizeof(sin)) == -1) {
				lost++;
				continue;
			}
			len = sizeof(from);
			if (recvfrom(fd, buf, sizeof(buf), 0,
			    (struct sockaddr *)&from, &len) <= 0) {
				lost++;
				continue;
			}
			if (from.sin_port != sin.sin_port ||
			    from.sin_addr.s_addr != sin.sin_addr.s_addr)
				bad++;
			if (first == 0)
				first = buf[0];
			else if (buf[0] != first)
				moved++;
		}
		close(fd);
	}
	CU_ASSERT_EQUAL(lost, 0);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(moved, 0);
	/* A reply is counted just after it is sent: let the count land. */
	for (end = mono_ms() + 5000; mono_ms() < end; usleep(2000)) {
		relay_counters(f.relay, &sum);
		if (sum.dgrams_out >= 200)
			break;
	}
	CU_ASSERT_EQUAL(sum.accepted, 40);
	CU_ASSERT_EQUAL(sum.dgrams_in, 200);
	CU_ASSERT_EQUAL(sum.dgrams_out, 200);
	for (j = 0; j < relay_instances(f.relay); j++) {
		relay_instance_counters(f.relay, j, &c);
		/* Both workers get flows: all 40 on one has odds 2^-39. */
		CU_ASSERT(c.accepted > 0);
	}
	fx_teardown(&f);
}

/*
 * Closing a service port stops new connections on every worker while
 * established ones relay on.
 */
static void
test_relay_close(void)
{
	struct fx	f;
	uint64_t	end;
	int		held[20], i, ok = 0, refused = 0, fd;

	CU_ASSERT_FATAL(fx_setup(&f, IPPROTO_TCP, LB_AFFINITY_NONE,
	    NWORKERS) == 0);
	for (i = 0; i < 20; i++) {
		held[i] = cli_tcp(f.port, 0);
		CU_ASSERT(held[i] != -1 && cli_id(held[i]) != 0);
	}
	relay_close(f.relay, 0);
	f.relay = NULL;
	/* The workers close their listeners soon after the message. */
	for (end = mono_ms() + 5000; mono_ms() < end;) {
		if ((fd = cli_tcp(f.port, 0)) == -1) {
			refused = 1;
			break;
		}
		close(fd);
		usleep(2000);
	}
	CU_ASSERT(refused);
	for (i = 0; i < 20; i++)
		if (held[i] != -1 && cli_echo(held[i]) == 0)
			ok++;
	CU_ASSERT_EQUAL(ok, 20);
	for (i = 0; i < 20; i++)
		if (held[i] != -1)
			close(held[i]);
	fx_teardown(&f);
}

/* A worker count of 1 runs on the main loop: calls run at once. */
static void
call_cb(struct loop *l, void *arg)
{
	*(struct loop **)arg = l;
}

static void
test_relay_one_worker(void)
{
	struct workers	*ws;
	struct loop	*seen = NULL;
	char		 err[256];
	int		 dummy;

	ws = workers_new((struct loop *)&dummy, 1, 0, err, sizeof(err));
	CU_ASSERT_FATAL(ws != NULL);
	CU_ASSERT_EQUAL(workers_threaded(ws), 0);
	workers_call(ws, 0, call_cb, &seen);
	CU_ASSERT_PTR_EQUAL(seen, (struct loop *)&dummy);
	workers_free(ws);
	CU_ASSERT_PTR_NULL(workers_new(NULL, 0, 0, err, sizeof(err)));
	CU_ASSERT(strstr(err, "not in") != NULL);
	CU_ASSERT(workers_default() >= 1);
}

static const struct tu_case cases[] = {
	{ "round robin over workers", test_relay_round_robin },
	{ "affinity over workers", test_relay_affinity },
	{ "udp flows over workers", test_relay_udp },
	{ "close over workers", test_relay_close },
	{ "one worker runs on the main loop", test_relay_one_worker },
	{ NULL, NULL }
};

TU_MAIN("relay", cases)
