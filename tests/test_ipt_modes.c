/*
 * test_ipt_modes.c: the chains of kube-proxy's three modes and the
 * rendering of their removal, over iptables-save listings: the real
 * rules of kube-proxy 1.20 in iptables mode (see tests/data/README-
 * migrate.md for how they were captured) and ipvs mode's rules.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipt_modes.h"
#include "iptables_render.h"
#include "tu.h"

/* Render the cleanup of modes from the fixtures (manglef may be NULL). */
static char *
render(const char *natf, const char *filterf, const char *manglef,
    int modes, struct ipt_modes_found *found)
{
	struct ipt_text	 t;
	char		*nat, *filter, *mangle = NULL, err[IPT_ERRLEN];

	nat = tu_slurp(tu_data(natf));
	filter = tu_slurp(tu_data(filterf));
	if (manglef != NULL)
		mangle = tu_slurp(tu_data(manglef));
	CU_ASSERT_PTR_NOT_NULL_FATAL(nat);
	CU_ASSERT_PTR_NOT_NULL_FATAL(filter);
	CU_ASSERT_FATAL(manglef == NULL || mangle != NULL);
	CU_ASSERT_EQUAL_FATAL(ipt_render_cleanup(nat, filter, mangle, modes,
	    &t, found, err, sizeof(err)), 0);
	free(nat);
	free(filter);
	free(mangle);
	return (t.buf);
}

/* Which chains belong to which mode, per table. */
static void
test_ipt_modes_chain(void)
{
#define CH(t, c, m)	ipt_modes_chain((t), (c), strlen(c), (m))
	CU_ASSERT_TRUE(CH("nat", "KUBE-SERVICES", IPT_MODE_IPTABLES));
	CU_ASSERT_TRUE(CH("nat", "KUBE-SERVICES", IPT_MODE_IPVS));
	CU_ASSERT_FALSE(CH("nat", "KUBE-SERVICES", IPT_MODE_USERSPACE));
	CU_ASSERT_TRUE(CH("nat", "KUBE-SVC-ERIFXISQEP7F7OF4",
	    IPT_MODE_IPTABLES));
	CU_ASSERT_TRUE(CH("nat", "KUBE-SEP-XYZ", IPT_MODES_OTHER));
	CU_ASSERT_TRUE(CH("nat", "KUBE-FW-XYZ", IPT_MODES_OTHER));
	CU_ASSERT_TRUE(CH("nat", "KUBE-XLB-XYZ", IPT_MODES_OTHER));
	/* A prefix alone is no chain of the family. */
	CU_ASSERT_FALSE(CH("nat", "KUBE-SVC-", IPT_MODES_ALL));
	CU_ASSERT_FALSE(CH("filter", "KUBE-SVC-XYZ", IPT_MODES_ALL));
	/* Our own chains only in userspace mode. */
	CU_ASSERT_FALSE(CH("nat", "KUBE-PORTALS-CONTAINER", IPT_MODES_OTHER));
	CU_ASSERT_TRUE(CH("nat", "KUBE-PORTALS-CONTAINER", IPT_MODES_ALL));
	CU_ASSERT_FALSE(CH("filter", "KUBE-NODEPORT-NON-LOCAL",
	    IPT_MODES_OTHER));
	CU_ASSERT_TRUE(CH("filter", "KUBE-NODEPORT-NON-LOCAL",
	    IPT_MODE_USERSPACE));
	/* nat KUBE-FIREWALL is ipvs mode's; filter's is kubelet's. */
	CU_ASSERT_TRUE(CH("nat", "KUBE-FIREWALL", IPT_MODE_IPVS));
	CU_ASSERT_FALSE(CH("filter", "KUBE-FIREWALL", IPT_MODES_ALL));
	/* kubelet's chains stay whatever the mode. */
	CU_ASSERT_FALSE(CH("nat", "KUBE-MARK-MASQ", IPT_MODES_ALL));
	CU_ASSERT_FALSE(CH("nat", "KUBE-MARK-DROP", IPT_MODES_ALL));
	CU_ASSERT_FALSE(CH("nat", "KUBE-KUBELET-CANARY", IPT_MODES_ALL));
	CU_ASSERT_TRUE(CH("filter", "KUBE-EXTERNAL-SERVICES",
	    IPT_MODE_IPTABLES));
	CU_ASSERT_TRUE(CH("filter", "KUBE-FORWARD", IPT_MODE_IPVS));
	CU_ASSERT_TRUE(CH("nat", "KUBE-NODEPORTS", IPT_MODE_IPTABLES));
	CU_ASSERT_FALSE(CH("nat", "KUBE-NODEPORTS", IPT_MODE_IPVS));
	CU_ASSERT_TRUE(CH("nat", "KUBE-NODE-PORT", IPT_MODE_IPVS));
#undef CH
}

/*
 * The rules kube-proxy 1.20 wrote in iptables mode: every chain of the
 * mode and every jump into them go, kubelet's chains stay.
 */
static void
test_ipt_modes_iptables(void)
{
	struct ipt_modes_found	 f;
	char			*s;

	s = render("migrate-kp120-iptables-save-nat.txt",
	    "migrate-kp120-iptables-save-filter.txt",
	    "migrate-kp120-iptables-save-mangle.txt", IPT_MODES_OTHER, &f);
	tu_assert_golden(s, "migrate-kp120-iptables.txt");
	CU_ASSERT_PTR_NULL(strstr(s, "KUBE-MARK-MASQ -"));
	CU_ASSERT_PTR_NULL(strstr(s, "-X KUBE-MARK"));
	CU_ASSERT_PTR_NULL(strstr(s, "KUBE-KUBELET-CANARY"));
	CU_ASSERT_PTR_NOT_NULL(strstr(f.what, "nat: KUBE-SERVICES"));
	CU_ASSERT_PTR_NOT_NULL(strstr(f.what, "KUBE-SVC-* ("));
	CU_ASSERT_PTR_NOT_NULL(strstr(f.what, "KUBE-SEP-* ("));
	CU_ASSERT_STRING_EQUAL(f.what, "nat: KUBE-SERVICES KUBE-NODEPORTS "
	    "KUBE-POSTROUTING KUBE-PROXY-CANARY KUBE-SVC-* (3) KUBE-SEP-* (3); "
	    "filter: KUBE-SERVICES KUBE-EXTERNAL-SERVICES KUBE-FORWARD "
	    "KUBE-PROXY-CANARY; mangle: KUBE-PROXY-CANARY");
	CU_ASSERT_EQUAL(f.ipvs, 0);
	/* nat 4 + 3 + 3, filter 4, mangle 1. */
	CU_ASSERT_EQUAL(f.nchains, 15);
	/* nat PREROUTING, OUTPUT, POSTROUTING; filter 5. */
	CU_ASSERT_EQUAL(f.njumps, 8);
	free(s);
	/* Userspace mode's view of the same rules: nothing of its own. */
	s = render("migrate-kp120-iptables-save-nat.txt",
	    "migrate-kp120-iptables-save-filter.txt",
	    "migrate-kp120-iptables-save-mangle.txt", IPT_MODE_USERSPACE, &f);
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT_EQUAL(f.nchains + f.njumps, 0);
	CU_ASSERT_STRING_EQUAL(f.what, "");
}

/*
 * ipvs mode's rules next to kuproxy's own: at start-up only ipvs
 * mode's go; kubelet's filter KUBE-FIREWALL and its jumps stay; with
 * every mode (--cleanup), ours go too.
 */
static void
test_ipt_modes_ipvs(void)
{
	struct ipt_modes_found	 f;
	char			*s;

	s = render("migrate-ipvs-save-nat.txt", "migrate-ipvs-save-filter.txt",
	    NULL, IPT_MODES_OTHER, &f);
	tu_assert_golden(s, "migrate-ipvs.txt");
	CU_ASSERT_EQUAL(f.ipvs, 1);
	CU_ASSERT_EQUAL(f.nchains, 6);
	CU_ASSERT_EQUAL(f.njumps, 4);
	CU_ASSERT_STRING_EQUAL(f.what, "nat: KUBE-SERVICES KUBE-POSTROUTING "
	    "KUBE-FIREWALL KUBE-NODE-PORT KUBE-LOAD-BALANCER; filter: "
	    "KUBE-FORWARD");
	free(s);
	s = render("migrate-ipvs-save-nat.txt", "migrate-ipvs-save-filter.txt",
	    NULL, IPT_MODES_ALL, &f);
	CU_ASSERT_EQUAL(f.nchains, 8);
	CU_ASSERT_EQUAL(f.njumps, 6);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "-D PREROUTING -m comment --comment "
	    "\"handle ClusterIPs; NOTE: this must be before the NodePort "
	    "rules\" -j KUBE-PORTALS-CONTAINER\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "-X KUBE-PORTALS-CONTAINER\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "-X KUBE-NODEPORT-NON-LOCAL\n"));
	CU_ASSERT_PTR_NULL(strstr(s, "-X KUBE-FIREWALL\nCOMMIT\n"));
	CU_ASSERT_PTR_NULL(strstr(s, "-D INPUT -j KUBE-FIREWALL"));
	free(s);
}

/*
 * Jumps: "-g" counts, a "-j" inside a quoted comment does not, a rule
 * of a removed chain is flushed with it (no "-D"), every copy goes.
 */
static void
test_ipt_modes_jumps(void)
{
	struct ipt_modes_found	 f;
	struct ipt_text		 t;
	char			 err[IPT_ERRLEN];
	const char		*nat =
	    "*nat\n"
	    ":PREROUTING ACCEPT [0:0]\n"
	    ":OUTPUT ACCEPT [0:0]\n"
	    ":CNI-X - [0:0]\n"
	    ":KUBE-SERVICES - [0:0]\n"
	    ":KUBE-SVC-AAA - [0:0]\n"
	    "-A PREROUTING -j KUBE-SERVICES\n"
	    "-A PREROUTING -j KUBE-SERVICES\n"
	    "-A OUTPUT -m comment --comment \"-j KUBE-SERVICES\" -j ACCEPT\n"
	    "-A CNI-X -p tcp -g KUBE-SVC-AAA\n"
	    "-A KUBE-SERVICES -j KUBE-SVC-AAA\n"
	    "COMMIT\n";

	CU_ASSERT_EQUAL_FATAL(ipt_render_cleanup(nat, NULL, NULL,
	    IPT_MODES_OTHER, &t, &f, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(t.buf,
	    "*nat\n"
	    "-D PREROUTING -j KUBE-SERVICES\n"
	    "-D PREROUTING -j KUBE-SERVICES\n"
	    "-D CNI-X -p tcp -g KUBE-SVC-AAA\n"
	    ":KUBE-SERVICES - [0:0]\n"
	    ":KUBE-SVC-AAA - [0:0]\n"
	    "-X KUBE-SERVICES\n"
	    "-X KUBE-SVC-AAA\n"
	    "COMMIT\n");
	CU_ASSERT_EQUAL(f.njumps, 3);
	CU_ASSERT_EQUAL(f.nchains, 2);
	CU_ASSERT_STRING_EQUAL(f.what, "nat: KUBE-SERVICES KUBE-SVC-* (1)");
	ipt_text_free(&t);
	/* Nothing of theirs: nothing to do, nothing to say. */
	CU_ASSERT_EQUAL(ipt_render_cleanup("*nat\n:PREROUTING ACCEPT [0:0]\n"
	    "-A PREROUTING -j DOCKER\nCOMMIT\n", "", "", IPT_MODES_OTHER, &t,
	    &f, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(t.len, 0);
	CU_ASSERT_STRING_EQUAL(f.what, "");
	ipt_text_free(&t);
}

/* The summary counts the chains of a prefix family, not names. */
static void
test_ipt_modes_what(void)
{
	struct ipt_modes_found	 f;
	struct ipt_text		 in, t;
	char			 err[IPT_ERRLEN];
	int			 i;

	memset(&in, 0, sizeof(in));
	ipt_puts(&in, "*nat\n");
	for (i = 0; i < 40; i++)
		ipt_putf(&in, ":KUBE-SVC-%04d - [0:0]\n:KUBE-SEP-%04d - "
		    "[0:0]\n", i, i);
	for (i = 0; i < 40; i++)
		ipt_putf(&in, ":KUBE-FW-%04d - [0:0]\n", i);
	ipt_puts(&in, ":KUBE-SERVICES - [0:0]\n:KUBE-NODEPORTS - [0:0]\n"
	    ":KUBE-POSTROUTING - [0:0]\n:KUBE-FIREWALL - [0:0]\n"
	    ":KUBE-NODE-PORT - [0:0]\n:KUBE-LOAD-BALANCER - [0:0]\n"
	    ":KUBE-XLB-A - [0:0]\nCOMMIT\n");
	CU_ASSERT_EQUAL_FATAL(ipt_render_cleanup(in.buf, "*filter\n"
	    ":KUBE-SERVICES - [0:0]\n:KUBE-EXTERNAL-SERVICES - [0:0]\n"
	    ":KUBE-FORWARD - [0:0]\nCOMMIT\n", NULL, IPT_MODES_OTHER, &t, &f,
	    err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(f.nchains, 40 * 3 + 7 + 3);
	/* Per family a count, not the names: it fits. */
	CU_ASSERT_PTR_NOT_NULL(strstr(f.what, "KUBE-SVC-* (40) KUBE-SEP-* "
	    "(40) KUBE-FW-* (40) KUBE-XLB-* (1); filter: KUBE-SERVICES "
	    "KUBE-EXTERNAL-SERVICES KUBE-FORWARD"));
	CU_ASSERT(strlen(f.what) < sizeof(f.what));
	ipt_text_free(&t);
	ipt_text_free(&in);
}

/* ipvs mode's sets of each family, among others, from "ipset list -n". */
static void
test_ipt_modes_ipsets(void)
{
	struct ipt_text	 t, names;
	const char	*list = "KUBE-CLUSTER-IP\nKUBE-6-CLUSTER-IP\n"
			    "KUBE-NODE-PORT-TCP\nKUBE-OTHER\nmyset\n"
			    "KUBE-6-LOAD-BALANCER-SOURCE-CID\n"
			    "KUBE-LOOP-BACK\n";

	memset(&names, 0, sizeof(names));
	CU_ASSERT_EQUAL(ipt_modes_ipsets(list, AF_INET, &t, &names), 3);
	CU_ASSERT_STRING_EQUAL(t.buf, "destroy KUBE-CLUSTER-IP\n"
	    "destroy KUBE-NODE-PORT-TCP\ndestroy KUBE-LOOP-BACK\n");
	CU_ASSERT_STRING_EQUAL(names.buf, "KUBE-CLUSTER-IP KUBE-NODE-PORT-TCP "
	    "KUBE-LOOP-BACK");
	ipt_text_free(&t);
	ipt_text_free(&names);
	/* IPv6: "KUBE-6-", cut at 31 bytes as kube-proxy cuts it. */
	CU_ASSERT_EQUAL(ipt_modes_ipsets(list, AF_INET6, &t, NULL), 2);
	CU_ASSERT_STRING_EQUAL(t.buf, "destroy KUBE-6-CLUSTER-IP\n"
	    "destroy KUBE-6-LOAD-BALANCER-SOURCE-CID\n");
	ipt_text_free(&t);
	CU_ASSERT_EQUAL(ipt_modes_ipsets("", AF_INET, &t, NULL), 0);
	CU_ASSERT_EQUAL(t.len, 0);
	ipt_text_free(&t);
}

static const struct tu_case cases[] = {
	{ "chain", test_ipt_modes_chain },
	{ "iptables mode", test_ipt_modes_iptables },
	{ "ipvs mode", test_ipt_modes_ipvs },
	{ "jumps", test_ipt_modes_jumps },
	{ "summary", test_ipt_modes_what },
	{ "ipsets", test_ipt_modes_ipsets },
	{ NULL, NULL }
};

TU_MAIN("ipt_modes", cases)
