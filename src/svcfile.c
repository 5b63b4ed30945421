/*
 * svcfile.c: the services file source, watching the file and feeding
 * the model.
 *
 * Watching uses inotify on the file's directory, not on the file: an
 * editor or "kubectl ... > tmp && mv tmp file" replaces the inode, and a
 * watch on the old inode would go quiet.  A writer closing the file or
 * a rename into place loads it at once; other events are debounced so
 * that a burst of them is one reload.  A slow stat() poll covers what
 * inotify cannot see (NFS, a directory that did not exist yet, queue
 * overflow).
 *
 * Each load parses through a document cache (svcfile_cache.c), so that
 * editing one Service in a file of 10k re-parses one document, and this
 * is the only piece of the source that talks to the model: it hands the
 * batches the parse gives to model_stage_services as they come, then
 * the whole diff once the file is known good.
 */
#include <sys/inotify.h>
#include <sys/stat.h>

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "fswatch.h"
#include "log.h"
#include "model.h"
#include "monotime.h"
#include "svcfile.h"
#include "svcfile_cache.h"
#include "svcfile_parse.h"
#include "xmalloc.h"

#define SVCFILE_DEBOUNCE_MS	100
#define SVCFILE_POLL_SEC	2
#define SVCFILE_ERRLEN		1024

struct svcfile {
	struct event_base	*base;
	struct model		*model;
	char			*path;
	char			*dir;
	char			*file;		/* basename */
	int			 ifd;		/* inotify, or -1 */
	struct event		*iev;
	struct event		*debounce;
	struct event		*poll;
	struct svcfile_cache	*cache;		/* documents last parsed */
	struct stat		 seen;		/* last file read */
	int			 have_seen;	/* 0: missing or unread */
	int			 missing_warned;
};

/* Apply a diff to the model, which takes its objects; free the diff. */
void
svcfile_diff_apply(struct svcfile_diff *d, struct model *m)
{
	size_t	i;

	/* Services first, as model_replace does. */
	for (i = 0; i < d->ngone_svcs; i++)
		model_delete_service(m, d->gone_svcs[i].ns,
		    d->gone_svcs[i].name);
	for (i = 0; i < d->objs.nsvcs; i++)
		model_update_service(m, d->objs.svcs[i]);
	for (i = 0; i < d->ngone_eps; i++)
		model_delete_endpoints(m, d->gone_eps[i].ns,
		    d->gone_eps[i].name);
	for (i = 0; i < d->objs.neps; i++)
		model_update_endpoints(m, d->objs.eps[i]);
	d->objs.nsvcs = d->objs.neps = 0;
	svcfile_diff_free(d);
}

/* Return 1 if the file at st is not the one last read. */
static int
sf_changed(const struct svcfile *sf, const struct stat *st)
{
	if (!sf->have_seen)
		return (1);
	return (st->st_ino != sf->seen.st_ino ||
	    st->st_dev != sf->seen.st_dev ||
	    st->st_size != sf->seen.st_size ||
	    st->st_mtim.tv_sec != sf->seen.st_mtim.tv_sec ||
	    st->st_mtim.tv_nsec != sf->seen.st_mtim.tv_nsec ||
	    st->st_ctim.tv_sec != sf->seen.st_ctim.tv_sec ||
	    st->st_ctim.tv_nsec != sf->seen.st_ctim.tv_nsec);
}

/*
 * Parse buf through the cache into *d.  While a large new file is
 * parsed, its Services go to the model's stage batch by batch, so that
 * the proxier can bind them and stream their rules meanwhile; the stage
 * ends once, taken or rejected, after the parse let go of them.  Returns
 * -1 with the error in err if the file is rejected (cache unchanged).
 */
static int
sf_parse(struct svcfile *sf, const char *buf, size_t len,
    struct svcfile_diff *d, char *err, size_t errlen)
{
	struct svcfile_diff_iter		 *it;
	const struct model_service *const	 *svcs;
	size_t					  n;
	int					  rc, staged = 0;

	it = svcfile_diff_begin(sf->cache, buf, len, sf->path);
	while ((rc = svcfile_diff_next(it, &svcs, &n, err, errlen)) == 1) {
		/*
		 * Not on the first load (the model not synced yet): at
		 * start it runs before the loop, so binding ahead would
		 * overlap nothing, and no rule is streamed before the
		 * first sync (the API's first list does stage: it
		 * overlaps the transfer).
		 */
		if (!model_is_synced(sf->model))
			continue;
		model_stage_services(sf->model, svcs, n);
		staged = 1;
	}
	if (rc == 0)
		rc = svcfile_diff_finish(it, d, err, errlen);
	else
		svcfile_diff_abort(it);
	if (staged)
		model_stage_end(sf->model);
	return (rc);
}

/* Read, parse and install the file; keep the old state on failure. */
static int
sf_load(struct svcfile *sf)
{
	struct svcfile_diff	 d;
	struct stat		 st;
	uint64_t		 t0;
	char			 err[SVCFILE_ERRLEN], *buf;
	size_t			 len, i;
	int			 big;

	t0 = monotime_ms();
	if (svcfile_read(sf->path, &buf, &len, &st, err, sizeof(err)) == -1) {
		sf->have_seen = 0;
		if (!sf->missing_warned)
			log_warnx("services file unreadable, keeping previous "
			    "state: %s", err);
		sf->missing_warned = 1;
		return (-1);
	}
	sf->missing_warned = 0;
	sf->seen = st;
	sf->have_seen = 1;
	if (sf_parse(sf, buf, len, &d, err, sizeof(err)) == -1) {
		free(buf);
		log_warnx("services file rejected, keeping previous state: %s",
		    err);
		return (-1);
	}
	free(buf);
	for (i = 0; i < d.objs.nnotes; i++)
		log_info("%s", d.objs.notes[i]);
	log_info("services file %s: %zu services, %zu endpoints (%zu new or "
	    "changed, %zu gone), parsed in %ld ms", sf->path, d.total_svcs,
	    d.total_eps, d.objs.nsvcs + d.objs.neps,
	    d.ngone_svcs + d.ngone_eps,
	    (long)(monotime_ms() - t0));
	big = d.objs.nsvcs + d.objs.neps + d.ngone_svcs + d.ngone_eps >= 1024;
	svcfile_diff_apply(&d, sf->model);
	model_set_synced(sf->model, MODEL_F_SERVICES | MODEL_F_ENDPOINTS);
#ifdef __GLIBC__
	/*
	 * The parse trees of a large file (100 MB for 10k Services) were
	 * freed, but glibc keeps the memory mapped; give it back so the
	 * daemon's resident size reflects what it really holds.
	 */
	if (big)
		malloc_trim(0);
#endif
	return (0);
}

/* Reload once the debounce timer expired. */
static void
sf_debounce_cb(evutil_socket_t fd, short what, void *arg)
{
	sf_load(arg);
}

/* Start the debounce timer unless it already runs. */
static void
sf_schedule(struct svcfile *sf)
{
	struct timeval	tv = { 0, SVCFILE_DEBOUNCE_MS * 1000 };

	if (!evtimer_pending(sf->debounce, NULL))
		evtimer_add(sf->debounce, &tv);
}

/*
 * fswatch_drain's hit: 2 for our file closed after writing or renamed
 * into place, 1 for another event of it or a queue overflow.
 */
static int
sf_hit(const struct inotify_event *ev, void *arg)
{
	struct svcfile	*sf = arg;

	if (ev->mask & IN_Q_OVERFLOW)
		return (1);
	if (ev->len > 0 && strcmp(ev->name, sf->file) == 0)
		return ((ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) ? 2 : 1);
	return (0);
}

/* Drain inotify; schedule a reload if our file was touched. */
static void
sf_inotify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct svcfile	*sf = arg;
	int		 hit;

	hit = fswatch_drain(fd, sf->dir, sf_hit, sf);
	/*
	 * A closed writer or a rename into place means the file is
	 * complete: load it now.  Other events (create, attributes,
	 * delete) may be the start of a burst: wait for it to settle.
	 */
	if (hit == 2) {
		evtimer_del(sf->debounce);
		sf_load(sf);
	} else if (hit)
		sf_schedule(sf);
}

/* Reload if the file changed behind inotify's back (the slow poll). */
static void
sf_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct svcfile	*sf = arg;
	struct stat	 st;

	if (stat(sf->path, &st) == -1) {
		if (sf->have_seen)
			log_warnx("services file %s: %s; keeping previous "
			    "state", sf->path, strerror(errno));
		sf->have_seen = 0;
		return;
	}
	if (sf_changed(sf, &st))
		sf_schedule(sf);
}

/* Set up inotify on the file's directory; failure leaves the poll. */
static void
sf_watch(struct svcfile *sf)
{
	uint32_t	mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE |
			    IN_DELETE | IN_MOVED_FROM | IN_ATTRIB;

	if ((sf->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		log_warn("inotify_init1; polling %s every %d s", sf->path,
		    SVCFILE_POLL_SEC);
		return;
	}
	if (inotify_add_watch(sf->ifd, sf->dir, mask) == -1) {
		log_warn("inotify %s; polling %s every %d s", sf->dir,
		    sf->path, SVCFILE_POLL_SEC);
		close(sf->ifd);
		sf->ifd = -1;
		return;
	}
	sf->iev = event_new(sf->base, sf->ifd, EV_READ | EV_PERSIST,
	    sf_inotify_cb, sf);
	if (sf->iev == NULL || event_add(sf->iev, NULL) == -1) {
		log_warnx("%s: cannot watch inotify; polling", sf->dir);
		/* libevent's event_free() does not take NULL. */
		if (sf->iev != NULL)
			event_free(sf->iev);
		sf->iev = NULL;
		close(sf->ifd);
		sf->ifd = -1;
	}
}

/* Watch path and feed the model. */
struct svcfile *
svcfile_new(struct event_base *base, const char *path, struct model *model)
{
	struct svcfile		*sf;
	struct timeval		 tv = { SVCFILE_POLL_SEC, 0 };
	char			*tmp;

	sf = xcalloc(1, sizeof(*sf));
	sf->base = base;
	sf->model = model;
	sf->ifd = -1;
	sf->cache = svcfile_cache_new();
	sf->path = xstrdup(path);
	tmp = xstrdup(path);
	sf->dir = xstrdup(dirname(tmp));
	free(tmp);
	tmp = xstrdup(path);
	sf->file = xstrdup(basename(tmp));
	free(tmp);
	sf->debounce = evtimer_new(base, sf_debounce_cb, sf);
	sf->poll = event_new(base, -1, EV_PERSIST, sf_poll_cb, sf);
	if (sf->debounce == NULL || sf->poll == NULL ||
	    event_add(sf->poll, &tv) == -1) {
		svcfile_free(sf);
		return (NULL);
	}
	sf_watch(sf);
	if (sf_load(sf) == -1 && !sf->have_seen)
		log_info("waiting for services file %s", sf->path);
	return (sf);
}

/* Re-read now. */
int
svcfile_reload(struct svcfile *sf)
{
	if (sf->debounce != NULL)
		evtimer_del(sf->debounce);
	sf->missing_warned = 0;
	return (sf_load(sf));
}

/* Stop watching and free. */
void
svcfile_free(struct svcfile *sf)
{
	if (sf == NULL)
		return;
	if (sf->iev != NULL)
		event_free(sf->iev);
	if (sf->ifd != -1)
		close(sf->ifd);
	if (sf->debounce != NULL)
		event_free(sf->debounce);
	if (sf->poll != NULL)
		event_free(sf->poll);
	svcfile_cache_free(sf->cache);
	free(sf->path);
	free(sf->dir);
	free(sf->file);
	free(sf);
}
