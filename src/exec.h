/*
 * exec.h: run an external command (iptables-restore, iptables-save,
 * conntrack) from an argv vector, never through a shell.
 *
 * The child gets SIG_DFL for every signal (a proxy ignores SIGPIPE and
 * that disposition would survive execv), an empty signal mask, stdin
 * from the caller's input or /dev/null, stdout and stderr into one pipe,
 * no descriptor above 2, and its own process group, so that a timeout
 * can kill it together with anything it started.
 *
 * exec_run() is synchronous: it blocks the caller until the command has
 * exited or the timeout has killed it.  That is right for start-up and
 * cleanup.  exec_start() runs the same child from a libevent loop, for
 * the proxier's syncs: an iptables-restore of 10k services (30k rules)
 * takes 0.7 s (legacy) to 1.5 s (nf_tables) on the test VM, too long to
 * stall the data plane.
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
 * Stop a job that has not finished: SIGKILL to its process group, reap,
 * free.  cb is not called.  NULL is ignored.
 */
void		 exec_cancel(struct exec_job *);

#endif /* EXEC_H */
