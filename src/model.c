/*
 * model.c: the desired state, Services and Endpoints keyed by
 * "namespace/name" (a namespace cannot contain '/', so keys are unique).
 *
 * The observer hears only of real differences.  An update with an equal
 * object keeps the stored one and frees the new one, so an unchanged
 * object keeps its address across re-lists and services file reloads.
 * Notifications are sent after the tables are consistent, so an observer
 * may read the model from inside its callback.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "log.h"
#include "model.h"
#include "strv.h"
#include "xmalloc.h"

struct model {
	struct htab		*svcs;	/* "ns/name" -> model_service */
	struct htab		*eps;	/* "ns/name" -> model_endpoints */
	int			 synced;	/* MODEL_F_* */
	struct model_observer	 obs;
};

/* Build the table key "ns/name"; the caller frees it. */
static char *
model_key(const char *ns, const char *name, size_t *len)
{
	char	*k;
	int	 n;

	n = xasprintf(&k, "%s/%s", ns, name);
	*len = (size_t)n;
	return (k);
}

/* Store val under key, or die: the model is filled at config time. */
static void *
model_put(struct htab *h, const char *ns, const char *name, void *val)
{
	void	*old;
	char	*k;
	size_t	 len;

	k = model_key(ns, name, &len);
	if (htab_put(h, k, len, val, &old) == -1)
		fatalx("model: out of memory");
	free(k);
	return (old);
}

/* Look up ns/name in a table. */
static void *
model_lookup(const struct htab *h, const char *ns, const char *name)
{
	void	*v;
	char	*k;
	size_t	 len;

	k = model_key(ns, name, &len);
	v = htab_get(h, k, len);
	free(k);
	return (v);
}

/* Remove ns/name from a table; return the value or NULL. */
static void *
model_remove(struct htab *h, const char *ns, const char *name)
{
	void	*v;
	char	*k;
	size_t	 len;

	k = model_key(ns, name, &len);
	v = htab_del(h, k, len);
	free(k);
	return (v);
}

/* Create an empty model. */
struct model *
model_new(void)
{
	struct model	*m;

	m = xcalloc(1, sizeof(*m));
	if ((m->svcs = htab_new()) == NULL || (m->eps = htab_new()) == NULL)
		fatalx("model: out of memory");
	return (m);
}

/* Free a Service (htab callback signature). */
static void
model_service_free_cb(void *v)
{
	model_service_free(v);
}

/* Free an Endpoints (htab callback signature). */
static void
model_endpoints_free_cb(void *v)
{
	model_endpoints_free(v);
}

/* Free the model and everything in it. */
void
model_free(struct model *m)
{
	if (m == NULL)
		return;
	htab_free(m->svcs, model_service_free_cb);
	htab_free(m->eps, model_endpoints_free_cb);
	free(m);
}

/* Set or clear the observer. */
void
model_set_observer(struct model *m, const struct model_observer *obs)
{
	if (obs == NULL)
		memset(&m->obs, 0, sizeof(m->obs));
	else
		m->obs = *obs;
}

/* Tell the observer that Services changed. */
static void
model_notify_services(struct model *m)
{
	if (m->obs.services_changed != NULL)
		m->obs.services_changed(m->obs.arg);
}

/* Tell the observer that the Endpoints of ns/name changed. */
static void
model_notify_endpoints(struct model *m, const char *ns, const char *name)
{
	if (m->obs.endpoints_changed != NULL)
		m->obs.endpoints_changed(m->obs.arg, ns, name);
}

/* Announce Services a source is likely to send (a batch being parsed). */
void
model_stage_services(struct model *m, const struct model_service *const *svcs,
    size_t n)
{
	if (n > 0 && m->obs.services_staged != NULL)
		m->obs.services_staged(m->obs.arg, svcs, n);
}

/* The staged batch is over, taken or rejected. */
void
model_stage_end(struct model *m)
{
	if (m->obs.stage_end != NULL)
		m->obs.stage_end(m->obs.arg);
}

/* Add or replace one Service. */
void
model_update_service(struct model *m, struct model_service *ms)
{
	struct model_service	*old;

	old = model_lookup(m->svcs, ms->ns, ms->name);
	if (old != NULL && model_service_equal(old, ms)) {
		model_service_free(ms);
		return;
	}
	old = model_put(m->svcs, ms->ns, ms->name, ms);
	model_service_free(old);
	model_notify_services(m);
}

/* Add or replace one Endpoints. */
void
model_update_endpoints(struct model *m, struct model_endpoints *me)
{
	struct model_endpoints	*old;

	old = model_lookup(m->eps, me->ns, me->name);
	if (old != NULL && model_endpoints_equal(old, me)) {
		model_endpoints_free(me);
		return;
	}
	old = model_put(m->eps, me->ns, me->name, me);
	model_endpoints_free(old);
	model_notify_endpoints(m, me->ns, me->name);
}

/* Remove one Service. */
void
model_delete_service(struct model *m, const char *ns, const char *name)
{
	struct model_service	*old;

	if ((old = model_remove(m->svcs, ns, name)) == NULL)
		return;
	model_notify_services(m);
	model_service_free(old);
}

/* Remove one Endpoints; ns and name may belong to the stored object. */
void
model_delete_endpoints(struct model *m, const char *ns, const char *name)
{
	struct model_endpoints	*old;

	if ((old = model_remove(m->eps, ns, name)) == NULL)
		return;
	model_notify_endpoints(m, ns, name);
	model_endpoints_free(old);
}

/*
 * Move the new Services into a fresh table, keeping stored objects that
 * are equal; return 1 if anything was added, changed or removed.
 */
static int
model_swap_services(struct model *m, struct model_service **svcs, size_t n)
{
	struct htab		*nt;
	struct model_service	*old, *cur;
	size_t			 i, kept = 0;
	int			 changed = 0;

	if ((nt = htab_new()) == NULL)
		fatalx("model: out of memory");
	for (i = 0; i < n; i++) {
		cur = svcs[i];
		old = model_remove(m->svcs, cur->ns, cur->name);
		if (old != NULL && model_service_equal(old, cur)) {
			model_service_free(cur);
			cur = old;
			kept++;
		} else {
			model_service_free(old);
			changed = 1;
		}
		/* A duplicate in the input: the last one wins. */
		if ((old = model_put(nt, cur->ns, cur->name, cur)) != NULL) {
			model_service_free(old);
			changed = 1;
		}
	}
	if (htab_count(m->svcs) > 0)
		changed = 1;	/* what is left was removed */
	htab_free(m->svcs, model_service_free_cb);
	m->svcs = nt;
	return (changed);
}

/* A pending endpoints_changed call. */
struct model_epnote {
	char	*ns;
	char	*name;
};

/* Queue an endpoints_changed call for ns/name. */
static void
model_note_add(struct model_epnote **notes, size_t *n, const char *ns,
    const char *name)
{
	*notes = xreallocarray(*notes, *n + 1, sizeof(**notes));
	(*notes)[*n].ns = xstrdup(ns);
	(*notes)[*n].name = xstrdup(name);
	(*n)++;
}

/*
 * Move the new Endpoints into a fresh table, keeping equal stored ones;
 * queue a note for every ns/name added, changed or removed.
 */
static void
model_swap_endpoints(struct model *m, struct model_endpoints **eps,
    size_t n, struct model_epnote **notes, size_t *nnotes)
{
	struct htab		*nt;
	struct model_endpoints	*old, *cur;
	struct htab_iter	 it;
	void			*v;
	size_t			 i;

	if ((nt = htab_new()) == NULL)
		fatalx("model: out of memory");
	for (i = 0; i < n; i++) {
		cur = eps[i];
		old = model_remove(m->eps, cur->ns, cur->name);
		if (old != NULL && model_endpoints_equal(old, cur)) {
			model_endpoints_free(cur);
			cur = old;
		} else {
			model_endpoints_free(old);
			model_note_add(notes, nnotes, cur->ns, cur->name);
		}
		if ((old = model_put(nt, cur->ns, cur->name, cur)) != NULL)
			model_endpoints_free(old);
	}
	htab_iter_init(m->eps, &it);
	while (htab_iter_next(&it, NULL, NULL, &v)) {
		old = v;
		model_note_add(notes, nnotes, old->ns, old->name);
	}
	htab_free(m->eps, model_endpoints_free_cb);
	m->eps = nt;
}

/* Tell the queued endpoints_changed calls, once per name, and free them. */
static void
model_notes_send(struct model *m, struct model_epnote *notes, size_t nnotes)
{
	struct htab	*told;
	size_t		 i;

	/* A name given twice in the input may be queued twice; tell once. */
	if ((told = htab_new()) == NULL)
		fatalx("model: out of memory");
	for (i = 0; i < nnotes; i++) {
		if (model_lookup(told, notes[i].ns, notes[i].name) != NULL)
			continue;
		model_put(told, notes[i].ns, notes[i].name, &notes[i]);
		model_notify_endpoints(m, notes[i].ns, notes[i].name);
	}
	htab_free(told, NULL);
	for (i = 0; i < nnotes; i++) {
		free(notes[i].ns);
		free(notes[i].name);
	}
	free(notes);
}

/*
 * Replace the whole content.  Both tables are swapped before anyone is
 * told, so an observer reading the model sees Services and Endpoints
 * from the same load.
 */
void
model_replace(struct model *m, struct model_service **svcs, size_t nsvcs,
    struct model_endpoints **eps, size_t neps)
{
	struct model_epnote	*notes = NULL;
	size_t			 nnotes = 0;
	int			 changed;

	changed = model_swap_services(m, svcs, nsvcs);
	model_swap_endpoints(m, eps, neps, &notes, &nnotes);
	if (changed)
		model_notify_services(m);
	model_notes_send(m, notes, nnotes);
}

/* Replace every Service, leaving Endpoints alone. */
void
model_replace_services(struct model *m, struct model_service **svcs,
    size_t n)
{
	if (model_swap_services(m, svcs, n))
		model_notify_services(m);
}

/* Replace every Endpoints, leaving Services alone. */
void
model_replace_endpoints(struct model *m, struct model_endpoints **eps,
    size_t n)
{
	struct model_epnote	*notes = NULL;
	size_t			 nnotes = 0;

	model_swap_endpoints(m, eps, n, &notes, &nnotes);
	model_notes_send(m, notes, nnotes);
}

/* Mark kinds as synced; only a change of state is worth a call. */
void
model_set_synced(struct model *m, int what)
{
	int	before = m->synced;

	m->synced |= what & (MODEL_F_SERVICES | MODEL_F_ENDPOINTS);
	if (m->synced != before)
		model_notify_services(m);
}

/* Return 1 when both kinds are synced. */
int
model_is_synced(const struct model *m)
{
	return ((m->synced & (MODEL_F_SERVICES | MODEL_F_ENDPOINTS)) ==
	    (MODEL_F_SERVICES | MODEL_F_ENDPOINTS));
}

/* Look up a Service. */
const struct model_service *
model_get_service(const struct model *m, const char *ns, const char *name)
{
	return (model_lookup(m->svcs, ns, name));
}

/* Look up an Endpoints. */
const struct model_endpoints *
model_get_endpoints(const struct model *m, const char *ns, const char *name)
{
	return (model_lookup(m->eps, ns, name));
}

/* Call cb on every Service. */
void
model_foreach_service(const struct model *m,
    void (*cb)(const struct model_service *, void *), void *arg)
{
	struct htab_iter	 it;
	void			*v;

	htab_iter_init(m->svcs, &it);
	while (htab_iter_next(&it, NULL, NULL, &v))
		cb(v, arg);
}

/* Return the number of Services. */
size_t
model_nservices(const struct model *m)
{
	return (htab_count(m->svcs));
}

/* Compare two strings, either of which may be NULL. */
static int
model_str_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a == b);
	return (strcmp(a, b) == 0);
}

/* Deep comparison of Services, ignoring the line. */
int
model_service_equal(const struct model_service *a,
    const struct model_service *b)
{
	size_t	i;

	if (!model_str_equal(a->ns, b->ns) ||
	    !model_str_equal(a->name, b->name) ||
	    !model_str_equal(a->cluster_ip, b->cluster_ip) ||
	    a->affinity != b->affinity ||
	    a->affinity_ttl != b->affinity_ttl || a->nports != b->nports ||
	    !strv_equal(a->external_ips, a->n_external_ips,
	    b->external_ips, b->n_external_ips) ||
	    !strv_equal(a->lb_ips, a->n_lb_ips, b->lb_ips, b->n_lb_ips))
		return (0);
	for (i = 0; i < a->nports; i++) {
		if (!model_str_equal(a->ports[i].name, b->ports[i].name) ||
		    a->ports[i].proto != b->ports[i].proto ||
		    a->ports[i].port != b->ports[i].port ||
		    a->ports[i].node_port != b->ports[i].node_port)
			return (0);
	}
	return (1);
}

/* Deep comparison of Endpoints (order matters), ignoring the line. */
int
model_endpoints_equal(const struct model_endpoints *a,
    const struct model_endpoints *b)
{
	const struct model_epset	*x, *y;
	size_t				 i, j;

	if (!model_str_equal(a->ns, b->ns) ||
	    !model_str_equal(a->name, b->name) || a->nsets != b->nsets)
		return (0);
	for (i = 0; i < a->nsets; i++) {
		x = &a->sets[i];
		y = &b->sets[i];
		if (!model_str_equal(x->port_name, y->port_name) ||
		    x->n != y->n)
			return (0);
		for (j = 0; j < x->n; j++)
			if (!model_str_equal(x->eps[j].ip, y->eps[j].ip) ||
			    x->eps[j].port != y->eps[j].port)
				return (0);
	}
	return (1);
}

/* Return the set of one port name, or NULL. */
const struct model_epset *
model_endpoints_port(const struct model_endpoints *me, const char *port_name)
{
	size_t	i;

	for (i = 0; i < me->nsets; i++)
		if (model_str_equal(me->sets[i].port_name, port_name))
			return (&me->sets[i]);
	return (NULL);
}

/* Free a Service and everything it owns; NULL is ignored. */
void
model_service_free(struct model_service *ms)
{
	size_t	i;

	if (ms == NULL)
		return;
	free(ms->ns);
	free(ms->name);
	free(ms->cluster_ip);
	strv_free(ms->external_ips, ms->n_external_ips);
	strv_free(ms->lb_ips, ms->n_lb_ips);
	for (i = 0; i < ms->nports; i++)
		free(ms->ports[i].name);
	free(ms->ports);
	free(ms);
}

/* Free an Endpoints and everything it owns; NULL is ignored. */
void
model_endpoints_free(struct model_endpoints *me)
{
	size_t	i, j;

	if (me == NULL)
		return;
	free(me->ns);
	free(me->name);
	for (i = 0; i < me->nsets; i++) {
		for (j = 0; j < me->sets[i].n; j++)
			free(me->sets[i].eps[j].ip);
		free(me->sets[i].eps);
		free(me->sets[i].port_name);
	}
	free(me->sets);
	free(me);
}
