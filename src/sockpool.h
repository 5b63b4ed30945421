/*
 * sockpool.h: listening sockets received from outside (systemd's
 * LISTEN_FDS, a predecessor's hand-off), waiting for the proxier to take
 * them instead of binding afresh.
 *
 * Each socket is known by a name that identifies one proxy listener and
 * is a valid systemd FDNAME (printable ASCII, no ':', at most 255
 * characters): "<proto>/<proxy port>/<namespace>/<name>[/<port name>]",
 * e.g. "tcp/30123/default/web/http".  The proxier, about to bind a
 * service port on its persisted proxy port, takes the socket of that
 * name if the pool holds one; whatever nobody took by the end of the
 * first full sync is closed (sockpool_close_rest), so a Service deleted
 * while no process ran does not keep its port.
 */
#ifndef SOCKPOOL_H
#define SOCKPOOL_H

#include <stddef.h>
#include <stdint.h>

struct sockpool;

/* The longest name (systemd's FDNAME limit), without the NUL. */
#define SOCKPOOL_NAMEMAX	255
#define SOCKPOOL_ERRLEN		256

/*
 * Write the name of the listener of service port svcname ("ns/name" or
 * "ns/name:port", as the proxier names it) on proxy port port, protocol
 * proto (IPPROTO_TCP, IPPROTO_UDP), into buf of size len.  Returns 0,
 * or -1 if it does not fit or the result is not a valid FDNAME.
 */
int		 sockpool_name(char *buf, size_t len, int proto, uint16_t port,
		    const char *svcname);
/* Return 1 if s is a valid systemd FDNAME, else 0. */
int		 sockpool_name_valid(const char *s);

/* Return an empty pool.  Never NULL (start-up only: fatal if no memory). */
struct sockpool	*sockpool_new(void);
/* Close every socket still held and free the pool; NULL is ignored. */
void		 sockpool_free(struct sockpool *);
/*
 * Put socket fd (owned from now on: made close-on-exec and non-blocking)
 * under name (copied).  A second socket under the same name replaces the
 * first, which is closed.  Returns 0, or -1 if the name is not valid
 * (fd is then closed).
 */
int		 sockpool_add(struct sockpool *, const char *name, int fd);
/*
 * Take the socket stored under name out of the pool: the caller owns the
 * returned fd.  Returns -1 if there is none (or pool is NULL).
 */
int		 sockpool_take(struct sockpool *, const char *name);
/* Return the number of sockets held (0 for NULL). */
size_t		 sockpool_count(const struct sockpool *);
/*
 * Close every socket still held, calling cb (may be NULL) with each
 * one's name first, so the caller can drop it from systemd's fd store.
 * Returns the number closed.
 */
size_t		 sockpool_close_rest(struct sockpool *,
		    void (*cb)(const char *name, void *), void *arg);
/*
 * Take the sockets systemd passes (sd_listen_fds(3)): when $LISTEN_PID
 * is this process, the $LISTEN_FDS descriptors from 3 up, named by
 * $LISTEN_FDNAMES (':'-separated).  Descriptors that are not sockets or
 * have an invalid or missing name are closed.  The three variables are
 * removed from the environment whatever happens, so no child inherits
 * them.  Returns the number of sockets added, or -1 with a reason in
 * err when the variables are malformed (nothing is taken then).
 */
int		 sockpool_from_env(struct sockpool *, char *err,
		    size_t errlen);

#endif /* SOCKPOOL_H */
