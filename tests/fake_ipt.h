/*
 * fake_ipt.h: fake iptables, iptables-restore, iptables-save (and the
 * ip6tables ones) and conntrack for unit tests: tests/data/
 * fake-iptables.sh linked under each name in a private directory, which
 * also holds its switches and records every call (see the script).
 * Include after tu.h.
 */
#ifndef FAKE_IPT_H
#define FAKE_IPT_H

#include <sys/stat.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec.h"
#include "iptables.h"

/* Fake binaries in a private directory. */
struct fake {
	char	dir[64];
	char	ipt4[PATH_MAX];
	char	ipt6[PATH_MAX];
	char	ct[PATH_MAX];
	char	ipset[PATH_MAX];
};

/* Write a file into the fake directory. */
static inline void
fake_write(const struct fake *f, const char *name, const char *content)
{
	char	path[PATH_MAX];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	fp = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	fputs(content, fp);
	fclose(fp);
}

/* Copy a fixture into the fake directory under another name. */
static inline void
fake_copy(const struct fake *f, const char *fixture, const char *name)
{
	char	*s = tu_slurp(tu_data(fixture));

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	fake_write(f, name, s);
	free(s);
}

/* Read a file of the fake directory (caller frees); NULL if absent. */
static inline char *
fake_read(const struct fake *f, const char *name)
{
	char	path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	return (tu_slurp(path));
}

/* Return the number of calls recorded under prefix ("iptables.restore"). */
static inline int
fake_count(const struct fake *f, const char *prefix)
{
	char	name[128], *s;
	int	n;

	snprintf(name, sizeof(name), "%s.count", prefix);
	if ((s = fake_read(f, name)) == NULL)
		return (0);
	n = atoi(s);
	free(s);
	return (n);
}

/*
 * Return how many calls recorded under prefix ("iptables.restore",
 * "conntrack.conntrack") have exited, from the call log.
 */
static inline int
fake_ended(const struct fake *f, const char *prefix)
{
	char		 want[128], fam[64], *s, *p;
	const char	*kind;
	int		 n = 0;

	snprintf(fam, sizeof(fam), "%s", prefix);
	if ((p = strchr(fam, '.')) == NULL)
		return (0);
	*p = '\0';
	kind = p + 1;
	if (strcmp(kind, "restore") == 0 || strcmp(kind, "save") == 0)
		snprintf(want, sizeof(want), "%s-%s end\n", fam, kind);
	else
		snprintf(want, sizeof(want), "%s end\n", fam);
	if ((s = fake_read(f, "calls")) == NULL)
		return (0);
	for (p = s; (p = strstr(p, want)) != NULL; p += strlen(want))
		if (p == s || p[-1] == '\n')
			n++;
	free(s);
	return (n);
}

/* Set up the fake binaries: a copy of the script, linked as each name. */
static inline void
fake_setup(struct fake *f)
{
	static const char *const names[] = { "iptables", "iptables-restore",
		"iptables-save", "ip6tables", "ip6tables-restore",
		"ip6tables-save", "conntrack", "ipset", NULL };
	char	script[PATH_MAX], link[PATH_MAX];
	int	i;

	snprintf(f->dir, sizeof(f->dir), "/tmp/kuproxy-ipt-XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(f->dir));
	fake_copy(f, "fake-iptables.sh", "fake-iptables.sh");
	snprintf(script, sizeof(script), "%s/fake-iptables.sh", f->dir);
	CU_ASSERT_FATAL(chmod(script, 0755) == 0);
	for (i = 0; names[i] != NULL; i++) {
		snprintf(link, sizeof(link), "%s/%s", f->dir, names[i]);
		CU_ASSERT_FATAL(symlink(script, link) == 0);
	}
	snprintf(f->ipt4, sizeof(f->ipt4), "%s/iptables", f->dir);
	snprintf(f->ipt6, sizeof(f->ipt6), "%s/ip6tables", f->dir);
	snprintf(f->ct, sizeof(f->ct), "%s/conntrack", f->dir);
	snprintf(f->ipset, sizeof(f->ipset), "%s/ipset", f->dir);
	/* Commands get a fixed environment: FAKE_IPT_DIR must be added. */
	setenv("FAKE_IPT_DIR", f->dir, 1);
	CU_ASSERT_FATAL(exec_env_set("FAKE_IPT_DIR", f->dir) == 0);
}

/* Remove a file of the fake directory (a switch); absent is fine. */
static inline void
fake_unlink(const struct fake *f, const char *name)
{
	char	path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	unlink(path);
}

/* Remove the fake directory and everything in it (one level deep). */
static inline void
fake_teardown(struct fake *f)
{
	char		 path[PATH_MAX], sub[PATH_MAX + 256];
	DIR		*d, *d2;
	struct dirent	*de, *de2;

	if ((d = opendir(f->dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", f->dir, de->d_name);
		if (unlink(path) == 0 || (d2 = opendir(path)) == NULL)
			continue;
		/* A subdirectory, such as a test's state directory. */
		while ((de2 = readdir(d2)) != NULL) {
			snprintf(sub, sizeof(sub), "%s/%s", path, de2->d_name);
			unlink(sub);
		}
		closedir(d2);
		rmdir(path);
	}
	closedir(d);
	rmdir(f->dir);
	unsetenv("FAKE_IPT_DIR");
	(void)exec_env_set("FAKE_IPT_DIR", NULL);
}

/* Return the argv lines of a recorded call joined with spaces. */
static inline char *
fake_args(const struct fake *f, const char *prefix, int n)
{
	char	 name[128], *s, *p;

	snprintf(name, sizeof(name), "%s.%d.args", prefix, n);
	if ((s = fake_read(f, name)) == NULL)
		return (NULL);
	for (p = s; *p != '\0'; p++)
		if (*p == '\n')
			*p = p[1] == '\0' ? '\0' : ' ';
	return (s);
}

/*
 * Drive a struct ipt synchronously, as tests do: the jump reads when
 * due and the prepare (fake_prepare_blocking), or a whole sync
 * (fake_sync_blocking), each command through exec_run().
 */
/*
 * Run the jump reads when they are due, then prepare: what proxier_rules
 * does in the background, here with exec_run().
 */
static inline int
fake_prepare_blocking(struct ipt *ipt, const struct ipt_params *p,
    const struct ipt_svcport *sp, size_t n, int force, struct ipt_apply *a,
    char *err, size_t errlen)
{
	struct exec_result	res;
	struct ipt_reads	r;
	int			due = ipt_reads_due(ipt, force), rv;

	ipt_reads_init(ipt, &r);
	while (due && r.n < IPT_NREADS) {
		rv = exec_run_max(r.argv[r.n], NULL, 0, IPT_READ_TIMEOUT_MS,
		    IPT_READ_MAX, &res);
		rv = ipt_reads_take(ipt, &r, rv, &res, err, errlen);
		exec_result_free(&res);
		if (rv == -1) {
			ipt_reads_free(&r);
			memset(a, 0, sizeof(*a));
			return (-1);
		}
	}
	rv = ipt_sync_prepare(ipt, p, sp, n, force, due ? &r : NULL, a, err,
	    errlen);
	ipt_reads_free(&r);
	return (rv);
}

/*
 * The former blocking ipt_sync(): prepare, run each phase with
 * exec_run(), finish; a failed incremental update is followed at once by
 * a full one.
 */
static inline int
fake_sync_blocking(struct ipt *ipt, const struct ipt_params *p,
    const struct ipt_svcport *sp, size_t n, int force, char *err,
    size_t errlen)
{
	struct ipt_apply	a;
	struct exec_result	res;
	int			r, incremental, try;

	for (try = 0; try < 2; try++) {
		if ((r = fake_prepare_blocking(ipt, p, sp, n, force, &a, err,
		    errlen)) <= 0)
			return (r);
		incremental = a.incremental;
		r = exec_run(a.argv, a.input, a.inlen, IPT_RESTORE_TIMEOUT_MS,
		    &res);
		if (r == 0 && ipt_apply_next(&a)) {
			exec_result_free(&res);
			r = exec_run(a.argv, a.input, a.inlen,
			    IPT_RESTORE_TIMEOUT_MS, &res);
		}
		r = ipt_sync_finish(ipt, &a, r, &res, err, errlen);
		exec_result_free(&res);
		if (r == 0 || !incremental)
			break;
	}
	return (r);
}

#endif /* FAKE_IPT_H */
