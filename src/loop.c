/*
 * loop.c: per-loop state shared by the relays: the splice pipe pool and
 * the queue of listeners waiting for file descriptors.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "loop.h"
#include "monotime.h"
#include "xmalloc.h"

#define LOOP_MAXPIPES	256		/* pooled, clean pipes kept */
#define LOOP_PIPE_SIZE	(1024 * 1024)	/* F_SETPIPE_SZ wish */

static void	loop_fd_timer(evutil_socket_t, short, void *);

/* Create the state of a loop. */
struct loop *
loop_new(struct event_base *base)
{
	struct loop	*l;

	l = xcalloc(1, sizeof(*l));
	l->base = base;
	l->maxpipes = LOOP_MAXPIPES;
	l->pipes = xcalloc(l->maxpipes, sizeof(*l->pipes));
	TAILQ_INIT(&l->waiters);
	LIST_INIT(&l->tcp_dying);
	l->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	l->fd_timer = evtimer_new(base, loop_fd_timer, l);
	if (l->fd_timer == NULL)
		fatalx("loop_new: evtimer_new failed");
	return (l);
}

/* Free the loop state. */
void
loop_free(struct loop *l)
{
	void	*p;
	size_t	 i;

	if (l == NULL)
		return;
	for (i = 0; i < l->npipes; i++) {
		close(l->pipes[i][0]);
		close(l->pipes[i][1]);
	}
	free(l->pipes);
	while ((p = l->conn_pool) != NULL) {
		l->conn_pool = *(void **)p;
		free(p);
	}
	if (l->spare_fd != -1)
		close(l->spare_fd);
	event_free(l->fd_timer);
	free(l);
}

/* Return monotonic milliseconds (one day, the loop's cached time). */
uint64_t
loop_now_ms(struct loop *l)
{
	return (monotime_ms());
}

/* Take a splice pipe from the pool or make one. */
int
loop_pipe_get(struct loop *l, int pfd[2])
{
	if (l->npipes > 0) {
		l->npipes--;
		pfd[0] = l->pipes[l->npipes][0];
		pfd[1] = l->pipes[l->npipes][1];
		return (0);
	}
	if (pipe2(pfd, O_NONBLOCK | O_CLOEXEC) == -1)
		return (-1);
	/* A bigger pipe moves more per splice; failure is harmless. */
	(void)fcntl(pfd[0], F_SETPIPE_SZ, LOOP_PIPE_SIZE);
	return (0);
}

/* Give a splice pipe back. */
void
loop_pipe_put(struct loop *l, int pfd[2], int dirty)
{
	if (pfd[0] == -1)
		return;
	if (!dirty && l->npipes < l->maxpipes) {
		l->pipes[l->npipes][0] = pfd[0];
		l->pipes[l->npipes][1] = pfd[1];
		l->npipes++;
	} else {
		close(pfd[0]);
		close(pfd[1]);
	}
	pfd[0] = pfd[1] = -1;
}

/* Park a waiter until descriptors are released or a second passes. */
void
loop_fd_wait(struct loop *l, struct loop_waiter *w)
{
	struct timeval	tv = { 1, 0 };

	if (!l->fd_warned) {
		log_warnx("out of file descriptors (%llu relayed connections):"
		    " pausing accepts", (unsigned long long)l->conns);
		l->fd_warned = 1;
		CTR_ADD(&l->fd_pauses, 1);
	}
	if (!w->queued) {
		TAILQ_INSERT_TAIL(&l->waiters, w, entry);
		w->queued = 1;
	}
	if (!evtimer_pending(l->fd_timer, NULL))
		evtimer_add(l->fd_timer, &tv);
}

/* Refuse waiting clients with the spare descriptor (nginx's trick). */
int
loop_fd_shed(struct loop *l, int lfd, int max)
{
	struct linger	lin = { 1, 0 };
	int		fd, n = 0;

	while (n < max && l->spare_fd != -1) {
		close(l->spare_fd);
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd != -1) {
			(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lin,
			    sizeof(lin));
			close(fd);
			n++;
		}
		l->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd == -1)
			break;
	}
	return (n);
}

/* Remove a waiter. */
void
loop_fd_cancel(struct loop *l, struct loop_waiter *w)
{
	if (!w->queued)
		return;
	TAILQ_REMOVE(&l->waiters, w, entry);
	w->queued = 0;
	if (TAILQ_EMPTY(&l->waiters))
		evtimer_del(l->fd_timer);
}

/* Resume every waiter; each may park itself again. */
void
loop_fd_released(struct loop *l)
{
	struct loop_waiters	 run;
	struct loop_waiter	*w;

	/*
	 * Another worker thread may have taken the descriptor a shed freed
	 * for an instant: get the spare back once there is one.
	 */
	if (l->spare_fd == -1)
		l->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (TAILQ_EMPTY(&l->waiters))
		return;
	TAILQ_INIT(&run);
	TAILQ_CONCAT(&run, &l->waiters, entry);
	evtimer_del(l->fd_timer);
	while ((w = TAILQ_FIRST(&run)) != NULL) {
		TAILQ_REMOVE(&run, w, entry);
		w->queued = 0;
		w->resume(w->arg);
	}
	if (TAILQ_EMPTY(&l->waiters) && l->fd_warned) {
		log_info("file descriptors available again: accepts resumed");
		l->fd_warned = 0;
	}
}

/* Try the waiters again when the retry timer fires. */
static void
loop_fd_timer(evutil_socket_t fd, short ev, void *arg)
{
	loop_fd_released(arg);
}
