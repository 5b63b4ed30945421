/*
 * migrate.h: removing what kube-proxy's other modes left behind.
 *
 * kube-proxy 1.20 leaves the rules of its other modes in place when it
 * starts, so after a switch from iptables mode a stale KUBE-SERVICES
 * rule keeps DNATing a deleted Service's IP to an old Pod.  kuproxy
 * removes them when it starts (migrate_start()): per family, in the
 * background, one at a time,
 *	1. "iptables-save -t nat", then "-t filter", "-t mangle";
 *	2. one "iptables-restore --noflush" that removes the chains of
 *	   iptables and ipvs mode and every jump to them (ipt_modes.h),
 *	   never touching kuproxy's own chains, whose rules keep serving;
 *	3. IPv4 only: the kube-ipvs0 link, deleted with one netlink
 *	   request (no child process);
 *	4. where the ipset binary exists: "ipset list -n", then one "ipset
 *	   restore" that destroys ipvs mode's sets of the family (after
 *	   step 2: a set that a rule references cannot be destroyed);
 * then one log line naming what was removed (none when nothing was
 * there).  A failed step is logged as a warning and ends the migration:
 * kuproxy serves all the same.
 *
 * --cleanup does the same for all three modes, blocking
 * (migrate_cleanup()), as kube-proxy's --cleanup does.  Not done: the
 * flush of IPVS virtual servers (kube-proxy's --cleanup-ipvs), which
 * needs ipvsadm or generic netlink.
 */
#ifndef MIGRATE_H
#define MIGRATE_H

#include <stddef.h>

struct event_base;
struct ipt;
struct migrate;

/* Bound of one ipset command, ms. */
#define MIGRATE_IPSET_TIMEOUT_MS	60000

/*
 * Return the path of the ipset binary (a static buffer): "ipset" next to
 * iptables_path (as iptables-restore and -save are found; so a test's
 * fake iptables comes with a fake ipset and never reaches the real one),
 * else the first executable "ipset" in $PATH, else /usr/sbin/ipset or
 * /sbin/ipset; NULL if there is none.
 */
const char	*migrate_ipset_path(const char *iptables_path);

/*
 * Start removing the leftovers of kube-proxy's iptables and ipvs modes
 * from family (AF_INET or AF_INET6) in the background on base, with
 * ipt's binaries (borrowed: ipt must outlive the migration) and
 * ipset_path (copied; NULL: no ipset).  done(arg) is called once it is
 * over, successful or not (logged either way), never from here.
 * Returns the migration, or NULL if its first command could not be
 * started (logged; done is not called then).
 */
struct migrate	*migrate_start(struct event_base *base, struct ipt *ipt,
		    int family, const char *ipset_path,
		    void (*done)(void *), void *arg);
/* Stop a migration that is not over (done is not called); NULL ignored. */
void		 migrate_cancel(struct migrate *);

/*
 * --cleanup of one family: remove the chains of all three modes and the
 * jumps to them (ipt_cleanup()), then, for AF_INET, the kube-ipvs0 link,
 * then ipvs mode's sets of the family if ipset_path is not NULL.
 * Blocking.  What was removed is logged.  Returns 0 (also when nothing
 * was there), or -1 with the reasons in err.
 */
int		 migrate_cleanup(struct ipt *ipt, int family,
		    const char *ipset_path, char *err, size_t errlen);

/*
 * Delete the network link name with one netlink request.  Returns 1 if
 * it was deleted, 0 if there is no such link, or -1 with a reason in
 * err.
 */
int		 migrate_link_delete(const char *name, char *err,
		    size_t errlen);

#endif /* MIGRATE_H */
