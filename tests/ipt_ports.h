/*
 * ipt_ports.h: the sample service ports and parameters that the
 * iptables unit tests render (golden texts in tests/data).  Each test
 * uses the ones it needs.  Include after iptables_render.h.
 */
#ifndef IPT_PORTS_H
#define IPT_PORTS_H

#include <sys/socket.h>

#include <netinet/in.h>

#define TCP	IPPROTO_TCP
#define UDP	IPPROTO_UDP

static const char *const ext_ips[] = { "203.0.113.5", "203.0.113.6" };
static const char *const lb_ips[] = { "198.51.100.7" };
static const char *const v6_ext[] = { "2001:db8::5" };
static const char *const v6_lb[] = { "2001:db8::7" };

static const struct ipt_svcport web = { "default/web:http", TCP, 80, 0,
	40001, "10.96.0.10", NULL, 0, NULL, 0 };
static const struct ipt_svcport np = { "default/np", TCP, 8080, 30080,
	40002, "10.96.0.20", NULL, 0, NULL, 0 };
static const struct ipt_svcport ext = { "default/ext:https", TCP, 443, 0,
	40003, "10.96.0.30", ext_ips, 2, NULL, 0 };
static const struct ipt_svcport lb = { "default/lb:http", TCP, 80, 31000,
	40004, "10.96.0.40", NULL, 0, lb_ips, 1 };
static const struct ipt_svcport v6 = { "default/v6:dns", UDP, 53, 30053,
	40005, "FD00:0:0::10", v6_ext, 1, v6_lb, 1 };
static const struct ipt_svcport dns = { "kube-system/kube-dns:dns", UDP,
	53, 0, 40010, "10.96.0.53", NULL, 0, NULL, 0 };
static const struct ipt_svcport dnstcp = { "kube-system/kube-dns:dns-tcp",
	TCP, 53, 0, 40011, "10.96.0.53", NULL, 0, NULL, 0 };
static const struct ipt_svcport metrics = { "kube-system/kube-dns:metrics",
	TCP, 9153, 0, 40012, "10.96.0.53", NULL, 0, NULL, 0 };
static const struct ipt_svcport both_t = { "default/both:p", TCP, 5000, 0,
	40020, "10.96.0.60", NULL, 0, NULL, 0 };
static const struct ipt_svcport both_u = { "default/both:p", UDP, 5000, 0,
	40021, "10.96.0.60", NULL, 0, NULL, 0 };

static const struct ipt_params p4 = { AF_INET, "0.0.0.0", "192.168.1.10" };
static const struct ipt_params p6 = { AF_INET6, "::", "fd00::1" };

#endif /* IPT_PORTS_H */
