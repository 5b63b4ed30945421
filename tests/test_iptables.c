/*
 * test_iptables.c: the rule state of one family against fake binaries:
 * jump reads and their fixes, full and incremental restores (golden
 * texts in tests/data), streams, cleanup.  Rendering is tested in
 * test_iptables_render.c, conntrack in test_conntrack.c, the node IP in
 * test_nodeip.c.
 *
 * Past 900 lines on purpose: one module's unit tests are one binary
 * (one concern: this module's behaviour), and the cases share fixtures
 * that a split would have to repeat or export.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "exec.h"
#include "iptables.h"
#include "tu.h"
#include "fake_ipt.h"
#include "ipt_ports.h"

static const char jumps_ok_pre[] =
    "-P PREROUTING ACCEPT\n"
    "-A PREROUTING -m comment --comment \"handle ClusterIPs; NOTE: "
    "this must be before the NodePort rules\" -j "
    "KUBE-PORTALS-CONTAINER\n"
    "-A PREROUTING -j DOCKER\n"
    "-A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment "
    "\"handle service NodePorts; NOTE: this must be the last rule in "
    "the chain\" -j KUBE-NODEPORT-CONTAINER\n";

static const char jumps_ok_out[] =
    "-P OUTPUT ACCEPT\n"
    "-A OUTPUT -m comment --comment \"handle ClusterIPs; NOTE: this "
    "must be before the NodePort rules\" -j KUBE-PORTALS-HOST\n"
    "-A OUTPUT -m comment --comment \"handle service NodePorts; NOTE: "
    "this must be the last rule in the chain\" -m addrtype --dst-type "
    "LOCAL -j KUBE-NODEPORT-HOST\n";

static const char fail_line7[] =
    "input line 7 \"-A KUBE-PORTALS-HOST -m comment --comment "
    "\"default/web:http\" -p tcp -m tcp --dport 80 -d 10.96.0.10/32 -j "
    "DNAT --to-destination 192.168.1.10:40001\"";

/* Stream sp through st and take the result rv (0: success). */
static int
stream_run(struct ipt *ipt, const struct ipt_svcport *sp, size_t n,
    struct ipt_text *all, int rv, const struct exec_result *res, char *err,
    size_t errlen)
{
	struct ipt_stream	 st;
	const char		*argv[5], *buf;
	size_t			 len;

	memset(all, 0, sizeof(*all));
	if (ipt_stream_begin(ipt, &st, argv) == -1)
		return (-2);
	CU_ASSERT_PTR_NOT_NULL(strstr(argv[0], "iptables-restore"));
	CU_ASSERT_STRING_EQUAL(argv[1], "--noflush");
	CU_ASSERT_STRING_EQUAL(argv[2], "-w");
	CU_ASSERT_STRING_EQUAL(argv[3], "5");
	CU_ASSERT_PTR_NULL(argv[4]);
	if (ipt_stream_add(&st, &p4, sp, n, &buf, &len, err, errlen) == -1) {
		ipt_stream_free(&st);
		return (-3);
	}
	all->buf = calloc(1, 65536);
	CU_ASSERT_FATAL(all->buf != NULL && len < 65536 - 16);
	if (len > 0)
		memcpy(all->buf, buf, len);
	all->len = len;
	ipt_stream_end(&st, &buf, &len);
	if (len > 0)
		memcpy(all->buf + all->len, buf, len);
	all->len += len;
	return (ipt_stream_done(ipt, &st, all->len, rv, res, err, errlen));
}

/*
 * A stream may start only from a known good state; with nf_tables each
 * part is committed on its own, with legacy the whole stream is one
 * nat transaction; the rules it wrote count as applied (the next sync
 * has nothing to do); a failed stream makes the next sync full, and
 * says which line failed.
 */
static void
test_iptables_stream(void)
{
	struct ipt_svcport	 sp[2];
	struct exec_result	 res;
	struct ipt_stream	 st;
	struct ipt_text		 all;
	struct fake		 f;
	struct ipt		*ipt;
	const char		*argv[5];
	char			 err[IPT_ERRLEN], *s;

	fake_setup(&f);
	sp[0] = web;
	sp[1] = np;

	/* Legacy (the fake's default "-V"): one transaction, nat only. */
	ipt = ipt_new(f.ipt4, AF_INET);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ipt);
	ipt_backend_probe(ipt);
	/* Nothing applied yet: the chains may not even exist. */
	CU_ASSERT_EQUAL(ipt_stream_begin(ipt, &st, argv), -1);
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, sp, 1, 0, err, sizeof(err)), 0);
	/* np has a filter rule (its NodePort): refused. */
	CU_ASSERT_EQUAL(stream_run(ipt, &np, 1, &all, 0, NULL, err,
	    sizeof(err)), -3);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "only nat rules"));
	ipt_text_free(&all);
	sp[1] = np;
	sp[1].node_port = 0;
	CU_ASSERT_EQUAL(stream_run(ipt, &sp[1], 1, &all, 0, NULL, err,
	    sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(all.buf, "*nat\n"
	    "-A KUBE-PORTALS-CONTAINER -m comment --comment \"default/np\" "
	    "-p tcp -m tcp --dport 8080 -d 10.96.0.20/32 -j REDIRECT "
	    "--to-ports 40002\n"
	    "-A KUBE-PORTALS-HOST -m comment --comment \"default/np\" "
	    "-p tcp -m tcp --dport 8080 -d 10.96.0.20/32 -j DNAT "
	    "--to-destination 192.168.1.10:40002\n"
	    "COMMIT\n");
	ipt_text_free(&all);
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, sp, 2, 0, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 1);
	ipt_free(ipt);

	fake_write(&f, "iptables.version", "iptables v1.8.9 (nf_tables)\n");
	ipt = ipt_new(f.ipt4, AF_INET);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ipt);
	ipt_backend_probe(ipt);
	sp[1] = np;
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, sp, 1, 0, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 2);
	/* nf_tables: np streamed, NodePort and all, in blocks. */
	CU_ASSERT_EQUAL(stream_run(ipt, &np, 1, &all, 0, NULL, err,
	    sizeof(err)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(all.buf, "COMMIT\n*filter\n-A "));
	ipt_text_free(&all);
	/* ... and in: nothing left to run. */
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, sp, 2, 0, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 2);
	/* Removing np is an incremental "-D" of exactly its rules. */
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, sp, 1, 0, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 3);
	s = fake_read(&f, "iptables.restore.3.in");
	tu_assert_golden(s, "iptables-incr-remove.txt");
	free(s);

	/* A stream that failed at its line 2: named, and the next is full. */
	memset(&res, 0, sizeof(res));
	res.status = 2;
	res.out = (char *)(uintptr_t)
	    "iptables-restore v1.8.9 (nf_tables): fake failure\n"
	    "Error occurred at line: 2\n";
	res.outlen = strlen(res.out);
	snprintf(res.err, sizeof(res.err), "iptables-restore exited 2");
	err[0] = '\0';
	CU_ASSERT_EQUAL(stream_run(ipt, &np, 1, &all, -1, &res, err,
	    sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "input line 2 \"-A "));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "fake failure"));
	ipt_text_free(&all);
	CU_ASSERT_EQUAL(ipt_stream_begin(ipt, &st, argv), -1);
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, sp, 2, 0, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 4);
	s = fake_read(&f, "iptables.restore.4.in");
	CU_ASSERT_PTR_NOT_NULL(strstr(s, ":KUBE-PORTALS-CONTAINER - [0:0]"));
	free(s);
	ipt_free(ipt);
	fake_teardown(&f);
}

/*
 * One restore per sync with --noflush and -w; jumps checked first; no
 * exec when nothing changed; stale rules gone from the next text.
 */
static void
test_iptables_sync_once(void)
{
	struct ipt_svcport	 sp[2];
	struct fake		 f;
	struct ipt		*ipt;
	char			 err[IPT_ERRLEN], *s;

	fake_setup(&f);
	ipt = ipt_new(f.ipt4, AF_INET);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ipt);
	sp[0] = web;
	sp[1] = np;
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, sp, 2, 0, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 1);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.iptables"), 3);
	s = fake_args(&f, "iptables.restore", 1);
	CU_ASSERT_STRING_EQUAL(s, "--noflush -w 5");
	free(s);
	s = fake_args(&f, "iptables.iptables", 1);
	CU_ASSERT_STRING_EQUAL(s, "-w 5 -t nat -S PREROUTING");
	free(s);
	s = fake_args(&f, "iptables.iptables", 3);
	CU_ASSERT_STRING_EQUAL(s, "-w 5 -t filter -S INPUT");
	free(s);
	s = fake_read(&f, "iptables.restore.1.in");
	tu_assert_golden(s, "iptables-sync-first.txt");
	free(s);

	/* Unchanged and not forced: nothing runs. */
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, sp, 2, 0, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 1);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.iptables"), 3);

	/* B removed: one restore, no jump check, only B's rules deleted. */
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, sp, 1, 0, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 2);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.iptables"), 3);
	s = fake_read(&f, "iptables.restore.2.in");
	tu_assert_golden(s, "iptables-incr-remove.txt");
	CU_ASSERT_PTR_NULL(strstr(s, "default/web"));
	CU_ASSERT_PTR_NULL(strstr(s, " - [0:0]\n"));	/* nothing flushed */
	free(s);

	/* Forced: jumps re-read (still absent in the fake) and re-added. */
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, sp, 1, 1, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 3);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.iptables"), 6);
	s = fake_read(&f, "iptables.restore.3.in");
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "-I PREROUTING 1 -m comment"));
	free(s);
	CU_ASSERT_EQUAL(fake_count(&f, "ip6tables.restore"), 0);
	ipt_free(ipt);
	fake_teardown(&f);
}

/* Jumps exactly as iptables prints them need no fix. */
static void
test_iptables_sync_jumps_present(void)
{
	struct fake	 f;
	struct ipt	*ipt;
	char		 err[IPT_ERRLEN], *s;

	fake_setup(&f);
	fake_write(&f, "iptables.S-nat-PREROUTING.txt", jumps_ok_pre);
	fake_write(&f, "iptables.S-nat-OUTPUT.txt", jumps_ok_out);
	fake_copy(&f, "iptables-jumps-S-input.txt",
	    "iptables.S-filter-INPUT.txt");
	ipt = ipt_new(f.ipt4, AF_INET);
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, &web, 1, 1, err, sizeof(err)),
	    0);
	s = fake_read(&f, "iptables.restore.1.in");
	tu_assert_golden(s, "iptables-clusterip.txt");
	free(s);
	ipt_free(ipt);
	fake_teardown(&f);
}

/* Duplicates, strangers and misplaced jumps are repaired in one go. */
static void
test_iptables_sync_jumps_repair(void)
{
	struct fake	 f;
	struct ipt	*ipt;
	char		 err[IPT_ERRLEN], *s;

	fake_setup(&f);
	fake_copy(&f, "iptables-jumps-S-prerouting.txt",
	    "iptables.S-nat-PREROUTING.txt");
	fake_copy(&f, "iptables-jumps-S-output.txt",
	    "iptables.S-nat-OUTPUT.txt");
	fake_copy(&f, "iptables-jumps-S-input.txt",
	    "iptables.S-filter-INPUT.txt");
	ipt = ipt_new(f.ipt4, AF_INET);
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, &web, 1, 1, err, sizeof(err)),
	    0);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 1);
	s = fake_read(&f, "iptables.restore.1.in");
	tu_assert_golden(s, "iptables-jumps-fix.txt");
	free(s);
	ipt_free(ipt);
	fake_teardown(&f);
}

/*
 * A failed restore quotes the input line it names, and is retried.  The
 * jumps are in place, so the full text gets no fixes spliced in and its
 * line 7 is web's host rule.  The incremental update fails first, in
 * phase 1 (no "-D" runs), and is retried in full at once.
 */
static void
test_iptables_sync_fail_line(void)
{
	struct fake	 f;
	struct ipt	*ipt;
	char		 err[IPT_ERRLEN], *s;

	fake_setup(&f);
	fake_write(&f, "iptables.S-nat-PREROUTING.txt", jumps_ok_pre);
	fake_write(&f, "iptables.S-nat-OUTPUT.txt", jumps_ok_out);
	fake_copy(&f, "iptables-jumps-S-input.txt",
	    "iptables.S-filter-INPUT.txt");
	ipt = ipt_new(f.ipt4, AF_INET);
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, &np, 1, 0, err, sizeof(err)),
	    0);
	fake_write(&f, "fail_line", "7\n");
	err[0] = '\0';
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, &web, 1, 0, err, sizeof(err)),
	    -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, fail_line7));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "fake failure"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "exited with status 2"));
	CU_ASSERT_PTR_NULL(strstr(err, "Try `"));
	/* The error is the full retry's, not the incremental one's. */
	CU_ASSERT_PTR_NULL(strstr(err, "incremental"));
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 3);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.iptables"), 6);
	s = fake_read(&f, "iptables.restore.2.in");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "-I KUBE-PORTALS-HOST 1 "));
	CU_ASSERT_PTR_NULL(strstr(s, "-D "));
	free(s);
	s = fake_read(&f, "iptables.restore.3.in");
	tu_assert_golden(s, "iptables-clusterip.txt");
	free(s);

	/* Same services, not forced: re-checked and re-applied. */
	unlink(strcat(strcpy(err, f.dir), "/fail_line"));
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, &web, 1, 0, err, sizeof(err)),
	    0);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 4);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.iptables"), 9);
	s = fake_read(&f, "iptables.restore.4.in");
	tu_assert_golden(s, "iptables-clusterip.txt");
	free(s);
	ipt_free(ipt);
	fake_teardown(&f);
}

/* IPv6 goes through ip6tables-restore only. */
static void
test_iptables_sync_ipv6(void)
{
	struct fake	 f;
	struct ipt	*ipt;
	char		 err[IPT_ERRLEN], *s;

	fake_setup(&f);
	ipt = ipt_new(f.ipt6, AF_INET6);
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p6, &v6, 1, 0, err, sizeof(err)),
	    0);
	CU_ASSERT_EQUAL(fake_count(&f, "ip6tables.restore"), 1);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 0);
	s = fake_read(&f, "ip6tables.restore.1.in");
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "-d fd00::10/128"));
	free(s);
	/* Parameters of the other family are refused. */
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, &web, 1, 0, err, sizeof(err)),
	    -1);
	ipt_free(ipt);
	fake_teardown(&f);
}

/* The result of an asynchronous restore, finished in its callback. */
struct async_sync {
	struct ipt		*ipt;
	struct ipt_apply	 a;
	int			 next;		/* phase 2 is to be started */
	int			 phases;	/* phases run */
	int			 done;
	int			 rv;
	char			 err[IPT_ERRLEN];
};

/* Move on to phase 2, or finish a prepared restore, from exec's callback. */
static void
async_sync_done(int rv, struct exec_result *res, void *arg)
{
	struct async_sync	*as = arg;

	as->phases++;
	if (rv == 0 && ipt_apply_next(&as->a)) {
		as->next = 1;
		return;
	}
	as->rv = ipt_sync_finish(as->ipt, &as->a, rv, res, as->err,
	    sizeof(as->err));
	as->done = 1;
}

/* Run a prepared restore (each phase) through exec_start(); its result. */
static int
async_apply(struct event_base *base, struct async_sync *as)
{
	char	err[EXEC_ERRLEN];
	int	i;

	as->done = 0;
	as->phases = 0;
	do {
		as->next = 0;
		CU_ASSERT_PTR_NOT_NULL_FATAL(exec_start(base, as->a.argv,
		    as->a.input, as->a.inlen, IPT_RESTORE_TIMEOUT_MS,
		    EXEC_OUTMAX, async_sync_done, as, err, sizeof(err)));
		for (i = 0; i < 1000 && !as->done && !as->next; i++)
			event_base_loop(base, EVLOOP_ONCE);
	} while (as->next);
	CU_ASSERT_TRUE(as->done);
	return (as->rv);
}

/* prepare + exec_start + finish behave as fake_sync_blocking(). */
static void
test_iptables_sync_async(void)
{
	struct event_base	*base = event_base_new();
	struct async_sync	 as;
	struct fake		 f;
	char			 err[IPT_ERRLEN], *s;

	fake_setup(&f);
	memset(&as, 0, sizeof(as));
	as.ipt = ipt_new(f.ipt4, AF_INET);
	CU_ASSERT_EQUAL_FATAL(fake_prepare_blocking(as.ipt, &p4, &web, 1, 0, &as.a,
	    err, sizeof(err)), 1);
	CU_ASSERT_STRING_EQUAL(as.a.argv[1], "--noflush");
	CU_ASSERT_EQUAL(async_apply(base, &as), 0);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 1);
	s = fake_read(&f, "iptables.restore.1.in");
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "-I PREROUTING 1 "));
	free(s);
	/* Applied: the same services need nothing. */
	CU_ASSERT_EQUAL(fake_prepare_blocking(as.ipt, &p4, &web, 1, 0, &as.a, err,
	    sizeof(err)), 0);
	/* A failure comes back through finish, quoting the line. */
	fake_write(&f, "fail_line", "5\n");
	CU_ASSERT_EQUAL_FATAL(fake_prepare_blocking(as.ipt, &p4, &np, 1, 0, &as.a,
	    err, sizeof(err)), 1);
	CU_ASSERT_EQUAL(async_apply(base, &as), -1);
	/* Phase 1 of the incremental update: np's "-I", last rule first. */
	CU_ASSERT_EQUAL(as.phases, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(as.err, "incremental update: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(as.err, "input line 5 \"-I "
	    "KUBE-PORTALS-CONTAINER 1 -m comment --comment \"default/np\""));
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 2);
	/* A prepared restore can be dropped; then state was forgotten. */
	CU_ASSERT_EQUAL_FATAL(fake_prepare_blocking(as.ipt, &p4, &np, 1, 0, &as.a,
	    err, sizeof(err)), 1);
	ipt_apply_free(&as.a);
	ipt_free(as.ipt);
	fake_teardown(&f);
	event_base_free(base);
}

/* An IPv6 service port besides v6. */
static const struct ipt_svcport v6b = { "default/v6b:http", TCP, 80, 0,
	40006, "fd00::20", NULL, 0, NULL, 0 };

/* A restore that fails on any "-D", as nf_tables does if it is gone. */
static const char fail_delete_sh[] =
    "#!/bin/sh\n"
    "d=$FAKE_IPT_DIR\n"
    "cat > \"$d/wrap.in\"\n"
    "\"$d/real/iptables-restore\" \"$@\" < \"$d/wrap.in\" || exit $?\n"
    "if grep -q '^-D ' \"$d/wrap.in\"; then\n"
    "\techo 'iptables-restore: line 2 failed: Bad rule (does a matching "
    "rule exist in that chain?).'\n"
    "\texit 1\n"
    "fi\n";

/* A restore that fails on any "-I" into one of our chains. */
static const char fail_insert_sh[] =
    "#!/bin/sh\n"
    "d=$FAKE_IPT_DIR\n"
    "cat > \"$d/wrap.in\"\n"
    "\"$d/real/iptables-restore\" \"$@\" < \"$d/wrap.in\" || exit $?\n"
    "if grep -q '^-I KUBE-' \"$d/wrap.in\"; then\n"
    "\techo 'iptables-restore: line 2 failed: No chain/target/match by "
    "that name.'\n"
    "\texit 1\n"
    "fi\n";

/*
 * Put script in place of the fake iptables-restore; it runs the fake
 * (which records the call) as real/iptables-restore first.
 */
static void
fake_wrap_restore(const struct fake *f, const char *script)
{
	char	path[PATH_MAX], real[PATH_MAX];

	snprintf(path, sizeof(path), "%s/real", f->dir);
	CU_ASSERT_FATAL(mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/fake-iptables.sh", f->dir);
	snprintf(real, sizeof(real), "%s/real/iptables-restore", f->dir);
	CU_ASSERT_FATAL(symlink(path, real) == 0);
	snprintf(path, sizeof(path), "%s/iptables-restore", f->dir);
	CU_ASSERT_FATAL(unlink(path) == 0);
	fake_write(f, "iptables-restore", script);
	CU_ASSERT_FATAL(chmod(path, 0755) == 0);
}

/* Remove what fake_wrap_restore() added besides plain files. */
static void
fake_unwrap_restore(const struct fake *f)
{
	char	path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/real/iptables-restore", f->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/real", f->dir);
	rmdir(path);
}

#define GEN_MAX	1200

static char			gen_names[GEN_MAX][32];
static char			gen_ips[GEN_MAX][20];
static struct ipt_svcport	gen_sp[GEN_MAX];

/* Fill gen_sp with GEN_MAX ClusterIP service ports "default/sNNNN". */
static void
gen_ports(void)
{
	size_t	i;

	for (i = 0; i < GEN_MAX; i++) {
		snprintf(gen_names[i], sizeof(gen_names[i]), "default/s%04zu",
		    i);
		snprintf(gen_ips[i], sizeof(gen_ips[i]), "10.97.%zu.%zu",
		    i / 250, i % 250 + 1);
		gen_sp[i] = web;
		gen_sp[i].name = gen_names[i];
		gen_sp[i].cluster_ip = gen_ips[i];
		gen_sp[i].proxy_port = 41000 + i;
	}
}

/*
 * Prepare a sync without running it (nothing changes); return 1 if it
 * is incremental, 0 if full, -1 if nothing would run.  The input has
 * chain declarations exactly when it is full.
 */
static int
prepare_kind(struct ipt *ipt, const struct ipt_params *p,
    const struct ipt_svcport *sp, size_t n, int force, size_t *nchanges)
{
	struct ipt_apply	a;
	char			err[IPT_ERRLEN];
	int			r;

	r = fake_prepare_blocking(ipt, p, sp, n, force, &a, err, sizeof(err));
	CU_ASSERT_EQUAL(r, 1);
	if (r != 1)
		return (-1);
	r = a.incremental;
	*nchanges = a.nchanges;
	if (r)
		CU_ASSERT_PTR_NULL(strstr(a.input, " - [0:0]\n"))
	else
		CU_ASSERT_PTR_NOT_NULL(strstr(a.input,
		    ":KUBE-PORTALS-CONTAINER - [0:0]\n"));
	ipt_apply_free(&a);
	return (r);
}

/*
 * One service added: only its "-A" lines, NodePort and filter ones too,
 * without chain declarations or jump reads; then nothing when unchanged;
 * a forced sync is full and re-reads the jumps.
 */
static void
test_iptables_incr_add(void)
{
	struct ipt_svcport	 sp[2];
	struct fake		 f;
	struct ipt		*ipt;
	char			 err[IPT_ERRLEN], *s;
	size_t			 nchanges;

	fake_setup(&f);
	ipt = ipt_new(f.ipt4, AF_INET);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ipt);
	sp[0] = web;
	sp[1] = np;
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, sp, 1, 0, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(prepare_kind(ipt, &p4, sp, 2, 0, &nchanges), 1);
	CU_ASSERT_EQUAL(nchanges, 5);
	CU_ASSERT_EQUAL(prepare_kind(ipt, &p4, sp, 2, 1, &nchanges), 0);
	CU_ASSERT_EQUAL(nchanges, 7);		/* full: every rule */
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.iptables"), 6);

	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, sp, 2, 0, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 2);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.iptables"), 6);
	s = fake_read(&f, "iptables.restore.2.in");
	tu_assert_golden(s, "iptables-incr-add.txt");
	free(s);
	s = fake_args(&f, "iptables.restore", 2);
	CU_ASSERT_STRING_EQUAL(s, "--noflush -w 5");
	free(s);

	/* The new text is now the applied one. */
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, sp, 2, 0, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 2);

	/* Forced: the full text, jumps re-read. */
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, sp, 2, 1, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 3);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.iptables"), 9);
	s = fake_read(&f, "iptables.restore.3.in");
	tu_assert_golden(s, "iptables-sync-first.txt");
	free(s);
	ipt_free(ipt);
	fake_teardown(&f);
}

/*
 * A changed cluster IP: fake_sync_blocking() runs phase 1, "-I" of the new rules,
 * then phase 2, "-D" of the old ones, both with --noflush.
 */
static void
test_iptables_incr_change(void)
{
	struct ipt_svcport	 sp[2];
	struct fake		 f;
	struct ipt		*ipt;
	char			 err[IPT_ERRLEN], *s;

	fake_setup(&f);
	ipt = ipt_new(f.ipt4, AF_INET);
	sp[0] = web;
	sp[1] = np;
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, sp, 2, 0, err, sizeof(err)), 0);
	sp[0].cluster_ip = "10.96.0.11";
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, sp, 2, 0, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 3);
	s = fake_read(&f, "iptables.restore.2.in");
	tu_assert_golden(s, "iptables-incr-change.txt");
	free(s);
	s = fake_read(&f, "iptables.restore.3.in");
	tu_assert_golden(s, "iptables-incr-change-del.txt");
	free(s);
	s = fake_args(&f, "iptables.restore", 3);
	CU_ASSERT_STRING_EQUAL(s, "--noflush -w 5");
	free(s);
	/* And back: the diff is against what was applied last. */
	sp[0].cluster_ip = web.cluster_ip;
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, sp, 2, 0, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 5);
	s = fake_read(&f, "iptables.restore.4.in");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "-I KUBE-PORTALS-HOST 1 -m comment "
	    "--comment \"default/web:http\" -p tcp -m tcp --dport 80 -d "
	    "10.96.0.10/32 "));
	CU_ASSERT_PTR_NULL(strstr(s, "-D "));
	free(s);
	s = fake_read(&f, "iptables.restore.5.in");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "-D KUBE-PORTALS-HOST -m comment "
	    "--comment \"default/web:http\" -p tcp -m tcp --dport 80 -d "
	    "10.96.0.11/32 "));
	CU_ASSERT_PTR_NULL(strstr(s, "-I "));
	free(s);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.iptables"), 3);
	ipt_free(ipt);
	fake_teardown(&f);
}

/* Up to max(64, 10% of the rules) changes are incremental; more: full. */
static void
test_iptables_incr_limit(void)
{
	static struct ipt_svcport	 more[131];
	struct fake			 f;
	struct ipt			*ipt;
	char				 err[IPT_ERRLEN], *s;
	size_t				 nchanges;

	gen_ports();
	fake_setup(&f);
	ipt = ipt_new(f.ipt4, AF_INET);
	/* 100 services, 200 rules: 64 is the limit. */
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, gen_sp, 100, 0, err,
	    sizeof(err)),
	    0);
	CU_ASSERT_EQUAL(prepare_kind(ipt, &p4, gen_sp, 132, 0, &nchanges), 1);
	CU_ASSERT_EQUAL(nchanges, 64);
	CU_ASSERT_EQUAL(prepare_kind(ipt, &p4, gen_sp, 133, 0, &nchanges), 0);
	CU_ASSERT_EQUAL(nchanges, 266);
	CU_ASSERT_EQUAL(prepare_kind(ipt, &p4, gen_sp, 68, 0, &nchanges), 1);
	CU_ASSERT_EQUAL(prepare_kind(ipt, &p4, gen_sp, 67, 0, &nchanges), 0);
	/* 30 services (60 rules) and a NodePort one (5): one too many. */
	memcpy(more, gen_sp, 129 * sizeof(*more));
	more[129] = np;
	CU_ASSERT_EQUAL(prepare_kind(ipt, &p4, more, 130, 0, &nchanges), 1);
	CU_ASSERT_EQUAL(nchanges, 63);
	more[129] = gen_sp[129];
	more[130] = np;
	CU_ASSERT_EQUAL(prepare_kind(ipt, &p4, more, 131, 0, &nchanges), 0);
	CU_ASSERT_EQUAL(nchanges, 265);

	/* 1000 services: 10% of the larger rule set. */
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, gen_sp, 1000, 0, err,
	    sizeof(err)),
	    0);
	s = fake_read(&f, "iptables.restore.2.in");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, ":KUBE-PORTALS-HOST - [0:0]\n"));
	free(s);
	CU_ASSERT_EQUAL(prepare_kind(ipt, &p4, gen_sp, 1100, 0, &nchanges), 1);
	CU_ASSERT_EQUAL(nchanges, 200);		/* <= 2200 / 10 */
	CU_ASSERT_EQUAL(prepare_kind(ipt, &p4, gen_sp, 1120, 0, &nchanges), 0);
	CU_ASSERT_EQUAL(prepare_kind(ipt, &p4, gen_sp, 900, 0, &nchanges), 1);
	CU_ASSERT_EQUAL(prepare_kind(ipt, &p4, gen_sp, 0, 0, &nchanges), 0);
	CU_ASSERT_EQUAL(nchanges, 0);
	/* Only the syncs ran, no jump read since the first one. */
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 2);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.iptables"), 3);
	ipt_free(ipt);
	fake_teardown(&f);
}

/*
 * A failed incremental restore (finish reports it) makes the next
 * prepare full, with the jumps re-read; after that, incremental again.
 */
static void
test_iptables_incr_fail_async(void)
{
	struct event_base	*base = event_base_new();
	struct async_sync	 as;
	struct ipt_svcport	 sp[2];
	struct fake		 f;
	char			 err[IPT_ERRLEN], *s;
	size_t			 nchanges;

	fake_setup(&f);
	memset(&as, 0, sizeof(as));
	as.ipt = ipt_new(f.ipt4, AF_INET);
	sp[0] = web;
	sp[1] = np;
	CU_ASSERT_EQUAL(fake_sync_blocking(as.ipt, &p4, sp, 1, 0, err, sizeof(err)),
	    0);
	fake_write(&f, "fail_line", "2\n");
	CU_ASSERT_EQUAL_FATAL(fake_prepare_blocking(as.ipt, &p4, sp, 2, 0, &as.a,
	    err, sizeof(err)), 1);
	CU_ASSERT_EQUAL(as.a.incremental, 1);
	CU_ASSERT_EQUAL(async_apply(base, &as), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(as.err, "incremental update: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(as.err, "input line 2 \"-I "
	    "KUBE-NODEPORT-HOST 1 -m comment --comment \"default/np\""));
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.iptables"), 3);

	/* The same services again: full, jumps re-read. */
	unlink(strcat(strcpy(err, f.dir), "/fail_line"));
	CU_ASSERT_EQUAL_FATAL(fake_prepare_blocking(as.ipt, &p4, sp, 2, 0, &as.a,
	    err, sizeof(err)), 1);
	CU_ASSERT_EQUAL(as.a.incremental, 0);
	CU_ASSERT_EQUAL(as.a.nchanges, 7);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.iptables"), 6);
	CU_ASSERT_EQUAL(async_apply(base, &as), 0);
	s = fake_read(&f, "iptables.restore.3.in");
	tu_assert_golden(s, "iptables-sync-first.txt");
	free(s);
	/* Good again: the next change is incremental. */
	CU_ASSERT_EQUAL(prepare_kind(as.ipt, &p4, sp, 1, 0, &nchanges), 1);
	CU_ASSERT_EQUAL(nchanges, 5);
	ipt_free(as.ipt);
	fake_teardown(&f);
	event_base_free(base);
}

/*
 * fake_sync_blocking(): an incremental restore that fails (a rule to delete is
 * gone) is followed at once by a full one, which succeeds.
 */
static void
test_iptables_incr_fail_retry(void)
{
	struct ipt_svcport	 sp[2];
	struct fake		 f;
	struct ipt		*ipt;
	char			 err[IPT_ERRLEN], *s;

	fake_setup(&f);
	fake_wrap_restore(&f, fail_delete_sh);

	ipt = ipt_new(f.ipt4, AF_INET);
	sp[0] = web;
	sp[1] = np;
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, sp, 2, 0, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, sp, 1, 0, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 3);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.iptables"), 6);
	s = fake_read(&f, "iptables.restore.2.in");
	tu_assert_golden(s, "iptables-incr-remove.txt");
	free(s);
	s = fake_read(&f, "iptables.restore.3.in");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, ":KUBE-NODEPORT-HOST - [0:0]\n"
	    "-I PREROUTING 1 "));
	CU_ASSERT_PTR_NULL(strstr(s, "default/np"));
	free(s);
	/* Applied in full: np back is incremental (adds only) and passes. */
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, sp, 2, 0, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 4);
	s = fake_read(&f, "iptables.restore.4.in");
	tu_assert_golden(s, "iptables-incr-add.txt");
	free(s);
	/* Both attempts failing: the full one's error is returned. */
	fake_write(&f, "fail_line", "3\n");
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, sp, 1, 0, err, sizeof(err)),
	    -1);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 6);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "input line 3 \":KUBE-PORTALS-HOST "
	    "- [0:0]\""));
	CU_ASSERT_PTR_NULL(strstr(err, "incremental"));

	fake_unwrap_restore(&f);
	ipt_free(ipt);
	fake_teardown(&f);
}

/*
 * The inputs of each kind of incremental update: additions only and
 * deletions only are one phase; both are two, "-I" then "-D".  Finishing
 * without running phase 2 is a failure and makes the next sync full.
 */
static void
test_iptables_incr_phases(void)
{
	struct ipt_svcport	 sp[2];
	struct ipt_apply	 a;
	struct fake		 f;
	struct ipt		*ipt;
	struct exec_result	 res;
	char			 err[IPT_ERRLEN];
	size_t			 nchanges;

	fake_setup(&f);
	ipt = ipt_new(f.ipt4, AF_INET);
	sp[0] = web;
	sp[1] = np;
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, sp, 1, 0, err, sizeof(err)), 0);

	/* Additions only: one phase of "-I CHAIN 1", last rule first. */
	CU_ASSERT_EQUAL_FATAL(fake_prepare_blocking(ipt, &p4, sp, 2, 0, &a, err,
	    sizeof(err)), 1);
	CU_ASSERT_EQUAL(a.incremental, 1);
	CU_ASSERT_EQUAL(a.phase, 1);
	CU_ASSERT_EQUAL(a.nchanges, 5);
	CU_ASSERT_EQUAL(a.nadds, 5);
	CU_ASSERT_EQUAL(a.ndels, 0);
	CU_ASSERT_EQUAL(a.inlen, strlen(a.input));
	tu_assert_golden(a.input, "iptables-incr-add.txt");
	CU_ASSERT_EQUAL(ipt_apply_next(&a), 0);
	CU_ASSERT_EQUAL(a.phase, 1);
	ipt_apply_free(&a);

	/* Deletions only: one phase of "-D". */
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, sp, 2, 0, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(fake_prepare_blocking(ipt, &p4, sp, 1, 0, &a, err,
	    sizeof(err)), 1);
	CU_ASSERT_EQUAL(a.incremental, 1);
	CU_ASSERT_EQUAL(a.nchanges, 5);
	CU_ASSERT_EQUAL(a.nadds, 0);
	CU_ASSERT_EQUAL(a.ndels, 5);
	tu_assert_golden(a.input, "iptables-incr-remove.txt");
	CU_ASSERT_EQUAL(ipt_apply_next(&a), 0);
	ipt_apply_free(&a);

	/* Both: phase 1 the additions, phase 2 the deletions. */
	sp[0].cluster_ip = "10.96.0.11";
	CU_ASSERT_EQUAL_FATAL(fake_prepare_blocking(ipt, &p4, sp, 2, 0, &a, err,
	    sizeof(err)), 1);
	CU_ASSERT_EQUAL(a.incremental, 1);
	CU_ASSERT_EQUAL(a.phase, 1);
	CU_ASSERT_EQUAL(a.nchanges, 4);
	CU_ASSERT_EQUAL(a.nadds, 2);
	CU_ASSERT_EQUAL(a.ndels, 2);
	tu_assert_golden(a.input, "iptables-incr-change.txt");
	CU_ASSERT_EQUAL(ipt_apply_next(&a), 1);
	CU_ASSERT_EQUAL(a.phase, 2);
	CU_ASSERT_EQUAL(a.inlen, strlen(a.input));
	tu_assert_golden(a.input, "iptables-incr-change-del.txt");
	CU_ASSERT_EQUAL(ipt_apply_next(&a), 0);
	CU_ASSERT_EQUAL(a.phase, 2);
	ipt_apply_free(&a);

	/* Phase 1 reported done, phase 2 skipped: a failure, then full. */
	CU_ASSERT_EQUAL_FATAL(fake_prepare_blocking(ipt, &p4, sp, 2, 0, &a, err,
	    sizeof(err)), 1);
	memset(&res, 0, sizeof(res));
	err[0] = '\0';
	CU_ASSERT_EQUAL(ipt_sync_finish(ipt, &a, 0, &res, err, sizeof(err)),
	    -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "stale rules not removed"));
	CU_ASSERT_PTR_NULL(a.input);
	CU_ASSERT_EQUAL(prepare_kind(ipt, &p4, sp, 2, 0, &nchanges), 0);
	/* A phase that could not be started (no result) fails as well. */
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, sp, 2, 0, err, sizeof(err)), 0);
	sp[0].cluster_ip = web.cluster_ip;
	CU_ASSERT_EQUAL_FATAL(fake_prepare_blocking(ipt, &p4, sp, 2, 0, &a, err,
	    sizeof(err)), 1);
	CU_ASSERT_EQUAL(ipt_apply_next(&a), 1);
	CU_ASSERT_EQUAL(ipt_sync_finish(ipt, &a, -1, NULL, err, sizeof(err)),
	    -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "incremental update, removing "
	    "stale rules: "));
	CU_ASSERT_EQUAL(prepare_kind(ipt, &p4, sp, 2, 0, &nchanges), 0);
	ipt_free(ipt);
	fake_teardown(&f);
}

/*
 * fake_sync_blocking() when a phase fails: phase 1 failing runs no "-D" and is
 * followed by the full text; phase 2 failing too.  Through exec_start(),
 * a phase 2 failure is reported as such and makes the next prepare full.
 */
static void
test_iptables_incr_phase_fail(void)
{
	struct event_base	*base = event_base_new();
	struct async_sync	 as;
	struct ipt_svcport	 sp[2];
	struct fake		 f;
	char			 err[IPT_ERRLEN], *s;
	size_t			 nchanges;

	/* Phase 1 fails: no phase 2, the full text at once. */
	fake_setup(&f);
	fake_wrap_restore(&f, fail_insert_sh);
	memset(&as, 0, sizeof(as));
	as.ipt = ipt_new(f.ipt4, AF_INET);
	sp[0] = web;
	sp[1] = np;
	CU_ASSERT_EQUAL(fake_sync_blocking(as.ipt, &p4, sp, 2, 0, err, sizeof(err)),
	    0);
	sp[0].cluster_ip = "10.96.0.11";
	CU_ASSERT_EQUAL(fake_sync_blocking(as.ipt, &p4, sp, 2, 0, err, sizeof(err)),
	    0);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 3);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.iptables"), 6);
	s = fake_read(&f, "iptables.restore.2.in");
	tu_assert_golden(s, "iptables-incr-change.txt");
	free(s);
	s = fake_read(&f, "iptables.restore.3.in");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, ":KUBE-PORTALS-HOST - [0:0]\n"));
	CU_ASSERT_PTR_NULL(strstr(s, "-D "));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "-d 10.96.0.11/32 "));
	free(s);
	fake_unwrap_restore(&f);
	ipt_free(as.ipt);
	fake_teardown(&f);

	/* Phase 2 fails: the new rules are in; the full text at once. */
	fake_setup(&f);
	fake_wrap_restore(&f, fail_delete_sh);
	as.ipt = ipt_new(f.ipt4, AF_INET);
	sp[0] = web;
	CU_ASSERT_EQUAL(fake_sync_blocking(as.ipt, &p4, sp, 2, 0, err, sizeof(err)),
	    0);
	sp[0].cluster_ip = "10.96.0.11";
	CU_ASSERT_EQUAL(fake_sync_blocking(as.ipt, &p4, sp, 2, 0, err, sizeof(err)),
	    0);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 4);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.iptables"), 6);
	s = fake_read(&f, "iptables.restore.2.in");
	tu_assert_golden(s, "iptables-incr-change.txt");
	free(s);
	s = fake_read(&f, "iptables.restore.3.in");
	tu_assert_golden(s, "iptables-incr-change-del.txt");
	free(s);
	s = fake_read(&f, "iptables.restore.4.in");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, ":KUBE-PORTALS-HOST - [0:0]\n"));
	free(s);

	/* The same through exec_start(): finish reports phase 2. */
	sp[0].cluster_ip = web.cluster_ip;
	CU_ASSERT_EQUAL_FATAL(fake_prepare_blocking(as.ipt, &p4, sp, 2, 0, &as.a,
	    err, sizeof(err)), 1);
	CU_ASSERT_EQUAL(as.a.incremental, 1);
	CU_ASSERT_EQUAL(async_apply(base, &as), -1);
	CU_ASSERT_EQUAL(as.phases, 2);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 6);
	CU_ASSERT_PTR_NOT_NULL(strstr(as.err, "incremental update, removing "
	    "stale rules: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(as.err, "input line 2 \"-D "
	    "KUBE-PORTALS-CONTAINER -m comment --comment "
	    "\"default/web:http\""));
	CU_ASSERT_EQUAL(prepare_kind(as.ipt, &p4, sp, 2, 0, &nchanges), 0);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.iptables"), 9);

	/* Both phases through exec_start(), succeeding. */
	fake_unwrap_restore(&f);
	fake_teardown(&f);
	fake_setup(&f);
	ipt_free(as.ipt);
	as.ipt = ipt_new(f.ipt4, AF_INET);
	CU_ASSERT_EQUAL(fake_sync_blocking(as.ipt, &p4, sp, 2, 0, err, sizeof(err)),
	    0);
	sp[0].cluster_ip = "10.96.0.11";
	CU_ASSERT_EQUAL_FATAL(fake_prepare_blocking(as.ipt, &p4, sp, 2, 0, &as.a,
	    err, sizeof(err)), 1);
	CU_ASSERT_EQUAL(async_apply(base, &as), 0);
	CU_ASSERT_EQUAL(as.phases, 2);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 3);
	s = fake_read(&f, "iptables.restore.3.in");
	tu_assert_golden(s, "iptables-incr-change-del.txt");
	free(s);
	CU_ASSERT_EQUAL(fake_prepare_blocking(as.ipt, &p4, sp, 2, 0, &as.a, err,
	    sizeof(err)), 0);
	ipt_free(as.ipt);
	fake_teardown(&f);
	event_base_free(base);
}

/*
 * The same rules in another order need no restore; duplicates count as
 * copies: one "-I" (phase 1) or "-D" (phase 2) per copy added or gone.
 */
static void
test_iptables_incr_multiset(void)
{
	static const char *const ba[] = { "203.0.113.6", "203.0.113.5" };
	static const char *const aa[] = { "203.0.113.5", "203.0.113.5" };
	struct ipt_svcport	 sp;
	struct fake		 f;
	struct ipt		*ipt;
	char			 err[IPT_ERRLEN], *s, *p;
	int			 dels = 0, adds = 0;

	fake_setup(&f);
	ipt = ipt_new(f.ipt4, AF_INET);
	sp = ext;
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, &sp, 1, 0, err, sizeof(err)),
	    0);
	sp.external_ips = ba;
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, &sp, 1, 0, err, sizeof(err)),
	    0);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 1);
	sp.external_ips = aa;
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, &sp, 1, 0, err, sizeof(err)),
	    0);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 3);
	s = fake_read(&f, "iptables.restore.2.in");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	for (p = s; (p = strchr(p, '\n')) != NULL; p++) {
		CU_ASSERT(strncmp(p + 1, "-D ", 3) != 0);
		if (strncmp(p + 1, "-I ", 3) == 0)
			adds++;
	}
	CU_ASSERT_EQUAL(adds, 3);
	CU_ASSERT_PTR_NULL(strstr(s, "-d 203.0.113.6/32 "));
	free(s);
	s = fake_read(&f, "iptables.restore.3.in");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	for (p = s; (p = strchr(p, '\n')) != NULL; p++) {
		CU_ASSERT(strncmp(p + 1, "-I ", 3) != 0);
		if (strncmp(p + 1, "-D ", 3) == 0) {
			dels++;
			CU_ASSERT_PTR_NOT_NULL(strstr(p, "-d 203.0.113.6/32 "));
		}
	}
	CU_ASSERT_EQUAL(dels, 3);
	free(s);
	ipt_free(ipt);
	fake_teardown(&f);
}

/* IPv6: the same through ip6tables-restore. */
static void
test_iptables_incr_ipv6(void)
{
	struct ipt_svcport	 sp[2];
	struct fake		 f;
	struct ipt		*ipt;
	char			 err[IPT_ERRLEN], *s;

	fake_setup(&f);
	ipt = ipt_new(f.ipt6, AF_INET6);
	sp[0] = v6;
	sp[1] = v6b;
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p6, sp, 1, 0, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p6, sp, 2, 0, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fake_count(&f, "ip6tables.restore"), 2);
	CU_ASSERT_EQUAL(fake_count(&f, "ip6tables.iptables"), 3);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 0);
	s = fake_read(&f, "ip6tables.restore.2.in");
	tu_assert_golden(s, "iptables-incr-ipv6.txt");
	free(s);
	sp[0] = v6b;
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p6, sp, 1, 0, err, sizeof(err)), 0);
	s = fake_read(&f, "ip6tables.restore.3.in");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "*filter\n-D KUBE-NODEPORT-NON-LOCAL "
	    "-m comment --comment \"default/v6:dns\" -p udp -m udp --dport "
	    "40005 -m state --state NEW -j ACCEPT\nCOMMIT\n"));
	CU_ASSERT_PTR_NULL(strstr(s, "-A "));
	free(s);
	ipt_free(ipt);
	fake_teardown(&f);
}

/*
 * The jump reads: due at the first sync, at forced ones and after a
 * failure; their argv; a failed or truncated read forgets the state; a
 * prepare without the reads it needs fails and runs nothing; streaming
 * needs the backend probed.
 */
static void
test_iptables_reads(void)
{
	struct exec_result	 res;
	struct ipt_stream	 st;
	struct ipt_reads	 r;
	struct ipt_apply	 a;
	struct fake		 f;
	struct ipt		*ipt;
	const char		*argv[5];
	char			 err[IPT_ERRLEN];
	int			 i;

	fake_setup(&f);
	ipt = ipt_new(f.ipt4, AF_INET);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ipt);
	CU_ASSERT_EQUAL(ipt_reads_due(ipt, 0), 1);
	ipt_reads_init(ipt, &r);
	CU_ASSERT_EQUAL(r.n, 0);
	for (i = 0; i < IPT_NREADS; i++) {
		CU_ASSERT_STRING_EQUAL(r.argv[i][0], f.ipt4);
		CU_ASSERT_STRING_EQUAL(r.argv[i][1], "-w");
		CU_ASSERT_STRING_EQUAL(r.argv[i][2], "5");
		CU_ASSERT_STRING_EQUAL(r.argv[i][5], "-S");
		CU_ASSERT_PTR_NULL(r.argv[i][7]);
	}
	CU_ASSERT_STRING_EQUAL(r.argv[0][6], "PREROUTING");
	CU_ASSERT_STRING_EQUAL(r.argv[2][4], "filter");
	/* Due, not read: refused, nothing runs. */
	CU_ASSERT_EQUAL(ipt_sync_prepare(ipt, &p4, &web, 1, 0, NULL, &a, err,
	    sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "jump rules not read"));
	CU_ASSERT_EQUAL(ipt_sync_prepare(ipt, &p4, &web, 1, 0, &r, &a, err,
	    sizeof(err)), -1);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.iptables"), 0);
	ipt_reads_free(&r);

	/* Applied: due only when forced. */
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, &web, 1, 0, err,
	    sizeof(err)), 0);
	CU_ASSERT_EQUAL(ipt_reads_due(ipt, 0), 0);
	CU_ASSERT_EQUAL(ipt_reads_due(ipt, 1), 1);
	/* Not probed: no stream. */
	CU_ASSERT_EQUAL(ipt_stream_begin(ipt, &st, argv), -1);
	ipt_backend_probe(ipt);
	CU_ASSERT_EQUAL(ipt_stream_begin(ipt, &st, argv), 0);
	CU_ASSERT_EQUAL(st.mode, IPT_STREAM_ONCE);
	ipt_stream_free(&st);

	/* A truncated listing is a failure that forgets the state. */
	ipt_reads_init(ipt, &r);
	memset(&res, 0, sizeof(res));
	res.out = (char *)(uintptr_t)"-P PREROUTING ACCEPT\n";
	res.truncated = 1;
	err[0] = '\0';
	CU_ASSERT_EQUAL(ipt_reads_take(ipt, &r, 0, &res, err, sizeof(err)),
	    -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "-t nat -S PREROUTING: output "
	    "too large"));
	ipt_reads_free(&r);
	CU_ASSERT_EQUAL(ipt_reads_due(ipt, 0), 1);
	CU_ASSERT_EQUAL(ipt_stream_begin(ipt, &st, argv), -1);
	/* One that could not be started, too. */
	CU_ASSERT_EQUAL(fake_sync_blocking(ipt, &p4, &web, 1, 0, err,
	    sizeof(err)), 0);
	ipt_reads_init(ipt, &r);
	CU_ASSERT_EQUAL(ipt_reads_take(ipt, &r, -1, NULL, err, sizeof(err)),
	    -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not run"));
	ipt_reads_free(&r);
	CU_ASSERT_EQUAL(ipt_reads_due(ipt, 0), 1);
	ipt_free(ipt);
	fake_teardown(&f);
}

/* Cleanup: one restore; idempotent; absent tables and binaries are ok. */
static void
test_iptables_cleanup_run(void)
{
	struct fake	 f;
	struct ipt	*ipt;
	char		 err[IPT_ERRLEN], *s;

	fake_setup(&f);
	ipt = ipt_new(f.ipt4, AF_INET);
	fake_copy(&f, "iptables-cleanup-save-nat.txt", "iptables.save-nat.txt");
	fake_copy(&f, "iptables-cleanup-save-filter.txt",
	    "iptables.save-filter.txt");
	CU_ASSERT_EQUAL(ipt_cleanup(ipt, IPT_MODES_ALL, NULL, err,
	    sizeof(err)), 0);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.save"), 3);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 1);
	s = fake_read(&f, "iptables.restore.1.in");
	tu_assert_golden(s, "iptables-cleanup.txt");
	free(s);

	/* Nothing there any more: no restore, success. */
	fake_write(&f, "iptables.save-nat.txt", "*nat\nCOMMIT\n");
	fake_write(&f, "iptables.save-filter.txt", "*filter\nCOMMIT\n");
	CU_ASSERT_EQUAL(ipt_cleanup(ipt, IPT_MODES_ALL, NULL, err,
	    sizeof(err)), 0);
	CU_ASSERT_EQUAL(fake_count(&f, "iptables.restore"), 1);

	/* A table that does not exist is nothing to clean. */
	fake_write(&f, "iptables.save-nat.err", "iptables-save v1.8.9: "
	    "can't initialize iptables table `nat': Table does not exist\n");
	CU_ASSERT_EQUAL(ipt_cleanup(ipt, IPT_MODES_ALL, NULL, err,
	    sizeof(err)), 0);

	/* A real error is reported. */
	fake_write(&f, "iptables.save-nat.err", "iptables-save v1.8.9: "
	    "Permission denied (you must be root)\n");
	CU_ASSERT_EQUAL(ipt_cleanup(ipt, IPT_MODES_ALL, NULL, err,
	    sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "Permission denied"));
	ipt_free(ipt);

	/* Binaries not installed: nothing can be there. */
	ipt = ipt_new("/nonexistent/sbin/ip6tables", AF_INET6);
	CU_ASSERT_EQUAL(ipt_cleanup(ipt, IPT_MODES_ALL, NULL, err,
	    sizeof(err)), 0);
	ipt_free(ipt);
	fake_teardown(&f);
}

static const struct tu_case cases[] = {
	{ "stream", test_iptables_stream },
	{ "sync once", test_iptables_sync_once },
	{ "sync jumps present", test_iptables_sync_jumps_present },
	{ "sync jumps repair", test_iptables_sync_jumps_repair },
	{ "sync fail line", test_iptables_sync_fail_line },
	{ "sync ipv6", test_iptables_sync_ipv6 },
	{ "sync async", test_iptables_sync_async },
	{ "incremental add", test_iptables_incr_add },
	{ "incremental change", test_iptables_incr_change },
	{ "incremental limit", test_iptables_incr_limit },
	{ "incremental fail async", test_iptables_incr_fail_async },
	{ "incremental fail retry", test_iptables_incr_fail_retry },
	{ "incremental phases", test_iptables_incr_phases },
	{ "incremental phase fail", test_iptables_incr_phase_fail },
	{ "incremental multiset", test_iptables_incr_multiset },
	{ "incremental ipv6", test_iptables_incr_ipv6 },
	{ "reads", test_iptables_reads },
	{ "cleanup run", test_iptables_cleanup_run },
	{ NULL, NULL }
};

TU_MAIN("iptables", cases)
