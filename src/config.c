/*
 * config.c: kuproxy's configuration, built as kube-proxy builds it:
 * defaults, then the KubeProxyConfiguration file (config_file.c), then
 * the flags (config_flags.c), then kube-proxy's defaulting of the
 * file's zero values and its validation (config_validate.c).  Unlike
 * kube-proxy, flags given with --config override the file instead of
 * being dropped.
 *
 * This file holds what every source shares: the config_fields table of
 * KubeProxyConfiguration keys and the setter a flag uses, the defaults,
 * the config's lifetime, Go durations and numbers, and the
 * KubeProxyConfiguration writer.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_priv.h"
#include "netutil.h"
#include "portalloc.h"
#include "xmalloc.h"
#include "yamljson.h"

_Static_assert(CF_NFIELDS <= CONFIG_NSRC, "CONFIG_NSRC too small");

static int	config_check_ip(const char *, char *, size_t);
static int	config_check_ipport(const char *, char *, size_t);
static int	config_check_range(const char *, char *, size_t);

#define OFF(m)		offsetof(struct kp_config, m)
#define DZ		CFF_DEFZERO
#define NE		CFF_NOEFFECT
const struct config_field config_fields[CF_NFIELDS] = {
	[CF_BIND] = { "bindAddress", "bind-address", CT_STR,
	    OFF(bind_address), DZ | CFF_EMPTYNOOP, config_check_ip },
	[CF_HARDFAIL] = { "bindAddressHardFail", "bind-address-hard-fail",
	    CT_BOOL, OFF(bind_address_hard_fail), 0, NULL },
	[CF_ACCEPTCT] = { "clientConnection.acceptContentTypes", NULL, CT_STR,
	    OFF(accept_content_types), NE, NULL },
	[CF_BURST] = { "clientConnection.burst", "kube-api-burst", CT_INT32,
	    OFF(burst), DZ | NE, NULL },
	[CF_CONTENTTYPE] = { "clientConnection.contentType",
	    "kube-api-content-type", CT_STR, OFF(content_type), DZ | NE,
	    NULL },
	[CF_KUBECONFIG] = { "clientConnection.kubeconfig", "kubeconfig",
	    CT_OPTSTR, OFF(kubeconfig), 0, NULL },
	[CF_QPS] = { "clientConnection.qps", "kube-api-qps", CT_FLOAT, OFF(qps),
	    DZ | NE, NULL },
	[CF_CLUSTERCIDR] = { "clusterCIDR", "cluster-cidr", CT_STR,
	    OFF(cluster_cidr), NE, NULL },
	[CF_CFGSYNC] = { "configSyncPeriod", "config-sync-period", CT_DUR,
	    OFF(config_sync_period_ns), DZ, NULL },
	[CF_CT_MAXPERCORE] = { "conntrack.maxPerCore", "conntrack-max-per-core",
	    CT_INT32, OFF(conntrack_max_per_core), 0, NULL },
	[CF_CT_MIN] = { "conntrack.min", "conntrack-min", CT_INT32,
	    OFF(conntrack_min), 0, NULL },
	[CF_CT_CLOSEWAIT] = { "conntrack.tcpCloseWaitTimeout",
	    "conntrack-tcp-timeout-close-wait", CT_DUR,
	    OFF(conntrack_tcp_close_wait_ns), CFF_PTR, NULL },
	[CF_CT_ESTABLISHED] = { "conntrack.tcpEstablishedTimeout",
	    "conntrack-tcp-timeout-established", CT_DUR,
	    OFF(conntrack_tcp_established_ns), CFF_PTR, NULL },
	[CF_DETECTLOCAL] = { "detectLocalMode", "detect-local-mode", CT_STR,
	    OFF(detect_local_mode), NE, NULL },
	[CF_PROFILING] = { "enableProfiling", "profiling", CT_BOOL,
	    OFF(enable_profiling), NE, NULL },
	[CF_GATES] = { "featureGates", "feature-gates", CT_GATES,
	    OFF(feature_gates), 0, NULL },
	[CF_HEALTHZ] = { "healthzBindAddress", "healthz-bind-address", CT_STR,
	    OFF(healthz_bind_address), 0, config_check_ipport },
	[CF_HOSTNAME] = { "hostnameOverride", "hostname-override", CT_OPTSTR,
	    OFF(hostname_override), 0, NULL },
	[CF_MASQALL] = { "iptables.masqueradeAll", "masquerade-all", CT_BOOL,
	    OFF(masquerade_all), NE, NULL },
	[CF_MASQBIT] = { "iptables.masqueradeBit", "iptables-masquerade-bit",
	    CT_INT32, OFF(masquerade_bit), NE, NULL },
	[CF_MINSYNC] = { "iptables.minSyncPeriod", "iptables-min-sync-period",
	    CT_DUR, OFF(min_sync_period_ns), DZ, NULL },
	[CF_SYNC] = { "iptables.syncPeriod", "iptables-sync-period", CT_DUR,
	    OFF(sync_period_ns), DZ, NULL },
	[CF_IPVS_EXCLUDE] = { "ipvs.excludeCIDRs", "ipvs-exclude-cidrs",
	    CT_LIST, OFF(ipvs_exclude_cidrs), NE, NULL },
	[CF_IPVS_MINSYNC] = { "ipvs.minSyncPeriod", "ipvs-min-sync-period",
	    CT_DUR, OFF(ipvs_min_sync_period_ns), NE, NULL },
	[CF_IPVS_SCHED] = { "ipvs.scheduler", "ipvs-scheduler", CT_STR,
	    OFF(ipvs_scheduler), NE, NULL },
	[CF_IPVS_STRICTARP] = { "ipvs.strictARP", "ipvs-strict-arp", CT_BOOL,
	    OFF(ipvs_strict_arp), NE, NULL },
	[CF_IPVS_SYNC] = { "ipvs.syncPeriod", "ipvs-sync-period", CT_DUR,
	    OFF(ipvs_sync_period_ns), DZ | NE, NULL },
	[CF_IPVS_TCPFIN] = { "ipvs.tcpFinTimeout", "ipvs-tcpfin-timeout",
	    CT_DUR, OFF(ipvs_tcpfin_timeout_ns), NE, NULL },
	[CF_IPVS_TCP] = { "ipvs.tcpTimeout", "ipvs-tcp-timeout", CT_DUR,
	    OFF(ipvs_tcp_timeout_ns), NE, NULL },
	[CF_IPVS_UDP] = { "ipvs.udpTimeout", "ipvs-udp-timeout", CT_DUR,
	    OFF(ipvs_udp_timeout_ns), NE, NULL },
	[CF_METRICS] = { "metricsBindAddress", "metrics-bind-address", CT_STR,
	    OFF(metrics_bind_address), 0, config_check_ipport },
	[CF_MODE] = { "mode", "proxy-mode", CT_STR, OFF(mode), 0, NULL },
	[CF_NODEPORTADDRS] = { "nodePortAddresses", "nodeport-addresses",
	    CT_LIST, OFF(node_port_addresses), NE, NULL },
	[CF_OOM] = { "oomScoreAdj", "oom-score-adj", CT_INT32,
	    OFF(oom_score_adj), 0, NULL },
	[CF_PORTRANGE] = { "portRange", "proxy-port-range", CT_STR,
	    OFF(port_range), 0, config_check_range },
	[CF_SHOWHIDDEN] = { "showHiddenMetricsForVersion",
	    "show-hidden-metrics-for-version", CT_STR,
	    OFF(show_hidden_metrics), NE, NULL },
	[CF_UDP] = { "udpIdleTimeout", "udp-timeout", CT_DUR,
	    OFF(udp_idle_timeout_ns), DZ, NULL },
	[CF_WK_DSR] = { "winkernel.enableDSR", NULL, CT_BOOL,
	    OFF(winkernel_enable_dsr), NE, NULL },
	[CF_WK_NETNAME] = { "winkernel.networkName", NULL, CT_STR,
	    OFF(winkernel_network_name), NE, NULL },
	[CF_WK_SRCVIP] = { "winkernel.sourceVip", NULL, CT_STR,
	    OFF(winkernel_source_vip), NE, NULL },
};
#undef DZ
#undef NE

/* Format "PREFIX: reason" into err for field f set from src; return -1. */
int
config_fail(char *err, size_t errlen, const char *file, int src,
    const struct config_field *f, const char *fmt, ...)
{
	struct yamljson_errbuf	eb = { file != NULL ? file : "-", err, errlen,
				    0 };
	char			msg[YAMLJSON_MSGLEN];
	va_list			ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (src > 0)
		return (yamljson_fail(&eb, src, "%s: %s", f->key, msg));
	if (src == CONFIG_SRC_FLAG && f->flag != NULL)
		snprintf(err, errlen, "--%s: %s", f->flag, msg);
	else
		snprintf(err, errlen, "%s: %s", f->key, msg);
	return (-1);
}

/* Return the address of the member at offset off of cfg. */
void *
config_member(struct kp_config *cfg, size_t off)
{
	return ((char *)cfg + off);
}

/* Replace the string at *sp with a copy of val (NULL if optional and ""). */
void
config_setstr(char **sp, const char *val, int optional)
{
	char	*old = *sp;

	*sp = (optional && *val == '\0') ? NULL : xstrdup(val);
	free(old);
}

/* Find the row of key. */
int
config_field_find(const char *key)
{
	int	i;

	for (i = 0; i < CF_NFIELDS; i++)
		if (strcmp(config_fields[i].key, key) == 0)
			return (i);
	return (-1);
}

/* --bind-address: an IP (kube-proxy's IPVar). */
static int
config_check_ip(const char *s, char *err, size_t errlen)
{
	struct sockaddr_storage	ss;
	socklen_t		len;

	if (netutil_parse_ip(s, &ss, &len) == -1) {
		snprintf(err, errlen, "\"%s\" is not an IP address", s);
		return (-1);
	}
	return (0);
}

/* IP or IP:port, port 0 allowed here (kube-proxy's IPPortVar). */
static int
config_check_ipport(const char *s, char *err, size_t errlen)
{
	struct sockaddr_storage	ss;
	socklen_t		len;

	if (netutil_parse_ip(s, &ss, &len) != -1)
		return (0);
	return (netutil_parse_hostport(s, &ss, &len, err, errlen) == -1 ?
	    -1 : 0);
}

/* A --proxy-port-range value (kube-proxy's PortRangeVar). */
static int
config_check_range(const char *s, char *err, size_t errlen)
{
	uint16_t	base;
	uint32_t	size;

	return (portalloc_parse_range(s, &base, &size, err, errlen));
}

/* Go's underscoreOK: '_' only between digits (or after a base prefix). */
static int
config_underscore_ok(const char *s)
{
	int	saw = '^', hex = 0;
	size_t	i = 0;

	if (*s == '-' || *s == '+')
		s++;
	if (s[0] == '0' && s[1] != '\0' && strchr("bBoOxX", s[1]) != NULL) {
		i = 2;
		saw = '0';
		hex = s[1] == 'x' || s[1] == 'X';
	}
	for (; s[i] != '\0'; i++) {
		if (isdigit((unsigned char)s[i]) ||
		    (hex && isxdigit((unsigned char)s[i]))) {
			saw = '0';
			continue;
		}
		if (s[i] == '_') {
			if (saw != '0')
				return (0);
			saw = '_';
			continue;
		}
		if (saw == '_')
			return (0);
		saw = '!';
	}
	return (saw != '_');
}

/* strconv.ParseInt(s, 0, 32), as pflag's Int32 flags parse. */
int
config_parse_int32(const char *s, int32_t *out)
{
	const char	*p = s;
	uint64_t	 v = 0, max;
	int		 neg = 0, base = 10, d, any = 0, under = 0;

	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		base = 16, p += 2;
	else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
		base = 8, p += 2;
	else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B'))
		base = 2, p += 2;
	else if (p[0] == '0' && p[1] != '\0')
		base = 8, p++, any = 1;
	for (; *p != '\0'; p++) {
		if (*p == '_') {
			under = 1;
			continue;
		}
		if (isdigit((unsigned char)*p))
			d = *p - '0';
		else if (isalpha((unsigned char)*p))
			d = tolower((unsigned char)*p) - 'a' + 10;
		else
			return (-1);
		if (d >= base)
			return (-1);
		any = 1;
		if (v > ((uint64_t)1 << 32))
			continue;	/* out of range anyway */
		v = v * base + d;
	}
	if (!any || (under && !config_underscore_ok(s)))
		return (-1);
	max = neg ? (uint64_t)1 << 31 : ((uint64_t)1 << 31) - 1;
	if (v > max)
		return (-1);
	*out = neg ? (int32_t)(-(int64_t)v) : (int32_t)v;
	return (0);
}

/* strconv.ParseFloat(s, 32): the value rounded to a float32. */
int
config_parse_float32(const char *s, double *out)
{
	char	*end;
	double	 d;

	if (*s == '\0' || isspace((unsigned char)*s))
		return (-1);
	errno = 0;
	d = strtod(s, &end);
	if (*end != '\0' || (errno == ERANGE && d != 0))
		return (-1);
	if (isfinite(d) && fabs(d) > FLT_MAX)
		return (-1);
	*out = (double)(float)d;
	return (0);
}

/* Set or replace gate name in gs, keeping gs sorted by name. */
void
config_gates_set(struct config_gates *gs, const char *name, int value)
{
	size_t	i;
	int	c;

	for (i = 0; i < gs->n; i++) {
		if ((c = strcmp(gs->v[i].name, name)) == 0) {
			gs->v[i].value = value;
			return;
		}
		if (c > 0)
			break;
	}
	gs->v = xreallocarray(gs->v, gs->n + 1, sizeof(*gs->v));
	memmove(&gs->v[i + 1], &gs->v[i], (gs->n - i) * sizeof(*gs->v));
	gs->v[i].name = xstrdup(name);
	gs->v[i].value = value;
	gs->n++;
}

/* Free the gates. */
void
config_gates_clear(struct config_gates *gs)
{
	size_t	i;

	for (i = 0; i < gs->n; i++)
		free(gs->v[i].name);
	free(gs->v);
	memset(gs, 0, sizeof(*gs));
}

/* Append a copy of s to l. */
void
config_list_add(struct config_list *l, const char *s)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = xstrdup(s);
	l->set = 1;
}

/* Free the list. */
void
config_list_clear(struct config_list *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/*
 * One record of encoding/csv, as pflag's StringSlice reads a value:
 * comma-separated fields, each optionally "quoted" ("" for a quote).
 */
static int
config_csv(const char *s, struct config_list *l, char *err, size_t errlen)
{
	char	*field = xmalloc(strlen(s) + 1);
	size_t	 n;

	l->set = 1;
	if (*s == '\0')
		goto done;
	for (;;) {
		n = 0;
		if (*s == '"') {
			for (s++;; s++) {
				if (*s == '\0') {
					snprintf(err, errlen, "extraneous or "
					    "missing \" in quoted-field");
					goto fail;
				}
				if (*s == '"' && s[1] == '"')
					field[n++] = *s++;
				else if (*s == '"')
					break;
				else
					field[n++] = *s;
			}
			s++;
			if (*s != ',' && *s != '\0') {
				snprintf(err, errlen, "extraneous or missing "
				    "\" in quoted-field");
				goto fail;
			}
		} else {
			for (; *s != ',' && *s != '\0'; s++) {
				if (*s == '"') {
					snprintf(err, errlen, "bare \" in "
					    "non-quoted-field");
					goto fail;
				}
				field[n++] = *s;
			}
		}
		field[n] = '\0';
		config_list_add(l, field);
		if (*s == '\0')
			break;
		s++;
	}
done:
	free(field);
	return (0);
fail:
	free(field);
	return (-1);
}

/* cliflag.MapStringBool's Set: "k=v,k2=v2" merged into gs. */
static int
config_gates_parse(const char *val, struct config_gates *gs, char *err,
    size_t errlen)
{
	char	*dup = xstrdup(val), *item, *next, *eq, *k, *v, *e;
	int	 b, rv = -1;

	for (item = dup; item != NULL; item = next) {
		if ((next = strchr(item, ',')) != NULL)
			*next++ = '\0';
		while (isspace((unsigned char)*item))
			item++;
		for (e = item + strlen(item); e > item &&
		    isspace((unsigned char)e[-1]); e--)
			*--e = '\0';
		if (*item == '\0')
			continue;
		if ((eq = strchr(item, '=')) == NULL) {
			snprintf(err, errlen, "missing bool value for %s",
			    item);
			goto out;
		}
		*eq = '\0';
		k = item;
		for (e = k + strlen(k); e > k && isspace((unsigned char)e[-1]);
		    e--)
			*--e = '\0';
		for (v = eq + 1; isspace((unsigned char)*v); v++)
			;
		if (config_parse_gobool(v, &b) == -1) {
			snprintf(err, errlen, "invalid value of %s=%s, err: "
			    "strconv.ParseBool: parsing \"%s\": invalid "
			    "syntax", k, v, v);
			goto out;
		}
		config_gates_set(gs, k, b);
	}
	rv = 0;
out:
	free(dup);
	return (rv);
}

/* Set field id of cfg from a flag's text val. */
int
config_set_field(struct kp_config *cfg, int id, const char *val,
    char *err, size_t errlen)
{
	const struct config_field	*f = &config_fields[id];
	void				*m = config_member(cfg, f->off);
	struct config_list		 l;
	struct config_gates		*gs = m;
	char				 why[CONFIG_ERRLEN];
	int64_t				 ns;
	int32_t				 i32;
	double				 d;
	size_t				 i;
	int				 again = cfg->src_line[id] ==
					    CONFIG_SRC_FLAG;

	switch (f->type) {
	case CT_STR:
	case CT_OPTSTR:
		if (*val == '\0' && (f->flags & CFF_EMPTYNOOP))
			return (0);
		if (*val != '\0' && f->check != NULL &&
		    f->check(val, why, sizeof(why)) == -1)
			return (config_fail(err, errlen, NULL, CONFIG_SRC_FLAG,
			    f, "%s", why));
		config_setstr(m, val, f->type == CT_OPTSTR);
		break;
	case CT_DUR:
		if (config_parse_duration_ns(val, &ns, why, sizeof(why)) == -1)
			return (config_fail(err, errlen, NULL, CONFIG_SRC_FLAG,
			    f, "%s", why));
		*(int64_t *)m = ns;
		break;
	case CT_BOOL:
		*(int *)m = strcmp(val, "1") == 0 || strcmp(val, "true") == 0;
		break;
	case CT_INT32:
		if (config_parse_int32(val, &i32) == -1)
			return (config_fail(err, errlen, NULL, CONFIG_SRC_FLAG,
			    f, "invalid int32 \"%s\"", val));
		*(int32_t *)m = i32;
		break;
	case CT_FLOAT:
		if (config_parse_float32(val, &d) == -1)
			return (config_fail(err, errlen, NULL, CONFIG_SRC_FLAG,
			    f, "invalid float32 \"%s\"", val));
		*(double *)m = d;
		break;
	case CT_LIST:
		/* The first occurrence replaces, later ones append. */
		memset(&l, 0, sizeof(l));
		if (config_csv(val, &l, why, sizeof(why)) == -1) {
			config_list_clear(&l);
			return (config_fail(err, errlen, NULL, CONFIG_SRC_FLAG,
			    f, "\"%s\": %s", val, why));
		}
		if (!again)
			config_list_clear(m);
		for (i = 0; i < l.n; i++)
			config_list_add(m, l.v[i]);
		((struct config_list *)m)->set = 1;
		config_list_clear(&l);
		break;
	case CT_GATES: {
		struct config_gates	tmp;

		/* As for lists: the first occurrence replaces. */
		memset(&tmp, 0, sizeof(tmp));
		for (i = 0; again && i < gs->n; i++)
			config_gates_set(&tmp, gs->v[i].name, gs->v[i].value);
		if (config_gates_parse(val, &tmp, why, sizeof(why)) == -1) {
			config_gates_clear(&tmp);
			return (config_fail(err, errlen, NULL, CONFIG_SRC_FLAG,
			    f, "%s", why));
		}
		config_gates_clear(gs);
		*gs = tmp;
		break;
	}
	}
	cfg->src_line[id] = CONFIG_SRC_FLAG;
	return (0);
}

/* Free everything cfg holds and zero it. */
static void
config_clear(struct kp_config *cfg)
{
	const struct config_field	*f;
	int				 i;

	for (i = 0; i < CF_NFIELDS; i++) {
		f = &config_fields[i];
		if (f->type == CT_STR || f->type == CT_OPTSTR)
			free(*(char **)config_member(cfg, f->off));
		else if (f->type == CT_LIST)
			config_list_clear(config_member(cfg, f->off));
		else if (f->type == CT_GATES)
			config_gates_clear(config_member(cfg, f->off));
	}
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

#define SEC	1000000000LL

/*
 * Fill a zeroed cfg with kube-proxy 1.20's defaults: what
 * SetDefaults_KubeProxyConfiguration gives an empty v1alpha1 object
 * (the health and metrics addresses follow an IPv6 bindAddress later,
 * in config_validate), and the defaults of the flags.
 */
static void
config_defaults(struct kp_config *cfg)
{
	cfg->bind_address = xstrdup("0.0.0.0");
	cfg->cluster_cidr = xstrdup("");
	cfg->accept_content_types = xstrdup("");
	cfg->content_type = xstrdup("application/vnd.kubernetes.protobuf");
	cfg->qps = 5;
	cfg->burst = 10;
	cfg->detect_local_mode = xstrdup("");
	cfg->healthz_bind_address = xstrdup("0.0.0.0:10256");
	cfg->metrics_bind_address = xstrdup("127.0.0.1:10249");
	cfg->masquerade_bit = 14;
	cfg->sync_period_ns = 30 * SEC;
	cfg->min_sync_period_ns = 1 * SEC;
	cfg->ipvs_sync_period_ns = 30 * SEC;
	cfg->ipvs_scheduler = xstrdup("");
	cfg->oom_score_adj = -999;
	cfg->mode = xstrdup("");
	cfg->port_range = xstrdup("");
	cfg->udp_idle_timeout_ns = 250 * 1000000LL;
	cfg->conntrack_max_per_core = 32 * 1024;
	cfg->conntrack_min = 128 * 1024;
	cfg->conntrack_tcp_established_ns = 24 * 3600 * SEC;
	cfg->conntrack_tcp_close_wait_ns = 3600 * SEC;
	cfg->config_sync_period_ns = 15 * 60 * SEC;
	cfg->winkernel_network_name = xstrdup("");
	cfg->winkernel_source_vip = xstrdup("");
	cfg->show_hidden_metrics = xstrdup("");

	cfg->cleanup_ipvs = 1;
	cfg->healthz_port = 10256;
	cfg->metrics_port = 10249;
	cfg->state_dir = xstrdup(STATEDIR);
	cfg->shutdown_grace_ms = 30 * 1000;
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

/* Move the contents of n into cfg, then free n. */
void
config_swap(struct kp_config *cfg, struct kp_config *n)
{
	config_clear(cfg);
	*cfg = *n;
	free(n);
}

/* Reset field id of cfg to its default. */
void
config_field_default(struct kp_config *cfg, int id)
{
	const struct config_field	*f = &config_fields[id];
	struct kp_config		 def;
	void				*m = config_member(cfg, f->off);
	void				*dm = config_member(&def, f->off);

	memset(&def, 0, sizeof(def));
	config_defaults(&def);
	switch (f->type) {
	case CT_STR:
	case CT_OPTSTR:
		free(*(char **)m);
		*(char **)m = *(char **)dm;
		*(char **)dm = NULL;
		break;
	case CT_DUR:
		*(int64_t *)m = *(int64_t *)dm;
		break;
	case CT_BOOL:
		*(int *)m = *(int *)dm;
		break;
	case CT_INT32:
		*(int32_t *)m = *(int32_t *)dm;
		break;
	case CT_FLOAT:
		*(double *)m = *(double *)dm;
		break;
	case CT_LIST:
		config_list_clear(m);
		break;
	case CT_GATES:
		config_gates_clear(m);
		break;
	}
	config_clear(&def);
}

/* 1 if field id of cfg holds the zero value of its Go type. */
int
config_field_is_zero(struct kp_config *cfg, int id)
{
	const struct config_field	*f = &config_fields[id];
	void				*m = config_member(cfg, f->off);

	switch (f->type) {
	case CT_STR:
	case CT_OPTSTR:
		return (*(char **)m == NULL || **(char **)m == '\0');
	case CT_DUR:
		return (*(int64_t *)m == 0);
	case CT_BOOL:
		return (*(int *)m == 0);
	case CT_INT32:
		return (*(int32_t *)m == 0);
	case CT_FLOAT:
		return (*(double *)m == 0);
	case CT_LIST:
		return (!((struct config_list *)m)->set);
	case CT_GATES:
		return (((struct config_gates *)m)->n == 0);
	}
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

/*
 * Parse a Go duration as time.ParseDuration does; *neg is set for a
 * leading '-'.  Returns 0 with the magnitude in *total, -1 with err.
 */
static int
config_dur_parse(const char *orig, uint64_t *total, int *neg, char *err,
    size_t errlen)
{
	const uint64_t	 max = (uint64_t)1 << 63;
	const char	*s = orig, *u;
	uint64_t	 v, f, unit;
	double		 scale;
	int		 pre, post, overflow;

	*total = 0;
	*neg = 0;
	if (*s == '-' || *s == '+')
		*neg = *s++ == '-';
	if (strcmp(s, "0") == 0)
		return (0);
	if (*s == '\0')
		goto invalid;
	while (*s != '\0') {
		if (*s != '.' && !isdigit((unsigned char)*s))
			goto invalid;
		for (v = 0, pre = 0; isdigit((unsigned char)*s); s++, pre = 1) {
			if (v > max / 10)
				goto range;
			v = v * 10 + (*s - '0');
			if (v > max)
				goto range;
		}
		f = 0, scale = 1, post = 0, overflow = 0;
		if (*s == '.')
			for (s++; isdigit((unsigned char)*s); s++, post = 1) {
				if (overflow || f > (max - 1) / 10) {
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
		if (v > max / unit)
			goto range;
		v *= unit;
		if (f > 0) {
			v += (uint64_t)((double)f * ((double)unit / scale));
			if (v > max)
				goto range;
		}
		*total += v;
		if (*total > max)
			goto range;
	}
	if (!*neg && *total == max)
		goto range;
	return (0);
range:
	snprintf(err, errlen, "invalid duration \"%s\": out of range", orig);
	return (-1);
invalid:
	snprintf(err, errlen, "invalid duration \"%s\"", orig);
	return (-1);
}

/* Parse a Go duration, sign included, into nanoseconds. */
int
config_parse_duration_ns(const char *s, int64_t *ns, char *err,
    size_t errlen)
{
	uint64_t	total;
	int		neg;

	if (config_dur_parse(s, &total, &neg, err, errlen) == -1)
		return (-1);
	*ns = neg ? (int64_t)(0 - total) : (int64_t)total;
	return (0);
}

/* Parse a non-negative Go duration into milliseconds. */
int
config_parse_duration(const char *s, uint64_t *ms, char *err,
    size_t errlen)
{
	uint64_t	total;
	int		neg;

	if (config_dur_parse(s, &total, &neg, err, errlen) == -1)
		return (-1);
	if (neg && total != 0) {
		snprintf(err, errlen, "invalid duration \"%s\": must not be "
		    "negative", s);
		return (-1);
	}
	*ms = total / 1000000;
	return (0);
}

/* Print "INT[.FRAC]" of v / 10^prec, trailing zeros of FRAC dropped. */
static void
config_dur_frac(char *buf, size_t len, uint64_t v, int prec)
{
	uint64_t	div = 1;
	char		frac[24];
	int		i;

	for (i = 0; i < prec; i++)
		div *= 10;
	if (v % div == 0) {
		snprintf(buf, len, "%llu", (unsigned long long)(v / div));
		return;
	}
	snprintf(frac, sizeof(frac), "%0*llu", prec,
	    (unsigned long long)(v % div));
	for (i = prec - 1; i > 0 && frac[i] == '0'; i--)
		frac[i] = '\0';
	snprintf(buf, len, "%llu.%s", (unsigned long long)(v / div), frac);
}

/* Print ns as Go's time.Duration.String() does. */
const char *
config_format_duration_ns(int64_t ns, char *buf, size_t len)
{
	uint64_t	 u = ns < 0 ? 0 - (uint64_t)ns : (uint64_t)ns;
	unsigned long long h, m, sec;
	const char	*sign = ns < 0 ? "-" : "";
	char		 num[64];

	if (u == 0) {
		snprintf(buf, len, "0s");
		return (buf);
	}
	if (u < 1000) {
		snprintf(buf, len, "%s%lluns", sign, (unsigned long long)u);
		return (buf);
	}
	if (u < 1000000) {
		config_dur_frac(num, sizeof(num), u, 3);
		snprintf(buf, len, "%s%s\xc2\xb5s", sign, num);
		return (buf);
	}
	if (u < 1000000000) {
		config_dur_frac(num, sizeof(num), u, 6);
		snprintf(buf, len, "%s%sms", sign, num);
		return (buf);
	}
	sec = u / 1000000000;
	config_dur_frac(num, sizeof(num), sec % 60 * 1000000000 +
	    u % 1000000000, 9);
	h = sec / 3600;
	m = sec / 60 % 60;
	if (h > 0)
		snprintf(buf, len, "%s%lluh%llum%ss", sign, h, m, num);
	else if (m > 0)
		snprintf(buf, len, "%s%llum%ss", sign, m, num);
	else
		snprintf(buf, len, "%s%ss", sign, num);
	return (buf);
}

/* Print ms as Go's time.Duration.String() would. */
const char *
config_format_duration(uint64_t ms, char *buf, size_t len)
{
	if (ms > (uint64_t)INT64_MAX / 1000000)
		ms = (uint64_t)INT64_MAX / 1000000;
	return (config_format_duration_ns((int64_t)ms * 1000000, buf, len));
}

/* [-+]?(0b[01_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|[0-9_]+): a YAML 1.1 int. */
static int
config_yaml_is_int(const char *s)
{
	const char	*digits = "0123456789_";

	if (*s == '-' || *s == '+')
		s++;
	if (s[0] == '0' && (s[1] == 'b' || s[1] == 'o' || s[1] == 'x')) {
		digits = s[1] == 'b' ? "01_" : s[1] == 'o' ? "01234567_" :
		    "0123456789abcdefABCDEF_";
		s += 2;
	}
	return (*s != '\0' && strspn(s, digits) == strlen(s));
}

/* [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?: go-yaml's base 60. */
static int
config_yaml_is_base60(const char *s)
{
	int	groups = 0;

	if (*s == '-' || *s == '+')
		s++;
	if (!isdigit((unsigned char)*s))
		return (0);
	s += strspn(s, "0123456789_");
	while (*s == ':') {
		s++;
		if (isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1])) {
			if (s[0] > '5')
				return (0);
			s += 2;
		} else if (isdigit((unsigned char)s[0]))
			s++;
		else
			return (0);
		groups++;
	}
	if (groups == 0)
		return (0);
	if (*s == '.')
		s += 1 + strspn(s + 1, "0123456789_");
	return (*s == '\0');
}

/* How config_write_str writes a string (go-yaml's choices). */
#define YS_PLAIN	0
#define YS_DOUBLE	1	/* "..": empty, or would read as another type */
#define YS_SINGLE	2	/* '..': special characters */

/*
 * Choose a style for s as go-yaml's encoder does for the strings
 * kube-proxy writes: double quotes when the plain text would read back
 * as null, a bool or a number in YAML 1.1 (or holds control bytes),
 * single quotes when it holds YAML's special characters (kuproxy's
 * list of safe ones is shorter than go-yaml's), else plain.
 */
static int
config_yaml_style(const char *s)
{
	static const char *const words[] = { "y", "Y", "yes", "Yes", "YES",
	    "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
	    "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null",
	    "Null", "NULL", "~", ".inf", ".Inf", ".INF", "-.inf", "-.Inf",
	    "-.INF", "+.inf", "+.Inf", "+.INF", ".nan", ".NaN", ".NAN", NULL };
	const char	*p;
	char		*end;
	int		 i;

	if (*s == '\0')
		return (YS_DOUBLE);
	for (i = 0; words[i] != NULL; i++)
		if (strcmp(s, words[i]) == 0)
			return (YS_DOUBLE);
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return (YS_DOUBLE);
	/* Numbers: floats, ints (0x, 0o, 0b, 1_000), base 60 (1:30). */
	(void)strtod(s, &end);
	if (*end == '\0' || config_yaml_is_int(s) || config_yaml_is_base60(s))
		return (YS_DOUBLE);
	/* Plain only with a conservative set of characters. */
	if (!isalnum((unsigned char)*s) && *s != '/' && *s != '.')
		return (YS_SINGLE);
	for (p = s; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("./_:-+=,@", *p) ==
		    NULL)
			return (YS_SINGLE);
	return (s[strlen(s) - 1] == ':' ? YS_SINGLE : YS_PLAIN);
}

/* Write s as a YAML scalar, quoted as go-yaml would quote it. */
static void
config_write_str(FILE *fp, const char *s)
{
	if (s == NULL)
		s = "";
	switch (config_yaml_style(s)) {
	case YS_PLAIN:
		fprintf(fp, "%s\n", s);
		return;
	case YS_SINGLE:
		fputc('\'', fp);
		for (; *s != '\0'; s++)
			if (*s == '\'')
				fputs("''", fp);
			else
				fputc(*s, fp);
		fputs("'\n", fp);
		return;
	}
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(fp, "\\%c", *s);
		else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			fprintf(fp, "\\x%02x", (unsigned char)*s);
		else
			fputc(*s, fp);
	}
	fputs("\"\n", fp);
}

/*
 * Print a float32 as kube-proxy's encoder does (encoding/json's shortest
 * form that reads back as the same float32, without an exponent from
 * 1e-6 to 1e21; go-yaml then prints whole numbers as integers).
 */
static void
config_write_float(FILE *fp, double d)
{
	char	buf[384];
	int	prec;

	if (isnan(d) || isinf(d)) {
		fprintf(fp, "%s\n", isnan(d) ? ".nan" : d < 0 ? "-.inf" : ".inf");
		return;
	}
	if (d == floor(d) && fabs(d) < 1e21) {
		fprintf(fp, "%.0f\n", d);
		return;
	}
	for (prec = 0; prec < 60; prec++) {
		if (fabs(d) >= 1e-6 && fabs(d) < 1e21)
			snprintf(buf, sizeof(buf), "%.*f", prec, d);
		else
			snprintf(buf, sizeof(buf), "%.*g", prec + 1, d);
		if ((float)strtod(buf, NULL) == (float)d)
			break;
	}
	fprintf(fp, "%s\n", buf);
}

/* Write the value of field id (after "key: "). */
static void
config_write_value(const struct kp_config *cfg, int id, const char *indent,
    FILE *fp)
{
	const struct config_field	*f = &config_fields[id];
	const void			*m = (const char *)cfg + f->off;
	const struct config_list	*l = m;
	char				 d[40];
	size_t				 i;

	if (f->type != CT_LIST || l->n == 0)
		fputc(' ', fp);
	switch (f->type) {
	case CT_STR:
	case CT_OPTSTR:
		config_write_str(fp, *(char *const *)m);
		break;
	case CT_DUR:
		fprintf(fp, "%s\n", config_format_duration_ns(
		    *(const int64_t *)m, d, sizeof(d)));
		break;
	case CT_BOOL:
		fprintf(fp, "%s\n", *(const int *)m ? "true" : "false");
		break;
	case CT_INT32:
		fprintf(fp, "%ld\n", (long)*(const int32_t *)m);
		break;
	case CT_FLOAT:
		config_write_float(fp, *(const double *)m);
		break;
	case CT_LIST:
		if (l->n == 0) {
			fprintf(fp, "%s\n", l->set ? "[]" : "null");
			break;
		}
		fputc('\n', fp);
		for (i = 0; i < l->n; i++) {
			fprintf(fp, "%s- ", indent);
			config_write_str(fp, l->v[i]);
		}
		break;
	case CT_GATES:		/* config_write_gates */
		break;
	}
}

/* Write featureGates, one "  Name: true" line per gate. */
static void
config_write_gates(const struct config_gates *gs, FILE *fp)
{
	size_t	i;

	fprintf(fp, "featureGates:\n");
	for (i = 0; i < gs->n; i++) {
		if (config_yaml_style(gs->v[i].name) != YS_PLAIN)
			fprintf(fp, "  \"%s\": %s\n", gs->v[i].name,
			    gs->v[i].value ? "true" : "false");
		else
			fprintf(fp, "  %s: %s\n", gs->v[i].name,
			    gs->v[i].value ? "true" : "false");
	}
}

/*
 * Write cfg as a KubeProxyConfiguration document, every field, keys
 * sorted as kube-proxy's --write-config-to sorts them (featureGates
 * omitted when empty, as its omitempty tag says).
 */
int
config_write(const struct kp_config *cfg, FILE *fp)
{
	const char	*key, *dot, *prev = NULL;
	size_t		 plen = 0;
	int		 i, kind_done = 0;

	fprintf(fp, "apiVersion: %s\n", CONFIG_API_VERSION);
	for (i = 0; i < CF_NFIELDS; i++) {
		key = config_fields[i].key;
		if (!kind_done && strcmp(key, "kind") > 0) {
			fprintf(fp, "kind: %s\n", CONFIG_KIND);
			kind_done = 1;
		}
		if (i == CF_GATES) {
			if (cfg->feature_gates.n > 0)
				config_write_gates(&cfg->feature_gates, fp);
			continue;
		}
		if ((dot = strchr(key, '.')) != NULL) {
			if (prev == NULL || plen != (size_t)(dot - key) ||
			    strncmp(prev, key, plen) != 0) {
				prev = key;
				plen = dot - key;
				fprintf(fp, "%.*s:\n", (int)plen, key);
			}
			fprintf(fp, "  %s:", dot + 1);
			config_write_value(cfg, i, "  ", fp);
		} else {
			prev = NULL;
			fprintf(fp, "%s:", key);
			config_write_value(cfg, i, "", fp);
		}
	}
	return (ferror(fp) || fflush(fp) == EOF ? -1 : 0);
}
