/*
 * proxy_udp.h: the UDP relay of one service port.
 *
 * Per client ip:port a connected socket to the chosen backend (so the
 * kernel demultiplexes replies and reports ICMP errors); replies go back
 * to the client from the service socket, so conntrack reverses the
 * REDIRECT.  Datagrams up to 65507 bytes are relayed whole.  Idle flows
 * expire after the idle timeout (activity in either direction), checked
 * by a coarse timer, not per packet.  A flow whose backend refuses
 * (ICMP port unreachable) is closed; the client's next datagram picks a
 * new endpoint.
 */
#ifndef PROXY_UDP_H
#define PROXY_UDP_H

#include <stddef.h>
#include <stdint.h>

#include "loop.h"

struct lb;
struct proxy_udp;

/* Largest UDP payload over IPv4. */
#define PROXY_UDP_MAXDGRAM	65507

/*
 * Start relaying for one service port.  fd is a bound, non-blocking UDP
 * socket and is owned from now on; name is copied; lb is borrowed until
 * proxy_udp_close().  idle_ms is --udp-timeout.  c (NULL: the relay's
 * own) is where the counters are kept, written only by this loop
 * (CTR_ADD) until proxy_udp_close().  Returns NULL if out of memory
 * (fd is then closed).
 */
struct proxy_udp *proxy_udp_new(struct loop *, int fd, const char *name,
		    struct lb *lb, uint64_t idle_ms, struct svc_counters *c);
/* Close the service socket and every flow, and free the relay. */
void		 proxy_udp_close(struct proxy_udp *);
/*
 * Set the idle timeout (a live reload of udpIdleTimeout): it applies to
 * the flows already open too, measured from their last activity, and
 * no flow is closed by the change itself unless it has already been
 * idle that long.
 */
void		 proxy_udp_set_idle_timeout(struct proxy_udp *,
		    uint64_t idle_ms);
/*
 * Stop reading new datagrams from the service socket (a successor
 * process reads them now); the flows go on relaying replies through it
 * until they expire.  Idempotent.
 */
void		 proxy_udp_stop(struct proxy_udp *);
/* Return the service socket (borrowed). */
int		 proxy_udp_fd(const struct proxy_udp *);
/* Counters of this service port. */
const struct svc_counters *proxy_udp_counters(const struct proxy_udp *);

#endif /* PROXY_UDP_H */
