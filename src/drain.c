/*
 * drain.c: a graceful stop bounded by --shutdown-grace (see drain.h).
 */
#include <sys/time.h>

#include <stdint.h>
#include <stdlib.h>

#include <event2/event.h>

#include "drain.h"
#include "log.h"
#include "monotime.h"
#include "proxier.h"
#include "xmalloc.h"

/* How often the connections left are counted. */
#define DRAIN_TICK_MS	100

struct drain {
	struct event_base	*base;
	struct proxier		*proxier;
	uint64_t		 grace_ms;
	uint64_t		 start_ms;
	uint64_t		 deadline_ms;
	struct event		*tick;
	void			(*done)(void *);
	void			*arg;
	int			 active;
	int			 over;		/* done() called */
};

/* End the drain: done() once. */
static void
drain_over(struct drain *d)
{
	if (d->over)
		return;
	d->over = 1;
	evtimer_del(d->tick);
	d->done(d->arg);
}

/* Count what is left; end when nothing is, or at the deadline. */
static void
drain_tick(evutil_socket_t fd, short ev, void *arg)
{
	struct drain	*d = arg;
	struct timeval	 tv = { 0, DRAIN_TICK_MS * 1000 };
	uint64_t	 now = monotime_ms(), n;

	n = proxier_active(d->proxier);
	if (n == 0) {
		log_info("drained: no connection left after %llu ms",
		    (unsigned long long)(now - d->start_ms));
		drain_over(d);
		return;
	}
	if (now >= d->deadline_ms) {
		log_warnx("shutdown grace of %llu ms over: closing %llu "
		    "connections and flows still open",
		    (unsigned long long)d->grace_ms, (unsigned long long)n);
		drain_over(d);
		return;
	}
	evtimer_add(d->tick, &tv);
}

/* Create a drain. */
struct drain *
drain_new(struct event_base *base, struct proxier *proxier,
    uint64_t grace_ms, void (*done)(void *), void *arg)
{
	struct drain	*d;

	d = xcalloc(1, sizeof(*d));
	d->base = base;
	d->proxier = proxier;
	d->grace_ms = grace_ms;
	d->done = done;
	d->arg = arg;
	if ((d->tick = evtimer_new(base, drain_tick, d)) == NULL)
		fatalx("drain: evtimer_new failed");
	return (d);
}

/* Free the drain. */
void
drain_free(struct drain *d)
{
	if (d == NULL)
		return;
	event_free(d->tick);
	free(d);
}

/* Start draining. */
int
drain_start(struct drain *d, const char *why)
{
	if (d->active)
		return (1);
	d->active = 1;
	d->start_ms = monotime_ms();
	d->deadline_ms = d->start_ms + d->grace_ms;
	proxier_set_draining(d->proxier);
	log_info("%s: draining %llu connections and flows for at most "
	    "%llu ms", why, (unsigned long long)proxier_active(d->proxier),
	    (unsigned long long)d->grace_ms);
	drain_tick(-1, 0, d);
	return (0);
}

/* Return 1 while draining. */
int
drain_active(const struct drain *d)
{
	return (d->active);
}
