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

#include <stdio.h>
#include <stdlib.h>

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

#endif /* TU_H */
