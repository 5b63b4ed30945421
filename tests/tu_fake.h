/*
 * tu_fake.h: the fake iptables, iptables-restore, iptables-save (and the
 * ip6tables ones) and conntrack of tests/data/fake-iptables.sh, set up in
 * a private directory for unit tests that drive the rules layer without
 * root.  What each call did is recorded there (see the script's header);
 * these helpers write its switches and read its records.
 */
#ifndef TU_FAKE_H
#define TU_FAKE_H

#include <sys/stat.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tu.h"

struct tu_fake {
	char	dir[64];
	char	ipt4[PATH_MAX];		/* .../iptables */
	char	ipt6[PATH_MAX];		/* .../ip6tables */
	char	ct[PATH_MAX];		/* .../conntrack */
};

/* Write a file into the fake directory. */
static inline void
tu_fake_write(const struct tu_fake *f, const char *name, const char *content)
{
	char	path[PATH_MAX];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	fp = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	fputs(content, fp);
	fclose(fp);
}

/* Remove a file of the fake directory (a switch); absent is fine. */
static inline void
tu_fake_unlink(const struct tu_fake *f, const char *name)
{
	char	path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	unlink(path);
}

/* Copy a fixture into the fake directory under another name. */
static inline void
tu_fake_copy(const struct tu_fake *f, const char *fixture, const char *name)
{
	char	*s = tu_slurp(tu_data(fixture));

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	tu_fake_write(f, name, s);
	free(s);
}

/* Read a file of the fake directory (caller frees); NULL if absent. */
static inline char *
tu_fake_read(const struct tu_fake *f, const char *name)
{
	char	path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	return (tu_slurp(path));
}

/* Return the number of calls recorded under prefix ("iptables.restore"). */
static inline int
tu_fake_count(const struct tu_fake *f, const char *prefix)
{
	char	name[128], *s;
	int	n;

	snprintf(name, sizeof(name), "%s.count", prefix);
	if ((s = tu_fake_read(f, name)) == NULL)
		return (0);
	n = atoi(s);
	free(s);
	return (n);
}

/* Return the argv lines of a recorded call joined with spaces. */
static inline char *
tu_fake_args(const struct tu_fake *f, const char *prefix, int n)
{
	char	 name[128], *s, *p;

	snprintf(name, sizeof(name), "%s.%d.args", prefix, n);
	if ((s = tu_fake_read(f, name)) == NULL)
		return (NULL);
	for (p = s; *p != '\0'; p++)
		if (*p == '\n')
			*p = p[1] == '\0' ? '\0' : ' ';
	return (s);
}

/* Set up the fake binaries: a copy of the script, linked as each name. */
static inline void
tu_fake_setup(struct tu_fake *f)
{
	static const char *const names[] = { "iptables", "iptables-restore",
		"iptables-save", "ip6tables", "ip6tables-restore",
		"ip6tables-save", "conntrack", NULL };
	char	script[PATH_MAX], link[PATH_MAX];
	int	i;

	snprintf(f->dir, sizeof(f->dir), "/tmp/kuproxy-ipt-XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(f->dir));
	tu_fake_copy(f, "fake-iptables.sh", "fake-iptables.sh");
	snprintf(script, sizeof(script), "%s/fake-iptables.sh", f->dir);
	CU_ASSERT_FATAL(chmod(script, 0755) == 0);
	for (i = 0; names[i] != NULL; i++) {
		snprintf(link, sizeof(link), "%s/%s", f->dir, names[i]);
		CU_ASSERT_FATAL(symlink(script, link) == 0);
	}
	snprintf(f->ipt4, sizeof(f->ipt4), "%s/iptables", f->dir);
	snprintf(f->ipt6, sizeof(f->ipt6), "%s/ip6tables", f->dir);
	snprintf(f->ct, sizeof(f->ct), "%s/conntrack", f->dir);
	setenv("FAKE_IPT_DIR", f->dir, 1);
}

/* Remove the fake directory and everything in it (one level deep). */
static inline void
tu_fake_teardown(struct tu_fake *f)
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
		if (unlink(path) == -1 && (d2 = opendir(path)) != NULL) {
			while ((de2 = readdir(d2)) != NULL) {
				snprintf(sub, sizeof(sub), "%s/%s", path,
				    de2->d_name);
				unlink(sub);
			}
			closedir(d2);
			rmdir(path);
		}
	}
	closedir(d);
	rmdir(f->dir);
	unsetenv("FAKE_IPT_DIR");
}

#endif /* TU_FAKE_H */
