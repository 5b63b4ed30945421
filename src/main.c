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
 * STOPPING=1, and the watchdog.  The source is
 * the services file when --services-file is given, else the API server:
 * from --kubeconfig (its server overridden by --master), --master alone,
 * or in-cluster when neither is given, as kube-proxy does.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "config.h"
#include "iptables.h"
#include "k8s_watch.h"
#include "kubeconfig.h"
#include "lb.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "migrate.h"
#include "model.h"
#include "nodetune.h"
#include "proxier.h"
#include "reload.h"
#include "sdnotify.h"
#include "svcfile.h"
#include "svcfile_parse.h"
#include "xmalloc.h"

struct main_ctx {
	struct event_base	*base;
	struct svcfile		*svcfile;
	struct k8s_watch	*watch;
	struct model		*model;
	struct proxier		*proxier;
	struct reload		*reload;	/* NULL: no --config file */
	char			*source;	/* for STATUS= lines */
	struct sdnotify		*notify;	/* NULL: not Type=notify */
	char			 status[SDNOTIFY_MSGLEN]; /* last sent */
	uint64_t		 failures;	/* rule applications failed */
	int			 ready;		/* READY=1 sent */
};

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

/* Leave the loop on SIGTERM or SIGINT; teardown follows in main. */
static void
main_sigterm(evutil_socket_t sig, short ev, void *arg)
{
	struct main_ctx	*ctx = arg;
	char		 buf[64];

	log_info("signal %d: shutting down", (int)sig);
	snprintf(buf, sizeof(buf), "stopping (signal %d)", (int)sig);
	main_notify(ctx, "STOPPING=1\n", buf);
	event_base_loopbreak(ctx->base);
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

/* Run the proxy until a terminating signal. */
static int
main_run(struct kp_config *cfg)
{
	struct main_ctx		 ctx;
	struct proxier_observer	 obs;
	struct loop		*loop;
	struct model		*model;
	struct proxier		*proxier;
	struct metrics		*metrics;
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
	ctx.model = model = model_new();
	if ((proxier = proxier_new(loop, cfg, model, err, sizeof(err))) ==
	    NULL)
		fatalx("%s", err);
	ctx.proxier = proxier;
	memset(&obs, 0, sizeof(obs));
	obs.rules_applied = main_rules_applied;
	obs.rules_failed = main_rules_failed;
	obs.arg = &ctx;
	proxier_set_observer(proxier, &obs);
	metrics = metrics_new(ctx.base, proxier, cfg);
	if (cfg->services_file != NULL) {
		ctx.svcfile = svcfile_new(ctx.base, cfg->services_file, model);
		if (ctx.svcfile == NULL)
			fatalx("%s: cannot watch the services file",
			    cfg->services_file);
	} else {
		ctx.watch = main_watch(ctx.base, cfg, model, proxier,
		    &ctx.source);
		metrics_set_watch(metrics, ctx.watch);
	}
	ctx.reload = reload_new(ctx.base, cfg, proxier, metrics);
	main_notify_waiting(&ctx);
	sigs[0] = evsignal_new(ctx.base, SIGTERM, main_sigterm, &ctx);
	sigs[1] = evsignal_new(ctx.base, SIGINT, main_sigterm, &ctx);
	sigs[2] = evsignal_new(ctx.base, SIGHUP, main_sighup, &ctx);
	for (i = 0; i < 3; i++)
		if (sigs[i] == NULL || evsignal_add(sigs[i], NULL) == -1)
			fatalx("cannot install signal handlers");
	log_info("kuproxy %s started: userspace mode, services from %s",
	    PACKAGE_VERSION, ctx.source);
	event_base_dispatch(ctx.base);

	for (i = 0; i < 3; i++)
		event_free(sigs[i]);
	svcfile_free(ctx.svcfile);
	reload_free(ctx.reload);
	metrics_set_watch(metrics, NULL);
	k8s_watch_free(ctx.watch);
	metrics_free(metrics);
	proxier_set_observer(proxier, NULL);
	proxier_free(proxier);
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
