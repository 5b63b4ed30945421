/*
 * conntrack.c: the command that deletes the UDP conntrack entries of a
 * removed service, and the judgement of its result.  See conntrack.h.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conntrack.h"
#include "exec.h"
#include "log.h"
#include "netutil.h"

/* Prepare "conntrack -D --orig-dst IP -p udp [-f ipv6]". */
int
conntrack_flush_prepare(struct conntrack_flush *f, const char *conntrack_path,
    const char *ip, int *warned, char *err, size_t errlen)
{
	int	af, i = 0;

	memset(f, 0, sizeof(*f));
	if (ip == NULL || (af = netutil_canon_ip(ip, f->ip,
	    sizeof(f->ip))) == -1) {
		snprintf(err, errlen, "conntrack: \"%s\" is not an IP address",
		    ip ? ip : "");
		return (-1);
	}
	if (conntrack_path == NULL || access(conntrack_path, X_OK) == -1) {
		if (!*warned)
			log_warnx("%s not found: stale UDP conntrack entries "
			    "of removed services are not deleted",
			    conntrack_path ? conntrack_path : "conntrack");
		*warned = 1;
		return (0);
	}
	f->argv[i++] = conntrack_path;
	f->argv[i++] = "-D";
	f->argv[i++] = "--orig-dst";
	f->argv[i++] = f->ip;
	f->argv[i++] = "-p";
	f->argv[i++] = "udp";
	if (af == AF_INET6) {
		f->argv[i++] = "-f";
		f->argv[i++] = "ipv6";
	}
	f->argv[i] = NULL;
	return (1);
}

/* Did the flush work?  "Nothing to delete" counts as yes. */
int
conntrack_flush_finish(const struct conntrack_flush *f, int rv,
    const struct exec_result *res, char *err, size_t errlen)
{
	size_t	n;

	if (rv == 0)
		return (0);
	if (res == NULL) {
		snprintf(err, errlen, "%s not run", f->argv[0] != NULL ?
		    f->argv[0] : "conntrack");
		return (-1);
	}
	if (res->status == 1 &&
	    strstr(res->out, "0 flow entries have been deleted") != NULL)
		return (0);
	n = strcspn(res->out, "\n");
	snprintf(err, errlen, "conntrack: %s%s%.*s", res->err,
	    n > 0 ? ": " : "", (int)(n > 300 ? 300 : n), res->out);
	return (-1);
}
