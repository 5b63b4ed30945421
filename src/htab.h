/*
 * htab.h: a hash table with binary keys, chained buckets, a random seed
 * (so a client cannot flood one bucket) and automatic growth.
 *
 * Allocation failures are reported, never fatal: the affinity table is
 * written on the connection path.
 */
#ifndef HTAB_H
#define HTAB_H

#include <stddef.h>
#include <stdint.h>

struct htab;

struct htab_iter {
	struct htab	*h;
	size_t		 bucket;
	void		*next;		/* private */
};

/* Return a new empty table, or NULL if out of memory. */
struct htab	*htab_new(void);
/* Free the table; freeval (may be NULL) is called on every value. */
void		 htab_free(struct htab *, void (*freeval)(void *));
/* Return the value stored under key, or NULL. */
void		*htab_get(const struct htab *, const void *key, size_t keylen);
/*
 * Store val under key (the key bytes are copied).  An existing value is
 * replaced; if old is not NULL it receives the replaced value (or NULL).
 * Returns 0, or -1 if out of memory (the table is unchanged).
 */
int		 htab_put(struct htab *, const void *key, size_t keylen,
		    void *val, void **old);
/* Remove key; returns its value, or NULL if absent. */
void		*htab_del(struct htab *, const void *key, size_t keylen);
/* Number of entries. */
size_t		 htab_count(const struct htab *);
/*
 * Iterate: htab_iter_init, then htab_iter_next until it returns 0.  The
 * entry just returned may be removed with htab_del during iteration;
 * inserting during iteration is not allowed.
 */
void		 htab_iter_init(struct htab *, struct htab_iter *);
int		 htab_iter_next(struct htab_iter *, const void **key,
		    size_t *keylen, void **val);
/*
 * Return 64 random bits from getrandom(2), never blocking: if the kernel
 * pool is not ready, bits mixed from the clock, pid and a counter.  Seeds
 * the tables and the shuffles of lb.c and portalloc.c; not for secrets.
 */
uint64_t	 htab_random(void);

#endif /* HTAB_H */
