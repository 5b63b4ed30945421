/*
 * test_proxier_rules.c: the rules side of the proxier against the fake
 * iptables and conntrack: every command runs in the background (the
 * loop keeps running while a slow "-S" or restore runs), a sync that
 * comes meanwhile is replayed, conntrack flushes follow the restore that
 * removed the rules, node ports are claimed for one owner.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "config.h"
#include "iptables.h"
#include "log.h"
#include "proxier_rules.h"
#include "tu.h"
#include "fake_ipt.h"

#define TCP	IPPROTO_TCP
#define UDP	IPPROTO_UDP

static const struct ipt_svcport web = { "default/web:http", TCP, 80, 0,
	40001, "10.96.0.10", NULL, 0, NULL, 0 };
static const struct ipt_svcport dns = { "kube-system/kube-dns:dns", UDP,
	53, 0, 40010, "10.96.0.53", NULL, 0, NULL, 0 };

/* One rules side on its own loop, with the fakes. */
struct rt {
	struct fake		 f;
	struct event_base	*base;
	struct event		*tick;
	struct kp_config	*cfg;
	struct proxier_rules	*r;
	int			 ticks;		/* 10 ms timer runs */
	int			 replays;	/* done() calls */
	int			 replay_now;	/* last done()'s now */
	int			 oks, fails;	/* result() calls */
};

/* Count the loop's turns: it must keep running while commands do. */
static void
rt_tick(evutil_socket_t fd, short ev, void *arg)
{
	struct rt	*t = arg;

	t->ticks++;
}

/* The rules side asks for the sync that waited. */
static void
rt_done(void *arg, int now)
{
	struct rt	*t = arg;

	t->replays++;
	t->replay_now = now;
}

/* A family's rules of a sync ended. */
static void
rt_result(void *arg, int ok, uint64_t start_ms)
{
	struct rt	*t = arg;

	CU_ASSERT(start_ms > 0);
	if (ok)
		t->oks++;
	else
		t->fails++;
}

/* Return monotonic milliseconds. */
static long long
rt_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/*
 * Let the start-up removal of other modes' leftovers end (10 s at
 * most): the tests below start from the first sync.
 */
static void
rt_settle(struct rt *t)
{
	long long	end = rt_now() + 10000;

	while (proxier_rules_migrating(t->r) && rt_now() < end)
		event_base_loop(t->base, EVLOOP_ONCE);
	CU_ASSERT_FATAL(!proxier_rules_migrating(t->r));
	/* Nothing of other modes there: nothing restored. */
	CU_ASSERT_EQUAL(fake_count(&t->f, "iptables.restore"), 0);
	CU_ASSERT_EQUAL(fake_count(&t->f, "ip6tables.restore"), 0);
}

/* Set up fakes, a loop with a 10 ms tick, a config and the rules side. */
static void
rt_setup(struct rt *t)
{
	struct timeval	 tv = { 0, 10000 };
	char		 err[256], *argv[10];
	int		 argc = 0;

	memset(t, 0, sizeof(*t));
	err[0] = '\0';
	fake_setup(&t->f);
	log_init(0);
	t->base = event_base_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(t->base);
	t->tick = event_new(t->base, -1, EV_PERSIST, rt_tick, t);
	event_add(t->tick, &tv);
	t->cfg = config_new();
	argv[argc++] = strdup("kuproxy");
	argv[argc++] = strdup("--bind-address=192.0.2.1");
	asprintf(&argv[argc++], "--iptables-path=%s", t->f.ipt4);
	asprintf(&argv[argc++], "--ip6tables-path=%s", t->f.ipt6);
	asprintf(&argv[argc++], "--conntrack-path=%s", t->f.ct);
	argv[argc] = NULL;
	if (config_load(t->cfg, argc, argv, err, sizeof(err)) != CONFIG_RUN)
		fprintf(stderr, "config: %s\n", err);
	CU_ASSERT_FATAL(err[0] == '\0');
	while (argc > 0)
		free(argv[--argc]);
	t->r = proxier_rules_new(t->base, t->cfg, rt_done, t, err,
	    sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(t->r);
	rt_settle(t);
}

/* Tear everything down. */
static void
rt_teardown(struct rt *t)
{
	proxier_rules_free(t->r);
	config_free(t->cfg);
	event_free(t->tick);
	event_base_free(t->base);
	fake_teardown(&t->f);
}

/* Run the loop until the fake's counter prefix reaches n (5 s at most). */
static int
rt_wait(struct rt *t, const char *prefix, int n)
{
	long long	end = rt_now() + 5000;

	while (fake_count(&t->f, prefix) < n && rt_now() < end)
		event_base_loop(t->base, EVLOOP_ONCE);
	return (fake_count(&t->f, prefix) >= n);
}

/* Return how many times calls records that name ended. */
static int
rt_ended(struct rt *t, const char *name)
{
	char	*calls = fake_read(&t->f, "calls"), *p, want[128];
	int	 n = 0;

	if (calls == NULL)
		return (0);
	snprintf(want, sizeof(want), "%s end\n", name);
	for (p = calls; (p = strstr(p, want)) != NULL; p += strlen(want))
		if (p == calls || p[-1] == '\n' || p[-1] == '/')
			n++;
	free(calls);
	return (n);
}

/* Run the loop until name ended n times (5 s at most). */
static int
rt_wait_ended(struct rt *t, const char *name, int n)
{
	long long	end = rt_now() + 5000;

	while (rt_ended(t, name) < n && rt_now() < end)
		event_base_loop(t->base, EVLOOP_ONCE);
	return (rt_ended(t, name) >= n);
}

/* Run the loop until done() was called n times (5 s at most). */
static int
rt_wait_replays(struct rt *t, int n)
{
	long long	end = rt_now() + 5000;

	while (t->replays < n && rt_now() < end)
		event_base_loop(t->base, EVLOOP_ONCE);
	return (t->replays >= n);
}

/* Run the loop until n rule applications failed (5 s at most). */
static int
rt_wait_errors(struct rt *t, uint64_t n)
{
	long long	end = rt_now() + 5000;

	while (proxier_rules_errors(t->r) < n && rt_now() < end)
		event_base_loop(t->base, EVLOOP_ONCE);
	return (proxier_rules_errors(t->r) >= n);
}

/* Run the loop for ms milliseconds. */
static void
rt_run(struct rt *t, int ms)
{
	long long	end = rt_now() + ms;

	while (rt_now() < end)
		event_base_loop(t->base, EVLOOP_ONCE);
}

/* Return the line number (1-based) of the first line of calls with s. */
static int
rt_call_line(struct rt *t, const char *s)
{
	char	*calls = fake_read(&t->f, "calls"), *p, *nl;
	int	 line = 1, found = 0;

	if (calls == NULL)
		return (0);
	for (p = calls; *p != '\0' && !found; p = nl + 1, line++) {
		if ((nl = strchr(p, '\n')) == NULL)
			break;
		*nl = '\0';
		found = strstr(p, s) != NULL;
	}
	free(calls);
	return (found ? line - 1 : 0);
}

/*
 * The first sync reads the jumps with a slow "-S" (0.3 s each) without
 * blocking: the sync returns at once, the loop keeps ticking through the
 * three reads, then the restore runs; a sync that came meanwhile is
 * replayed once the job is done.
 */
static void
test_proxier_rules_reads_background(void)
{
	struct rt	t;
	long long	start;
	int		ticks;

	rt_setup(&t);
	fake_write(&t.f, "delay-S", "0.3\n");
	start = rt_now();
	CU_ASSERT_EQUAL(proxier_rules_sync(t.r, &web, 1, 0), 0);
	CU_ASSERT(rt_now() - start < 200);
	CU_ASSERT_EQUAL(fake_count(&t.f, "iptables.restore"), 0);
	/* Meanwhile another sync: remembered, not run. */
	CU_ASSERT_TRUE(rt_wait(&t, "iptables.iptables", 2));
	CU_ASSERT_EQUAL(proxier_rules_sync(t.r, &web, 1, 0), 0);
	/* "-V" at start-up, then the first read, still running. */
	CU_ASSERT_EQUAL(fake_count(&t.f, "iptables.iptables"), 2);
	ticks = t.ticks;
	CU_ASSERT_TRUE(rt_wait(&t, "iptables.restore", 1));
	/* Three reads of 0.3 s ran; the loop turned all along. */
	CU_ASSERT(t.ticks - ticks >= 30);
	CU_ASSERT(rt_now() - start >= 900);
	CU_ASSERT_EQUAL(fake_count(&t.f, "iptables.iptables"), 4);
	CU_ASSERT(rt_call_line(&t, "-t filter -S INPUT") <
	    rt_call_line(&t, "iptables-restore"));
	CU_ASSERT_TRUE(rt_wait_replays(&t, 1));
	rt_run(&t, 50);
	CU_ASSERT_EQUAL(t.replays, 1);
	CU_ASSERT_EQUAL(t.replay_now, 0);
	/* The replayed sync has nothing left to do: no reads, no restore. */
	CU_ASSERT_EQUAL(proxier_rules_sync(t.r, &web, 1, 0), 0);
	rt_run(&t, 100);
	CU_ASSERT_EQUAL(fake_count(&t.f, "iptables.restore"), 1);
	CU_ASSERT_EQUAL(fake_count(&t.f, "iptables.iptables"), 4);
	/* A forced one reads again, in the background too. */
	CU_ASSERT_EQUAL(proxier_rules_sync(t.r, &web, 1, 1), 0);
	CU_ASSERT_TRUE(rt_wait(&t, "iptables.restore", 2));
	CU_ASSERT_EQUAL(fake_count(&t.f, "iptables.iptables"), 7);
	CU_ASSERT_EQUAL(proxier_rules_errors(t.r), 0);
	rt_teardown(&t);
}

/*
 * A failed read is an error: no restore runs; the next sync reads again
 * and applies.
 */
static void
test_proxier_rules_reads_fail(void)
{
	struct rt	 t;
	char		 path[PATH_MAX];

	rt_setup(&t);
	fake_write(&t.f, "fail-S", "");
	CU_ASSERT_EQUAL(proxier_rules_sync(t.r, &web, 1, 0), 0);
	/* "-V" at start-up, then the first read, which fails. */
	CU_ASSERT_TRUE(rt_wait_errors(&t, 1));
	rt_run(&t, 100);
	CU_ASSERT_EQUAL(fake_count(&t.f, "iptables.iptables"), 2);
	CU_ASSERT_EQUAL(fake_count(&t.f, "iptables.restore"), 0);
	CU_ASSERT_EQUAL(proxier_rules_errors(t.r), 1);
	snprintf(path, sizeof(path), "%s/fail-S", t.f.dir);
	unlink(path);
	CU_ASSERT_EQUAL(proxier_rules_sync(t.r, &web, 1, 0), 0);
	CU_ASSERT_TRUE(rt_wait(&t, "iptables.restore", 1));
	CU_ASSERT_EQUAL(fake_count(&t.f, "iptables.iptables"), 5);
	CU_ASSERT_EQUAL(proxier_rules_errors(t.r), 1);
	rt_teardown(&t);
}

/*
 * conntrack -D of a removed UDP service runs in the background, after
 * the restore that removed its rules has ended, and not for TCP.
 */
static void
test_proxier_rules_conntrack_after(void)
{
	struct ipt_svcport	 sp[2];
	struct rt		 t;
	char			*s, path[PATH_MAX];
	int			 ticks;

	rt_setup(&t);
	sp[0] = web;
	sp[1] = dns;
	CU_ASSERT_EQUAL(proxier_rules_sync(t.r, sp, 2, 0), 0);
	CU_ASSERT_TRUE(rt_wait_ended(&t, "iptables-restore", 1));
	rt_run(&t, 50);
	/* dns goes: its "-D" restore is slow; conntrack waits for it. */
	fake_write(&t.f, "delay-restore", "0.3\n");
	fake_write(&t.f, "delay-conntrack", "0.3\n");
	proxier_rules_forget(t.r, UDP, dns.cluster_ip);
	proxier_rules_forget(t.r, TCP, web.cluster_ip);
	CU_ASSERT_EQUAL(proxier_rules_sync(t.r, sp, 1, 0), 0);
	CU_ASSERT_EQUAL(fake_count(&t.f, "conntrack.conntrack"), 0);
	ticks = t.ticks;
	CU_ASSERT_TRUE(rt_wait(&t, "conntrack.conntrack", 1));
	CU_ASSERT_EQUAL(fake_count(&t.f, "iptables.restore"), 2);
	CU_ASSERT_EQUAL(rt_ended(&t, "iptables-restore"), 2);
	s = fake_read(&t.f, "iptables.restore.2.in");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "-D KUBE-PORTALS-CONTAINER"));
	free(s);
	/* The restore ended before conntrack started. */
	CU_ASSERT(rt_call_line(&t, "iptables-restore end") > 0);
	CU_ASSERT(rt_call_line(&t, "iptables-restore end") <
	    rt_call_line(&t, "conntrack -D"));
	/* A sync while conntrack runs waits for it, and is replayed. */
	CU_ASSERT_EQUAL(proxier_rules_sync(t.r, sp, 1, 0), 0);
	CU_ASSERT_TRUE(rt_wait_replays(&t, 1));
	CU_ASSERT_TRUE(rt_wait_ended(&t, "conntrack", 1));
	CU_ASSERT(t.ticks - ticks >= 30);
	CU_ASSERT_EQUAL(t.replays, 1);
	s = fake_args(&t.f, "conntrack.conntrack", 1);
	CU_ASSERT_STRING_EQUAL(s, "-D --orig-dst 10.96.0.53 -p udp");
	free(s);
	CU_ASSERT_EQUAL(fake_count(&t.f, "conntrack.conntrack"), 1);

	/* Nothing changed: a queued flush runs at once, in the background. */
	proxier_rules_forget(t.r, UDP, "10.96.0.99");
	CU_ASSERT_EQUAL(proxier_rules_sync(t.r, sp, 1, 0), 0);
	CU_ASSERT_EQUAL(fake_count(&t.f, "conntrack.conntrack"), 1);
	CU_ASSERT_TRUE(rt_wait(&t, "conntrack.conntrack", 2));
	CU_ASSERT_EQUAL(fake_count(&t.f, "iptables.restore"), 2);
	CU_ASSERT_TRUE(rt_wait_ended(&t, "conntrack", 2));
	rt_run(&t, 50);

	/* A failed restore keeps the flush for the one that succeeds. */
	fake_write(&t.f, "delay-restore", "0\n");
	fake_write(&t.f, "fail_line", "2\n");
	proxier_rules_forget(t.r, UDP, "10.96.0.98");
	CU_ASSERT_EQUAL(proxier_rules_sync(t.r, NULL, 0, 0), 0);
	CU_ASSERT_TRUE(rt_wait_ended(&t, "iptables-restore", 3));
	CU_ASSERT_TRUE(rt_wait_replays(&t, 2));
	CU_ASSERT_EQUAL(fake_count(&t.f, "conntrack.conntrack"), 2);
	CU_ASSERT_EQUAL(proxier_rules_errors(t.r), 1);
	snprintf(path, sizeof(path), "%s/fail_line", t.f.dir);
	unlink(path);
	CU_ASSERT_EQUAL(proxier_rules_sync(t.r, NULL, 0, 0), 0);
	CU_ASSERT_TRUE(rt_wait_ended(&t, "conntrack", 3));
	s = fake_args(&t.f, "conntrack.conntrack", 3);
	CU_ASSERT_STRING_EQUAL(s, "-D --orig-dst 10.96.0.98 -p udp");
	free(s);
	rt_teardown(&t);
}

/* Run the loop until result() reported n successes (5 s at most). */
static int
rt_wait_oks(struct rt *t, int n)
{
	long long	end = rt_now() + 5000;

	while (t->oks < n && rt_now() < end)
		event_base_loop(t->base, EVLOOP_ONCE);
	return (t->oks >= n);
}

/*
 * Health's inputs: each sync's rules report ok or not, and the rules
 * are "behind" from a sync until its rules are applied: while the
 * restore runs, after it failed, and when a sync came in meanwhile.
 */
static void
test_proxier_rules_results(void)
{
	struct ipt_svcport	 sp[1];
	struct rt		 t;
	char			 path[PATH_MAX];
	uint64_t		 since, before;

	rt_setup(&t);
	proxier_rules_set_result(t.r, rt_result);
	sp[0] = web;
	CU_ASSERT_EQUAL(proxier_rules_behind(t.r, &since), 0);
	fake_write(&t.f, "fail_line", "2\n");
	CU_ASSERT_EQUAL(proxier_rules_sync(t.r, sp, 1, 0), 0);
	CU_ASSERT_EQUAL(proxier_rules_behind(t.r, &since), 1);
	CU_ASSERT_TRUE(rt_wait_errors(&t, 1));
	CU_ASSERT_EQUAL(t.fails, 1);
	CU_ASSERT_EQUAL(t.oks, 0);
	CU_ASSERT_EQUAL(proxier_rules_behind(t.r, &since), 1);
	CU_ASSERT_EQUAL(since, 0);	/* never applied */
	/* A failure asks for a retry soon. */
	CU_ASSERT_TRUE(rt_wait_replays(&t, 1));
	snprintf(path, sizeof(path), "%s/fail_line", t.f.dir);
	unlink(path);
	/* A slow restore, and a second sync while it runs. */
	fake_write(&t.f, "delay-restore", "0.3\n");
	before = (uint64_t)rt_now();
	CU_ASSERT_EQUAL(proxier_rules_sync(t.r, sp, 1, 1), 0);
	CU_ASSERT_TRUE(rt_wait(&t, "iptables.restore", 2));
	CU_ASSERT_EQUAL(proxier_rules_sync(t.r, sp, 1, 0), 0);
	CU_ASSERT_TRUE(rt_wait_oks(&t, 1));
	/* That restore's sync is applied, the later one is not yet. */
	CU_ASSERT_EQUAL(proxier_rules_behind(t.r, &since), 1);
	CU_ASSERT(since >= before && since <= (uint64_t)rt_now());
	CU_ASSERT_TRUE(rt_wait_replays(&t, 2));
	/* The replayed sync: unchanged rules, applied at once. */
	CU_ASSERT_EQUAL(proxier_rules_sync(t.r, sp, 1, 0), 0);
	CU_ASSERT_TRUE(rt_wait_oks(&t, 2));
	CU_ASSERT_EQUAL(proxier_rules_behind(t.r, &since), 0);
	CU_ASSERT_EQUAL(t.fails, 1);
	rt_teardown(&t);
}

/* Node ports: the first service port asking owns it; rules for it only. */
static void
test_proxier_rules_node_ports(void)
{
	struct ipt_svcport	 sp[2];
	struct rt		 t;
	char			*s;

	rt_setup(&t);
	sp[0] = web;
	sp[0].node_port = 30999;
	sp[1] = web;
	sp[1].name = "default/other:http";
	sp[1].cluster_ip = "10.96.0.11";
	sp[1].proxy_port = 40002;
	sp[1].node_port = 30999;
	CU_ASSERT_EQUAL(proxier_rules_sync(t.r, sp, 2, 0), 0);
	CU_ASSERT_TRUE(rt_wait_ended(&t, "iptables-restore", 1));
	s = fake_read(&t.f, "iptables.restore.1.in");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "-A KUBE-NODEPORT-HOST -m comment "
	    "--comment \"default/web:http\""));
	CU_ASSERT_PTR_NULL(strstr(s, "-A KUBE-NODEPORT-HOST -m comment "
	    "--comment \"default/other:http\""));
	free(s);
	/* No IPv6 service port: ip6tables never ran. */
	CU_ASSERT_EQUAL(fake_count(&t.f, "ip6tables.restore"), 0);
	rt_teardown(&t);
}

static const struct tu_case cases[] = {
	{ "sync results and rules behind", test_proxier_rules_results },
	{ "reads in the background", test_proxier_rules_reads_background },
	{ "reads fail", test_proxier_rules_reads_fail },
	{ "conntrack after the restore", test_proxier_rules_conntrack_after },
	{ "node ports", test_proxier_rules_node_ports },
	{ NULL, NULL }
};

TU_MAIN("proxier_rules", cases)
