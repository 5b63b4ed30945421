/*
 * sockpool.c: listening sockets received from outside, by name (see
 * sockpool.h).
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "htab.h"
#include "log.h"
#include "sockpool.h"
#include "xmalloc.h"

/* sd_listen_fds(3): the first passed descriptor. */
#define SOCKPOOL_FD_START	3
/* More than any node has Service ports, far below the fd limit. */
#define SOCKPOOL_MAXFDS		65536

struct sockpool_ent {
	char	*name;
	int	 fd;
};

struct sockpool {
	struct htab	*ents;		/* name -> sockpool_ent */
};

/* Return 1 if s is a valid FDNAME: printable ASCII, no ':', short. */
int
sockpool_name_valid(const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == ':' ||
		    i >= SOCKPOOL_NAMEMAX)
			return (0);
	return (i > 0);
}

/* Write the name of a proxy listener. */
int
sockpool_name(char *buf, size_t len, int proto, uint16_t port,
    const char *svcname)
{
	char	*p;
	int	 n;

	n = snprintf(buf, len, "%s/%u/%s", proto == IPPROTO_UDP ? "udp" :
	    "tcp", (unsigned)port, svcname);
	if (n < 0 || (size_t)n >= len)
		return (-1);
	/* "ns/name:port": the ':' separates LISTEN_FDNAMES entries. */
	if ((p = strrchr(buf, ':')) != NULL)
		*p = '/';
	return (sockpool_name_valid(buf) ? 0 : -1);
}

/* Return an empty pool. */
struct sockpool *
sockpool_new(void)
{
	struct sockpool	*sp;

	sp = xcalloc(1, sizeof(*sp));
	if ((sp->ents = htab_new()) == NULL)
		fatalx("sockpool: out of memory");
	return (sp);
}

/* Close and free one entry. */
static void
sockpool_ent_free(void *v)
{
	struct sockpool_ent	*e = v;

	close(e->fd);
	free(e->name);
	free(e);
}

/* Free the pool and close what is left. */
void
sockpool_free(struct sockpool *sp)
{
	if (sp == NULL)
		return;
	htab_free(sp->ents, sockpool_ent_free);
	free(sp);
}

/* Store fd under name. */
int
sockpool_add(struct sockpool *sp, const char *name, int fd)
{
	struct sockpool_ent	*e;
	void			*old;
	int			 fl;

	if (!sockpool_name_valid(name)) {
		close(fd);
		return (-1);
	}
	/* Ours now: no child may inherit it, and the relays never block. */
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	if ((fl = fcntl(fd, F_GETFL)) != -1 && !(fl & O_NONBLOCK))
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	e = xcalloc(1, sizeof(*e));
	e->name = xstrdup(name);
	e->fd = fd;
	if (htab_put(sp->ents, e->name, strlen(e->name), e, &old) == -1)
		fatalx("sockpool: out of memory");
	if (old != NULL)
		sockpool_ent_free(old);
	return (0);
}

/* Take the socket named name. */
int
sockpool_take(struct sockpool *sp, const char *name)
{
	struct sockpool_ent	*e;
	int			 fd;

	if (sp == NULL)
		return (-1);
	if ((e = htab_del(sp->ents, name, strlen(name))) == NULL)
		return (-1);
	fd = e->fd;
	free(e->name);
	free(e);
	return (fd);
}

/* Return the number of sockets held. */
size_t
sockpool_count(const struct sockpool *sp)
{
	return (sp != NULL ? htab_count(sp->ents) : 0);
}

/* Close the sockets nobody took. */
size_t
sockpool_close_rest(struct sockpool *sp, void (*cb)(const char *, void *),
    void *arg)
{
	struct htab_iter	 it;
	struct sockpool_ent	*e;
	void			*v;
	size_t			 n = 0;

	if (sp == NULL)
		return (0);
	htab_iter_init(sp->ents, &it);
	while (htab_iter_next(&it, NULL, NULL, &v)) {
		e = v;
		htab_del(sp->ents, e->name, strlen(e->name));
		if (cb != NULL)
			cb(e->name, arg);
		sockpool_ent_free(e);
		n++;
	}
	return (n);
}

/* Parse a positive decimal number of at most max; -1 if not one. */
static long
sockpool_parse_num(const char *s, long max)
{
	char	*end;
	long	 n;

	if (s == NULL || *s < '0' || *s > '9')
		return (-1);
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || n > max)
		return (-1);
	return (n);
}

/* Add descriptor fd named name if it is a socket; else close it. */
static int
sockpool_adopt(struct sockpool *sp, int fd, const char *name)
{
	int		type;
	socklen_t	len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1) {
		log_warn("LISTEN_FDS: descriptor %d (%s): not a socket", fd,
		    name);
		close(fd);
		return (0);
	}
	if (sockpool_add(sp, name, fd) == -1) {
		log_warnx("LISTEN_FDS: descriptor %d: name '%s' is not one "
		    "of kuproxy's, closed", fd, name);
		return (0);
	}
	return (1);
}

/* Take the sockets systemd passes. */
int
sockpool_from_env(struct sockpool *sp, char *err, size_t errlen)
{
	char	*pid, *nfds, *names, *p, *next;
	long	 n, i, owner;
	int	 rv = 0, taken = 0;

	pid = getenv("LISTEN_PID");
	nfds = getenv("LISTEN_FDS");
	names = getenv("LISTEN_FDNAMES");
	/* Copies: unsetenv() may free what getenv() returned. */
	pid = pid != NULL ? xstrdup(pid) : NULL;
	nfds = nfds != NULL ? xstrdup(nfds) : NULL;
	names = xstrdup(names != NULL ? names : "");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (pid == NULL || nfds == NULL)
		goto done;
	if ((owner = sockpool_parse_num(pid, 0x7fffffffL)) == -1 ||
	    (n = sockpool_parse_num(nfds, SOCKPOOL_MAXFDS)) == -1) {
		snprintf(err, errlen, "LISTEN_PID=%s LISTEN_FDS=%s: not "
		    "numbers", pid, nfds);
		rv = -1;
		goto done;
	}
	/* Meant for another process (e.g. a shell that passed it on). */
	if ((pid_t)owner != getpid())
		goto done;
	p = names;
	for (i = 0; i < n; i++) {
		next = p != NULL ? strchr(p, ':') : NULL;
		if (next != NULL)
			*next++ = '\0';
		taken += sockpool_adopt(sp, SOCKPOOL_FD_START + (int)i,
		    p != NULL && *p != '\0' ? p : "unknown");
		p = next;
	}
	rv = taken;
done:
	free(pid);
	free(nfds);
	free(names);
	return (rv);
}
