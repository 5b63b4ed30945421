/*
 * svcfile_parse.h: the services file parser.  A YAML stream (several
 * documents, or a "kind: List") of v1 Service and v1 Endpoints objects
 * as printed by "kubectl get svc,ep -o yaml", decoded into model
 * objects.  Pure: bytes in, objects or "FILE:LINE: reason" out; nothing
 * here logs, keeps state or talks to the model (so it can be fuzzed).
 */
#ifndef SVCFILE_PARSE_H
#define SVCFILE_PARSE_H

#include <stddef.h>

struct model_service;
struct model_endpoints;
struct stat;

/* Largest services file read, in bytes. */
#define SVCFILE_MAX_SIZE	(64 * 1024 * 1024)

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
 * Parse a whole file held in buf (fname is for messages).  Returns 0 with
 * the objects in *out (the caller frees them with svcfile_objs_free), or
 * -1 if any object is invalid, which rejects the whole file: then err
 * holds "FILE:LINE: ns/name: field: reason" and *out is empty.  Skipped
 * objects (headless, ExternalName...) are not errors.
 */
int	 svcfile_parse(const char *buf, size_t len, const char *fname,
	    struct svcfile_objs *out, char *err, size_t errlen);

/* Free the objects, the arrays and the notes; *objs is zeroed. */
void	 svcfile_objs_free(struct svcfile_objs *);

/*
 * One piece of a file: a "---" line and what follows it, up to the next
 * "---" line.  YAML forbids such a line inside any scalar, so each piece
 * parses alone as a stream of its own and gives the same documents.
 */
struct svcfile_piece {
	const char	*p;		/* into the caller's buffer */
	size_t		 len;
	int		 line0;		/* lines before it in the file */
};

/*
 * Cut buf at every "---" line.  Returns, in *pcs, a new array (the
 * caller frees it) of *npcs >= 1 pieces pointing into buf, in file
 * order; an empty buf is one empty piece.  A file with directives
 * ("%YAML") stays one piece.  Never fails.
 */
void	 svcfile_cut(const char *buf, size_t len, struct svcfile_piece **pcs,
	    size_t *npcs);
/*
 * Parse one piece as svcfile_parse parses a file, except that duplicates
 * are not looked for and the objects' lines count from the piece's
 * start (messages have file lines).  Returns 0 with the objects in *out
 * (freed with svcfile_objs_free), or -1 with the error in err and *out
 * empty.
 */
int	 svcfile_parse_piece(const struct svcfile_piece *, const char *fname,
	    struct svcfile_objs *out, char *err, size_t errlen);
/*
 * Move every object and note of o to the end of out, adding line0 to the
 * objects' lines.  o keeps its (now empty) arrays: svcfile_objs_free it.
 */
void	 svcfile_objs_take(struct svcfile_objs *out, struct svcfile_objs *o,
	    int line0);

/*
 * Read a whole regular file of at most SVCFILE_MAX_SIZE bytes.  On
 * success returns 0 with a new buffer in *buf (the caller frees it),
 * its length in *len and, if st is not NULL, the file's fstat() there.
 * Returns -1 with "PATH: reason" in err if it cannot be opened or read,
 * is not a regular file or is too large.
 */
int	 svcfile_read(const char *path, char **buf, size_t *len,
	    struct stat *st, char *err, size_t errlen);

#endif /* SVCFILE_PARSE_H */
