/*
 * test_migrate.c: the removal of what kube-proxy's other modes left, in
 * the background at start-up (through a rules job too) and blocking for
 * --cleanup, against the fake iptables and ipset (tests/data/
 * fake-iptables.sh).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "iptables.h"
#include "log.h"
#include "migrate.h"
#include "rules_job.h"
#include "tu.h"
#include "fake_ipt.h"

static const char ipvs_sets[] = "KUBE-CLUSTER-IP\nKUBE-NODE-PORT-TCP\n"
	"KUBE-6-CLUSTER-IP\nKUBE-LOOP-BACK\nsomeone-elses\n";

/* A loop with a 10 ms tick and a migration's completion. */
struct mt {
	struct fake		 f;
	struct event_base	*base;
	struct event		*tick;
	int			 ticks;
	int			 done;		/* done() calls */
	int			 replays;	/* rules job done() calls */
	int			 saved_err;	/* stderr while captured */
	char			 logpath[PATH_MAX];
};

/* Count the loop's turns. */
static void
mt_tick(evutil_socket_t fd, short ev, void *arg)
{
	struct mt	*t = arg;

	t->ticks++;
}

/* The migration is over. */
static void
mt_done(void *arg)
{
	struct mt	*t = arg;

	t->done++;
}

/* The rules job replays a sync that waited. */
static void
mt_replay(void *arg, int now)
{
	struct mt	*t = arg;

	t->replays++;
}

/* Return monotonic milliseconds. */
static long long
mt_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Fakes, a loop, and stderr (the log) into a file of the fake dir. */
static void
mt_setup(struct mt *t)
{
	struct timeval	tv = { 0, 10000 };
	int		fd;

	memset(t, 0, sizeof(*t));
	fake_setup(&t->f);
	log_init(0);
	t->base = event_base_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(t->base);
	t->tick = event_new(t->base, -1, EV_PERSIST, mt_tick, t);
	event_add(t->tick, &tv);
	snprintf(t->logpath, sizeof(t->logpath), "%s/log", t->f.dir);
	fflush(stderr);
	t->saved_err = dup(2);
	fd = open(t->logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CU_ASSERT_FATAL(fd != -1 && t->saved_err != -1);
	dup2(fd, 2);
	close(fd);
}

/* Give stderr back; return what was logged (caller frees). */
static char *
mt_log(struct mt *t)
{
	if (t->saved_err != -1) {
		fflush(stderr);
		dup2(t->saved_err, 2);
		close(t->saved_err);
		t->saved_err = -1;
	}
	return (tu_slurp(t->logpath));
}

/* Tear down. */
static void
mt_teardown(struct mt *t)
{
	free(mt_log(t));
	event_free(t->tick);
	event_base_free(t->base);
	fake_teardown(&t->f);
}

/* Run the loop until *counter reaches n (10 s at most). */
static int
mt_wait(struct mt *t, const int *counter, int n)
{
	long long	end = mt_now() + 10000;

	while (*counter < n && mt_now() < end)
		event_base_loop(t->base, EVLOOP_ONCE);
	return (*counter >= n);
}

/* Return the number of lines of s that contain what. */
static int
lines_with(const char *s, const char *what)
{
	const char	*p, *nl;
	int		 n = 0;

	for (p = s; p != NULL && *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p) - 1;
		if (memmem(p, nl - p + 1, what, strlen(what)) != NULL)
			n++;
	}
	return (n);
}

/*
 * ipvs mode's leftovers next to ours: saves, one restore (never
 * touching our chains), then the ipsets, all without blocking the loop,
 * and one log line naming what went.
 */
static void
test_migrate_background(void)
{
	struct mt	 t;
	struct ipt	*ipt;
	struct migrate	*m;
	long long	 start;
	char		*s, *calls;

	mt_setup(&t);
	fake_copy(&t.f, "migrate-ipvs-save-nat.txt", "iptables.save-nat.txt");
	fake_copy(&t.f, "migrate-ipvs-save-filter.txt",
	    "iptables.save-filter.txt");
	fake_write(&t.f, "ipset.list.txt", ipvs_sets);
	fake_write(&t.f, "delay-restore", "0.5\n");
	ipt = ipt_new(t.f.ipt4, AF_INET);
	start = mt_now();
	m = migrate_start(t.base, ipt, AF_INET, t.f.ipset, mt_done, &t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT(mt_now() - start < 300);
	CU_ASSERT_EQUAL(t.done, 0);
	CU_ASSERT_TRUE(mt_wait(&t, &t.done, 1));
	/* The loop turned while the 0.5 s restore ran. */
	CU_ASSERT(t.ticks >= 30);
	CU_ASSERT_EQUAL(fake_count(&t.f, "iptables.save"), 3);
	CU_ASSERT_EQUAL(fake_count(&t.f, "iptables.restore"), 1);
	s = fake_read(&t.f, "iptables.restore.1.in");
	tu_assert_golden(s, "migrate-ipvs.txt");
	free(s);
	s = fake_args(&t.f, "iptables.restore", 1);
	CU_ASSERT_STRING_EQUAL(s, "--noflush -w 5");
	free(s);
	s = fake_read(&t.f, "ipset.restore.2.in");
	CU_ASSERT_STRING_EQUAL(s, "destroy KUBE-CLUSTER-IP\n"
	    "destroy KUBE-NODE-PORT-TCP\ndestroy KUBE-LOOP-BACK\n");
	free(s);
	/* The sets go once no rule refers to them. */
	calls = fake_read(&t.f, "calls");
	CU_ASSERT_PTR_NOT_NULL_FATAL(calls);
	CU_ASSERT(strstr(calls, "iptables-restore end") <
	    strstr(calls, "ipset list -n"));
	free(calls);
	s = mt_log(&t);
	CU_ASSERT_EQUAL(lines_with(s, "leftovers"), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "IPv4: removed the leftovers of "
	    "kube-proxy's other modes in "));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, " ms: nat: KUBE-SERVICES "
	    "KUBE-POSTROUTING KUBE-FIREWALL KUBE-NODE-PORT KUBE-LOAD-BALANCER; "
	    "filter: KUBE-FORWARD; 4 jump rules; ipsets KUBE-CLUSTER-IP "
	    "KUBE-NODE-PORT-TCP KUBE-LOOP-BACK\n"));
	free(s);
	ipt_free(ipt);
	mt_teardown(&t);
}

/* Nothing of another mode: no restore, no destroy, no log line. */
static void
test_migrate_nothing(void)
{
	struct mt	 t;
	struct ipt	*ipt;
	char		*s;

	mt_setup(&t);
	fake_copy(&t.f, "iptables-cleanup-save-nat.txt",
	    "iptables.save-nat.txt");
	fake_write(&t.f, "ipset.list.txt", "someone-elses\n");
	ipt = ipt_new(t.f.ipt4, AF_INET);
	CU_ASSERT_PTR_NOT_NULL_FATAL(migrate_start(t.base, ipt, AF_INET,
	    t.f.ipset, mt_done, &t));
	CU_ASSERT_TRUE(mt_wait(&t, &t.done, 1));
	CU_ASSERT_EQUAL(fake_count(&t.f, "iptables.save"), 3);
	/* Our own chains (userspace mode's) are all that is there. */
	CU_ASSERT_EQUAL(fake_count(&t.f, "iptables.restore"), 0);
	CU_ASSERT_EQUAL(fake_count(&t.f, "ipset.ipset"), 1);
	s = mt_log(&t);
	CU_ASSERT_STRING_EQUAL(s, "");
	free(s);
	ipt_free(ipt);
	mt_teardown(&t);

	/* No ipset binary, no kernel ipset support: quiet all the same. */
	mt_setup(&t);
	fake_write(&t.f, "ipset.fail-list", "");
	ipt = ipt_new(t.f.ipt4, AF_INET);
	CU_ASSERT_PTR_NOT_NULL_FATAL(migrate_start(t.base, ipt, AF_INET,
	    t.f.ipset, mt_done, &t));
	CU_ASSERT_TRUE(mt_wait(&t, &t.done, 1));
	CU_ASSERT_PTR_NOT_NULL_FATAL(migrate_start(t.base, ipt, AF_INET,
	    NULL, mt_done, &t));
	CU_ASSERT_TRUE(mt_wait(&t, &t.done, 2));
	CU_ASSERT_EQUAL(fake_count(&t.f, "ipset.ipset"), 1);
	s = mt_log(&t);
	CU_ASSERT_STRING_EQUAL(s, "");
	free(s);
	ipt_free(ipt);
	mt_teardown(&t);
}

/* A failed restore: a warning with the line, no ipset destroyed. */
static void
test_migrate_fail(void)
{
	struct mt	 t;
	struct ipt	*ipt;
	char		*s;

	mt_setup(&t);
	fake_copy(&t.f, "migrate-ipvs-save-nat.txt", "iptables.save-nat.txt");
	fake_write(&t.f, "ipset.list.txt", ipvs_sets);
	fake_write(&t.f, "fail_line", "2\n");
	ipt = ipt_new(t.f.ipt4, AF_INET);
	CU_ASSERT_PTR_NOT_NULL_FATAL(migrate_start(t.base, ipt, AF_INET,
	    t.f.ipset, mt_done, &t));
	CU_ASSERT_TRUE(mt_wait(&t, &t.done, 1));
	CU_ASSERT_EQUAL(fake_count(&t.f, "iptables.restore"), 1);
	CU_ASSERT_EQUAL(fake_count(&t.f, "ipset.ipset"), 0);
	s = mt_log(&t);
	CU_ASSERT_EQUAL(lines_with(s, "removed the leftovers"), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "W"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "IPv4: leftovers of kube-proxy's "
	    "other modes not removed: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "input line 2 \"-D PREROUTING -m "
	    "comment --comment \"kubernetes service portals\" -j "
	    "KUBE-SERVICES\""));
	free(s);
	ipt_free(ipt);
	mt_teardown(&t);

	/* A save that fails: warned, nothing restored. */
	mt_setup(&t);
	fake_write(&t.f, "ip6tables.save-filter.err", "ip6tables-save v1.8.9: "
	    "Permission denied (you must be root)\n");
	ipt = ipt_new(t.f.ipt6, AF_INET6);
	CU_ASSERT_PTR_NOT_NULL_FATAL(migrate_start(t.base, ipt, AF_INET6,
	    t.f.ipset, mt_done, &t));
	CU_ASSERT_TRUE(mt_wait(&t, &t.done, 1));
	CU_ASSERT_EQUAL(fake_count(&t.f, "ip6tables.restore"), 0);
	CU_ASSERT_EQUAL(fake_count(&t.f, "ipset.ipset"), 0);
	s = mt_log(&t);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "IPv6: leftovers of kube-proxy's "
	    "other modes not removed: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "Permission denied"));
	free(s);
	ipt_free(ipt);
	mt_teardown(&t);
}

/* IPv6: ip6tables, and only the "KUBE-6-" sets. */
static void
test_migrate_ipv6(void)
{
	struct mt	 t;
	struct ipt	*ipt;
	char		*s;

	mt_setup(&t);
	fake_write(&t.f, "ip6tables.save-nat.txt", "*nat\n"
	    ":PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n"
	    "-A PREROUTING -j KUBE-SERVICES\nCOMMIT\n");
	fake_write(&t.f, "ipset.list.txt", ipvs_sets);
	ipt = ipt_new(t.f.ipt6, AF_INET6);
	CU_ASSERT_PTR_NOT_NULL_FATAL(migrate_start(t.base, ipt, AF_INET6,
	    t.f.ipset, mt_done, &t));
	CU_ASSERT_TRUE(mt_wait(&t, &t.done, 1));
	CU_ASSERT_EQUAL(fake_count(&t.f, "iptables.save"), 0);
	CU_ASSERT_EQUAL(fake_count(&t.f, "ip6tables.restore"), 1);
	s = fake_read(&t.f, "ip6tables.restore.1.in");
	CU_ASSERT_STRING_EQUAL(s, "*nat\n-D PREROUTING -j KUBE-SERVICES\n"
	    ":KUBE-SERVICES - [0:0]\n-X KUBE-SERVICES\nCOMMIT\n");
	free(s);
	s = fake_read(&t.f, "ipset.restore.2.in");
	CU_ASSERT_STRING_EQUAL(s, "destroy KUBE-6-CLUSTER-IP\n");
	free(s);
	s = mt_log(&t);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "IPv6: removed the leftovers of "
	    "kube-proxy's other modes in "));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, " ms: nat: KUBE-SERVICES; 1 jump "
	    "rules; ipsets KUBE-6-CLUSTER-IP\n"));
	free(s);
	ipt_free(ipt);
	mt_teardown(&t);
}

/*
 * --cleanup: every mode (ours included) in one restore, then the sets;
 * a set in use is an error; idempotent.
 */
static void
test_migrate_cleanup(void)
{
	struct mt	 t;
	struct ipt	*ipt;
	char		 err[IPT_ERRLEN], *s;

	mt_setup(&t);
	fake_copy(&t.f, "migrate-ipvs-save-nat.txt", "iptables.save-nat.txt");
	fake_copy(&t.f, "migrate-ipvs-save-filter.txt",
	    "iptables.save-filter.txt");
	fake_write(&t.f, "ipset.list.txt", ipvs_sets);
	ipt = ipt_new(t.f.ipt4, AF_INET);
	CU_ASSERT_EQUAL(migrate_cleanup(ipt, AF_INET, t.f.ipset, err,
	    sizeof(err)), 0);
	s = mt_log(&t);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "IPv4: cleanup removed in "));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, " ms: nat: KUBE-PORTALS-CONTAINER "
	    "KUBE-SERVICES KUBE-POSTROUTING KUBE-FIREWALL KUBE-NODE-PORT "
	    "KUBE-LOAD-BALANCER; filter: KUBE-NODEPORT-NON-LOCAL KUBE-FORWARD; "
	    "6 jump rules; ipsets KUBE-CLUSTER-IP KUBE-NODE-PORT-TCP "
	    "KUBE-LOOP-BACK\n"));
	free(s);
	CU_ASSERT_EQUAL(fake_count(&t.f, "iptables.restore"), 1);
	s = fake_read(&t.f, "iptables.restore.1.in");
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "-X KUBE-PORTALS-CONTAINER\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "-X KUBE-SERVICES\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "-X KUBE-NODEPORT-NON-LOCAL\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "-X KUBE-FORWARD\n"));
	free(s);
	s = fake_read(&t.f, "ipset.restore.2.in");
	CU_ASSERT_STRING_EQUAL(s, "destroy KUBE-CLUSTER-IP\n"
	    "destroy KUBE-NODE-PORT-TCP\ndestroy KUBE-LOOP-BACK\n");
	free(s);

	/* A set in use: reported. */
	fake_write(&t.f, "ipset.fail", "");
	CU_ASSERT_EQUAL(migrate_cleanup(ipt, AF_INET, t.f.ipset, err,
	    sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "in use by a kernel component"));
	fake_unlink(&t.f, "ipset.fail");

	/* Nothing left: no restore, no destroy, success. */
	fake_write(&t.f, "iptables.save-nat.txt", "*nat\nCOMMIT\n");
	fake_write(&t.f, "iptables.save-filter.txt", "*filter\nCOMMIT\n");
	fake_write(&t.f, "ipset.list.txt", "someone-elses\n");
	CU_ASSERT_EQUAL(migrate_cleanup(ipt, AF_INET, t.f.ipset, err,
	    sizeof(err)), 0);
	CU_ASSERT_EQUAL(fake_count(&t.f, "iptables.restore"), 2);
	/* list+restore, list+restore (failed), list. */
	CU_ASSERT_EQUAL(fake_count(&t.f, "ipset.ipset"), 5);
	ipt_free(ipt);
	mt_teardown(&t);
}

/*
 * Through a rules job: a sync that arrives while the migration runs
 * waits for it and is replayed; the migration's restore comes first.
 */
static void
test_migrate_rules_job(void)
{
	static const struct ipt_svcport web = { "default/web:http",
		IPPROTO_TCP, 80, 0, 40001, "10.96.0.10", NULL, 0, NULL, 0 };
	struct ipt_params	 params = { AF_INET, NULL, "192.0.2.1" };
	struct rules_job	*j;
	struct mt		 t;
	char			*s;

	mt_setup(&t);
	fake_copy(&t.f, "migrate-ipvs-save-nat.txt", "iptables.save-nat.txt");
	fake_write(&t.f, "delay-restore", "0.3\n");
	j = rules_job_new(t.base, AF_INET, t.f.ipt4, NULL, mt_replay, &t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	rules_job_migrate(j, NULL);
	CU_ASSERT_TRUE(rules_job_migrating(j));
	CU_ASSERT_EQUAL(rules_job_sync(j, &params, &web, 1, 0), 0);
	CU_ASSERT_TRUE(mt_wait(&t, &t.replays, 1));
	CU_ASSERT_FALSE(rules_job_migrating(j));
	CU_ASSERT_EQUAL(fake_count(&t.f, "iptables.restore"), 1);
	/* The replayed sync: the jump reads, then our rules. */
	CU_ASSERT_EQUAL(rules_job_sync(j, &params, &web, 1, 0), 0);
	while (fake_ended(&t.f, "iptables.restore") < 2 &&
	    t.ticks < 1000)
		event_base_loop(t.base, EVLOOP_ONCE);
	CU_ASSERT_EQUAL(fake_count(&t.f, "iptables.restore"), 2);
	s = fake_read(&t.f, "iptables.restore.1.in");
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "-X KUBE-SERVICES\n"));
	CU_ASSERT_PTR_NULL(strstr(s, "KUBE-PORTALS"));
	free(s);
	s = fake_read(&t.f, "iptables.restore.2.in");
	CU_ASSERT_PTR_NOT_NULL(strstr(s, ":KUBE-PORTALS-CONTAINER - [0:0]"));
	free(s);
	/* Not again once it is over. */
	rules_job_migrate(j, NULL);
	rules_job_free(j);
	CU_ASSERT_EQUAL(fake_count(&t.f, "iptables.save"), 3);
	mt_teardown(&t);
}

/* A job freed while it migrates: the migration stops, nothing leaks. */
static void
test_migrate_cancel(void)
{
	struct rules_job	*j;
	struct mt		 t;

	mt_setup(&t);
	fake_write(&t.f, "delay-S", "5\n");
	j = rules_job_new(t.base, AF_INET, t.f.ipt4, NULL, mt_replay, &t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	rules_job_migrate(j, NULL);
	CU_ASSERT_TRUE(rules_job_migrating(j));
	rules_job_free(j);
	CU_ASSERT_EQUAL(t.replays, 0);
	mt_teardown(&t);
}

/* ipset is looked for next to iptables first: a fake comes with one. */
static void
test_migrate_ipset_path(void)
{
	struct fake	 f;
	const char	*p;

	fake_setup(&f);
	p = migrate_ipset_path(f.ipt4);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_STRING_EQUAL(p, f.ipset);
	fake_unlink(&f, "ipset");
	p = migrate_ipset_path(f.ipt4);
	CU_ASSERT(p == NULL || strcmp(p, f.ipset) != 0);
	fake_teardown(&f);
}

/* No kube-ipvs0 link here: nothing to delete. */
static void
test_migrate_link_absent(void)
{
	char	err[256];

	CU_ASSERT_EQUAL(migrate_link_delete("kuproxy-nolink0", err,
	    sizeof(err)), 0);
}

static const struct tu_case cases[] = {
	{ "background", test_migrate_background },
	{ "nothing there", test_migrate_nothing },
	{ "failures", test_migrate_fail },
	{ "ipv6", test_migrate_ipv6 },
	{ "cleanup", test_migrate_cleanup },
	{ "rules job", test_migrate_rules_job },
	{ "cancel", test_migrate_cancel },
	{ "ipset path", test_migrate_ipset_path },
	{ "link absent", test_migrate_link_absent },
	{ NULL, NULL }
};

TU_MAIN("migrate", cases)
