/*
 * test_config.c: flags, the KubeProxyConfiguration file, validation,
 * durations and --write-config-to.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * By path: automake's -I. comes before -I./src, so a generated top-level
 * config.h (autoheader output) would otherwise shadow src/config.h.
 */
#include "config.h"
#include "log.h"
#include "netutil.h"
#include "xmalloc.h"
#include "tu.h"

#define HDR	"apiVersion: kubeproxy.config.k8s.io/v1alpha1\n" \
		"kind: KubeProxyConfiguration\n"
#define MAXARGS	32

static struct tu_capture cap;	/* stdout or the log */

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"unknown"
#endif

/* Run config_load on a NULL-terminated argument list (argv[0] added). */
static int
load(struct kp_config *cfg, const char *const *args, char *err)
{
	char	*argv[MAXARGS];
	int	 argc = 0, rv;

	argv[argc++] = xstrdup("kuproxy");
	for (; *args != NULL && argc < MAXARGS - 1; args++)
		argv[argc++] = xstrdup(*args);
	argv[argc] = NULL;
	err[0] = '\0';
	rv = config_load(cfg, argc, argv, err, CONFIG_ERRLEN);
	while (argc > 0)
		free(argv[--argc]);
	return (rv);
}

/* Parse doc as "kube-proxy.yaml" into a fresh config. */
static int
parse(struct kp_config *cfg, const char *doc, char *err)
{
	err[0] = '\0';
	return (config_parse_yaml(cfg, doc, strlen(doc), "kube-proxy.yaml",
	    err, CONFIG_ERRLEN));
}

/* Assert that doc parses (and validates) to the exact error want. */
static void
expect_yaml_error(const char *doc, const char *want)
{
	struct kp_config	*cfg = config_new();
	char			 err[CONFIG_ERRLEN];
	int			 rv;

	if ((rv = parse(cfg, doc, err)) == 0)
		rv = config_validate(cfg, err, sizeof(err));
	CU_ASSERT_EQUAL(rv, -1);
	CU_ASSERT_STRING_EQUAL(err, want);
	if (strcmp(err, want) != 0)
		fprintf(stderr, "\n  got  %s\n  want %s\n", err, want);
	config_free(cfg);
}

/* Assert that args are rejected by config_load with the error want. */
static void
expect_flag_error(const char *const *args, const char *want)
{
	struct kp_config	*cfg = config_new();
	char			 err[CONFIG_ERRLEN];

	CU_ASSERT_EQUAL(load(cfg, args, err), -1);
	CU_ASSERT_STRING_EQUAL(err, want);
	if (strcmp(err, want) != 0)
		fprintf(stderr, "\n  got  %s\n  want %s\n", err, want);
	config_free(cfg);
}

/* Defaults are kube-proxy's. */
static void
test_config_defaults(void)
{
	struct kp_config	*cfg = config_new();
	char			 err[CONFIG_ERRLEN];

	CU_ASSERT_STRING_EQUAL(cfg->bind_address, "0.0.0.0");
	CU_ASSERT_STRING_EQUAL(cfg->port_range, "");
	CU_ASSERT_EQUAL(cfg->udp_idle_timeout_ms, 250);
	CU_ASSERT_EQUAL(cfg->sync_period_ms, 30000);
	CU_ASSERT_EQUAL(cfg->min_sync_period_ms, 1000);
	CU_ASSERT_EQUAL(cfg->config_sync_period_ms, 15 * 60 * 1000);
	CU_ASSERT_STRING_EQUAL(cfg->healthz_bind_address, "0.0.0.0:10256");
	CU_ASSERT_STRING_EQUAL(cfg->metrics_bind_address, "127.0.0.1:10249");
	CU_ASSERT_STRING_EQUAL(cfg->mode, "");
	CU_ASSERT_PTR_NULL(cfg->kubeconfig);
	CU_ASSERT_PTR_NULL(cfg->hostname_override);
	CU_ASSERT_PTR_NULL(cfg->master);
	CU_ASSERT_PTR_NULL(cfg->config_file);
	CU_ASSERT_PTR_NULL(cfg->services_file);
	CU_ASSERT_PTR_NULL(cfg->write_config_to);
	CU_ASSERT_EQUAL(cfg->cleanup, 0);
	CU_ASSERT_EQUAL(cfg->check_only, 0);
	CU_ASSERT_EQUAL(cfg->verbosity, 0);
	CU_ASSERT_STRING_EQUAL(cfg->state_dir, STATEDIR);
	CU_ASSERT_STRING_EQUAL(cfg->iptables_path, IPTABLES_PATH);
	CU_ASSERT_STRING_EQUAL(cfg->ip6tables_path, IP6TABLES_PATH);
	CU_ASSERT_STRING_EQUAL(cfg->conntrack_path, CONNTRACK_PATH);
	CU_ASSERT_EQUAL(cfg->endpoints_source, CONFIG_EPS_AUTO);

	CU_ASSERT_EQUAL(config_validate(cfg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg->bind_ss.ss_family, AF_INET);
	CU_ASSERT(netutil_is_unspecified((struct sockaddr *)&cfg->bind_ss));
	CU_ASSERT_EQUAL(cfg->port_size, 0);
	CU_ASSERT(cfg->healthz_len > 0);
	CU_ASSERT_EQUAL(netutil_get_port((struct sockaddr *)&cfg->healthz_ss),
	    10256);
	CU_ASSERT(cfg->metrics_len > 0);
	CU_ASSERT_EQUAL(netutil_get_port((struct sockaddr *)&cfg->metrics_ss),
	    10249);
	CU_ASSERT(netutil_is_loopback((struct sockaddr *)&cfg->metrics_ss));
	config_free(cfg);
}

/* Check every honoured field of tests/data/config-full.yaml. */
static void
check_full(const struct kp_config *cfg)
{
	CU_ASSERT_STRING_EQUAL(cfg->bind_address, "10.1.2.3");
	CU_ASSERT_STRING_EQUAL(cfg->port_range, "30000-30099");
	CU_ASSERT_EQUAL(cfg->udp_idle_timeout_ms, 90000);
	CU_ASSERT_EQUAL(cfg->config_sync_period_ms, 300000);
	CU_ASSERT_STRING_EQUAL(cfg->healthz_bind_address, "10.1.2.3:1234");
	CU_ASSERT_STRING_EQUAL(cfg->metrics_bind_address, "[::1]:9999");
	CU_ASSERT_STRING_EQUAL(cfg->hostname_override, "node-a");
	CU_ASSERT_STRING_EQUAL(cfg->mode, "userspace");
	CU_ASSERT_STRING_EQUAL(cfg->kubeconfig, "/etc/kubernetes/proxy.conf");
	CU_ASSERT_EQUAL(cfg->sync_period_ms, 60000);
	CU_ASSERT_EQUAL(cfg->min_sync_period_ms, 2000);
}

/* Every honoured field is read from the file, and --config loads it. */
static void
test_config_file_fields(void)
{
	const char		*args[] = { "--config", NULL, NULL };
	struct kp_config	*cfg = config_new();
	char			 err[CONFIG_ERRLEN], *path;

	path = xstrdup(tu_data("config-full.yaml"));
	args[1] = path;
	CU_ASSERT_EQUAL(load(cfg, args, err), CONFIG_RUN);
	CU_ASSERT_STRING_EQUAL(err, "");
	check_full(cfg);
	CU_ASSERT_STRING_EQUAL(cfg->config_file, path);
	CU_ASSERT_EQUAL(cfg->port_base, 30000);
	CU_ASSERT_EQUAL(cfg->port_size, 100);
	CU_ASSERT_EQUAL(netutil_get_port((struct sockaddr *)&cfg->healthz_ss),
	    1234);
	CU_ASSERT_EQUAL(cfg->metrics_ss.ss_family, AF_INET6);
	config_free(cfg);
	free(path);
}

/* JSON works too; null keeps the default; "::" moves the defaults to v6. */
static void
test_config_file_json_null(void)
{
	const char		*args[] = { "--config", NULL, NULL };
	struct kp_config	*cfg = config_new();
	char			 err[CONFIG_ERRLEN], *path;

	path = xstrdup(tu_data("config-json.yaml"));
	args[1] = path;
	CU_ASSERT_EQUAL(load(cfg, args, err), CONFIG_RUN);
	CU_ASSERT_STRING_EQUAL(err, "");
	CU_ASSERT_EQUAL(cfg->udp_idle_timeout_ms, 250);
	CU_ASSERT_EQUAL(cfg->sync_period_ms, 120000);
	CU_ASSERT_EQUAL(cfg->min_sync_period_ms, 0);
	CU_ASSERT_EQUAL(cfg->bind_ss.ss_family, AF_INET6);
	CU_ASSERT_STRING_EQUAL(cfg->healthz_bind_address, "[::]:10256");
	CU_ASSERT_STRING_EQUAL(cfg->metrics_bind_address, "[::1]:10249");
	config_free(cfg);
	free(path);
}

/* Each field flag overrides the file's value. */
static void
test_config_flags_override_file(void)
{
	const char		*args[] = { "--config", NULL,
	    "--bind-address", "10.9.9.9", "--proxy-port-range=40000+10",
	    "--udp-timeout", "3s", "--iptables-sync-period=45s",
	    "--iptables-min-sync-period", "5s", "--config-sync-period=1h",
	    "--healthz-bind-address", "10.9.9.9:2000",
	    "--metrics-bind-address=10.9.9.9", "--hostname-override=Node-B",
	    "--kubeconfig", "/k.conf", "--proxy-mode=", NULL };
	struct kp_config	*cfg = config_new();
	char			 err[CONFIG_ERRLEN], *path;

	path = xstrdup(tu_data("config-full.yaml"));
	args[1] = path;
	CU_ASSERT_EQUAL(load(cfg, args, err), CONFIG_RUN);
	CU_ASSERT_STRING_EQUAL(err, "");
	CU_ASSERT_STRING_EQUAL(cfg->bind_address, "10.9.9.9");
	CU_ASSERT_STRING_EQUAL(cfg->port_range, "40000+10");
	CU_ASSERT_EQUAL(cfg->port_base, 40000);
	CU_ASSERT_EQUAL(cfg->port_size, 11);
	CU_ASSERT_EQUAL(cfg->udp_idle_timeout_ms, 3000);
	CU_ASSERT_EQUAL(cfg->sync_period_ms, 45000);
	CU_ASSERT_EQUAL(cfg->min_sync_period_ms, 5000);
	CU_ASSERT_EQUAL(cfg->config_sync_period_ms, 3600000);
	CU_ASSERT_STRING_EQUAL(cfg->healthz_bind_address, "10.9.9.9:2000");
	/* A bare IP gets the default port, as kube-proxy does. */
	CU_ASSERT_STRING_EQUAL(cfg->metrics_bind_address, "10.9.9.9:10249");
	/* Trimmed and lower-cased as kube-proxy's GetHostname() does. */
	CU_ASSERT_STRING_EQUAL(cfg->hostname_override, "node-b");
	CU_ASSERT_STRING_EQUAL(cfg->kubeconfig, "/k.conf");
	CU_ASSERT_STRING_EQUAL(cfg->mode, "");
	config_free(cfg);
	free(path);
}

/* All flag spellings: --f=v, --f v, booleans, -v forms, -n, kuproxy's. */
static void
test_config_flag_syntax(void)
{
	const char *const	 a1[] = { "-v", "4", "--cleanup", "-n",
	    "--services-file", "/s.yaml", "--state-dir=/st",
	    "--iptables-path", "/fake/iptables", "--ip6tables-path=/f6",
	    "--conntrack-path=/ct", "--endpoints-source=endpoints",
	    "--master", "", NULL };
	const char *const	 a2[] = { "-v=3", "--cleanup=false",
	    "--check-config=true", "--endpoints-source", "endpointslices",
	    NULL };
	const char *const	 a3[] = { "--v=7", NULL };
	const char *const	 a4[] = { "-v9", "--cleanup=t", NULL };
	struct kp_config	*cfg = config_new();
	char			 err[CONFIG_ERRLEN];

	CU_ASSERT_EQUAL(load(cfg, a1, err), CONFIG_RUN);
	CU_ASSERT_STRING_EQUAL(err, "");
	CU_ASSERT_EQUAL(cfg->verbosity, 4);
	CU_ASSERT_EQUAL(cfg->cleanup, 1);
	CU_ASSERT_EQUAL(cfg->check_only, 1);
	CU_ASSERT_STRING_EQUAL(cfg->services_file, "/s.yaml");
	CU_ASSERT_STRING_EQUAL(cfg->state_dir, "/st");
	CU_ASSERT_STRING_EQUAL(cfg->iptables_path, "/fake/iptables");
	CU_ASSERT_STRING_EQUAL(cfg->ip6tables_path, "/f6");
	CU_ASSERT_STRING_EQUAL(cfg->conntrack_path, "/ct");
	CU_ASSERT_EQUAL(cfg->endpoints_source, CONFIG_EPS_ENDPOINTS);
	CU_ASSERT_PTR_NULL(cfg->master);

	CU_ASSERT_EQUAL(load(cfg, a2, err), CONFIG_RUN);
	CU_ASSERT_EQUAL(cfg->verbosity, 3);
	CU_ASSERT_EQUAL(cfg->cleanup, 0);
	CU_ASSERT_EQUAL(cfg->check_only, 1);
	CU_ASSERT_EQUAL(cfg->endpoints_source, CONFIG_EPS_SLICES);
	/* Each load starts from the defaults. */
	CU_ASSERT_STRING_EQUAL(cfg->state_dir, STATEDIR);
	CU_ASSERT_PTR_NULL(cfg->services_file);

	CU_ASSERT_EQUAL(load(cfg, a3, err), CONFIG_RUN);
	CU_ASSERT_EQUAL(cfg->verbosity, 7);
	CU_ASSERT_EQUAL(load(cfg, a4, err), CONFIG_RUN);
	CU_ASSERT_EQUAL(cfg->verbosity, 9);
	CU_ASSERT_EQUAL(cfg->cleanup, 1);
	config_free(cfg);
}

/* Bad command lines name the flag; a failed load leaves cfg alone. */
static void
test_config_flag_errors(void)
{
	const char *const a1[] = { "--proxy-mode=iptables", NULL };
	const char *const a2[] = { "--foo", NULL };
	const char *const a3[] = { "--foo=bar", NULL };
	const char *const a4[] = { "extra", NULL };
	const char *const a5[] = { "--", "extra", NULL };
	const char *const a6[] = { "--bind-address", NULL };
	const char *const a7[] = { "--cleanup=maybe", NULL };
	const char *const a8[] = { "-x", NULL };
	const char *const a9[] = { "--udp-timeout", "fast", NULL };
	const char *const a10[] = { "--bind-address=1.2.3", NULL };
	const char *const a11[] = { "--bind-address=127.0.0.1", NULL };
	const char *const a12[] = { "--endpoints-source=both", NULL };
	const char *const a13[] = { "-v", "x", NULL };
	const char *const a14[] = { "--iptables-min-sync-period=1m", NULL };
	const char *const a15[] = { "--config", "/nonexistent/kp.yaml", NULL };
	const char *const a16[] = { "--healthz-bind-address=1.2.3.4:x", NULL };
	const char *const a17[] = { "--udp-timeout=0s", NULL };
	const char *const a18[] = { "--state-dir=", NULL };
	const char *const a19[] = { "--proxy-port-range=40000-30000", NULL };

	expect_flag_error(a1, "--proxy-mode: \"iptables\" is not supported: "
	    "kuproxy implements only userspace");
	expect_flag_error(a2, "unknown flag: --foo");
	expect_flag_error(a3, "unknown flag: --foo");
	expect_flag_error(a4, "unexpected argument \"extra\": kuproxy takes "
	    "only flags");
	expect_flag_error(a5, "unexpected argument \"extra\": kuproxy takes "
	    "only flags");
	expect_flag_error(a6, "flag needs an argument: --bind-address");
	expect_flag_error(a7, "--cleanup: invalid boolean \"maybe\"");
	expect_flag_error(a8, "unknown shorthand flag: 'x' in -x");
	expect_flag_error(a9, "--udp-timeout: invalid duration \"fast\"");
	expect_flag_error(a10, "--bind-address: \"1.2.3\" is not an IP "
	    "address");
	expect_flag_error(a11, "--bind-address: 127.0.0.1 is a loopback "
	    "address: the proxy would not be reachable");
	expect_flag_error(a12, "--endpoints-source: \"both\" is not one of "
	    "auto, endpointslices, endpoints");
	expect_flag_error(a13, "--v: invalid verbosity \"x\"");
	expect_flag_error(a14, "--iptables-min-sync-period: must not exceed "
	    "iptables.syncPeriod (30s)");
	expect_flag_error(a15, "--config: /nonexistent/kp.yaml: No such file "
	    "or directory");
	expect_flag_error(a16, "--healthz-bind-address: \"1.2.3.4:x\": "
	    "invalid port \"x\"");
	expect_flag_error(a17, "--udp-timeout: must be greater than 0");
	expect_flag_error(a18, "--state-dir: must not be empty");
	expect_flag_error(a19, "--proxy-port-range: port range "
	    "\"40000-30000\": end port 30000 is less than start port 40000");
}

/* A failed load keeps the previous config intact. */
static void
test_config_load_failure_keeps_config(void)
{
	const char *const	 ok[] = { "--bind-address=10.0.0.1", NULL };
	const char *const	 bad[] = { "--bind-address=10.0.0.2",
	    "--udp-timeout=1x", NULL };
	struct kp_config	*cfg = config_new();
	char			 err[CONFIG_ERRLEN];

	CU_ASSERT_EQUAL(load(cfg, ok, err), CONFIG_RUN);
	CU_ASSERT_EQUAL(load(cfg, bad, err), -1);
	CU_ASSERT_STRING_EQUAL(err, "--udp-timeout: unknown unit \"x\" in "
	    "duration \"1x\"");
	CU_ASSERT_STRING_EQUAL(cfg->bind_address, "10.0.0.1");
	config_free(cfg);
}

/* kube-proxy flags with no userspace meaning warn once and are skipped. */
static void
test_config_ignored_flags(void)
{
	const char *const	 args[] = { "--masquerade-all",
	    "--cluster-cidr", "10.0.0.0/8", "--ipvs-scheduler=rr",
	    "--log-backtrace-at", "proxier.c:42", "--profiling=false",
	    "--conntrack-max-per-core", "0", "--logtostderr",
	    "--udp-timeout", "1s", NULL };
	struct kp_config	*cfg = config_new();
	char			 err[CONFIG_ERRLEN], *out;
	int			 rv;

	tu_capture_begin(&cap, 2);
	rv = load(cfg, args, err);
	out = tu_capture_end(&cap);
	CU_ASSERT_EQUAL(rv, CONFIG_RUN);
	CU_ASSERT_STRING_EQUAL(err, "");
	/* The value after a valued ignored flag is not an argument. */
	CU_ASSERT_EQUAL(cfg->udp_idle_timeout_ms, 1000);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "flag --masquerade-all has no "
	    "effect in kuproxy (userspace mode); ignored\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "flag --cluster-cidr has no"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "flag --ipvs-scheduler has no"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "flag --log-backtrace-at has"));
	/* klog's flags are kuproxy's too (log.h): no warning. */
	CU_ASSERT_PTR_NULL(strstr(out, "logtostderr"));
	CU_ASSERT_PTR_NULL(strstr(out, "udp-timeout"));
	free(out);
	config_free(cfg);
}

/* klog's flags land in cfg->log, with klog's defaults and checks. */
static void
test_config_log_flags(void)
{
	const char *const	 none[] = { NULL };
	const char *const	 all[] = { "--logtostderr=false",
	    "--alsologtostderr", "--log-file", "/tmp/kp.log",
	    "--log-file-max-size=5", "--log-dir", "/var/log",
	    "--stderrthreshold", "warning", "--skip-headers",
	    "--skip-log-headers", "--add-dir-header", "--one-output",
	    "--vmodule=proxy_*=4,lb=3", "--log-flush-frequency=5s", NULL };
	const char *const	 bad[][3] = {
		{ "--vmodule=proxy_tcp", NULL },
		{ "--vmodule=proxy_tcp=x", NULL },
		{ "--vmodule==3", NULL },
		{ "--stderrthreshold=SEVERE", NULL },
		{ "--stderrthreshold=4.0", NULL },
		{ "--log-file-max-size=-1", NULL },
		{ "--log-file-max-size", "1k", NULL },
		{ "--log-flush-frequency=5x", NULL },
		{ "--logtostderr=maybe", NULL },
	};
	const char *const	 want[] = {
		"--vmodule: \"proxy_tcp\": expect comma-separated list of "
		    "filename=N",
		"--vmodule: \"proxy_tcp=x\": expect comma-separated list of "
		    "filename=N",
		"--vmodule: \"=3\": expect comma-separated list of "
		    "filename=N",
		"--stderrthreshold: \"SEVERE\" is not one of INFO, WARNING, "
		    "ERROR, FATAL or an integer",
		"--stderrthreshold: \"4.0\" is not one of INFO, WARNING, "
		    "ERROR, FATAL or an integer",
		"--log-file-max-size: invalid size \"-1\"",
		"--log-file-max-size: invalid size \"1k\"",
		"--log-flush-frequency: ",
		"--logtostderr: invalid boolean \"maybe\"",
	};
	struct kp_config	*cfg = config_new();
	char			 err[CONFIG_ERRLEN];
	size_t			 i;

	CU_ASSERT_EQUAL(load(cfg, none, err), CONFIG_RUN);
	CU_ASSERT_EQUAL(cfg->log.logtostderr, 1);
	CU_ASSERT_EQUAL(cfg->log.alsologtostderr, 0);
	CU_ASSERT_EQUAL(cfg->log.stderrthreshold, LOG_SEV_ERROR);
	CU_ASSERT_EQUAL(cfg->log.file_max_mb, 1800);
	CU_ASSERT_STRING_EQUAL(cfg->log.file, "");
	CU_ASSERT_EQUAL(cfg->log.skip_headers, 0);
	CU_ASSERT_STRING_EQUAL(cfg->log.vmodule, "");

	CU_ASSERT_EQUAL(load(cfg, all, err), CONFIG_RUN);
	CU_ASSERT_STRING_EQUAL(err, "");
	CU_ASSERT_EQUAL(cfg->log.logtostderr, 0);
	CU_ASSERT_EQUAL(cfg->log.alsologtostderr, 1);
	CU_ASSERT_STRING_EQUAL(cfg->log.file, "/tmp/kp.log");
	CU_ASSERT_EQUAL(cfg->log.file_max_mb, 5);
	CU_ASSERT_STRING_EQUAL(cfg->log.dir, "/var/log");
	CU_ASSERT_EQUAL(cfg->log.stderrthreshold, LOG_SEV_WARNING);
	CU_ASSERT_EQUAL(cfg->log.skip_headers, 1);
	CU_ASSERT_EQUAL(cfg->log.skip_log_headers, 1);
	CU_ASSERT_EQUAL(cfg->log.add_dir_header, 1);
	CU_ASSERT_EQUAL(cfg->log.one_output, 1);
	CU_ASSERT_STRING_EQUAL(cfg->log.vmodule, "proxy_*=4,lb=3");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(load(cfg, bad[i], err), -1);
		CU_ASSERT_NSTRING_EQUAL(err, want[i], strlen(want[i]));
	}
	config_free(cfg);
}

/* --help and --version print to stdout and ask the caller to exit. */
static void
test_config_help_version(void)
{
	const char *const	 h1[] = { "--help", NULL };
	const char *const	 h2[] = { "-h", "--udp-timeout=1x", NULL };
	const char *const	 v1[] = { "--version", NULL };
	struct kp_config	*cfg = config_new();
	char			 err[CONFIG_ERRLEN], *out;
	int			 rv;

	tu_capture_begin(&cap, 1);
	rv = load(cfg, h1, err);
	out = tu_capture_end(&cap);
	CU_ASSERT_EQUAL(rv, CONFIG_EXIT);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "--udp-timeout DURATION"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "(default \"250ms\")"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "(default \"15m0s\")"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "kuproxy flags:\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "--services-file FILE"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "-n, --check-config"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, STATEDIR));
	free(out);

	tu_capture_begin(&cap, 1);
	rv = load(cfg, h2, err);
	out = tu_capture_end(&cap);
	CU_ASSERT_EQUAL(rv, CONFIG_EXIT);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "usage: kuproxy"));
	free(out);

	tu_capture_begin(&cap, 1);
	rv = load(cfg, v1, err);
	out = tu_capture_end(&cap);
	CU_ASSERT_EQUAL(rv, CONFIG_EXIT);
	CU_ASSERT_STRING_EQUAL(out, "kuproxy " PACKAGE_VERSION "\n");
	free(out);
	config_free(cfg);
}

/* Exact FILE:LINE: field: reason messages for bad files. */
static void
test_config_file_errors(void)
{
	expect_yaml_error(HDR "bindAddress: 0.0.0.0\nportRange: \"\"\n"
	    "healthzBindAddress: 0.0.0.0:10256\nmode: userspace\n"
	    "udpIdleTimeout: fast\n",
	    "kube-proxy.yaml:7: udpIdleTimeout: invalid duration \"fast\"");
	expect_yaml_error(HDR "bindAddress: 1.2.3\n",
	    "kube-proxy.yaml:3: bindAddress: \"1.2.3\" is not an IP address");
	expect_yaml_error(HDR "\nhealthzBindAddress: 0.0.0.0:99999\n",
	    "kube-proxy.yaml:4: healthzBindAddress: \"0.0.0.0:99999\": "
	    "invalid port \"99999\"");
	expect_yaml_error(HDR "bindAddress: 127.0.0.1\n",
	    "kube-proxy.yaml:3: bindAddress: 127.0.0.1 is a loopback "
	    "address: the proxy would not be reachable");
	expect_yaml_error(HDR "iptables:\n  syncPeriod: 10s\n"
	    "  minSyncPeriod: 1m\n",
	    "kube-proxy.yaml:5: iptables.minSyncPeriod: must not exceed "
	    "iptables.syncPeriod (10s)");
	expect_yaml_error("apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
	    "kind: Pod\n",
	    "kube-proxy.yaml:2: kind: expected KubeProxyConfiguration, "
	    "got \"Pod\"");
	expect_yaml_error("apiVersion: v1\nkind: KubeProxyConfiguration\n",
	    "kube-proxy.yaml:1: apiVersion: expected "
	    "kubeproxy.config.k8s.io/v1alpha1, got \"v1\"");
	expect_yaml_error("kind: KubeProxyConfiguration\n",
	    "kube-proxy.yaml:1: apiVersion: missing, expected "
	    "kubeproxy.config.k8s.io/v1alpha1");
	expect_yaml_error("- a\n- b\n", "kube-proxy.yaml:1: expected a "
	    "KubeProxyConfiguration mapping, got array");
	expect_yaml_error(HDR "mode: ipvs\n", "kube-proxy.yaml:3: mode: "
	    "\"ipvs\" is not supported (kuproxy implements only userspace)");
	expect_yaml_error(HDR "hostnameOverride: 42\n", "kube-proxy.yaml:3: "
	    "hostnameOverride: expected a string, got int");
	expect_yaml_error(HDR "udpIdleTimeout: 5\n", "kube-proxy.yaml:3: "
	    "udpIdleTimeout: missing unit in duration \"5\"");
	expect_yaml_error(HDR "iptables: fast\n", "kube-proxy.yaml:3: "
	    "iptables: expected a mapping, got string");
	expect_yaml_error(HDR "configSyncPeriod: 0s\n", "kube-proxy.yaml:3: "
	    "configSyncPeriod: must be greater than 0");
	expect_yaml_error(HDR "portRange: 2000-1000\n", "kube-proxy.yaml:3: "
	    "portRange: port range \"2000-1000\": end port 1000 is less than "
	    "start port 2000");
	expect_yaml_error("", "kube-proxy.yaml:1: expected one "
	    "KubeProxyConfiguration document, got 0");
	expect_yaml_error(HDR "---\n" HDR, "kube-proxy.yaml:4: expected one "
	    "KubeProxyConfiguration document, got 2");
	expect_yaml_error("just text\n", "kube-proxy.yaml:1: expected a "
	    "KubeProxyConfiguration mapping, got string");
}

/* A YAML syntax error reports its line in FILE:LINE form. */
static void
test_config_file_syntax_error(void)
{
	struct kp_config	*cfg = config_new();
	char			 err[CONFIG_ERRLEN];
	const char		*doc = HDR "iptables:\n  syncPeriod: 1s\n"
	    "  minSyncPeriod: [1s\n";

	/* libyaml notices the unclosed flow sequence at the end (line 6). */
	CU_ASSERT_EQUAL(parse(cfg, doc, err), -1);
	CU_ASSERT_NSTRING_EQUAL(err, "kube-proxy.yaml:6: ", 19);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "flow sequence"));
	CU_ASSERT(strncmp(err + 19, "line ", 5) != 0);

	/* A tab where indentation is expected, on line 4. */
	CU_ASSERT_EQUAL(parse(cfg, HDR "iptables:\n\tsyncPeriod: 1s\n", err),
	    -1);
	CU_ASSERT_NSTRING_EQUAL(err, "kube-proxy.yaml:4: ", 19);
	config_free(cfg);
}

/* Unknown keys are accepted with one warning each, with their line. */
static void
test_config_file_unknown_key(void)
{
	const char		*args[] = { "--config", NULL, NULL };
	struct kp_config	*cfg = config_new();
	char			 err[CONFIG_ERRLEN], *path, *want, *out;
	int			 rv;

	path = xstrdup(tu_data("config-unknown.yaml"));
	args[1] = path;
	tu_capture_begin(&cap, 2);
	rv = load(cfg, args, err);
	out = tu_capture_end(&cap);
	CU_ASSERT_EQUAL(rv, CONFIG_RUN);
	CU_ASSERT_EQUAL(cfg->udp_idle_timeout_ms, 2000);
	CU_ASSERT_EQUAL(cfg->sync_period_ms, 10000);
	xasprintf(&want, "%s:4: unknown field \"proxyFlavour\" "
	    "ignored\n", path);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
	free(want);
	xasprintf(&want, "%s:7: unknown field \"iptables.turbo\" "
	    "ignored\n", path);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
	/* Known but unused fields are only debug lines. */
	CU_ASSERT_PTR_NULL(strstr(out, "masquerade"));
	free(out);
	config_free(cfg);
	free(path);
	free(want);
}

/* A file value that fails validation is reported with FILE:LINE. */
static void
test_config_file_validate_line(void)
{
	const char		*args[] = { "--config", NULL, NULL };
	struct kp_config	*cfg = config_new();
	char			 err[CONFIG_ERRLEN], *path, *want;

	path = xstrdup(tu_data("config-minsync.yaml"));
	args[1] = path;
	CU_ASSERT_EQUAL(load(cfg, args, err), -1);
	xasprintf(&want, "%s:4: iptables.minSyncPeriod: must not "
	    "exceed iptables.syncPeriod (30s)", path);
	CU_ASSERT_STRING_EQUAL(err, want);
	config_free(cfg);
	free(path);
	free(want);
}

/* Go duration parsing, and printing as Go prints. */
static void
test_config_durations(void)
{
	static const struct {
		const char	*in;
		int		 rv;
		uint64_t	 ms;
		const char	*err;
	} t[] = {
		{ "250ms", 0, 250, NULL },
		{ "1m30s", 0, 90000, NULL },
		{ "1.5s", 0, 1500, NULL },
		{ "2h", 0, 7200000, NULL },
		{ "0", 0, 0, NULL },
		{ "0s", 0, 0, NULL },
		{ "-0s", 0, 0, NULL },
		{ "+5s", 0, 5000, NULL },
		{ ".5s", 0, 500, NULL },
		{ "1h2m3.5s", 0, 3723500, NULL },
		{ "500us", 0, 0, NULL },
		{ "1500\xc2\xb5s", 0, 1, NULL },
		{ "2000000ns", 0, 2, NULL },
		{ "", -1, 0, "invalid duration \"\"" },
		{ "5", -1, 0, "missing unit in duration \"5\"" },
		{ "-1s", -1, 0, "invalid duration \"-1s\": must not be "
		    "negative" },
		{ "1x", -1, 0, "unknown unit \"x\" in duration \"1x\"" },
		{ "fast", -1, 0, "invalid duration \"fast\"" },
		{ ".s", -1, 0, "invalid duration \".s\"" },
		{ "1s2", -1, 0, "missing unit in duration \"1s2\"" },
		{ "9999999999h", -1, 0, "invalid duration \"9999999999h\": out "
		    "of range" },
		/* Go's limit: int64 nanoseconds. */
		{ "2562047h47m16.854775807s", 0, 9223372036854ULL, NULL },
		{ "9223372036854775807ns", 0, 9223372036854ULL, NULL },
		{ "9223372036854775808ns", -1, 0, "invalid duration "
		    "\"9223372036854775808ns\": out of range" },
		{ "2000000h2000000h", -1, 0, "invalid duration "
		    "\"2000000h2000000h\": out of range" },
	};
	static const struct {
		uint64_t	 ms;
		const char	*out;
	} f[] = {
		{ 0, "0s" }, { 250, "250ms" }, { 1000, "1s" },
		{ 1500, "1.5s" }, { 1250, "1.25s" }, { 30000, "30s" },
		{ 60000, "1m0s" }, { 90000, "1m30s" }, { 900000, "15m0s" },
		{ 7200000, "2h0m0s" }, { 3723500, "1h2m3.5s" },
	};
	char		err[CONFIG_ERRLEN], buf[64];
	uint64_t	ms;
	size_t		i;
	int		rv;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ms = 12345;
		err[0] = '\0';
		rv = config_parse_duration(t[i].in, &ms, err, sizeof(err));
		CU_ASSERT_EQUAL(rv, t[i].rv);
		if (rv == 0 && t[i].rv == 0)
			CU_ASSERT_EQUAL(ms, t[i].ms);
		if (t[i].err != NULL)
			CU_ASSERT_STRING_EQUAL(err, t[i].err);
		if (rv != t[i].rv || (rv == 0 && ms != t[i].ms))
			fprintf(stderr, "\n  %s: rv %d ms %llu err %s\n",
			    t[i].in, rv, (unsigned long long)ms, err);
	}
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		CU_ASSERT_STRING_EQUAL(config_format_duration(f[i].ms, buf,
		    sizeof(buf)), f[i].out);
		CU_ASSERT_EQUAL(config_parse_duration(buf, &ms, err,
		    sizeof(err)), 0);
		CU_ASSERT_EQUAL(ms, f[i].ms);
	}
}

/* --write-config-to writes YAML that parses back to the same config. */
static void
test_config_write_round_trip(void)
{
	char			 path[] = "/tmp/test_config.wXXXXXX";
	char			 opt[64], err[CONFIG_ERRLEN], *buf;
	const char		*args[] = { "--bind-address=10.3.3.3",
	    "--proxy-port-range=30000-30010", "--udp-timeout=1.5s",
	    "--iptables-sync-period=1m", "--iptables-min-sync-period=0",
	    "--config-sync-period=2h", "--healthz-bind-address=",
	    "--metrics-bind-address=[::1]:9", "--kubeconfig",
	    "/etc/k \"q\"\\.conf", "--hostname-override=n1", opt, NULL };
	struct kp_config	*cfg = config_new(), *back = config_new();
	FILE			*fp;
	long			 len;
	int			 fd;

	CU_ASSERT_FATAL((fd = mkstemp(path)) != -1);
	close(fd);
	snprintf(opt, sizeof(opt), "--write-config-to=%s", path);
	CU_ASSERT_EQUAL(load(cfg, args, err), CONFIG_EXIT);
	CU_ASSERT_STRING_EQUAL(err, "");

	CU_ASSERT_FATAL((fp = fopen(path, "r")) != NULL);
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	rewind(fp);
	buf = xcalloc(1, len + 1);
	CU_ASSERT_EQUAL(fread(buf, 1, len, fp), (size_t)len);
	fclose(fp);
	unlink(path);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "kind: KubeProxyConfiguration\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "configSyncPeriod: 2h0m0s\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "  syncPeriod: 1m0s\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "udpIdleTimeout: 1.5s\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "mode: userspace\n"));

	CU_ASSERT_EQUAL(config_parse_yaml(back, buf, len, path, err,
	    sizeof(err)), 0);
	CU_ASSERT_EQUAL(config_validate(back, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(back->bind_address, cfg->bind_address);
	CU_ASSERT_STRING_EQUAL(back->port_range, cfg->port_range);
	CU_ASSERT_EQUAL(back->udp_idle_timeout_ms, 1500);
	CU_ASSERT_EQUAL(back->sync_period_ms, 60000);
	CU_ASSERT_EQUAL(back->min_sync_period_ms, 0);
	CU_ASSERT_EQUAL(back->config_sync_period_ms, 7200000);
	CU_ASSERT_STRING_EQUAL(back->healthz_bind_address, "");
	CU_ASSERT_EQUAL(back->healthz_len, 0);
	CU_ASSERT_STRING_EQUAL(back->metrics_bind_address, "[::1]:9");
	CU_ASSERT_STRING_EQUAL(back->kubeconfig, "/etc/k \"q\"\\.conf");
	CU_ASSERT_STRING_EQUAL(back->hostname_override, "n1");
	CU_ASSERT_STRING_EQUAL(back->mode, "userspace");
	free(buf);
	config_free(back);
	config_free(cfg);
}

/* The same round trip for the defaults, through config_write directly. */
static void
test_config_write_defaults(void)
{
	struct kp_config	*cfg = config_new(), *back = config_new();
	char			 err[CONFIG_ERRLEN], *buf = NULL;
	size_t			 len = 0;
	FILE			*fp;

	CU_ASSERT_FATAL((fp = open_memstream(&buf, &len)) != NULL);
	CU_ASSERT_EQUAL(config_write(cfg, fp), 0);
	fclose(fp);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "udpIdleTimeout: 250ms\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "configSyncPeriod: 15m0s\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "  minSyncPeriod: 1s\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "  syncPeriod: 30s\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "bindAddress: \"0.0.0.0\"\n"));
	CU_ASSERT_EQUAL(config_parse_yaml(back, buf, len, "w.yaml", err,
	    sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(back->healthz_bind_address, "0.0.0.0:10256");
	CU_ASSERT_STRING_EQUAL(back->metrics_bind_address, "127.0.0.1:10249");
	CU_ASSERT_EQUAL(back->udp_idle_timeout_ms, 250);
	CU_ASSERT_EQUAL(back->config_sync_period_ms, 900000);
	CU_ASSERT_PTR_NULL(back->kubeconfig);
	CU_ASSERT_PTR_NULL(back->hostname_override);
	free(buf);
	config_free(back);
	config_free(cfg);
}

/* --services-file excludes the API server flags, wherever they came from. */
static void
test_config_services_file_exclusive(void)
{
	const char *const	a1[] = { "--services-file=/s.yaml",
	    "--kubeconfig", "/k.conf", NULL };
	const char *const	a2[] = { "--master=https://1.2.3.4:6443",
	    "--services-file", "/s.yaml", NULL };
	const char *const	a3[] = { "--services-file=/s.yaml", "--config",
	    NULL, NULL };
	const char		*want = "--services-file cannot be combined "
	    "with --kubeconfig/--master: use one source";
	const char		*args[4];
	char			*path;

	expect_flag_error(a1, want);
	expect_flag_error(a2, want);
	path = xstrdup(tu_data("config-full.yaml"));
	memcpy(args, a3, sizeof(args));
	args[2] = path;
	expect_flag_error(args, want);
	free(path);
}

/* Port 0 or "" disables the servers; derived fields are filled. */
static void
test_config_validate_derived(void)
{
	struct kp_config	*cfg = config_new();
	char			 err[CONFIG_ERRLEN];

	free(cfg->healthz_bind_address);
	cfg->healthz_bind_address = xstrdup("0.0.0.0:0");
	free(cfg->metrics_bind_address);
	cfg->metrics_bind_address = xstrdup("");
	free(cfg->port_range);
	cfg->port_range = xstrdup("20000");
	free(cfg->bind_address);
	cfg->bind_address = xstrdup("192.0.2.1");
	CU_ASSERT_EQUAL(config_validate(cfg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg->healthz_len, 0);
	CU_ASSERT_EQUAL(cfg->metrics_len, 0);
	CU_ASSERT_EQUAL(cfg->bind_ss.ss_family, AF_INET);
	CU_ASSERT_EQUAL(cfg->bind_len, sizeof(struct sockaddr_in));
	CU_ASSERT_EQUAL(netutil_get_port((struct sockaddr *)&cfg->bind_ss), 0);

	/* Set in code, not from a file or flag: the bare field name. */
	free(cfg->mode);
	cfg->mode = xstrdup("kernelspace");
	CU_ASSERT_EQUAL(config_validate(cfg, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "mode: \"kernelspace\" is not supported "
	    "(kuproxy implements only userspace)");
	config_free(cfg);
}

static const struct tu_case cases[] = {
	{ "defaults", test_config_defaults },
	{ "file fields", test_config_file_fields },
	{ "file json and null", test_config_file_json_null },
	{ "flags override file", test_config_flags_override_file },
	{ "flag syntax", test_config_flag_syntax },
	{ "flag errors", test_config_flag_errors },
	{ "failed load keeps config", test_config_load_failure_keeps_config },
	{ "ignored kube-proxy flags", test_config_ignored_flags },
	{ "klog flags", test_config_log_flags },
	{ "help and version", test_config_help_version },
	{ "file errors", test_config_file_errors },
	{ "file syntax error", test_config_file_syntax_error },
	{ "file unknown key", test_config_file_unknown_key },
	{ "file validate line", test_config_file_validate_line },
	{ "durations", test_config_durations },
	{ "write round trip", test_config_write_round_trip },
	{ "write defaults", test_config_write_defaults },
	{ "services-file exclusive", test_config_services_file_exclusive },
	{ "validate derived", test_config_validate_derived },
	{ NULL, NULL }
};

/* Run the suite with warnings on stderr. */
int
main(void)
{
	log_init(0);
	return (tu_run("config", cases));
}
