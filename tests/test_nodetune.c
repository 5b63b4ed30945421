/*
 * test_nodetune.c: oom_score_adj and the conntrack settings, written
 * into a fake proc/ and sys/ tree under a temporary directory (no root,
 * nothing of the real node touched), with kube-proxy 1.20's rules:
 * nf_conntrack_max from maxPerCore * CPUs (at least min, 0 leaves it),
 * the hash size raised to max/4 only when below it, timeouts in whole
 * seconds (0 leaves them), values already right left unwritten, and one
 * warning per setting that cannot be applied.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "nodetune.h"
#include "xmalloc.h"
#include "tu.h"

static struct tu_capture cap;

/* A fake root: proc/self, proc/sys/net/netfilter, sys/module/... */
struct fakeroot {
	char	dir[64];
};

static void
fr_write(struct fakeroot *fr, const char *rel, const char *content)
{
	char	path[256];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/%s", fr->dir, rel);
	CU_ASSERT_FATAL((fp = fopen(path, "w")) != NULL);
	fputs(content, fp);
	fclose(fp);
}

static char *
fr_read(struct fakeroot *fr, const char *rel)
{
	char	path[256];

	snprintf(path, sizeof(path), "%s/%s", fr->dir, rel);
	return (tu_slurp(path));
}

#define NF	"proc/sys/net/netfilter/"
#define HASH	"sys/module/nf_conntrack/parameters/hashsize"
#define OOM	"proc/self/oom_score_adj"

static void
fr_setup(struct fakeroot *fr)
{
	char	cmd[512];

	snprintf(fr->dir, sizeof(fr->dir), "/tmp/test_nodetune.XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(fr->dir) != NULL);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/proc/self %s/" NF
	    " %s/sys/module/nf_conntrack/parameters", fr->dir, fr->dir,
	    fr->dir);
	CU_ASSERT_FATAL(system(cmd) == 0);
	fr_write(fr, OOM, "0\n");
	fr_write(fr, NF "nf_conntrack_max", "65536\n");
	fr_write(fr, NF "nf_conntrack_tcp_timeout_established", "432000\n");
	fr_write(fr, NF "nf_conntrack_tcp_timeout_close_wait", "60\n");
	fr_write(fr, HASH, "16384\n");
}

static void
fr_teardown(struct fakeroot *fr)
{
	char	cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", fr->dir);
	CU_ASSERT(system(cmd) == 0);
}

/* Load a config from flags (defaults otherwise). */
static struct kp_config *
cfg_from(const char *const *args)
{
	struct kp_config	*cfg = config_new();
	char			*argv[16], err[CONFIG_ERRLEN];
	int			 argc = 0;

	argv[argc++] = (char *)"kuproxy";
	for (; *args != NULL; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	err[0] = '\0';
	CU_ASSERT_EQUAL(config_load(cfg, argc, argv, err, sizeof(err)),
	    CONFIG_RUN);
	CU_ASSERT_STRING_EQUAL(err, "");
	return (cfg);
}

/* getConntrackMax: scaled by CPUs, floored at min, 0 leaves it. */
static void
test_nodetune_max(void)
{
	const char *const	 none[] = { NULL };
	const char *const	 zero[] = { "--conntrack-max-per-core=0", NULL };
	const char *const	 small[] = { "--conntrack-max-per-core=10",
	    "--conntrack-min=0", NULL };
	struct kp_config	*cfg;

	cfg = cfg_from(none);
	CU_ASSERT_EQUAL(nodetune_conntrack_max(cfg, 1), 131072);
	CU_ASSERT_EQUAL(nodetune_conntrack_max(cfg, 4), 131072);
	CU_ASSERT_EQUAL(nodetune_conntrack_max(cfg, 5), 163840);
	CU_ASSERT_EQUAL(nodetune_conntrack_max(cfg, 64), 2097152);
	config_free(cfg);
	cfg = cfg_from(zero);
	CU_ASSERT_EQUAL(nodetune_conntrack_max(cfg, 64), 0);
	config_free(cfg);
	cfg = cfg_from(small);
	CU_ASSERT_EQUAL(nodetune_conntrack_max(cfg, 3), 30);
	config_free(cfg);
	CU_ASSERT(nodetune_ncpu() >= 1);
}

/* The defaults: -999, max 131072 (hash 32768), 24h and 1h. */
static void
test_nodetune_defaults(void)
{
	const char *const	 none[] = { NULL };
	struct fakeroot		 fr;
	struct kp_config	*cfg = cfg_from(none);
	char			*s, *out;
	int			 rv;

	fr_setup(&fr);
	tu_capture_begin(&cap, 2);
	rv = nodetune_apply(cfg, fr.dir, 2);
	out = tu_capture_end(&cap);
	CU_ASSERT_EQUAL(rv, 0);
	CU_ASSERT_STRING_EQUAL((s = fr_read(&fr, OOM)), "-999");
	free(s);
	CU_ASSERT_STRING_EQUAL((s = fr_read(&fr, NF "nf_conntrack_max")),
	    "131072");
	free(s);
	CU_ASSERT_STRING_EQUAL((s = fr_read(&fr, HASH)), "32768");
	free(s);
	CU_ASSERT_STRING_EQUAL((s = fr_read(&fr,
	    NF "nf_conntrack_tcp_timeout_established")), "86400");
	free(s);
	CU_ASSERT_STRING_EQUAL((s = fr_read(&fr,
	    NF "nf_conntrack_tcp_timeout_close_wait")), "3600");
	free(s);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "set sysctl "
	    "net/netfilter/nf_conntrack_max to 131072"));
	CU_ASSERT_PTR_NULL(strstr(out, "W1"));	/* no warning */
	free(out);
	fr_teardown(&fr);
	config_free(cfg);
}

/* Values already right and a big enough hash are not rewritten. */
static void
test_nodetune_unchanged(void)
{
	const char *const	 args[] = { "--oom-score-adj=5",
	    "--conntrack-tcp-timeout-established=1.9s",
	    "--conntrack-tcp-timeout-close-wait=0", NULL };
	struct fakeroot		 fr;
	struct kp_config	*cfg = cfg_from(args);
	char			*s, *out;

	fr_setup(&fr);
	fr_write(&fr, NF "nf_conntrack_max", "131072\n");
	fr_write(&fr, HASH, "40000\n");
	tu_capture_begin(&cap, 2);
	CU_ASSERT_EQUAL(nodetune_apply(cfg, fr.dir, 1), 0);
	out = tu_capture_end(&cap);
	CU_ASSERT_STRING_EQUAL((s = fr_read(&fr, OOM)), "5");
	free(s);
	/*
	 * oom_score_adj already right (systemd's OOMScoreAdjust=) is not
	 * written: without CAP_SYS_RESOURCE that write could fail.
	 */
	fr_write(&fr, OOM, "5\n");
	CU_ASSERT_EQUAL(nodetune_apply(cfg, fr.dir, 1), 0);
	CU_ASSERT_STRING_EQUAL((s = fr_read(&fr, OOM)), "5\n");
	free(s);
	/* Untouched: the trailing newline of the fake file is still there. */
	CU_ASSERT_STRING_EQUAL((s = fr_read(&fr, NF "nf_conntrack_max")),
	    "131072\n");
	free(s);
	CU_ASSERT_STRING_EQUAL((s = fr_read(&fr, HASH)), "40000\n");
	free(s);
	/* 1.9s is 1 whole second; 0 leaves close_wait alone. */
	CU_ASSERT_STRING_EQUAL((s = fr_read(&fr,
	    NF "nf_conntrack_tcp_timeout_established")), "1");
	free(s);
	CU_ASSERT_STRING_EQUAL((s = fr_read(&fr,
	    NF "nf_conntrack_tcp_timeout_close_wait")), "60\n");
	free(s);
	CU_ASSERT_PTR_NULL(strstr(out, "nf_conntrack_max"));
	free(out);
	fr_teardown(&fr);
	config_free(cfg);
}

/* maxPerCore 0 leaves nf_conntrack_max and the hash size alone. */
static void
test_nodetune_max_zero(void)
{
	const char *const	 args[] = { "--conntrack-max-per-core=0", NULL };
	struct fakeroot		 fr;
	struct kp_config	*cfg = cfg_from(args);
	char			*s;

	fr_setup(&fr);
	CU_ASSERT_EQUAL(nodetune_apply(cfg, fr.dir, 8), 0);
	CU_ASSERT_STRING_EQUAL((s = fr_read(&fr, NF "nf_conntrack_max")),
	    "65536\n");
	free(s);
	CU_ASSERT_STRING_EQUAL((s = fr_read(&fr, HASH)), "16384\n");
	free(s);
	fr_teardown(&fr);
	config_free(cfg);
}

/*
 * What cannot be written is skipped with one warning each, and the rest
 * is still applied: here nf_conntrack_max is missing (as when
 * nf_conntrack is not loaded; in a network namespace it is read-only),
 * so the hash size is not looked at either, and the hash size file is
 * a directory (unwritable even for root).
 */
static void
test_nodetune_unwritable(void)
{
	const char *const	 none[] = { NULL };
	const char *const	 max0[] = { "--conntrack-max-per-core=0", NULL };
	struct fakeroot		 fr;
	struct kp_config	*cfg = cfg_from(none);
	char			 path[256], *s, *out;
	int			 rv;

	fr_setup(&fr);
	snprintf(path, sizeof(path), "%s/" NF "nf_conntrack_max", fr.dir);
	CU_ASSERT_EQUAL(unlink(path), 0);
	tu_capture_begin(&cap, 2);
	rv = nodetune_apply(cfg, fr.dir, 2);
	out = tu_capture_end(&cap);
	CU_ASSERT_EQUAL(rv, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "cannot set sysctl "
	    "net/netfilter/nf_conntrack_max to 131072: not present "
	    "(nf_conntrack not loaded?); skipped"));
	CU_ASSERT_PTR_NULL(strstr(out, "hash size"));
	CU_ASSERT_STRING_EQUAL((s = fr_read(&fr, HASH)), "16384\n");
	free(s);
	CU_ASSERT_STRING_EQUAL((s = fr_read(&fr,
	    NF "nf_conntrack_tcp_timeout_established")), "86400");
	free(s);
	free(out);

	/* The hash size cannot be raised: one warning, max still set. */
	fr_write(&fr, NF "nf_conntrack_max", "1\n");
	snprintf(path, sizeof(path), "%s/" HASH, fr.dir);
	CU_ASSERT_EQUAL(unlink(path), 0);
	CU_ASSERT_EQUAL(mkdir(path, 0755), 0);
	tu_capture_begin(&cap, 2);
	rv = nodetune_apply(cfg, fr.dir, 2);
	out = tu_capture_end(&cap);
	CU_ASSERT_EQUAL(rv, 1);
	CU_ASSERT_STRING_EQUAL((s = fr_read(&fr, NF "nf_conntrack_max")),
	    "131072");
	free(s);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "conntrack hash size"));
	free(out);

	/* No oom_score_adj file: a warning, conntrack still done. */
	snprintf(path, sizeof(path), "%s/" OOM, fr.dir);
	CU_ASSERT_EQUAL(unlink(path), 0);
	config_free(cfg);
	cfg = cfg_from(max0);
	tu_capture_begin(&cap, 2);
	rv = nodetune_apply(cfg, fr.dir, 2);
	out = tu_capture_end(&cap);
	CU_ASSERT_EQUAL(rv, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "cannot set oom_score_adj to -999"));
	free(out);
	fr_teardown(&fr);
	config_free(cfg);
}

static const struct tu_case cases[] = {
	{ "conntrack max", test_nodetune_max },
	{ "defaults", test_nodetune_defaults },
	{ "unchanged values", test_nodetune_unchanged },
	{ "max per core 0", test_nodetune_max_zero },
	{ "unwritable settings", test_nodetune_unwritable },
	{ NULL, NULL }
};

/* Run the suite with warnings on stderr. */
int
main(void)
{
	log_init(0);
	return (tu_run("nodetune", cases));
}
