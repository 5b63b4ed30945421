/*
 * fuzz_kubeconfig.c: the kubeconfig parser (kubeconfig.c).  The input is
 * a kubeconfig file; its first byte, if it is '@', asks for the context
 * "ctx" instead of current-context (--context), so both ways of picking
 * a context are fuzzed.  Relative paths resolve against a directory that
 * is never read.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "kubeconfig.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct kubeconfig	 kc;
	const char		*context = NULL;
	char			 err[512];

	fuzz_quiet_log();
	if (len > 0 && data[0] == '@') {
		context = "ctx";
		data++;
		len--;
	}
	memset(&kc, 0, sizeof(kc));
	err[0] = '\0';
	if (kubeconfig_parse((const char *)data, len, "fuzz.kubeconfig",
	    "/nonexistent", context, &kc, err, sizeof(err)) == 0) {
		if (kc.server == NULL)
			abort();	/* "no server" is an error */
	} else {
		if (err[0] == '\0')
			abort();
		/* Left cleared on error. */
		if (kc.server != NULL || kc.token != NULL ||
		    kc.key_data != NULL)
			abort();
	}
	kubeconfig_clear(&kc);
	return (0);
}
