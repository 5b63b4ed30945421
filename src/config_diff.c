/*
 * config_diff.c: compare two configs key by key and classify each
 * difference as live or restart-only (see config.h), and move a live
 * value from a freshly loaded config into the running one.
 *
 * The keys are the rows of config_fields (the KubeProxyConfiguration
 * file), then the flag-only options a reload could see differ.  The
 * class of a file field is its row's CFF_NOEFFECT flag (no effect in
 * userspace mode: taking it changes nothing, so it is live) or its
 * listing in config_diff_live below; every other field needs a new
 * process, because something built once at start depends on it: the
 * API client (clientConnection.kubeconfig, featureGates choosing the
 * endpoints API, hostnameOverride naming the Node watched), the
 * listeners and rules (bindAddress), or the start-up mode note (mode).
 */
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "config_priv.h"

/* The flag-only keys, after the CF_NFIELDS file fields. */
enum config_extra_id {
	CX_VERBOSITY = CF_NFIELDS,	/* -v: live */
	CX_MASTER,			/* --master */
	CX_SERVICES,			/* --services-file */
	CX_STATEDIR,			/* --state-dir */
	CX_IPTABLES,			/* --iptables-path */
	CX_IP6TABLES,			/* --ip6tables-path */
	CX_CONNTRACK,			/* --conntrack-path */
	CX_END,
};

_Static_assert(CX_END <= CONFIG_DIFF_MAX, "CONFIG_DIFF_MAX too small");
/* -v is an int, compared and shown as CT_INT32. */
_Static_assert(sizeof(int) == sizeof(int32_t), "int is not 32 bits");

/* The file fields a running kuproxy applies without a restart. */
static const int config_diff_live[] = {
	CF_HARDFAIL,		/* read when a server binds */
	CF_CFGSYNC,		/* no effect: the API source watches */
	CF_CT_MAXPERCORE, CF_CT_MIN, CF_CT_CLOSEWAIT, CF_CT_ESTABLISHED,
	CF_HEALTHZ, CF_METRICS,	/* rebound */
	CF_MINSYNC, CF_SYNC,
	CF_OOM,
	CF_PORTRANGE,		/* for ports bound from now on */
	CF_UDP,			/* every UDP relay, flows included */
};

/* The flag-only keys: name, member, type, class. */
static const struct {
	const char	*key;
	size_t		 off;
	enum config_type type;
	int		 restart;
} config_diff_extras[CX_END - CF_NFIELDS] = {
	[CX_VERBOSITY - CF_NFIELDS] = { "v",
	    offsetof(struct kp_config, verbosity), CT_INT32, 0 },
	[CX_MASTER - CF_NFIELDS] = { "master",
	    offsetof(struct kp_config, master), CT_OPTSTR, 1 },
	[CX_SERVICES - CF_NFIELDS] = { "services-file",
	    offsetof(struct kp_config, services_file), CT_OPTSTR, 1 },
	[CX_STATEDIR - CF_NFIELDS] = { "state-dir",
	    offsetof(struct kp_config, state_dir), CT_STR, 1 },
	[CX_IPTABLES - CF_NFIELDS] = { "iptables-path",
	    offsetof(struct kp_config, iptables_path), CT_STR, 1 },
	[CX_IP6TABLES - CF_NFIELDS] = { "ip6tables-path",
	    offsetof(struct kp_config, ip6tables_path), CT_STR, 1 },
	[CX_CONNTRACK - CF_NFIELDS] = { "conntrack-path",
	    offsetof(struct kp_config, conntrack_path), CT_STR, 1 },
};

/* Return 1 if key id can change without a restart. */
static int
config_diff_is_live(int id)
{
	size_t	i;

	if (id >= CF_NFIELDS)
		return (!config_diff_extras[id - CF_NFIELDS].restart);
	if (config_fields[id].flags & CFF_NOEFFECT)
		return (1);
	for (i = 0; i < sizeof(config_diff_live) / sizeof(config_diff_live[0]);
	    i++)
		if (config_diff_live[i] == id)
			return (1);
	return (0);
}

/* Compare two strings, NULL equal to "" (optional strings). */
static int
config_diff_streq(const char *a, const char *b)
{
	return (strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0);
}

/* Return 1 if two lists hold the same strings in the same order. */
static int
config_diff_listeq(const struct config_list *a, const struct config_list *b)
{
	size_t	i;

	if (a->n != b->n || a->set != b->set)
		return (0);
	for (i = 0; i < a->n; i++)
		if (!config_diff_streq(a->v[i], b->v[i]))
			return (0);
	return (1);
}

/* Return 1 if two gate sets (sorted by name) are the same. */
static int
config_diff_gateseq(const struct config_gates *a, const struct config_gates *b)
{
	size_t	i;

	if (a->n != b->n)
		return (0);
	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i].name, b->v[i].name) != 0 ||
		    a->v[i].value != b->v[i].value)
			return (0);
	return (1);
}

/* Return 1 if the members of type t at pa and pb are equal. */
static int
config_diff_eq(enum config_type t, const void *pa, const void *pb)
{
	switch (t) {
	case CT_STR:
	case CT_OPTSTR:
		return (config_diff_streq(*(char *const *)pa,
		    *(char *const *)pb));
	case CT_DUR:
		return (*(const int64_t *)pa == *(const int64_t *)pb);
	case CT_BOOL:
		return (*(const int *)pa == *(const int *)pb);
	case CT_INT32:
		return (*(const int32_t *)pa == *(const int32_t *)pb);
	case CT_FLOAT:
		return (*(const double *)pa == *(const double *)pb);
	case CT_LIST:
		return (config_diff_listeq(pa, pb));
	case CT_GATES:
		return (config_diff_gateseq(pa, pb));
	}
	return (0);
}

/* Return the size of a member of type t. */
static size_t
config_diff_size(enum config_type t)
{
	switch (t) {
	case CT_STR:
	case CT_OPTSTR:
		return (sizeof(char *));
	case CT_DUR:
		return (sizeof(int64_t));
	case CT_BOOL:
		return (sizeof(int));
	case CT_INT32:
		return (sizeof(int32_t));
	case CT_FLOAT:
		return (sizeof(double));
	case CT_LIST:
		return (sizeof(struct config_list));
	case CT_GATES:
		return (sizeof(struct config_gates));
	}
	return (0);
}

/* Return key id's type and offset in struct kp_config. */
static enum config_type
config_diff_member(int id, size_t *off)
{
	if (id >= CF_NFIELDS) {
		*off = config_diff_extras[id - CF_NFIELDS].off;
		return (config_diff_extras[id - CF_NFIELDS].type);
	}
	*off = config_fields[id].off;
	return (config_fields[id].type);
}

/* Return the name of key id. */
static const char *
config_diff_key(int id)
{
	if (id >= CF_NFIELDS)
		return (config_diff_extras[id - CF_NFIELDS].key);
	return (config_fields[id].key);
}

/* Compare a and b key by key. */
size_t
config_diff(const struct kp_config *a, const struct kp_config *b,
    struct config_change *out, size_t max)
{
	enum config_type	 t;
	size_t			 off, n = 0;
	int			 id;

	for (id = 0; id < CX_END; id++) {
		t = config_diff_member(id, &off);
		if (config_diff_eq(t, (const char *)a + off,
		    (const char *)b + off))
			continue;
		if (n < max) {
			out[n].id = id;
			out[n].key = config_diff_key(id);
			out[n].restart = !config_diff_is_live(id);
		}
		n++;
	}
	return (n);
}

/* Count the restart-only changes. */
size_t
config_diff_nrestart(const struct config_change *c, size_t n)
{
	size_t	i, k = 0;

	for (i = 0; i < n; i++)
		if (c[i].restart)
			k++;
	return (k);
}

/* List the keys of one class. */
const char *
config_diff_keys(const struct config_change *c, size_t n, int restart,
    char *buf, size_t len)
{
	size_t	i, used = 0;
	int	w;

	if (len == 0)
		return (buf);
	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		if (!c[i].restart != !restart)
			continue;
		w = snprintf(buf + used, len - used, "%s%s",
		    used > 0 ? ", " : "", c[i].key);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
	return (buf);
}

/* Exchange size bytes at pa and pb. */
static void
config_diff_xchg(void *pa, void *pb, size_t size)
{
	unsigned char	tmp[sizeof(struct sockaddr_storage)];

	if (size > sizeof(tmp))
		return;
	memcpy(tmp, pa, size);
	memcpy(pa, pb, size);
	memcpy(pb, tmp, size);
}

#define XCHG(m)	config_diff_xchg(&cfg->m, &n->m, sizeof(cfg->m))

/* Exchange what config_validate() derived from field id. */
static void
config_diff_derived(struct kp_config *cfg, struct kp_config *n, int id)
{
	switch (id) {
	case CF_UDP:
		XCHG(udp_idle_timeout_ms);
		break;
	case CF_SYNC:
		XCHG(sync_period_ms);
		break;
	case CF_MINSYNC:
		XCHG(min_sync_period_ms);
		break;
	case CF_CFGSYNC:
		XCHG(config_sync_period_ms);
		break;
	case CF_PORTRANGE:
		XCHG(port_base);
		XCHG(port_size);
		break;
	case CF_HEALTHZ:
		XCHG(healthz_ss);
		XCHG(healthz_len);
		break;
	case CF_METRICS:
		XCHG(metrics_ss);
		XCHG(metrics_len);
		break;
	}
}

#undef XCHG

/* Take a live value from n into cfg. */
int
config_diff_take(struct kp_config *cfg, struct kp_config *n,
    const struct config_change *c)
{
	enum config_type	 t;
	size_t			 off;
	int			 line;

	if (c->id < 0 || c->id >= CX_END || !config_diff_is_live(c->id))
		return (-1);
	t = config_diff_member(c->id, &off);
	config_diff_xchg((char *)cfg + off, (char *)n + off,
	    config_diff_size(t));
	if (c->id < CF_NFIELDS) {
		line = cfg->src_line[c->id];
		cfg->src_line[c->id] = n->src_line[c->id];
		n->src_line[c->id] = line;
		config_diff_derived(cfg, n, c->id);
	}
	return (0);
}

/* Append the strings of l, comma-separated, to buf (of len, used). */
static void
config_diff_join(char *buf, size_t len, const struct config_list *l)
{
	size_t	i, used = strlen(buf);
	int	w;

	for (i = 0; i < l->n && used < len; i++) {
		w = snprintf(buf + used, len - used, "%s%s", i > 0 ? "," : "",
		    l->v[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

/* Format the value of change c in cfg. */
const char *
config_diff_value(const struct kp_config *cfg, const struct config_change *c,
    char *buf, size_t len)
{
	const struct config_gates	*gs;
	const char			*m, *str;
	enum config_type		 t;
	size_t				 off, i, used;

	if (len == 0)
		return (buf);
	buf[0] = '\0';
	if (c->id < 0 || c->id >= CX_END)
		return (buf);
	t = config_diff_member(c->id, &off);
	m = (const char *)cfg + off;
	switch (t) {
	case CT_STR:
	case CT_OPTSTR:
		str = *(char *const *)m;
		snprintf(buf, len, "%s", str != NULL ? str : "");
		break;
	case CT_DUR:
		config_format_duration_ns(*(const int64_t *)m, buf, len);
		break;
	case CT_BOOL:
		snprintf(buf, len, "%s", *(const int *)m ? "true" : "false");
		break;
	case CT_INT32:
		snprintf(buf, len, "%ld", (long)*(const int32_t *)m);
		break;
	case CT_FLOAT:
		snprintf(buf, len, "%g", *(const double *)m);
		break;
	case CT_LIST:
		config_diff_join(buf, len, (const struct config_list *)m);
		break;
	case CT_GATES:
		gs = (const struct config_gates *)m;
		for (i = 0, used = 0; i < gs->n && used < len; i++)
			used += (size_t)snprintf(buf + used, len - used,
			    "%s%s=%s", i > 0 ? "," : "", gs->v[i].name,
			    gs->v[i].value ? "true" : "false");
		break;
	}
	return (buf);
}
