/*
 * config_priv.h: what config.c (defaults, field setting, validation,
 * output), config_flags.c (the command line) and config_file.c (the
 * KubeProxyConfiguration file) share.  Nothing else includes it.
 *
 * The centre is config_fields: one row per KubeProxyConfiguration key
 * that userspace mode honours, naming its flag too, so that a value
 * from either source is checked and reported the same way.
 */
#ifndef CONFIG_PRIV_H
#define CONFIG_PRIV_H

#include <stddef.h>

#include "config.h"

#define CONFIG_API_VERSION	"kubeproxy.config.k8s.io/v1alpha1"
#define CONFIG_KIND		"KubeProxyConfiguration"
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

/* A KubeProxyConfiguration key that userspace mode honours. */
struct config_field {
	const char	*key;		/* "iptables.syncPeriod" */
	const char	*flag;		/* "iptables-sync-period" */
	enum config_type type;
	size_t		 off;		/* member of struct kp_config */
	int		(*check)(const char *, int, char *, size_t);
};

extern const struct config_field config_fields[CF_NFIELDS];

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
 * Set config_fields[id] of cfg from the text val, found at src (as for
 * config_fail), and record src in cfg->src_line.  Returns 0, or -1 with
 * the reason in err (config_fail's form); cfg is then unchanged.
 */
int	config_set_field(struct kp_config *cfg, int id, const char *val,
	    int src, char *err, size_t errlen);
/* Free what cfg holds, move the contents of n into it, and free n. */
void	config_swap(struct kp_config *cfg, struct kp_config *n);
/*
 * Read the --config file path and apply it to cfg (config_file.c).
 * Returns 0, or -1 with "--config: PATH: reason" in err if it cannot be
 * read, or config_parse_yaml's message.
 */
int	config_read_file(struct kp_config *cfg, const char *path, char *err,
	    size_t errlen);

#endif /* CONFIG_PRIV_H */
