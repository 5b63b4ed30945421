/*
 * kubeconfig.h: how to reach and authenticate to the API server: a
 * kubeconfig file (clusters, users, contexts, current-context), or the
 * in-cluster service account, with --master overriding the server.
 *
 * Parsing is pure (a buffer in, a struct out).  Secrets (token, key) are
 * never logged and never appear in error messages.
 */
#ifndef KUBECONFIG_H
#define KUBECONFIG_H

#include <stddef.h>

/* Where a pod's service account is mounted. */
#define KUBECONFIG_INCLUSTER_ROOT \
	"/var/run/secrets/kubernetes.io/serviceaccount"

struct kubeconfig {
	char	*server;		/* "https://host:port" */
	char	*ca_file;		/* certificate-authority (absolute) */
	char	*ca_data;		/* certificate-authority-data, PEM */
	size_t	 ca_data_len;
	int	 insecure;		/* insecure-skip-tls-verify */
	char	*cert_file;		/* client-certificate (absolute) */
	char	*cert_data;		/* client-certificate-data, PEM */
	size_t	 cert_data_len;
	char	*key_file;		/* client-key (absolute) */
	char	*key_data;		/* client-key-data, PEM */
	size_t	 key_data_len;
	char	*token;			/* bearer token */
	char	*token_file;		/* tokenFile; re-read when it changes */
	char	*ns;			/* context namespace, or NULL */
};

/*
 * Parse a kubeconfig held in buf.  fname is for messages; relative paths
 * are resolved against dir.  context, if not NULL, overrides
 * current-context.  Returns 0, or -1 with "FILE:LINE: reason" in err
 * (missing context, cluster or user named with what referenced it; bad
 * base64; no server).
 *
 * out is overwritten, not freed: kubeconfig_clear it first when reusing
 * it.  On error it is left cleared.  Also errors: duplicate names in a
 * list, a file and inline data both set, a certificate without a key or
 * a key without a certificate, insecure-skip-tls-verify with a CA, and
 * exec, auth-provider, username and password (not supported).  A
 * context without a user gives no credentials.  token and tokenFile are
 * both kept as given; the file named by tokenFile is not read here.
 */
int	kubeconfig_parse(const char *buf, size_t len, const char *fname,
	    const char *dir, const char *context, struct kubeconfig *out,
	    char *err, size_t errlen);
/*
 * Read and parse the file at path, resolving relative paths against the
 * real directory of the file, so they are absolute.  0, or -1 with a
 * reason in err.
 */
int	kubeconfig_load(const char *path, struct kubeconfig *out, char *err,
	    size_t errlen);
/*
 * In-cluster configuration: KUBERNETES_SERVICE_HOST and _PORT from the
 * environment, token, ca.crt and namespace under root (NULL means
 * KUBECONFIG_INCLUSTER_ROOT).  server is "https://host:port" (an IPv6
 * host in brackets).  token_file is root/token, which must exist and
 * not be empty now; token stays NULL: the token is read from token_file
 * on every use, so rotation is picked up.  ca_file is root/ca.crt when
 * it is readable, else NULL (system roots, as client-go).  ns is the
 * trimmed content of root/namespace, or NULL.  Returns 0, or -1 with a
 * reason in err ("not running in a cluster: ..." without the
 * environment).
 */
int	kubeconfig_incluster(const char *root, struct kubeconfig *out,
	    char *err, size_t errlen);
/* Free the fields (the struct may be reused). */
void	kubeconfig_clear(struct kubeconfig *);

#endif /* KUBECONFIG_H */
