/*
 * log.h: relayd-style logging in klog's line format and with klog's
 * verbosity levels, so that tooling that parses kube-proxy's lines
 * parses kuproxy's:
 *
 *	I1202 01:02:03.123456    1234 proxier.c:42] message
 *
 * Severity I/W/E/F, month and day, local time with microseconds, the
 * pid right-aligned to 7, the source file's base name and line.  The
 * loggers are macros that pass __FILE__ and __LINE__.
 *
 * Levels follow kube-proxy 1.20: 0 start-up, errors and Service
 * changes; 2 sync summaries; 3 one line per connection or UDP flow; 4
 * the detail of each connect attempt.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifndef __dead
#define __dead __attribute__((__noreturn__))
#endif

/* klog's severities, in its order (stderrthreshold compares them). */
enum log_severity {
	LOG_SEV_INFO = 0,
	LOG_SEV_WARNING,
	LOG_SEV_ERROR,
	LOG_SEV_FATAL,
};

/* Bytes of a log file name, --vmodule list and such, with the NUL. */
#define LOG_PATHLEN	1024

/*
 * klog's output flags as kube-proxy 1.20 accepts them.  log_opts_init()
 * sets klog's defaults; log_configure() applies them.
 */
struct log_opts {
	int		 logtostderr;		/* default 1 */
	int		 alsologtostderr;
	long		 stderrthreshold;	/* a log_severity, or any
						   int: default ERROR */
	char		 file[LOG_PATHLEN];	/* --log-file, "" none */
	uint64_t	 file_max_mb;		/* 1800; 0: no limit */
	char		 dir[LOG_PATHLEN];	/* --log-dir (not used) */
	int		 skip_headers;
	int		 skip_log_headers;
	int		 add_dir_header;
	int		 one_output;		/* accepted, no effect */
	char		 vmodule[LOG_PATHLEN];	/* pattern=N,... */
};

/*
 * Set up logging (stderr; systemd and the container runtime collect it)
 * and route libevent's messages here.  verbosity is kube-proxy's -v.
 */
void	log_init(int verbosity);
/* Change the verbosity (as log_init's) at any time. */
void	log_setverbose(int verbosity);
/*
 * Return the highest verbosity any file logs at (-v or a --vmodule
 * level): a cheap test that skips formatting a line nobody prints.
 */
int	log_getverbose(void);

/* Fill o with klog's defaults. */
void	log_opts_init(struct log_opts *o);
/*
 * Parse a --vmodule value ("pattern=N,...") into o; returns 0, or -1
 * with a message naming the bad item in err.
 */
int	log_opts_vmodule(struct log_opts *o, const char *val, char *err,
	    size_t errlen);
/*
 * Parse a --stderrthreshold value as klog does (INFO, WARNING, ERROR,
 * FATAL in any case, or any integer: 4 sends nothing to stderr) into o;
 * returns 0, or -1 with a message in err.
 */
int	log_opts_threshold(struct log_opts *o, const char *val, char *err,
	    size_t errlen);
/*
 * Apply o: open --log-file (appending, as klog does at start-up) when
 * --logtostderr=false, set the header and --vmodule options.  Returns
 * 0, or -1 with a message in err when the file cannot be opened; the
 * previous output is kept then.
 */
int	log_configure(const struct log_opts *o, char *err, size_t errlen);

/*
 * Format klog's header for a line of severity sev at time ts, from pid
 * at file (its base name is used, or the last directory and base name
 * with dirs set) and line, into buf (NUL-terminated).  Returns the
 * header's length, truncated to size - 1 at most.
 */
size_t	log_format_header(char *buf, size_t size, enum log_severity sev,
	    const struct timespec *ts, long pid, const char *file, int line,
	    int dirs);

/*
 * Return 1 if a V(level) line from file is printed: level <= -v, or
 * a --vmodule pattern matching file's base name (without ".c") sets a
 * level >= level.
 */
int	log_v_enabled(const char *file, int level);

/*
 * Write one line of severity sev from file:line; with_errno appends
 * ": strerror(errno)".  Never fails, keeps errno.  Use the macros.
 */
void	log_emit(enum log_severity sev, const char *file, int line,
	    int with_errno, const char *fmt, ...)
	    __attribute__((__format__(printf, 5, 6)));
/* As log_emit() at FATAL severity, then exit(1). */
__dead void log_fatal(const char *file, int line, int with_errno,
	    const char *fmt, ...) __attribute__((__format__(printf, 4, 5)));

/*
 * The loggers: each takes a printf format for one line, without a
 * trailing newline; none fails and all keep errno.
 */
/* Warning with ": strerror(errno)" appended. */
#define log_warn(...)	log_emit(LOG_SEV_WARNING, __FILE__, __LINE__, 1, \
			    __VA_ARGS__)
/* Warning without errno. */
#define log_warnx(...)	log_emit(LOG_SEV_WARNING, __FILE__, __LINE__, 0, \
			    __VA_ARGS__)
/* Error with ": strerror(errno)" appended. */
#define log_error(...)	log_emit(LOG_SEV_ERROR, __FILE__, __LINE__, 1, \
			    __VA_ARGS__)
/* Error without errno. */
#define log_errorx(...)	log_emit(LOG_SEV_ERROR, __FILE__, __LINE__, 0, \
			    __VA_ARGS__)
/* Informational message, always logged (klog's V(0)). */
#define log_info(...)	log_emit(LOG_SEV_INFO, __FILE__, __LINE__, 0, \
			    __VA_ARGS__)
/* Informational message at klog's V(level); arguments unevaluated if off. */
#define log_v(level, ...) do {						\
	if (log_getverbose() >= (level) &&				\
	    log_v_enabled(__FILE__, (level)))				\
		log_emit(LOG_SEV_INFO, __FILE__, __LINE__, 0,		\
		    __VA_ARGS__);					\
} while (0)
/* Debug message: V(2), kube-proxy's level for sync details. */
#define log_debug(...)	log_v(2, __VA_ARGS__)
/* Log an error with ": strerror(errno)" appended, and exit(1). */
#define fatal(...)	log_fatal(__FILE__, __LINE__, 1, __VA_ARGS__)
/* Log an error and exit(1). */
#define fatalx(...)	log_fatal(__FILE__, __LINE__, 0, __VA_ARGS__)

/* The interval of log_ratelimit_allow(), in ms. */
#define LOG_RATELIMIT_MS	1000

/*
 * A rate limit for one line that could repeat per connection (a failed
 * backend dial): at most one line per LOG_RATELIMIT_MS, with the count
 * of the lines held back.  Zero-initialised.
 */
struct log_ratelimit {
	uint64_t	 last_ms;	/* when the last line was allowed */
	unsigned long	 suppressed;	/* lines held back since */
	int		 primed;	/* last_ms is set */
};

/*
 * Return 1 if the line may be logged at now_ms (a monotonic clock),
 * with *suppressed set to the lines held back since the previous one
 * (and reset); 0 if it must be held back (it is counted).
 */
int	log_ratelimit_allow(struct log_ratelimit *rl, uint64_t now_ms,
	    unsigned long *suppressed);
/*
 * Return "" if suppressed is 0, else " (N similar lines not logged)"
 * written into buf (size bytes), for the end of the allowed line.
 */
const char *log_ratelimit_note(unsigned long suppressed, char *buf,
	    size_t size);

#endif /* LOG_H */
