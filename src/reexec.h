/*
 * reexec.h: start a new copy of this program beside the running one
 * (SIGUSR2, nginx's binary upgrade).  The new process finds the running
 * one through the hand-off socket (handoff.h), receives every listening
 * socket there, serves them and tells the old one to drain; it gets no
 * descriptor by inheritance, so a large number of Service ports never
 * meets the size limit of one environment string ($LISTEN_FDNAMES), and
 * a re-exec and a new process started by hand take the same path.
 */
#ifndef REEXEC_H
#define REEXEC_H

#include <sys/types.h>

#include <stddef.h>

#define REEXEC_ERRLEN	256

/*
 * Remember the path of the running binary (readlink /proc/self/exe) and
 * the command line (/proc/self/cmdline), as they are at start: an
 * upgrade replaces the file at that path, and the new binary is the one
 * to start.  Returns 0, or -1 (logged: SIGUSR2 will be refused).
 */
int		 reexec_init(void);
/*
 * Fork and exec the remembered binary with the remembered arguments,
 * this environment plus env (nenv "NAME=value" strings, borrowed, which
 * replace variables of the same name).  Signals are blocked around the
 * fork; the child restores every disposition to its default and the
 * signal mask before the exec, and closes nothing (every descriptor of
 * kuproxy is close-on-exec).  Returns the child's pid, or -1 with a
 * reason in err (reexec_init failed, fork failed).  A failed exec shows
 * as the child exiting with status 127.
 */
pid_t		 reexec_spawn(char *const *env, size_t nenv, char *err,
		    size_t errlen);

#endif /* REEXEC_H */
