/*
 * fuzz_portstate.c: the persisted-ports state file (portstate_parse).
 * The input is the file.  Checked: a good file's entries are valid and
 * each is found by portstate_lookup; a bad one leaves the state empty
 * with a reason.
 */
#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "portstate.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct portstate	 ps;
	char			 err[512];
	size_t			 i;

	fuzz_quiet_log();
	memset(&ps, 0, sizeof(ps));
	err[0] = '\0';
	if (portstate_parse((const char *)data, len, &ps, err,
	    sizeof(err)) == -1) {
		if (err[0] == '\0' || ps.n != 0)
			abort();
	} else {
		for (i = 0; i < ps.n; i++) {
			if (ps.v[i].port == 0 ||
			    (ps.v[i].proto != IPPROTO_TCP &&
			    ps.v[i].proto != IPPROTO_UDP))
				abort();
			if (portstate_lookup(&ps, ps.v[i].name,
			    ps.v[i].proto) != ps.v[i].port)
				abort();
		}
	}
	portstate_clear(&ps);
	return (0);
}
