/*
 * fuzz.h: what the libFuzzer targets of tests/fuzz/ share.  Each target
 * is one fuzz_<name>.c defining LLVMFuzzerTestOneInput; build.sh links
 * it with the instrumented src/ archive.
 *
 * A target must free everything it gets (libFuzzer's leak check fails a
 * run that leaks) and must not write files or talk to the network.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * Send kuproxy's log lines (a parser's warnings about unknown fields,
 * say) to /dev/null: they are formatted as usual, so the logging code
 * runs too, but do not flood the fuzzer's output.  Called once.
 */
static inline void
fuzz_quiet_log(void)
{
	static int		 done;
	struct log_opts		 o;
	char			 err[256];

	if (done)
		return;
	done = 1;
	log_init(0);
	log_opts_init(&o);
	o.logtostderr = 0;
	o.stderrthreshold = 4;	/* nothing to stderr */
	strcpy(o.file, "/dev/null");
	if (log_configure(&o, err, sizeof(err)) == -1)
		abort();
}

/*
 * Return a NUL-terminated copy of data (the caller frees it): parsers
 * that take a C string get exactly the fuzzer's bytes, and ASan still
 * sees a read past them.
 */
static inline char *
fuzz_strndup(const uint8_t *data, size_t len)
{
	char	*s;

	if ((s = malloc(len + 1)) == NULL)
		abort();
	memcpy(s, data, len);
	s[len] = '\0';
	return (s);
}

/*
 * Split data at the first occurrence of sep (not included in either
 * half): *b gets what follows, and its length in *blen; without sep, b
 * is empty.  Returns the length of the first half.
 */
static inline size_t
fuzz_split(const uint8_t *data, size_t len, const char *sep,
    const uint8_t **b, size_t *blen)
{
	size_t	n = strlen(sep), i;

	for (i = 0; i + n <= len; i++)
		if (memcmp(data + i, sep, n) == 0) {
			*b = data + i + n;
			*blen = len - i - n;
			return (i);
		}
	*b = data + len;
	*blen = 0;
	return (len);
}

#endif /* FUZZ_H */
