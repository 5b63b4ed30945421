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
 * Pins live in an htab created on the first pin.  lb_pick runs on the
 * connection path, so failing to allocate a pin only means the client
 * is not pinned this time; it still gets an endpoint.
 *
 * Each endpoint sits in a slot with its id and ejection state; ids and
 * state follow an endpoint across list changes, as pins do.  The count
 * of ejected slots and the earliest return time make the common case
 * (nothing ejected, nothing due) one comparison per pick.
 */
#include <sys/socket.h>

#include <pthread.h>

#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "lb.h"
#include "log.h"
#include "netutil.h"
#include "xmalloc.h"

/* Client key: family byte and address bytes; the port is not part of it. */
#define LB_KEYLEN_MAX	(1 + sizeof(struct in6_addr))

struct lb_pin {
	size_t		idx;		/* into lb->eps */
	uint64_t	last_used;	/* now_ms of the last pick */
};

/* One endpoint; ep first, so a pointer to it is a pointer to the slot. */
struct lb_slot {
	struct lb_endpoint	ep;
	uint32_t		id;
	uint32_t		ejections;	/* in a row, since a success */
	uint64_t		until;		/* ejected until; 0: in rotation */
};

struct lb {
	int			 affinity;	/* LB_AFFINITY_* */
	unsigned int		 ttl;		/* seconds */
	char			*name;		/* for log lines */
	struct lb_slot		*eps;		/* current order */
	size_t			 n;
	size_t			 next;		/* round-robin position */
	uint32_t		 next_id;	/* last endpoint id given */
	size_t			 nejected;	/* slots with until != 0 */
	uint64_t		 next_return;	/* earliest until, if any */
	struct htab		*pins;		/* client key -> lb_pin */
	uint64_t		 ejections;
	uint64_t		 returns;
	/*
	 * Worker loops pick and report under this lock (once per
	 * connection or flow, never per byte); the main loop takes it to
	 * change the list or read the state.  Only the main loop writes
	 * eps and n, so it reads them without the lock.
	 */
	pthread_mutex_t		 mtx;
	struct log_ratelimit	 rl;		/* backend error lines */
};

#define LB_LOCK(lb)	pthread_mutex_lock(&((struct lb *)(lb))->mtx)
#define LB_UNLOCK(lb)	pthread_mutex_unlock(&((struct lb *)(lb))->mtx)

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
	if (pthread_mutex_init(&lb->mtx, NULL) != 0)
		fatalx("%s: cannot make a mutex", __func__);
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
	pthread_mutex_destroy(&lb->mtx);
	free(lb->eps);
	free(lb->name);
	free(lb);
}

/* Name the balancer in its log lines. */
void
lb_set_name(struct lb *lb, const char *name)
{
	free(lb->name);
	lb->name = xstrdup(name);
}

/* Change the affinity type and ttl. */
void
lb_set_affinity(struct lb *lb, int affinity, unsigned int ttl)
{
	lb_normalise(&affinity, &ttl);
	LB_LOCK(lb);
	if (affinity != lb->affinity || affinity == LB_AFFINITY_NONE)
		lb_drop_pins(lb);
	lb->affinity = affinity;
	lb->ttl = ttl;
	LB_UNLOCK(lb);
}

/* Order endpoints by family, address, port (and scope for IPv6). */
static int
lb_ep_cmp(const struct lb_endpoint *a, const struct lb_endpoint *b)
{
	const struct sockaddr_in	*a4, *b4;
	const struct sockaddr_in6	*a6, *b6;
	int				 c;

	if (a->addr.sa.sa_family != b->addr.sa.sa_family)
		return (a->addr.sa.sa_family < b->addr.sa.sa_family ? -1 : 1);
	switch (a->addr.sa.sa_family) {
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

/* Return a new array of pointers to the endpoints of eps[0..n), sorted. */
static const struct lb_endpoint **
lb_sorted(const struct lb_slot *eps, size_t n)
{
	const struct lb_endpoint	**v;
	size_t				  i;

	v = xreallocarray(NULL, n, sizeof(*v));
	for (i = 0; i < n; i++)
		v[i] = &eps[i].ep;
	qsort(v, n, sizeof(*v), lb_ep_pcmp);
	return (v);
}

/* Return 1 if the slots a and the endpoints b hold the same members. */
static int
lb_same_members(const struct lb_slot *a, const struct lb_endpoint *b,
    size_t n)
{
	const struct lb_endpoint	**sa, **sb;
	size_t				  i;
	int				  same = 1;

	if (n == 0)
		return (1);
	sa = lb_sorted(a, n);
	sb = xreallocarray(NULL, n, sizeof(*sb));
	for (i = 0; i < n; i++)
		sb[i] = &b[i];
	qsort(sb, n, sizeof(*sb), lb_ep_pcmp);
	for (i = 0; i < n && same; i++)
		same = lb_ep_cmp(sa[i], sb[i]) == 0;
	free(sa);
	free(sb);
	return (same);
}

/* Shuffle eps (Fisher-Yates) with a splitmix64 stream seeded afresh. */
static void
lb_shuffle(struct lb_slot *eps, size_t n)
{
	struct lb_slot		tmp;
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
 * Return the slot of the endpoint ep in a sorted pointer array of
 * slots' endpoints, or NULL.
 */
static const struct lb_slot *
lb_find_sorted(const struct lb_endpoint **sorted, size_t n,
    const struct lb_endpoint *ep)
{
	const struct lb_endpoint	**found;

	found = bsearch(&ep, sorted, n, sizeof(*sorted), lb_ep_pcmp);
	/* ep is the first member of its slot. */
	return (found != NULL ? (const struct lb_slot *)*found : NULL);
}

/*
 * Point every pin at its endpoint's place in neweps, dropping pins whose
 * endpoint is gone (kube-proxy's removeStaleAffinity).
 */
static void
lb_remap_pins(struct lb *lb, const struct lb_slot *neweps,
    const struct lb_endpoint **sorted, size_t n)
{
	const struct lb_slot	*found;
	struct htab_iter	 it;
	struct lb_pin		*pin;
	const void		*key;
	size_t			 keylen;
	void			*val;

	if (lb->pins == NULL || htab_count(lb->pins) == 0)
		return;
	if (n == 0) {
		lb_drop_pins(lb);
		return;
	}
	htab_iter_init(lb->pins, &it);
	while (htab_iter_next(&it, &key, &keylen, &val)) {
		pin = val;
		found = NULL;
		if (pin->idx < lb->n)
			found = lb_find_sorted(sorted, n,
			    &lb->eps[pin->idx].ep);
		if (found != NULL)
			pin->idx = (size_t)(found - neweps);
		else
			free(htab_del(lb->pins, key, keylen));
	}
}

/* Count the ejected slots and find the earliest return. */
static void
lb_count_ejected(struct lb *lb)
{
	size_t	i;

	lb->nejected = 0;
	lb->next_return = UINT64_MAX;
	for (i = 0; i < lb->n; i++) {
		if (lb->eps[i].until == 0)
			continue;
		lb->nejected++;
		if (lb->eps[i].until < lb->next_return)
			lb->next_return = lb->eps[i].until;
	}
}

/*
 * Give the slots of a new list the ids and ejection state of the
 * endpoints they had in the old one, and new ids to newcomers.
 */
static void
lb_carry_state(struct lb *lb, struct lb_slot *neweps, size_t n)
{
	const struct lb_endpoint	**old;
	const struct lb_slot		 *found;
	size_t				  i;

	old = lb->n > 0 ? lb_sorted(lb->eps, lb->n) : NULL;
	for (i = 0; i < n; i++) {
		found = old != NULL ? lb_find_sorted(old, lb->n,
		    &neweps[i].ep) : NULL;
		if (found != NULL) {
			neweps[i].id = found->id;
			neweps[i].ejections = found->ejections;
			neweps[i].until = found->until;
			continue;
		}
		/* 0 is never an id, so a zeroed attempt has tried none. */
		if (++lb->next_id == 0)
			lb->next_id = 1;
		neweps[i].id = lb->next_id;
		neweps[i].ejections = 0;
		neweps[i].until = 0;
	}
	free(old);
}

/* Replace the endpoint list if its members changed. */
int
lb_set_endpoints(struct lb *lb, const struct lb_endpoint *eps, size_t n)
{
	const struct lb_endpoint	**sorted = NULL;
	struct lb_slot			 *neweps = NULL;
	size_t				  i;

	if (n == lb->n && lb_same_members(lb->eps, eps, n))
		return (0);
	LB_LOCK(lb);
	if (n > 0) {
		neweps = xreallocarray(NULL, n, sizeof(*neweps));
		memset(neweps, 0, n * sizeof(*neweps));
		for (i = 0; i < n; i++)
			neweps[i].ep = eps[i];
		lb_shuffle(neweps, n);
		sorted = lb_sorted(neweps, n);
	}
	lb_carry_state(lb, neweps, n);
	lb_remap_pins(lb, neweps, sorted, n);
	free(sorted);
	free(lb->eps);
	lb->eps = neweps;
	lb->n = n;
	lb->next = 0;
	lb_count_ejected(lb);
	LB_UNLOCK(lb);
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

/* Log an endpoint leaving or coming back into rotation. */
static void
lb_log(const struct lb *lb, const struct lb_slot *slot, const char *what,
    uint64_t ms, const char *why)
{
	char	addr[NETUTIL_ADDRSTRLEN];

	netutil_ntop((const struct sockaddr *)&slot->ep.addr, addr,
	    sizeof(addr));
	if (ms > 0)
		log_info("%s: endpoint %s %s for %llu ms: %s",
		    lb->name != NULL ? lb->name : "-", addr, what,
		    (unsigned long long)ms, why);
	else
		log_info("%s: endpoint %s %s: %s",
		    lb->name != NULL ? lb->name : "-", addr, what, why);
}

/* Put an ejected slot back into rotation. */
static void
lb_restore(struct lb *lb, struct lb_slot *slot, const char *why)
{
	slot->until = 0;
	lb->nejected--;
	lb->returns++;
	lb_log(lb, slot, "back in rotation", 0, why);
}

/* Put back every slot whose ejection is over at now_ms. */
static void
lb_sweep(struct lb *lb, uint64_t now_ms)
{
	size_t	i;

	if (lb->nejected == 0 || now_ms < lb->next_return)
		return;
	for (i = 0; i < lb->n; i++)
		if (lb->eps[i].until != 0 && now_ms >= lb->eps[i].until)
			lb_restore(lb, &lb->eps[i], "ejection over");
	lb_count_ejected(lb);
}

/* Return 1 if attempt a has tried the endpoint of slot. */
static int
lb_tried(const struct lb_attempt *a, const struct lb_slot *slot)
{
	uint32_t	i, n;

	n = a->n < LB_TRIED_MAX ? a->n : LB_TRIED_MAX;
	for (i = 0; i < n; i++)
		if (a->tried[i] == slot->id)
			return (1);
	return (0);
}

/*
 * Walk the round-robin order from the cursor and return the index of
 * the best endpoint for a: untried and in rotation, else untried, else
 * in rotation, else the cursor's.
 */
static size_t
lb_choose(const struct lb *lb, const struct lb_attempt *a)
{
	const struct lb_slot	*slot;
	size_t			 i, idx, best = lb->next;
	int			 rank, best_rank = 4;

	/* The common case: a first try and nothing ejected. */
	if (a->n == 0 && lb->nejected == 0)
		return (lb->next);
	for (i = 0; i < lb->n; i++) {
		idx = (lb->next + i) % lb->n;
		slot = &lb->eps[idx];
		rank = (lb_tried(a, slot) ? 2 : 0) + (slot->until != 0);
		if (rank == 0)
			return (idx);
		if (rank < best_rank) {
			best_rank = rank;
			best = idx;
		}
	}
	return (best);
}

/* Record the pick idx in a. */
static void
lb_record(const struct lb *lb, struct lb_attempt *a, size_t idx)
{
	a->tried[a->n % LB_TRIED_MAX] = lb->eps[idx].id;
	a->idx = (uint32_t)idx;
	a->n++;
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

/* Pick the endpoint for the next try of a. */
int
lb_pick(struct lb *lb, const struct sockaddr *client, struct lb_attempt *a,
    uint64_t now_ms, struct lb_endpoint *out)
{
	unsigned char	 key[LB_KEYLEN_MAX];
	struct lb_pin	*pin = NULL;
	size_t		 keylen = 0, idx;

	LB_LOCK(lb);
	if (lb->n == 0) {
		LB_UNLOCK(lb);
		return (-1);
	}
	lb_sweep(lb, now_ms);
	if (lb->affinity == LB_AFFINITY_CLIENTIP && client != NULL)
		keylen = lb_client_key(client, key);
	if (keylen > 0 && lb->pins != NULL)
		pin = htab_get(lb->pins, key, keylen);
	if (pin != NULL && a->n == 0 && pin->idx < lb->n &&
	    lb->eps[pin->idx].until == 0 &&
	    !lb_pin_expired(lb, pin, now_ms)) {
		pin->last_used = now_ms;
		idx = pin->idx;
	} else {
		idx = lb_choose(lb, a);
		lb->next = (idx + 1) % lb->n;
		if (keylen > 0)
			lb_pin_set(lb, key, keylen, pin, idx, now_ms);
	}
	lb_record(lb, a, idx);
	*out = lb->eps[idx].ep;
	LB_UNLOCK(lb);
	return (0);
}

/* Return the slot of a's last pick, or NULL if it left the list. */
static struct lb_slot *
lb_find(struct lb *lb, const struct lb_attempt *a)
{
	uint32_t	id;
	size_t		i;

	if (a->n == 0)
		return (NULL);
	id = a->tried[(a->n - 1) % LB_TRIED_MAX];
	if (a->idx < lb->n && lb->eps[a->idx].id == id)
		return (&lb->eps[a->idx]);
	/* The list changed since the pick. */
	for (i = 0; i < lb->n; i++)
		if (lb->eps[i].id == id)
			return (&lb->eps[i]);
	return (NULL);
}

/* lb_report, with the lock held. */
static void
lb_report_locked(struct lb *lb, const struct lb_attempt *a, int err,
    uint64_t now_ms)
{
	struct lb_slot	*slot;
	uint64_t	 ms;

	if ((slot = lb_find(lb, a)) == NULL)
		return;
	if (err == 0) {
		if (slot->until != 0) {
			lb_restore(lb, slot, "connected");
			lb_count_ejected(lb);
		}
		slot->ejections = 0;
		return;
	}
	/* Ejected already: the same outage.  Never eject the last one. */
	if (slot->until != 0 || lb->n - lb->nejected <= 1)
		return;
	ms = LB_EJECT_MAX_MS;
	if (slot->ejections < 5 &&
	    ((uint64_t)LB_EJECT_BASE_MS << slot->ejections) < ms)
		ms = (uint64_t)LB_EJECT_BASE_MS << slot->ejections;
	slot->ejections++;
	slot->until = now_ms + ms;
	lb->nejected++;
	if (slot->until < lb->next_return || lb->nejected == 1)
		lb->next_return = slot->until;
	lb->ejections++;
	lb_log(lb, slot, "ejected", ms, strerror(err));
}

/* Report how a's last pick went. */
void
lb_report(struct lb *lb, const struct lb_attempt *a, int err,
    uint64_t now_ms)
{
	LB_LOCK(lb);
	lb_report_locked(lb, a, err, now_ms);
	LB_UNLOCK(lb);
}

/* Drop pins idle for ttl or longer; return endpoints due back. */
void
lb_expire(struct lb *lb, uint64_t now_ms)
{
	struct htab_iter	 it;
	const void		*key;
	size_t			 keylen;
	void			*val;

	LB_LOCK(lb);
	lb_sweep(lb, now_ms);
	if (lb->pins != NULL) {
		htab_iter_init(lb->pins, &it);
		while (htab_iter_next(&it, &key, &keylen, &val)) {
			if (lb_pin_expired(lb, val, now_ms))
				free(htab_del(lb->pins, key, keylen));
		}
	}
	LB_UNLOCK(lb);
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
	return (i < lb->n ? &lb->eps[i].ep : NULL);
}

/* Return when the i-th endpoint is due back in rotation, 0 if in it. */
uint64_t
lb_ejected_until(const struct lb *lb, size_t i)
{
	uint64_t	until;

	LB_LOCK(lb);
	until = i < lb->n ? lb->eps[i].until : 0;
	LB_UNLOCK(lb);
	return (until);
}

/* Return the number of pinned clients. */
size_t
lb_pinned(const struct lb *lb)
{
	size_t	n;

	LB_LOCK(lb);
	n = lb->pins != NULL ? htab_count(lb->pins) : 0;
	LB_UNLOCK(lb);
	return (n);
}

/* Fill *st with the ejection totals. */
void
lb_get_stats(const struct lb *lb, struct lb_stats *st)
{
	LB_LOCK(lb);
	st->ejections = lb->ejections;
	st->returns = lb->returns;
	st->ejected = lb->nejected;
	LB_UNLOCK(lb);
}

/* Rate-limit a backend error line of this service port. */
int
lb_log_allow(struct lb *lb, uint64_t now_ms, unsigned long *suppressed)
{
	int	ok;

	LB_LOCK(lb);
	ok = log_ratelimit_allow(&lb->rl, now_ms, suppressed);
	LB_UNLOCK(lb);
	return (ok);
}
