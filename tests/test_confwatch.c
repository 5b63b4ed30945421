/*
 * test_confwatch.c: the --config watcher on a real event loop, in a
 * temporary directory laid out as the kubelet lays out a ConfigMap
 * volume (FILE -> ..data/FILE, ..data -> ..TIMESTAMP), with its update
 * done step by step as the kubelet's atomic writer does it; plus an
 * in-place write through the symlink, a touch, a rewrite with the same
 * bytes, a burst of writes, an editor's rename, and the pure event
 * filter.  No root needed.
 */
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "confwatch.h"
#include "log.h"
#include "tu.h"

struct cw_seen {
	struct event_base	*base;
	int			 calls;
	char			 last[256];
};

static char	cw_dir[64];

/* The observer: count and keep the content; end the loop run. */
static void
cw_changed(void *arg, const char *buf, size_t len)
{
	struct cw_seen	*s = arg;

	s->calls++;
	snprintf(s->last, sizeof(s->last), "%.*s", (int)len, buf);
	event_base_loopbreak(s->base);
}

/* Run the loop for at most ms (less if the observer is called). */
static void
cw_run(struct event_base *base, int ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Run the loop until the observer has been called want times (3 s). */
static void
cw_wait(struct cw_seen *s, int want)
{
	int	i;

	for (i = 0; i < 30 && s->calls < want; i++)
		cw_run(s->base, 100);
}

/* Write s to dir/name (relative to cw_dir), truncating in place. */
static void
cw_put(const char *name, const char *s)
{
	char	path[256];
	int	fd;

	snprintf(path, sizeof(path), "%s/%s", cw_dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CU_ASSERT_FATAL(fd != -1);
	CU_ASSERT_EQUAL(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	close(fd);
}

/* Run a shell command in cw_dir (the test's own temporary dir). */
static void
cw_sh(const char *cmd)
{
	char	buf[512];

	snprintf(buf, sizeof(buf), "cd '%s' && %s", cw_dir, cmd);
	CU_ASSERT_EQUAL(system(buf), 0);
}

/* Make a fresh temporary directory. */
static void
cw_mkdir(void)
{
	snprintf(cw_dir, sizeof(cw_dir), "/tmp/kpr-cw-XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(cw_dir));
}

/* Watch cw_dir/name; the test stops if it cannot. */
static struct confwatch *
cw_watch(struct cw_seen *s, const char *name)
{
	struct confwatch_observer	 obs = { cw_changed, s };
	struct confwatch		*cw;
	char				 path[256], err[256];

	snprintf(path, sizeof(path), "%s/%s", cw_dir, name);
	cw = confwatch_new(s->base, path, 1 << 20, &obs, err, sizeof(err));
	if (cw == NULL)
		fprintf(stderr, "confwatch_new: %s\n", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cw);
	return (cw);
}

/* The kubelet's ..data swap is seen; touches and same bytes are not. */
static void
test_confwatch_data_swap(void)
{
	struct cw_seen		 s;
	struct confwatch	*cw;

	memset(&s, 0, sizeof(s));
	s.base = event_base_new();
	cw_mkdir();
	cw_sh("mkdir ..2026_01_01_00_00_00.1 && "
	    "echo 'a: 1' > ..2026_01_01_00_00_00.1/config.conf && "
	    "ln -s ..2026_01_01_00_00_00.1 ..data && "
	    "ln -s ..data/config.conf config.conf");
	cw = cw_watch(&s, "config.conf");
	cw_run(s.base, 300);
	CU_ASSERT_EQUAL(s.calls, 0);

	/* The atomic writer: new dir, ..data_tmp, rename, remove the old. */
	cw_sh("mkdir ..2026_01_01_00_01_00.2 && "
	    "echo 'a: 2' > ..2026_01_01_00_01_00.2/config.conf && "
	    "ln -s ..2026_01_01_00_01_00.2 ..data_tmp && "
	    "mv -T ..data_tmp ..data && rm -rf ..2026_01_01_00_00_00.1");
	cw_wait(&s, 1);
	CU_ASSERT_EQUAL(s.calls, 1);
	CU_ASSERT_STRING_EQUAL(s.last, "a: 2\n");

	/* A touch, then the same bytes rewritten in place: nothing. */
	cw_sh("touch config.conf");
	cw_put("..data/config.conf", "a: 2\n");
	cw_run(s.base, 600);
	CU_ASSERT_EQUAL(s.calls, 1);

	/* An in-place write through the symlink (the resolved dir's watch). */
	cw_put("config.conf", "a: 3\n");
	cw_wait(&s, 2);
	CU_ASSERT_EQUAL(s.calls, 2);
	CU_ASSERT_STRING_EQUAL(s.last, "a: 3\n");

	/* A second swap: the watch follows the new ..TIMESTAMP dir. */
	cw_sh("mkdir ..2026_01_01_00_02_00.3 && "
	    "echo 'a: 4' > ..2026_01_01_00_02_00.3/config.conf && "
	    "ln -s ..2026_01_01_00_02_00.3 ..data_tmp && "
	    "mv -T ..data_tmp ..data && rm -rf ..2026_01_01_00_01_00.2");
	cw_wait(&s, 3);
	CU_ASSERT_STRING_EQUAL(s.last, "a: 4\n");
	cw_put("config.conf", "a: 5\n");
	cw_wait(&s, 4);
	CU_ASSERT_EQUAL(s.calls, 4);
	CU_ASSERT_STRING_EQUAL(s.last, "a: 5\n");

	confwatch_free(cw);
	event_base_free(s.base);
	cw_sh("rm -rf ..2026_* ..data config.conf");
	rmdir(cw_dir);
}

/* A plain file: a burst of writes is one read; an editor's rename too. */
static void
test_confwatch_plain(void)
{
	struct cw_seen		 s;
	struct confwatch	*cw;
	char			 buf[32];
	int			 i;

	memset(&s, 0, sizeof(s));
	s.base = event_base_new();
	cw_mkdir();
	cw_put("kp.yaml", "x: 0\n");
	cw = cw_watch(&s, "kp.yaml");
	/* Written before the loop runs: all queued, one debounced read. */
	for (i = 1; i <= 5; i++) {
		snprintf(buf, sizeof(buf), "x: %d\n", i);
		cw_put("kp.yaml", buf);
	}
	cw_wait(&s, 1);
	cw_run(s.base, 400);
	CU_ASSERT_EQUAL(s.calls, 1);
	CU_ASSERT_STRING_EQUAL(s.last, "x: 5\n");

	/* Another file of the directory changing: not read. */
	cw_put("other.yaml", "y: 1\n");
	cw_run(s.base, 400);
	CU_ASSERT_EQUAL(s.calls, 1);

	/* An editor: write aside, rename over. */
	cw_put("kp.yaml.tmp", "x: 6\n");
	cw_sh("mv kp.yaml.tmp kp.yaml");
	cw_wait(&s, 2);
	CU_ASSERT_EQUAL(s.calls, 2);
	CU_ASSERT_STRING_EQUAL(s.last, "x: 6\n");

	/* A forced check (SIGHUP) calls the observer even if unchanged. */
	CU_ASSERT_EQUAL(confwatch_check(cw, 0), 0);
	CU_ASSERT_EQUAL(confwatch_check(cw, 1), 1);
	CU_ASSERT_EQUAL(s.calls, 3);

	/* Gone: -1, the last content kept, then back with new content. */
	cw_sh("rm kp.yaml");
	CU_ASSERT_EQUAL(confwatch_check(cw, 0), -1);
	cw_put("kp.yaml", "x: 7\n");
	cw_wait(&s, 4);
	CU_ASSERT_EQUAL(s.calls, 4);
	CU_ASSERT_STRING_EQUAL(s.last, "x: 7\n");

	/*
	 * The directory itself removed and made again (its watch is gone:
	 * IN_IGNORED): the poll sees the new file and the watch is added
	 * again, so a later in-place write is seen at once.
	 */
	cw_sh("rm -f kp.yaml other.yaml");
	CU_ASSERT_EQUAL(rmdir(cw_dir), 0);
	CU_ASSERT_EQUAL(mkdir(cw_dir, 0700), 0);
	cw_put("kp.yaml", "x: 8\n");
	for (i = 0; i < 3 && s.calls < 5; i++)
		cw_wait(&s, 5);
	CU_ASSERT_EQUAL(s.calls, 5);
	CU_ASSERT_STRING_EQUAL(s.last, "x: 8\n");
	cw_put("kp.yaml", "x: 9\n");
	cw_wait(&s, 6);
	CU_ASSERT_EQUAL(s.calls, 6);
	CU_ASSERT_STRING_EQUAL(s.last, "x: 9\n");

	confwatch_free(cw);
	event_base_free(s.base);
	cw_sh("rm -f kp.yaml other.yaml");
	rmdir(cw_dir);
}

/* Which events concern the file: its name, ..data, the watch itself. */
static void
test_confwatch_event_matters(void)
{
	CU_ASSERT_EQUAL(confwatch_event_matters("config.conf", "config.conf",
	    IN_CLOSE_WRITE), 1);
	CU_ASSERT_EQUAL(confwatch_event_matters("..data", "config.conf",
	    IN_MOVED_TO), 1);
	CU_ASSERT_EQUAL(confwatch_event_matters("..data_tmp", "config.conf",
	    IN_CREATE), 0);
	CU_ASSERT_EQUAL(confwatch_event_matters("..2026_01_01", "config.conf",
	    IN_CREATE | IN_ISDIR), 0);
	CU_ASSERT_EQUAL(confwatch_event_matters("other", "config.conf",
	    IN_CLOSE_WRITE), 0);
	CU_ASSERT_EQUAL(confwatch_event_matters(NULL, "config.conf",
	    IN_IGNORED), 1);
	CU_ASSERT_EQUAL(confwatch_event_matters("", "config.conf",
	    IN_DELETE_SELF), 1);
	CU_ASSERT_EQUAL(confwatch_event_matters(NULL, "config.conf",
	    IN_Q_OVERFLOW), 1);
	CU_ASSERT_EQUAL(confwatch_event_matters(NULL, "config.conf",
	    IN_ATTRIB), 0);
}

static const struct tu_case cases[] = {
	{ "kubelet ..data swap, touch, in-place", test_confwatch_data_swap },
	{ "plain file: burst, other file, rename", test_confwatch_plain },
	{ "event filter", test_confwatch_event_matters },
	{ NULL, NULL }
};

TU_MAIN("confwatch", cases)
