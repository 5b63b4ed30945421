/*
 * log.h: relayd-style logging, to stderr in klog's line format.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

#ifndef __dead
#define __dead __attribute__((__noreturn__))
#endif

/*
 * Set up logging (stderr; systemd and the container runtime collect it)
 * and route libevent's messages here.  verbosity is kube-proxy's -v
 * level: log_debug() prints at >= 2.
 */
void	log_init(int verbosity);
/* Change the verbosity (as log_init's) at any time. */
void	log_setverbose(int verbosity);
/* Return the verbosity, to skip costly formatting of debug lines. */
int	log_getverbose(void);

/*
 * The loggers below never fail and keep errno.  Each takes a printf
 * format for one line, without a trailing newline.
 */
/* Warning with ": strerror(errno)" appended. */
void	log_warn(const char *, ...) __attribute__((__format__(printf, 1, 2)));
/* Warning without errno. */
void	log_warnx(const char *, ...) __attribute__((__format__(printf, 1, 2)));
/* Informational message, always logged. */
void	log_info(const char *, ...) __attribute__((__format__(printf, 1, 2)));
/* Debug message, logged at verbosity 2 and above. */
void	log_debug(const char *, ...) __attribute__((__format__(printf, 1, 2)));
/* Log an error with ": strerror(errno)" appended, and exit(1). */
__dead void fatal(const char *, ...) __attribute__((__format__(printf, 1, 2)));
/* Log an error and exit(1). */
__dead void fatalx(const char *, ...) __attribute__((__format__(printf, 1, 2)));

#endif /* LOG_H */
