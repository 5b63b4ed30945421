/*
 * yamljson.h: YAML (libyaml) to json-c trees, so YAML files and API JSON
 * share one decoder.  Every node remembers its source line, so errors
 * found later can still say FILE:LINE.  Pure (a buffer in, trees out),
 * except yamljson_read_file, the one reader of the files fed to it.
 *
 * Scalars: plain scalars that read as integers, floats, true/false or
 * null/~ become those types (YAML 1.1 core subset); quoted scalars are
 * strings.  Anchors and aliases are resolved; merge keys are not.
 */
#ifndef YAMLJSON_H
#define YAMLJSON_H

#include <stddef.h>

struct json_object;
struct stat;

#define YAMLJSON_MSGLEN	1024	/* longest yamljson_fail message, + 1 */

/*
 * Parse every document of a YAML stream in buf.  On success *docs is a
 * new array of *ndocs trees (empty documents are skipped) and 0 is
 * returned; on error -1 with "line N: reason" (N 1-based) in err.
 */
int	yamljson_parse(const char *buf, size_t len, struct json_object ***docs,
	    size_t *ndocs, char *err, size_t errlen);
/* Free what yamljson_parse returned. */
void	yamljson_free(struct json_object **docs, size_t ndocs);
/* The 1-based source line of a node made by yamljson_parse, or 0. */
int	yamljson_line(struct json_object *);
/*
 * yamljson_parse for the contents of the file fname: the same, but an
 * error reads "FILE:N: reason" ("FILE: reason" if the parser's message
 * has no line), ready for the user.
 */
int	yamljson_parse_named(const char *buf, size_t len, const char *fname,
	    struct json_object ***docs, size_t *ndocs, char *err,
	    size_t errlen);
/*
 * yamljson_parse_named for a piece of that file which starts after its
 * first line0 lines: errors name the line in the whole file, while the
 * nodes keep lines counted from the piece's start (1 = its first line).
 */
int	yamljson_parse_at(const char *buf, size_t len, const char *fname,
	    int line0, struct json_object ***docs, size_t *ndocs, char *err,
	    size_t errlen);

/*
 * Read the whole regular file at path for yamljson_parse_named (or any
 * small file: a token, a namespace).  On success returns 0 with a new
 * NUL-terminated buffer in *buf (the caller frees it; the NUL is not
 * counted in *len) and, if st is not NULL, the file's fstat() there.
 * Returns -1 with *buf NULL and "PATH: reason" in err if the file
 * cannot be opened or read, is not a regular file, or holds more than
 * max bytes ("PATH: larger than MAX bytes").  A symbolic link is
 * followed (ConfigMap volumes); a FIFO is refused without blocking.
 * max must be below
 * SIZE_MAX / 2.  Buffers are wiped before they are freed, as the file
 * may hold secrets.  Allocation failure is fatal (start-up and reload
 * path only).
 */
int	yamljson_read_file(const char *path, size_t max, char **buf,
	    size_t *len, struct stat *st, char *err, size_t errlen);

/*
 * Tree helpers shared by the decoders (kubeconfig.c, k8s_decode.c,
 * k8s_slices.c, svcfile_parse.c); they work on any json-c tree, parsed from
 * YAML or from API JSON.
 */

/*
 * Return member key of o, or NULL if it is absent or null, or if o is
 * not a mapping (o may be NULL).  The reference is borrowed from o.
 */
struct json_object *yamljson_get(struct json_object *o, const char *key);

/* Where a parser of a named file writes its errors. */
struct yamljson_errbuf {
	const char	*fname;		/* "FILE" of "FILE:LINE: msg" */
	char		*err;
	size_t		 errlen;
	int		 line0;		/* added to every LINE */
};

/*
 * Write "FILE:LINE: <fmt ...>" into eb->err, cut to eb->errlen (the
 * message itself is cut at YAMLJSON_MSGLEN - 1 bytes first, so the
 * arguments may point into eb->err).  Returns -1, so that a parser can
 * "return (yamljson_fail(...));".
 */
int	yamljson_fail(struct yamljson_errbuf *eb, int line, const char *fmt,
	    ...) __attribute__((__format__(printf, 3, 4)));

#endif /* YAMLJSON_H */
