/*
 * workers.h: the loops that relay.
 *
 * With one worker the relays run on the main loop, as they always did:
 * no thread, and a call runs at once.  With N > 1 each worker is a
 * thread with its own event_base and struct loop (pipes, scratch
 * buffers, fd-pause state and counters of its own), and the main loop
 * talks to it only by message: a queue under a mutex, taken once per
 * message and never on the data path, and an eventfd that wakes the
 * worker when its queue goes from empty to not empty.  Messages to one
 * worker run in the order they were sent.
 *
 *	main loop (reconciler) --workers_call--> [queue|eventfd] --> worker i
 *	worker i --CTR_ADD--> its counters <--CTR_GET-- main loop (reports)
 *
 * Worker lifecycle: started by workers_new, running its loop until
 * workers_free queues the stop message behind everything sent before,
 * then joined.  Workers block every signal: signals reach the main loop.
 */
#ifndef WORKERS_H
#define WORKERS_H

#include <stddef.h>
#include <stdint.h>

struct loop;
struct workers;

/* The most workers kuproxy starts. */
#define WORKERS_MAX	256

/*
 * Return the number of CPUs this process may run on (its affinity
 * mask), at least 1: the default of --workers.
 */
unsigned int	 workers_default(void);
/*
 * Start n workers (1 <= n <= WORKERS_MAX), each running its loop with
 * evrun_loop() and a busy-poll window of at most spin_us (evrun.h; 0:
 * none).  With n == 1 the only worker is main (borrowed), the main
 * loop itself.  Returns NULL with a reason in err if a thread, loop or
 * eventfd cannot be made (nothing is left running).
 */
struct workers	*workers_new(struct loop *main, unsigned int n,
		    unsigned int spin_us, char *err, size_t errlen);
/*
 * Stop every worker after the messages already queued, join the
 * threads and free their loops.  Whatever a worker still holds must
 * have been closed by those messages.  NULL is ignored.
 */
void		 workers_free(struct workers *);
/* Return the number of workers. */
unsigned int	 workers_count(const struct workers *);
/* Return 1 if the workers are threads (n > 1), 0 if on the main loop. */
int		 workers_threaded(const struct workers *);
/*
 * Run fn(l, arg) on worker i's loop l: at once when not threaded, else
 * queued to that worker's thread.  arg belongs to fn from now on.
 * Allocation failure is fatal (the reconciler cannot go on without its
 * relays).
 */
void		 workers_call(struct workers *, unsigned int i,
		    void (*fn)(struct loop *l, void *arg), void *arg);
/*
 * Add the loop-wide counters of every worker: relayed connections now
 * and fd-pause episodes.  Reads with relaxed atomic loads: no lock.
 */
void		 workers_sum(const struct workers *, uint64_t *conns,
		    uint64_t *fd_pauses);

#endif /* WORKERS_H */
