/*
 * relay.c: one service port's relays on the worker loops (relay.h).
 *
 * Each relay instance j (a listener, or a dup of one) lives on worker
 * (first + j) mod N in a slot of its own, a cache line apart from the others, so
 * the counters one worker writes never share a line with another's.
 * Only the worker touches its slot's relay pointers; the main loop only
 * reads the counters (CTR_GET).  The relay is reference-counted: one
 * reference for the main loop and one per instance, dropped by the
 * worker once it closed its instance, so the last one out frees.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lb.h"
#include "log.h"
#include "loop.h"
#include "proxy_tcp.h"
#include "proxy_udp.h"
#include "relay.h"
#include "workers.h"
#include "xmalloc.h"

#define RELAY_LINE	64	/* cache line */

struct relay_slot {
	struct svc_counters	 c;	/* written by the worker only */
	struct proxy_tcp	*tcp;	/* worker only */
	struct proxy_udp	*udp;	/* worker only */
	int			 fd;	/* until the worker starts */
	int			 live;	/* main loop only: has a relay */
} __attribute__((aligned(RELAY_LINE)));

struct relay {
	struct workers		*ws;
	unsigned int		 first;		/* worker of instance 0 */
	int			 proto;
	char			*name;
	struct lb		*lb;
	int			 refs;		/* atomic */
	size_t			 n;		/* instances */
	struct relay_slot	*slots;
};

/* What a message to a worker carries. */
struct relay_msg {
	struct relay	*r;
	size_t		 j;		/* slot */
	uint64_t	 idle_ms;
	int		 kill;
};

/* Drop one reference; the last frees the relay and its balancer. */
static void
relay_unref(struct relay *r)
{
	if (__atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	lb_free(r->lb);
	free(r->slots);
	free(r->name);
	free(r);
}

/* Send fn for slot j to its worker. */
static void
relay_send(struct relay *r, size_t j, void (*fn)(struct loop *, void *),
    int kill, uint64_t idle_ms)
{
	struct relay_msg	*m;

	m = xcalloc(1, sizeof(*m));
	m->r = r;
	m->j = j;
	m->kill = kill;
	m->idle_ms = idle_ms;
	workers_call(r->ws, (unsigned int)((r->first + j) %
	    workers_count(r->ws)), fn, m);
}

/* Worker: start instance j. */
static void
relay_start_cb(struct loop *l, void *arg)
{
	struct relay_msg	*m = arg;
	struct relay		*r = m->r;
	struct relay_slot	*s = &r->slots[m->j];
	int			 fd = s->fd;

	s->fd = -1;
	if (r->proto == IPPROTO_TCP)
		s->tcp = proxy_tcp_new(l, fd, r->name, r->lb, &s->c);
	else
		s->udp = proxy_udp_new(l, fd, r->name, r->lb, m->idle_ms,
		    &s->c);
	if (s->tcp == NULL && s->udp == NULL)
		log_warnx("%s: worker %zu cannot start its relay (out of "
		    "memory)", r->name, (r->first + m->j) %
		    workers_count(r->ws));
	free(m);
}

/* Worker: stop accepting on instance j. */
static void
relay_stop_cb(struct loop *l, void *arg)
{
	struct relay_msg	*m = arg;
	struct relay_slot	*s = &m->r->slots[m->j];

	if (s->tcp != NULL)
		proxy_tcp_stop(s->tcp);
	if (s->udp != NULL)
		proxy_udp_stop(s->udp);
	free(m);
}

/* Worker: close instance j and drop its reference. */
static void
relay_close_cb(struct loop *l, void *arg)
{
	struct relay_msg	*m = arg;
	struct relay		*r = m->r;
	struct relay_slot	*s = &r->slots[m->j];

	if (s->tcp != NULL)
		proxy_tcp_close(s->tcp, m->kill);
	if (s->udp != NULL)
		proxy_udp_close(s->udp);
	s->tcp = NULL;
	s->udp = NULL;
	if (s->fd != -1)
		close(s->fd);
	s->fd = -1;
	free(m);
	relay_unref(r);
}

/* Worker: set instance j's UDP idle timeout. */
static void
relay_idle_cb(struct loop *l, void *arg)
{
	struct relay_msg	*m = arg;
	struct relay_slot	*s = &m->r->slots[m->j];

	if (s->udp != NULL)
		proxy_udp_set_idle_timeout(s->udp, m->idle_ms);
	free(m);
}

/* Worker: kill what closed TCP relays still hold. */
static void
relay_kill_dying_cb(struct loop *l, void *arg)
{
	proxy_tcp_kill_dying(l);
}

/* Start relaying a service port on every worker. */
struct relay *
relay_new(struct workers *ws, int proto, const char *name, const int *fds,
    size_t nfds, struct lb *lb, uint64_t idle_ms, int spread,
    unsigned int first)
{
	struct relay	*r;
	size_t		 j, n = nfds;
	void		*mem;
	int		 fd;

	if (spread && proto == IPPROTO_TCP && n < workers_count(ws))
		n = workers_count(ws);
	r = xcalloc(1, sizeof(*r));
	r->ws = ws;
	r->first = first;
	r->proto = proto;
	r->name = xstrdup(name);
	r->lb = lb;
	if (posix_memalign(&mem, RELAY_LINE, n * sizeof(*r->slots)) != 0)
		fatalx("%s: out of memory", name);
	memset(mem, 0, n * sizeof(*r->slots));
	r->slots = mem;
	r->n = n;
	r->refs = 1;
	for (j = 0; j < n; j++) {
		r->slots[j].fd = -1;
		fd = j < nfds ? fds[j] : -1;
		if (fd == -1 &&
		    (fd = fcntl(fds[j % nfds], F_DUPFD_CLOEXEC, 0)) == -1) {
			/* That worker serves nothing of this port. */
			log_warn("%s: cannot share the listener with worker "
			    "%zu", name, j);
			continue;
		}
		r->slots[j].fd = fd;
		r->slots[j].live = 1;
		r->refs++;
	}
	for (j = 0; j < n; j++)
		if (r->slots[j].live)
			relay_send(r, j, relay_start_cb, 0, idle_ms);
	return (r);
}

/* Stop accepting on every listener. */
void
relay_stop(struct relay *r)
{
	size_t	j;

	for (j = 0; j < r->n; j++)
		if (r->slots[j].live)
			relay_send(r, j, relay_stop_cb, 0, 0);
}

/* Close every listener; the relay goes once the workers are done. */
void
relay_close(struct relay *r, int kill)
{
	size_t	j;

	for (j = 0; j < r->n; j++)
		if (r->slots[j].live)
			relay_send(r, j, relay_close_cb, kill, 0);
	relay_unref(r);
}

/* Set the UDP idle timeout everywhere. */
void
relay_set_idle_timeout(struct relay *r, uint64_t idle_ms)
{
	size_t	j;

	for (j = 0; j < r->n; j++)
		if (r->slots[j].live)
			relay_send(r, j, relay_idle_cb, 0, idle_ms);
}

/* Add the counters of instance j to sum. */
static void
relay_add(const struct relay *r, size_t j, struct svc_counters *sum)
{
	const struct svc_counters	*c = &r->slots[j].c;

	sum->accepted += CTR_GET(&c->accepted);
	sum->active += CTR_GET(&c->active);
	sum->no_endpoints += CTR_GET(&c->no_endpoints);
	sum->connect_errors += CTR_GET(&c->connect_errors);
	sum->failed += CTR_GET(&c->failed);
	sum->bytes_in += CTR_GET(&c->bytes_in);
	sum->bytes_out += CTR_GET(&c->bytes_out);
	sum->dgrams_in += CTR_GET(&c->dgrams_in);
	sum->dgrams_out += CTR_GET(&c->dgrams_out);
	sum->dgrams_dropped += CTR_GET(&c->dgrams_dropped);
}

/* Add up the counters of every instance. */
void
relay_counters(const struct relay *r, struct svc_counters *sum)
{
	size_t	j;

	memset(sum, 0, sizeof(*sum));
	for (j = 0; j < r->n; j++)
		relay_add(r, j, sum);
}

/* Return the number of instances. */
size_t
relay_instances(const struct relay *r)
{
	return (r->n);
}

/* Fill c with the counters of instance j. */
void
relay_instance_counters(const struct relay *r, size_t j,
    struct svc_counters *c)
{
	memset(c, 0, sizeof(*c));
	if (j < r->n)
		relay_add(r, j, c);
}

/* Kill what closed TCP relays hold, on every worker. */
void
relay_kill_dying(struct workers *ws)
{
	unsigned int	i;

	for (i = 0; i < workers_count(ws); i++)
		workers_call(ws, i, relay_kill_dying_cb, NULL);
}
