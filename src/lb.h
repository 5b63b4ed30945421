/*
 * lb.h: the load balancer of one service port (kube-proxy roundrobin.go).
 *
 * Endpoints are shuffled whenever the set changes and then taken in
 * round-robin order.  With ClientIP affinity a client IP is pinned to
 * the endpoint it last got, for ttl seconds since its last use.  Unlike
 * kube-proxy (#107398) the ttl always follows the Service, whichever of
 * Service and Endpoints arrives first: the proxier creates the balancer
 * from the Service and then feeds it endpoints.
 *
 * Time is passed in by the caller (monotonic milliseconds), so tests
 * need no clock.
 */
#ifndef LB_H
#define LB_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#define LB_AFFINITY_NONE	0
#define LB_AFFINITY_CLIENTIP	1
#define LB_DEFAULT_TTL		10800	/* seconds, Kubernetes' default */

struct lb_endpoint {
	struct sockaddr_storage	addr;	/* backend IP and port */
	socklen_t		addrlen;
};

struct lb;

/*
 * Return a new balancer with no endpoints; affinity is LB_AFFINITY_*
 * (anything else means none), ttl 0 means LB_DEFAULT_TTL.  Never NULL:
 * balancers are made at sync time, where allocation failure is fatal.
 */
struct lb	*lb_new(int affinity, unsigned int ttl);
/* Free a balancer, its endpoints and pins; NULL is ignored. */
void		 lb_free(struct lb *);
/*
 * Change the affinity type and ttl.  Turning affinity off, or changing
 * the type, drops every pin; changing only the ttl keeps the pins.
 */
void		 lb_set_affinity(struct lb *, int affinity, unsigned int ttl);
/*
 * Replace the endpoint list (copied).  If the new list has the same
 * members as the current one (as a multiset), nothing changes: order,
 * round-robin position and pins are kept.  Otherwise the list is
 * shuffled, the position reset, and pins to removed endpoints dropped
 * (pins to endpoints still present are kept).  An empty list drops all
 * pins.  Returns 1 if the set changed, 0 if not.
 */
int		 lb_set_endpoints(struct lb *, const struct lb_endpoint *,
		    size_t n);
/*
 * Pick the endpoint for a new connection or UDP flow from client (may be
 * NULL) at time now_ms, copying it to *out.  If reset is set (the
 * previous pick failed), the pin is ignored and overwritten with the
 * next round-robin endpoint.  The affinity key is the client's IP only
 * (an IPv4-mapped IPv6 address counts as the IPv4 address); a NULL
 * client is never pinned.  If a pin cannot be allocated the endpoint is
 * still returned, unpinned.  Returns 0, or -1 if there are no
 * endpoints.
 */
int		 lb_next(struct lb *, const struct sockaddr *client, int reset,
		    uint64_t now_ms, struct lb_endpoint *out);
/* Drop pins idle for ttl or longer. */
void		 lb_expire(struct lb *, uint64_t now_ms);
/* Return the number of endpoints. */
size_t		 lb_count(const struct lb *);
/* Return the i-th endpoint in current order, NULL if i >= lb_count(). */
const struct lb_endpoint *lb_endpoint_at(const struct lb *, size_t i);
/* Return the number of pinned clients. */
size_t		 lb_pinned(const struct lb *);

#endif /* LB_H */
