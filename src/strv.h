/*
 * strv.h: counted arrays of strings (char **v with a separate count), as
 * the model and the proxier keep externalIPs and load-balancer IPs.
 */
#ifndef STRV_H
#define STRV_H

#include <stddef.h>

/*
 * Return a deep copy of the n strings of v (NULL strings are copied as
 * NULL).  Allocation failure is fatal (xmalloc.h): config-time data.
 */
char	**strv_dup(char *const *v, size_t n);
/* Free the n strings of v and v itself; NULL is ignored. */
void	  strv_free(char **v, size_t n);
/*
 * Return 1 if a and b hold the same strings in the same order (two NULL
 * strings are equal), 0 otherwise.
 */
int	  strv_equal(char *const *a, size_t na, char *const *b, size_t nb);

#endif /* STRV_H */
