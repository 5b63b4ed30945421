/*
 * fswatch.c: draining an inotify descriptor (see fswatch.h).
 */
#include <sys/inotify.h>

#include <errno.h>
#include <unistd.h>

#include "fswatch.h"
#include "log.h"

/* Reads per drain: a busy directory cannot keep the loop here forever. */
#define FSWATCH_MAXREADS	64

/* Drain fd; OR of hit() over the events read. */
int
fswatch_drain(int fd, const char *dir,
    int (*hit)(const struct inotify_event *, void *), void *arg)
{
	char				 buf[4096]
	    __attribute__((__aligned__(__alignof__(struct inotify_event))));
	const struct inotify_event	*ev;
	ssize_t				 n;
	char				*p;
	int				 rv = 0, i;

	for (i = 0; i < FSWATCH_MAXREADS; i++) {
		if ((n = read(fd, buf, sizeof(buf))) == -1) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("%s: inotify read", dir);
			break;
		}
		if (n == 0)
			break;
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			rv |= hit(ev, arg);
		}
	}
	return (rv);
}
