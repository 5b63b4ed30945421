/*
 * config_flags.c: kube-proxy's command line (pflag syntax: --name=value,
 * --name value, -n, -v 2, boolean --name=false) and config_load(), which
 * builds a config from it.  The config_flags table drives parsing and
 * --help: every kube-proxy 1.20 flag (those with no help text have no
 * effect in userspace mode: checked, kept, one warning); config_ignored
 * lists the flags accepted and dropped (klog's).
 *
 * argv is read in two passes: config_scan() finds every syntax error
 * before anything is applied; then --help and --version act without
 * any value being checked, and --config is read before the other flags
 * are applied on top of it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_priv.h"
#include "log.h"
#include "xmalloc.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"unknown"
#endif

/* Command line rows. */
enum config_flag_kind {
	FK_VALUE = 0,	/* takes a value: --f=v, --f v */
	FK_BOOL,	/* --f, --f=true|false */
};

enum config_flag_group {
	FG_KUBE = 0,	/* kube-proxy's own flag */
	FG_KUPROXY,	/* kuproxy only */
};

struct config_flag {
	const char	*name;
	char		 shortname;
	enum config_flag_kind kind;
	int		(*set)(struct kp_config *, const struct config_flag *,
			    const char *, char *, size_t);
	int		 field;		/* config_fields index, or -1 */
	size_t		 off;		/* member for flag-only rows */
	enum config_flag_group group;
	const char	*argname;
	const char	*help;
};

static int	config_flag_field(struct kp_config *,
		    const struct config_flag *, const char *, char *, size_t);
static int	config_flag_optstr(struct kp_config *,
		    const struct config_flag *, const char *, char *, size_t);
static int	config_flag_path(struct kp_config *,
		    const struct config_flag *, const char *, char *, size_t);
static int	config_flag_bool(struct kp_config *,
		    const struct config_flag *, const char *, char *, size_t);
static int	config_flag_verbosity(struct kp_config *,
		    const struct config_flag *, const char *, char *, size_t);
static int	config_flag_eps(struct kp_config *,
		    const struct config_flag *, const char *, char *, size_t);
static int	config_flag_none(struct kp_config *,
		    const struct config_flag *, const char *, char *, size_t);
static int	config_flag_port(struct kp_config *,
		    const struct config_flag *, const char *, char *, size_t);
static int	config_flag_logstr(struct kp_config *,
		    const struct config_flag *, const char *, char *, size_t);
static int	config_flag_logsize(struct kp_config *,
		    const struct config_flag *, const char *, char *, size_t);
static int	config_flag_logthreshold(struct kp_config *,
		    const struct config_flag *, const char *, char *, size_t);
static int	config_flag_logvmodule(struct kp_config *,
		    const struct config_flag *, const char *, char *, size_t);
static int	config_flag_logflush(struct kp_config *,
		    const struct config_flag *, const char *, char *, size_t);
static int	config_flag_workers(struct kp_config *,
		    const struct config_flag *, const char *, char *, size_t);
static int	config_flag_grace(struct kp_config *,
		    const struct config_flag *, const char *, char *, size_t);

#define OFF(m)	offsetof(struct kp_config, m)
#define FIELD(n, f, a, h)	{ n, 0, FK_VALUE, config_flag_field, f, 0, \
				    FG_KUBE, a, h }
#define BFIELD(n, f, h)		{ n, 0, FK_BOOL, config_flag_field, f, 0, \
				    FG_KUBE, NULL, h }
#define OPTSTR(n, m, g, a, h)	{ n, 0, FK_VALUE, config_flag_optstr, -1, \
				    OFF(m), g, a, h }
#define PATH(n, m, a, h)	{ n, 0, FK_VALUE, config_flag_path, -1, \
				    OFF(m), FG_KUPROXY, a, h }
static const struct config_flag config_flags[] = {
	OPTSTR("config", config_file, FG_KUBE, "FILE",
	    "KubeProxyConfiguration file; flags override its values"),
	FIELD("kubeconfig", CF_KUBECONFIG, "FILE",
	    "kubeconfig file with authorization and API server location"),
	OPTSTR("master", master, FG_KUBE, "URL",
	    "API server address (overrides the kubeconfig's)"),
	FIELD("hostname-override", CF_HOSTNAME, "NAME",
	    "node name to use instead of the host name"),
	FIELD("bind-address", CF_BIND, "IP",
	    "IP the proxy sockets listen on (0.0.0.0 or :: for all)"),
	FIELD("proxy-port-range", CF_PORTRANGE, "RANGE",
	    "host ports for proxy sockets: N, A-B or A+N; empty: random"),
	FIELD("udp-timeout", CF_UDP, "DURATION",
	    "idle UDP session timeout"),
	FIELD("iptables-sync-period", CF_SYNC, "DURATION",
	    "maximum interval between full rule refreshes"),
	FIELD("iptables-min-sync-period", CF_MINSYNC, "DURATION",
	    "minimum interval between rule refreshes"),
	FIELD("config-sync-period", CF_CFGSYNC, "DURATION",
	    "how often Services and Endpoints are relisted"),
	FIELD("healthz-bind-address", CF_HEALTHZ, "IP:PORT",
	    "health check server address; empty disables"),
	FIELD("metrics-bind-address", CF_METRICS, "IP:PORT",
	    "metrics server address; empty disables"),
	{ "healthz-port", 0, FK_VALUE, config_flag_port, -1,
	    OFF(healthz_port), FG_KUBE, "PORT",
	    "deprecated: port for a bare healthz IP; 0 disables" },
	{ "metrics-port", 0, FK_VALUE, config_flag_port, -1,
	    OFF(metrics_port), FG_KUBE, "PORT",
	    "deprecated: port for a bare metrics IP; 0 disables" },
	BFIELD("bind-address-hard-fail", CF_HARDFAIL,
	    "exit if the health or metrics port cannot be bound"),
	FIELD("oom-score-adj", CF_OOM, "N",
	    "oom_score_adj of the process, -1000 to 1000"),
	FIELD("conntrack-max-per-core", CF_CT_MAXPERCORE, "N",
	    "nf_conntrack_max per CPU (0: leave the limit as is)"),
	FIELD("conntrack-min", CF_CT_MIN, "N",
	    "minimum nf_conntrack_max, whatever the CPU count"),
	FIELD("conntrack-tcp-timeout-established", CF_CT_ESTABLISHED,
	    "DURATION", "conntrack timeout of idle established TCP "
	    "(0: as is)"),
	FIELD("conntrack-tcp-timeout-close-wait", CF_CT_CLOSEWAIT, "DURATION",
	    "conntrack timeout of TCP in CLOSE_WAIT (0: as is)"),
	FIELD("feature-gates", CF_GATES, "K=V,...",
	    "Kubernetes 1.20 feature gates (EndpointSliceProxying=false: "
	    "watch Endpoints)"),
	{ "cleanup", 0, FK_BOOL, config_flag_bool, -1, OFF(cleanup), FG_KUBE,
	    NULL, "remove kuproxy's iptables rules and exit" },
	FIELD("proxy-mode", CF_MODE, "MODE",
	    "userspace, iptables, ipvs or empty: kuproxy always runs "
	    "userspace"),
	{ "v", 'v', FK_VALUE, config_flag_verbosity, -1, 0, FG_KUBE, "N",
	    "log verbosity: 2 syncs, 3 connections, 4 connect attempts" },
	OPTSTR("write-config-to", write_config_to, FG_KUBE, "FILE",
	    "write the resulting configuration to FILE and exit"),
	{ "help", 'h', FK_BOOL, config_flag_none, -1, 0, FG_KUBE, NULL,
	    "print this help and exit" },
	{ "version", 0, FK_BOOL, config_flag_none, -1, 0, FG_KUBE, NULL,
	    "print the version and exit" },
	/* Checked and kept (--write-config-to), no effect in userspace. */
	FIELD("cluster-cidr", CF_CLUSTERCIDR, "CIDR", NULL),
	FIELD("detect-local-mode", CF_DETECTLOCAL, "MODE", NULL),
	FIELD("iptables-masquerade-bit", CF_MASQBIT, "N", NULL),
	FIELD("ipvs-exclude-cidrs", CF_IPVS_EXCLUDE, "CIDRS", NULL),
	FIELD("ipvs-min-sync-period", CF_IPVS_MINSYNC, "DURATION", NULL),
	FIELD("ipvs-scheduler", CF_IPVS_SCHED, "NAME", NULL),
	BFIELD("ipvs-strict-arp", CF_IPVS_STRICTARP, NULL),
	FIELD("ipvs-sync-period", CF_IPVS_SYNC, "DURATION", NULL),
	FIELD("ipvs-tcp-timeout", CF_IPVS_TCP, "DURATION", NULL),
	FIELD("ipvs-tcpfin-timeout", CF_IPVS_TCPFIN, "DURATION", NULL),
	FIELD("ipvs-udp-timeout", CF_IPVS_UDP, "DURATION", NULL),
	FIELD("kube-api-burst", CF_BURST, "N", NULL),
	FIELD("kube-api-content-type", CF_CONTENTTYPE, "TYPE", NULL),
	FIELD("kube-api-qps", CF_QPS, "QPS", NULL),
	BFIELD("masquerade-all", CF_MASQALL, NULL),
	FIELD("nodeport-addresses", CF_NODEPORTADDRS, "CIDRS", NULL),
	BFIELD("profiling", CF_PROFILING, NULL),
	FIELD("show-hidden-metrics-for-version", CF_SHOWHIDDEN, "VERSION",
	    NULL),
	{ "cleanup-ipvs", 0, FK_BOOL, config_flag_bool, -1, OFF(cleanup_ipvs),
	    FG_KUBE, NULL, "deprecated; no effect (kuproxy makes no IPVS rules)" },
	OPTSTR("services-file", services_file, FG_KUPROXY, "FILE",
	    "read Services and Endpoints from FILE instead of the API"),
	{ "check-config", 'n', FK_BOOL, config_flag_bool, -1, OFF(check_only),
	    FG_KUPROXY, NULL, "check the configuration and exit" },
	PATH("state-dir", state_dir, "DIR",
	    "directory for port state kept across restarts"),
	PATH("iptables-path", iptables_path, "PATH",
	    "iptables binary"),
	PATH("ip6tables-path", ip6tables_path, "PATH",
	    "ip6tables binary"),
	PATH("conntrack-path", conntrack_path, "PATH",
	    "conntrack binary"),
	{ "endpoints-source", 0, FK_VALUE, config_flag_eps, -1, 0, FG_KUPROXY,
	    "SOURCE",
	    "API resource to watch: auto, endpointslices or endpoints" },
	{ "workers", 0, FK_VALUE, config_flag_workers, -1, 0, FG_KUPROXY, "N",
	    "relay loops, one thread each (default: the CPUs kuproxy may "
	    "run on; 1: relay on the main loop, no thread)" },
	{ "shutdown-grace", 0, FK_VALUE, config_flag_grace, -1, 0, FG_KUPROXY,
	    "DURATION", "on SIGTERM, relay established connections for at "
	    "most DURATION before exiting (default 30s; 0: exit at once)" },
	/* klog's flags, as kube-proxy 1.20 takes them (log.h). */
#define LOGBOOL(n, m, h)	{ n, 0, FK_BOOL, config_flag_bool, -1, \
				    OFF(log.m), FG_KUBE, NULL, h }
#define LOGVAL(n, f, m, a, h)	{ n, 0, FK_VALUE, f, -1, OFF(log.m), \
				    FG_KUBE, a, h }
	LOGBOOL("logtostderr", logtostderr,
	    "log to standard error instead of files (default true)"),
	LOGBOOL("alsologtostderr", alsologtostderr,
	    "log to standard error as well as --log-file"),
	LOGVAL("log-file", config_flag_logstr, file, "FILE",
	    "with --logtostderr=false, append the log to FILE"),
	LOGVAL("log-file-max-size", config_flag_logsize, file_max_mb, "MB",
	    "start --log-file afresh past MB megabytes; 0: no limit "
	    "(default 1800)"),
	LOGVAL("log-dir", config_flag_logstr, dir, "DIR",
	    "accepted; kuproxy writes no per-severity files: use --log-file"),
	LOGVAL("stderrthreshold", config_flag_logthreshold, stderrthreshold,
	    "SEV", "with --logtostderr=false, also send lines of SEV or "
	    "worse to standard error (default ERROR)"),
	LOGBOOL("skip-headers", skip_headers,
	    "omit klog's \"I1202 01:02:03.123456 pid file:line]\" prefix"),
	LOGBOOL("skip-log-headers", skip_log_headers,
	    "omit the four header lines of a new --log-file"),
	LOGBOOL("add-dir-header", add_dir_header,
	    "show the file's directory in the line header"),
	LOGBOOL("one-output", one_output,
	    "accepted; only matters for per-severity files"),
	LOGVAL("vmodule", config_flag_logvmodule, vmodule, "LIST",
	    "per-file verbosity: file=N,... (file without \".c\", globs)"),
	{ "log-flush-frequency", 0, FK_VALUE, config_flag_logflush, -1, 0,
	    FG_KUBE, "DURATION", "accepted; kuproxy writes each line at once" },
#undef LOGBOOL
#undef LOGVAL
	{ NULL, 0, 0, NULL, -1, 0, 0, NULL, NULL }
};
#undef FIELD
#undef BFIELD
#undef OPTSTR
#undef PATH

/* kube-proxy flags with no effect in userspace mode. */
struct config_ignored {
	const char	*name;
	int		 is_bool;
	int		 is_prefix;	/* name is a prefix, e.g. "log-" */
};

static const struct config_ignored config_ignored[] = {
	{ "azure-container-registry-config", 0, 0 },
	{ "log-backtrace-at", 0, 0 },
	{ NULL, 0, 0 }
};

#undef OFF

/* One command-line flag found by config_scan(). */
struct config_arg {
	const struct config_flag *flag;		/* or NULL: ignored flag */
	const char	*name;			/* as written, no dashes */
	int		 namelen;
	const char	*val;			/* NULL for booleans */
	int		 bval;
};

/* Parse a Go boolean (strconv.ParseBool) into *b. */
int
config_parse_gobool(const char *s, int *b)
{
	static const char *const t[] = { "1", "t", "T", "true", "TRUE",
	    "True", NULL };
	static const char *const f[] = { "0", "f", "F", "false", "FALSE",
	    "False", NULL };
	int	i;

	for (i = 0; t[i] != NULL; i++)
		if (strcmp(s, t[i]) == 0)
			return (*b = 1, 0);
	for (i = 0; f[i] != NULL; i++)
		if (strcmp(s, f[i]) == 0)
			return (*b = 0, 0);
	return (-1);
}

/* Set a KubeProxyConfiguration field from its flag. */
static int
config_flag_field(struct kp_config *cfg, const struct config_flag *fl,
    const char *val, char *err, size_t errlen)
{
	return (config_set_field(cfg, fl->field, val, err, errlen));
}

/* Set --healthz-port or --metrics-port (an int32, as kube-proxy's). */
static int
config_flag_port(struct kp_config *cfg, const struct config_flag *fl,
    const char *val, char *err, size_t errlen)
{
	int32_t	port;

	if (config_parse_int32(val, &port) == -1) {
		snprintf(err, errlen, "--%s: invalid int32 \"%s\"", fl->name,
		    val);
		return (-1);
	}
	*(int32_t *)config_member(cfg, fl->off) = port;
	if (fl->off == offsetof(struct kp_config, healthz_port))
		cfg->healthz_port_set = 1;
	else
		cfg->metrics_port_set = 1;
	return (0);
}

/* Set a flag-only optional string ("" unsets it). */
static int
config_flag_optstr(struct kp_config *cfg, const struct config_flag *fl,
    const char *val, char *err, size_t errlen)
{
	config_setstr(config_member(cfg, fl->off), val, 1);
	return (0);
}

/* Set a path that always has a value (validation rejects ""). */
static int
config_flag_path(struct kp_config *cfg, const struct config_flag *fl,
    const char *val, char *err, size_t errlen)
{
	config_setstr(config_member(cfg, fl->off), val, 0);
	return (0);
}

/* Set a flag-only boolean (the value was parsed by config_scan()). */
static int
config_flag_bool(struct kp_config *cfg, const struct config_flag *fl,
    const char *val, char *err, size_t errlen)
{
	*(int *)config_member(cfg, fl->off) = *val == '1';
	return (0);
}

/* Set klog's -v level. */
static int
config_flag_verbosity(struct kp_config *cfg, const struct config_flag *fl,
    const char *val, char *err, size_t errlen)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(val, &end, 10);
	if (*val == '\0' || *end != '\0' || errno != 0 || v < 0 ||
	    v > 100) {
		snprintf(err, errlen, "--v: invalid verbosity \"%s\"", val);
		return (-1);
	}
	cfg->verbosity = (int)v;
	return (0);
}

/* Set --endpoints-source. */
static int
config_flag_eps(struct kp_config *cfg, const struct config_flag *fl,
    const char *val, char *err, size_t errlen)
{
	cfg->eps_set = 1;
	if (strcmp(val, "auto") == 0)
		cfg->endpoints_source = CONFIG_EPS_AUTO;
	else if (strcmp(val, "endpointslices") == 0)
		cfg->endpoints_source = CONFIG_EPS_SLICES;
	else if (strcmp(val, "endpoints") == 0)
		cfg->endpoints_source = CONFIG_EPS_ENDPOINTS;
	else {
		snprintf(err, errlen, "--endpoints-source: \"%s\" is not one "
		    "of auto, endpointslices, endpoints", val);
		return (-1);
	}
	return (0);
}

/* Do nothing: --help and --version act in config_load(). */
static int
config_flag_none(struct kp_config *cfg, const struct config_flag *fl,
    const char *val, char *err, size_t errlen)
{
	return (0);
}

/* Set a klog string flag (--log-file, --log-dir). */
static int
config_flag_logstr(struct kp_config *cfg, const struct config_flag *fl,
    const char *val, char *err, size_t errlen)
{
	if (strlen(val) >= LOG_PATHLEN) {
		snprintf(err, errlen, "--%s: value too long", fl->name);
		return (-1);
	}
	snprintf(config_member(cfg, fl->off), LOG_PATHLEN, "%s", val);
	return (0);
}

/* Set --log-file-max-size (megabytes, an unsigned integer). */
static int
config_flag_logsize(struct kp_config *cfg, const struct config_flag *fl,
    const char *val, char *err, size_t errlen)
{
	char			*end;
	unsigned long long	 v;

	errno = 0;
	v = strtoull(val, &end, 10);
	if (*val < '0' || *val > '9' || *end != '\0' || errno != 0 ||
	    v > UINT64_MAX / (1024 * 1024)) {
		snprintf(err, errlen, "--%s: invalid size \"%s\"", fl->name,
		    val);
		return (-1);
	}
	cfg->log.file_max_mb = v;
	return (0);
}

/* Set --stderrthreshold. */
static int
config_flag_logthreshold(struct kp_config *cfg, const struct config_flag *fl,
    const char *val, char *err, size_t errlen)
{
	return (log_opts_threshold(&cfg->log, val, err, errlen));
}

/* Set --vmodule. */
static int
config_flag_logvmodule(struct kp_config *cfg, const struct config_flag *fl,
    const char *val, char *err, size_t errlen)
{
	return (log_opts_vmodule(&cfg->log, val, err, errlen));
}

/* Check --log-flush-frequency, a duration that kuproxy has no use for. */
static int
config_flag_logflush(struct kp_config *cfg, const struct config_flag *fl,
    const char *val, char *err, size_t errlen)
{
	uint64_t	ms;
	char		e[CONFIG_ERRLEN];

	if (config_parse_duration(val, &ms, e, sizeof(e)) == -1) {
		snprintf(err, errlen, "--%s: %s", fl->name, e);
		return (-1);
	}
	return (0);
}

/* Set --workers (1 to CONFIG_WORKERS_MAX). */
static int
config_flag_workers(struct kp_config *cfg, const struct config_flag *fl,
    const char *val, char *err, size_t errlen)
{
	char		*end;
	unsigned long	 n;

	errno = 0;
	n = strtoul(val, &end, 10);
	if (*val < '0' || *val > '9' || *end != '\0' || errno != 0 ||
	    n < 1 || n > CONFIG_WORKERS_MAX) {
		snprintf(err, errlen, "--%s: \"%s\" is not a number of "
		    "workers from 1 to %d", fl->name, val, CONFIG_WORKERS_MAX);
		return (-1);
	}
	cfg->workers = (unsigned int)n;
	return (0);
}

/* Set --shutdown-grace (a Go duration). */
static int
config_flag_grace(struct kp_config *cfg, const struct config_flag *fl,
    const char *val, char *err, size_t errlen)
{
	uint64_t	ms;
	char		e[CONFIG_ERRLEN];

	if (config_parse_duration(val, &ms, e, sizeof(e)) == -1) {
		snprintf(err, errlen, "--%s: %s", fl->name, e);
		return (-1);
	}
	cfg->shutdown_grace_ms = ms;
	return (0);
}

/* Look up a long flag name of n bytes in both tables. */
static int
config_flag_find(const char *name, size_t n, struct config_arg *a)
{
	const struct config_flag	*fl;
	const struct config_ignored	*ig;
	size_t				 il;

	memset(a, 0, sizeof(*a));
	a->name = name;
	a->namelen = (int)n;
	for (fl = config_flags; fl->name != NULL; fl++)
		if (strlen(fl->name) == n && memcmp(fl->name, name, n) == 0) {
			a->flag = fl;
			return (fl->kind == FK_BOOL);
		}
	for (ig = config_ignored; ig->name != NULL; ig++) {
		il = strlen(ig->name);
		if ((ig->is_prefix ? n > il : n == il) &&
		    memcmp(ig->name, name, il) == 0)
			return (ig->is_bool);
	}
	return (-1);
}

/* Parse one "--name[=value]" at argv[*i] into a. */
static int
config_scan_long(int argc, char **argv, int *i, struct config_arg *a,
    char *err, size_t errlen)
{
	const char	*name = argv[*i] + 2, *eq;
	size_t		 n;
	int		 is_bool;

	eq = strchr(name, '=');
	n = eq != NULL ? (size_t)(eq - name) : strlen(name);
	if ((is_bool = config_flag_find(name, n, a)) == -1) {
		snprintf(err, errlen, "unknown flag: --%.*s", (int)n, name);
		return (-1);
	}
	if (is_bool) {
		a->bval = 1;
		if (eq != NULL && config_parse_gobool(eq + 1, &a->bval) == -1) {
			snprintf(err, errlen, "--%.*s: invalid boolean \"%s\"",
			    (int)n, name, eq + 1);
			return (-1);
		}
	} else if (eq != NULL)
		a->val = eq + 1;
	else if (*i + 1 < argc)
		a->val = argv[++*i];
	else {
		snprintf(err, errlen, "flag needs an argument: --%.*s", (int)n,
		    name);
		return (-1);
	}
	return (0);
}

/* Parse one "-X[value]" cluster at argv[*i] into a[], counting *na. */
static int
config_scan_short(int argc, char **argv, int *i, struct config_arg *a,
    size_t *na, char *err, size_t errlen)
{
	const struct config_flag	*fl;
	const char			*p;

	for (p = argv[*i] + 1; *p != '\0'; p++) {
		for (fl = config_flags; fl->name != NULL; fl++)
			if (fl->shortname != '\0' && fl->shortname == *p)
				break;
		if (fl->name == NULL) {
			snprintf(err, errlen, "unknown shorthand flag: '%c' in "
			    "%s", *p, argv[*i]);
			return (-1);
		}
		config_flag_find(fl->name, strlen(fl->name), &a[*na]);
		if (fl->kind == FK_BOOL) {
			a[(*na)++].bval = 1;
			if (p[1] != '=')
				continue;
			if (config_parse_gobool(p + 2,
			    &a[*na - 1].bval) == -1) {
				snprintf(err, errlen, "-%c: invalid boolean "
				    "\"%s\"", *p, p + 2);
				return (-1);
			}
			return (0);
		}
		if (p[1] != '\0')
			a[(*na)++].val = p[1] == '=' ? p + 2 : p + 1;
		else if (*i + 1 < argc)
			a[(*na)++].val = argv[++*i];
		else {
			snprintf(err, errlen, "flag needs an argument: '%c' in "
			    "%s", *p, argv[*i]);
			return (-1);
		}
		return (0);
	}
	return (0);
}

/* Split argv into flags (pass 1): every syntax error is found here. */
static int
config_scan(int argc, char **argv, struct config_arg *a, size_t *na,
    char *err, size_t errlen)
{
	const char	*s;
	int		 i;

	*na = 0;
	for (i = 1; i < argc; i++) {
		s = argv[i];
		/* After "--" everything is an argument, and none is taken. */
		if (strcmp(s, "--") == 0 && i + 1 == argc)
			break;
		if (strcmp(s, "--") == 0)
			s = argv[++i];
		else if (s[0] == '-' && s[1] != '\0')
			s = NULL;
		if (s != NULL) {
			snprintf(err, errlen, "unexpected argument \"%s\": "
			    "kuproxy takes only flags", s);
			return (-1);
		}
		if (argv[i][1] == '-') {
			if (config_scan_long(argc, argv, &i, &a[*na], err,
			    errlen) == -1)
				return (-1);
			(*na)++;
		} else if (config_scan_short(argc, argv, &i, a, na, err,
		    errlen) == -1)
			return (-1);
	}
	return (0);
}

/* Return the last occurrence of flag name in a, or NULL. */
static const struct config_arg *
config_scan_last(const struct config_arg *a, size_t na, const char *name)
{
	const struct config_arg	*last = NULL;
	size_t			 i;

	for (i = 0; i < na; i++)
		if (a[i].flag != NULL && strcmp(a[i].flag->name, name) == 0)
			last = &a[i];
	return (last);
}

/* Return 1 if the boolean flag name was given and true (last wins). */
static int
config_scan_has(const struct config_arg *a, size_t na, const char *name)
{
	const struct config_arg	*last = config_scan_last(a, na, name);

	return (last != NULL && last->bval);
}

/* Apply the scanned flags to cfg in order (pass 2); quiet: no warnings. */
static int
config_apply_args(struct kp_config *cfg, const struct config_arg *a,
    size_t na, int quiet, char *err, size_t errlen)
{
	size_t	i;

	for (i = 0; i < na; i++) {
		if (a[i].flag == NULL) {
			if (!quiet)
				log_warnx("flag --%.*s has no effect in kuproxy "
			    "(userspace mode); ignored", a[i].namelen,
			    a[i].name);
			continue;
		}
		if (a[i].flag->set(cfg, a[i].flag, a[i].val != NULL ?
		    a[i].val : (a[i].bval ? "1" : "0"), err, errlen) == -1)
			return (-1);
		if (a[i].flag->help == NULL && !quiet)
			log_warnx("flag --%s has no effect in kuproxy "
			    "(userspace mode); checked and kept",
			    a[i].flag->name);
	}
	return (0);
}

/* Write cfg to --write-config-to. */
static int
config_write_file(const struct kp_config *cfg, char *err, size_t errlen)
{
	FILE	*fp;
	int	 rv;

	if ((fp = fopen(cfg->write_config_to, "we")) == NULL) {
		snprintf(err, errlen, "--write-config-to: %s: %s",
		    cfg->write_config_to, strerror(errno));
		return (-1);
	}
	rv = config_write(cfg, fp);
	if (fclose(fp) == EOF)
		rv = -1;
	if (rv == -1) {
		snprintf(err, errlen, "--write-config-to: %s: write error",
		    cfg->write_config_to);
		return (-1);
	}
	log_info("wrote configuration to %s", cfg->write_config_to);
	return (0);
}

/* Scan argv into a new array of flags (*args, the caller frees it). */
static int
config_args(int argc, char **argv, struct config_arg **args, size_t *na,
    char *err, size_t errlen)
{
	size_t	i, room;

	/* A short cluster like -nh yields one row per letter. */
	for (i = 1, room = 1; i < (size_t)argc; i++)
		room += strlen(argv[i]) + 1;
	*args = xcalloc(room, sizeof(**args));
	return (config_scan(argc, argv, *args, na, err, errlen));
}

/*
 * Build a new config in *np: defaults, the file (its content buf if
 * not NULL, else read from file; none if file is NULL or ""), the
 * flags, validation.  Returns 0, or -1 with *np NULL.
 */
static int
config_build(struct kp_config **np, const struct config_arg *args, size_t na,
    const char *file, const char *buf, size_t len, int quiet, char *err,
    size_t errlen)
{
	struct kp_config	*n;
	int			 rv = -1;

	n = config_new();
	log_opts_init(&n->log);
	if (file != NULL && *file != '\0') {
		if (buf != NULL)
			rv = config_parse_yaml(n, buf, len, file, err, errlen);
		else
			rv = config_read_file(n, file, err, errlen);
		if (rv == -1)
			goto fail;
	}
	if (config_apply_args(n, args, na, quiet, err, errlen) == -1 ||
	    config_validate(n, err, errlen) == -1)
		goto fail;
	*np = n;
	return (0);
fail:
	config_free(n);
	*np = NULL;
	return (-1);
}

/* Build, validate and install a config from the command line. */
int
config_load(struct kp_config *cfg, int argc, char **argv, char *err,
    size_t errlen)
{
	struct config_arg	*args;
	const struct config_arg	*last;
	struct kp_config	*n = NULL;
	size_t			 na;
	const char		*file = NULL;
	int			 rv = -1;

	if (config_args(argc, argv, &args, &na, err, errlen) == -1)
		goto out;
	if (config_scan_has(args, na, "help")) {
		config_usage(stdout);
		rv = CONFIG_EXIT;
		goto out;
	}
	if (config_scan_has(args, na, "version")) {
		printf("kuproxy %s\n", PACKAGE_VERSION);
		rv = CONFIG_EXIT;
		goto out;
	}
	if ((last = config_scan_last(args, na, "config")) != NULL)
		file = last->val;
	if (config_build(&n, args, na, file, NULL, 0, 0, err, errlen) == -1)
		goto out;
	rv = CONFIG_RUN;
	if (n->write_config_to != NULL) {
		if (config_write_file(n, err, errlen) == -1) {
			rv = -1;
			goto out;
		}
		rv = CONFIG_EXIT;
	}
	n->argc = argc;
	n->argv = argv;
	config_swap(cfg, n);
	n = NULL;
out:
	config_free(n);
	free(args);
	return (rv);
}

/* Rebuild a config from run's command line over a new file content. */
int
config_reload(struct kp_config *cfg, const struct kp_config *run,
    const char *buf, size_t len, char *err, size_t errlen)
{
	struct config_arg	*args;
	struct kp_config	*n;
	size_t			 na;
	int			 rv = -1;

	if (config_args(run->argc, run->argv, &args, &na, err, errlen) == -1)
		goto out;
	if (config_build(&n, args, na, run->config_file, buf, len, 1, err,
	    errlen) == -1)
		goto out;
	n->argc = run->argc;
	n->argv = run->argv;
	config_swap(cfg, n);
	rv = 0;
out:
	free(args);
	return (rv);
}

/* Format the default of field id (from def) into buf; NULL if none. */
static const char *
config_usage_default(struct kp_config *def, int id, char *buf, size_t len)
{
	const struct config_field	*f = &config_fields[id];
	void				*m = config_member(def, f->off);

	switch (f->type) {
	case CT_STR:
	case CT_OPTSTR:
		return (*(char **)m);
	case CT_DUR:
		return (config_format_duration_ns(*(int64_t *)m, buf, len));
	case CT_INT32:
		snprintf(buf, len, "%ld", (long)*(int32_t *)m);
		return (buf);
	default:
		return (NULL);
	}
}

/* Print one usage line for fl, with the default taken from def. */
static void
config_usage_flag(FILE *fp, const struct config_flag *fl,
    struct kp_config *def)
{
	char		 opt[64], dbuf[40];
	const char	*dv = NULL;

	snprintf(opt, sizeof(opt), "%c%c%s--%s%s%s", fl->shortname ? '-' : ' ',
	    fl->shortname ? fl->shortname : ' ', fl->shortname ? ", " : "  ",
	    fl->name, fl->argname ? " " : "", fl->argname ? fl->argname : "");
	if (fl->field != -1)
		dv = config_usage_default(def, fl->field, dbuf, sizeof(dbuf));
	else if (fl->set == config_flag_optstr ||
	    fl->set == config_flag_path)
		dv = *(char **)config_member(def, fl->off);
	else if (fl->set == config_flag_port) {
		snprintf(dbuf, sizeof(dbuf), "%ld",
		    (long)*(int32_t *)config_member(def, fl->off));
		dv = dbuf;
	} else if (fl->set == config_flag_eps)
		dv = "auto";
	else if (fl->set == config_flag_verbosity)
		dv = "0";
	fprintf(fp, "  %-41s %s", opt, fl->help);
	if (dv != NULL && *dv != '\0')
		fprintf(fp, " (default \"%s\")", dv);
	fputc('\n', fp);
}

/* Print names in columns after a heading line. */
static int
config_usage_name(FILE *fp, int col, const char *name, const char *suffix)
{
	if (col > 60) {
		fprintf(fp, "\n ");
		col = 1;
	}
	return (col + fprintf(fp, " --%s%s", name, suffix));
}

/* Print --help. */
void
config_usage(FILE *fp)
{
	const struct config_flag	*fl;
	const struct config_ignored	*ig;
	struct kp_config		*def = config_new();
	int				 col;

	fprintf(fp, "usage: kuproxy [flags]\n\n"
	    "kuproxy is kube-proxy's userspace proxy mode.\n\n"
	    "kube-proxy flags:\n");
	for (fl = config_flags; fl->name != NULL; fl++)
		if (fl->group == FG_KUBE && fl->help != NULL)
			config_usage_flag(fp, fl, def);
	fprintf(fp, "\nkuproxy flags:\n");
	for (fl = config_flags; fl->name != NULL; fl++)
		if (fl->group == FG_KUPROXY)
			config_usage_flag(fp, fl, def);
	fprintf(fp, "\nkube-proxy flags checked as kube-proxy checks them and "
	    "kept for\n--write-config-to (no effect in userspace mode):\n ");
	for (col = 1, fl = config_flags; fl->name != NULL; fl++)
		if (fl->help == NULL)
			col = config_usage_name(fp, col, fl->name, "");
	fprintf(fp, "\n\nkube-proxy flags accepted and ignored:\n ");
	for (col = 1, ig = config_ignored; ig->name != NULL; ig++)
		col = config_usage_name(fp, col, ig->name,
		    ig->is_prefix ? "*" : "");
	fputc('\n', fp);
	config_free(def);
}
