/*
 * sdnotify.h: systemd's service notification protocol (sd_notify(3)),
 * spoken directly, without libsystemd.  A notification is one datagram of
 * newline-separated assignments ("READY=1\nSTATUS=serving 3 Services")
 * sent to the AF_UNIX socket $NOTIFY_SOCKET names: a path ("/run/...")
 * or an abstract name ("@name", the '@' standing for the leading NUL).
 *
 * The watchdog: with $WATCHDOG_USEC set (WatchdogSec= in the unit), and
 * $WATCHDOG_PID absent or this process, WATCHDOG=1 is sent every half
 * interval from a timer on the caller's event loop, so a loop that stops
 * turning stops petting and systemd restarts the service.
 *
 * Never fatal: without $NOTIFY_SOCKET there is nothing to do (every call
 * takes a NULL handle and does nothing); a send that fails is logged
 * once, and again only after one has succeeded.
 */
#ifndef SDNOTIFY_H
#define SDNOTIFY_H

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct sdnotify;

#define SDNOTIFY_ERRLEN		256
/* The longest datagram sent; a longer STATUS= is cut to fit. */
#define SDNOTIFY_MSGLEN		1024

/*
 * Parse a $NOTIFY_SOCKET value into *sun and *len (the address length
 * to pass to sendto: an abstract name's length counts its leading NUL
 * and no trailing one).  Returns 0, or -1 with a reason in err: empty,
 * not starting with '/' or '@' (systemd's other address kinds, such as
 * vsock, are not supported), or too long for sun_path.
 */
int		 sdnotify_parse_addr(const char *s, struct sockaddr_un *sun,
		    socklen_t *len, char *err, size_t errlen);
/*
 * Decide the watchdog interval from $WATCHDOG_USEC (usec) and
 * $WATCHDOG_PID (pid; NULL or "" when unset), as sd_watchdog_enabled(3)
 * does for process self.  Returns 1 with *interval_usec set when this
 * process must pet; 0 when it must not (usec unset or empty, or pid
 * another process's); -1 with a reason in err when a value is not a
 * positive decimal integer (or usec is too large).
 */
int		 sdnotify_parse_watchdog(const char *usec, const char *pid,
		    pid_t self, uint64_t *interval_usec, char *err,
		    size_t errlen);
/*
 * Write the datagram head followed by "STATUS=" and status into buf (of
 * size len, NUL-terminated).  head is zero or more complete assignments,
 * each ending in '\n' (NULL: none); status may be NULL (no STATUS=).
 * Newlines and other control characters in status become spaces, since
 * a newline would start another assignment; a status too long for buf
 * is cut.  Returns the length written, or 0 if head alone does not fit.
 */
size_t		 sdnotify_format(char *buf, size_t len, const char *head,
		    const char *status);

/*
 * Open a notifier for the socket at addr ($NOTIFY_SOCKET's syntax).
 * base (borrowed) runs the watchdog timer, if one is started (NULL: no
 * watchdog can be).  Returns
 * the notifier, or NULL with a reason in err (a bad address, or no
 * socket could be created).  Nothing is sent yet.
 */
struct sdnotify	*sdnotify_open(struct event_base *base, const char *addr,
		    char *err, size_t errlen);
/*
 * The notifier systemd asked for, from the environment: NULL when
 * $NOTIFY_SOCKET is unset (not run by systemd as Type=notify) or
 * unusable (logged as a warning).  Starts the watchdog when
 * $WATCHDOG_USEC/$WATCHDOG_PID ask for it (a bad value is logged and
 * the watchdog left off).  NOTIFY_SOCKET, WATCHDOG_USEC and
 * WATCHDOG_PID are removed from the environment whatever happens, as
 * sd_notify(unset_environment=1) does, so that no child process
 * (iptables-restore, conntrack) inherits them.  Call it before any
 * thread or child process is started.
 */
struct sdnotify	*sdnotify_from_env(struct event_base *base);
/* Stop the watchdog, close the socket and free; NULL is ignored. */
void		 sdnotify_free(struct sdnotify *);

/*
 * Send head (complete assignments, see sdnotify_format) and, if status
 * is not NULL, a STATUS= line.  Returns 0 if sent (or sn is NULL), -1
 * if the send failed: logged once as a warning until a send succeeds
 * again.  The socket is non-blocking, so a manager that does not read
 * never stalls the loop (the datagram is dropped: EAGAIN).
 */
int		 sdnotify_send(struct sdnotify *sn, const char *head,
		    const char *status);
/* Same as sdnotify_send, the status built from a printf format. */
int		 sdnotify_sendf(struct sdnotify *sn, const char *head,
		    const char *fmt, ...)
		    __attribute__((__format__(__printf__, 3, 4)));
/*
 * Pet every interval_usec / 2 from a persistent timer on the loop (the
 * first one at once).  Replaces a watchdog already running.  Returns 0,
 * or -1 if the timer cannot be created (logged; also without a base).
 */
int		 sdnotify_watchdog_start(struct sdnotify *sn,
		    uint64_t interval_usec);
/*
 * Send msg (complete assignments, e.g. "FDSTORE=1\nFDNAME=x\n") with
 * the nfds descriptors of fds attached (SCM_RIGHTS; nfds may be 0), as
 * sd_pid_notify_with_fds(3) does: systemd keeps them in the service's
 * fd store and passes them back on the next start (LISTEN_FDS).
 * Returns 0 if sent (or sn is NULL), -1 if the send failed (logged once
 * as sdnotify_send()'s failures are).
 */
int		 sdnotify_send_fds(struct sdnotify *sn, const char *msg,
		    const int *fds, size_t nfds);
/*
 * Return the size of systemd's fd store, from $FDSTORE (systemd 254 and
 * later set it when FileDescriptorStoreMax= is not 0; the unit may set
 * it for an older systemd): 0 when unset or not a number (or sn NULL),
 * in which case nothing should be sent with FDSTORE=1.
 */
uint64_t	 sdnotify_fdstore_max(const struct sdnotify *sn);
/*
 * Write into env (room for max entries) the variables a successor
 * process started by this one needs to speak to the same manager:
 * "NOTIFY_SOCKET=...", and "WATCHDOG_USEC=..." and "FDSTORE=..." when
 * set (sdnotify_from_env() removed them from this process's
 * environment).  No WATCHDOG_PID: the successor pets too.  The strings
 * are allocated; the caller frees them.  Returns the number written (0
 * for a NULL sn).
 */
size_t		 sdnotify_env(const struct sdnotify *sn, char **env,
		    size_t max);
/* Return the watchdog interval in usec, 0 if none runs (or sn NULL). */
uint64_t	 sdnotify_watchdog_usec(const struct sdnotify *sn);
/* Return the number of failed sends so far (0 if sn is NULL). */
uint64_t	 sdnotify_errors(const struct sdnotify *sn);

#endif /* SDNOTIFY_H */
