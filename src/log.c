/*
 * log.c: logging, after relayd's log.c, in klog's line format (klog v2
 * formatHeader(), as kube-proxy 1.20 vendors it) so that "kubectl logs"
 * and journald show what kube-proxy's users expect.  Each line is one
 * writev(2): lines from the relays and the rule job never interleave.
 * Every function keeps errno.
 */
#include <sys/stat.h>
#include <sys/uio.h>

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"unknown"
#endif

/* At most this many --vmodule patterns. */
#define LOG_VMODULE_MAX	32

/* One --vmodule item. */
struct log_vmod {
	char	 pattern[128];
	int	 level;
};

/*
 * Worker threads log too: log_mtx guards the outputs and the options
 * (a reload changes them on the main loop); log_vmax, read before every
 * log_v(), is read and written atomically instead.
 */
static pthread_mutex_t	log_mtx = PTHREAD_MUTEX_INITIALIZER;
static int		log_verbose;	/* -v */
static int		log_vmax;	/* max(-v, --vmodule levels) */
static long		log_pid;
static struct log_opts	log_o = {
	.logtostderr = 1, .stderrthreshold = LOG_SEV_ERROR,
	.file_max_mb = 1800,
};
static int		log_fd = -1;	/* --log-file */
static uint64_t		log_fd_bytes;
static struct log_vmod	log_vmods[LOG_VMODULE_MAX];
static int		log_nvmods;

/* Send libevent's own messages through our loggers. */
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
	log_setverbose(verbosity);
	log_pid = (long)getpid();
	event_set_log_callback(log_event_cb);
	tzset();
}

/* Recompute the highest level any file logs at. */
static void
log_vmax_update(void)
{
	int	i, m;

	m = log_verbose;
	for (i = 0; i < log_nvmods; i++)
		if (log_vmods[i].level > m)
			m = log_vmods[i].level;
	__atomic_store_n(&log_vmax, m, __ATOMIC_RELAXED);
}

/* Change the verbosity. */
void
log_setverbose(int verbosity)
{
	pthread_mutex_lock(&log_mtx);
	log_verbose = verbosity;
	log_vmax_update();
	pthread_mutex_unlock(&log_mtx);
}

/* Return the highest verbosity of any file. */
int
log_getverbose(void)
{
	return (__atomic_load_n(&log_vmax, __ATOMIC_RELAXED));
}

/* Fill o with klog's defaults (klog.go init()). */
void
log_opts_init(struct log_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->logtostderr = 1;
	o->stderrthreshold = LOG_SEV_ERROR;
	o->file_max_mb = 1800;
}

/* Parse --vmodule into v (may be NULL: only check); count in *n. */
static int
log_vmodule_parse(const char *val, struct log_vmod *v, int *n, char *err,
    size_t errlen)
{
	const char	*p = val, *eq, *end;
	char		*lend;
	long		 lv;

	*n = 0;
	while (*p != '\0') {
		end = p + strcspn(p, ",");
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq == NULL || eq == p || eq + 1 == end)
			goto syntax;
		errno = 0;
		lv = strtol(eq + 1, &lend, 10);
		if (lend != end || errno != 0 || lv < 0 || lv > 100 ||
		    !isdigit((unsigned char)eq[1]))
			goto syntax;
		if (*n == LOG_VMODULE_MAX ||
		    (size_t)(eq - p) >= sizeof(v->pattern)) {
			snprintf(err, errlen, "--vmodule: too many or too long "
			    "patterns in \"%s\"", val);
			return (-1);
		}
		if (v != NULL) {
			memcpy(v[*n].pattern, p, (size_t)(eq - p));
			v[*n].pattern[eq - p] = '\0';
			v[*n].level = (int)lv;
		}
		(*n)++;
		p = *end == ',' ? end + 1 : end;
	}
	return (0);

syntax:
	snprintf(err, errlen, "--vmodule: \"%.*s\": expect comma-separated "
	    "list of filename=N", (int)(end - p), p);
	return (-1);
}

/* Check and keep a --vmodule value. */
int
log_opts_vmodule(struct log_opts *o, const char *val, char *err,
    size_t errlen)
{
	int	n;

	if (strlen(val) >= sizeof(o->vmodule)) {
		snprintf(err, errlen, "--vmodule: value too long");
		return (-1);
	}
	if (log_vmodule_parse(val, NULL, &n, err, errlen) == -1)
		return (-1);
	snprintf(o->vmodule, sizeof(o->vmodule), "%s", val);
	return (0);
}

/* Parse --stderrthreshold as klog's severity.Set() does. */
int
log_opts_threshold(struct log_opts *o, const char *val, char *err,
    size_t errlen)
{
	static const char *const names[] = { "INFO", "WARNING", "ERROR",
	    "FATAL" };
	char	*end;
	long	 v;
	int	 i;

	for (i = 0; i < 4; i++)
		if (strcasecmp(val, names[i]) == 0) {
			o->stderrthreshold = i;
			return (0);
		}
	/* Else strconv.ParseInt(value, 10, 32), any value. */
	errno = 0;
	v = strtol(val, &end, 10);
	if (*val == '\0' || isspace((unsigned char)*val) || *end != '\0' ||
	    errno != 0 || v < INT32_MIN || v > INT32_MAX) {
		snprintf(err, errlen, "--stderrthreshold: \"%s\" is not one of "
		    "INFO, WARNING, ERROR, FATAL or an integer", val);
		return (-1);
	}
	o->stderrthreshold = v;
	return (0);
}

/* Write all of iov to fd; a failed log write is dropped. */
static void
log_writev(int fd, struct iovec *iov, int n)
{
	ssize_t	w;

	while (n > 0) {
		if ((w = writev(fd, iov, n)) == -1) {
			if (errno == EINTR)
				continue;
			return;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
}

/* Write klog's file header (klog's rotateFile()) unless skip. */
static void
log_file_header(int fd, int skip)
{
	char		 buf[512], host[256];
	struct tm	 tm;
	struct iovec	 iov;
	time_t		 now = time(NULL);
	int		 n;

	if (skip)
		return;
	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "unknownhost");
	host[strcspn(host, ".")] = '\0';
	localtime_r(&now, &tm);
	n = snprintf(buf, sizeof(buf), "Log file created at: "
	    "%04d/%02d/%02d %02d:%02d:%02d\nRunning on machine: %s\n"
	    "Binary: kuproxy %s (C) for linux\nLog line format: "
	    "[IWEF]mmdd hh:mm:ss.uuuuuu threadid file:line] msg\n",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, host, PACKAGE_VERSION);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return;
	iov.iov_base = buf;
	iov.iov_len = (size_t)n;
	log_writev(fd, &iov, 1);
	log_fd_bytes += (uint64_t)n;
}

/*
 * Open the log file: appending at start-up, truncated when it reaches
 * --log-file-max-size (klog v2's openOrCreate() then os.Create()).
 */
static int
log_file_open(const char *path, int startup, int skip_header)
{
	struct stat	st;
	int		fd, flags = O_WRONLY | O_CREAT | O_CLOEXEC;

	flags |= startup ? O_APPEND : O_TRUNC;
	if ((fd = open(path, flags, 0666)) == -1)
		return (-1);
	log_fd_bytes = 0;
	if (startup && fstat(fd, &st) == 0)
		log_fd_bytes = (uint64_t)st.st_size;
	log_file_header(fd, skip_header);
	return (fd);
}

/* Apply o. */
int
log_configure(const struct log_opts *o, char *err, size_t errlen)
{
	struct log_vmod	vm[LOG_VMODULE_MAX];
	int		fd = -1, n, saved = errno;

	if (log_vmodule_parse(o->vmodule, vm, &n, err, errlen) == -1)
		return (-1);
	if (!o->logtostderr && o->file[0] != '\0') {
		if ((fd = log_file_open(o->file, 1,
		    o->skip_log_headers)) == -1) {
			snprintf(err, errlen, "--log-file: %s: %s", o->file,
			    strerror(errno));
			errno = saved;
			return (-1);
		}
	}
	pthread_mutex_lock(&log_mtx);
	if (log_fd != -1)
		close(log_fd);
	log_fd = fd;
	log_o = *o;
	memcpy(log_vmods, vm, sizeof(vm));
	log_nvmods = n;
	log_vmax_update();
	pthread_mutex_unlock(&log_mtx);
	errno = saved;
	return (0);
}

/* Write n decimal digits of d at p, padded on the left with pad. */
static void
log_digits(char *p, int n, long d, char pad)
{
	int	j;

	for (j = n - 1; j >= 0 && d > 0; j--) {
		p[j] = (char)('0' + d % 10);
		d /= 10;
	}
	for (; j >= 0; j--)
		p[j] = pad;
}

/* Return the part of file klog shows: base name, or dir/base (header()). */
static const char *
log_file_part(const char *file, int dirs)
{
	const char	*slash, *s;

	if (file == NULL || *file == '\0')
		return ("???");
	if ((slash = strrchr(file, '/')) == NULL)
		return (file);
	if (dirs)
		for (s = slash - 1; s >= file; s--)
			if (*s == '/')
				return (s + 1);
	return (slash + 1);
}

/* Format klog's header (klog v2 formatHeader(), byte for byte). */
size_t
log_format_header(char *buf, size_t size, enum log_severity sev,
    const struct timespec *ts, long pid, const char *file, int line,
    int dirs)
{
	static const char sevc[] = "IWEF";
	char		 tmp[32];
	struct tm	 tm;
	int		 n;

	if ((unsigned)sev > LOG_SEV_FATAL)
		sev = LOG_SEV_INFO;
	if (line < 0)
		line = 0;
	localtime_r(&ts->tv_sec, &tm);
	tmp[0] = sevc[sev];
	log_digits(tmp + 1, 2, tm.tm_mon + 1, '0');
	log_digits(tmp + 3, 2, tm.tm_mday, '0');
	tmp[5] = ' ';
	log_digits(tmp + 6, 2, tm.tm_hour, '0');
	tmp[8] = ':';
	log_digits(tmp + 9, 2, tm.tm_min, '0');
	tmp[11] = ':';
	log_digits(tmp + 12, 2, tm.tm_sec, '0');
	tmp[14] = '.';
	log_digits(tmp + 15, 6, ts->tv_nsec / 1000, '0');
	tmp[21] = ' ';
	log_digits(tmp + 22, 7, pid, ' ');
	tmp[29] = ' ';
	tmp[30] = '\0';
	n = snprintf(buf, size, "%s%s:%d] ", tmp, log_file_part(file, dirs),
	    line);
	if (n < 0)
		return (0);
	return ((size_t)n < size ? (size_t)n : size - 1);
}

/* Match a --vmodule pattern against file's base name without ".c". */
int
log_v_enabled(const char *file, int level)
{
	char		 base[128];
	const char	*b;
	size_t		 n;
	int		 i, rv = 0;

	b = log_file_part(file, 0);
	n = strlen(b);
	if (n > 2 && strcmp(b + n - 2, ".c") == 0)
		n -= 2;
	if (n >= sizeof(base))
		n = sizeof(base) - 1;
	memcpy(base, b, n);
	base[n] = '\0';
	pthread_mutex_lock(&log_mtx);
	if (log_verbose >= level)
		rv = 1;
	else
		for (i = 0; i < log_nvmods; i++)
			if (fnmatch(log_vmods[i].pattern, base, 0) == 0) {
				rv = log_vmods[i].level >= level;
				break;
			}
	pthread_mutex_unlock(&log_mtx);
	return (rv);
}

/* Write one formatted line to the outputs klog's output() picks. */
static void
log_output(enum log_severity sev, struct iovec *iov, int n)
{
	struct iovec	 copy[5];
	size_t		 len = 0;
	int		 i;

	if (log_o.logtostderr || log_fd == -1) {
		log_writev(STDERR_FILENO, iov, n);
		return;
	}
	for (i = 0; i < n; i++)
		len += iov[i].iov_len;
	if (log_o.alsologtostderr || (long)sev >= log_o.stderrthreshold) {
		memcpy(copy, iov, (size_t)n * sizeof(*iov));
		log_writev(STDERR_FILENO, copy, n);
	}
	if (log_o.file_max_mb != 0 &&
	    log_fd_bytes + len >= log_o.file_max_mb * 1024 * 1024) {
		close(log_fd);
		if ((log_fd = log_file_open(log_o.file, 0,
		    log_o.skip_log_headers)) == -1)
			return;
	}
	log_writev(log_fd, iov, n);
	log_fd_bytes += len;
}

/* Format and write one line. */
static void
log_vemit(enum log_severity sev, const char *file, int line, int err,
    const char *fmt, va_list ap)
{
	struct timespec	 ts;
	struct iovec	 iov[5];
	char		 hdr[256], msg[1024], *big = NULL, *m = msg;
	char		 ebuf[128];
	va_list		 ap2;
	int		 len, n = 0, saved = errno;

	if (log_pid == 0)
		log_pid = (long)getpid();
	va_copy(ap2, ap);
	len = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (len < 0)
		len = 0;
	else if ((size_t)len >= sizeof(msg)) {
		if ((big = malloc((size_t)len + 1)) != NULL) {
			vsnprintf(big, (size_t)len + 1, fmt, ap2);
			m = big;
		} else
			len = sizeof(msg) - 1;
	}
	va_end(ap2);
	pthread_mutex_lock(&log_mtx);
	if (!log_o.skip_headers) {
		clock_gettime(CLOCK_REALTIME, &ts);
		iov[n].iov_base = hdr;
		iov[n++].iov_len = log_format_header(hdr, sizeof(hdr), sev,
		    &ts, log_pid, file, line, log_o.add_dir_header);
	}
	iov[n].iov_base = m;
	iov[n++].iov_len = (size_t)len;
	if (err != -1) {
		iov[n].iov_base = (char *)": ";
		iov[n++].iov_len = 2;
		iov[n].iov_base = strerror_r(err, ebuf, sizeof(ebuf));
		iov[n].iov_len = strlen(iov[n].iov_base);
		n++;
	}
	/* klog adds the newline only if the message lacks one. */
	if (err != -1 || len == 0 || m[len - 1] != '\n') {
		iov[n].iov_base = (char *)"\n";
		iov[n++].iov_len = 1;
	}
	log_output(sev, iov, n);
	pthread_mutex_unlock(&log_mtx);
	free(big);
	errno = saved;
}

/* Log one line. */
void
log_emit(enum log_severity sev, const char *file, int line, int with_errno,
    const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vemit(sev, file, line, with_errno ? saved : -1, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* Log one FATAL line and exit(1). */
void
log_fatal(const char *file, int line, int with_errno, const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vemit(LOG_SEV_FATAL, file, line, with_errno ? saved : -1, fmt,
	    ap);
	va_end(ap);
	exit(1);
}

/* Allow one line per LOG_RATELIMIT_MS, counting those held back. */
int
log_ratelimit_allow(struct log_ratelimit *rl, uint64_t now_ms,
    unsigned long *suppressed)
{
	if (rl->primed && now_ms - rl->last_ms < LOG_RATELIMIT_MS) {
		rl->suppressed++;
		return (0);
	}
	*suppressed = rl->suppressed;
	rl->suppressed = 0;
	rl->last_ms = now_ms;
	rl->primed = 1;
	return (1);
}

/* Describe the lines a rate limit held back. */
const char *
log_ratelimit_note(unsigned long suppressed, char *buf, size_t size)
{
	if (suppressed == 0 || size == 0)
		return ("");
	snprintf(buf, size, " (%lu similar lines not logged)", suppressed);
	return (buf);
}
