/*
 * config_file.c: the KubeProxyConfiguration file
 * (kubeproxy.config.k8s.io/v1alpha1), as YAML or JSON.  config_keys
 * lists every key of Kubernetes 1.20's v1alpha1 so that each is either
 * honoured (through config_fields, the same setter the flags use),
 * knowingly ignored, or reported as unknown; unknown keys only warn, as
 * kube-proxy's lenient fallback decoding does.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "config_priv.h"
#include "log.h"
#include "xmalloc.h"
#include "yamljson.h"

#define CONFIG_MAXFILE		(4 * 1024 * 1024)

/* What the file parser does with a key. */
enum config_key_kind {
	CK_META = 0,	/* apiVersion, kind: checked first */
	CK_FIELD,	/* honoured: config_fields[field] */
	CK_MAP,		/* a mapping whose keys are "key.child" rows */
	CK_IGNORE,	/* v1alpha1 field with no meaning in userspace mode */
};

struct config_key {
	const char	*key;
	enum config_key_kind kind;
	int		 field;
};

/* Every KubeProxyConfiguration v1alpha1 key of Kubernetes 1.20. */
static const struct config_key config_keys[] = {
	{ "apiVersion", CK_META, 0 },
	{ "kind", CK_META, 0 },
	{ "bindAddress", CK_FIELD, CF_BIND },
	{ "portRange", CK_FIELD, CF_PORTRANGE },
	{ "udpIdleTimeout", CK_FIELD, CF_UDP },
	{ "configSyncPeriod", CK_FIELD, CF_CFGSYNC },
	{ "healthzBindAddress", CK_FIELD, CF_HEALTHZ },
	{ "metricsBindAddress", CK_FIELD, CF_METRICS },
	{ "hostnameOverride", CK_FIELD, CF_HOSTNAME },
	{ "mode", CK_FIELD, CF_MODE },
	{ "iptables", CK_MAP, 0 },
	{ "iptables.syncPeriod", CK_FIELD, CF_SYNC },
	{ "iptables.minSyncPeriod", CK_FIELD, CF_MINSYNC },
	{ "iptables.masqueradeAll", CK_IGNORE, 0 },
	{ "iptables.masqueradeBit", CK_IGNORE, 0 },
	{ "clientConnection", CK_MAP, 0 },
	{ "clientConnection.kubeconfig", CK_FIELD, CF_KUBECONFIG },
	{ "clientConnection.acceptContentTypes", CK_IGNORE, 0 },
	{ "clientConnection.contentType", CK_IGNORE, 0 },
	{ "clientConnection.qps", CK_IGNORE, 0 },
	{ "clientConnection.burst", CK_IGNORE, 0 },
	{ "featureGates", CK_IGNORE, 0 },
	{ "bindAddressHardFail", CK_IGNORE, 0 },
	{ "enableProfiling", CK_IGNORE, 0 },
	{ "clusterCIDR", CK_IGNORE, 0 },
	{ "ipvs", CK_IGNORE, 0 },
	{ "oomScoreAdj", CK_IGNORE, 0 },
	{ "conntrack", CK_IGNORE, 0 },
	{ "nodePortAddresses", CK_IGNORE, 0 },
	{ "winkernel", CK_IGNORE, 0 },
	{ "showHiddenMetricsForVersion", CK_IGNORE, 0 },
	{ "detectLocalMode", CK_IGNORE, 0 },
	{ NULL, 0, 0 }
};

/* Return the text of a scalar duration node (int 0 reads as "0"). */
static const char *
config_yaml_text(struct json_object *node, char *buf, size_t len)
{
	switch (json_object_get_type(node)) {
	case json_type_string:
		return (json_object_get_string(node));
	case json_type_int:
		snprintf(buf, len, "%lld",
		    (long long)json_object_get_int64(node));
		return (buf);
	default:
		return (NULL);
	}
}

/* Apply one honoured key's node to cfg. */
static int
config_yaml_field(struct kp_config *cfg, int id, struct json_object *node,
    int line, struct yamljson_errbuf *eb)
{
	const struct config_field	*f = &config_fields[id];
	const char			*val;
	char				 num[32];

	if (node == NULL)	/* null: keep the default */
		return (0);
	if (f->type == CT_DUR)
		val = config_yaml_text(node, num, sizeof(num));
	else
		val = json_object_is_type(node, json_type_string) ?
		    json_object_get_string(node) : NULL;
	if (val == NULL)
		return (config_fail(eb->err, eb->errlen, cfg->src_file, line,
		    f, "expected a %s, got %s", f->type == CT_DUR ?
		    "duration string" : "string",
		    json_type_to_name(json_object_get_type(node))));
	return (config_set_field(cfg, id, val, line, eb->err, eb->errlen));
}

/* Find the config_keys row for path "prefix.key" (or "key"). */
static const struct config_key *
config_key_find(const char *prefix, const char *key)
{
	const struct config_key	*k;
	size_t			 plen = prefix ? strlen(prefix) : 0;

	for (k = config_keys; k->key != NULL; k++) {
		if (prefix == NULL) {
			if (strcmp(k->key, key) == 0)
				return (k);
		} else if (strncmp(k->key, prefix, plen) == 0 &&
		    k->key[plen] == '.' && strcmp(k->key + plen + 1, key) == 0)
			return (k);
	}
	return (NULL);
}

/* Apply every key of mapping map (under prefix, NULL at the top) to cfg. */
static int
config_yaml_map(struct kp_config *cfg, struct json_object *map,
    const char *prefix, struct yamljson_errbuf *eb)
{
	const struct config_key	*k;
	int			 line, mline = yamljson_line(map);

	json_object_object_foreach(map, key, val) {
		line = val != NULL ? yamljson_line(val) : 0;
		if (line == 0)
			line = mline;
		if ((k = config_key_find(prefix, key)) == NULL) {
			log_warnx("%s:%d: unknown field \"%s%s%s\" ignored",
			    eb->fname, line, prefix ? prefix : "",
			    prefix ? "." : "", key);
			continue;
		}
		switch (k->kind) {
		case CK_META:
			break;
		case CK_IGNORE:
			log_debug("%s: %s:%d: %s has no effect in userspace "
			    "mode; ignored", __func__, eb->fname, line, k->key);
			break;
		case CK_FIELD:
			if (config_yaml_field(cfg, k->field, val, line,
			    eb) == -1)
				return (-1);
			break;
		case CK_MAP:
			if (val == NULL)
				break;
			if (!json_object_is_type(val, json_type_object))
				return (yamljson_fail(eb, line, "%s: expected "
				    "a mapping, got %s", k->key,
				    json_type_to_name(json_object_get_type(
				    val))));
			if (config_yaml_map(cfg, val, k->key, eb) == -1)
				return (-1);
			break;
		}
	}
	return (0);
}

/* Check that root's key holds want. */
static int
config_yaml_meta(struct json_object *root, const char *key, const char *want,
    struct yamljson_errbuf *eb)
{
	struct json_object	*node;
	int			 line = yamljson_line(root);

	if ((node = yamljson_get(root, key)) == NULL)
		return (yamljson_fail(eb, line, "%s: missing, expected %s",
		    key, want));
	if (yamljson_line(node) > 0)
		line = yamljson_line(node);
	if (!json_object_is_type(node, json_type_string) ||
	    strcmp(json_object_get_string(node), want) != 0)
		return (yamljson_fail(eb, line, "%s: expected %s, got \"%s\"",
		    key, want, json_object_get_string(node)));
	return (0);
}

/* Apply a KubeProxyConfiguration document to cfg. */
int
config_parse_yaml(struct kp_config *cfg, const char *buf, size_t len,
    const char *fname, char *err, size_t errlen)
{
	struct yamljson_errbuf	  eb = { fname, err, errlen, 0 };
	struct json_object	**docs = NULL;
	size_t			  ndocs = 0;
	int			  line, rv = -1;

	if (yamljson_parse_named(buf, len, fname, &docs, &ndocs, err,
	    errlen) == -1)
		return (-1);
	if (ndocs != 1) {
		line = ndocs > 1 ? yamljson_line(docs[1]) : 0;
		yamljson_fail(&eb, line > 0 ? line : 1, "expected one "
		    "KubeProxyConfiguration document, got %zu", ndocs);
		goto out;
	}
	if (!json_object_is_type(docs[0], json_type_object)) {
		line = yamljson_line(docs[0]);
		yamljson_fail(&eb, line > 0 ? line : 1, "expected a "
		    "KubeProxyConfiguration mapping, got %s",
		    json_type_to_name(json_object_get_type(docs[0])));
		goto out;
	}
	if (config_yaml_meta(docs[0], "apiVersion", CONFIG_API_VERSION,
	    &eb) == -1 ||
	    config_yaml_meta(docs[0], "kind", CONFIG_KIND, &eb) == -1)
		goto out;
	free(cfg->src_file);
	cfg->src_file = xstrdup(fname);
	rv = config_yaml_map(cfg, docs[0], NULL, &eb);
out:
	yamljson_free(docs, ndocs);
	return (rv);
}

/* Read the --config file and apply it to cfg. */
int
config_read_file(struct kp_config *cfg, const char *path, char *err,
    size_t errlen)
{
	char	*buf, why[CONFIG_ERRLEN];
	size_t	 len;
	int	 rv;

	if (yamljson_read_file(path, CONFIG_MAXFILE, &buf, &len, NULL, why,
	    sizeof(why)) == -1) {
		snprintf(err, errlen, "--config: %s", why);
		return (-1);
	}
	rv = config_parse_yaml(cfg, buf, len, path, err, errlen);
	free(buf);
	return (rv);
}
