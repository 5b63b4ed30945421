/*
 * fuzz_yamljson.c: YAML to json-c trees (yamljson.c), which every file
 * parser of kuproxy sits on: the KubeProxyConfiguration, the kubeconfig
 * and the services file.  The input is a YAML stream.  Each tree is
 * walked (every node's line is asked for) and printed as JSON.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "fuzz.h"
#include "yamljson.h"

/* Visit every node of o, to a bounded depth. */
static void
fy_walk(struct json_object *o, int depth)
{
	size_t	i, n;

	if (yamljson_line(o) < 0)
		abort();
	if (depth > 1000)
		return;
	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v) {
			(void)k;
			(void)yamljson_get(o, k);
			if (v != NULL)
				fy_walk(v, depth + 1);
		}
	} else if (json_object_is_type(o, json_type_array)) {
		n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			if (json_object_array_get_idx(o, i) != NULL)
				fy_walk(json_object_array_get_idx(o, i),
				    depth + 1);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct json_object	**docs = NULL;
	size_t			  ndocs = 0, i;
	char			  err[YAMLJSON_MSGLEN + 64];

	fuzz_quiet_log();
	err[0] = '\0';
	if (yamljson_parse_named((const char *)data, len, "fuzz.yaml", &docs,
	    &ndocs, err, sizeof(err)) == -1) {
		if (err[0] == '\0' || docs != NULL)
			abort();
		return (0);
	}
	for (i = 0; i < ndocs; i++) {
		fy_walk(docs[i], 0);
		(void)json_object_to_json_string_ext(docs[i],
		    JSON_C_TO_STRING_PLAIN);
	}
	yamljson_free(docs, ndocs);
	return (0);
}
