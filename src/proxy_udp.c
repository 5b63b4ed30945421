/*
 * proxy_udp.c: the UDP relay of one service port.
 *
 * The service socket is read with recvmmsg() in batches; consecutive
 * datagrams from one client go to its flow's connected backend socket
 * with one sendmmsg().  Replies are read the same way from the backend
 * socket and sent to the client from the service socket, so conntrack
 * reverses the REDIRECT.  Flows sit in a hash table keyed by client
 * address and in a list ordered by last activity, so one coarse timer
 * per service expires idle flows from the list head without scanning
 * the live ones and without any timer work per datagram.
 *
 * The batch buffers (32 x 64 KiB) are shared by every service of one
 * loop: callbacks of one loop never nest, so a buffer set is only in
 * use inside one callback at a time.  The set hangs off struct loop and
 * is reference-counted by the services using it, so per-core loops on
 * separate threads each get their own without a lock.
 *
 * A flow that dies of a backend error (ICMP port unreachable reported
 * as ECONNREFUSED, a failed connect or send) reports the failure to the
 * balancer (which may eject the endpoint) and leaves a mark for its
 * client for UDP_MARK_MS, holding the endpoints it tried.  The client's
 * next datagram opens a flow that carries on from that record, so it
 * moves to an endpoint it has not tried and a ClientIP pin to a dead
 * endpoint is replaced (kube-proxy would keep sending to it until the
 * affinity ttl ran out).  A flow's first reply reports its endpoint
 * alive.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "htab.h"
#include "lb.h"
#include "log.h"
#include "loop.h"
#include "netutil.h"
#include "proxy_udp.h"

#define UDP_BATCH	32	/* datagrams per recvmmsg() */
#define UDP_ROUNDS	4	/* batches per callback, for fairness */
#define UDP_BUFSZ	65536	/* > PROXY_UDP_MAXDGRAM; IPv6 fits too */
#define UDP_MIN_TICK	50	/* ms, shortest expiry timer period */
#define UDP_MARK_MS	30000	/* ms a backend failure is remembered */
#define UDP_MAXMARKS	4096	/* failure marks kept per service */

/* A client address as a hash key: no padding, no sin_zero. */
struct udp_key {
	uint16_t	family;
	uint16_t	port;
	uint32_t	scope;
	uint8_t		addr[16];
};

/* The recvmmsg()/sendmmsg() buffers of one loop. */
struct udp_batch {
	struct loop		*loop;
	unsigned int		 refs;
	struct mmsghdr		 in[UDP_BATCH];
	struct mmsghdr		 out[UDP_BATCH];
	struct iovec		 iov[UDP_BATCH];
	struct iovec		 oiov[UDP_BATCH];
	struct sockaddr_storage	 names[UDP_BATCH];
	unsigned char		*bufs;	/* UDP_BATCH * UDP_BUFSZ */
};

/* One client ip:port and its connected backend socket. */
struct udp_flow {
	TAILQ_ENTRY(udp_flow)	 entry;	/* oldest first */
	struct proxy_udp	*pu;
	struct event		*ev;
	int			 fd;
	uint64_t		 last_active;	/* ms, either direction */
	uint64_t		 dgrams_in;
	uint64_t		 dgrams_out;
	struct udp_key		 key;
	struct sockaddr_storage	 client;
	socklen_t		 clientlen;
	struct lb_endpoint	 backend;
	struct lb_attempt	 att;		/* endpoints tried */
};
TAILQ_HEAD(udp_flows, udp_flow);

/* A client whose last flow failed: its next flow carries on from att. */
struct udp_mark {
	TAILQ_ENTRY(udp_mark)	 entry;	/* oldest first */
	uint64_t		 when;
	struct udp_key		 key;
	struct lb_attempt	 att;	/* what the failed flows tried */
};
TAILQ_HEAD(udp_marks, udp_mark);

struct proxy_udp {
	struct loop		*loop;
	struct lb		*lb;
	char			*name;
	int			 fd;
	struct event		*ev;
	struct event		*timer;	/* idle expiry, if flows */
	struct udp_batch	*batch;
	struct htab		*flows;	/* udp_key -> udp_flow */
	struct udp_flows	 flows_lru;
	struct htab		*marks;	/* udp_key -> udp_mark */
	struct udp_marks	 marks_lru;
	uint64_t		 idle_ms;
	int			 fd_warned;	/* EMFILE logged */
	int			 trunc_warned;
	int			 read_warned;
	struct svc_counters	*c;		/* counters: own, or a slot */
	struct svc_counters	 own;
};

static void	proxy_udp_readcb(evutil_socket_t, short, void *);
static void	proxy_udp_timercb(evutil_socket_t, short, void *);
static void	udp_flow_readcb(evutil_socket_t, short, void *);
static void	udp_flow_close(struct udp_flow *, const char *, int);

/*
 * Find or make the batch buffers of loop l and take a reference.  They
 * hang off the loop, so one loop per core needs no lock.
 */
static struct udp_batch *
udp_batch_get(struct loop *l)
{
	struct udp_batch	*b = l->udp_batch;

	if (b == NULL) {
		if ((b = calloc(1, sizeof(*b))) == NULL)
			return (NULL);
		if ((b->bufs = malloc((size_t)UDP_BATCH * UDP_BUFSZ)) == NULL) {
			free(b);
			return (NULL);
		}
		b->loop = l;
		l->udp_batch = b;
	}
	b->refs++;
	return (b);
}

/* Drop a reference to batch buffers; the last one frees them. */
static void
udp_batch_put(struct udp_batch *b)
{
	if (--b->refs == 0) {
		b->loop->udp_batch = NULL;
		free(b->bufs);
		free(b);
	}
}

/* Reset the receive headers; names are wanted on the service socket. */
static void
udp_batch_prepare(struct udp_batch *b, int names)
{
	struct msghdr	*h;
	int		 i;

	for (i = 0; i < UDP_BATCH; i++) {
		b->iov[i].iov_base = b->bufs + (size_t)i * UDP_BUFSZ;
		b->iov[i].iov_len = UDP_BUFSZ;
		h = &b->in[i].msg_hdr;
		memset(h, 0, sizeof(*h));
		h->msg_iov = &b->iov[i];
		h->msg_iovlen = 1;
		if (names) {
			h->msg_name = &b->names[i];
			h->msg_namelen = sizeof(b->names[i]);
		}
	}
}

/* Queue received message i for sending to name (NULL: connected). */
static void
udp_batch_queue(struct udp_batch *b, int i, unsigned int k,
    struct sockaddr_storage *name, socklen_t namelen)
{
	struct msghdr	*h = &b->out[k].msg_hdr;

	b->oiov[k].iov_base = b->iov[i].iov_base;
	b->oiov[k].iov_len = b->in[i].msg_len;
	memset(h, 0, sizeof(*h));
	h->msg_iov = &b->oiov[k];
	h->msg_iovlen = 1;
	h->msg_name = name;
	h->msg_namelen = name != NULL ? namelen : 0;
}

/* Fill a hash key from a client address; returns -1 for other families. */
static int
udp_key_make(const struct sockaddr *sa, struct udp_key *k)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	memset(k, 0, sizeof(*k));
	k->family = sa->sa_family;
	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)sa;
		k->port = sin->sin_port;
		memcpy(k->addr, &sin->sin_addr, sizeof(sin->sin_addr));
		return (0);
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)sa;
		k->port = sin6->sin6_port;
		k->scope = sin6->sin6_scope_id;
		memcpy(k->addr, &sin6->sin6_addr, sizeof(sin6->sin6_addr));
		return (0);
	}
	return (-1);
}

/* Return 1 for errors that say nothing about the peer. */
static int
udp_err_transient(int e)
{
	return (e == EAGAIN || e == EWOULDBLOCK || e == EINTR ||
	    e == ENOBUFS || e == ENOMEM);
}

/* Arm the expiry timer if flows or marks wait and it is not armed. */
static void
proxy_udp_arm(struct proxy_udp *pu)
{
	struct timeval	tv;
	uint64_t	tick;

	if (TAILQ_EMPTY(&pu->flows_lru) && TAILQ_EMPTY(&pu->marks_lru))
		return;
	if (evtimer_pending(pu->timer, NULL))
		return;
	tick = pu->idle_ms / 4;
	if (tick < UDP_MIN_TICK)
		tick = UDP_MIN_TICK;
	tv.tv_sec = tick / 1000;
	tv.tv_usec = (tick % 1000) * 1000;
	evtimer_add(pu->timer, &tv);
}

/* Remember that the last flow of a client failed, after trying att. */
static void
udp_mark_add(struct proxy_udp *pu, const struct udp_key *key,
    const struct lb_attempt *att)
{
	struct udp_mark	*m;

	if ((m = htab_get(pu->marks, key, sizeof(*key))) != NULL) {
		TAILQ_REMOVE(&pu->marks_lru, m, entry);
	} else {
		if (htab_count(pu->marks) >= UDP_MAXMARKS)
			return;
		if ((m = malloc(sizeof(*m))) == NULL)
			return;
		m->key = *key;
		if (htab_put(pu->marks, key, sizeof(*key), m, NULL) == -1) {
			free(m);
			return;
		}
	}
	m->when = loop_now_ms(pu->loop);
	m->att = *att;
	TAILQ_INSERT_TAIL(&pu->marks_lru, m, entry);
	proxy_udp_arm(pu);
}

/* Forget a failure mark. */
static void
udp_mark_del(struct proxy_udp *pu, struct udp_mark *m)
{
	htab_del(pu->marks, &m->key, sizeof(m->key));
	TAILQ_REMOVE(&pu->marks_lru, m, entry);
	free(m);
}

/*
 * Consume the failure mark of a client: *att becomes what its failed
 * flows tried, or a fresh record if there is no mark.
 */
static void
udp_mark_take(struct proxy_udp *pu, const struct udp_key *key,
    struct lb_attempt *att)
{
	struct udp_mark	*m;

	memset(att, 0, sizeof(*att));
	if (TAILQ_EMPTY(&pu->marks_lru))
		return;
	if ((m = htab_get(pu->marks, key, sizeof(*key))) == NULL)
		return;
	*att = m->att;
	udp_mark_del(pu, m);
}

/*
 * Tell the balancer how the endpoint of att answered (err 0: it did),
 * unless the error was this host's own (descriptors, memory).
 */
static void
udp_report(struct proxy_udp *pu, const struct lb_attempt *att, int err)
{
	if (err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM)
		return;
	lb_report(pu->lb, att, err, loop_now_ms(pu->loop));
}

/* Note activity on a flow: cheap, a time store and a list move. */
static void
udp_flow_touch(struct udp_flow *flow, uint64_t now)
{
	struct proxy_udp	*pu = flow->pu;

	flow->last_active = now;
	if (TAILQ_NEXT(flow, entry) != NULL) {
		TAILQ_REMOVE(&pu->flows_lru, flow, entry);
		TAILQ_INSERT_TAIL(&pu->flows_lru, flow, entry);
	}
}

/*
 * Log a backend error (what failed, with errno err): an error line at
 * most once a second per service, with the count of those held back,
 * as proxy_tcp.c's failed connects; each one at V(4).
 */
static void
udp_log_backend_error(struct proxy_udp *pu, const char *what,
    const struct sockaddr *sa, int err)
{
	char		addr[NETUTIL_ADDRSTRLEN], more[64];
	unsigned long	held;

	/* One budget per service port, whichever worker (lb.h). */
	if (lb_log_allow(pu->lb, loop_now_ms(pu->loop), &held))
		log_errorx("%s: backend %s: %s: %s%s", pu->name,
		    netutil_ntop(sa, addr, sizeof(addr)), what,
		    strerror(err), log_ratelimit_note(held, more,
		    sizeof(more)));
	else
		log_v(4, "%s: backend %s: %s: %s", pu->name,
		    netutil_ntop(sa, addr, sizeof(addr)), what,
		    strerror(err));
}

/* Open the backend socket of a new flow; returns the fd or -1. */
static int
udp_flow_socket(struct proxy_udp *pu, const struct lb_endpoint *ep)
{
	int	fd, saved;

	fd = socket(ep->addr.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			/* Once per episode, not once per datagram. */
			if (!pu->fd_warned)
				log_warn("%s: out of descriptors: dropping new"
				    " UDP flows", pu->name);
			pu->fd_warned = 1;
		} else
			log_warn("%s: socket", pu->name);
		return (-1);
	}
	if (pu->fd_warned) {
		log_info("%s: descriptors available again", pu->name);
		pu->fd_warned = 0;
	}
	/* connect() on UDP only sets the peer; it never blocks. */
	if (connect(fd, (const struct sockaddr *)&ep->addr,
	    ep->addrlen) == -1) {
		saved = errno;
		udp_log_backend_error(pu, "connect", &ep->addr.sa, saved);
		close(fd);
		CTR_ADD(&pu->c->connect_errors, 1);
		errno = saved;
		return (-1);
	}
	return (fd);
}

/* Create the flow of a new client; returns NULL if it cannot be made. */
static struct udp_flow *
udp_flow_open(struct proxy_udp *pu, const struct msghdr *h,
    const struct udp_key *key, uint64_t now)
{
	struct udp_flow		*flow;
	struct lb_endpoint	 ep;
	struct lb_attempt	 att;
	int			 fd;

	udp_mark_take(pu, key, &att);
	if (lb_pick(pu->lb, h->msg_name, &att, now, &ep) == -1) {
		CTR_ADD(&pu->c->no_endpoints, 1);
		return (NULL);
	}
	if ((fd = udp_flow_socket(pu, &ep)) == -1) {
		/* Out of descriptors says nothing about the backend. */
		if (errno != EMFILE && errno != ENFILE && errno != ENOBUFS &&
		    errno != ENOMEM) {
			udp_report(pu, &att, errno);
			udp_mark_add(pu, key, &att);
		}
		return (NULL);
	}
	if ((flow = calloc(1, sizeof(*flow))) == NULL)
		goto fail_fd;
	flow->pu = pu;
	flow->fd = fd;
	flow->key = *key;
	flow->backend = ep;
	flow->att = att;
	memcpy(&flow->client, h->msg_name, h->msg_namelen);
	flow->clientlen = h->msg_namelen;
	flow->last_active = now;
	flow->ev = event_new(pu->loop->base, fd, EV_READ | EV_PERSIST,
	    udp_flow_readcb, flow);
	if (flow->ev == NULL || event_add(flow->ev, NULL) == -1)
		goto fail_flow;
	if (htab_put(pu->flows, key, sizeof(*key), flow, NULL) == -1)
		goto fail_flow;
	TAILQ_INSERT_TAIL(&pu->flows_lru, flow, entry);
	CTR_ADD(&pu->c->accepted, 1);
	CTR_ADD(&pu->c->active, 1);
	proxy_udp_arm(pu);
	return (flow);

fail_flow:
	if (flow->ev != NULL)
		event_free(flow->ev);
	free(flow);
fail_fd:
	close(fd);
	log_v(3, "%s: %s: out of memory for a new flow", __func__, pu->name);
	return (NULL);
}

/*
 * Close a flow: the one teardown path, logged once.  err is the errno of
 * a backend failure (reported to the balancer, and the client marked),
 * or 0.
 */
static void
udp_flow_close(struct udp_flow *flow, const char *reason, int err)
{
	struct proxy_udp	*pu = flow->pu;
	char			 c[NETUTIL_ADDRSTRLEN];
	char			 b[NETUTIL_ADDRSTRLEN];

	if (err != 0)
		udp_log_backend_error(pu, reason, &flow->backend.addr.sa,
		    err);
	if (log_getverbose() >= 3)
		log_v(3, "%s: %s: %s -> %s: %s (%llu in, %llu out)",
		    __func__, pu->name,
		    netutil_ntop((struct sockaddr *)&flow->client, c,
		    sizeof(c)),
		    netutil_ntop((struct sockaddr *)&flow->backend.addr, b,
		    sizeof(b)), reason, (unsigned long long)flow->dgrams_in,
		    (unsigned long long)flow->dgrams_out);
	if (err != 0) {
		udp_report(pu, &flow->att, err);
		udp_mark_add(pu, &flow->key, &flow->att);
	}
	htab_del(pu->flows, &flow->key, sizeof(flow->key));
	TAILQ_REMOVE(&pu->flows_lru, flow, entry);
	event_free(flow->ev);
	flow->ev = NULL;
	close(flow->fd);
	flow->fd = -1;
	CTR_SUB(&pu->c->active, 1);
	free(flow);
	loop_fd_released(pu->loop);
}

/*
 * Send k queued messages, skipping one the kernel refuses by itself
 * (EMSGSIZE) and stopping at a socket-wide error.  Counts what went out
 * and drops the rest.  Returns 0, or the errno that stopped it.
 */
static int
udp_send_batch(struct proxy_udp *pu, int fd, struct mmsghdr *m,
    unsigned int k, uint64_t *dgrams, uint64_t *bytes)
{
	unsigned int	i = 0;
	int		r;

	while (i < k) {
		r = sendmmsg(fd, m + i, k - i, MSG_DONTWAIT);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EMSGSIZE) {
				CTR_ADD(&pu->c->dgrams_dropped, 1);
				i++;
				continue;
			}
			CTR_ADD(&pu->c->dgrams_dropped, k - i);
			return (errno);
		}
		for (; r > 0; r--, i++) {
			CTR_ADD(dgrams, 1);
			CTR_ADD(bytes, m[i].msg_len);
		}
	}
	return (0);
}

/* Drop a truncated datagram: never forward part of one. */
static void
proxy_udp_truncated(struct proxy_udp *pu)
{
	CTR_ADD(&pu->c->dgrams_dropped, 1);
	if (!pu->trunc_warned)
		log_warnx("%s: datagram larger than %d bytes dropped",
		    pu->name, UDP_BUFSZ);
	pu->trunc_warned = 1;
}

/* Forward received messages [i, j) of one client to its backend. */
static void
udp_flow_forward(struct udp_flow *flow, int i, int j, uint64_t now)
{
	struct proxy_udp	*pu = flow->pu;
	struct udp_batch	*b = pu->batch;
	uint64_t		 before = pu->c->dgrams_in;
	unsigned int		 k = 0;
	int			 err;

	udp_flow_touch(flow, now);
	for (; i < j; i++) {
		if (b->in[i].msg_hdr.msg_flags & MSG_TRUNC)
			proxy_udp_truncated(pu);
		else
			udp_batch_queue(b, i, k++, NULL, 0);
	}
	err = udp_send_batch(pu, flow->fd, b->out, k,
	    &pu->c->dgrams_in, &pu->c->bytes_in);
	flow->dgrams_in += pu->c->dgrams_in - before;
	if (err == 0 || udp_err_transient(err))
		return;
	/* A pending ICMP error of the connected socket surfaces here. */
	CTR_ADD(&pu->c->connect_errors, 1);
	udp_flow_close(flow, err == ECONNREFUSED ? "backend refused" :
	    "backend send error", err);
}

/* Find the flow of the client of message i, creating it if new. */
static struct udp_flow *
proxy_udp_flow(struct proxy_udp *pu, int i, uint64_t now)
{
	const struct msghdr	*h = &pu->batch->in[i].msg_hdr;
	struct udp_flow		*flow;
	struct udp_key		 key;

	if (udp_key_make(h->msg_name, &key) == -1)
		return (NULL);
	if ((flow = htab_get(pu->flows, &key, sizeof(key))) != NULL)
		return (flow);
	return (udp_flow_open(pu, h, &key, now));
}

/* Return 1 if messages i and j came from the same address. */
static int
udp_same_peer(const struct udp_batch *b, int i, int j)
{
	const struct msghdr	*a = &b->in[i].msg_hdr;
	const struct msghdr	*c = &b->in[j].msg_hdr;

	return (a->msg_namelen == c->msg_namelen &&
	    memcmp(a->msg_name, c->msg_name, a->msg_namelen) == 0);
}

/* Hand n received datagrams to their flows, a run of one client at once. */
static void
proxy_udp_dispatch(struct proxy_udp *pu, int n, uint64_t now)
{
	struct udp_flow	*flow;
	int		 i, j;

	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && udp_same_peer(pu->batch, i, j); j++)
			;
		if ((flow = proxy_udp_flow(pu, i, now)) == NULL)
			CTR_ADD(&pu->c->dgrams_dropped, j - i);
		else
			udp_flow_forward(flow, i, j, now);
	}
}

/* Relay client datagrams in batches from the readable service socket. */
static void
proxy_udp_readcb(evutil_socket_t fd, short ev, void *arg)
{
	struct proxy_udp	*pu = arg;
	uint64_t		 now;
	int			 n, round;

	now = loop_now_ms(pu->loop);
	for (round = 0; round < UDP_ROUNDS; round++) {
		udp_batch_prepare(pu->batch, 1);
		n = recvmmsg(pu->fd, pu->batch->in, UDP_BATCH, MSG_DONTWAIT,
		    NULL);
		if (n == -1) {
			/* Unlike kube-proxy (#13709), never stop reading. */
			if (!udp_err_transient(errno) && !pu->read_warned) {
				log_warn("%s: recvmmsg", pu->name);
				pu->read_warned = 1;
			}
			return;
		}
		proxy_udp_dispatch(pu, n, now);
		if (n < UDP_BATCH)
			return;
	}
}

/* Send n replies read from a flow's backend to its client. */
static void
udp_flow_reply(struct udp_flow *flow, int n)
{
	struct proxy_udp	*pu = flow->pu;
	struct udp_batch	*b = pu->batch;
	uint64_t		 before = pu->c->dgrams_out;
	unsigned int		 k = 0;
	int			 i, err;

	for (i = 0; i < n; i++) {
		if (b->in[i].msg_hdr.msg_flags & MSG_TRUNC)
			proxy_udp_truncated(pu);
		else
			udp_batch_queue(b, i, k++, &flow->client,
			    flow->clientlen);
	}
	/* From the service socket, so conntrack un-REDIRECTs the source. */
	err = udp_send_batch(pu, pu->fd, b->out, k, &pu->c->dgrams_out,
	    &pu->c->bytes_out);
	flow->dgrams_out += pu->c->dgrams_out - before;
	if (err != 0 && !udp_err_transient(err))
		log_v(4, "%s: %s: reply: %s", __func__, pu->name,
		    strerror(err));
}

/* Relay replies, or act on an error, from a flow's backend socket. */
static void
udp_flow_readcb(evutil_socket_t fd, short ev, void *arg)
{
	struct udp_flow		*flow = arg;
	struct proxy_udp	*pu = flow->pu;
	int			 n, round, got = 0;

	for (round = 0; round < UDP_ROUNDS; round++) {
		udp_batch_prepare(pu->batch, 0);
		n = recvmmsg(flow->fd, pu->batch->in, UDP_BATCH, MSG_DONTWAIT,
		    NULL);
		if (n == -1) {
			if (udp_err_transient(errno))
				break;
			/* ICMP port unreachable: the backend is gone. */
			CTR_ADD(&pu->c->connect_errors, 1);
			udp_flow_close(flow, errno == ECONNREFUSED ?
			    "backend refused" : "backend receive error",
			    errno);
			return;
		}
		/* The first reply shows the endpoint alive. */
		if (!got && flow->dgrams_out == 0)
			udp_report(pu, &flow->att, 0);
		got = 1;
		udp_flow_reply(flow, n);
		if (n < UDP_BATCH)
			break;
	}
	if (got)
		udp_flow_touch(flow, loop_now_ms(pu->loop));
}

/* Close idle flows and forget old marks on the coarse expiry timer. */
static void
proxy_udp_timercb(evutil_socket_t fd, short ev, void *arg)
{
	struct proxy_udp	*pu = arg;
	struct udp_flow		*flow;
	struct udp_mark		*m;
	uint64_t		 now;

	now = loop_now_ms(pu->loop);
	while ((flow = TAILQ_FIRST(&pu->flows_lru)) != NULL &&
	    now - flow->last_active >= pu->idle_ms)
		udp_flow_close(flow, "idle", 0);
	while ((m = TAILQ_FIRST(&pu->marks_lru)) != NULL &&
	    now - m->when >= UDP_MARK_MS)
		udp_mark_del(pu, m);
	proxy_udp_arm(pu);
}

/* Start relaying for one service port. */
struct proxy_udp *
proxy_udp_new(struct loop *l, int fd, const char *name, struct lb *lb,
    uint64_t idle_ms, struct svc_counters *c)
{
	struct proxy_udp	*pu;

	if ((pu = calloc(1, sizeof(*pu))) == NULL)
		goto fail_fd;
	pu->loop = l;
	pu->lb = lb;
	pu->c = c != NULL ? c : &pu->own;
	pu->fd = fd;
	pu->idle_ms = idle_ms;
	TAILQ_INIT(&pu->flows_lru);
	TAILQ_INIT(&pu->marks_lru);
	if ((pu->name = strdup(name)) == NULL)
		goto fail;
	if ((pu->flows = htab_new()) == NULL ||
	    (pu->marks = htab_new()) == NULL)
		goto fail;
	if ((pu->batch = udp_batch_get(l)) == NULL)
		goto fail;
	pu->timer = evtimer_new(l->base, proxy_udp_timercb, pu);
	pu->ev = event_new(l->base, fd, EV_READ | EV_PERSIST,
	    proxy_udp_readcb, pu);
	if (pu->timer == NULL || pu->ev == NULL ||
	    event_add(pu->ev, NULL) == -1)
		goto fail;
	return (pu);

fail:
	if (pu->ev != NULL)
		event_free(pu->ev);
	if (pu->timer != NULL)
		event_free(pu->timer);
	if (pu->batch != NULL)
		udp_batch_put(pu->batch);
	if (pu->marks != NULL)
		htab_free(pu->marks, NULL);
	if (pu->flows != NULL)
		htab_free(pu->flows, NULL);
	free(pu->name);
	free(pu);
fail_fd:
	close(fd);
	return (NULL);
}

/* Close the service socket and every flow, and free the relay. */
void
proxy_udp_close(struct proxy_udp *pu)
{
	struct udp_flow	*flow;
	struct udp_mark	*m;

	if (pu == NULL)
		return;
	while ((flow = TAILQ_FIRST(&pu->flows_lru)) != NULL)
		udp_flow_close(flow, "service closed", 0);
	while ((m = TAILQ_FIRST(&pu->marks_lru)) != NULL)
		udp_mark_del(pu, m);
	event_free(pu->ev);
	event_free(pu->timer);
	close(pu->fd);
	udp_batch_put(pu->batch);
	htab_free(pu->marks, NULL);
	htab_free(pu->flows, NULL);
	free(pu->name);
	free(pu);
}

/* Change the idle timeout of this relay and of its open flows. */
void
proxy_udp_set_idle_timeout(struct proxy_udp *pu, uint64_t idle_ms)
{
	pu->idle_ms = idle_ms;
	/* Re-arm at the new tick: a shorter timeout takes effect soon. */
	evtimer_del(pu->timer);
	proxy_udp_arm(pu);
}

/* Stop reading the service socket; flows go on. */
void
proxy_udp_stop(struct proxy_udp *pu)
{
	event_del(pu->ev);
}

/* Return the service socket. */
int
proxy_udp_fd(const struct proxy_udp *pu)
{
	return (pu->fd);
}

/* Return the counters of this service port. */
const struct svc_counters *
proxy_udp_counters(const struct proxy_udp *pu)
{
	return (pu->c);
}
