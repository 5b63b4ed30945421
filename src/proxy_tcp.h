/*
 * proxy_tcp.h: the TCP relay of one service port.
 *
 * Accepts on a listening socket, picks a backend from the balancer and
 * connects without blocking (timeouts 250 ms, 500 ms, 1 s, 2 s, as
 * kube-proxy's TryConnectEndpoints).  After a failure it moves to an
 * endpoint this connection has not tried (lb_pick: each connection
 * keeps its own record, unlike the shared cursor kube-proxy and earlier
 * kuproxy retried from) and tells the balancer, which ejects the
 * endpoint for a while (lb.h).  The connect counts as done only once
 * the socket is really connected (SO_ERROR clear and a peer), so a
 * wakeup that was not the connect's own never relays to a socket still
 * in SYN_SENT.  Then it relays bytes in both directions on raw
 * edge-triggered events: splice() through pooled pipes for bulk, plain
 * read/write for small messages.  Half-close is relayed.  An idle
 * relayed connection holds exactly two descriptors.
 *
 * Connection lifecycle (struct proxy_conn):
 *
 *	accept --(no endpoint)------------------------------------> closed
 *	   |
 *	   v     (refused/timeout, attempts < 4: an untried endpoint)
 *	CONNECTING <---+
 *	   |  |        |
 *	   |  +--------+-(4th failure, or service closed)---------> closed
 *	   | (connected)
 *	   v
 *	 RELAY --(EOF on one side: shutdown(SHUT_WR) the other)--> HALF
 *	   |                                                        |
 *	   +--(error or kill: RST both)--> closed <--(EOF on the other
 *	                                              side, error, kill)
 *
 * The process must ignore SIGPIPE: splice() into a reset socket raises
 * it (the read/write fallback uses MSG_NOSIGNAL).
 */
#ifndef PROXY_TCP_H
#define PROXY_TCP_H

#include <stddef.h>
#include <stdint.h>

#include "loop.h"

struct lb;
struct proxy_tcp;

/*
 * Start relaying for one service port.  fd is a bound, listening,
 * non-blocking socket and is owned from now on; name ("ns/name:port")
 * is copied; lb is borrowed and must stay valid until
 * proxy_tcp_close().  c (NULL: the relay's own) is where the counters
 * are kept, written only by this loop (CTR_ADD) until
 * proxy_tcp_close(), when the relay takes a copy and leaves c alone.
 * Returns NULL if out of memory (fd is then closed).
 */
struct proxy_tcp *proxy_tcp_new(struct loop *, int fd, const char *name,
		    struct lb *lb, struct svc_counters *c);
/*
 * Stop accepting and close the listener.  Established connections go on
 * (as in kube-proxy) unless kill is set; connections still connecting
 * finish their current attempt but do not retry.  The lb is not used
 * after this call.  The object is freed when its last connection ends.
 */
void		 proxy_tcp_close(struct proxy_tcp *, int kill);
/*
 * Stop accepting but keep the listener open (a successor process holds
 * the same socket and accepts from it now) and every connection
 * relaying.  Idempotent; proxy_tcp_close() still frees it later.
 */
void		 proxy_tcp_stop(struct proxy_tcp *);
/* Return the listening socket (borrowed), -1 once closed. */
int		 proxy_tcp_fd(const struct proxy_tcp *);
/* Close every connection of every closed service on the loop. */
void		 proxy_tcp_kill_dying(struct loop *);
/* Counters of this service port. */
const struct svc_counters *proxy_tcp_counters(const struct proxy_tcp *);

/* What the connections of one service port hold right now. */
struct proxy_tcp_memstat {
	size_t		bytes;		/* read, not yet written (pipe/buf) */
	size_t		pipes;		/* splice pipes held (2 fds each) */
	size_t		bufs;		/* read/write fallback buffers held */
};
/*
 * Fill *ms for this service port.  Walks every connection: for tests
 * and occasional reporting, not for the data path.  An idle connection
 * holds no pipe and no buffer.
 */
void		 proxy_tcp_memstat(const struct proxy_tcp *,
		    struct proxy_tcp_memstat *ms);

#endif /* PROXY_TCP_H */
