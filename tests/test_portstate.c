/*
 * test_portstate.c: the persisted proxy port file.
 */
#include <sys/stat.h>

#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portstate.h"
#include "tu.h"

/* Make a fresh temporary directory; dir must hold 64 bytes. */
static void
mktempdir(char *dir)
{
	const char	*t = getenv("TMPDIR");

	snprintf(dir, 64, "%.40s/portstate.XXXXXX", t != NULL ? t : "/tmp");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
}

/* Remove dir and the files in it (one level). */
static void
rmtempdir(const char *dir)
{
	char		 path[512];
	DIR		*d;
	struct dirent	*de;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* Write s to path. */
static void
write_file(const char *path, const char *s, size_t len)
{
	int	fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CU_ASSERT_FATAL(fd != -1);
	CU_ASSERT_FATAL(write(fd, s, len) == (ssize_t)len);
	close(fd);
}

/* Parse s (a C string); return 0/-1 and leave the error in err. */
static int
parse(const char *s, struct portstate *ps, char *err, size_t errlen)
{
	err[0] = '\0';
	return (portstate_parse(s, strlen(s), ps, err, errlen));
}

/* A good file with comments, blanks and tabs; lookups by name and proto. */
static void
test_portstate_parse_good(void)
{
	static const char	*s =
	    "# kuproxy proxy ports\n"
	    "\n"
	    "TCP 40123 default/web:http\n"
	    "   # indented comment\n"
	    "udp\t40124\tkube-system/kube-dns:dns\n"
	    "TCP 40125 kube-system/kube-dns:dns-tcp\n"
	    "  \t \n"
	    "UDP 1 default/web:http\n"
	    "TCP 65535 default/noport";	/* no final newline */
	struct portstate	 ps = { NULL, 0, NULL };
	char			 err[256];

	CU_ASSERT_EQUAL_FATAL(parse(s, &ps, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(ps.n, 5);
	CU_ASSERT_EQUAL(portstate_lookup(&ps, "default/web:http",
	    IPPROTO_TCP), 40123);
	CU_ASSERT_EQUAL(portstate_lookup(&ps, "default/web:http",
	    IPPROTO_UDP), 1);
	CU_ASSERT_EQUAL(portstate_lookup(&ps, "kube-system/kube-dns:dns",
	    IPPROTO_UDP), 40124);
	CU_ASSERT_EQUAL(portstate_lookup(&ps, "kube-system/kube-dns:dns",
	    IPPROTO_TCP), 0);
	CU_ASSERT_EQUAL(portstate_lookup(&ps, "default/noport",
	    IPPROTO_TCP), 65535);
	CU_ASSERT_EQUAL(portstate_lookup(&ps, "default/web", IPPROTO_TCP), 0);
	portstate_clear(&ps);
	CU_ASSERT_EQUAL(ps.n, 0);
	CU_ASSERT_PTR_NULL(ps.v);

	CU_ASSERT_EQUAL(parse("", &ps, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(parse("# only a comment\n\n", &ps, err,
	    sizeof(err)), 0);
	CU_ASSERT_EQUAL(ps.n, 0);
}

/* Return 1 if s is rejected with err containing want; ps stays empty. */
static int
bad(const char *s, const char *want)
{
	struct portstate	ps = { NULL, 0, NULL };
	char			err[256];

	if (parse(s, &ps, err, sizeof(err)) != -1) {
		portstate_clear(&ps);
		fprintf(stderr, "accepted: \"%s\"\n", s);
		return (0);
	}
	if (strstr(err, want) == NULL || ps.n != 0 || ps.v != NULL) {
		fprintf(stderr, "\"%s\": error \"%s\", want \"%s\"\n", s, err,
		    want);
		return (0);
	}
	return (1);
}

/* Each kind of bad line is reported with its line number. */
static void
test_portstate_parse_bad(void)
{
	CU_ASSERT(bad("TCP 1 a/b\nSCTP 2 a/c\n", "line 2: bad protocol"));
	CU_ASSERT(bad("FOO 2 a/c\n", "line 1: bad protocol \"FOO\""));
	CU_ASSERT(bad("# c\n\nTCP 0 a/b\n", "line 3: bad port \"0\""));
	CU_ASSERT(bad("TCP 65536 a/b\n", "line 1: bad port"));
	CU_ASSERT(bad("TCP 12a a/b\n", "line 1: bad port"));
	CU_ASSERT(bad("TCP -1 a/b\n", "line 1: bad port"));
	CU_ASSERT(bad("TCP 000080 a/b\n", "line 1: bad port"));
	CU_ASSERT(bad("TCP 123\n", "line 1: expected"));
	CU_ASSERT(bad("TCP\n", "too few fields"));
	CU_ASSERT(bad("TCP 1 a/b extra\n", "too many fields"));
	CU_ASSERT(bad("TCP 1 a/b # comment\n", "too many fields"));
	CU_ASSERT(bad("TCP 1 noslash\n", "line 1: bad service port name"));
	CU_ASSERT(bad("TCP 1 /name\n", "bad service port name"));
	CU_ASSERT(bad("TCP 1 ns/\n", "bad service port name"));
	CU_ASSERT(bad("TCP 1 a/b\r\n", "bad service port name"));
	CU_ASSERT(bad("TCP 1 a/b:p\nTCP 2 a/b:p\n",
	    "line 2: duplicate TCP a/b:p"));
}

/* A NUL byte or an overlong line rejects the file. */
static void
test_portstate_parse_binary(void)
{
	static const char	 nul[] = "TCP 1 a/b\nTCP 2 a/\0c\n";
	struct portstate	 ps = { NULL, 0, NULL };
	char			 err[256], *big;

	CU_ASSERT_EQUAL(portstate_parse(nul, sizeof(nul) - 1, &ps, err,
	    sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 2: NUL byte"));
	CU_ASSERT_EQUAL(ps.n, 0);

	big = malloc(5000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	memset(big, 'x', 4999);
	memcpy(big, "TCP 1 a/", 8);
	big[4999] = '\0';
	CU_ASSERT_EQUAL(parse(big, &ps, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 1: line too long"));
	free(big);
}

/* Save then load gives back the same entries; no temp file is left. */
static void
test_portstate_round_trip(void)
{
	struct portstate	 out = { NULL, 0, NULL }, in = { NULL, 0, NULL };
	char			 dir[64], path[128], tmp[160], err[256];
	char			 name[64];
	size_t			 i;
	int			 ok = 1;

	mktempdir(dir);
	snprintf(path, sizeof(path), "%s/ports", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "ns%zu/svc%zu:p%zu", i % 7, i, i);
		portstate_add(&out, name, i % 2 ? IPPROTO_UDP : IPPROTO_TCP,
		    (uint16_t)(30000 + i));
	}
	portstate_add(&out, "default/unnamed", IPPROTO_TCP, 65535);
	CU_ASSERT_EQUAL_FATAL(portstate_save(path, &out, err, sizeof(err)),
	    0);
	CU_ASSERT_EQUAL(access(tmp, F_OK), -1);
	CU_ASSERT_EQUAL_FATAL(portstate_load(path, &in, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(in.n, out.n);
	for (i = 0; i < out.n; i++) {
		ok = ok && portstate_lookup(&in, out.v[i].name,
		    out.v[i].proto) == out.v[i].port;
		ok = ok && portstate_lookup(&in, out.v[i].name,
		    out.v[i].proto == IPPROTO_TCP ? IPPROTO_UDP :
		    IPPROTO_TCP) == 0;
	}
	CU_ASSERT(ok);
	portstate_clear(&in);

	/* Saving again replaces the file. */
	portstate_clear(&out);
	portstate_add(&out, "a/b:c", IPPROTO_UDP, 7);
	CU_ASSERT_EQUAL(portstate_save(path, &out, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(portstate_load(path, &in, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(in.n, 1);
	CU_ASSERT_EQUAL(portstate_lookup(&in, "a/b:c", IPPROTO_UDP), 7);
	portstate_clear(&in);
	portstate_clear(&out);
	rmtempdir(dir);
}

/* A missing file is an empty state. */
static void
test_portstate_missing_file(void)
{
	struct portstate	 ps = { NULL, 0, NULL };
	char			 dir[64], path[128], err[256] = "";

	mktempdir(dir);
	snprintf(path, sizeof(path), "%s/absent", dir);
	CU_ASSERT_EQUAL(portstate_load(path, &ps, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(ps.n, 0);
	CU_ASSERT_STRING_EQUAL(err, "");
	rmtempdir(dir);
}

/* A bad file fails to load with the path and line in the message. */
static void
test_portstate_load_bad(void)
{
	static const char	*s = "TCP 40000 a/b\nTCP 70000 a/c\n";
	struct portstate	 ps = { NULL, 0, NULL };
	char			 dir[64], path[128], want[200], err[256];

	mktempdir(dir);
	snprintf(path, sizeof(path), "%s/ports", dir);
	write_file(path, s, strlen(s));
	CU_ASSERT_EQUAL(portstate_load(path, &ps, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: line 2: bad port", path);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	CU_ASSERT_EQUAL(ps.n, 0);

	/* A directory where the file should be. */
	unlink(path);
	CU_ASSERT_EQUAL_FATAL(mkdir(path, 0755), 0);
	CU_ASSERT_EQUAL(portstate_load(path, &ps, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
	rmdir(path);
	rmtempdir(dir);
}

/* Saving where no file can be created fails, naming the file. */
static void
test_portstate_save_unwritable(void)
{
	struct portstate	 ps = { NULL, 0, NULL };
	char			 dir[64], path[160], err[256] = "";

	portstate_add(&ps, "a/b:c", IPPROTO_TCP, 1234);
	mktempdir(dir);

	/* The parent is a regular file: fails even for root. */
	snprintf(path, sizeof(path), "%s/file", dir);
	write_file(path, "x", 1);
	snprintf(path, sizeof(path), "%s/file/ports", dir);
	CU_ASSERT_EQUAL(portstate_save(path, &ps, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, strerror(ENOTDIR)));

	snprintf(path, sizeof(path), "%s/no/such/dir/ports", dir);
	CU_ASSERT_EQUAL(portstate_save(path, &ps, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, path));

	/* A read-only directory (root ignores the mode, so only as a user). */
	if (geteuid() != 0) {
		snprintf(path, sizeof(path), "%s/ro", dir);
		CU_ASSERT_EQUAL_FATAL(mkdir(path, 0555), 0);
		snprintf(path, sizeof(path), "%s/ro/ports", dir);
		CU_ASSERT_EQUAL(portstate_save(path, &ps, err, sizeof(err)),
		    -1);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, strerror(EACCES)));
		snprintf(path, sizeof(path), "%s/ro", dir);
		rmdir(path);
	}
	portstate_clear(&ps);
	rmtempdir(dir);
}

/* An entry the parser would reject fails the save; the file is kept. */
static void
test_portstate_save_invalid(void)
{
	struct portstate	 ps = { NULL, 0, NULL }, in = { NULL, 0, NULL };
	char			 dir[64], path[128], tmp[160], err[256];

	mktempdir(dir);
	snprintf(path, sizeof(path), "%s/ports", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	portstate_add(&ps, "a/b:c", IPPROTO_TCP, 1234);
	CU_ASSERT_EQUAL_FATAL(portstate_save(path, &ps, err, sizeof(err)), 0);

	portstate_add(&ps, "a/b:d", IPPROTO_TCP, 0);
	CU_ASSERT_EQUAL(portstate_save(path, &ps, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad port 0"));
	portstate_clear(&ps);
	portstate_add(&ps, "has space/x", IPPROTO_TCP, 1);
	CU_ASSERT_EQUAL(portstate_save(path, &ps, err, sizeof(err)), -1);
	portstate_clear(&ps);
	portstate_add(&ps, "a/b", IPPROTO_UDP, 1);
	portstate_add(&ps, "a/b", IPPROTO_UDP, 2);
	CU_ASSERT_EQUAL(portstate_save(path, &ps, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "duplicate UDP a/b"));
	portstate_clear(&ps);
	portstate_add(&ps, "a/b", IPPROTO_SCTP, 1);
	CU_ASSERT_EQUAL(portstate_save(path, &ps, err, sizeof(err)), -1);

	CU_ASSERT_EQUAL(access(tmp, F_OK), -1);
	CU_ASSERT_EQUAL(portstate_load(path, &in, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(in.n, 1);
	CU_ASSERT_EQUAL(portstate_lookup(&in, "a/b:c", IPPROTO_TCP), 1234);
	portstate_clear(&in);
	portstate_clear(&ps);
	rmtempdir(dir);
}

/*
 * The port file is 0600 whatever the umask, its temporary file is
 * created afresh (a link planted there is replaced, never followed),
 * and a port file that is a symbolic link or a FIFO is refused, not
 * followed or waited on.
 */
static void
test_portstate_file_safety(void)
{
	struct portstate	 ps = { NULL, 0, NULL };
	char			 dir[64], path[128], tmp[160], target[160];
	char			 err[256];
	struct stat		 st;
	mode_t			 old = umask(0);

	mktempdir(dir);
	snprintf(path, sizeof(path), "%s/ports", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	snprintf(target, sizeof(target), "%s/target", dir);
	write_file(target, "precious\n", 9);
	CU_ASSERT_EQUAL_FATAL(symlink(target, tmp), 0);
	portstate_add(&ps, "a/b:c", IPPROTO_TCP, 1234);
	CU_ASSERT_EQUAL_FATAL(portstate_save(path, &ps, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(lstat(path, &st), 0);
	CU_ASSERT(S_ISREG(st.st_mode));
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);
	CU_ASSERT_EQUAL(stat(target, &st), 0);
	CU_ASSERT_EQUAL(st.st_size, 9);		/* not written through */
	portstate_clear(&ps);

	/* The port file itself a link: refused, naming it. */
	CU_ASSERT_EQUAL(unlink(path), 0);
	CU_ASSERT_EQUAL_FATAL(symlink(target, path), 0);
	CU_ASSERT_EQUAL(portstate_load(path, &ps, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "a symbolic link, refused"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
	CU_ASSERT_EQUAL(ps.n, 0);

	/* A FIFO: refused at once (O_NONBLOCK), not waited on. */
	CU_ASSERT_EQUAL(unlink(path), 0);
	CU_ASSERT_EQUAL_FATAL(mkfifo(path, 0600), 0);
	CU_ASSERT_EQUAL(portstate_load(path, &ps, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a regular file"));
	unlink(path);
	unlink(target);
	umask(old);
	rmtempdir(dir);
}

/*
 * The state directory is created with its parents (mkdir -p -m 0700),
 * an existing one is kept but made 0700, one another user owns and a
 * path that cannot be a directory are refused with a message naming it.
 */
static void
test_portstate_dir_prepare(void)
{
	char		 tmp[] = "/tmp/test_portstate.dXXXXXX";
	char		 dir[512], file[128], err[512];
	struct stat	 st;
	mode_t		 old = umask(022);
	int		 fd;

	CU_ASSERT_FATAL(mkdtemp(tmp) != NULL);
	snprintf(dir, sizeof(dir), "%s/var/lib/kuproxy", tmp);
	CU_ASSERT_EQUAL(portstate_dir_prepare(dir, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(stat(dir, &st), 0);
	CU_ASSERT(S_ISDIR(st.st_mode));
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0700);
	snprintf(file, sizeof(file), "%s/var/lib", tmp);
	CU_ASSERT_EQUAL(stat(file, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0755);

	/* Existing: kept, but made 0700; a trailing slash is fine. */
	CU_ASSERT_EQUAL(chmod(dir, 0750), 0);
	strcat(dir, "/");
	CU_ASSERT_EQUAL(portstate_dir_prepare(dir, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(stat(dir, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0700);
	/* Owned by another user (only root can chown): refused. */
	if (geteuid() == 0) {
		CU_ASSERT_EQUAL(chown(dir, 65534, 65534), 0);
		CU_ASSERT_EQUAL(portstate_dir_prepare(dir, err, sizeof(err)),
		    -1);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "owned by uid 65534"));
		CU_ASSERT_EQUAL(chown(dir, 0, 0), 0);
	}

	/* A file where the directory should be. */
	snprintf(file, sizeof(file), "%s/file", tmp);
	CU_ASSERT_FATAL((fd = open(file, O_CREAT | O_WRONLY, 0600)) != -1);
	close(fd);
	CU_ASSERT_EQUAL(portstate_dir_prepare(file, err, sizeof(err)), -1);
	snprintf(dir, sizeof(dir), "state directory %s: not a directory",
	    file);
	CU_ASSERT_STRING_EQUAL(err, dir);
	/* A file where a parent should be. */
	snprintf(dir, sizeof(dir), "%s/file/kuproxy", tmp);
	CU_ASSERT_EQUAL(portstate_dir_prepare(dir, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot create it: Not a "
	    "directory"));
	CU_ASSERT_EQUAL(portstate_dir_prepare("", err, sizeof(err)), -1);

	snprintf(dir, sizeof(dir), "rm -rf %s", tmp);
	CU_ASSERT(system(dir) == 0);
	umask(old);
}

static const struct tu_case cases[] = {
	{ "parse a good file", test_portstate_parse_good },
	{ "parse bad lines", test_portstate_parse_bad },
	{ "parse NUL and long lines", test_portstate_parse_binary },
	{ "save and load round trip", test_portstate_round_trip },
	{ "missing file is empty", test_portstate_missing_file },
	{ "load a bad file", test_portstate_load_bad },
	{ "save to an unwritable place", test_portstate_save_unwritable },
	{ "save refuses bad entries", test_portstate_save_invalid },
	{ "state directory", test_portstate_dir_prepare },
	{ "file modes, links and FIFOs", test_portstate_file_safety },
	{ NULL, NULL }
};

TU_MAIN("portstate", cases)
