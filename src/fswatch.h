/*
 * fswatch.h: what the inotify watchers of files (confwatch, svcfile)
 * share: draining the inotify descriptor, bounded.
 */
#ifndef KUPROXY_FSWATCH_H
#define KUPROXY_FSWATCH_H

#include <sys/inotify.h>

/*
 * Read the non-blocking inotify descriptor fd until it is empty, at most
 * 64 reads of 4 KiB so that a busy folder cannot hold the loop, and
 * return the OR of hit(ev, arg) over every event read.  A read error
 * other than EAGAIN/EINTR is logged once, naming dir, and ends the drain.
 */
int	fswatch_drain(int fd, const char *dir,
	    int (*hit)(const struct inotify_event *, void *), void *arg);

#endif /* KUPROXY_FSWATCH_H */
