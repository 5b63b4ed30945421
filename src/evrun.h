/*
 * evrun.h: run a libevent loop with an adaptive short busy-poll.
 *
 * A loop that blocks in epoll_wait() after every wakeup pays a context
 * switch (and the scheduler's wakeup latency) per request when requests
 * come faster than the thread can fall asleep and be woken.  evrun_loop()
 * polls with EVLOOP_NONBLOCK for a short window after a wakeup instead,
 * but only while the loop is busy: the window grows while wakeups come
 * closer together than the window and drops to zero once a block lasts
 * longer, so an idle loop blocks at once and uses no CPU.
 */
#ifndef EVRUN_H
#define EVRUN_H

#include <stdint.h>

struct event_base;

struct evrun_stats {
	uint64_t	blocks;		/* EVLOOP_ONCE calls (may sleep) */
	uint64_t	polls;		/* EVLOOP_NONBLOCK calls */
	uint64_t	hits;		/* polls that ran a callback */
	uint64_t	misses;		/* windows that ended with no work */
};

struct evrun_opts {
	unsigned int		 spin_us;	/* largest window; 0: never */
	struct evrun_stats	*stats;		/* updated if not NULL */
};

/*
 * Run base until event_base_loopbreak() or event_base_loopexit() is
 * called from one of its callbacks, or until no event is left, as
 * event_base_dispatch() does; with o == NULL or o->spin_us == 0 it is
 * event_base_dispatch().  Otherwise, after a wakeup that followed a
 * block shorter than the window, polls without blocking for up to the
 * window (at most o->spin_us microseconds) and goes on polling while
 * polls find work.  A break or exit requested from another thread may
 * be missed between iterations: send a message whose callback breaks.
 * Returns 0 after a break or exit, 1 if no event was left, or -1 if
 * libevent failed.
 */
int	evrun_loop(struct event_base *, const struct evrun_opts *);

#endif /* EVRUN_H */
