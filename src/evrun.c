/*
 * evrun.c: a libevent loop with an adaptive short busy-poll.
 *
 * The window follows the cpuidle haltpoll governor: a block that ended
 * within the largest window means polling would have caught the wakeup
 * (grow the window), a longer one means the loop is not busy (window to
 * zero).  The block is the wall time of EVLOOP_ONCE less this thread's
 * CPU time in it, so that long callbacks do not pass for a long sleep.
 * Whether a poll ran a callback is read from libevent's highest count of
 * active events, reset before each poll.
 */
#include <stdint.h>
#include <time.h>

#include <event2/event.h>

#include "evrun.h"

#define EVRUN_START_US	8	/* first window once wakeups come close */

/* Return a clock in microseconds. */
static uint64_t
evrun_clock_us(clockid_t id)
{
	struct timespec	ts;

	clock_gettime(id, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

/* Return CLOCK_MONOTONIC in microseconds (a vDSO call). */
static uint64_t
evrun_now_us(void)
{
	return (evrun_clock_us(CLOCK_MONOTONIC));
}

/* Return 1 if a callback asked the loop to end. */
static int
evrun_done(struct event_base *base)
{
	return (event_base_got_break(base) || event_base_got_exit(base));
}

/*
 * Poll base without blocking for up to win_us, until a poll runs a
 * callback.  Returns 1 if one did, 0 if the window passed, 2 if the
 * loop should end (*rv is its result).
 */
static int
evrun_spin(struct event_base *base, unsigned int win_us,
    struct evrun_stats *st, int *rv)
{
	uint64_t	deadline;
	int		r, hit;

	deadline = evrun_now_us() + win_us;
	for (;;) {
		(void)event_base_get_max_events(base, EVENT_BASE_COUNT_ACTIVE,
		    1);
		/* Goes on while its polls find work, then returns. */
		r = event_base_loop(base, EVLOOP_NONBLOCK);
		st->polls++;
		hit = event_base_get_max_events(base, EVENT_BASE_COUNT_ACTIVE,
		    1) > 0;
		st->hits += hit;
		if (r != 0 || evrun_done(base)) {
			*rv = r;
			return (2);
		}
		if (hit)
			return (1);
		if (evrun_now_us() >= deadline) {
			st->misses++;
			return (0);
		}
	}
}

/* Run base, polling briefly before blocking while it is busy. */
int
evrun_loop(struct event_base *base, const struct evrun_opts *o)
{
	struct evrun_stats	 dummy, *st;
	unsigned int		 win = 0;
	uint64_t		 t0, c0, wall, cpu;
	int			 r;

	if (o == NULL || o->spin_us == 0)
		return (event_base_dispatch(base));
	st = o->stats != NULL ? o->stats : &dummy;
	for (;;) {
		if (win > 0) {
			switch (evrun_spin(base, win, st, &r)) {
			case 2:
				return (r);
			case 1:
				continue;
			}
		}
		t0 = evrun_now_us();
		c0 = evrun_clock_us(CLOCK_THREAD_CPUTIME_ID);
		r = event_base_loop(base, EVLOOP_ONCE);
		st->blocks++;
		if (r != 0 || evrun_done(base))
			return (r);
		wall = evrun_now_us() - t0;
		cpu = evrun_clock_us(CLOCK_THREAD_CPUTIME_ID) - c0;
		/* Polling for the window would have caught this wakeup. */
		if (wall <= cpu + o->spin_us) {
			win = win == 0 ? EVRUN_START_US : win * 2;
			if (win > o->spin_us)
				win = o->spin_us;
		} else
			win = 0;
	}
}
