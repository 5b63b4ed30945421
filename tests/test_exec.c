/*
 * test_exec.c: running commands through exec_run(), exec_start() and
 * exec_start_stream().
 *
 * Past 900 lines on purpose: one module's unit tests are one binary
 * (one concern: this module's behaviour), and the cases share fixtures
 * that a split would have to repeat or export.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "exec.h"
#include "tu.h"

#define SH	"/bin/sh"
/* Size of one append to a stream, as the proxier's producer makes them. */
#define STREAM_CHUNK	(150 * 1024)

/* Return the monotonic time in milliseconds. */
static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Return 1 once pid is gone or a zombie, polling for up to 3 s. */
static int
pid_gone(pid_t pid)
{
	char	path[64], buf[256], *p;
	int	i, fd;
	ssize_t	n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	for (i = 0; i < 300; i++) {
		if ((fd = open(path, O_RDONLY)) == -1)
			return (1);
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			return (1);
		buf[n] = '\0';
		if ((p = strrchr(buf, ')')) != NULL && p[1] == ' ' &&
		    (p[2] == 'Z' || p[2] == 'X'))
			return (1);
		usleep(10000);
	}
	return (0);
}

/* Arguments reach the command verbatim: no shell ever parses them. */
static void
test_exec_argv_verbatim(void)
{
	const char		*argv[] = { "/usr/bin/printf", "[%s]", "a b",
				    "$(id)", "`id`;x", "'q'\"", "", NULL };
	struct exec_result	 res;

	CU_ASSERT_EQUAL(exec_run(argv, NULL, 0, 5000, &res), 0);
	CU_ASSERT_STRING_EQUAL(res.out, "[a b][$(id)][`id`;x]['q'\"][]");
	CU_ASSERT_EQUAL(res.status, 0);
	CU_ASSERT_EQUAL(res.err[0], '\0');
	exec_result_free(&res);
}

/* Input arrives on stdin, followed by end of file. */
static void
test_exec_stdin_delivered(void)
{
	const char		*argv[] = { "/bin/cat", NULL };
	const char		*in = "*nat\n-A X -j Y\nCOMMIT\n";
	struct exec_result	 res;

	CU_ASSERT_EQUAL(exec_run(argv, in, strlen(in), 5000, &res), 0);
	CU_ASSERT_STRING_EQUAL(res.out, in);
	CU_ASSERT_EQUAL(res.outlen, strlen(in));
	exec_result_free(&res);
}

/* Without input, stdin is /dev/null: a reader sees end of file. */
static void
test_exec_stdin_devnull(void)
{
	const char		*argv[] = { "/bin/cat", NULL };
	struct exec_result	 res;

	CU_ASSERT_EQUAL(exec_run(argv, NULL, 0, 5000, &res), 0);
	CU_ASSERT_EQUAL(res.outlen, 0);
	CU_ASSERT_STRING_EQUAL(res.out, "");
	exec_result_free(&res);
}

/* stdout and stderr both land in the output. */
static void
test_exec_output_both_streams(void)
{
	const char		*argv[] = { SH, "-c",
				    "echo to-out; echo to-err >&2", NULL };
	struct exec_result	 res;

	CU_ASSERT_EQUAL(exec_run(argv, NULL, 0, 5000, &res), 0);
	CU_ASSERT_STRING_EQUAL(res.out, "to-out\nto-err\n");
	exec_result_free(&res);
}

/* A non-zero exit is -1 with the status; a signal is reported too. */
static void
test_exec_exit_status(void)
{
	const char		*argv[] = { SH, "-c", "echo bad; exit 3",
				    NULL };
	const char		*argv2[] = { SH, "-c", "kill -TERM $$", NULL };
	struct exec_result	 res;

	CU_ASSERT_EQUAL(exec_run(argv, NULL, 0, 5000, &res), -1);
	CU_ASSERT_EQUAL(res.status, 3);
	CU_ASSERT_EQUAL(res.signo, 0);
	CU_ASSERT_FALSE(res.timed_out);
	CU_ASSERT_STRING_EQUAL(res.out, "bad\n");
	CU_ASSERT_PTR_NOT_NULL(strstr(res.err, "exited with status 3"));
	exec_result_free(&res);

	CU_ASSERT_EQUAL(exec_run(argv2, NULL, 0, 5000, &res), -1);
	CU_ASSERT_EQUAL(res.status, -1);
	CU_ASSERT_EQUAL(res.signo, SIGTERM);
	CU_ASSERT_PTR_NOT_NULL(strstr(res.err, "killed by signal"));
	exec_result_free(&res);
}

/* A missing binary is reported with execv's errno, not a bare 127. */
static void
test_exec_missing_binary(void)
{
	const char		*argv[] = { "/nonexistent/kuproxy-nope", NULL };
	struct exec_result	 res;

	CU_ASSERT_EQUAL(exec_run(argv, "x", 1, 5000, &res), -1);
	CU_ASSERT_EQUAL(res.exec_errno, ENOENT);
	CU_ASSERT_EQUAL(res.status, 127);
	CU_ASSERT_PTR_NOT_NULL(strstr(res.err, "cannot execute"));
	CU_ASSERT_PTR_NOT_NULL(strstr(res.err, "kuproxy-nope"));
	exec_result_free(&res);
}

/* The timeout kills a sleeping child quickly and says so. */
static void
test_exec_timeout_kills(void)
{
	const char		*argv[] = { "/bin/sleep", "30", NULL };
	struct exec_result	 res;
	int64_t			 t0, dt;

	t0 = now_ms();
	CU_ASSERT_EQUAL(exec_run(argv, NULL, 0, 300, &res), -1);
	dt = now_ms() - t0;
	CU_ASSERT(dt >= 250 && dt < 3000);
	CU_ASSERT_TRUE(res.timed_out);
	CU_ASSERT_EQUAL(res.signo, SIGKILL);
	CU_ASSERT_PTR_NOT_NULL(strstr(res.err, "timed out after 0.3s"));
	exec_result_free(&res);
}

/* The timeout kills the whole process group, grandchildren included. */
static void
test_exec_timeout_kills_group(void)
{
	const char		*argv[] = { SH, "-c",
				    "sleep 30 & echo $!; wait", NULL };
	struct exec_result	 res;
	long			 bg;

	CU_ASSERT_EQUAL(exec_run(argv, NULL, 0, 500, &res), -1);
	CU_ASSERT_TRUE(res.timed_out);
	bg = strtol(res.out, NULL, 10);
	CU_ASSERT(bg > 1);
	if (bg > 1) {
		CU_ASSERT_TRUE(pid_gone((pid_t)bg));
		if (!pid_gone((pid_t)bg))
			kill((pid_t)bg, SIGKILL);
	}
	exec_result_free(&res);
}

/* A child that closes its output but lives on is still timed out. */
static void
test_exec_timeout_after_close(void)
{
	const char		*argv[] = { SH, "-c",
				    "exec >&- 2>&-; sleep 30", NULL };
	struct exec_result	 res;
	int64_t			 t0;

	t0 = now_ms();
	CU_ASSERT_EQUAL(exec_run(argv, NULL, 0, 300, &res), -1);
	CU_ASSERT(now_ms() - t0 < 3000);
	CU_ASSERT_TRUE(res.timed_out);
	exec_result_free(&res);
}

/* A background grandchild holding the pipe does not hold us up. */
static void
test_exec_background_holder(void)
{
	const char		*argv[] = { SH, "-c", "sleep 5 & echo $!",
				    NULL };
	struct exec_result	 res;
	int64_t			 t0;
	long			 bg;

	t0 = now_ms();
	CU_ASSERT_EQUAL(exec_run(argv, NULL, 0, 10000, &res), 0);
	CU_ASSERT(now_ms() - t0 < 2000);
	bg = strtol(res.out, NULL, 10);
	CU_ASSERT(bg > 1);
	if (bg > 1)
		kill((pid_t)bg, SIGKILL);
	exec_result_free(&res);
}

/* The child starts with SIG_DFL everywhere and an empty mask. */
static void
test_exec_signals_reset(void)
{
	/* Builtins only: a forked grep would see the shell's own mask. */
	const char		*argv[] = { SH, "-c",
				    "while read -r k v; do case $k in Sig*) "
				    "echo $k $v;; esac; "
				    "done </proc/self/status",
				    NULL };
	struct exec_result	 res;
	void			(*oldpipe)(int);
	sigset_t		 set, old;
	const char		*p;
	unsigned long long	 ign = ~0ULL, blk = ~0ULL;

	oldpipe = signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	CU_ASSERT_EQUAL(exec_run(argv, NULL, 0, 5000, &res), 0);
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGUSR2, SIG_DFL);
	signal(SIGPIPE, oldpipe);

	if ((p = strstr(res.out, "SigIgn: ")) != NULL)
		ign = strtoull(p + 8, NULL, 16);
	if ((p = strstr(res.out, "SigBlk: ")) != NULL)
		blk = strtoull(p + 8, NULL, 16);
	CU_ASSERT_EQUAL(ign & (1ULL << (SIGPIPE - 1)), 0);
	CU_ASSERT_EQUAL(ign & (1ULL << (SIGUSR2 - 1)), 0);
	CU_ASSERT_EQUAL(blk, 0);
	exec_result_free(&res);
}

/* No descriptor above 2 reaches the child, close-on-exec or not. */
static void
test_exec_fds_not_inherited(void)
{
	const char		*argv[] = { SH, "-c",
				    "i=3; while [ $i -lt 256 ]; do "
				    "[ -e /proc/$$/fd/$i ] && echo fd $i; "
				    "i=$((i+1)); done; echo end", NULL };
	struct exec_result	 res;
	int			 fd, p[2];

	fd = open("/dev/null", O_RDONLY);	/* deliberately inheritable */
	CU_ASSERT_FATAL(fd != -1);
	CU_ASSERT_FATAL(dup2(fd, 200) == 200);
	CU_ASSERT_FATAL(pipe(p) == 0);
	CU_ASSERT_EQUAL(exec_run(argv, "", 0, 5000, &res), 0);
	CU_ASSERT_STRING_EQUAL(res.out, "end\n");
	exec_result_free(&res);
	close(200);
	close(fd);
	close(p[0]);
	close(p[1]);
}

/* 8 MiB in, 8 MiB out: no deadlock, output bounded and marked. */
static void
test_exec_large_io(void)
{
	const char		*argv[] = { "/bin/cat", NULL };
	const size_t		 len = 8 * 1024 * 1024;
	struct exec_result	 res;
	char			*in;
	size_t			 i, mlen = strlen(EXEC_TRUNC_MARK);

	in = malloc(len);
	CU_ASSERT_FATAL(in != NULL);
	for (i = 0; i < len; i++)
		in[i] = 'a' + (i % 26);
	CU_ASSERT_EQUAL(exec_run(argv, in, len, 30000, &res), 0);
	CU_ASSERT_EQUAL(res.outtotal, len);
	CU_ASSERT_TRUE(res.truncated);
	CU_ASSERT_EQUAL(res.outlen, EXEC_OUTMAX + mlen);
	CU_ASSERT_EQUAL(memcmp(res.out, in, EXEC_OUTMAX), 0);
	CU_ASSERT_STRING_EQUAL(res.out + EXEC_OUTMAX, EXEC_TRUNC_MARK);
	exec_result_free(&res);
	free(in);
}

/* A child that ignores its input neither hangs us nor raises SIGPIPE. */
static void
test_exec_unread_input(void)
{
	const char		*argv[] = { SH, "-c", "exec 0<&-; echo ok",
				    NULL };
	const size_t		 len = 4 * 1024 * 1024;
	struct exec_result	 res;
	void			(*old)(int);
	char			*in;

	in = calloc(1, len);
	CU_ASSERT_FATAL(in != NULL);
	old = signal(SIGPIPE, SIG_DFL);		/* a SIGPIPE would kill us */
	CU_ASSERT_EQUAL(exec_run(argv, in, len, 10000, &res), 0);
	signal(SIGPIPE, old);
	CU_ASSERT_STRING_EQUAL(res.out, "ok\n");
	exec_result_free(&res);
	free(in);
}

/* exec_run_max() cuts the output at its own bound. */
static void
test_exec_output_bound(void)
{
	const char		*argv[] = { "/usr/bin/printf", "0123456789",
				    NULL };
	struct exec_result	 res;

	CU_ASSERT_EQUAL(exec_run_max(argv, NULL, 0, 5000, 4, &res), 0);
	CU_ASSERT_TRUE(res.truncated);
	CU_ASSERT_EQUAL(res.outtotal, 10);
	CU_ASSERT_STRING_EQUAL(res.out, "0123" EXEC_TRUNC_MARK);
	exec_result_free(&res);
	/* Freed results are reusable and free is idempotent. */
	exec_result_free(&res);
	CU_ASSERT_STRING_EQUAL(res.out, "");
}

/* What an asynchronous job reported. */
struct job_seen {
	int	 calls;
	int	 rv;
	int	 status;
	int	 timed_out;
	int	 exec_errno;
	size_t	 outtotal;
	char	 out[256];
	int64_t	 at;
};

/* Record the end of an asynchronous job. */
static void
job_done(int rv, struct exec_result *res, void *arg)
{
	struct job_seen	*s = arg;

	s->calls++;
	s->rv = rv;
	s->status = res->status;
	s->timed_out = res->timed_out;
	s->exec_errno = res->exec_errno;
	s->outtotal = res->outtotal;
	snprintf(s->out, sizeof(s->out), "%s", res->out);
	s->at = now_ms();
}

/* Count ticks of a periodic timer. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(*(int *)arg)++;
}

/* Run base until the job has reported or 10 s have passed. */
static void
run_until_done(struct event_base *base, struct job_seen *s)
{
	int64_t	t0 = now_ms();

	while (s->calls == 0 && now_ms() - t0 < 10000)
		event_base_loop(base, EVLOOP_ONCE);
}

/* The sorted "NAME=value" lines /usr/bin/env printed, joined by '|'. */
static void
env_lines(const char *out, char *buf, size_t len)
{
	char	*copy, *lines[64], *p, *save = NULL;
	int	 n = 0, i, j;

	buf[0] = '\0';
	CU_ASSERT_PTR_NOT_NULL_FATAL(copy = strdup(out));
	for (p = strtok_r(copy, "\n", &save); p != NULL && n < 64;
	    p = strtok_r(NULL, "\n", &save))
		lines[n++] = p;
	for (i = 1; i < n; i++)		/* insertion sort: a few lines */
		for (j = i; j > 0 && strcmp(lines[j - 1], lines[j]) > 0; j--) {
			p = lines[j];
			lines[j] = lines[j - 1];
			lines[j - 1] = p;
		}
	for (i = 0; i < n; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
		    i ? "|" : "", lines[i]);
	free(copy);
}

/*
 * A command's environment is the fixed one, whatever the daemon's:
 * PATH, XTABLES_LOCKFILE if the daemon had it, what exec_env_set()
 * added, nothing else (no token, no LD_*, no IFS), the same for
 * exec_run() and exec_start().  First in the table: the environment is
 * taken from the daemon's at the first command.
 */
static void
test_exec_env_cleared(void)
{
	const char		*argv[] = { "/usr/bin/env", NULL };
	struct event_base	*base;
	struct exec_result	 res;
	struct exec_job		*job;
	struct job_seen		 s;
	char			 got[1024], err[EXEC_ERRLEN], *path;

	CU_ASSERT_PTR_NOT_NULL_FATAL(path = strdup(getenv("PATH") ?
	    getenv("PATH") : "/usr/bin:/bin"));
	setenv("XTABLES_LOCKFILE", "/run/kuproxy-test.lock", 1);
	setenv("KUBE_TOKEN", "secret-token-kplp", 1);
	setenv("LD_LIBRARY_PATH", "/nonexistent/kuproxy", 1);
	setenv("IFS", "x", 1);
	setenv("PATH", "/nonexistent/kuproxy:/bin", 1);
	CU_ASSERT_EQUAL_FATAL(exec_run(argv, NULL, 0, 5000, &res), 0);
	env_lines(res.out, got, sizeof(got));
	CU_ASSERT_STRING_EQUAL(got, "PATH=" EXEC_PATH
	    "|XTABLES_LOCKFILE=/run/kuproxy-test.lock");
	exec_result_free(&res);

	/* Set after the first command: the daemon's change does not count. */
	setenv("XTABLES_LOCKFILE", "/tmp/other.lock", 1);
	CU_ASSERT_EQUAL(exec_env_set("FAKE_DIR", "/tmp/x y"), 0);
	CU_ASSERT_EQUAL(exec_env_set("FAKE_DIR", "/tmp/z"), 0);
	CU_ASSERT_EQUAL(exec_env_set("BAD=NAME", "1"), -1);
	CU_ASSERT_EQUAL(exec_env_set("", "1"), -1);
	base = event_base_new();
	memset(&s, 0, sizeof(s));
	job = exec_start(base, argv, NULL, 0, 5000, EXEC_OUTMAX, job_done,
	    &s, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(job);
	run_until_done(base, &s);
	CU_ASSERT_EQUAL(s.rv, 0);
	env_lines(s.out, got, sizeof(got));
	CU_ASSERT_STRING_EQUAL(got, "FAKE_DIR=/tmp/z|PATH=" EXEC_PATH
	    "|XTABLES_LOCKFILE=/run/kuproxy-test.lock");
	event_base_free(base);

	CU_ASSERT_EQUAL(exec_env_set("FAKE_DIR", NULL), 0);
	CU_ASSERT_EQUAL(exec_env_set("XTABLES_LOCKFILE", NULL), 0);
	CU_ASSERT_EQUAL(exec_run(argv, NULL, 0, 5000, &res), 0);
	CU_ASSERT_STRING_EQUAL(res.out, "PATH=" EXEC_PATH "\n");
	exec_result_free(&res);
	unsetenv("KUBE_TOKEN");
	unsetenv("LD_LIBRARY_PATH");
	unsetenv("IFS");
	unsetenv("XTABLES_LOCKFILE");
	setenv("PATH", path, 1);
	free(path);
}

/* An asynchronous job delivers input, output and status via the loop. */
static void
test_exec_async_basic(void)
{
	const char		*argv[] = { SH, "-c",
				    "cat; echo err >&2; exit 4", NULL };
	struct event_base	*base = event_base_new();
	struct job_seen		 s;
	struct exec_job		*job;
	char			 err[EXEC_ERRLEN];

	memset(&s, 0, sizeof(s));
	job = exec_start(base, argv, "in\n", 3, 5000, EXEC_OUTMAX, job_done,
	    &s, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(job);
	CU_ASSERT_EQUAL(s.calls, 0);		/* nothing before the loop */
	run_until_done(base, &s);
	CU_ASSERT_EQUAL(s.calls, 1);
	CU_ASSERT_EQUAL(s.rv, -1);
	CU_ASSERT_EQUAL(s.status, 4);
	CU_ASSERT_STRING_EQUAL(s.out, "in\nerr\n");
	/* The job freed its events: the loop has nothing left to run. */
	CU_ASSERT_EQUAL(event_base_dispatch(base), 1);
	event_base_free(base);
}

/* The loop keeps running while the job runs; the timeout kills it. */
static void
test_exec_async_timeout(void)
{
	const char		*argv[] = { "/bin/sleep", "30", NULL };
	struct event_base	*base = event_base_new();
	struct event		*tick;
	struct timeval		 tv = { 0, 20000 };
	struct job_seen		 s;
	char			 err[EXEC_ERRLEN];
	int64_t			 t0;
	int			 ticks = 0;

	memset(&s, 0, sizeof(s));
	tick = event_new(base, -1, EV_PERSIST, tick_cb, &ticks);
	event_add(tick, &tv);
	t0 = now_ms();
	CU_ASSERT_PTR_NOT_NULL_FATAL(exec_start(base, argv, NULL, 0, 300,
	    EXEC_OUTMAX, job_done, &s, err, sizeof(err)));
	run_until_done(base, &s);
	CU_ASSERT_EQUAL(s.calls, 1);
	CU_ASSERT_TRUE(s.timed_out);
	CU_ASSERT(s.at - t0 >= 250 && s.at - t0 < 3000);
	CU_ASSERT(ticks >= 5);		/* 20 ms ticks during 300 ms */
	event_free(tick);
	event_base_free(base);
}

/* Large input and output through the loop, and a missing binary. */
static void
test_exec_async_large_and_missing(void)
{
	const char		*argv[] = { "/bin/cat", NULL };
	const char		*nope[] = { "/nonexistent/kuproxy-nope", NULL };
	const size_t		 len = 8 * 1024 * 1024;
	struct event_base	*base = event_base_new();
	struct job_seen		 s;
	char			 err[EXEC_ERRLEN], *in;

	in = malloc(len);
	CU_ASSERT_FATAL(in != NULL);
	memset(in, 'x', len);
	memset(&s, 0, sizeof(s));
	CU_ASSERT_PTR_NOT_NULL_FATAL(exec_start(base, argv, in, len, 30000,
	    EXEC_OUTMAX, job_done, &s, err, sizeof(err)));
	free(in);			/* the job has its own copy */
	run_until_done(base, &s);
	CU_ASSERT_EQUAL(s.rv, 0);
	CU_ASSERT_EQUAL(s.outtotal, len);

	memset(&s, 0, sizeof(s));
	CU_ASSERT_PTR_NOT_NULL_FATAL(exec_start(base, nope, NULL, 0, 5000,
	    EXEC_OUTMAX, job_done, &s, err, sizeof(err)));
	run_until_done(base, &s);
	CU_ASSERT_EQUAL(s.rv, -1);
	CU_ASSERT_EQUAL(s.exec_errno, ENOENT);
	event_base_free(base);
}

/* Cancelling kills the child and never calls back. */
static void
test_exec_async_cancel(void)
{
	const char		*argv[] = { "/bin/sleep", "30", NULL };
	struct event_base	*base = event_base_new();
	struct exec_job		*job;
	struct job_seen		 s;
	char			 err[EXEC_ERRLEN];
	int64_t			 t0 = now_ms();
	int			 i;

	memset(&s, 0, sizeof(s));
	job = exec_start(base, argv, NULL, 0, 0, EXEC_OUTMAX, job_done, &s,
	    err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(job);
	for (i = 0; i < 20; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	exec_cancel(job);
	CU_ASSERT(now_ms() - t0 < 3000);
	CU_ASSERT_EQUAL(event_base_loop(base, EVLOOP_NONBLOCK), 1);
	CU_ASSERT_EQUAL(s.calls, 0);
	exec_cancel(NULL);
	event_base_free(base);
}

/* Run base for ms milliseconds, whatever it has to do. */
static void
run_for(struct event_base *base, int ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Return the CPU time (user and system) used so far, in ms. */
static int64_t
cpu_ms(void)
{
	struct rusage	ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000);
}

/* Fill len bytes with a pattern that is not one repeated byte. */
static char *
stream_data(size_t len)
{
	char	*p;
	size_t	 i;

	if ((p = malloc(len)) == NULL)
		return (NULL);
	for (i = 0; i < len; i++)
		p[i] = 'a' + (i * 7 + i / 4096) % 26;
	return (p);
}

/* A producer feeding a stream job from a timer, one chunk per tick. */
struct stream_feed {
	struct exec_job		*job;
	struct job_seen		*seen;
	struct event		*ev;
	const char		*data;
	size_t			 len;
	size_t			 off;
	int			 fails;
	int			 ticks;
};

/* Append the next chunk; close the input after the last one. */
static int
stream_feed_one(struct stream_feed *f)
{
	size_t	n = f->len - f->off;

	if (n > STREAM_CHUNK)
		n = STREAM_CHUNK;
	if (exec_job_write(f->job, f->data + f->off, n) == -1)
		f->fails++;
	f->off += n;
	if (f->off < f->len)
		return (0);
	exec_job_close_input(f->job);
	return (1);
}

/* Feed one chunk from the loop, until all is sent. */
static void
stream_feed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream_feed	*f = arg;

	f->ticks++;
	/* The job frees itself after its callback: never touch it then. */
	if (f->seen->calls != 0 || stream_feed_one(f))
		event_del(f->ev);
}

/* 4 MB streamed in 150 KB appends, before and from the loop, all arrive. */
static void
test_exec_stream_wc(void)
{
	const char		*argv[] = { "/usr/bin/wc", "-c", NULL };
	const size_t		 len = 4 * 1024 * 1024;
	struct event_base	*base = event_base_new();
	struct timeval		 tv = { 0, 2000 };
	struct stream_feed	 f;
	struct job_seen		 s;
	char			 err[EXEC_ERRLEN], *data;
	int			 i;

	data = stream_data(len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	memset(&s, 0, sizeof(s));
	memset(&f, 0, sizeof(f));
	f.seen = &s;
	f.data = data;
	f.len = len;
	f.job = exec_start_stream(base, argv, 30000, EXEC_OUTMAX, job_done,
	    &s, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(f.job);
	/* 750 KB before the loop ever runs. */
	for (i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(stream_feed_one(&f), 0);
	f.ev = event_new(base, -1, EV_PERSIST, stream_feed_cb, &f);
	event_add(f.ev, &tv);
	run_until_done(base, &s);
	CU_ASSERT_EQUAL(f.off, len);
	CU_ASSERT(f.ticks > 10);	/* most of it came from the loop */
	CU_ASSERT_EQUAL(f.fails, 0);
	CU_ASSERT_EQUAL(s.calls, 1);
	CU_ASSERT_EQUAL(s.rv, 0);
	CU_ASSERT_EQUAL(strtoull(s.out, NULL, 10), len);
	event_free(f.ev);
	CU_ASSERT_EQUAL(event_base_dispatch(base), 1);
	event_base_free(base);
	free(data);
}

/*
 * 16 MB arrive intact and in order while input is pending, the child
 * drains it and appends slide and grow the buffer: cmp checks every byte.
 */
static void
test_exec_stream_order(void)
{
	const size_t		 len = 16 * 1024 * 1024;
	struct event_base	*base = event_base_new();
	struct stream_feed	 f;
	struct job_seen		 s;
	char			 path[] = "/tmp/test_execXXXXXX";
	const char		*argv[] = { "/usr/bin/cmp", path, "-", NULL };
	char			 err[EXEC_ERRLEN], *data;
	int			 fd;

	data = stream_data(len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	fd = mkstemp(path);
	CU_ASSERT_FATAL(fd != -1);
	CU_ASSERT_FATAL(write(fd, data, len) == (ssize_t)len);
	close(fd);
	memset(&s, 0, sizeof(s));
	memset(&f, 0, sizeof(f));
	f.seen = &s;
	f.data = data;
	f.len = len;
	f.job = exec_start_stream(base, argv, 30000, EXEC_OUTMAX, job_done,
	    &s, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(f.job);
	/* A burst past the socket buffer, then a pace cmp drains between. */
	while (f.off < len / 2)
		(void)stream_feed_one(&f);
	while (!stream_feed_one(&f))
		usleep(1000);
	run_until_done(base, &s);
	CU_ASSERT_EQUAL(f.fails, 0);
	CU_ASSERT_EQUAL(s.rv, 0);
	CU_ASSERT_STRING_EQUAL(s.out, "");
	unlink(path);
	event_base_free(base);
	free(data);
}

/* A write reaches the child at once: the loop need not run to move it. */
static void
test_exec_stream_no_loop(void)
{
	const char		*argv[] = { "/usr/bin/head", "-c", "10",
				    NULL };
	struct event_base	*base = event_base_new();
	struct exec_job		*job;
	struct job_seen		 s;
	siginfo_t		 si;
	char			 err[EXEC_ERRLEN];
	int			 i;

	memset(&s, 0, sizeof(s));
	job = exec_start_stream(base, argv, 10000, EXEC_OUTMAX, job_done, &s,
	    err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(job);
	CU_ASSERT_EQUAL(exec_job_write(job, "0123456789", 10), 0);
	/* head exits once it has 10 bytes; wait for that, loop untouched. */
	memset(&si, 0, sizeof(si));
	for (i = 0; i < 300 && si.si_pid == 0; i++) {
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == -1)
			break;
		if (si.si_pid == 0)
			usleep(10000);
	}
	CU_ASSERT(si.si_pid > 0);
	/* Its stdin is gone with it. */
	CU_ASSERT_EQUAL(exec_job_write(job, "x", 1), -1);
	CU_ASSERT_EQUAL(s.calls, 0);
	run_until_done(base, &s);
	CU_ASSERT_EQUAL(s.calls, 1);
	CU_ASSERT_EQUAL(s.rv, 0);
	CU_ASSERT_STRING_EQUAL(s.out, "0123456789");
	event_base_free(base);
}

/* A child that exits with input pending: -1, no SIGPIPE, one callback. */
static void
test_exec_stream_child_exits(void)
{
	const char		*argv[] = { "/usr/bin/head", "-c", "1", NULL };
	const size_t		 len = 4 * 1024 * 1024;
	struct event_base	*base = event_base_new();
	struct exec_job		*job;
	struct job_seen		 s;
	void			(*old)(int);
	char			 err[EXEC_ERRLEN], *data;
	size_t			 off;
	int64_t			 t0;
	int			 rv = 0;

	data = stream_data(len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	memset(&s, 0, sizeof(s));
	old = signal(SIGPIPE, SIG_DFL);		/* a SIGPIPE would kill us */
	job = exec_start_stream(base, argv, 10000, EXEC_OUTMAX, job_done, &s,
	    err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(job);
	for (off = 0; off < len && rv == 0; off += STREAM_CHUNK)
		rv = exec_job_write(job, data + off, len - off < STREAM_CHUNK ?
		    len - off : STREAM_CHUNK);
	/* All of it may have fit in the socket: keep on until refused. */
	for (t0 = now_ms(); rv == 0 && now_ms() - t0 < 5000; usleep(10000))
		rv = exec_job_write(job, data, STREAM_CHUNK);
	CU_ASSERT_EQUAL(rv, -1);
	CU_ASSERT_EQUAL(exec_job_write(job, data, 1), -1);
	exec_job_close_input(job);		/* harmless now */
	CU_ASSERT_EQUAL(s.calls, 0);
	run_until_done(base, &s);
	signal(SIGPIPE, old);
	CU_ASSERT_EQUAL(s.calls, 1);
	CU_ASSERT_EQUAL(s.rv, 0);
	CU_ASSERT_EQUAL(s.status, 0);
	CU_ASSERT_EQUAL(s.outtotal, 1);
	CU_ASSERT_EQUAL(s.out[0], data[0]);
	CU_ASSERT_EQUAL(event_base_dispatch(base), 1);
	CU_ASSERT_EQUAL(s.calls, 1);
	event_base_free(base);
	free(data);
}

/* Closing ends the input: later writes fail, a second close is a no-op. */
static void
test_exec_stream_close_input(void)
{
	const char		*argv[] = { "/bin/cat", NULL };
	struct event_base	*base = event_base_new();
	struct exec_job		*job;
	struct job_seen		 s;
	char			 err[EXEC_ERRLEN];

	memset(&s, 0, sizeof(s));
	job = exec_start_stream(base, argv, 10000, EXEC_OUTMAX, job_done, &s,
	    err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(job);
	CU_ASSERT_EQUAL(exec_job_write(job, "abc", 3), 0);
	CU_ASSERT_EQUAL(exec_job_write(job, NULL, 0), 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	CU_ASSERT_EQUAL(exec_job_write(job, "def\n", 4), 0);
	exec_job_close_input(job);
	exec_job_close_input(job);
	CU_ASSERT_EQUAL(exec_job_write(job, "ghi", 3), -1);
	run_until_done(base, &s);
	CU_ASSERT_EQUAL(s.calls, 1);
	CU_ASSERT_EQUAL(s.rv, 0);
	CU_ASSERT_STRING_EQUAL(s.out, "abcdef\n");

	/* An exec_start() job has all its input already. */
	memset(&s, 0, sizeof(s));
	job = exec_start(base, argv, "x", 1, 10000, EXEC_OUTMAX, job_done, &s,
	    err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(job);
	CU_ASSERT_EQUAL(exec_job_write(job, "y", 1), -1);
	exec_job_close_input(job);
	run_until_done(base, &s);
	CU_ASSERT_EQUAL(s.rv, 0);
	CU_ASSERT_STRING_EQUAL(s.out, "x");
	event_base_free(base);
}

/* A stream never closed is killed by the timeout. */
static void
test_exec_stream_timeout(void)
{
	const char		*argv[] = { "/bin/cat", NULL };
	struct event_base	*base = event_base_new();
	struct exec_job		*job;
	struct job_seen		 s;
	char			 err[EXEC_ERRLEN];
	int64_t			 t0;

	memset(&s, 0, sizeof(s));
	t0 = now_ms();
	job = exec_start_stream(base, argv, 300, EXEC_OUTMAX, job_done, &s,
	    err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(job);
	CU_ASSERT_EQUAL(exec_job_write(job, "open\n", 5), 0);
	run_until_done(base, &s);
	CU_ASSERT_EQUAL(s.calls, 1);
	CU_ASSERT_EQUAL(s.rv, -1);
	CU_ASSERT_TRUE(s.timed_out);
	CU_ASSERT(s.at - t0 >= 250 && s.at - t0 < 3000);
	CU_ASSERT_STRING_EQUAL(s.out, "open\n");
	event_base_free(base);
}

/* An open stream with nothing pending leaves the loop idle. */
static void
test_exec_stream_idle(void)
{
	const char		*argv[] = { "/bin/cat", NULL };
	const size_t		 len = 6 * 1024 * 1024;
	struct event_base	*base = event_base_new();
	struct exec_job		*job;
	struct job_seen		 s;
	char			 err[EXEC_ERRLEN], *data;
	int64_t			 c0;

	data = stream_data(len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	memset(&s, 0, sizeof(s));
	job = exec_start_stream(base, argv, 10000, EXEC_OUTMAX, job_done, &s,
	    err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(job);
	/* Past the socket buffer, so the loop has to write the rest... */
	CU_ASSERT_EQUAL(exec_job_write(job, data, len), 0);
	run_for(base, 300);
	/* ...and then disarm its write event: a spinning loop burns all. */
	c0 = cpu_ms();
	run_for(base, 400);
	CU_ASSERT(cpu_ms() - c0 < 150);
	CU_ASSERT_EQUAL(s.calls, 0);
	exec_job_close_input(job);
	run_until_done(base, &s);
	CU_ASSERT_EQUAL(s.rv, 0);
	CU_ASSERT_EQUAL(s.outtotal, len);
	event_base_free(base);
	free(data);
}

/* Cancelling a stream with input pending frees it and never calls back. */
static void
test_exec_stream_cancel(void)
{
	const char		*argv[] = { "/bin/sleep", "30", NULL };
	const size_t		 len = 8 * 1024 * 1024;
	struct event_base	*base = event_base_new();
	struct exec_job		*job;
	struct job_seen		 s;
	char			 err[EXEC_ERRLEN], *data;
	size_t			 off;
	int			 fails = 0;

	data = stream_data(STREAM_CHUNK);
	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	memset(&s, 0, sizeof(s));
	job = exec_start_stream(base, argv, 0, EXEC_OUTMAX, job_done, &s,
	    err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(job);
	/* sleep reads nothing: past the socket buffer, input stays pending. */
	for (off = 0; off < len; off += STREAM_CHUNK)
		if (exec_job_write(job, data, STREAM_CHUNK) == -1)
			fails++;
	CU_ASSERT_EQUAL(fails, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	exec_cancel(job);
	CU_ASSERT_EQUAL(event_base_loop(base, EVLOOP_NONBLOCK), 1);
	CU_ASSERT_EQUAL(s.calls, 0);
	event_base_free(base);
	free(data);
}

static const struct tu_case cases[] = {
	{ "environment cleared", test_exec_env_cleared },
	{ "argv verbatim", test_exec_argv_verbatim },
	{ "stdin delivered", test_exec_stdin_delivered },
	{ "stdin /dev/null", test_exec_stdin_devnull },
	{ "stdout and stderr", test_exec_output_both_streams },
	{ "exit status", test_exec_exit_status },
	{ "missing binary", test_exec_missing_binary },
	{ "timeout kills", test_exec_timeout_kills },
	{ "timeout kills group", test_exec_timeout_kills_group },
	{ "timeout after close", test_exec_timeout_after_close },
	{ "background holder", test_exec_background_holder },
	{ "signals reset", test_exec_signals_reset },
	{ "fds not inherited", test_exec_fds_not_inherited },
	{ "large io", test_exec_large_io },
	{ "unread input", test_exec_unread_input },
	{ "output bound", test_exec_output_bound },
	{ "async basic", test_exec_async_basic },
	{ "async timeout", test_exec_async_timeout },
	{ "async large and missing", test_exec_async_large_and_missing },
	{ "async cancel", test_exec_async_cancel },
	{ "stream wc", test_exec_stream_wc },
	{ "stream order", test_exec_stream_order },
	{ "stream no loop", test_exec_stream_no_loop },
	{ "stream child exits", test_exec_stream_child_exits },
	{ "stream close input", test_exec_stream_close_input },
	{ "stream timeout", test_exec_stream_timeout },
	{ "stream idle", test_exec_stream_idle },
	{ "stream cancel", test_exec_stream_cancel },
	{ NULL, NULL }
};

TU_MAIN("exec", cases)
