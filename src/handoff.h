/*
 * handoff.h: hand the listening sockets to a successor process, as
 * HAProxy's seamless reload (-x) does.
 *
 * The running kuproxy listens on a unix socket, <state dir>/handoff.sock
 * (SOCK_SEQPACKET, mode 0600 by the state directory's 0700 and the
 * umask).  A new kuproxy finding it connects and says HELLO; the old one
 * answers with every listening socket, TCP and UDP, in messages of at
 * most HANDOFF_BATCH descriptors (SCM_RIGHTS), each message's text the
 * "FDS" line then the sockpool names (sockpool.h) in descriptor order,
 * and a last "END <n>" message.  The new process serves them (its first
 * rules applied), then says DONE: only then does the old one stop
 * accepting (handoff_ops.successor) and drain.  No listening socket is
 * ever closed in between, so no connection is refused or lost in an
 * accept queue (SO_REUSEPORT would lose those queued on the closing
 * socket: not used).  A new process that goes away before DONE leaves
 * the old one serving.
 *
 * The socket is made under a private name and renamed over
 * handoff.sock once this process serves (handoff_publish), so the name
 * always leads to a process holding every listener; a name left by a
 * process that died (connect: ECONNREFUSED) is removed.
 */
#ifndef HANDOFF_H
#define HANDOFF_H

#include <sys/types.h>

#include <stddef.h>

struct event_base;
struct handoff;
struct sockpool;

#define HANDOFF_BATCH	64	/* descriptors per message (Linux: 253) */
#define HANDOFF_ERRLEN	256

struct handoff_ops {
	/*
	 * Call add(ctx, name, fd) for every listening socket to hand over
	 * (fd borrowed).
	 */
	void	(*listeners)(void *arg, void (*add)(void *ctx,
		    const char *name, int fd), void *ctx);
	/* Process pid serves every listener now: stop accepting, drain. */
	void	(*successor)(void *arg, pid_t pid);
	void	*arg;
};

/*
 * Create the hand-off server of state directory dir on base (borrowed),
 * listening under a private name until handoff_publish().  ops is
 * copied.  Returns NULL with a reason in err (the socket cannot be made:
 * kuproxy runs on without offering hand-off).
 */
struct handoff	*handoff_new(struct event_base *base, const char *dir,
		    const struct handoff_ops *ops, char *err, size_t errlen);
/*
 * Make the server the one a new process finds: rename it over
 * <dir>/handoff.sock.  Returns 0, or -1 (logged).
 */
int		 handoff_publish(struct handoff *);
/*
 * Close the server and free it.  The name is removed if it is still
 * this process's (a successor that renamed its own over it keeps it).
 * NULL is ignored.
 */
void		 handoff_free(struct handoff *);

/*
 * The new process's side: connect to <dir>/handoff.sock and receive
 * every listening socket into pool.  Blocking, bounded (5 s per
 * message).  On success *conn is the connection to keep for
 * handoff_done().  Returns the number of sockets received; 0 when there
 * is no predecessor (no name, or a stale one: removed), *conn -1; -1
 * with a reason in err on a protocol or system error (sockets received
 * so far stay in pool; *conn is -1).
 */
int		 handoff_receive(const char *dir, struct sockpool *pool,
		    int *conn, char *err, size_t errlen);
/*
 * Tell the predecessor on conn (from handoff_receive) that this process
 * serves every socket now, and close conn.  -1 is ignored.
 */
void		 handoff_done(int conn);

#endif /* HANDOFF_H */
