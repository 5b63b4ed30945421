/*
 * test_log.c: log.c's klog line format (byte for byte against klog v2's
 * formatHeader()), verbosity and --vmodule, klog's output flags and the
 * rate limit of repeated error lines.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "tu.h"

/* klog's header, as the integration tests check it too. */
#define KLOG_RE	"^([IWEF])([0-9]{2})([0-9]{2}) ([0-9]{2}):([0-9]{2}):" \
		"([0-9]{2})\\.([0-9]{6}) ([ 0-9]{7}) ([^ :]+):([0-9]+)\\] (.*)$"

static struct tu_capture	cap;
static int			evaluated;

/* A log argument that counts its evaluations. */
static const char *
arg(void)
{
	evaluated++;
	return ("x");
}

/* Return 2026-12-02 01:02:03 UTC (TZ is UTC in main()). */
static struct timespec
ts_fixed(long nsec)
{
	struct tm	tm = { .tm_year = 126, .tm_mon = 11, .tm_mday = 2,
	    .tm_hour = 1, .tm_min = 2, .tm_sec = 3 };
	struct timespec	ts;

	ts.tv_sec = timegm(&tm);
	ts.tv_nsec = nsec;
	return (ts);
}

/* Return the header for the given fields. */
static const char *
hdr(enum log_severity sev, long nsec, long pid, const char *file, int line,
    int dirs)
{
	static char	buf[256];
	struct timespec	ts = ts_fixed(nsec);
	size_t		n;

	n = log_format_header(buf, sizeof(buf), sev, &ts, pid, file, line,
	    dirs);
	CU_ASSERT_EQUAL(n, strlen(buf));
	return (buf);
}

/* The header is klog's, byte for byte. */
static void
test_log_header_format(void)
{
	CU_ASSERT_STRING_EQUAL(hdr(LOG_SEV_INFO, 123456789, 1234,
	    "proxier.c", 42, 0),
	    "I1202 01:02:03.123456    1234 proxier.c:42] ");
	CU_ASSERT_STRING_EQUAL(hdr(LOG_SEV_WARNING, 999, 1, "a.c", 7, 0),
	    "W1202 01:02:03.000000       1 a.c:7] ");
	CU_ASSERT_STRING_EQUAL(hdr(LOG_SEV_ERROR, 999999999, 4194304,
	    "../src/proxy_tcp.c", 100000, 0),
	    "E1202 01:02:03.999999 4194304 proxy_tcp.c:100000] ");
	/* nDigits() keeps the low 7 digits of a longer pid. */
	CU_ASSERT_STRING_EQUAL(hdr(LOG_SEV_FATAL, 0, 123456789, "b.c", 1, 0),
	    "F1202 01:02:03.000000 3456789 b.c:1] ");
	/* --add-dir-header: the last directory too. */
	CU_ASSERT_STRING_EQUAL(hdr(LOG_SEV_INFO, 0, 5, "../src/lb.c", 3, 1),
	    "I1202 01:02:03.000000       5 src/lb.c:3] ");
	CU_ASSERT_STRING_EQUAL(hdr(LOG_SEV_INFO, 0, 5, "lb.c", 3, 1),
	    "I1202 01:02:03.000000       5 lb.c:3] ");
	/* klog's fallbacks: "???" and line 0. */
	CU_ASSERT_STRING_EQUAL(hdr(LOG_SEV_INFO, 0, 5, "", -4, 0),
	    "I1202 01:02:03.000000       5 ???:0] ");
	CU_ASSERT_STRING_EQUAL(hdr((enum log_severity)9, 0, 5, "c.c", 2, 0),
	    "I1202 01:02:03.000000       5 c.c:2] ");
}

/* Match line against KLOG_RE; fill m. */
static int
klog_match(const char *line, regmatch_t *m, size_t nm)
{
	regex_t	re;
	int	rv;

	CU_ASSERT_FATAL(regcomp(&re, KLOG_RE, REG_EXTENDED | REG_NEWLINE) ==
	    0);
	rv = regexec(&re, line, nm, m, 0);
	regfree(&re);
	return (rv == 0);
}

/* Copy match i of s into buf. */
static const char *
sub(const char *s, const regmatch_t *m, int i, char *buf, size_t size)
{
	snprintf(buf, size, "%.*s", (int)(m[i].rm_eo - m[i].rm_so),
	    s + m[i].rm_so);
	return (buf);
}

/* The loggers write one klog line with this file, line and pid. */
static void
test_log_line_real(void)
{
	regmatch_t	 m[12];
	char		*out, buf[64], want[64];
	int		 line;

	tu_capture_begin(&cap, 2);
	errno = ENOENT;
	line = __LINE__ + 1;
	log_warn("open %s", "/x");
	CU_ASSERT_EQUAL(errno, ENOENT);
	out = tu_capture_end(&cap);
	CU_ASSERT_FATAL(klog_match(out, m, 12));
	CU_ASSERT_STRING_EQUAL(sub(out, m, 1, buf, sizeof(buf)), "W");
	snprintf(want, sizeof(want), "%7ld", (long)getpid());
	CU_ASSERT_STRING_EQUAL(sub(out, m, 8, buf, sizeof(buf)), want);
	CU_ASSERT_STRING_EQUAL(sub(out, m, 9, buf, sizeof(buf)),
	    "test_log.c");
	snprintf(want, sizeof(want), "%d", line);
	CU_ASSERT_STRING_EQUAL(sub(out, m, 10, buf, sizeof(buf)), want);
	snprintf(want, sizeof(want), "open /x: %s\n", strerror(ENOENT));
	CU_ASSERT_STRING_EQUAL(out + m[11].rm_so, want);
	free(out);

	tu_capture_begin(&cap, 2);
	log_info("a");
	log_errorx("b %d", 2);
	log_warnx("c");
	out = tu_capture_end(&cap);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "] a\nE"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "] b 2\nW"));
	CU_ASSERT_EQUAL(out[strlen(out) - 1], '\n');
	CU_ASSERT_EQUAL(out[0], 'I');
	free(out);
}

/* A message longer than the stack buffer is written whole. */
static void
test_log_long_line(void)
{
	char	*big, *out;

	big = malloc(5000);
	CU_ASSERT_FATAL(big != NULL);
	memset(big, 'y', 4999);
	big[4999] = '\0';
	tu_capture_begin(&cap, 2);
	log_info("<%s>", big);
	out = tu_capture_end(&cap);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "] <"));
	CU_ASSERT_EQUAL(strlen(strstr(out, "] <")), 2 + 1 + 4999 + 2);
	free(out);
	free(big);
}

/* log_v(N) prints at -v N and above, and costs no argument below. */
static void
test_log_verbosity(void)
{
	char	*out;

	evaluated = 0;
	log_setverbose(2);
	tu_capture_begin(&cap, 2);
	log_v(3, "three %s", arg());
	log_debug("two %s", arg());
	log_v(4, "four %s", arg());
	out = tu_capture_end(&cap);
	CU_ASSERT_EQUAL(evaluated, 1);
	CU_ASSERT_PTR_NULL(strstr(out, "three"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "] two x\n"));
	free(out);

	log_setverbose(4);
	tu_capture_begin(&cap, 2);
	log_v(3, "three %s", arg());
	log_v(4, "four %s", arg());
	out = tu_capture_end(&cap);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "] three x\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "] four x\n"));
	free(out);

	log_setverbose(0);
	tu_capture_begin(&cap, 2);
	log_debug("two");
	out = tu_capture_end(&cap);
	CU_ASSERT_STRING_EQUAL(out, "");
	free(out);
}

/* Apply opts, asserting success. */
static void
configure(const struct log_opts *o)
{
	char	err[256];

	CU_ASSERT_EQUAL_FATAL(log_configure(o, err, sizeof(err)), 0);
}

/* --vmodule raises the level of the files it names, and only theirs. */
static void
test_log_vmodule(void)
{
	struct log_opts	 o;
	char		*out, err[256];

	log_opts_init(&o);
	CU_ASSERT_EQUAL(log_opts_vmodule(&o, "proxy_*=5,test_l?g=3", err,
	    sizeof(err)), 0);
	configure(&o);
	CU_ASSERT_EQUAL(log_getverbose(), 5);
	CU_ASSERT(log_v_enabled("../src/proxy_tcp.c", 5));
	CU_ASSERT_FALSE(log_v_enabled("../src/proxy_tcp.c", 6));
	CU_ASSERT_FALSE(log_v_enabled("src/lb.c", 1));
	CU_ASSERT(log_v_enabled("src/lb.c", 0));
	tu_capture_begin(&cap, 2);
	log_v(3, "three");
	log_v(4, "four");
	out = tu_capture_end(&cap);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "] three\n"));
	CU_ASSERT_PTR_NULL(strstr(out, "four"));
	free(out);
	log_opts_init(&o);
	configure(&o);
	CU_ASSERT_EQUAL(log_getverbose(), 0);
}

/* --skip-headers: the message alone. */
static void
test_log_skip_headers(void)
{
	struct log_opts	 o;
	char		*out;

	log_opts_init(&o);
	o.skip_headers = 1;
	configure(&o);
	tu_capture_begin(&cap, 2);
	log_warnx("bare %d", 1);
	out = tu_capture_end(&cap);
	CU_ASSERT_STRING_EQUAL(out, "bare 1\n");
	free(out);
	log_opts_init(&o);
	configure(&o);
}

/* Read a whole file into a new string. */
static char *
slurp(const char *path)
{
	struct stat	 st;
	char		*buf;
	int		 fd;

	if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &st) == -1)
		return (NULL);
	buf = calloc(1, (size_t)st.st_size + 1);
	if (buf != NULL && read(fd, buf, (size_t)st.st_size) != st.st_size) {
		free(buf);
		buf = NULL;
	}
	close(fd);
	return (buf);
}

/*
 * --logtostderr=false --log-file: every line to the file (after klog's
 * four header lines), lines at --stderrthreshold or worse to stderr too.
 */
static void
test_log_file(void)
{
	struct log_opts	 o;
	char		 path[] = "/tmp/kuproxy-test.logXXXXXX", err[256];
	char		*out, *file;
	int		 fd;

	CU_ASSERT_FATAL((fd = mkstemp(path)) != -1);
	CU_ASSERT(write(fd, "old line\n", 9) == 9);
	close(fd);
	log_opts_init(&o);
	o.logtostderr = 0;
	snprintf(o.file, sizeof(o.file), "%s", path);
	configure(&o);
	tu_capture_begin(&cap, 2);
	log_info("to the file");
	log_warnx("a warning");
	log_errorx("an error");
	out = tu_capture_end(&cap);
	file = slurp(path);
	CU_ASSERT_FATAL(file != NULL);
	/* Appended at start-up, as klog's openOrCreate(startup). */
	CU_ASSERT_EQUAL(strncmp(file, "old line\nLog file created at: ", 30),
	    0);
	CU_ASSERT_PTR_NOT_NULL(strstr(file, "\nLog line format: [IWEF]mmdd "
	    "hh:mm:ss.uuuuuu threadid file:line] msg\nI"));
	CU_ASSERT_PTR_NOT_NULL(strstr(file, "] to the file\nW"));
	CU_ASSERT_PTR_NOT_NULL(strstr(file, "] a warning\nE"));
	CU_ASSERT_PTR_NOT_NULL(strstr(file, "] an error\n"));
	CU_ASSERT_PTR_NULL(strstr(out, "to the file"));
	CU_ASSERT_PTR_NULL(strstr(out, "a warning"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "] an error\n"));
	free(out);
	free(file);

	/* --alsologtostderr; --skip-log-headers; a bad path. */
	o.alsologtostderr = 1;
	o.skip_log_headers = 1;
	CU_ASSERT(truncate(path, 0) == 0);
	configure(&o);
	tu_capture_begin(&cap, 2);
	log_info("both");
	out = tu_capture_end(&cap);
	file = slurp(path);
	CU_ASSERT_FATAL(file != NULL);
	CU_ASSERT_EQUAL(file[0], 'I');
	CU_ASSERT_PTR_NOT_NULL(strstr(file, "] both\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "] both\n"));
	free(out);
	free(file);
	snprintf(o.file, sizeof(o.file), "/nonexistent/dir/kuproxy.log");
	CU_ASSERT_EQUAL(log_configure(&o, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "--log-file: /nonexistent/dir/"
	    "kuproxy.log: "));
	log_opts_init(&o);
	configure(&o);
	unlink(path);
}

/* --log-file-max-size: the file starts afresh, as klog v2's does. */
static void
test_log_file_max_size(void)
{
	struct log_opts	 o;
	struct stat	 st;
	char		 path[] = "/tmp/kuproxy-test.logXXXXXX", line[1000];
	char		*file;
	int		 fd, i;

	CU_ASSERT_FATAL((fd = mkstemp(path)) != -1);
	close(fd);
	memset(line, 'z', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	log_opts_init(&o);
	o.logtostderr = 0;
	o.file_max_mb = 1;
	snprintf(o.file, sizeof(o.file), "%s", path);
	configure(&o);
	for (i = 0; i < 1100; i++)
		log_info("%d %s", i, line);
	CU_ASSERT_FATAL(stat(path, &st) == 0);
	CU_ASSERT(st.st_size < 1024 * 1024);
	file = slurp(path);
	CU_ASSERT_FATAL(file != NULL);
	CU_ASSERT_EQUAL(strncmp(file, "Log file created at: ", 21), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(file, "] 1099 zzz"));
	CU_ASSERT_PTR_NULL(strstr(file, "] 0 zzz"));
	free(file);
	log_opts_init(&o);
	configure(&o);
	unlink(path);
}

/* --stderrthreshold takes names in any case or numbers. */
static void
test_log_threshold(void)
{
	struct log_opts	o;
	char		err[256];

	log_opts_init(&o);
	CU_ASSERT_EQUAL(o.stderrthreshold, LOG_SEV_ERROR);
	CU_ASSERT_EQUAL(log_opts_threshold(&o, "info", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(o.stderrthreshold, LOG_SEV_INFO);
	CU_ASSERT_EQUAL(log_opts_threshold(&o, "3", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(o.stderrthreshold, LOG_SEV_FATAL);
	CU_ASSERT_EQUAL(log_opts_threshold(&o, "Warning", err, sizeof(err)),
	    0);
	CU_ASSERT_EQUAL(o.stderrthreshold, LOG_SEV_WARNING);
	/* klog takes any integer, as strconv.ParseInt does. */
	CU_ASSERT_EQUAL(log_opts_threshold(&o, "03", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(o.stderrthreshold, 3);
	CU_ASSERT_EQUAL(log_opts_threshold(&o, "-1", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(o.stderrthreshold, -1);
	CU_ASSERT_EQUAL(log_opts_threshold(&o, "Warning", err, sizeof(err)),
	    0);
	CU_ASSERT_EQUAL(log_opts_threshold(&o, "", err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(log_opts_threshold(&o, "1.5", err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(log_opts_threshold(&o, "SEVERE", err, sizeof(err)),
	    -1);
	CU_ASSERT_STRING_EQUAL(err, "--stderrthreshold: \"SEVERE\" is not "
	    "one of INFO, WARNING, ERROR, FATAL or an integer");
	CU_ASSERT_EQUAL(o.stderrthreshold, LOG_SEV_WARNING);
}

/* One line a second, then the count of those held back. */
static void
test_log_ratelimit(void)
{
	struct log_ratelimit	rl = { 0 };
	unsigned long		n = 99;
	char			buf[64];

	CU_ASSERT_EQUAL(log_ratelimit_allow(&rl, 0, &n), 1);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_STRING_EQUAL(log_ratelimit_note(n, buf, sizeof(buf)), "");
	CU_ASSERT_EQUAL(log_ratelimit_allow(&rl, 1, &n), 0);
	CU_ASSERT_EQUAL(log_ratelimit_allow(&rl, 500, &n), 0);
	CU_ASSERT_EQUAL(log_ratelimit_allow(&rl, 999, &n), 0);
	CU_ASSERT_EQUAL(log_ratelimit_allow(&rl, 1000, &n), 1);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_STRING_EQUAL(log_ratelimit_note(n, buf, sizeof(buf)),
	    " (3 similar lines not logged)");
	CU_ASSERT_EQUAL(log_ratelimit_allow(&rl, 1999, &n), 0);
	CU_ASSERT_EQUAL(log_ratelimit_allow(&rl, 60000, &n), 1);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(log_ratelimit_allow(&rl, 61000, &n), 1);
	CU_ASSERT_EQUAL(n, 0);
}

static const struct tu_case cases[] = {
	{ "header format", test_log_header_format },
	{ "line from the loggers", test_log_line_real },
	{ "long line", test_log_long_line },
	{ "verbosity", test_log_verbosity },
	{ "vmodule", test_log_vmodule },
	{ "skip headers", test_log_skip_headers },
	{ "log file", test_log_file },
	{ "log file max size", test_log_file_max_size },
	{ "stderr threshold", test_log_threshold },
	{ "rate limit", test_log_ratelimit },
	{ NULL, NULL }
};

/* Run the suite in UTC, so that the fixed times print as written. */
int
main(void)
{
	setenv("TZ", "UTC", 1);
	log_init(0);
	return (tu_run("log", cases));
}
