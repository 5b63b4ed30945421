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
 */
int	kubeconfig_parse(const char *buf, size_t len, const char *fname,
	    const char *dir, const char *context, struct kubeconfig *out,
	    char *err, size_t errlen);
/* Read and parse the file at path.  0, or -1 with a reason in err. */
int	kubeconfig_load(const char *path, struct kubeconfig *out, char *err,
	    size_t errlen);
/*
 * In-cluster configuration: KUBERNETES_SERVICE_HOST and _PORT from the
 * environment, token, ca.crt and namespace under root (normally
 * "/var/run/secrets/kubernetes.io/serviceaccount").  The token is read
 * from token_file on every use, so rotation is picked up.  Returns 0,
 * or -1 with a reason in err.
 */
int	kubeconfig_incluster(const char *root, struct kubeconfig *out,
	    char *err, size_t errlen);
/* Free the fields (the struct may be reused). */
void	kubeconfig_clear(struct kubeconfig *);

#endif /* KUBECONFIG_H */
