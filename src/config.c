/*
 * config.c: kuproxy's configuration, built as kube-proxy builds it:
 * defaults, then the KubeProxyConfiguration file (config_file.c), then
 * the flags (config_flags.c), then validation
 * (pkg/proxy/apis/config/validation/validation.go).  Unlike kube-proxy,
 * flags given with --config override the file instead of being dropped.
 *
 * This file holds what both sources share: the config_fields table of
 * honoured keys and the setter that checks a value from either, the
 * defaults, the config's lifetime, Go durations, validation and the
 * KubeProxyConfiguration writer.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <ctype.h>
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

#define CONFIG_HEALTHZ_PORT	10256
#define CONFIG_METRICS_PORT	10249

_Static_assert(CF_NFIELDS <= CONFIG_NSRC, "CONFIG_NSRC too small");

static int	config_check_ip(const char *, int, char *, size_t);
static int	config_check_hostport(const char *, int, char *, size_t);
static int	config_check_range(const char *, int, char *, size_t);
static int	config_check_mode(const char *, int, char *, size_t);

#define OFF(m)	offsetof(struct kp_config, m)
const struct config_field config_fields[CF_NFIELDS] = {
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
#undef OFF

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
	if (src == CONFIG_SRC_FLAG)
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
int
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
		*(uint64_t *)config_member(cfg, f->off) = ms;
	} else {
		if (f->check != NULL && f->check(val, src == CONFIG_SRC_FLAG,
		    why, sizeof(why)) == -1)
			return (config_fail(err, errlen, cfg->src_file, src, f,
			    "%s", why));
		config_setstr(config_member(cfg, f->off), val,
		    f->type == CT_OPTSTR);
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

/* Move the contents of n into cfg, then free n. */
void
config_swap(struct kp_config *cfg, struct kp_config *n)
{
	config_clear(cfg);
	*cfg = *n;
	free(n);
}

/* Add v units to a duration, failing past Go's int64 nanoseconds. */
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
	char				**sp = config_member(cfg, f->off);
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
		if (*(uint64_t *)config_member(cfg, f->off) == 0)
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

