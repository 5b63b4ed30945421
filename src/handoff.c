/*
 * handoff.c: the listening sockets handed to a successor process over a
 * unix socket in the state directory (see handoff.h).
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "handoff.h"
#include "log.h"
#include "sockpool.h"
#include "xmalloc.h"

#define HANDOFF_NAME	"handoff.sock"
#define HANDOFF_TIMEOUT	5	/* seconds per message, either side */
/* One message's text: "FDS\n" and a batch of names. */
#define HANDOFF_MSGLEN	(8 + HANDOFF_BATCH * (SOCKPOOL_NAMEMAX + 1))

/* One connected successor. */
struct handoff_client {
	LIST_ENTRY(handoff_client) entry;
	struct handoff		*h;
	int			 fd;
	pid_t			 pid;		/* SO_PEERCRED */
	struct event		*ev;
};

struct handoff {
	struct event_base	*base;
	struct handoff_ops	 ops;
	int			 fd;
	struct event		*ev;
	char			*path;		/* <dir>/handoff.sock */
	char			*tmp;		/* private name until published */
	ino_t			 ino;		/* of our socket file */
	int			 published;
	LIST_HEAD(, handoff_client) clients;
};

/* A batch of descriptors being gathered for one message. */
struct handoff_batch {
	int		 fd;		/* the client */
	int		 fds[HANDOFF_BATCH];
	size_t		 n;
	char		 text[HANDOFF_MSGLEN];
	size_t		 len;
	size_t		 total;
	int		 failed;
};

/* Fill sun with path; -1 if too long. */
static int
handoff_addr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return (-1);
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return (0);
}

/* Give every receive and send on fd a deadline. */
static void
handoff_timeouts(int fd)
{
	struct timeval	tv = { HANDOFF_TIMEOUT, 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Send text with the descriptors of fds attached. */
static int
handoff_send(int fd, const char *text, size_t len, const int *fds, size_t n)
{
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(HANDOFF_BATCH * sizeof(int))];
	} cbuf;
	ssize_t		 r;

	memset(&mh, 0, sizeof(mh));
	iov.iov_base = (void *)text;
	iov.iov_len = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (n > 0) {
		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
	}
	do {
		r = sendmsg(fd, &mh, MSG_NOSIGNAL);
	} while (r == -1 && errno == EINTR);
	return (r == (ssize_t)len ? 0 : -1);
}

/* Send the batch gathered so far. */
static void
handoff_flush(struct handoff_batch *b)
{
	if (b->n == 0 || b->failed)
		return;
	if (handoff_send(b->fd, b->text, b->len, b->fds, b->n) == -1)
		b->failed = 1;
	b->total += b->n;
	b->n = 0;
	b->len = (size_t)snprintf(b->text, sizeof(b->text), "FDS\n");
}

/* Add one listener to the batch (the listeners callback's add). */
static void
handoff_add(void *ctx, const char *name, int fd)
{
	struct handoff_batch	*b = ctx;
	size_t			 n = strlen(name);

	if (b->failed || n > SOCKPOOL_NAMEMAX)
		return;
	if (b->n == HANDOFF_BATCH)
		handoff_flush(b);
	b->fds[b->n++] = fd;
	memcpy(b->text + b->len, name, n);
	b->len += n;
	b->text[b->len++] = '\n';
}

/* Forget a client. */
static void
handoff_client_free(struct handoff_client *c)
{
	LIST_REMOVE(c, entry);
	if (c->ev != NULL)
		event_free(c->ev);
	close(c->fd);
	free(c);
}

/* The successor spoke (DONE) or went away. */
static void
handoff_client_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct handoff_client	*c = arg;
	struct handoff		*h = c->h;
	char			 buf[64];
	ssize_t			 n;
	pid_t			 pid = c->pid;

	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		buf[n] = '\0';
		if (strcmp(buf, "DONE\n") == 0) {
			log_info("hand-off: process %ld serves every listener "
			    "now", (long)pid);
			handoff_client_free(c);
			h->ops.successor(h->ops.arg, pid);
			return;
		}
		log_warnx("hand-off: process %ld: unexpected message",
		    (long)pid);
	} else
		log_warnx("hand-off: process %ld went away before serving; "
		    "still serving", (long)pid);
	handoff_client_free(c);
}

/*
 * A new client's HELLO arrived, or HANDOFF_TIMEOUT passed without it:
 * send it every listener, then wait for its DONE.  The sends have a
 * deadline each (SO_SNDTIMEO) and the successor reads them at once.
 */
static void
handoff_hello_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct handoff_client	*c = arg;
	struct handoff		*h = c->h;
	struct handoff_batch	*b;
	struct timeval		 tv = { HANDOFF_TIMEOUT, 0 };
	char			 buf[64], end[32];
	ssize_t			 n = -1;

	if (ev & EV_READ) {
		n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			if (event_add(c->ev, &tv) == -1)
				handoff_client_free(c);
			return;
		}
	}
	if (n <= 0 || (buf[n] = '\0', strcmp(buf, "HELLO\n") != 0)) {
		log_warnx("hand-off: process %ld: no HELLO", (long)c->pid);
		handoff_client_free(c);
		return;
	}
	event_free(c->ev);
	c->ev = NULL;
	b = xcalloc(1, sizeof(*b));
	b->fd = fd;
	b->len = (size_t)snprintf(b->text, sizeof(b->text), "FDS\n");
	h->ops.listeners(h->ops.arg, handoff_add, b);
	handoff_flush(b);
	n = snprintf(end, sizeof(end), "END %zu\n", b->total);
	if (b->failed || handoff_send(fd, end, (size_t)n, NULL, 0) == -1) {
		log_warn("hand-off: sending the listeners to process %ld",
		    (long)c->pid);
		free(b);
		handoff_client_free(c);
		return;
	}
	log_info("hand-off: %zu listeners sent to process %ld", b->total,
	    (long)c->pid);
	free(b);
	c->ev = event_new(h->base, fd, EV_READ | EV_PERSIST,
	    handoff_client_cb, c);
	if (c->ev == NULL || event_add(c->ev, NULL) == -1) {
		log_warnx("hand-off: event_add failed");
		handoff_client_free(c);
	}
}

/* A new client: wait for its HELLO on the loop, never blocking it. */
static void
handoff_serve(struct handoff *h, int fd)
{
	struct handoff_client	*c;
	struct ucred		 cr;
	struct timeval		 tv = { HANDOFF_TIMEOUT, 0 };
	socklen_t		 len = sizeof(cr);

	c = xcalloc(1, sizeof(*c));
	c->h = h;
	c->fd = fd;
	LIST_INSERT_HEAD(&h->clients, c, entry);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0)
		c->pid = cr.pid;
	handoff_timeouts(fd);
	c->ev = event_new(h->base, fd, EV_READ, handoff_hello_cb, c);
	if (c->ev == NULL || event_add(c->ev, &tv) == -1) {
		log_warnx("hand-off: event_add failed");
		handoff_client_free(c);
	}
}

/* A new process connects. */
static void
handoff_accept_cb(evutil_socket_t lfd, short ev, void *arg)
{
	struct handoff	*h = arg;
	int		 fd;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("hand-off: accept");
		return;
	}
	handoff_serve(h, fd);
}

/* Create the hand-off server. */
struct handoff *
handoff_new(struct event_base *base, const char *dir,
    const struct handoff_ops *ops, char *err, size_t errlen)
{
	struct handoff		*h;
	struct sockaddr_un	 sun;
	struct stat		 st;

	h = xcalloc(1, sizeof(*h));
	h->base = base;
	h->ops = *ops;
	h->fd = -1;
	LIST_INIT(&h->clients);
	xasprintf(&h->path, "%s/%s", dir, HANDOFF_NAME);
	xasprintf(&h->tmp, "%s/%s.%ld", dir, HANDOFF_NAME, (long)getpid());
	if (handoff_addr(h->tmp, &sun) == -1) {
		snprintf(err, errlen, "%s: too long for a unix socket", h->tmp);
		goto fail;
	}
	(void)unlink(h->tmp);
	h->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0);
	if (h->fd == -1 || bind(h->fd, (struct sockaddr *)&sun,
	    sizeof(sun)) == -1 || chmod(h->tmp, 0600) == -1 ||
	    listen(h->fd, 8) == -1 || stat(h->tmp, &st) == -1) {
		snprintf(err, errlen, "%s: %s", h->tmp, strerror(errno));
		goto fail;
	}
	h->ino = st.st_ino;
	h->ev = event_new(base, h->fd, EV_READ | EV_PERSIST,
	    handoff_accept_cb, h);
	if (h->ev == NULL || event_add(h->ev, NULL) == -1) {
		snprintf(err, errlen, "%s: event_add failed", h->tmp);
		goto fail;
	}
	return (h);
fail:
	handoff_free(h);
	return (NULL);
}

/* Rename the server over handoff.sock. */
int
handoff_publish(struct handoff *h)
{
	if (h == NULL || h->published)
		return (0);
	if (rename(h->tmp, h->path) == -1) {
		log_warn("hand-off: rename %s to %s", h->tmp, h->path);
		return (-1);
	}
	h->published = 1;
	log_info("hand-off: offering the listeners on %s", h->path);
	return (0);
}

/* Close the server; remove its name if still ours. */
void
handoff_free(struct handoff *h)
{
	struct handoff_client	*c;
	struct stat		 st;

	if (h == NULL)
		return;
	while ((c = LIST_FIRST(&h->clients)) != NULL)
		handoff_client_free(c);
	if (h->ev != NULL)
		event_free(h->ev);
	if (h->fd != -1) {
		if (!h->published)
			(void)unlink(h->tmp);
		else if (stat(h->path, &st) == 0 && st.st_ino == h->ino)
			(void)unlink(h->path);
		close(h->fd);
	}
	free(h->path);
	free(h->tmp);
	free(h);
}

/* Take one message's descriptors into the pool, named by its text. */
static int
handoff_take(struct sockpool *pool, char *text, const int *fds, size_t n,
    int *taken)
{
	char	*name, *next;
	size_t	 i;

	if (strncmp(text, "FDS\n", 4) != 0)
		return (-1);
	name = text + 4;
	for (i = 0; i < n; i++) {
		if (name == NULL || (next = strchr(name, '\n')) == NULL) {
			close(fds[i]);
			name = NULL;
			continue;
		}
		*next = '\0';
		if (sockpool_add(pool, name, fds[i]) == 0)
			(*taken)++;
		name = next + 1;
	}
	return (name == NULL ? -1 : 0);
}

/* Receive one message: its text in buf (NUL-terminated) and fds. */
static ssize_t
handoff_recv(int fd, char *buf, size_t len, int *fds, size_t *nfds)
{
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(HANDOFF_BATCH * sizeof(int))];
	} cbuf;
	ssize_t		 r;
	size_t		 n;

	memset(&mh, 0, sizeof(mh));
	iov.iov_base = buf;
	iov.iov_len = len - 1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf.buf;
	mh.msg_controllen = sizeof(cbuf.buf);
	do {
		r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	} while (r == -1 && errno == EINTR);
	*nfds = 0;
	if (r == -1)
		return (-1);
	buf[r] = '\0';
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (*nfds + n > HANDOFF_BATCH)
			n = HANDOFF_BATCH - *nfds;
		memcpy(fds + *nfds, CMSG_DATA(cm), n * sizeof(int));
		*nfds += n;
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		return (-1);
	return (r);
}

/* Connect to the predecessor; 0 and fd -1 if there is none. */
static int
handoff_connect(const char *path, int *fd, char *err, size_t errlen)
{
	struct sockaddr_un	sun;

	*fd = -1;
	if (handoff_addr(path, &sun) == -1) {
		snprintf(err, errlen, "%s: too long for a unix socket", path);
		return (-1);
	}
	*fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (*fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return (-1);
	}
	if (connect(*fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return (0);
	if (errno == ECONNREFUSED) {
		/* Left by a process that died: nobody listens. */
		log_info("hand-off: %s is stale, removed", path);
		(void)unlink(path);
	} else if (errno != ENOENT) {
		snprintf(err, errlen, "connect %s: %s", path,
		    strerror(errno));
		close(*fd);
		*fd = -1;
		return (-1);
	}
	close(*fd);
	*fd = -1;
	return (0);
}

/* Receive every listening socket from a predecessor. */
int
handoff_receive(const char *dir, struct sockpool *pool, int *conn,
    char *err, size_t errlen)
{
	char	*path, *buf;
	int	 fd, fds[HANDOFF_BATCH], taken = 0;
	size_t	 nfds, i;
	ssize_t	 r;

	*conn = -1;
	xasprintf(&path, "%s/%s", dir, HANDOFF_NAME);
	if (handoff_connect(path, &fd, err, errlen) == -1) {
		free(path);
		return (-1);
	}
	free(path);
	if (fd == -1)
		return (0);
	handoff_timeouts(fd);
	buf = xmalloc(HANDOFF_MSGLEN + 1);
	if (handoff_send(fd, "HELLO\n", 6, NULL, 0) == -1)
		goto fail_errno;
	for (;;) {
		if ((r = handoff_recv(fd, buf, HANDOFF_MSGLEN + 1, fds,
		    &nfds)) <= 0) {
			for (i = 0; i < nfds; i++)
				close(fds[i]);
			if (r == 0)
				errno = ECONNRESET;
			goto fail_errno;
		}
		if (strncmp(buf, "END ", 4) == 0 && nfds == 0)
			break;
		if (handoff_take(pool, buf, fds, nfds, &taken) == -1) {
			snprintf(err, errlen, "hand-off: a malformed message");
			goto fail;
		}
	}
	free(buf);
	*conn = fd;
	return (taken);
fail_errno:
	snprintf(err, errlen, "hand-off: %s", strerror(errno));
fail:
	free(buf);
	close(fd);
	return (-1);
}

/* Tell the predecessor this process serves now. */
void
handoff_done(int conn)
{
	if (conn == -1)
		return;
	if (handoff_send(conn, "DONE\n", 5, NULL, 0) == -1)
		log_warn("hand-off: telling the predecessor to stop");
	close(conn);
}
