/*
 * workers.c: relay loops, one per worker thread (workers.h).
 *
 * The queue of a worker is a TAILQ under a mutex.  The main loop
 * appends and writes the eventfd only when the queue was empty; the
 * worker takes the whole queue in one swap and runs it with the mutex
 * released, so a message that takes long never blocks the sender.
 */
#include <sys/eventfd.h>
#include <sys/queue.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "evrun.h"
#include "log.h"
#include "loop.h"
#include "workers.h"
#include "xmalloc.h"

/* One message: a function to run on the worker's loop. */
struct worker_msg {
	TAILQ_ENTRY(worker_msg)	 entry;
	void			(*fn)(struct loop *, void *);
	void			*arg;
};
TAILQ_HEAD(worker_msgs, worker_msg);

struct worker {
	unsigned int		 id;
	struct event_base	*base;
	struct loop		*loop;
	pthread_t		 thread;
	struct evrun_opts	 run;		/* busy-poll window */
	int			 started;	/* thread running */
	int			 efd;		/* eventfd: queue not empty */
	struct event		*ev;
	pthread_mutex_t		 mtx;		/* guards queue */
	struct worker_msgs	 queue;
};

struct workers {
	unsigned int		 n;
	int			 threaded;
	struct loop		*main;		/* n == 1: the only worker */
	struct worker		*w;		/* n > 1 */
};

/* Return the CPUs of the affinity mask. */
unsigned int
workers_default(void)
{
	cpu_set_t	set;
	int		n;

	CPU_ZERO(&set);
	/* Refused (a seccomp filter): the CPUs online instead. */
	if (sched_getaffinity(0, sizeof(set), &set) == -1)
		n = (int)sysconf(_SC_NPROCESSORS_ONLN);
	else
		n = CPU_COUNT(&set);
	if (n < 1)
		return (1);
	return (n > WORKERS_MAX ? WORKERS_MAX : (unsigned int)n);
}

/* Run the messages queued for w, in order. */
static void
worker_wake_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct worker		*w = arg;
	struct worker_msgs	 todo;
	struct worker_msg	*m;
	uint64_t		 v;

	/* Reset the eventfd before taking the queue: no wakeup is lost. */
	if (read(w->efd, &v, sizeof(v)) == -1 && errno != EAGAIN)
		log_warn("worker %u: eventfd", w->id);
	TAILQ_INIT(&todo);
	pthread_mutex_lock(&w->mtx);
	TAILQ_CONCAT(&todo, &w->queue, entry);
	pthread_mutex_unlock(&w->mtx);
	while ((m = TAILQ_FIRST(&todo)) != NULL) {
		TAILQ_REMOVE(&todo, m, entry);
		m->fn(w->loop, m->arg);
		free(m);
	}
}

/* Queue a message for w and wake it if its queue was empty. */
static void
worker_send(struct worker *w, void (*fn)(struct loop *, void *), void *arg)
{
	struct worker_msg	*m;
	uint64_t		 one = 1;
	int			 wake;

	m = xcalloc(1, sizeof(*m));
	m->fn = fn;
	m->arg = arg;
	pthread_mutex_lock(&w->mtx);
	wake = TAILQ_EMPTY(&w->queue);
	TAILQ_INSERT_TAIL(&w->queue, m, entry);
	pthread_mutex_unlock(&w->mtx);
	/* EAGAIN: the counter is full, so the worker will wake anyway. */
	if (wake && write(w->efd, &one, sizeof(one)) == -1 && errno != EAGAIN)
		fatal("worker %u: eventfd", w->id);
}

/* The last message of a worker: leave its loop. */
static void
worker_stop(struct loop *l, void *arg)
{
	event_base_loopbreak(l->base);
}

/* The body of a worker thread. */
static void *
worker_main(void *arg)
{
	struct worker	*w = arg;

	if (evrun_loop(w->base, &w->run) == -1)
		log_warnx("worker %u: event loop failed", w->id);
	return (NULL);
}

/* Free what worker_init made; the thread must be joined. */
static void
worker_fini(struct worker *w)
{
	struct worker_msg	*m;

	while ((m = TAILQ_FIRST(&w->queue)) != NULL) {
		TAILQ_REMOVE(&w->queue, m, entry);
		free(m);
	}
	if (w->ev != NULL)
		event_free(w->ev);
	if (w->loop != NULL)
		loop_free(w->loop);
	if (w->base != NULL)
		event_base_free(w->base);
	if (w->efd != -1)
		close(w->efd);
	pthread_mutex_destroy(&w->mtx);
}

/* Make worker i's loop and eventfd (not its thread). */
static int
worker_init(struct worker *w, unsigned int i, char *err, size_t errlen)
{
	w->id = i;
	w->efd = -1;
	TAILQ_INIT(&w->queue);
	if (pthread_mutex_init(&w->mtx, NULL) != 0) {
		snprintf(err, errlen, "worker %u: cannot make a mutex", i);
		return (-1);
	}
	if ((w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		snprintf(err, errlen, "worker %u: eventfd: %s", i,
		    strerror(errno));
		return (-1);
	}
	if ((w->base = event_base_new()) == NULL) {
		snprintf(err, errlen, "worker %u: cannot make an event base",
		    i);
		return (-1);
	}
	w->loop = loop_new(w->base);
	w->ev = event_new(w->base, w->efd, EV_READ | EV_PERSIST,
	    worker_wake_cb, w);
	if (w->ev == NULL || event_add(w->ev, NULL) == -1) {
		snprintf(err, errlen, "worker %u: cannot watch its eventfd",
		    i);
		return (-1);
	}
	return (0);
}

/* Start n workers. */
struct workers *
workers_new(struct loop *main, unsigned int n, unsigned int spin_us,
    char *err, size_t errlen)
{
	struct workers	*ws;
	sigset_t	 all, old;
	char		 name[16];
	unsigned int	 i;
	int		 rv;

	if (n < 1 || n > WORKERS_MAX) {
		snprintf(err, errlen, "workers: %u is not in [1, %d]", n,
		    WORKERS_MAX);
		return (NULL);
	}
	ws = xcalloc(1, sizeof(*ws));
	ws->n = n;
	ws->main = main;
	if (n == 1)
		return (ws);
	ws->threaded = 1;
	ws->w = xcalloc(n, sizeof(*ws->w));
	for (i = 0; i < n; i++) {
		ws->w[i].efd = -1;
		ws->w[i].run.spin_us = spin_us;
	}
	for (i = 0; i < n; i++)
		if (worker_init(&ws->w[i], i, err, errlen) == -1)
			goto fail;
	/* The threads inherit a mask blocking every signal. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < n; i++) {
		rv = pthread_create(&ws->w[i].thread, NULL, worker_main,
		    &ws->w[i]);
		if (rv != 0) {
			snprintf(err, errlen, "worker %u: cannot start a "
			    "thread: %s", i, strerror(rv));
			break;
		}
		ws->w[i].started = 1;
		/* For top -H and ps -L; a failure only loses the name. */
		snprintf(name, sizeof(name), "kuproxy-w%u", i);
		(void)pthread_setname_np(ws->w[i].thread, name);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (i < n)
		goto fail;
	return (ws);

fail:
	workers_free(ws);
	return (NULL);
}

/* Stop and join every worker, then free. */
void
workers_free(struct workers *ws)
{
	unsigned int	i;

	if (ws == NULL)
		return;
	for (i = 0; ws->threaded && i < ws->n; i++)
		if (ws->w[i].started)
			worker_send(&ws->w[i], worker_stop, NULL);
	for (i = 0; ws->threaded && i < ws->n; i++) {
		if (ws->w[i].started)
			pthread_join(ws->w[i].thread, NULL);
		worker_fini(&ws->w[i]);
	}
	free(ws->w);
	free(ws);
}

/* Return the number of workers. */
unsigned int
workers_count(const struct workers *ws)
{
	return (ws->n);
}

/* Return 1 if the workers are threads. */
int
workers_threaded(const struct workers *ws)
{
	return (ws->threaded);
}

/* Run fn on worker i's loop. */
void
workers_call(struct workers *ws, unsigned int i,
    void (*fn)(struct loop *, void *), void *arg)
{
	if (!ws->threaded) {
		fn(ws->main, arg);
		return;
	}
	worker_send(&ws->w[i % ws->n], fn, arg);
}

/* Add up the loop-wide counters. */
void
workers_sum(const struct workers *ws, uint64_t *conns, uint64_t *fd_pauses)
{
	unsigned int	i;

	*conns = *fd_pauses = 0;
	if (!ws->threaded) {
		*conns = CTR_GET(&ws->main->conns);
		*fd_pauses = CTR_GET(&ws->main->fd_pauses);
		return;
	}
	for (i = 0; i < ws->n; i++) {
		*conns += CTR_GET(&ws->w[i].loop->conns);
		*fd_pauses += CTR_GET(&ws->w[i].loop->fd_pauses);
	}
}
