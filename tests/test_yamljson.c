/*
 * test_yamljson.c: YAML to json-c conversion, scalar typing, anchors,
 * line numbers and error reporting.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "yamljson.h"
#include "tu.h"

/* Parse a NUL-terminated string; return the number of documents or -1. */
static int
parse(const char *s, struct json_object ***docs, char *err, size_t errlen)
{
	size_t	n;

	if (yamljson_parse(s, strlen(s), docs, &n, err, errlen) == -1)
		return (-1);
	return ((int)n);
}

/* Return the member k of o, or NULL. */
static struct json_object *
get(struct json_object *o, const char *k)
{
	struct json_object	*v = NULL;

	json_object_object_get_ex(o, k, &v);
	return (v);
}

/* Return 1 if o is a string equal to s. */
static int
is_str(struct json_object *o, const char *s)
{
	return (json_object_is_type(o, json_type_string) &&
	    strcmp(json_object_get_string(o), s) == 0);
}

/* Return 1 if o is an integer equal to v. */
static int
is_int(struct json_object *o, int64_t v)
{
	return (json_object_is_type(o, json_type_int) &&
	    json_object_get_int64(o) == v);
}

/* Plain scalars resolve to typed values; others stay strings. */
static void
test_yamljson_types(void)
{
	struct json_object	**d, *o;
	char			  err[256];
	const char		 *y =
	    "port: 80\nneg: -12\nzero: 0\noctal: 0123\nip: 10.0.0.1\n"
	    "ver: 1.2.3.4\nf: 1.5\nexp: 1e3\nq: \"80\"\nsq: '443'\n"
	    "t1: true\nt2: True\nt3: TRUE\nf1: false\nn1: null\nn2: ~\n"
	    "n3:\nlit: |\n  line\nfold: >\n  a\n  b\ntagged: !!str 12\n"
	    "word: yes\nbig: 99999999999999999999\n";

	CU_ASSERT_FATAL(parse(y, &d, err, sizeof(err)) == 1);
	o = d[0];
	CU_ASSERT(is_int(get(o, "port"), 80));
	CU_ASSERT(is_int(get(o, "neg"), -12));
	CU_ASSERT(is_int(get(o, "zero"), 0));
	CU_ASSERT(is_str(get(o, "octal"), "0123"));
	CU_ASSERT(is_str(get(o, "ip"), "10.0.0.1"));
	CU_ASSERT(is_str(get(o, "ver"), "1.2.3.4"));
	CU_ASSERT(json_object_is_type(get(o, "f"), json_type_double));
	CU_ASSERT(json_object_get_double(get(o, "f")) == 1.5);
	CU_ASSERT(json_object_get_double(get(o, "exp")) == 1000.0);
	CU_ASSERT(is_str(get(o, "q"), "80"));
	CU_ASSERT(is_str(get(o, "sq"), "443"));
	CU_ASSERT(json_object_is_type(get(o, "t1"), json_type_boolean));
	CU_ASSERT(json_object_get_boolean(get(o, "t1")) == 1);
	CU_ASSERT(json_object_get_boolean(get(o, "t2")) == 1);
	CU_ASSERT(json_object_get_boolean(get(o, "t3")) == 1);
	CU_ASSERT(json_object_is_type(get(o, "f1"), json_type_boolean));
	CU_ASSERT(json_object_get_boolean(get(o, "f1")) == 0);
	CU_ASSERT(json_object_object_get_ex(o, "n1", NULL));
	CU_ASSERT(get(o, "n1") == NULL);
	CU_ASSERT(get(o, "n2") == NULL && json_object_object_get_ex(o, "n2",
	    NULL));
	CU_ASSERT(get(o, "n3") == NULL && json_object_object_get_ex(o, "n3",
	    NULL));
	CU_ASSERT(is_str(get(o, "lit"), "line\n"));
	CU_ASSERT(is_str(get(o, "fold"), "a b\n"));
	CU_ASSERT(is_str(get(o, "tagged"), "12"));
	CU_ASSERT(is_str(get(o, "word"), "yes"));
	CU_ASSERT(is_str(get(o, "big"), "99999999999999999999"));
	yamljson_free(d, 1);
}

/* Nested maps and sequences keep their shape. */
static void
test_yamljson_nested(void)
{
	struct json_object	**d, *ports, *p;
	char			  err[256];
	const char		 *y =
	    "spec:\n  ports:\n  - name: http\n    port: 80\n"
	    "  - {name: dns, port: 53, protocol: UDP}\n  ips: []\n";

	CU_ASSERT_FATAL(parse(y, &d, err, sizeof(err)) == 1);
	ports = get(get(d[0], "spec"), "ports");
	CU_ASSERT_FATAL(json_object_is_type(ports, json_type_array));
	CU_ASSERT_FATAL(json_object_array_length(ports) == 2);
	p = json_object_array_get_idx(ports, 1);
	CU_ASSERT(is_str(get(p, "name"), "dns"));
	CU_ASSERT(is_int(get(p, "port"), 53));
	CU_ASSERT(is_str(get(p, "protocol"), "UDP"));
	CU_ASSERT(json_object_array_length(get(get(d[0], "spec"), "ips")) ==
	    0);
	yamljson_free(d, 1);
}

/* Several documents, empty ones skipped, a scalar root kept. */
static void
test_yamljson_multidoc(void)
{
	struct json_object	**d;
	char			  err[256];
	const char		 *y =
	    "---\na: 1\n---\n---\n# only a comment\n---\n- x\n---\nnull\n"
	    "--- hello\n...\n";

	CU_ASSERT_FATAL(parse(y, &d, err, sizeof(err)) == 3);
	CU_ASSERT(is_int(get(d[0], "a"), 1));
	CU_ASSERT(json_object_is_type(d[1], json_type_array));
	CU_ASSERT(is_str(d[2], "hello"));
	yamljson_free(d, 3);
	CU_ASSERT(parse("", &d, err, sizeof(err)) == 0);
	yamljson_free(d, 0);
	CU_ASSERT(parse("# nothing\n", &d, err, sizeof(err)) == 0);
	yamljson_free(d, 0);
}

/* Anchors and aliases are resolved, and redefinition takes the last. */
static void
test_yamljson_anchors(void)
{
	struct json_object	**d, *a, *b;
	char			  err[256];
	const char		 *y =
	    "base: &b {port: 80, protocol: TCP}\nuse: *b\n"
	    "list: [&x one, *x, &x two, *x]\n";

	CU_ASSERT_FATAL(parse(y, &d, err, sizeof(err)) == 1);
	a = get(d[0], "base");
	b = get(d[0], "use");
	CU_ASSERT(is_int(get(b, "port"), 80));
	CU_ASSERT(is_str(get(b, "protocol"), "TCP"));
	CU_ASSERT(json_object_equal(a, b));
	a = get(d[0], "list");
	CU_ASSERT(is_str(json_object_array_get_idx(a, 1), "one"));
	CU_ASSERT(is_str(json_object_array_get_idx(a, 3), "two"));
	yamljson_free(d, 1);

	/* A self-reference is not yet defined when it is used. */
	CU_ASSERT(parse("a: &s [1, *s]\n", &d, err, sizeof(err)) == -1);
	CU_ASSERT(strstr(err, "line 1: ") == err);
	CU_ASSERT(strstr(err, "alias \"s\"") != NULL);
	/* Anchors do not cross documents. */
	CU_ASSERT(parse("a: &k 1\n---\nb: *k\n", &d, err, sizeof(err)) == -1);
	CU_ASSERT(strncmp(err, "line 3: ", 8) == 0);
}

/* A "billion laughs" stream is rejected instead of expanded. */
static void
test_yamljson_alias_bomb(void)
{
	struct json_object	**d;
	char			  err[256];
	char			  y[2048], *p = y;
	int			  i, j;

	p += sprintf(p, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (i = 1; i < 9; i++) {
		p += sprintf(p, "a%d: &a%d [", i, i);
		for (j = 0; j < 10; j++)
			p += sprintf(p, "%s*a%d", j ? ", " : "", i - 1);
		p += sprintf(p, "]\n");
	}
	CU_ASSERT_FATAL(parse(y, &d, err, sizeof(err)) == -1);
	CU_ASSERT(strstr(err, "alias expansion") != NULL);
	/* The first levels alone are fine. */
	y[0] = '\0';
	p = y;
	p += sprintf(p, "a0: &a0 [x, x]\na1: [*a0, *a0, *a0]\n");
	CU_ASSERT_FATAL(parse(y, &d, err, sizeof(err)) == 1);
	CU_ASSERT(json_object_array_length(get(d[0], "a1")) == 3);
	yamljson_free(d, 1);
}

/* Every node carries the line where it starts. */
static void
test_yamljson_lines(void)
{
	struct json_object	**d, *spec, *ports, *p;
	char			  err[256];
	const char		 *y =
	    "# header\n"
	    "kind: Service\n"			/* 2 */
	    "spec:\n"				/* 3 */
	    "  ports:\n"			/* 4 */
	    "  - name: a\n"			/* 5 */
	    "    port: 80\n"			/* 6 */
	    "  - name: b\n"			/* 7 */
	    "\n"
	    "    port: 81\n"			/* 9 */
	    "---\n"
	    "x: 1\n";				/* 11 */

	CU_ASSERT_FATAL(parse(y, &d, err, sizeof(err)) == 2);
	CU_ASSERT(yamljson_line(d[0]) == 2);
	CU_ASSERT(yamljson_line(get(d[0], "kind")) == 2);
	spec = get(d[0], "spec");
	CU_ASSERT(yamljson_line(spec) == 4);
	ports = get(spec, "ports");
	CU_ASSERT(yamljson_line(ports) == 5);
	p = json_object_array_get_idx(ports, 1);
	CU_ASSERT(yamljson_line(p) == 7);
	CU_ASSERT(yamljson_line(get(p, "port")) == 9);
	CU_ASSERT(yamljson_line(d[1]) == 11);
	CU_ASSERT(yamljson_line(NULL) == 0);
	yamljson_free(d, 2);
}

/* Syntax errors carry libyaml's text and the line. */
static void
test_yamljson_errors(void)
{
	struct json_object	**d;
	char			  err[256];

	CU_ASSERT(parse("a:\n  b: 1\n c: 2\n", &d, err, sizeof(err)) == -1);
	CU_ASSERT(strncmp(err, "line 3: did not find expected key",
	    33) == 0);
	CU_ASSERT(parse("a: 1\nb: [1,\nc: 3\n", &d, err, sizeof(err)) == -1);
	CU_ASSERT(strstr(err, "did not find expected ',' or ']'") != NULL);
	CU_ASSERT(parse("a: 1\n b: 2\n", &d, err, sizeof(err)) == -1);
	CU_ASSERT(strncmp(err, "line 2: mapping values are not allowed",
	    38) == 0);
	CU_ASSERT(parse("ok: 1\nbad: \"x\x01\"\n", &d, err,
	    sizeof(err)) == -1);
	CU_ASSERT(strncmp(err, "line 2: ", 8) == 0);
	/* A broken second document fails the whole stream. */
	CU_ASSERT(parse("a: 1\n---\nb: [\n", &d, err, sizeof(err)) == -1);
	CU_ASSERT(d == NULL);
}

/* Keys must be scalars. */
static void
test_yamljson_key_scalar(void)
{
	struct json_object	**d;
	char			  err[256];

	CU_ASSERT(parse("a: 1\n? [x]\n: 2\n", &d, err, sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err, "line 2: mapping key must be a scalar");
	CU_ASSERT(parse("a: 1\n{x: 1}: 2\n", &d, err, sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err, "line 2: mapping key must be a scalar");
	CU_ASSERT(parse("a: &k 1\nb:\n  *k : 2\n", &d, err,
	    sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err, "line 3: mapping key must be a scalar");
}

/* Duplicate keys are an error naming the key and line. */
static void
test_yamljson_duplicate_keys(void)
{
	struct json_object	**d;
	char			  err[256];

	CU_ASSERT(parse("a: 1\nb:\n  x: 1\n  y: 2\n  x: 3\n", &d, err,
	    sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err, "line 5: duplicate key \"x\"");
	/* A duplicate null-valued key is still a duplicate. */
	CU_ASSERT(parse("a:\na: 2\n", &d, err, sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err, "line 2: duplicate key \"a\"");
	/* The same key in sibling maps is fine. */
	CU_ASSERT_FATAL(parse("- {x: 1}\n- {x: 2}\n", &d, err,
	    sizeof(err)) == 1);
	yamljson_free(d, 1);
}

/* Very deep nesting is refused, not recursed into. */
static void
test_yamljson_depth(void)
{
	struct json_object	**d;
	char			  err[256], *y;
	size_t			  i, n = 100000;

	y = malloc(2 * n + 1);
	CU_ASSERT_FATAL(y != NULL);
	for (i = 0; i < n; i++) {
		y[i] = '[';
		y[n + i] = ']';
	}
	y[2 * n] = '\0';
	CU_ASSERT(parse(y, &d, err, sizeof(err)) == -1);
	CU_ASSERT(strstr(err, "nesting deeper than") != NULL);
	y[100] = '\0';
	memset(y + 50, ']', 50);
	CU_ASSERT_FATAL(parse(y, &d, err, sizeof(err)) == 1);
	yamljson_free(d, 1);
	free(y);
}

/* yamljson_get: members of mappings only; null counts as absent. */
static void
test_yamljson_get(void)
{
	struct json_object	*o;

	o = json_tokener_parse("{\"a\": 1, \"n\": null, \"m\": {\"b\": "
	    "\"x\"}, \"l\": [1]}");
	CU_ASSERT_FATAL(o != NULL);
	CU_ASSERT(is_int(yamljson_get(o, "a"), 1));
	CU_ASSERT(is_str(yamljson_get(yamljson_get(o, "m"), "b"), "x"));
	CU_ASSERT(yamljson_get(o, "n") == NULL);
	CU_ASSERT(yamljson_get(o, "missing") == NULL);
	CU_ASSERT(yamljson_get(yamljson_get(o, "l"), "0") == NULL);
	CU_ASSERT(yamljson_get(yamljson_get(o, "a"), "b") == NULL);
	CU_ASSERT(yamljson_get(NULL, "a") == NULL);
	json_object_put(o);
}

/* yamljson_fail and yamljson_parse_named write "FILE:LINE: msg". */
static void
test_yamljson_file_errors(void)
{
	struct yamljson_errbuf	  eb;
	struct json_object	**d;
	char			  err[64], big[2 * YAMLJSON_MSGLEN];
	size_t			  n;

	memset(&eb, 0, sizeof(eb));
	eb.fname = "f.yaml";
	eb.err = err;
	eb.errlen = sizeof(err);
	CU_ASSERT(yamljson_fail(&eb, 7, "%s: bad %d", "key", 3) == -1);
	CU_ASSERT_STRING_EQUAL(err, "f.yaml:7: key: bad 3");
	/* An argument may be the buffer itself. */
	CU_ASSERT(yamljson_fail(&eb, 8, "again: %s", err) == -1);
	CU_ASSERT_STRING_EQUAL(err, "f.yaml:8: again: f.yaml:7: key: bad 3");
	/* Cut to the buffer, and the message to YAMLJSON_MSGLEN - 1. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	yamljson_fail(&eb, 9, "%s", big);
	CU_ASSERT(strlen(err) == sizeof(err) - 1);
	CU_ASSERT(strncmp(err, "f.yaml:9: xxx", 13) == 0);
	eb.err = big;
	eb.errlen = sizeof(big);
	yamljson_fail(&eb, 9, "%0*d", YAMLJSON_MSGLEN + 10, 0);
	CU_ASSERT(strlen(big) == strlen("f.yaml:9: ") + YAMLJSON_MSGLEN - 1);
	/* Syntax errors name the file and the line. */
	CU_ASSERT(yamljson_parse_named("a: 1\nb: [\n", 10, "f.yaml", &d, &n,
	    err, sizeof(err)) == -1);
	CU_ASSERT(strncmp(err, "f.yaml:3: ", 10) == 0);
	CU_ASSERT(d == NULL && n == 0);
	/* A piece after 20 lines: errors count from the file's start... */
	CU_ASSERT(yamljson_parse_at("a: 1\nb: [\n", 10, "f.yaml", 20, &d,
	    &n, err, sizeof(err)) == -1);
	CU_ASSERT(strncmp(err, "f.yaml:23: ", 11) == 0);
	eb.err = err;
	eb.errlen = sizeof(err);
	eb.line0 = 20;
	yamljson_fail(&eb, 2, "x");
	CU_ASSERT_STRING_EQUAL(err, "f.yaml:22: x");
	/* ... and nodes from the piece's. */
	CU_ASSERT_FATAL(yamljson_parse_at("a: 1\nb: 2\n", 10, "f.yaml", 20,
	    &d, &n, err, sizeof(err)) == 0 && n == 1);
	CU_ASSERT_EQUAL(yamljson_line(yamljson_get(d[0], "b")), 2);
	yamljson_free(d, n);
	CU_ASSERT(yamljson_parse_named("a: 1\n", 5, "f.yaml", &d, &n, err,
	    sizeof(err)) == 0);
	CU_ASSERT_FATAL(n == 1);
	CU_ASSERT(is_int(yamljson_get(d[0], "a"), 1));
	yamljson_free(d, n);
}

/*
 * yamljson_read_file (the config, kubeconfig and services files) follows
 * a symbolic link (the kubelet's ConfigMap volumes are made of them),
 * refuses a FIFO or a directory at once instead of blocking, and a file
 * over the bound, each with the path in the message.
 */
static void
test_yamljson_read_file_kinds(void)
{
	char	 dir[] = "/tmp/test_yamljson.XXXXXX", path[256], link[128];
	char	 err[256], *buf;
	size_t	 len;
	int	 fd;

	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/..data", dir);
	CU_ASSERT_FATAL((fd = open(path, O_CREAT | O_WRONLY, 0600)) != -1);
	CU_ASSERT_EQUAL(write(fd, "a: 1\n", 5), 5);
	close(fd);
	snprintf(link, sizeof(link), "%s/config.conf", dir);
	CU_ASSERT_FATAL(symlink("..data", link) == 0);
	CU_ASSERT_EQUAL(yamljson_read_file(link, 100, &buf, &len, NULL, err,
	    sizeof(err)), 0);
	CU_ASSERT(len == 5 && buf != NULL && strcmp(buf, "a: 1\n") == 0);
	free(buf);
	/* Over the bound. */
	CU_ASSERT_EQUAL(yamljson_read_file(link, 4, &buf, &len, NULL, err,
	    sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, link));
	unlink(link);
	unlink(path);
	/* A FIFO nobody writes to: refused, not waited on. */
	CU_ASSERT_FATAL(mkfifo(link, 0600) == 0);
	CU_ASSERT_EQUAL(yamljson_read_file(link, 100, &buf, &len, NULL, err,
	    sizeof(err)), -1);
	snprintf(path, sizeof(path), "%s: not a regular file", link);
	CU_ASSERT_STRING_EQUAL(err, path);
	CU_ASSERT_PTR_NULL(buf);
	unlink(link);
	/* A directory. */
	CU_ASSERT_EQUAL(yamljson_read_file(dir, 100, &buf, &len, NULL, err,
	    sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a regular file"));
	rmdir(dir);
}

static const struct tu_case cases[] = {
	{ "read_file: links, FIFOs, bound", test_yamljson_read_file_kinds },
	{ "scalar types", test_yamljson_types },
	{ "nested", test_yamljson_nested },
	{ "multiple documents", test_yamljson_multidoc },
	{ "anchors and aliases", test_yamljson_anchors },
	{ "alias bomb", test_yamljson_alias_bomb },
	{ "line numbers", test_yamljson_lines },
	{ "syntax errors", test_yamljson_errors },
	{ "keys are scalars", test_yamljson_key_scalar },
	{ "duplicate keys", test_yamljson_duplicate_keys },
	{ "nesting depth", test_yamljson_depth },
	{ "member getter", test_yamljson_get },
	{ "file and line errors", test_yamljson_file_errors },
	{ NULL, NULL }
};

TU_MAIN("yamljson", cases)
