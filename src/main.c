/*
 * main.c: kuproxy, the Kubernetes userspace service proxy.
 *
 * Parse the configuration, then wire the one-way pipeline
 *	source (services file or API server) --> model --> proxier -->
 *	relays + rules
 * on one libevent loop and run it until SIGTERM or SIGINT.  The source is
 * the services file when --services-file is given, else the API server:
 * from --kubeconfig (its server overridden by --master), --master alone,
 * or in-cluster when neither is given, as kube-proxy does.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "config.h"
#include "iptables.h"
#include "k8s_watch.h"
#include "kubeconfig.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "migrate.h"
#include "model.h"
#include "nodetune.h"
#include "proxier.h"
#include "svcfile.h"
#include "svcfile_parse.h"
#include "xmalloc.h"

struct main_ctx {
	struct event_base	*base;
	struct svcfile		*svcfile;
	struct k8s_watch	*watch;
};

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

	log_info("signal %d: shutting down", (int)sig);
	event_base_loopbreak(ctx->base);
}

/* Re-read the services file on SIGHUP. */
static void
main_sighup(evutil_socket_t sig, short ev, void *arg)
{
	struct main_ctx	*ctx = arg;

	if (ctx->svcfile != NULL) {
		log_info("SIGHUP: reloading");
		svcfile_reload(ctx->svcfile);
	} else
		log_info("SIGHUP: nothing to reload (the API server is "
		    "watched)");
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

/* Start watching the API server; fatal if it cannot even be set up. */
static struct k8s_watch *
main_watch(struct event_base *base, const struct kp_config *cfg,
    struct model *model, struct proxier *proxier)
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
	struct main_ctx	 ctx;
	struct loop	*loop;
	struct model	*model;
	struct proxier	*proxier;
	struct metrics	*metrics;
	struct event	*sigs[3];
	char		 err[CONFIG_ERRLEN];
	size_t		 i;

	memset(&ctx, 0, sizeof(ctx));
	main_mode_note(cfg);
	main_rlimit();
	/* oomScoreAdj and conntrack, as kube-proxy sets them in any mode. */
	nodetune_apply(cfg, "", nodetune_ncpu());
	signal(SIGPIPE, SIG_IGN);
	if ((ctx.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	loop = loop_new(ctx.base);
	model = model_new();
	if ((proxier = proxier_new(loop, cfg, model, err, sizeof(err))) ==
	    NULL)
		fatalx("%s", err);
	metrics = metrics_new(ctx.base, proxier, cfg);
	if (cfg->services_file != NULL) {
		ctx.svcfile = svcfile_new(ctx.base, cfg->services_file, model);
		if (ctx.svcfile == NULL)
			fatalx("%s: cannot watch the services file",
			    cfg->services_file);
	} else {
		ctx.watch = main_watch(ctx.base, cfg, model, proxier);
		metrics_set_watch(metrics, ctx.watch);
	}
	sigs[0] = evsignal_new(ctx.base, SIGTERM, main_sigterm, &ctx);
	sigs[1] = evsignal_new(ctx.base, SIGINT, main_sigterm, &ctx);
	sigs[2] = evsignal_new(ctx.base, SIGHUP, main_sighup, &ctx);
	for (i = 0; i < 3; i++)
		if (sigs[i] == NULL || evsignal_add(sigs[i], NULL) == -1)
			fatalx("cannot install signal handlers");
	log_info("kuproxy %s started: userspace mode, services from %s",
	    PACKAGE_VERSION, cfg->services_file != NULL ? cfg->services_file :
	    "the API server");
	event_base_dispatch(ctx.base);

	for (i = 0; i < 3; i++)
		event_free(sigs[i]);
	svcfile_free(ctx.svcfile);
	metrics_set_watch(metrics, NULL);
	k8s_watch_free(ctx.watch);
	metrics_free(metrics);
	proxier_free(proxier);
	model_free(model);
	loop_free(loop);
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
