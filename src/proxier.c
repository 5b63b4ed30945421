/*
 * proxier.c: reconcile the model into listeners, balancers, relays,
 * persisted ports, node port claims and iptables rules.
 *
 * A sync walks every Service port in the model, creates what is new,
 * updates what changed in place (the proxy port survives a change of
 * portal addresses, unlike kube-proxy), closes what is gone, and then
 * renders the whole rule set in one go.  Endpoints changes only touch
 * the balancers.
 *
 * Staging: while a large services file is still being parsed, the model
 * passes on its new Services (model.h, services_staged); their ports are
 * bound but not served (ps->staged) and their rules streamed into a
 * running iptables-restore (proxier_rules_stage).  The next sync adopts
 * those the model then holds, starting their relays, and closes the
 * others (the file was rejected).
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "config.h"
#include "htab.h"
#include "lb.h"
#include "log.h"
#include "loop.h"
#include "model.h"
#include "netutil.h"
#include "portalloc.h"
#include "portstate.h"
#include "proxier.h"
#include "proxier_rules.h"
#include "proxy_tcp.h"
#include "proxy_udp.h"
#include "xmalloc.h"

struct proxier {
	struct loop		*loop;
	const struct kp_config	*cfg;
	struct model		*model;
	struct portalloc	*ports;
	struct portstate	 state;		/* persisted proxy ports */
	struct htab		*persisted;	/* proto+name -> port */
	char			*state_path;	/* NULL: not persisted */
	int			 state_dirty;
	struct htab		*svcs;		/* name -> proxy_svc */
	struct proxier_rules	*rules;
	struct event		*sync_ev;	/* rate-limited request */
	struct event		*period_ev;	/* forced periodic sync */
	uint64_t		 last_sync_ms;
	uint64_t		 nsyncs;
	uint64_t		 nsync_errors;
	int			 ready;
	int			 retry;		/* a bind failed: sync again */
	size_t			 nstaged;	/* in svcs, not serving yet */
};

static void	proxier_services_changed(void *);
static void	proxier_rules_replay(void *, int);
static void	proxier_endpoints_changed(void *, const char *, const char *);
static void	proxier_svc_free(struct proxier *, struct proxy_svc *);

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

/* Free an array of n strings. */
static void
proxier_strv_free(char **v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Copy an array of n strings. */
static char **
proxier_strv_dup(char *const *v, size_t n)
{
	char	**r;
	size_t	  i;

	r = xcalloc(n, sizeof(*r));
	for (i = 0; i < n; i++)
		r[i] = xstrdup(v[i]);
	return (r);
}

/* Compare two string arrays, order included. */
static int
proxier_strv_equal(char *const *a, size_t na, char *const *b, size_t nb)
{
	size_t	i;

	if (na != nb)
		return (0);
	for (i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return (0);
	return (1);
}

/* Write the key of a service port in the persisted-port index. */
static size_t
proxier_state_key(char *buf, size_t len, const char *name, int proto)
{
	int	n;

	n = snprintf(buf, len, "%d %s", proto, name);
	return (n < 0 || (size_t)n >= len ? len - 1 : (size_t)n);
}

/*
 * Index the persisted ports by name and protocol: a restart with 10k
 * service ports would otherwise scan the list once per port.
 */
static void
proxier_state_index(struct proxier *p)
{
	char	key[1024];
	size_t	i, n;

	htab_free(p->persisted, NULL);
	if ((p->persisted = htab_new()) == NULL)
		fatalx("proxier: out of memory");
	for (i = 0; i < p->state.n; i++) {
		n = proxier_state_key(key, sizeof(key), p->state.v[i].name,
		    p->state.v[i].proto);
		if (htab_put(p->persisted, key, n,
		    (void *)(uintptr_t)p->state.v[i].port, NULL) == -1)
			fatalx("proxier: out of memory");
	}
}

/* Return the persisted proxy port of a service port, 0 if none. */
static uint16_t
proxier_state_lookup(struct proxier *p, const char *name, int proto)
{
	char	key[1024];
	size_t	n;

	if (p->persisted == NULL)
		return (0);
	n = proxier_state_key(key, sizeof(key), name, proto);
	return ((uint16_t)(uintptr_t)htab_get(p->persisted, key, n));
}

/* Open the state file and load the persisted ports. */
static void
proxier_state_init(struct proxier *p)
{
	const char	*dir = p->cfg->state_dir;
	char		 err[CONFIG_ERRLEN];

	if (dir == NULL || *dir == '\0')
		return;
	if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
		log_warn("state dir %s: proxy ports will not survive a "
		    "restart", dir);
		return;
	}
	xasprintf(&p->state_path, "%s/proxy-ports", dir);
	if (portstate_load(p->state_path, &p->state, err, sizeof(err)) ==
	    -1) {
		log_warnx("%s: %s: starting without persisted ports",
		    p->state_path, err);
		portstate_clear(&p->state);
	} else if (p->state.n > 0)
		log_info("%s: %zu persisted proxy ports", p->state_path,
		    p->state.n);
	proxier_state_index(p);
}

/* Write the live proxy ports to the state file if they changed. */
static void
proxier_state_save(struct proxier *p)
{
	struct htab_iter	 it;
	struct proxy_svc	*ps;
	void			*v;
	char			 err[CONFIG_ERRLEN];

	if (p->state_path == NULL || !p->state_dirty)
		return;
	portstate_clear(&p->state);
	htab_iter_init(p->svcs, &it);
	while (htab_iter_next(&it, NULL, NULL, &v)) {
		ps = v;
		portstate_add(&p->state, ps->name, ps->proto, ps->proxy_port);
	}
	proxier_state_index(p);
	if (portstate_save(p->state_path, &p->state, err, sizeof(err)) == -1)
		log_warnx("%s: %s", p->state_path, err);
	else
		p->state_dirty = 0;
}

/* Feed a service port's balancer from the model's Endpoints. */
static void
proxier_svc_set_endpoints(struct proxier *p, struct proxy_svc *ps)
{
	const struct model_endpoints	*me;
	const struct model_epset	*set = NULL;
	struct lb_endpoint		*eps = NULL;
	size_t				 i, n = 0;

	me = model_get_endpoints(p->model, ps->ns, ps->svc);
	if (me != NULL)
		set = model_endpoints_port(me, ps->port_name);
	if (set != NULL && set->n > 0) {
		eps = xcalloc(set->n, sizeof(*eps));
		for (i = 0; i < set->n; i++) {
			if (netutil_parse_ip(set->eps[i].ip, &eps[n].addr,
			    &eps[n].addrlen) == -1)
				continue;
			netutil_set_port((struct sockaddr *)&eps[n].addr,
			    set->eps[i].port);
			n++;
		}
	}
	if (lb_set_endpoints(ps->lb, eps, n))
		log_debug("%s: %zu endpoints", ps->name, n);
	free(eps);
}

/* Open the listener of a service port on port (0: kernel-chosen). */
static int
proxier_svc_listen(struct proxier *p, const struct proxy_svc *ps,
    uint16_t port, char *err, size_t errlen)
{
	struct sockaddr_storage	ss;

	/* A wildcard bind takes IPv4 and IPv6 alike, as Go's listen. */
	if (p->cfg->bind_ss.ss_family == AF_INET && netutil_is_unspecified(
	    (const struct sockaddr *)&p->cfg->bind_ss))
		return (netutil_listen_any(ps->proto, port, 0, err, errlen));
	memcpy(&ss, &p->cfg->bind_ss, sizeof(ss));
	netutil_set_port((struct sockaddr *)&ss, port);
	return (netutil_listen(ps->proto, (struct sockaddr *)&ss, sizeof(ss),
	    0, err, errlen));
}

/* Bind the listener of a new service port, reusing a persisted port. */
static int
proxier_svc_bind(struct proxier *p, struct proxy_svc *ps)
{
	uint16_t	port;
	char		err[CONFIG_ERRLEN];
	int		fd;

	port = proxier_state_lookup(p, ps->name, ps->proto);
	if (port != 0 && portalloc_reserve(p->ports, port) == 0) {
		fd = proxier_svc_listen(p, ps, port, err, sizeof(err));
		if (fd != -1)
			goto bound;
		log_warnx("%s: persisted proxy port %u: %s; choosing another",
		    ps->name, port, err);
		portalloc_release(p->ports, port);
	}
	if (portalloc_get(p->ports, &port) == -1) {
		log_warnx("%s: no proxy port left in range %s", ps->name,
		    p->cfg->port_range);
		return (-1);
	}
	if ((fd = proxier_svc_listen(p, ps, port, err, sizeof(err))) == -1) {
		log_warnx("%s: %s; will retry at the next sync", ps->name,
		    err);
		portalloc_release(p->ports, port);
		return (-1);
	}
bound:
	ps->listen_port = port;
	ps->proxy_port = netutil_local_port(fd);
	ps->fd = fd;
	return (0);
}

/* Start the relay of a bound service port. */
static int
proxier_svc_start(struct proxier *p, struct proxy_svc *ps)
{
	if (ps->proto == IPPROTO_TCP) {
		ps->tcp = proxy_tcp_new(p->loop, ps->fd, ps->name, ps->lb);
		ps->fd = -1;
		return (ps->tcp == NULL ? -1 : 0);
	}
	ps->udp = proxy_udp_new(p->loop, ps->fd, ps->name, ps->lb,
	    p->cfg->udp_idle_timeout_ms);
	ps->fd = -1;
	return (ps->udp == NULL ? -1 : 0);
}

/* Copy the portal fields of a model service port into ps. */
static int
proxier_svc_update(struct proxy_svc *ps, const struct model_service *ms,
    const struct model_svcport *mp)
{
	int	changed = 0;

	if (ps->port != mp->port || ps->node_port != mp->node_port) {
		ps->port = mp->port;
		ps->node_port = mp->node_port;
		changed = 1;
	}
	if (ps->cluster_ip == NULL || strcmp(ps->cluster_ip,
	    ms->cluster_ip) != 0) {
		free(ps->cluster_ip);
		ps->cluster_ip = xstrdup(ms->cluster_ip);
		changed = 1;
	}
	if (!proxier_strv_equal(ps->external_ips, ps->n_external_ips,
	    ms->external_ips, ms->n_external_ips)) {
		proxier_strv_free(ps->external_ips, ps->n_external_ips);
		ps->external_ips = proxier_strv_dup(ms->external_ips,
		    ms->n_external_ips);
		ps->n_external_ips = ms->n_external_ips;
		changed = 1;
	}
	if (!proxier_strv_equal(ps->lb_ips, ps->n_lb_ips, ms->lb_ips,
	    ms->n_lb_ips)) {
		proxier_strv_free(ps->lb_ips, ps->n_lb_ips);
		ps->lb_ips = proxier_strv_dup(ms->lb_ips, ms->n_lb_ips);
		ps->n_lb_ips = ms->n_lb_ips;
		changed = 1;
	}
	if (ps->affinity != ms->affinity || ps->ttl != ms->affinity_ttl) {
		ps->affinity = ms->affinity;
		ps->ttl = ms->affinity_ttl;
		lb_set_affinity(ps->lb,
		    ps->affinity == MODEL_AFFINITY_CLIENTIP ?
		    LB_AFFINITY_CLIENTIP : LB_AFFINITY_NONE, ps->ttl);
	}
	return (changed);
}

/* Create and bind a new service port; NULL if it cannot bind. */
static struct proxy_svc *
proxier_svc_bound(struct proxier *p, char *name,
    const struct model_service *ms, const struct model_svcport *mp)
{
	struct proxy_svc	*ps;

	ps = xcalloc(1, sizeof(*ps));
	ps->name = name;
	ps->ns = xstrdup(ms->ns);
	ps->svc = xstrdup(ms->name);
	ps->port_name = xstrdup(mp->name);
	ps->proto = mp->proto;
	ps->fd = -1;
	ps->family = strchr(ms->cluster_ip, ':') != NULL ? AF_INET6 : AF_INET;
	ps->affinity = ms->affinity;
	ps->ttl = ms->affinity_ttl;
	ps->lb = lb_new(ms->affinity == MODEL_AFFINITY_CLIENTIP ?
	    LB_AFFINITY_CLIENTIP : LB_AFFINITY_NONE, ms->affinity_ttl);
	if (ps->lb == NULL)
		fatalx("%s: out of memory", name);
	proxier_svc_update(ps, ms, mp);
	if (proxier_svc_bind(p, ps) == -1) {
		proxier_svc_free(p, ps);
		return (NULL);
	}
	return (ps);
}

/* Feed and start the relay of a bound service port; -1 if it cannot. */
static int
proxier_svc_serve(struct proxier *p, struct proxy_svc *ps)
{
	proxier_svc_set_endpoints(p, ps);
	if (proxier_svc_start(p, ps) == -1) {
		log_warnx("%s: cannot start the relay", ps->name);
		return (-1);
	}
	if (ps->staged) {
		ps->staged = 0;
		p->nstaged--;
	}
	log_info("%s/%s: proxy port %u, clusterIP %s:%u, %zu endpoints",
	    ps->name, netutil_proto_name(ps->proto), ps->proxy_port,
	    ps->cluster_ip, ps->port, lb_count(ps->lb));
	return (0);
}

/* Create, bind and start a new service port; NULL if it cannot bind. */
static struct proxy_svc *
proxier_svc_new(struct proxier *p, char *name, const struct model_service *ms,
    const struct model_svcport *mp)
{
	struct proxy_svc	*ps;

	if ((ps = proxier_svc_bound(p, name, ms, mp)) == NULL)
		return (NULL);
	if (proxier_svc_serve(p, ps) == -1) {
		proxier_svc_free(p, ps);
		return (NULL);
	}
	return (ps);
}

/* Close a service port: relay, listener, port, balancer. */
static void
proxier_svc_free(struct proxier *p, struct proxy_svc *ps)
{
	if (ps->staged)
		p->nstaged--;
	if (ps->tcp != NULL)
		proxy_tcp_close(ps->tcp, 0);
	if (ps->udp != NULL)
		proxy_udp_close(ps->udp);
	if (ps->fd != -1)
		close(ps->fd);
	if (ps->listen_port != 0)
		portalloc_release(p->ports, ps->listen_port);
	lb_free(ps->lb);
	proxier_strv_free(ps->external_ips, ps->n_external_ips);
	proxier_strv_free(ps->lb_ips, ps->n_lb_ips);
	free(ps->cluster_ip);
	free(ps->port_name);
	free(ps->svc);
	free(ps->ns);
	free(ps->name);
	free(ps);
}

struct proxier_walk {
	struct proxier	*p;
	int		 changed;	/* rules must be re-rendered */
};

/* Reconcile the ports of one model Service. */
static void
proxier_sync_service(const struct model_service *ms, void *arg)
{
	struct proxier_walk	*w = arg;
	struct proxier		*p = w->p;
	struct proxy_svc	*ps;
	char			*name, nbuf[256];
	size_t			 i;

	for (i = 0; i < ms->nports; i++) {
		const struct model_svcport *mp = &ms->ports[i];

		name = proxier_port_name(ms, mp, nbuf, sizeof(nbuf));
		ps = htab_get(p->svcs, name, strlen(name));
		if (ps != NULL && ps->proto != mp->proto) {
			/* Same port name, other protocol: start over. */
			htab_del(p->svcs, name, strlen(name));
			proxier_rules_forget(p->rules, ps->proto,
			    ps->cluster_ip);
			proxier_svc_free(p, ps);
			ps = NULL;
			w->changed = 1;
		}
		if (ps != NULL && ps->staged) {
			/* Bound ahead while its file was parsed: serve. */
			proxier_svc_update(ps, ms, mp);
			if (proxier_svc_serve(p, ps) == -1) {
				htab_del(p->svcs, name, strlen(name));
				proxier_svc_free(p, ps);
				ps = NULL;
				p->retry = 1;
				w->changed = 1;
				if (name != nbuf)
					free(name);
				continue;
			}
			w->changed = 1;
		}
		if (ps != NULL) {
			if (name != nbuf)
				free(name);
			if (proxier_svc_update(ps, ms, mp))
				w->changed = 1;
			ps->seen = 1;
			continue;
		}
		if (name == nbuf)
			name = xstrdup(nbuf);
		if ((ps = proxier_svc_new(p, name, ms, mp)) == NULL) {
			p->retry = 1;
			continue;
		}
		if (htab_put(p->svcs, ps->name, strlen(ps->name), ps,
		    NULL) == -1)
			fatalx("proxier: out of memory");
		ps->seen = 1;
		w->changed = 1;
		p->state_dirty = 1;
	}
}

/* Close the service ports that are no longer in the model. */
static int
proxier_sync_removed(struct proxier *p)
{
	struct htab_iter	 it;
	struct proxy_svc	*ps;
	void			*v;
	int			 changed = 0;

	htab_iter_init(p->svcs, &it);
	while (htab_iter_next(&it, NULL, NULL, &v)) {
		ps = v;
		if (ps->seen) {
			ps->seen = 0;
			continue;
		}
		if (ps->staged)
			log_info("%s/%s: staged but not taken, proxy port %u "
			    "closed", ps->name, netutil_proto_name(ps->proto),
			    ps->proxy_port);
		else
			log_info("%s/%s: removed, proxy port %u closed",
			    ps->name, netutil_proto_name(ps->proto),
			    ps->proxy_port);
		htab_del(p->svcs, ps->name, strlen(ps->name));
		proxier_rules_forget(p->rules, ps->proto, ps->cluster_ip);
		proxier_svc_free(p, ps);
		changed = 1;
		p->state_dirty = 1;
	}
	return (changed);
}

/* Describe a service port for the rules; nothing is copied. */
static void
proxier_svcport(struct ipt_svcport *is, const struct proxy_svc *ps)
{
	memset(is, 0, sizeof(*is));
	is->name = ps->name;
	is->proto = ps->proto;
	is->port = ps->port;
	is->node_port = ps->node_port;
	is->proxy_port = ps->proxy_port;
	is->cluster_ip = ps->cluster_ip;
	is->external_ips = (const char *const *)ps->external_ips;
	is->n_external_ips = ps->n_external_ips;
	is->lb_ips = (const char *const *)ps->lb_ips;
	is->n_lb_ips = ps->n_lb_ips;
}

/* Hand every service port of the table to the rules side. */
static int
proxier_sync_rules(struct proxier *p, int force)
{
	struct htab_iter	 it;
	struct ipt_svcport	*v;
	size_t			 n = 0;
	void			*e;
	int			 rv;

	v = xcalloc(htab_count(p->svcs) + 1, sizeof(*v));
	htab_iter_init(p->svcs, &it);
	while (htab_iter_next(&it, NULL, NULL, &e))
		proxier_svcport(&v[n++], e);
	rv = proxier_rules_sync(p->rules, v, n, force);
	free(v);
	return (rv);
}

/* Hand staged service ports to the rules side. */
static void
proxier_stage_rules(struct proxier *p, struct proxy_svc *const *ps,
    size_t n)
{
	struct ipt_svcport	*v;
	size_t			 i;

	v = xcalloc(n + 1, sizeof(*v));
	for (i = 0; i < n; i++)
		proxier_svcport(&v[i], ps[i]);
	proxier_rules_stage(p->rules, v, n);
	free(v);
}

/* Reconcile now. */
void
proxier_sync(struct proxier *p, int force)
{
	struct proxier_walk	 w = { p, 0 };
	struct htab_iter	 it;
	void			*v;
	uint64_t		 start = loop_now_ms(p->loop), mid;

	if (!model_is_synced(p->model)) {
		log_debug("%s: waiting for the first full list of Services "
		    "and Endpoints", __func__);
		return;
	}
	p->retry = 0;
	model_foreach_service(p->model, proxier_sync_service, &w);
	if (proxier_sync_removed(p))
		w.changed = 1;
	mid = loop_now_ms(p->loop);
	if (proxier_sync_rules(p, force) == -1)
		p->nsync_errors++;
	proxier_state_save(p);
	htab_iter_init(p->svcs, &it);
	while (htab_iter_next(&it, NULL, NULL, &v))
		lb_expire(((struct proxy_svc *)v)->lb, start);
	p->last_sync_ms = loop_now_ms(p->loop);
	p->nsyncs++;
	p->ready = 1;
	if (w.changed || log_getverbose() >= 2)
		log_info("sync: %zu service ports%s, listeners %llu ms, rules "
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

	if (evtimer_pending(p->sync_ev, NULL))
		return;
	now = loop_now_ms(p->loop);
	next = p->last_sync_ms + p->cfg->min_sync_period_ms;
	if (p->last_sync_ms != 0 && next > now)
		delay = next - now;
	if (p->retry && delay < 1000)
		delay = 1000;
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	evtimer_add(p->sync_ev, &tv);
}

/* The rules side wants the sync that waited for its restore. */
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

/* Ask for a sync: the model's Services changed. */
static void
proxier_services_changed(void *arg)
{
	proxier_request_sync(arg);
}

/*
 * A large services file is being parsed: bind its new service ports
 * now, without serving them (their listeners queue connections, which
 * the relays take once the sync adopts them), and stream their rules,
 * so that the file's rules load on the other core meanwhile.  A port
 * the file does not keep in the end is closed by that sync.
 */
static void
proxier_services_staged(void *arg, const struct model_service *const *svcs,
    size_t n)
{
	struct proxier		 *p = arg;
	struct proxy_svc	 *ps, **v;
	char			 *name, nbuf[256];
	size_t			  i, k, nv = 0, cap = 0;

	/* The first sync binds everything anyway, in one go. */
	if (!p->ready)
		return;
	v = NULL;
	for (i = 0; i < n; i++) {
		for (k = 0; k < svcs[i]->nports; k++) {
			name = proxier_port_name(svcs[i], &svcs[i]->ports[k],
			    nbuf, sizeof(nbuf));
			if (htab_get(p->svcs, name, strlen(name)) != NULL) {
				/* Live: changes wait for the model. */
				if (name != nbuf)
					free(name);
				continue;
			}
			if (name == nbuf)
				name = xstrdup(nbuf);
			ps = proxier_svc_bound(p, name, svcs[i],
			    &svcs[i]->ports[k]);
			if (ps == NULL)
				continue;	/* the sync retries */
			ps->staged = 1;
			p->nstaged++;
			if (htab_put(p->svcs, ps->name, strlen(ps->name), ps,
			    NULL) == -1)
				fatalx("proxier: out of memory");
			if (nv == cap) {
				cap = cap == 0 ? 64 : cap * 2;
				v = xreallocarray(v, cap, sizeof(*v));
			}
			v[nv++] = ps;
			p->state_dirty = 1;
		}
	}
	if (nv > 0)
		proxier_stage_rules(p, v, nv);
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
	struct proxy_svc		*ps;
	char				*pn, nbuf[256];
	size_t				 i;

	if ((ms = model_get_service(p->model, ns, name)) == NULL)
		return;
	for (i = 0; i < ms->nports; i++) {
		pn = proxier_port_name(ms, &ms->ports[i], nbuf, sizeof(nbuf));
		ps = htab_get(p->svcs, pn, strlen(pn));
		if (pn != nbuf)
			free(pn);
		if (ps != NULL)
			proxier_svc_set_endpoints(p, ps);
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

	p = xcalloc(1, sizeof(*p));
	p->loop = loop;
	p->cfg = cfg;
	p->model = model;
	p->rules = proxier_rules_new(loop->base, cfg, proxier_rules_replay, p,
	    err, errlen);
	if (p->rules == NULL) {
		free(p);
		return (NULL);
	}
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

/* Free the proxier. */
void
proxier_free(struct proxier *p)
{
	struct htab_iter	 it;
	struct proxy_svc	*ps;
	void			*v;

	if (p == NULL)
		return;
	model_set_observer(p->model, NULL);
	event_free(p->sync_ev);
	event_free(p->period_ev);
	htab_iter_init(p->svcs, &it);
	while (htab_iter_next(&it, NULL, NULL, &v)) {
		ps = v;
		htab_del(p->svcs, ps->name, strlen(ps->name));
		if (ps->tcp != NULL) {
			proxy_tcp_close(ps->tcp, 1);
			ps->tcp = NULL;
		}
		proxier_svc_free(p, ps);
	}
	proxy_tcp_kill_dying(p->loop);
	htab_free(p->svcs, NULL);
	proxier_rules_free(p->rules);
	portalloc_free(p->ports);
	portstate_clear(&p->state);
	htab_free(p->persisted, NULL);
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

/* Return the number of live service ports (staged ones are not). */
size_t
proxier_count(const struct proxier *p)
{
	return (htab_count(p->svcs) - p->nstaged);
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
proxier_svc_cmp(const void *a, const void *b)
{
	const struct proxy_svc	*x = *(struct proxy_svc *const *)a;
	const struct proxy_svc	*y = *(struct proxy_svc *const *)b;
	int			 c;

	if ((c = strcmp(x->name, y->name)) != 0)
		return (c);
	return (x->proto - y->proto);
}

/* Return the live service ports sorted by name; *n gets the count. */
static struct proxy_svc **
proxier_sorted(struct proxier *p, size_t *n)
{
	struct htab_iter	  it;
	struct proxy_svc	**v;
	void			 *e;
	size_t			  i = 0;

	v = xcalloc(htab_count(p->svcs) + 1, sizeof(*v));
	htab_iter_init(p->svcs, &it);
	while (htab_iter_next(&it, NULL, NULL, &e))
		v[i++] = e;
	qsort(v, i, sizeof(*v), proxier_svc_cmp);
	*n = i;
	return (v);
}

/* Return the counters of a service port. */
static const struct svc_counters *
proxier_svc_counters(const struct proxy_svc *ps)
{
	static const struct svc_counters	zero;

	if (ps->tcp != NULL)
		return (proxy_tcp_counters(ps->tcp));
	if (ps->udp != NULL)
		return (proxy_udp_counters(ps->udp));
	return (&zero);
}

/* Describe one service port as a JSON object. */
static struct json_object *
proxier_svc_json(const struct proxy_svc *ps)
{
	const struct svc_counters	*c = proxier_svc_counters(ps);
	struct json_object		*o, *eps;
	char				 buf[NETUTIL_ADDRSTRLEN];
	size_t				 i;

	o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(ps->name));
	json_object_object_add(o, "protocol",
	    json_object_new_string(netutil_proto_name(ps->proto)));
	json_object_object_add(o, "proxyPort",
	    json_object_new_int(ps->proxy_port));
	json_object_object_add(o, "clusterIP",
	    json_object_new_string(ps->cluster_ip));
	json_object_object_add(o, "port", json_object_new_int(ps->port));
	json_object_object_add(o, "nodePort",
	    json_object_new_int(ps->node_port));
	eps = json_object_new_array();
	for (i = 0; i < lb_count(ps->lb); i++) {
		const struct lb_endpoint *e = lb_endpoint_at(ps->lb, i);

		netutil_ntop((const struct sockaddr *)&e->addr, buf,
		    sizeof(buf));
		json_object_array_add(eps, json_object_new_string(buf));
	}
	json_object_object_add(o, "endpoints", eps);
	json_object_object_add(o, "activeConnections",
	    json_object_new_int64((int64_t)c->active));
	json_object_object_add(o, "accepted",
	    json_object_new_int64((int64_t)c->accepted));
	json_object_object_add(o, "noEndpoints",
	    json_object_new_int64((int64_t)c->no_endpoints));
	json_object_object_add(o, "connectErrors",
	    json_object_new_int64((int64_t)c->connect_errors));
	json_object_object_add(o, "pinnedClients",
	    json_object_new_int64((int64_t)lb_pinned(ps->lb)));
	return (o);
}

/* Append the live table as JSON. */
void
proxier_dump_json(struct proxier *p, struct evbuffer *buf)
{
	struct proxy_svc	**v;
	struct json_object	 *root, *arr;
	size_t			  i, n;

	v = proxier_sorted(p, &n);
	root = json_object_new_object();
	arr = json_object_new_array();
	/* Staged ports do not serve yet: not listed until adopted. */
	for (i = 0; i < n; i++)
		if (!v[i]->staged)
			json_object_array_add(arr, proxier_svc_json(v[i]));
	json_object_object_add(root, "services", arr);
	evbuffer_add_printf(buf, "%s\n", json_object_to_json_string_ext(root,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	free(v);
}

/* Append Prometheus metrics. */
void
proxier_dump_metrics(struct proxier *p, struct evbuffer *buf)
{
	static const struct {
		const char	*name;
		const char	*help;
		size_t		 off;
		int		 gauge;
	} m[] = {
#define M(n, h, f, g) { n, h, offsetof(struct svc_counters, f), g }
		M("kuproxy_service_connections_active",
		    "Relayed TCP connections or UDP flows now open.", active,
		    1),
		M("kuproxy_service_connections_total",
		    "TCP connections accepted or UDP flows created.", accepted,
		    0),
		M("kuproxy_service_no_endpoints_total",
		    "Connections or datagrams refused for lack of endpoints.",
		    no_endpoints, 0),
		M("kuproxy_service_connect_errors_total",
		    "Failed backend connection attempts.", connect_errors, 0),
		M("kuproxy_service_bytes_in_total",
		    "Bytes relayed from clients to backends.", bytes_in, 0),
		M("kuproxy_service_bytes_out_total",
		    "Bytes relayed from backends to clients.", bytes_out, 0),
		M("kuproxy_service_datagrams_dropped_total",
		    "UDP datagrams dropped.", dgrams_dropped, 0),
#undef M
	};
	struct proxy_svc	**v;
	size_t			  i, j, n;

	v = proxier_sorted(p, &n);
	for (j = 0; j < sizeof(m) / sizeof(m[0]); j++) {
		evbuffer_add_printf(buf, "# HELP %s %s\n# TYPE %s %s\n",
		    m[j].name, m[j].help, m[j].name,
		    m[j].gauge ? "gauge" : "counter");
		for (i = 0; i < n; i++) {
			const char	*c;

			if (v[i]->staged)
				continue;	/* not serving yet */
			c = (const char *)proxier_svc_counters(v[i]);
			evbuffer_add_printf(buf,
			    "%s{service=\"%s\",protocol=\"%s\"} %llu\n",
			    m[j].name, v[i]->name,
			    netutil_proto_name(v[i]->proto),
			    (unsigned long long)*(const uint64_t *)(c +
			    m[j].off));
		}
	}
	evbuffer_add_printf(buf, "# HELP kuproxy_sync_total Completed syncs.\n"
	    "# TYPE kuproxy_sync_total counter\nkuproxy_sync_total %llu\n"
	    "# HELP kuproxy_sync_errors_total Syncs whose rules failed.\n"
	    "# TYPE kuproxy_sync_errors_total counter\n"
	    "kuproxy_sync_errors_total %llu\n"
	    "# HELP kuproxy_service_ports Live service ports.\n"
	    "# TYPE kuproxy_service_ports gauge\nkuproxy_service_ports %zu\n",
	    (unsigned long long)p->nsyncs,
	    (unsigned long long)(p->nsync_errors +
	    proxier_rules_errors(p->rules)), n - p->nstaged);
	free(v);
}
