/*
 * proxy_tcp.c: the TCP relay of one service port.
 *
 * The data path follows performance-notes.md: raw edge-triggered events
 * instead of bufferevents, speculative I/O (try first, subscribe to
 * EV_WRITE only after EAGAIN) and splice() for bulk.  Each direction
 * reads only when nothing of it is pending, then writes at once, so at
 * most one pipe (or one buffer) of bytes waits per direction and a peer
 * that does not read stops the other side through TCP flow control.
 *
 * Small messages go through a per-thread scratch buffer with recv() and
 * send(); a direction switches to splice() once a read fills the
 * scratch buffer, and back once splice() moves little several times in
 * a row.  Bytes the peer does not take at once are copied to a buffer
 * allocated for them and freed when written; a pipe goes back to the
 * loop's pool as soon as it is empty.  An idle connection holds its two
 * sockets, nothing else.
 *
 * What a stalled connection holds (a peer that does not read) is
 * bounded per direction: a splice() reads at most what the peer's send
 * buffer has room for (SIOCOUTQ against SO_SNDBUF, PROXY_ROOM_MIN at
 * least), and once a direction has found its peer full it reads at most
 * PROXY_ROOM_MIN at a time until a read goes out whole again.  So a
 * stalled direction keeps one buffer of at most PROXY_SCRATCH (the read
 * that found the peer full) or a pipe holding about PROXY_ROOM_MIN,
 * instead of up to a whole 1 MiB pipe (issue 14: 1,000 stalled
 * connections once pinned 166 MB of pipe pages).
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <linux/sockios.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "lb.h"
#include "log.h"
#include "loop.h"
#include "netutil.h"
#include "proxy_tcp.h"

#define PROXY_ATTEMPTS		4		/* EndpointDialTimeouts */
#define PROXY_MAXACCEPT		64		/* accepts per wakeup */
#define PROXY_SPLICE_MAX	(1024 * 1024)	/* bytes per splice() in */
#define PROXY_SCRATCH		(64 * 1024)	/* bytes per recv() */
#define PROXY_SMALL		(16 * 1024)	/* splice() this small... */
#define PROXY_SMALL_RUN		4		/* ...so many times: copy */
#define PROXY_BUDGET		(2 * 1024 * 1024) /* bytes per wakeup */
#define PROXY_ROOM_MIN		(16 * 1024)	/* read at least, if full */
#define PROXY_KEEPALIVE		15		/* seconds, as Go's net.Dial */
#define PROXY_POOL		256		/* free connections kept */
#define PROXY_SNDBUF_AGE	16		/* splices per SO_SNDBUF read */

static const int proxy_timeouts_ms[PROXY_ATTEMPTS] = { 250, 500, 1000, 2000 };

/*
 * Per thread rather than global, as each loop runs on one thread.  Bytes
 * stay here only between a recv() and the send() right after it.
 */
static _Thread_local char proxy_scratch[PROXY_SCRATCH];

/* Closed connections kept for reuse, per thread as the loops are. */

enum conn_state {
	CONN_CONNECTING = 0,	/* backend connect() in progress */
	CONN_RELAY,		/* relaying both ways */
	CONN_HALF,		/* one way finished and its EOF relayed */
};

enum half_state {
	HALF_OPEN = 0,		/* reading fd */
	HALF_EOF,		/* read EOF on fd, peer shut down for writing */
};

/*
 * One side of a connection.  Its pending bytes were read from fd and go
 * to peer->fd; they sit in pipe (splice) or at data (proxy_scratch or
 * buf).  One edge-triggered event serves both directions of fd for the
 * whole relay (one epoll_ctl to add, one to delete): its EV_WRITE
 * matters only while want_write (a write to fd returned EAGAIN), as
 * epoll reports writable with every wakeup.
 */
struct conn_half {
	int			 fd;
	struct event		*ev;		/* evmem once assigned */
	struct event		*evmem;		/* in the connection's block */
	int			 want_write;
	enum half_state		 state;
	struct conn_half	*peer;
	struct proxy_conn	*conn;
	int			 bulk;		/* read with splice() */
	int			 small;		/* small splices in a row */
	int			 slow;		/* peer was full: read little */
	int			 rdhup;		/* EV_CLOSED seen: FIN queued */
	int			 drained;	/* a short recv() emptied fd */
	int			 peer_sndbuf;	/* peer's SO_SNDBUF, cached */
	int			 sndbuf_age;	/* splices left until re-read */
	int			 pipe[2];
	char			*buf;		/* owned copy of unsent bytes */
	char			*data;		/* proxy_scratch or buf */
	size_t			 off;
	size_t			 len;		/* pending bytes */
	uint64_t		 bytes;		/* relayed from fd to peer */
};

/*
 * A connection and its three events are one allocation, kept in a
 * per-thread pool once closed: no malloc() per connection in a steady
 * load.
 */
struct proxy_conn {
	/* First: loop_free() walks the pool by it (loop.h). */
	struct proxy_conn	*next_free;	/* in the loop's pool */
	TAILQ_ENTRY(proxy_conn)	 entry;
	struct proxy_tcp	*pt;
	enum conn_state		 state;
	struct lb_attempt	 att;		/* endpoints tried */
	struct event		*timer;		/* connect attempt's timeout */
	int			 err;		/* errno for the close log */
	struct conn_half	 in;		/* client side */
	struct conn_half	 out;		/* backend side */
	struct sockaddr_storage	 client;
	struct lb_endpoint	 ep;		/* current backend */
};

struct proxy_tcp {
	struct loop		*loop;
	struct lb		*lb;		/* NULL once closed */
	char			*name;
	int			 fd;		/* listener, -1 once closed */
	struct event		*ev;
	struct loop_waiter	 waiter;
	int			 paused;	/* waiting for descriptors */
	int			 accepting;	/* inside proxy_tcp_accept */
	int			 killing;	/* inside proxy_tcp_kill */
	int			 dying;		/* on loop->tcp_dying */
	int			 stopped;	/* proxy_tcp_stop: no accepts */
	short			 ev_flags;	/* of a connection's events */
	struct log_ratelimit	 dial_rl;	/* failed dials logged */
	struct svc_counters	*c;		/* counters: own, or a slot */
	struct svc_counters	 own;
	TAILQ_HEAD(, proxy_conn) conns;
	LIST_ENTRY(proxy_tcp)	 entry;
};

static void	proxy_tcp_accept_cb(evutil_socket_t, short, void *);
static void	proxy_tcp_resume(void *);
static void	proxy_half_cb(evutil_socket_t, short, void *);
static void	proxy_conn_timeout_cb(evutil_socket_t, short, void *);
static int	proxy_conn_connect(struct proxy_conn *);
static int	proxy_move(struct conn_half *);
static int	proxy_half_readable(struct conn_half *, short);
static void	proxy_conn_close(struct proxy_conn *, const char *, int);

/* Set TCP_NODELAY and keep-alive (15 s idle and interval, as Go does). */
static void
proxy_sockopts(int fd)
{
	int	on = 1, secs = PROXY_KEEPALIVE;

	/* Failures only cost latency or dead-peer detection. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &secs, sizeof(secs));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &secs, sizeof(secs));
}

/* Start relaying for one service port. */
struct proxy_tcp *
proxy_tcp_new(struct loop *l, int fd, const char *name, struct lb *lb,
    struct svc_counters *c)
{
	struct proxy_tcp	*pt;

	if ((pt = calloc(1, sizeof(*pt))) == NULL)
		goto fail;
	if ((pt->name = strdup(name)) == NULL)
		goto fail_pt;
	pt->ev = event_new(l->base, fd, EV_READ | EV_PERSIST,
	    proxy_tcp_accept_cb, pt);
	if (pt->ev == NULL)
		goto fail_name;
	if (event_add(pt->ev, NULL) == -1)
		goto fail_ev;
	pt->loop = l;
	pt->lb = lb;
	pt->c = c != NULL ? c : &pt->own;
	pt->fd = fd;
	/*
	 * With EV_CLOSED (EPOLLRDHUP) a short recv() means the socket is
	 * drained unless a FIN is queued too, which saves the recv() that
	 * would return EAGAIN: two syscalls per keep-alive request.
	 */
	pt->ev_flags = EV_READ | EV_WRITE | EV_ET | EV_PERSIST;
	if (event_base_get_features(l->base) & EV_FEATURE_EARLY_CLOSE)
		pt->ev_flags |= EV_CLOSED;
	pt->waiter.resume = proxy_tcp_resume;
	pt->waiter.arg = pt;
	TAILQ_INIT(&pt->conns);
	/*
	 * Linux copies these options to each accepted socket (it is a clone
	 * of the listener): four syscalls fewer per connection.
	 */
	proxy_sockopts(fd);
	return (pt);

fail_ev:
	event_free(pt->ev);
fail_name:
	free(pt->name);
fail_pt:
	free(pt);
fail:
	close(fd);
	return (NULL);
}

/* Free a closed service port that has no connection left. */
static void
proxy_tcp_free(struct proxy_tcp *pt)
{
	if (pt->dying)
		LIST_REMOVE(pt, entry);
	free(pt->name);
	free(pt);
}

/* Close every connection of a closed service port, then free it. */
static void
proxy_tcp_kill(struct proxy_tcp *pt)
{
	struct proxy_conn	*conn;

	pt->killing = 1;
	while ((conn = TAILQ_FIRST(&pt->conns)) != NULL)
		proxy_conn_close(conn, "killed", 1);
	proxy_tcp_free(pt);
}

/* Stop accepting; kill or keep the connections. */
void
proxy_tcp_close(struct proxy_tcp *pt, int kill)
{
	struct loop	*l = pt->loop;

	if (pt->fd == -1)
		return;
	loop_fd_cancel(l, &pt->waiter);
	event_free(pt->ev);
	pt->ev = NULL;
	close(pt->fd);
	pt->fd = -1;
	/* Connections still connecting see this and do not retry. */
	pt->lb = NULL;
	/* The slot belongs to the service port, which is gone. */
	if (pt->c != &pt->own) {
		memcpy(&pt->own, pt->c, sizeof(pt->own));
		pt->c = &pt->own;
	}
	if (kill || TAILQ_EMPTY(&pt->conns))
		proxy_tcp_kill(pt);
	else {
		LIST_INSERT_HEAD(&l->tcp_dying, pt, entry);
		pt->dying = 1;
	}
	loop_fd_released(l);
}

/* Stop accepting; the listener and the connections stay. */
void
proxy_tcp_stop(struct proxy_tcp *pt)
{
	if (pt->fd == -1 || pt->stopped)
		return;
	pt->stopped = 1;
	loop_fd_cancel(pt->loop, &pt->waiter);
	pt->paused = 0;
	event_del(pt->ev);
}

/* Return the listening socket. */
int
proxy_tcp_fd(const struct proxy_tcp *pt)
{
	return (pt->fd);
}

/* Close every connection of every closed service port. */
void
proxy_tcp_kill_dying(struct loop *l)
{
	struct proxy_tcp	*pt;

	/* proxy_tcp_kill frees pt, which takes it off the list. */
	while ((pt = LIST_FIRST(&l->tcp_dying)) != NULL)
		proxy_tcp_kill(pt);
}

/* Return the counters of this service port. */
const struct svc_counters *
proxy_tcp_counters(const struct proxy_tcp *pt)
{
	return (pt->c);
}

/* Add up what the connections hold. */
void
proxy_tcp_memstat(const struct proxy_tcp *pt, struct proxy_tcp_memstat *ms)
{
	const struct proxy_conn	*conn;
	const struct conn_half	*h[2];
	int			 i;

	memset(ms, 0, sizeof(*ms));
	TAILQ_FOREACH(conn, &pt->conns, entry) {
		h[0] = &conn->in;
		h[1] = &conn->out;
		for (i = 0; i < 2; i++) {
			ms->bytes += h[i]->len;
			ms->pipes += h[i]->pipe[0] != -1;
			ms->bufs += h[i]->buf != NULL;
		}
	}
}

/* Stop accepting until descriptors are released. */
static void
proxy_tcp_pause(struct proxy_tcp *pt)
{
	if (pt->paused || pt->fd == -1 || pt->stopped)
		return;
	event_del(pt->ev);
	pt->paused = 1;
	loop_fd_wait(pt->loop, &pt->waiter);
}

/*
 * Accept again right away once descriptors were released, so that a
 * listener still short of them parks itself again before
 * loop_fd_released() decides the episode is over.
 */
static void
proxy_tcp_resume(void *arg)
{
	struct proxy_tcp	*pt = arg;

	if (!pt->paused || pt->fd == -1 || pt->stopped)
		return;
	pt->paused = 0;
	if (event_add(pt->ev, NULL) == -1) {
		proxy_tcp_pause(pt);
		return;
	}
	/* Called from a close path inside our own accept loop: it goes on. */
	if (!pt->accepting)
		proxy_tcp_accept_cb(pt->fd, EV_READ, pt);
}

/*
 * Handle an accept() error by category.  Returns 0 to accept again, -1
 * to stop for this wakeup.
 */
static int
proxy_tcp_accept_error(struct proxy_tcp *pt, int err)
{
	switch (err) {
	case EAGAIN:
		return (-1);
	case EINTR:
	case ECONNABORTED:
	/* Errors of the new connection, passed on by accept(2). */
	case EPERM:
	case EPROTO:
	case ENOPROTOOPT:
	case ENETDOWN:
	case ENETUNREACH:
	case EHOSTDOWN:
	case EHOSTUNREACH:
	case ENONET:
	case EOPNOTSUPP:
		return (0);
	case EMFILE:
	case ENFILE:
		/*
		 * Refuse the clients already waiting rather than let them
		 * hang; those arriving during the pause wait at most a
		 * second for a descriptor or the same answer.
		 */
		CTR_ADD(&pt->c->failed, loop_fd_shed(pt->loop, pt->fd,
		    PROXY_MAXACCEPT));
		proxy_tcp_pause(pt);
		return (-1);
	case ENOBUFS:
	case ENOMEM:
		proxy_tcp_pause(pt);
		return (-1);
	default:
		log_error("%s: accept", pt->name);
		return (-1);
	}
}

/* Round n up to 16, enough alignment for a struct event. */
#define PROXY_ALIGN(n)	(((n) + 15) & ~(size_t)15)

/*
 * Return a zeroed connection with room for its three events, from the
 * pool or newly allocated, or NULL if out of memory.
 */
static struct proxy_conn *
proxy_conn_alloc(struct loop *l)
{
	struct proxy_conn	*conn;
	struct event		*mem[3];
	size_t			 evsz;
	char			*p;

	if ((conn = l->conn_pool) != NULL) {
		l->conn_pool = conn->next_free;
		l->nconn_pool--;
		mem[0] = conn->timer;
		mem[1] = conn->in.evmem;
		mem[2] = conn->out.evmem;
		memset(conn, 0, sizeof(*conn));
	} else {
		evsz = PROXY_ALIGN(event_get_struct_event_size());
		p = calloc(1, PROXY_ALIGN(sizeof(*conn)) + 3 * evsz);
		if (p == NULL)
			return (NULL);
		conn = (struct proxy_conn *)p;
		p += PROXY_ALIGN(sizeof(*conn));
		mem[0] = (struct event *)p;
		mem[1] = (struct event *)(p + evsz);
		mem[2] = (struct event *)(p + 2 * evsz);
	}
	conn->timer = mem[0];
	conn->in.evmem = mem[1];
	conn->out.evmem = mem[2];
	return (conn);
}

/* Keep a closed connection, its events deleted, for the next client. */
static void
proxy_conn_release(struct loop *l, struct proxy_conn *conn)
{
	if (l->nconn_pool >= PROXY_POOL) {
		free(conn);
		return;
	}
	conn->next_free = l->conn_pool;
	l->conn_pool = conn;
	l->nconn_pool++;
}

/* Take a new client: pick an endpoint and connect. */
static void
proxy_conn_start(struct proxy_tcp *pt, int fd, struct sockaddr_storage *ss,
    socklen_t len)
{
	struct proxy_conn	*conn;

	CTR_ADD(&pt->c->accepted, 1);
	if ((conn = proxy_conn_alloc(pt->loop)) == NULL) {
		log_v(3, "%s: %s: out of memory, connection dropped",
		    __func__, pt->name);
		CTR_ADD(&pt->c->failed, 1);
		close(fd);
		return;
	}
	conn->pt = pt;
	conn->in.fd = fd;
	conn->out.fd = -1;
	conn->in.pipe[0] = conn->in.pipe[1] = -1;
	conn->out.pipe[0] = conn->out.pipe[1] = -1;
	conn->in.peer = &conn->out;
	conn->out.peer = &conn->in;
	conn->in.conn = conn->out.conn = conn;
	evtimer_assign(conn->timer, pt->loop->base, proxy_conn_timeout_cb,
	    conn);
	memcpy(&conn->client, ss, len);
	TAILQ_INSERT_TAIL(&pt->conns, conn, entry);
	CTR_ADD(&pt->c->active, 1);
	CTR_ADD(&pt->loop->conns, 1);
	(void)proxy_conn_connect(conn);
}

/* The listener is readable: accept until EAGAIN (or a batch). */
static void
proxy_tcp_accept_cb(evutil_socket_t lfd, short ev, void *arg)
{
	struct proxy_tcp	*pt = arg;
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 fd, i;

	pt->accepting = 1;
	for (i = 0; i < PROXY_MAXACCEPT && !pt->paused; i++) {
		len = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (proxy_tcp_accept_error(pt, errno) == -1)
				break;
			continue;
		}
		proxy_conn_start(pt, fd, &ss, len);
	}
	pt->accepting = 0;
}

/* Free the events, pipe, buffer and socket of one half. */
static void
proxy_half_free(struct loop *l, struct conn_half *h, int abort)
{
	struct linger	lin = { 1, 0 };

	if (h->ev != NULL) {
		event_del(h->ev);
		h->ev = NULL;
	}
	h->want_write = 0;
	loop_pipe_put(l, h->pipe, h->len > 0);
	free(h->buf);
	h->buf = h->data = NULL;
	h->off = h->len = 0;
	if (h->fd != -1) {
		/* Linger 0 makes close() send a RST, as the error was. */
		if (abort)
			(void)setsockopt(h->fd, SOL_SOCKET, SO_LINGER, &lin,
			    sizeof(lin));
		close(h->fd);
		h->fd = -1;
	}
}

/* Log a closing connection at V(3) (kube-proxy's per-connection level). */
static void
proxy_conn_log(struct proxy_conn *conn, const char *reason)
{
	char	client[NETUTIL_ADDRSTRLEN], backend[NETUTIL_ADDRSTRLEN];

	netutil_ntop((struct sockaddr *)&conn->client, client,
	    sizeof(client));
	if (conn->ep.addrlen > 0)
		netutil_ntop((struct sockaddr *)&conn->ep.addr, backend,
		    sizeof(backend));
	else
		snprintf(backend, sizeof(backend), "-");
	log_v(3, "proxy_conn_close: %s: %s -> %s: %s%s%s, %llu bytes in, "
	    "%llu bytes out", conn->pt->name, client, backend, reason,
	    conn->err != 0 ? ": " : "",
	    conn->err != 0 ? strerror(conn->err) : "",
	    (unsigned long long)conn->in.bytes,
	    (unsigned long long)conn->out.bytes);
}

/*
 * Tear a connection down: every path ends here.  is_error resets both
 * sockets instead of closing them gracefully.
 */
static void
proxy_conn_close(struct proxy_conn *conn, const char *reason, int is_error)
{
	struct proxy_tcp	*pt = conn->pt;
	struct loop		*l = pt->loop;

	TAILQ_REMOVE(&pt->conns, conn, entry);
	if (log_getverbose() >= 3)
		proxy_conn_log(conn, reason);
	evtimer_del(conn->timer);
	proxy_half_free(l, &conn->in, is_error);
	proxy_half_free(l, &conn->out, is_error);
	CTR_SUB(&pt->c->active, 1);
	CTR_SUB(&l->conns, 1);
	proxy_conn_release(l, conn);
	conn = NULL;
	loop_fd_released(l);
	if (pt->fd == -1 && !pt->killing && TAILQ_EMPTY(&pt->conns))
		proxy_tcp_free(pt);
}

/* Close with the errno that caused it. */
static int
proxy_conn_fail(struct proxy_conn *conn, const char *reason, int err)
{
	conn->err = err;
	proxy_conn_close(conn, reason, 1);
	return (-1);
}

/*
 * Start a non-blocking connect to conn->ep with a timeout.  Returns 0
 * if in progress, 1 if already connected, -1 with errno set.
 */
static int
proxy_conn_dial(struct proxy_conn *conn, int timeout_ms)
{
	struct conn_half	*h = &conn->out;
	struct event_base	*base = conn->pt->loop->base;
	struct timeval		 tv;
	int			 connected = 0, saved;

	h->fd = socket(conn->ep.addr.sa.sa_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h->fd == -1)
		return (-1);
	proxy_sockopts(h->fd);
	if (connect(h->fd, (struct sockaddr *)&conn->ep.addr,
	    conn->ep.addrlen) == 0)
		connected = 1;
	else if (errno != EINPROGRESS)
		goto fail;
	/* Its EV_WRITE is the connect's end, then room to write. */
	h->ev = h->evmem;
	errno = ENOMEM;
	if (event_assign(h->ev, base, h->fd, conn->pt->ev_flags,
	    proxy_half_cb, h) == -1 || event_add(h->ev, NULL) == -1)
		goto fail;
	if (connected)
		return (1);
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	if (evtimer_add(conn->timer, &tv) == -1)
		goto fail;
	return (0);

fail:
	saved = errno;
	proxy_half_free(conn->pt->loop, h, 0);
	errno = saved;
	return (-1);
}

/*
 * Count and log one failed connect attempt: an error line, as
 * kube-proxy's "Dial failed", but at most one a second per service
 * with the count of those held back; each one at V(4).
 */
static void
proxy_conn_attempt_failed(struct proxy_conn *conn, int err)
{
	struct proxy_tcp	*pt = conn->pt;
	char			 backend[NETUTIL_ADDRSTRLEN], more[64];
	unsigned long		 held;

	CTR_ADD(&pt->c->connect_errors, 1);
	/* One budget per service port, whichever worker (lb.h). */
	if (pt->lb != NULL ? lb_log_allow(pt->lb, loop_now_ms(pt->loop),
	    &held) : log_ratelimit_allow(&pt->dial_rl, loop_now_ms(pt->loop),
	    &held))
		log_errorx("%s: connect to %s (attempt %d): %s%s", pt->name,
		    netutil_ntop((struct sockaddr *)&conn->ep.addr, backend,
		    sizeof(backend)), conn->att.n, strerror(err),
		    log_ratelimit_note(held, more, sizeof(more)));
	else
		log_v(4, "%s: %s: connect to %s (attempt %d): %s", __func__,
		    pt->name, netutil_ntop((struct sockaddr *)&conn->ep.addr,
		    backend, sizeof(backend)), conn->att.n, strerror(err));
}

/*
 * Return 1 if a failed connect says nothing about the endpoint: this
 * host ran out of descriptors, memory or local ports.
 */
static int
proxy_err_local(int err)
{
	return (err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM || err == EADDRNOTAVAIL || err == EAGAIN);
}

/* Tell the balancer how the connect to conn->ep went (err 0: it worked). */
static void
proxy_conn_report(struct proxy_conn *conn, int err)
{
	struct proxy_tcp	*pt = conn->pt;

	/* A closed service port no longer has its balancer. */
	if (pt->lb != NULL && !proxy_err_local(err))
		lb_report(pt->lb, &conn->att, err, loop_now_ms(pt->loop));
}

/*
 * Start relaying: the client side gets its event and its early bytes go
 * out at once.  ev is the backend wakeup that finished the connect (0 if
 * none): an edge of bytes the backend sent first came with it, and no
 * other will.  Returns -1 if conn was closed.
 */
static int
proxy_conn_relay(struct proxy_conn *conn, short ev)
{
	struct event_base	*base = conn->pt->loop->base;
	struct conn_half	*in = &conn->in;

	evtimer_del(conn->timer);
	conn->state = CONN_RELAY;
	in->ev = in->evmem;
	if (event_assign(in->ev, base, in->fd, conn->pt->ev_flags,
	    proxy_half_cb, in) == -1 || event_add(in->ev, NULL) == -1)
		return (proxy_conn_fail(conn, "event_add", errno != 0 ? errno :
		    ENOMEM));
	if (proxy_move(in) == -1)
		return (-1);
	if (ev & (EV_READ | EV_CLOSED))
		return (proxy_half_readable(&conn->out, ev));
	return (0);
}

/*
 * Connect to the next endpoint, PROXY_ATTEMPTS times at most in all,
 * never to one this connection tried while an untried one is left
 * (lb_pick).  Returns 0 while connecting or relaying, -1 if conn was
 * closed.
 */
static int
proxy_conn_connect(struct proxy_conn *conn)
{
	struct proxy_tcp	*pt = conn->pt;
	int			 r;

	for (;;) {
		if (conn->att.n == PROXY_ATTEMPTS) {
			CTR_ADD(&pt->c->failed, 1);
			proxy_conn_close(conn, "every connect attempt failed",
			    1);
			return (-1);
		}
		if (pt->lb == NULL) {
			proxy_conn_close(conn, "service closed", 1);
			return (-1);
		}
		if (lb_pick(pt->lb, (struct sockaddr *)&conn->client,
		    &conn->att, loop_now_ms(pt->loop), &conn->ep) == -1) {
			CTR_ADD(&pt->c->no_endpoints, 1);
			proxy_conn_close(conn, "no endpoints", 0);
			return (-1);
		}
		r = proxy_conn_dial(conn, proxy_timeouts_ms[conn->att.n - 1]);
		if (r == 0)
			return (0);
		if (r == 1) {
			proxy_conn_report(conn, 0);
			/* The event's first wakeup brings any early bytes. */
			return (proxy_conn_relay(conn, 0));
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			/*
			 * No endpoint would do better: stop taking clients.
			 * Pause after the close, or the descriptor it frees
			 * would resume the listener at once.  pt is open,
			 * so the close does not free it.
			 */
			CTR_ADD(&pt->c->failed, 1);
			(void)proxy_conn_fail(conn, "socket", errno);
			proxy_tcp_pause(pt);
			return (-1);
		}
		proxy_conn_report(conn, errno);
		proxy_conn_attempt_failed(conn, errno);
	}
}

/*
 * Return 0 if the backend socket is connected, the errno of a failed
 * connect, or -1 if it is still in progress.  A wakeup is the connect's
 * completion only if the socket has a peer: a socket still in SYN_SENT
 * also reports SO_ERROR 0 (issue 10: a failed connect was once
 * relayed).  getpeername() comes first, so a connect that worked costs
 * one syscall; a socket without a peer failed if SO_ERROR says so (a
 * reset after the handshake lands here too, and is a failure as well).
 */
static int
proxy_conn_check(int fd)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(int), sslen = sizeof(ss);
	int			err = 0;

	if (getpeername(fd, (struct sockaddr *)&ss, &sslen) == 0)
		return (0);
	if (errno != ENOTCONN)
		return (errno);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return (errno);
	return (err != 0 ? err : -1);
}

/*
 * Relay, or try again, once the backend connect finished or timed out
 * (ev has EV_TIMEOUT).  A wakeup that finds the connect still in
 * progress is not its completion: the attempt goes on waiting for its
 * own outcome or its timer.
 */
static void
proxy_conn_connected(struct proxy_conn *conn, short ev)
{
	int	err;

	if (ev & EV_TIMEOUT)
		err = ETIMEDOUT;
	else if ((err = proxy_conn_check(conn->out.fd)) == -1)
		return;
	proxy_conn_report(conn, err);
	if (err == 0) {
		(void)proxy_conn_relay(conn, ev);
		return;
	}
	proxy_conn_attempt_failed(conn, err);
	evtimer_del(conn->timer);
	proxy_half_free(conn->pt->loop, &conn->out, 0);
	(void)proxy_conn_connect(conn);
}

/* The connect attempt's time is up. */
static void
proxy_conn_timeout_cb(evutil_socket_t fd, short ev, void *arg)
{
	proxy_conn_connected(arg, EV_TIMEOUT);
}

/*
 * Return how many bytes to splice from src->fd: what the peer's send
 * buffer has room for (half of SO_SNDBUF, which the kernel doubles for
 * its overhead, less what is queued), PROXY_ROOM_MIN at least and
 * PROXY_SPLICE_MAX at most.  Reading more than the peer takes would
 * only park the excess in the pipe.  SO_SNDBUF is read once every
 * PROXY_SNDBUF_AGE splices (a quarter of the syscalls of a splice
 * round): autotuning only grows it, so a stale value reads less, never
 * more, except under TCP memory pressure, for those few splices.
 */
static size_t
proxy_peer_room(struct conn_half *src)
{
	socklen_t	len = sizeof(int);
	int		sndbuf, queued;
	long		room;

	if (src->slow)
		return (PROXY_ROOM_MIN);
	if (src->sndbuf_age-- <= 0) {
		if (getsockopt(src->peer->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
		    &len) == -1)
			return (PROXY_SPLICE_MAX);
		src->peer_sndbuf = sndbuf;
		src->sndbuf_age = PROXY_SNDBUF_AGE - 1;
	}
	if (ioctl(src->peer->fd, SIOCOUTQ, &queued) == -1)
		return (PROXY_SPLICE_MAX);
	room = (long)src->peer_sndbuf / 2 - queued;
	if (room < PROXY_ROOM_MIN)
		return (PROXY_ROOM_MIN);
	if (room > PROXY_SPLICE_MAX)
		return (PROXY_SPLICE_MAX);
	return ((size_t)room);
}

/*
 * Read from src->fd, which has nothing pending: into a pipe in bulk
 * mode, else into proxy_scratch.  Returns the byte count, 0 at EOF, -1
 * with errno set.
 */
static ssize_t
proxy_half_fill(struct conn_half *src)
{
	size_t	want;
	ssize_t	n;

	/*
	 * Without a pipe (no descriptors left) bulk is copied too.  Do not
	 * trust pipe[] after a failure (valgrind's pipe2 fills it anyway).
	 */
	if (src->bulk && src->pipe[0] == -1 &&
	    loop_pipe_get(src->conn->pt->loop, src->pipe) == -1)
		src->pipe[0] = src->pipe[1] = -1;
	if (src->pipe[0] != -1) {
		/*
		 * The pipe is empty, so EAGAIN means the socket is drained,
		 * not that the pipe is full.
		 */
		n = splice(src->fd, NULL, src->pipe[1], NULL,
		    proxy_peer_room(src), SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		/*
		 * One short read in a bulk transfer only means the reader
		 * caught up with the sender; copy again only after a run of
		 * them (a bench saw 27% of bulk bytes copied when one short
		 * splice switched back).
		 */
		if (n >= PROXY_SMALL)
			src->small = 0;
		else if (n > 0 && ++src->small >= PROXY_SMALL_RUN) {
			src->bulk = 0;
			src->small = 0;
		}
	} else {
		want = src->slow ? PROXY_ROOM_MIN : sizeof(proxy_scratch);
		n = recv(src->fd, proxy_scratch, want, 0);
		src->data = proxy_scratch;
		src->off = 0;
		if (n == (ssize_t)sizeof(proxy_scratch))
			src->bulk = 1;
		/*
		 * TCP hands over all it has queued, so a short read left
		 * fd empty; what comes later brings a new edge.  Only a FIN
		 * already queued would bring none: EV_CLOSED tells.
		 */
		src->drained = n > 0 && (size_t)n < want && !src->rdhup &&
		    (src->conn->pt->ev_flags & EV_CLOSED);
	}
	if (n > 0)
		src->len = n;
	else
		src->data = NULL;
	return (n);
}

/*
 * Copy bytes still in proxy_scratch to a buffer of their own, as the
 * peer is full.  Returns 0, or -1 with errno set.
 */
static int
proxy_half_stash(struct conn_half *src)
{
	if (src->data != proxy_scratch)
		return (0);
	if ((src->buf = malloc(src->len)) == NULL) {
		errno = ENOMEM;
		return (-1);
	}
	memcpy(src->buf, proxy_scratch + src->off, src->len);
	src->data = src->buf;
	src->off = 0;
	return (0);
}

/*
 * Write the pending bytes of src to its peer.  Returns 1 once all are
 * written, 0 if the peer is full (the rest is kept), -1 with errno set.
 */
static int
proxy_half_flush(struct conn_half *src)
{
	struct svc_counters	*c = src->conn->pt->c;
	ssize_t			 n;

	while (src->len > 0) {
		if (src->data == NULL)
			n = splice(src->pipe[0], NULL, src->peer->fd, NULL,
			    src->len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		else
			n = send(src->peer->fd, src->data + src->off, src->len,
			    MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			src->slow = 1;
			return (proxy_half_stash(src));
		}
		if (n == -1)
			return (-1);
		if (n == 0) {
			/* Cannot happen with len > 0; never spin on it. */
			errno = EIO;
			return (-1);
		}
		src->off += n;
		src->len -= n;
		src->bytes += n;
		if (src == &src->conn->in)
			CTR_ADD(&c->bytes_in, n);
		else
			CTR_ADD(&c->bytes_out, n);
	}
	free(src->buf);
	src->buf = src->data = NULL;
	src->off = 0;
	return (1);
}

/*
 * Relay an EOF read on src, with nothing pending: shut down writing on
 * the peer and close once both ways are done.  Returns -1 if conn was
 * closed.
 */
static int
proxy_half_eof(struct conn_half *src)
{
	struct proxy_conn	*conn = src->conn;

	src->state = HALF_EOF;
	/*
	 * Both ways done: close() sends the FIN that shutdown() would (the
	 * peer's read side is at EOF, so nothing unread turns it into a
	 * RST); one syscall per connection fewer.
	 */
	if (src->peer->state == HALF_EOF) {
		proxy_conn_close(conn, "closed", 0);
		return (-1);
	}
	/* Fails only if the peer is gone, which its own events report. */
	(void)shutdown(src->peer->fd, SHUT_WR);
	conn->state = CONN_HALF;
	return (0);
}

/*
 * Move bytes from src->fd to its peer until src is drained (EAGAIN),
 * the peer is full (then src is not read until the peer's EV_WRITE) or
 * this wakeup's budget is spent.  Returns -1 if conn was closed.
 */
static int
proxy_move(struct conn_half *src)
{
	struct conn_half	*dst = src->peer;
	struct loop		*l = src->conn->pt->loop;
	size_t			 moved = 0;
	ssize_t			 n;

	if (src->state == HALF_EOF)
		return (0);
	for (;;) {
		if (src->len > 0) {
			switch (proxy_half_flush(src)) {
			case -1:
				return (proxy_conn_fail(src->conn, "write",
				    errno));
			case 0:
				/* dst's next EV_WRITE moves the rest. */
				dst->want_write = 1;
				return (0);
			}
			/* Read in this wakeup and gone out whole: not slow. */
			if (moved > 0)
				src->slow = 0;
		}
		dst->want_write = 0;
		if (src->drained) {
			src->drained = 0;
			loop_pipe_put(l, src->pipe, 0);
			return (0);
		}
		if (moved >= PROXY_BUDGET) {
			/* No new edge will come for what is left: requeue. */
			loop_pipe_put(l, src->pipe, 0);
			event_active(src->ev, EV_READ, 0);
			return (0);
		}
		n = proxy_half_fill(src);
		if (n > 0) {
			moved += n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		loop_pipe_put(l, src->pipe, 0);
		if (n == 0)
			return (proxy_half_eof(src));
		if (errno == EAGAIN)
			return (0);
		return (proxy_conn_fail(src->conn, "read", errno));
	}
}

/*
 * Move bytes, or see an error, when h->fd is readable (ev has EV_READ
 * or EV_CLOSED).  Returns -1 if conn was closed.
 */
static int
proxy_half_readable(struct conn_half *h, short ev)
{
	socklen_t	len = sizeof(int);
	int		err = 0;

	/* A new edge: fd may hold bytes a short read did not see. */
	h->drained = 0;
	if (ev & EV_CLOSED)
		h->rdhup = 1;
	/*
	 * While its peer is full this side is not read, so a reset of its
	 * socket would go unseen for as long as the peer stalls: look.
	 */
	if (h->state == HALF_OPEN && h->len > 0 && getsockopt(h->fd,
	    SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0)
		return (proxy_conn_fail(h->conn, "socket", err));
	if (h->state == HALF_OPEN)
		return (proxy_move(h));
	/* Read side finished: only an error (RST, keep-alive) matters. */
	if (getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
	    err != 0)
		return (proxy_conn_fail(h->conn, "socket", err));
	return (0);
}

/*
 * Handle a wakeup of h->fd: the end of the backend connect, room for
 * the direction that waits to write to fd, bytes or an error to read.
 */
static void
proxy_half_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct conn_half	*h = arg;
	int			 wrote = 0;

	if (h->conn->state == CONN_CONNECTING) {
		proxy_conn_connected(h->conn, ev);
		return;
	}
	if ((ev & EV_WRITE) && h->want_write) {
		if (proxy_move(h->peer) == -1)
			return;
		wrote = 1;
	}
	/*
	 * A finished read side stays readable (EOF) and shows in every
	 * wakeup; after a write, a reset would have failed it.
	 */
	if (!(ev & (EV_READ | EV_CLOSED)) || (wrote && h->state == HALF_EOF))
		return;
	(void)proxy_half_readable(h, ev);
}
