/*
 * svcfile_cache.h: the document cache of a services file, and the diff
 * from one parse of the file to the next.  Pure like the parser: bytes
 * and a cache in, objects and a changed cache out; nothing here logs or
 * talks to the model, and there are no callbacks.
 *
 * A parse through the cache is an iterator, so that the caller can act
 * on the Services of a large file while the rest of it is parsed:
 *
 *	it = svcfile_diff_begin(cache, buf, len, fname);
 *	while ((rc = svcfile_diff_next(it, &svcs, &n, err, errlen)) == 1)
 *		prepare n Services (borrowed until the next call);
 *	if (rc == 0)
 *		rc = svcfile_diff_finish(it, &diff, err, errlen);
 *	else
 *		svcfile_diff_abort(it);
 *
 * svcfile_diff_next hands out batches only when it is worth it (see
 * SVCFILE_STAGE_MIN); svcfile_parse_diff is the same parse without them.
 */
#ifndef SVCFILE_CACHE_H
#define SVCFILE_CACHE_H

#include <stddef.h>

#include "svcfile_parse.h"

struct model_service;

/*
 * What one file had, for the next parse of the same file: the names of
 * the objects of each document, by the document's exact text (the file
 * is cut at its "---" lines, see svcfile_cut).  The objects themselves
 * are the caller's (the model's) once handed out in a diff.
 */
struct svcfile_cache;
/* One parse of a file through a cache, from begin to finish or abort. */
struct svcfile_diff_iter;

/*
 * Return a new empty cache: the first parse through it finds everything
 * new.  Never NULL (allocation failure is fatal).
 */
struct svcfile_cache *svcfile_cache_new(void);
/* Free a cache; NULL is ignored.  No iteration may be running on it. */
void	 svcfile_cache_free(struct svcfile_cache *);

struct svcfile_name {
	char	*ns;
	char	*name;
};

/* The change from the file last parsed through a cache to this one. */
struct svcfile_diff {
	/*
	 * Every object of each document that is new or changed (the
	 * caller may take them; the model compares), and the notes of
	 * those documents only.
	 */
	struct svcfile_objs	 objs;
	struct svcfile_name	*gone_svcs;	/* in no document any more */
	size_t			 ngone_svcs;
	struct svcfile_name	*gone_eps;
	size_t			 ngone_eps;
	size_t			 total_svcs;	/* in the whole file */
	size_t			 total_eps;
};

/*
 * Staging: a parse of a file with at least SVCFILE_STAGE_MIN documents
 * the cache does not have (in the span between the first and the last
 * document that differ from the last good file's) hands out the Services
 * of its new documents in batches of SVCFILE_STAGE_BATCH (the last one
 * smaller) as they are parsed, before the file as a whole is known to be
 * good.  Small changes give no batch: they are applied quickly anyway.
 */
#define SVCFILE_STAGE_MIN	1024
#define SVCFILE_STAGE_BATCH	512

/*
 * Start parsing the file in buf (len bytes; fname is for messages)
 * through cache c.  buf and fname are borrowed until svcfile_diff_finish
 * or svcfile_diff_abort, and c may not be used otherwise until then (one
 * iteration per cache at a time).  Only cuts the file: the parse is done
 * by the calls that follow.  Returns the iterator, never NULL.
 */
struct svcfile_diff_iter *svcfile_diff_begin(struct svcfile_cache *c,
	    const char *buf, size_t len, const char *fname);
/*
 * Parse on until the next batch of Services to stage or the end of the
 * file.  Returns:
 *   1	with the next batch in *svcs and its size (> 0) in *n.  The
 *	Services are those of new documents, in file order, each handed
 *	out once, their lines counted from their document's start; the
 *	array and the Services are borrowed until the next call on it.
 *   0	the whole file is parsed and good: svcfile_diff_finish will take
 *	it.  *svcs is NULL and *n 0; further calls return 0 again.
 *  -1	the file is rejected, with svcfile_parse's message in err (a
 *	duplicate names both lines); the cache is already as it was
 *	before begin.  Further calls return -1 with the same message,
 *	and so does svcfile_diff_finish; svcfile_diff_abort is enough.
 */
int	 svcfile_diff_next(struct svcfile_diff_iter *,
	    const struct model_service *const **svcs, size_t *n, char *err,
	    size_t errlen);
/*
 * Parse what is left (handing out no more batches) and, if the whole
 * file is good, make it the cache's last good file.  Returns 0 with, in
 * *out, what changed since the last good parse through the cache
 * (everything, the first time; free it with svcfile_diff_free).  Returns
 * -1 with the error in err, *out zeroed and the cache as it was before
 * begin, if the file is rejected (now or by an earlier
 * svcfile_diff_next).  Frees the iterator either way.
 */
int	 svcfile_diff_finish(struct svcfile_diff_iter *,
	    struct svcfile_diff *out, char *err, size_t errlen);
/*
 * Stop a parse: the cache is left as it was before begin.  Frees the
 * iterator and every object parsed (handed out in batches or not).
 * NULL is ignored.
 */
void	 svcfile_diff_abort(struct svcfile_diff_iter *);

/*
 * Parse through the cache in one go, without batches: begin then finish.
 * Only documents whose text the cache does not know are parsed; applying
 * each diff to a model gives the objects svcfile_parse would give,
 * except that an unchanged object keeps the line it had when it last
 * changed.  Returns 0 with the diff in *out, or -1 with the error of
 * svcfile_parse in err, *out zeroed and the cache unchanged.
 */
int	 svcfile_parse_diff(const char *buf, size_t len, const char *fname,
	    struct svcfile_cache *c, struct svcfile_diff *out, char *err,
	    size_t errlen);
/* Free a diff and the objects left in it; *diff is zeroed. */
void	 svcfile_diff_free(struct svcfile_diff *);

#endif /* SVCFILE_CACHE_H */
