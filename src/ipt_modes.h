/*
 * ipt_modes.h: what each of kube-proxy 1.20's three modes leaves in the
 * kernel, and the pure rendering of its removal: the iptables-restore
 * input that removes their chains and the jumps into them, and the
 * "ipset restore" input that destroys ipvs mode's sets.
 *
 * The chains are exactly those the CleanupLeftovers() functions of
 * kube-proxy 1.20 remove (pkg/proxy/{userspace,iptables,ipvs}/
 * proxier.go):
 *	userspace  nat    KUBE-PORTALS-CONTAINER KUBE-PORTALS-HOST
 *	                  KUBE-NODEPORT-CONTAINER KUBE-NODEPORT-HOST
 *	           filter KUBE-NODEPORT-NON-LOCAL
 *	iptables   nat    KUBE-SERVICES KUBE-NODEPORTS KUBE-POSTROUTING
 *	                  KUBE-SVC-* KUBE-SEP-* KUBE-FW-* KUBE-XLB-*
 *	           filter KUBE-SERVICES KUBE-EXTERNAL-SERVICES KUBE-FORWARD
 *	           nat, filter, mangle: KUBE-PROXY-CANARY (kube-proxy's
 *	                  own --cleanup leaves this empty chain; not here)
 *	ipvs       nat    KUBE-SERVICES KUBE-POSTROUTING KUBE-FIREWALL
 *	                  KUBE-NODE-PORT KUBE-LOAD-BALANCER
 *	           filter KUBE-FORWARD
 * KUBE-MARK-MASQ, KUBE-MARK-DROP and filter's KUBE-FIREWALL are not
 * removed: kubelet owns them too (kube-proxy's cleanup leaves them).
 * kube-proxy deletes only the jump rules it wrote, by their exact text;
 * here every rule of another chain that jumps ("-j") or goes ("-g") to
 * a removed chain is deleted, each copy, so that "-X" cannot fail on a
 * reference that someone else added.
 *
 * ipvs mode's ipsets are kube-proxy's ipsetInfo names (KUBE-CLUSTER-IP,
 * KUBE-LOOP-BACK, ...; "KUBE-6-..." for IPv6); its dummy link is
 * kube-ipvs0 (see migrate.h, which removes both).
 */
#ifndef IPT_MODES_H
#define IPT_MODES_H

#include <stddef.h>

#include "ipt_text.h"

/* The modes, as a bit mask. */
#define IPT_MODE_USERSPACE	0x1
#define IPT_MODE_IPTABLES	0x2
#define IPT_MODE_IPVS		0x4
#define IPT_MODES_ALL		0x7
/* What kuproxy removes at start: everything but its own chains. */
#define IPT_MODES_OTHER		(IPT_MODE_IPTABLES | IPT_MODE_IPVS)

/* The ipvs mode's dummy link. */
#define IPT_MODES_IPVS_LINK	"kube-ipvs0"

/* What a cleanup text removes. */
struct ipt_modes_found {
	size_t	nchains;	/* chains flushed and deleted */
	size_t	njumps;		/* rules of other chains deleted */
	int	ipvs;		/* a chain only ipvs mode makes is there */
	char	what[512];	/* "nat: KUBE-SERVICES KUBE-SVC-* (3) ...;
				   filter: ...; mangle: ...", cut with
				   "..." */
};

/*
 * Return 1 if chain (len bytes) of table ("nat", "filter") is one that
 * a mode in modes makes, 0 if not.  Pure.
 */
int	 ipt_modes_chain(const char *table, const char *chain, size_t len,
	    int modes);
/*
 * Render the restore input that removes the chains of the modes in
 * modes, given the output of "iptables-save -t nat", "-t filter" and
 * "-t mangle" (any may be NULL or empty): per table, "-D" for every rule in a
 * chain that stays that jumps or goes to a removed one (each copy), then
 * each removed chain is declared (flushed) and deleted with "-X".
 * out->len is 0 when there is nothing to remove.  found (may be NULL)
 * says what.  Pure.  Returns 0, or -1 with a reason in err if out of
 * memory (out is then empty).
 */
int	 ipt_render_cleanup(const char *nat_save, const char *filter_save,
	    const char *mangle_save, int modes, struct ipt_text *out,
	    struct ipt_modes_found *found, char *err, size_t errlen);
/*
 * Render the "ipset restore" input that destroys ipvs mode's sets of
 * family (AF_INET: "KUBE-...", AF_INET6: "KUBE-6-..."), given the
 * output of "ipset list -n": one "destroy NAME" line per set of ours
 * that it lists (another KUBE- set stays).  Appends the names, space
 * separated, to names (may be NULL).  Pure.  Returns the number of sets,
 * or -1 if out of memory (out is then empty).
 */
int	 ipt_modes_ipsets(const char *list, int family, struct ipt_text *out,
	    struct ipt_text *names);

#endif /* IPT_MODES_H */
