/*
 * iptables_jumps.h: our chains, the jump rules that lead into them from
 * the built-in chains, and the pure checks on "iptables -S" and
 * "iptables-save" listings that find a jump to one of our chains.
 *
 * Chains (the same as kube-proxy userspace, so --cleanup of either
 * removes the other's leftovers):
 *	nat    KUBE-PORTALS-CONTAINER   jump from PREROUTING, before NodePorts
 *	nat    KUBE-PORTALS-HOST        jump from OUTPUT, before NodePorts
 *	nat    KUBE-NODEPORT-CONTAINER  jump from PREROUTING, addrtype LOCAL
 *	nat    KUBE-NODEPORT-HOST       jump from OUTPUT, addrtype LOCAL
 *	filter KUBE-NODEPORT-NON-LOCAL  jump from INPUT, first
 *
 * The jumps are read with "iptables -w 5 -t T -S CHAIN": three small
 * listings, nat PREROUTING, nat OUTPUT, filter INPUT (never the whole
 * table, which holds our own thousands of rules).  The fixes go into
 * the same restore input as the rules: every jump that targets one of
 * our chains but is not exactly ours is deleted ("-D" with its printed
 * text), duplicates and misplaced copies are deleted, and a missing jump
 * is added: portal jumps with "-I CHAIN 1", NodePort jumps with "-A".
 * Rules are compared as sets of arguments, because iptables prints
 * matches in its own order.  Checked: each jump exists exactly once, and
 * the NodePort jump comes after the portal jump in the same chain.  Not
 * checked: that the portal jump is still the very first rule.  Other
 * software (Docker, CNI plugins) also inserts at the top; insisting on
 * first place would make both sides re-insert forever.  kube-proxy
 * checks existence only.
 */
#ifndef IPTABLES_JUMPS_H
#define IPTABLES_JUMPS_H

#include <stddef.h>

#include "ipt_text.h"

#define IPT_PORTALS_CONTAINER	"KUBE-PORTALS-CONTAINER"
#define IPT_PORTALS_HOST	"KUBE-PORTALS-HOST"
#define IPT_NODEPORT_CONTAINER	"KUBE-NODEPORT-CONTAINER"
#define IPT_NODEPORT_HOST	"KUBE-NODEPORT-HOST"
#define IPT_NODEPORT_NON_LOCAL	"KUBE-NODEPORT-NON-LOCAL"

/* Our chains per table, NULL-terminated. */
extern const char *const ipt_nat_chains[];
extern const char *const ipt_filter_chains[];

/* The built-in chains whose jumps are read, in this order. */
#define IPT_NREADS	3
struct ipt_read_chain {
	const char	*table;
	const char	*chain;
};
extern const struct ipt_read_chain ipt_read_chains[IPT_NREADS];

/*
 * If line (len bytes, no newline) is "-A CHAIN ..." with CHAIN not in
 * ours (a NULL-terminated list) and the rule jumps ("-j") or goes
 * ("-g") to a chain of ours, return the length of CHAIN, point *rest at
 * the arguments after it and set *target to the index in ours of the
 * chain it jumps to.  Otherwise return 0; if that is because memory ran
 * out (the answer is unknown), t->oom is set as well.  Pure.
 */
size_t	 ipt_foreign_jump(const char *line, size_t len,
	    const char *const *ours, const char **rest, int *target,
	    struct ipt_text *t);

/*
 * Compare the "-S" listings of the chains of ipt_read_chains (listing[i]
 * for chain i; NULL counts as empty) with our jumps and write the fixes
 * per table, fix[0] nat and fix[1] filter (zeroed here): the deletions
 * first, then the additions, so that a "-I CHAIN 1" lands in front.
 * Both are empty when every jump is in place.  Pure.  Returns 0, or -1
 * with a reason in err if memory ran out (fix is then released).
 */
int	 ipt_jumps_fixes(const char *const listing[IPT_NREADS],
	    struct ipt_text fix[2], char *err, size_t errlen);

#endif /* IPTABLES_JUMPS_H */
