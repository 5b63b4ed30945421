/*
 * svcfile.h: the standalone source.  A YAML stream (several documents, or
 * a "kind: List") of v1 Service and v1 Endpoints objects as printed by
 * "kubectl get svc,ep -o yaml".  Re-read on SIGHUP and when the file
 * changes (inotify on its directory, so editors' rename-over works,
 * plus a slow stat poll as a fallback).  A file that fails to parse is
 * reported with FILE:LINE and the previous content keeps serving.
 */
#ifndef SVCFILE_H
#define SVCFILE_H

#include <stddef.h>

struct event_base;
struct model;
struct model_service;
struct model_endpoints;
struct svcfile;

/* Largest services file read, in bytes. */
#define SVCFILE_MAX_SIZE	(64 * 1024 * 1024)

struct stat;

struct svcfile_objs {
	struct model_service	**svcs;
	size_t			  nsvcs;
	struct model_endpoints	**eps;
	size_t			  neps;
	/*
	 * "FILE:LINE: ns/name: reason" for each skipped Service and
	 * dropped SCTP port, for the caller to log (the parser never logs).
	 */
	char			**notes;
	size_t			  nnotes;
};

/*
 * Parse a whole file held in buf (fname is for messages).  Any invalid
 * object rejects the whole file: returns -1 with "FILE:LINE: ns/name:
 * field: reason" in err.  Skipped objects (headless, ExternalName...)
 * are not errors.  Pure.
 */
int	 svcfile_parse(const char *buf, size_t len, const char *fname,
	    struct svcfile_objs *out, char *err, size_t errlen);

/*
 * What one file had, for the next parse of the same file: the names of
 * the objects of each document, by the document's exact text (the file
 * is cut at its "---" lines; YAML forbids such a line inside a scalar).
 */
struct svcfile_cache;

struct svcfile_cache *svcfile_cache_new(void);
/* Free a cache; NULL is ignored. */
void	 svcfile_cache_free(struct svcfile_cache *);

/*
 * Staging: while svcfile_parse_diff() works through a file with at least
 * SVCFILE_STAGE_MIN documents it has not seen, it hands the Services of
 * the new documents to staged(arg, svcs, n) every SVCFILE_STAGE_BATCH
 * of them, before the file as a whole is known to be good, so that the
 * caller can prepare them (bind their ports, stream their rules into
 * iptables-restore) while the rest is parsed; then end(arg), once,
 * whether the file is taken or rejected.  The Services are borrowed for
 * the call.  Small changes are not staged: they are applied quickly
 * anyway.
 */
#define SVCFILE_STAGE_MIN	1024
#define SVCFILE_STAGE_BATCH	512
struct svcfile_stage {
	void	(*staged)(void *arg, const struct model_service *const *svcs,
		    size_t n);
	void	(*end)(void *arg);
	void	*arg;
};
/* Set (copied) or clear (NULL) the staging callbacks of a cache. */
void	 svcfile_cache_set_stage(struct svcfile_cache *,
	    const struct svcfile_stage *);

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
 * svcfile_parse, but only documents whose text the cache does not know
 * are parsed; the result is what changed since the last good parse
 * through this cache (everything, the first time).  Applying each diff
 * to a model gives the objects svcfile_parse would give, except that an
 * unchanged object keeps the line it had when it last changed.  Errors
 * are those of svcfile_parse; on error the cache is unchanged.  Pure.
 */
int	 svcfile_parse_diff(const char *buf, size_t len, const char *fname,
	    struct svcfile_cache *, struct svcfile_diff *out, char *err,
	    size_t errlen);
/*
 * Apply a diff to a model (deletions, then updates; the model takes the
 * objects) and free it.
 */
void	 svcfile_diff_apply(struct svcfile_diff *, struct model *);
/* Free a diff and the objects left in it; *diff is zeroed. */
void	 svcfile_diff_free(struct svcfile_diff *);

/* Free the objects, the arrays and the notes; *objs is zeroed. */
void	 svcfile_objs_free(struct svcfile_objs *);
/*
 * Read a whole regular file of at most SVCFILE_MAX_SIZE bytes.  On
 * success returns 0 with a new buffer in *buf (the caller frees it),
 * its length in *len and, if st is not NULL, the file's fstat() there.
 * Returns -1 with "PATH: reason" in err if it cannot be opened or read,
 * is not a regular file or is too large.
 */
int	 svcfile_read(const char *path, char **buf, size_t *len,
	    struct stat *st, char *err, size_t errlen);

/*
 * Watch path and feed model.  The first load happens here; if it fails
 * the error is logged and the model stays empty and unsynced until a
 * good file appears.  Returns NULL only if the watch cannot be set up.
 */
struct svcfile *svcfile_new(struct event_base *, const char *path,
	    struct model *);
/*
 * Re-read now (SIGHUP).  Returns 0 if loaded, -1 if unreadable or
 * rejected (logged; the model keeps its content).
 */
int	 svcfile_reload(struct svcfile *);
/* Stop watching and free; the model keeps its content.  NULL ignored. */
void	 svcfile_free(struct svcfile *);

#endif /* SVCFILE_H */
