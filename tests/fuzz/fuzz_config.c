/*
 * fuzz_config.c: the KubeProxyConfiguration parser (config_file.c) with
 * kube-proxy's defaulting and validation (config_validate.c).  The input
 * is a --config file.  A config that validates is also written back as
 * --write-config-to writes it (config_write) and that output must parse
 * and validate again, to the same values (config_diff finds nothing).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

/* Write cfg as a file; abort if it parses back to something else. */
static void
fc_roundtrip(const struct kp_config *cfg)
{
	struct config_change	 ch[CONFIG_DIFF_MAX];
	struct kp_config	*back;
	FILE			*fp;
	char			*buf = NULL, err[CONFIG_ERRLEN];
	size_t			 len = 0, n;

	if ((fp = open_memstream(&buf, &len)) == NULL)
		abort();
	if (config_write(cfg, fp) == -1)
		abort();
	fclose(fp);
	back = config_new();
	if (config_parse_yaml(back, buf, len, "written.yaml", err,
	    sizeof(err)) == -1 ||
	    config_validate(back, err, sizeof(err)) == -1) {
		fprintf(stderr, "config_write output refused: %s\n---\n%s",
		    err, buf);
		abort();
	}
	n = config_diff(cfg, back, ch, CONFIG_DIFF_MAX);
	if (n != 0) {
		fprintf(stderr, "config_write output reads back with %zu "
		    "changes, first %s\n---\n%s", n, ch[0].key, buf);
		abort();
	}
	config_free(back);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct kp_config	*cfg;
	char			 err[CONFIG_ERRLEN];

	fuzz_quiet_log();
	cfg = config_new();
	err[0] = '\0';
	if (config_parse_yaml(cfg, (const char *)data, len, "fuzz.yaml", err,
	    sizeof(err)) == 0) {
		err[0] = '\0';
		if (config_validate(cfg, err, sizeof(err)) == 0) {
			/* Idempotent, says its contract. */
			if (config_validate(cfg, err, sizeof(err)) != 0)
				abort();
			fc_roundtrip(cfg);
		} else if (err[0] == '\0')
			abort();
	} else if (err[0] == '\0')
		abort();
	config_free(cfg);
	return (0);
}
