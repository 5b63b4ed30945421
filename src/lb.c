/*
 * lb.c: round-robin load balancing with ClientIP affinity for one
 * service port, after kube-proxy's roundrobin.go.
 *
 * The endpoint list is shuffled whenever its membership changes and then
 * walked in order.  A pin maps a client IP to the index of the endpoint
 * it last got; the pins are kept consistent with the list by
 * lb_set_endpoints (remapped when the list is reshuffled, dropped when
 * their endpoint goes), so lb_next needs no search.
 *
 * Pins live in an htab created on the first pin.  lb_next runs on the
 * connection path, so failing to allocate a pin only means the client
 * is not pinned this time; it still gets an endpoint.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "lb.h"
#include "xmalloc.h"

/* Client key: family byte and address bytes; the port is not part of it. */
#define LB_KEYLEN_MAX	(1 + sizeof(struct in6_addr))

struct lb_pin {
	size_t		idx;		/* into lb->eps */
	uint64_t	last_used;	/* now_ms of the last pick */
};

struct lb {
	int			 affinity;	/* LB_AFFINITY_* */
	unsigned int		 ttl;		/* seconds */
	struct lb_endpoint	*eps;		/* current order */
	size_t			 n;
	size_t			 next;		/* round-robin position */
	struct htab		*pins;		/* client key -> lb_pin */
};

/* Keep affinity to the two known values and ttl 0 to the default. */
static void
lb_normalise(int *affinity, unsigned int *ttl)
{
	if (*affinity != LB_AFFINITY_CLIENTIP)
		*affinity = LB_AFFINITY_NONE;
	if (*ttl == 0)
		*ttl = LB_DEFAULT_TTL;
}

/* Return a new balancer with no endpoints. */
struct lb *
lb_new(int affinity, unsigned int ttl)
{
	struct lb	*lb;

	lb = xcalloc(1, sizeof(*lb));
	lb_normalise(&affinity, &ttl);
	lb->affinity = affinity;
	lb->ttl = ttl;
	return (lb);
}

/* Drop every pin and the table holding them. */
static void
lb_drop_pins(struct lb *lb)
{
	htab_free(lb->pins, free);
	lb->pins = NULL;
}

/* Free the balancer. */
void
lb_free(struct lb *lb)
{
	if (lb == NULL)
		return;
	lb_drop_pins(lb);
	free(lb->eps);
	free(lb);
}

/* Change the affinity type and ttl. */
void
lb_set_affinity(struct lb *lb, int affinity, unsigned int ttl)
{
	lb_normalise(&affinity, &ttl);
	if (affinity != lb->affinity || affinity == LB_AFFINITY_NONE)
		lb_drop_pins(lb);
	lb->affinity = affinity;
	lb->ttl = ttl;
}

/* Order endpoints by family, address, port (and scope for IPv6). */
static int
lb_ep_cmp(const struct lb_endpoint *a, const struct lb_endpoint *b)
{
	const struct sockaddr_in	*a4, *b4;
	const struct sockaddr_in6	*a6, *b6;
	int				 c;

	if (a->addr.ss_family != b->addr.ss_family)
		return (a->addr.ss_family < b->addr.ss_family ? -1 : 1);
	switch (a->addr.ss_family) {
	case AF_INET:
		a4 = (const struct sockaddr_in *)&a->addr;
		b4 = (const struct sockaddr_in *)&b->addr;
		if ((c = memcmp(&a4->sin_addr, &b4->sin_addr,
		    sizeof(a4->sin_addr))) != 0)
			return (c);
		return (memcmp(&a4->sin_port, &b4->sin_port,
		    sizeof(a4->sin_port)));
	case AF_INET6:
		a6 = (const struct sockaddr_in6 *)&a->addr;
		b6 = (const struct sockaddr_in6 *)&b->addr;
		if ((c = memcmp(&a6->sin6_addr, &b6->sin6_addr,
		    sizeof(a6->sin6_addr))) != 0)
			return (c);
		if ((c = memcmp(&a6->sin6_port, &b6->sin6_port,
		    sizeof(a6->sin6_port))) != 0)
			return (c);
		if (a6->sin6_scope_id != b6->sin6_scope_id)
			return (a6->sin6_scope_id < b6->sin6_scope_id ? -1 : 1);
		return (0);
	}
	if (a->addrlen != b->addrlen)
		return (a->addrlen < b->addrlen ? -1 : 1);
	return (memcmp(&a->addr, &b->addr, a->addrlen));
}

/* Compare two endpoint pointers (for qsort and bsearch). */
static int
lb_ep_pcmp(const void *a, const void *b)
{
	return (lb_ep_cmp(*(const struct lb_endpoint * const *)a,
	    *(const struct lb_endpoint * const *)b));
}

/* Return a new array of pointers to eps[0..n), sorted. */
static const struct lb_endpoint **
lb_sorted(const struct lb_endpoint *eps, size_t n)
{
	const struct lb_endpoint	**v;
	size_t				  i;

	v = xreallocarray(NULL, n, sizeof(*v));
	for (i = 0; i < n; i++)
		v[i] = &eps[i];
	qsort(v, n, sizeof(*v), lb_ep_pcmp);
	return (v);
}

/* Return 1 if a and b hold the same endpoints as multisets. */
static int
lb_same_members(const struct lb_endpoint *a, const struct lb_endpoint *b,
    size_t n)
{
	const struct lb_endpoint	**sa, **sb;
	size_t				  i;
	int				  same = 1;

	if (n == 0)
		return (1);
	sa = lb_sorted(a, n);
	sb = lb_sorted(b, n);
	for (i = 0; i < n && same; i++)
		same = lb_ep_cmp(sa[i], sb[i]) == 0;
	free(sa);
	free(sb);
	return (same);
}

/* Shuffle eps (Fisher-Yates) with a splitmix64 stream seeded afresh. */
static void
lb_shuffle(struct lb_endpoint *eps, size_t n)
{
	struct lb_endpoint	tmp;
	uint64_t		s, z;
	size_t			i, j;

	s = htab_random();
	for (i = n; i > 1; i--) {
		s += 0x9e3779b97f4a7c15ULL;
		z = s;
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		/* The modulo bias is below 2^-40 for any real list. */
		j = (size_t)(z % i);
		tmp = eps[i - 1];
		eps[i - 1] = eps[j];
		eps[j] = tmp;
	}
}

/*
 * Point every pin at its endpoint's place in neweps, dropping pins whose
 * endpoint is gone (kube-proxy's removeStaleAffinity).
 */
static void
lb_remap_pins(struct lb *lb, const struct lb_endpoint *neweps, size_t n)
{
	const struct lb_endpoint	**sorted, **found, *old;
	struct htab_iter		  it;
	struct lb_pin			 *pin;
	const void			 *key;
	size_t				  keylen;
	void				 *val;

	if (lb->pins == NULL || htab_count(lb->pins) == 0)
		return;
	if (n == 0) {
		lb_drop_pins(lb);
		return;
	}
	sorted = lb_sorted(neweps, n);
	htab_iter_init(lb->pins, &it);
	while (htab_iter_next(&it, &key, &keylen, &val)) {
		pin = val;
		found = NULL;
		if (pin->idx < lb->n) {
			old = &lb->eps[pin->idx];
			found = bsearch(&old, sorted, n, sizeof(*sorted),
			    lb_ep_pcmp);
		}
		if (found != NULL)
			pin->idx = (size_t)(*found - neweps);
		else
			free(htab_del(lb->pins, key, keylen));
	}
	free(sorted);
}

/* Replace the endpoint list if its members changed. */
int
lb_set_endpoints(struct lb *lb, const struct lb_endpoint *eps, size_t n)
{
	struct lb_endpoint	*neweps = NULL;

	if (n == lb->n && lb_same_members(lb->eps, eps, n))
		return (0);
	if (n > 0) {
		neweps = xreallocarray(NULL, n, sizeof(*neweps));
		memcpy(neweps, eps, n * sizeof(*neweps));
		lb_shuffle(neweps, n);
	}
	lb_remap_pins(lb, neweps, n);
	free(lb->eps);
	lb->eps = neweps;
	lb->n = n;
	lb->next = 0;
	return (1);
}

/*
 * Build the affinity key of client into key.  An IPv4-mapped IPv6
 * address (a client of a dual-stack socket) keys as the IPv4 address,
 * so one client is one key whichever socket it came in on.  Returns the
 * key length, or 0 if the family cannot be keyed.
 */
static size_t
lb_client_key(const struct sockaddr *client, unsigned char *key)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	if (client->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)client;
		key[0] = AF_INET;
		memcpy(key + 1, &sin->sin_addr, 4);
		return (1 + 4);
	}
	if (client->sa_family != AF_INET6)
		return (0);
	sin6 = (const struct sockaddr_in6 *)client;
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		key[0] = AF_INET;
		memcpy(key + 1, &sin6->sin6_addr.s6_addr[12], 4);
		return (1 + 4);
	}
	key[0] = AF_INET6;
	memcpy(key + 1, &sin6->sin6_addr, 16);
	return (1 + 16);
}

/* Return 1 if pin has been idle for ttl or longer at now_ms. */
static int
lb_pin_expired(const struct lb *lb, const struct lb_pin *pin,
    uint64_t now_ms)
{
	uint64_t	age;

	/* Callers on other loops may pass a slightly older clock. */
	age = now_ms > pin->last_used ? now_ms - pin->last_used : 0;
	return (age >= (uint64_t)lb->ttl * 1000);
}

/* Return the next endpoint index in round-robin order. */
static size_t
lb_next_rr(struct lb *lb)
{
	size_t	idx;

	idx = lb->next;
	lb->next = (lb->next + 1) % lb->n;
	return (idx);
}

/* Pin key to idx, creating the pin; on allocation failure do nothing. */
static void
lb_pin_set(struct lb *lb, const unsigned char *key, size_t keylen,
    struct lb_pin *pin, size_t idx, uint64_t now_ms)
{
	if (pin == NULL) {
		if (lb->pins == NULL && (lb->pins = htab_new()) == NULL)
			return;
		if ((pin = malloc(sizeof(*pin))) == NULL)
			return;
		if (htab_put(lb->pins, key, keylen, pin, NULL) == -1) {
			free(pin);
			return;
		}
	}
	pin->idx = idx;
	pin->last_used = now_ms;
}

/* Pick the endpoint for a new connection or flow from client. */
int
lb_next(struct lb *lb, const struct sockaddr *client, int reset,
    uint64_t now_ms, struct lb_endpoint *out)
{
	unsigned char	 key[LB_KEYLEN_MAX];
	struct lb_pin	*pin = NULL;
	size_t		 keylen = 0, idx;

	if (lb->n == 0)
		return (-1);
	if (lb->affinity == LB_AFFINITY_CLIENTIP && client != NULL)
		keylen = lb_client_key(client, key);
	if (keylen == 0) {
		*out = lb->eps[lb_next_rr(lb)];
		return (0);
	}
	if (lb->pins != NULL)
		pin = htab_get(lb->pins, key, keylen);
	if (pin != NULL && !reset && pin->idx < lb->n &&
	    !lb_pin_expired(lb, pin, now_ms)) {
		pin->last_used = now_ms;
		*out = lb->eps[pin->idx];
		return (0);
	}
	idx = lb_next_rr(lb);
	lb_pin_set(lb, key, keylen, pin, idx, now_ms);
	*out = lb->eps[idx];
	return (0);
}

/* Drop pins idle for ttl or longer. */
void
lb_expire(struct lb *lb, uint64_t now_ms)
{
	struct htab_iter	 it;
	const void		*key;
	size_t			 keylen;
	void			*val;

	if (lb->pins == NULL)
		return;
	htab_iter_init(lb->pins, &it);
	while (htab_iter_next(&it, &key, &keylen, &val)) {
		if (lb_pin_expired(lb, val, now_ms))
			free(htab_del(lb->pins, key, keylen));
	}
}

/* Return the number of endpoints. */
size_t
lb_count(const struct lb *lb)
{
	return (lb->n);
}

/* Return the i-th endpoint in current order. */
const struct lb_endpoint *
lb_endpoint_at(const struct lb *lb, size_t i)
{
	return (i < lb->n ? &lb->eps[i] : NULL);
}

/* Return the number of pinned clients. */
size_t
lb_pinned(const struct lb *lb)
{
	return (lb->pins != NULL ? htab_count(lb->pins) : 0);
}
