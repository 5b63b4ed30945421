/*
 * exec.c: run external commands from an argv vector, after tmux's
 * job.c and keepalived's notify.c: signals blocked around vfork(), a
 * clean child, output into a bounded buffer, a timeout that kills the
 * process group.
 *
 * One concern, past 900 lines on purpose: the synchronous run
 * (exec_run, for start-up and --cleanup) and the asynchronous job
 * (exec_start*, for everything the event loop starts) are two drivers
 * of the same child: one spawn, one output reader, one input writer,
 * one exit report.  Split in two files, those would have to be shared
 * through a private header for no gain in clarity.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "exec.h"
#include "monotime.h"

/* Longest sleep between two checks for the child's exit, in ms. */
#define EXEC_TICK_MS	100
/* Exit check period of an asynchronous job without a pidfd, in ms. */
#define EXEC_JOB_TICK_MS	20
/* Bytes moved per read() or send(). */
#define EXEC_CHUNK	65536
/*
 * Send buffer asked for on a stream's stdin.  Linux doubles it for its
 * bookkeeping, so about 4 MB of input can wait in the kernel, most of a
 * 3-5 MB ruleset: the child does not starve while the daemon, busy
 * producing the rest, leaves the loop alone.
 */
#define EXEC_STREAM_SNDBUF	(2 * 1024 * 1024)
/* First allocation of a stream's pending input. */
#define EXEC_STREAM_MINBUF	65536

/* What the child's stdin is. */
enum exec_stdin {
	EXEC_STDIN_NULL = 0,	/* /dev/null */
	EXEC_STDIN_DATA,	/* a socketpair fed from a copy of the input */
	EXEC_STDIN_STREAM,	/* a socketpair, large buffer, fed later */
};

/* The parent's side of one run. */
struct exec_io {
	int			 in;	/* our end of stdin, -1 once done */
	int			 out;	/* read end of the output, -1 at EOF */
	const char		*input;
	size_t			 inlen;
	size_t			 inoff;
	size_t			 outmax;
	int			 poll_errno;	/* why poll() failed */
	struct exec_result	*res;
};

/* A command running in the background of an event loop. */
struct exec_job {
	struct exec_io		 io;
	struct exec_result	 res;
	char			*input;		/* our copy, or pending input */
	size_t			 incap;		/* allocated size of input */
	int			 in_eof;	/* no more input will come */
	char			*path;		/* argv[0], for messages */
	pid_t			 pid;		/* -1 once reaped */
	int			 errfd;
	int			 pidfd;		/* -1: exit polled by a timer */
	int			 timeout_ms;
	struct event		*ev_in;
	struct event		*ev_out;
	struct event		*ev_exit;
	struct event		*ev_timeout;
	void			(*cb)(int, struct exec_result *, void *);
	void			*arg;
};

static char	exec_empty[1];

/*
 * The children's whole environment: a fixed PATH, the variables of
 * exec_env_keep the daemon itself was given, and what exec_env_set()
 * added.  Nothing else of the daemon's environment (a token in a
 * variable, LD_PRELOAD, IFS...) reaches iptables or conntrack.  Built
 * in the parent, never in the vfork()ed child.
 */
static char	*exec_envv[EXEC_ENV_MAX + 1];
static int	 exec_env_ready;
/* Honoured by iptables 1.8: where its xtables lock is. */
static const char *const exec_env_keep[] = { "XTABLES_LOCKFILE", NULL };

/* Put a result in its initial state: nothing ran, no output. */
static void
exec_result_init(struct exec_result *res)
{
	memset(res, 0, sizeof(*res));
	res->status = -1;
	res->out = exec_empty;
}

/* Release the output of a result. */
void
exec_result_free(struct exec_result *res)
{
	if (res->outcap != 0)
		free(res->out);
	res->out = exec_empty;
	res->outlen = res->outcap = 0;
}

/* Return the index of name's entry in exec_envv, or of the free end. */
static int
exec_env_find(const char *name)
{
	size_t	len = strlen(name);
	int	i;

	for (i = 0; exec_envv[i] != NULL; i++)
		if (strncmp(exec_envv[i], name, len) == 0 &&
		    exec_envv[i][len] == '=')
			break;
	return (i);
}

/* Set, replace or (value NULL) remove one variable; 0 or -1. */
static int
exec_env_put(const char *name, const char *value)
{
	char	*e = NULL;
	int	 i = exec_env_find(name);

	if (value != NULL && asprintf(&e, "%s=%s", name, value) == -1)
		return (-1);
	if (exec_envv[i] != NULL) {
		free(exec_envv[i]);
		if (e == NULL) {	/* removed: close the gap */
			for (; exec_envv[i] != NULL; i++)
				exec_envv[i] = exec_envv[i + 1];
			return (0);
		}
	} else if (e != NULL && i == EXEC_ENV_MAX) {
		free(e);
		errno = ENOSPC;
		return (-1);
	}
	if (e != NULL)
		exec_envv[i] = e;
	return (0);
}

/* Build the children's environment the first time it is needed. */
static void
exec_env_init(void)
{
	const char	*v;
	int		 i;

	if (exec_env_ready)
		return;
	exec_env_ready = 1;
	(void)exec_env_put("PATH", EXEC_PATH);
	for (i = 0; exec_env_keep[i] != NULL; i++)
		if ((v = getenv(exec_env_keep[i])) != NULL)
			(void)exec_env_put(exec_env_keep[i], v);
}

/* Set or remove a variable of the children's environment. */
int
exec_env_set(const char *name, const char *value)
{
	if (name == NULL || *name == '\0' || strchr(name, '=') != NULL) {
		errno = EINVAL;
		return (-1);
	}
	exec_env_init();
	return (exec_env_put(name, value));
}

/* Return the children's environment. */
const char *const *
exec_env(void)
{
	exec_env_init();
	return ((const char *const *)exec_envv);
}

/* Move fd to a descriptor >= 4, close-on-exec; -1 on failure. */
static int
exec_child_high(int fd)
{
	return (fcntl(fd, F_DUPFD_CLOEXEC, 4));
}

/*
 * Close every descriptor from 4 up, with close_range() if we can.  Not
 * from 3: that is the error pipe, close-on-exec, so the command never
 * sees it either.
 */
static void
exec_child_closefrom(void)
{
	long	max, fd;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, 4U, ~0U, 0U) == 0)
		return;
#endif
	if ((max = sysconf(_SC_OPEN_MAX)) == -1 || max > 1048576)
		max = 1048576;
	for (fd = 4; fd < max; fd++)
		(void)close((int)fd);
}

/*
 * Become the command, in the child after vfork(): only async-signal-safe
 * calls from here on.  errfd is close-on-exec; a failed execve writes its
 * errno there for the parent.  envp is the whole environment.
 */
static void __attribute__((__noreturn__))
exec_child(const char *const argv[], char *const envp[], int in, int out,
    int errfd)
{
	struct sigaction	sa;
	sigset_t		none;
	int			sig, e;

	/* Ignored signals stay ignored across execv: reset every one. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL);
	/* The parent's mask is not the command's business: start empty. */
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);

	/* First lift all three above 3, so no dup2() clobbers another. */
	if ((in = exec_child_high(in)) == -1 ||
	    (out = exec_child_high(out)) == -1 ||
	    (errfd = exec_child_high(errfd)) == -1)
		_exit(127);
	if (dup3(errfd, 3, O_CLOEXEC) == -1 ||
	    dup2(in, STDIN_FILENO) == -1 ||
	    dup2(out, STDOUT_FILENO) == -1 ||
	    dup2(out, STDERR_FILENO) == -1)
		_exit(127);
	exec_child_closefrom();
	(void)setpgid(0, 0);

	/* No shell, no PATH search: argv[0] is a path. */
	execve(argv[0], (char *const *)argv, envp);
	e = errno;
	(void)write(3, &e, sizeof(e));
	_exit(127);
}

/* Make room for want more output bytes; 0, or -1 if out of memory. */
static int
exec_out_reserve(struct exec_result *res, size_t want)
{
	size_t	 ncap;
	char	*p;

	if (res->outlen + want + 1 <= res->outcap)
		return (0);
	ncap = res->outcap == 0 ? 4096 : res->outcap;
	while (ncap < res->outlen + want + 1)
		ncap *= 2;
	if (res->outcap == 0) {
		if ((p = malloc(ncap)) == NULL)
			return (-1);
	} else if ((p = realloc(res->out, ncap)) == NULL)
		return (-1);
	res->out = p;
	res->outcap = ncap;
	return (0);
}

/* Read what the command wrote; return 1 at end of file, else 0. */
static int
exec_io_read(struct exec_io *io)
{
	struct exec_result	*res = io->res;
	char			 sink[4096], *dst;
	size_t			 room;
	ssize_t			 n;
	int			 i;

	/* Bounded, so an endless writer cannot keep us past the deadline. */
	for (i = 0; i < 64; i++) {
		room = io->outmax > res->outlen ? io->outmax - res->outlen : 0;
		if (room > EXEC_CHUNK)
			room = EXEC_CHUNK;
		if (room != 0 && exec_out_reserve(res, room) == 0)
			dst = res->out + res->outlen;
		else {
			dst = sink;
			room = sizeof(sink);
		}
		if ((n = read(io->out, dst, room)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return (0);
			n = 0;		/* EIO and the like: treat as EOF */
		}
		if (n == 0)
			return (1);
		res->outtotal += n;
		if (dst == sink)
			res->truncated = 1;
		else
			res->outlen += n;
	}
	return (0);
}

/*
 * Feed the command's stdin without blocking.  Returns 1 once all input
 * is written, 0 if some is left for when stdin is writable again, -1 if
 * the command refused it (EPIPE, ECONNRESET: its end is closed).
 */
static int
exec_io_write(struct exec_io *io)
{
	size_t	left;
	ssize_t	n;

	while (io->inoff < io->inlen) {
		left = io->inlen - io->inoff;
		if (left > EXEC_CHUNK)
			left = EXEC_CHUNK;
		/* A socket, so MSG_NOSIGNAL spares the caller SIGPIPE. */
		n = send(io->in, io->input + io->inoff, left,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return (0);
			return (-1);	/* EPIPE: it stopped reading */
		}
		io->inoff += n;
	}
	return (1);
}

/* Close one of our pipe ends and mark it closed. */
static void
exec_close(int *fd)
{
	if (*fd != -1) {
		close(*fd);
		*fd = -1;
	}
}

/* Return 1 if the child has exited (it is not reaped). */
static int
exec_exited(pid_t pid)
{
	siginfo_t	si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) == -1)
		return (errno == ECHILD);
	return (si.si_pid == pid);
}

/*
 * Move input and output until the child exits or the deadline passes.
 * Returns 0, 1 on timeout, or -1 if poll() failed.  The child's exit,
 * not the end of its output, ends the loop: something it started in the
 * background may hold the pipe open.
 */
static int
exec_io_loop(struct exec_io *io, pid_t pid, int timeout_ms)
{
	struct pollfd	pfd[2];
	int64_t		deadline = 0, now;
	int		n, wait, tick = 1;

	if (timeout_ms > 0)
		deadline = (int64_t)monotime_ms() + timeout_ms;
	for (;;) {
		memset(pfd, 0, sizeof(pfd));
		n = 0;
		if (io->in != -1) {
			pfd[n].fd = io->in;
			pfd[n++].events = POLLOUT;
		}
		if (io->out != -1) {
			pfd[n].fd = io->out;
			pfd[n++].events = POLLIN;
		}
		/* No pipe left: back off from 1 ms while it exits. */
		wait = n > 0 ? EXEC_TICK_MS : tick;
		if (n == 0 && tick < EXEC_TICK_MS)
			tick *= 2;
		if (timeout_ms > 0) {
			if ((now = (int64_t)monotime_ms()) >= deadline)
				return (1);
			if (deadline - now < wait)
				wait = (int)(deadline - now);
		}
		if (poll(pfd, n, wait) == -1 && errno != EINTR) {
			io->poll_errno = errno;
			return (-1);
		}
		if (io->in != -1 && pfd[0].revents != 0 &&
		    exec_io_write(io) != 0)
			exec_close(&io->in);
		if (io->out != -1 && pfd[n - 1].revents != 0 &&
		    exec_io_read(io))
			exec_close(&io->out);
		if (exec_exited(pid))
			return (0);
	}
}

/* Describe how the child ended in res; 0 if it exited with status 0. */
static int
exec_report(const char *path, int wstatus, int errfd, int loop,
    int timeout_ms, const struct exec_io *io, struct exec_result *res)
{
	int	e;

	if (read(errfd, &e, sizeof(e)) == (ssize_t)sizeof(e)) {
		res->exec_errno = e;
		res->status = 127;
		snprintf(res->err, sizeof(res->err), "cannot execute %s: %s",
		    path, strerror(e));
		return (-1);
	}
	if (loop == 1) {
		res->timed_out = 1;
		res->signo = SIGKILL;
		snprintf(res->err, sizeof(res->err), "%s timed out after %gs",
		    path, timeout_ms / 1000.0);
		return (-1);
	}
	if (loop == -1) {
		snprintf(res->err, sizeof(res->err), "%s: poll: %s", path,
		    strerror(io->poll_errno));
		return (-1);
	}
	if (WIFEXITED(wstatus)) {
		res->status = WEXITSTATUS(wstatus);
		if (res->status == 0)
			return (0);
		snprintf(res->err, sizeof(res->err),
		    "%s exited with status %d", path, res->status);
		return (-1);
	}
	res->signo = WTERMSIG(wstatus);
	snprintf(res->err, sizeof(res->err), "%s killed by signal %d", path,
	    res->signo);
	return (-1);
}

/* Reap the child; kill its group first if it overran. */
static int
exec_reap(pid_t pid, int kill_it, int *wstatus)
{
	if (kill_it) {
		(void)kill(-pid, SIGKILL);
		(void)kill(pid, SIGKILL);
	}
	while (waitpid(pid, wstatus, 0) == -1)
		if (errno != EINTR)
			return (-1);
	return (0);
}

/* Append the truncation marker and the terminating NUL. */
static void
exec_out_finish(struct exec_result *res)
{
	size_t	mlen = strlen(EXEC_TRUNC_MARK);

	if (res->outcap == 0 && exec_out_reserve(res, 0) == -1)
		return;			/* out stays the static "" */
	if (res->truncated && exec_out_reserve(res, mlen) == 0) {
		memcpy(res->out + res->outlen, EXEC_TRUNC_MARK, mlen);
		res->outlen += mlen;
	}
	res->out[res->outlen] = '\0';
}

/*
 * Enlarge the send buffer of a stream's stdin, best effort.
 * SO_SNDBUFFORCE passes net.core.wmem_max with CAP_NET_ADMIN; without
 * it SO_SNDBUF is capped there (416 KB by default), still twice the
 * default.  Only the sender's buffer counts: an AF_UNIX stream socket
 * charges queued data to the sender, and the receiver's SO_RCVBUF
 * changed nothing when measured (Linux 6.18), so it is left alone.
 */
static void
exec_stdin_enlarge(int fd)
{
	int	n = EXEC_STREAM_SNDBUF;

#ifdef SO_SNDBUFFORCE
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &n, sizeof(n)) == 0)
		return;
#endif
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &n, sizeof(n));
}

/*
 * Open the child's stdin: a socketpair for input, else /dev/null.  A
 * socket, not a pipe, so that send(MSG_NOSIGNAL) spares us SIGPIPE even
 * where the process does not ignore it.
 */
static int
exec_open_stdin(enum exec_stdin how, int sv[2])
{
	if (how == EXEC_STDIN_NULL) {
		sv[0] = -1;
		sv[1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		return (sv[1] == -1 ? -1 : 0);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return (-1);
	/* Our end only writes, the child's end only reads. */
	(void)shutdown(sv[0], SHUT_RD);
	(void)shutdown(sv[1], SHUT_WR);
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) == -1) {
		close(sv[0]);
		close(sv[1]);
		return (-1);
	}
	if (how == EXEC_STDIN_STREAM)
		exec_stdin_enlarge(sv[0]);
	return (0);
}

/*
 * Create the pipes and fork the child, its stdin as how says.  Fills io
 * (our ends, input, bound) and *pid, *errfd.  Returns 0, or -1 with
 * res->err set.
 */
static int
exec_spawn(const char *const argv[], enum exec_stdin how, const char *input,
    size_t inlen, size_t outmax, struct exec_io *io, pid_t *pid, int *errfd,
    struct exec_result *res)
{
	sigset_t	all, old;
	int		sv[2], op[2], ep[2];

	if (argv == NULL || argv[0] == NULL) {
		snprintf(res->err, sizeof(res->err), "exec: empty argv");
		return (-1);
	}
	if (exec_open_stdin(how, sv) == -1)
		goto fail;
	if (pipe2(op, O_CLOEXEC) == -1)
		goto fail_stdin;
	if (pipe2(ep, O_CLOEXEC) == -1)
		goto fail_out;
	if (fcntl(op[0], F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(ep[0], F_SETFL, O_NONBLOCK) == -1)
		goto fail_err;

	/*
	 * No handler of ours may run in the child between fork and exec.
	 * vfork(): the child borrows our memory until it execs, instead
	 * of copying the page tables of a daemon holding 10k services
	 * and making every page copy-on-write meanwhile (about 10 ms per
	 * iptables-restore at 10k services).  The child only makes
	 * system calls on its own stack frame, then execs or _exits.
	 */
	exec_env_init();
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	if ((*pid = vfork()) == 0)
		exec_child(argv, exec_envv, sv[1], op[1], ep[1]);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (*pid == -1)
		goto fail_err;
	/* Also here: a kill before the child's own setpgid must work. */
	(void)setpgid(*pid, *pid);
	close(sv[1]);
	close(op[1]);
	close(ep[1]);

	memset(io, 0, sizeof(*io));
	io->in = sv[0];
	io->out = op[0];
	io->input = input;
	io->inlen = inlen;
	io->outmax = outmax;
	io->res = res;
	*errfd = ep[0];
	return (0);

fail_err:
	close(ep[0]);
	close(ep[1]);
fail_out:
	close(op[0]);
	close(op[1]);
fail_stdin:
	if (sv[0] != -1)
		close(sv[0]);
	close(sv[1]);
fail:
	snprintf(res->err, sizeof(res->err), "cannot run %s: %s", argv[0],
	    strerror(errno));
	return (-1);
}

/* Run a command, output bounded at EXEC_OUTMAX. */
int
exec_run(const char *const argv[], const char *input, size_t inlen,
    int timeout_ms, struct exec_result *res)
{
	return (exec_run_max(argv, input, inlen, timeout_ms, EXEC_OUTMAX,
	    res));
}

/* Run a command, output bounded at outmax. */
int
exec_run_max(const char *const argv[], const char *input, size_t inlen,
    int timeout_ms, size_t outmax, struct exec_result *res)
{
	struct exec_io	io;
	pid_t		pid;
	int		errfd, loop, wstatus = 0, rv = -1;

	exec_result_init(res);
	if (exec_spawn(argv, input != NULL ? EXEC_STDIN_DATA : EXEC_STDIN_NULL,
	    input, inlen, outmax, &io, &pid, &errfd, res) == -1)
		return (-1);
	loop = exec_io_loop(&io, pid, timeout_ms);
	if (exec_reap(pid, loop != 0, &wstatus) == -1)
		snprintf(res->err, sizeof(res->err),
		    "%s: lost its exit status: %s", argv[0], strerror(errno));
	else {
		if (io.out != -1)
			(void)exec_io_read(&io); /* what came before the exit */
		rv = exec_report(argv[0], wstatus, errfd, loop, timeout_ms,
		    &io, res);
	}
	exec_close(&io.in);
	exec_close(&io.out);
	close(errfd);
	exec_out_finish(res);
	return (rv);
}

/* Free a job: events, descriptors, copies, result.  The child is gone. */
static void
exec_job_free(struct exec_job *job)
{
	if (job->ev_in != NULL)
		event_free(job->ev_in);
	if (job->ev_out != NULL)
		event_free(job->ev_out);
	if (job->ev_exit != NULL)
		event_free(job->ev_exit);
	if (job->ev_timeout != NULL)
		event_free(job->ev_timeout);
	exec_close(&job->io.in);
	exec_close(&job->io.out);
	exec_close(&job->errfd);
	exec_close(&job->pidfd);
	exec_result_free(&job->res);
	free(job->input);
	free(job->path);
	free(job);
}

/* Reap the child, report to the callback and free the job. */
static void
exec_job_finish(struct exec_job *job, int timed_out)
{
	int	wstatus = 0, rv = -1;

	if (exec_reap(job->pid, timed_out, &wstatus) == -1)
		snprintf(job->res.err, sizeof(job->res.err),
		    "%s: lost its exit status: %s", job->path, strerror(errno));
	else {
		if (job->io.out != -1)
			(void)exec_io_read(&job->io);
		rv = exec_report(job->path, wstatus, job->errfd, timed_out,
		    job->timeout_ms, &job->io, &job->res);
	}
	job->pid = -1;
	exec_out_finish(&job->res);
	job->cb(rv, &job->res, job->arg);
	exec_job_free(job);
}

/*
 * Be done with the child's stdin: stop watching it, close it (the child
 * sees end of file) and drop the input not written.
 */
static void
exec_job_close_in(struct exec_job *job)
{
	if (job->ev_in != NULL) {
		event_free(job->ev_in);
		job->ev_in = NULL;
	}
	exec_close(&job->io.in);
	free(job->input);
	job->input = NULL;
	job->io.input = NULL;
	job->incap = job->io.inlen = job->io.inoff = 0;
}

/*
 * Write what the child's stdin takes now; the loop writes the rest.
 * The write event is armed only while input is pending or the close is
 * due: an idle stream's socket is always writable and would spin the
 * loop.  Returns 0, or -1 if stdin is gone (the rest is dropped).
 */
static int
exec_job_flush(struct exec_job *job)
{
	int	r;

	if (job->io.in == -1)
		return (-1);
	if ((r = exec_io_write(&job->io)) == 0) {
		if (event_pending(job->ev_in, EV_WRITE, NULL) ||
		    event_add(job->ev_in, NULL) == 0)
			return (0);
		r = -1;		/* nothing would ever write the rest */
	} else if (r == 1) {
		job->io.inoff = job->io.inlen = 0;
		if (!job->in_eof) {
			(void)event_del(job->ev_in);
			return (0);
		}
	}
	exec_job_close_in(job);
	return (r == -1 ? -1 : 0);
}

/*
 * Append len bytes to the pending input; 0, or -1 if out of memory.
 * Written bytes stay in front of inoff until an append needs the room.
 * They are then slid out only if there are at least as many of them as
 * pending bytes to move, so each moved byte is paid for by a written
 * one; otherwise the buffer at least doubles.  Appends stay amortised
 * O(len) however the child keeps up.
 */
static int
exec_job_append(struct exec_job *job, const char *buf, size_t len)
{
	struct exec_io	*io = &job->io;
	size_t		 left = io->inlen - io->inoff, ncap;
	char		*p;

	if (len == 0)
		return (0);
	if (left == 0)
		io->inoff = io->inlen = 0;
	if (len > job->incap - io->inlen) {
		if (io->inoff >= left && len <= job->incap - left)
			memmove(job->input, job->input + io->inoff, left);
		else {
			if (len > SIZE_MAX / 4 - left)
				return (-1);
			ncap = job->incap > EXEC_STREAM_MINBUF / 2 ?
			    job->incap : EXEC_STREAM_MINBUF / 2;
			do
				ncap *= 2;
			while (ncap < left + len);
			if ((p = malloc(ncap)) == NULL)
				return (-1);
			if (left != 0)
				memcpy(p, job->input + io->inoff, left);
			free(job->input);
			job->input = p;
			job->incap = ncap;
		}
		io->inoff = 0;
		io->inlen = left;
		io->input = job->input;
	}
	memcpy(job->input + io->inlen, buf, len);
	io->inlen += len;
	return (0);
}

/* Feed the child's stdin, which can take more input. */
static void
exec_job_in_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)exec_job_flush(arg);
}

/* Collect what the child wrote, or see it close its output. */
static void
exec_job_out_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exec_job	*job = arg;

	if (exec_io_read(&job->io)) {
		event_free(job->ev_out);
		job->ev_out = NULL;
		exec_close(&job->io.out);
	}
}

/* Finish the job if the child exited (pidfd readable, or polled). */
static void
exec_job_exit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exec_job	*job = arg;

	if (exec_exited(job->pid))
		exec_job_finish(job, 0);
}

/* Kill the process group: the timeout expired. */
static void
exec_job_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	exec_job_finish(arg, 1);
}

/* Create and add the events of a job; 0, or -1 if out of memory. */
static int
exec_job_events(struct exec_job *job, struct event_base *base)
{
	struct timeval	tv;

	/* A stream starts with nothing to write: see exec_job_flush(). */
	if (job->io.in != -1 && ((job->ev_in = event_new(base, job->io.in,
	    EV_WRITE | EV_PERSIST, exec_job_in_cb, job)) == NULL ||
	    (job->in_eof && event_add(job->ev_in, NULL) == -1)))
		return (-1);
	if ((job->ev_out = event_new(base, job->io.out, EV_READ | EV_PERSIST,
	    exec_job_out_cb, job)) == NULL ||
	    event_add(job->ev_out, NULL) == -1)
		return (-1);
	if (job->pidfd != -1) {
		job->ev_exit = event_new(base, job->pidfd, EV_READ | EV_PERSIST,
		    exec_job_exit_cb, job);
		if (job->ev_exit == NULL || event_add(job->ev_exit, NULL) == -1)
			return (-1);
	} else {
		tv.tv_sec = 0;
		tv.tv_usec = EXEC_JOB_TICK_MS * 1000;
		job->ev_exit = event_new(base, -1, EV_PERSIST, exec_job_exit_cb,
		    job);
		if (job->ev_exit == NULL || event_add(job->ev_exit, &tv) == -1)
			return (-1);
	}
	if (job->timeout_ms > 0) {
		tv.tv_sec = job->timeout_ms / 1000;
		tv.tv_usec = (job->timeout_ms % 1000) * 1000;
		if ((job->ev_timeout = evtimer_new(base, exec_job_timeout_cb,
		    job)) == NULL || evtimer_add(job->ev_timeout, &tv) == -1)
			return (-1);
	}
	return (0);
}

/* Allocate a job that has not started; NULL if out of memory. */
static struct exec_job *
exec_job_new(const char *const argv[], int timeout_ms,
    void (*cb)(int, struct exec_result *, void *), void *arg)
{
	struct exec_job	*job;

	if ((job = calloc(1, sizeof(*job))) == NULL)
		return (NULL);
	job->errfd = job->pidfd = job->io.in = job->io.out = -1;
	job->pid = -1;
	exec_result_init(&job->res);
	job->timeout_ms = timeout_ms;
	job->cb = cb;
	job->arg = arg;
	if (argv != NULL && argv[0] != NULL &&
	    (job->path = strdup(argv[0])) == NULL) {
		free(job);
		return (NULL);
	}
	return (job);
}

/*
 * Start the child of a job whose input (job->input, inlen bytes) is in
 * place, and add its events.  Returns 0, or -1 with a reason in err and
 * the job freed.
 */
static int
exec_job_launch(struct exec_job *job, struct event_base *base,
    const char *const argv[], enum exec_stdin how, size_t inlen,
    size_t outmax, char *err, size_t errlen)
{
	if (exec_spawn(argv, how, job->input, inlen, outmax, &job->io,
	    &job->pid, &job->errfd, &job->res) == -1) {
		snprintf(err, errlen, "%s", job->res.err);
		exec_job_free(job);
		return (-1);
	}
#ifdef SYS_pidfd_open
	/* Exit notification without polling; Linux 5.3 and later. */
	job->pidfd = (int)syscall(SYS_pidfd_open, job->pid, 0);
#endif
	if (exec_job_events(job, base) == -1) {
		exec_cancel(job);
		snprintf(err, errlen, "%s: cannot set up events", argv[0]);
		return (-1);
	}
	return (0);
}

/* Start a command in the background of an event loop. */
struct exec_job *
exec_start(struct event_base *base, const char *const argv[],
    const char *input, size_t inlen, int timeout_ms, size_t outmax,
    void (*cb)(int, struct exec_result *, void *), void *arg, char *err,
    size_t errlen)
{
	struct exec_job	*job;

	if ((job = exec_job_new(argv, timeout_ms, cb, arg)) == NULL)
		goto oom;
	if (input != NULL) {
		if ((job->input = malloc(inlen + 1)) == NULL)
			goto oom_job;
		memcpy(job->input, input, inlen);
		job->incap = inlen + 1;
	}
	job->in_eof = 1;	/* that was all of it */
	if (exec_job_launch(job, base, argv, input != NULL ?
	    EXEC_STDIN_DATA : EXEC_STDIN_NULL, inlen, outmax, err,
	    errlen) == -1)
		return (NULL);
	return (job);

oom_job:
	exec_job_free(job);
oom:
	snprintf(err, errlen, "exec: out of memory");
	return (NULL);
}

/* Start a command whose input the caller streams while it runs. */
struct exec_job *
exec_start_stream(struct event_base *base, const char *const argv[],
    int timeout_ms, size_t outmax,
    void (*cb)(int, struct exec_result *, void *), void *arg, char *err,
    size_t errlen)
{
	struct exec_job	*job;

	if ((job = exec_job_new(argv, timeout_ms, cb, arg)) == NULL) {
		snprintf(err, errlen, "exec: out of memory");
		return (NULL);
	}
	if (exec_job_launch(job, base, argv, EXEC_STDIN_STREAM, 0, outmax,
	    err, errlen) == -1)
		return (NULL);
	return (job);
}

/* Append input to a stream job and write what its stdin takes now. */
int
exec_job_write(struct exec_job *job, const char *buf, size_t len)
{
	if (job == NULL || job->in_eof || job->io.in == -1)
		return (-1);
	/*
	 * An exited child's stdin gives EPIPE, unless something it started
	 * holds it: then nobody reads it any more either.
	 */
	if (exec_exited(job->pid) || exec_job_append(job, buf, len) == -1) {
		exec_job_close_in(job);
		return (-1);
	}
	return (exec_job_flush(job));
}

/* End a stream job's input: stdin closes once the pending is written. */
void
exec_job_close_input(struct exec_job *job)
{
	if (job == NULL || job->in_eof)
		return;
	job->in_eof = 1;
	(void)exec_job_flush(job);
}

/* Kill a job's process group, reap it and free the job. */
void
exec_cancel(struct exec_job *job)
{
	int	wstatus;

	if (job == NULL)
		return;
	if (job->pid != -1)
		(void)exec_reap(job->pid, 1, &wstatus);
	exec_job_free(job);
}
