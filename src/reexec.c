/*
 * reexec.c: start a new copy of the running binary (see reexec.h).
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "reexec.h"
#include "xmalloc.h"

extern char **environ;

/* Longest command line kept (the kernel's own limit is far larger). */
#define REEXEC_CMDMAX	(256 * 1024)

static char	 *reexec_path;
static char	**reexec_argv;

/* Read /proc/self/cmdline into a NULL-terminated vector. */
static char **
reexec_cmdline(void)
{
	char	*buf, **argv;
	ssize_t	 n, len = 0;
	size_t	 i, argc = 0;
	int	 fd;

	if ((fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC)) == -1)
		return (NULL);
	buf = xmalloc(REEXEC_CMDMAX + 1);
	while (len < REEXEC_CMDMAX && (n = read(fd, buf + len,
	    REEXEC_CMDMAX - len)) > 0)
		len += n;
	close(fd);
	if (len == 0 || len >= REEXEC_CMDMAX) {
		free(buf);
		return (NULL);
	}
	buf[len] = '\0';
	for (i = 0; i < (size_t)len; i++)
		if (buf[i] == '\0')
			argc++;
	argv = xcalloc(argc + 1, sizeof(*argv));
	for (i = 0; i < argc; i++) {
		argv[i] = buf;
		buf += strlen(buf) + 1;
	}
	return (argv);
}

/* Remember the binary and the command line. */
int
reexec_init(void)
{
	char	buf[PATH_MAX];
	ssize_t	n;

	n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n <= 0) {
		log_warn("readlink /proc/self/exe: SIGUSR2 cannot re-exec");
		return (-1);
	}
	buf[n] = '\0';
	if ((reexec_argv = reexec_cmdline()) == NULL) {
		log_warnx("/proc/self/cmdline unreadable: SIGUSR2 cannot "
		    "re-exec");
		return (-1);
	}
	reexec_path = xstrdup(buf);
	return (0);
}

/* Return 1 if environment entry e names one of env's variables. */
static int
reexec_replaced(const char *e, char *const *env, size_t nenv)
{
	size_t	i, n;

	for (i = 0; i < nenv; i++) {
		n = strcspn(env[i], "=");
		if (strncmp(e, env[i], n) == 0 && e[n] == '=')
			return (1);
	}
	return (0);
}

/* Build the child's environment: this one, env replacing. */
static char **
reexec_envp(char *const *env, size_t nenv)
{
	char	**envp;
	size_t	  i, n = 0;

	for (i = 0; environ[i] != NULL; i++)
		;
	envp = xcalloc(i + nenv + 1, sizeof(*envp));
	for (i = 0; environ[i] != NULL; i++)
		if (!reexec_replaced(environ[i], env, nenv))
			envp[n++] = environ[i];
	for (i = 0; i < nenv; i++)
		envp[n++] = env[i];
	return (envp);
}

/* Fork and exec the remembered binary. */
pid_t
reexec_spawn(char *const *env, size_t nenv, char *err, size_t errlen)
{
	sigset_t	 all, old;
	char		**envp;
	pid_t		 pid;
	int		 sig;

	if (reexec_path == NULL) {
		snprintf(err, errlen, "the binary's path is unknown");
		return (-1);
	}
	/* Built before the fork: the child only calls async-safe code. */
	envp = reexec_envp(env, nenv);
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0) {
		for (sig = 1; sig < NSIG; sig++)
			(void)signal(sig, SIG_DFL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		execve(reexec_path, reexec_argv, envp);
		_exit(127);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	free(envp);
	if (pid == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return (-1);
	}
	return (pid);
}
