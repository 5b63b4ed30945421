/*
 * lb.h: the load balancer of one service port (kube-proxy roundrobin.go),
 * with per-connection retries and passive outlier ejection.
 *
 * Endpoints are shuffled whenever the set changes and then taken in
 * round-robin order.  With ClientIP affinity a client IP is pinned to
 * the endpoint it last got, for ttl seconds since its last use.  Unlike
 * kube-proxy (#107398) the ttl always follows the Service, whichever of
 * Service and Endpoints arrives first: the proxier creates the balancer
 * from the Service and then feeds it endpoints.
 *
 * Retries (issue 10).  Each connection or UDP flow keeps its own record
 * of the endpoints it tried (struct lb_attempt), so a retry never goes
 * back to one of them while an untried endpoint is left, however many
 * connections share the round-robin cursor.  Affinity decides the first
 * pick only; a retry moves the pin to the endpoint it takes.
 *
 * Ejection (as Envoy's outlier detection and HAProxy's "observe
 * layer4").  An endpoint whose connect fails (refused, unreachable,
 * timed out: lb_report) leaves the rotation of every connection for
 * LB_EJECT_BASE_MS, doubled at each ejection in a row up to
 * LB_EJECT_MAX_MS, then comes back by itself; a success resets the
 * doubling (and ends an ejection at once).  A failure while ejected
 * belongs to the same outage and changes nothing.  The last endpoint
 * in rotation is never ejected, and when every untried endpoint is
 * ejected a pick still takes one of them rather than fail.  Endpoints
 * that leave the list take their state with them; one that comes back
 * starts afresh.  Each ejection and return is counted and logged once.
 *
 *	in rotation --(connect failed, not the last)--> ejected
 *	     ^                                             |
 *	     +--(period over, or a connect succeeded)------+
 *
 * Time is passed in by the caller (monotonic milliseconds), so tests
 * need no clock.  Like the pins, the ejection state belongs to the
 * balancer: one per service port per loop, no lock.
 */
#ifndef LB_H
#define LB_H

#include <sys/socket.h>

#include <netinet/in.h>

#include <stddef.h>
#include <stdint.h>

#define LB_AFFINITY_NONE	0
#define LB_AFFINITY_CLIENTIP	1
#define LB_DEFAULT_TTL		10800	/* seconds, Kubernetes' default */
#define LB_EJECT_BASE_MS	1000	/* first ejection */
#define LB_EJECT_MAX_MS		30000	/* longest ejection */
#define LB_TRIED_MAX		4	/* tried endpoints an attempt keeps */

/*
 * An endpoint's address: IPv4 or IPv6 in 28 bytes, not a 128-byte
 * sockaddr_storage (10k Services may have 100k endpoints, each in every
 * balancer slot and connection).
 */
union lb_addr {
	struct sockaddr		sa;
	struct sockaddr_in	sin;
	struct sockaddr_in6	sin6;
};

struct lb_endpoint {
	union lb_addr		addr;	/* backend IP and port */
	socklen_t		addrlen;
};

/*
 * The picks of one connection or UDP flow: zeroed before its first
 * pick, then kept by lb_pick (a few bytes: it lives in every
 * connection).  Endpoint ids stay the same while an endpoint stays
 * listed, so the record survives a change of the list.
 */
struct lb_attempt {
	uint32_t	tried[LB_TRIED_MAX];	/* ids of the last picks */
	uint32_t	idx;			/* index of the last pick */
	uint32_t	n;			/* picks so far */
};

/* Ejection totals of one balancer, for /metrics. */
struct lb_stats {
	uint64_t	ejections;	/* endpoints taken out of rotation */
	uint64_t	returns;	/* endpoints put back */
	uint64_t	ejected;	/* out of rotation now */
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
/* Name the balancer in its log lines ("ns/name:port", copied). */
void		 lb_set_name(struct lb *, const char *name);
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
 * Pick the endpoint for the next try of attempt a (zeroed for a new
 * connection or flow) from client (may be NULL) at time now_ms, copy it
 * to *out and record it in a.  The first try of a pinned client gets
 * its pin unless that endpoint is ejected.  Otherwise the round-robin
 * order is walked from the cursor for the first endpoint that a has
 * not tried and that is in rotation; failing that, the first untried
 * one (ejected or not), then the first tried one in rotation, then any.
 * The cursor moves past the pick and, with affinity, the client is
 * pinned to it.  The affinity key is the client's IP only (an
 * IPv4-mapped IPv6 address counts as the IPv4 address); a NULL client
 * is never pinned.  If a pin cannot be allocated the endpoint is still
 * returned, unpinned.  Returns 0, or -1 if there are no endpoints.
 */
int		 lb_pick(struct lb *, const struct sockaddr *client,
		    struct lb_attempt *a, uint64_t now_ms,
		    struct lb_endpoint *out);
/*
 * Report how a's last pick went: err 0 if the endpoint answered
 * (connected, or replied to a datagram), else the errno of its failure
 * (refused, unreachable, timed out; for the log line).  Failures of
 * this host (out of descriptors or memory) say nothing about the
 * endpoint and must not be reported.  Ejects or restores the endpoint
 * as lb.h's diagram says; an endpoint no longer listed is ignored.
 */
void		 lb_report(struct lb *, const struct lb_attempt *a, int err,
		    uint64_t now_ms);
/* Drop pins idle for ttl or longer; return endpoints due back. */
void		 lb_expire(struct lb *, uint64_t now_ms);
/* Return the number of endpoints. */
size_t		 lb_count(const struct lb *);
/* Return the i-th endpoint in current order, NULL if i >= lb_count(). */
const struct lb_endpoint *lb_endpoint_at(const struct lb *, size_t i);
/*
 * Return when the i-th endpoint (current order) is due back in rotation
 * (monotonic ms), or 0 if it is in rotation (or i is out of range).
 */
uint64_t	 lb_ejected_until(const struct lb *, size_t i);
/* Return the number of pinned clients. */
size_t		 lb_pinned(const struct lb *);
/*
 * Rate-limit the error lines about this service port's backends
 * (log_ratelimit_allow), one budget for every worker relaying it.
 */
int		 lb_log_allow(struct lb *, uint64_t now_ms,
		    unsigned long *suppressed);
/* Fill *st with the ejection totals. */
void		 lb_get_stats(const struct lb *, struct lb_stats *st);

#endif /* LB_H */
