/*
 * configz.c: the effective configuration as JSON (see configz.h).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "configz.h"

#define CONFIGZ_GROUP	"kubeproxy.config.k8s.io"

enum configz_type {
	CZ_STR = 0,	/* char *, NULL shown as "" */
	CZ_DUR,		/* uint64_t ms, shown as a Go duration "30s" */
	CZ_DURNS,	/* int64_t ns, shown as a Go duration */
	CZ_INT,		/* int */
	CZ_INT32,	/* int32_t */
	CZ_BOOL,	/* int, shown as true/false */
};

/*
 * One row per field shown: group, dotted Go field path, type, offset in
 * struct kp_config.  Adding a field to /configz is adding its row.  Never
 * list anything secret.
 */
static const struct configz_field {
	const char		*group;
	const char		*path;
	enum configz_type	 type;
	size_t			 off;
} configz_fields[] = {
#define K(p, t, m) { CONFIGZ_GROUP, p, t, offsetof(struct kp_config, m) }
#define O(p, t, m) { "kuproxy", p, t, offsetof(struct kp_config, m) }
	K("BindAddress", CZ_STR, bind_address),
	K("HealthzBindAddress", CZ_STR, healthz_bind_address),
	K("MetricsBindAddress", CZ_STR, metrics_bind_address),
	K("HostnameOverride", CZ_STR, hostname_override),
	K("ClientConnection.Kubeconfig", CZ_STR, kubeconfig),
	K("IPTables.SyncPeriod", CZ_DUR, sync_period_ms),
	K("IPTables.MinSyncPeriod", CZ_DUR, min_sync_period_ms),
	K("Mode", CZ_STR, mode),
	K("PortRange", CZ_STR, port_range),
	K("UDPIdleTimeout", CZ_DUR, udp_idle_timeout_ms),
	K("ConfigSyncPeriod", CZ_DUR, config_sync_period_ms),
	K("OOMScoreAdj", CZ_INT32, oom_score_adj),
	K("Conntrack.MaxPerCore", CZ_INT32, conntrack_max_per_core),
	K("Conntrack.Min", CZ_INT32, conntrack_min),
	K("Conntrack.TCPEstablishedTimeout", CZ_DURNS,
	    conntrack_tcp_established_ns),
	K("Conntrack.TCPCloseWaitTimeout", CZ_DURNS,
	    conntrack_tcp_close_wait_ns),
	O("ServicesFile", CZ_STR, services_file),
	O("StateDir", CZ_STR, state_dir),
	O("IptablesPath", CZ_STR, iptables_path),
	O("Ip6tablesPath", CZ_STR, ip6tables_path),
	O("ConntrackPath", CZ_STR, conntrack_path),
	O("Verbosity", CZ_INT, verbosity),
#undef O
#undef K
};

/* Return the value of field f of cfg as a new JSON value. */
static struct json_object *
configz_value(const struct kp_config *cfg, const struct configz_field *f)
{
	const char	*base = (const char *)cfg + f->off, *s;
	char		 d[32];

	switch (f->type) {
	case CZ_STR:
		s = *(char *const *)base;
		return (json_object_new_string(s != NULL ? s : ""));
	case CZ_DUR:
		return (json_object_new_string(config_format_duration(
		    *(const uint64_t *)base, d, sizeof(d))));
	case CZ_DURNS:
		return (json_object_new_string(config_format_duration_ns(
		    *(const int64_t *)base, d, sizeof(d))));
	case CZ_INT:
		return (json_object_new_int(*(const int *)base));
	case CZ_INT32:
		return (json_object_new_int(*(const int32_t *)base));
	case CZ_BOOL:
		return (json_object_new_boolean(*(const int *)base != 0));
	}
	return (json_object_new_null());
}

/* Return the object at the dotted path's parent in o, made as needed. */
static struct json_object *
configz_parent(struct json_object *o, const char *path, const char **leaf)
{
	struct json_object	*c;
	const char		*dot;
	char			 key[64];
	size_t			 len;

	while ((dot = strchr(path, '.')) != NULL) {
		len = (size_t)(dot - path);
		if (len >= sizeof(key))
			len = sizeof(key) - 1;
		memcpy(key, path, len);
		key[len] = '\0';
		if (!json_object_object_get_ex(o, key, &c)) {
			c = json_object_new_object();
			json_object_object_add(o, key, c);
		}
		o = c;
		path = dot + 1;
	}
	*leaf = path;
	return (o);
}

/* Build the configz document. */
struct json_object *
configz_json(const struct kp_config *cfg)
{
	struct json_object		*root, *g, *parent;
	const struct configz_field	*f;
	const char			*leaf;
	size_t				 i;

	root = json_object_new_object();
	for (i = 0; i < sizeof(configz_fields) / sizeof(configz_fields[0]);
	    i++) {
		f = &configz_fields[i];
		if (!json_object_object_get_ex(root, f->group, &g)) {
			g = json_object_new_object();
			json_object_object_add(root, f->group, g);
		}
		parent = configz_parent(g, f->path, &leaf);
		json_object_object_add(parent, leaf, configz_value(cfg, f));
	}
	return (root);
}

/* Add what pending would change, restart-only keys, under "pending". */
void
configz_add_pending(struct json_object *o, const struct kp_config *running,
    const struct kp_config *pending)
{
	struct config_change	 c[CONFIG_DIFF_MAX];
	struct json_object	*p, *keys;
	char			 v[1024];
	size_t			 n, i;

	n = config_diff(running, pending, c, CONFIG_DIFF_MAX);
	if (config_diff_nrestart(c, n) == 0)
		return;
	p = json_object_new_object();
	keys = json_object_new_object();
	for (i = 0; i < n; i++)
		if (c[i].restart)
			json_object_object_add(keys, c[i].key,
			    json_object_new_string(config_diff_value(pending,
			    &c[i], v, sizeof(v))));
	json_object_object_add(p, "restartRequired", keys);
	json_object_object_add(o, "pending", p);
}
