/*
 * relay.h: the relays of one service port on every worker loop, as the
 * reconciler (proxier.c, on the main loop) sees them.
 *
 * A service port has one or more listeners: one per worker, bound with
 * SO_REUSEPORT so the kernel spreads new connections and UDP flows over
 * the workers (a UDP flow, hashed on its addresses, always reaches the
 * same worker), or a single one.  Listener k is served by worker
 * (first + k) mod N, so more listeners than workers (a predecessor that
 * ran more workers) are all served.  With fewer TCP listeners than
 * workers and spread set, the missing workers accept from a dup() of
 * one of them (one shared accept queue: a listener inherited without
 * SO_REUSEPORT, or the measured alternative, KUPROXY_SHARED_LISTENER=1);
 * without spread a single listener is served by worker first alone (the
 * proxier's listener budget is spent).  A UDP listener is never shared,
 * since two loops reading one socket would split a flow.
 *
 * The balancer (lb.h) is one per service port, shared by the workers
 * under its own lock, taken once per new connection or flow and never
 * per byte: round-robin stays one cursor over the endpoints, a ClientIP
 * pin holds whichever worker accepts the client, and an endpoint
 * ejected by one worker is out of rotation for all.  Everything else a
 * connection touches (its state, pipes, scratch buffer, counters) is
 * its worker's.
 *
 * Lifetime: the relay owns the balancer and is freed, with it, once the
 * main loop has closed it and every worker has closed its part; the
 * main loop must not use it (nor the balancer) after relay_close().
 */
#ifndef RELAY_H
#define RELAY_H

#include <stddef.h>
#include <stdint.h>

struct lb;
struct relay;
struct svc_counters;
struct workers;

/*
 * Start relaying service port name ("ns/name:port", copied) of protocol
 * proto (IPPROTO_TCP, IPPROTO_UDP) on the bound listeners fds[0..nfds)
 * (nfds >= 1), owned from now on, with balancer lb, owned from now on
 * (still usable by the main loop until relay_close()).  idle_ms is the
 * UDP idle timeout.  spread: give every worker a TCP instance, sharing
 * (dup) a listener if there are fewer than workers.  first: the worker
 * of listener 0.  Never NULL (allocation failure is fatal); a worker
 * that cannot start its relay logs it and serves nothing of this port.
 */
struct relay	*relay_new(struct workers *, int proto, const char *name,
		    const int *fds, size_t nfds, struct lb *lb,
		    uint64_t idle_ms, int spread, unsigned int first);
/*
 * Stop accepting and reading on every listener, which stay open (a
 * successor serves them now); connections and flows go on.
 */
void		 relay_stop(struct relay *);
/*
 * Close every listener.  TCP connections go on until they end unless
 * kill is set; UDP flows end.  r is not usable after this call.
 */
void		 relay_close(struct relay *r, int kill);
/* Set the UDP idle timeout (proxy_udp_set_idle_timeout on each loop). */
void		 relay_set_idle_timeout(struct relay *, uint64_t idle_ms);
/* Fill *sum with the counters of every worker, added (no lock). */
void		 relay_counters(const struct relay *, struct svc_counters *sum);
/*
 * Return the relay instances (one per worker, or per listener if more)
 * and fill *c with those of instance j (j < relay_instances()), served
 * by worker j mod N: how evenly the kernel spreads clients.
 */
size_t		 relay_instances(const struct relay *);
void		 relay_instance_counters(const struct relay *, size_t j,
		    struct svc_counters *c);
/*
 * Close the remaining connections of every closed TCP relay on every
 * worker (proxy_tcp_kill_dying), in order after what was sent before.
 */
void		 relay_kill_dying(struct workers *);

#endif /* RELAY_H */
