/*
 * config.h: kuproxy's configuration: kube-proxy's flags and its
 * KubeProxyConfiguration file (kubeproxy.config.k8s.io/v1alpha1), plus
 * kuproxy's own flags.
 *
 * A config is built completely (defaults, then the file, then flags,
 * which override the file), defaulted and validated as kube-proxy 1.20
 * does, and only then used or swapped in for the live one.  Parsers are
 * pure: a buffer in, a struct out.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"

#define CONFIG_ERRLEN	512

/* Largest --config file read (at start and at each reload). */
#define CONFIG_MAXFILE	(4 * 1024 * 1024)

/*
 * Compile-time defaults: configure puts the binary paths in DEFS; these
 * fallbacks serve builds without them.  The state directory is not
 * derived from the configure prefix: kube-proxy's peers keep theirs
 * under /var/lib whatever the prefix, and so does kuproxy.
 */
#ifndef STATEDIR
#define STATEDIR	"/var/lib/kuproxy"
#endif
#ifndef IPTABLES_PATH
#define IPTABLES_PATH	"/usr/sbin/iptables"
#endif
#ifndef IP6TABLES_PATH
#define IP6TABLES_PATH	"/usr/sbin/ip6tables"
#endif
#ifndef CONNTRACK_PATH
#define CONNTRACK_PATH	"/usr/sbin/conntrack"
#endif

/* Room in kp_config.src_line for every KubeProxyConfiguration field. */
#define CONFIG_NSRC	48

/* Values of endpoints_source. */
#define CONFIG_EPS_AUTO		0
#define CONFIG_EPS_SLICES	1
#define CONFIG_EPS_ENDPOINTS	2

/* Values of proxy_mode, the mode asked for (kuproxy always runs userspace). */
#define CONFIG_MODE_DEFAULT	0	/* "": kube-proxy would pick iptables */
#define CONFIG_MODE_USERSPACE	1
#define CONFIG_MODE_IPTABLES	2
#define CONFIG_MODE_IPVS	3

/* A []string field (nodePortAddresses, ipvs.excludeCIDRs). */
struct config_list {
	char		**v;
	size_t		  n;
	int		  set;	/* given, even empty ([] rather than null) */
};

/* featureGates: name=bool pairs, sorted by name, each name once. */
struct config_gate {
	char		*name;
	int		 value;
};
struct config_gates {
	struct config_gate *v;
	size_t		 n;
};

/*
 * Every field of kube-proxy 1.20's KubeProxyConfiguration
 * (kubeproxy.config.k8s.io/v1alpha1), with kube-proxy's defaults
 * (SetDefaults_KubeProxyConfiguration), its flags, and kuproxy's own
 * flags.  Durations are Go time.Duration values: signed nanoseconds.
 */
struct kp_config {
	/* KubeProxyConfiguration fields (JSON name, default). */
	char		*bind_address;		/* bindAddress, "0.0.0.0" */
	int		 bind_address_hard_fail; /* bindAddressHardFail */
	char		*cluster_cidr;		/* clusterCIDR, "" */
	/* clientConnection. */
	char		*accept_content_types;	/* acceptContentTypes, "" */
	char		*content_type;		/* contentType, protobuf */
	double		 qps;			/* qps (a float32), 5 */
	int32_t		 burst;			/* burst, 10 */
	char		*kubeconfig;		/* kubeconfig, optional */
	char		*detect_local_mode;	/* detectLocalMode, "" */
	int		 enable_profiling;	/* enableProfiling */
	struct config_gates feature_gates;	/* featureGates */
	char		*healthz_bind_address;	/* "0.0.0.0:10256" */
	char		*metrics_bind_address;	/* "127.0.0.1:10249" */
	char		*hostname_override;	/* hostnameOverride, optional */
	/* iptables. */
	int32_t		 masquerade_bit;	/* masqueradeBit, 14 */
	int		 masquerade_all;	/* masqueradeAll */
	int64_t		 sync_period_ns;	/* syncPeriod, 30s */
	int64_t		 min_sync_period_ns;	/* minSyncPeriod, 1s */
	/* ipvs (validated only in ipvs mode, as kube-proxy does). */
	int64_t		 ipvs_sync_period_ns;	/* syncPeriod, 30s */
	int64_t		 ipvs_min_sync_period_ns; /* minSyncPeriod, 0 */
	char		*ipvs_scheduler;	/* scheduler, "" */
	struct config_list ipvs_exclude_cidrs;	/* excludeCIDRs */
	int		 ipvs_strict_arp;	/* strictARP */
	int64_t		 ipvs_tcp_timeout_ns;	/* tcpTimeout, 0 */
	int64_t		 ipvs_tcpfin_timeout_ns; /* tcpFinTimeout, 0 */
	int64_t		 ipvs_udp_timeout_ns;	/* udpTimeout, 0 */
	int32_t		 oom_score_adj;		/* oomScoreAdj, -999 */
	char		*mode;			/* mode, "" */
	char		*port_range;		/* portRange, "" */
	int64_t		 udp_idle_timeout_ns;	/* udpIdleTimeout, 250ms */
	/* conntrack. */
	int32_t		 conntrack_max_per_core; /* maxPerCore, 32768 */
	int32_t		 conntrack_min;		/* min, 131072 */
	int64_t		 conntrack_tcp_established_ns; /* 24h */
	int64_t		 conntrack_tcp_close_wait_ns;  /* 1h */
	int64_t		 config_sync_period_ns;	/* configSyncPeriod, 15m */
	struct config_list node_port_addresses;	/* nodePortAddresses */
	/* winkernel (Windows only). */
	char		*winkernel_network_name;	/* networkName */
	char		*winkernel_source_vip;		/* sourceVip */
	int		 winkernel_enable_dsr;		/* enableDSR */
	char		*show_hidden_metrics;	/* showHiddenMetricsForVersion */

	/*
	 * Optional strings (kubeconfig, hostname_override, master,
	 * config_file, write_config_to, services_file) are NULL when unset
	 * or set to "".  The other strings are never NULL.
	 */

	/* Flag-only options. */
	char		*config_file;		/* --config */
	char		*master;		/* --master */
	char		*write_config_to;	/* --write-config-to */
	int		 cleanup;		/* --cleanup */
	int		 cleanup_ipvs;		/* --cleanup-ipvs, true */
	int32_t		 healthz_port;		/* --healthz-port, 10256 */
	int32_t		 metrics_port;		/* --metrics-port, 10249 */
	int		 verbosity;		/* -v / --v */
	struct log_opts	 log;			/* klog's flags */

	/* kuproxy's own flags. */
	char		*services_file;		/* --services-file */
	int		 check_only;		/* -n / --check-config */
	char		*state_dir;		/* --state-dir */
	char		*iptables_path;		/* --iptables-path */
	char		*ip6tables_path;	/* --ip6tables-path */
	char		*conntrack_path;	/* --conntrack-path */
	int		 endpoints_source;	/* --endpoints-source */
	uint64_t	 shutdown_grace_ms;	/* --shutdown-grace, 30s */
	unsigned int	 workers;		/* --workers; 0: the CPUs */

	/* Derived by config_validate(). */
	int		 proxy_mode;		/* CONFIG_MODE_* asked for */
	uint64_t	 udp_idle_timeout_ms;	/* the durations in ms, */
	uint64_t	 sync_period_ms;	/* rounded up (1ns -> 1ms) */
	uint64_t	 min_sync_period_ms;
	uint64_t	 config_sync_period_ms;
	struct sockaddr_storage bind_ss;	/* port 0 */
	socklen_t	 bind_len;
	uint16_t	 port_base;		/* proxy port range */
	uint32_t	 port_size;		/* 0: kernel-chosen */
	struct sockaddr_storage healthz_ss;
	socklen_t	 healthz_len;		/* 0: disabled */
	struct sockaddr_storage metrics_ss;
	socklen_t	 metrics_len;		/* 0: disabled */

	/*
	 * The config module's own bookkeeping, so config_validate() can
	 * say where a bad value came from: the file last parsed, and per
	 * field its line there (> 0), -1 if a flag set it, 0 if still the
	 * default.  healthz_port_set and metrics_port_set: the deprecated
	 * port flags were given.  eps_set: --endpoints-source was given.
	 */
	char		*src_file;
	int		 src_line[CONFIG_NSRC];
	int		 healthz_port_set;
	int		 metrics_port_set;
	int		 eps_set;

	/*
	 * The command line config_load() was given (borrowed: main's argv),
	 * so config_reload() can put the same flags over a new file.
	 */
	int		 argc;
	char		**argv;
};

/* The most --workers (workers.h: WORKERS_MAX). */
#define CONFIG_WORKERS_MAX	256

/* What config_load() asks the caller to do. */
#define CONFIG_RUN	0	/* run (or act on cleanup/check_only) */
#define CONFIG_EXIT	1	/* --help, --version, --write-config-to done */

/*
 * Return a new config holding kube-proxy's defaults, owned by the
 * caller.  Never NULL (allocation failure is fatal: start-up only).
 */
struct kp_config *config_new(void);
/* Free a config and every string it holds; NULL is ignored. */
void		 config_free(struct kp_config *);

/*
 * Build a config from the command line: defaults, then the --config
 * file, then every other flag on top, then config_validate().  Returns
 * CONFIG_RUN or CONFIG_EXIT, or -1 with the reason in err: for file
 * values "FILE:LINE: field: reason", for flags "--flag: reason".  Every
 * kube-proxy 1.20 flag is parsed and checked as kube-proxy does; those
 * with no effect in userspace mode are kept with one warning each, and
 * klog's are accepted with one warning each; anything else unknown is
 * an error.
 */
int		 config_load(struct kp_config *, int argc, char **argv,
		    char *err, size_t errlen);
/*
 * Build a config as config_load() built run, but with buf (len bytes,
 * read by the caller from run->config_file) as the --config file's
 * content: defaults, buf, then run's command line on top (flags still
 * override the file), then config_validate().  The one-off flags
 * (--help, --version, --write-config-to) are not acted on, and the
 * per-flag warnings of the start are not repeated.  On success the
 * result is swapped into cfg (a fresh config_new() the caller owns)
 * and 0 is returned; otherwise -1 with config_load()'s messages in err
 * ("FILE:LINE: field: reason" for the file) and cfg unchanged.
 */
int		 config_reload(struct kp_config *cfg, const struct kp_config *run,
		    const char *buf, size_t len, char *err, size_t errlen);
/*
 * Apply a KubeProxyConfiguration YAML/JSON document held in buf to cfg.
 * fname is for messages.  Every v1alpha1 field of Kubernetes 1.20 is
 * read, typed and kept (those with no effect in userspace mode are
 * still validated and written back by --write-config-to, one debug line
 * each); unknown fields are ignored with one log_warnx each, as
 * kube-proxy's lenient fallback decoding does.  A null value leaves the
 * field unset (its default).  Values are checked for their type only:
 * kube-proxy's defaulting (zero values mean the default) and validation
 * happen in config_validate().  Returns 0, or -1 with
 * "FILE:LINE: field: reason" in err (cfg may then be partly updated:
 * parse into a scratch config).
 */
int		 config_parse_yaml(struct kp_config *, const char *buf,
		    size_t len, const char *fname, char *err, size_t errlen);
/*
 * Apply kube-proxy 1.20's defaulting (SetDefaults_KubeProxyConfiguration:
 * a zero value read from the file means the default; flags are taken
 * as given, as kube-proxy does), the deprecated --healthz-port and
 * --metrics-port, then its validation (validation.go, plus the checks
 * kube-proxy makes when it starts: detectLocalMode, hostnameOverride),
 * and fill the derived fields.  Idempotent.  Returns 0, or -1 with
 * "FILE:LINE: field: reason", "--flag: reason" or "field: reason" in
 * err, whichever way the bad value came.
 */
int		 config_validate(struct kp_config *, char *err, size_t errlen);
/*
 * Write cfg as a KubeProxyConfiguration YAML document to fp (not
 * closed): every field, in kube-proxy's --write-config-to layout, so
 * kube-proxy 1.20 decodes it strictly.  Returns 0, or -1 if writing or
 * flushing fp failed.
 */
int		 config_write(const struct kp_config *, FILE *);
/* Print --help to fp.  Cannot fail (write errors are ignored). */
void		 config_usage(FILE *);
/*
 * The line kuproxy logs once at start about the proxy mode asked for
 * (it always runs userspace), and whether it is a warning.  cfg must be
 * validated.  Returns a static string.
 */
const char	*config_mode_note(const struct kp_config *, int *warn);
/*
 * 1 if feature gate name is enabled in cfg's featureGates (over 1.20's
 * defaults, with AllAlpha/AllBeta), 0 if not, -1 if 1.20 has no such
 * gate.
 */
int		 config_gate_enabled(const struct kp_config *, const char *name);
/*
 * Parse a Go duration ("250ms", "1m30s", "2h", "0", "1.5s") into
 * milliseconds.  Returns 0, or -1 with a reason in err (negative
 * durations are refused).
 */
int		 config_parse_duration(const char *, uint64_t *ms, char *err,
		    size_t errlen);
/*
 * Parse a Go duration exactly as time.ParseDuration does, sign
 * included, into nanoseconds.  Returns 0, or -1 with a reason in err.
 */
int		 config_parse_duration_ns(const char *, int64_t *ns, char *err,
		    size_t errlen);
/*
 * Print ms the way Go's time.Duration.String() does ("250ms", "1.5s",
 * "15m0s", "2h0m0s", "0s") into buf.  Returns buf.
 */
const char	*config_format_duration(uint64_t ms, char *buf, size_t len);
/* The same for signed nanoseconds ("1.5µs", "-2m0s"); 32 bytes suffice. */
const char	*config_format_duration_ns(int64_t ns, char *buf, size_t len);

/*
 * Comparing two configs (config_diff.c), for a live reload.  Every
 * KubeProxyConfiguration field and every flag-only option that a new
 * file could change is a key, named by its JSON path
 * ("iptables.syncPeriod") or flag ("v").  A key is live if the running
 * process can take the new value without dropping anything (the sync
 * periods, udpIdleTimeout, portRange for new ports, the health and
 * metrics addresses by a rebind, conntrack.*, oomScoreAdj, -v, and the
 * fields that have no effect in userspace mode), else restart-only (the
 * API server and its credentials, hostnameOverride, bindAddress, mode,
 * featureGates, ...).
 */
#define CONFIG_DIFF_MAX	64	/* more than the keys there are */

struct config_change {
	int		 id;		/* the key's index, for the calls below */
	const char	*key;		/* its name (static) */
	int		 restart;	/* 1: needs a new process */
};

/*
 * Compare a and b key by key (both validated) and write each difference
 * into out (room for max, CONFIG_DIFF_MAX is always enough), in a fixed
 * order: the file's fields sorted by key, then the flag-only options.
 * Pure.  Returns the number of differences found (0: same).
 */
size_t		 config_diff(const struct kp_config *a,
		    const struct kp_config *b, struct config_change *out,
		    size_t max);
/* Count the changes of n that need a restart. */
size_t		 config_diff_nrestart(const struct config_change *, size_t n);
/*
 * Write the keys of the n changes whose restart flag equals restart into
 * buf as "udpIdleTimeout, iptables.syncPeriod" ("" if none), cut to
 * len.  Returns buf.
 */
const char	*config_diff_keys(const struct config_change *, size_t n,
		    int restart, char *buf, size_t len);
/*
 * Take the value of change c (a live one) from n into cfg: the field,
 * the values config_validate() derived from it, and where it came from.
 * The two values are exchanged, so config_free(n) frees the old one.
 * A restart-only change is refused with -1 and nothing moved; 0
 * otherwise.
 */
int		 config_diff_take(struct kp_config *cfg, struct kp_config *n,
		    const struct config_change *c);
/*
 * Format the value that cfg holds for the key of change c into buf, as
 * the file would say it ("30s", "true", "127.0.0.1:10249", a list or
 * featureGates as "a,b" and "k=true,k2=false"), cut to len.  Returns
 * buf.
 */
const char	*config_diff_value(const struct kp_config *cfg,
		    const struct config_change *c, char *buf, size_t len);

#endif /* CONFIG_H */
