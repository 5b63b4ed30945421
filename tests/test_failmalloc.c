/*
 * test_failmalloc.c: allocation-failure injection (failmalloc.h) over the
 * rule rendering, decode and parse paths.
 *
 * For each target: one run with nothing failing counts its allocations,
 * K, and records the expected result; then, for N = 1..K, a forked
 * child runs it again with the Nth allocation failing.  The parent
 * accepts only these outcomes:
 *	- the call succeeded (the failure is tolerated) with the same
 *	  result as the reference run;
 *	- the call returned its documented error (-1, NULL or
 *	  K8S_DECODE_ERR with a non-empty message, outputs left empty);
 *	- for parsers that use xmalloc (start-up and config time, allowed
 *	  by the house style), exit status 1 with an out-of-memory message
 *	  on stderr: xmalloc's fatal() ends in strerror(ENOMEM), svcfile's
 *	  own fatalx() says "out of memory".
 * A signal, a sanitizer report (ASan and UBSan exit with 86 and 87 in
 * this binary) or a leak fails the test.  Under ASan the child checks
 * for leaks itself after a call that returned; a child that exits
 * through fatal() skips the check, as the parser's pointers are still
 * on the stack of the frames that exit() abandons.
 *
 * A target with more than FM_MAX_RUNS allocations (64 under ASan, 400
 * otherwise) is run for every stride-th N only (plus the last), so that
 * the binary stays well under a minute under ASan; the plain build still
 * fails every allocation of every target here.
 *
 * Past 900 lines on purpose: one harness (fork, inject, judge) and a
 * short target per render, decode and parse path; split, every file
 * would repeat the harness.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

/* gcc says __SANITIZE_ADDRESS__, clang __has_feature. */
#if defined(__SANITIZE_ADDRESS__)
#define FM_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FM_ASAN	1
#endif
#endif
#ifdef FM_ASAN
#include <sanitizer/lsan_interface.h>
#endif

#include "config.h"
#include "failmalloc.h"
#include "iptables.h"
#include "iptables_diff.h"
#include "iptables_render.h"
#include "k8s_decode.h"
#include "k8s_slices.h"
#include "kubeconfig.h"
#include "model.h"
#include "portstate.h"
#include "svcfile_cache.h"
#include "svcfile_parse.h"
#include "tu.h"
#include "fake_ipt.h"
#include "yamljson.h"

#define TCP	IPPROTO_TCP
#define UDP	IPPROTO_UDP

/*
 * Children per target, at most: under ASan a child costs 20-40 ms (fork
 * and exit), one that checks for leaks about 90, and three times that on
 * a loaded machine; the plain build runs every N of every target here.
 */
#ifdef FM_ASAN
#define FM_MAX_RUNS	64
#else
#define FM_MAX_RUNS	400
#endif
#define FM_ERRLEN	1024

/* How a child ended (its exit status). */
#define FM_EXIT_OK		0	/* returned success */
#define FM_EXIT_FATAL		1	/* exit() in the call: fatal() */
#define FM_EXIT_CONTRACT	2	/* returned, breaking its contract */
#define FM_EXIT_NOTHIT		3	/* allocation N never happened */
#define FM_EXIT_ERR		4	/* returned its documented error */
#define FM_EXIT_ASAN		86
#define FM_EXIT_UBSAN		87
#define FM_EXIT_LEAK		88

#ifdef FM_ASAN
const char	*__asan_default_options(void);
const char	*__ubsan_default_options(void);

/* A distinctive exit status for an ASan report in this binary. */
const char *
__asan_default_options(void)
{
	return ("exitcode=86");
}

/* The same for UBSan (the build uses -fno-sanitize-recover). */
const char *
__ubsan_default_options(void)
{
	return ("halt_on_error=1:exitcode=87:print_stacktrace=1");
}
#endif

/*
 * One target.  run() makes the call with the armed failure (fm_arm()
 * before, fm_done() right after), then checks the result: on the
 * reference run (ref 1) it keeps what it needs to compare with; on the
 * others it compares or checks the error.  It frees everything and
 * returns FM_EXIT_OK, FM_EXIT_ERR, or FM_EXIT_CONTRACT with why set.
 * CUnit assertions belong to the reference run and to set-up done
 * once, in the parent: in a child a failed CU_ASSERT_FATAL would jump
 * back into the CUnit runner.
 */
struct fm_target {
	const char	*name;
	int		 xfatal;	/* may die in xmalloc's fatal() */
	int		(*run)(int ref, char *why, size_t whylen);
};

static unsigned long	fm_n;		/* allocation to fail, 0: none */
static unsigned long	fm_k;		/* allocations of the call */
static int		fm_hit;		/* allocation fm_n failed */

/* Arm the failure of this run. */
static void
fm_arm(void)
{
	failmalloc_fail_at(fm_n);
}

/* The call returned: note what happened and fail nothing more. */
static void
fm_done(void)
{
	fm_k = failmalloc_count();
	fm_hit = failmalloc_failed();
	failmalloc_fail_at(0);
}

/* Read a fixture into a new NUL-terminated buffer (not counted). */
static char *
fm_slurp(const char *name, size_t *len)
{
	char	*buf;

	failmalloc_fail_at(0);
	buf = tu_slurp(tu_data(name));
	CU_ASSERT_FATAL(buf != NULL);
	if (len != NULL)
		*len = strlen(buf);
	return (buf);
}

/* Return 1 if a text holds exactly len bytes of s. */
static int
fm_text_is(const struct ipt_text *t, const char *s, size_t len)
{
	if (t->len != len)
		return (0);
	return (len == 0 || memcmp(t->buf, s, len) == 0);
}

/* Copy a text into *keep (reference runs). */
static void
fm_keep(char **keep, size_t *keeplen, const char *s, size_t len)
{
	free(*keep);
	*keep = malloc(len + 1);
	CU_ASSERT_FATAL(*keep != NULL);
	if (len > 0)
		memcpy(*keep, s, len);
	(*keep)[len] = '\0';
	*keeplen = len;
}

/*
 * The iptables targets.  Six ports with externalIPs, LB IPs and
 * NodePorts render about 15 rules each, more than ipt_render's first
 * guess of 320 bytes a port, so the text is grown twice by realloc; one
 * port is skipped and one is of the other family.
 */
static const char *const ext_ips[] = { "203.0.113.5", "203.0.113.6" };
static const char *const lb_ips[] = { "198.51.100.7", "198.51.100.8" };
static const char *const v6_ips[] = { "2001:db8::5" };

static const struct ipt_svcport ports_a[] = {
	{ "default/web:http", TCP, 80, 30080, 40001, "10.96.0.10",
	    ext_ips, 2, lb_ips, 2 },
	{ "default/web:https", TCP, 443, 30443, 40002, "10.96.0.10",
	    ext_ips, 2, lb_ips, 2 },
	{ "kube-system/kube-dns:dns", UDP, 53, 30053, 40003, "10.96.0.53",
	    ext_ips, 2, lb_ips, 2 },
	{ "kube-system/kube-dns:dns-tcp", TCP, 53, 30054, 40004,
	    "10.96.0.53", ext_ips, 2, lb_ips, 2 },
	{ "default/api:grpc", TCP, 9000, 30900, 40005, "10.96.0.90",
	    ext_ips, 2, lb_ips, 2 },
	{ "default/big-name-for-a-service:metrics", TCP, 9153, 31153, 40006,
	    "10.96.0.91", ext_ips, 2, lb_ips, 2 },
	{ "default/bad name", TCP, 1, 0, 40007, "10.96.0.92", NULL, 0,
	    NULL, 0 },
	{ "default/v6:dns", UDP, 53, 0, 40008, "fd00::10", v6_ips, 1,
	    NULL, 0 },
};
#define NPORTS_A	(sizeof(ports_a) / sizeof(ports_a[0]))

/* ports_a with one port changed and one removed: an incremental diff. */
static const struct ipt_svcport ports_b[] = {
	{ "default/web:http", TCP, 80, 30080, 40011, "10.96.0.10",
	    ext_ips, 2, lb_ips, 2 },
	{ "default/web:https", TCP, 443, 30443, 40002, "10.96.0.10",
	    ext_ips, 2, lb_ips, 2 },
	{ "kube-system/kube-dns:dns", UDP, 53, 30053, 40003, "10.96.0.53",
	    ext_ips, 2, lb_ips, 2 },
	{ "kube-system/kube-dns:dns-tcp", TCP, 53, 30054, 40004,
	    "10.96.0.53", ext_ips, 2, lb_ips, 2 },
	{ "default/api:grpc", TCP, 9000, 30900, 40005, "10.96.0.90",
	    ext_ips, 2, NULL, 0 },
};
#define NPORTS_B	(sizeof(ports_b) / sizeof(ports_b[0]))

static const struct ipt_params params = { AF_INET, NULL, "192.168.1.10" };

/* Check a failed render: a message and an empty text. */
static int
fm_ipt_error(const struct ipt_text *t, const char *err, char *why,
    size_t whylen)
{
	if (err[0] == '\0')
		snprintf(why, whylen, "-1 without a message");
	else if (t->buf != NULL || t->len != 0)
		snprintf(why, whylen, "-1 (%s) with a text left", err);
	else
		return (FM_EXIT_ERR);
	return (FM_EXIT_CONTRACT);
}

/* Check a render that succeeded against the reference. */
static int
fm_ipt_same(int ref, const struct ipt_text *t, char **keep, size_t *keeplen,
    size_t *keeprules, char *why, size_t whylen)
{
	if (ref) {
		fm_keep(keep, keeplen, t->buf, t->len);
		*keeprules = t->nrules;
		return (FM_EXIT_OK);
	}
	if (!fm_text_is(t, *keep, *keeplen) || t->nrules != *keeprules) {
		snprintf(why, whylen, "succeeded with another text (%zu "
		    "bytes, %zu rules; expected %zu, %zu)", t->len, t->nrules,
		    *keeplen, *keeprules);
		return (FM_EXIT_CONTRACT);
	}
	return (FM_EXIT_OK);
}

/* ipt_render over ports_a. */
static int
fm_ipt_render(int ref, char *why, size_t whylen)
{
	static char	*keep;
	static size_t	 keeplen, keeprules;
	struct ipt_text	 t;
	char		 err[FM_ERRLEN] = "";
	int		 rv;

	fm_arm();
	rv = ipt_render(&params, ports_a, NPORTS_A, &t, err, sizeof(err));
	fm_done();
	if (rv == -1)
		rv = fm_ipt_error(&t, err, why, whylen);
	else
		rv = fm_ipt_same(ref, &t, &keep, &keeplen, &keeprules, why,
		    whylen);
	ipt_text_free(&t);
	return (rv);
}

/* ipt_render_adds over ports_a. */
static int
fm_ipt_render_adds(int ref, char *why, size_t whylen)
{
	static char	*keep;
	static size_t	 keeplen, keeprules;
	struct ipt_text	 t;
	char		 err[FM_ERRLEN] = "";
	int		 rv;

	fm_arm();
	rv = ipt_render_adds(&params, ports_a, NPORTS_A, &t, err,
	    sizeof(err));
	fm_done();
	if (rv == -1)
		rv = fm_ipt_error(&t, err, why, whylen);
	else
		rv = fm_ipt_same(ref, &t, &keep, &keeplen, &keeprules, why,
		    whylen);
	ipt_text_free(&t);
	return (rv);
}

/*
 * ipt_render_cleanup over the iptables-save fixtures: kube-proxy 1.20's
 * iptables mode, every mode removed (prefix chains, summary).
 */
static int
fm_ipt_render_cleanup(int ref, char *why, size_t whylen)
{
	static char	*nat, *filter, *mangle, *keep;
	static size_t	 keeplen, keeprules;
	struct ipt_text	 t;
	char		 err[FM_ERRLEN] = "";
	int		 rv;

	if (nat == NULL) {
		nat = fm_slurp("migrate-kp120-iptables-save-nat.txt", NULL);
		filter = fm_slurp("migrate-kp120-iptables-save-filter.txt",
		    NULL);
		mangle = fm_slurp("migrate-kp120-iptables-save-mangle.txt",
		    NULL);
	}
	fm_arm();
	rv = ipt_render_cleanup(nat, filter, mangle, IPT_MODES_ALL, &t, NULL,
	    err, sizeof(err));
	fm_done();
	if (rv == -1)
		rv = fm_ipt_error(&t, err, why, whylen);
	else
		rv = fm_ipt_same(ref, &t, &keep, &keeplen, &keeprules, why,
		    whylen);
	ipt_text_free(&t);
	return (rv);
}

/* The rendered texts of ports_a and ports_b (not counted). */
static void
fm_ipt_texts(struct ipt_text *a, struct ipt_text *b)
{
	char	err[FM_ERRLEN];

	failmalloc_fail_at(0);
	CU_ASSERT_FATAL(ipt_render(&params, ports_a, NPORTS_A, a, err,
	    sizeof(err)) == 0);
	CU_ASSERT_FATAL(ipt_render(&params, ports_b, NPORTS_B, b, err,
	    sizeof(err)) == 0);
}

/* ipt_incremental from the text of ports_a to that of ports_b. */
static int
fm_ipt_incremental(int ref, char *why, size_t whylen)
{
	static struct ipt_text	 a, b;
	static char		*kadd, *kdel;
	static size_t		 kaddlen, kdellen, kn, kna, knd;
	struct ipt_text		 addin, delin;
	size_t			 nadds, ndels;
	ssize_t			 n;
	int			 rv = FM_EXIT_OK;

	if (a.buf == NULL)
		fm_ipt_texts(&a, &b);
	fm_arm();
	n = ipt_incremental(a.buf, &b, &addin, &delin, &nadds, &ndels);
	fm_done();
	if (ref) {
		CU_ASSERT_FATAL(n > 0);
		kn = (size_t)n;
		kna = nadds;
		knd = ndels;
		fm_keep(&kadd, &kaddlen, addin.buf, addin.len);
		fm_keep(&kdel, &kdellen, delin.buf, delin.len);
	} else if (n == -1) {
		/* Documented: too large, or out of memory; both empty. */
		if (addin.buf != NULL || delin.buf != NULL || nadds != 0 ||
		    ndels != 0) {
			snprintf(why, whylen, "-1 with inputs left");
			rv = FM_EXIT_CONTRACT;
		} else
			rv = FM_EXIT_ERR;
	} else if ((size_t)n != kn || nadds != kna || ndels != knd ||
	    !fm_text_is(&addin, kadd, kaddlen) ||
	    !fm_text_is(&delin, kdel, kdellen)) {
		snprintf(why, whylen, "%zd changes (%zu, %zu), expected %zu "
		    "(%zu, %zu), or other texts", n, nadds, ndels, kn, kna,
		    knd);
		rv = FM_EXIT_CONTRACT;
	}
	ipt_text_free(&addin);
	ipt_text_free(&delin);
	return (rv);
}

/* The fake iptables binaries (tests/data/fake-iptables.sh). */
static struct fake	fm_fake;

/*
 * Set up the fake binaries.  nat PREROUTING holds our two jumps and a
 * foreign jump to one of our chains, so that the jump check compares
 * rules and has something to delete; nat OUTPUT and filter INPUT are
 * empty, so that it has jumps to add.  "-V" says nf_tables, so that
 * streams may hold filter rules.
 */
static void
fm_fake_setup(void)
{
	static const char pre[] =
	    "-P PREROUTING ACCEPT\n"
	    "-A PREROUTING -m comment --comment \"handle ClusterIPs; NOTE: "
	    "this must be before the NodePort rules\" -j "
	    "KUBE-PORTALS-CONTAINER\n"
	    "-A PREROUTING -s 10.0.0.0/8 -j KUBE-PORTALS-CONTAINER\n"
	    "-A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment "
	    "\"handle service NodePorts; NOTE: this must be the last rule in "
	    "the chain\" -j KUBE-NODEPORT-CONTAINER\n";

	failmalloc_fail_at(0);
	fake_setup(&fm_fake);
	fake_write(&fm_fake, "iptables.S-nat-PREROUTING.txt", pre);
	fake_write(&fm_fake, "iptables.version",
	    "iptables v1.8.9 (nf_tables)\n");
}

/* Return an ipt whose last full sync applied ports_a (not counted). */
static struct ipt *
fm_ipt_synced(void)
{
	static struct ipt	*ipt;
	char			 err[FM_ERRLEN];

	if (ipt != NULL)
		return (ipt);
	failmalloc_fail_at(0);
	fm_fake_setup();
	ipt = ipt_new(fm_fake.ipt4, AF_INET);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ipt);
	ipt_backend_probe(ipt);
	CU_ASSERT_FATAL(fake_sync_blocking(ipt, &params, ports_a, NPORTS_A, 1,
	    err, sizeof(err)) == 0);
	return (ipt);
}

/*
 * ipt_sync_prepare from ports_a to ports_b: incremental (force 0), or
 * full with the jump check run through the fake iptables (force 1).  An
 * incremental prepare may fall back to the full text when the diff runs
 * out of memory; that is the documented behaviour.
 */
static int
fm_ipt_prepare(int ref, int force, char **keep, size_t *keeplen,
    char *why, size_t whylen)
{
	struct ipt		*ipt = fm_ipt_synced();
	static struct ipt_text	 a, b;
	struct ipt_apply	 ap;
	char			 err[FM_ERRLEN] = "";
	int			 rc, rv;

	if (b.buf == NULL)
		fm_ipt_texts(&a, &b);
	fm_arm();
	rc = fake_prepare_blocking(ipt, &params, ports_b, NPORTS_B, force,
	    &ap, err, sizeof(err));
	fm_done();
	if (ref) {
		CU_ASSERT_FATAL(rc == 1);
		CU_ASSERT_FATAL(ap.incremental == !force);
		fm_keep(keep, keeplen, ap.input, ap.inlen);
		rv = FM_EXIT_OK;
	} else if (rc == -1) {
		rv = err[0] != '\0' ? FM_EXIT_ERR : FM_EXIT_CONTRACT;
		snprintf(why, whylen, "-1 without a message");
	} else if (rc != 1) {
		snprintf(why, whylen, "returned %d", rc);
		rv = FM_EXIT_CONTRACT;
	} else if (ap.inlen == *keeplen &&
	    memcmp(ap.input, *keep, *keeplen) == 0)
		rv = FM_EXIT_OK;
	else if (!force && !ap.incremental && ap.inlen == b.len &&
	    memcmp(ap.input, b.buf, b.len) == 0)
		rv = FM_EXIT_OK;	/* the full text instead */
	else {
		snprintf(why, whylen, "prepared another input (%zu bytes, "
		    "incremental %d):\n%.*s", ap.inlen, ap.incremental,
		    (int)(ap.inlen > 2000 ? 2000 : ap.inlen), ap.input);
		rv = FM_EXIT_CONTRACT;
	}
	ipt_apply_free(&ap);	/* zeroed unless 1 was returned */
	return (rv);
}

/* ipt_sync_prepare, incremental. */
static int
fm_ipt_prepare_incr(int ref, char *why, size_t whylen)
{
	static char	*keep;
	static size_t	 keeplen;

	return (fm_ipt_prepare(ref, 0, &keep, &keeplen, why, whylen));
}

/* ipt_sync_prepare, forced: renders and checks the jumps. */
static int
fm_ipt_prepare_force(int ref, char *why, size_t whylen)
{
	static char	*keep;
	static size_t	 keeplen;

	return (fm_ipt_prepare(ref, 1, &keep, &keeplen, why, whylen));
}

/*
 * ipt_stream_add twice (ports_b, then ports_a) and ipt_stream_end, in
 * nf_tables mode (IPT_STREAM_BATCHES).  The stream begins before the
 * failure is armed, so that its one "-V" is not counted.
 */
static int
fm_ipt_stream(int ref, char *why, size_t whylen)
{
	static char		*keep;
	static size_t		 keeplen;
	struct ipt		*ipt = fm_ipt_synced();
	struct ipt_stream	 st;
	const char		*argv[5], *buf;
	char			 err[FM_ERRLEN] = "";
	size_t			 len;
	int			 rc;

	/* No CU_ASSERT_FATAL: a child would longjmp back into CUnit. */
	if (ipt_stream_begin(ipt, &st, argv) == -1) {
		snprintf(why, whylen, "ipt_stream_begin failed");
		return (FM_EXIT_CONTRACT);
	}
	fm_arm();
	rc = ipt_stream_add(&st, &params, ports_b, NPORTS_B, &buf, &len, err,
	    sizeof(err));
	if (rc == 0)
		rc = ipt_stream_add(&st, &params, ports_a, NPORTS_A, &buf,
		    &len, err, sizeof(err));
	if (rc == 0)
		ipt_stream_end(&st, &buf, &len);
	fm_done();
	if (ref) {
		CU_ASSERT_FATAL(rc == 0 && !st.sent.oom);
		fm_keep(&keep, &keeplen, st.sent.buf, st.sent.len);
		rc = FM_EXIT_OK;
	} else if (rc == -1)
		rc = err[0] != '\0' ? FM_EXIT_ERR : FM_EXIT_CONTRACT;
	else if (st.sent.oom)
		rc = buf == NULL ? FM_EXIT_ERR : FM_EXIT_CONTRACT;
	else if (fm_text_is(&st.sent, keep, keeplen))
		rc = FM_EXIT_OK;
	else
		rc = FM_EXIT_CONTRACT;
	if (rc == FM_EXIT_CONTRACT)
		snprintf(why, whylen, "stream of %zu bytes, oom %d, err \"%s\"",
		    st.sent.len, st.sent.oom, err);
	ipt_stream_free(&st);
	return (rc);
}

/*
 * The decoders and parsers.  Each keeps its input (a json-c tree or a
 * file's text) from the reference run; the children inherit it.
 */

/* Check a decoder's result: OK with *out, or SKIP/ERR with a reason. */
static int
fm_decoded(int rc, const void *out, const char *err, char *why,
    size_t whylen)
{
	if (rc == K8S_DECODE_OK && out != NULL)
		return (FM_EXIT_OK);
	if (rc == K8S_DECODE_ERR && out == NULL && err[0] != '\0')
		return (FM_EXIT_ERR);
	snprintf(why, whylen, "returned %d, out %p, err \"%s\"", rc, out,
	    err);
	return (FM_EXIT_CONTRACT);
}

/* Decode one Service fixture; compare with the reference. */
static int
fm_k8s_service(const char *name, struct json_object **o,
    struct model_service **keep, int ref, char *why, size_t whylen)
{
	struct model_service	*ms = NULL;
	char			 err[FM_ERRLEN] = "";
	int			 rc, rv;

	if (*o == NULL)
		*o = tu_json(name);
	fm_arm();
	rc = k8s_decode_service(*o, &ms, err, sizeof(err));
	fm_done();
	rv = fm_decoded(rc, ms, err, why, whylen);
	if (ref)
		*keep = ms;
	else {
		if (rv == FM_EXIT_OK && !model_service_equal(ms, *keep)) {
			snprintf(why, whylen, "decoded another Service");
			rv = FM_EXIT_CONTRACT;
		}
		model_service_free(ms);
	}
	return (rv);
}

/* k8s_decode_service, a LoadBalancer with externalIPs. */
static int
fm_k8s_service_lb(int ref, char *why, size_t whylen)
{
	static struct json_object	*o;
	static struct model_service	*keep;

	return (fm_k8s_service("k8s-svc-lb.json", &o, &keep, ref, why,
	    whylen));
}

/* k8s_decode_service, a ClusterIP Service. */
static int
fm_k8s_service_clusterip(int ref, char *why, size_t whylen)
{
	static struct json_object	*o;
	static struct model_service	*keep;

	return (fm_k8s_service("k8s-svc-clusterip.json", &o, &keep, ref, why,
	    whylen));
}

/* k8s_decode_endpoints, several subsets and ports. */
static int
fm_k8s_endpoints(int ref, char *why, size_t whylen)
{
	static struct json_object	*o;
	static struct model_endpoints	*keep;
	struct model_endpoints		*me = NULL;
	char				 err[FM_ERRLEN] = "";
	int				 rc, rv;

	if (o == NULL)
		o = tu_json("k8s-ep-multi.json");
	fm_arm();
	rc = k8s_decode_endpoints(o, &me, err, sizeof(err));
	fm_done();
	rv = fm_decoded(rc, me, err, why, whylen);
	if (ref)
		keep = me;
	else {
		if (rv == FM_EXIT_OK && !model_endpoints_equal(me, keep)) {
			snprintf(why, whylen, "decoded other Endpoints");
			rv = FM_EXIT_CONTRACT;
		}
		model_endpoints_free(me);
	}
	return (rv);
}

/* Decode one EndpointSlice fixture and merge it. */
static int
fm_k8s_slice(const char *name, struct json_object **o,
    struct model_endpoints **keep, int ref, char *why, size_t whylen)
{
	struct k8s_slice	*s = NULL;
	struct model_endpoints	*me = NULL;
	char			 err[FM_ERRLEN] = "";
	int			 rc, rv;

	if (*o == NULL)
		*o = tu_json(name);
	fm_arm();
	rc = k8s_decode_endpointslice(*o, &s, err, sizeof(err));
	if (rc == K8S_DECODE_OK)
		me = k8s_slices_merge(s->ns, s->service, &s, 1);
	fm_done();
	rv = fm_decoded(rc, s, err, why, whylen);
	k8s_slice_free(s);
	if (ref)
		*keep = me;
	else {
		if (rv == FM_EXIT_OK && !model_endpoints_equal(me, *keep)) {
			snprintf(why, whylen, "merged other Endpoints");
			rv = FM_EXIT_CONTRACT;
		}
		model_endpoints_free(me);
	}
	return (rv);
}

/* k8s_decode_endpointslice and k8s_slices_merge, v1. */
static int
fm_k8s_slice_v1(int ref, char *why, size_t whylen)
{
	static struct json_object	*o;
	static struct model_endpoints	*keep;

	return (fm_k8s_slice("k8s-slice-v1.json", &o, &keep, ref, why,
	    whylen));
}

/* k8s_decode_endpointslice and k8s_slices_merge, v1beta1. */
static int
fm_k8s_slice_v1beta1(int ref, char *why, size_t whylen)
{
	static struct json_object	*o;
	static struct model_endpoints	*keep;

	return (fm_k8s_slice("k8s-slice-v1beta1.json", &o, &keep, ref, why,
	    whylen));
}

/*
 * The one call site of the services-file parser, so that a rename of
 * its header (svcfile_parse.h) is a one-line change above.
 */
static int
fm_svcfile_call(const char *buf, size_t len, const char *fname,
    struct svcfile_objs *o, char *err, size_t errlen)
{
	return (svcfile_parse(buf, len, fname, o, err, errlen));
}

/* svcfile_parse of one fixture; good files compare their counts. */
static int
fm_svcfile(const char *name, char **buf, size_t *len, size_t keep[3],
    int ref, char *why, size_t whylen)
{
	struct svcfile_objs	o;
	char			err[FM_ERRLEN] = "";
	int			rc, rv;

	if (*buf == NULL)
		*buf = fm_slurp(name, len);
	memset(&o, 0, sizeof(o));
	fm_arm();
	rc = fm_svcfile_call(*buf, *len, name, &o, err, sizeof(err));
	fm_done();
	if (ref) {
		keep[0] = (size_t)(rc + 1);	/* 0: error, 1: good */
		keep[1] = o.nsvcs;
		keep[2] = o.neps;
		rv = FM_EXIT_OK;
	} else if (rc == -1 && err[0] != '\0' && o.nsvcs == 0 &&
	    o.neps == 0)
		rv = FM_EXIT_ERR;
	else if (rc == 0 && keep[0] == 1 && o.nsvcs == keep[1] &&
	    o.neps == keep[2])
		rv = FM_EXIT_OK;
	else {
		snprintf(why, whylen, "returned %d (%zu Services, %zu "
		    "Endpoints), err \"%s\"", rc, o.nsvcs, o.neps, err);
		rv = FM_EXIT_CONTRACT;
	}
	svcfile_objs_free(&o);
	return (rv);
}

/* svcfile_parse, a "kind: List" of Services and Endpoints. */
static int
fm_svcfile_list(int ref, char *why, size_t whylen)
{
	static char	*buf;
	static size_t	 len, keep[3];

	return (fm_svcfile("svcfile-list.yaml", &buf, &len, keep, ref, why,
	    whylen));
}

/* svcfile_parse, several documents. */
static int
fm_svcfile_multidoc(int ref, char *why, size_t whylen)
{
	static char	*buf;
	static size_t	 len, keep[3];

	return (fm_svcfile("svcfile-multidoc.yaml", &buf, &len, keep, ref,
	    why, whylen));
}

/* svcfile_parse, a file rejected for a duplicate (the error path). */
static int
fm_svcfile_bad(int ref, char *why, size_t whylen)
{
	static char	*buf;
	static size_t	 len, keep[3];
	int		 rv;

	rv = fm_svcfile("svcfile-bad-dup.yaml", &buf, &len, keep, ref, why,
	    whylen);
	if (ref && keep[0] != 0) {
		snprintf(why, whylen, "the bad file parsed");
		rv = FM_EXIT_CONTRACT;
	}
	return (rv);
}

/* Return a copy of s with the first from replaced by to (not counted). */
static char *
fm_replace(const char *s, const char *from, const char *to)
{
	const char	*p = strstr(s, from);
	char		*r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	failmalloc_fail_at(0);
	r = malloc(strlen(s) - strlen(from) + strlen(to) + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	memcpy(r, s, (size_t)(p - s));
	strcpy(r + (p - s), to);
	strcat(r, p + strlen(from));
	return (r);
}

/*
 * svcfile_parse_diff through a new cache: the documents file, then the
 * same with one Service changed and another renamed.  The cache is made
 * inside the counted call, so that every run starts from the same state.
 */
static int
fm_svcfile_diff(int ref, char *why, size_t whylen)
{
	static char		*a, *b;
	static size_t		 keep[4];
	struct svcfile_cache	*c;
	struct svcfile_diff	 d;
	char			 err[FM_ERRLEN] = "", *t;
	size_t			 got[4];
	int			 rc;

	if (a == NULL) {
		a = fm_slurp("svcfile-multidoc.yaml", NULL);
		t = fm_replace(a, "10.96.100.1", "10.96.100.2");
		b = fm_replace(t, "name: dns", "name: dns2");
		free(t);
	}
	memset(&d, 0, sizeof(d));
	fm_arm();
	c = svcfile_cache_new();
	rc = svcfile_parse_diff(a, strlen(a), "a.yaml", c, &d, err,
	    sizeof(err));
	svcfile_diff_free(&d);
	if (rc == 0)
		rc = svcfile_parse_diff(b, strlen(b), "b.yaml", c, &d, err,
		    sizeof(err));
	svcfile_cache_free(c);
	fm_done();
	got[0] = d.objs.nsvcs;
	got[1] = d.objs.neps;
	got[2] = d.ngone_svcs;
	got[3] = d.ngone_eps;
	svcfile_diff_free(&d);
	if (ref) {
		CU_ASSERT_FATAL(rc == 0);
		memcpy(keep, got, sizeof(keep));
		return (FM_EXIT_OK);
	}
	if (rc == -1 && err[0] != '\0' && got[0] + got[1] + got[2] +
	    got[3] == 0)
		return (FM_EXIT_ERR);
	if (rc == 0 && memcmp(got, keep, sizeof(keep)) == 0)
		return (FM_EXIT_OK);
	snprintf(why, whylen, "returned %d, diff %zu %zu %zu %zu (expected "
	    "%zu %zu %zu %zu), err \"%s\"", rc, got[0], got[1], got[2],
	    got[3], keep[0], keep[1], keep[2], keep[3], err);
	return (FM_EXIT_CONTRACT);
}

/* config_new and config_parse_yaml of a full KubeProxyConfiguration. */
static int
fm_config(int ref, char *why, size_t whylen)
{
	static char		*buf;
	static size_t		 len;
	struct kp_config	*cfg;
	char			 err[FM_ERRLEN] = "";
	int			 rc, rv = FM_EXIT_OK;

	if (buf == NULL)
		buf = fm_slurp("config-full.yaml", &len);
	fm_arm();
	cfg = config_new();
	rc = config_parse_yaml(cfg, buf, len, "config-full.yaml", err,
	    sizeof(err));
	fm_done();
	if (rc == -1 && !ref && err[0] != '\0')
		rv = FM_EXIT_ERR;
	else if (rc != 0) {
		snprintf(why, whylen, "returned %d, err \"%s\"", rc, err);
		rv = FM_EXIT_CONTRACT;
	}
	config_free(cfg);
	return (rv);
}

/* kubeconfig_parse of a file with several clusters, users, contexts. */
static int
fm_kubeconfig(int ref, char *why, size_t whylen)
{
	static char		*buf, *server;
	static size_t		 len;
	struct kubeconfig	 kc;
	char			 err[FM_ERRLEN] = "";
	int			 rc, rv = FM_EXIT_OK;

	if (buf == NULL)
		buf = fm_slurp("kubeconfig-multi.yaml", &len);
	fm_arm();
	rc = kubeconfig_parse(buf, len, "kubeconfig-multi.yaml", "/base",
	    NULL, &kc, err, sizeof(err));
	fm_done();
	if (ref) {
		CU_ASSERT_FATAL(rc == 0 && kc.server != NULL);
		server = strdup(kc.server);
	} else if (rc == -1 && err[0] != '\0' && kc.server == NULL)
		rv = FM_EXIT_ERR;
	else if (rc != 0 || kc.server == NULL ||
	    strcmp(kc.server, server) != 0) {
		snprintf(why, whylen, "returned %d, server %s, err \"%s\"",
		    rc, kc.server ? kc.server : "NULL", err);
		rv = FM_EXIT_CONTRACT;
	}
	kubeconfig_clear(&kc);
	return (rv);
}

/* portstate_parse of a state file with comments and both protocols. */
static int
fm_portstate(int ref, char *why, size_t whylen)
{
	static const char	 text[] =
	    "# kuproxy persisted proxy ports\n"
	    "TCP 40001 default/web:http\n"
	    "TCP 40002 default/web:https\n"
	    "UDP 40003 kube-system/kube-dns:dns\n"
	    "TCP 40004 kube-system/kube-dns:dns-tcp\n"
	    "\n"
	    "TCP 40005 default/api\n"
	    "UDP 40006 default/api\n"
	    "TCP 40007 monitoring/prometheus:web\n"
	    "TCP 40008 monitoring/grafana:http\n"
	    "TCP 40009 default/a\n"
	    "TCP 40010 default/b\n"
	    "TCP 40011 default/c\n"
	    "TCP 40012 default/d\n"
	    "TCP 40013 default/e\n"
	    "TCP 40014 default/f\n"
	    "TCP 40015 default/g\n"
	    "TCP 40016 default/h\n"
	    "TCP 40017 default/i\n";
	struct portstate	 ps;
	char			 err[FM_ERRLEN] = "";
	int			 rc, rv = FM_EXIT_OK;

	memset(&ps, 0, sizeof(ps));
	fm_arm();
	rc = portstate_parse(text, sizeof(text) - 1, &ps, err, sizeof(err));
	fm_done();
	if (rc == -1 && !ref && err[0] != '\0' && ps.n == 0)
		rv = FM_EXIT_ERR;
	else if (rc != 0 || ps.n != 17 ||
	    portstate_lookup(&ps, "default/i", TCP) != 40017) {
		snprintf(why, whylen, "returned %d with %zu entries, err "
		    "\"%s\"", rc, ps.n, err);
		rv = FM_EXIT_CONTRACT;
	}
	portstate_clear(&ps);
	return (rv);
}

/* yamljson_parse of one fixture; compare the trees. */
static int
fm_yamljson(const char *name, char **buf, size_t *len,
    struct json_object ***keep, size_t *nkeep, int ref, char *why,
    size_t whylen)
{
	struct json_object	**docs = NULL;
	size_t			  ndocs = 0, i;
	char			  err[FM_ERRLEN] = "";
	int			  rc, rv = FM_EXIT_OK;

	if (*buf == NULL)
		*buf = fm_slurp(name, len);
	fm_arm();
	rc = yamljson_parse(*buf, *len, &docs, &ndocs, err, sizeof(err));
	fm_done();
	if (ref) {
		CU_ASSERT_FATAL(rc == 0);
		*keep = docs;
		*nkeep = ndocs;
		return (FM_EXIT_OK);
	}
	if (rc == -1 && err[0] != '\0')
		rv = FM_EXIT_ERR;
	else if (rc != 0 || ndocs != *nkeep)
		rv = FM_EXIT_CONTRACT;
	for (i = 0; rv == FM_EXIT_OK && i < ndocs; i++)
		if (!json_object_equal(docs[i], (*keep)[i]))
			rv = FM_EXIT_CONTRACT;
	if (rv == FM_EXIT_CONTRACT)
		snprintf(why, whylen, "returned %d, %zu documents, err \"%s\"",
		    rc, ndocs, err);
	if (rc == 0)
		yamljson_free(docs, ndocs);
	return (rv);
}

/* yamljson_parse, a KubeProxyConfiguration. */
static int
fm_yamljson_config(int ref, char *why, size_t whylen)
{
	static char			 *buf;
	static size_t			  len, nkeep;
	static struct json_object	**keep;

	return (fm_yamljson("config-full.yaml", &buf, &len, &keep, &nkeep,
	    ref, why, whylen));
}

/* yamljson_parse, a stream of several documents. */
static int
fm_yamljson_multidoc(int ref, char *why, size_t whylen)
{
	static char			 *buf;
	static size_t			  len, nkeep;
	static struct json_object	**keep;

	return (fm_yamljson("svcfile-multidoc.yaml", &buf, &len, &keep,
	    &nkeep, ref, why, whylen));
}

/*
 * In a child, any exit() comes from inside the call (the child itself
 * leaves with _exit()): xmalloc's fatal().  Leave before the leak check
 * at exit, which would report what the abandoned frames held.
 */
static void
fm_child_atexit(void)
{
	_exit(FM_EXIT_FATAL);
}

/* Run a target in this (child) process with allocation n failing. */
static void __attribute__((__noreturn__))
fm_child(const struct fm_target *t, unsigned long n, int fd)
{
	char	why[4096] = "";
	int	rv;

	if (dup2(fd, STDERR_FILENO) == -1)
		_exit(FM_EXIT_CONTRACT);
	close(fd);
	if (atexit(fm_child_atexit) != 0)
		_exit(FM_EXIT_CONTRACT);
	fm_n = n;
	rv = t->run(0, why, sizeof(why));
	if (rv == FM_EXIT_CONTRACT) {
		fprintf(stderr, "%s\n", why);
		_exit(rv);
	}
	if (!fm_hit) {
		fprintf(stderr, "only %lu allocations this time\n", fm_k);
		_exit(FM_EXIT_NOTHIT);
	}
#ifdef FM_ASAN
	if (__lsan_do_recoverable_leak_check() != 0)
		_exit(FM_EXIT_LEAK);
#endif
	_exit(rv);
}

/* Outcome counts of one target. */
struct fm_stats {
	unsigned long	runs;
	unsigned long	ok;		/* tolerated: succeeded */
	unsigned long	err;		/* returned its error */
	unsigned long	fatal;		/* xmalloc's fatal() */
	unsigned long	bad;
};

/* Read everything fd gives into buf (cut to len - 1 bytes). */
static void
fm_drain(int fd, char *buf, size_t len)
{
	char	junk[4096];
	size_t	n = 0;
	ssize_t	r;

	for (;;) {
		if (n + 1 < len)
			r = read(fd, buf + n, len - 1 - n);
		else
			r = read(fd, junk, sizeof(junk));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (n + 1 < len)
			n += (size_t)r;
	}
	buf[n] = '\0';
}

/* Describe a bad child status into why; return 0 if it is acceptable. */
static int
fm_judge(const struct fm_target *t, int status, const char *out,
    struct fm_stats *st, char *why, size_t whylen)
{
	int	code;

	if (WIFSIGNALED(status)) {
		snprintf(why, whylen, "killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
		return (-1);
	}
	code = WEXITSTATUS(status);
	switch (code) {
	case FM_EXIT_OK:
		st->ok++;
		return (0);
	case FM_EXIT_ERR:
		st->err++;
		return (0);
	case FM_EXIT_FATAL:
		if (t->xfatal && (strstr(out, strerror(ENOMEM)) != NULL ||
		    strstr(out, "out of memory") != NULL)) {
			st->fatal++;
			return (0);
		}
		snprintf(why, whylen, "exit() without an out-of-memory "
		    "message%s", t->xfatal ? "" : " (must not be fatal)");
		return (-1);
	case FM_EXIT_CONTRACT:
		snprintf(why, whylen, "broke its contract");
		return (-1);
	case FM_EXIT_NOTHIT:
		snprintf(why, whylen, "did not make as many allocations");
		return (-1);
	case FM_EXIT_ASAN:
		snprintf(why, whylen, "AddressSanitizer report");
		return (-1);
	case FM_EXIT_UBSAN:
		snprintf(why, whylen, "UndefinedBehaviorSanitizer report");
		return (-1);
	case FM_EXIT_LEAK:
		snprintf(why, whylen, "memory leaked");
		return (-1);
	}
	snprintf(why, whylen, "exit status %d", code);
	return (-1);
}

/* Fork a child failing allocation n of t; judge how it ended. */
static void
fm_fork(const struct fm_target *t, unsigned long n, unsigned long k,
    struct fm_stats *st)
{
	static char	out[65536];
	char		why[256], msg[512];
	pid_t		pid;
	int		fds[2], status;

	st->runs++;
	fflush(NULL);
	CU_ASSERT_FATAL(pipe(fds) == 0);
	if ((pid = fork()) == -1) {
		CU_FAIL_FATAL("fork");
	}
	if (pid == 0) {
		close(fds[0]);
		fm_child(t, n, fds[1]);
	}
	close(fds[1]);
	fm_drain(fds[0], out, sizeof(out));
	close(fds[0]);
	while (waitpid(pid, &status, 0) == -1)
		CU_ASSERT_FATAL(errno == EINTR);
	if (fm_judge(t, status, out, st, why, sizeof(why)) == 0)
		return;
	if (st->bad++ < 3) {
		fprintf(stderr, "\nfailmalloc: %s: allocation %lu of %lu "
		    "failed: %s\n%s", t->name, n, k, why, out);
		snprintf(msg, sizeof(msg), "%s: allocation %lu of %lu: %s",
		    t->name, n, k, why);
		CU_assertImplementation(CU_FALSE, __LINE__, msg, __FILE__, "",
		    CU_FALSE);
	}
}

/* Run a target once to count, then once per failing allocation. */
static void
fm_check(const struct fm_target *t)
{
	struct fm_stats	st;
	struct timespec	t0, t1;
	unsigned long	k, n, stride;
	char		why[4096] = "";
	int		rv;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(&st, 0, sizeof(st));
	fm_n = 0;
	rv = t->run(1, why, sizeof(why));
	if (rv != FM_EXIT_OK)
		fprintf(stderr, "failmalloc: %s: reference run: %s\n",
		    t->name, why);
	CU_ASSERT_FATAL(rv == FM_EXIT_OK);
	k = fm_k;
	CU_ASSERT_FATAL(k > 0);
	stride = (k + FM_MAX_RUNS - 1) / FM_MAX_RUNS;
	for (n = 1; n <= k; n += stride)
		fm_fork(t, n, k, &st);
	if ((k - 1) % stride != 0)
		fm_fork(t, k, k, &st);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("\n  failmalloc: %-34s K=%-4lu runs=%-4lu ok=%-3lu err=%-3lu "
	    "fatal=%-4lu bad=%lu %.1fs%s", t->name, k, st.runs, st.ok, st.err,
	    st.fatal, st.bad, (double)(t1.tv_sec - t0.tv_sec) +
	    (t1.tv_nsec - t0.tv_nsec) / 1e9, stride > 1 ? " (strided)" : "");
}

static const struct fm_target fm_targets[] = {
	{ "ipt_render", 0, fm_ipt_render },
	{ "ipt_render_adds", 0, fm_ipt_render_adds },
	{ "ipt_render_cleanup", 0, fm_ipt_render_cleanup },
	{ "ipt_incremental", 0, fm_ipt_incremental },
	{ "ipt_sync_prepare (incremental)", 0, fm_ipt_prepare_incr },
	{ "ipt_sync_prepare (forced, jumps)", 0, fm_ipt_prepare_force },
	{ "ipt_stream_add", 0, fm_ipt_stream },
	{ "k8s_decode_service (LB)", 1, fm_k8s_service_lb },
	{ "k8s_decode_service (ClusterIP)", 1, fm_k8s_service_clusterip },
	{ "k8s_decode_endpoints", 1, fm_k8s_endpoints },
	{ "k8s_decode_endpointslice v1", 1, fm_k8s_slice_v1 },
	{ "k8s_decode_endpointslice v1beta1", 1, fm_k8s_slice_v1beta1 },
	{ "svcfile_parse (List)", 1, fm_svcfile_list },
	{ "svcfile_parse (documents)", 1, fm_svcfile_multidoc },
	{ "svcfile_parse (rejected)", 1, fm_svcfile_bad },
	{ "svcfile_parse_diff", 1, fm_svcfile_diff },
	{ "config_parse_yaml", 1, fm_config },
	{ "kubeconfig_parse", 1, fm_kubeconfig },
	{ "portstate_parse", 1, fm_portstate },
	{ "yamljson_parse (config)", 1, fm_yamljson_config },
	{ "yamljson_parse (documents)", 1, fm_yamljson_multidoc },
};

/* Look a target up by name. */
static const struct fm_target *
fm_target(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(fm_targets) / sizeof(fm_targets[0]); i++)
		if (strcmp(fm_targets[i].name, name) == 0)
			return (&fm_targets[i]);
	return (NULL);
}

/* ipt_render, ipt_render_adds, ipt_render_cleanup. */
static void
test_failmalloc_ipt_render(void)
{
	fm_check(fm_target("ipt_render"));
	fm_check(fm_target("ipt_render_adds"));
	fm_check(fm_target("ipt_render_cleanup"));
}

/* ipt_incremental, both kinds of ipt_sync_prepare, streaming. */
static void
test_failmalloc_ipt_sync(void)
{
	fm_check(fm_target("ipt_incremental"));
	fm_check(fm_target("ipt_sync_prepare (incremental)"));
	fm_check(fm_target("ipt_sync_prepare (forced, jumps)"));
	fm_check(fm_target("ipt_stream_add"));
	fake_teardown(&fm_fake);
}

/* The Service, Endpoints and EndpointSlice decoders. */
static void
test_failmalloc_k8s_decode(void)
{
	fm_check(fm_target("k8s_decode_service (LB)"));
	fm_check(fm_target("k8s_decode_service (ClusterIP)"));
	fm_check(fm_target("k8s_decode_endpoints"));
	fm_check(fm_target("k8s_decode_endpointslice v1"));
	fm_check(fm_target("k8s_decode_endpointslice v1beta1"));
}

/* The services file. */
static void
test_failmalloc_svcfile(void)
{
	fm_check(fm_target("svcfile_parse (List)"));
	fm_check(fm_target("svcfile_parse (documents)"));
	fm_check(fm_target("svcfile_parse (rejected)"));
	fm_check(fm_target("svcfile_parse_diff"));
}

/* Configuration, kubeconfig, persisted ports, YAML. */
static void
test_failmalloc_config(void)
{
	fm_check(fm_target("config_parse_yaml"));
	fm_check(fm_target("kubeconfig_parse"));
	fm_check(fm_target("portstate_parse"));
	fm_check(fm_target("yamljson_parse (config)"));
	fm_check(fm_target("yamljson_parse (documents)"));
}

static const struct tu_case cases[] = {
	{ "iptables rendering", test_failmalloc_ipt_render },
	{ "iptables diff and prepare", test_failmalloc_ipt_sync },
	{ "k8s decoders", test_failmalloc_k8s_decode },
	{ "services file", test_failmalloc_svcfile },
	{ "config, kubeconfig, portstate, yamljson", test_failmalloc_config },
	{ NULL, NULL }
};
TU_MAIN("failmalloc", cases)
