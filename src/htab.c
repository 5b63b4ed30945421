/*
 * htab.c: a chained hash table keyed by byte strings.
 *
 * Keys are hashed with SipHash-1-3 under a per-table random key, so a
 * client choosing its source address cannot aim at one bucket.  The
 * bucket array doubles when the load factor reaches 1.  A failed
 * doubling is not an error: the table keeps working with longer
 * chains and tries again on a later insert.  Only the failure to
 * allocate the entry itself is reported.
 */
#include <sys/random.h>
#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "htab.h"

#define HTAB_MIN_BUCKETS	8

struct htab_ent {
	struct htab_ent	*next;
	uint64_t	 hash;
	void		*val;
	size_t		 keylen;
	unsigned char	 key[];
};

struct htab {
	struct htab_ent	**buckets;
	size_t		  nbuckets;	/* a power of two */
	size_t		  count;
	uint64_t	  k0, k1;	/* SipHash key */
};

static uint64_t	htab_hash(const struct htab *, const void *, size_t);
static void	htab_grow(struct htab *);

/* Mix a 64-bit value (splitmix64's finaliser). */
static uint64_t
htab_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return (x);
}

/* Return 64 random bits from the kernel, or a clock-based fallback. */
uint64_t
htab_random(void)
{
	static uint64_t	counter;
	struct timespec	ts;
	uint64_t	r;
	ssize_t		n;

	/*
	 * GRND_NONBLOCK: at early boot the pool may not be ready and a
	 * proxy must not hang in start-up for it; the fallback below is
	 * weaker but still unpredictable enough for bucket spreading.
	 */
	do {
		n = getrandom(&r, sizeof(r), GRND_NONBLOCK);
	} while (n == -1 && errno == EINTR);
	if (n == (ssize_t)sizeof(r))
		return (r);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	r = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	r ^= (uint64_t)getpid() << 32;
	r ^= (uint64_t)(uintptr_t)&counter;
	r += __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED) *
	    0x9e3779b97f4a7c15ULL;
	return (htab_mix(r));
}

#define ROTL(x, b)	(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do {							\
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);	\
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);	\
} while (0)

/* Hash key with SipHash-1-3 under the table's key. */
static uint64_t
htab_hash(const struct htab *h, const void *key, size_t len)
{
	const unsigned char	*p = key, *end;
	uint64_t		 v0, v1, v2, v3, m, b;
	size_t			 i, left;

	v0 = h->k0 ^ 0x736f6d6570736575ULL;
	v1 = h->k1 ^ 0x646f72616e646f6dULL;
	v2 = h->k0 ^ 0x6c7967656e657261ULL;
	v3 = h->k1 ^ 0x7465646279746573ULL;
	end = p + (len - (len & 7));
	for (; p != end; p += 8) {
		m = 0;
		for (i = 0; i < 8; i++)
			m |= (uint64_t)p[i] << (8 * i);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	left = len & 7;
	b = (uint64_t)len << 56;
	for (i = 0; i < left; i++)
		b |= (uint64_t)p[i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return (v0 ^ v1 ^ v2 ^ v3);
}

/* Return a new empty table. */
struct htab *
htab_new(void)
{
	struct htab	*h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return (NULL);
	h->nbuckets = HTAB_MIN_BUCKETS;
	if ((h->buckets = calloc(h->nbuckets, sizeof(*h->buckets))) == NULL) {
		free(h);
		return (NULL);
	}
	h->k0 = htab_random();
	h->k1 = htab_random();
	return (h);
}

/* Free the table and, through freeval, its values. */
void
htab_free(struct htab *h, void (*freeval)(void *))
{
	struct htab_ent	*e, *next;
	size_t		 i;

	if (h == NULL)
		return;
	for (i = 0; i < h->nbuckets; i++) {
		for (e = h->buckets[i]; e != NULL; e = next) {
			next = e->next;
			if (freeval != NULL)
				freeval(e->val);
			free(e);
		}
	}
	free(h->buckets);
	free(h);
}

/* Find the link that points at the entry for key (or at the chain end). */
static struct htab_ent **
htab_find(const struct htab *h, const void *key, size_t keylen,
    uint64_t hash)
{
	struct htab_ent	**ep, *e;

	ep = &h->buckets[hash & (h->nbuckets - 1)];
	for (; (e = *ep) != NULL; ep = &e->next) {
		if (e->hash == hash && e->keylen == keylen &&
		    (keylen == 0 || memcmp(e->key, key, keylen) == 0))
			break;
	}
	return (ep);
}

/* Return the value stored under key. */
void *
htab_get(const struct htab *h, const void *key, size_t keylen)
{
	struct htab_ent	*e;

	e = *htab_find(h, key, keylen, htab_hash(h, key, keylen));
	return (e != NULL ? e->val : NULL);
}

/* Double the bucket array; on allocation failure keep the old one. */
static void
htab_grow(struct htab *h)
{
	struct htab_ent	**nb, *e, *next;
	size_t		  i, n, mask;

	if (h->nbuckets > SIZE_MAX / 2 / sizeof(*nb))
		return;
	n = h->nbuckets * 2;
	if ((nb = calloc(n, sizeof(*nb))) == NULL)
		return;
	mask = n - 1;
	for (i = 0; i < h->nbuckets; i++) {
		for (e = h->buckets[i]; e != NULL; e = next) {
			next = e->next;
			e->next = nb[e->hash & mask];
			nb[e->hash & mask] = e;
		}
	}
	free(h->buckets);
	h->buckets = nb;
	h->nbuckets = n;
}

/* Store val under key, replacing any previous value. */
int
htab_put(struct htab *h, const void *key, size_t keylen, void *val,
    void **old)
{
	struct htab_ent	**ep, *e;
	uint64_t	  hash;

	hash = htab_hash(h, key, keylen);
	ep = htab_find(h, key, keylen, hash);
	if ((e = *ep) != NULL) {
		if (old != NULL)
			*old = e->val;
		e->val = val;
		return (0);
	}
	if (keylen > SIZE_MAX - sizeof(*e) ||
	    (e = malloc(sizeof(*e) + keylen)) == NULL)
		return (-1);
	e->hash = hash;
	e->val = val;
	e->keylen = keylen;
	if (keylen > 0)
		memcpy(e->key, key, keylen);
	e->next = *ep;
	*ep = e;
	h->count++;
	if (old != NULL)
		*old = NULL;
	if (h->count >= h->nbuckets)
		htab_grow(h);
	return (0);
}

/* Remove key and return its value. */
void *
htab_del(struct htab *h, const void *key, size_t keylen)
{
	struct htab_ent	**ep, *e;
	void		 *val;

	ep = htab_find(h, key, keylen, htab_hash(h, key, keylen));
	if ((e = *ep) == NULL)
		return (NULL);
	*ep = e->next;
	val = e->val;
	free(e);
	h->count--;
	return (val);
}

/* Return the number of entries. */
size_t
htab_count(const struct htab *h)
{
	return (h->count);
}

/* Start an iteration over h. */
void
htab_iter_init(struct htab *h, struct htab_iter *it)
{
	it->h = h;
	it->bucket = 0;
	it->next = NULL;
}

/*
 * Return the next entry.  The iterator already points past the entry it
 * returns, so the caller may delete that entry before the next call.
 */
int
htab_iter_next(struct htab_iter *it, const void **key, size_t *keylen,
    void **val)
{
	struct htab_ent	*e;

	while (it->next == NULL) {
		if (it->bucket >= it->h->nbuckets)
			return (0);
		it->next = it->h->buckets[it->bucket++];
	}
	e = it->next;
	it->next = e->next;
	if (key != NULL)
		*key = e->key;
	if (keylen != NULL)
		*keylen = e->keylen;
	if (val != NULL)
		*val = e->val;
	return (1);
}
