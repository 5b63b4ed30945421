/*
 * test_htab.c: the hash table used for affinity pins.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "tu.h"

#define MANY	20000

static int	freed;

/* Count calls, as htab_free's freeval. */
static void
count_free(void *v)
{
	freed++;
	free(v);
}

/* Put, get, replace and delete a few keys. */
static void
test_htab_basic(void)
{
	struct htab	*h;
	int		 a = 1, b = 2, c = 3;
	void		*old = &c;

	h = htab_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(htab_count(h), 0);
	CU_ASSERT_PTR_NULL(htab_get(h, "k1", 2));
	CU_ASSERT_EQUAL(htab_put(h, "k1", 2, &a, &old), 0);
	CU_ASSERT_PTR_NULL(old);
	CU_ASSERT_EQUAL(htab_put(h, "k2", 2, &b, NULL), 0);
	CU_ASSERT_EQUAL(htab_count(h), 2);
	CU_ASSERT_PTR_EQUAL(htab_get(h, "k1", 2), &a);
	CU_ASSERT_PTR_EQUAL(htab_get(h, "k2", 2), &b);

	/* Replacing keeps the count and hands back the old value. */
	CU_ASSERT_EQUAL(htab_put(h, "k1", 2, &c, &old), 0);
	CU_ASSERT_PTR_EQUAL(old, &a);
	CU_ASSERT_PTR_EQUAL(htab_get(h, "k1", 2), &c);
	CU_ASSERT_EQUAL(htab_count(h), 2);

	CU_ASSERT_PTR_EQUAL(htab_del(h, "k1", 2), &c);
	CU_ASSERT_PTR_NULL(htab_del(h, "k1", 2));
	CU_ASSERT_PTR_NULL(htab_get(h, "k1", 2));
	CU_ASSERT_PTR_EQUAL(htab_get(h, "k2", 2), &b);
	CU_ASSERT_EQUAL(htab_count(h), 1);
	htab_free(h, NULL);
}

/* Keys are byte strings: NULs, prefixes and the empty key are distinct. */
static void
test_htab_binary_keys(void)
{
	struct htab		*h;
	static const char	 k1[] = { 'a', '\0', 'b' };
	static const char	 k2[] = { 'a', '\0', 'c' };
	int			 v[5];

	h = htab_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(htab_put(h, k1, sizeof(k1), &v[0], NULL), 0);
	CU_ASSERT_EQUAL(htab_put(h, k2, sizeof(k2), &v[1], NULL), 0);
	CU_ASSERT_EQUAL(htab_put(h, "a", 1, &v[2], NULL), 0);
	CU_ASSERT_EQUAL(htab_put(h, k1, 2, &v[3], NULL), 0);
	CU_ASSERT_EQUAL(htab_put(h, "", 0, &v[4], NULL), 0);
	CU_ASSERT_EQUAL(htab_count(h), 5);
	CU_ASSERT_PTR_EQUAL(htab_get(h, k1, sizeof(k1)), &v[0]);
	CU_ASSERT_PTR_EQUAL(htab_get(h, k2, sizeof(k2)), &v[1]);
	CU_ASSERT_PTR_EQUAL(htab_get(h, "a", 1), &v[2]);
	CU_ASSERT_PTR_EQUAL(htab_get(h, "a\0", 2), &v[3]);
	CU_ASSERT_PTR_EQUAL(htab_get(h, "x", 0), &v[4]);
	CU_ASSERT_PTR_NULL(htab_get(h, "ab", 2));
	htab_free(h, NULL);
}

/* Growth keeps every entry reachable; htab_free frees every value. */
static void
test_htab_grow_and_free(void)
{
	struct htab	*h;
	uint32_t	 i;
	int		*v, ok = 1;

	h = htab_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	for (i = 0; i < MANY; i++) {
		v = malloc(sizeof(*v));
		CU_ASSERT_PTR_NOT_NULL_FATAL(v);
		*v = (int)i;
		CU_ASSERT_EQUAL_FATAL(htab_put(h, &i, sizeof(i), v, NULL), 0);
	}
	CU_ASSERT_EQUAL(htab_count(h), MANY);
	for (i = 0; i < MANY && ok; i++) {
		v = htab_get(h, &i, sizeof(i));
		ok = v != NULL && *v == (int)i;
	}
	CU_ASSERT(ok);
	i = MANY;
	CU_ASSERT_PTR_NULL(htab_get(h, &i, sizeof(i)));
	freed = 0;
	htab_free(h, count_free);
	CU_ASSERT_EQUAL(freed, MANY);
}

/* Iteration returns every entry exactly once, with its key. */
static void
test_htab_iterate_all(void)
{
	struct htab		*h;
	struct htab_iter	 it;
	static unsigned char	 seen[MANY];
	const void		*key;
	size_t			 keylen, n = 0;
	uint32_t		 i, k;
	void			*val;
	int			 ok = 1;

	h = htab_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	for (i = 0; i < MANY; i++)
		CU_ASSERT_EQUAL_FATAL(htab_put(h, &i, sizeof(i),
		    (void *)(uintptr_t)(i + 1), NULL), 0);
	memset(seen, 0, sizeof(seen));
	htab_iter_init(h, &it);
	while (n <= MANY && htab_iter_next(&it, &key, &keylen, &val)) {
		n++;
		memcpy(&k, key, sizeof(k));
		if (keylen != sizeof(k) || k >= MANY || seen[k] ||
		    (uintptr_t)val != k + 1)
			ok = 0;
		else
			seen[k] = 1;
	}
	CU_ASSERT(ok);
	CU_ASSERT_EQUAL(n, MANY);
	htab_free(h, NULL);
}

/* Deleting the entry just returned does not disturb the iteration. */
static void
test_htab_iterate_delete(void)
{
	struct htab		*h;
	struct htab_iter	 it;
	const void		*key;
	size_t			 keylen, n = 0;
	uint32_t		 i, k;
	int			 ok = 1;

	h = htab_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	for (i = 0; i < MANY; i++)
		CU_ASSERT_EQUAL_FATAL(htab_put(h, &i, sizeof(i),
		    (void *)(uintptr_t)(i + 1), NULL), 0);
	htab_iter_init(h, &it);
	while (n <= MANY && htab_iter_next(&it, &key, &keylen, NULL)) {
		n++;
		memcpy(&k, key, sizeof(k));
		if (k % 2 == 0 && htab_del(h, key, keylen) == NULL)
			ok = 0;
	}
	CU_ASSERT(ok);
	CU_ASSERT_EQUAL(n, MANY);
	CU_ASSERT_EQUAL(htab_count(h), MANY / 2);
	for (i = 0; i < MANY && ok; i++)
		ok = (htab_get(h, &i, sizeof(i)) != NULL) == (i % 2 == 1);
	CU_ASSERT(ok);

	/* Delete everything left, then iterate the empty table. */
	htab_iter_init(h, &it);
	n = 0;
	while (n <= MANY && htab_iter_next(&it, &key, &keylen, NULL)) {
		n++;
		htab_del(h, key, keylen);
	}
	CU_ASSERT_EQUAL(n, MANY / 2);
	CU_ASSERT_EQUAL(htab_count(h), 0);
	htab_iter_init(h, &it);
	CU_ASSERT_EQUAL(htab_iter_next(&it, &key, &keylen, NULL), 0);
	htab_free(h, NULL);
}

/* Write the iteration order of h's values into v. */
static size_t
iteration_order(struct htab *h, uintptr_t *v, size_t max)
{
	struct htab_iter	 it;
	void			*val;
	size_t			 n = 0;

	htab_iter_init(h, &it);
	while (n < max && htab_iter_next(&it, NULL, NULL, &val))
		v[n++] = (uintptr_t)val;
	return (n);
}

/*
 * Two tables are seeded differently: the same 64 keys land in a
 * different bucket order (equal orders have odds far below 2^-64).
 */
static void
test_htab_random_seed(void)
{
	struct htab	*a, *b;
	uintptr_t	 va[64], vb[64];
	uint32_t	 i;

	a = htab_new();
	b = htab_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	for (i = 0; i < 64; i++) {
		CU_ASSERT_EQUAL(htab_put(a, &i, sizeof(i),
		    (void *)(uintptr_t)(i + 1), NULL), 0);
		CU_ASSERT_EQUAL(htab_put(b, &i, sizeof(i),
		    (void *)(uintptr_t)(i + 1), NULL), 0);
	}
	CU_ASSERT_EQUAL(iteration_order(a, va, 64), 64);
	CU_ASSERT_EQUAL(iteration_order(b, vb, 64), 64);
	CU_ASSERT(memcmp(va, vb, sizeof(va)) != 0);
	CU_ASSERT(htab_random() != htab_random());
	htab_free(a, NULL);
	htab_free(b, NULL);
}

static const struct tu_case cases[] = {
	{ "put get replace delete", test_htab_basic },
	{ "binary keys", test_htab_binary_keys },
	{ "growth and free", test_htab_grow_and_free },
	{ "iteration visits each entry once", test_htab_iterate_all },
	{ "deletion during iteration", test_htab_iterate_delete },
	{ "random seed per table", test_htab_random_seed },
	{ NULL, NULL }
};

TU_MAIN("htab", cases)
