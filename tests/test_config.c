/*
 * test_config.c: flags, the KubeProxyConfiguration file, kube-proxy
 * 1.20's defaulting and validation field by field, durations and
 * numbers as Go parses them, and --write-config-to.  The files under
 * tests/data/kube-proxy-1.20 hold what kubeadm 1.20 generates and what
 * the real kube-proxy 1.20 makes of each input (see its README.md).
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <dirent.h>
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
#include "yamljson.h"
#include "netutil.h"
#include "xmalloc.h"
#include "tu.h"

#define SEC	1000000000LL
#define MS	1000000LL
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

/* Defaults are kube-proxy's (SetDefaults_KubeProxyConfiguration). */
static void
test_config_defaults(void)
{
	struct kp_config	*cfg = config_new();
	char			 err[CONFIG_ERRLEN];

	CU_ASSERT_STRING_EQUAL(cfg->bind_address, "0.0.0.0");
	CU_ASSERT_EQUAL(cfg->bind_address_hard_fail, 0);
	CU_ASSERT_STRING_EQUAL(cfg->cluster_cidr, "");
	CU_ASSERT_STRING_EQUAL(cfg->accept_content_types, "");
	CU_ASSERT_STRING_EQUAL(cfg->content_type,
	    "application/vnd.kubernetes.protobuf");
	CU_ASSERT_EQUAL(cfg->qps, 5);
	CU_ASSERT_EQUAL(cfg->burst, 10);
	CU_ASSERT_STRING_EQUAL(cfg->detect_local_mode, "");
	CU_ASSERT_EQUAL(cfg->enable_profiling, 0);
	CU_ASSERT_EQUAL(cfg->feature_gates.n, 0);
	CU_ASSERT_STRING_EQUAL(cfg->port_range, "");
	CU_ASSERT_EQUAL(cfg->udp_idle_timeout_ns, 250 * MS);
	CU_ASSERT_EQUAL(cfg->masquerade_bit, 14);
	CU_ASSERT_EQUAL(cfg->masquerade_all, 0);
	CU_ASSERT_EQUAL(cfg->sync_period_ns, 30 * SEC);
	CU_ASSERT_EQUAL(cfg->min_sync_period_ns, 1 * SEC);
	CU_ASSERT_EQUAL(cfg->ipvs_sync_period_ns, 30 * SEC);
	CU_ASSERT_EQUAL(cfg->ipvs_min_sync_period_ns, 0);
	CU_ASSERT_STRING_EQUAL(cfg->ipvs_scheduler, "");
	CU_ASSERT_EQUAL(cfg->ipvs_exclude_cidrs.n, 0);
	CU_ASSERT_EQUAL(cfg->ipvs_tcp_timeout_ns, 0);
	CU_ASSERT_EQUAL(cfg->oom_score_adj, -999);
	CU_ASSERT_EQUAL(cfg->conntrack_max_per_core, 32768);
	CU_ASSERT_EQUAL(cfg->conntrack_min, 131072);
	CU_ASSERT_EQUAL(cfg->conntrack_tcp_established_ns, 24 * 3600 * SEC);
	CU_ASSERT_EQUAL(cfg->conntrack_tcp_close_wait_ns, 3600 * SEC);
	CU_ASSERT_EQUAL(cfg->config_sync_period_ns, 15 * 60 * SEC);
	CU_ASSERT_EQUAL(cfg->node_port_addresses.n, 0);
	CU_ASSERT_EQUAL(cfg->node_port_addresses.set, 0);
	CU_ASSERT_STRING_EQUAL(cfg->show_hidden_metrics, "");
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
	CU_ASSERT_EQUAL(cfg->healthz_port, 10256);
	CU_ASSERT_EQUAL(cfg->metrics_port, 10249);
	/* Not under the configure prefix: kube-proxy's peers use /var/lib. */
	CU_ASSERT_STRING_EQUAL(cfg->state_dir, "/var/lib/kuproxy");
	CU_ASSERT_STRING_EQUAL(cfg->iptables_path, IPTABLES_PATH);
	CU_ASSERT_STRING_EQUAL(cfg->ip6tables_path, IP6TABLES_PATH);
	CU_ASSERT_STRING_EQUAL(cfg->conntrack_path, CONNTRACK_PATH);
	CU_ASSERT_EQUAL(cfg->endpoints_source, CONFIG_EPS_AUTO);

	CU_ASSERT_EQUAL(config_validate(cfg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg->proxy_mode, CONFIG_MODE_DEFAULT);
	CU_ASSERT_EQUAL(cfg->udp_idle_timeout_ms, 250);
	CU_ASSERT_EQUAL(cfg->sync_period_ms, 30000);
	CU_ASSERT_EQUAL(cfg->min_sync_period_ms, 1000);
	CU_ASSERT_EQUAL(cfg->config_sync_period_ms, 900000);
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

/* Check the fields of tests/data/config-full.yaml. */
static void
check_full(const struct kp_config *cfg)
{
	CU_ASSERT_STRING_EQUAL(cfg->bind_address, "10.1.2.3");
	CU_ASSERT_STRING_EQUAL(cfg->port_range, "30000-30099");
	CU_ASSERT_EQUAL(cfg->udp_idle_timeout_ns, 90 * SEC);
	CU_ASSERT_EQUAL(cfg->config_sync_period_ns, 300 * SEC);
	CU_ASSERT_STRING_EQUAL(cfg->healthz_bind_address, "10.1.2.3:1234");
	CU_ASSERT_STRING_EQUAL(cfg->metrics_bind_address, "[::1]:9999");
	CU_ASSERT_STRING_EQUAL(cfg->hostname_override, "node-a");
	CU_ASSERT_STRING_EQUAL(cfg->mode, "userspace");
	CU_ASSERT_STRING_EQUAL(cfg->kubeconfig, "/etc/kubernetes/proxy.conf");
	CU_ASSERT_EQUAL(cfg->sync_period_ns, 60 * SEC);
	CU_ASSERT_EQUAL(cfg->min_sync_period_ns, 2 * SEC);
	/* Fields with no effect in userspace mode are kept too. */
	CU_ASSERT_EQUAL(cfg->qps, 50);
	CU_ASSERT_EQUAL(cfg->masquerade_all, 1);
	CU_ASSERT_EQUAL(cfg->conntrack_max_per_core, 0);
	CU_ASSERT_EQUAL_FATAL(cfg->feature_gates.n, 1);
	CU_ASSERT_STRING_EQUAL(cfg->feature_gates.v[0].name,
	    "EndpointSliceProxying");
	CU_ASSERT_EQUAL(cfg->feature_gates.v[0].value, 0);
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

/*
 * JSON works too; a zero minSyncPeriod from the file means the default;
 * "::" moves the health and metrics defaults to IPv6.
 */
static void
test_config_file_json(void)
{
	const char		*args[] = { "--config", NULL, NULL };
	struct kp_config	*cfg = config_new();
	char			 err[CONFIG_ERRLEN], *path;

	path = xstrdup(tu_data("config-json.yaml"));
	args[1] = path;
	CU_ASSERT_EQUAL(load(cfg, args, err), CONFIG_RUN);
	CU_ASSERT_STRING_EQUAL(err, "");
	CU_ASSERT_EQUAL(cfg->udp_idle_timeout_ns, 250 * MS);
	CU_ASSERT_EQUAL(cfg->sync_period_ns, 120 * SEC);
	CU_ASSERT_EQUAL(cfg->min_sync_period_ns, 1 * SEC);
	CU_ASSERT_EQUAL(cfg->conntrack_min, 131072);
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
	CU_ASSERT_EQUAL(cfg->udp_idle_timeout_ns, 3 * SEC);
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
	const char *const a1[] = { "--proxy-mode=kernelspace", NULL };
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
	const char *const a20[] = { "--oom-score-adj=-1001", NULL };
	const char *const a21[] = { "--oom-score-adj=1e3", NULL };
	const char *const a22[] = { "--conntrack-max-per-core=-1", NULL };
	const char *const a23[] = { "--conntrack-tcp-timeout-close-wait=-1s",
	    NULL };
	const char *const a24[] = { "--healthz-bind-address=1.2.3.4:0", NULL };
	const char *const a25[] = { "--cluster-cidr=10.0.0.0/33", NULL };
	const char *const a26[] = { "--feature-gates=Foo=true", NULL };
	const char *const a27[] = { "--feature-gates=EndpointSlice", NULL };
	const char *const a28[] = { "--feature-gates=EndpointSlice=maybe",
	    NULL };
	const char *const a29[] = { "--kube-api-qps=fast", NULL };
	const char *const a30[] = { "--iptables-masquerade-bit=32", NULL };
	const char *const a31[] = { "--healthz-port=x", NULL };
	const char *const a32[] = { "--nodeport-addresses=10.0.0.0/8,a\"x",
	    NULL };
	const char *const a33[] = { "--proxy-mode=ipvs",
	    "--ipvs-scheduler=fifo", NULL };
	const char *const a34[] = { "--show-hidden-metrics-for-version=1.18",
	    NULL };
	const char *const a35[] = { "--detect-local-mode=Pod", NULL };
	const char *const a36[] = { "--kube-api-burst=-1", NULL };
	const char *const a37[] = { "--hostname-override=  ", NULL };
	const char *const a38[] = { "--udp-timeout=-1s", NULL };
	const char *const a39[] = { "--healthz-port=-1",
	    "--healthz-bind-address=10.0.0.1", NULL };

	expect_flag_error(a1, "--proxy-mode: \"kernelspace\": must be "
	    "iptables,ipvs,userspace or blank (blank means the best-available "
	    "proxy [currently iptables])");
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
	expect_flag_error(a20, "--oom-score-adj: -1001: must be within the "
	    "range [-1000, 1000]");
	expect_flag_error(a21, "--oom-score-adj: invalid int32 \"1e3\"");
	expect_flag_error(a22, "--conntrack-max-per-core: must be greater than "
	    "or equal to 0");
	expect_flag_error(a23, "--conntrack-tcp-timeout-close-wait: must be "
	    "greater than or equal to 0");
	expect_flag_error(a24, "--healthz-bind-address: \"0\": must be a valid "
	    "port");
	expect_flag_error(a25, "--cluster-cidr: \"10.0.0.0/33\": must be a "
	    "valid CIDR block (e.g. 10.100.0.0/16 or fde4:8dba:82e1::/48)");
	expect_flag_error(a26, "--feature-gates: unrecognized feature gate: "
	    "Foo");
	expect_flag_error(a27, "--feature-gates: missing bool value for "
	    "EndpointSlice");
	expect_flag_error(a28, "--feature-gates: invalid value of "
	    "EndpointSlice=maybe, err: strconv.ParseBool: parsing \"maybe\": "
	    "invalid syntax");
	expect_flag_error(a29, "--kube-api-qps: invalid float32 \"fast\"");
	expect_flag_error(a30, "--iptables-masquerade-bit: 32: must be within "
	    "the range [0, 31]");
	expect_flag_error(a31, "--healthz-port: invalid int32 \"x\"");
	expect_flag_error(a32, "--nodeport-addresses: \"10.0.0.0/8,a\"x\": "
	    "bare \" in non-quoted-field");
	expect_flag_error(a33, "--ipvs-scheduler: \"fifo\": must be in [rr wrr "
	    "lc wlc lblc lblcr sh dh sed nq ], blank means the default "
	    "algorithm method (currently rr)");
	expect_flag_error(a34, "--show-hidden-metrics-for-version: \"1.18\": "
	    "must be omitted or have the value '1.19'. Only the previous "
	    "minor version is allowed");
	expect_flag_error(a35, "--detect-local-mode: unknown detect-local-mode: "
	    "Pod");
	expect_flag_error(a36, "--kube-api-burst: must be greater than or "
	    "equal to 0");
	expect_flag_error(a37, "--hostname-override: empty hostname is "
	    "invalid");
	expect_flag_error(a38, "--udp-timeout: must be greater than 0");
	/* AppendPortIfNeeded(addr, -1), as kube-proxy builds it. */
	expect_flag_error(a39, "--healthz-bind-address: \"-1\": must be a "
	    "valid port");
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

/*
 * kube-proxy flags with no userspace meaning are checked and kept, with
 * one warning each; klog's are kuproxy's own (log.h).
 */
static void
test_config_ignored_flags(void)
{
	const char *const	 args[] = { "--masquerade-all",
	    "--cluster-cidr", "10.0.0.0/8", "--ipvs-scheduler=rr",
	    "--log-backtrace-at", "proxier.c:42", "--profiling=false",
	    "--conntrack-max-per-core", "0", "--logtostderr",
	    "--udp-timeout", "1s", "--cleanup-ipvs=false", NULL };
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
	CU_ASSERT_EQUAL(cfg->masquerade_all, 1);
	CU_ASSERT_STRING_EQUAL(cfg->cluster_cidr, "10.0.0.0/8");
	CU_ASSERT_STRING_EQUAL(cfg->ipvs_scheduler, "rr");
	CU_ASSERT_EQUAL(cfg->conntrack_max_per_core, 0);
	CU_ASSERT_EQUAL(cfg->cleanup_ipvs, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "flag --masquerade-all has no "
	    "effect in kuproxy (userspace mode); checked and kept\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "flag --cluster-cidr has no"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "flag --ipvs-scheduler has no"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "flag --log-backtrace-at has"));
	/* klog's flags are kuproxy's too (log.h): no warning. */
	CU_ASSERT_PTR_NULL(strstr(out, "logtostderr"));
	/* Honoured in userspace mode: no warning. */
	CU_ASSERT_PTR_NULL(strstr(out, "conntrack"));
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
	    "kube-proxy.yaml:4: healthzBindAddress: \"99999\": must be a "
	    "valid port");
	expect_yaml_error(HDR "healthzBindAddress: 0.0.0.0:0\n",
	    "kube-proxy.yaml:3: healthzBindAddress: \"0\": must be a valid "
	    "port");
	expect_yaml_error(HDR "metricsBindAddress: \"[::1]\"\n",
	    "kube-proxy.yaml:3: metricsBindAddress: \"[::1]\": must be "
	    "IP:port");
	expect_yaml_error(HDR "metricsBindAddress: 1.2.3:80\n",
	    "kube-proxy.yaml:3: metricsBindAddress: \"1.2.3\": must be a "
	    "valid IP");
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
	expect_yaml_error(HDR "mode: kernelspace\n", "kube-proxy.yaml:3: "
	    "mode: \"kernelspace\": must be iptables,ipvs,userspace or blank "
	    "(blank means the best-available proxy [currently iptables])");
	expect_yaml_error(HDR "hostnameOverride: 42\n", "kube-proxy.yaml:3: "
	    "hostnameOverride: expected a string, got int");
	expect_yaml_error(HDR "udpIdleTimeout: 5s5\n", "kube-proxy.yaml:3: "
	    "udpIdleTimeout: missing unit in duration \"5s5\"");
	/* kube-proxy's decoder wants a string, even for 0, and no null. */
	expect_yaml_error(HDR "udpIdleTimeout: 0\n", "kube-proxy.yaml:3: "
	    "udpIdleTimeout: expected a duration string, got int");
	expect_yaml_error(HDR "iptables:\n  syncPeriod: null\n",
	    "kube-proxy.yaml:4: iptables.syncPeriod: invalid duration \"\" "
	    "(null)");
	expect_yaml_error(HDR "enableProfiling: \"true\"\n",
	    "kube-proxy.yaml:3: enableProfiling: expected a boolean, got "
	    "string");
	expect_yaml_error(HDR "oomScoreAdj: 5.5\n", "kube-proxy.yaml:3: "
	    "oomScoreAdj: expected an integer, got double");
	expect_yaml_error(HDR "oomScoreAdj: 2147483648\n", "kube-proxy.yaml:3: "
	    "oomScoreAdj: 2147483648 is out of the int32 range");
	expect_yaml_error(HDR "clientConnection:\n  qps: 1e50\n",
	    "kube-proxy.yaml:4: clientConnection.qps: 1e+50 is out of the "
	    "float32 range");
	expect_yaml_error(HDR "nodePortAddresses: [10.0.0.0/8, 7]\n",
	    "kube-proxy.yaml:3: nodePortAddresses: [1]: expected a string, "
	    "got int");
	expect_yaml_error(HDR "nodePortAddresses: 10.0.0.0/8\n",
	    "kube-proxy.yaml:3: nodePortAddresses: expected a list of strings, "
	    "got string");
	expect_yaml_error(HDR "featureGates:\n  EndpointSlice: 1\n",
	    "kube-proxy.yaml:4: featureGates: EndpointSlice: expected a "
	    "boolean, got int");
	expect_yaml_error(HDR "featureGates:\n  NodeLease: false\n",
	    "kube-proxy.yaml:4: featureGates: cannot set feature gate "
	    "NodeLease to false, feature is locked to true");
	expect_yaml_error(HDR "iptables: fast\n", "kube-proxy.yaml:3: "
	    "iptables: expected a mapping, got string");
	expect_yaml_error(HDR "configSyncPeriod: -1s\n", "kube-proxy.yaml:3: "
	    "configSyncPeriod: must be greater than 0");
	expect_yaml_error(HDR "iptables:\n  minSyncPeriod: -1ns\n",
	    "kube-proxy.yaml:4: iptables.minSyncPeriod: must be greater than "
	    "or equal to 0");
	expect_yaml_error(HDR "conntrack:\n  tcpEstablishedTimeout: -1s\n",
	    "kube-proxy.yaml:4: conntrack.tcpEstablishedTimeout: must be "
	    "greater than or equal to 0");
	expect_yaml_error(HDR "mode: ipvs\nipvs:\n  syncPeriod: 10s\n"
	    "  minSyncPeriod: 1m\n", "kube-proxy.yaml:6: ipvs.minSyncPeriod: "
	    "must not exceed ipvs.syncPeriod (10s)");
	expect_yaml_error(HDR "mode: ipvs\nipvs:\n  excludeCIDRs: [bad]\n",
	    "kube-proxy.yaml:5: ipvs.excludeCIDRs: [0] \"bad\": must be a "
	    "valid CIDR");
	expect_yaml_error(HDR "hostnameOverride: \" \"\n",
	    "kube-proxy.yaml:3: hostnameOverride: empty hostname is invalid");
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

/* Signed nanoseconds, as time.ParseDuration and Duration.String. */
static void
test_config_durations_ns(void)
{
	static const struct {
		const char	*in;
		int64_t		 ns;
		const char	*out;
	} t[] = {
		{ "0", 0, "0s" }, { "-0", 0, "0s" }, { "1ns", 1, "1ns" },
		{ "999ns", 999, "999ns" }, { "1.5us", 1500, "1.5\xc2\xb5s" },
		{ "500\xc2\xb5s", 500000, "500\xc2\xb5s" },
		{ "1.5ms", 1500000, "1.5ms" }, { "-1s", -SEC, "-1s" },
		{ "-2m", -120 * SEC, "-2m0s" }, { "1h0.5s", 3600500 * MS,
		    "1h0m0.5s" }, { "1.000000001s", SEC + 1, "1.000000001s" },
		{ "25h", 90000 * SEC, "25h0m0s" },
		{ "-9223372036854775808ns", INT64_MIN,
		    "-2562047h47m16.854775808s" },
		{ "9223372036854775807ns", INT64_MAX,
		    "2562047h47m16.854775807s" },
	};
	char		err[CONFIG_ERRLEN], buf[64];
	int64_t		ns;
	size_t		i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ns = 12345;
		CU_ASSERT_EQUAL(config_parse_duration_ns(t[i].in, &ns, err,
		    sizeof(err)), 0);
		CU_ASSERT_EQUAL(ns, t[i].ns);
		CU_ASSERT_STRING_EQUAL(config_format_duration_ns(t[i].ns, buf,
		    sizeof(buf)), t[i].out);
		if (ns != t[i].ns)
			fprintf(stderr, "\n  %s: %lld\n", t[i].in,
			    (long long)ns);
	}
	CU_ASSERT_EQUAL(config_parse_duration_ns("9223372036854775808ns", &ns,
	    err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(config_parse_duration_ns("-9223372036854775809ns",
	    &ns, err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(config_parse_duration_ns("--1s", &ns, err,
	    sizeof(err)), -1);
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
	/* The mode asked for, as kube-proxy writes it (kuproxy runs userspace). */
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "mode: \"\"\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "healthzBindAddress: \"\"\n"));

	CU_ASSERT_EQUAL(config_parse_yaml(back, buf, len, path, err,
	    sizeof(err)), 0);
	CU_ASSERT_EQUAL(config_validate(back, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(back->bind_address, cfg->bind_address);
	CU_ASSERT_STRING_EQUAL(back->port_range, cfg->port_range);
	CU_ASSERT_EQUAL(back->udp_idle_timeout_ms, 1500);
	CU_ASSERT_EQUAL(back->sync_period_ms, 60000);
	CU_ASSERT_EQUAL(back->config_sync_period_ms, 7200000);
	/*
	 * What a KubeProxyConfiguration file cannot say, in kube-proxy 1.20
	 * either: a zero minSyncPeriod and an empty healthzBindAddress read
	 * back as their defaults.
	 */
	CU_ASSERT_EQUAL(back->min_sync_period_ms, 1000);
	CU_ASSERT_STRING_EQUAL(back->healthz_bind_address, "0.0.0.0:10256");
	CU_ASSERT_STRING_EQUAL(back->metrics_bind_address, "[::1]:9");
	CU_ASSERT_STRING_EQUAL(back->kubeconfig, "/etc/k \"q\"\\.conf");
	CU_ASSERT_STRING_EQUAL(back->hostname_override, "n1");
	CU_ASSERT_STRING_EQUAL(back->mode, "");
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
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "bindAddress: 0.0.0.0\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "oomScoreAdj: -999\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "  tcpEstablishedTimeout: 24h0m0s\n"));
	CU_ASSERT_PTR_NULL(strstr(buf, "featureGates"));
	CU_ASSERT_EQUAL(config_parse_yaml(back, buf, len, "w.yaml", err,
	    sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(back->healthz_bind_address, "0.0.0.0:10256");
	CU_ASSERT_STRING_EQUAL(back->metrics_bind_address, "127.0.0.1:10249");
	CU_ASSERT_EQUAL(back->udp_idle_timeout_ns, 250 * MS);
	CU_ASSERT_EQUAL(back->config_sync_period_ns, 900 * SEC);
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

/* "" disables a server, port 0 is refused; derived fields are filled. */
static void
test_config_validate_derived(void)
{
	struct kp_config	*cfg = config_new();
	char			 err[CONFIG_ERRLEN];

	free(cfg->healthz_bind_address);
	cfg->healthz_bind_address = xstrdup("");
	free(cfg->metrics_bind_address);
	cfg->metrics_bind_address = xstrdup("");
	free(cfg->port_range);
	cfg->port_range = xstrdup("20000");
	free(cfg->bind_address);
	cfg->bind_address = xstrdup("192.0.2.1");
	cfg->udp_idle_timeout_ns = 1;	/* 1ns: rounded up to 1ms */
	CU_ASSERT_EQUAL(config_validate(cfg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg->healthz_len, 0);
	CU_ASSERT_EQUAL(cfg->metrics_len, 0);
	CU_ASSERT_EQUAL(cfg->udp_idle_timeout_ms, 1);
	CU_ASSERT_EQUAL(cfg->port_base, 20000);
	CU_ASSERT_EQUAL(cfg->port_size, 1);
	CU_ASSERT_EQUAL(cfg->bind_ss.ss_family, AF_INET);
	CU_ASSERT_EQUAL(cfg->bind_len, sizeof(struct sockaddr_in));
	CU_ASSERT_EQUAL(netutil_get_port((struct sockaddr *)&cfg->bind_ss), 0);
	/* Idempotent. */
	CU_ASSERT_EQUAL(config_validate(cfg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg->healthz_len, 0);

	free(cfg->healthz_bind_address);
	cfg->healthz_bind_address = xstrdup("0.0.0.0:0");
	CU_ASSERT_EQUAL(config_validate(cfg, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "healthzBindAddress: \"0\": must be a "
	    "valid port");
	free(cfg->healthz_bind_address);
	cfg->healthz_bind_address = xstrdup("");

	/* Set in code, not from a file or flag: the bare field name. */
	free(cfg->mode);
	cfg->mode = xstrdup("kernelspace");
	CU_ASSERT_EQUAL(config_validate(cfg, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "mode: \"kernelspace\": must be "
	    "iptables,ipvs,userspace or blank (blank means the best-available "
	    "proxy [currently iptables])");
	config_free(cfg);
}

/* Load the single document of file (under tests/data) into a new config. */
static struct kp_config *
load_file(const char *file, const char *const *extra, char *err)
{
	const char		*args[MAXARGS];
	struct kp_config	*cfg = config_new();
	char			*path = xstrdup(tu_data(file));
	int			 n = 0, rv;

	args[n++] = "--config";
	args[n++] = path;
	for (; extra != NULL && *extra != NULL; extra++)
		args[n++] = *extra;
	args[n] = NULL;
	rv = load(cfg, args, err);
	free(path);
	if (rv != CONFIG_RUN) {
		config_free(cfg);
		return (NULL);
	}
	return (cfg);
}

/* Write cfg as --write-config-to does; the caller frees. */
static char *
write_str(const struct kp_config *cfg)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*fp;

	CU_ASSERT_FATAL((fp = open_memstream(&buf, &len)) != NULL);
	CU_ASSERT_EQUAL(config_write(cfg, fp), 0);
	fclose(fp);
	return (buf);
}

/* 1 if two YAML documents hold the same tree. */
static int
same_yaml(const char *a, const char *b)
{
	struct json_object	**da = NULL, **db = NULL;
	size_t			  na = 0, nb = 0;
	char			  err[CONFIG_ERRLEN];
	int			  same = 0;

	if (yamljson_parse(a, strlen(a), &da, &na, err, sizeof(err)) == 0 &&
	    yamljson_parse(b, strlen(b), &db, &nb, err, sizeof(err)) == 0 &&
	    na == 1 && nb == 1)
		same = json_object_equal(da[0], db[0]);
	yamljson_free(da, na);
	yamljson_free(db, nb);
	return (same);
}

/*
 * kubeadm 1.20's KubeProxyConfiguration, as `kubeadm config print
 * init-defaults --component-configs KubeProxyConfiguration` prints it
 * and as `kubeadm init --dry-run` puts it in the kube-proxy ConfigMap
 * (config.conf): accepted, every zero value defaulted, and written back
 * byte for byte as kube-proxy 1.20 itself writes it.
 */
static void
test_config_kubeadm(void)
{
	static const char *const files[][2] = {
		{ "kube-proxy-1.20/kubeadm-kube-proxy.yaml",
		    "kube-proxy-1.20/kubeadm-kube-proxy.out.yaml" },
		{ "kube-proxy-1.20/kubeadm-config.conf",
		    "kube-proxy-1.20/kubeadm-config.out.yaml" },
	};
	struct kp_config	*cfg;
	char			 err[CONFIG_ERRLEN], *got, *want;
	size_t			 i;
	int			 warn;

	for (i = 0; i < 2; i++) {
		cfg = load_file(files[i][0], NULL, err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
		CU_ASSERT_STRING_EQUAL(err, "");
		CU_ASSERT_EQUAL(cfg->udp_idle_timeout_ns, 250 * MS);
		CU_ASSERT_EQUAL(cfg->sync_period_ns, 30 * SEC);
		CU_ASSERT_EQUAL(cfg->min_sync_period_ns, 1 * SEC);
		CU_ASSERT_EQUAL(cfg->ipvs_sync_period_ns, 30 * SEC);
		CU_ASSERT_EQUAL(cfg->config_sync_period_ns, 15 * 60 * SEC);
		CU_ASSERT_STRING_EQUAL(cfg->healthz_bind_address,
		    "0.0.0.0:10256");
		CU_ASSERT_STRING_EQUAL(cfg->metrics_bind_address,
		    "127.0.0.1:10249");
		CU_ASSERT_STRING_EQUAL(cfg->content_type,
		    "application/vnd.kubernetes.protobuf");
		CU_ASSERT_EQUAL(cfg->qps, 5);
		CU_ASSERT_EQUAL(cfg->burst, 10);
		CU_ASSERT_EQUAL(cfg->oom_score_adj, -999);
		CU_ASSERT_EQUAL(cfg->masquerade_bit, 14);
		CU_ASSERT_EQUAL(cfg->conntrack_max_per_core, 32768);
		CU_ASSERT_EQUAL(cfg->conntrack_min, 131072);
		CU_ASSERT_EQUAL(cfg->conntrack_tcp_established_ns,
		    24 * 3600 * SEC);
		CU_ASSERT_EQUAL(cfg->conntrack_tcp_close_wait_ns, 3600 * SEC);
		CU_ASSERT_STRING_EQUAL(cfg->kubeconfig,
		    "/var/lib/kube-proxy/kubeconfig.conf");
		CU_ASSERT_STRING_EQUAL(cfg->cluster_cidr, i == 0 ? "" :
		    "10.244.0.0/16");
		CU_ASSERT_EQUAL(cfg->proxy_mode, CONFIG_MODE_DEFAULT);
		CU_ASSERT_PTR_NOT_NULL(strstr(config_mode_note(cfg, &warn),
		    "kuproxy runs userspace"));
		CU_ASSERT_EQUAL(warn, 0);
		got = write_str(cfg);
		want = tu_slurp(tu_data(files[i][1]));
		CU_ASSERT_PTR_NOT_NULL_FATAL(want);
		CU_ASSERT_STRING_EQUAL(got, want);
		free(got);
		free(want);
		config_free(cfg);
	}
}

/* Where kuproxy knowingly differs from kube-proxy --write-config-to. */
static const struct {
	const char	*name;
	const char	*err;		/* kuproxy's error, or NULL: accepts */
} corpus_diffs[] = {
	/* kube-proxy's userspace proxier then refuses to start. */
	{ "bind-loopback", "bindAddress: 127.0.0.1 is a loopback address: "
	    "the proxy would not be reachable" },
	/* kube-proxy checks it when it builds its server, after --write. */
	{ "detectlocal-bad", "detectLocalMode: unknown detect-local-mode: "
	    "Bogus" },
	/* The parser cannot tell "5" from 5: kuproxy takes both. */
	{ "oom-string", NULL },
	{ NULL, NULL }
};

/*
 * Every input under tests/data/kube-proxy-1.20/cases against what the
 * real kube-proxy 1.20 made of it (record.sh): rejected by both, or
 * accepted by both and written back as the same tree (and, but for
 * quoting, the same bytes).
 */
static void
test_config_kube_proxy_corpus(void)
{
	const char		*extra[] = { NULL };
	char			 dir[4096], rel[512], err[CONFIG_ERRLEN];
	char			*want, *got, *kperr;
	struct dirent		*de;
	struct kp_config	*cfg;
	DIR			*d;
	size_t			 n, i;
	int			 ncases = 0, nsame = 0, nrej = 0;

	snprintf(dir, sizeof(dir), "%s", tu_data("kube-proxy-1.20/cases"));
	CU_ASSERT_PTR_NOT_NULL_FATAL((d = opendir(dir)));
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n < 6 || strcmp(de->d_name + n - 5, ".yaml") != 0 ||
		    (n > 9 && strcmp(de->d_name + n - 9, ".out.yaml") == 0))
			continue;
		ncases++;
		snprintf(rel, sizeof(rel), "kube-proxy-1.20/cases/%.*s.out.yaml",
		    (int)(n - 5), de->d_name);
		want = tu_slurp(tu_data(rel));
		snprintf(rel, sizeof(rel), "kube-proxy-1.20/cases/%.*s.err",
		    (int)(n - 5), de->d_name);
		kperr = tu_slurp(tu_data(rel));
		/* record.sh left exactly one of the two. */
		CU_ASSERT((want == NULL) != (kperr == NULL));
		snprintf(rel, sizeof(rel), "kube-proxy-1.20/cases/%s",
		    de->d_name);
		tu_capture_begin(&cap, 2);	/* unknown-field warnings */
		cfg = load_file(rel, extra, err);
		free(tu_capture_end(&cap));
		for (i = 0; corpus_diffs[i].name != NULL; i++)
			if (strlen(corpus_diffs[i].name) == n - 5 &&
			    strncmp(corpus_diffs[i].name, de->d_name, n - 5) ==
			    0)
				break;
		if (corpus_diffs[i].name != NULL &&
		    corpus_diffs[i].err != NULL) {
			CU_ASSERT_PTR_NULL(cfg);
			CU_ASSERT_PTR_NOT_NULL(strstr(err,
			    corpus_diffs[i].err));
		} else if (corpus_diffs[i].name != NULL) {
			CU_ASSERT_PTR_NOT_NULL(cfg);
		} else if (want != NULL) {
			if (cfg == NULL)
				fprintf(stderr, "\n  %s: kube-proxy accepts, "
				    "kuproxy: %s\n", de->d_name, err);
			CU_ASSERT_PTR_NOT_NULL(cfg);
			if (cfg != NULL) {
				got = write_str(cfg);
				if (!same_yaml(got, want))
					fprintf(stderr, "\n  %s: kuproxy "
					    "wrote\n%s---\nkube-proxy\n%s---\n",
					    de->d_name, got, want);
				CU_ASSERT(same_yaml(got, want));
				nsame += strcmp(got, want) == 0;
				free(got);
			}
		} else {
			if (cfg != NULL)
				fprintf(stderr, "\n  %s: kube-proxy rejects "
				    "(%s), kuproxy accepts\n", de->d_name,
				    kperr);
			CU_ASSERT_PTR_NULL(cfg);
			nrej++;
		}
		config_free(cfg);
		free(want);
		free(kperr);
	}
	closedir(d);
	CU_ASSERT(ncases >= 80);
	CU_ASSERT(nrej >= 40);
	CU_ASSERT(nsame >= 35);
}

/*
 * SetDefaults field by field: a zero value from the file means the
 * default, for the value fields; the pointer fields (oomScoreAdj,
 * conntrack.*, iptables.masqueradeBit) keep an explicit 0; flags are
 * never defaulted (kube-proxy defaults before it parses them).
 */
static void
test_config_defaulting(void)
{
	const char *const	 flags0[] = { "--udp-timeout=0s",
	    "--iptables-min-sync-period=0", NULL };
	struct kp_config	*cfg;
	char			 err[CONFIG_ERRLEN];

	cfg = load_file("kube-proxy-1.20/cases/pointers-zero.yaml", NULL, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->oom_score_adj, 0);
	CU_ASSERT_EQUAL(cfg->masquerade_bit, 0);
	CU_ASSERT_EQUAL(cfg->conntrack_max_per_core, 0);
	CU_ASSERT_EQUAL(cfg->conntrack_min, 0);
	CU_ASSERT_EQUAL(cfg->conntrack_tcp_established_ns, 0);
	CU_ASSERT_EQUAL(cfg->conntrack_tcp_close_wait_ns, 0);
	config_free(cfg);

	cfg = load_file("kube-proxy-1.20/cases/pointers-null.yaml", NULL, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->oom_score_adj, -999);
	CU_ASSERT_EQUAL(cfg->masquerade_bit, 14);
	CU_ASSERT_EQUAL(cfg->conntrack_max_per_core, 32768);
	CU_ASSERT_EQUAL(cfg->conntrack_min, 131072);
	CU_ASSERT_EQUAL(cfg->conntrack_tcp_established_ns, 24 * 3600 * SEC);
	CU_ASSERT_EQUAL(cfg->conntrack_tcp_close_wait_ns, 3600 * SEC);
	config_free(cfg);

	cfg = load_file("kube-proxy-1.20/cases/zero-strings.yaml", NULL, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_STRING_EQUAL(cfg->bind_address, "0.0.0.0");
	CU_ASSERT_STRING_EQUAL(cfg->healthz_bind_address, "0.0.0.0:10256");
	CU_ASSERT_STRING_EQUAL(cfg->metrics_bind_address, "127.0.0.1:10249");
	CU_ASSERT_STRING_EQUAL(cfg->content_type,
	    "application/vnd.kubernetes.protobuf");
	CU_ASSERT_EQUAL(cfg->qps, 5);
	CU_ASSERT_EQUAL(cfg->burst, 10);
	config_free(cfg);

	cfg = load_file("kube-proxy-1.20/cases/zero-durations.yaml", NULL,
	    err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->udp_idle_timeout_ns, 250 * MS);
	CU_ASSERT_EQUAL(cfg->config_sync_period_ns, 15 * 60 * SEC);
	CU_ASSERT_EQUAL(cfg->sync_period_ns, 30 * SEC);
	CU_ASSERT_EQUAL(cfg->min_sync_period_ns, 1 * SEC);
	CU_ASSERT_EQUAL(cfg->ipvs_sync_period_ns, 30 * SEC);
	CU_ASSERT_EQUAL(cfg->ipvs_min_sync_period_ns, 0);
	config_free(cfg);

	/* Bare IPs get the default ports, IPv6 in brackets. */
	cfg = load_file("kube-proxy-1.20/cases/bare-ips.yaml", NULL, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_STRING_EQUAL(cfg->healthz_bind_address, "10.0.0.1:10256");
	CU_ASSERT_STRING_EQUAL(cfg->metrics_bind_address, "[fd00::2]:10249");
	config_free(cfg);

	/* Sub-millisecond durations are kept as given. */
	cfg = load_file("kube-proxy-1.20/cases/sub-ms.yaml", NULL, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->udp_idle_timeout_ns, 500000);
	CU_ASSERT_EQUAL(cfg->udp_idle_timeout_ms, 1);
	CU_ASSERT_EQUAL(cfg->min_sync_period_ns, 1500000);
	config_free(cfg);

	/* Flags as given: 0 stays 0 (and udp-timeout 0 is then refused). */
	expect_flag_error(flags0, "--udp-timeout: must be greater than 0");
	cfg = config_new();
	CU_ASSERT_EQUAL(load(cfg, flags0 + 1, err), CONFIG_RUN);
	CU_ASSERT_EQUAL(cfg->min_sync_period_ns, 0);
	config_free(cfg);
}

/*
 * The deprecated --healthz-port and --metrics-port: 0 disables the
 * server; another port only completes a bare IP (AppendPortIfNeeded),
 * so with the default IP:port it changes nothing, as in kube-proxy.
 */
static void
test_config_deprecated_ports(void)
{
	const char *const	 a1[] = { "--healthz-port=0", "--metrics-port",
	    "0", NULL };
	const char *const	 a2[] = { "--healthz-port=5555",
	    "--metrics-port=7777", NULL };
	const char *const	 a3[] = { "--healthz-port=5555",
	    "--healthz-bind-address=10.0.0.1", "--metrics-port=0x1E61",
	    "--metrics-bind-address=::1", NULL };
	const char *const	 a4[] = { "--healthz-bind-address=",
	    "--metrics-bind-address=", NULL };
	struct kp_config	*cfg = config_new();
	char			 err[CONFIG_ERRLEN];

	CU_ASSERT_EQUAL(load(cfg, a1, err), CONFIG_RUN);
	CU_ASSERT_STRING_EQUAL(cfg->healthz_bind_address, "");
	CU_ASSERT_EQUAL(cfg->healthz_len, 0);
	CU_ASSERT_STRING_EQUAL(cfg->metrics_bind_address, "");
	CU_ASSERT_EQUAL(cfg->metrics_len, 0);

	CU_ASSERT_EQUAL(load(cfg, a2, err), CONFIG_RUN);
	CU_ASSERT_STRING_EQUAL(cfg->healthz_bind_address, "0.0.0.0:10256");
	CU_ASSERT_STRING_EQUAL(cfg->metrics_bind_address, "127.0.0.1:10249");

	CU_ASSERT_EQUAL(load(cfg, a3, err), CONFIG_RUN);
	CU_ASSERT_STRING_EQUAL(cfg->healthz_bind_address, "10.0.0.1:5555");
	CU_ASSERT_STRING_EQUAL(cfg->metrics_bind_address, "[::1]:7777");
	CU_ASSERT_EQUAL(netutil_get_port((struct sockaddr *)&cfg->metrics_ss),
	    7777);

	/* kuproxy's own way: an empty address flag disables the server. */
	CU_ASSERT_EQUAL(load(cfg, a4, err), CONFIG_RUN);
	CU_ASSERT_EQUAL(cfg->healthz_len, 0);
	CU_ASSERT_EQUAL(cfg->metrics_len, 0);
	config_free(cfg);
}

/*
 * featureGates: flags merge ("k=v,k2=v2", a second --feature-gates adds
 * to the first, both replace the file's), AllAlpha/AllBeta, the
 * DualStack rule, and EndpointSliceProxying=false makes kuproxy watch
 * Endpoints as kube-proxy would (unless --endpoints-source says).
 */
static void
test_config_feature_gates(void)
{
	const char *const	 a0[] = { "--feature-gates= IPv6DualStack = true"
	    ",AllBeta=false", NULL };
	const char *const	 a1[] = { "--feature-gates= ServiceTopology = "
	    "true,AllBeta=false", "--feature-gates=EndpointSliceProxying=F,"
	    "EndpointSlice=1", NULL };
	const char *const	 a2[] = { "--feature-gates=AllAlpha=true",
	    NULL };
	const char *const	 a3[] = { "--feature-gates=AllBeta=false",
	    NULL };
	const char *const	 a4[] = { "--feature-gates=AllBeta=false",
	    "--endpoints-source=endpointslices", NULL };
	const char *const	 a5[] = { "--feature-gates=AllAlpha=true,"
	    "IPv6DualStack=false,EndpointSlice=false", NULL };
	struct kp_config	*cfg = config_new();
	char			 err[CONFIG_ERRLEN];

	/* AllBeta=false turns off the beta EndpointSlice DualStack needs. */
	expect_flag_error(a0, "--feature-gates: EndpointSlice feature flag "
	    "must be turned on when turning on DualStack");

	CU_ASSERT_EQUAL(load(cfg, a1, err), CONFIG_RUN);
	CU_ASSERT_STRING_EQUAL(err, "");
	CU_ASSERT_EQUAL_FATAL(cfg->feature_gates.n, 4);
	CU_ASSERT_STRING_EQUAL(cfg->feature_gates.v[0].name, "AllBeta");
	CU_ASSERT_STRING_EQUAL(cfg->feature_gates.v[1].name, "EndpointSlice");
	CU_ASSERT_STRING_EQUAL(cfg->feature_gates.v[2].name,
	    "EndpointSliceProxying");
	CU_ASSERT_STRING_EQUAL(cfg->feature_gates.v[3].name,
	    "ServiceTopology");
	CU_ASSERT_EQUAL(config_gate_enabled(cfg, "ServiceTopology"), 1);
	CU_ASSERT_EQUAL(config_gate_enabled(cfg, "EndpointSlice"), 1);
	CU_ASSERT_EQUAL(config_gate_enabled(cfg, "RunAsGroup"), 0);
	CU_ASSERT_EQUAL(config_gate_enabled(cfg, "IPv6DualStack"), 0);
	CU_ASSERT_EQUAL(config_gate_enabled(cfg, "Nope"), -1);
	CU_ASSERT_EQUAL(cfg->endpoints_source, CONFIG_EPS_ENDPOINTS);

	CU_ASSERT_EQUAL(load(cfg, a2, err), CONFIG_RUN);
	CU_ASSERT_EQUAL(config_gate_enabled(cfg, "IPv6DualStack"), 1);
	CU_ASSERT_EQUAL(config_gate_enabled(cfg, "ServiceTopology"), 1);
	CU_ASSERT_EQUAL(config_gate_enabled(cfg, "EndpointSlice"), 1);
	CU_ASSERT_EQUAL(config_gate_enabled(cfg, "NodeLease"), 1);
	CU_ASSERT_EQUAL(cfg->endpoints_source, CONFIG_EPS_AUTO);

	/* AllBeta=false: EndpointSliceProxying off, so core Endpoints. */
	CU_ASSERT_EQUAL(load(cfg, a3, err), CONFIG_RUN);
	CU_ASSERT_EQUAL(config_gate_enabled(cfg, "EndpointSliceProxying"), 0);
	CU_ASSERT_EQUAL(cfg->endpoints_source, CONFIG_EPS_ENDPOINTS);
	CU_ASSERT_EQUAL(load(cfg, a4, err), CONFIG_RUN);
	CU_ASSERT_EQUAL(cfg->endpoints_source, CONFIG_EPS_SLICES);

	/* An explicit value beats AllAlpha, whatever the order. */
	CU_ASSERT_EQUAL(load(cfg, a5, err), CONFIG_RUN);
	CU_ASSERT_STRING_EQUAL(err, "");
	config_free(cfg);

	/* The file's gates: config-full.yaml turns EndpointSliceProxying off. */
	cfg = load_file("config-full.yaml", NULL, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->endpoints_source, CONFIG_EPS_ENDPOINTS);
	config_free(cfg);
	{
		const char *const over[] = { "--feature-gates=AllAlpha=false",
		    NULL };

		cfg = load_file("config-full.yaml", over, err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
		/* The flag replaced the file's map. */
		CU_ASSERT_EQUAL(cfg->feature_gates.n, 1);
		CU_ASSERT_EQUAL(cfg->endpoints_source, CONFIG_EPS_AUTO);
		config_free(cfg);
	}
}

/* The kube-proxy flags of every type reach their fields. */
static void
test_config_all_flags(void)
{
	const char *const	 a[] = { "--oom-score-adj=-0x10",
	    "--conntrack-max-per-core=1_000", "--conntrack-min=010",
	    "--conntrack-tcp-timeout-established=2h",
	    "--conntrack-tcp-timeout-close-wait=90s",
	    "--iptables-masquerade-bit=0b11", "--kube-api-qps=0.1",
	    "--kube-api-burst=+7", "--kube-api-content-type=application/json",
	    "--nodeport-addresses=10.0.0.0/8,\"fd00::/64\"",
	    "--nodeport-addresses=192.168.0.0/16", "--ipvs-exclude-cidrs=",
	    "--ipvs-sync-period=1m", "--ipvs-min-sync-period=-1s",
	    "--ipvs-strict-arp", "--bind-address-hard-fail=true",
	    "--detect-local-mode=NodeCIDR", "--proxy-mode=iptables",
	    "--show-hidden-metrics-for-version=1.19", "--profiling", NULL };
	const char *const	 bad[] = { "--conntrack-min=08", NULL };
	const char *const	 big[] = { "--conntrack-min=2147483648", NULL };
	const char *const	 under[] = { "--conntrack-min=1__0", NULL };
	struct kp_config	*cfg = config_new();
	char			 err[CONFIG_ERRLEN], *out;
	int			 warn;

	tu_capture_begin(&cap, 2);
	CU_ASSERT_EQUAL(load(cfg, a, err), CONFIG_RUN);
	free(tu_capture_end(&cap));
	CU_ASSERT_STRING_EQUAL(err, "");
	CU_ASSERT_EQUAL(cfg->oom_score_adj, -16);
	CU_ASSERT_EQUAL(cfg->conntrack_max_per_core, 1000);
	CU_ASSERT_EQUAL(cfg->conntrack_min, 8);
	CU_ASSERT_EQUAL(cfg->conntrack_tcp_established_ns, 7200 * SEC);
	CU_ASSERT_EQUAL(cfg->conntrack_tcp_close_wait_ns, 90 * SEC);
	CU_ASSERT_EQUAL(cfg->masquerade_bit, 3);
	CU_ASSERT_EQUAL(cfg->qps, (double)(float)0.1);
	CU_ASSERT_EQUAL(cfg->burst, 7);
	CU_ASSERT_STRING_EQUAL(cfg->content_type, "application/json");
	CU_ASSERT_EQUAL_FATAL(cfg->node_port_addresses.n, 3);
	CU_ASSERT_STRING_EQUAL(cfg->node_port_addresses.v[1], "fd00::/64");
	CU_ASSERT_STRING_EQUAL(cfg->node_port_addresses.v[2],
	    "192.168.0.0/16");
	CU_ASSERT_EQUAL(cfg->ipvs_exclude_cidrs.n, 0);
	CU_ASSERT_EQUAL(cfg->ipvs_exclude_cidrs.set, 1);
	CU_ASSERT_EQUAL(cfg->ipvs_sync_period_ns, 60 * SEC);
	/* Not ipvs mode: ipvs.* is not validated, as in kube-proxy. */
	CU_ASSERT_EQUAL(cfg->ipvs_min_sync_period_ns, -1 * SEC);
	CU_ASSERT_EQUAL(cfg->ipvs_strict_arp, 1);
	CU_ASSERT_EQUAL(cfg->bind_address_hard_fail, 1);
	CU_ASSERT_STRING_EQUAL(cfg->detect_local_mode, "NodeCIDR");
	CU_ASSERT_EQUAL(cfg->proxy_mode, CONFIG_MODE_IPTABLES);
	CU_ASSERT_PTR_NOT_NULL(strstr(config_mode_note(cfg, &warn),
	    "\"iptables\" asked for, running userspace"));
	CU_ASSERT_EQUAL(warn, 1);
	CU_ASSERT_EQUAL(cfg->enable_profiling, 1);
	out = write_str(cfg);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "nodePortAddresses:\n- 10.0.0.0/8\n"
	    "- fd00::/64\n- 192.168.0.0/16\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "  excludeCIDRs: []\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "  qps: 0.1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "oomScoreAdj: -16\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "mode: iptables\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "showHiddenMetricsForVersion: "
	    "\"1.19\"\n"));
	free(out);
	config_free(cfg);
	expect_flag_error(bad, "--conntrack-min: invalid int32 \"08\"");
	expect_flag_error(big, "--conntrack-min: invalid int32 \"2147483648\"");
	expect_flag_error(under, "--conntrack-min: invalid int32 \"1__0\"");
}

/* The start-up line for each mode. */
static void
test_config_mode_note(void)
{
	static const struct {
		const char	*flag;
		int		 mode, warn;
		const char	*part;
	} t[] = {
		{ "--proxy-mode=", CONFIG_MODE_DEFAULT, 0,
		    "(kube-proxy would choose iptables): kuproxy runs "
		    "userspace" },
		{ "--proxy-mode=userspace", CONFIG_MODE_USERSPACE, 0,
		    "proxy mode: userspace" },
		{ "--proxy-mode=iptables", CONFIG_MODE_IPTABLES, 1,
		    "source addresses are not preserved" },
		{ "--proxy-mode=ipvs", CONFIG_MODE_IPVS, 1,
		    "\"ipvs\" asked for, running userspace" },
	};
	const char		*args[2];
	struct kp_config	*cfg = config_new();
	char			 err[CONFIG_ERRLEN];
	size_t			 i;
	int			 warn;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		args[0] = t[i].flag;
		args[1] = NULL;
		CU_ASSERT_EQUAL(load(cfg, args, err), CONFIG_RUN);
		CU_ASSERT_EQUAL(cfg->proxy_mode, t[i].mode);
		CU_ASSERT_PTR_NOT_NULL(strstr(config_mode_note(cfg, &warn),
		    t[i].part));
		CU_ASSERT_EQUAL(warn, t[i].warn);
	}
	config_free(cfg);
}

static const struct tu_case cases[] = {
	{ "defaults", test_config_defaults },
	{ "file fields", test_config_file_fields },
	{ "file json", test_config_file_json },
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
	{ "durations in ns", test_config_durations_ns },
	{ "write round trip", test_config_write_round_trip },
	{ "write defaults", test_config_write_defaults },
	{ "services-file exclusive", test_config_services_file_exclusive },
	{ "validate derived", test_config_validate_derived },
	{ "kubeadm 1.20 config", test_config_kubeadm },
	{ "kube-proxy 1.20 corpus", test_config_kube_proxy_corpus },
	{ "defaulting", test_config_defaulting },
	{ "deprecated port flags", test_config_deprecated_ports },
	{ "feature gates", test_config_feature_gates },
	{ "every flag type", test_config_all_flags },
	{ "mode note", test_config_mode_note },
	{ NULL, NULL }
};

/* Run the suite with warnings on stderr. */
int
main(void)
{
	log_init(0);
	return (tu_run("config", cases));
}
