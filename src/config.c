/*
 * config.c: kuproxy's configuration, built as kube-proxy builds it:
 * defaults, then the KubeProxyConfiguration file, then the flags, then
 * validation (pkg/proxy/apis/config/validation/validation.go).  Unlike
 * kube-proxy, flags given with --config override the file instead of
 * being dropped.
 *
 * Three tables drive everything: config_fields (the file keys userspace
 * mode honours, with their flag), config_keys (every v1alpha1 key, so
 * the rest can be ignored knowingly) and config_flags (the command line).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "log.h"
#include "netutil.h"
#include "portalloc.h"
#include "xmalloc.h"
#include "yamljson.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"unknown"
#endif

#define CONFIG_API_VERSION	"kubeproxy.config.k8s.io/v1alpha1"
#define CONFIG_KIND		"KubeProxyConfiguration"
#define CONFIG_HEALTHZ_PORT	10256
#define CONFIG_METRICS_PORT	10249
#define CONFIG_MAXFILE		(4 * 1024 * 1024)
#define CONFIG_SRC_FLAG		(-1)	/* src_line of a flag-set field */

/* Indexes into config_fields and kp_config.src_line. */
enum config_field_id {
	CF_BIND = 0,
	CF_PORTRANGE,
	CF_UDP,
	CF_SYNC,
	CF_MINSYNC,
	CF_CFGSYNC,
	CF_HEALTHZ,
	CF_METRICS,
	CF_KUBECONFIG,
	CF_HOSTNAME,
	CF_MODE,
	CF_NFIELDS,
};

enum config_type {
	CT_STR = 0,	/* char *, never NULL */
	CT_OPTSTR,	/* char *, NULL when unset or "" */
	CT_DUR,		/* uint64_t milliseconds */
};

_Static_assert(CF_NFIELDS <= CONFIG_NSRC, "CONFIG_NSRC too small");

/* A KubeProxyConfiguration key that userspace mode honours. */
struct config_field {
	const char	*key;
	const char	*flag;
	enum config_type type;
	size_t		 off;
	int		(*check)(const char *, int, char *, size_t);
};

static int	config_check_ip(const char *, int, char *, size_t);
static int	config_check_hostport(const char *, int, char *, size_t);
static int	config_check_range(const char *, int, char *, size_t);
static int	config_check_mode(const char *, int, char *, size_t);

#define OFF(m)	offsetof(struct kp_config, m)
static const struct config_field config_fields[CF_NFIELDS] = {
	[CF_BIND] = { "bindAddress", "bind-address", CT_STR,
	    OFF(bind_address), config_check_ip },
	[CF_PORTRANGE] = { "portRange", "proxy-port-range", CT_STR,
	    OFF(port_range), config_check_range },
	[CF_UDP] = { "udpIdleTimeout", "udp-timeout", CT_DUR,
	    OFF(udp_idle_timeout_ms), NULL },
	[CF_SYNC] = { "iptables.syncPeriod", "iptables-sync-period", CT_DUR,
	    OFF(sync_period_ms), NULL },
	[CF_MINSYNC] = { "iptables.minSyncPeriod", "iptables-min-sync-period",
	    CT_DUR, OFF(min_sync_period_ms), NULL },
	[CF_CFGSYNC] = { "configSyncPeriod", "config-sync-period", CT_DUR,
	    OFF(config_sync_period_ms), NULL },
	[CF_HEALTHZ] = { "healthzBindAddress", "healthz-bind-address", CT_STR,
	    OFF(healthz_bind_address), config_check_hostport },
	[CF_METRICS] = { "metricsBindAddress", "metrics-bind-address", CT_STR,
	    OFF(metrics_bind_address), config_check_hostport },
	[CF_KUBECONFIG] = { "clientConnection.kubeconfig", "kubeconfig",
	    CT_OPTSTR, OFF(kubeconfig), NULL },
	[CF_HOSTNAME] = { "hostnameOverride", "hostname-override", CT_OPTSTR,
	    OFF(hostname_override), NULL },
	[CF_MODE] = { "mode", "proxy-mode", CT_STR, OFF(mode),
	    config_check_mode },
};

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

#define FIELD(n, f, a, h)	{ n, 0, FK_VALUE, config_flag_field, f, 0, \
				    FG_KUBE, a, h }
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
	    "health check server address; empty or port 0 disables"),
	FIELD("metrics-bind-address", CF_METRICS, "IP:PORT",
	    "metrics server address; empty or port 0 disables"),
	{ "cleanup", 0, FK_BOOL, config_flag_bool, -1, OFF(cleanup), FG_KUBE,
	    NULL, "remove kuproxy's iptables rules and exit" },
	FIELD("proxy-mode", CF_MODE, "MODE",
	    "proxy mode: only \"userspace\" (or empty) is supported"),
	{ "v", 'v', FK_VALUE, config_flag_verbosity, -1, 0, FG_KUBE, "N",
	    "log verbosity: 2 debug, 4 trace" },
	OPTSTR("write-config-to", write_config_to, FG_KUBE, "FILE",
	    "write the resulting configuration to FILE and exit"),
	{ "help", 'h', FK_BOOL, config_flag_none, -1, 0, FG_KUBE, NULL,
	    "print this help and exit" },
	{ "version", 0, FK_BOOL, config_flag_none, -1, 0, FG_KUBE, NULL,
	    "print the version and exit" },
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
	{ NULL, 0, 0, NULL, -1, 0, 0, NULL, NULL }
};
#undef FIELD
#undef OPTSTR
#undef PATH

/* kube-proxy flags with no effect in userspace mode. */
struct config_ignored {
	const char	*name;
	int		 is_bool;
	int		 is_prefix;	/* name is a prefix, e.g. "ipvs-" */
};

static const struct config_ignored config_ignored[] = {
	{ "feature-gates", 0, 0 }, { "cluster-cidr", 0, 0 },
	{ "masquerade-all", 1, 0 }, { "masquerade-bit", 0, 0 },
	{ "iptables-masquerade-bit", 0, 0 }, { "nodeport-addresses", 0, 0 },
	{ "oom-score-adj", 0, 0 }, { "profiling", 1, 0 },
	{ "kube-api-qps", 0, 0 }, { "kube-api-burst", 0, 0 },
	{ "kube-api-content-type", 0, 0 }, { "ipvs-strict-arp", 1, 0 },
	{ "ipvs-", 0, 1 }, { "conntrack-max-per-core", 0, 0 },
	{ "conntrack-min", 0, 0 },
	{ "conntrack-tcp-timeout-established", 0, 0 },
	{ "conntrack-tcp-timeout-close-wait", 0, 0 },
	{ "healthz-port", 0, 0 }, { "metrics-port", 0, 0 },
	{ "bind-address-hard-fail", 1, 0 }, { "detect-local-mode", 0, 0 },
	{ "show-hidden-metrics-for-version", 0, 0 },
	{ "azure-container-registry-config", 0, 0 },
	{ "alsologtostderr", 1, 0 }, { "logtostderr", 1, 0 },
	{ "skip-headers", 1, 0 }, { "skip-log-headers", 1, 0 },
	{ "add-dir-header", 1, 0 }, { "one-output", 1, 0 },
	{ "stderrthreshold", 0, 0 }, { "vmodule", 0, 0 },
	{ "log-", 0, 1 },
	{ NULL, 0, 0 }
};

/* One command-line flag found by config_scan(). */
struct config_arg {
	const struct config_flag *flag;		/* or NULL: ignored flag */
	const char	*name;			/* as written, no dashes */
	int		 namelen;
	const char	*val;			/* NULL for booleans */
	int		 bval;
};

static int	config_fail(char *, size_t, const char *, int,
		    const struct config_field *, const char *, ...)
		    __attribute__((__format__(printf, 6, 7)));

/* Format "PREFIX: reason" into err for field f set from src; return -1. */
static int
config_fail(char *err, size_t errlen, const char *file, int src,
    const struct config_field *f, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	if (src > 0)
		n = snprintf(err, errlen, "%s:%d: %s: ", file ? file : "-",
		    src, f->key);
	else if (src == CONFIG_SRC_FLAG)
		n = snprintf(err, errlen, "--%s: ", f->flag);
	else
		n = snprintf(err, errlen, "%s: ", f->key);
	if (n < 0 || (size_t)n >= errlen)
		return (-1);
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - n, fmt, ap);
	va_end(ap);
	return (-1);
}

/* Return the address of field f's member in cfg. */
static void *
config_member(struct kp_config *cfg, const struct config_field *f)
{
	return ((char *)cfg + f->off);
}

/* Replace the string at *sp with a copy of val (NULL if optional and ""). */
static void
config_setstr(char **sp, const char *val, int optional)
{
	free(*sp);
	*sp = (optional && *val == '\0') ? NULL : xstrdup(val);
}

/* Check that s is an IP address ("" means the default, 0.0.0.0). */
static int
config_check_ip(const char *s, int from_flag, char *err, size_t errlen)
{
	struct sockaddr_storage	ss;
	socklen_t		len;

	if (*s != '\0' && netutil_parse_ip(s, &ss, &len) == -1) {
		snprintf(err, errlen, "\"%s\" is not an IP address", s);
		return (-1);
	}
	return (0);
}

/* Check "IP:port" or a bare IP (the default port is added later). */
static int
config_check_hostport(const char *s, int from_flag, char *err, size_t errlen)
{
	struct sockaddr_storage	ss;
	socklen_t		len;

	if (*s == '\0' || netutil_parse_ip(s, &ss, &len) != -1)
		return (0);
	return (netutil_parse_hostport(s, &ss, &len, err, errlen) == -1 ?
	    -1 : 0);
}

/* Check a --proxy-port-range value. */
static int
config_check_range(const char *s, int from_flag, char *err, size_t errlen)
{
	uint16_t	base;
	uint32_t	size;

	return (portalloc_parse_range(s, &base, &size, err, errlen));
}

/* Accept only the userspace mode. */
static int
config_check_mode(const char *s, int from_flag, char *err, size_t errlen)
{
	if (*s == '\0' || strcmp(s, "userspace") == 0)
		return (0);
	snprintf(err, errlen, from_flag ?
	    "\"%s\" is not supported: kuproxy implements only userspace" :
	    "\"%s\" is not supported (kuproxy implements only userspace)", s);
	return (-1);
}

/* Set field id of cfg from text val, found at src (line or flag). */
static int
config_set_field(struct kp_config *cfg, int id, const char *val, int src,
    char *err, size_t errlen)
{
	const struct config_field	*f = &config_fields[id];
	char				 why[CONFIG_ERRLEN];
	uint64_t			 ms;

	if (f->type == CT_DUR) {
		if (config_parse_duration(val, &ms, why, sizeof(why)) == -1)
			return (config_fail(err, errlen, cfg->src_file, src, f,
			    "%s", why));
		*(uint64_t *)config_member(cfg, f) = ms;
	} else {
		if (f->check != NULL && f->check(val, src == CONFIG_SRC_FLAG,
		    why, sizeof(why)) == -1)
			return (config_fail(err, errlen, cfg->src_file, src, f,
			    "%s", why));
		config_setstr(config_member(cfg, f), val, f->type == CT_OPTSTR);
	}
	cfg->src_line[id] = src;
	return (0);
}

/* Free everything cfg holds and zero it. */
static void
config_clear(struct kp_config *cfg)
{
	free(cfg->bind_address);
	free(cfg->port_range);
	free(cfg->healthz_bind_address);
	free(cfg->metrics_bind_address);
	free(cfg->kubeconfig);
	free(cfg->hostname_override);
	free(cfg->mode);
	free(cfg->config_file);
	free(cfg->master);
	free(cfg->write_config_to);
	free(cfg->services_file);
	free(cfg->state_dir);
	free(cfg->iptables_path);
	free(cfg->ip6tables_path);
	free(cfg->conntrack_path);
	free(cfg->src_file);
	memset(cfg, 0, sizeof(*cfg));
}

/* Fill a zeroed cfg with the defaults. */
static void
config_defaults(struct kp_config *cfg)
{
	cfg->bind_address = xstrdup("0.0.0.0");
	cfg->port_range = xstrdup("");
	cfg->udp_idle_timeout_ms = 250;
	cfg->sync_period_ms = 30 * 1000;
	cfg->min_sync_period_ms = 1000;
	cfg->config_sync_period_ms = 15 * 60 * 1000;
	cfg->healthz_bind_address = xstrdup("0.0.0.0:10256");
	cfg->metrics_bind_address = xstrdup("127.0.0.1:10249");
	cfg->mode = xstrdup("");
	cfg->state_dir = xstrdup(STATEDIR);
	cfg->iptables_path = xstrdup(IPTABLES_PATH);
	cfg->ip6tables_path = xstrdup(IP6TABLES_PATH);
	cfg->conntrack_path = xstrdup(CONNTRACK_PATH);
	cfg->endpoints_source = CONFIG_EPS_AUTO;
}

/* Allocate a config holding the defaults. */
struct kp_config *
config_new(void)
{
	struct kp_config	*cfg;

	cfg = xcalloc(1, sizeof(*cfg));
	config_defaults(cfg);
	return (cfg);
}

/* Free cfg and everything it owns. */
void
config_free(struct kp_config *cfg)
{
	if (cfg == NULL)
		return;
	config_clear(cfg);
	free(cfg);
}

/* Multiply-add for durations, failing past Go's int64 nanoseconds. */
static int
config_dur_add(uint64_t *acc, uint64_t v, uint64_t unit, uint64_t f,
    double scale)
{
	const uint64_t	max = (uint64_t)1 << 63;

	if (v > max / unit)
		return (-1);
	v *= unit;
	if (f > 0) {
		v += (uint64_t)((double)f * ((double)unit / scale));
		if (v > max)
			return (-1);
	}
	if (v > max - *acc)
		return (-1);
	*acc += v;
	return (0);
}

/* Return the nanoseconds in unit u of length n, or 0 if unknown. */
static uint64_t
config_dur_unit(const char *u, size_t n)
{
	static const struct {
		const char	*name;
		uint64_t	 ns;
	} units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "\xc2\xb5s", 1000 },
		{ "\xce\xbcs", 1000 }, { "ms", 1000000 },
		{ "s", 1000000000ULL }, { "m", 60000000000ULL },
		{ "h", 3600000000000ULL },
	};
	size_t	i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strlen(units[i].name) == n &&
		    memcmp(units[i].name, u, n) == 0)
			return (units[i].ns);
	return (0);
}

/* Parse a Go duration (time.ParseDuration) into milliseconds. */
int
config_parse_duration(const char *orig, uint64_t *ms, char *err,
    size_t errlen)
{
	const char	*s = orig, *u;
	uint64_t	 total = 0, v, f, unit;
	double		 scale;
	int		 neg = 0, pre, post, overflow;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return (0);
	}
	if (*s == '\0')
		goto invalid;
	while (*s != '\0') {
		if (*s != '.' && !isdigit((unsigned char)*s))
			goto invalid;
		for (v = 0, pre = 0; isdigit((unsigned char)*s); s++, pre = 1) {
			if (v > (UINT64_MAX / 2) / 10)
				goto range;
			v = v * 10 + (*s - '0');
		}
		f = 0, scale = 1, post = 0, overflow = 0;
		if (*s == '.')
			for (s++; isdigit((unsigned char)*s); s++, post = 1) {
				if (overflow || f > (UINT64_MAX / 2) / 10) {
					overflow = 1;
					continue;
				}
				f = f * 10 + (*s - '0');
				scale *= 10;
			}
		if (!pre && !post)
			goto invalid;
		for (u = s; *s != '\0' && *s != '.' &&
		    !isdigit((unsigned char)*s); s++)
			;
		if (s == u) {
			snprintf(err, errlen, "missing unit in duration \"%s\"",
			    orig);
			return (-1);
		}
		if ((unit = config_dur_unit(u, s - u)) == 0) {
			snprintf(err, errlen, "unknown unit \"%.*s\" in "
			    "duration \"%s\"", (int)(s - u), u, orig);
			return (-1);
		}
		if (config_dur_add(&total, v, unit, f, scale) == -1)
			goto range;
	}
	if (total == (uint64_t)1 << 63 && !neg)
		goto range;
	if (neg && total != 0) {
		snprintf(err, errlen, "invalid duration \"%s\": must not be "
		    "negative", orig);
		return (-1);
	}
	*ms = total / 1000000;
	return (0);
range:
	snprintf(err, errlen, "invalid duration \"%s\": out of range", orig);
	return (-1);
invalid:
	snprintf(err, errlen, "invalid duration \"%s\"", orig);
	return (-1);
}

/* Print ms as Go's time.Duration.String() would. */
const char *
config_format_duration(uint64_t ms, char *buf, size_t len)
{
	unsigned long long	h = ms / 3600000, m = ms / 60000 % 60;
	unsigned int		s = ms / 1000 % 60, frac = ms % 1000;
	char			fbuf[8] = "";
	int			i;

	if (ms == 0)
		snprintf(buf, len, "0s");
	else if (ms < 1000)
		snprintf(buf, len, "%ums", (unsigned int)ms);
	if (ms < 1000)
		return (buf);
	if (frac != 0) {
		snprintf(fbuf, sizeof(fbuf), ".%03u", frac);
		for (i = 3; fbuf[i] == '0'; i--)
			fbuf[i] = '\0';
	}
	if (h > 0)
		snprintf(buf, len, "%lluh%llum%u%ss", h, m, s, fbuf);
	else if (m > 0)
		snprintf(buf, len, "%llum%u%ss", m, s, fbuf);
	else
		snprintf(buf, len, "%u%ss", s, fbuf);
	return (buf);
}

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
    int line, char *err, size_t errlen)
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
		return (config_fail(err, errlen, cfg->src_file, line, f,
		    "expected a %s, got %s", f->type == CT_DUR ?
		    "duration string" : "string",
		    json_type_to_name(json_object_get_type(node))));
	return (config_set_field(cfg, id, val, line, err, errlen));
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
    const char *prefix, char *err, size_t errlen)
{
	const struct config_key	*k;
	const char		*file = cfg->src_file;
	int			 line, mline = yamljson_line(map);

	json_object_object_foreach(map, key, val) {
		line = val != NULL ? yamljson_line(val) : 0;
		if (line == 0)
			line = mline;
		if ((k = config_key_find(prefix, key)) == NULL) {
			log_warnx("%s:%d: unknown field \"%s%s%s\" ignored",
			    file, line, prefix ? prefix : "", prefix ? "." : "",
			    key);
			continue;
		}
		switch (k->kind) {
		case CK_META:
			break;
		case CK_IGNORE:
			log_debug("%s: %s:%d: %s has no effect in userspace "
			    "mode; ignored", __func__, file, line, k->key);
			break;
		case CK_FIELD:
			if (config_yaml_field(cfg, k->field, val, line, err,
			    errlen) == -1)
				return (-1);
			break;
		case CK_MAP:
			if (val == NULL)
				break;
			if (!json_object_is_type(val, json_type_object)) {
				snprintf(err, errlen, "%s:%d: %s: expected a "
				    "mapping, got %s", file, line, k->key,
				    json_type_to_name(json_object_get_type(
				    val)));
				return (-1);
			}
			if (config_yaml_map(cfg, val, k->key, err,
			    errlen) == -1)
				return (-1);
			break;
		}
	}
	return (0);
}

/* Check that root's key holds want. */
static int
config_yaml_meta(struct json_object *root, const char *fname,
    const char *key, const char *want, char *err, size_t errlen)
{
	struct json_object	*node;
	int			 line = yamljson_line(root);

	if (!json_object_object_get_ex(root, key, &node) || node == NULL) {
		snprintf(err, errlen, "%s:%d: %s: missing, expected %s", fname,
		    line, key, want);
		return (-1);
	}
	if (yamljson_line(node) > 0)
		line = yamljson_line(node);
	if (!json_object_is_type(node, json_type_string) ||
	    strcmp(json_object_get_string(node), want) != 0) {
		snprintf(err, errlen, "%s:%d: %s: expected %s, got \"%s\"",
		    fname, line, key, want, json_object_get_string(node));
		return (-1);
	}
	return (0);
}

/* Rewrite yamljson's "line N: reason" as "FILE:N: reason". */
static void
config_yaml_syntax(const char *fname, const char *why, char *err,
    size_t errlen)
{
	int	line, n = 0;

	if (sscanf(why, "line %d: %n", &line, &n) == 1 && n > 0)
		snprintf(err, errlen, "%s:%d: %s", fname, line, why + n);
	else
		snprintf(err, errlen, "%s: %s", fname, why);
}

/* Apply a KubeProxyConfiguration document to cfg. */
int
config_parse_yaml(struct kp_config *cfg, const char *buf, size_t len,
    const char *fname, char *err, size_t errlen)
{
	struct json_object	**docs = NULL;
	size_t			  ndocs = 0;
	char			  why[CONFIG_ERRLEN];
	int			  line, rv = -1;

	if (yamljson_parse(buf, len, &docs, &ndocs, why, sizeof(why)) == -1) {
		config_yaml_syntax(fname, why, err, errlen);
		return (-1);
	}
	if (ndocs != 1) {
		line = ndocs > 1 ? yamljson_line(docs[1]) : 0;
		snprintf(err, errlen, "%s:%d: expected one "
		    "KubeProxyConfiguration document, got %zu", fname,
		    line > 0 ? line : 1, ndocs);
		goto out;
	}
	if (!json_object_is_type(docs[0], json_type_object)) {
		line = yamljson_line(docs[0]);
		snprintf(err, errlen, "%s:%d: expected a "
		    "KubeProxyConfiguration mapping, got %s", fname,
		    line > 0 ? line : 1,
		    json_type_to_name(json_object_get_type(docs[0])));
		goto out;
	}
	if (config_yaml_meta(docs[0], fname, "apiVersion", CONFIG_API_VERSION,
	    err, errlen) == -1 || config_yaml_meta(docs[0], fname, "kind",
	    CONFIG_KIND, err, errlen) == -1)
		goto out;
	free(cfg->src_file);
	cfg->src_file = xstrdup(fname);
	rv = config_yaml_map(cfg, docs[0], NULL, err, errlen);
out:
	yamljson_free(docs, ndocs);
	return (rv);
}

/* Read the --config file and apply it to cfg. */
static int
config_read_file(struct kp_config *cfg, const char *path, char *err,
    size_t errlen)
{
	FILE	*fp;
	char	*buf;
	size_t	 len;
	int	 rv = -1;

	if ((fp = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "--config: %s: %s", path,
		    strerror(errno));
		return (-1);
	}
	buf = xmalloc(CONFIG_MAXFILE + 1);
	len = fread(buf, 1, CONFIG_MAXFILE + 1, fp);
	if (ferror(fp))
		snprintf(err, errlen, "--config: %s: read error", path);
	else if (len > CONFIG_MAXFILE)
		snprintf(err, errlen, "--config: %s: larger than %d bytes",
		    path, CONFIG_MAXFILE);
	else
		rv = config_parse_yaml(cfg, buf, len, path, err, errlen);
	free(buf);
	fclose(fp);
	return (rv);
}

/* Parse a pflag boolean (strconv.ParseBool) into *b. */
static int
config_parse_bool(const char *s, int *b)
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
	return (config_set_field(cfg, fl->field, val, CONFIG_SRC_FLAG, err,
	    errlen));
}

/* Set a flag-only optional string ("" unsets it). */
static int
config_flag_optstr(struct kp_config *cfg, const struct config_flag *fl,
    const char *val, char *err, size_t errlen)
{
	config_setstr((char **)((char *)cfg + fl->off), val, 1);
	return (0);
}

/* Set a path that always has a value (validation rejects ""). */
static int
config_flag_path(struct kp_config *cfg, const struct config_flag *fl,
    const char *val, char *err, size_t errlen)
{
	config_setstr((char **)((char *)cfg + fl->off), val, 0);
	return (0);
}

/* Set a flag-only boolean (the value was parsed by config_scan()). */
static int
config_flag_bool(struct kp_config *cfg, const struct config_flag *fl,
    const char *val, char *err, size_t errlen)
{
	*(int *)((char *)cfg + fl->off) = *val == '1';
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
		if (eq != NULL && config_parse_bool(eq + 1, &a->bval) == -1) {
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
			if (config_parse_bool(p + 2, &a[*na - 1].bval) == -1) {
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

/* Return 1 if the boolean flag name was given and true (last wins). */
static int
config_scan_has(const struct config_arg *a, size_t na, const char *name)
{
	int	on = 0;
	size_t	i;

	for (i = 0; i < na; i++)
		if (a[i].flag != NULL && strcmp(a[i].flag->name, name) == 0)
			on = a[i].bval;
	return (on);
}

/* Apply the scanned flags to cfg in order (pass 2). */
static int
config_apply_args(struct kp_config *cfg, const struct config_arg *a,
    size_t na, char *err, size_t errlen)
{
	size_t	i;

	for (i = 0; i < na; i++) {
		if (a[i].flag == NULL) {
			log_warnx("flag --%.*s has no effect in kuproxy "
			    "(userspace mode); ignored", a[i].namelen,
			    a[i].name);
			continue;
		}
		if (a[i].flag->set(cfg, a[i].flag, a[i].val != NULL ?
		    a[i].val : (a[i].bval ? "1" : "0"), err, errlen) == -1)
			return (-1);
	}
	return (0);
}

/* Move the contents of n into cfg, then free n. */
static void
config_swap(struct kp_config *cfg, struct kp_config *n)
{
	config_clear(cfg);
	*cfg = *n;
	free(n);
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

/* Build, validate and install a config from the command line. */
int
config_load(struct kp_config *cfg, int argc, char **argv, char *err,
    size_t errlen)
{
	struct config_arg	*args;
	struct kp_config	*n = NULL;
	size_t			 na, i, room;
	const char		*file = NULL;
	int			 rv = -1;

	/* A short cluster like -nh yields one row per letter. */
	for (i = 1, room = 1; i < (size_t)argc; i++)
		room += strlen(argv[i]) + 1;
	args = xcalloc(room, sizeof(*args));
	if (config_scan(argc, argv, args, &na, err, errlen) == -1)
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
	for (i = 0; i < na; i++)
		if (args[i].flag != NULL &&
		    strcmp(args[i].flag->name, "config") == 0)
			file = args[i].val;
	n = config_new();
	if (file != NULL && *file != '\0' &&
	    config_read_file(n, file, err, errlen) == -1)
		goto out;
	if (config_apply_args(n, args, na, err, errlen) == -1 ||
	    config_validate(n, err, errlen) == -1)
		goto out;
	rv = CONFIG_RUN;
	if (n->write_config_to != NULL) {
		if (config_write_file(n, err, errlen) == -1) {
			rv = -1;
			goto out;
		}
		rv = CONFIG_EXIT;
	}
	config_swap(cfg, n);
	n = NULL;
out:
	config_free(n);
	free(args);
	return (rv);
}

/* Add the default port to a bare IP in *sp, as AppendPortIfNeeded does. */
static void
config_append_port(char **sp, uint16_t port)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			*s;
	int			 af;

	if ((af = netutil_parse_ip(*sp, &ss, &len)) == -1)
		return;
	xasprintf(&s, af == AF_INET6 ? "[%s]:%u" : "%s:%u", *sp, port);
	free(*sp);
	*sp = s;
}

/* Parse a host:port field into ss/len; "" or port 0 disables it. */
static int
config_validate_hostport(struct kp_config *cfg, int id, uint16_t defport,
    struct sockaddr_storage *ss, socklen_t *len, char *err, size_t errlen)
{
	const struct config_field	*f = &config_fields[id];
	char				**sp = config_member(cfg, f);
	char				 why[CONFIG_ERRLEN];

	*len = 0;
	if (**sp == '\0')
		return (0);
	config_append_port(sp, defport);
	if (netutil_parse_hostport(*sp, ss, len, why, sizeof(why)) == -1)
		return (config_fail(err, errlen, cfg->src_file,
		    cfg->src_line[id], f, "%s", why));
	if (netutil_get_port((struct sockaddr *)ss) == 0)
		*len = 0;
	return (0);
}

/* Check bindAddress and the server addresses; fill the sockaddrs. */
static int
config_validate_addrs(struct kp_config *cfg, char *err, size_t errlen)
{
	const struct config_field	*f = &config_fields[CF_BIND];
	int				 src = cfg->src_line[CF_BIND];

	if (*cfg->bind_address == '\0')
		config_setstr(&cfg->bind_address, "0.0.0.0", 0);
	if (netutil_parse_ip(cfg->bind_address, &cfg->bind_ss,
	    &cfg->bind_len) == -1)
		return (config_fail(err, errlen, cfg->src_file, src, f,
		    "\"%s\" is not an IP address", cfg->bind_address));
	if (netutil_is_loopback((struct sockaddr *)&cfg->bind_ss))
		return (config_fail(err, errlen, cfg->src_file, src, f,
		    "%s is a loopback address: the proxy would not be "
		    "reachable", cfg->bind_address));
	/* kube-proxy's defaults follow an IPv6 bindAddress. */
	if (cfg->bind_ss.ss_family == AF_INET6) {
		if (cfg->src_line[CF_HEALTHZ] == 0 &&
		    strcmp(cfg->healthz_bind_address, "0.0.0.0:10256") == 0)
			config_setstr(&cfg->healthz_bind_address,
			    "[::]:10256", 0);
		if (cfg->src_line[CF_METRICS] == 0 &&
		    strcmp(cfg->metrics_bind_address, "127.0.0.1:10249") == 0)
			config_setstr(&cfg->metrics_bind_address,
			    "[::1]:10249", 0);
	}
	if (config_validate_hostport(cfg, CF_HEALTHZ, CONFIG_HEALTHZ_PORT,
	    &cfg->healthz_ss, &cfg->healthz_len, err, errlen) == -1)
		return (-1);
	return (config_validate_hostport(cfg, CF_METRICS, CONFIG_METRICS_PORT,
	    &cfg->metrics_ss, &cfg->metrics_len, err, errlen));
}

/* Check the durations, the port range and the mode. */
static int
config_validate_values(struct kp_config *cfg, char *err, size_t errlen)
{
	static const int	 positive[] = { CF_UDP, CF_SYNC, CF_CFGSYNC };
	const struct config_field *f;
	char			 why[CONFIG_ERRLEN], d[32];
	size_t			 i;

	for (i = 0; i < sizeof(positive) / sizeof(positive[0]); i++) {
		f = &config_fields[positive[i]];
		if (*(uint64_t *)config_member(cfg, f) == 0)
			return (config_fail(err, errlen, cfg->src_file,
			    cfg->src_line[positive[i]], f,
			    "must be greater than 0"));
	}
	if (cfg->min_sync_period_ms > cfg->sync_period_ms)
		return (config_fail(err, errlen, cfg->src_file,
		    cfg->src_line[CF_MINSYNC], &config_fields[CF_MINSYNC],
		    "must not exceed iptables.syncPeriod (%s)",
		    config_format_duration(cfg->sync_period_ms, d,
		    sizeof(d))));
	if (portalloc_parse_range(cfg->port_range, &cfg->port_base,
	    &cfg->port_size, why, sizeof(why)) == -1)
		return (config_fail(err, errlen, cfg->src_file,
		    cfg->src_line[CF_PORTRANGE], &config_fields[CF_PORTRANGE],
		    "%s", why));
	if (config_check_mode(cfg->mode, cfg->src_line[CF_MODE] ==
	    CONFIG_SRC_FLAG, why, sizeof(why)) == -1)
		return (config_fail(err, errlen, cfg->src_file,
		    cfg->src_line[CF_MODE], &config_fields[CF_MODE], "%s",
		    why));
	return (0);
}

/* Check hostnameOverride as kube-proxy's GetHostname does. */
static int
config_validate_hostname(struct kp_config *cfg, char *err, size_t errlen)
{
	char	*s = cfg->hostname_override, *p;
	size_t	 n;

	if (s == NULL)
		return (0);
	for (p = s; isspace((unsigned char)*p); p++)
		;
	n = strlen(p);
	while (n > 0 && isspace((unsigned char)p[n - 1]))
		n--;
	if (n == 0)
		return (config_fail(err, errlen, cfg->src_file,
		    cfg->src_line[CF_HOSTNAME], &config_fields[CF_HOSTNAME],
		    "empty hostname is invalid"));
	memmove(s, p, n);
	s[n] = '\0';
	for (p = s; *p != '\0'; p++)
		*p = tolower((unsigned char)*p);
	return (0);
}

/* Check the kuproxy-only options. */
static int
config_validate_local(struct kp_config *cfg, char *err, size_t errlen)
{
	if (cfg->services_file != NULL &&
	    (cfg->kubeconfig != NULL || cfg->master != NULL)) {
		snprintf(err, errlen, "--services-file cannot be combined with "
		    "--kubeconfig/--master: use one source");
		return (-1);
	}
	if (cfg->endpoints_source < CONFIG_EPS_AUTO ||
	    cfg->endpoints_source > CONFIG_EPS_ENDPOINTS) {
		snprintf(err, errlen, "--endpoints-source: invalid value %d",
		    cfg->endpoints_source);
		return (-1);
	}
	if (cfg->verbosity < 0) {
		snprintf(err, errlen, "--v: must not be negative");
		return (-1);
	}
	if (*cfg->state_dir == '\0' || *cfg->iptables_path == '\0' ||
	    *cfg->ip6tables_path == '\0' || *cfg->conntrack_path == '\0') {
		snprintf(err, errlen, "--%s: must not be empty",
		    *cfg->state_dir == '\0' ? "state-dir" :
		    *cfg->iptables_path == '\0' ? "iptables-path" :
		    *cfg->ip6tables_path == '\0' ? "ip6tables-path" :
		    "conntrack-path");
		return (-1);
	}
	return (0);
}

/* Check cross-field rules and fill the derived fields. */
int
config_validate(struct kp_config *cfg, char *err, size_t errlen)
{
	if (config_validate_addrs(cfg, err, errlen) == -1 ||
	    config_validate_values(cfg, err, errlen) == -1 ||
	    config_validate_hostname(cfg, err, errlen) == -1 ||
	    config_validate_local(cfg, err, errlen) == -1)
		return (-1);
	return (0);
}

/* Write s as a YAML double-quoted scalar. */
static int
config_write_str(FILE *fp, const char *s)
{
	if (s == NULL)
		s = "";
	if (fputc('"', fp) == EOF)
		return (-1);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(fp, "\\%c", *s);
		else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			fprintf(fp, "\\x%02x", (unsigned char)*s);
		else
			fputc(*s, fp);
	}
	return (fputs("\"\n", fp) == EOF ? -1 : 0);
}

/* Write cfg as a KubeProxyConfiguration document. */
int
config_write(const struct kp_config *cfg, FILE *fp)
{
	char	d[4][32];

	fprintf(fp, "apiVersion: %s\nkind: %s\nbindAddress: ",
	    CONFIG_API_VERSION, CONFIG_KIND);
	config_write_str(fp, cfg->bind_address);
	fprintf(fp, "clientConnection:\n  kubeconfig: ");
	config_write_str(fp, cfg->kubeconfig);
	fprintf(fp, "configSyncPeriod: %s\nhealthzBindAddress: ",
	    config_format_duration(cfg->config_sync_period_ms, d[0], 32));
	config_write_str(fp, cfg->healthz_bind_address);
	fprintf(fp, "hostnameOverride: ");
	config_write_str(fp, cfg->hostname_override);
	fprintf(fp, "iptables:\n  minSyncPeriod: %s\n  syncPeriod: %s\n"
	    "metricsBindAddress: ",
	    config_format_duration(cfg->min_sync_period_ms, d[1], 32),
	    config_format_duration(cfg->sync_period_ms, d[2], 32));
	config_write_str(fp, cfg->metrics_bind_address);
	fprintf(fp, "mode: userspace\nportRange: ");
	config_write_str(fp, cfg->port_range);
	fprintf(fp, "udpIdleTimeout: %s\n",
	    config_format_duration(cfg->udp_idle_timeout_ms, d[3], 32));
	return (ferror(fp) || fflush(fp) == EOF ? -1 : 0);
}

/* Print one usage line for fl, with the default taken from def. */
static void
config_usage_flag(FILE *fp, const struct config_flag *fl,
    struct kp_config *def)
{
	char		 opt[64], dbuf[32];
	const char	*dv = NULL;
	void		*m;

	snprintf(opt, sizeof(opt), "%c%c%s--%s%s%s", fl->shortname ? '-' : ' ',
	    fl->shortname ? fl->shortname : ' ', fl->shortname ? ", " : "  ",
	    fl->name, fl->argname ? " " : "", fl->argname ? fl->argname : "");
	if (fl->field != -1) {
		m = config_member(def, &config_fields[fl->field]);
		dv = config_fields[fl->field].type == CT_DUR ?
		    config_format_duration(*(uint64_t *)m, dbuf, sizeof(dbuf)) :
		    *(char **)m;
	} else if (fl->set == config_flag_optstr ||
	    fl->set == config_flag_path)
		dv = *(char **)((char *)def + fl->off);
	else if (fl->set == config_flag_eps)
		dv = "auto";
	else if (fl->set == config_flag_verbosity)
		dv = "0";
	fprintf(fp, "  %-41s %s", opt, fl->help);
	if (dv != NULL && *dv != '\0')
		fprintf(fp, " (default \"%s\")", dv);
	fputc('\n', fp);
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
		if (fl->group == FG_KUBE)
			config_usage_flag(fp, fl, def);
	fprintf(fp, "\nkuproxy flags:\n");
	for (fl = config_flags; fl->name != NULL; fl++)
		if (fl->group == FG_KUPROXY)
			config_usage_flag(fp, fl, def);
	fprintf(fp, "\nkube-proxy flags accepted and ignored (no effect in "
	    "userspace mode):\n ");
	for (col = 1, ig = config_ignored; ig->name != NULL; ig++) {
		if (col > 60) {
			fprintf(fp, "\n ");
			col = 1;
		}
		col += fprintf(fp, " --%s%s", ig->name,
		    ig->is_prefix ? "*" : "");
	}
	fputc('\n', fp);
	config_free(def);
}
