/*
 * portstate.c: the persisted proxy port of every service port.
 *
 * The file is small and written by us, so the parser is strict: any
 * line it does not understand rejects the whole file, and the caller
 * starts afresh rather than trusting half of it.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "htab.h"
#include "log.h"
#include "netutil.h"
#include "portstate.h"
#include "xmalloc.h"

#define PORTSTATE_MAXFILE	(16 * 1024 * 1024)
#define PORTSTATE_MAXLINE	1024
#define PORTSTATE_MAXFIELDS	4	/* one more than valid, to spot it */

/*
 * Write the index key of (name, proto) into buf: the protocol byte,
 * then the name.  Returns its length, or 0 if it does not fit.
 */
static size_t
portstate_key(char *buf, size_t len, const char *name, int proto)
{
	size_t	n = strlen(name);

	if (n + 1 > len)
		return (0);
	buf[0] = (char)proto;
	memcpy(buf + 1, name, n);
	return (n + 1);
}

/* Add an entry (copies name); the array grows in powers of two. */
void
portstate_add(struct portstate *ps, const char *name, int proto,
    uint16_t port)
{
	struct portstate_entry	*e;
	char			 key[PORTSTATE_MAXLINE + 1];
	size_t			 klen;

	/* With n entries the array holds the next power of two of n. */
	if ((ps->n & (ps->n - 1)) == 0)
		ps->v = xreallocarray(ps->v, ps->n == 0 ? 1 : ps->n * 2,
		    sizeof(*ps->v));
	e = &ps->v[ps->n++];
	e->name = xstrdup(name);
	e->proto = proto;
	e->port = port;
	/*
	 * The index makes a restart with 10k service ports one lookup per
	 * port, not a scan; the first entry of a pair wins, as in a scan.
	 */
	if (ps->index == NULL && (ps->index = htab_new()) == NULL)
		fatalx("portstate: out of memory");
	klen = portstate_key(key, sizeof(key), name, proto);
	/* The position plus one, not a pointer: the array moves. */
	if (klen > 0 && htab_get(ps->index, key, klen) == NULL &&
	    htab_put(ps->index, key, klen, (void *)(uintptr_t)ps->n,
	    NULL) == -1)
		fatalx("portstate: out of memory");
}

/* Free the entries. */
void
portstate_clear(struct portstate *ps)
{
	size_t	i;

	for (i = 0; i < ps->n; i++)
		free(ps->v[i].name);
	free(ps->v);
	htab_free(ps->index, NULL);
	ps->index = NULL;
	ps->v = NULL;
	ps->n = 0;
}

/* Find the persisted port of (name, proto). */
uint16_t
portstate_lookup(const struct portstate *ps, const char *name, int proto)
{
	char	key[PORTSTATE_MAXLINE + 1];
	size_t	i, klen;

	klen = portstate_key(key, sizeof(key), name, proto);
	if (ps->index != NULL && klen > 0) {
		i = (uintptr_t)htab_get(ps->index, key, klen);
		return (i > 0 ? ps->v[i - 1].port : 0);
	}
	for (i = 0; i < ps->n; i++) {
		if (ps->v[i].proto == proto && strcmp(ps->v[i].name, name) == 0)
			return (ps->v[i].port);
	}
	return (0);
}

/* Split line (NUL-terminated, modified) at blanks into at most max fields. */
static size_t
portstate_split(char *line, char **f, size_t max)
{
	size_t	n = 0;
	char	*p = line;

	while (n < max) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		f[n++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		if (*p != '\0')
			*p++ = '\0';
	}
	return (n);
}

/* Parse a proxy port: 1 to 65535, digits, no leading 0.  0 or -1. */
static int
portstate_parse_port(const char *s, uint16_t *port)
{
	unsigned long	v = 0;

	if (*s == '\0' || *s == '0' || strlen(s) > 5)
		return (-1);
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return (-1);
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v == 0 || v > 65535)
		return (-1);
	*port = (uint16_t)v;
	return (0);
}

/* Check a service port name: "ns/name" or "ns/name:port", no blanks. */
static int
portstate_check_name(const char *s)
{
	const char	*slash;

	if ((slash = strchr(s, '/')) == NULL || slash == s ||
	    slash[1] == '\0' || slash[1] == ':')
		return (-1);
	for (; *s != '\0'; s++) {
		if (!isgraph((unsigned char)*s))
			return (-1);
	}
	return (0);
}

/*
 * Check that an entry can be written and read back: TCP or UDP, a
 * non-zero port, a well-formed name, not seen before (seen collects
 * the keys).  Returns 0, or -1 with a reason in why.
 */
static int
portstate_check_entry(const char *name, int proto, uint16_t port,
    struct htab *seen, char *why, size_t whylen)
{
	char	key[1 + PORTSTATE_MAXLINE];
	size_t	klen;

	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) {
		snprintf(why, whylen, "bad protocol %d", proto);
		return (-1);
	}
	if (port == 0) {
		snprintf(why, whylen, "bad port 0");
		return (-1);
	}
	if ((klen = strlen(name)) >= sizeof(key) - 1 ||
	    portstate_check_name(name) == -1) {
		snprintf(why, whylen, "bad service port name \"%.64s\"", name);
		return (-1);
	}
	key[0] = (char)proto;
	memcpy(key + 1, name, klen);
	if (htab_get(seen, key, 1 + klen) != NULL) {
		snprintf(why, whylen, "duplicate %s %s",
		    netutil_proto_name(proto), name);
		return (-1);
	}
	/* The value only marks presence; any non-NULL pointer will do. */
	if (htab_put(seen, key, 1 + klen, seen, NULL) == -1) {
		snprintf(why, whylen, "out of memory");
		return (-1);
	}
	return (0);
}

/*
 * Parse one line (NUL-terminated, modified) into ps.  Blank and comment
 * lines add nothing.  Returns 0, or -1 with a reason in why.
 */
static int
portstate_parse_line(char *line, struct portstate *ps, struct htab *seen,
    char *why, size_t whylen)
{
	char		*f[PORTSTATE_MAXFIELDS];
	size_t		 nf;
	uint16_t	 port;
	int		 proto;

	nf = portstate_split(line, f, PORTSTATE_MAXFIELDS);
	if (nf == 0 || f[0][0] == '#')
		return (0);
	if (nf != 3) {
		snprintf(why, whylen, "expected \"PROTO PORT NAME\", got %s",
		    nf < 3 ? "too few fields" : "too many fields");
		return (-1);
	}
	proto = netutil_proto_parse(f[0]);
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) {
		snprintf(why, whylen, "bad protocol \"%.16s\"", f[0]);
		return (-1);
	}
	if (portstate_parse_port(f[1], &port) == -1) {
		snprintf(why, whylen, "bad port \"%.16s\"", f[1]);
		return (-1);
	}
	if (portstate_check_entry(f[2], proto, port, seen, why, whylen) == -1)
		return (-1);
	portstate_add(ps, f[2], proto, port);
	return (0);
}

/* Parse a state file held in buf. */
int
portstate_parse(const char *buf, size_t len, struct portstate *ps,
    char *err, size_t errlen)
{
	char		 why[256], line[PORTSTATE_MAXLINE];
	const char	*p = buf, *end = buf + len, *nl;
	struct htab	*seen;
	size_t		 lineno = 0, ll;

	if ((seen = htab_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	while (p < end) {
		lineno++;
		nl = memchr(p, '\n', (size_t)(end - p));
		ll = (size_t)((nl != NULL ? nl : end) - p);
		if (ll >= sizeof(line))
			snprintf(why, sizeof(why), "line too long");
		else if (memchr(p, '\0', ll) != NULL)
			snprintf(why, sizeof(why), "NUL byte");
		else {
			memcpy(line, p, ll);
			line[ll] = '\0';
			if (portstate_parse_line(line, ps, seen, why,
			    sizeof(why)) == 0)
				why[0] = '\0';
		}
		if (why[0] != '\0') {
			snprintf(err, errlen, "line %zu: %s", lineno, why);
			goto fail;
		}
		p = nl != NULL ? nl + 1 : end;
	}
	htab_free(seen, NULL);
	return (0);

fail:
	portstate_clear(ps);
	htab_free(seen, NULL);
	return (-1);
}

/* Read path into ps; a missing file is an empty state. */
int
portstate_load(const char *path, struct portstate *ps, char *err,
    size_t errlen)
{
	char		 perr[256], *buf = NULL;
	struct stat	 st;
	size_t		 len = 0;
	ssize_t		 r;
	int		 fd, rv = -1;

	/*
	 * Not through a symbolic link, and without blocking on a FIFO:
	 * whatever sits in the state directory is read as a file of ours
	 * or refused.
	 */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd == -1) {
		if (errno == ENOENT)
			return (0);
		if (errno == ELOOP)
			snprintf(err, errlen, "open %s: a symbolic link, "
			    "refused", path);
		else
			snprintf(err, errlen, "open %s: %s", path,
			    strerror(errno));
		return (-1);
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "stat %s: %s", path, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > PORTSTATE_MAXFILE) {
		snprintf(err, errlen, "%s: not a regular file of at most %d "
		    "bytes", path, PORTSTATE_MAXFILE);
		goto done;
	}
	/* One spare byte: a file that grew meanwhile is caught below. */
	buf = xmalloc((size_t)st.st_size + 1);
	while (len <= (size_t)st.st_size) {
		r = read(fd, buf + len, (size_t)st.st_size + 1 - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			snprintf(err, errlen, "read %s: %s", path,
			    strerror(errno));
			goto done;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > (size_t)st.st_size) {
		snprintf(err, errlen, "%s: changed while being read", path);
		goto done;
	}
	if (portstate_parse(buf, len, ps, perr, sizeof(perr)) == -1) {
		snprintf(err, errlen, "%s: %s", path, perr);
		goto done;
	}
	rv = 0;
done:
	free(buf);
	close(fd);
	return (rv);
}

/* Write every entry of ps to f, checking each; 0 or -1 with why. */
static int
portstate_write(FILE *f, const struct portstate *ps, char *why,
    size_t whylen)
{
	struct htab	*seen;
	size_t		 i;
	int		 rv = 0;

	if ((seen = htab_new()) == NULL) {
		snprintf(why, whylen, "out of memory");
		return (-1);
	}
	fprintf(f, "# kuproxy proxy ports: PROTO PORT NAMESPACE/NAME[:PORT]\n");
	for (i = 0; i < ps->n && rv == 0; i++) {
		rv = portstate_check_entry(ps->v[i].name, ps->v[i].proto,
		    ps->v[i].port, seen, why, whylen);
		if (rv == 0)
			fprintf(f, "%s %u %s\n",
			    netutil_proto_name(ps->v[i].proto),
			    ps->v[i].port, ps->v[i].name);
	}
	htab_free(seen, NULL);
	return (rv);
}

/* Flush the directory holding path, so the rename itself is durable. */
static void
portstate_sync_dir(const char *path)
{
	char		 dir[PATH_MAX];
	const char	*slash;
	int		 fd;

	if ((slash = strrchr(path, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	/* Best effort: the data is already in place, only its durability
	 * across a power cut is at stake. */
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return;
	(void)fsync(fd);
	close(fd);
}

/* Write ps to path atomically: path.tmp, fsync, rename. */
int
portstate_save(const char *path, const struct portstate *ps, char *err,
    size_t errlen)
{
	char	 tmp[PATH_MAX], why[256];
	FILE	*f;
	int	 fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return (-1);
	}
	/* A fresh 0600 file: never an old one, a link or someone's FIFO. */
	if (unlink(tmp) == -1 && errno != ENOENT) {
		snprintf(err, errlen, "unlink %s: %s", tmp, strerror(errno));
		return (-1);
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		snprintf(err, errlen, "open %s: %s", tmp, strerror(errno));
		return (-1);
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "fdopen %s: %s", tmp, strerror(errno));
		close(fd);
		goto fail;
	}
	if (portstate_write(f, ps, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: %s", path, why);
		fclose(f);
		goto fail;
	}
	if (fflush(f) == EOF || ferror(f) || fsync(fileno(f)) == -1) {
		snprintf(err, errlen, "write %s: %s", tmp, strerror(errno));
		fclose(f);
		goto fail;
	}
	if (fclose(f) == EOF) {
		snprintf(err, errlen, "close %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (rename(tmp, path) == -1) {
		snprintf(err, errlen, "rename %s to %s: %s", tmp, path,
		    strerror(errno));
		goto fail;
	}
	portstate_sync_dir(path);
	return (0);

fail:
	unlink(tmp);
	return (-1);
}

/*
 * Check that dir is a directory we can write in and nobody else can: a
 * directory that another user owns or may write in would let them
 * replace the port file or the hand-off socket.  Ours with group or
 * other bits (made by hand, or by an older kuproxy) is made 0700.
 */
static int
portstate_dir_usable(const char *dir, char *err, size_t errlen)
{
	struct stat	st;

	if (stat(dir, &st) == -1) {
		snprintf(err, errlen, "state directory %s: %s", dir,
		    strerror(errno));
		return (-1);
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "state directory %s: not a directory",
		    dir);
		return (-1);
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		snprintf(err, errlen, "state directory %s: owned by uid %lu, "
		    "not by root or us: another user could replace its files",
		    dir, (unsigned long)st.st_uid);
		return (-1);
	}
	if ((st.st_mode & 077) != 0) {
		if (st.st_uid != geteuid() || chmod(dir, 0700) == -1) {
			snprintf(err, errlen, "state directory %s: mode %04o "
			    "lets other users in, and it cannot be made 0700",
			    dir, (unsigned)(st.st_mode & 07777));
			return (-1);
		}
		log_warnx("state directory %s was mode %04o: made 0700", dir,
		    (unsigned)(st.st_mode & 07777));
	}
	if (access(dir, W_OK | X_OK) == -1) {
		snprintf(err, errlen, "state directory %s: cannot write in "
		    "it: %s", dir, strerror(errno));
		return (-1);
	}
	return (0);
}

/* Create dir and its missing parents (mkdir -p -m 0700); check it. */
int
portstate_dir_prepare(const char *dir, char *err, size_t errlen)
{
	char	*path, *p;
	int	 created = 0;

	if (*dir == '\0') {
		snprintf(err, errlen, "state directory: empty path");
		return (-1);
	}
	path = xstrdup(dir);
	/* Parents first, as mkdir -p makes them (0755 less the umask). */
	for (p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) == -1 && errno != EEXIST) {
			snprintf(err, errlen, "state directory %s: cannot "
			    "create %s: %s", dir, path, strerror(errno));
			free(path);
			return (-1);
		}
		*p = '/';
	}
	free(path);
	if (mkdir(dir, 0700) == 0)
		created = 1;
	else if (errno != EEXIST) {
		snprintf(err, errlen, "state directory %s: cannot create it: "
		    "%s", dir, strerror(errno));
		return (-1);
	}
	if (portstate_dir_usable(dir, err, errlen) == -1)
		return (-1);
	if (created)
		log_info("created state directory %s", dir);
	return (0);
}
