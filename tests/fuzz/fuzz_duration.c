/*
 * fuzz_duration.c: the Go duration parsers (config.c:
 * config_parse_duration_ns as time.ParseDuration, config_parse_duration
 * for the non-negative millisecond form) and their printers.  The input
 * is the text.  Checked: the two parsers agree, and what the printer
 * writes parses back to the same value (Go's String() is exact).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char		*s, buf[64], err[256];
	int64_t		 ns, ns2;
	uint64_t	 ms, ms2;
	int		 rns, rms;

	fuzz_quiet_log();
	if (len > 4096)
		return (0);
	s = fuzz_strndup(data, len);
	err[0] = '\0';
	rns = config_parse_duration_ns(s, &ns, err, sizeof(err));
	if (rns == -1 && err[0] == '\0')
		abort();
	err[0] = '\0';
	rms = config_parse_duration(s, &ms, err, sizeof(err));
	if (rms == -1 && err[0] == '\0')
		abort();
	/* The ms form refuses exactly the bad and the negative ones. */
	if (rms != (rns == 0 && ns >= 0 ? 0 : -1)) {
		fprintf(stderr, "\"%s\": ns parser %d, ms parser %d\n", s,
		    rns, rms);
		abort();
	}
	if (rns == 0) {
		config_format_duration_ns(ns, buf, sizeof(buf));
		if (config_parse_duration_ns(buf, &ns2, err,
		    sizeof(err)) == -1 || ns2 != ns) {
			fprintf(stderr, "\"%s\" -> %lld -> \"%s\" -> %s\n", s,
			    (long long)ns, buf, err);
			abort();
		}
	}
	if (rms == 0) {
		if (ms != (uint64_t)ns / 1000000)
			abort();
		config_format_duration(ms, buf, sizeof(buf));
		if (config_parse_duration(buf, &ms2, err, sizeof(err)) == -1 ||
		    ms2 != ms) {
			fprintf(stderr, "\"%s\" -> %llu ms -> \"%s\"\n", s,
			    (unsigned long long)ms, buf);
			abort();
		}
	}
	free(s);
	return (0);
}
