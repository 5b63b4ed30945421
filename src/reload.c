/*
 * reload.c: live reload of the --config file (see reload.h).
 *
 * Order of a reload: build the new config completely (nothing running
 * is touched if it is bad), rebind the health and metrics servers whose
 * address changed (a failed bind keeps the old address, which the
 * running config then keeps too, so /configz never claims an address
 * not served), take every other live value into the running config,
 * then tell each module through its narrow setter.  The proxier, the
 * metrics server and the rules layer borrow the running config, so a
 * value read later (minSyncPeriod, portRange in a log line) is the new
 * one without a setter.
 */
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "config.h"
#include "confwatch.h"
#include "log.h"
#include "metrics.h"
#include "nodetune.h"
#include "proxier.h"
#include "reload.h"
#include "xmalloc.h"

/* What a set of live changes asks of the modules. */
#define RELOAD_F_SYNC		0x01	/* proxier_set_sync_periods */
#define RELOAD_F_UDP		0x02	/* proxier_set_udp_idle_timeout */
#define RELOAD_F_PORTS		0x04	/* proxier_set_port_range */
#define RELOAD_F_CONNTRACK	0x08	/* nodetune_apply_conntrack */
#define RELOAD_F_OOM		0x10	/* nodetune_apply_oom */
#define RELOAD_F_VERBOSITY	0x20	/* log_setverbose */
#define RELOAD_F_HEALTHZ	0x40	/* metrics_rebind */
#define RELOAD_F_METRICS	0x80	/* metrics_rebind */

/* The live keys that need a module told; the others are just taken. */
static const struct {
	const char	*key;
	int		 flag;
} reload_actions[] = {
	{ "iptables.syncPeriod",		RELOAD_F_SYNC },
	{ "iptables.minSyncPeriod",		RELOAD_F_SYNC },
	{ "udpIdleTimeout",			RELOAD_F_UDP },
	{ "portRange",				RELOAD_F_PORTS },
	{ "conntrack.maxPerCore",		RELOAD_F_CONNTRACK },
	{ "conntrack.min",			RELOAD_F_CONNTRACK },
	{ "conntrack.tcpCloseWaitTimeout",	RELOAD_F_CONNTRACK },
	{ "conntrack.tcpEstablishedTimeout",	RELOAD_F_CONNTRACK },
	{ "oomScoreAdj",			RELOAD_F_OOM },
	{ "v",					RELOAD_F_VERBOSITY },
	{ "healthzBindAddress",			RELOAD_F_HEALTHZ },
	{ "metricsBindAddress",			RELOAD_F_METRICS },
};

struct reload {
	struct kp_config	*cfg;		/* running, borrowed */
	struct kp_config	*pending;	/* restart-only values, or NULL */
	struct proxier		*proxier;
	struct metrics		*metrics;
	struct confwatch	*watch;
	int			 last;		/* last reload: 0 ok, -1 bad */
};

/* Return the RELOAD_F_* flag of a live key (0: nothing to tell). */
static int
reload_flag(const char *key)
{
	size_t	i;

	for (i = 0; i < sizeof(reload_actions) / sizeof(reload_actions[0]);
	    i++)
		if (strcmp(reload_actions[i].key, key) == 0)
			return (reload_actions[i].flag);
	return (0);
}

/*
 * Move the health or metrics server to n's address.  Returns 0 if it
 * moved (the value may be taken), -1 if not (the old one still serves).
 */
static int
reload_rebind(struct reload *r, struct kp_config *n, int flag)
{
	if (r->metrics == NULL)
		return (0);
	if (flag == RELOAD_F_HEALTHZ)
		return (metrics_rebind(r->metrics, METRICS_SRV_HEALTHZ,
		    n->healthz_bind_address, &n->healthz_ss, n->healthz_len));
	return (metrics_rebind(r->metrics, METRICS_SRV_METRICS,
	    n->metrics_bind_address, &n->metrics_ss, n->metrics_len));
}

/* Tell the modules what the flags say changed in the running config. */
static void
reload_tell(struct reload *r, int flags)
{
	const struct kp_config	*cfg = r->cfg;

	if (flags & RELOAD_F_SYNC)
		proxier_set_sync_periods(r->proxier, cfg->sync_period_ms,
		    cfg->min_sync_period_ms);
	if (flags & RELOAD_F_UDP)
		proxier_set_udp_idle_timeout(r->proxier,
		    cfg->udp_idle_timeout_ms);
	if (flags & RELOAD_F_PORTS)
		proxier_set_port_range(r->proxier, cfg->port_base,
		    cfg->port_size);
	if (flags & RELOAD_F_CONNTRACK)
		nodetune_apply_conntrack(cfg, "", nodetune_ncpu());
	if (flags & RELOAD_F_OOM)
		nodetune_apply_oom(cfg, "");
	if (flags & RELOAD_F_VERBOSITY)
		log_setverbose(cfg->verbosity);
}

/* Append key to the list in buf ("a, b"). */
static void
reload_list_add(char *buf, size_t len, const char *key)
{
	size_t	used = strlen(buf);

	snprintf(buf + used, len - used, "%s%s", used > 0 ? ", " : "", key);
}

/*
 * Apply the live changes c[0..nc) of n to the running config and the
 * modules; write the keys applied into keys and those that could not
 * be (a server address that cannot be bound) into failed.
 */
static void
reload_apply(struct reload *r, struct kp_config *n,
    const struct config_change *c, size_t nc, char *keys, char *failed,
    size_t len)
{
	size_t	i;
	int	flag, flags = 0;

	keys[0] = failed[0] = '\0';
	for (i = 0; i < nc; i++) {
		if (c[i].restart)
			continue;
		flag = reload_flag(c[i].key);
		if (((flag & (RELOAD_F_HEALTHZ | RELOAD_F_METRICS)) &&
		    reload_rebind(r, n, flag) == -1) ||
		    config_diff_take(r->cfg, n, &c[i]) == -1) {
			reload_list_add(failed, len, c[i].key);
			continue;
		}
		flags |= flag;
		reload_list_add(keys, len, c[i].key);
	}
	reload_tell(r, flags);
}

/*
 * Keep n as the pending config if it differs from the running one in
 * a restart-only key, logging it only if that differs from what was
 * already pending (so an unrelated edit does not repeat the line).
 * Takes n.
 */
static void
reload_pending(struct reload *r, struct kp_config *n,
    const struct config_change *c, size_t nc)
{
	struct config_change	 pc[CONFIG_DIFF_MAX];
	char			 keys[512];
	size_t			 np;

	if (config_diff_nrestart(c, nc) == 0) {
		if (r->pending != NULL)
			log_info("config %s: restart-only fields back to the "
			    "running values; nothing pending",
			    r->cfg->config_file);
		config_free(n);
		n = NULL;
	} else {
		np = r->pending == NULL ? 0 :
		    config_diff(r->pending, n, pc, CONFIG_DIFF_MAX);
		if (r->pending == NULL || config_diff_nrestart(pc, np) > 0)
			log_warnx("config %s: %s changed: needs a restart "
			    "(pending in /configz)", r->cfg->config_file,
			    config_diff_keys(c, nc, 1, keys, sizeof(keys)));
	}
	metrics_set_pending(r->metrics, n);
	config_free(r->pending);
	r->pending = n;
}

/* The file's content changed (the watcher's observer): reload. */
static void
reload_changed(void *arg, const char *buf, size_t len)
{
	struct reload		*r = arg;
	struct kp_config	*n;
	struct config_change	 c[CONFIG_DIFF_MAX];
	char			 err[CONFIG_ERRLEN], keys[1024], failed[1024];
	size_t			 nc, nlive;

	n = config_new();
	if (config_reload(n, r->cfg, buf, len, err, sizeof(err)) == -1) {
		log_warnx("config reload from %s rejected, running "
		    "configuration kept: %s", r->cfg->config_file, err);
		config_free(n);
		r->last = -1;
		return;
	}
	r->last = 0;
	nc = config_diff(r->cfg, n, c, CONFIG_DIFF_MAX);
	nlive = nc - config_diff_nrestart(c, nc);
	reload_apply(r, n, c, nc, keys, failed, sizeof(keys));
	if (keys[0] != '\0')
		log_info("config reloaded from %s: changed %s",
		    r->cfg->config_file, keys);
	else if (nc == 0)
		log_info("config reloaded from %s: no change",
		    r->cfg->config_file);
	else if (nlive == 0)
		log_info("config reloaded from %s: no live change (%zu "
		    "restart-only)", r->cfg->config_file, nc);
	if (failed[0] != '\0')
		log_warnx("config %s: %s not applied (see above), the "
		    "running value kept; tried again at the next change or "
		    "SIGHUP", r->cfg->config_file, failed);
	/* n holds the old live values now; its restart-only ones are new. */
	reload_pending(r, n, c, nc);
}

/* Watch the --config file. */
struct reload *
reload_new(struct event_base *base, struct kp_config *cfg,
    struct proxier *proxier, struct metrics *metrics)
{
	struct confwatch_observer	 obs;
	struct reload			*r;
	char				 err[CONFIG_ERRLEN];

	if (cfg->config_file == NULL)
		return (NULL);
	r = xcalloc(1, sizeof(*r));
	r->cfg = cfg;
	r->proxier = proxier;
	r->metrics = metrics;
	memset(&obs, 0, sizeof(obs));
	obs.changed = reload_changed;
	obs.arg = r;
	r->watch = confwatch_new(base, cfg->config_file, CONFIG_MAXFILE, &obs,
	    err, sizeof(err));
	if (r->watch == NULL) {
		log_warnx("config %s; its changes will not be seen", err);
		free(r);
		return (NULL);
	}
	log_info("config %s: watching for changes (live reload)",
	    cfg->config_file);
	return (r);
}

/* Re-read the file now. */
int
reload_now(struct reload *r)
{
	if (r == NULL)
		return (0);
	if (confwatch_check(r->watch, 1) == -1)
		return (-1);
	return (r->last);
}

/* Stop watching and free. */
void
reload_free(struct reload *r)
{
	if (r == NULL)
		return;
	metrics_set_pending(r->metrics, NULL);
	confwatch_free(r->watch);
	config_free(r->pending);
	free(r);
}
