/*
 * loop.h: the state of one event loop.  Everything a relay touches on
 * its hot path lives here or below it, never in a global, so that one
 * loop per core (SO_REUSEPORT listeners) needs no locks later.
 */
#ifndef LOOP_H
#define LOOP_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct event;
struct proxy_tcp;
struct udp_batch;

/*
 * Counters are written by the one loop that owns them and read by the
 * main loop for reporting: the owner adds with a relaxed atomic store
 * (a plain store on x86 and arm64: no lock, no fence), readers load
 * with a relaxed atomic load.  Only the owner may use CTR_ADD on a
 * counter.
 */
#define CTR_ADD(p, n)	__atomic_store_n((p), *(p) + (n), __ATOMIC_RELAXED)
#define CTR_SUB(p, n)	__atomic_store_n((p), *(p) - (n), __ATOMIC_RELAXED)
#define CTR_GET(p)	__atomic_load_n((p), __ATOMIC_RELAXED)

/* Counters of one service port on one loop; summed for reporting. */
struct svc_counters {
	uint64_t	accepted;	/* TCP connections / UDP flows opened */
	uint64_t	active;		/* TCP connections / UDP flows now */
	uint64_t	no_endpoints;	/* refused or dropped: no endpoint */
	uint64_t	connect_errors;	/* backend connect attempts failed */
	uint64_t	failed;		/* gave up: every attempt failed */
	uint64_t	bytes_in;	/* client to backend */
	uint64_t	bytes_out;	/* backend to client */
	uint64_t	dgrams_in;	/* UDP datagrams client to backend */
	uint64_t	dgrams_out;	/* UDP datagrams backend to client */
	uint64_t	dgrams_dropped;	/* UDP datagrams dropped */
};

/*
 * Something waiting for file descriptors (a listener paused on EMFILE).
 * resume is called once descriptors are released or the retry timer
 * fires; it may pause itself again.
 */
struct loop_waiter {
	TAILQ_ENTRY(loop_waiter) entry;
	void		(*resume)(void *arg);
	void		*arg;
	int		 queued;
};
TAILQ_HEAD(loop_waiters, loop_waiter);

struct loop {
	struct event_base	*base;
	/* Splice pipes not in use, each [0] read end, [1] write end. */
	int			(*pipes)[2];
	size_t			 npipes;
	size_t			 maxpipes;
	/* Listeners paused for lack of descriptors. */
	struct loop_waiters	 waiters;
	struct event		*fd_timer;
	int			 spare_fd;	/* given up to refuse clients */
	int			 fd_warned;	/* logged once per episode */
	/* Closed TCP services whose connections are still relaying. */
	LIST_HEAD(, proxy_tcp)	 tcp_dying;
	/*
	 * Closed TCP connections kept for the next ones (proxy_tcp.c).
	 * Each begins with the pointer to the next, so loop_free() frees
	 * them without knowing their type.
	 */
	void			*conn_pool;
	size_t			 nconn_pool;
	/* UDP receive buffers shared by the loop's UDP relays. */
	struct udp_batch	*udp_batch;
	/* Loop-wide counters. */
	uint64_t		 conns;		/* live relayed connections */
	uint64_t		 fd_pauses;	/* EMFILE/ENFILE episodes */
};

/*
 * Create the state of a loop running on base (not owned).  Never NULL
 * (allocation failure is fatal: made once at start-up).
 */
struct loop	*loop_new(struct event_base *base);
/*
 * Free the loop state: pooled pipes, timers.  Relays must be gone.  NULL
 * is ignored.
 */
void		 loop_free(struct loop *);
/* Return monotonic time in milliseconds (CLOCK_MONOTONIC, not cached). */
uint64_t	 loop_now_ms(struct loop *);

/*
 * Take a pipe for splice(): from the pool, else a new one (non-blocking,
 * close-on-exec, sized with F_SETPIPE_SZ).  Returns 0, or -1 if none
 * can be made (the caller falls back to read/write).
 */
int		 loop_pipe_get(struct loop *, int pfd[2]);
/*
 * Give a pipe back.  A pipe that still holds data (dirty) is closed;
 * a clean one is pooled up to maxpipes, else closed.
 */
void		 loop_pipe_put(struct loop *, int pfd[2], int dirty);

/*
 * Park a waiter after EMFILE/ENFILE/ENOBUFS/ENOMEM: logs one warning
 * per episode and arms a one-second retry timer.
 */
void		 loop_fd_wait(struct loop *, struct loop_waiter *);
/*
 * Out of descriptors: refuse (reset) up to max clients waiting in the
 * backlog of listener lfd, using a spare descriptor held for this, so
 * they fail at once instead of hanging until the pause ends.  Returns
 * the number refused.
 */
int		 loop_fd_shed(struct loop *, int lfd, int max);
/* Remove a waiter (e.g. its listener is closing). */
void		 loop_fd_cancel(struct loop *, struct loop_waiter *);
/* Descriptors were released: resume every waiter. */
void		 loop_fd_released(struct loop *);

#endif /* LOOP_H */
