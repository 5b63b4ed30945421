/*
 * k8s_lstream.h: decode a Kubernetes list response ({"kind": ...,
 * "metadata": {...}, "items": [...]}) as its bytes arrive, handing on
 * each element of the top-level "items" array as soon as it is complete
 * and keeping only the rest of the document.  Memory is bounded by the
 * largest item plus the document without its items, whatever the
 * number of items; decoding overlaps the transfer.  A pure function of
 * the bytes fed (fuzzed: tests/fuzz/fuzz_list_stream.c).
 *
 * Each item is decoded by json-c's tokener in strict mode (RFC 8259:
 * what apiservers send; the lexer here knows no comments or single
 * quotes), the rest of the document too once it ends (with "items": []
 * in place of the array); only the separators of the items array are
 * checked here.  A JSON null item is handed on as NULL; a NUL byte
 * anywhere is refused.  The "items" key is
 * recognised when written plainly (as every apiserver writes it); an
 * escaped spelling, or an "items" that is not an array, stays in the
 * rest.  A second plain "items" array is refused (json-c would keep only
 * the last one).
 */
#ifndef K8S_LSTREAM_H
#define K8S_LSTREAM_H

#include <stddef.h>

struct json_object;
struct k8s_lstream;

/*
 * Return a new decoder, owned by the caller: items of at most maxitem
 * bytes, the rest of the document at most maxrest bytes, the whole body
 * at most maxbody bytes (0: no bound).  Never NULL (allocation failure
 * is fatal).
 */
struct k8s_lstream *k8s_lstream_new(size_t maxitem, size_t maxrest,
	    size_t maxbody);
/* Free a decoder and anything partial; NULL is ignored. */
void	k8s_lstream_free(struct k8s_lstream *);
/* Forget everything fed (a new body starts). */
void	k8s_lstream_reset(struct k8s_lstream *);
/*
 * Feed len bytes of the body.  cb is called with each complete element
 * of the items array, in order (a JSON null as NULL, as json-c has it);
 * it borrows the value and returns 0, or
 * -1 to stop.  Returns 0, or -1 with a reason in err (invalid JSON, a
 * bound passed, a second document, or "stopped" when cb returned -1).
 * After -1 the decoder must be reset before it is fed again.
 */
int	k8s_lstream_feed(struct k8s_lstream *, const char *buf, size_t len,
	    int (*cb)(void *arg, struct json_object *item), void *arg,
	    char *err, size_t errlen);
/*
 * The body ended: return the document without its items (a new
 * reference owned by the caller; "items" is [] if the array was handed
 * on), or NULL with a reason in err (empty, truncated or invalid).
 */
struct json_object *k8s_lstream_finish(struct k8s_lstream *, char *err,
	    size_t errlen);
/* Return the number of items handed on since the last reset. */
size_t	k8s_lstream_nitems(const struct k8s_lstream *);

#endif /* K8S_LSTREAM_H */
