/*
 * test_proxier.c: the reconciler driven through the model, as the
 * sources drive it, with the fake iptables of tests/data (no root): a
 * Service added, changed and removed; an Endpoints-only change doing no
 * rule work; a UDP Service's conntrack flush after its rules are gone; a
 * failed restore retried; what the observer hears; a staged file rejected
 * and one taken; persisted proxy ports rebound by a successor.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "lb.h"
#include "log.h"
#include "loop.h"
#include "model.h"
#include "proxier.h"
#include "xmalloc.h"
#include "tu.h"
#include "fake_ipt.h"

#define TCP	IPPROTO_TCP
#define UDP	IPPROTO_UDP

/* One proxier on its own loop, model and fake iptables. */
struct env {
	struct fake		 f;
	struct event_base	*base;
	struct loop		*loop;
	struct model		*model;
	struct kp_config	*cfg;
	struct proxier		*p;
	char			 state[PATH_MAX];
};

/* What proxier_foreach_port showed. */
struct seen {
	size_t		n;
	char		name[8][64];
	int		proto[8];
	uint16_t	proxy_port[8];
	size_t		neps[8];
	char		cluster_ip[8][64];
};

/* Build the config: wildcard bind, fake binaries, rare forced syncs. */
static struct kp_config *
env_config(struct env *e, const char *range)
{
	struct kp_config	*cfg = config_new();
	char			*argv[32], err[CONFIG_ERRLEN];
	int			 argc = 0;

	argv[argc++] = xstrdup("kuproxy");
	argv[argc++] = xstrdup("--bind-address=0.0.0.0");
	argv[argc++] = xstrdup("--iptables-sync-period=1h");
	argv[argc++] = xstrdup("--iptables-min-sync-period=0s");
	argv[argc++] = xstrdup("--healthz-bind-address=");
	argv[argc++] = xstrdup("--metrics-bind-address=");
	xasprintf(&argv[argc++], "--iptables-path=%s", e->f.ipt4);
	xasprintf(&argv[argc++], "--ip6tables-path=%s", e->f.ipt6);
	xasprintf(&argv[argc++], "--conntrack-path=%s", e->f.ct);
	xasprintf(&argv[argc++], "--state-dir=%s", e->state);
	xasprintf(&argv[argc++], "--proxy-port-range=%s", range);
	argv[argc] = NULL;
	err[0] = '\0';
	if (config_load(cfg, argc, argv, err, sizeof(err)) != CONFIG_RUN)
		fprintf(stderr, "config_load: %s\n", err);
	while (argc > 0)
		free(argv[--argc]);
	CU_ASSERT_STRING_EQUAL_FATAL(err, "");
	return (cfg);
}

/* Set up everything but the proxier (see env_start). */
static void
env_init(struct env *e, const char *range)
{
	memset(e, 0, sizeof(*e));
	fake_setup(&e->f);
	snprintf(e->state, sizeof(e->state), "%s/state", e->f.dir);
	e->base = event_base_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(e->base);
	e->loop = loop_new(e->base);
	e->model = model_new();
	e->cfg = env_config(e, range);
}

/*
 * Let the start-up removal of other modes' leftovers end (10 s at
 * most), so that the syncs the tests count all run after it.
 */
static void
env_settle(struct env *e)
{
	struct proxier_stats	st;
	int			i;

	for (i = 0; i < 2000; i++) {
		proxier_get_stats(e->p, &st);
		if (!st.migrating)
			break;
		event_base_loop(e->base, EVLOOP_NONBLOCK);
		usleep(5000);
	}
	CU_ASSERT_FATAL(!st.migrating);
}

/* Start a proxier on the environment's model. */
static void
env_start(struct env *e)
{
	char	err[256];

	err[0] = '\0';
	e->p = proxier_new(e->loop, e->cfg, e->model, err, sizeof(err));
	if (e->p == NULL)
		fprintf(stderr, "proxier_new: %s\n", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e->p);
	/* In case this machine has no default route to take it from. */
	proxier_set_node_ip(e->p, "192.0.2.10");
	env_settle(e);
}

/* Tear everything down, the fake directory included. */
static void
env_free(struct env *e)
{
	proxier_free(e->p);
	model_free(e->model);
	loop_free(e->loop);
	event_base_free(e->base);
	config_free(e->cfg);
	fake_teardown(&e->f);
}

/* Run the loop for about ms milliseconds. */
static void
env_pump(struct env *e, int ms)
{
	int	i;

	for (i = 0; i < ms / 5; i++) {
		event_base_loop(e->base, EVLOOP_NONBLOCK);
		usleep(5000);
	}
}

/*
 * Run the loop until count(&e->f, prefix) reaches n, then a little
 * longer so that the completions are taken; 0 on timeout (10 s).
 */
static int
env_wait_for(struct env *e, int (*count)(const struct fake *, const char *),
    const char *what, const char *prefix, int n)
{
	int	i;

	for (i = 0; i < 2000; i++) {
		if (count(&e->f, prefix) >= n) {
			env_pump(e, 150);
			return (1);
		}
		event_base_loop(e->base, EVLOOP_NONBLOCK);
		usleep(5000);
	}
	fprintf(stderr, "timed out waiting for %d %s of %s (have %d)\n", n,
	    what, prefix, count(&e->f, prefix));
	return (0);
}

/* Wait until the fake recorded at least n calls of prefix (started). */
static int
env_wait_calls(struct env *e, const char *prefix, int n)
{
	return (env_wait_for(e, fake_count, "calls", prefix, n));
}

/*
 * Wait until n calls of prefix have exited (the fake's call log says
 * so).  For commands that end by themselves (not a streaming restore).
 */
static int
env_wait_ended(struct env *e, const char *prefix, int n)
{
	return (env_wait_for(e, fake_ended, "ended calls", prefix, n));
}

/*
 * Return restore input n of IPv4 (caller frees) once that restore has
 * exited, "" if it has not within 10 s.  The loop runs meanwhile: it
 * feeds the restore's stdin (a loaded machine is slow).
 */
static char *
env_restore_in(struct env *e, int n)
{
	char	name[64], end[64], *s;
	int	i;

	snprintf(name, sizeof(name), "iptables.restore.%d.in", n);
	snprintf(end, sizeof(end), "iptables.restore.%d.end", n);
	for (i = 0; i < 2000; i++) {
		if ((s = fake_read(&e->f, end)) != NULL) {
			free(s);
			s = fake_read(&e->f, name);
			return (s != NULL ? s : xstrdup(""));
		}
		event_base_loop(e->base, EVLOOP_NONBLOCK);
		usleep(5000);
	}
	fprintf(stderr, "timed out waiting for the end of %s\n", name);
	return (xstrdup(""));
}

/*
 * Return what a streaming restore n (kept open) has read so far, once
 * it holds want, or after 10 s (caller frees; "" if nothing).
 */
static char *
env_stream_in(struct env *e, int n, const char *want)
{
	char	name[64], *s = NULL;
	int	i;

	snprintf(name, sizeof(name), "iptables.restore.%d.in", n);
	for (i = 0; i < 2000; i++) {
		free(s);
		if ((s = fake_read(&e->f, name)) != NULL &&
		    strstr(s, want) != NULL)
			return (s);
		event_base_loop(e->base, EVLOOP_NONBLOCK);
		usleep(5000);
	}
	fprintf(stderr, "timed out waiting for %s in %s\n", want, name);
	return (s != NULL ? s : xstrdup(""));
}

/* Return a new Service with one port. */
static struct model_service *
svc_new(const char *name, const char *cip, int proto, uint16_t port,
    uint16_t node_port)
{
	struct model_service	*ms;

	ms = xcalloc(1, sizeof(*ms));
	ms->ns = xstrdup("default");
	ms->name = xstrdup(name);
	ms->cluster_ip = xstrdup(cip);
	ms->affinity_ttl = 10800;
	ms->ports = xcalloc(1, sizeof(*ms->ports));
	ms->ports[0].name = xstrdup("p");
	ms->ports[0].proto = proto;
	ms->ports[0].port = port;
	ms->ports[0].node_port = node_port;
	ms->nports = 1;
	return (ms);
}

/* Return new Endpoints with n addresses 127.0.0.1..n for port "p". */
static struct model_endpoints *
eps_new(const char *name, size_t n, uint16_t port)
{
	struct model_endpoints	*me;
	size_t			 i;

	me = xcalloc(1, sizeof(*me));
	me->ns = xstrdup("default");
	me->name = xstrdup(name);
	me->sets = xcalloc(1, sizeof(*me->sets));
	me->nsets = 1;
	me->sets[0].port_name = xstrdup("p");
	me->sets[0].eps = xcalloc(n, sizeof(*me->sets[0].eps));
	me->sets[0].n = n;
	for (i = 0; i < n; i++) {
		xasprintf(&me->sets[0].eps[i].ip, "127.0.0.%zu", i + 1);
		me->sets[0].eps[i].port = port;
	}
	return (me);
}

/* Record one live service port. */
static void
seen_cb(const struct proxier_portinfo *pi, void *arg)
{
	struct seen	*s = arg;

	if (s->n == 8)
		return;
	snprintf(s->name[s->n], sizeof(s->name[0]), "%s", pi->name);
	snprintf(s->cluster_ip[s->n], sizeof(s->cluster_ip[0]), "%s",
	    pi->cluster_ip);
	s->proto[s->n] = pi->proto;
	s->proxy_port[s->n] = pi->proxy_port;
	s->neps[s->n] = lb_count(pi->lb);
	s->n++;
}

/* Fill *s with the live service ports. */
static void
env_seen(struct env *e, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	proxier_foreach_port(e->p, seen_cb, s);
}

/* Return 1 if a TCP socket can bind 0.0.0.0:port now. */
static int
tcp_bindable(uint16_t port)
{
	struct sockaddr_in	sin;
	int			fd, one = 1, rv;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return (0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	rv = bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	close(fd);
	return (rv);
}

/*
 * Return the first of n consecutive free TCP ports, looking from a
 * start picked by the pid within [lo, lo + 10 * slots); a busy machine
 * may hold any one of them as a client's local port.
 */
static uint16_t
free_ports(uint16_t lo, int slots, int n)
{
	int		i, j, k;
	uint16_t	base;

	for (i = 0; i < slots; i++) {
		k = (int)((getpid() + i) % slots);
		base = (uint16_t)(lo + k * 10);
		for (j = 0; j < n && tcp_bindable((uint16_t)(base + j)); j++)
			;
		if (j == n)
			return (base);
	}
	CU_FAIL_FATAL("no free port range");
	return (0);
}

/* Return 1 if a TCP connect to 127.0.0.1:port is accepted. */
static int
tcp_connects(uint16_t port)
{
	struct sockaddr_in	sin;
	int			fd, rv;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return (0);
	rv = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	close(fd);
	return (rv);
}

/* Load web (TCP 10.96.0.10:80, two endpoints) and wait for its rules. */
static void
env_web(struct env *e)
{
	model_update_service(e->model, svc_new("web", "10.96.0.10", TCP, 80,
	    0));
	model_update_endpoints(e->model, eps_new("web", 2, 8080));
	model_set_synced(e->model, MODEL_F_SERVICES | MODEL_F_ENDPOINTS);
	CU_ASSERT_FATAL(env_wait_calls(e, "iptables.restore", 1));
	CU_ASSERT(proxier_is_ready(e->p));
}

/* Added, changed in place, endpoints-only change, removed. */
static void
test_proxier_service_lifecycle(void)
{
	struct env		 e;
	struct seen		 s;
	struct proxier_stats	 st;
	char			*in, want[256], *state;
	uint16_t		 pport;

	env_init(&e, "");
	env_start(&e);
	/* Nothing before the first full list. */
	env_pump(&e, 100);
	CU_ASSERT_EQUAL(fake_count(&e.f, "iptables.restore"), 0);
	CU_ASSERT(!proxier_is_ready(e.p));
	env_web(&e);
	env_seen(&e, &s);
	CU_ASSERT_EQUAL_FATAL(s.n, 1);
	CU_ASSERT_STRING_EQUAL(s.name[0], "default/web:p");
	CU_ASSERT_EQUAL(s.neps[0], 2);
	pport = s.proxy_port[0];
	CU_ASSERT(pport != 0);
	CU_ASSERT(tcp_connects(pport));
	in = env_restore_in(&e, 1);
	snprintf(want, sizeof(want), "-A KUBE-PORTALS-CONTAINER -m comment "
	    "--comment \"default/web:p\" -p tcp -m tcp --dport 80 -d "
	    "10.96.0.10/32 -j REDIRECT --to-ports %u\n", pport);
	CU_ASSERT_PTR_NOT_NULL(strstr(in, want));
	CU_ASSERT_PTR_NOT_NULL(strstr(in, ":KUBE-PORTALS-HOST - [0:0]"));
	free(in);
	state = fake_read(&e.f, "state/proxy-ports");
	snprintf(want, sizeof(want), "TCP %u default/web:p", pport);
	CU_ASSERT(state != NULL && strstr(state, want) != NULL);
	free(state);

	/* Endpoints only: the balancer changes, the rules do not. */
	model_update_endpoints(e.model, eps_new("web", 3, 8080));
	env_pump(&e, 300);
	CU_ASSERT_EQUAL(fake_count(&e.f, "iptables.restore"), 1);
	env_seen(&e, &s);
	CU_ASSERT_EQUAL(s.neps[0], 3);

	/* A new cluster IP: the same proxy port, new rules then old gone. */
	model_update_service(e.model, svc_new("web", "10.96.0.11", TCP, 80,
	    0));
	CU_ASSERT_FATAL(env_wait_calls(&e, "iptables.restore", 3));
	env_seen(&e, &s);
	CU_ASSERT_EQUAL(s.proxy_port[0], pport);
	CU_ASSERT_STRING_EQUAL(s.cluster_ip[0], "10.96.0.11");
	in = env_restore_in(&e, 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(in, "-I KUBE-PORTALS-CONTAINER 1 "));
	CU_ASSERT_PTR_NOT_NULL(strstr(in, "-d 10.96.0.11/32"));
	CU_ASSERT_PTR_NULL(strstr(in, "-D "));
	free(in);
	in = env_restore_in(&e, 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(in, "-D KUBE-PORTALS-CONTAINER "));
	CU_ASSERT_PTR_NOT_NULL(strstr(in, "-d 10.96.0.10/32"));
	CU_ASSERT_PTR_NULL(strstr(in, "10.96.0.11"));
	free(in);

	/* Removed: listener closed, rules deleted, nothing left. */
	model_delete_service(e.model, "default", "web");
	CU_ASSERT_FATAL(env_wait_calls(&e, "iptables.restore", 4));
	env_seen(&e, &s);
	CU_ASSERT_EQUAL(s.n, 0);
	CU_ASSERT(!tcp_connects(pport));
	in = env_restore_in(&e, 4);
	CU_ASSERT_PTR_NOT_NULL(strstr(in, "-D KUBE-PORTALS-HOST -m comment "
	    "--comment \"default/web:p\""));
	CU_ASSERT_PTR_NULL(strstr(in, "-I "));
	free(in);
	proxier_get_stats(e.p, &st);
	CU_ASSERT_EQUAL(st.ports, 0);
	CU_ASSERT_EQUAL(st.sync_errors, 0);
	CU_ASSERT_EQUAL(st.syncs, 3);	/* none for the endpoints */
	/* A UDP-only flush: none for a TCP Service. */
	CU_ASSERT_EQUAL(fake_count(&e.f, "conntrack.conntrack"), 0);
	env_free(&e);
}

/* A removed UDP Service's conntrack entries go once its rules are gone. */
static void
test_proxier_udp_conntrack_after_rules(void)
{
	struct env	 e;
	char		*args;

	env_init(&e, "");
	env_start(&e);
	model_update_service(e.model, svc_new("dns", "10.96.0.53", UDP, 53,
	    0));
	model_update_endpoints(e.model, eps_new("dns", 1, 5353));
	model_set_synced(e.model, MODEL_F_SERVICES | MODEL_F_ENDPOINTS);
	CU_ASSERT_FATAL(env_wait_calls(&e, "iptables.restore", 1));
	CU_ASSERT_EQUAL(fake_count(&e.f, "conntrack.conntrack"), 0);

	/* The restore that deletes the rules fails: no flush yet. */
	fake_write(&e.f, "fail_line", "1\n");
	model_delete_service(e.model, "default", "dns");
	CU_ASSERT_FATAL(env_wait_calls(&e, "iptables.restore", 2));
	CU_ASSERT_EQUAL(fake_count(&e.f, "conntrack.conntrack"), 0);

	/* The quick retries fail too: still no flush. */
	CU_ASSERT(env_wait_ended(&e, "iptables.restore", 5));
	env_pump(&e, 300);
	CU_ASSERT_EQUAL(fake_count(&e.f, "iptables.restore"), 5);
	CU_ASSERT_EQUAL(fake_count(&e.f, "conntrack.conntrack"), 0);

	/* The periodic sync succeeds: now the flush runs, for that IP. */
	fake_unlink(&e.f, "fail_line");
	proxier_sync(e.p, 1);
	CU_ASSERT_FATAL(env_wait_calls(&e, "conntrack.conntrack", 1));
	CU_ASSERT_EQUAL(fake_count(&e.f, "iptables.restore"), 6);
	args = fake_args(&e.f, "conntrack.conntrack", 1);
	CU_ASSERT(args != NULL && strcmp(args,
	    "-D --orig-dst 10.96.0.53 -p udp") == 0);
	free(args);
	env_free(&e);
}

/*
 * A failed restore is counted and retried at once, three times, then
 * left to the periodic sync, which applies the full rules.
 */
static void
test_proxier_failed_restore_retried(void)
{
	struct env		 e;
	struct proxier_stats	 st;
	char			*in;

	env_init(&e, "");
	env_start(&e);
	fake_write(&e.f, "fail_line", "3\n");
	env_web(&e);
	CU_ASSERT(env_wait_ended(&e, "iptables.restore", 4));
	env_pump(&e, 300);
	CU_ASSERT_EQUAL(fake_count(&e.f, "iptables.restore"), 4);
	proxier_get_stats(e.p, &st);
	CU_ASSERT_EQUAL(st.sync_errors, 4);
	/* Still served: a rule failure does not close the listener. */
	CU_ASSERT_EQUAL(st.ports, 1);
	fake_unlink(&e.f, "fail_line");
	proxier_sync(e.p, 1);
	CU_ASSERT_FATAL(env_wait_calls(&e, "iptables.restore", 5));
	in = env_restore_in(&e, 5);
	CU_ASSERT_PTR_NOT_NULL(strstr(in, ":KUBE-PORTALS-CONTAINER - [0:0]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(in, "\"default/web:p\""));
	free(in);
	/* Once good, nothing more runs and no error is added. */
	env_pump(&e, 500);
	CU_ASSERT_EQUAL(fake_count(&e.f, "iptables.restore"), 5);
	proxier_get_stats(e.p, &st);
	CU_ASSERT_EQUAL(st.sync_errors, 4);
	env_free(&e);
}

/* What the proxier's observer heard. */
struct heard {
	struct env	*e;
	int		 applied;
	int		 failed;
	int		 restores_at_first;	/* restores begun by then */
};

/* The observer's rules_applied. */
static void
heard_applied(void *arg)
{
	struct heard	*h = arg;

	if (h->applied++ == 0)
		h->restores_at_first = fake_count(&h->e->f, "iptables.restore");
}

/* The observer's rules_failed. */
static void
heard_failed(void *arg)
{
	((struct heard *)arg)->failed++;
}

/*
 * The observer (main.c's READY=1): nothing before the source's first
 * list, a failure per failed restore and no "applied" meanwhile, then
 * "applied" once the first good restore ended; every forced sync's
 * rules are reported again; a cleared observer hears nothing.
 */
static void
test_proxier_observer(void)
{
	struct env		 e;
	struct proxier_observer	 obs;
	struct heard		 h;

	env_init(&e, "");
	env_start(&e);
	memset(&h, 0, sizeof(h));
	h.e = &e;
	memset(&obs, 0, sizeof(obs));
	obs.rules_applied = heard_applied;
	obs.rules_failed = heard_failed;
	obs.arg = &h;
	proxier_set_observer(e.p, &obs);
	proxier_sync(e.p, 1);		/* the model is not synced yet */
	env_pump(&e, 200);
	CU_ASSERT_EQUAL(h.applied, 0);
	CU_ASSERT_EQUAL(h.failed, 0);
	fake_write(&e.f, "fail_line", "3\n");
	env_web(&e);
	CU_ASSERT(env_wait_ended(&e, "iptables.restore", 4));
	env_pump(&e, 300);
	CU_ASSERT_EQUAL(h.applied, 0);
	CU_ASSERT_EQUAL(h.failed, 4);
	fake_unlink(&e.f, "fail_line");
	proxier_sync(e.p, 1);
	CU_ASSERT(env_wait_ended(&e, "iptables.restore", 5));
	env_pump(&e, 300);
	CU_ASSERT_EQUAL(h.applied, 1);
	CU_ASSERT_EQUAL(h.restores_at_first, 5);
	CU_ASSERT_EQUAL(h.failed, 4);
	proxier_sync(e.p, 1);
	CU_ASSERT(env_wait_ended(&e, "iptables.restore", 6));
	env_pump(&e, 300);
	CU_ASSERT_EQUAL(h.applied, 2);
	proxier_set_observer(e.p, NULL);
	proxier_sync(e.p, 1);
	CU_ASSERT(env_wait_ended(&e, "iptables.restore", 7));
	env_pump(&e, 300);
	CU_ASSERT_EQUAL(h.applied, 2);
	CU_ASSERT_EQUAL(h.failed, 4);
	env_free(&e);
}

/* Stage two Services of a large file; return the stream's input. */
static char *
env_stage(struct env *e, int nrestores)
{
	struct model_service		*a, *b;
	const struct model_service	*v[2];
	struct seen			 s;

	a = svc_new("a", "10.96.1.1", TCP, 80, 30001);
	b = svc_new("b", "10.96.1.2", UDP, 53, 0);
	v[0] = a;
	v[1] = b;
	model_stage_services(e->model, v, 2);
	model_service_free(a);
	model_service_free(b);
	/* Bound, streamed, but not served yet. */
	env_seen(e, &s);
	CU_ASSERT_EQUAL(s.n, 1);
	CU_ASSERT_FATAL(env_wait_calls(e, "iptables.restore", nrestores + 1));
	return (env_stream_in(e, nrestores + 1, "\"default/b:p\" -p udp"));
}

/* A staged file rejected: its ports closed, its streamed rules deleted. */
static void
test_proxier_staged_rejected(void)
{
	struct env	 e;
	struct seen	 s;
	char		*in;

	env_init(&e, "");
	env_start(&e);
	env_web(&e);
	in = env_stage(&e, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(in, "-A KUBE-PORTALS-CONTAINER -m "
	    "comment --comment \"default/a:p\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(in, "\"default/b:p\" -p udp"));
	/* Appends only: a declaration would flush a chain. */
	CU_ASSERT_PTR_NULL(strstr(in, ":KUBE"));
	/* The node port waits for the adopting sync's claim. */
	CU_ASSERT_PTR_NULL(strstr(in, "--dport 30001"));
	free(in);
	/* The file is rejected: nothing entered the model. */
	model_stage_end(e.model);
	CU_ASSERT_FATAL(env_wait_calls(&e, "iptables.restore", 3));
	env_seen(&e, &s);
	CU_ASSERT_EQUAL(s.n, 1);
	CU_ASSERT_STRING_EQUAL(s.name[0], "default/web:p");
	in = env_restore_in(&e, 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(in, "-D KUBE-PORTALS-CONTAINER -m "
	    "comment --comment \"default/a:p\""));
	CU_ASSERT_PTR_NULL(strstr(in, "default/web:p"));
	free(in);
	/* b was UDP and had rules: its conntrack entries go too. */
	CU_ASSERT_FATAL(env_wait_calls(&e, "conntrack.conntrack", 1));
	env_free(&e);
}

/* A staged file taken: the sync adopts the ports; only node ports left. */
static void
test_proxier_staged_taken(void)
{
	struct env	 e;
	struct seen	 s;
	char		*in;

	env_init(&e, "");
	env_start(&e);
	env_web(&e);
	in = env_stage(&e, 1);
	free(in);
	model_update_service(e.model, svc_new("a", "10.96.1.1", TCP, 80,
	    30001));
	model_update_service(e.model, svc_new("b", "10.96.1.2", UDP, 53, 0));
	model_stage_end(e.model);
	CU_ASSERT_FATAL(env_wait_calls(&e, "iptables.restore", 3));
	env_seen(&e, &s);
	CU_ASSERT_EQUAL_FATAL(s.n, 3);
	CU_ASSERT_STRING_EQUAL(s.name[0], "default/a:p");
	CU_ASSERT_STRING_EQUAL(s.name[1], "default/b:p");
	CU_ASSERT(tcp_connects(s.proxy_port[0]));
	/* The streamed rules count as applied: only the NodePort is new. */
	in = env_restore_in(&e, 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(in, "--dport 30001"));
	CU_ASSERT_PTR_NULL(strstr(in, "-d 10.96.1.1/32"));
	CU_ASSERT_PTR_NULL(strstr(in, "-D "));
	free(in);
	env_pump(&e, 300);
	CU_ASSERT_EQUAL(fake_count(&e.f, "iptables.restore"), 3);
	CU_ASSERT_EQUAL(fake_count(&e.f, "conntrack.conntrack"), 0);
	env_free(&e);
}

/* Persisted proxy ports are rebound, by this process and a successor. */
static void
test_proxier_persisted_ports(void)
{
	struct env	 e;
	struct seen	 s;
	uint16_t	 base = free_ports(41000, 1000, 10);
	char		 range[32], line[64];

	snprintf(range, sizeof(range), "%u-%u", base, base + 9);
	env_init(&e, range);
	CU_ASSERT_FATAL(mkdir(e.state, 0755) == 0);
	snprintf(line, sizeof(line), "TCP %u default/web:p\n", base + 7);
	fake_write(&e.f, "state/proxy-ports", line);
	env_start(&e);
	env_web(&e);
	env_seen(&e, &s);
	CU_ASSERT_EQUAL_FATAL(s.n, 1);
	CU_ASSERT_EQUAL(s.proxy_port[0], base + 7);

	/* A successor on the same state directory takes the same port. */
	proxier_free(e.p);
	model_free(e.model);
	e.model = model_new();
	env_start(&e);
	env_web(&e);
	env_seen(&e, &s);
	CU_ASSERT_EQUAL_FATAL(s.n, 1);
	CU_ASSERT_EQUAL(s.proxy_port[0], base + 7);
	CU_ASSERT(tcp_connects(base + 7));
	env_free(&e);
}

/*
 * Live reload setters: a new port range applies to ports bound from
 * then on, a bound port stays and is claimed in a range that holds it;
 * a shorter sync period re-arms the periodic sync.
 */
static void
test_proxier_live_setters(void)
{
	struct env	 e;
	struct seen	 s;
	uint16_t	 base = free_ports(51000, 900, 10);
	char		 range[32];
	int		 n, i;

	snprintf(range, sizeof(range), "%u-%u", base, base);
	env_init(&e, range);
	env_start(&e);
	env_web(&e);
	env_seen(&e, &s);
	CU_ASSERT_EQUAL_FATAL(s.n, 1);
	CU_ASSERT_EQUAL(s.proxy_port[0], base);

	/* A new range: the next Service's port comes from it. */
	proxier_set_port_range(e.p, base + 1, 9);
	model_update_service(e.model, svc_new("api", "10.96.0.11", TCP, 80,
	    0));
	env_pump(&e, 300);
	env_seen(&e, &s);
	CU_ASSERT_EQUAL_FATAL(s.n, 2);
	CU_ASSERT_STRING_EQUAL(s.name[0], "default/api:p");
	CU_ASSERT(s.proxy_port[0] > base && s.proxy_port[0] <= base + 9);
	CU_ASSERT_EQUAL(s.proxy_port[1], base);
	CU_ASSERT(tcp_connects(base));

	/* Back to the one-port range: web holds it, none is left. */
	proxier_set_port_range(e.p, base, 1);
	model_update_service(e.model, svc_new("db", "10.96.0.12", TCP, 80,
	    0));
	env_pump(&e, 300);
	env_seen(&e, &s);
	CU_ASSERT_EQUAL(s.n, 2);
	for (i = 0; i < (int)s.n; i++)
		CU_ASSERT_STRING_NOT_EQUAL(s.name[i], "default/db:p");

	/* The periodic sync (1h) re-armed at 200 ms re-asserts the rules. */
	n = fake_count(&e.f, "iptables.restore");
	proxier_set_sync_periods(e.p, 200, 0);
	CU_ASSERT(env_wait_calls(&e, "iptables.restore", n + 2));
	env_free(&e);
}

static const struct tu_case cases[] = {
	{ "service added, changed, endpoints only, removed",
	    test_proxier_service_lifecycle },
	{ "UDP conntrack flushed once the rules are gone",
	    test_proxier_udp_conntrack_after_rules },
	{ "failed restore counted and retried in full",
	    test_proxier_failed_restore_retried },
	{ "observer: applied after the first good rules, failures",
	    test_proxier_observer },
	{ "staged file rejected", test_proxier_staged_rejected },
	{ "staged file taken", test_proxier_staged_taken },
	{ "persisted ports rebound", test_proxier_persisted_ports },
	{ "live reload setters", test_proxier_live_setters },
	{ NULL, NULL }
};

TU_MAIN("proxier", cases)
