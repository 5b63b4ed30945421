/*
 * main.c: kuproxy, the Kubernetes userspace service proxy.
 *
 * Parse the configuration, then wire the one-way pipeline
 *	source (services file or API server) --> model --> proxier -->
 *	relays + rules
 * on one libevent loop and run it until SIGTERM or SIGINT, telling systemd
 * how it goes (sdnotify.h): READY=1 once the rules of the first full sync
 * are applied (the proxier's observer), STATUS= lines, RELOADING=1 around
 * a SIGHUP reload (of the --config file and the services file; the
 * --config file is also reloaded live when it changes, reload.h),
 * STOPPING=1, and the watchdog.
 *
 * Restart without refusals (the main_life_* functions): listening
 * sockets come from systemd (LISTEN_FDS) or from a running kuproxy
 * (handoff.h) into a sockpool the proxier takes them from; once ready,
 * this process offers its own on the hand-off socket and tells the
 * predecessor to drain.  SIGTERM drains (drain.h) with the listeners
 * still accepting; SIGUSR2 starts a new copy of the binary (reexec.h)
 * that takes over the same way.  The source is
 * the services file when --services-file is given, else the API server:
 * from --kubeconfig (its server overridden by --master), --master alone,
 * or in-cluster when neither is given, as kube-proxy does.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "drain.h"
#include "evrun.h"
#include "handoff.h"
#include "iptables.h"
#include "k8s_watch.h"
#include "kubeconfig.h"
#include "lb.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "migrate.h"
#include "model.h"
#include "monotime.h"
#include "nodetune.h"
#include "proxier.h"
#include "reexec.h"
#include "reload.h"
#include "sdnotify.h"
#include "sockpool.h"
#include "svcfile.h"
#include "svcfile_parse.h"
#include "workers.h"
#include "xmalloc.h"

/* How long a re-exec child may take to serve (SIGUSR2). */
#define MAIN_UPGRADE_S	60
#define MAIN_BUSY_POLL_US 0	/* evrun window unless KUPROXY_BUSY_POLL_US */

struct main_ctx {
	struct event_base	*base;
	struct svcfile		*svcfile;
	struct k8s_watch	*watch;
	struct model		*model;
	struct proxier		*proxier;
	struct reload		*reload;	/* NULL: no --config file */
	struct metrics		*metrics;	/* health and metrics servers */
	char			*source;	/* for STATUS= lines */
	struct sdnotify		*notify;	/* NULL: not Type=notify */
	char			 status[SDNOTIFY_MSGLEN]; /* last sent */
	uint64_t		 failures;	/* rule applications failed */
	int			 ready;		/* READY=1 sent */
	struct main_life	*life;		/* hand-off, drain, re-exec */
};

/* Restart and upgrade without refusals; graceful drain. */
struct main_life {
	struct sockpool		*pool;		/* inherited listeners */
	struct handoff		*handoff;	/* offered to a successor */
	int			 conn;		/* to the predecessor, -1 */
	struct drain		*drain;
	struct event		*sigusr2;
	struct event		*upgrade_ev;	/* watches a re-exec child */
	pid_t			 upgrade_pid;	/* 0: none */
	uint64_t		 upgrade_deadline_ms;
	int			 retired;	/* a successor serves */
	int			 idle;		/* drained, waiting for SIGTERM */
};

static void	main_life_ready(struct main_ctx *);

/* Send head and a STATUS= line, the line only when it changed. */
static void
main_notify(struct main_ctx *ctx, const char *head, const char *status)
{
	if (head == NULL && strcmp(status, ctx->status) == 0)
		return;
	snprintf(ctx->status, sizeof(ctx->status), "%s", status);
	sdnotify_send(ctx->notify, head, status);
}

/* Count the endpoints of a live service port. */
static void
main_count_port(const struct proxier_portinfo *pi, void *arg)
{
	size_t	*n = arg;

	n[0]++;
	n[1] += lb_count(pi->lb);
}

/* Describe what is served: "serving 3 Services (4 ports), 7 endpoints". */
static void
main_serving(struct main_ctx *ctx, char *buf, size_t len)
{
	size_t	n[2] = { 0, 0 };

	proxier_foreach_port(ctx->proxier, main_count_port, n);
	snprintf(buf, len, "serving %zu Services (%zu ports), %zu endpoints; "
	    "source: %s", model_nservices(ctx->model), n[0], n[1],
	    ctx->source);
}

/* Rules applied (the proxier's observer): READY=1 the first time. */
static void
main_rules_applied(void *arg)
{
	struct main_ctx	*ctx = arg;
	char		 buf[SDNOTIFY_MSGLEN];

	main_serving(ctx, buf, sizeof(buf));
	if (!ctx->ready) {
		ctx->ready = 1;
		log_info("ready: the first rules are applied (%s)", buf);
		main_notify(ctx, "READY=1\n", buf);
		main_life_ready(ctx);
	} else
		main_notify(ctx, NULL, buf);
}

/* A rule application failed (the proxier's observer): say so. */
static void
main_rules_failed(void *arg)
{
	struct main_ctx	*ctx = arg;
	char		 buf[SDNOTIFY_MSGLEN], serving[SDNOTIFY_MSGLEN / 2];

	ctx->failures++;
	if (ctx->ready) {
		main_serving(ctx, serving, sizeof(serving));
		snprintf(buf, sizeof(buf), "rules sync failing (%llu failures "
		    "so far), retrying; %s", (unsigned long long)ctx->failures,
		    serving);
	} else
		snprintf(buf, sizeof(buf), "not ready: the first rules sync is "
		    "failing (%llu failures so far), retrying; see the log",
		    (unsigned long long)ctx->failures);
	main_notify(ctx, NULL, buf);
}

/* Say what start-up waits for now that the source is set up. */
static void
main_notify_waiting(struct main_ctx *ctx)
{
	char	buf[SDNOTIFY_MSGLEN];

	if (model_is_synced(ctx->model))
		snprintf(buf, sizeof(buf), "applying the first rules; "
		    "source: %s", ctx->source);
	else if (ctx->svcfile != NULL)
		snprintf(buf, sizeof(buf), "waiting for a valid services file "
		    "(%s)", ctx->source);
	else
		snprintf(buf, sizeof(buf), "waiting for the first full list of "
		    "Services and endpoints from %s", ctx->source);
	main_notify(ctx, NULL, buf);
}

/* Log, once, what kuproxy does with the proxy mode it was asked for. */
static void
main_mode_note(const struct kp_config *cfg)
{
	const char	*note;
	int		 warn;

	note = config_mode_note(cfg, &warn);
	if (warn)
		log_warnx("%s", note);
	else
		log_info("%s", note);
}

/*
 * Return the busy-poll window of the main loop in microseconds (see
 * evrun.h): KUPROXY_BUSY_POLL_US if set to 0-1000, else the default.
 */
static unsigned int
main_busy_poll_us(void)
{
	const char	*s = getenv("KUPROXY_BUSY_POLL_US");
	char		*end;
	unsigned long	 us;

	if (s == NULL || *s == '\0')
		return (MAIN_BUSY_POLL_US);
	errno = 0;
	us = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || us > 1000) {
		log_warnx("KUPROXY_BUSY_POLL_US=%s: not 0-1000 microseconds; "
		    "using %u", s, MAIN_BUSY_POLL_US);
		return (MAIN_BUSY_POLL_US);
	}
	return ((unsigned int)us);
}

/* Raise the soft descriptor limit to the hard one; never fatal. */
static void
main_rlimit(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("getrlimit(RLIMIT_NOFILE)");
		return;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
			log_warn("cannot raise the open files limit to %llu",
			    (unsigned long long)rl.rlim_max);
			return;
		}
	}
	log_info("open files limit: %llu", (unsigned long long)rl.rlim_cur);
}

/*
 * The drain is over: leave the loop; teardown follows in main.  But a
 * container's main process (PID 1) whose listeners a successor took
 * stays, idle, until SIGTERM: its exit would have the kubelet restart
 * the container while its pod exists (a DaemonSet rolled with
 * maxSurge), and the restarted kuproxy would take the sockets back.
 * Idle, it gives up the health and metrics ports (the successor binds
 * them), the hand-off socket, the config watch and the API watch.
 */
static void
main_drained(void *arg)
{
	struct main_ctx		*ctx = arg;
	struct main_life	*life = ctx->life;

	if (!life->retired || getpid() != 1) {
		event_base_loopbreak(ctx->base);
		return;
	}
	life->idle = 1;
	handoff_free(life->handoff);
	life->handoff = NULL;
	reload_free(ctx->reload);
	ctx->reload = NULL;
	metrics_set_watch(ctx->metrics, NULL);
	metrics_free(ctx->metrics);
	ctx->metrics = NULL;
	k8s_watch_free(ctx->watch);
	ctx->watch = NULL;
	svcfile_free(ctx->svcfile);
	ctx->svcfile = NULL;
	log_info("drained after the hand-off: idle until SIGTERM (PID 1: an "
	    "exit would restart this container)");
}

/*
 * Drain on SIGTERM or SIGINT (drain.h): the listeners keep accepting
 * unless a successor took them, since closing them would refuse every
 * new connection until the next process starts.  A second SIGINT stops
 * at once; a second SIGTERM changes nothing.
 */
static void
main_sigterm(evutil_socket_t sig, short ev, void *arg)
{
	struct main_ctx	*ctx = arg;
	char		 buf[128], why[32];

	if (ctx->life->idle) {
		log_info("signal %d: stopping (idle since the hand-off)",
		    (int)sig);
		event_base_loopbreak(ctx->base);
		return;
	}
	if (drain_active(ctx->life->drain)) {
		if (sig == SIGINT) {
			log_info("signal %d again: stopping now", (int)sig);
			event_base_loopbreak(ctx->base);
		} else
			log_info("signal %d: already draining", (int)sig);
		return;
	}
	log_info("signal %d: shutting down", (int)sig);
	snprintf(buf, sizeof(buf), "stopping (signal %d): draining %llu "
	    "connections and flows", (int)sig,
	    (unsigned long long)proxier_active(ctx->proxier));
	main_notify(ctx, "STOPPING=1\n", buf);
	snprintf(why, sizeof(why), "signal %d", (int)sig);
	drain_start(ctx->life->drain, why);
}

/*
 * SIGHUP: re-read the --config file and the services file.  Returns 0,
 * or -1 if either was rejected (each logged; the previous state kept).
 */
static int
main_reload_files(struct main_ctx *ctx)
{
	int	rv = 0;

	if (reload_now(ctx->reload) == -1)
		rv = -1;
	if (ctx->svcfile != NULL && svcfile_reload(ctx->svcfile) == -1)
		rv = -1;
	return (rv);
}

/* Re-read the --config file and the services file on SIGHUP. */
static void
main_sighup(evutil_socket_t sig, short ev, void *arg)
{
	struct main_ctx	*ctx = arg;
	struct timespec	 ts;
	char		 head[64], buf[SDNOTIFY_MSGLEN];
	int		 rv;

	if (ctx->svcfile != NULL || ctx->reload != NULL) {
		log_info("SIGHUP: reloading");
		/*
		 * systemd holds "reloading" from RELOADING=1 to READY=1;
		 * before the first READY=1 there is nothing to hold.
		 */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		snprintf(head, sizeof(head), "RELOADING=1\nMONOTONIC_USEC=%llu\n",
		    (unsigned long long)ts.tv_sec * 1000000 +
		    (unsigned long long)ts.tv_nsec / 1000);
		snprintf(buf, sizeof(buf), "reloading %s", ctx->source);
		if (ctx->ready)
			main_notify(ctx, head, buf);
		rv = main_reload_files(ctx);
		if (rv == 0)
			snprintf(buf, sizeof(buf), "reloaded %s", ctx->source);
		else
			snprintf(buf, sizeof(buf), "reload of %s rejected, the "
			    "previous state kept (see the log)", ctx->source);
		main_notify(ctx, ctx->ready ? "READY=1\n" : NULL, buf);
	} else
		log_info("SIGHUP: nothing to reload (no --config file, and "
		    "the API server is watched)");
}

/*
 * Decide how to reach the API server, as kube-proxy does: the --kubeconfig
 * file with --master overriding its server, --master alone (no
 * credentials), else the in-cluster service account.  Returns 0, or -1
 * with a reason in err.
 */
static int
main_kubeconfig(const struct kp_config *cfg, struct kubeconfig *kc,
    char *err, size_t errlen)
{
	memset(kc, 0, sizeof(*kc));
	if (cfg->kubeconfig != NULL) {
		if (kubeconfig_load(cfg->kubeconfig, kc, err, errlen) == -1)
			return (-1);
	} else if (cfg->master == NULL) {
		if (kubeconfig_incluster(NULL, kc, err, errlen) == -1)
			return (-1);
	} else
		log_warnx("--master without --kubeconfig: talking to the API "
		    "server without credentials");
	if (cfg->master != NULL) {
		free(kc->server);
		kc->server = xstrdup(cfg->master);
	}
	return (0);
}

/* Pass the Node's address the API source found to the proxier. */
static void
main_node_ip(void *arg, const char *ip)
{
	proxier_set_node_ip(arg, ip);
}

/*
 * Start watching the API server; fatal if it cannot even be set up.
 * *source is set to "the API server URL" (the caller frees it).
 */
static struct k8s_watch *
main_watch(struct event_base *base, const struct kp_config *cfg,
    struct model *model, struct proxier *proxier, char **source)
{
	struct k8s_watch_opts	 opts;
	struct k8s_watch	*w;
	struct kubeconfig	 kc;
	char			 err[CONFIG_ERRLEN];

	if (main_kubeconfig(cfg, &kc, err, sizeof(err)) == -1)
		fatalx("%s", err);
	memset(&opts, 0, sizeof(opts));
	opts.node_name = cfg->hostname_override;
	opts.endpoints_source = cfg->endpoints_source;
	opts.node_ip_cb = main_node_ip;
	opts.node_ip_arg = proxier;
	w = k8s_watch_new(base, &kc, model, &opts, err, sizeof(err));
	free(*source);
	xasprintf(source, "the API server %s", kc.server != NULL ? kc.server :
	    "(in-cluster)");
	kubeconfig_clear(&kc);
	if (w == NULL)
		fatalx("%s", err);
	return (w);
}

/*
 * Remove the rules of kube-proxy's three modes, v4 and v6, the ipvs
 * link and ipsets, as kube-proxy's --cleanup does (--cleanup).
 */
static int
main_cleanup(const struct kp_config *cfg)
{
	const char	*paths[2] = { cfg->iptables_path, cfg->ip6tables_path };
	const int	 families[2] = { AF_INET, AF_INET6 };
	const char	*ipset = migrate_ipset_path(cfg->iptables_path);
	struct ipt	*ipt;
	char		 err[IPT_ERRLEN];
	int		 i, rv = 0;

	for (i = 0; i < 2; i++) {
		if ((ipt = ipt_new(paths[i], families[i])) == NULL)
			continue;
		if (migrate_cleanup(ipt, families[i], ipset, err,
		    sizeof(err)) == -1) {
			log_errorx("cleanup: %s", err);
			rv = 1;
		}
		ipt_free(ipt);
	}
	return (rv);
}

/* Check the services file or kubeconfig too, then say so (-n). */
static int
main_check(const struct kp_config *cfg)
{
	struct svcfile_objs	 objs;
	char			 err[CONFIG_ERRLEN];
	char			*buf;
	size_t			 len;
	int			 warn;

	if (cfg->services_file != NULL) {
		/* As the daemon reads it: a bounded, regular file. */
		if (svcfile_read(cfg->services_file, &buf, &len, NULL, err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "kuproxy: %s\n", err);
			return (1);
		}
		if (svcfile_parse(buf, len, cfg->services_file, &objs, err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "kuproxy: %s\n", err);
			free(buf);
			return (1);
		}
		printf("%s: %zu services, %zu endpoints\n", cfg->services_file,
		    objs.nsvcs, objs.neps);
		svcfile_objs_free(&objs);
		free(buf);
	} else if (cfg->kubeconfig != NULL) {
		struct kubeconfig	kc;

		if (main_kubeconfig(cfg, &kc, err, sizeof(err)) == -1) {
			fprintf(stderr, "kuproxy: %s\n", err);
			return (1);
		}
		printf("%s: API server %s\n", cfg->kubeconfig, kc.server);
		kubeconfig_clear(&kc);
	}
	printf("%s\nconfiguration OK\n", config_mode_note(cfg, &warn));
	return (0);
}

/* Send one fd-store message for fd (FDSTORE=1) or none (FDSTOREREMOVE). */
static void
main_fdstore(struct main_ctx *ctx, const char *name, int fd)
{
	char	msg[SOCKPOOL_NAMEMAX + 64];

	if (sdnotify_fdstore_max(ctx->notify) == 0)
		return;
	if (fd != -1) {
		/* FDPOLL=0: a listener never hangs up; no need to watch. */
		snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s\nFDPOLL=0\n",
		    name);
		sdnotify_send_fds(ctx->notify, msg, &fd, 1);
	} else {
		snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s\n",
		    name);
		sdnotify_send_fds(ctx->notify, msg, NULL, 0);
	}
}

/*
 * A listener is open (the proxier's observer): into systemd's fd store,
 * so that `systemctl restart` keeps it open across the gap.  One already
 * stored (the same socket) is stored once: systemd compares them.
 */
static void
main_listener_opened(void *arg, const char *name, int fd)
{
	main_fdstore(arg, name, fd);
}

/* A listener is closed for good: out of the fd store. */
static void
main_listener_closed(void *arg, const char *name)
{
	main_fdstore(arg, name, -1);
}

/* Give the hand-off server the listeners (handoff_ops.listeners). */
static void
main_life_listeners(void *arg, void (*add)(void *, const char *, int),
    void *actx)
{
	struct main_ctx	*ctx = arg;

	proxier_foreach_listener(ctx->proxier, add, actx);
}

/* Stop watching a re-exec child. */
static void
main_upgrade_forget(struct main_life *life)
{
	life->upgrade_pid = 0;
	evtimer_del(life->upgrade_ev);
}

/*
 * A successor serves every listener (handoff_ops.successor): stop
 * accepting, make it systemd's main process, and drain.
 */
static void
main_life_successor(void *arg, pid_t pid)
{
	struct main_ctx		*ctx = arg;
	struct main_life	*life = ctx->life;
	char			 head[64], buf[128];

	if (life->upgrade_pid == pid)
		main_upgrade_forget(life);
	proxier_retire(ctx->proxier);
	life->retired = 1;
	/* NotifyAccess=all: the old main process names the new one. */
	snprintf(head, sizeof(head), "MAINPID=%ld\n", (long)pid);
	snprintf(buf, sizeof(buf), "handed over to process %ld; draining "
	    "%llu connections and flows", (long)pid,
	    (unsigned long long)proxier_active(ctx->proxier));
	main_notify(ctx, head, buf);
	snprintf(buf, sizeof(buf), "hand-off to process %ld", (long)pid);
	drain_start(life->drain, buf);
}

/* Watch a re-exec child: reap it, or stop it when it is late. */
static void
main_upgrade_tick(evutil_socket_t fd, short ev, void *arg)
{
	struct main_life	*life = arg;
	struct timeval		 tv = { 0, 500000 };
	pid_t			 r;
	int			 st;

	r = waitpid(life->upgrade_pid, &st, WNOHANG);
	if (r == life->upgrade_pid || (r == -1 && errno == ECHILD)) {
		log_warnx("SIGUSR2: the new process %ld exited (status %d) "
		    "before serving; still serving", (long)life->upgrade_pid,
		    r == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) :
		    128 + WTERMSIG(st));
		main_upgrade_forget(life);
		return;
	}
	if (life->upgrade_deadline_ms != 0 &&
	    monotime_ms() >= life->upgrade_deadline_ms) {
		log_warnx("SIGUSR2: the new process %ld does not serve after "
		    "%d s: stopping it; still serving",
		    (long)life->upgrade_pid, MAIN_UPGRADE_S);
		kill(life->upgrade_pid, SIGTERM);
		life->upgrade_deadline_ms = 0;
	}
	evtimer_add(life->upgrade_ev, &tv);
}

/*
 * SIGUSR2: start the binary again beside this process (reexec.h); it
 * takes the listeners over through the hand-off socket and this one
 * drains.  Refused as PID 1 (a container: its exit would end the
 * container and the new process with it), while draining, before this
 * process serves (the hand-off socket is not offered yet), or while a
 * re-exec is under way.
 */
static void
main_sigusr2(evutil_socket_t sig, short ev, void *arg)
{
	struct main_ctx		*ctx = arg;
	struct main_life	*life = ctx->life;
	struct timeval		 tv = { 0, 500000 };
	char			*env[4], err[REEXEC_ERRLEN];
	const char		*no = NULL;
	size_t			 n, i;

	if (getpid() == 1)
		no = "running as PID 1 (a container): restart the container "
		    "instead";
	else if (life->retired || drain_active(life->drain))
		no = "draining";
	else if (life->handoff == NULL || !ctx->ready)
		no = "not serving yet (no hand-off socket)";
	else if (life->upgrade_pid != 0)
		no = "a re-exec is already under way";
	if (no != NULL) {
		log_warnx("SIGUSR2: no re-exec: %s", no);
		return;
	}
	n = sdnotify_env(ctx->notify, env, 3);
	life->upgrade_pid = reexec_spawn(env, n, err, sizeof(err));
	for (i = 0; i < n; i++)
		free(env[i]);
	if (life->upgrade_pid == -1) {
		life->upgrade_pid = 0;
		log_warnx("SIGUSR2: no re-exec: %s", err);
		return;
	}
	log_info("SIGUSR2: started process %ld; it takes the listeners over "
	    "once it serves", (long)life->upgrade_pid);
	life->upgrade_deadline_ms = monotime_ms() + MAIN_UPGRADE_S * 1000;
	evtimer_add(life->upgrade_ev, &tv);
}

/*
 * Take the listening sockets systemd passes, else those of a running
 * kuproxy, into the sockpool the proxier binds from; prepare the
 * hand-off server, the drain and SIGUSR2.
 */
static void
main_life_init(struct main_ctx *ctx, const struct kp_config *cfg)
{
	struct main_life	*life;
	struct handoff_ops	 ops;
	char			 err[HANDOFF_ERRLEN];
	int			 n;

	ctx->life = life = xcalloc(1, sizeof(*life));
	life->conn = -1;
	life->pool = sockpool_new();
	if ((n = sockpool_from_env(life->pool, err, sizeof(err))) == -1)
		log_warnx("%s: ignored", err);
	else if (n > 0)
		log_info("%d listening sockets from the service manager", n);
	if (n <= 0) {
		n = handoff_receive(cfg->state_dir, life->pool, &life->conn,
		    err, sizeof(err));
		if (n == -1)
			log_warnx("%s: binding afresh", err);
		else if (life->conn != -1)
			log_info("hand-off: %d listening sockets from the "
			    "running kuproxy", n);
	}
	proxier_set_sockpool(ctx->proxier, life->pool);
	memset(&ops, 0, sizeof(ops));
	ops.listeners = main_life_listeners;
	ops.successor = main_life_successor;
	ops.arg = ctx;
	life->handoff = handoff_new(ctx->base, cfg->state_dir, &ops, err,
	    sizeof(err));
	if (life->handoff == NULL)
		log_warnx("hand-off: %s: no successor can take the listeners "
		    "over", err);
	life->drain = drain_new(ctx->base, ctx->proxier,
	    cfg->shutdown_grace_ms, main_drained, ctx);
	(void)reexec_init();
	life->upgrade_ev = evtimer_new(ctx->base, main_upgrade_tick, life);
	life->sigusr2 = evsignal_new(ctx->base, SIGUSR2, main_sigusr2, ctx);
	if (life->upgrade_ev == NULL || life->sigusr2 == NULL ||
	    evsignal_add(life->sigusr2, NULL) == -1)
		fatalx("cannot install the SIGUSR2 handler");
}

/*
 * Serving (the first rules applied): tell the predecessor to drain and
 * offer the listeners to a successor in turn.
 */
static void
main_life_ready(struct main_ctx *ctx)
{
	struct main_life	*life = ctx->life;

	if (life->conn != -1) {
		handoff_done(life->conn);
		life->conn = -1;
		log_info("hand-off: the predecessor stops accepting now");
	}
	handoff_publish(life->handoff);
}

/* Free what main_life_init made. */
static void
main_life_free(struct main_ctx *ctx)
{
	struct main_life	*life = ctx->life;

	if (life->conn != -1)
		close(life->conn);
	handoff_free(life->handoff);
	event_free(life->sigusr2);
	event_free(life->upgrade_ev);
	drain_free(life->drain);
	sockpool_free(life->pool);
	free(life);
	ctx->life = NULL;
}

/* Run the proxy until a terminating signal. */
static int
main_run(struct kp_config *cfg)
{
	struct main_ctx		 ctx;
	struct proxier_observer	 obs;
	struct evrun_opts	 evo;
	struct loop		*loop;
	struct workers		*ws;
	const char		*shared;
	unsigned int		 nworkers;
	struct model		*model;
	struct proxier		*proxier;
	struct event		*sigs[3];
	char			 err[CONFIG_ERRLEN];
	size_t			 i;

	memset(&ctx, 0, sizeof(ctx));
	main_mode_note(cfg);
	main_rlimit();
	/* oomScoreAdj and conntrack, as kube-proxy sets them in any mode. */
	nodetune_apply(cfg, "", nodetune_ncpu());
	signal(SIGPIPE, SIG_IGN);
	if ((ctx.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	/* Before any child process: it takes NOTIFY_SOCKET out of environ. */
	ctx.notify = sdnotify_from_env(ctx.base);
	ctx.source = xstrdup(cfg->services_file != NULL ? cfg->services_file :
	    "the API server");
	main_notify(&ctx, NULL, "starting");
	loop = loop_new(ctx.base);
	nworkers = cfg->workers != 0 ? cfg->workers : workers_default();
	evo.spin_us = main_busy_poll_us();
	evo.stats = NULL;
	if ((ws = workers_new(loop, nworkers, evo.spin_us, err,
	    sizeof(err))) == NULL)
		fatalx("%s", err);
	ctx.model = model = model_new();
	if ((proxier = proxier_new(loop, cfg, model, err, sizeof(err))) ==
	    NULL)
		fatalx("%s", err);
	/* For measurement: one listener per port, shared by the workers. */
	shared = getenv("KUPROXY_SHARED_LISTENER");
	proxier_set_workers(proxier, ws, shared != NULL &&
	    strcmp(shared, "1") == 0);
	ctx.proxier = proxier;
	memset(&obs, 0, sizeof(obs));
	obs.rules_applied = main_rules_applied;
	obs.rules_failed = main_rules_failed;
	obs.listener_opened = main_listener_opened;
	obs.listener_closed = main_listener_closed;
	obs.arg = &ctx;
	proxier_set_observer(proxier, &obs);
	main_life_init(&ctx, cfg);
	ctx.metrics = metrics_new(ctx.base, proxier, cfg);
	if (cfg->services_file != NULL) {
		ctx.svcfile = svcfile_new(ctx.base, cfg->services_file, model);
		if (ctx.svcfile == NULL)
			fatalx("%s: cannot watch the services file",
			    cfg->services_file);
	} else {
		ctx.watch = main_watch(ctx.base, cfg, model, proxier,
		    &ctx.source);
		metrics_set_watch(ctx.metrics, ctx.watch);
	}
	ctx.reload = reload_new(ctx.base, cfg, proxier, ctx.metrics);
	main_notify_waiting(&ctx);
	sigs[0] = evsignal_new(ctx.base, SIGTERM, main_sigterm, &ctx);
	sigs[1] = evsignal_new(ctx.base, SIGINT, main_sigterm, &ctx);
	sigs[2] = evsignal_new(ctx.base, SIGHUP, main_sighup, &ctx);
	for (i = 0; i < 3; i++)
		if (sigs[i] == NULL || evsignal_add(sigs[i], NULL) == -1)
			fatalx("cannot install signal handlers");
	log_info("kuproxy %s started: userspace mode, services from %s, "
	    "%u relay loop%s", PACKAGE_VERSION, ctx.source, nworkers,
	    nworkers == 1 ? "" : "s");
	if (evrun_loop(ctx.base, &evo) == -1)
		log_warnx("the event loop failed");

	for (i = 0; i < 3; i++)
		event_free(sigs[i]);
	main_life_free(&ctx);
	svcfile_free(ctx.svcfile);
	reload_free(ctx.reload);
	metrics_set_watch(ctx.metrics, NULL);
	k8s_watch_free(ctx.watch);
	metrics_free(ctx.metrics);
	proxier_set_observer(proxier, NULL);
	proxier_free(proxier);
	workers_free(ws);
	model_free(model);
	loop_free(loop);
	sdnotify_free(ctx.notify);
	free(ctx.source);
	event_base_free(ctx.base);
	log_info("stopped");
	return (0);
}

/* Load the configuration, then clean up, check or run. */
int
main(int argc, char **argv)
{
	struct kp_config	*cfg;
	char			 err[CONFIG_ERRLEN];
	int			 rv;

	log_init(0);
	cfg = config_new();
	switch (config_load(cfg, argc, argv, err, sizeof(err))) {
	case -1:
		/* kube-proxy: klog.Fatalf("failed validate: %v", err). */
		config_free(cfg);
		fatalx("%s", err);
	case CONFIG_EXIT:
		config_free(cfg);
		return (0);
	}
	log_setverbose(cfg->verbosity);
	if (log_configure(&cfg->log, err, sizeof(err)) == -1) {
		config_free(cfg);
		fatalx("%s", err);
	}
	if (cfg->cleanup)
		rv = main_cleanup(cfg);
	else if (cfg->check_only)
		rv = main_check(cfg);
	else
		rv = main_run(cfg);
	config_free(cfg);
	return (rv);
}
