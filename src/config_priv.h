/*
 * config_priv.h: what config.c (defaults, field setting, validation,
 * output), config_flags.c (the command line) and config_file.c (the
 * KubeProxyConfiguration file) share.  Nothing else includes it.
 *
 * The centre is config_fields: one row per KubeProxyConfiguration key
 * (all of v1alpha1 in Kubernetes 1.20), naming its flag too, so that a
 * value from either source is typed, defaulted, checked and reported
 * the same way.  config_validate.c holds kube-proxy's defaulting and
 * validation, config_gates.c its feature gates.
 */
#ifndef CONFIG_PRIV_H
#define CONFIG_PRIV_H

#include <stddef.h>

#include "config.h"

#define CONFIG_API_VERSION	"kubeproxy.config.k8s.io/v1alpha1"
#define CONFIG_KIND		"KubeProxyConfiguration"
#define CONFIG_SRC_FLAG		(-1)	/* src_line of a flag-set field */

/*
 * Indexes into config_fields and kp_config.src_line: every field of
 * KubeProxyConfiguration, in the order kube-proxy's YAML encoder sorts
 * their keys (so config_write can walk the table).
 */
enum config_field_id {
	CF_BIND = 0,		/* bindAddress */
	CF_HARDFAIL,		/* bindAddressHardFail */
	CF_ACCEPTCT,		/* clientConnection.acceptContentTypes */
	CF_BURST,		/* clientConnection.burst */
	CF_CONTENTTYPE,		/* clientConnection.contentType */
	CF_KUBECONFIG,		/* clientConnection.kubeconfig */
	CF_QPS,			/* clientConnection.qps */
	CF_CLUSTERCIDR,		/* clusterCIDR */
	CF_CFGSYNC,		/* configSyncPeriod */
	CF_CT_MAXPERCORE,	/* conntrack.maxPerCore */
	CF_CT_MIN,		/* conntrack.min */
	CF_CT_CLOSEWAIT,	/* conntrack.tcpCloseWaitTimeout */
	CF_CT_ESTABLISHED,	/* conntrack.tcpEstablishedTimeout */
	CF_DETECTLOCAL,		/* detectLocalMode */
	CF_PROFILING,		/* enableProfiling */
	CF_GATES,		/* featureGates */
	CF_HEALTHZ,		/* healthzBindAddress */
	CF_HOSTNAME,		/* hostnameOverride */
	CF_MASQALL,		/* iptables.masqueradeAll */
	CF_MASQBIT,		/* iptables.masqueradeBit */
	CF_MINSYNC,		/* iptables.minSyncPeriod */
	CF_SYNC,		/* iptables.syncPeriod */
	CF_IPVS_EXCLUDE,	/* ipvs.excludeCIDRs */
	CF_IPVS_MINSYNC,	/* ipvs.minSyncPeriod */
	CF_IPVS_SCHED,		/* ipvs.scheduler */
	CF_IPVS_STRICTARP,	/* ipvs.strictARP */
	CF_IPVS_SYNC,		/* ipvs.syncPeriod */
	CF_IPVS_TCPFIN,		/* ipvs.tcpFinTimeout */
	CF_IPVS_TCP,		/* ipvs.tcpTimeout */
	CF_IPVS_UDP,		/* ipvs.udpTimeout */
	CF_METRICS,		/* metricsBindAddress */
	CF_MODE,		/* mode */
	CF_NODEPORTADDRS,	/* nodePortAddresses */
	CF_OOM,			/* oomScoreAdj */
	CF_PORTRANGE,		/* portRange */
	CF_SHOWHIDDEN,		/* showHiddenMetricsForVersion */
	CF_UDP,			/* udpIdleTimeout */
	CF_WK_DSR,		/* winkernel.enableDSR */
	CF_WK_NETNAME,		/* winkernel.networkName */
	CF_WK_SRCVIP,		/* winkernel.sourceVip */
	CF_NFIELDS,
};

enum config_type {
	CT_STR = 0,	/* char *, never NULL */
	CT_OPTSTR,	/* char *, NULL when unset or "" */
	CT_DUR,		/* int64_t nanoseconds (metav1.Duration) */
	CT_BOOL,	/* int, 0 or 1 */
	CT_INT32,	/* int32_t */
	CT_FLOAT,	/* double holding a float32 */
	CT_LIST,	/* struct config_list ([]string) */
	CT_GATES,	/* struct config_gates (map[string]bool) */
};

/* config_field.flags */
#define CFF_DEFZERO	0x01	/* a zero value from the file means default */
#define CFF_NOEFFECT	0x02	/* kept and checked, no effect in userspace */
#define CFF_EMPTYNOOP	0x04	/* the flag ignores "" (kube-proxy's IPVar) */
#define CFF_PTR		0x08	/* a Go pointer: null is unset, not an error */

/* A KubeProxyConfiguration field. */
struct config_field {
	const char	*key;		/* "iptables.syncPeriod" */
	const char	*flag;		/* "iptables-sync-period", NULL: none */
	enum config_type type;
	size_t		 off;		/* member of struct kp_config */
	int		 flags;		/* CFF_* */
	/* Flag-time check of a string (kube-proxy's flag types). */
	int		(*check)(const char *, char *, size_t);
};

extern const struct config_field config_fields[CF_NFIELDS];

/* A feature gate of Kubernetes 1.20 (config_gates.c). */
#define CONFIG_GATE_ALPHA	0
#define CONFIG_GATE_BETA	1
#define CONFIG_GATE_GA		2
#define CONFIG_GATE_DEPRECATED	3
struct config_gate_spec {
	const char	*name;
	int		 def;		/* default value */
	int		 stage;		/* CONFIG_GATE_* */
	int		 locked;	/* LockToDefault */
};
/* Every gate kube-proxy 1.20 knows, AllAlpha and AllBeta included. */
extern const struct config_gate_spec config_gate_specs[];

/*
 * Write "PREFIX: <fmt ...>" into err for field f, whose value came from
 * src: a line of file (> 0), a flag (CONFIG_SRC_FLAG) or the default
 * (0).  PREFIX is "FILE:LINE: key" ("-" for a NULL file), "--flag" or
 * "key".  Returns -1.
 */
int	config_fail(char *err, size_t errlen, const char *file, int src,
	    const struct config_field *f, const char *fmt, ...)
	    __attribute__((__format__(printf, 6, 7)));
/* Return the address of the member at offset off of cfg. */
void	*config_member(struct kp_config *cfg, size_t off);
/*
 * Replace the string at *sp with a copy of val, or with NULL if
 * optional is set and val is "".  Frees the old string.
 */
void	config_setstr(char **sp, const char *val, int optional);
/*
 * Set config_fields[id] of cfg from the text val of a flag, parsed as
 * pflag parses that flag's type (a list is comma-separated and a second
 * occurrence appends, featureGates "k=v,k2=v2" merge), and record the
 * flag in cfg->src_line.  Returns 0, or -1 with "--flag: reason" in
 * err; cfg is then unchanged.
 */
int	config_set_field(struct kp_config *cfg, int id, const char *val,
	    char *err, size_t errlen);
/* Find the config_fields row of a JSON key path ("iptables.syncPeriod"). */
int	config_field_find(const char *key);
/* Parse an int32 as Go's strconv.ParseInt(s, 0, 32) does. */
int	config_parse_int32(const char *s, int32_t *v);
/* Parse a float32 as strconv.ParseFloat(s, 32) does (as a double). */
int	config_parse_float32(const char *s, double *v);
/* Set or replace gate name in gs. */
void	config_gates_set(struct config_gates *gs, const char *name, int value);
/* Append a copy of s to l (and mark it set). */
void	config_list_add(struct config_list *l, const char *s);
/* Free the contents of l and zero it. */
void	config_list_clear(struct config_list *l);
/* Free the contents of gs and zero it. */
void	config_gates_clear(struct config_gates *gs);
/* Reset field id of cfg to its value in a fresh config. */
void	config_field_default(struct kp_config *cfg, int id);
/* 1 if field id of cfg holds its type's zero value. */
int	config_field_is_zero(struct kp_config *cfg, int id);
/* Free what cfg holds, move the contents of n into it, and free n. */
void	config_swap(struct kp_config *cfg, struct kp_config *n);
/*
 * Read the --config file path and apply it to cfg (config_file.c).
 * Returns 0, or -1 with "--config: PATH: reason" in err if it cannot be
 * read, or config_parse_yaml's message.
 */
int	config_read_file(struct kp_config *cfg, const char *path, char *err,
	    size_t errlen);
/*
 * Parse s as Go's strconv.ParseBool does (1 t T true TRUE True, and
 * their false forms) into *b.  Returns 0, or -1 if s is none of them.
 */
int	config_parse_gobool(const char *s, int *b);

#endif /* CONFIG_PRIV_H */
