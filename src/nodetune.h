/*
 * nodetune.h: what kube-proxy 1.20 tunes on the node when it starts,
 * whatever its mode (cmd/kube-proxy/app/server.go, conntrack.go,
 * pkg/util/oom): the process's oom_score_adj, nf_conntrack_max (with
 * the conntrack hash size) and the two TCP conntrack timeouts.
 *
 * kube-proxy exits when a conntrack setting cannot be written (except
 * for a read-only /sys); kuproxy logs one warning per setting it could
 * not apply and goes on, since a node proxy that refuses to start is
 * an outage.  Inside a network namespace other than the initial one the
 * kernel makes nf_conntrack_max and the hash size read-only, while the
 * timeouts are per namespace.
 */
#ifndef NODETUNE_H
#define NODETUNE_H

#include <stdint.h>

struct kp_config;

/*
 * The nf_conntrack_max kube-proxy asks for (getConntrackMax): 0 (leave
 * it) when conntrack.maxPerCore is 0, else maxPerCore * ncpu, but at
 * least conntrack.min.
 */
int64_t	nodetune_conntrack_max(const struct kp_config *, int ncpu);
/* The CPUs this process may run on, as Go's runtime.NumCPU counts. */
int	nodetune_ncpu(void);
/*
 * Apply cfg's oomScoreAdj and conntrack settings.  root prefixes every
 * path ("" on a real node; a directory holding proc/ and sys/ trees in
 * tests).  Returns the number of settings that could not be applied
 * (each logged once as a warning).
 */
int	nodetune_apply(const struct kp_config *, const char *root, int ncpu);
/* The oomScoreAdj part of nodetune_apply() alone (a live reload). */
int	nodetune_apply_oom(const struct kp_config *, const char *root);
/*
 * The conntrack part of nodetune_apply() alone (a live reload): each
 * setting already at its value is left untouched and not logged.
 */
int	nodetune_apply_conntrack(const struct kp_config *, const char *root,
	    int ncpu);

#endif /* NODETUNE_H */
