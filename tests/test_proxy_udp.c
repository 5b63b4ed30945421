/*
 * test_proxy_udp.c: the UDP relay against echo backends on 127.0.0.1,
 * all in one event loop driven by bounded EVLOOP_NONBLOCK polling.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "lb.h"
#include "log.h"
#include "loop.h"
#include "proxy_udp.h"
#include "tu.h"

#define NBACKENDS	3
#define NMANY		500
#define SMALL_MAX	1024	/* echoes up to this get an id prefix */

/* An echo backend: replies "b<id>:" + payload, or the payload if big. */
struct backend {
	int			 fd;
	int			 id;
	int			 sink;	/* count, never reply */
	unsigned int		 count;
	struct event		*ev;
	struct sockaddr_in	 addr;
	struct sockaddr_in	 peer;	/* last sender (a flow) */
};

struct fx {
	struct event_base	*base;
	struct loop		*loop;
	struct lb		*lb;
	struct proxy_udp	*pu;
	const struct svc_counters *c;
	struct sockaddr_in	 svc;
	struct backend		 be[NBACKENDS];
	int			 nbe;
};

static unsigned char	bigbuf[65536];

/* Return monotonic milliseconds. */
static uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* Open a non-blocking UDP socket on 127.0.0.1:0 and return its address. */
static int
udp_socket(struct sockaddr_in *sin)
{
	socklen_t	len = sizeof(*sin);
	int		fd;

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return (-1);
	if (bind(fd, (struct sockaddr *)sin, sizeof(*sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)sin, &len) == -1) {
		close(fd);
		return (-1);
	}
	return (fd);
}

/* Answer the datagrams waiting on a backend. */
static void
backend_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct backend	*be = arg;
	char		 hdr[16];
	socklen_t	 len;
	ssize_t		 n;
	int		 h;

	for (;;) {
		len = sizeof(be->peer);
		n = recvfrom(fd, bigbuf + sizeof(hdr), sizeof(bigbuf) -
		    sizeof(hdr), 0, (struct sockaddr *)&be->peer, &len);
		if (n == -1)
			return;
		be->count++;
		if (be->sink)
			continue;
		if (n > SMALL_MAX) {
			sendto(fd, bigbuf + sizeof(hdr), n, 0,
			    (struct sockaddr *)&be->peer, len);
			continue;
		}
		h = snprintf(hdr, sizeof(hdr), "b%d:", be->id);
		memcpy(bigbuf + sizeof(hdr) - h, hdr, h);
		sendto(fd, bigbuf + sizeof(hdr) - h, n + h, 0,
		    (struct sockaddr *)&be->peer, len);
	}
}

/* Set up a loop, nbe backends, a balancer and a relay. */
static int
fx_setup(struct fx *fx, int nbe, int affinity, uint64_t idle_ms)
{
	struct lb_endpoint	eps[NBACKENDS];
	int			i, fd;

	memset(fx, 0, sizeof(*fx));
	fx->base = event_base_new();
	fx->loop = loop_new(fx->base);
	fx->lb = lb_new(affinity, 0);
	fx->nbe = nbe;
	memset(eps, 0, sizeof(eps));
	for (i = 0; i < nbe; i++) {
		fx->be[i].id = i;
		fx->be[i].fd = udp_socket(&fx->be[i].addr);
		if (fx->be[i].fd == -1)
			return (-1);
		fx->be[i].ev = event_new(fx->base, fx->be[i].fd,
		    EV_READ | EV_PERSIST, backend_cb, &fx->be[i]);
		event_add(fx->be[i].ev, NULL);
		memcpy(&eps[i].addr, &fx->be[i].addr, sizeof(fx->be[i].addr));
		eps[i].addrlen = sizeof(fx->be[i].addr);
	}
	lb_set_endpoints(fx->lb, eps, nbe);
	if ((fd = udp_socket(&fx->svc)) == -1)
		return (-1);
	fx->pu = proxy_udp_new(fx->loop, fd, "test/udp:dns", fx->lb, idle_ms, NULL);
	if (fx->pu == NULL)
		return (-1);
	fx->c = proxy_udp_counters(fx->pu);
	return (0);
}

/* Free everything fx_setup made. */
static void
fx_teardown(struct fx *fx)
{
	int	i;

	proxy_udp_close(fx->pu);
	for (i = 0; i < fx->nbe; i++) {
		event_free(fx->be[i].ev);
		close(fx->be[i].fd);
	}
	lb_free(fx->lb);
	loop_free(fx->loop);
	event_base_free(fx->base);
}

/* Run the loop once without blocking, then nap briefly. */
static void
fx_step(struct fx *fx)
{
	event_base_loop(fx->base, EVLOOP_NONBLOCK);
	usleep(500);
}

/* Run the loop for ms milliseconds. */
static void
fx_pump(struct fx *fx, unsigned int ms)
{
	uint64_t	end = now_ms() + ms;

	while (now_ms() < end)
		fx_step(fx);
}

/* Run the loop until *p == want or ms pass; returns 1 if it happened. */
static int
fx_wait_eq(struct fx *fx, const uint64_t *p, uint64_t want, unsigned int ms)
{
	uint64_t	end = now_ms() + ms;

	while (*p != want && now_ms() < end)
		fx_step(fx);
	return (*p == want);
}

/* Send len bytes from a client socket to the service. */
static void
client_send(struct fx *fx, int fd, const void *buf, size_t len)
{
	ssize_t	n;

	n = sendto(fd, buf, len, 0, (struct sockaddr *)&fx->svc,
	    sizeof(fx->svc));
	CU_ASSERT_EQUAL(n, (ssize_t)len);
}

/*
 * Receive one reply within ms, checking that it came from the service
 * address (conntrack could not reverse anything else).  Returns its
 * length, or -1.
 */
static ssize_t
client_recv(struct fx *fx, int fd, void *buf, size_t cap, unsigned int ms)
{
	struct sockaddr_in	from;
	socklen_t		len;
	uint64_t		end = now_ms() + ms;
	ssize_t			n;

	do {
		len = sizeof(from);
		n = recvfrom(fd, buf, cap, MSG_DONTWAIT,
		    (struct sockaddr *)&from, &len);
		if (n >= 0) {
			CU_ASSERT_EQUAL(len, sizeof(from));
			CU_ASSERT_EQUAL(from.sin_port, fx->svc.sin_port);
			CU_ASSERT_EQUAL(from.sin_addr.s_addr,
			    fx->svc.sin_addr.s_addr);
			return (n);
		}
		fx_step(fx);
	} while (now_ms() < end);
	return (-1);
}

/* Send "msg" and return the backend id of the reply, or -1. */
static int
client_ask(struct fx *fx, int fd, const char *msg, unsigned int ms)
{
	char	buf[256];
	ssize_t	n;
	int	id;

	client_send(fx, fd, msg, strlen(msg));
	if ((n = client_recv(fx, fd, buf, sizeof(buf) - 1, ms)) == -1)
		return (-1);
	buf[n] = '\0';
	if (sscanf(buf, "b%d:", &id) != 1)
		return (-1);
	CU_ASSERT_STRING_EQUAL(strchr(buf, ':') + 1, msg);
	return (id);
}

/* Three clients are spread over three backends; a flow is sticky. */
static void
test_proxy_udp_round_robin(void)
{
	struct fx		fx;
	struct sockaddr_in	sin;
	int			cl[3], seen[NBACKENDS] = { 0 }, id[3], i;

	CU_ASSERT_FATAL(fx_setup(&fx, 3, LB_AFFINITY_NONE, 5000) == 0);
	for (i = 0; i < 3; i++) {
		cl[i] = udp_socket(&sin);
		id[i] = client_ask(&fx, cl[i], "hello", 2000);
		CU_ASSERT(id[i] >= 0 && id[i] < NBACKENDS);
		if (id[i] >= 0 && id[i] < NBACKENDS)
			seen[id[i]]++;
	}
	for (i = 0; i < NBACKENDS; i++)
		CU_ASSERT_EQUAL(seen[i], 1);
	/* The same client keeps its flow and its backend. */
	for (i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(client_ask(&fx, cl[i], "again", 2000), id[i]);
	CU_ASSERT_EQUAL(fx.c->accepted, 3);
	CU_ASSERT_EQUAL(fx.c->active, 3);
	CU_ASSERT_EQUAL(fx.c->dgrams_in, 6);
	CU_ASSERT_EQUAL(fx.c->dgrams_out, 6);
	CU_ASSERT_EQUAL(fx.c->bytes_in, 3 * 5 + 3 * 5);
	CU_ASSERT_EQUAL(fx.c->bytes_out, 6 * 3 + 3 * 5 + 3 * 5);
	CU_ASSERT_EQUAL(fx.c->dgrams_dropped, 0);
	for (i = 0; i < 3; i++)
		close(cl[i]);
	fx_teardown(&fx);
}

/* Send a patterned datagram of len bytes and check the echo. */
static void
roundtrip_big(struct fx *fx, int fd, size_t len)
{
	unsigned char	*out, *in;
	size_t		 i;
	ssize_t		 n;

	out = malloc(len);
	in = malloc(65536);
	CU_ASSERT_FATAL(out != NULL && in != NULL);
	for (i = 0; i < len; i++)
		out[i] = (unsigned char)(i * 7 + len);
	client_send(fx, fd, out, len);
	n = client_recv(fx, fd, in, 65536, 3000);
	CU_ASSERT_EQUAL(n, (ssize_t)len);
	if (n == (ssize_t)len)
		CU_ASSERT(memcmp(in, out, len) == 0);
	free(out);
	free(in);
}

/* 60000- and 65507-byte datagrams go through whole. */
static void
test_proxy_udp_large_datagrams(void)
{
	struct fx		fx;
	struct sockaddr_in	sin;
	int			cl, sz = 1 << 20;

	CU_ASSERT_FATAL(fx_setup(&fx, 1, LB_AFFINITY_NONE, 5000) == 0);
	cl = udp_socket(&sin);
	setsockopt(cl, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	roundtrip_big(&fx, cl, 60000);
	roundtrip_big(&fx, cl, PROXY_UDP_MAXDGRAM);
	CU_ASSERT_EQUAL(fx.c->bytes_in, 60000 + PROXY_UDP_MAXDGRAM);
	CU_ASSERT_EQUAL(fx.c->bytes_out, 60000 + PROXY_UDP_MAXDGRAM);
	CU_ASSERT_EQUAL(fx.c->dgrams_dropped, 0);
	CU_ASSERT_EQUAL(fx.c->accepted, 1);
	close(cl);
	fx_teardown(&fx);
}

/* An idle flow expires; the client's next datagram opens a new one. */
static void
test_proxy_udp_idle_expiry(void)
{
	struct fx		fx;
	struct sockaddr_in	sin;
	uint64_t		t0, dt;
	int			cl;

	CU_ASSERT_FATAL(fx_setup(&fx, 1, LB_AFFINITY_NONE, 200) == 0);
	cl = udp_socket(&sin);
	t0 = now_ms();
	CU_ASSERT_EQUAL(client_ask(&fx, cl, "one", 2000), 0);
	CU_ASSERT_EQUAL(fx.c->active, 1);
	CU_ASSERT(fx_wait_eq(&fx, &fx.c->active, 0, 3000));
	dt = now_ms() - t0;
	CU_ASSERT(dt >= 200);
	CU_ASSERT(dt < 1500);
	CU_ASSERT_EQUAL(client_ask(&fx, cl, "two", 2000), 0);
	CU_ASSERT_EQUAL(fx.c->accepted, 2);
	CU_ASSERT_EQUAL(fx.c->active, 1);
	close(cl);
	fx_teardown(&fx);
}

/*
 * A live change of the idle timeout applies to the open flow: a long
 * timeout keeps it, a shorter one set later expires it soon after.
 */
static void
test_proxy_udp_set_idle_timeout(void)
{
	struct fx		fx;
	struct sockaddr_in	sin;
	uint64_t		t0, dt;
	int			cl;

	CU_ASSERT_FATAL(fx_setup(&fx, 1, LB_AFFINITY_NONE, 200) == 0);
	cl = udp_socket(&sin);
	CU_ASSERT_EQUAL(client_ask(&fx, cl, "one", 2000), 0);
	proxy_udp_set_idle_timeout(fx.pu, 60000);
	fx_pump(&fx, 700);
	CU_ASSERT_EQUAL(fx.c->active, 1);
	t0 = now_ms();
	proxy_udp_set_idle_timeout(fx.pu, 100);
	CU_ASSERT(fx_wait_eq(&fx, &fx.c->active, 0, 3000));
	dt = now_ms() - t0;
	CU_ASSERT(dt < 1000);
	CU_ASSERT_EQUAL(fx.c->accepted, 1);
	close(cl);
	fx_teardown(&fx);
}

/* Traffic in either direction keeps a flow past the idle timeout. */
static void
test_proxy_udp_keepalive(void)
{
	struct fx		fx;
	struct sockaddr_in	sin;
	char			buf[64];
	int			cl, i;

	CU_ASSERT_FATAL(fx_setup(&fx, 1, LB_AFFINITY_NONE, 200) == 0);
	cl = udp_socket(&sin);
	/* Requests with replies, 60 ms apart, for 840 ms. */
	for (i = 0; i < 14; i++) {
		CU_ASSERT_EQUAL(client_ask(&fx, cl, "ping", 1000), 0);
		fx_pump(&fx, 60);
	}
	CU_ASSERT_EQUAL(fx.c->accepted, 1);
	CU_ASSERT_EQUAL(fx.c->active, 1);
	/* Client to backend only. */
	fx.be[0].sink = 1;
	for (i = 0; i < 10; i++) {
		client_send(&fx, cl, "up", 2);
		fx_pump(&fx, 60);
	}
	CU_ASSERT_EQUAL(fx.be[0].count, 24);
	CU_ASSERT_EQUAL(fx.c->accepted, 1);
	/* Backend to client only: pushed to the flow's socket. */
	for (i = 0; i < 10; i++) {
		sendto(fx.be[0].fd, "down", 4, 0,
		    (struct sockaddr *)&fx.be[0].peer, sizeof(fx.be[0].peer));
		CU_ASSERT_EQUAL(client_recv(&fx, cl, buf, sizeof(buf), 1000),
		    4);
		fx_pump(&fx, 60);
	}
	CU_ASSERT_EQUAL(fx.c->accepted, 1);
	CU_ASSERT_EQUAL(fx.c->active, 1);
	CU_ASSERT_EQUAL(fx.c->dgrams_out, 24);
	/* Silence: now it expires. */
	CU_ASSERT(fx_wait_eq(&fx, &fx.c->active, 0, 3000));
	close(cl);
	fx_teardown(&fx);
}

/* Without endpoints a datagram is dropped and counted. */
static void
test_proxy_udp_no_endpoints(void)
{
	struct fx		fx;
	struct sockaddr_in	sin;
	char			buf[64];
	int			cl;

	CU_ASSERT_FATAL(fx_setup(&fx, 0, LB_AFFINITY_NONE, 5000) == 0);
	cl = udp_socket(&sin);
	client_send(&fx, cl, "anyone", 6);
	CU_ASSERT(fx_wait_eq(&fx, &fx.c->dgrams_dropped, 1, 2000));
	CU_ASSERT_EQUAL(fx.c->no_endpoints, 1);
	CU_ASSERT_EQUAL(fx.c->accepted, 0);
	CU_ASSERT_EQUAL(fx.c->active, 0);
	CU_ASSERT_EQUAL(fx.c->dgrams_in, 0);
	CU_ASSERT_EQUAL(client_recv(&fx, cl, buf, sizeof(buf), 100), -1);
	close(cl);
	fx_teardown(&fx);
}

/* Replace backend 1 by a port where nothing listens. */
static void
fx_kill_backend(struct fx *fx, int i, int alone)
{
	struct lb_endpoint	eps[2];

	memset(eps, 0, sizeof(eps));
	event_del(fx->be[i].ev);
	close(fx->be[i].fd);
	/* A fresh fd keeps fx_teardown simple; it is not bound there. */
	fx->be[i].fd = socket(AF_INET, SOCK_DGRAM, 0);
	memcpy(&eps[0].addr, &fx->be[i].addr, sizeof(fx->be[i].addr));
	eps[0].addrlen = sizeof(fx->be[i].addr);
	memcpy(&eps[1].addr, &fx->be[1 - i].addr, sizeof(fx->be[i].addr));
	eps[1].addrlen = sizeof(fx->be[i].addr);
	lb_set_endpoints(fx->lb, eps, alone ? 1 : 2);
}

/* ICMP port unreachable closes the flow; the next datagram moves on. */
static void
test_proxy_udp_dead_backend(void)
{
	struct fx		fx;
	struct sockaddr_in	sin;
	uint64_t		errs;
	int			cl, round, refused = 0, id;

	CU_ASSERT_FATAL(fx_setup(&fx, 2, LB_AFFINITY_NONE, 100) == 0);
	fx_kill_backend(&fx, 0, 0);
	cl = udp_socket(&sin);
	/* Round robin alternates: live, dead, live ... in some order. */
	for (round = 0; round < 4; round++) {
		errs = fx.c->connect_errors;
		id = client_ask(&fx, cl, "q", 300);
		if (id == -1) {
			CU_ASSERT_EQUAL(fx.c->connect_errors, errs + 1);
			CU_ASSERT_EQUAL(fx.c->active, 0);
			refused++;
			/* The very next datagram reaches the live one. */
			CU_ASSERT_EQUAL(client_ask(&fx, cl, "q2", 1000), 1);
		} else
			CU_ASSERT_EQUAL(id, 1);
		CU_ASSERT(fx_wait_eq(&fx, &fx.c->active, 0, 2000));
	}
	CU_ASSERT(refused >= 1);
	CU_ASSERT_EQUAL(fx.c->connect_errors, (uint64_t)refused);
	CU_ASSERT(fx.be[1].count >= 4);
	close(cl);
	fx_teardown(&fx);
}

/*
 * A client whose flow met ICMP port unreachable moves to an endpoint it
 * has not tried at its next datagram, even when another client's new
 * flow moved the shared round-robin cursor in between (issue 10: it used
 * to land on the dead endpoint again).
 */
static void
test_proxy_udp_dead_backend_interleaved(void)
{
	struct fx		fx;
	struct sockaddr_in	sin;
	struct lb_stats		st;
	int			cl, x = -1, y, i;

	CU_ASSERT_FATAL(fx_setup(&fx, 2, LB_AFFINITY_NONE, 5000) == 0);
	fx_kill_backend(&fx, 0, 0);
	/* New clients until one's first flow goes to the dead endpoint. */
	for (i = 0; i < 4 && x == -1; i++) {
		cl = udp_socket(&sin);
		if (client_ask(&fx, cl, "q", 300) == -1)
			x = cl;
		else
			close(cl);
	}
	CU_ASSERT_FATAL(x != -1);
	CU_ASSERT_EQUAL(fx.c->connect_errors, 1);
	/* Another client's flow takes the cursor... */
	y = udp_socket(&sin);
	CU_ASSERT_EQUAL(client_ask(&fx, y, "y", 1000), 1);
	/* ...and x's next datagram still reaches the live endpoint. */
	CU_ASSERT_EQUAL(client_ask(&fx, x, "x", 1000), 1);
	CU_ASSERT_EQUAL(fx.c->connect_errors, 1);
	/* The failure ejected the dead endpoint: counted once. */
	lb_get_stats(fx.lb, &st);
	CU_ASSERT_EQUAL(st.ejections, 1);
	close(x);
	close(y);
	fx_teardown(&fx);
}

/* With ClientIP affinity a failure resets the pin to the dead backend. */
static void
test_proxy_udp_dead_backend_affinity(void)
{
	struct fx		fx;
	struct sockaddr_in	sin;
	int			cl, i, id = -1;

	CU_ASSERT_FATAL(fx_setup(&fx, 2, LB_AFFINITY_CLIENTIP, 5000) == 0);
	fx_kill_backend(&fx, 0, 1);
	cl = udp_socket(&sin);
	/* Pinned to the only (dead) endpoint. */
	CU_ASSERT_EQUAL(client_ask(&fx, cl, "q", 300), -1);
	CU_ASSERT_EQUAL(fx.c->connect_errors, 1);
	fx_kill_backend(&fx, 0, 0);	/* dead and live; the pin stays */
	for (i = 0; i < 3 && id == -1; i++)
		id = client_ask(&fx, cl, "q", 300);
	CU_ASSERT_EQUAL(id, 1);
	/* Pinned to the live one from now on. */
	CU_ASSERT_EQUAL(client_ask(&fx, cl, "q", 1000), 1);
	close(cl);
	fx_teardown(&fx);
}

/* 500 clients all get answers, spread evenly, then all expire. */
static void
test_proxy_udp_many_flows(void)
{
	struct fx		fx;
	struct sockaddr_in	sin;
	int			*cl, i, j, id, ok = 0;
	int			 seen[NBACKENDS] = { 0 };

	/* Long enough for valgrind to answer all before any expires. */
	CU_ASSERT_FATAL(fx_setup(&fx, 3, LB_AFFINITY_NONE, 2000) == 0);
	cl = calloc(NMANY, sizeof(*cl));
	CU_ASSERT_FATAL(cl != NULL);
	for (i = 0; i < NMANY; i++)
		CU_ASSERT_FATAL((cl[i] = udp_socket(&sin)) != -1);
	/* Bursts of 50 stay well inside the socket buffers. */
	for (i = 0; i < NMANY; i += 50) {
		for (j = i; j < i + 50; j++)
			client_send(&fx, cl[j], "m", 1);
		for (j = i; j < i + 50; j++) {
			char	buf[32];
			ssize_t	n;

			n = client_recv(&fx, cl[j], buf, sizeof(buf) - 1, 2000);
			if (n <= 0)
				continue;
			buf[n] = '\0';
			if (sscanf(buf, "b%d:m", &id) == 1 && id >= 0 &&
			    id < NBACKENDS) {
				seen[id]++;
				ok++;
			}
		}
	}
	CU_ASSERT_EQUAL(ok, NMANY);
	CU_ASSERT_EQUAL(fx.c->accepted, NMANY);
	CU_ASSERT_EQUAL(fx.c->active, NMANY);
	for (i = 0; i < NBACKENDS; i++)
		CU_ASSERT(seen[i] >= NMANY / 3 && seen[i] <= NMANY / 3 + 1);
	CU_ASSERT(fx_wait_eq(&fx, &fx.c->active, 0, 6000));
	CU_ASSERT_EQUAL(fx.c->dgrams_dropped, 0);
	for (i = 0; i < NMANY; i++)
		close(cl[i]);
	free(cl);
	fx_teardown(&fx);
}

/* Out of descriptors: the datagram is dropped, nothing crashes. */
static void
test_proxy_udp_emfile(void)
{
	struct fx		fx;
	struct sockaddr_in	sin;
	struct rlimit		old, low;
	int			cl, probe;

	CU_ASSERT_FATAL(fx_setup(&fx, 1, LB_AFFINITY_NONE, 5000) == 0);
	cl = udp_socket(&sin);
	CU_ASSERT_FATAL(getrlimit(RLIMIT_NOFILE, &old) == 0);
	probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CU_ASSERT_FATAL(probe != -1);
	close(probe);
	low = old;
	low.rlim_cur = probe;	/* even the lowest free fd is too high */
	CU_ASSERT_FATAL(setrlimit(RLIMIT_NOFILE, &low) == 0);
	client_send(&fx, cl, "a", 1);
	client_send(&fx, cl, "b", 1);
	CU_ASSERT(fx_wait_eq(&fx, &fx.c->dgrams_dropped, 2, 2000));
	CU_ASSERT(setrlimit(RLIMIT_NOFILE, &old) == 0);
	CU_ASSERT_EQUAL(fx.c->accepted, 0);
	CU_ASSERT_EQUAL(fx.c->active, 0);
	CU_ASSERT_EQUAL(fx.c->no_endpoints, 0);
	/* Descriptors are back: the client is served (no reset mark). */
	CU_ASSERT_EQUAL(client_ask(&fx, cl, "c", 2000), 0);
	CU_ASSERT_EQUAL(fx.c->accepted, 1);
	close(cl);
	fx_teardown(&fx);
}

/* Two services on one loop share the batch buffers and both relay. */
static void
test_proxy_udp_two_services(void)
{
	struct fx		fx;
	struct sockaddr_in	sin, svc1, svc2;
	struct proxy_udp	*pu2;
	int			cl, fd;

	CU_ASSERT_FATAL(fx_setup(&fx, 2, LB_AFFINITY_NONE, 5000) == 0);
	fd = udp_socket(&svc2);
	pu2 = proxy_udp_new(fx.loop, fd, "test/udp:two", fx.lb, 5000, NULL);
	CU_ASSERT_FATAL(pu2 != NULL);
	cl = udp_socket(&sin);
	CU_ASSERT(client_ask(&fx, cl, "one", 2000) >= 0);
	svc1 = fx.svc;
	fx.svc = svc2;
	CU_ASSERT(client_ask(&fx, cl, "two", 2000) >= 0);
	CU_ASSERT_EQUAL(proxy_udp_counters(pu2)->accepted, 1);
	CU_ASSERT_EQUAL(fx.c->accepted, 1);
	proxy_udp_close(pu2);
	/* The first service still has its buffers. */
	fx.svc = svc1;
	CU_ASSERT(client_ask(&fx, cl, "three", 2000) >= 0);
	CU_ASSERT_EQUAL(fx.c->dgrams_in, 2);
	close(cl);
	fx_teardown(&fx);
}

/*
 * A flood to one service does not starve another on the same loop: one
 * wakeup reads at most UDP_BATCH x UDP_ROUNDS (128) datagrams from a
 * service socket, then the loop serves the other ready sockets.
 */
static void
test_proxy_udp_fair_budget(void)
{
	struct fx		 fx;
	struct sockaddr_in	 sin, svc1, svc2;
	struct proxy_udp	*pu2;
	const struct svc_counters *c2;
	int			 cl, fd, i, rcvbuf = 1024 * 1024;
	const int		 flood = 200;

	CU_ASSERT_FATAL(fx_setup(&fx, 2, LB_AFFINITY_NONE, 5000) == 0);
	fx.be[0].sink = fx.be[1].sink = 1;
	(void)setsockopt(proxy_udp_fd(fx.pu), SOL_SOCKET, SO_RCVBUF, &rcvbuf,
	    sizeof(rcvbuf));
	fd = udp_socket(&svc2);
	pu2 = proxy_udp_new(fx.loop, fd, "test/udp:other", fx.lb, 5000, NULL);
	CU_ASSERT_FATAL(pu2 != NULL);
	c2 = proxy_udp_counters(pu2);
	cl = udp_socket(&sin);
	svc1 = fx.svc;
	for (i = 0; i < flood; i++)
		client_send(&fx, cl, "flood", 5);
	fx.svc = svc2;
	client_send(&fx, cl, "other", 5);
	/* Loopback delivers at once; one pass of the loop serves both. */
	event_base_loop(fx.base, EVLOOP_ONCE);
	CU_ASSERT_EQUAL(c2->dgrams_in, 1);
	CU_ASSERT(fx.c->dgrams_in >= 1 && fx.c->dgrams_in <= 128);
	/* The rest of the flood follows in later wakeups. */
	CU_ASSERT(fx_wait_eq(&fx, &fx.c->dgrams_in, flood, 2000));
	fx.svc = svc1;
	proxy_udp_close(pu2);
	close(cl);
	fx_teardown(&fx);
}

/* Closing with live flows releases every descriptor. */
static void
test_proxy_udp_close_live(void)
{
	struct fx		fx;
	struct sockaddr_in	sin;
	int			cl[4], i, before;

	before = tu_fd_count();
	CU_ASSERT_FATAL(fx_setup(&fx, 2, LB_AFFINITY_NONE, 60000) == 0);
	for (i = 0; i < 4; i++) {
		cl[i] = udp_socket(&sin);
		CU_ASSERT(client_ask(&fx, cl[i], "live", 2000) >= 0);
	}
	CU_ASSERT_EQUAL(fx.c->active, 4);
	for (i = 0; i < 4; i++)
		close(cl[i]);
	log_setverbose(3);	/* exercise the one close line per flow */
	fx_teardown(&fx);
	log_setverbose(0);
	CU_ASSERT_EQUAL(tu_fd_count(), before);
}

static const struct tu_case cases[] = {
	{ "round robin over backends", test_proxy_udp_round_robin },
	{ "large datagrams whole", test_proxy_udp_large_datagrams },
	{ "idle flow expires", test_proxy_udp_idle_expiry },
	{ "idle timeout changed live", test_proxy_udp_set_idle_timeout },
	{ "traffic keeps a flow", test_proxy_udp_keepalive },
	{ "no endpoints drops", test_proxy_udp_no_endpoints },
	{ "dead backend closes flow", test_proxy_udp_dead_backend },
	{ "dead backend: next datagram moves",
	    test_proxy_udp_dead_backend_interleaved },
	{ "dead backend resets affinity",
	    test_proxy_udp_dead_backend_affinity },
	{ "many flows", test_proxy_udp_many_flows },
	{ "out of descriptors", test_proxy_udp_emfile },
	{ "two services one loop", test_proxy_udp_two_services },
	{ "close with live flows", test_proxy_udp_close_live },
	{ "a flood does not starve another service",
	    test_proxy_udp_fair_budget },
	{ NULL, NULL }
};

TU_MAIN("proxy_udp", cases)
