/*
 * test_conntrack.c: the "conntrack -D" command of a removed UDP service
 * and the judgement of its result, against the fake conntrack.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conntrack.h"
#include "exec.h"
#include "tu.h"
#include "fake_ipt.h"

/* Prepare, run with exec_run() and finish one flush, as a caller does. */
static int
flush_blocking(const char *path, const char *ip, int *warned, char *err,
    size_t errlen)
{
	struct conntrack_flush	f;
	struct exec_result	res;
	int			rv;

	if ((rv = conntrack_flush_prepare(&f, path, ip, warned, err,
	    errlen)) != 1)
		return (rv);
	rv = exec_run(f.argv, NULL, 0, CONNTRACK_TIMEOUT_MS, &res);
	rv = conntrack_flush_finish(&f, rv, &res, err, errlen);
	exec_result_free(&res);
	return (rv);
}

/* conntrack: exact argv, "0 entries" is fine, failures reported. */
static void
test_conntrack_flush(void)
{
	struct conntrack_flush	 cf;
	struct fake		 f;
	char			 err[256], *s;
	int			 warned = 0;

	fake_setup(&f);
	CU_ASSERT_EQUAL(flush_blocking(f.ct, "10.96.0.10", &warned, err,
	    sizeof(err)), 0);
	s = fake_args(&f, "conntrack.conntrack", 1);
	CU_ASSERT_STRING_EQUAL(s, "-D --orig-dst 10.96.0.10 -p udp");
	free(s);
	CU_ASSERT_EQUAL(flush_blocking(f.ct, "FD00::0:10", &warned, err,
	    sizeof(err)), 0);
	s = fake_args(&f, "conntrack.conntrack", 2);
	CU_ASSERT_STRING_EQUAL(s, "-D --orig-dst fd00::10 -p udp -f ipv6");
	free(s);
	fake_write(&f, "conntrack.mode", "zero\n");
	CU_ASSERT_EQUAL(flush_blocking(f.ct, "10.96.0.10", &warned, err,
	    sizeof(err)), 0);
	fake_write(&f, "conntrack.mode", "fail\n");
	CU_ASSERT_EQUAL(flush_blocking(f.ct, "10.96.0.10", &warned, err,
	    sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "invalid parameters"));
	CU_ASSERT_EQUAL(flush_blocking(f.ct, "-f", &warned, err,
	    sizeof(err)), -1);
	CU_ASSERT_EQUAL(fake_count(&f, "conntrack.conntrack"), 4);
	CU_ASSERT_EQUAL(warned, 0);
	/* No conntrack binary: a warning, once, not an error. */
	CU_ASSERT_EQUAL(flush_blocking("/nonexistent/conntrack",
	    "10.96.0.10", &warned, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(warned, 1);
	CU_ASSERT_EQUAL(flush_blocking("/nonexistent/conntrack",
	    "10.96.0.10", &warned, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fake_count(&f, "conntrack.conntrack"), 4);
	/* A flush that could not be started is a failure. */
	CU_ASSERT_EQUAL(conntrack_flush_prepare(&cf, f.ct, "10.96.0.10",
	    &warned, err, sizeof(err)), 1);
	CU_ASSERT_EQUAL(conntrack_flush_finish(&cf, -1, NULL, err,
	    sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not run"));
	fake_teardown(&f);
}

static const struct tu_case cases[] = {
	{ "flush", test_conntrack_flush },
	{ NULL, NULL }
};

TU_MAIN("conntrack", cases)
