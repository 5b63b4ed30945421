/*
 * sdnotify.c: systemd's notification protocol without libsystemd (see
 * sdnotify.h).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "sdnotify.h"
#include "xmalloc.h"

struct sdnotify {
	struct event_base	*base;
	int			 fd;
	struct sockaddr_un	 sun;
	socklen_t		 sunlen;
	char			*addr;		/* as given, for messages */
	struct event		*wd_ev;
	uint64_t		 wd_usec;	/* 0: no watchdog */
	uint64_t		 fdstore;	/* $FDSTORE, 0: none */
	uint64_t		 errors;	/* failed sends */
	int			 failing;	/* the last send failed */
};

/* Parse a $NOTIFY_SOCKET value. */
int
sdnotify_parse_addr(const char *s, struct sockaddr_un *sun, socklen_t *len,
    char *err, size_t errlen)
{
	size_t	n;

	if (s == NULL || *s == '\0') {
		snprintf(err, errlen, "NOTIFY_SOCKET is empty");
		return (-1);
	}
	if (*s != '/' && *s != '@') {
		snprintf(err, errlen, "NOTIFY_SOCKET=%s: not an AF_UNIX "
		    "socket path ('/...') or abstract name ('@...')", s);
		return (-1);
	}
	n = strlen(s);
	if (n > sizeof(sun->sun_path) - (*s == '/' ? 1 : 0) || n < 2) {
		snprintf(err, errlen, "NOTIFY_SOCKET=%s: %s", s, n < 2 ?
		    "no name" : "too long for an AF_UNIX address");
		return (-1);
	}
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, s, n);
	if (*s == '@') {
		/* Abstract: a leading NUL, and the length says where it ends. */
		sun->sun_path[0] = '\0';
		*len = offsetof(struct sockaddr_un, sun_path) + n;
	} else
		*len = offsetof(struct sockaddr_un, sun_path) + n + 1;
	return (0);
}

/* Parse a positive decimal integer of at most max; -1 if it is not one. */
static int
sdnotify_parse_u64(const char *s, uint64_t max, uint64_t *v)
{
	char			*end;
	unsigned long long	 n;

	if (*s < '0' || *s > '9')
		return (-1);
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || n == 0 || n > max)
		return (-1);
	*v = n;
	return (0);
}

/* Decide the watchdog interval (sd_watchdog_enabled). */
int
sdnotify_parse_watchdog(const char *usec, const char *pid, pid_t self,
    uint64_t *interval_usec, char *err, size_t errlen)
{
	uint64_t	u, p;

	if (usec == NULL || *usec == '\0')
		return (0);
	/* A timer in usec must fit a struct timeval comfortably. */
	if (sdnotify_parse_u64(usec, UINT64_C(1) << 52, &u) == -1) {
		snprintf(err, errlen, "WATCHDOG_USEC=%s: not a positive number "
		    "of microseconds; watchdog off", usec);
		return (-1);
	}
	if (pid != NULL && *pid != '\0') {
		if (sdnotify_parse_u64(pid, INT32_MAX, &p) == -1) {
			snprintf(err, errlen, "WATCHDOG_PID=%s: not a process "
			    "id; watchdog off", pid);
			return (-1);
		}
		if ((pid_t)p != self)
			return (0);
	}
	*interval_usec = u;
	return (1);
}

/* Build "head" + "STATUS=status" with the status made one line. */
size_t
sdnotify_format(char *buf, size_t len, const char *head, const char *status)
{
	static const char	 key[] = "STATUS=";
	size_t			 n, i;

	if (len == 0)
		return (0);
	n = head != NULL ? strlen(head) : 0;
	if (n >= len) {
		buf[0] = '\0';
		return (0);
	}
	if (n > 0)
		memcpy(buf, head, n);
	buf[n] = '\0';
	if (status == NULL || n + sizeof(key) > len)
		return (n);
	memcpy(buf + n, key, sizeof(key) - 1);
	n += sizeof(key) - 1;
	for (i = 0; status[i] != '\0' && n < len - 1; i++) {
		/* A newline would start another assignment. */
		buf[n++] = (unsigned char)status[i] < 0x20 ||
		    status[i] == 0x7f ? ' ' : status[i];
	}
	buf[n] = '\0';
	return (n);
}

/* Open a notifier for addr. */
struct sdnotify *
sdnotify_open(struct event_base *base, const char *addr, char *err,
    size_t errlen)
{
	struct sdnotify	*sn;

	sn = xcalloc(1, sizeof(*sn));
	if (sdnotify_parse_addr(addr, &sn->sun, &sn->sunlen, err,
	    errlen) == -1)
		goto fail;
	/*
	 * Non-blocking: a manager that stops reading must not stall the
	 * loop; close-on-exec: children never hold the socket.
	 */
	sn->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (sn->fd == -1) {
		snprintf(err, errlen, "NOTIFY_SOCKET=%s: socket: %s", addr,
		    strerror(errno));
		goto fail;
	}
	sn->base = base;
	sn->addr = xstrdup(addr);
	return (sn);
fail:
	free(sn);
	return (NULL);
}

/* The notifier the environment asks for; the variables are removed. */
struct sdnotify *
sdnotify_from_env(struct event_base *base)
{
	struct sdnotify	*sn = NULL;
	char		*addr, *usec, *pid, *store, err[SDNOTIFY_ERRLEN];
	uint64_t	 iv, max = 0;

	addr = getenv("NOTIFY_SOCKET");
	usec = getenv("WATCHDOG_USEC");
	pid = getenv("WATCHDOG_PID");
	/* Copies: unsetenv() may free the strings getenv() returned. */
	addr = addr != NULL ? xstrdup(addr) : NULL;
	usec = usec != NULL ? xstrdup(usec) : NULL;
	pid = pid != NULL ? xstrdup(pid) : NULL;
	store = getenv("FDSTORE");
	if (store != NULL && sdnotify_parse_u64(store, UINT32_MAX, &max) == -1)
		max = 0;
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	unsetenv("FDSTORE");
	if (addr == NULL)
		goto done;
	if ((sn = sdnotify_open(base, addr, err, sizeof(err))) == NULL) {
		log_warnx("systemd notification off: %s", err);
		goto done;
	}
	sn->fdstore = max;
	switch (sdnotify_parse_watchdog(usec, pid, getpid(), &iv, err,
	    sizeof(err))) {
	case -1:
		log_warnx("%s", err);
		break;
	case 1:
		sdnotify_watchdog_start(sn, iv);
		break;
	}
	log_info("systemd notification to %s%s%s", addr, sn->wd_usec != 0 ?
	    ", watchdog on" : "", sn->fdstore != 0 ? ", fd store" : "");
done:
	free(addr);
	free(usec);
	free(pid);
	return (sn);
}

/* Free the notifier. */
void
sdnotify_free(struct sdnotify *sn)
{
	if (sn == NULL)
		return;
	if (sn->wd_ev != NULL)
		event_free(sn->wd_ev);
	close(sn->fd);
	free(sn->addr);
	free(sn);
}

/*
 * Send one datagram, with nfds descriptors attached; log the first
 * failure of a run of them.
 */
static int
sdnotify_write_fds(struct sdnotify *sn, const char *msg, size_t len,
    const int *fds, size_t nfds)
{
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	char		*cbuf = NULL;
	ssize_t		 n;

	memset(&mh, 0, sizeof(mh));
	iov.iov_base = (void *)msg;
	iov.iov_len = len;
	mh.msg_name = &sn->sun;
	mh.msg_namelen = sn->sunlen;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds > 0) {
		cbuf = xcalloc(1, CMSG_SPACE(nfds * sizeof(int)));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	}
	do {
		n = sendmsg(sn->fd, &mh, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	free(cbuf);
	if (n == (ssize_t)len) {
		if (sn->failing)
			log_info("systemd notification to %s works again",
			    sn->addr);
		sn->failing = 0;
		return (0);
	}
	if (n != -1)
		errno = EMSGSIZE;
	sn->errors++;
	if (!sn->failing)
		log_warn("systemd notification to %s failed (not logged "
		    "again until one succeeds)", sn->addr);
	sn->failing = 1;
	return (-1);
}

/* Send one datagram. */
static int
sdnotify_write(struct sdnotify *sn, const char *msg, size_t len)
{
	return (sdnotify_write_fds(sn, msg, len, NULL, 0));
}

/* Send assignments with descriptors attached. */
int
sdnotify_send_fds(struct sdnotify *sn, const char *msg, const int *fds,
    size_t nfds)
{
	if (sn == NULL)
		return (0);
	log_v(4, "%s: %s (%zu fds)", __func__, msg, nfds);
	return (sdnotify_write_fds(sn, msg, strlen(msg), fds, nfds));
}

/* Return the fd store's size. */
uint64_t
sdnotify_fdstore_max(const struct sdnotify *sn)
{
	return (sn != NULL ? sn->fdstore : 0);
}

/* Write the variables a successor needs. */
size_t
sdnotify_env(const struct sdnotify *sn, char **env, size_t max)
{
	size_t	n = 0;

	if (sn == NULL || max < 3)
		return (0);
	xasprintf(&env[n++], "NOTIFY_SOCKET=%s", sn->addr);
	if (sn->wd_usec != 0)
		xasprintf(&env[n++], "WATCHDOG_USEC=%llu",
		    (unsigned long long)sn->wd_usec);
	if (sn->fdstore != 0)
		xasprintf(&env[n++], "FDSTORE=%llu",
		    (unsigned long long)sn->fdstore);
	return (n);
}

/* Send head and a STATUS= line. */
int
sdnotify_send(struct sdnotify *sn, const char *head, const char *status)
{
	char	buf[SDNOTIFY_MSGLEN];
	size_t	n;

	if (sn == NULL)
		return (0);
	if ((n = sdnotify_format(buf, sizeof(buf), head, status)) == 0)
		return (0);
	log_v(4, "%s: %s", __func__, buf);
	return (sdnotify_write(sn, buf, n));
}

/* Send head and a formatted STATUS= line. */
int
sdnotify_sendf(struct sdnotify *sn, const char *head, const char *fmt, ...)
{
	char	status[SDNOTIFY_MSGLEN];
	va_list	ap;

	if (sn == NULL)
		return (0);
	va_start(ap, fmt);
	vsnprintf(status, sizeof(status), fmt, ap);
	va_end(ap);
	return (sdnotify_send(sn, head, status));
}

/* Pet the watchdog: the loop is turning. */
static void
sdnotify_watchdog_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct sdnotify	*sn = arg;

	sdnotify_write(sn, "WATCHDOG=1", 10);
}

/* Pet every half interval from the loop. */
int
sdnotify_watchdog_start(struct sdnotify *sn, uint64_t interval_usec)
{
	struct timeval	tv;
	uint64_t	half;

	if (sn == NULL)
		return (0);
	if (sn->wd_ev != NULL) {
		event_free(sn->wd_ev);
		sn->wd_ev = NULL;
		sn->wd_usec = 0;
	}
	if (sn->base != NULL)
		sn->wd_ev = event_new(sn->base, -1, EV_PERSIST,
		    sdnotify_watchdog_cb, sn);
	if (sn->wd_ev == NULL) {
		log_warnx("systemd watchdog: cannot create its timer");
		return (-1);
	}
	half = interval_usec / 2 != 0 ? interval_usec / 2 : 1;
	tv.tv_sec = half / 1000000;
	tv.tv_usec = half % 1000000;
	event_add(sn->wd_ev, &tv);
	sn->wd_usec = interval_usec;
	sdnotify_write(sn, "WATCHDOG=1", 10);
	return (0);
}

/* Return the watchdog interval. */
uint64_t
sdnotify_watchdog_usec(const struct sdnotify *sn)
{
	return (sn != NULL ? sn->wd_usec : 0);
}

/* Return the number of failed sends. */
uint64_t
sdnotify_errors(const struct sdnotify *sn)
{
	return (sn != NULL ? sn->errors : 0);
}
