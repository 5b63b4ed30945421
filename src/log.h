/*
 * log.h: relayd-style logging to stderr (foreground) or syslog.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

#ifndef __dead
#define __dead __attribute__((__noreturn__))
#endif

/*
 * Set up logging.  foreground != 0 logs to stderr, else to syslog.
 * verbosity is kube-proxy's -v level: log_debug() prints at >= 2,
 * log_trace() at >= 4.
 */
void	log_init(int foreground, int verbosity);
void	log_setverbose(int verbosity);
int	log_getverbose(void);

/* Warning with ": strerror(errno)" appended. */
void	log_warn(const char *, ...) __attribute__((__format__(printf, 1, 2)));
/* Warning without errno. */
void	log_warnx(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void	log_trace(const char *, ...) __attribute__((__format__(printf, 1, 2)));
/* Log and exit(1); fatal() appends strerror(errno). */
__dead void fatal(const char *, ...) __attribute__((__format__(printf, 1, 2)));
__dead void fatalx(const char *, ...) __attribute__((__format__(printf, 1, 2)));

#endif /* LOG_H */
