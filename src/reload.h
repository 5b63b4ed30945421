/*
 * reload.h: live reload of the --config file.
 *
 *	confwatch (inotify, ..data swap, SIGHUP) --(content changed)-->
 *	config_reload (parse, default, validate the whole file) -->
 *	config_diff (running vs new, key by key) -->
 *	    live keys:    the module setters, then taken into the running
 *	                  config (the one every module borrows)
 *	    restart-only: kept aside as the pending config, logged once,
 *	                  shown in /configz under "pending"
 *
 * A file that fails to parse or validate is rejected as a whole: one
 * log line with FILE:LINE, and nothing changes.  The lines an operator
 * (or a test) can rely on, PATH being the --config argument:
 *
 *	config reloaded from PATH: changed KEY, KEY...
 *	config reloaded from PATH: no change
 *	config reloaded from PATH: no live change (N restart-only)
 *	config reload from PATH rejected, running configuration kept: ERR
 *	config PATH: KEY, KEY... changed: needs a restart (pending in
 *	    /configz)				(once per distinct change)
 *	config PATH: restart-only fields back to the running values;
 *	    nothing pending
 *	config PATH: KEY not applied (see above), the running value kept;
 *	    tried again at the next change or SIGHUP
 *
 * KEY is the file's JSON path (udpIdleTimeout, iptables.syncPeriod).
 */
#ifndef RELOAD_H
#define RELOAD_H

struct event_base;
struct kp_config;
struct metrics;
struct proxier;
struct reload;

/*
 * Watch cfg->config_file and apply its changes to cfg (the running
 * config: borrowed, updated in place, so it must outlive the result),
 * proxier and metrics (borrowed; metrics may be NULL).  Returns NULL if
 * no --config file was given or it cannot be read now (logged): then
 * there is nothing to reload, and the reload_* calls accept NULL.
 */
struct reload	*reload_new(struct event_base *, struct kp_config *cfg,
		    struct proxier *, struct metrics *);
/*
 * Re-read the file now (SIGHUP), even if its content looks unchanged.
 * Returns 0 if it was read and applied (or was the same), -1 if it is
 * unreadable or rejected (logged; the running configuration stays).
 * NULL: returns 0.
 */
int		 reload_now(struct reload *);
/* Stop watching and free (pending is cleared from metrics); NULL ignored. */
void		 reload_free(struct reload *);

#endif /* RELOAD_H */
