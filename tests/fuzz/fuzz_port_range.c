/*
 * fuzz_port_range.c: kube-proxy's --proxy-port-range / portRange parser
 * (portalloc_parse_range).  The input is the text.  Checked: a range is
 * either empty (base 0, size 0) or inside 1-65535, and printed as "A-B"
 * it parses back to itself.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "portalloc.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char		*s, buf[32], err[256];
	uint16_t	 base, base2;
	uint32_t	 size, size2;

	fuzz_quiet_log();
	if (len > 4096)
		return (0);
	s = fuzz_strndup(data, len);
	err[0] = '\0';
	if (portalloc_parse_range(s, &base, &size, err, sizeof(err)) == -1) {
		if (err[0] == '\0')
			abort();
		free(s);
		return (0);
	}
	if (base == 0 ? size != 0 :
	    size == 0 || (uint32_t)base + size - 1 > 65535) {
		fprintf(stderr, "\"%s\": base %u size %u\n", s, base,
		    (unsigned)size);
		abort();
	}
	if (base != 0) {
		snprintf(buf, sizeof(buf), "%u-%u", base,
		    (unsigned)(base + size - 1));
		if (portalloc_parse_range(buf, &base2, &size2, err,
		    sizeof(err)) == -1 || base2 != base || size2 != size)
			abort();
	}
	free(s);
	return (0);
}
