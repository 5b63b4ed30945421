/*
 * test_handoff.c: the hand-off protocol between two processes: 100
 * listening sockets (two batches and a bit) received with their names by
 * a forked child, DONE heard with the child's pid, a child that goes
 * away without DONE leaving the server serving, a client that never
 * speaks not stalling the server's loop, a stale socket file removed,
 * and no predecessor at all.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "handoff.h"
#include "log.h"
#include "sockpool.h"
#include "tu.h"

#define NSOCKS	100

static int	socks[NSOCKS];
static pid_t	successor;
static int	nsuccessors;

/* Hand over every test socket as "tcp/<i>/default/s". */
static void
listeners(void *arg, void (*add)(void *, const char *, int), void *ctx)
{
	char	name[64];
	int	i;

	for (i = 0; i < NSOCKS; i++) {
		snprintf(name, sizeof(name), "tcp/%d/default/s", i + 1);
		add(ctx, name, socks[i]);
	}
}

/* A successor said DONE: stop the loop. */
static void
on_successor(void *arg, pid_t pid)
{
	successor = pid;
	nsuccessors++;
	event_base_loopbreak(arg);
}

/*
 * The child: receive everything, check each socket is the listener of
 * its name (its port), then say DONE if done.  Exit status: 0 if all is
 * well.
 */
static int
child(const char *dir, int done)
{
	struct sockpool	*sp = sockpool_new();
	char		 name[64], err[HANDOFF_ERRLEN];
	int		 conn, i, fd, n;

	n = handoff_receive(dir, sp, &conn, err, sizeof(err));
	if (n != NSOCKS || conn == -1)
		return (1);
	for (i = 0; i < NSOCKS; i++) {
		snprintf(name, sizeof(name), "tcp/%d/default/s", i + 1);
		if ((fd = sockpool_take(sp, name)) == -1)
			return (2);
		close(fd);
	}
	if (done)
		handoff_done(conn);
	else
		close(conn);
	sockpool_free(sp);
	return (0);
}

/*
 * Run the server's loop while a child takes over: until DONE (5 s at
 * most), or for a second when the child is not to say it.
 */
static int
run_child(struct event_base *base, const char *dir, int done)
{
	struct timeval	tv = { done ? 5 : 1, 0 };
	pid_t		pid;
	int		st;

	successor = 0;
	nsuccessors = 0;
	if ((pid = fork()) == 0)
		_exit(child(dir, done));
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return (-1);
	CU_ASSERT_EQUAL(WEXITSTATUS(st), 0);
	return (pid);
}

/* Two handovers: one without DONE, then one with. */
static void
test_handoff_two_processes(void)
{
	struct event_base	*base;
	struct handoff		*h;
	struct handoff_ops	 ops;
	struct stat		 st;
	char			 dir[] = "/tmp/kuproxy-test-handoff.XXXXXX";
	char			 path[128], err[HANDOFF_ERRLEN];
	pid_t			 pid;
	int			 i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	for (i = 0; i < NSOCKS; i++)
		CU_ASSERT_FATAL((socks[i] = socket(AF_INET, SOCK_STREAM, 0))
		    != -1);
	base = event_base_new();
	memset(&ops, 0, sizeof(ops));
	ops.listeners = listeners;
	ops.successor = on_successor;
	ops.arg = base;
	h = handoff_new(base, dir, &ops, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	snprintf(path, sizeof(path), "%s/handoff.sock", dir);
	/* Not offered before handoff_publish. */
	CU_ASSERT_EQUAL(stat(path, &st), -1);
	CU_ASSERT_EQUAL(handoff_publish(h), 0);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);

	/* A child that goes away before DONE: the server goes on. */
	pid = run_child(base, dir, 0);
	CU_ASSERT(pid > 0);
	CU_ASSERT_EQUAL(nsuccessors, 0);
	/* One that says DONE: heard, with its pid. */
	pid = run_child(base, dir, 1);
	CU_ASSERT(pid > 0);
	CU_ASSERT_EQUAL(nsuccessors, 1);
	CU_ASSERT_EQUAL(successor, pid);

	handoff_free(h);
	/* Still ours at the end: removed. */
	CU_ASSERT_EQUAL(stat(path, &st), -1);
	event_base_free(base);
	for (i = 0; i < NSOCKS; i++)
		close(socks[i]);
	rmdir(dir);
}

/* A timer of the stall test: note the time it fired, leave the loop. */
static void
on_tick(evutil_socket_t fd, short ev, void *arg)
{
	struct timeval	*at = arg;

	gettimeofday(at, NULL);
}

/*
 * A client that connects and never says HELLO: the server's loop goes
 * on (a 100 ms timer fires on time) and a real successor still takes
 * over meanwhile.
 */
static void
test_handoff_silent_client(void)
{
	struct event_base	*base;
	struct handoff		*h;
	struct handoff_ops	 ops;
	struct sockaddr_un	 sun;
	struct event		*tick;
	struct timeval		 t0, at, tv = { 0, 100000 }, stop = { 0, 400000 };
	char			 dir[] = "/tmp/kuproxy-test-handoff.XXXXXX";
	char			 err[HANDOFF_ERRLEN];
	long			 ms;
	pid_t			 pid;
	int			 i, silent;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	for (i = 0; i < NSOCKS; i++)
		CU_ASSERT_FATAL((socks[i] = socket(AF_INET, SOCK_STREAM, 0))
		    != -1);
	base = event_base_new();
	memset(&ops, 0, sizeof(ops));
	ops.listeners = listeners;
	ops.successor = on_successor;
	ops.arg = base;
	h = handoff_new(base, dir, &ops, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(handoff_publish(h), 0);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/handoff.sock", dir);
	silent = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	CU_ASSERT_EQUAL_FATAL(connect(silent, (struct sockaddr *)&sun,
	    sizeof(sun)), 0);
	memset(&at, 0, sizeof(at));
	tick = evtimer_new(base, on_tick, &at);
	evtimer_add(tick, &tv);
	gettimeofday(&t0, NULL);
	event_base_loopexit(base, &stop);
	event_base_dispatch(base);
	CU_ASSERT_FATAL(at.tv_sec != 0);
	ms = (at.tv_sec - t0.tv_sec) * 1000 + (at.tv_usec - t0.tv_usec) / 1000;
	CU_ASSERT(ms < 300);
	/* The silent client still connected: a successor takes over. */
	pid = run_child(base, dir, 1);
	CU_ASSERT(pid > 0);
	CU_ASSERT_EQUAL(nsuccessors, 1);
	CU_ASSERT_EQUAL(successor, pid);

	close(silent);
	event_free(tick);
	handoff_free(h);
	event_base_free(base);
	for (i = 0; i < NSOCKS; i++)
		close(socks[i]);
	rmdir(dir);
}

/* No predecessor; a stale socket file (nobody listens) is removed. */
static void
test_handoff_no_predecessor(void)
{
	struct sockpool		*sp = sockpool_new();
	struct sockaddr_un	 sun;
	struct stat		 st;
	char			 dir[] = "/tmp/kuproxy-test-handoff.XXXXXX";
	char			 err[HANDOFF_ERRLEN];
	int			 conn, fd;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	err[0] = '\0';
	CU_ASSERT_EQUAL(handoff_receive(dir, sp, &conn, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(conn, -1);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/handoff.sock", dir);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	CU_ASSERT_EQUAL_FATAL(bind(fd, (struct sockaddr *)&sun, sizeof(sun)),
	    0);
	close(fd);
	CU_ASSERT_EQUAL(handoff_receive(dir, sp, &conn, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(conn, -1);
	CU_ASSERT_EQUAL(stat(sun.sun_path, &st), -1);
	CU_ASSERT_EQUAL(sockpool_count(sp), 0);
	sockpool_free(sp);
	rmdir(dir);
}

static const struct tu_case cases[] = {
	{ "two processes", test_handoff_two_processes },
	{ "a silent client does not stall the loop",
	    test_handoff_silent_client },
	{ "no predecessor, stale socket", test_handoff_no_predecessor },
	{ NULL, NULL }
};

/* Run the suite with warnings on stderr. */
int
main(void)
{
	log_init(0);
	return (tu_run("handoff", cases));
}
