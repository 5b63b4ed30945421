/*
 * config_validate.c: kube-proxy 1.20's defaulting and validation of a
 * KubeProxyConfiguration, field by field:
 *
 *  - SetDefaults_KubeProxyConfiguration
 *    (pkg/proxy/apis/config/v1alpha1/defaults.go): a zero value read
 *    from the file means the default (udpIdleTimeout: 0s is 250ms,
 *    healthzBindAddress: "" is 0.0.0.0:10256, ...); pointer fields
 *    (oomScoreAdj, conntrack.*, iptables.masqueradeBit) are defaulted
 *    only when absent or null, so an explicit 0 stays 0.  Flags are
 *    taken as given, as kube-proxy takes them (it defaults before it
 *    parses them).
 *  - The deprecated --healthz-port and --metrics-port
 *    (addressFromDeprecatedFlags in cmd/kube-proxy/app/server.go).
 *  - Validate (pkg/proxy/apis/config/validation/validation.go), plus
 *    what kube-proxy checks when it builds its server: detectLocalMode
 *    and the host name.
 *
 * Messages keep validation.go's wording after kuproxy's "where: field:"
 * prefix.  kube-proxy reports every error at once; kuproxy the first.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_priv.h"
#include "log.h"
#include "netutil.h"
#include "portalloc.h"
#include "xmalloc.h"

#define CONFIG_HEALTHZ_PORT	10256	/* ports.ProxyHealthzPort */
#define CONFIG_METRICS_PORT	10249	/* ports.ProxyStatusPort */

/* Report field id of cfg as bad, wherever its value came from. */
#define FAIL(id, ...)	config_fail(err, errlen, cfg->src_file,	\
			    cfg->src_line[(id)], &config_fields[(id)],	\
			    __VA_ARGS__)

/* Go's net.ParseIP: family, or -1.  *v4 is set for IPv4 and ::ffff:a.b.c.d. */
static int
config_go_ip(const char *s, int *v4)
{
	struct in_addr	a;
	struct in6_addr	a6;

	*v4 = 0;
	if (inet_pton(AF_INET, s, &a) == 1) {
		*v4 = 1;
		return (AF_INET);
	}
	if (inet_pton(AF_INET6, s, &a6) == 1) {
		*v4 = IN6_IS_ADDR_V4MAPPED(&a6);
		return (AF_INET6);
	}
	return (-1);
}

/* Go's net.ParseCIDR; returns 0 and *v4 (the address is IPv4), or -1. */
static int
config_go_cidr(const char *s, int *v4)
{
	const char	*slash = strrchr(s, '/'), *p;
	char		 ip[INET6_ADDRSTRLEN + 1];
	unsigned long	 n = 0;
	int		 bits;

	if (slash == NULL || (size_t)(slash - s) >= sizeof(ip))
		return (-1);
	memcpy(ip, s, slash - s);
	ip[slash - s] = '\0';
	if (inet_pton(AF_INET, ip, &(struct in_addr){ 0 }) == 1) {
		bits = 32;
		*v4 = 1;
	} else if (config_go_ip(ip, v4) == AF_INET6)
		bits = 128;
	else
		return (-1);
	if (slash[1] == '\0')
		return (-1);
	for (p = slash + 1; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p))
			return (-1);
		if ((n = n * 10 + (*p - '0')) > 0xFFFFFF)
			return (-1);
	}
	return (n > (unsigned long)bits ? -1 : 0);
}

/*
 * Go's net.SplitHostPort: host and port into the buffers (each as long
 * as s), or -1.
 */
static int
config_go_split(const char *s, char *host, char *port)
{
	const char	*colon = strrchr(s, ':'), *end;
	size_t		 j = 0, k = 0;

	if (colon == NULL)
		return (-1);
	if (*s == '[') {
		if ((end = strchr(s, ']')) == NULL || end + 1 != colon)
			return (-1);
		memcpy(host, s + 1, end - s - 1);
		host[end - s - 1] = '\0';
		j = 1;
		k = end - s + 1;
	} else {
		memcpy(host, s, colon - s);
		host[colon - s] = '\0';
		if (strchr(host, ':') != NULL)
			return (-1);
	}
	if (strchr(s + j, '[') != NULL || strchr(s + k, ']') != NULL)
		return (-1);
	strcpy(port, colon + 1);
	return (0);
}

/* proxyutil.AppendPortIfNeeded: add port to a bare IP in *sp. */
static void
config_append_port(char **sp, long port)
{
	char	*host, *pbuf, *s;
	int	 v4, af;

	host = xmalloc(strlen(*sp) + 1);
	pbuf = xmalloc(strlen(*sp) + 1);
	af = config_go_split(*sp, host, pbuf) == 0 ? 0 :
	    config_go_ip(*sp, &v4);
	free(host);
	free(pbuf);
	if (af <= 0)
		return;		/* host:port already, or not an IP */
	xasprintf(&s, v4 ? "%s:%ld" : "[%s]:%ld", *sp, port);
	free(*sp);
	*sp = s;
}

/*
 * validateHostPort: "IP:port", port 1-65535 (strconv.Atoi, so "+80"
 * too).  Fills ss/len.
 */
static int
config_check_hostport(const char *s, struct sockaddr_storage *ss,
    socklen_t *len, char *why, size_t whylen)
{
	char		*host, *port, *end;
	long		 p;
	int		 rv = -1;

	host = xmalloc(strlen(s) + 1);
	port = xmalloc(strlen(s) + 1);
	if (config_go_split(s, host, port) == -1) {
		snprintf(why, whylen, "\"%s\": must be IP:port", s);
		goto out;
	}
	if (netutil_parse_ip(host, ss, len) == -1) {
		snprintf(why, whylen, "\"%s\": must be a valid IP", host);
		goto out;
	}
	errno = 0;
	p = strtol(port, &end, 10);
	if (*port == '\0' || isspace((unsigned char)*port) || *end != '\0' ||
	    errno != 0 || p < 1 || p > 65535) {
		snprintf(why, whylen, "\"%s\": must be a valid port", port);
		goto out;
	}
	netutil_set_port((struct sockaddr *)ss, (uint16_t)p);
	rv = 0;
out:
	free(host);
	free(port);
	return (rv);
}

/*
 * SetDefaults_KubeProxyConfiguration for the values the file gave (and
 * for what nothing gave, the health and metrics addresses, which follow
 * the final bindAddress), then the deprecated port flags.
 */
static void
config_apply_defaults(struct kp_config *cfg)
{
	int	id, v4 = 1, *src = cfg->src_line;

	for (id = 0; id < CF_NFIELDS; id++)
		if ((config_fields[id].flags & CFF_DEFZERO) && src[id] > 0 &&
		    config_field_is_zero(cfg, id))
			config_field_default(cfg, id);
	/*
	 * healthzBindAddress and metricsBindAddress: "" from the file (or
	 * never set) means the default of the bindAddress's family;
	 * getDefaultAddresses: not IPv4 (even invalid) means IPv6.
	 */
	config_go_ip(cfg->bind_address, &v4);
	if ((src[CF_HEALTHZ] == 0 &&
	    strcmp(cfg->healthz_bind_address, "0.0.0.0:10256") == 0) ||
	    (src[CF_HEALTHZ] > 0 && *cfg->healthz_bind_address == '\0'))
		config_setstr(&cfg->healthz_bind_address, v4 ?
		    "0.0.0.0:10256" : "[::]:10256", 0);
	if ((src[CF_METRICS] == 0 &&
	    strcmp(cfg->metrics_bind_address, "127.0.0.1:10249") == 0) ||
	    (src[CF_METRICS] > 0 && *cfg->metrics_bind_address == '\0'))
		config_setstr(&cfg->metrics_bind_address, v4 ?
		    "127.0.0.1:10249" : "[::1]:10249", 0);

	/* addressFromDeprecatedFlags: port 0 disables the server. */
	if (cfg->healthz_port_set && cfg->healthz_port == 0) {
		config_setstr(&cfg->healthz_bind_address, "", 0);
		src[CF_HEALTHZ] = CONFIG_SRC_FLAG;
	}
	if (cfg->metrics_port_set && cfg->metrics_port == 0) {
		config_setstr(&cfg->metrics_bind_address, "", 0);
		src[CF_METRICS] = CONFIG_SRC_FLAG;
	}
	if (*cfg->healthz_bind_address != '\0')
		config_append_port(&cfg->healthz_bind_address,
		    cfg->healthz_port_set ? cfg->healthz_port :
		    CONFIG_HEALTHZ_PORT);
	if (*cfg->metrics_bind_address != '\0')
		config_append_port(&cfg->metrics_bind_address,
		    cfg->metrics_port_set ? cfg->metrics_port :
		    CONFIG_METRICS_PORT);
}

/* Return the 1.20 spec of gate name, or NULL. */
static const struct config_gate_spec *
config_gate_spec(const char *name)
{
	const struct config_gate_spec	*g;

	for (g = config_gate_specs; g->name != NULL; g++)
		if (strcmp(g->name, name) == 0)
			return (g);
	return (NULL);
}

/* The value cfg gives gate name, or -1 if it gives none. */
static int
config_gate_given(const struct kp_config *cfg, const char *name)
{
	size_t	i;

	for (i = 0; i < cfg->feature_gates.n; i++)
		if (strcmp(cfg->feature_gates.v[i].name, name) == 0)
			return (cfg->feature_gates.v[i].value);
	return (-1);
}

/* featuregate.Enabled after SetFromMap(featureGates). */
int
config_gate_enabled(const struct kp_config *cfg, const char *name)
{
	const struct config_gate_spec	*g;
	int				 v;

	if ((g = config_gate_spec(name)) == NULL)
		return (-1);
	if ((v = config_gate_given(cfg, name)) != -1)
		return (v);
	if (g->stage == CONFIG_GATE_ALPHA && strcmp(name, "AllAlpha") != 0 &&
	    (v = config_gate_given(cfg, "AllAlpha")) != -1)
		return (v);
	if (g->stage == CONFIG_GATE_BETA && strcmp(name, "AllBeta") != 0 &&
	    (v = config_gate_given(cfg, "AllBeta")) != -1)
		return (v);
	return (g->def);
}

/* featureGates: every name known to 1.20, locked ones at their default. */
static int
config_validate_gates(struct kp_config *cfg, char *err, size_t errlen)
{
	const struct config_gate_spec	*g;
	const struct config_gate	*v;
	size_t				 i;

	for (i = 0; i < cfg->feature_gates.n; i++) {
		v = &cfg->feature_gates.v[i];
		if ((g = config_gate_spec(v->name)) == NULL)
			return (FAIL(CF_GATES, "unrecognized feature gate: %s",
			    v->name));
		if (g->locked && g->def != v->value)
			return (FAIL(CF_GATES, "cannot set feature gate %s to "
			    "%s, feature is locked to %s", v->name,
			    v->value ? "true" : "false",
			    g->def ? "true" : "false"));
	}
	if (config_gate_enabled(cfg, "IPv6DualStack") == 1 &&
	    config_gate_enabled(cfg, "EndpointSlice") == 0)
		return (FAIL(CF_GATES, "EndpointSlice feature flag must be "
		    "turned on when turning on DualStack"));
	return (0);
}

/* syncPeriod > 0, minSyncPeriod >= 0 and <= syncPeriod (iptables, ipvs). */
static int
config_validate_sync(struct kp_config *cfg, int sync, int minsync,
    char *err, size_t errlen)
{
	int64_t	s = *(int64_t *)config_member(cfg, config_fields[sync].off);
	int64_t	m = *(int64_t *)config_member(cfg, config_fields[minsync].off);
	char	d[40];

	if (s <= 0)
		return (FAIL(sync, "must be greater than 0"));
	if (m < 0)
		return (FAIL(minsync, "must be greater than or equal to 0"));
	if (m > s)
		return (FAIL(minsync, "must not exceed %s (%s)",
		    config_fields[sync].key, config_format_duration_ns(s, d,
		    sizeof(d))));
	return (0);
}

/* validateKubeProxyIPVSConfiguration (only in ipvs mode). */
static int
config_validate_ipvs(struct kp_config *cfg, char *err, size_t errlen)
{
	static const char *const scheds[] = { "rr", "wrr", "lc", "wlc",
	    "lblc", "lblcr", "sh", "dh", "sed", "nq", "", NULL };
	static const int	 timeouts[] = { CF_IPVS_TCP, CF_IPVS_TCPFIN,
	    CF_IPVS_UDP };
	const struct config_list *l = &cfg->ipvs_exclude_cidrs;
	size_t			 i;
	int			 v4;

	if (config_validate_sync(cfg, CF_IPVS_SYNC, CF_IPVS_MINSYNC, err,
	    errlen) == -1)
		return (-1);
	for (i = 0; i < 3; i++)
		if (*(int64_t *)config_member(cfg,
		    config_fields[timeouts[i]].off) < 0)
			return (FAIL(timeouts[i], "must be greater than or "
			    "equal to 0"));
	for (i = 0; scheds[i] != NULL; i++)
		if (strcmp(cfg->ipvs_scheduler, scheds[i]) == 0)
			break;
	if (scheds[i] == NULL)
		return (FAIL(CF_IPVS_SCHED, "\"%s\": must be in [rr wrr lc wlc "
		    "lblc lblcr sh dh sed nq ], blank means the default "
		    "algorithm method (currently rr)", cfg->ipvs_scheduler));
	for (i = 0; i < l->n; i++)
		if (config_go_cidr(l->v[i], &v4) == -1)
			return (FAIL(CF_IPVS_EXCLUDE, "[%zu] \"%s\": must be a "
			    "valid CIDR", i, l->v[i]));
	return (0);
}

/* The proxy mode, Linux's set (validateProxyModeLinux). */
static int
config_validate_mode(struct kp_config *cfg, char *err, size_t errlen)
{
	static const struct {
		const char	*name;
		int		 mode;
	} modes[] = {
		{ "", CONFIG_MODE_DEFAULT },
		{ "userspace", CONFIG_MODE_USERSPACE },
		{ "iptables", CONFIG_MODE_IPTABLES },
		{ "ipvs", CONFIG_MODE_IPVS },
	};
	size_t	i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(cfg->mode, modes[i].name) == 0) {
			cfg->proxy_mode = modes[i].mode;
			return (0);
		}
	return (FAIL(CF_MODE, "\"%s\": must be iptables,ipvs,userspace or "
	    "blank (blank means the best-available proxy [currently "
	    "iptables])", cfg->mode));
}

/* The numeric rules of Validate, in its order. */
static int
config_validate_numbers(struct kp_config *cfg, char *err, size_t errlen)
{
	if (cfg->masquerade_bit < 0 || cfg->masquerade_bit > 31)
		return (FAIL(CF_MASQBIT, "%ld: must be within the range "
		    "[0, 31]", (long)cfg->masquerade_bit));
	if (config_validate_sync(cfg, CF_SYNC, CF_MINSYNC, err, errlen) == -1)
		return (-1);
	if (strcmp(cfg->mode, "ipvs") == 0 &&
	    config_validate_ipvs(cfg, err, errlen) == -1)
		return (-1);
	if (cfg->conntrack_max_per_core < 0)
		return (FAIL(CF_CT_MAXPERCORE, "must be greater than or equal "
		    "to 0"));
	if (cfg->conntrack_min < 0)
		return (FAIL(CF_CT_MIN, "must be greater than or equal to 0"));
	if (cfg->conntrack_tcp_established_ns < 0)
		return (FAIL(CF_CT_ESTABLISHED, "must be greater than or equal "
		    "to 0"));
	if (cfg->conntrack_tcp_close_wait_ns < 0)
		return (FAIL(CF_CT_CLOSEWAIT, "must be greater than or equal "
		    "to 0"));
	if (config_validate_mode(cfg, err, errlen) == -1)
		return (-1);
	if (cfg->burst < 0)
		return (FAIL(CF_BURST, "must be greater than or equal to 0"));
	if (cfg->oom_score_adj < -1000 || cfg->oom_score_adj > 1000)
		return (FAIL(CF_OOM, "%ld: must be within the range "
		    "[-1000, 1000]", (long)cfg->oom_score_adj));
	if (cfg->udp_idle_timeout_ns <= 0)
		return (FAIL(CF_UDP, "must be greater than 0"));
	if (cfg->config_sync_period_ns <= 0)
		return (FAIL(CF_CFGSYNC, "must be greater than 0"));
	return (0);
}

/*
 * bindAddress, and the health and metrics servers: "" disables one
 * (kube-proxy never lets metrics be disabled that way, but kuproxy's
 * --metrics-bind-address="" and --metrics-port=0 do).
 */
static int
config_validate_addrs(struct kp_config *cfg, char *err, size_t errlen)
{
	char	why[CONFIG_ERRLEN];

	if (netutil_parse_ip(cfg->bind_address, &cfg->bind_ss,
	    &cfg->bind_len) == -1)
		return (FAIL(CF_BIND, "\"%s\" is not an IP address",
		    cfg->bind_address));
	/* kube-proxy's userspace proxier refuses it too (ErrProxyOnLocalhost). */
	if (netutil_is_loopback((struct sockaddr *)&cfg->bind_ss))
		return (FAIL(CF_BIND, "%s is a loopback address: the proxy "
		    "would not be reachable", cfg->bind_address));
	cfg->healthz_len = cfg->metrics_len = 0;
	if (*cfg->healthz_bind_address != '\0' &&
	    config_check_hostport(cfg->healthz_bind_address, &cfg->healthz_ss,
	    &cfg->healthz_len, why, sizeof(why)) == -1)
		return (FAIL(CF_HEALTHZ, "%s", why));
	if (*cfg->metrics_bind_address != '\0' &&
	    config_check_hostport(cfg->metrics_bind_address, &cfg->metrics_ss,
	    &cfg->metrics_len, why, sizeof(why)) == -1)
		return (FAIL(CF_METRICS, "%s", why));
	return (0);
}

/* clusterCIDR: one CIDR, or with IPv6DualStack one of each family. */
static int
config_validate_cidrs(struct kp_config *cfg, char *err, size_t errlen)
{
	const struct config_list *l = &cfg->node_port_addresses;
	char			*dup, *c, *next;
	int			 dual, n = 0, v4, fam[2] = { 0, 0 }, bad = 0;
	size_t			 i;

	dual = config_gate_enabled(cfg, "IPv6DualStack") == 1;
	if (*cfg->cluster_cidr != '\0') {
		dup = xstrdup(cfg->cluster_cidr);
		for (c = dup; c != NULL; c = next, n++) {
			if ((next = strchr(c, ',')) != NULL)
				*next++ = '\0';
			if (config_go_cidr(c, &v4) == -1)
				bad = 1;
			else
				fam[v4]++;
		}
		free(dup);
		if (dual && n > 2)
			return (FAIL(CF_CLUSTERCIDR, "\"%s\": only one CIDR "
			    "allowed or a valid DualStack CIDR (e.g. "
			    "10.100.0.0/16,fde4:8dba:82e1::/48)",
			    cfg->cluster_cidr));
		if (dual && n == 2 && (bad || fam[0] != 1 || fam[1] != 1))
			return (FAIL(CF_CLUSTERCIDR, "\"%s\": must be a valid "
			    "DualStack CIDR (e.g. 10.100.0.0/16,"
			    "fde4:8dba:82e1::/48)", cfg->cluster_cidr));
		if (!dual && n > 1)
			return (FAIL(CF_CLUSTERCIDR, "\"%s\": only one CIDR "
			    "allowed (e.g. 10.100.0.0/16 or "
			    "fde4:8dba:82e1::/48)", cfg->cluster_cidr));
		if (n == 1 && bad)
			return (FAIL(CF_CLUSTERCIDR, "\"%s\": must be a valid "
			    "CIDR block (e.g. 10.100.0.0/16 or "
			    "fde4:8dba:82e1::/48)", cfg->cluster_cidr));
	}
	for (i = 0; i < l->n; i++)
		if (config_go_cidr(l->v[i], &v4) == -1)
			return (FAIL(CF_NODEPORTADDRS, "[%zu] \"%s\": must be a "
			    "valid CIDR", i, l->v[i]));
	return (0);
}

/* portRange, showHiddenMetricsForVersion, detectLocalMode. */
static int
config_validate_strings(struct kp_config *cfg, char *err, size_t errlen)
{
	char		 why[CONFIG_ERRLEN];
	const char	*s = cfg->detect_local_mode;

	if (portalloc_parse_range(cfg->port_range, &cfg->port_base,
	    &cfg->port_size, why, sizeof(why)) == -1)
		return (FAIL(CF_PORTRANGE, "%s", why));
	/* metrics.ValidateShowHiddenMetricsVersion for version 1.20. */
	if (*cfg->show_hidden_metrics != '\0' &&
	    strcmp(cfg->show_hidden_metrics, "1.19") != 0)
		return (FAIL(CF_SHOWHIDDEN, "\"%s\": must be omitted or have "
		    "the value '1.19'. Only the previous minor version is "
		    "allowed", cfg->show_hidden_metrics));
	/* getDetectLocalMode: blank (even spaces), ClusterCIDR, NodeCIDR. */
	while (isspace((unsigned char)*s))
		s++;
	if (*s != '\0' && strcmp(cfg->detect_local_mode, "ClusterCIDR") != 0 &&
	    strcmp(cfg->detect_local_mode, "NodeCIDR") != 0)
		return (FAIL(CF_DETECTLOCAL, "unknown detect-local-mode: %s",
		    cfg->detect_local_mode));
	return (0);
}

/* hostnameOverride as kube-proxy's GetHostname: trimmed, lower-cased. */
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
		return (FAIL(CF_HOSTNAME, "empty hostname is invalid"));
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

/* Nanoseconds to milliseconds, rounded up (> 0 stays > 0). */
static uint64_t
config_ns_to_ms(int64_t ns)
{
	return (ns <= 0 ? 0 : ((uint64_t)ns + 999999) / 1000000);
}

/* Default, check and derive. */
int
config_validate(struct kp_config *cfg, char *err, size_t errlen)
{
	config_apply_defaults(cfg);
	if (config_validate_gates(cfg, err, errlen) == -1 ||
	    config_validate_numbers(cfg, err, errlen) == -1 ||
	    config_validate_addrs(cfg, err, errlen) == -1 ||
	    config_validate_cidrs(cfg, err, errlen) == -1 ||
	    config_validate_strings(cfg, err, errlen) == -1 ||
	    config_validate_hostname(cfg, err, errlen) == -1 ||
	    config_validate_local(cfg, err, errlen) == -1)
		return (-1);
	cfg->udp_idle_timeout_ms = config_ns_to_ms(cfg->udp_idle_timeout_ns);
	cfg->sync_period_ms = config_ns_to_ms(cfg->sync_period_ns);
	cfg->min_sync_period_ms = config_ns_to_ms(cfg->min_sync_period_ns);
	cfg->config_sync_period_ms =
	    config_ns_to_ms(cfg->config_sync_period_ns);
	/* kube-proxy watches Endpoints when EndpointSliceProxying is off. */
	if (!cfg->eps_set &&
	    config_gate_enabled(cfg, "EndpointSliceProxying") == 0)
		cfg->endpoints_source = CONFIG_EPS_ENDPOINTS;
	return (0);
}

/* The start-up line about the proxy mode. */
const char *
config_mode_note(const struct kp_config *cfg, int *warn)
{
	*warn = 0;
	switch (cfg->proxy_mode) {
	case CONFIG_MODE_USERSPACE:
		return ("proxy mode: userspace");
	case CONFIG_MODE_IPTABLES:
	case CONFIG_MODE_IPVS:
		*warn = 1;
		return (cfg->proxy_mode == CONFIG_MODE_IPTABLES ?
		    "proxy mode \"iptables\" asked for, running userspace: "
		    "kuproxy implements only userspace (kube-proxy too falls "
		    "back to it where iptables cannot be used); clients' "
		    "source addresses are not preserved" :
		    "proxy mode \"ipvs\" asked for, running userspace: "
		    "kuproxy implements only userspace (kube-proxy too falls "
		    "back to it where ipvs and iptables cannot be used); "
		    "clients' source addresses are not preserved");
	default:
		return ("proxy mode \"\" (kube-proxy would choose iptables): "
		    "kuproxy runs userspace, the only mode it implements");
	}
}
