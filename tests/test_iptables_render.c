/*
 * test_iptables_render.c: rule rendering (golden texts in tests/data):
 * the portal rules of each kind of service port, the appends of a
 * stream, the removal of our chains.  Pure: nothing runs.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iptables_render.h"
#include "tu.h"
#include "ipt_ports.h"
#include "fake_ipt.h"


/* Render and compare with a golden file. */
static void
render_golden(const struct ipt_params *p, const struct ipt_svcport *sp,
    size_t n, const char *file)
{
	struct ipt_text	t;
	char		err[IPT_ERRLEN];

	err[0] = '\0';
	CU_ASSERT_EQUAL(ipt_render(p, sp, n, &t, err, sizeof(err)), 0);
	if (err[0] != '\0')
		fprintf(stderr, "render: %s\n", err);
	CU_ASSERT_EQUAL(t.nskipped, 0);
	tu_assert_golden(t.buf, file);
	ipt_text_free(&t);
}

/* A ClusterIP-only service. */
static void
test_iptables_render_clusterip(void)
{
	render_golden(&p4, &web, 1, "iptables-clusterip.txt");
}

/* A NodePort service: both NodePort chains and the filter ACCEPT. */
static void
test_iptables_render_nodeport(void)
{
	render_golden(&p4, &np, 1, "iptables-nodeport.txt");
}

/* externalIPs: physdev and LOCAL container rules, LOCAL host rule. */
static void
test_iptables_render_externalip(void)
{
	render_golden(&p4, &ext, 1, "iptables-externalip.txt");
}

/* A load-balancer IP is handled like the cluster IP. */
static void
test_iptables_render_lbip(void)
{
	render_golden(&p4, &lb, 1, "iptables-lbip.txt");
}

/* IPv6: /128, [IP]:port, and only the service of that family. */
static void
test_iptables_render_ipv6(void)
{
	struct ipt_svcport	sp[2];
	struct ipt_params	p = p6;
	struct ipt_text		t;
	char			err[IPT_ERRLEN];

	sp[0] = web;
	sp[1] = v6;
	render_golden(&p6, sp, 2, "iptables-ipv6.txt");
	/* The IPv4 rule set holds only the IPv4 service, nothing skipped. */
	render_golden(&p4, sp, 2, "iptables-clusterip.txt");

	/* A specific IPv6 bind address: DNAT to [bind]:port. */
	p.bind_ip = "fd00::2";
	p.host_ip = NULL;
	CU_ASSERT_EQUAL_FATAL(ipt_render(&p, &v6, 1, &t, err, sizeof(err)),
	    0);
	CU_ASSERT_PTR_NOT_NULL(strstr(t.buf, "-d fd00::10/128 -j DNAT "
	    "--to-destination [fd00::2]:40005\n"));
	CU_ASSERT_PTR_NULL(strstr(t.buf, "REDIRECT"));
	ipt_text_free(&t);
}

/* Wildcard bind: REDIRECT; a specific one: DNAT to it everywhere. */
static void
test_iptables_render_bind(void)
{
	struct ipt_params	p = p4;

	p.bind_ip = NULL;
	render_golden(&p, &web, 1, "iptables-clusterip.txt");
	p.bind_ip = "";
	render_golden(&p, &web, 1, "iptables-clusterip.txt");
	p.bind_ip = "192.168.1.20";
	p.host_ip = "10.0.0.99";	/* the bind address wins */
	render_golden(&p, &np, 1, "iptables-bind-specific.txt");
	p.host_ip = NULL;		/* and needs no node IP */
	render_golden(&p, &np, 1, "iptables-bind-specific.txt");
}

/* A Service with several ports: one rule set per port name. */
static void
test_iptables_render_multiport(void)
{
	struct ipt_svcport	sp[3];

	sp[0] = metrics;
	sp[1] = dns;
	sp[2] = dnstcp;
	render_golden(&p4, sp, 3, "iptables-multiport.txt");
}

/* The text depends on the set of ports, never on their order. */
static void
test_iptables_render_order(void)
{
	struct ipt_svcport	a[6], b[6];
	size_t			i;

	a[0] = dnstcp;
	a[1] = both_u;
	a[2] = web;
	a[3] = dns;
	a[4] = np;
	a[5] = both_t;
	for (i = 0; i < 6; i++)
		b[i] = a[5 - i];
	render_golden(&p4, a, 6, "iptables-order.txt");
	render_golden(&p4, b, 6, "iptables-order.txt");
}

/* No service: only the declarations, which flush every chain. */
static void
test_iptables_render_empty(void)
{
	struct ipt_params	p = p4;
	struct ipt_text		t;
	char			err[IPT_ERRLEN];

	p.host_ip = NULL;	/* not needed without services */
	CU_ASSERT_EQUAL_FATAL(ipt_render(&p, NULL, 0, &t, err, sizeof(err)),
	    0);
	CU_ASSERT_STRING_EQUAL(t.buf, "*nat\n"
	    ":KUBE-PORTALS-CONTAINER - [0:0]\n:KUBE-PORTALS-HOST - [0:0]\n"
	    ":KUBE-NODEPORT-CONTAINER - [0:0]\n:KUBE-NODEPORT-HOST - [0:0]\n"
	    "COMMIT\n*filter\n:KUBE-NODEPORT-NON-LOCAL - [0:0]\nCOMMIT\n");
	CU_ASSERT_EQUAL(t.nrules, 0);
	ipt_text_free(&t);
}

/* Bad entries are left out and counted; the rest still renders. */
static void
test_iptables_render_skips(void)
{
	static const char *const bad_ext[] = { "fd00::9", "not-an-ip",
		"203.0.113.5" };
	struct ipt_svcport	sp[5];
	struct ipt_text		t;
	char			err[IPT_ERRLEN];

	sp[0] = web;
	sp[1] = np;
	sp[1].name = "default/np\" -j ACCEPT";	/* injection attempt */
	sp[2] = web;
	sp[2].name = "default/x";
	sp[2].cluster_ip = "10.96.0.999";
	sp[3] = web;
	sp[3].name = "default/sctp";
	sp[3].proto = IPPROTO_SCTP;
	sp[4] = ext;
	sp[4].external_ips = bad_ext;
	sp[4].n_external_ips = 3;
	CU_ASSERT_EQUAL_FATAL(ipt_render(&p4, sp, 5, &t, err, sizeof(err)),
	    0);
	CU_ASSERT_EQUAL(t.nskipped, 5);
	CU_ASSERT_PTR_NOT_NULL(strstr(t.skipped, "invalid service port name"));
	CU_ASSERT_PTR_NULL(strstr(t.buf, "default/np"));
	CU_ASSERT_PTR_NULL(strstr(t.buf, "default/x"));
	CU_ASSERT_PTR_NULL(strstr(t.buf, "default/sctp"));
	CU_ASSERT_PTR_NULL(strstr(t.buf, "fd00::9"));
	CU_ASSERT_PTR_NULL(strstr(t.buf, "not-an-ip"));
	CU_ASSERT_PTR_NOT_NULL(strstr(t.buf, "-d 203.0.113.5/32 -m physdev"));
	CU_ASSERT_PTR_NOT_NULL(strstr(t.buf, "\"default/web:http\""));
	/* web: 2 rules; ext with one good external IP: 2 + 3 rules. */
	CU_ASSERT_EQUAL(t.nrules, 7);
	ipt_text_free(&t);
}

/* Unusable parameters fail the render with a reason. */
static void
test_iptables_render_errors(void)
{
	struct ipt_params	p = p4;
	struct ipt_text		t;
	char			err[IPT_ERRLEN];

	p.host_ip = NULL;
	CU_ASSERT_EQUAL(ipt_render(&p, &web, 1, &t, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "--bind-address"));
	CU_ASSERT_PTR_NULL(t.buf);
	p.host_ip = "";			/* "" is unknown, like NULL */
	CU_ASSERT_EQUAL(ipt_render(&p, &web, 1, &t, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "--bind-address"));
	CU_ASSERT_EQUAL(ipt_render(&p, &web, 0, &t, err, sizeof(err)), 0);
	ipt_text_free(&t);
	p.bind_ip = "fd00::1";
	CU_ASSERT_EQUAL(ipt_render(&p, &web, 1, &t, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not an IPv4 address"));
	p = p4;
	p.host_ip = "fd00::1";
	CU_ASSERT_EQUAL(ipt_render(&p, &web, 1, &t, err, sizeof(err)), -1);
	p.family = AF_UNIX;
	CU_ASSERT_EQUAL(ipt_render(&p, &web, 1, &t, err, sizeof(err)), -1);
}

/* Appends only, per table, never a declaration (it would flush). */
static void
test_iptables_render_adds(void)
{
	struct ipt_svcport	 sp[2];
	struct ipt_text		 t;
	char			 err[IPT_ERRLEN];

	sp[0] = web;
	sp[1] = np;
	CU_ASSERT_EQUAL(ipt_render_adds(&p4, sp, 2, &t, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(t.nrules, 7);
	tu_assert_golden(t.buf, "iptables-adds.txt");
	ipt_text_free(&t);
	/* No filter rule: no filter block. */
	CU_ASSERT_EQUAL(ipt_render_adds(&p4, &web, 1, &t, err, sizeof(err)),
	    0);
	CU_ASSERT_EQUAL(t.nrules, 2);
	CU_ASSERT_PTR_NULL(strstr(t.buf, "*filter"));
	CU_ASSERT_PTR_NULL(strstr(t.buf, ":KUBE"));
	CU_ASSERT_PTR_NOT_NULL(strstr(t.buf,
	    "*nat\n-A KUBE-PORTALS-CONTAINER "));
	ipt_text_free(&t);
	/* Nothing to add: an empty text. */
	CU_ASSERT_EQUAL(ipt_render_adds(&p4, NULL, 0, &t, err, sizeof(err)),
	    0);
	CU_ASSERT_EQUAL(t.len, 0);
	CU_ASSERT_EQUAL(t.nrules, 0);
	ipt_text_free(&t);
}

/* The cleanup text deletes every jump copy, then our chains. */
static void
test_iptables_cleanup_render(void)
{
	struct ipt_text	 t;
	char		*nat, *filter, err[IPT_ERRLEN];

	nat = tu_slurp(tu_data("iptables-cleanup-save-nat.txt"));
	filter = tu_slurp(tu_data("iptables-cleanup-save-filter.txt"));
	CU_ASSERT_EQUAL(ipt_render_cleanup(nat, filter, NULL, IPT_MODES_ALL, &t,
	    NULL, err, sizeof(err)), 0);
	tu_assert_golden(t.buf, "iptables-cleanup.txt");
	ipt_text_free(&t);
	/* Nothing of ours: nothing to do. */
	CU_ASSERT_EQUAL(ipt_render_cleanup("*nat\n:PREROUTING ACCEPT [0:0]\n"
	    "-A PREROUTING -j DOCKER\nCOMMIT\n", NULL, NULL, IPT_MODES_ALL, &t,
	    NULL, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(t.len, 0);
	ipt_text_free(&t);
	free(nat);
	free(filter);
}

static const struct tu_case cases[] = {
	{ "render clusterip", test_iptables_render_clusterip },
	{ "render nodeport", test_iptables_render_nodeport },
	{ "render externalip", test_iptables_render_externalip },
	{ "render lb ip", test_iptables_render_lbip },
	{ "render ipv6", test_iptables_render_ipv6 },
	{ "render bind address", test_iptables_render_bind },
	{ "render multi-port", test_iptables_render_multiport },
	{ "render order", test_iptables_render_order },
	{ "render empty", test_iptables_render_empty },
	{ "render skips", test_iptables_render_skips },
	{ "render errors", test_iptables_render_errors },
	{ "render adds", test_iptables_render_adds },
	{ "cleanup render", test_iptables_cleanup_render },
	{ NULL, NULL }
};

TU_MAIN("iptables_render", cases)
