/*
 * yamljson.h: YAML (libyaml) to json-c trees, so YAML files and API JSON
 * share one decoder.  Every node remembers its source line, so errors
 * found later can still say FILE:LINE.  Pure: a buffer in, trees out.
 *
 * Scalars: plain scalars that read as integers, floats, true/false or
 * null/~ become those types (YAML 1.1 core subset); quoted scalars are
 * strings.  Anchors and aliases are resolved; merge keys are not.
 */
#ifndef YAMLJSON_H
#define YAMLJSON_H

#include <stddef.h>

struct json_object;

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

#endif /* YAMLJSON_H */
