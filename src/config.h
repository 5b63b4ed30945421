/*
 * config.h: kuproxy's configuration: kube-proxy's flags and its
 * KubeProxyConfiguration file (kubeproxy.config.k8s.io/v1alpha1), plus
 * kuproxy's own flags.
 *
 * A config is built completely (defaults, then the file, then flags,
 * which override the file), validated, and only then used or swapped in
 * for the live one.  Parsers are pure: a buffer in, a struct out.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"

#define CONFIG_ERRLEN	512

/*
 * Compile-time defaults: Makefile.am passes STATEDIR and configure the
 * binary paths in DEFS; these fallbacks serve builds without them.
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
#define CONFIG_NSRC	16

/* Values of endpoints_source. */
#define CONFIG_EPS_AUTO		0
#define CONFIG_EPS_SLICES	1
#define CONFIG_EPS_ENDPOINTS	2

struct kp_config {
	/* KubeProxyConfiguration fields that userspace mode uses. */
	char		*bind_address;		/* bindAddress, "0.0.0.0" */
	char		*port_range;		/* portRange, "" */
	uint64_t	 udp_idle_timeout_ms;	/* udpIdleTimeout, 250ms */
	uint64_t	 sync_period_ms;	/* iptables.syncPeriod, 30s */
	uint64_t	 min_sync_period_ms;	/* iptables.minSyncPeriod, 1s */
	uint64_t	 config_sync_period_ms;	/* configSyncPeriod, 15m */
	char		*healthz_bind_address;	/* "0.0.0.0:10256" */
	char		*metrics_bind_address;	/* "127.0.0.1:10249" */
	/* clientConnection.kubeconfig */
	char		*kubeconfig;
	char		*hostname_override;	/* hostnameOverride */
	char		*mode;			/* mode: "" or "userspace" */

	/*
	 * Optional strings (kubeconfig, hostname_override, master,
	 * config_file, write_config_to, services_file) are NULL when unset
	 * or set to "".  The others are never NULL.
	 */

	/* Flag-only options. */
	char		*config_file;		/* --config */
	char		*master;		/* --master */
	char		*write_config_to;	/* --write-config-to */
	int		 cleanup;		/* --cleanup */
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

	/* Derived by config_validate(). */
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
	 * default.
	 */
	char		*src_file;
	int		 src_line[CONFIG_NSRC];
};

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
 * file, then every other flag on top.  Validates the result.  Returns
 * CONFIG_RUN or CONFIG_EXIT, or -1 with the reason in err: for file
 * values "FILE:LINE: field: reason", for flags "--flag: reason".
 * Unknown kube-proxy flags that do not apply to userspace mode are
 * accepted with one warning each; anything else unknown is an error.
 */
int		 config_load(struct kp_config *, int argc, char **argv,
		    char *err, size_t errlen);
/*
 * Apply a KubeProxyConfiguration YAML/JSON document held in buf to cfg.
 * fname is for messages.  Fields userspace mode does not use are
 * accepted and ignored (one debug line each); unknown fields are
 * ignored with one log_warnx each, as kube-proxy's lenient fallback
 * decoding does.  A null value keeps the current value.  Returns 0, or
 * -1 with "FILE:LINE: field: reason" in err (cfg may then be partly
 * updated: parse into a scratch config).
 */
int		 config_parse_yaml(struct kp_config *, const char *buf,
		    size_t len, const char *fname, char *err, size_t errlen);
/*
 * Check cross-field rules and fill the derived fields.  Returns 0, or
 * -1 with "field: reason" in err.
 */
int		 config_validate(struct kp_config *, char *err, size_t errlen);
/*
 * Write cfg as a KubeProxyConfiguration YAML document to fp (not
 * closed).  Returns 0, or -1 if writing or flushing fp failed.
 */
int		 config_write(const struct kp_config *, FILE *);
/* Print --help to fp.  Cannot fail (write errors are ignored). */
void		 config_usage(FILE *);
/*
 * Parse a Go duration ("250ms", "1m30s", "2h", "0", "1.5s") into
 * milliseconds.  Returns 0, or -1 with a reason in err.
 */
int		 config_parse_duration(const char *, uint64_t *ms, char *err,
		    size_t errlen);
/*
 * Print ms the way Go's time.Duration.String() does ("250ms", "1.5s",
 * "15m0s", "2h0m0s", "0s") into buf.  Returns buf.
 */
const char	*config_format_duration(uint64_t ms, char *buf, size_t len);

#endif /* CONFIG_H */
