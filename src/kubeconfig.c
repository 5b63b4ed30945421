/*
 * kubeconfig.c: kubeconfig files and the in-cluster service account.
 *
 * The file is YAML read through yamljson, so every node knows its line
 * and an error can point at the field that caused it: the context, the
 * cluster or user reference, the base64 field.  Rules follow client-go
 * where it is strict (duplicate names, a certificate without its key,
 * both a file and inline data, insecure with a CA); what client-go reads
 * and we cannot use (exec plugins, auth providers, basic auth) is an
 * error rather than a silent anonymous connection.
 *
 * Secrets: error messages name fields and offsets, never values, and
 * kubeconfig_clear wipes the token and key before freeing them.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "kubeconfig.h"
#include "xmalloc.h"
#include "yamljson.h"

#define KC_MAX_FILE	(4 * 1024 * 1024)

/* Where errors go, and what relative paths are relative to. */
struct kc_ctx {
	struct yamljson_errbuf	 eb;	/* "FILE:LINE: msg" */
	const char		*dir;
};

/* Return the source line of o, or def when it has none (null). */
static int
kc_line(struct json_object *o, int def)
{
	int	line = yamljson_line(o);

	return (line > 0 ? line : def);
}

/*
 * Read an optional string member; absent, null or "" give NULL.  what
 * ("cluster \"c\"") prefixes the error, if not NULL.
 */
static int
kc_str(struct kc_ctx *c, struct json_object *o, const char *key,
    const char *what, int line, const char **out)
{
	struct json_object	*v = yamljson_get(o, key);

	*out = NULL;
	if (v == NULL)
		return (0);
	if (!json_object_is_type(v, json_type_string)) {
		if (what == NULL)
			return (yamljson_fail(&c->eb, kc_line(v, line),
			    "%s: must be a string", key));
		return (yamljson_fail(&c->eb, kc_line(v, line),
		    "%s: %s: must be a string", what, key));
	}
	if (json_object_get_string_len(v) > 0)
		*out = json_object_get_string(v);
	return (0);
}

/* Resolve path against the file's directory into a new string. */
static char *
kc_path(struct kc_ctx *c, const char *path)
{
	char	*p;

	if (path[0] == '/' || c->dir == NULL || c->dir[0] == '\0')
		return (xstrdup(path));
	xasprintf(&p, "%s/%s", c->dir, path);
	return (p);
}

/* Return the value of a base64 digit, or -1. */
static int
kc_b64_digit(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return (ch - 'A');
	if (ch >= 'a' && ch <= 'z')
		return (ch - 'a' + 26);
	if (ch >= '0' && ch <= '9')
		return (ch - '0' + 52);
	if (ch == '+')
		return (62);
	if (ch == '/')
		return (63);
	return (-1);
}

/*
 * Decode padded standard base64 (RFC 4648 section 4) into a new
 * NUL-terminated buffer.  CR and LF are skipped, as Go's decoder skips
 * them.  Anything else outside the alphabet, padding before the third
 * digit of a group or followed by data, and a last group cut short are
 * errors, told in why by offset only: the input may be a private key.
 */
static int
kc_b64_decode(const char *in, size_t len, char **out, size_t *outlen,
    char *why, size_t whylen)
{
	unsigned char	*o;
	uint32_t	 acc = 0;
	size_t		 i, n = 0, q = 0, pad = 0;
	int		 d;

	o = xmalloc(len / 4 * 3 + 4);
	for (i = 0; i < len; i++) {
		if (in[i] == '\r' || in[i] == '\n')
			continue;
		if (pad > 0 && (q == 0 || in[i] != '=')) {
			snprintf(why, whylen, "data after padding at offset "
			    "%zu", i);
			goto fail;
		}
		if (in[i] == '=') {
			if (q < 2) {
				snprintf(why, whylen, "misplaced padding at "
				    "offset %zu", i);
				goto fail;
			}
			pad++;
			acc <<= 6;
		} else if ((d = kc_b64_digit((unsigned char)in[i])) == -1) {
			snprintf(why, whylen, "invalid character at offset "
			    "%zu", i);
			goto fail;
		} else
			acc = acc << 6 | (uint32_t)d;
		if (++q < 4)
			continue;
		o[n++] = (unsigned char)(acc >> 16);
		if (pad < 2)
			o[n++] = (unsigned char)(acc >> 8);
		if (pad < 1)
			o[n++] = (unsigned char)acc;
		acc = 0;
		q = 0;
	}
	if (q != 0) {
		snprintf(why, whylen, "truncated (length is not a multiple "
		    "of 4)");
		goto fail;
	}
	o[n] = '\0';
	*out = (char *)o;
	*outlen = n;
	return (0);
fail:
	free(o);
	return (-1);
}

/* Read an optional base64 member into *data; empty gives NULL. */
static int
kc_data(struct kc_ctx *c, struct json_object *o, const char *key,
    const char *what, int line, char **data, size_t *len)
{
	const char	*s;
	char		 why[128];

	if (kc_str(c, o, key, what, line, &s) == -1)
		return (-1);
	if (s == NULL)
		return (0);
	if (kc_b64_decode(s, strlen(s), data, len, why, sizeof(why)) == -1)
		return (yamljson_fail(&c->eb, kc_line(yamljson_get(o, key),
		    line), "%s: %s: invalid base64: %s", what, key, why));
	if (*len == 0) {
		free(*data);
		*data = NULL;
	}
	return (0);
}

/* Return the name of list[i] (a mapping with a non-empty name), or NULL. */
static const char *
kc_entry_name(struct kc_ctx *c, struct json_object *list, size_t i,
    const char *lname, int line)
{
	struct json_object	*e, *n;

	e = json_object_array_get_idx(list, i);
	line = kc_line(e, line);
	if (!json_object_is_type(e, json_type_object)) {
		yamljson_fail(&c->eb, line, "%s[%zu]: must be a mapping",
		    lname, i);
		return (NULL);
	}
	n = yamljson_get(e, "name");
	if (!json_object_is_type(n, json_type_string) ||
	    json_object_get_string_len(n) == 0) {
		yamljson_fail(&c->eb, kc_line(n, line), "%s[%zu].name: must "
		    "be a non-empty string", lname, i);
		return (NULL);
	}
	return (json_object_get_string(n));
}

/*
 * Find the entry called name in root[lname] ("clusters"), checking the
 * shape of every entry and that names are unique, as client-go does.
 * *found is the entry's kind member ("cluster"; NULL if empty) and
 * *fline its line.  ref names what referred to it, for the message.
 */
static int
kc_find(struct kc_ctx *c, struct json_object *root, const char *lname,
    const char *kind, const char *name, int refline, const char *ref,
    struct json_object **found, int *fline)
{
	struct json_object	*list, *e, *v;
	const char		*n, *other;
	size_t			 i, j, cnt;
	int			 line, hit = 0;

	list = yamljson_get(root, lname);
	line = kc_line(list, refline);
	if (list != NULL && !json_object_is_type(list, json_type_array))
		return (yamljson_fail(&c->eb, line, "%s: must be a list",
		    lname));
	cnt = list != NULL ? json_object_array_length(list) : 0;
	for (i = 0; i < cnt; i++) {
		if ((n = kc_entry_name(c, list, i, lname, line)) == NULL)
			return (-1);
		e = json_object_array_get_idx(list, i);
		for (j = 0; j < i; j++) {
			other = json_object_get_string(yamljson_get(
			    json_object_array_get_idx(list, j), "name"));
			if (strcmp(other, n) == 0)
				return (yamljson_fail(&c->eb, kc_line(e, line),
				    "%s: duplicate %s name \"%s\" (first at "
				    "line %d)", lname, kind, n, kc_line(
				    json_object_array_get_idx(list, j), 0)));
		}
		if (strcmp(n, name) != 0)
			continue;
		v = yamljson_get(e, kind);
		if (v != NULL && !json_object_is_type(v, json_type_object))
			return (yamljson_fail(&c->eb, kc_line(v, line),
			    "%s \"%s\": %s: must be a mapping", kind, n,
			    kind));
		*found = v;
		*fline = kc_line(v, kc_line(e, line));
		hit = 1;
	}
	if (hit)
		return (0);
	if (ref != NULL)
		return (yamljson_fail(&c->eb, refline, "%s \"%s\" referenced "
		    "by %s not found", kind, name, ref));
	return (yamljson_fail(&c->eb, refline, "%s \"%s\" not found", kind,
	    name));
}

/* Read the cluster: server, CA and insecure-skip-tls-verify. */
static int
kc_cluster(struct kc_ctx *c, struct json_object *cl, const char *name,
    int line, struct kubeconfig *out)
{
	struct json_object	*v;
	const char		*server, *ca;
	char			 what[256];

	snprintf(what, sizeof(what), "cluster \"%s\"", name);
	if (kc_str(c, cl, "server", what, line, &server) == -1 ||
	    kc_str(c, cl, "certificate-authority", what, line, &ca) == -1 ||
	    kc_data(c, cl, "certificate-authority-data", what, line,
	    &out->ca_data, &out->ca_data_len) == -1)
		return (-1);
	if (server == NULL)
		return (yamljson_fail(&c->eb, line, "%s: server is not set",
		    what));
	v = yamljson_get(cl, "insecure-skip-tls-verify");
	if (v != NULL && !json_object_is_type(v, json_type_boolean))
		return (yamljson_fail(&c->eb, kc_line(v, line), "%s: "
		    "insecure-skip-tls-verify: must be true or false", what));
	out->insecure = v != NULL && json_object_get_boolean(v);
	if (ca != NULL && out->ca_data != NULL)
		return (yamljson_fail(&c->eb, line, "%s: certificate-authority "
		    "and certificate-authority-data are both set", what));
	/* client-go refuses this too: a CA that would never be checked. */
	if (out->insecure && (ca != NULL || out->ca_data != NULL))
		return (yamljson_fail(&c->eb, line, "%s: "
		    "insecure-skip-tls-verify with a certificate authority",
		    what));
	out->server = xstrdup(server);
	if (ca != NULL)
		out->ca_file = kc_path(c, ca);
	return (0);
}

/* User fields client-go understands and we do not. */
static const char *const kc_unsupported[] = {
	"exec", "auth-provider", "username", "password", NULL
};

/* Read the user: client certificate and key, token, tokenFile. */
static int
kc_user(struct kc_ctx *c, struct json_object *u, const char *name,
    int line, struct kubeconfig *out)
{
	struct json_object	*v;
	const char		*cert, *key, *token, *tfile;
	char			 what[256];
	size_t			 i;

	snprintf(what, sizeof(what), "user \"%s\"", name);
	for (i = 0; kc_unsupported[i] != NULL; i++) {
		if ((v = yamljson_get(u, kc_unsupported[i])) != NULL)
			return (yamljson_fail(&c->eb, kc_line(v, line),
			    "%s: %s is not supported; use a token or a client "
			    "certificate", what, kc_unsupported[i]));
	}
	if (kc_str(c, u, "client-certificate", what, line, &cert) == -1 ||
	    kc_str(c, u, "client-key", what, line, &key) == -1 ||
	    kc_str(c, u, "token", what, line, &token) == -1 ||
	    kc_str(c, u, "tokenFile", what, line, &tfile) == -1 ||
	    kc_data(c, u, "client-certificate-data", what, line,
	    &out->cert_data, &out->cert_data_len) == -1 ||
	    kc_data(c, u, "client-key-data", what, line, &out->key_data,
	    &out->key_data_len) == -1)
		return (-1);
	if (cert != NULL && out->cert_data != NULL)
		return (yamljson_fail(&c->eb, line, "%s: client-certificate "
		    "and client-certificate-data are both set", what));
	if (key != NULL && out->key_data != NULL)
		return (yamljson_fail(&c->eb, line, "%s: client-key and "
		    "client-key-data are both set", what));
	if ((cert != NULL || out->cert_data != NULL) !=
	    (key != NULL || out->key_data != NULL))
		return (yamljson_fail(&c->eb, line, "%s: a client certificate "
		    "needs a client key, and a key needs a certificate", what));
	if (cert != NULL)
		out->cert_file = kc_path(c, cert);
	if (key != NULL)
		out->key_file = kc_path(c, key);
	if (token != NULL)
		out->token = xstrdup(token);
	if (tfile != NULL)
		out->token_file = kc_path(c, tfile);
	return (0);
}

/* Pick the context (override or current-context) and find it. */
static int
kc_context(struct kc_ctx *c, struct json_object *root, const char *override,
    const char **name, struct json_object **ctx, int *line)
{
	struct json_object	*cur = yamljson_get(root, "current-context");
	int			 refline;

	refline = kc_line(cur, kc_line(root, 1));
	if (override != NULL && override[0] != '\0') {
		*name = override;
		refline = kc_line(yamljson_get(root, "contexts"),
		    kc_line(root, 1));
	} else {
		if (kc_str(c, root, "current-context", NULL, refline,
		    name) == -1)
			return (-1);
		if (*name == NULL)
			return (yamljson_fail(&c->eb, refline,
			    "current-context is not set and no context was "
			    "given"));
	}
	return (kc_find(c, root, "contexts", "context", *name, refline, NULL,
	    ctx, line));
}

/* Resolve context, cluster and user of a parsed kubeconfig. */
static int
kc_resolve(struct kc_ctx *c, struct json_object *root, const char *override,
    struct kubeconfig *out)
{
	struct json_object	*ctx = NULL, *cl = NULL, *u = NULL;
	const char		*name, *clname, *uname, *ns;
	char			 what[256];
	int			 ctxline, line;

	if (kc_context(c, root, override, &name, &ctx, &ctxline) == -1)
		return (-1);
	snprintf(what, sizeof(what), "context \"%s\"", name);
	if (kc_str(c, ctx, "cluster", what, ctxline, &clname) == -1 ||
	    kc_str(c, ctx, "user", what, ctxline, &uname) == -1 ||
	    kc_str(c, ctx, "namespace", what, ctxline, &ns) == -1)
		return (-1);
	if (clname == NULL)
		return (yamljson_fail(&c->eb, ctxline, "%s: cluster is not set",
		    what));
	if (kc_find(c, root, "clusters", "cluster", clname,
	    kc_line(yamljson_get(ctx, "cluster"), ctxline), what, &cl,
	    &line) == -1 || kc_cluster(c, cl, clname, line, out) == -1)
		return (-1);
	/* A context without a user connects without credentials. */
	if (uname != NULL && (kc_find(c, root, "users", "user", uname,
	    kc_line(yamljson_get(ctx, "user"), ctxline), what, &u,
	    &line) == -1 || kc_user(c, u, uname, line, out) == -1))
		return (-1);
	if (ns != NULL)
		out->ns = xstrdup(ns);
	return (0);
}

/* Parse a kubeconfig held in buf. */
int
kubeconfig_parse(const char *buf, size_t len, const char *fname,
    const char *dir, const char *context, struct kubeconfig *out,
    char *err, size_t errlen)
{
	struct kc_ctx		  c;
	struct json_object	**docs;
	size_t			  ndocs;
	int			  rc = -1;

	memset(out, 0, sizeof(*out));
	if (errlen > 0)
		err[0] = '\0';
	c.eb.fname = fname;
	c.eb.err = err;
	c.eb.errlen = errlen;
	c.eb.line0 = 0;
	c.dir = dir;
	if (yamljson_parse_named(buf, len, fname, &docs, &ndocs, err,
	    errlen) == -1)
		return (-1);
	if (ndocs == 0)
		yamljson_fail(&c.eb, 1, "empty kubeconfig");
	else if (ndocs > 1)
		yamljson_fail(&c.eb, kc_line(docs[1], 1),
		    "more than one YAML document");
	else if (!json_object_is_type(docs[0], json_type_object))
		yamljson_fail(&c.eb, kc_line(docs[0], 1), "not a mapping");
	else if (kc_resolve(&c, docs[0], context, out) == 0)
		rc = 0;
	yamljson_free(docs, ndocs);
	if (rc == -1)
		kubeconfig_clear(out);
	return (rc);
}

/* Read and parse the kubeconfig at path. */
int
kubeconfig_load(const char *path, struct kubeconfig *out, char *err,
    size_t errlen)
{
	char	*buf, *real;
	size_t	 len;
	int	 rc;

	memset(out, 0, sizeof(*out));
	if (yamljson_read_file(path, KC_MAX_FILE, &buf, &len, NULL, err,
	    errlen) == -1)
		return (-1);
	/* Absolute paths survive the daemon's chdir("/"). */
	if ((real = realpath(path, NULL)) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(buf);
		return (-1);
	}
	rc = kubeconfig_parse(buf, len, path, dirname(real), NULL, out, err,
	    errlen);
	free(real);
	explicit_bzero(buf, len);
	free(buf);
	return (rc);
}

/* Return 1 if s is a decimal port number 1-65535. */
static int
kc_is_port(const char *s)
{
	char	*end;
	long	 v;

	if (*s < '0' || *s > '9')
		return (0);
	errno = 0;
	v = strtol(s, &end, 10);
	return (errno == 0 && *end == '\0' && v >= 1 && v <= 65535);
}

/* Return s without leading and trailing white space, in place. */
static char *
kc_trim(char *s)
{
	size_t	n;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
	    s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return (s);
}

/* Check that the token file can be read and is not empty. */
static int
kc_check_token(const char *path, char *err, size_t errlen)
{
	char	*buf;
	size_t	 len;
	int	 empty;

	if (yamljson_read_file(path, KC_MAX_FILE, &buf, &len, NULL, err,
	    errlen) == -1)
		return (-1);
	empty = kc_trim(buf)[0] == '\0';
	explicit_bzero(buf, len);
	free(buf);
	if (empty) {
		snprintf(err, errlen, "%s: empty token", path);
		return (-1);
	}
	return (0);
}

/* Build the in-cluster configuration from the service account. */
int
kubeconfig_incluster(const char *root, struct kubeconfig *out, char *err,
    size_t errlen)
{
	const char	*host, *port, *missing = NULL;
	char		*path, *buf;
	size_t		 len;

	memset(out, 0, sizeof(*out));
	if (root == NULL)
		root = KUBECONFIG_INCLUSTER_ROOT;
	host = getenv("KUBERNETES_SERVICE_HOST");
	port = getenv("KUBERNETES_SERVICE_PORT");
	if (host == NULL || host[0] == '\0')
		missing = "KUBERNETES_SERVICE_HOST";
	else if (port == NULL || port[0] == '\0')
		missing = "KUBERNETES_SERVICE_PORT";
	if (missing != NULL) {
		snprintf(err, errlen, "not running in a cluster: %s is not "
		    "set; use --kubeconfig or --master", missing);
		return (-1);
	}
	if (!kc_is_port(port)) {
		snprintf(err, errlen, "KUBERNETES_SERVICE_PORT: not a port "
		    "number: \"%s\"", port);
		return (-1);
	}
	xasprintf(&out->token_file, "%s/token", root);
	if (kc_check_token(out->token_file, err, errlen) == -1) {
		kubeconfig_clear(out);
		return (-1);
	}
	/* An IPv6 literal needs brackets in a URL. */
	if (strchr(host, ':') != NULL && host[0] != '[')
		xasprintf(&out->server, "https://[%s]:%s", host, port);
	else
		xasprintf(&out->server, "https://%s:%s", host, port);
	/* As client-go: without a readable ca.crt, use the system roots. */
	xasprintf(&path, "%s/ca.crt", root);
	if (access(path, R_OK) == 0)
		out->ca_file = path;
	else
		free(path);
	xasprintf(&path, "%s/namespace", root);
	if (yamljson_read_file(path, 4096, &buf, &len, NULL, err,
	    errlen) == 0) {
		if (kc_trim(buf)[0] != '\0')
			out->ns = xstrdup(kc_trim(buf));
		free(buf);
	}
	free(path);
	if (errlen > 0)
		err[0] = '\0';
	return (0);
}

/* Free a string after overwriting it: it may be a secret. */
static void
kc_free_secret(char *s, size_t len)
{
	if (s == NULL)
		return;
	explicit_bzero(s, len);
	free(s);
}

/* Free the fields (the struct may be reused). */
void
kubeconfig_clear(struct kubeconfig *kc)
{
	free(kc->server);
	free(kc->ca_file);
	free(kc->ca_data);
	free(kc->cert_file);
	free(kc->cert_data);
	free(kc->key_file);
	kc_free_secret(kc->key_data, kc->key_data_len);
	kc_free_secret(kc->token, kc->token != NULL ? strlen(kc->token) : 0);
	free(kc->token_file);
	free(kc->ns);
	memset(kc, 0, sizeof(*kc));
}
