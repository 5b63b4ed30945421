/*
 * tu.h: the CUnit runner shared by every unit test binary.
 *
 * A test file defines its cases and a table:
 *
 *	static const struct tu_case cases[] = {
 *		{ "round robin order", test_lb_round_robin },
 *		{ NULL, NULL }
 *	};
 *	TU_MAIN("lb", cases)
 *
 * The binary exits 0 when every assertion passed, 1 otherwise (never 77
 * or 99, which automake reads as skip and hard error).
 */
#ifndef TU_H
#define TU_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <json-c/json.h>

struct tu_case {
	const char	*name;
	void		(*fn)(void);
};

/* Register and run one suite; return the process exit status. */
static inline int
tu_run(const char *suite_name, const struct tu_case *cases)
{
	CU_pSuite	suite;
	unsigned int	failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return (1);
	if ((suite = CU_add_suite(suite_name, NULL, NULL)) == NULL)
		goto fail;
	for (; cases->name != NULL; cases++)
		if (CU_add_test(suite, cases->name, cases->fn) == NULL)
			goto fail;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures() +
	    CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return (failures == 0 ? 0 : 1);
fail:
	fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
	CU_cleanup_registry();
	return (1);
}

#define TU_MAIN(name, cases)					\
int								\
main(void)							\
{								\
	return (tu_run((name), (cases)));			\
}

/* Path of a fixture under tests/data (KUPROXY_TESTDATA). */
static inline const char *
tu_data(const char *file)
{
	static char	 buf[4096];
	const char	*dir = getenv("KUPROXY_TESTDATA");

	snprintf(buf, sizeof(buf), "%s/%s", dir ? dir : "tests/data", file);
	return (buf);
}

/* Load a JSON fixture from tests/data; the test stops if it cannot. */
static inline struct json_object *
tu_json(const char *name)
{
	struct json_object	*o;

	o = json_object_from_file(tu_data(name));
	CU_ASSERT_FATAL(o != NULL);
	return (o);
}

/* Read a whole file into a string (caller frees), NULL if unreadable. */
static inline char *
tu_slurp(const char *path)
{
	FILE	*f;
	char	*buf;
	long	 len;

	if ((f = fopen(path, "r")) == NULL)
		return (NULL);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	if ((buf = malloc(len + 1)) != NULL) {
		if (fread(buf, 1, len, f) != (size_t)len)
			len = 0;
		buf[len] = '\0';
	}
	fclose(f);
	return (buf);
}

/* Assert that got equals the fixture file, showing both if not. */
static inline void
tu_assert_golden(const char *got, const char *file)
{
	char	*want = tu_slurp(tu_data(file));

	CU_ASSERT_PTR_NOT_NULL_FATAL(want);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	if (strcmp(want, got) != 0)
		fprintf(stderr, "\n%s: expected:\n%s--- got:\n%s---\n", file,
		    want, got);
	CU_ASSERT_STRING_EQUAL(got, want);
	free(want);
}

/* Count this process's open descriptors. */
static inline int
tu_fd_count(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return (-1);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return (n - 1);		/* the directory's own descriptor */
}

/* What tu_capture_begin() saved, for tu_capture_end(). */
struct tu_capture {
	int	fd;		/* the temporary file */
	int	saved;		/* the original descriptor */
	int	which;		/* 1 (stdout) or 2 (stderr, the log) */
};

/* Start sending descriptor which (1 or 2) to a temporary file. */
static inline void
tu_capture_begin(struct tu_capture *c, int which)
{
	char	path[] = "/tmp/kuproxy-test.capXXXXXX";

	fflush(stdout);
	fflush(stderr);
	c->which = which;
	c->fd = mkstemp(path);
	CU_ASSERT_FATAL(c->fd != -1);
	unlink(path);
	c->saved = dup(which);
	dup2(c->fd, which);
}

/* Restore the descriptor; return what was written (caller frees). */
static inline char *
tu_capture_end(struct tu_capture *c)
{
	char	*buf;
	off_t	 len;

	fflush(stdout);
	fflush(stderr);
	dup2(c->saved, c->which);
	close(c->saved);
	len = lseek(c->fd, 0, SEEK_END);
	buf = calloc(1, len > 0 ? (size_t)len + 1 : 1);
	CU_ASSERT_FATAL(buf != NULL);
	if (len > 0 && pread(c->fd, buf, (size_t)len, 0) != len)
		buf[0] = '\0';
	close(c->fd);
	c->fd = c->saved = -1;
	return (buf);
}

#endif /* TU_H */
