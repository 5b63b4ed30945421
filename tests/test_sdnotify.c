/*
 * test_sdnotify.c: systemd's notification protocol: message formatting,
 * path and abstract addresses, the watchdog's variables, what reaches a
 * real socket (and the watchdog's timer), and failing sends.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "sdnotify.h"
#include "tu.h"

static struct tu_capture	cap;

/* A datagram socket bound to name ('@' abstract), non-blocking; or -1. */
static int
listener(const char *name)
{
	struct sockaddr_un	sun;
	socklen_t		len;
	char			err[SDNOTIFY_ERRLEN];
	int			fd;

	if (sdnotify_parse_addr(name, &sun, &len, err, sizeof(err)) == -1)
		return (-1);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return (-1);
	if (bind(fd, (struct sockaddr *)&sun, len) == -1) {
		close(fd);
		return (-1);
	}
	return (fd);
}

/* Receive one datagram as a string into buf; 0, or -1 if none waits. */
static int
receive(int fd, char *buf, size_t len)
{
	ssize_t	n;

	if ((n = recv(fd, buf, len - 1, 0)) == -1)
		return (-1);
	buf[n] = '\0';
	return (0);
}

/* Count the datagrams waiting that equal msg; drain the rest too. */
static int
count(int fd, const char *msg)
{
	char	buf[SDNOTIFY_MSGLEN];
	int	n = 0, i;

	for (i = 0; i < 10000 && receive(fd, buf, sizeof(buf)) == 0; i++)
		if (strcmp(buf, msg) == 0)
			n++;
	return (n);
}

/* A fresh temporary directory's socket path (caller removes both). */
static void
temp_path(char *dir, size_t dlen, char *path, size_t plen)
{
	snprintf(dir, dlen, "/tmp/kuproxy-test.sdnXXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(path, plen, "%s/notify", dir);
}

/* Heads, statuses, one-line statuses, cut statuses. */
static void
test_sdnotify_format(void)
{
	char	buf[64];
	size_t	n;

	n = sdnotify_format(buf, sizeof(buf), "READY=1\n", "serving 3");
	CU_ASSERT_STRING_EQUAL(buf, "READY=1\nSTATUS=serving 3");
	CU_ASSERT_EQUAL(n, strlen(buf));
	n = sdnotify_format(buf, sizeof(buf), NULL, "a\nb\tc\rd");
	CU_ASSERT_STRING_EQUAL(buf, "STATUS=a b c d");
	CU_ASSERT_EQUAL(n, 14);
	n = sdnotify_format(buf, sizeof(buf), "STOPPING=1\n", NULL);
	CU_ASSERT_STRING_EQUAL(buf, "STOPPING=1\n");
	CU_ASSERT_EQUAL(n, 11);
	n = sdnotify_format(buf, sizeof(buf), "RELOADING=1\nMONOTONIC_USEC=5\n",
	    "x");
	CU_ASSERT_STRING_EQUAL(buf, "RELOADING=1\nMONOTONIC_USEC=5\nSTATUS=x");
	/* A long status is cut, never the head. */
	n = sdnotify_format(buf, 16, "READY=1\n", "0123456789");
	CU_ASSERT_STRING_EQUAL(buf, "READY=1\nSTATUS=");
	CU_ASSERT_EQUAL(n, 15);
	n = sdnotify_format(buf, 20, "READY=1\n", "0123456789");
	CU_ASSERT_STRING_EQUAL(buf, "READY=1\nSTATUS=0123");
	CU_ASSERT_EQUAL(n, 19);
	/* A head that does not fit: nothing to send. */
	CU_ASSERT_EQUAL(sdnotify_format(buf, 5, "READY=1\n", "x"), 0);
	CU_ASSERT_STRING_EQUAL(buf, "");
	CU_ASSERT_EQUAL(sdnotify_format(buf, 0, "READY=1\n", "x"), 0);
}

/* Path and abstract addresses, and the ones refused. */
static void
test_sdnotify_addr(void)
{
	struct sockaddr_un	sun;
	socklen_t		len;
	char			err[SDNOTIFY_ERRLEN], name[200];
	size_t			base = offsetof(struct sockaddr_un, sun_path);

	CU_ASSERT_EQUAL(sdnotify_parse_addr("/run/systemd/notify", &sun, &len,
	    err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(sun.sun_family, AF_UNIX);
	CU_ASSERT_STRING_EQUAL(sun.sun_path, "/run/systemd/notify");
	CU_ASSERT_EQUAL(len, base + strlen("/run/systemd/notify") + 1);

	CU_ASSERT_EQUAL(sdnotify_parse_addr("@kpn/notify", &sun, &len, err,
	    sizeof(err)), 0);
	CU_ASSERT_EQUAL(sun.sun_path[0], '\0');
	CU_ASSERT_EQUAL(memcmp(sun.sun_path + 1, "kpn/notify", 10), 0);
	CU_ASSERT_EQUAL(len, base + 11);

	/* The longest of each kind fits; one more byte does not. */
	memset(name, 'a', sizeof(name));
	name[0] = '/';
	name[sizeof(sun.sun_path) - 1] = '\0';
	CU_ASSERT_EQUAL(sdnotify_parse_addr(name, &sun, &len, err,
	    sizeof(err)), 0);
	name[0] = '@';
	name[sizeof(sun.sun_path) - 1] = 'a';
	name[sizeof(sun.sun_path)] = '\0';
	CU_ASSERT_EQUAL(sdnotify_parse_addr(name, &sun, &len, err,
	    sizeof(err)), 0);
	CU_ASSERT_EQUAL(len, sizeof(sun));
	name[0] = '/';
	CU_ASSERT_EQUAL(sdnotify_parse_addr(name, &sun, &len, err,
	    sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "too long"));
	name[0] = '@';
	name[sizeof(sun.sun_path)] = 'a';
	name[sizeof(sun.sun_path) + 1] = '\0';
	CU_ASSERT_EQUAL(sdnotify_parse_addr(name, &sun, &len, err,
	    sizeof(err)), -1);

	CU_ASSERT_EQUAL(sdnotify_parse_addr("", &sun, &len, err, sizeof(err)),
	    -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "empty"));
	CU_ASSERT_EQUAL(sdnotify_parse_addr("@", &sun, &len, err, sizeof(err)),
	    -1);
	CU_ASSERT_EQUAL(sdnotify_parse_addr("run/notify", &sun, &len, err,
	    sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "NOTIFY_SOCKET=run/notify: not an AF_UNIX "
	    "socket path ('/...') or abstract name ('@...')");
	CU_ASSERT_EQUAL(sdnotify_parse_addr("vsock:2:1234", &sun, &len, err,
	    sizeof(err)), -1);
}

/* WATCHDOG_USEC and WATCHDOG_PID as sd_watchdog_enabled reads them. */
static void
test_sdnotify_watchdog_parse(void)
{
	static const char *const bad[] = { "abc", "-5", "0", "12x", " 5",
	    "+5", "5 ", "1e6", "99999999999999999999", NULL };
	char		err[SDNOTIFY_ERRLEN], want[SDNOTIFY_ERRLEN];
	uint64_t	iv = 0;
	size_t		i;

	CU_ASSERT_EQUAL(sdnotify_parse_watchdog("200000", NULL, 42, &iv, err,
	    sizeof(err)), 1);
	CU_ASSERT_EQUAL(iv, 200000);
	iv = 0;
	CU_ASSERT_EQUAL(sdnotify_parse_watchdog("30000000", "42", 42, &iv, err,
	    sizeof(err)), 1);
	CU_ASSERT_EQUAL(iv, 30000000);
	CU_ASSERT_EQUAL(sdnotify_parse_watchdog("200000", "", 42, &iv, err,
	    sizeof(err)), 1);
	/* Unset: no watchdog, no error. */
	CU_ASSERT_EQUAL(sdnotify_parse_watchdog(NULL, NULL, 42, &iv, err,
	    sizeof(err)), 0);
	CU_ASSERT_EQUAL(sdnotify_parse_watchdog("", "42", 42, &iv, err,
	    sizeof(err)), 0);
	/* Another process's watchdog (a parent's, leaked): not ours. */
	iv = 7;
	CU_ASSERT_EQUAL(sdnotify_parse_watchdog("200000", "43", 42, &iv, err,
	    sizeof(err)), 0);
	CU_ASSERT_EQUAL(iv, 7);
	for (i = 0; bad[i] != NULL; i++) {
		err[0] = '\0';
		CU_ASSERT_EQUAL(sdnotify_parse_watchdog(bad[i], NULL, 42, &iv,
		    err, sizeof(err)), -1);
		snprintf(want, sizeof(want), "WATCHDOG_USEC=%s: not a positive "
		    "number of microseconds; watchdog off", bad[i]);
		CU_ASSERT_STRING_EQUAL(err, want);
	}
	CU_ASSERT_EQUAL(sdnotify_parse_watchdog("200000", "pid1", 42, &iv, err,
	    sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "WATCHDOG_PID=pid1: not a process id; "
	    "watchdog off");
	CU_ASSERT_EQUAL(sdnotify_parse_watchdog("200000", "0", 42, &iv, err,
	    sizeof(err)), -1);
}

/* What a path socket receives: the datagram exactly. */
static void
test_sdnotify_send_path(void)
{
	struct sdnotify	*sn;
	char		 dir[64], path[128], err[SDNOTIFY_ERRLEN];
	char		 buf[SDNOTIFY_MSGLEN];
	int		 fd;

	temp_path(dir, sizeof(dir), path, sizeof(path));
	fd = listener(path);
	CU_ASSERT_FATAL(fd != -1);
	sn = sdnotify_open(NULL, path, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(sn);
	CU_ASSERT_EQUAL(sdnotify_send(sn, "READY=1\n", "serving\n2"), 0);
	CU_ASSERT_EQUAL(receive(fd, buf, sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, "READY=1\nSTATUS=serving 2");
	CU_ASSERT_EQUAL(sdnotify_sendf(sn, "STOPPING=1\n", "stopping (signal "
	    "%d)", 15), 0);
	CU_ASSERT_EQUAL(receive(fd, buf, sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, "STOPPING=1\nSTATUS=stopping (signal 15)");
	CU_ASSERT_EQUAL(receive(fd, buf, sizeof(buf)), -1);
	CU_ASSERT_EQUAL(sdnotify_errors(sn), 0);
	CU_ASSERT_EQUAL(sdnotify_watchdog_usec(sn), 0);
	/* No loop to run a watchdog on: refused, nothing sent. */
	tu_capture_begin(&cap, 2);
	CU_ASSERT_EQUAL(sdnotify_watchdog_start(sn, 200000), -1);
	free(tu_capture_end(&cap));
	CU_ASSERT_EQUAL(sdnotify_watchdog_usec(sn), 0);
	CU_ASSERT_EQUAL(receive(fd, buf, sizeof(buf)), -1);
	sdnotify_free(sn);
	close(fd);
	unlink(path);
	rmdir(dir);
}

/*
 * FDSTORE=1 with a descriptor attached: the manager receives the text
 * and a descriptor of the same socket; the environment a successor
 * needs names the socket and the store's size.
 */
static void
test_sdnotify_send_fds(void)
{
	struct sdnotify	*sn;
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	struct stat	 a, b;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	char		 dir[64], path[128];
	char		 buf[SDNOTIFY_MSGLEN], *env[3];
	int		 fd, s, got = -1;
	ssize_t		 n;
	size_t		 i, nenv;

	temp_path(dir, sizeof(dir), path, sizeof(path));
	fd = listener(path);
	CU_ASSERT_FATAL(fd != -1);
	s = socket(AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(s != -1);
	setenv("NOTIFY_SOCKET", path, 1);
	setenv("FDSTORE", "16", 1);
	sn = sdnotify_from_env(NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sn);
	CU_ASSERT_EQUAL(sdnotify_fdstore_max(sn), 16);
	CU_ASSERT_PTR_NULL(getenv("FDSTORE"));
	CU_ASSERT_EQUAL(sdnotify_send_fds(sn, "FDSTORE=1\nFDNAME=tcp/1/a/b\n",
	    &s, 1), 0);
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = buf;
	iov.iov_len = sizeof(buf) - 1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf.buf;
	mh.msg_controllen = sizeof(cbuf.buf);
	n = recvmsg(fd, &mh, 0);
	CU_ASSERT_FATAL(n > 0);
	buf[n] = '\0';
	CU_ASSERT_STRING_EQUAL(buf, "FDSTORE=1\nFDNAME=tcp/1/a/b\n");
	cm = CMSG_FIRSTHDR(&mh);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cm);
	CU_ASSERT_EQUAL(cm->cmsg_type, SCM_RIGHTS);
	memcpy(&got, CMSG_DATA(cm), sizeof(got));
	CU_ASSERT_EQUAL(fstat(s, &a), 0);
	CU_ASSERT_EQUAL(fstat(got, &b), 0);
	CU_ASSERT_EQUAL(a.st_ino, b.st_ino);
	close(got);
	nenv = sdnotify_env(sn, env, 3);
	CU_ASSERT_EQUAL(nenv, 2);
	snprintf(buf, sizeof(buf), "NOTIFY_SOCKET=%s", path);
	CU_ASSERT_STRING_EQUAL(env[0], buf);
	CU_ASSERT_STRING_EQUAL(env[1], "FDSTORE=16");
	for (i = 0; i < nenv; i++)
		free(env[i]);
	CU_ASSERT_EQUAL(sdnotify_env(NULL, env, 3), 0);
	CU_ASSERT_EQUAL(sdnotify_fdstore_max(NULL), 0);
	sdnotify_free(sn);
	close(s);
	close(fd);
	unlink(path);
	rmdir(dir);
}

/* An abstract name reaches the socket bound to it. */
static void
test_sdnotify_send_abstract(void)
{
	struct sdnotify	*sn;
	char		 name[64], err[SDNOTIFY_ERRLEN];
	char		 buf[SDNOTIFY_MSGLEN];
	int		 fd;

	snprintf(name, sizeof(name), "@kuproxy-test/sdnotify/%ld",
	    (long)getpid());
	fd = listener(name);
	CU_ASSERT_FATAL(fd != -1);
	sn = sdnotify_open(NULL, name, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(sn);
	CU_ASSERT_EQUAL(sdnotify_send(sn, NULL, "starting"), 0);
	CU_ASSERT_EQUAL(receive(fd, buf, sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, "STATUS=starting");
	sdnotify_free(sn);
	close(fd);
}

/*
 * No listener: the send fails and is logged once; later failures are
 * not; a success says so; a full queue never blocks (EAGAIN).
 */
static void
test_sdnotify_errors(void)
{
	struct sdnotify	*sn;
	char		 dir[64], path[128], err[SDNOTIFY_ERRLEN], *out;
	int		 fd, i, rv = 0;

	temp_path(dir, sizeof(dir), path, sizeof(path));
	CU_ASSERT_PTR_NULL(sdnotify_open(NULL, "notify", err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "NOTIFY_SOCKET=notify"));
	sn = sdnotify_open(NULL, path, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(sn);
	tu_capture_begin(&cap, 2);
	CU_ASSERT_EQUAL(sdnotify_send(sn, "READY=1\n", NULL), -1);
	CU_ASSERT_EQUAL(sdnotify_send(sn, "READY=1\n", NULL), -1);
	CU_ASSERT_EQUAL(sdnotify_send(sn, NULL, "x"), -1);
	out = tu_capture_end(&cap);
	CU_ASSERT_EQUAL(sdnotify_errors(sn), 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "failed (not logged again until "
	    "one succeeds): No such file or directory"));
	CU_ASSERT_PTR_NULL(strstr(strstr(out, "failed") + 1, "failed"));
	free(out);

	fd = listener(path);
	CU_ASSERT_FATAL(fd != -1);
	tu_capture_begin(&cap, 2);
	CU_ASSERT_EQUAL(sdnotify_send(sn, "READY=1\n", NULL), 0);
	out = tu_capture_end(&cap);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "works again"));
	free(out);
	CU_ASSERT_EQUAL(count(fd, "READY=1\n"), 1);

	/* Nobody reads: the queue fills and sends fail, never block. */
	tu_capture_begin(&cap, 2);
	for (i = 0; i < 100000 && rv == 0; i++)
		rv = sdnotify_send(sn, "WATCHDOG=1\n", NULL);
	out = tu_capture_end(&cap);
	CU_ASSERT_EQUAL(rv, -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Resource temporarily "
	    "unavailable"));
	free(out);
	CU_ASSERT(count(fd, "WATCHDOG=1\n") > 0);
	sdnotify_free(sn);
	close(fd);
	unlink(path);
	rmdir(dir);
	/* A NULL notifier (not run by systemd) does nothing, fine. */
	CU_ASSERT_EQUAL(sdnotify_send(NULL, "READY=1\n", "x"), 0);
	CU_ASSERT_EQUAL(sdnotify_sendf(NULL, NULL, "%d", 1), 0);
	CU_ASSERT_EQUAL(sdnotify_watchdog_start(NULL, 1000), 0);
	sdnotify_free(NULL);
}

/* Stop the loop (a timer's callback). */
static void
loop_stop(evutil_socket_t fd, short ev, void *arg)
{
	event_base_loopbreak(arg);
}

/* Run base for ms milliseconds. */
static void
run_for(struct event_base *base, long ms)
{
	struct event	*ev;
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };

	ev = evtimer_new(base, loop_stop, base);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
	evtimer_add(ev, &tv);
	event_base_dispatch(base);
	event_free(ev);
}

/* Set the three variables (NULL: unset). */
static void
set_env(const char *sock, const char *usec, const char *pid)
{
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	if (sock != NULL)
		setenv("NOTIFY_SOCKET", sock, 1);
	if (usec != NULL)
		setenv("WATCHDOG_USEC", usec, 1);
	if (pid != NULL)
		setenv("WATCHDOG_PID", pid, 1);
}

/*
 * From the environment: the variables are removed; the watchdog pets at
 * once and every half interval on the loop, only for this process, and
 * a bad interval is refused with a clear message but notifications go.
 */
static void
test_sdnotify_from_env(void)
{
	struct event_base	*base;
	struct sdnotify		*sn;
	char			 dir[64], path[128], pid[32], *out;
	int			 fd, n;

	base = event_base_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	temp_path(dir, sizeof(dir), path, sizeof(path));
	fd = listener(path);
	CU_ASSERT_FATAL(fd != -1);

	set_env(NULL, "200000", NULL);
	CU_ASSERT_PTR_NULL(sdnotify_from_env(base));
	CU_ASSERT_PTR_NULL(getenv("WATCHDOG_USEC"));

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	set_env(path, "200000", pid);
	sn = sdnotify_from_env(base);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sn);
	CU_ASSERT_PTR_NULL(getenv("NOTIFY_SOCKET"));
	CU_ASSERT_PTR_NULL(getenv("WATCHDOG_USEC"));
	CU_ASSERT_PTR_NULL(getenv("WATCHDOG_PID"));
	CU_ASSERT_EQUAL(sdnotify_watchdog_usec(sn), 200000);
	CU_ASSERT_EQUAL(count(fd, "WATCHDOG=1"), 1);	/* at once */
	/* 100 ms period: about 5 in 550 ms; loose bounds. */
	run_for(base, 550);
	n = count(fd, "WATCHDOG=1");
	CU_ASSERT(n >= 3 && n <= 7);
	/* A loop that does not turn does not pet. */
	usleep(300000);
	CU_ASSERT_EQUAL(count(fd, "WATCHDOG=1"), 0);
	sdnotify_free(sn);

	/* WATCHDOG_PID names another process: notifications, no watchdog. */
	snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
	set_env(path, "200000", pid);
	sn = sdnotify_from_env(base);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sn);
	CU_ASSERT_EQUAL(sdnotify_watchdog_usec(sn), 0);
	run_for(base, 150);
	CU_ASSERT_EQUAL(count(fd, "WATCHDOG=1"), 0);
	sdnotify_free(sn);

	set_env(path, "20s", NULL);
	tu_capture_begin(&cap, 2);
	sn = sdnotify_from_env(base);
	out = tu_capture_end(&cap);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sn);
	CU_ASSERT_EQUAL(sdnotify_watchdog_usec(sn), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "WATCHDOG_USEC=20s: not a positive "
	    "number of microseconds; watchdog off"));
	free(out);
	CU_ASSERT_EQUAL(sdnotify_send(sn, "READY=1\n", NULL), 0);
	CU_ASSERT_EQUAL(count(fd, "READY=1\n"), 1);
	sdnotify_free(sn);

	/* An unusable address: a warning, no notifier, nothing fatal. */
	set_env("notify", NULL, NULL);
	tu_capture_begin(&cap, 2);
	CU_ASSERT_PTR_NULL(sdnotify_from_env(base));
	out = tu_capture_end(&cap);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "systemd notification off: "
	    "NOTIFY_SOCKET=notify"));
	CU_ASSERT_PTR_NULL(getenv("NOTIFY_SOCKET"));
	free(out);

	close(fd);
	unlink(path);
	rmdir(dir);
	event_base_free(base);
}

static const struct tu_case cases[] = {
	{ "format", test_sdnotify_format },
	{ "addresses", test_sdnotify_addr },
	{ "watchdog variables", test_sdnotify_watchdog_parse },
	{ "send to a path", test_sdnotify_send_path },
	{ "send to an abstract name", test_sdnotify_send_abstract },
	{ "descriptors for the fd store", test_sdnotify_send_fds },
	{ "send errors", test_sdnotify_errors },
	{ "from the environment, watchdog", test_sdnotify_from_env },
	{ NULL, NULL }
};

/* Run the suite with warnings on stderr. */
int
main(void)
{
	log_init(0);
	return (tu_run("sdnotify", cases));
}
