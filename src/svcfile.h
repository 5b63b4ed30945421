/*
 * svcfile.h: the standalone source.  A services file (see
 * svcfile_parse.h) is re-read on SIGHUP and when it changes (inotify on
 * its directory, so editors' rename-over works, plus a slow stat poll as
 * a fallback), parsed through a document cache (svcfile_cache.h), and
 * what changed goes to the model.  A file that fails to parse is
 * reported with FILE:LINE and the previous content keeps serving.
 */
#ifndef SVCFILE_H
#define SVCFILE_H

struct event_base;
struct model;
struct svcfile;
struct svcfile_diff;

/*
 * Watch path and feed model.  The first load happens here; if it fails
 * the error is logged and the model stays empty and unsynced until a
 * good file appears.  A load of a file with many new documents stages
 * their Services (model_stage_services, then model_stage_end once) while
 * it is parsed; nothing enters the model before the whole file is known
 * good.  Returns NULL only if the watch cannot be set up.
 */
struct svcfile *svcfile_new(struct event_base *, const char *path,
	    struct model *);
/*
 * Re-read now (SIGHUP).  Returns 0 if loaded, -1 if unreadable or
 * rejected (logged; the model keeps its content).
 */
int	 svcfile_reload(struct svcfile *);
/* Stop watching and free; the model keeps its content.  NULL ignored. */
void	 svcfile_free(struct svcfile *);

/*
 * Apply a diff (svcfile_parse_diff, svcfile_diff_finish) to a model:
 * deletions, then updates, Services before Endpoints.  The model takes
 * the objects; the diff is freed and zeroed.
 */
void	 svcfile_diff_apply(struct svcfile_diff *, struct model *);

#endif /* SVCFILE_H */
