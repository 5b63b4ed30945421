/*
 * fuzz_k8s_objects.c: the API object decoders (k8s_decode.c,
 * k8s_slices.c).  The input is one JSON document, as a GET or a watch
 * event's object carries it; it is decoded as a v1 Service, a v1
 * Endpoints and an EndpointSlice, whatever its kind says (each decoder
 * must refuse what is not its own cleanly).  A list ("items": [...]) has
 * each item decoded the same way, its slices put into a slice store and
 * merged, as a list page is.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "fuzz.h"
#include "k8s_decode.h"
#include "k8s_slices.h"
#include "model.h"

/* Check the contract of a decoder's result and free what it gave. */
static void
fo_check(int rc, void *out, const char *err)
{
	if (rc == K8S_DECODE_OK && out == NULL)
		abort();
	if (rc != K8S_DECODE_OK && out != NULL)
		abort();
	if (rc == K8S_DECODE_ERR && err[0] == '\0')
		abort();	/* an error always says why */
}

/* Decode o as each kind; keep a slice in store. */
static void
fo_decode(struct json_object *o, struct k8s_slices *store)
{
	struct model_service	*svc = NULL;
	struct model_endpoints	*eps = NULL, *m;
	struct k8s_slice	*sl = NULL;
	const char		*ns, *name;
	char			 err[512];
	int			 rc;

	err[0] = '\0';
	rc = k8s_decode_service(o, &svc, err, sizeof(err));
	fo_check(rc, svc, err);
	model_service_free(svc);

	err[0] = '\0';
	rc = k8s_decode_endpoints(o, &eps, err, sizeof(err));
	fo_check(rc, eps, err);
	if (eps != NULL && !model_endpoints_equal(eps, eps))
		abort();
	model_endpoints_free(eps);

	err[0] = '\0';
	rc = k8s_decode_endpointslice(o, &sl, err, sizeof(err));
	fo_check(rc, sl, err);
	(void)k8s_decode_trigger(o);
	if (sl != NULL) {
		/* One slice merged alone, then kept in the store. */
		m = k8s_slices_merge(sl->ns, sl->service, &sl, 1);
		model_endpoints_free(m);
		if (k8s_decode_meta(o, &ns, &name) == -1)
			abort();	/* a decoded slice has a name */
		k8s_slices_put(store, ns, name, sl, NULL, NULL);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct json_tokener	*tok;
	struct json_object	*doc, *items;
	struct k8s_slices	*store;
	struct model_endpoints	**all;
	size_t			 i, n;

	fuzz_quiet_log();
	if (len > INT32_MAX)
		return (0);
	tok = json_tokener_new();
	doc = json_tokener_parse_ex(tok, (const char *)data, (int)len);
	json_tokener_free(tok);
	if (doc == NULL)
		return (0);
	store = k8s_slices_new();
	fo_decode(doc, store);
	if (json_object_object_get_ex(doc, "items", &items) &&
	    json_object_is_type(items, json_type_array)) {
		n = json_object_array_length(items);
		for (i = 0; i < n; i++)
			fo_decode(json_object_array_get_idx(items, i), store);
	}
	all = k8s_slices_merge_all(store, &n);
	for (i = 0; i < n; i++)
		model_endpoints_free(all[i]);
	free(all);
	k8s_slices_free(store);
	json_object_put(doc);
	return (0);
}
