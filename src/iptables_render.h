/*
 * iptables_render.h: the iptables-restore input of kube-proxy
 * userspace's "portals" (see iptables.h for how it is applied; their
 * removal is in ipt_modes.h).  Pure: service ports in, text out.
 *
 * A full rendering declares each of our chains (":NAME - [0:0]"), which
 * in --noflush mode flushes it (creating it if needed) inside the same
 * transaction, so stale rules vanish atomically and no other chain is
 * touched; then come the rules.
 *
 * Per service port (S = proxy port, P = service port, N = NodePort),
 * arguments in kube-proxy's order:
 *	-m comment --comment "ns/name:port" -p tcp -m tcp --dport P
 *	    [-d IP/32] [-m physdev ! --physdev-is-in]
 *	    [-m addrtype --dst-type LOCAL] -j TARGET
 *	clusterIP, each LB ingress IP:
 *	    PORTALS-CONTAINER -d IP -j REDIRECT --to-ports S
 *	    PORTALS-HOST      -d IP -j DNAT --to-destination HOSTIP:S
 *	each externalIP:
 *	    PORTALS-CONTAINER -d IP -m physdev ! --physdev-is-in -j REDIRECT
 *	    PORTALS-CONTAINER -d IP -m addrtype --dst-type LOCAL -j REDIRECT
 *	    PORTALS-HOST      -d IP -m addrtype --dst-type LOCAL -j DNAT
 *	NodePort (no -d):
 *	    NODEPORT-CONTAINER --dport N -j REDIRECT --to-ports S
 *	    NODEPORT-HOST      --dport N -j DNAT --to-destination HOSTIP:S
 *	    NODEPORT-NON-LOCAL --dport S -m state --state NEW -j ACCEPT
 * With a specific bind address B, REDIRECT becomes "DNAT
 * --to-destination B:S" and HOSTIP is B.  IPv6: -d IP/128, [IP]:S.
 */
#ifndef IPTABLES_RENDER_H
#define IPTABLES_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "ipt_text.h"

#define IPT_ERRLEN	1024

/* One service port as the rules need it.  Nothing is owned. */
struct ipt_svcport {
	const char		*name;		/* "ns/name:port", "ns/name" */
	int			 proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t		 port;		/* service port */
	uint16_t		 node_port;	/* 0: none */
	uint16_t		 proxy_port;	/* our listening port */
	const char		*cluster_ip;	/* decides the family */
	const char *const	*external_ips;
	size_t			 n_external_ips;
	const char *const	*lb_ips;	/* load-balancer ingress IPs */
	size_t			 n_lb_ips;
};

/* What the rules of one family depend on besides the services. */
struct ipt_params {
	int		 family;	/* AF_INET or AF_INET6 */
	const char	*bind_ip;	/* NULL, "" or unspecified: wildcard */
	const char	*host_ip;	/* node IP for host DNAT; NULL, "" */
};

/*
 * Render the restore input for the service ports of params->family (the
 * family of cluster_ip; ports of the other family are left out without
 * comment), sorted by name, protocol and port so that the text does not
 * depend on the input order.  externalIPs and LB IPs keep their order.
 * Invalid entries (a name with characters other than [A-Za-z0-9-._/:],
 * an unparsable cluster IP, a protocol other than TCP/UDP, a zero port;
 * an external or LB IP that is invalid or of the other family) are left
 * out and counted in out->nskipped, the first reason in out->skipped:
 * one bad Service must not fail the whole transaction.  Pure.
 *
 * out is initialised here and must be released with ipt_text_free().
 * Returns 0, or -1 with a reason in err (out is then empty):
 *	- params->family is neither AF_INET nor AF_INET6;
 *	- bind_ip is set but not an IP of that family;
 *	- host_ip is set but not an IP of that family;
 *	- a host-side DNAT is needed and neither a specific bind_ip nor a
 *	  host_ip is given;
 *	- out of memory.
 */
int	 ipt_render(const struct ipt_params *, const struct ipt_svcport *,
	    size_t n, struct ipt_text *out, char *err, size_t errlen);
/*
 * Render as ipt_render() does but keep only the "-A" lines (a
 * declaration would flush its chain), in table blocks each ending in
 * COMMIT; out->nrules counts them.  Pure.  Returns 0, or -1 with a
 * reason in err as ipt_render() does.
 */
int	 ipt_render_adds(const struct ipt_params *, const struct ipt_svcport *,
	    size_t n, struct ipt_text *out, char *err, size_t errlen);
#endif /* IPTABLES_RENDER_H */
