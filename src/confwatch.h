/*
 * confwatch.h: watch the --config file for a live reload, the way the
 * kubelet updates a ConfigMap volume and the way people edit files.
 *
 * A ConfigMap volume holds FILE -> ..data/FILE, ..data -> ..TIMESTAMP,
 * and the kubelet updates it by writing a new ..TIMESTAMP directory,
 * pointing a ..data_tmp symlink at it and renaming that over ..data:
 * FILE itself never changes, so a watch on FILE (or on the directory
 * for FILE's name) sees nothing.  confwatch therefore watches, with
 * inotify on the event loop, the file's directory for FILE and ..data,
 * and the directory FILE resolves to (realpath) for its name there
 * (in-place writes through a symlink), re-resolving it after each event;
 * a watch that disappears (IN_IGNORED: the directory was deleted or
 * moved) is added again at the next check, and a slow stat() poll
 * covers what inotify cannot see.  Events are debounced (a burst is one
 * check, at most a second late) and a check compares the bytes: a touch
 * or a rewrite with the same content does nothing.  Nothing blocks: a
 * check reads one small file.
 *
 * What changed goes up through the declared observer only.
 */
#ifndef CONFWATCH_H
#define CONFWATCH_H

#include <stddef.h>
#include <stdint.h>

struct confwatch;
struct event_base;

/* Quiet time after the last event before the file is read. */
#define CONFWATCH_DEBOUNCE_MS	150
/* Longest a burst of events may delay the read. */
#define CONFWATCH_MAXDELAY_MS	1000
/* The fallback stat() poll. */
#define CONFWATCH_POLL_SEC	5

/* The watcher's observer (copied by confwatch_new). */
struct confwatch_observer {
	/*
	 * The file's content differs from the last content read (or a
	 * forced check): buf (len bytes, NUL-terminated) is borrowed for
	 * the call.  Called on the loop; may call confwatch_check() only
	 * after returning, not from inside.
	 */
	void	(*changed)(void *arg, const char *buf, size_t len);
	void	*arg;
};

/*
 * Start watching path (files larger than max bytes are refused at each
 * read).  The file is read once now, so the first check reports only a
 * later change.  Inotify failures are logged and leave the poll.
 * Returns NULL with a reason in err only if the file cannot be read
 * now.
 */
struct confwatch *confwatch_new(struct event_base *, const char *path,
		    size_t max, const struct confwatch_observer *, char *err,
		    size_t errlen);
/*
 * Check now (SIGHUP, or the debounce timer): re-arm the watches, read
 * the file, and call the observer if the content changed or force is
 * set.  Returns 1 if the observer was called, 0 if the content is
 * unchanged, -1 if the file cannot be read (logged once until it can be
 * read again; the last content is kept).
 */
int		 confwatch_check(struct confwatch *, int force);
/* Stop watching and free; NULL is ignored. */
void		 confwatch_free(struct confwatch *);
/*
 * Whether an inotify event on the watched directory of a file named
 * base concerns it: an event naming base, or ..data (the kubelet's
 * swap), or a queue overflow, or the watch itself going away.  name is
 * the event's name ("" or NULL if none).  Pure.  Returns 1 or 0.
 */
int		 confwatch_event_matters(const char *name, const char *base,
		    uint32_t mask);

#endif /* CONFWATCH_H */
