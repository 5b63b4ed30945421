/*
 * fuzz_svcfile_parse.c: the services file parser (svcfile_parse.c): a
 * YAML stream of Services and Endpoints, or a List, to model objects.
 * The input is the file.  Also cut at its "---" lines as the cache cuts
 * it: the pieces must cover the file exactly, in order.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "model.h"
#include "svcfile_parse.h"

/* The pieces of svcfile_cut follow each other and cover buf. */
static void
fp_check_cut(const char *buf, size_t len)
{
	struct svcfile_piece	*pcs;
	size_t			 npcs, i, at = 0;

	svcfile_cut(buf, len, &pcs, &npcs);
	if (npcs < 1)
		abort();
	for (i = 0; i < npcs; i++) {
		if (pcs[i].p != buf + at)
			abort();
		at += pcs[i].len;
	}
	if (at != len)
		abort();
	free(pcs);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct svcfile_objs	 objs;
	char			 err[1024];
	size_t			 i;

	fuzz_quiet_log();
	fp_check_cut((const char *)data, len);
	memset(&objs, 0, sizeof(objs));
	err[0] = '\0';
	if (svcfile_parse((const char *)data, len, "fuzz.yaml", &objs, err,
	    sizeof(err)) == 0) {
		for (i = 0; i < objs.nsvcs; i++)
			if (!model_service_equal(objs.svcs[i], objs.svcs[i]))
				abort();
	} else {
		if (err[0] == '\0')
			abort();
		if (objs.nsvcs != 0 || objs.neps != 0 || objs.nnotes != 0)
			abort();	/* *out empty on error */
	}
	svcfile_objs_free(&objs);
	return (0);
}
