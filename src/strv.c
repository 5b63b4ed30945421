/*
 * strv.c: counted arrays of strings.
 */
#include <stdlib.h>
#include <string.h>

#include "strv.h"
#include "xmalloc.h"

/* Copy an array of n strings. */
char **
strv_dup(char *const *v, size_t n)
{
	char	**r;
	size_t	  i;

	r = xcalloc(n, sizeof(*r));
	for (i = 0; i < n; i++)
		r[i] = v[i] != NULL ? xstrdup(v[i]) : NULL;
	return (r);
}

/* Free an array of n strings. */
void
strv_free(char **v, size_t n)
{
	size_t	i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Compare two string arrays, order included. */
int
strv_equal(char *const *a, size_t na, char *const *b, size_t nb)
{
	size_t	i;

	if (na != nb)
		return (0);
	for (i = 0; i < na; i++) {
		if (a[i] == NULL || b[i] == NULL) {
			if (a[i] != b[i])
				return (0);
		} else if (strcmp(a[i], b[i]) != 0)
			return (0);
	}
	return (1);
}
