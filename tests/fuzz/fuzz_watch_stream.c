/*
 * fuzz_watch_stream.c: the watch-event stream decoder (k8s_jstream in
 * k8s_client.c) fed in arbitrary chunks, and each event applied as
 * k8s_watch.c applies it: ADDED/MODIFIED/DELETED objects decoded as
 * Services, Endpoints or EndpointSlices (through the slice store) into a
 * model, ERROR events read for their code.
 *
 * Input: a 4-byte header, then the stream.
 *	byte 0	bits 0-1: the kind watched (0 Services, 1 Endpoints,
 *		2 and 3 EndpointSlices); bits 2-3: the largest value
 *		accepted (64 B, 1 KiB, 64 KiB, 1 MiB)
 *	bytes 1-3	chunk sizes, used in turn: 1 + b * b / 8 for byte b
 *		(0-2 give single bytes, 255 gives 8129: a value split
 *		everywhere, or many values in one chunk)
 * A stream stopped by an error or by the callback is reset and the rest
 * fed as a new stream, as the watcher does when it resumes.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "fuzz.h"
#include "k8s_client.h"
#include "k8s_decode.h"
#include "k8s_slices.h"
#include "model.h"

struct fw_state {
	int			 kind;
	struct model		*model;
	struct k8s_slices	*store;
	unsigned long		 events;
};

/* Store the merged Endpoints of a Service (NULL: none left). */
static void
fw_slices_changed(void *arg, const char *ns, const char *svc,
    struct model_endpoints *me)
{
	struct fw_state	*st = arg;

	if (me == NULL)
		model_delete_endpoints(st->model, ns, svc);
	else
		model_update_endpoints(st->model, me);
}

/* Decode one object of the watched kind and apply it (kw_apply). */
static void
fw_apply(struct fw_state *st, int deleted, struct json_object *o)
{
	struct model_service	*svc;
	struct model_endpoints	*eps;
	struct k8s_slice	*sl = NULL;
	const char		*ns, *name;
	char			 err[512];
	int			 rc;

	if (k8s_decode_meta(o, &ns, &name) == -1)
		return;
	(void)k8s_decode_trigger(o);
	switch (st->kind) {
	case 0:
		rc = deleted ? K8S_DECODE_SKIP :
		    k8s_decode_service(o, &svc, err, sizeof(err));
		if (rc == K8S_DECODE_OK)
			model_update_service(st->model, svc);
		else
			model_delete_service(st->model, ns, name);
		break;
	case 1:
		rc = deleted ? K8S_DECODE_SKIP :
		    k8s_decode_endpoints(o, &eps, err, sizeof(err));
		if (rc == K8S_DECODE_OK)
			model_update_endpoints(st->model, eps);
		else
			model_delete_endpoints(st->model, ns, name);
		break;
	default:
		if (!deleted &&
		    k8s_decode_endpointslice(o, &sl, err, sizeof(err)) !=
		    K8S_DECODE_OK)
			sl = NULL;
		k8s_slices_put(st->store, ns, name, sl, fw_slices_changed, st);
		break;
	}
}

/* One complete value of the stream: a watch event (kw_event). */
static int
fw_event(void *arg, struct json_object *ev)
{
	struct fw_state		*st = arg;
	struct json_object	*t, *o, *v;
	const char		*type;

	if (!json_object_object_get_ex(ev, "type", &t) ||
	    !json_object_is_type(t, json_type_string) ||
	    !json_object_object_get_ex(ev, "object", &o) ||
	    !json_object_is_type(o, json_type_object))
		return (-1);
	type = json_object_get_string(t);
	st->events++;
	if (strcmp(type, "ERROR") == 0) {
		if (json_object_object_get_ex(o, "code", &v))
			(void)json_object_get_int(v);
		return (-1);
	}
	if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0)
		fw_apply(st, 0, o);
	else if (strcmp(type, "DELETED") == 0)
		fw_apply(st, 1, o);
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const size_t	 maxvals[] = { 64, 1024, 65536, 1 << 20 };
	struct fw_state		 st;
	struct k8s_jstream	*js;
	struct model_endpoints	**all;
	char			 err[256];
	size_t			 chunk, i, n, k = 0;

	fuzz_quiet_log();
	if (len < 4)
		return (0);
	memset(&st, 0, sizeof(st));
	st.kind = data[0] & 3;
	st.model = model_new();
	st.store = k8s_slices_new();
	js = k8s_jstream_new(maxvals[(data[0] >> 2) & 3]);
	for (i = 4; i < len; i += chunk) {
		chunk = 1 + (size_t)data[1 + k % 3] * data[1 + k % 3] / 8;
		k++;
		if (chunk > len - i)
			chunk = len - i;
		err[0] = '\0';
		if (k8s_jstream_feed(js, (const char *)data + i, chunk,
		    fw_event, &st, err, sizeof(err)) == -1) {
			if (err[0] == '\0')
				abort();	/* the contract: a reason */
			k8s_jstream_reset(js);
		}
	}
	(void)k8s_jstream_pending(js);
	all = k8s_slices_merge_all(st.store, &n);
	for (i = 0; i < n; i++)
		model_endpoints_free(all[i]);
	free(all);
	k8s_jstream_free(js);
	k8s_slices_free(st.store);
	model_free(st.model);
	return (0);
}
