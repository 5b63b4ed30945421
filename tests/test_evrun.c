/*
 * test_evrun.c: evrun_loop() runs every callback as event_base_dispatch()
 * does, polls while a loop is busy and does not spin while it is idle.
 */
#include <sys/socket.h>

#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "evrun.h"
#include "log.h"
#include "tu.h"

#define PINGS	2000

struct pingpong {
	struct event_base	*base;
	struct event		*ev[2];
	struct event		*timer;
	int			 sv[2];
	int			 count;		/* round trips done */
	int			 idle_ms;	/* then wait this long; 0: break */
	uint64_t		 cpu_busy_end;	/* thread CPU us after pings */
	uint64_t		 cpu_idle_end;	/* thread CPU us at the timer */
};

/* Return this thread's CPU time in microseconds. */
static uint64_t
cpu_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

/* The idle wait is over: end the loop with loopexit. */
static void
timer_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct pingpong	*pp = arg;

	pp->cpu_idle_end = cpu_us();
	event_base_loopexit(pp->base, NULL);
}

/* One end got a byte: answer it, or finish after PINGS round trips. */
static void
ping_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct pingpong	*pp = arg;
	struct timeval	 tv;
	char		 c;

	if (read(fd, &c, 1) != 1)
		return;
	if (fd == pp->sv[0] && ++pp->count == PINGS) {
		pp->cpu_busy_end = cpu_us();
		if (pp->idle_ms == 0) {
			event_base_loopbreak(pp->base);
			return;
		}
		tv.tv_sec = 0;
		tv.tv_usec = pp->idle_ms * 1000;
		evtimer_add(pp->timer, &tv);
		return;
	}
	CU_ASSERT_EQUAL(write(fd, &c, 1), 1);
}

/* Set up a ping-pong over a socketpair in a new base. */
static void
pingpong_init(struct pingpong *pp, int idle_ms)
{
	int	i;

	memset(pp, 0, sizeof(*pp));
	pp->idle_ms = idle_ms;
	pp->base = event_base_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(pp->base);
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, pp->sv), 0);
	for (i = 0; i < 2; i++) {
		pp->ev[i] = event_new(pp->base, pp->sv[i], EV_READ | EV_PERSIST,
		    ping_cb, pp);
		CU_ASSERT_PTR_NOT_NULL_FATAL(pp->ev[i]);
		CU_ASSERT_EQUAL(event_add(pp->ev[i], NULL), 0);
	}
	pp->timer = evtimer_new(pp->base, timer_cb, pp);
	CU_ASSERT_EQUAL_FATAL(write(pp->sv[0], "x", 1), 1);
}

/* Free what pingpong_init made. */
static void
pingpong_free(struct pingpong *pp)
{
	int	i;

	for (i = 0; i < 2; i++) {
		event_free(pp->ev[i]);
		close(pp->sv[i]);
	}
	event_free(pp->timer);
	event_base_free(pp->base);
}

/* No event at all: 1 at once, as event_base_dispatch() returns. */
static void
test_evrun_empty(void)
{
	struct event_base	*base;
	struct evrun_opts	 o = { 50, NULL };

	base = event_base_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	CU_ASSERT_EQUAL(evrun_loop(base, NULL), 1);
	CU_ASSERT_EQUAL(evrun_loop(base, &o), 1);
	o.spin_us = 0;
	CU_ASSERT_EQUAL(evrun_loop(base, &o), 1);
	event_base_free(base);
}

/* Without a window: every round trip, no poll, ended by loopbreak. */
static void
test_evrun_no_spin(void)
{
	struct pingpong		pp;
	struct evrun_stats	st;
	struct evrun_opts	o = { 0, &st };

	memset(&st, 0, sizeof(st));
	pingpong_init(&pp, 0);
	CU_ASSERT_EQUAL(evrun_loop(pp.base, &o), 0);
	CU_ASSERT_EQUAL(pp.count, PINGS);
	CU_ASSERT_EQUAL(st.polls, 0);
	pingpong_free(&pp);
}

/*
 * Busy: each callback makes the other end readable at once, so after
 * the first wakeup the loop polls and the polls find the work (an
 * EVLOOP_NONBLOCK call goes on while its polls find work); most round
 * trips need no blocking call.
 */
static void
test_evrun_busy(void)
{
	struct pingpong		pp;
	struct evrun_stats	st;
	struct evrun_opts	o = { 50, &st };

	memset(&st, 0, sizeof(st));
	pingpong_init(&pp, 0);
	CU_ASSERT_EQUAL(evrun_loop(pp.base, &o), 0);
	CU_ASSERT_EQUAL(pp.count, PINGS);
	CU_ASSERT(st.hits >= 1);
	CU_ASSERT(st.blocks < PINGS / 2);
	CU_ASSERT(st.hits <= st.polls);
	pingpong_free(&pp);
}

/*
 * Idle after busy: the window was at its largest, yet a 300 ms wait
 * for a timer costs at most one window of polling, far below 30 ms of
 * CPU (a wide margin for a loaded machine), and loopexit ends it.
 */
static void
test_evrun_idle(void)
{
	struct pingpong		pp;
	struct evrun_stats	st;
	struct evrun_opts	o = { 50, &st };

	memset(&st, 0, sizeof(st));
	pingpong_init(&pp, 300);
	CU_ASSERT_EQUAL(evrun_loop(pp.base, &o), 0);
	CU_ASSERT_EQUAL(pp.count, PINGS);
	CU_ASSERT(pp.cpu_idle_end >= pp.cpu_busy_end);
	CU_ASSERT(pp.cpu_idle_end - pp.cpu_busy_end < 30000);
	CU_ASSERT(st.misses >= 1);
	pingpong_free(&pp);
}

static const struct tu_case cases[] = {
	{ "no event left", test_evrun_empty },
	{ "no window: dispatch", test_evrun_no_spin },
	{ "busy: polls find the work", test_evrun_busy },
	{ "idle: no spinning", test_evrun_idle },
	{ NULL, NULL }
};

/* Run the suite with warnings on stderr. */
int
main(void)
{
	log_init(0);
	return (tu_run("evrun", cases));
}
