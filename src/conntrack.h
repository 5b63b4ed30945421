/*
 * conntrack.h: delete the UDP conntrack entries of a removed service
 * with "conntrack -D --orig-dst IP -p udp" (plus "-f ipv6"), so that its
 * clients' datagrams are not pinned to the closed proxy port.  The
 * caller runs the command (exec_start() from a loop, exec_run() at
 * start-up or in tests): prepare, run argv, finish with the result.
 * When the entries may be deleted, relative to the rules, is the
 * caller's business (see proxier_rules.c).
 */
#ifndef CONNTRACK_H
#define CONNTRACK_H

#include <netinet/in.h>

#include <stddef.h>

/* Bound of one conntrack run, ms. */
#define CONNTRACK_TIMEOUT_MS	60000

struct exec_result;

/* One prepared flush: argv points into it and at the path. */
struct conntrack_flush {
	const char	*argv[9];
	char		 ip[INET6_ADDRSTRLEN];	/* canonical */
};

/*
 * Fill f with the command that deletes the UDP entries whose original
 * destination is ip, run as conntrack_path (borrowed: it must outlive
 * f).  Returns 1 when f is ready to run; 0 when conntrack_path is NULL
 * or not executable, which is logged once as long as *warned is 0 (then
 * set); -1 with a reason in err if ip is not an IP address.
 */
int	 conntrack_flush_prepare(struct conntrack_flush *f,
	    const char *conntrack_path, const char *ip, int *warned, char *err,
	    size_t errlen);
/*
 * Judge the run of a prepared flush (rv and res as exec returns them;
 * res may be NULL if it could not be started).  Returns 0 on success,
 * including exit status 1 with "0 flow entries have been deleted" (there
 * were none), or -1 with the command's first output line in err.
 */
int	 conntrack_flush_finish(const struct conntrack_flush *f, int rv,
	    const struct exec_result *res, char *err, size_t errlen);

#endif /* CONNTRACK_H */
