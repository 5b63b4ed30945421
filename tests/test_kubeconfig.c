/*
 * test_kubeconfig.c: kubeconfig files (each kind of credentials, inline
 * data and files, relative paths, context override), every error message
 * with its line, secrets kept out of messages, and the in-cluster
 * service account.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kubeconfig.h"
#include "tu.h"

#define MULTI	"kubeconfig-multi.yaml"

/* PEM text that the fixture holds in base64. */
#define CA_PEM	"-----BEGIN CERTIFICATE-----\nMIIBinlineCA\n" \
		"-----END CERTIFICATE-----\n"
#define CERT_PEM "-----BEGIN CERTIFICATE-----\nMIIBbobCert\n" \
		"-----END CERTIFICATE-----\n"
#define KEY_PEM	"-----BEGIN EC PRIVATE KEY-----\nMHcbobKey\n" \
		"-----END EC PRIVATE KEY-----\n"

/* A valid file; the error tests replace one line of it. */
static const char *const base_lines[] = {
	"current-context: c",			/* 1 */
	"clusters:",				/* 2 */
	"- name: k",				/* 3 */
	"  cluster:",				/* 4 */
	"    server: https://10.0.0.1:6443",	/* 5 */
	"users:",				/* 6 */
	"- name: u",				/* 7 */
	"  user:",				/* 8 */
	"    token: s3cr3t-TOKEN",		/* 9 */
	"contexts:",				/* 10 */
	"- name: c",				/* 11 */
	"  context:",				/* 12 */
	"    cluster: k",			/* 13 */
	"    user: u",				/* 14 */
	NULL
};

/* Parse the multi fixture with dir "/base" and a context override. */
static int
parse_multi(const char *context, struct kubeconfig *kc, char *err,
    size_t errlen)
{
	char	*buf;
	size_t	 len;
	int	 rc;

	buf = tu_slurp(tu_data(MULTI));
	CU_ASSERT_FATAL(buf != NULL);
	len = strlen(buf);
	rc = kubeconfig_parse(buf, len, "multi.yaml", "/base", context, kc,
	    err, errlen);
	free(buf);
	return (rc);
}

/*
 * Build the base file with count lines from line n (1-based) replaced
 * by repl (which may hold several lines, or be "" to drop them), parse
 * it with an optional context, and expect exactly msg.
 */
static void
expect_err_n(int n, int count, const char *repl, const char *context,
    const char *msg)
{
	struct kubeconfig	 kc;
	char			 buf[2048], err[512];
	size_t			 off = 0;
	int			 i;

	for (i = 0; base_lines[i] != NULL; i++) {
		if (i + 1 > n && i + 1 < n + count)
			continue;
		if (i + 1 == n && repl[0] == '\0')
			continue;
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s\n",
		    i + 1 == n ? repl : base_lines[i]);
	}
	memset(&kc, 0xa5, sizeof(kc));
	CU_ASSERT(kubeconfig_parse(buf, off, "kc.yaml", "/d", context, &kc,
	    err, sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err, msg);
	if (strcmp(err, msg) != 0)
		fprintf(stderr, "\n  got:  %s\n  want: %s\n", err, msg);
	/* The secret token of the base file never shows. */
	CU_ASSERT(strstr(err, "s3cr3t") == NULL);
	/* Cleared on error, so kubeconfig_clear is safe. */
	CU_ASSERT(kc.server == NULL && kc.token == NULL && kc.ns == NULL);
	kubeconfig_clear(&kc);
}

/* Replace one line of the base file; expect exactly msg. */
static void
expect_err(int n, const char *repl, const char *context, const char *msg)
{
	expect_err_n(n, 1, repl, context, msg);
}

/* The current context: token, CA file relative to the real directory. */
static void
test_kubeconfig_token(void)
{
	struct kubeconfig	 kc;
	char			 err[512], dir[PATH_MAX], want[PATH_MAX + 32];

	CU_ASSERT_FATAL(kubeconfig_load(tu_data(MULTI), &kc, err,
	    sizeof(err)) == 0);
	CU_ASSERT_STRING_EQUAL(kc.server, "https://10.0.0.1:6443");
	CU_ASSERT_STRING_EQUAL(kc.token, "alice-token-123");
	CU_ASSERT_STRING_EQUAL(kc.ns, "kube-system");
	/* Relative to the file, made absolute. */
	CU_ASSERT_FATAL(realpath(tu_data(""), dir) != NULL);
	snprintf(want, sizeof(want), "%s/certs/ca.crt", dir);
	CU_ASSERT_STRING_EQUAL(kc.ca_file, want);
	CU_ASSERT(kc.ca_file[0] == '/');
	CU_ASSERT(kc.ca_data == NULL && kc.ca_data_len == 0);
	CU_ASSERT(kc.insecure == 0);
	CU_ASSERT(kc.cert_file == NULL && kc.cert_data == NULL);
	CU_ASSERT(kc.key_file == NULL && kc.key_data == NULL);
	CU_ASSERT(kc.token_file == NULL);
	kubeconfig_clear(&kc);
	CU_ASSERT(kc.server == NULL && kc.token == NULL);
	kubeconfig_clear(&kc);
}

/* Inline data: CA, client certificate and key decoded from base64. */
static void
test_kubeconfig_data(void)
{
	struct kubeconfig	kc;
	char			err[512];

	CU_ASSERT_FATAL(parse_multi("data-ctx", &kc, err, sizeof(err)) == 0);
	CU_ASSERT_STRING_EQUAL(kc.server, "https://[fd00::1]:6443");
	CU_ASSERT_FATAL(kc.ca_data != NULL);
	CU_ASSERT(kc.ca_data_len == strlen(CA_PEM));
	CU_ASSERT_STRING_EQUAL(kc.ca_data, CA_PEM);
	CU_ASSERT_FATAL(kc.cert_data != NULL && kc.key_data != NULL);
	CU_ASSERT(kc.cert_data_len == strlen(CERT_PEM));
	CU_ASSERT(memcmp(kc.cert_data, CERT_PEM, kc.cert_data_len) == 0);
	CU_ASSERT(kc.key_data_len == strlen(KEY_PEM));
	CU_ASSERT(memcmp(kc.key_data, KEY_PEM, kc.key_data_len) == 0);
	CU_ASSERT(kc.ca_file == NULL && kc.cert_file == NULL &&
	    kc.key_file == NULL);
	CU_ASSERT(kc.token == NULL && kc.token_file == NULL);
	CU_ASSERT(kc.ns == NULL);
	kubeconfig_clear(&kc);
}

#define FLOW	"current-context: c\ncontexts:\n- {name: c, context: " \
		"{cluster: k}}\nclusters:\n- name: k\n  cluster: {server: " \
		"'https://h', certificate-authority: ca}\n"

/* Files: absolute kept, relative joined to dir; insecure; tokenFile. */
static void
test_kubeconfig_files(void)
{
	struct kubeconfig	kc;
	char			err[512];

	CU_ASSERT_FATAL(parse_multi("file-ctx", &kc, err, sizeof(err)) == 0);
	CU_ASSERT_STRING_EQUAL(kc.server, "https://lab.example:443");
	CU_ASSERT(kc.insecure == 1);
	CU_ASSERT_STRING_EQUAL(kc.cert_file, "/etc/kuproxy/carol.crt");
	CU_ASSERT_STRING_EQUAL(kc.key_file, "/base/keys/carol.key");
	CU_ASSERT(kc.ca_file == NULL && kc.token == NULL);
	kubeconfig_clear(&kc);

	CU_ASSERT_FATAL(parse_multi("tokenfile-ctx", &kc, err,
	    sizeof(err)) == 0);
	CU_ASSERT_STRING_EQUAL(kc.token_file, "/base/../tokens/dave");
	CU_ASSERT_STRING_EQUAL(kc.ca_file, "/base/certs/ca.crt");
	CU_ASSERT(kc.token == NULL);
	kubeconfig_clear(&kc);

	/* A context without a user: no credentials at all. */
	CU_ASSERT_FATAL(parse_multi("anon-ctx", &kc, err, sizeof(err)) == 0);
	CU_ASSERT(kc.token == NULL && kc.token_file == NULL &&
	    kc.cert_file == NULL && kc.cert_data == NULL);
	CU_ASSERT(kc.insecure == 1);
	kubeconfig_clear(&kc);

	/* An empty override means current-context; NULL dir keeps paths. */
	CU_ASSERT_FATAL(parse_multi("", &kc, err, sizeof(err)) == 0);
	CU_ASSERT_STRING_EQUAL(kc.token, "alice-token-123");
	kubeconfig_clear(&kc);
	CU_ASSERT_FATAL(kubeconfig_parse(FLOW, strlen(FLOW), "x", NULL, NULL,
	    &kc, err, sizeof(err)) == 0);
	CU_ASSERT_STRING_EQUAL(kc.ca_file, "ca");
	kubeconfig_clear(&kc);
}

/* The context override picks another context; unknown ones fail. */
static void
test_kubeconfig_override(void)
{
	struct kubeconfig	kc;
	char			err[512];

	CU_ASSERT(parse_multi("nope", &kc, err, sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err, "multi.yaml:35: context \"nope\" not "
	    "found");
	/* Override wins over a missing current-context. */
	expect_err(1, "", "zz", "kc.yaml:10: context \"zz\" not found");
	CU_ASSERT(kubeconfig_load(tu_data("kubeconfig-nocurrent.yaml"), &kc,
	    err, sizeof(err)) == -1);
	CU_ASSERT(strstr(err, "kubeconfig-nocurrent.yaml:1: current-context "
	    "is not set and no context was given") != NULL);
}

/* Each reference error names what referred and where. */
static void
test_kubeconfig_errors_refs(void)
{
	expect_err(1, "", NULL, "kc.yaml:1: current-context is not set and "
	    "no context was given");
	expect_err(1, "kind: Config\napiVersion: v1\ncurrent-context: \"\"",
	    NULL, "kc.yaml:3: current-context is not set and no context was "
	    "given");
	expect_err(1, "current-context: x", NULL,
	    "kc.yaml:1: context \"x\" not found");
	expect_err(13, "    cluster: zz", NULL, "kc.yaml:13: cluster \"zz\" "
	    "referenced by context \"c\" not found");
	expect_err(14, "    user: nobody", NULL, "kc.yaml:14: user "
	    "\"nobody\" referenced by context \"c\" not found");
	expect_err(5, "    insecure-skip-tls-verify: false", NULL,
	    "kc.yaml:5: cluster \"k\": server is not set");
	expect_err(5, "    server: \"\"", NULL,
	    "kc.yaml:5: cluster \"k\": server is not set");
	expect_err(13, "    namespace: x", NULL,
	    "kc.yaml:13: context \"c\": cluster is not set");
	expect_err_n(2, 4, "clusters: []", NULL, "kc.yaml:10: cluster \"k\" "
	    "referenced by context \"c\" not found");
	expect_err(11, "- name: c\n  context: {cluster: k}\n- name: c",
	    NULL, "kc.yaml:13: contexts: duplicate context name \"c\" "
	    "(first at line 11)");
}

/* Shape, type and consistency errors. */
static void
test_kubeconfig_errors_fields(void)
{
	expect_err_n(2, 4, "clusters: {k: 1}", NULL,
	    "kc.yaml:2: clusters: must be a list");
	expect_err_n(3, 3, "- cluster: {}", NULL,
	    "kc.yaml:3: clusters[0].name: must be a non-empty string");
	expect_err(3, "- 7\n- name: k", NULL,
	    "kc.yaml:3: clusters[0]: must be a mapping");
	expect_err_n(4, 2, "  cluster: [1]", NULL,
	    "kc.yaml:4: cluster \"k\": cluster: must be a mapping");
	expect_err(5, "    server: 443", NULL,
	    "kc.yaml:5: cluster \"k\": server: must be a string");
	expect_err(9, "    token: 12345", NULL,
	    "kc.yaml:9: user \"u\": token: must be a string");
	expect_err(1, "current-context: [c]", NULL,
	    "kc.yaml:1: current-context: must be a string");
	expect_err(5, "    server: https://h\n    insecure-skip-tls-verify: "
	    "\"true\"", NULL, "kc.yaml:6: cluster \"k\": "
	    "insecure-skip-tls-verify: must be true or false");
	expect_err(5, "    server: https://h\n    insecure-skip-tls-verify: "
	    "true\n    certificate-authority: /ca", NULL, "kc.yaml:5: cluster "
	    "\"k\": insecure-skip-tls-verify with a certificate authority");
	expect_err(5, "    server: https://h\n    certificate-authority: /ca"
	    "\n    certificate-authority-data: YQ==", NULL, "kc.yaml:5: "
	    "cluster \"k\": certificate-authority and "
	    "certificate-authority-data are both set");
	expect_err(9, "    client-certificate: c.crt", NULL, "kc.yaml:9: "
	    "user \"u\": a client certificate needs a client key, and a key "
	    "needs a certificate");
	expect_err(9, "    client-key-data: YQ==", NULL, "kc.yaml:9: "
	    "user \"u\": a client certificate needs a client key, and a key "
	    "needs a certificate");
	expect_err(9, "    client-key: k\n    client-key-data: YQ==\n"
	    "    client-certificate: c", NULL, "kc.yaml:9: user \"u\": "
	    "client-key and client-key-data are both set");
	expect_err(9, "    exec: {command: aws}", NULL, "kc.yaml:9: user "
	    "\"u\": exec is not supported; use a token or a client "
	    "certificate");
	expect_err(9, "    auth-provider: {name: gcp}", NULL, "kc.yaml:9: "
	    "user \"u\": auth-provider is not supported; use a token or a "
	    "client certificate");
	expect_err(1, "current-context: c\n---\nkind: Config", NULL,
	    "kc.yaml:3: more than one YAML document");
	expect_err(1, "current-context: [c", NULL, "kc.yaml:2: did not find "
	    "expected ',' or ']' (while parsing a flow sequence at line 1)");
}

/* Parse a one-cluster file whose CA data is the YAML scalar b64. */
static int
parse_ca(const char *b64, struct kubeconfig *kc, char *err, size_t errlen)
{
	char	buf[1024];
	int	n;

	n = snprintf(buf, sizeof(buf), "current-context: c\ncontexts:\n"
	    "- {name: c, context: {cluster: k}}\nclusters:\n- name: k\n"
	    "  cluster:\n    server: https://h\n"
	    "    certificate-authority-data: %s\n", b64);
	return (kubeconfig_parse(buf, (size_t)n, "ca.yaml", "/", NULL, kc,
	    err, errlen));
}

/* Expect b64 to decode to want. */
static void
expect_b64(const char *b64, const char *want)
{
	struct kubeconfig	kc;
	char			err[512];

	CU_ASSERT_FATAL(parse_ca(b64, &kc, err, sizeof(err)) == 0);
	CU_ASSERT_FATAL(kc.ca_data != NULL);
	CU_ASSERT(kc.ca_data_len == strlen(want));
	CU_ASSERT_STRING_EQUAL(kc.ca_data, want);
	kubeconfig_clear(&kc);
}

/* Expect b64 to be refused with this reason. */
static void
expect_b64_err(const char *b64, const char *why)
{
	struct kubeconfig	kc;
	char			err[512], want[512];

	snprintf(want, sizeof(want), "ca.yaml:8: cluster \"k\": "
	    "certificate-authority-data: invalid base64: %s", why);
	CU_ASSERT(parse_ca(b64, &kc, err, sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err, want);
	if (strcmp(err, want) != 0)
		fprintf(stderr, "\n  got:  %s\n  want: %s\n", err, want);
}

/* The base64 decoder: padding, line breaks, and what it refuses. */
static void
test_kubeconfig_base64(void)
{
	struct kubeconfig	kc;
	char			err[512];

	expect_b64("YQ==", "a");
	expect_b64("YWI=", "ab");
	expect_b64("YWJj", "abc");
	expect_b64("\"YWJj\\nZGVm\\r\\nZw==\\n\"", "abcdefg");
	expect_b64("+/8+", "\xfb\xff>");
	expect_b64("azhzPz4=", "k8s?>");
	expect_b64_err("YQ=", "truncated (length is not a multiple of 4)");
	expect_b64_err("YWJjZ", "truncated (length is not a multiple of 4)");
	expect_b64_err("Y===", "misplaced padding at offset 1");
	expect_b64_err("YQ==YQ==", "data after padding at offset 4");
	expect_b64_err("YQ=a", "data after padding at offset 3");
	expect_b64_err("Pz8_Pw==", "invalid character at offset 3");
	expect_b64_err("YW Jj", "invalid character at offset 2");
	/* Empty data is no data, as in client-go. */
	CU_ASSERT_FATAL(parse_ca("\"\"", &kc, err, sizeof(err)) == 0);
	CU_ASSERT(kc.ca_data == NULL && kc.ca_data_len == 0);
	kubeconfig_clear(&kc);
	CU_ASSERT_FATAL(parse_ca("\"\\n\"", &kc, err, sizeof(err)) == 0);
	CU_ASSERT(kc.ca_data == NULL && kc.ca_data_len == 0);
	kubeconfig_clear(&kc);
}

/* A bad key names the field and offset, never the key itself. */
static void
test_kubeconfig_secrets(void)
{
	struct kubeconfig	 kc;
	char			 err[4400], want[4400];
	const char		*path = tu_data("kubeconfig-bad-b64.yaml");

	snprintf(want, sizeof(want), "%s:12: user \"u\": client-key-data: "
	    "invalid base64: invalid character at offset 14", path);
	CU_ASSERT(kubeconfig_load(path, &kc, err, sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err, want);
	CU_ASSERT(strstr(err, "c2VjcmV0") == NULL);
	CU_ASSERT(strstr(err, "secret") == NULL);
	CU_ASSERT(kc.cert_data == NULL && kc.key_data == NULL);
	CU_ASSERT(kubeconfig_load(tu_data("kubeconfig-missing.yaml"), &kc,
	    err, sizeof(err)) == -1);
	CU_ASSERT(strstr(err, "kubeconfig-missing.yaml: No such file") !=
	    NULL);
	CU_ASSERT(kubeconfig_parse("", 0, "e.yaml", "/", NULL, &kc, err,
	    sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err, "e.yaml:1: empty kubeconfig");
	CU_ASSERT(kubeconfig_parse("- 1\n", 4, "e.yaml", "/", NULL, &kc, err,
	    sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err, "e.yaml:1: not a mapping");
}

/* Write s to dir/name. */
static void
put(const char *dir, const char *name, const char *s)
{
	char	 path[PATH_MAX];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	CU_ASSERT_FATAL(fp != NULL);
	fputs(s, fp);
	fclose(fp);
}

/* Remove dir/name, if there. */
static void
rm(const char *dir, const char *name)
{
	char	path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

/* Expect kubeconfig_incluster on dir to fail with exactly msg. */
static void
expect_incluster_err(const char *dir, const char *msg)
{
	struct kubeconfig	kc;
	char			err[512];

	CU_ASSERT(kubeconfig_incluster(dir, &kc, err, sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err, msg);
	if (strcmp(err, msg) != 0)
		fprintf(stderr, "\n  got:  %s\n  want: %s\n", err, msg);
	CU_ASSERT(kc.server == NULL && kc.token_file == NULL);
}

/* In-cluster: environment, token, ca.crt and namespace files. */
static void
test_kubeconfig_incluster(void)
{
	struct kubeconfig	kc;
	char			dir[] = "/tmp/kc-incluster.XXXXXX";
	char			err[512], want[PATH_MAX + 64];

	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	put(dir, "token", "eyJhbGciOi.sa-token\n");
	put(dir, "ca.crt", CA_PEM);
	put(dir, "namespace", "kube-system\n");
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	CU_ASSERT_FATAL(kubeconfig_incluster(dir, &kc, err, sizeof(err)) ==
	    0);
	CU_ASSERT_STRING_EQUAL(kc.server, "https://10.96.0.1:443");
	snprintf(want, sizeof(want), "%s/token", dir);
	CU_ASSERT_STRING_EQUAL(kc.token_file, want);
	snprintf(want, sizeof(want), "%s/ca.crt", dir);
	CU_ASSERT_STRING_EQUAL(kc.ca_file, want);
	CU_ASSERT_STRING_EQUAL(kc.ns, "kube-system");
	CU_ASSERT(kc.token == NULL && kc.insecure == 0);
	kubeconfig_clear(&kc);

	/* IPv6 gets brackets; no namespace or ca.crt file is fine. */
	setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
	rm(dir, "namespace");
	rm(dir, "ca.crt");
	CU_ASSERT_FATAL(kubeconfig_incluster(dir, &kc, err, sizeof(err)) ==
	    0);
	CU_ASSERT_STRING_EQUAL(kc.server, "https://[fd00:10:96::1]:6443");
	CU_ASSERT(kc.ns == NULL && kc.ca_file == NULL);
	kubeconfig_clear(&kc);

	/* The token must be there and not empty. */
	put(dir, "token", " \n");
	snprintf(want, sizeof(want), "%s/token: empty token", dir);
	expect_incluster_err(dir, want);
	rm(dir, "token");
	snprintf(want, sizeof(want), "%s/token: %s", dir, strerror(ENOENT));
	expect_incluster_err(dir, want);

	setenv("KUBERNETES_SERVICE_PORT", "https", 1);
	expect_incluster_err(dir, "KUBERNETES_SERVICE_PORT: not a port "
	    "number: \"https\"");
	unsetenv("KUBERNETES_SERVICE_PORT");
	expect_incluster_err(dir, "not running in a cluster: "
	    "KUBERNETES_SERVICE_PORT is not set; use --kubeconfig or "
	    "--master");
	unsetenv("KUBERNETES_SERVICE_HOST");
	expect_incluster_err(dir, "not running in a cluster: "
	    "KUBERNETES_SERVICE_HOST is not set; use --kubeconfig or "
	    "--master");
	setenv("KUBERNETES_SERVICE_HOST", "", 1);
	expect_incluster_err(NULL, "not running in a cluster: "
	    "KUBERNETES_SERVICE_HOST is not set; use --kubeconfig or "
	    "--master");
	unsetenv("KUBERNETES_SERVICE_HOST");
	CU_ASSERT(rmdir(dir) == 0);
}

static const struct tu_case cases[] = {
	{ "token and CA file", test_kubeconfig_token },
	{ "inline data", test_kubeconfig_data },
	{ "files and paths", test_kubeconfig_files },
	{ "context override", test_kubeconfig_override },
	{ "reference errors", test_kubeconfig_errors_refs },
	{ "field errors", test_kubeconfig_errors_fields },
	{ "base64", test_kubeconfig_base64 },
	{ "secrets kept out", test_kubeconfig_secrets },
	{ "in-cluster", test_kubeconfig_incluster },
	{ NULL, NULL }
};

TU_MAIN("kubeconfig", cases)
