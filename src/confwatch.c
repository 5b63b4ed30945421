/*
 * confwatch.c: watch the --config file (see confwatch.h).
 */
#include <sys/inotify.h>
#include <sys/stat.h>

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "confwatch.h"
#include "fswatch.h"
#include "log.h"
#include "monotime.h"
#include "xmalloc.h"
#include "yamljson.h"

#define CONFWATCH_MASK	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | \
			    IN_DELETE | IN_MOVED_FROM | IN_ATTRIB | \
			    IN_DELETE_SELF | IN_MOVE_SELF)

struct confwatch {
	struct event_base	*base;
	struct confwatch_observer obs;
	char			*path;
	char			*dir;		/* dirname(path) */
	char			*file;		/* basename(path) */
	char			*rdir;		/* dirname(realpath), or NULL */
	char			*rfile;		/* basename(realpath) */
	size_t			 max;
	int			 ifd;		/* inotify, or -1 */
	int			 wd;		/* on dir, or -1 */
	int			 rwd;		/* on rdir, or -1 (or == wd) */
	struct event		*iev;
	struct event		*debounce;
	struct event		*poll;
	uint64_t		 first_ms;	/* first event of a burst */
	char			*buf;		/* content last read */
	size_t			 len;
	struct stat		 seen;		/* its fstat() */
	int			 failing;	/* unreadable, logged */
};

/* Does an inotify event concern the file? */
int
confwatch_event_matters(const char *name, const char *base, uint32_t mask)
{
	if (mask & (IN_Q_OVERFLOW | IN_IGNORED | IN_DELETE_SELF |
	    IN_MOVE_SELF))
		return (1);
	if (name == NULL || *name == '\0')
		return (0);
	return (strcmp(name, base) == 0 || strcmp(name, "..data") == 0);
}

/* Split path into new dirname and basename strings. */
static void
confwatch_split(const char *path, char **dir, char **file)
{
	char	*a, *b;

	a = xstrdup(path);
	b = xstrdup(path);
	*dir = xstrdup(dirname(a));
	*file = xstrdup(basename(b));
	free(a);
	free(b);
}

/*
 * (Re-)add the watches: the file's directory, and the directory the
 * file resolves to if that is another one.  inotify_add_watch() on a
 * directory already watched returns its existing descriptor, so this is
 * cheap to repeat; the resolved directory's old watch is dropped when
 * the file now resolves elsewhere (the kubelet deletes the old
 * ..TIMESTAMP directory, which removes its watch anyway).
 */
static void
confwatch_arm(struct confwatch *cw)
{
	char	 real[PATH_MAX];
	char	*rdir = NULL, *rfile = NULL;
	int	 rwd = -1;

	if (cw->ifd == -1)
		return;
	if ((cw->wd = inotify_add_watch(cw->ifd, cw->dir,
	    CONFWATCH_MASK)) == -1)
		log_debug("%s: inotify %s: %s", __func__, cw->dir,
		    strerror(errno));
	if (realpath(cw->path, real) != NULL) {
		confwatch_split(real, &rdir, &rfile);
		if (strcmp(rdir, cw->dir) != 0)
			rwd = inotify_add_watch(cw->ifd, rdir, CONFWATCH_MASK);
		else
			rwd = cw->wd;
	}
	if (cw->rwd != -1 && cw->rwd != cw->wd && cw->rwd != rwd)
		inotify_rm_watch(cw->ifd, cw->rwd);	/* may be gone: fine */
	cw->rwd = rwd;
	free(cw->rdir);
	free(cw->rfile);
	cw->rdir = rdir;
	cw->rfile = rfile;
}

/* Read the file; on success replace the content kept. */
static int
confwatch_read(struct confwatch *cw, char **buf, size_t *len,
    struct stat *st, char *err, size_t errlen)
{
	return (yamljson_read_file(cw->path, cw->max, buf, len, st, err,
	    errlen));
}

/* Check now. */
int
confwatch_check(struct confwatch *cw, int force)
{
	struct stat	 st;
	char		 err[512];
	char		*buf;
	size_t		 len;

	evtimer_del(cw->debounce);
	cw->first_ms = 0;
	confwatch_arm(cw);
	if (confwatch_read(cw, &buf, &len, &st, err, sizeof(err)) == -1) {
		if (!cw->failing)
			log_warnx("config %s; keeping the running "
			    "configuration", err);
		cw->failing = 1;
		return (-1);
	}
	if (cw->failing)
		log_info("config %s: readable again", cw->path);
	cw->failing = 0;
	cw->seen = st;
	if (!force && len == cw->len && memcmp(buf, cw->buf, len) == 0) {
		log_debug("%s: %s: content unchanged", __func__, cw->path);
		free(buf);
		return (0);
	}
	free(cw->buf);
	cw->buf = buf;
	cw->len = len;
	if (cw->obs.changed != NULL)
		cw->obs.changed(cw->obs.arg, cw->buf, cw->len);
	return (1);
}

/* The burst settled: check. */
static void
confwatch_debounce_cb(evutil_socket_t fd, short what, void *arg)
{
	confwatch_check(arg, 0);
}

/*
 * Schedule a check CONFWATCH_DEBOUNCE_MS after the last event, but no
 * later than CONFWATCH_MAXDELAY_MS after the first, so a writer that
 * never stops cannot starve the reload.
 */
static void
confwatch_schedule(struct confwatch *cw)
{
	struct timeval	tv = { 0, CONFWATCH_DEBOUNCE_MS * 1000 };
	uint64_t	now = monotime_ms();

	if (cw->first_ms == 0)
		cw->first_ms = now;
	else if (now - cw->first_ms >= CONFWATCH_MAXDELAY_MS &&
	    evtimer_pending(cw->debounce, NULL))
		return;
	evtimer_del(cw->debounce);
	evtimer_add(cw->debounce, &tv);
}

/* Return 1 if event ev concerns the file (fswatch_drain's hit). */
static int
confwatch_hit(const struct inotify_event *ev, void *arg)
{
	struct confwatch	*cw = arg;
	const char		*name = ev->len > 0 ? ev->name : NULL;

	if (ev->mask & IN_Q_OVERFLOW)
		return (1);
	if (ev->wd == cw->wd &&
	    confwatch_event_matters(name, cw->file, ev->mask))
		return (1);
	if (ev->wd == cw->rwd && cw->rfile != NULL &&
	    confwatch_event_matters(name, cw->rfile, ev->mask))
		return (1);
	return (0);
}

/* Drain inotify; schedule a check if the file may have changed. */
static void
confwatch_inotify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct confwatch	*cw = arg;

	if (fswatch_drain(fd, cw->dir, confwatch_hit, cw))
		confwatch_schedule(cw);
}

/* The slow poll: check if the file's identity or times moved. */
static void
confwatch_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct confwatch	*cw = arg;
	struct stat		 st;

	if (stat(cw->path, &st) == -1) {
		if (!cw->failing)
			confwatch_schedule(cw);
		return;
	}
	if (cw->failing || st.st_ino != cw->seen.st_ino ||
	    st.st_dev != cw->seen.st_dev || st.st_size != cw->seen.st_size ||
	    st.st_mtim.tv_sec != cw->seen.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != cw->seen.st_mtim.tv_nsec)
		confwatch_schedule(cw);
}

/* Set up inotify; failure leaves the poll. */
static void
confwatch_inotify(struct confwatch *cw)
{
	if ((cw->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		log_warn("inotify_init1; polling %s every %d s", cw->path,
		    CONFWATCH_POLL_SEC);
		return;
	}
	confwatch_arm(cw);
	if (cw->wd == -1)
		log_warnx("cannot watch %s; polling %s every %d s", cw->dir,
		    cw->path, CONFWATCH_POLL_SEC);
	cw->iev = event_new(cw->base, cw->ifd, EV_READ | EV_PERSIST,
	    confwatch_inotify_cb, cw);
	if (cw->iev == NULL || event_add(cw->iev, NULL) == -1)
		fatalx("confwatch: cannot add the inotify event");
}

/* Start watching path. */
struct confwatch *
confwatch_new(struct event_base *base, const char *path, size_t max,
    const struct confwatch_observer *obs, char *err, size_t errlen)
{
	struct confwatch	*cw;
	struct timeval		 tv = { CONFWATCH_POLL_SEC, 0 };

	cw = xcalloc(1, sizeof(*cw));
	cw->base = base;
	cw->obs = *obs;
	cw->path = xstrdup(path);
	cw->max = max;
	cw->ifd = cw->wd = cw->rwd = -1;
	confwatch_split(path, &cw->dir, &cw->file);
	if (confwatch_read(cw, &cw->buf, &cw->len, &cw->seen, err,
	    errlen) == -1) {
		confwatch_free(cw);
		return (NULL);
	}
	cw->debounce = evtimer_new(base, confwatch_debounce_cb, cw);
	cw->poll = event_new(base, -1, EV_PERSIST, confwatch_poll_cb, cw);
	if (cw->debounce == NULL || cw->poll == NULL ||
	    evtimer_add(cw->poll, &tv) == -1)
		fatalx("confwatch: cannot add timers");
	confwatch_inotify(cw);
	return (cw);
}

/* Stop watching and free. */
void
confwatch_free(struct confwatch *cw)
{
	if (cw == NULL)
		return;
	/* libevent's event_free() does not take NULL. */
	if (cw->iev != NULL)
		event_free(cw->iev);
	if (cw->debounce != NULL)
		event_free(cw->debounce);
	if (cw->poll != NULL)
		event_free(cw->poll);
	if (cw->ifd != -1)
		close(cw->ifd);
	free(cw->buf);
	free(cw->path);
	free(cw->dir);
	free(cw->file);
	free(cw->rdir);
	free(cw->rfile);
	free(cw);
}
