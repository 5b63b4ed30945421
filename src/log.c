/*
 * log.c: logging, after relayd's log.c, to stderr in klog's line format
 * (kube-proxy's, so that "kubectl logs" and journald show the same).
 * Every function keeps errno.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>	/* LOG_* priorities */
#include <time.h>

#include <event2/event.h>

#include "log.h"

static int	log_verbose;

static void	log_vlog(int, const char *, va_list)
		    __attribute__((__format__(printf, 2, 0)));
static void	log_errno(int, int, const char *, va_list)
		    __attribute__((__format__(printf, 3, 0)));
static void	log_vlogf(int, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));

/* Send libevent's own messages through log_debug. */
static void
log_event_cb(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_WARN)
		log_warnx("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

/* Set up the verbosity and libevent's messages. */
void
log_init(int verbosity)
{
	log_verbose = verbosity;
	event_set_log_callback(log_event_cb);
	tzset();
}

/* Change the verbosity. */
void
log_setverbose(int verbosity)
{
	log_verbose = verbosity;
}

/* Return the verbosity. */
int
log_getverbose(void)
{
	return (log_verbose);
}

/* Write one line at priority pri. */
static void
log_vlog(int pri, const char *fmt, va_list ap)
{
	static const char *const names[] = {
		[LOG_ERR] = "E", [LOG_WARNING] = "W", [LOG_INFO] = "I",
		[LOG_DEBUG] = "D",
	};
	struct timespec	 ts;
	struct tm	 tm;
	char		 stamp[32];
	int		 saved = errno;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%m%d %H:%M:%S", &tm);
	flockfile(stderr);
	fprintf(stderr, "%s%s.%06ld kuproxy: ", names[pri], stamp,
	    ts.tv_nsec / 1000);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
	errno = saved;
}

/* Write one line at priority pri, variadic form. */
static void
log_vlogf(int pri, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vlog(pri, fmt, ap);
	va_end(ap);
}

/* Log fmt at priority pri with ": strerror(err)" appended. */
static void
log_errno(int pri, int err, const char *fmt, va_list ap)
{
	char	buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	log_vlogf(pri, "%s: %s", buf, strerror(err));
}

/* Log a warning with ": strerror(errno)" appended. */
void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_errno(LOG_WARNING, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* Log a warning. */
void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vlog(LOG_WARNING, fmt, ap);
	va_end(ap);
}

/* Log an informational message. */
void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

/* Log a debug message at verbosity 2 and above. */
void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (log_verbose < 2)
		return;
	va_start(ap, fmt);
	log_vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

/* Log an error with ": strerror(errno)" appended and exit(1). */
void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_errno(LOG_ERR, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

/* Log an error and exit(1). */
void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vlog(LOG_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}
