/*
 * iptables_diff.h: the difference between the rules last applied and a
 * new rendering, as the restore inputs of an incremental update (see
 * "Incremental updates" in iptables.h).  Pure: texts in, texts out.
 */
#ifndef IPTABLES_DIFF_H
#define IPTABLES_DIFF_H

#include <sys/types.h>

#include <stddef.h>

#include "ipt_text.h"

/*
 * Render the restore inputs that change the rules of last (the text
 * last applied, as ipt_render() wrote it) into those of t, with no
 * chain declaration: the new rules ("-I CHAIN 1", the last rendered
 * first) into addin, the stale ones ("-D") into delin, each per table
 * with changes and left empty if none; their counts in *nadds and
 * *ndels.  addin and delin are initialised here.  Returns the number of
 * changes (0: the same rules, both empty), or -1 if the change is too
 * large for an incremental update (more than max(64, 10% of the rules))
 * or memory ran out (both empty).
 */
ssize_t	 ipt_incremental(const char *last, const struct ipt_text *t,
	    struct ipt_text *addin, struct ipt_text *delin, size_t *nadds,
	    size_t *ndels);

#endif /* IPTABLES_DIFF_H */
