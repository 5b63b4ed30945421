/*
 * test_config_diff.c: a live reload's pure half: config_reload (the
 * whole file again, flags on top, defaulted and validated), config_diff
 * and its live/restart classes, config_diff_take, and /configz's
 * pending object.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "config.h"
#include "configz.h"
#include "tu.h"

#define HEAD	"apiVersion: kubeproxy.config.k8s.io/v1alpha1\n" \
		"kind: KubeProxyConfiguration\n"

/* The file every test starts from (line 3 is udpIdleTimeout). */
static const char base_yaml[] = HEAD
	"udpIdleTimeout: 250ms\n"
	"iptables:\n"
	"  syncPeriod: 30s\n"
	"  minSyncPeriod: 1s\n"
	"healthzBindAddress: 127.0.0.1:10256\n"
	"hostnameOverride: node-a\n";

static char	cd_path[64];

/* Write s to a new temporary file, remembered in cd_path. */
static void
cd_write(const char *s)
{
	FILE	*fp;
	int	 fd;

	snprintf(cd_path, sizeof(cd_path), "/tmp/kpr-diff-XXXXXX");
	fd = mkstemp(cd_path);
	CU_ASSERT_FATAL(fd != -1);
	fp = fdopen(fd, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	fputs(s, fp);
	fclose(fp);
}

/*
 * Load the running config from base_yaml plus one extra flag (or none),
 * as kuproxy starts.  argv must outlive the config (it is borrowed).
 */
static struct kp_config *
cd_load(char **argv, char *cfgarg, size_t len, const char *flag)
{
	struct kp_config	*cfg = config_new();
	char			 err[CONFIG_ERRLEN];
	int			 argc = 0;
	static char		 a0[] = "kuproxy";

	cd_write(base_yaml);
	snprintf(cfgarg, len, "--config=%s", cd_path);
	argv[argc++] = a0;
	argv[argc++] = cfgarg;
	if (flag != NULL)
		argv[argc++] = (char *)flag;
	argv[argc] = NULL;
	if (config_load(cfg, argc, argv, err, sizeof(err)) != CONFIG_RUN) {
		fprintf(stderr, "config_load: %s\n", err);
		CU_FAIL_FATAL("config_load");
	}
	return (cfg);
}

/* Reload buf over cfg into a new config; NULL (err set) if rejected. */
static struct kp_config *
cd_reload(const struct kp_config *cfg, const char *buf, char *err,
    size_t errlen)
{
	struct kp_config	*n = config_new();

	if (config_reload(n, cfg, buf, strlen(buf), err, errlen) == -1) {
		config_free(n);
		return (NULL);
	}
	return (n);
}

/* Find key in c[0..n); NULL if absent. */
static const struct config_change *
cd_find(const struct config_change *c, size_t n, const char *key)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(c[i].key, key) == 0)
			return (&c[i]);
	return (NULL);
}

/* Changing udpIdleTimeout and syncPeriod: two live changes, in order. */
static void
test_config_diff_live(void)
{
	char			*argv[4], arg[128], err[CONFIG_ERRLEN], keys[256];
	struct kp_config	*cfg, *n;
	struct config_change	 c[CONFIG_DIFF_MAX];
	size_t			 nc;

	cfg = cd_load(argv, arg, sizeof(arg), NULL);
	n = cd_reload(cfg, HEAD
	    "udpIdleTimeout: 5s\n"
	    "iptables:\n"
	    "  syncPeriod: 10s\n"
	    "  minSyncPeriod: 1s\n"
	    "healthzBindAddress: 127.0.0.1:10256\n"
	    "hostnameOverride: node-a\n", err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(n);
	nc = config_diff(cfg, n, c, CONFIG_DIFF_MAX);
	CU_ASSERT_EQUAL(nc, 2);
	CU_ASSERT_EQUAL(config_diff_nrestart(c, nc), 0);
	CU_ASSERT_STRING_EQUAL(config_diff_keys(c, nc, 0, keys, sizeof(keys)),
	    "iptables.syncPeriod, udpIdleTimeout");
	CU_ASSERT_STRING_EQUAL(config_diff_keys(c, nc, 1, keys, sizeof(keys)),
	    "");
	/* The reloaded config is complete: derived values and all. */
	CU_ASSERT_EQUAL(n->udp_idle_timeout_ms, 5000);
	CU_ASSERT_EQUAL(n->sync_period_ms, 10000);
	CU_ASSERT_STRING_EQUAL(n->hostname_override, "node-a");
	config_free(n);
	config_free(cfg);
	unlink(cd_path);
}

/* The same content, or the same values written another way: nothing. */
static void
test_config_diff_same(void)
{
	char			*argv[4], arg[128], err[CONFIG_ERRLEN];
	struct kp_config	*cfg, *n;
	struct config_change	 c[CONFIG_DIFF_MAX];

	cfg = cd_load(argv, arg, sizeof(arg), NULL);
	n = cd_reload(cfg, base_yaml, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(n);
	CU_ASSERT_EQUAL(config_diff(cfg, n, c, CONFIG_DIFF_MAX), 0);
	config_free(n);
	/* Reordered keys, a comment, JSON-style, 30s as 0.5m. */
	n = cd_reload(cfg, HEAD
	    "# edited\n"
	    "hostnameOverride: \"node-a\"\n"
	    "iptables: {minSyncPeriod: 1000ms, syncPeriod: 0.5m}\n"
	    "healthzBindAddress: 127.0.0.1:10256\n"
	    "udpIdleTimeout: 250ms\n", err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(n);
	CU_ASSERT_EQUAL(config_diff(cfg, n, c, CONFIG_DIFF_MAX), 0);
	config_free(n);
	config_free(cfg);
	unlink(cd_path);
}

/* Each restart-only field is classed so, each live one live. */
static void
test_config_diff_classes(void)
{
	static const struct {
		const char	*yaml;
		const char	*key;
		int		 restart;
	} t[] = {
		{ "hostnameOverride: node-b\n", "hostnameOverride", 1 },
		{ "bindAddress: 198.18.0.1\n", "bindAddress", 1 },
		{ "clientConnection:\n  kubeconfig: /etc/kp.conf\n",
		    "clientConnection.kubeconfig", 1 },
		{ "mode: userspace\n", "mode", 1 },
		{ "featureGates:\n  EndpointSliceProxying: false\n",
		    "featureGates", 1 },
		{ "portRange: 30000-30100\n", "portRange", 0 },
		{ "metricsBindAddress: 127.0.0.2:10249\n",
		    "metricsBindAddress", 0 },
		{ "oomScoreAdj: -500\n", "oomScoreAdj", 0 },
		{ "conntrack:\n  min: 1000\n", "conntrack.min", 0 },
		{ "conntrack:\n  tcpEstablishedTimeout: 1h\n",
		    "conntrack.tcpEstablishedTimeout", 0 },
		{ "bindAddressHardFail: true\n", "bindAddressHardFail", 0 },
		/* No effect in userspace mode: taking it changes nothing. */
		{ "clusterCIDR: 10.0.0.0/8\n", "clusterCIDR", 0 },
	};
	char			*argv[4], arg[128], err[CONFIG_ERRLEN];
	char			 buf[1024];
	struct kp_config	*cfg, *n;
	struct config_change	 c[CONFIG_DIFF_MAX];
	const struct config_change *f;
	size_t			 i, nc;

	cfg = cd_load(argv, arg, sizeof(arg), NULL);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(buf, sizeof(buf), "%s%s", base_yaml, t[i].yaml);
		/* hostnameOverride twice is an error: replace it. */
		if (strncmp(t[i].yaml, "hostnameOverride", 16) == 0)
			snprintf(buf, sizeof(buf), HEAD
			    "udpIdleTimeout: 250ms\n"
			    "iptables:\n  syncPeriod: 30s\n"
			    "  minSyncPeriod: 1s\n"
			    "healthzBindAddress: 127.0.0.1:10256\n%s",
			    t[i].yaml);
		n = cd_reload(cfg, buf, err, sizeof(err));
		if (n == NULL)
			fprintf(stderr, "%s: %s\n", t[i].key, err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(n);
		nc = config_diff(cfg, n, c, CONFIG_DIFF_MAX);
		f = cd_find(c, nc, t[i].key);
		CU_ASSERT_PTR_NOT_NULL(f);
		if (f != NULL)
			CU_ASSERT_EQUAL(f->restart, t[i].restart);
		CU_ASSERT_EQUAL(nc, 1);
		config_free(n);
	}
	config_free(cfg);
	unlink(cd_path);
}

/* A bad edit: FILE:LINE in one message, nothing built. */
static void
test_config_diff_bad(void)
{
	char			*argv[4], arg[128], err[CONFIG_ERRLEN];
	char			 want[128];
	struct kp_config	*cfg, *n;

	cfg = cd_load(argv, arg, sizeof(arg), NULL);
	/* A type error, caught by the parser. */
	n = cd_reload(cfg, HEAD "udpIdleTimeout: soon\n", err, sizeof(err));
	CU_ASSERT_PTR_NULL(n);
	snprintf(want, sizeof(want), "%s:3: udpIdleTimeout", cd_path);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	CU_ASSERT_PTR_NULL(strchr(err, '\n'));
	/* A value error, caught by validation, still with its line. */
	n = cd_reload(cfg, HEAD "iptables:\n  syncPeriod: 30s\n"
	    "  minSyncPeriod: -1s\n", err, sizeof(err));
	CU_ASSERT_PTR_NULL(n);
	snprintf(want, sizeof(want), "%s:5: iptables.minSyncPeriod", cd_path);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	/* Broken YAML. */
	n = cd_reload(cfg, HEAD "iptables: [\n", err, sizeof(err));
	CU_ASSERT_PTR_NULL(n);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, cd_path));
	/* The running config is untouched. */
	CU_ASSERT_EQUAL(cfg->udp_idle_timeout_ms, 250);
	config_free(cfg);
	unlink(cd_path);
}

/* Flags still override the file: a file change under a flag is none. */
static void
test_config_diff_flags(void)
{
	char			*argv[4], arg[128], err[CONFIG_ERRLEN];
	struct kp_config	*cfg, *n;
	struct config_change	 c[CONFIG_DIFF_MAX];

	cfg = cd_load(argv, arg, sizeof(arg), "--udp-timeout=2s");
	CU_ASSERT_EQUAL(cfg->udp_idle_timeout_ms, 2000);
	n = cd_reload(cfg, HEAD "udpIdleTimeout: 5s\n"
	    "iptables:\n  syncPeriod: 30s\n  minSyncPeriod: 1s\n"
	    "healthzBindAddress: 127.0.0.1:10256\n"
	    "hostnameOverride: node-a\n", err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(n);
	CU_ASSERT_EQUAL(n->udp_idle_timeout_ms, 2000);
	CU_ASSERT_EQUAL(config_diff(cfg, n, c, CONFIG_DIFF_MAX), 0);
	config_free(n);
	config_free(cfg);
	unlink(cd_path);
}

/* Taking a live value moves it and what was derived from it; never a
 * restart-only one. */
static void
test_config_diff_take(void)
{
	char			*argv[4], arg[128], err[CONFIG_ERRLEN], v[64];
	struct kp_config	*cfg, *n;
	struct config_change	 c[CONFIG_DIFF_MAX];
	const struct config_change *f;
	size_t			 nc, i;

	cfg = cd_load(argv, arg, sizeof(arg), NULL);
	n = cd_reload(cfg, HEAD "udpIdleTimeout: 5s\n"
	    "iptables:\n  syncPeriod: 30s\n  minSyncPeriod: 1s\n"
	    "healthzBindAddress: 127.0.0.2:10257\n"
	    "hostnameOverride: node-b\n"
	    "portRange: 30000+99\n", err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(n);
	nc = config_diff(cfg, n, c, CONFIG_DIFF_MAX);
	CU_ASSERT_EQUAL(nc, 4);
	CU_ASSERT_EQUAL(config_diff_nrestart(c, nc), 1);
	f = cd_find(c, nc, "udpIdleTimeout");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_STRING_EQUAL(config_diff_value(n, f, v, sizeof(v)), "5s");
	for (i = 0; i < nc; i++)
		CU_ASSERT_EQUAL(config_diff_take(cfg, n, &c[i]),
		    c[i].restart ? -1 : 0);
	CU_ASSERT_EQUAL(cfg->udp_idle_timeout_ms, 5000);
	CU_ASSERT_EQUAL(n->udp_idle_timeout_ms, 250);
	CU_ASSERT_STRING_EQUAL(cfg->healthz_bind_address, "127.0.0.2:10257");
	CU_ASSERT_EQUAL(cfg->healthz_len, n->healthz_len);
	CU_ASSERT_EQUAL(cfg->port_base, 30000);
	CU_ASSERT_EQUAL(cfg->port_size, 100);
	CU_ASSERT_EQUAL(n->port_size, 0);
	/* The restart-only value stayed where it was. */
	CU_ASSERT_STRING_EQUAL(cfg->hostname_override, "node-a");
	CU_ASSERT_STRING_EQUAL(n->hostname_override, "node-b");
	/* Against the same file read again, only that one differs now. */
	config_free(n);
	n = cd_reload(cfg, HEAD "udpIdleTimeout: 5s\n"
	    "iptables:\n  syncPeriod: 30s\n  minSyncPeriod: 1s\n"
	    "healthzBindAddress: 127.0.0.2:10257\n"
	    "hostnameOverride: node-b\n"
	    "portRange: 30000+99\n", err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(n);
	nc = config_diff(cfg, n, c, CONFIG_DIFF_MAX);
	CU_ASSERT_EQUAL(nc, 1);
	CU_ASSERT_STRING_EQUAL(c[0].key, "hostnameOverride");
	CU_ASSERT_EQUAL(c[0].restart, 1);
	config_free(n);
	config_free(cfg);
	unlink(cd_path);
}

/* /configz shows the restart-only values waiting, under "pending". */
static void
test_config_diff_configz_pending(void)
{
	char			*argv[4], arg[128], err[CONFIG_ERRLEN];
	struct kp_config	*cfg, *n;
	struct json_object	*o, *p, *r, *v;

	cfg = cd_load(argv, arg, sizeof(arg), NULL);
	n = cd_reload(cfg, HEAD "udpIdleTimeout: 250ms\n"
	    "iptables:\n  syncPeriod: 30s\n  minSyncPeriod: 1s\n"
	    "healthzBindAddress: 127.0.0.1:10256\n"
	    "hostnameOverride: node-b\n"
	    "featureGates:\n  EndpointSliceProxying: false\n", err,
	    sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(n);
	o = configz_json(cfg);
	configz_add_pending(o, cfg, n);
	CU_ASSERT_FATAL(json_object_object_get_ex(o, "pending", &p));
	CU_ASSERT_FATAL(json_object_object_get_ex(p, "restartRequired", &r));
	CU_ASSERT_EQUAL(json_object_object_length(r), 2);
	CU_ASSERT_FATAL(json_object_object_get_ex(r, "hostnameOverride", &v));
	CU_ASSERT_STRING_EQUAL(json_object_get_string(v), "node-b");
	CU_ASSERT_FATAL(json_object_object_get_ex(r, "featureGates", &v));
	CU_ASSERT_STRING_EQUAL(json_object_get_string(v),
	    "EndpointSliceProxying=false");
	json_object_put(o);
	/* Nothing pending: no key at all. */
	o = configz_json(cfg);
	configz_add_pending(o, cfg, cfg);
	CU_ASSERT_FALSE(json_object_object_get_ex(o, "pending", &p));
	json_object_put(o);
	config_free(n);
	config_free(cfg);
	unlink(cd_path);
}

static const struct tu_case cases[] = {
	{ "live changes", test_config_diff_live },
	{ "same values, no change", test_config_diff_same },
	{ "live and restart-only classes", test_config_diff_classes },
	{ "bad edit rejected with FILE:LINE", test_config_diff_bad },
	{ "flags override the file", test_config_diff_flags },
	{ "take live values only", test_config_diff_take },
	{ "configz pending", test_config_diff_configz_pending },
	{ NULL, NULL }
};

TU_MAIN("config_diff", cases)
