/*
 * drain.h: a graceful stop.  Once started, the proxier's health fails
 * (/healthz answers 503) and established TCP connections and UDP flows
 * go on relaying; the drain ends when none is left, or at the grace
 * deadline (--shutdown-grace), whichever comes first, and then calls
 * done (main leaves the loop; the teardown closes what is left).
 *
 *	running --(drain_start)--> draining --(no connection left, or
 *	                                       grace over)--> done()
 *
 * Whether the listeners keep accepting meanwhile is the caller's
 * choice (main.c): they do until a successor serves them.
 */
#ifndef DRAIN_H
#define DRAIN_H

#include <stdint.h>

struct drain;
struct event_base;
struct proxier;

/*
 * Create a drain for proxier (borrowed) on base (borrowed), grace_ms
 * long (0: done at once).  done(arg) is called once, from the loop,
 * when the drain is over.  Never NULL (start-up only).
 */
struct drain	*drain_new(struct event_base *, struct proxier *,
		    uint64_t grace_ms, void (*done)(void *), void *arg);
/* Free; a drain in progress is abandoned.  NULL is ignored. */
void		 drain_free(struct drain *);
/*
 * Start draining, logging why.  Returns 0 if started, 1 if a drain was
 * already running (nothing changes: the deadline stays).
 */
int		 drain_start(struct drain *, const char *why);
/* Return 1 while draining (or done), else 0. */
int		 drain_active(const struct drain *);

#endif /* DRAIN_H */
