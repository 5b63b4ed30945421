/*
 * exec.h: run an external command (iptables-restore, iptables-save,
 * conntrack) from an argv vector, never through a shell.
 *
 * The child gets SIG_DFL for every signal (a proxy ignores SIGPIPE and
 * that disposition would survive execv), an empty signal mask, stdin
 * from the caller's input or /dev/null, stdout and stderr into one pipe,
 * no descriptor above 2, its own process group, so that a timeout
 * can kill it together with anything it started, and an environment of
 * its own (exec_env()): PATH=EXEC_PATH and XTABLES_LOCKFILE if the daemon
 * was given one, nothing else of the daemon's.
 *
 * exec_run() is synchronous: it blocks the caller until the command has
 * exited or the timeout has killed it.  That is right for start-up and
 * cleanup.  exec_start() runs the same child from a libevent loop, for
 * the proxier's syncs: an iptables-restore of 10k services takes a
 * second or so (see docs/benchmarks.md), too long to stall the data
 * plane.  exec_start_stream() starts it before its input
 * exists, so that it applies the first tables (iptables-restore commits
 * each COMMIT block as it reads it) on another core while the daemon is
 * still producing the rest.
 *
 * Child reaping: exec_run() waits for its own child with waitpid(pid).
 * The process must not reap children behind its back (a SIGCHLD
 * handler calling waitpid(-1), or SIGCHLD set to SIG_IGN); the exit
 * status is then lost and exec_run() reports it as an error.
 */
#ifndef EXEC_H
#define EXEC_H

#include <stddef.h>

/* Default bound of the captured output (stdout and stderr together). */
#define EXEC_OUTMAX	(64 * 1024)
#define EXEC_ERRLEN	256
/* Appended to the captured output when it was cut at the bound. */
#define EXEC_TRUNC_MARK	"\n[output truncated]\n"

/* The children's PATH, whatever the daemon's is. */
#define EXEC_PATH	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:" \
			"/sbin:/bin"
/* Most variables in the children's environment. */
#define EXEC_ENV_MAX	8

struct exec_result {
	int	 status;	/* exit status 0-255, -1 if it did not exit */
	int	 signo;		/* signal that ended it, else 0 */
	int	 timed_out;	/* 1: killed because the timeout expired */
	int	 exec_errno;	/* errno of the child's failed execv, else 0 */
	char	*out;		/* output, NUL-terminated, never NULL */
	size_t	 outlen;	/* bytes in out (marker included) */
	size_t	 outtotal;	/* bytes the command wrote in all */
	int	 truncated;	/* 1: out holds only the first bytes */
	char	 err[EXEC_ERRLEN]; /* why exec_run() returned -1 */
	size_t	 outcap;	/* private: allocated size of out */
};

/*
 * Run argv[0] (a path; no PATH search) with arguments argv, NULL
 * terminated.  If input is not NULL its inlen bytes are written to the
 * command's stdin, which then sees end of file; with input NULL stdin is
 * /dev/null.  Input and output are multiplexed with poll(), so a large
 * input and a large output cannot deadlock.  The first EXEC_OUTMAX bytes
 * of the output are kept in res->out; the rest is read and dropped
 * (res->truncated, EXEC_TRUNC_MARK).  timeout_ms > 0 bounds the whole
 * run: when it expires the command's process group gets SIGKILL.
 * timeout_ms <= 0 waits forever.
 *
 * Returns 0 when the command ran and exited with status 0.  Returns -1
 * otherwise, with a message in res->err naming argv[0]:
 *	- it could not be started (pipe, fork, or execv failed: exec_errno,
 *	  status 127);
 *	- it exited with a non-zero status (res->status; callers that accept
 *	  some non-zero statuses check it);
 *	- it was killed by a signal (res->signo);
 *	- the timeout expired ("... timed out after 5s", res->timed_out).
 * In every case res is filled in and must be released with
 * exec_result_free().
 */
int	 exec_run(const char *const argv[], const char *input, size_t inlen,
	    int timeout_ms, struct exec_result *res);
/* As exec_run(), with the output bounded at outmax bytes instead. */
int	 exec_run_max(const char *const argv[], const char *input,
	    size_t inlen, int timeout_ms, size_t outmax,
	    struct exec_result *res);
/* Release the output of a result; res may be reused afterwards. */
void	 exec_result_free(struct exec_result *res);

/*
 * Set name to value in the environment of every command started from
 * now on; value NULL removes it.  For test fakes that need a variable
 * (the daemon itself sets none).  name must be non-empty without '='.
 * Returns 0, or -1 with errno EINVAL (bad name), ENOSPC (already
 * EXEC_ENV_MAX variables) or ENOMEM.
 */
int	 exec_env_set(const char *name, const char *value);
/*
 * The environment commands get, NULL-terminated "NAME=value" strings
 * owned by this module, valid until the next exec_env_set().
 */
const char *const *exec_env(void);

struct event_base;
struct exec_job;

/*
 * Start a command as exec_run_max() runs it, without blocking: base's
 * loop moves the input (copied here) and the output, and once the
 * command has ended, or the timeout has killed its process group,
 * calls cb(rv, res, arg) with rv and res as exec_run_max() returns
 * them.  res is released after cb returns: copy what you keep.  The job
 * frees itself after cb; do not call exec_cancel() on it from cb or
 * after.  The child's exit is seen through a pidfd (Linux 5.3+), else by
 * polling every 20 ms.  Returns the job, or NULL with a reason in err
 * when nothing was started (a failed execv is reported through cb).
 */
struct exec_job	*exec_start(struct event_base *base, const char *const argv[],
		    const char *input, size_t inlen, int timeout_ms,
		    size_t outmax,
		    void (*cb)(int, struct exec_result *, void *), void *arg,
		    char *err, size_t errlen);
/*
 * Start a command as exec_start() does, but with no input yet: the
 * caller streams it with exec_job_write() and ends it with
 * exec_job_close_input().  stdin is a socket whose send buffer is made
 * large, best effort (4 MB with CAP_NET_ADMIN, else at most twice
 * net.core.wmem_max), so the command rarely waits for the loop.
 * Timeout, output, cb, exec_cancel() and the return value are as for
 * exec_start(); a stream never closed is ended by the timeout (or runs
 * until the command exits on its own if timeout_ms <= 0).
 */
struct exec_job	*exec_start_stream(struct event_base *base,
		    const char *const argv[], int timeout_ms, size_t outmax,
		    void (*cb)(int, struct exec_result *, void *), void *arg,
		    char *err, size_t errlen);
/*
 * Append len bytes (copied) to the input of a job from
 * exec_start_stream(), then at once write as much pending input as the
 * command's stdin takes, without blocking; the loop writes the rest as
 * stdin drains.  Call it as often as the caller likes, also from long
 * computations that do not return to the loop: the command gets the data
 * without it.  It never blocks and never calls cb.  A command that
 * writes more than a pipe's worth of output (64 KB) stalls until the
 * loop reads it, though.  Do not call it once cb has run: the job is
 * gone.
 *
 * Returns 0, or -1 when the input is over:
 *	- exec_job_close_input() was called (also for exec_start() jobs,
 *	  whose input is complete from the start);
 *	- the command's stdin is gone: it closed it or exited (EPIPE,
 *	  ECONNRESET);
 *	- out of memory, or the loop could not watch stdin.
 * Except in the first case the pending input is dropped and stdin
 * closed; later calls return -1 too.  The job still ends through cb when
 * the command exits; exec_cancel() it if its result no longer matters.
 */
int		 exec_job_write(struct exec_job *, const char *buf, size_t len);
/*
 * End the input of a stream job: the command's stdin is closed, so that
 * it sees end of file, once all pending input is written (at once if
 * none is).  Calling it again, or after exec_job_write() failed, does
 * nothing.
 */
void		 exec_job_close_input(struct exec_job *);
/*
 * Stop a job that has not finished: SIGKILL to its process group, reap,
 * free (pending stream input included).  cb is not called.  NULL is
 * ignored.
 */
void		 exec_cancel(struct exec_job *);

#endif /* EXEC_H */
