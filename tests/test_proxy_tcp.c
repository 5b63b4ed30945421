/*
 * test_proxy_tcp.c: the TCP relay against real sockets on 127.0.0.1.
 *
 * Backends run in a forked child (one grandchild per connection, plain
 * blocking I/O) or, when a test must decide when the backend reads, as
 * sockets of this process.  Clients are non-blocking sockets of this
 * process, stepped between turns of the event loop.  Every wait has a
 * deadline.  KUPROXY_TEST_VERBOSE=1 logs at debug level and prints the
 * throughput of the 32 MiB transfer.
 *
 * Past 900 lines on purpose: one module's unit tests are one binary
 * (one concern: this module's behaviour), and the cases share fixtures
 * that a split would have to repeat or export.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "lb.h"
#include "log.h"
#include "loop.h"
#include "netutil.h"
#include "proxy_tcp.h"
#include "tu.h"

#define CHUNK		(64 * 1024)
#define MIB		(1024 * 1024)
#define SRV_MAX		4
#define SINK_REPLY	MIB		/* bytes a sink sends after EOF */
#define SEED_UP		0x5eed01	/* client to backend pattern */
#define SEED_DOWN	0x5eed02	/* backend to client pattern */
#define FAIR_FLOOD	300		/* clients flooding one listener */

enum srv_mode {
	SRV_ID = 0,	/* send "<index>\n", then read to EOF */
	SRV_ECHO,	/* echo to EOF */
	SRV_SINK,	/* check SEED_UP to EOF, reply "OK n\n" + SINK_REPLY */
};

struct srv {
	pid_t		 pid;
	int		 ctl;		/* closing it stops the server */
	int		 n;
	uint16_t	 port[SRV_MAX];
};

struct env {
	struct event_base	*base;
	struct loop		*loop;
	struct lb		*lb;
	struct proxy_tcp	*pt;
	struct event		*tick;
	uint16_t		 port;		/* the service port */
	struct srv		 srv;
};

/* A non-blocking peer: sends a pattern, checks what it receives. */
struct cli {
	int		 fd;
	uint64_t	 seed_tx;
	uint64_t	 seed_rx;
	uint64_t	 tosend;
	uint64_t	 sent;
	int		 shut;		/* shutdown(SHUT_WR) once all sent */
	int		 shut_done;
	int		 want_line;	/* a "...\n" line comes first */
	int		 line_done;
	char		 line[64];
	size_t		 linelen;
	uint64_t	 want;		/* pattern bytes expected */
	uint64_t	 rcvd;
	int		 wait_eof;
	int		 noread;
	int		 eof;
	int		 err;
	int		 bad;
};

static uint8_t	txbuf[CHUNK], rxbuf[CHUNK], chkbuf[CHUNK];
static int	verbose;

/* Return monotonic milliseconds. */
static uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* Return CPU milliseconds used by this process. */
static uint64_t
cpu_ms(void)
{
	struct rusage	ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
	    (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000);
}

/* Return the resident set size in KiB. */
static long
rss_kb(void)
{
	FILE	*f;
	long	 size, res = -1;

	if ((f = fopen("/proc/self/statm", "r")) == NULL)
		return (-1);
	if (fscanf(f, "%ld %ld", &size, &res) != 2)
		res = -1;
	fclose(f);
	return (res * (sysconf(_SC_PAGESIZE) / 1024));
}

/* Return the RLIMIT_NOFILE that leaves exactly nfree new descriptors. */
static rlim_t
fd_limit_leaving(int nfree)
{
	static unsigned char	 open_fds[65536];
	DIR			*d;
	struct dirent		*de;
	long			 fd, lim, used = 0;

	memset(open_fds, 0, sizeof(open_fds));
	if ((d = opendir("/proc/self/fd")) == NULL)
		return (0);
	while ((de = readdir(d)) != NULL) {
		fd = strtol(de->d_name, NULL, 10);
		if (de->d_name[0] != '.' && fd != dirfd(d) && fd < 65536)
			open_fds[fd] = 1;
	}
	closedir(d);
	/* New descriptors take the lowest free numbers below the limit. */
	for (lim = 0; lim < 65536; lim++) {
		if (lim - used == nfree)
			return ((rlim_t)lim);
		used += open_fds[lim];
	}
	return (0);
}

/* Return 64 pseudo-random bits for word k of a pattern (splitmix64). */
static uint64_t
pat_word(uint64_t k, uint64_t seed)
{
	uint64_t	z = k * 0x9e3779b97f4a7c15ULL + seed;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31));
}

/* Write bytes [off, off + len) of pattern seed to b. */
static void
pat_fill(uint8_t *b, uint64_t off, size_t len, uint64_t seed)
{
	uint64_t	w;
	size_t		i, n;

	while (len > 0) {
		w = pat_word(off / 8, seed);
		i = off % 8;
		n = 8 - i < len ? 8 - i : len;
		memcpy(b, (uint8_t *)&w + i, n);
		b += n;
		off += n;
		len -= n;
	}
}

/* Return 0 if b holds bytes [off, off + len) of pattern seed. */
static int
pat_check(const uint8_t *b, uint64_t off, size_t len, uint64_t seed)
{
	size_t	n;

	while (len > 0) {
		n = len < sizeof(chkbuf) ? len : sizeof(chkbuf);
		pat_fill(chkbuf, off, n, seed);
		if (memcmp(b, chkbuf, n) != 0)
			return (-1);
		b += n;
		off += n;
		len -= n;
	}
	return (0);
}

/* Write all of buf to a blocking socket. */
static int
write_all(int fd, const void *buf, size_t len)
{
	const uint8_t	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += n;
		len -= n;
	}
	return (0);
}

/* Serve one backend connection in a grandchild. */
static void
srv_serve(int fd, int mode, int id)
{
	char		line[64];
	uint64_t	n = 0, off;
	ssize_t		r;
	int		ok = 1;

	if (mode == SRV_ID) {
		snprintf(line, sizeof(line), "%d\n", id);
		if (write_all(fd, line, strlen(line)) == -1)
			return;
	}
	while ((r = read(fd, rxbuf, sizeof(rxbuf))) > 0) {
		if (mode == SRV_ECHO && write_all(fd, rxbuf, r) == -1)
			return;
		if (mode == SRV_SINK && pat_check(rxbuf, n, r, SEED_UP) == -1)
			ok = 0;
		n += r;
	}
	if (mode != SRV_SINK || r == -1)
		return;
	snprintf(line, sizeof(line), "%s %llu\n", ok ? "OK" : "BAD",
	    (unsigned long long)n);
	if (write_all(fd, line, strlen(line)) == -1)
		return;
	for (off = 0; off < SINK_REPLY; off += CHUNK) {
		pat_fill(txbuf, off, CHUNK, SEED_DOWN);
		if (write_all(fd, txbuf, CHUNK) == -1)
			return;
	}
}

/* The server child: accept and fork until the control pipe closes. */
static void
srv_run(const int *lfd, const int *modes, int n, int ctl)
{
	struct pollfd	pfd[SRV_MAX + 1];
	int		i, fd;

	signal(SIGCHLD, SIG_IGN);	/* grandchildren reap themselves */
	for (i = 0; i < n; i++) {
		pfd[i].fd = lfd[i];
		pfd[i].events = POLLIN;
	}
	pfd[n].fd = ctl;
	pfd[n].events = POLLIN;
	for (;;) {
		if (poll(pfd, n + 1, -1) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[n].revents != 0)
			break;		/* the test closed (or died) */
		for (i = 0; i < n; i++) {
			if (pfd[i].revents == 0 ||
			    (fd = accept(lfd[i], NULL, NULL)) == -1)
				continue;
			if (fork() == 0) {
				srv_serve(fd, modes[i], i);
				_exit(0);
			}
			close(fd);
		}
	}
	kill(0, SIGKILL);	/* the whole group, grandchildren too */
	_exit(0);
}

/* Close every descriptor of a fresh child except keep[0..n). */
static void
srv_closefrom(const int *keep, int n)
{
	struct rlimit	rl;
	int		fd, i;

	getrlimit(RLIMIT_NOFILE, &rl);
	for (fd = 3; fd < (int)rl.rlim_cur && fd < 65536; fd++) {
		for (i = 0; i < n && keep[i] != fd; i++)
			;
		if (i == n)
			close(fd);
	}
}

/* Fork a server with one listener per mode on 127.0.0.1. */
static int
srv_start(struct srv *s, const int *modes, int n)
{
	struct sockaddr_in	sin;
	int			lfd[SRV_MAX + 1], ctl[2], i;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < n; i++) {
		lfd[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (lfd[i] == -1 ||
		    bind(lfd[i], (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
		    listen(lfd[i], 128) == -1)
			return (-1);
		s->port[i] = netutil_local_port(lfd[i]);
	}
	if (pipe(ctl) == -1)
		return (-1);
	if ((s->pid = fork()) == 0) {
		setpgid(0, 0);
		lfd[n] = ctl[0];
		srv_closefrom(lfd, n + 1);
		srv_run(lfd, modes, n, ctl[0]);
	}
	setpgid(s->pid, s->pid);
	for (i = 0; i < n; i++)
		close(lfd[i]);
	close(ctl[0]);
	s->ctl = ctl[1];
	s->n = n;
	return (s->pid == -1 ? -1 : 0);
}

/* Stop a server and its connections; reap it. */
static void
srv_stop(struct srv *s)
{
	if (s->pid <= 0)
		return;
	close(s->ctl);
	kill(-s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	s->pid = 0;
}

/* Return a TCP port on 127.0.0.1 where nothing listens. */
static uint16_t
dead_port(void)
{
	struct sockaddr_in	sin;
	uint16_t		port;
	int			fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	port = netutil_local_port(fd);
	close(fd);
	return (port);
}

/*
 * Open a listener that drops SYNs: backlog 0, filled by one connection
 * (*filler) that is never accepted.  Connects to it time out.
 */
static int
blackhole_open(uint16_t *port, int *filler)
{
	struct sockaddr_in	sin;
	int			fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 0) == -1)
		return (-1);
	*port = netutil_local_port(fd);
	sin.sin_port = htons(*port);
	*filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(*filler, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		return (-1);
	return (fd);
}

/* Close n clients (those connected), a black hole and its filler. */
static void
blackhole_close(struct cli *c, int n, int bh, int filler)
{
	int	i;

	for (i = 0; i < n; i++)
		if (c[i].fd > 0)
			close(c[i].fd);
	if (bh != -1)
		close(bh);
	if (filler != -1)
		close(filler);
}

/* Give the balancer n endpoints on 127.0.0.1. */
static void
env_endpoints(struct env *e, const uint16_t *ports, size_t n)
{
	struct lb_endpoint	eps[8];
	struct sockaddr_in	*sin;
	size_t			i;

	memset(eps, 0, sizeof(eps));
	for (i = 0; i < n; i++) {
		sin = (struct sockaddr_in *)&eps[i].addr;
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin->sin_port = htons(ports[i]);
		eps[i].addrlen = sizeof(*sin);
	}
	lb_set_endpoints(e->lb, eps, n);
}

/* Wake the loop every 2 ms so that clients are stepped. */
static void
tick_cb(evutil_socket_t fd, short ev, void *arg)
{
}

/* Build a loop, a balancer and a service port on 127.0.0.1. */
static int
env_setup(struct env *e)
{
	struct sockaddr_in	sin;
	struct timeval		tv = { 0, 2000 };
	char			err[256];
	int			fd;

	memset(e, 0, sizeof(*e));
	signal(SIGPIPE, SIG_IGN);
	log_init(verbose ? 4 : 0);
	if ((e->base = event_base_new()) == NULL)
		return (-1);
	CU_ASSERT(event_base_get_features(e->base) & EV_FEATURE_ET);
	e->loop = loop_new(e->base);
	e->lb = lb_new(LB_AFFINITY_NONE, 0);
	e->tick = event_new(e->base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(e->tick, &tv);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = netutil_listen(IPPROTO_TCP, (struct sockaddr *)&sin, sizeof(sin),
	    0, err, sizeof(err));
	if (fd == -1)
		return (-1);
	e->port = netutil_local_port(fd);
	e->pt = proxy_tcp_new(e->loop, fd, "test/svc:tcp", e->lb, NULL);
	return (e->pt == NULL ? -1 : 0);
}

/* Tear everything down, killing whatever is still connected. */
static void
env_teardown(struct env *e)
{
	if (e->pt != NULL)
		proxy_tcp_close(e->pt, 1);
	proxy_tcp_kill_dying(e->loop);
	CU_ASSERT_EQUAL(e->loop->conns, 0);
	lb_free(e->lb);
	event_free(e->tick);
	loop_free(e->loop);
	event_base_free(e->base);
	srv_stop(&e->srv);
}

/* Run the loop until done(arg) or ms pass.  Returns 1 if done. */
static int
pump(struct env *e, int (*done)(void *), void *arg, int ms)
{
	uint64_t	end = now_ms() + ms;

	for (;;) {
		if (done(arg))
			return (1);
		if (now_ms() >= end)
			return (0);
		event_base_loop(e->base, EVLOOP_ONCE);
	}
}

/* Connect c (non-blocking) to port on 127.0.0.1, on socket fd. */
static int
cli_connect_fd(struct cli *c, int fd, uint16_t port)
{
	struct sockaddr_in	sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	c->fd = fd;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 &&
	    errno != EINPROGRESS)
		return (-1);
	return (0);
}

/* Open a non-blocking socket and connect c to port. */
static int
cli_connect(struct cli *c, uint16_t port)
{
	int	fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return (-1);
	return (cli_connect_fd(c, fd, port));
}

/* Take received bytes: the line first, then the pattern. */
static void
cli_consume(struct cli *c, const uint8_t *p, size_t n)
{
	while (c->want_line && !c->line_done && n > 0) {
		if (*p == '\n')
			c->line_done = 1;
		else if (c->linelen < sizeof(c->line) - 1)
			c->line[c->linelen++] = *p;
		p++;
		n--;
	}
	if (n == 0)
		return;
	if (c->rcvd + n > c->want || pat_check(p, c->rcvd, n, c->seed_rx))
		c->bad = 1;
	c->rcvd += n;
}

/* Send and receive what the socket takes now. */
static void
cli_step(struct cli *c)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);
	ssize_t			n;
	size_t			chunk;

	while (!c->err && c->sent < c->tosend) {
		chunk = c->tosend - c->sent < CHUNK ? c->tosend - c->sent :
		    CHUNK;
		pat_fill(txbuf, c->sent, chunk, c->seed_tx);
		if ((n = send(c->fd, txbuf, chunk, MSG_NOSIGNAL)) == -1) {
			if (errno != EAGAIN && errno != EINTR)
				c->err = errno;
			break;
		}
		c->sent += n;
	}
	/* Not before the connect completes: that would abort it. */
	if (c->shut && !c->shut_done && c->sent == c->tosend && !c->err &&
	    getpeername(c->fd, (struct sockaddr *)&ss, &len) == 0) {
		shutdown(c->fd, SHUT_WR);
		c->shut_done = 1;
	}
	while (!c->noread && !c->eof && !c->err) {
		n = recv(c->fd, rxbuf, sizeof(rxbuf), 0);
		if (n == 0)
			c->eof = 1;
		else if (n == -1 && errno != EAGAIN && errno != EINTR)
			c->err = errno;
		if (n <= 0)
			break;
		cli_consume(c, rxbuf, n);
	}
}

/* Return 1 if c has failed, seen EOF, or got all it wanted. */
static int
cli_finished(const struct cli *c)
{
	if (c->err || c->bad || c->eof)
		return (1);
	return (!c->wait_eof && (!c->want_line || c->line_done) &&
	    c->rcvd >= c->want && c->sent >= c->tosend);
}

/* Clients stepped together by pump(). */
struct clis {
	struct cli	*c;
	int		 n;
	int		 any;		/* done when one is finished */
};

/* Step every client; done when all (or any) are finished. */
static int
clis_done(void *arg)
{
	struct clis	*cs = arg;
	int		 i, nfin = 0;

	for (i = 0; i < cs->n; i++) {
		cli_step(&cs->c[i]);
		nfin += cli_finished(&cs->c[i]);
	}
	return (cs->any ? nfin > 0 : nfin == cs->n);
}

/* Pump until the n clients at c are finished. */
static int
pump_clis(struct env *e, struct cli *c, int n, int ms)
{
	struct clis	cs = { c, n, 0 };

	return (pump(e, clis_done, &cs, ms));
}

/* Done when the service port has no connection left. */
static int
env_idle(void *arg)
{
	struct env	*e = arg;

	return (e->loop->conns == 0);
}

/* Done when no closed service is waiting for its connections. */
static int
env_no_dying(void *arg)
{
	struct env	*e = arg;

	return (LIST_EMPTY(&e->loop->tcp_dying));
}

/* Start a server of n backends of one mode and use them as endpoints. */
static int
env_backends(struct env *e, int mode, int n)
{
	int	modes[SRV_MAX], i;

	for (i = 0; i < n; i++)
		modes[i] = mode;
	if (srv_start(&e->srv, modes, n) == -1)
		return (-1);
	env_endpoints(e, e->srv.port, n);
	return (0);
}

/* Connect one client to an ID backend and return the index it got. */
static int
ask_id(struct env *e)
{
	struct cli	c;
	int		id = -1;

	memset(&c, 0, sizeof(c));
	c.want_line = 1;
	if (cli_connect(&c, e->port) == -1)
		return (-1);
	if (pump_clis(e, &c, 1, 3000) && c.line_done)
		id = atoi(c.line);
	close(c.fd);
	return (id);
}

/* Connections are spread evenly, one endpoint after the other. */
static void
test_proxy_tcp_round_robin(void)
{
	struct env			 e;
	const struct svc_counters	*ctr;
	int				 count[3] = { 0, 0, 0 }, i, id;

	if (env_setup(&e) == -1 || env_backends(&e, SRV_ID, 3) == -1) {
		CU_FAIL("setup");
		goto out;
	}
	for (i = 0; i < 9; i++) {
		id = ask_id(&e);
		CU_ASSERT(id >= 0 && id < 3);
		if (id >= 0 && id < 3)
			count[id]++;
	}
	CU_ASSERT(count[0] == 3 && count[1] == 3 && count[2] == 3);
	CU_ASSERT(pump(&e, env_idle, &e, 3000));
	ctr = proxy_tcp_counters(e.pt);
	CU_ASSERT_EQUAL(ctr->accepted, 9);
	CU_ASSERT_EQUAL(ctr->active, 0);
	CU_ASSERT_EQUAL(ctr->connect_errors, 0);
	CU_ASSERT_EQUAL(ctr->failed, 0);
	CU_ASSERT_EQUAL(ctr->bytes_out, 9 * 2);	/* "0\n" .. "2\n" */
out:
	env_teardown(&e);
}

/* Track what the connections hold while a transfer runs. */
struct watch {
	struct env			*e;
	struct clis			 cs;
	struct proxy_tcp_memstat	 max;
};

/* Step the clients and record the most the relay held. */
static int
watch_done(void *arg)
{
	struct watch			*w = arg;
	struct proxy_tcp_memstat	 ms;

	proxy_tcp_memstat(w->e->pt, &ms);
	if (ms.bytes > w->max.bytes)
		w->max.bytes = ms.bytes;
	if (ms.pipes > w->max.pipes)
		w->max.pipes = ms.pipes;
	if (ms.bufs > w->max.bufs)
		w->max.bufs = ms.bufs;
	return (clis_done(&w->cs));
}

/* 32 MiB each way through an echo backend arrive intact, by splice. */
static void
test_proxy_tcp_integrity(void)
{
	struct env			 e;
	struct cli			 c;
	struct watch			 w;
	const struct svc_counters	*ctr;
	uint64_t			 t0, ms;
	const uint64_t			 size = 32 * MIB;

	memset(&c, 0, sizeof(c));
	if (env_setup(&e) == -1 || env_backends(&e, SRV_ECHO, 1) == -1) {
		CU_FAIL("setup");
		goto out;
	}
	c.seed_tx = c.seed_rx = SEED_UP;
	c.tosend = c.want = size;
	c.shut = c.wait_eof = 1;
	memset(&w, 0, sizeof(w));
	w.e = &e;
	w.cs.c = &c;
	w.cs.n = 1;
	t0 = now_ms();
	CU_ASSERT(cli_connect(&c, e.port) == 0);
	CU_ASSERT(pump(&e, watch_done, &w, 20000));
	ms = now_ms() - t0;
	CU_ASSERT_EQUAL(c.err, 0);
	CU_ASSERT_EQUAL(c.bad, 0);
	CU_ASSERT_EQUAL(c.sent, size);
	CU_ASSERT_EQUAL(c.rcvd, size);
	CU_ASSERT(c.eof);
	/* Bulk went through pipes, and they went back to the pool. */
	CU_ASSERT(w.max.pipes >= 1);
	CU_ASSERT(w.max.bytes <= 2 * MIB);
	CU_ASSERT(e.loop->npipes >= 1);
	if (verbose)
		printf("\n  32 MiB echoed in %llu ms: %.0f MB/s each way, "
		    "pipes held at most %zu, pooled %zu\n",
		    (unsigned long long)ms,
		    ms > 0 ? (double)size / 1e3 / (double)ms : 0.0,
		    w.max.pipes, e.loop->npipes);
	CU_ASSERT(pump(&e, env_idle, &e, 3000));
	ctr = proxy_tcp_counters(e.pt);
	CU_ASSERT_EQUAL(ctr->bytes_in, size);
	CU_ASSERT_EQUAL(ctr->bytes_out, size);
	CU_ASSERT_EQUAL(ctr->active, 0);
out:
	if (c.fd > 0)
		close(c.fd);
	env_teardown(&e);
}

/* A client that shuts down writing still gets the whole reply. */
static void
test_proxy_tcp_half_close(void)
{
	struct env	e;
	struct cli	c;

	memset(&c, 0, sizeof(c));
	if (env_setup(&e) == -1 || env_backends(&e, SRV_SINK, 1) == -1) {
		CU_FAIL("setup");
		goto out;
	}
	c.seed_tx = SEED_UP;
	c.seed_rx = SEED_DOWN;
	c.tosend = 3 * MIB + 17;
	c.shut = 1;
	c.want_line = 1;
	c.want = SINK_REPLY;
	c.wait_eof = 1;
	CU_ASSERT(cli_connect(&c, e.port) == 0);
	CU_ASSERT(pump_clis(&e, &c, 1, 10000));
	CU_ASSERT_EQUAL(c.err, 0);
	CU_ASSERT_EQUAL(c.bad, 0);
	CU_ASSERT_STRING_EQUAL(c.line, "OK 3145745");
	CU_ASSERT_EQUAL(c.rcvd, SINK_REPLY);
	CU_ASSERT(c.eof);
	CU_ASSERT(pump(&e, env_idle, &e, 3000));
	CU_ASSERT_EQUAL(proxy_tcp_counters(e.pt)->bytes_in, 3 * MIB + 17);
out:
	if (c.fd > 0)
		close(c.fd);
	env_teardown(&e);
}

/* A refused endpoint is skipped: every client reaches the live one. */
static void
test_proxy_tcp_dead_backend_skipped(void)
{
	struct env			 e;
	const struct svc_counters	*ctr;
	uint16_t			 ports[2];
	int				 i;

	if (env_setup(&e) == -1 || env_backends(&e, SRV_ID, 1) == -1) {
		CU_FAIL("setup");
		goto out;
	}
	ports[0] = dead_port();
	ports[1] = e.srv.port[0];
	env_endpoints(&e, ports, 2);
	for (i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(ask_id(&e), 0);
	CU_ASSERT(pump(&e, env_idle, &e, 3000));
	ctr = proxy_tcp_counters(e.pt);
	/* Round robin sends at least one of the four to the dead port. */
	CU_ASSERT(ctr->connect_errors >= 1 && ctr->connect_errors <= 4);
	CU_ASSERT_EQUAL(ctr->failed, 0);
	CU_ASSERT_EQUAL(ctr->accepted, 4);
out:
	env_teardown(&e);
}

/* A client pinned to an endpoint that fails is re-pinned elsewhere. */
static void
test_proxy_tcp_affinity_reset(void)
{
	struct env			 e;
	const struct svc_counters	*ctr;
	struct lb_endpoint		 ep;
	struct lb_attempt		 att;
	uint16_t			 ports[2];
	int				 i;

	memset(&att, 0, sizeof(att));
	if (env_setup(&e) == -1 || env_backends(&e, SRV_ID, 1) == -1) {
		CU_FAIL("setup");
		goto out;
	}
	lb_set_affinity(e.lb, LB_AFFINITY_CLIENTIP, 0);
	ports[0] = dead_port();
	ports[1] = e.srv.port[0];
	env_endpoints(&e, ports, 2);
	/* Make the first pick the dead port (an unpinned pick moves on). */
	if (netutil_get_port((struct sockaddr *)
	    &lb_endpoint_at(e.lb, 0)->addr) != ports[0])
		lb_pick(e.lb, NULL, &att, 0, &ep);
	for (i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(ask_id(&e), 0);
	ctr = proxy_tcp_counters(e.pt);
	/* Only the first hits the dead port: the retry moved the pin. */
	CU_ASSERT_EQUAL(ctr->connect_errors, 1);
	CU_ASSERT_EQUAL(ctr->failed, 0);
	CU_ASSERT_EQUAL(lb_pinned(e.lb), 1);
out:
	env_teardown(&e);
}

/* With every endpoint refusing, four attempts, then the client is closed. */
static void
test_proxy_tcp_all_dead(void)
{
	struct env			 e;
	struct cli			 c;
	const struct svc_counters	*ctr;
	uint16_t			 ports[2];

	memset(&c, 0, sizeof(c));
	if (env_setup(&e) == -1) {
		CU_FAIL("setup");
		goto out;
	}
	ports[0] = dead_port();
	ports[1] = dead_port();
	env_endpoints(&e, ports, 2);
	c.want_line = 1;
	c.wait_eof = 1;
	CU_ASSERT(cli_connect(&c, e.port) == 0);
	CU_ASSERT(pump_clis(&e, &c, 1, 5000));
	CU_ASSERT(c.eof || c.err == ECONNRESET);
	CU_ASSERT_EQUAL(c.linelen, 0);
	CU_ASSERT(pump(&e, env_idle, &e, 3000));
	ctr = proxy_tcp_counters(e.pt);
	CU_ASSERT_EQUAL(ctr->accepted, 1);
	CU_ASSERT_EQUAL(ctr->connect_errors, 4);
	CU_ASSERT_EQUAL(ctr->failed, 1);
	CU_ASSERT_EQUAL(ctr->active, 0);
out:
	if (c.fd > 0)
		close(c.fd);
	env_teardown(&e);
}

/* Without endpoints the client is accepted and closed at once. */
static void
test_proxy_tcp_no_endpoints(void)
{
	struct env			 e;
	struct cli			 c;
	const struct svc_counters	*ctr;

	memset(&c, 0, sizeof(c));
	if (env_setup(&e) == -1) {
		CU_FAIL("setup");
		goto out;
	}
	c.wait_eof = 1;
	CU_ASSERT(cli_connect(&c, e.port) == 0);
	CU_ASSERT(pump_clis(&e, &c, 1, 2000));
	CU_ASSERT(c.eof);
	CU_ASSERT_EQUAL(c.err, 0);
	ctr = proxy_tcp_counters(e.pt);
	CU_ASSERT_EQUAL(ctr->accepted, 1);
	CU_ASSERT_EQUAL(ctr->no_endpoints, 1);
	CU_ASSERT_EQUAL(ctr->connect_errors, 0);
	CU_ASSERT_EQUAL(ctr->active, 0);
	CU_ASSERT_EQUAL(e.loop->conns, 0);
out:
	if (c.fd > 0)
		close(c.fd);
	env_teardown(&e);
}

/* A sender stopped by a backend that does not read. */
struct stall {
	struct env	*e;
	struct cli	*c;
	int		 lfd;		/* the in-process backend */
	int		 bfd;		/* its accepted connection */
	uint64_t	 last_sent;
	uint64_t	 last_change;
};

/* Step the client and accept the backend; done once sending stalls. */
static int
stall_done(void *arg)
{
	struct stall	*s = arg;

	if (s->bfd == -1)
		s->bfd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK);
	cli_step(s->c);
	if (s->c->sent != s->last_sent) {
		s->last_sent = s->c->sent;
		s->last_change = now_ms();
	}
	return (s->c->err || s->c->sent == s->c->tosend ||
	    (s->bfd != -1 && now_ms() - s->last_change > 300));
}

/* A backend that does not read stops the client; nothing piles up. */
static void
test_proxy_tcp_backpressure(void)
{
	struct env			 e;
	struct cli			 c, b, both[2];
	struct stall			 s;
	struct proxy_tcp_memstat	 ms;
	struct sockaddr_in		 sin;
	char				 err[128];
	uint16_t			 bport;
	long				 rss0, rss1;
	const uint64_t			 size = 64 * MIB;

	memset(&c, 0, sizeof(c));
	memset(&b, 0, sizeof(b));
	memset(&s, 0, sizeof(s));
	s.lfd = s.bfd = b.fd = -1;
	if (env_setup(&e) == -1) {
		CU_FAIL("setup");
		goto out;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s.lfd = netutil_listen(IPPROTO_TCP, (struct sockaddr *)&sin,
	    sizeof(sin), 0, err, sizeof(err));
	if (s.lfd == -1) {
		CU_FAIL(err);
		goto out;
	}
	bport = netutil_local_port(s.lfd);
	env_endpoints(&e, &bport, 1);
	c.seed_tx = SEED_UP;
	c.tosend = size;
	c.noread = 1;
	s.e = &e;
	s.c = &c;
	s.last_change = now_ms();
	rss0 = rss_kb();
	CU_ASSERT(cli_connect(&c, e.port) == 0);
	CU_ASSERT(pump(&e, stall_done, &s, 10000));
	rss1 = rss_kb();
	proxy_tcp_memstat(e.pt, &ms);
	CU_ASSERT_EQUAL(c.err, 0);
	CU_ASSERT(s.bfd != -1);
	/*
	 * Kernel buffers hold some; the relay at most one read: a pipe
	 * splices what the peer has room for, PROXY_ROOM_MIN once it is
	 * full, and a buffer holds one 64 KiB recv() (issue 14: a whole
	 * 1 MiB pipe per stalled connection before).
	 */
	CU_ASSERT(c.sent < size);
	CU_ASSERT(ms.bytes <= CHUNK);
	CU_ASSERT(ms.pipes + ms.bufs <= 1);
	CU_ASSERT(rss1 - rss0 < 8 * 1024);
	if (verbose)
		printf("\n  stalled after %llu bytes; relay holds %zu bytes, "
		    "rss +%ld KiB\n", (unsigned long long)c.sent, ms.bytes,
		    rss1 - rss0);
	/* The backend reads now: everything arrives, then EOF both ways. */
	b.fd = s.bfd;
	b.seed_rx = SEED_UP;
	b.want = size;
	b.wait_eof = 1;
	c.shut = 1;
	both[0] = c;
	both[1] = b;
	CU_ASSERT(pump_clis(&e, both, 2, 20000));
	c = both[0];
	b = both[1];
	CU_ASSERT_EQUAL(b.err, 0);
	CU_ASSERT_EQUAL(b.bad, 0);
	CU_ASSERT_EQUAL(b.rcvd, size);
	CU_ASSERT(b.eof);
	close(b.fd);
	b.fd = -1;
	c.noread = 0;
	c.wait_eof = 1;
	CU_ASSERT(pump_clis(&e, &c, 1, 3000));
	CU_ASSERT(c.eof);
	CU_ASSERT(pump(&e, env_idle, &e, 3000));
out:
	if (c.fd > 0)
		close(c.fd);
	if (b.fd != -1)
		close(b.fd);
	if (s.lfd != -1)
		close(s.lfd);
	env_teardown(&e);
}

/* Idle relayed connections hold their two sockets: no pipe, no buffer. */
static void
test_proxy_tcp_idle_fds(void)
{
	struct env			 e;
	struct cli			 c[50];
	struct proxy_tcp_memstat	 ms;
	const int			 n = 50;
	int				 before, after, i;
	size_t				 pool0;

	memset(c, 0, sizeof(c));
	for (i = 0; i < n; i++)
		c[i].fd = -1;
	if (env_setup(&e) == -1 || env_backends(&e, SRV_ECHO, 1) == -1) {
		CU_FAIL("setup");
		goto out;
	}
	before = tu_fd_count();
	pool0 = e.loop->npipes;
	/* 256 KiB each way first, so that bulk mode takes pipes. */
	for (i = 0; i < n; i++) {
		c[i].seed_tx = c[i].seed_rx = SEED_UP + i;
		c[i].tosend = c[i].want = 256 * 1024;
		CU_ASSERT(cli_connect(&c[i], e.port) == 0);
	}
	CU_ASSERT(pump_clis(&e, c, n, 10000));
	for (i = 0; i < n; i++)
		CU_ASSERT(c[i].rcvd == c[i].want && !c[i].bad && !c[i].err);
	after = tu_fd_count();
	proxy_tcp_memstat(e.pt, &ms);
	CU_ASSERT_EQUAL(ms.pipes, 0);
	CU_ASSERT_EQUAL(ms.bufs, 0);
	CU_ASSERT_EQUAL(ms.bytes, 0);
	CU_ASSERT_EQUAL(proxy_tcp_counters(e.pt)->active, n);
	CU_ASSERT(e.loop->npipes > pool0);
	/* Our n clients, 2 per relayed connection, and the pooled pipes. */
	CU_ASSERT_EQUAL(after - before,
	    n + 2 * n + 2 * (int)(e.loop->npipes - pool0));
	if (verbose)
		printf("\n  %d idle connections: +%d fds (%zu pooled pipes)\n",
		    n, after - before, e.loop->npipes - pool0);
	for (i = 0; i < n; i++) {
		close(c[i].fd);
		c[i].fd = -1;
	}
	CU_ASSERT(pump(&e, env_idle, &e, 5000));
	CU_ASSERT_EQUAL(tu_fd_count() - before,
	    2 * (int)(e.loop->npipes - pool0));
out:
	for (i = 0; i < n; i++)
		if (c[i].fd != -1)
			close(c[i].fd);
	env_teardown(&e);
}

/* Connect with a blocking socket; return 0 or the errno. */
static int
connect_errno(uint16_t port)
{
	struct sockaddr_in	sin;
	int			fd, r = 0;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return (errno);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		r = errno;
	close(fd);
	return (r);
}

/* Closing without kill keeps relaying; new clients are refused. */
static void
test_proxy_tcp_close_keeps_conns(void)
{
	struct env	e;
	struct cli	c;

	memset(&c, 0, sizeof(c));
	if (env_setup(&e) == -1 || env_backends(&e, SRV_ECHO, 1) == -1) {
		CU_FAIL("setup");
		goto out;
	}
	c.seed_tx = c.seed_rx = SEED_UP;
	c.tosend = c.want = 1000;
	CU_ASSERT(cli_connect(&c, e.port) == 0);
	CU_ASSERT(pump_clis(&e, &c, 1, 3000) && c.rcvd == 1000);
	proxy_tcp_close(e.pt, 0);
	/* The balancer may go at once (the proxier frees it). */
	lb_free(e.lb);
	e.lb = NULL;
	CU_ASSERT(LIST_FIRST(&e.loop->tcp_dying) == e.pt);
	CU_ASSERT_EQUAL(connect_errno(e.port), ECONNREFUSED);
	c.tosend = c.want = 3 * MIB;
	CU_ASSERT(pump_clis(&e, &c, 1, 5000));
	CU_ASSERT(c.rcvd == 3 * MIB && !c.bad && !c.err && !c.eof);
	c.shut = c.wait_eof = 1;
	CU_ASSERT(pump_clis(&e, &c, 1, 3000) && c.eof);
	/* The last connection gone, the service port is freed. */
	CU_ASSERT(pump(&e, env_no_dying, &e, 3000));
	e.pt = NULL;
out:
	if (c.fd > 0)
		close(c.fd);
	env_teardown(&e);
}

/* proxy_tcp_kill_dying resets what closed services still relay. */
static void
test_proxy_tcp_kill_dying(void)
{
	struct env	e;
	struct cli	c;

	memset(&c, 0, sizeof(c));
	if (env_setup(&e) == -1 || env_backends(&e, SRV_ECHO, 1) == -1) {
		CU_FAIL("setup");
		goto out;
	}
	c.seed_tx = c.seed_rx = SEED_UP;
	c.tosend = c.want = 100;
	CU_ASSERT(cli_connect(&c, e.port) == 0);
	CU_ASSERT(pump_clis(&e, &c, 1, 3000) && c.rcvd == 100);
	proxy_tcp_close(e.pt, 0);
	CU_ASSERT(!LIST_EMPTY(&e.loop->tcp_dying));
	e.pt = NULL;
	proxy_tcp_kill_dying(e.loop);
	CU_ASSERT(LIST_EMPTY(&e.loop->tcp_dying));
	CU_ASSERT_EQUAL(e.loop->conns, 0);
	c.wait_eof = 1;
	CU_ASSERT(pump_clis(&e, &c, 1, 2000));
	CU_ASSERT_EQUAL(c.err, ECONNRESET);
out:
	if (c.fd > 0)
		close(c.fd);
	env_teardown(&e);
}

/* A service closed during a connect attempt does not retry. */
static void
test_proxy_tcp_close_while_connecting(void)
{
	struct env	e;
	struct cli	c;
	uint16_t	bh_port;
	uint64_t	t0;
	int		bh = -1, filler = -1;

	memset(&c, 0, sizeof(c));
	if (env_setup(&e) == -1 || env_backends(&e, SRV_ID, 1) == -1 ||
	    (bh = blackhole_open(&bh_port, &filler)) == -1) {
		CU_FAIL("setup");
		goto out;
	}
	env_endpoints(&e, &bh_port, 1);
	c.want_line = 1;
	c.wait_eof = 1;
	t0 = now_ms();
	CU_ASSERT(cli_connect(&c, e.port) == 0);
	pump_clis(&e, &c, 1, 50);
	CU_ASSERT_EQUAL(e.loop->conns, 1);
	proxy_tcp_close(e.pt, 0);
	e.pt = NULL;
	/* A retry (wrong) would now reach the live backend. */
	env_endpoints(&e, e.srv.port, 1);
	CU_ASSERT(pump_clis(&e, &c, 1, 3000));
	CU_ASSERT(c.eof || c.err == ECONNRESET);
	CU_ASSERT_EQUAL(c.linelen, 0);
	/* It waited for the 250 ms timeout (a retry would have a line). */
	CU_ASSERT(now_ms() - t0 >= 240 && now_ms() - t0 < 2000);
	CU_ASSERT(pump(&e, env_no_dying, &e, 1000));
	CU_ASSERT_EQUAL(e.loop->conns, 0);
out:
	blackhole_close(&c, 1, bh, filler);
	env_teardown(&e);
}

/* A backend that never answers times out; others are served meanwhile. */
static void
test_proxy_tcp_slow_backend(void)
{
	struct env			 e;
	struct cli			 c[2];
	struct clis			 cs = { c, 2, 1 };
	const struct svc_counters	*ctr;
	uint16_t			 ports[2];
	int				 bh = -1, filler = -1, i;

	memset(c, 0, sizeof(c));
	if (env_setup(&e) == -1 || env_backends(&e, SRV_ID, 1) == -1 ||
	    (bh = blackhole_open(&ports[0], &filler)) == -1) {
		CU_FAIL("setup");
		goto out;
	}
	ports[1] = e.srv.port[0];
	env_endpoints(&e, ports, 2);
	for (i = 0; i < 2; i++) {
		c[i].want_line = 1;
		CU_ASSERT(cli_connect(&c[i], e.port) == 0);
	}
	/* Round robin sends one client to each endpoint. */
	CU_ASSERT(pump(&e, clis_done, &cs, 3000));
	ctr = proxy_tcp_counters(e.pt);
	CU_ASSERT(c[0].line_done || c[1].line_done);
	/* Served before the first 250 ms timeout: accepting never waited. */
	CU_ASSERT_EQUAL(ctr->connect_errors, 0);
	CU_ASSERT(pump_clis(&e, c, 2, 5000));
	CU_ASSERT(c[0].line_done && c[1].line_done);
	CU_ASSERT(ctr->connect_errors >= 1);
	CU_ASSERT_EQUAL(ctr->failed, 0);
out:
	blackhole_close(c, 2, bh, filler);
	env_teardown(&e);
}

/* Clients stepped while foreign write wakeups are injected. */
struct race {
	struct event_base *base;
	struct clis	 cs;
	struct event	*found[64];
	int		 nfound;
	struct event	*done[64];	/* injected already */
	int		 ndone;
	int		 injected;
};

/* Collect the write events of sockets still in SYN_SENT. */
static int
race_scan(const struct event_base *base, const struct event *ev, void *arg)
{
	struct race	*r = arg;
	struct tcp_info	 ti;
	socklen_t	 len = sizeof(ti);
	int		 fd = event_get_fd(ev), i;

	if (fd < 0 || !(event_get_events(ev) & EV_WRITE))
		return (0);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1 ||
	    ti.tcpi_state != TCP_SYN_SENT)
		return (0);
	for (i = 0; i < r->ndone; i++)
		if (r->done[i] == ev)
			return (0);
	if (r->nfound < 64)
		r->found[r->nfound++] = (struct event *)ev;
	return (0);
}

/*
 * Step the clients; before that, wake every backend socket still in
 * SYN_SENT once with a write event that is not its own.
 */
static int
race_done(void *arg)
{
	struct race	*r = arg;
	int		 i;

	r->nfound = 0;
	event_base_foreach_event(r->base, race_scan, r);
	/* Events may not change inside the walk: activate afterwards. */
	for (i = 0; i < r->nfound; i++) {
		event_active(r->found[i], EV_WRITE, 0);
		if (r->ndone < 64)
			r->done[r->ndone++] = r->found[i];
		r->injected++;
	}
	return (clis_done(&r->cs));
}

/*
 * Issue 10's race: a write wakeup that is not the connect's own must
 * not be taken for its completion.  Backends: a black hole (it drops
 * SYNs) and a live one.  Every backend socket still connecting is woken
 * with an injected EV_WRITE (SO_ERROR reads 0 then).  Before the fix
 * such a connection was relayed to the socket still in SYN_SENT: its
 * client never got an answer (in the field, a reset with "No route to
 * host" once ARP gave up).  Now the attempt waits for its own outcome,
 * times out and is retried on the live endpoint.
 */
static void
test_proxy_tcp_foreign_wakeup(void)
{
	struct env			 e;
	struct cli			 c[8];
	struct race			 r;
	const struct svc_counters	*ctr;
	uint16_t			 ports[2];
	int				 bh = -1, filler = -1, i, ok = 0;

	memset(c, 0, sizeof(c));
	memset(&r, 0, sizeof(r));
	if (env_setup(&e) == -1 || env_backends(&e, SRV_ID, 1) == -1 ||
	    (bh = blackhole_open(&ports[0], &filler)) == -1) {
		CU_FAIL("setup");
		goto out;
	}
	ports[1] = e.srv.port[0];
	env_endpoints(&e, ports, 2);
	for (i = 0; i < 8; i++) {
		c[i].want_line = 1;
		CU_ASSERT(cli_connect(&c[i], e.port) == 0);
	}
	r.cs.c = c;
	r.cs.n = 8;
	r.base = e.base;
	CU_ASSERT(pump(&e, race_done, &r, 5000));
	for (i = 0; i < 8; i++)
		ok += c[i].line_done && atoi(c[i].line) == 0 && !c[i].err;
	CU_ASSERT_EQUAL(ok, 8);
	/* Round robin sent some to the black hole, and they were woken. */
	CU_ASSERT(r.injected >= 1);
	ctr = proxy_tcp_counters(e.pt);
	CU_ASSERT(ctr->connect_errors >= 1);
	CU_ASSERT_EQUAL(ctr->failed, 0);
out:
	blackhole_close(c, 8, bh, filler);
	env_teardown(&e);
}

/* Run the loop for ms and return the CPU milliseconds it used. */
static uint64_t
loop_cpu(struct env *e, int ms)
{
	struct timeval	tv = { 0, ms * 1000 };
	uint64_t	cpu0;

	event_del(e->tick);
	cpu0 = cpu_ms();
	event_base_loopexit(e->base, &tv);
	event_base_dispatch(e->base);
	tv.tv_usec = 2000;
	event_add(e->tick, &tv);
	return (cpu_ms() - cpu0);
}

/*
 * Return 1 under valgrind.  Its RLIMIT_NOFILE is emulated: the kernel
 * accept()s, then valgrind closes the descriptor and fakes EMFILE, which
 * resets the pending client instead of leaving it queued.
 */
static int
under_valgrind(void)
{
	const char	*p = getenv("LD_PRELOAD");

	return (p != NULL && strstr(p, "vgpreload") != NULL);
}

/* Out of descriptors, the listener pauses and resumes when some free. */
static void
test_proxy_tcp_emfile(void)
{
	struct env			 e;
	struct cli			 c[2];
	struct rlimit			 rl0, rl;
	const struct svc_counters	*ctr;
	uint64_t			 cpu;
	int				 fd[2], i, lowered = 0;

	memset(c, 0, sizeof(c));
	fd[0] = fd[1] = -1;
	if (under_valgrind()) {
		printf("skipped under valgrind ");
		return;
	}
	getrlimit(RLIMIT_NOFILE, &rl0);
	if (env_setup(&e) == -1 || env_backends(&e, SRV_ID, 1) == -1) {
		CU_FAIL("setup");
		goto out;
	}
	for (i = 0; i < 2; i++) {
		fd[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		c[i].want_line = 1;
	}
	/* Room for one relayed connection: client and backend socket. */
	rl = rl0;
	rl.rlim_cur = fd_limit_leaving(2);
	if (rl.rlim_cur == 0 || setrlimit(RLIMIT_NOFILE, &rl) == -1) {
		CU_FAIL("setrlimit");
		goto out;
	}
	lowered = 1;
	CU_ASSERT(cli_connect_fd(&c[0], fd[0], e.port) == 0);
	fd[0] = -1;
	CU_ASSERT(pump_clis(&e, &c[0], 1, 3000) && c[0].line_done);
	CU_ASSERT(cli_connect_fd(&c[1], fd[1], e.port) == 0);
	fd[1] = -1;
	CU_ASSERT(!pump_clis(&e, &c[1], 1, 100));
	CU_ASSERT(e.loop->fd_pauses >= 1);
	/* Paused, not spinning on the pending connection. */
	cpu = loop_cpu(&e, 300);
	CU_ASSERT(cpu < 100);
	CU_ASSERT(!c[1].line_done);
	/* The first connection ends: its descriptors serve the second. */
	close(c[0].fd);
	c[0].fd = -1;
	CU_ASSERT(pump_clis(&e, &c[1], 1, 3000) && c[1].line_done);
	ctr = proxy_tcp_counters(e.pt);
	CU_ASSERT_EQUAL(ctr->accepted, 2);
	CU_ASSERT_EQUAL(ctr->failed, 0);
	if (verbose)
		printf("\n  paused for EMFILE: %llu ms CPU in 300 ms\n",
		    (unsigned long long)cpu);
out:
	if (lowered)
		setrlimit(RLIMIT_NOFILE, &rl0);
	for (i = 0; i < 2; i++) {
		if (fd[i] != -1)
			close(fd[i]);
		if (c[i].fd > 0)
			close(c[i].fd);
	}
	env_teardown(&e);
}

/* No descriptor for the backend socket: that client fails, we pause. */
static void
test_proxy_tcp_emfile_backend(void)
{
	struct env			 e;
	struct cli			 c[2];
	struct rlimit			 rl0, rl;
	const struct svc_counters	*ctr;
	int				 fd, i, lowered = 0;

	memset(c, 0, sizeof(c));
	getrlimit(RLIMIT_NOFILE, &rl0);
	if (env_setup(&e) == -1 || env_backends(&e, SRV_ID, 1) == -1) {
		CU_FAIL("setup");
		goto out;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	c[0].want_line = c[1].want_line = 1;
	/* Room for the accepted client only. */
	rl = rl0;
	rl.rlim_cur = fd_limit_leaving(1);
	if (rl.rlim_cur == 0 || setrlimit(RLIMIT_NOFILE, &rl) == -1) {
		CU_FAIL("setrlimit");
		goto out;
	}
	lowered = 1;
	CU_ASSERT(cli_connect_fd(&c[0], fd, e.port) == 0);
	CU_ASSERT(pump_clis(&e, &c[0], 1, 3000));
	CU_ASSERT(c[0].err == ECONNRESET && !c[0].line_done);
	ctr = proxy_tcp_counters(e.pt);
	CU_ASSERT_EQUAL(ctr->failed, 1);
	CU_ASSERT_EQUAL(ctr->connect_errors, 0);
	CU_ASSERT_EQUAL(ctr->active, 0);
	CU_ASSERT(e.loop->fd_pauses >= 1);
	/* Descriptors back: the retry timer (1 s) resumes accepting. */
	setrlimit(RLIMIT_NOFILE, &rl0);
	lowered = 0;
	CU_ASSERT(cli_connect(&c[1], e.port) == 0);
	CU_ASSERT(pump_clis(&e, &c[1], 1, 3000) && c[1].line_done);
	CU_ASSERT_EQUAL(ctr->accepted, 2);
out:
	if (lowered)
		setrlimit(RLIMIT_NOFILE, &rl0);
	for (i = 0; i < 2; i++)
		if (c[i].fd > 0)
			close(c[i].fd);
	env_teardown(&e);
}

/* With no descriptor left for a pipe, bulk is copied, still intact. */
static void
test_proxy_tcp_no_pipe_fallback(void)
{
	struct env	e;
	struct cli	c;
	struct watch	w;
	struct rlimit	rl0, rl;
	int		fd, lowered = 0;

	memset(&c, 0, sizeof(c));
	getrlimit(RLIMIT_NOFILE, &rl0);
	if (env_setup(&e) == -1 || env_backends(&e, SRV_ECHO, 1) == -1) {
		CU_FAIL("setup");
		goto out;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	rl = rl0;
	rl.rlim_cur = fd_limit_leaving(2);
	if (rl.rlim_cur == 0 || setrlimit(RLIMIT_NOFILE, &rl) == -1) {
		CU_FAIL("setrlimit");
		goto out;
	}
	lowered = 1;
	c.seed_tx = c.seed_rx = SEED_UP;
	c.tosend = c.want = 8 * MIB;
	c.shut = c.wait_eof = 1;
	memset(&w, 0, sizeof(w));
	w.e = &e;
	w.cs.c = &c;
	w.cs.n = 1;
	CU_ASSERT(cli_connect_fd(&c, fd, e.port) == 0);
	CU_ASSERT(pump(&e, watch_done, &w, 10000));
	CU_ASSERT(c.rcvd == 8 * MIB && !c.bad && !c.err && c.eof);
	CU_ASSERT_EQUAL(w.max.pipes, 0);
	/* One 64 KiB read per direction; both may wait at once. */
	CU_ASSERT(w.max.bytes <= 2 * 64 * 1024);
	CU_ASSERT_EQUAL(e.loop->npipes, 0);
	CU_ASSERT(pump(&e, env_idle, &e, 3000));
out:
	if (lowered)
		setrlimit(RLIMIT_NOFILE, &rl0);
	if (c.fd > 0)
		close(c.fd);
	env_teardown(&e);
}

/* Return 1 once every flood connection was accepted (arg: counters). */
static int
fair_done(void *arg)
{
	const struct svc_counters	*c = arg;

	return (c->accepted == FAIR_FLOOD);
}

/*
 * A connection flood to one service does not starve another on the same
 * loop: one wakeup accepts at most PROXY_MAXACCEPT (64) clients from a
 * listener, then the loop serves the other ready listeners.
 */
static void
test_proxy_tcp_fair_accept(void)
{
	struct env		 e;
	struct sockaddr_in	 sin;
	struct proxy_tcp	*pt2 = NULL;
	struct lb		*lb2;
	const struct svc_counters *c1, *c2;
	char			 err[256];
	int			 fd, i, cfd[FAIR_FLOOD + 1];
	uint16_t		 port2;

	for (i = 0; i <= FAIR_FLOOD; i++)
		cfd[i] = -1;
	lb2 = lb_new(LB_AFFINITY_NONE, 0);
	if (env_setup(&e) == -1) {
		CU_FAIL("setup");
		goto out;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = netutil_listen(IPPROTO_TCP, (struct sockaddr *)&sin, sizeof(sin),
	    0, err, sizeof(err));
	if (fd == -1) {
		CU_FAIL(err);
		goto out;
	}
	port2 = netutil_local_port(fd);
	if ((pt2 = proxy_tcp_new(e.loop, fd, "test/svc:other", lb2, NULL)) == NULL) {
		CU_FAIL("proxy_tcp_new");
		goto out;
	}
	/* No endpoints: each accepted client is closed at once, counted. */
	c1 = proxy_tcp_counters(e.pt);
	c2 = proxy_tcp_counters(pt2);
	for (i = 0; i < FAIR_FLOOD; i++) {
		cfd[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		sin.sin_port = htons(e.port);
		(void)connect(cfd[i], (struct sockaddr *)&sin, sizeof(sin));
	}
	cfd[FAIR_FLOOD] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	sin.sin_port = htons(port2);
	(void)connect(cfd[FAIR_FLOOD], (struct sockaddr *)&sin, sizeof(sin));
	/* Loopback handshakes complete at once; one pass serves both. */
	usleep(20000);
	event_base_loop(e.base, EVLOOP_ONCE);
	CU_ASSERT_EQUAL(c2->accepted, 1);
	CU_ASSERT(c1->accepted >= 1 && c1->accepted <= 64);
	/* The rest of the flood follows in later wakeups. */
	CU_ASSERT(pump(&e, fair_done, (void *)c1, 5000));
out:
	for (i = 0; i <= FAIR_FLOOD; i++)
		if (cfd[i] != -1)
			close(cfd[i]);
	if (pt2 != NULL)
		proxy_tcp_close(pt2, 1);
	lb_free(lb2);
	env_teardown(&e);
}

static const struct tu_case cases[] = {
	{ "round robin over 3 backends", test_proxy_tcp_round_robin },
	{ "32 MiB each way intact", test_proxy_tcp_integrity },
	{ "half-close gets the full reply", test_proxy_tcp_half_close },
	{ "dead backend skipped", test_proxy_tcp_dead_backend_skipped },
	{ "affinity moves after a failure", test_proxy_tcp_affinity_reset },
	{ "all backends dead", test_proxy_tcp_all_dead },
	{ "no endpoints", test_proxy_tcp_no_endpoints },
	{ "backpressure bounds memory", test_proxy_tcp_backpressure },
	{ "idle connection holds 2 fds", test_proxy_tcp_idle_fds },
	{ "close keeps connections", test_proxy_tcp_close_keeps_conns },
	{ "kill dying services", test_proxy_tcp_kill_dying },
	{ "close while connecting", test_proxy_tcp_close_while_connecting },
	{ "slow backend does not block", test_proxy_tcp_slow_backend },
	{ "foreign wakeup is not a connect", test_proxy_tcp_foreign_wakeup },
	{ "EMFILE pauses the listener", test_proxy_tcp_emfile },
	{ "EMFILE on the backend socket", test_proxy_tcp_emfile_backend },
	{ "no pipe: read/write fallback", test_proxy_tcp_no_pipe_fallback },
	{ "a flood does not starve another service",
	    test_proxy_tcp_fair_accept },
	{ NULL, NULL }
};

/* Run the suite; KUPROXY_TEST_VERBOSE=1 adds logs and figures. */
int
main(void)
{
	verbose = getenv("KUPROXY_TEST_VERBOSE") != NULL;
	return (tu_run("proxy_tcp", cases));
}
