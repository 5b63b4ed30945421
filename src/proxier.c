/*
 * proxier.c: reconcile the model into listeners, balancers, relays and
 * persisted ports, and hand the rules layer the live service ports.
 *
 * A sync walks every Service port in the model, creates what is new,
 * updates what changed in place (the proxy port survives a change of
 * portal addresses, unlike kube-proxy), closes what is gone, and then
 * describes the whole live set to proxier_rules in one go.  Endpoints
 * changes only touch the balancers.
 *
 * Staging: while a large services file is still being parsed, the model
 * passes on its new Services (model.h, services_staged); their ports are
 * bound but not served (PORT_STAGED) and their rules streamed into a
 * running iptables-restore (proxier_rules_stage).  The next sync adopts
 * those the model then holds, starting their relays, and closes the
 * others (the file was rejected).  See the lifecycle in proxier.h.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "health.h"
#include "histogram.h"
#include "htab.h"
#include "iptables_render.h"
#include "lb.h"
#include "log.h"
#include "loop.h"
#include "model.h"
#include "monotime.h"
#include "netutil.h"
#include "portalloc.h"
#include "portstate.h"
#include "proxier.h"
#include "proxier_rules.h"
#include "relay.h"
#include "sockpool.h"
#include "strv.h"
#include "workers.h"
#include "xmalloc.h"

/* The most listener sockets, whatever the open files limit. */
#define PROXIER_MAX_LISTENERS	16384

/* Where a service port is in its life (see proxier.h). */
enum proxier_port_state {
	PORT_STAGED = 0,	/* bound ahead of its file, not served */
	PORT_LIVE,		/* relay running */
};

/* One service port: what the model asked for and what serves it. */
struct proxier_port {
	enum proxier_port_state	 state;
	char			*name;		/* "ns/name:port", "ns/name" */
	char			*ns;
	char			*svc;
	char			*port_name;
	int			 proto;		/* IPPROTO_TCP, IPPROTO_UDP */
	uint16_t		 port;		/* service port */
	uint16_t		 node_port;	/* 0 if none */
	char			*cluster_ip;
	char			**external_ips;
	size_t			 n_external_ips;
	char			**lb_ips;
	size_t			 n_lb_ips;
	int			 affinity;	/* MODEL_AFFINITY_* */
	unsigned int		 ttl;
	uint16_t		 proxy_port;	/* bound port */
	uint16_t		 listen_port;	/* from the allocator */
	char			**fdnames;	/* sockpool names, once bound */
	int			*fds;		/* listeners (one per worker) */
	size_t			 nfds;
	int			 spread;	/* every worker serves it */
	struct lb		*lb;		/* the relay's, once it runs */
	struct relay		*relay;
	uint64_t		 walk;		/* last sync walk that saw it */
};

struct proxier {
	struct loop		*loop;
	struct workers		*ws;		/* the relay loops */
	int			 own_ws;	/* ws made by proxier_new */
	int			 shared;	/* one listener per port */
	size_t			 nlisteners;	/* listener fds, all ports */
	size_t			 budget;	/* most listener fds */
	int			 budget_warned;
	unsigned int		 next_worker;	/* for single-listener ports */
	const struct kp_config	*cfg;
	struct model		*model;
	struct portalloc	*ports;
	struct portstate	 state;		/* persisted proxy ports */
	char			*state_path;	/* NULL: not persisted */
	int			 state_dirty;
	struct htab		*svcs;		/* name -> proxier_port */
	struct proxier_rules	*rules;
	struct event		*sync_ev;	/* rate-limited request */
	struct event		*period_ev;	/* forced periodic sync */
	uint64_t		 min_sync_ms;	/* iptables.minSyncPeriod */
	uint64_t		 udp_idle_ms;	/* udpIdleTimeout */
	uint64_t		 last_sync_ms;
	uint64_t		 nsyncs;
	uint64_t		 nsync_errors;
	struct health		 health;	/* of the rules (health.h) */
	struct histogram	 sync_hist;	/* sync to rules applied */
	struct histogram	 netprog_hist;	/* trigger time to applied */
	uint64_t		 updated_wall_ms; /* health's update, epoch */
	uint64_t		 applied_wall_ms; /* a family's rules, epoch */
	uint64_t		 queued_wall_ms; /* last update wanted, epoch */
	uint64_t		 walk;		/* sync walks so far */
	int			 ready;
	struct proxier_observer	 obs;		/* upward news (main.c) */
	int			 retry;		/* a bind failed: sync again */
	size_t			 nstaged;	/* in svcs, not serving yet */
	struct sockpool		*pool;		/* inherited listeners */
	int			 draining;	/* health fails */
	int			 retired;	/* a successor serves */
};

static void	proxier_port_free(struct proxier *, struct proxier_port *,
		    int);

/*
 * Write the display and key name of a service port, as kube-proxy:
 * "ns/name" or "ns/name:port".  Pieces, not printf: a sync looks up
 * every port of every Service.  Returns buf, or a new string (free it
 * if it is not buf) when the name does not fit.
 */
static char *
proxier_port_name(const struct model_service *ms,
    const struct model_svcport *mp, char *buf, size_t len)
{
	size_t	 a = strlen(ms->ns), b = strlen(ms->name);
	size_t	 c = strlen(mp->name);
	char	*s;

	if (a + b + c + 3 > len) {
		xasprintf(&s, "%s/%s%s%s", ms->ns, ms->name,
		    c > 0 ? ":" : "", mp->name);
		return (s);
	}
	memcpy(buf, ms->ns, a);
	buf[a] = '/';
	memcpy(buf + a + 1, ms->name, b);
	s = buf + a + 1 + b;
	if (c > 0) {
		*s++ = ':';
		memcpy(s, mp->name, c);
		s += c;
	}
	*s = '\0';
	return (buf);
}

/* Open the state file and load the persisted ports. */
static void
proxier_state_init(struct proxier *p)
{
	const char	*dir = p->cfg->state_dir;
	char		 err[CONFIG_ERRLEN];

	if (dir == NULL || *dir == '\0')
		return;
	xasprintf(&p->state_path, "%s/proxy-ports", dir);
	if (portstate_load(p->state_path, &p->state, err, sizeof(err)) ==
	    -1) {
		log_warnx("%s: %s: starting without persisted ports",
		    p->state_path, err);
		portstate_clear(&p->state);
	} else if (p->state.n > 0)
		log_info("%s: %zu persisted proxy ports", p->state_path,
		    p->state.n);
}

/* Write the live proxy ports to the state file if they changed. */
static void
proxier_state_save(struct proxier *p)
{
	struct htab_iter	 it;
	struct proxier_port	*pp;
	void			*v;
	char			 err[CONFIG_ERRLEN];

	if (p->state_path == NULL || !p->state_dirty)
		return;
	portstate_clear(&p->state);
	htab_iter_init(p->svcs, &it);
	while (htab_iter_next(&it, NULL, NULL, &v)) {
		pp = v;
		portstate_add(&p->state, pp->name, pp->proto, pp->proxy_port);
	}
	if (portstate_save(p->state_path, &p->state, err, sizeof(err)) == -1)
		log_warnx("%s: %s", p->state_path, err);
	else
		p->state_dirty = 0;
}

/* Feed a service port's balancer from the model's Endpoints. */
static void
proxier_port_set_endpoints(struct proxier *p, struct proxier_port *pp)
{
	const struct model_endpoints	*me;
	const struct model_epset	*set = NULL;
	struct lb_endpoint		*eps = NULL;
	struct sockaddr_storage		 ss;
	socklen_t			 len;
	size_t				 i, n = 0;

	me = model_get_endpoints(p->model, pp->ns, pp->svc);
	if (me != NULL)
		set = model_endpoints_port(me, pp->port_name);
	if (set != NULL && set->n > 0) {
		eps = xcalloc(set->n, sizeof(*eps));
		for (i = 0; i < set->n; i++) {
			if (netutil_parse_ip(set->eps[i].ip, &ss, &len) == -1 ||
			    len > sizeof(eps[n].addr))
				continue;
			memcpy(&eps[n].addr, &ss, len);
			eps[n].addrlen = len;
			netutil_set_port(&eps[n].addr.sa, set->eps[i].port);
			n++;
		}
	}
	if (lb_set_endpoints(pp->lb, eps, n))
		log_debug("%s: %zu endpoints", pp->name, n);
	free(eps);
}

/*
 * Open a listener of a service port on port (0: kernel-chosen), with
 * SO_REUSEPORT when the port is served by a listener per worker.
 */
static int
proxier_port_listen(struct proxier *p, const struct proxier_port *pp,
    uint16_t port, char *err, size_t errlen)
{
	struct sockaddr_storage	ss;
	int			flags = 0;

	if (workers_count(p->ws) > 1 && !p->shared)
		flags |= NETUTIL_F_REUSEPORT;
	/* A wildcard bind takes IPv4 and IPv6 alike, as Go's listen. */
	if (p->cfg->bind_ss.ss_family == AF_INET && netutil_is_unspecified(
	    (const struct sockaddr *)&p->cfg->bind_ss))
		return (netutil_listen_any(pp->proto, port, flags, err,
		    errlen));
	memcpy(&ss, &p->cfg->bind_ss, sizeof(ss));
	netutil_set_port((struct sockaddr *)&ss, port);
	return (netutil_listen(pp->proto, (struct sockaddr *)&ss, sizeof(ss),
	    flags, err, errlen));
}

/* Add a listener to a service port. */
static void
proxier_port_add_fd(struct proxier *p, struct proxier_port *pp, int fd)
{
	pp->fds = xreallocarray(pp->fds, pp->nfds + 1, sizeof(*pp->fds));
	pp->fds[pp->nfds++] = fd;
	p->nlisteners++;
}

/*
 * Write the sockpool name of listener k of a service port on port:
 * the plain name for the first, "<name>#<k>" for the others.  Returns
 * 0, or -1 if it does not fit.
 */
static int
proxier_port_fdname(const struct proxier_port *pp, uint16_t port, size_t k,
    char *buf, size_t len)
{
	size_t	n;
	int	w;

	if (sockpool_name(buf, len, pp->proto, port, pp->name) == -1)
		return (-1);
	if (k == 0)
		return (0);
	n = strlen(buf);
	w = snprintf(buf + n, len - n, "#%zu", k);
	if (w < 0 || (size_t)w >= len - n || n + (size_t)w > SOCKPOOL_NAMEMAX)
		return (-1);
	return (0);
}

/*
 * Take the listeners of a service port on port from the sockpool: the
 * one of its plain name, then "#1", "#2"... while the pool holds them
 * (a predecessor with more workers handed over more), each checked to
 * be of the right type on the right port.  Returns how many were added
 * to pp (0: none, bind afresh).
 */
static size_t
proxier_port_inherit(struct proxier *p, struct proxier_port *pp,
    uint16_t port)
{
	char		name[SOCKPOOL_NAMEMAX + 1];
	socklen_t	len;
	size_t		k;
	int		fd, type;

	for (k = 0; k < WORKERS_MAX && sockpool_count(p->pool) > 0; k++) {
		if (proxier_port_fdname(pp, port, k, name, sizeof(name)) == -1 ||
		    (fd = sockpool_take(p->pool, name)) == -1)
			break;
		len = sizeof(type);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
		    type != (pp->proto == IPPROTO_UDP ? SOCK_DGRAM :
		    SOCK_STREAM) || netutil_local_port(fd) != port) {
			log_warnx("%s: inherited socket %s is not a listener "
			    "on port %u; %s", pp->name, name, port,
			    k == 0 ? "binding afresh" : "left out");
			close(fd);
			break;
		}
		log_v(2, "%s: listener %s taken over", pp->name, name);
		proxier_port_add_fd(p, pp, fd);
	}
	return (pp->nfds);
}

/*
 * Give a bound service port one listener per worker: siblings on the
 * same port in the first one's SO_REUSEPORT group.  Without the option
 * on the first (inherited from a kuproxy without it, or a shared
 * listener wanted) nothing is added: the relay shares that one.  Past
 * the listener budget nothing is added either, and the port's one
 * listener is served by one worker (the next in turn): a node with
 * many Services and many cores spends one descriptor per service port,
 * as kube-proxy does, beyond the first ports.
 */
static void
proxier_port_siblings(struct proxier *p, struct proxier_port *pp)
{
	char		err[CONFIG_ERRLEN];
	socklen_t	len = sizeof(int);
	int		fd, on = 0;

	pp->spread = 1;
	if (workers_count(p->ws) <= 1 || p->shared ||
	    pp->nfds >= workers_count(p->ws))
		return;
	if (getsockopt(pp->fds[0], SOL_SOCKET, SO_REUSEPORT, &on,
	    &len) == -1 || !on) {
		log_v(2, "%s: listener without SO_REUSEPORT: %u workers "
		    "share it", pp->name, workers_count(p->ws));
		return;
	}
	if (p->nlisteners + workers_count(p->ws) - pp->nfds > p->budget) {
		if (pp->nfds == 1)
			pp->spread = 0;
		if (!p->budget_warned)
			log_info("%zu listeners: the budget is spent; service "
			    "ports from now on get one listener, on one "
			    "worker", p->nlisteners);
		p->budget_warned = 1;
		return;
	}
	while (pp->nfds < workers_count(p->ws)) {
		fd = proxier_port_listen(p, pp, pp->proxy_port, err,
		    sizeof(err));
		if (fd == -1) {
			log_warnx("%s: listener for worker %zu: %s; the "
			    "workers share the others", pp->name, pp->nfds,
			    err);
			return;
		}
		proxier_port_add_fd(p, pp, fd);
	}
}

/* Name the bound listeners and tell the observer (systemd's fd store). */
static void
proxier_port_named(struct proxier *p, struct proxier_port *pp)
{
	char	name[SOCKPOOL_NAMEMAX + 1];
	size_t	k;

	pp->fdnames = xcalloc(pp->nfds, sizeof(*pp->fdnames));
	for (k = 0; k < pp->nfds; k++) {
		if (proxier_port_fdname(pp, pp->proxy_port, k, name,
		    sizeof(name)) == -1)
			continue;
		pp->fdnames[k] = xstrdup(name);
		if (p->obs.listener_opened != NULL)
			p->obs.listener_opened(p->obs.arg, pp->fdnames[k],
			    pp->fds[k]);
	}
}

/* Bind the listener of a new service port, reusing a persisted port. */
static int
proxier_port_bind(struct proxier *p, struct proxier_port *pp)
{
	uint16_t	port;
	char		err[CONFIG_ERRLEN];
	int		fd;

	port = portstate_lookup(&p->state, pp->name, pp->proto);
	if (port != 0 && portalloc_reserve(p->ports, port) == 0) {
		if (proxier_port_inherit(p, pp, port) > 0)
			goto bound;
		fd = proxier_port_listen(p, pp, port, err, sizeof(err));
		if (fd != -1) {
			proxier_port_add_fd(p, pp, fd);
			goto bound;
		}
		log_warnx("%s: persisted proxy port %u: %s; choosing another",
		    pp->name, port, err);
		portalloc_release(p->ports, port);
	}
	if (portalloc_get(p->ports, &port) == -1) {
		log_warnx("%s: no proxy port left in range %s", pp->name,
		    p->cfg->port_range);
		return (-1);
	}
	if ((fd = proxier_port_listen(p, pp, port, err, sizeof(err))) == -1) {
		log_warnx("%s: %s; will retry at the next sync", pp->name,
		    err);
		portalloc_release(p->ports, port);
		return (-1);
	}
	proxier_port_add_fd(p, pp, fd);
bound:
	pp->listen_port = port;
	pp->proxy_port = netutil_local_port(pp->fds[0]);
	proxier_port_siblings(p, pp);
	proxier_port_named(p, pp);
	return (0);
}

/*
 * Hand the bound listeners and the balancer to a new relay on every
 * worker; from here on the relay owns them (pp->lb stays usable until
 * relay_close()).
 */
static int
proxier_port_start(struct proxier *p, struct proxier_port *pp)
{
	unsigned int	first = 0;

	/* Single-listener ports take the workers in turn. */
	if (pp->nfds == 1 && (!pp->spread || pp->proto == IPPROTO_UDP))
		first = p->next_worker++ % workers_count(p->ws);
	pp->relay = relay_new(p->ws, pp->proto, pp->name, pp->fds, pp->nfds,
	    pp->lb, p->udp_idle_ms, pp->spread, first);
	return (0);
}

/*
 * Copy the portal fields of a model service port into pp; return 1 if
 * the rules must change.  Affinity changes go to the balancer only.
 */
static int
proxier_port_update(struct proxier_port *pp, const struct model_service *ms,
    const struct model_svcport *mp)
{
	int	changed = 0;

	if (pp->port != mp->port || pp->node_port != mp->node_port) {
		pp->port = mp->port;
		pp->node_port = mp->node_port;
		changed = 1;
	}
	if (pp->cluster_ip == NULL || strcmp(pp->cluster_ip,
	    ms->cluster_ip) != 0) {
		free(pp->cluster_ip);
		pp->cluster_ip = xstrdup(ms->cluster_ip);
		changed = 1;
	}
	if (!strv_equal(pp->external_ips, pp->n_external_ips,
	    ms->external_ips, ms->n_external_ips)) {
		strv_free(pp->external_ips, pp->n_external_ips);
		pp->external_ips = strv_dup(ms->external_ips,
		    ms->n_external_ips);
		pp->n_external_ips = ms->n_external_ips;
		changed = 1;
	}
	if (!strv_equal(pp->lb_ips, pp->n_lb_ips, ms->lb_ips, ms->n_lb_ips)) {
		strv_free(pp->lb_ips, pp->n_lb_ips);
		pp->lb_ips = strv_dup(ms->lb_ips, ms->n_lb_ips);
		pp->n_lb_ips = ms->n_lb_ips;
		changed = 1;
	}
	if (pp->affinity != ms->affinity || pp->ttl != ms->affinity_ttl) {
		pp->affinity = ms->affinity;
		pp->ttl = ms->affinity_ttl;
		lb_set_affinity(pp->lb,
		    pp->affinity == MODEL_AFFINITY_CLIENTIP ?
		    LB_AFFINITY_CLIENTIP : LB_AFFINITY_NONE, pp->ttl);
	}
	return (changed);
}

/*
 * STAGED -> LIVE: feed the balancer and start the relay.  Returns 0, or
 * -1 if the relay cannot start (the caller closes the port).
 */
static int
proxier_port_serve(struct proxier *p, struct proxier_port *pp)
{
	proxier_port_set_endpoints(p, pp);
	if (proxier_port_start(p, pp) == -1) {
		log_warnx("%s: cannot start the relay", pp->name);
		return (-1);
	}
	pp->state = PORT_LIVE;
	p->nstaged--;
	log_info("%s/%s: proxy port %u, clusterIP %s:%u, %zu endpoints",
	    pp->name, netutil_proto_name(pp->proto), pp->proxy_port,
	    pp->cluster_ip, pp->port, lb_count(pp->lb));
	return (0);
}

/*
 * Create a service port named name (taken over) from the model's
 * description, bind it, and enter it in the table in state want: STAGED
 * (listening, not served) or LIVE (relay started).  Returns NULL, with
 * nothing kept, if it cannot bind or start.
 */
static struct proxier_port *
proxier_port_open(struct proxier *p, char *name, const struct model_service *ms,
    const struct model_svcport *mp, enum proxier_port_state want)
{
	struct proxier_port	*pp;

	pp = xcalloc(1, sizeof(*pp));
	pp->state = PORT_STAGED;
	p->nstaged++;
	pp->name = name;
	pp->ns = xstrdup(ms->ns);
	pp->svc = xstrdup(ms->name);
	pp->port_name = xstrdup(mp->name);
	pp->proto = mp->proto;
	pp->affinity = ms->affinity;
	pp->ttl = ms->affinity_ttl;
	pp->lb = lb_new(ms->affinity == MODEL_AFFINITY_CLIENTIP ?
	    LB_AFFINITY_CLIENTIP : LB_AFFINITY_NONE, ms->affinity_ttl);
	if (pp->lb == NULL)
		fatalx("%s: out of memory", name);
	lb_set_name(pp->lb, name);
	proxier_port_update(pp, ms, mp);
	if (proxier_port_bind(p, pp) == -1 ||
	    (want == PORT_LIVE && proxier_port_serve(p, pp) == -1)) {
		proxier_port_free(p, pp, 0);
		return (NULL);
	}
	if (htab_put(p->svcs, pp->name, strlen(pp->name), pp, NULL) == -1)
		fatalx("proxier: out of memory");
	p->state_dirty = 1;
	return (pp);
}

/* Free a service port: relay, listener, port, balancer. */
static void
proxier_port_free(struct proxier *p, struct proxier_port *pp, int kill)
{
	size_t	i;

	if (pp->state == PORT_STAGED)
		p->nstaged--;
	if (pp->relay != NULL)
		relay_close(pp->relay, kill);	/* with the lb */
	else {
		for (i = 0; i < pp->nfds; i++)
			close(pp->fds[i]);
		lb_free(pp->lb);
	}
	for (i = 0; i < pp->nfds; i++)
		free(pp->fdnames != NULL ? pp->fdnames[i] : NULL);
	p->nlisteners -= pp->nfds;
	free(pp->fdnames);
	free(pp->fds);
	if (pp->listen_port != 0)
		portalloc_release(p->ports, pp->listen_port);
	strv_free(pp->external_ips, pp->n_external_ips);
	strv_free(pp->lb_ips, pp->n_lb_ips);
	free(pp->cluster_ip);
	free(pp->port_name);
	free(pp->svc);
	free(pp->ns);
	free(pp->name);
	free(pp);
}

/*
 * Take a service port out of the table and free it; forget (a port
 * whose rules were installed) queues the conntrack flush of a UDP port.
 */
static void
proxier_port_close(struct proxier *p, struct proxier_port *pp, int forget)
{
	size_t	i;

	htab_del(p->svcs, pp->name, strlen(pp->name));
	if (forget)
		proxier_rules_forget(p->rules, pp->proto, pp->cluster_ip);
	for (i = 0; i < pp->nfds && p->obs.listener_closed != NULL; i++)
		if (pp->fdnames[i] != NULL)
			p->obs.listener_closed(p->obs.arg, pp->fdnames[i]);
	proxier_port_free(p, pp, 0);
	p->state_dirty = 1;
}

/* Describe a service port to the rules layer; strings are borrowed. */
static void
proxier_port_describe(const struct proxier_port *pp, struct ipt_svcport *is)
{
	memset(is, 0, sizeof(*is));
	is->name = pp->name;
	is->proto = pp->proto;
	is->port = pp->port;
	is->node_port = pp->node_port;
	is->proxy_port = pp->proxy_port;
	is->cluster_ip = pp->cluster_ip;
	is->external_ips = (const char *const *)pp->external_ips;
	is->n_external_ips = pp->n_external_ips;
	is->lb_ips = (const char *const *)pp->lb_ips;
	is->n_lb_ips = pp->n_lb_ips;
}

struct proxier_walk {
	struct proxier	*p;
	int		 changed;	/* rules must be re-rendered */
};

/* Reconcile one port of a model Service; return 1 if rules change. */
static int
proxier_sync_port(struct proxier *p, const struct model_service *ms,
    const struct model_svcport *mp)
{
	struct proxier_port	*pp;
	char			*name, nbuf[256];
	int			 changed = 0;

	name = proxier_port_name(ms, mp, nbuf, sizeof(nbuf));
	pp = htab_get(p->svcs, name, strlen(name));
	if (pp != NULL && pp->proto != mp->proto) {
		/* Same port name, other protocol: start over. */
		proxier_port_close(p, pp, 1);
		pp = NULL;
		changed = 1;
	}
	if (pp == NULL) {
		if (name == nbuf)
			name = xstrdup(nbuf);
		pp = proxier_port_open(p, name, ms, mp, PORT_LIVE);
		if (pp == NULL) {
			p->retry = 1;
			return (changed);
		}
		pp->walk = p->walk;
		return (1);
	}
	if (name != nbuf)
		free(name);
	if (proxier_port_update(pp, ms, mp))
		changed = 1;
	if (pp->state == PORT_STAGED) {
		/* Bound ahead while its file was parsed: serve it now. */
		if (proxier_port_serve(p, pp) == -1) {
			proxier_port_close(p, pp, 0);
			p->retry = 1;
			return (1);
		}
		changed = 1;
	}
	pp->walk = p->walk;
	return (changed);
}

/* Reconcile the ports of one model Service. */
static void
proxier_sync_service(const struct model_service *ms, void *arg)
{
	struct proxier_walk	*w = arg;
	size_t			 i;

	for (i = 0; i < ms->nports; i++)
		if (proxier_sync_port(w->p, ms, &ms->ports[i]))
			w->changed = 1;
}

/* Close the service ports this walk did not see. */
static int
proxier_sync_removed(struct proxier *p)
{
	struct htab_iter	 it;
	struct proxier_port	*pp;
	void			*v;
	int			 changed = 0;

	htab_iter_init(p->svcs, &it);
	while (htab_iter_next(&it, NULL, NULL, &v)) {
		pp = v;
		if (pp->walk == p->walk)
			continue;
		if (pp->state == PORT_STAGED)
			log_info("%s/%s: staged but not taken, proxy port %u "
			    "closed", pp->name, netutil_proto_name(pp->proto),
			    pp->proxy_port);
		else
			log_info("%s/%s: removed, proxy port %u closed",
			    pp->name, netutil_proto_name(pp->proto),
			    pp->proxy_port);
		proxier_port_close(p, pp, 1);
		changed = 1;
	}
	return (changed);
}

/* Describe every service port in the table to the rules layer. */
static int
proxier_sync_rules(struct proxier *p, int force)
{
	struct htab_iter	 it;
	struct ipt_svcport	*v;
	void			*e;
	size_t			 n = 0;
	int			 rv;

	v = xcalloc(htab_count(p->svcs) + 1, sizeof(*v));
	htab_iter_init(p->svcs, &it);
	while (htab_iter_next(&it, NULL, NULL, &e))
		proxier_port_describe(e, &v[n++]);
	rv = proxier_rules_sync(p->rules, v, n, force);
	free(v);
	return (rv);
}

/* Return the wall-clock time in ms since the epoch. */
static uint64_t
proxier_wall_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* A rule update is wanted (kube-proxy's QueuedUpdate()). */
static void
proxier_queued(struct proxier *p)
{
	health_queued(&p->health, monotime_ms());
	p->queued_wall_ms = proxier_wall_ms();
}

/* Tell the observer a listener nobody took is closed. */
static void
proxier_pool_closed(const char *name, void *arg)
{
	struct proxier	*p = arg;

	log_info("inherited listener %s: no Service port takes it, closed",
	    name);
	if (p->obs.listener_closed != NULL)
		p->obs.listener_closed(p->obs.arg, name);
}

/* The first full sync took what it wanted: close the rest. */
static void
proxier_pool_done(struct proxier *p)
{
	if (p->pool == NULL)
		return;
	sockpool_close_rest(p->pool, proxier_pool_closed, p);
	p->pool = NULL;
}

/* Reconcile now. */
void
proxier_sync(struct proxier *p, int force)
{
	struct proxier_walk	 w = { p, 0 };
	struct htab_iter	 it;
	void			*v;
	uint64_t		 start = loop_now_ms(p->loop), mid;

	if (p->retired)
		return;
	if (!model_is_synced(p->model)) {
		log_debug("%s: waiting for the first full list of Services "
		    "and Endpoints", __func__);
		return;
	}
	p->retry = 0;
	p->walk++;
	proxier_queued(p);
	model_foreach_service(p->model, proxier_sync_service, &w);
	if (proxier_sync_removed(p))
		w.changed = 1;
	mid = loop_now_ms(p->loop);
	/* Every port left is LIVE: the walk adopted or closed the rest. */
	if (proxier_sync_rules(p, force) == -1)
		p->nsync_errors++;
	proxier_state_save(p);
	htab_iter_init(p->svcs, &it);
	while (htab_iter_next(&it, NULL, NULL, &v))
		lb_expire(((struct proxier_port *)v)->lb, start);
	p->last_sync_ms = loop_now_ms(p->loop);
	p->nsyncs++;
	p->ready = 1;
	proxier_pool_done(p);
	/* A sync summary: kube-proxy's V(2) (Service changes are at 0). */
	log_v(2, "sync: %zu service ports%s, listeners %llu ms, rules "
	    "%llu ms", htab_count(p->svcs), w.changed ? " (changed)" :
	    "", (unsigned long long)(mid - start),
	    (unsigned long long)(p->last_sync_ms - mid));
	if (p->retry)
		proxier_request_sync(p);
}

/* Sync when the rate-limited sync timer fires. */
static void
proxier_sync_cb(evutil_socket_t fd, short ev, void *arg)
{
	proxier_sync(arg, 0);
}

/* Re-assert everything periodically, repairing what others broke. */
static void
proxier_period_cb(evutil_socket_t fd, short ev, void *arg)
{
	proxier_sync(arg, 1);
}

/* Ask for a sync, no sooner than minSyncPeriod after the last one. */
void
proxier_request_sync(struct proxier *p)
{
	struct timeval	tv;
	uint64_t	now, next, delay = 0;

	proxier_queued(p);
	if (evtimer_pending(p->sync_ev, NULL))
		return;
	now = loop_now_ms(p->loop);
	next = p->last_sync_ms + p->min_sync_ms;
	if (p->last_sync_ms != 0 && next > now)
		delay = next - now;
	if (p->retry && delay < 1000)
		delay = 1000;
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	evtimer_add(p->sync_ev, &tv);
}

/* The rules layer wants the sync that waited for its restore. */
static void
proxier_rules_replay(void *arg, int now)
{
	struct proxier	*p = arg;
	struct timeval	 tv = { 0, 0 };

	if (!now) {
		proxier_request_sync(p);
		return;
	}
	/* It follows a stream and only confirms it: no rate limit. */
	evtimer_del(p->sync_ev);
	evtimer_add(p->sync_ev, &tv);
}

/*
 * The rules of a family's sync ended: time the sync (kube-proxy times
 * every syncProxyRules, failed or not) and, once no family lags behind
 * the last sync, tell the health rule every queued update is done (else
 * that those before the oldest sync still pending are).
 */
static void
proxier_rules_result(void *arg, int ok, uint64_t start_ms)
{
	struct proxier	*p = arg;
	uint64_t	 now = monotime_ms(), since;

	histogram_observe(&p->sync_hist, now >= start_ms ?
	    (double)(now - start_ms) / 1000.0 : 0);
	if (!ok) {
		if (p->obs.rules_failed != NULL)
			p->obs.rules_failed(p->obs.arg);
		return;
	}
	p->applied_wall_ms = proxier_wall_ms();
	if (!proxier_rules_behind(p->rules, &since)) {
		health_updated(&p->health, now);
		p->updated_wall_ms = p->applied_wall_ms;
	} else if (health_advance(&p->health, since, now)) {
		/*
		 * Changes keep coming while restores run: the rules are
		 * not current, yet no update waits longer than since.
		 */
		p->updated_wall_ms = p->applied_wall_ms;
	} else
		return;
	/* Only a sync's rules count: none runs before the source's list. */
	if (p->walk > 0 && p->obs.rules_applied != NULL)
		p->obs.rules_applied(p->obs.arg);
}

/* Set the observer. */
void
proxier_set_observer(struct proxier *p, const struct proxier_observer *obs)
{
	if (obs != NULL)
		p->obs = *obs;
	else
		memset(&p->obs, 0, sizeof(p->obs));
}

/* Ask for a sync: the model's Services changed. */
static void
proxier_services_changed(void *arg)
{
	proxier_request_sync(arg);
}

/*
 * A large services file is being parsed, or the first list of Services
 * is arriving: bind its new service ports now, without serving them
 * (their listeners queue connections, which the relays take once the
 * sync adopts them), and stream their rules (once rules are known: not
 * before the first sync), so that the rules load on the other core
 * meanwhile.  A port the source does not keep in the end is closed by
 * that sync.
 */
static void
proxier_services_staged(void *arg, const struct model_service *const *svcs,
    size_t n)
{
	struct proxier		*p = arg;
	const struct model_service *ms;
	struct proxier_port	*pp;
	struct ipt_svcport	*v = NULL;
	char			*name, nbuf[256];
	size_t			 i, k, nv = 0, cap = 0;

	for (i = 0; i < n; i++) {
		ms = svcs[i];
		for (k = 0; k < ms->nports; k++) {
			name = proxier_port_name(ms, &ms->ports[k], nbuf,
			    sizeof(nbuf));
			if (htab_get(p->svcs, name, strlen(name)) != NULL) {
				/* Live: changes wait for the model. */
				if (name != nbuf)
					free(name);
				continue;
			}
			if (name == nbuf)
				name = xstrdup(nbuf);
			pp = proxier_port_open(p, name, ms, &ms->ports[k],
			    PORT_STAGED);
			if (pp == NULL)
				continue;	/* the sync retries */
			if (nv == cap) {
				cap = cap == 0 ? 64 : cap * 2;
				v = xreallocarray(v, cap, sizeof(*v));
			}
			proxier_port_describe(pp, &v[nv]);
			/* Node ports wait for the adopting sync's claim. */
			v[nv++].node_port = 0;
		}
	}
	if (nv > 0)
		proxier_rules_stage(p->rules, v, nv);
	free(v);
}

/* The staging is over: the streamed rules can be committed. */
static void
proxier_stage_end(void *arg)
{
	struct proxier	*p = arg;

	proxier_rules_stage_end(p->rules);
	/* Taken, the model asks too; rejected, this drops the ports. */
	proxier_request_sync(p);
}

/* Update only the balancers when the Endpoints of ns/name change. */
static void
proxier_endpoints_changed(void *arg, const char *ns, const char *name)
{
	struct proxier			*p = arg;
	const struct model_service	*ms;
	const struct model_endpoints	*me;
	struct proxier_port		*pp;
	char				*pn, nbuf[256];
	size_t				 i;
	int				 applied = 0;
	uint64_t			 now;

	if ((ms = model_get_service(p->model, ns, name)) == NULL)
		return;
	for (i = 0; i < ms->nports; i++) {
		pn = proxier_port_name(ms, &ms->ports[i], nbuf, sizeof(nbuf));
		pp = htab_get(p->svcs, pn, strlen(pn));
		if (pn != nbuf)
			free(pn);
		if (pp != NULL) {
			proxier_port_set_endpoints(p, pp);
			applied = 1;
		}
	}
	/*
	 * In userspace mode the balancer is what programs the change:
	 * time it from the Endpoints' trigger time, as kube-proxy's
	 * network_programming_duration_seconds does at its rules.
	 */
	me = model_get_endpoints(p->model, ns, name);
	if (applied && me != NULL && me->trigger_ms != 0) {
		now = proxier_wall_ms();
		histogram_observe(&p->netprog_hist, now > me->trigger_ms ?
		    (double)(now - me->trigger_ms) / 1000.0 : 0);
	}
}

/* Create the proxier. */
struct proxier *
proxier_new(struct loop *loop, const struct kp_config *cfg,
    struct model *model, char *err, size_t errlen)
{
	struct proxier		*p;
	struct model_observer	 obs;
	struct timeval		 tv;

	/* Create the state directory (mkdir -p, 0700); unusable: fail. */
	if (cfg->state_dir != NULL && *cfg->state_dir != '\0' &&
	    portstate_dir_prepare(cfg->state_dir, err, errlen) == -1)
		return (NULL);
	p = xcalloc(1, sizeof(*p));
	p->loop = loop;
	/* One worker, the main loop, until proxier_set_workers(). */
	if ((p->ws = workers_new(loop, 1, 0, err, errlen)) == NULL)
		fatalx("%s", err);
	p->own_ws = 1;
	p->cfg = cfg;
	p->model = model;
	p->min_sync_ms = cfg->min_sync_period_ms;
	p->udp_idle_ms = cfg->udp_idle_timeout_ms;
	p->rules = proxier_rules_new(loop->base, cfg, proxier_rules_replay, p,
	    err, errlen);
	if (p->rules == NULL) {
		free(p);
		return (NULL);
	}
	proxier_rules_set_result(p->rules, proxier_rules_result);
	/* kube-proxy's healthTimeout: twice the iptables sync period. */
	health_init(&p->health, 2 * cfg->sync_period_ms);
	histogram_init(&p->sync_hist, histogram_sync_bounds,
	    histogram_sync_nbounds);
	histogram_init(&p->netprog_hist, histogram_netprog_bounds,
	    histogram_netprog_nbounds);
	p->ports = portalloc_new(cfg->port_base, cfg->port_size);
	if ((p->svcs = htab_new()) == NULL)
		fatalx("proxier: out of memory");
	proxier_state_init(p);
	p->sync_ev = evtimer_new(loop->base, proxier_sync_cb, p);
	p->period_ev = event_new(loop->base, -1, EV_PERSIST,
	    proxier_period_cb, p);
	if (p->sync_ev == NULL || p->period_ev == NULL)
		fatalx("proxier: event_new failed");
	tv.tv_sec = cfg->sync_period_ms / 1000;
	tv.tv_usec = (cfg->sync_period_ms % 1000) * 1000;
	evtimer_add(p->period_ev, &tv);
	memset(&obs, 0, sizeof(obs));
	obs.services_changed = proxier_services_changed;
	obs.endpoints_changed = proxier_endpoints_changed;
	obs.services_staged = proxier_services_staged;
	obs.stage_end = proxier_stage_end;
	obs.arg = p;
	model_set_observer(model, &obs);
	if (model_is_synced(model))
		proxier_request_sync(p);
	return (p);
}

/* Change the sync periods (a live reload). */
void
proxier_set_sync_periods(struct proxier *p, uint64_t sync_ms,
    uint64_t min_sync_ms)
{
	struct timeval	tv;

	p->min_sync_ms = min_sync_ms;
	/* kube-proxy's healthTimeout follows: twice the sync period. */
	p->health.timeout_ms = 2 * sync_ms;
	tv.tv_sec = sync_ms / 1000;
	tv.tv_usec = (sync_ms % 1000) * 1000;
	evtimer_del(p->period_ev);
	evtimer_add(p->period_ev, &tv);
}

/* Change the UDP idle timeout of every relay, now and to come. */
void
proxier_set_udp_idle_timeout(struct proxier *p, uint64_t idle_ms)
{
	struct htab_iter	 it;
	struct proxier_port	*pp;
	void			*v;

	p->udp_idle_ms = idle_ms;
	htab_iter_init(p->svcs, &it);
	while (htab_iter_next(&it, NULL, NULL, &v)) {
		pp = v;
		if (pp->relay != NULL)
			relay_set_idle_timeout(pp->relay, idle_ms);
	}
}

/* Allocate new proxy ports from another range; bound ones stay. */
void
proxier_set_port_range(struct proxier *p, uint16_t base, uint32_t size)
{
	struct htab_iter	 it;
	struct proxier_port	*pp;
	void			*v;

	portalloc_set_range(p->ports, base, size);
	htab_iter_init(p->svcs, &it);
	while (htab_iter_next(&it, NULL, NULL, &v)) {
		pp = v;
		/*
		 * A port in the new range is claimed, so it is not handed
		 * out twice; one outside it is simply kept until its
		 * Service goes (its release is then ignored).
		 */
		if (pp->proxy_port != 0 && size > 0 &&
		    portalloc_reserve(p->ports, pp->proxy_port) == 0)
			pp->listen_port = pp->proxy_port;
		else
			pp->listen_port = 0;
	}
}

/* Free the proxier. */
void
proxier_free(struct proxier *p)
{
	struct htab_iter	 it;
	struct proxier_port	*pp;
	void			*v;

	if (p == NULL)
		return;
	model_set_observer(p->model, NULL);
	event_free(p->sync_ev);
	event_free(p->period_ev);
	htab_iter_init(p->svcs, &it);
	while (htab_iter_next(&it, NULL, NULL, &v)) {
		pp = v;
		htab_del(p->svcs, pp->name, strlen(pp->name));
		proxier_port_free(p, pp, 1);
	}
	relay_kill_dying(p->ws);
	if (p->own_ws)
		workers_free(p->ws);
	htab_free(p->svcs, NULL);
	proxier_rules_free(p->rules);
	portalloc_free(p->ports);
	portstate_clear(&p->state);
	free(p->state_path);
	free(p);
}

/* Take the Node object's address as a fallback node IP. */
void
proxier_set_node_ip(struct proxier *p, const char *ip)
{
	if (proxier_rules_set_node_ip(p->rules, ip))
		proxier_request_sync(p);
}

/* Return 1 after the first completed sync. */
int
proxier_is_ready(const struct proxier *p)
{
	return (p->ready);
}

/* Return the time of the last completed sync. */
uint64_t
proxier_last_sync_ms(const struct proxier *p)
{
	return (p->last_sync_ms);
}

/* Order service ports by name, then protocol. */
static int
proxier_port_cmp(const void *a, const void *b)
{
	const struct proxier_port *x = *(struct proxier_port *const *)a;
	const struct proxier_port *y = *(struct proxier_port *const *)b;
	int			   c;

	if ((c = strcmp(x->name, y->name)) != 0)
		return (c);
	return (x->proto - y->proto);
}

/* Fill c with the counters of a service port (zero if no relay). */
static void
proxier_port_counters(const struct proxier_port *pp, struct svc_counters *c)
{
	if (pp->relay != NULL)
		relay_counters(pp->relay, c);
	else
		memset(c, 0, sizeof(*c));
}

/* Call cb on every live service port, sorted by name and protocol. */
void
proxier_foreach_port(struct proxier *p,
    void (*cb)(const struct proxier_portinfo *, void *), void *arg)
{
	struct proxier_portinfo	  pi;
	struct svc_counters	  c;
	struct proxier_port	**v, *pp;
	struct htab_iter	  it;
	void			 *e;
	size_t			  i, n = 0;

	v = xcalloc(htab_count(p->svcs) + 1, sizeof(*v));
	htab_iter_init(p->svcs, &it);
	while (htab_iter_next(&it, NULL, NULL, &e))
		if (((struct proxier_port *)e)->state == PORT_LIVE)
			v[n++] = e;
	qsort(v, n, sizeof(*v), proxier_port_cmp);
	for (i = 0; i < n; i++) {
		pp = v[i];
		pi.name = pp->name;
		pi.proto = pp->proto;
		pi.proxy_port = pp->proxy_port;
		pi.cluster_ip = pp->cluster_ip;
		pi.port = pp->port;
		pi.node_port = pp->node_port;
		pi.lb = pp->lb;
		proxier_port_counters(pp, &c);
		pi.counters = &c;
		pi.relay = pp->relay;
		cb(&pi, arg);
	}
	free(v);
}

/* Fill in the reconciler's totals. */
void
proxier_get_stats(const struct proxier *p, struct proxier_stats *st)
{
	st->syncs = p->nsyncs;
	st->sync_errors = p->nsync_errors + proxier_rules_errors(p->rules);
	st->migrating = proxier_rules_migrating(p->rules);
	st->ports = htab_count(p->svcs) - p->nstaged;
	workers_sum(p->ws, &st->conns, &st->fd_pauses);
	st->workers = workers_count(p->ws);
	st->sync_duration = &p->sync_hist;
	st->netprog_duration = &p->netprog_hist;
	st->applied_wall_ms = p->applied_wall_ms;
	st->queued_wall_ms = p->queued_wall_ms;
	st->restore_errors = proxier_rules_errors(p->rules);
}

/* Report the health of the rules at now. */
int
proxier_get_health(const struct proxier *p, uint64_t now,
    uint64_t *updated_wall_ms, uint64_t *updated_ms)
{
	*updated_wall_ms = p->updated_wall_ms;
	*updated_ms = p->health.updated_ms;
	if (p->draining)
		return (0);
	return (health_ok(&p->health, now));
}

/* Take listeners from a sockpool before binding. */
void
proxier_set_sockpool(struct proxier *p, struct sockpool *sp)
{
	p->pool = sp;
}

/* Call cb on every service port's listener. */
void
proxier_foreach_listener(struct proxier *p,
    void (*cb)(void *, const char *, int), void *arg)
{
	struct htab_iter	 it;
	struct proxier_port	*pp;
	void			*v;
	size_t			 i;

	/* The relay closes its listeners only at relay_close(). */
	htab_iter_init(p->svcs, &it);
	while (htab_iter_next(&it, NULL, NULL, &v)) {
		pp = v;
		for (i = 0; i < pp->nfds; i++)
			if (pp->fdnames[i] != NULL)
				cb(arg, pp->fdnames[i], pp->fds[i]);
	}
}

/* Fail the health rule from now on. */
void
proxier_set_draining(struct proxier *p)
{
	p->draining = 1;
}

/* Return 1 when draining. */
int
proxier_is_draining(const struct proxier *p)
{
	return (p->draining);
}

/* A successor serves: stop accepting, syncing and watching the model. */
void
proxier_retire(struct proxier *p)
{
	struct htab_iter	 it;
	struct proxier_port	*pp;
	void			*v;

	if (p->retired)
		return;
	p->retired = 1;
	p->draining = 1;
	model_set_observer(p->model, NULL);
	evtimer_del(p->sync_ev);
	evtimer_del(p->period_ev);
	htab_iter_init(p->svcs, &it);
	while (htab_iter_next(&it, NULL, NULL, &v)) {
		pp = v;
		if (pp->relay != NULL)
			relay_stop(pp->relay);
	}
}

/* Return the open TCP connections and UDP flows. */
uint64_t
proxier_active(const struct proxier *p)
{
	struct htab_iter	 it;
	struct proxier_port	*pp;
	struct svc_counters	 c;
	void			*v;
	uint64_t		 n, pauses;

	workers_sum(p->ws, &n, &pauses);
	htab_iter_init(p->svcs, &it);
	while (htab_iter_next(&it, NULL, NULL, &v)) {
		pp = v;
		if (pp->relay != NULL && pp->proto == IPPROTO_UDP) {
			relay_counters(pp->relay, &c);
			n += c.active;
		}
	}
	return (n);
}

/* Relay on the given workers from now on. */
void
proxier_set_workers(struct proxier *p, struct workers *ws, int shared)
{
	if (p->own_ws)
		workers_free(p->ws);
	struct rlimit	rl;

	p->ws = ws;
	p->own_ws = 0;
	p->shared = shared;
	/*
	 * A listener per worker per service port while a quarter of the
	 * open files limit allows (the rest is for connections, two each)
	 * and at most PROXIER_MAX_LISTENERS (each costs the kernel about
	 * 2 KB).
	 */
	p->budget = PROXIER_MAX_LISTENERS;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur / 4 < p->budget)
		p->budget = rl.rlim_cur / 4;
}
