/*
 * test_model.c: the model store and its change notifications.
 */
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "xmalloc.h"
#include "tu.h"

/* What the test observer has heard. */
struct counts {
	int	svc;
	int	ep;
	char	ep_names[16][64];	/* "ns/name" per endpoints call */
	struct model *m;
	int	seen_in_cb;		/* lookups from inside a callback */
};

/* Count a services_changed call. */
static void
on_services(void *arg)
{
	struct counts	*c = arg;

	c->svc++;
}

/* Count an endpoints_changed call and check the model is readable. */
static void
on_endpoints(void *arg, const char *ns, const char *name)
{
	struct counts	*c = arg;

	if (c->ep < 16)
		snprintf(c->ep_names[c->ep], sizeof(c->ep_names[0]), "%s/%s",
		    ns, name);
	c->ep++;
	if (model_get_endpoints(c->m, ns, name) != NULL)
		c->seen_in_cb++;
}

/* Return 1 if ns/name was among the endpoints calls. */
static int
heard(const struct counts *c, const char *key)
{
	int	i;

	for (i = 0; i < c->ep && i < 16; i++)
		if (strcmp(c->ep_names[i], key) == 0)
			return (1);
	return (0);
}

/* Make a model with a counting observer. */
static struct model *
setup(struct counts *c)
{
	struct model_observer	obs;
	struct model		*m;

	memset(c, 0, sizeof(*c));
	m = model_new();
	c->m = m;
	memset(&obs, 0, sizeof(obs));
	obs.services_changed = on_services;
	obs.endpoints_changed = on_endpoints;
	obs.arg = c;
	model_set_observer(m, &obs);
	return (m);
}

/* Build a one-port Service. */
static struct model_service *
mk_svc(const char *ns, const char *name, const char *ip, int port)
{
	struct model_service	*s;

	s = xcalloc(1, sizeof(*s));
	s->ns = xstrdup(ns);
	s->name = xstrdup(name);
	s->cluster_ip = xstrdup(ip);
	s->affinity_ttl = 10800;
	s->ports = xcalloc(1, sizeof(*s->ports));
	s->ports[0].name = xstrdup("http");
	s->ports[0].proto = IPPROTO_TCP;
	s->ports[0].port = (uint16_t)port;
	s->nports = 1;
	s->line = port;		/* lines differ; equality ignores them */
	return (s);
}

/* Build an Endpoints with one set "http" of n endpoints. */
static struct model_endpoints *
mk_eps(const char *ns, const char *name, int n, int port)
{
	struct model_endpoints	*e;
	char			 ip[32];
	int			 i;

	e = xcalloc(1, sizeof(*e));
	e->ns = xstrdup(ns);
	e->name = xstrdup(name);
	e->sets = xcalloc(1, sizeof(*e->sets));
	e->nsets = 1;
	e->sets[0].port_name = xstrdup("http");
	e->sets[0].eps = xcalloc(n > 0 ? n : 1, sizeof(*e->sets[0].eps));
	for (i = 0; i < n; i++) {
		snprintf(ip, sizeof(ip), "10.1.0.%d", i + 1);
		e->sets[0].eps[i].ip = xstrdup(ip);
		e->sets[0].eps[i].port = (uint16_t)port;
	}
	e->sets[0].n = (size_t)n;
	return (e);
}

/* Service add, equal update, changed update and delete. */
static void
test_model_service_updates(void)
{
	struct counts			 c;
	struct model			*m = setup(&c);
	const struct model_service	*s;

	model_update_service(m, mk_svc("a", "web", "10.0.0.1", 80));
	CU_ASSERT(c.svc == 1);
	CU_ASSERT(model_nservices(m) == 1);
	s = model_get_service(m, "a", "web");
	CU_ASSERT_FATAL(s != NULL);
	CU_ASSERT(s->ports[0].port == 80);
	/* Equal (only the line differs): no call, stored object kept. */
	model_update_service(m, mk_svc("a", "web", "10.0.0.1", 80));
	CU_ASSERT(c.svc == 1);
	CU_ASSERT(model_get_service(m, "a", "web") == s);
	model_update_service(m, mk_svc("a", "web", "10.0.0.1", 81));
	CU_ASSERT(c.svc == 2);
	CU_ASSERT(model_get_service(m, "a", "web")->ports[0].port == 81);
	/* Same name in another namespace is another object. */
	model_update_service(m, mk_svc("b", "web", "10.0.0.2", 80));
	CU_ASSERT(c.svc == 3);
	CU_ASSERT(model_nservices(m) == 2);
	model_delete_service(m, "a", "web");
	CU_ASSERT(c.svc == 4);
	CU_ASSERT(model_get_service(m, "a", "web") == NULL);
	model_delete_service(m, "a", "web");
	CU_ASSERT(c.svc == 4);
	CU_ASSERT(model_get_service(m, "b", "web") != NULL);
	CU_ASSERT(c.ep == 0);
	model_free(m);
}

/* Endpoints notifications name the object. */
static void
test_model_endpoints_updates(void)
{
	struct counts			 c;
	struct model			*m = setup(&c);
	const struct model_endpoints	*e;
	const struct model_epset	*set;

	model_update_endpoints(m, mk_eps("a", "web", 2, 8080));
	CU_ASSERT(c.ep == 1);
	CU_ASSERT_STRING_EQUAL(c.ep_names[0], "a/web");
	CU_ASSERT(c.seen_in_cb == 1);
	model_update_endpoints(m, mk_eps("a", "web", 2, 8080));
	CU_ASSERT(c.ep == 1);
	model_update_endpoints(m, mk_eps("a", "web", 3, 8080));
	CU_ASSERT(c.ep == 2);
	e = model_get_endpoints(m, "a", "web");
	CU_ASSERT_FATAL(e != NULL);
	set = model_endpoints_port(e, "http");
	CU_ASSERT_FATAL(set != NULL);
	CU_ASSERT(set->n == 3);
	CU_ASSERT(model_endpoints_port(e, "other") == NULL);
	/* Deleting with the stored object's own strings is safe. */
	model_delete_endpoints(m, e->ns, e->name);
	CU_ASSERT(c.ep == 3);
	CU_ASSERT_STRING_EQUAL(c.ep_names[2], "a/web");
	CU_ASSERT(model_get_endpoints(m, "a", "web") == NULL);
	model_delete_endpoints(m, "a", "web");
	CU_ASSERT(c.ep == 3);
	CU_ASSERT(c.svc == 0);
	model_free(m);
}

/* Deep equality looks at every field but the line. */
static void
test_model_equality(void)
{
	struct model_service	*a, *b;
	struct model_endpoints	*x, *y;

	a = mk_svc("n", "s", "10.0.0.1", 80);
	b = mk_svc("n", "s", "10.0.0.1", 80);
	b->line = 99;
	CU_ASSERT(model_service_equal(a, b));
	b->ports[0].node_port = 30000;
	CU_ASSERT(!model_service_equal(a, b));
	b->ports[0].node_port = 0;
	b->ports[0].proto = IPPROTO_UDP;
	CU_ASSERT(!model_service_equal(a, b));
	b->ports[0].proto = IPPROTO_TCP;
	b->affinity = MODEL_AFFINITY_CLIENTIP;
	CU_ASSERT(!model_service_equal(a, b));
	b->affinity = MODEL_AFFINITY_NONE;
	b->external_ips = xcalloc(1, sizeof(char *));
	b->external_ips[0] = xstrdup("1.2.3.4");
	b->n_external_ips = 1;
	CU_ASSERT(!model_service_equal(a, b));
	a->external_ips = xcalloc(1, sizeof(char *));
	a->external_ips[0] = xstrdup("1.2.3.4");
	a->n_external_ips = 1;
	CU_ASSERT(model_service_equal(a, b));
	model_service_free(a);
	model_service_free(b);

	x = mk_eps("n", "s", 2, 80);
	y = mk_eps("n", "s", 2, 80);
	CU_ASSERT(model_endpoints_equal(x, y));
	y->sets[0].eps[1].port = 81;
	CU_ASSERT(!model_endpoints_equal(x, y));
	model_endpoints_free(y);
	y = mk_eps("n", "s", 2, 80);
	free(y->sets[0].port_name);
	y->sets[0].port_name = xstrdup("https");
	CU_ASSERT(!model_endpoints_equal(x, y));
	model_endpoints_free(x);
	model_endpoints_free(y);
}

/* Replace: one services call for any change, one per changed Endpoints. */
static void
test_model_replace(void)
{
	struct counts			 c;
	struct model			*m = setup(&c);
	struct model_service		*sv[3];
	struct model_endpoints		*ev[3];
	const struct model_service	*keep;

	sv[0] = mk_svc("a", "one", "10.0.0.1", 80);
	sv[1] = mk_svc("a", "two", "10.0.0.2", 80);
	ev[0] = mk_eps("a", "one", 1, 8080);
	ev[1] = mk_eps("a", "two", 2, 8080);
	model_replace(m, sv, 2, ev, 2);
	CU_ASSERT(c.svc == 1);
	CU_ASSERT(c.ep == 2);
	CU_ASSERT(heard(&c, "a/one") && heard(&c, "a/two"));
	CU_ASSERT(c.seen_in_cb == 2);
	keep = model_get_service(m, "a", "one");

	/* The same content again: silence, and objects keep their address. */
	c.svc = c.ep = c.seen_in_cb = 0;
	sv[0] = mk_svc("a", "one", "10.0.0.1", 80);
	sv[1] = mk_svc("a", "two", "10.0.0.2", 80);
	ev[0] = mk_eps("a", "one", 1, 8080);
	ev[1] = mk_eps("a", "two", 2, 8080);
	model_replace(m, sv, 2, ev, 2);
	CU_ASSERT(c.svc == 0);
	CU_ASSERT(c.ep == 0);
	CU_ASSERT(model_get_service(m, "a", "one") == keep);

	/* two changes, one goes away, three arrives; Endpoints likewise. */
	c.svc = c.ep = 0;
	sv[0] = mk_svc("a", "one", "10.0.0.1", 80);
	sv[1] = mk_svc("a", "three", "10.0.0.3", 80);
	ev[0] = mk_eps("a", "one", 1, 8080);
	ev[1] = mk_eps("a", "three", 1, 8080);
	ev[2] = mk_eps("a", "two", 1, 8080);
	model_replace(m, sv, 2, ev, 3);
	CU_ASSERT(c.svc == 1);
	CU_ASSERT(c.ep == 2);
	CU_ASSERT(heard(&c, "a/three") && heard(&c, "a/two"));
	CU_ASSERT(!heard(&c, "a/one"));
	CU_ASSERT(model_nservices(m) == 2);
	CU_ASSERT(model_get_service(m, "a", "two") == NULL);

	/* Only a removal is still a change. */
	c.svc = c.ep = 0;
	sv[0] = mk_svc("a", "one", "10.0.0.1", 80);
	ev[0] = mk_eps("a", "one", 1, 8080);
	model_replace(m, sv, 1, ev, 1);
	CU_ASSERT(c.svc == 1);
	CU_ASSERT(c.ep == 2);
	CU_ASSERT(heard(&c, "a/three") && heard(&c, "a/two"));
	CU_ASSERT(model_get_endpoints(m, "a", "two") == NULL);

	/* Empty content removes everything. */
	c.svc = c.ep = 0;
	model_replace(m, NULL, 0, NULL, 0);
	CU_ASSERT(c.svc == 1 && c.ep == 1);
	CU_ASSERT(model_nservices(m) == 0);
	model_free(m);
}

/* Replacing Services only: Endpoints stay, silence when equal. */
static void
test_model_replace_services(void)
{
	struct counts			 c;
	struct model			*m = setup(&c);
	struct model_service		*sv[3];
	struct model_endpoints		*ev[2];
	const struct model_service	*keep;
	const struct model_endpoints	*ekeep;

	sv[0] = mk_svc("a", "one", "10.0.0.1", 80);
	sv[1] = mk_svc("a", "two", "10.0.0.2", 80);
	ev[0] = mk_eps("a", "one", 1, 8080);
	ev[1] = mk_eps("a", "two", 2, 8080);
	model_replace(m, sv, 2, ev, 2);
	keep = model_get_service(m, "a", "one");
	ekeep = model_get_endpoints(m, "a", "one");

	/* Equal content: no call, stored objects kept. */
	c.svc = c.ep = 0;
	sv[0] = mk_svc("a", "two", "10.0.0.2", 80);
	sv[1] = mk_svc("a", "one", "10.0.0.1", 80);
	model_replace_services(m, sv, 2);
	CU_ASSERT(c.svc == 0 && c.ep == 0);
	CU_ASSERT(model_get_service(m, "a", "one") == keep);

	/* One changed, one removed, one added: one call, Endpoints kept. */
	sv[0] = mk_svc("a", "one", "10.0.0.1", 80);
	sv[1] = mk_svc("a", "three", "10.0.0.3", 80);
	sv[2] = mk_svc("b", "one", "10.0.0.4", 443);
	model_replace_services(m, sv, 3);
	CU_ASSERT(c.svc == 1 && c.ep == 0);
	CU_ASSERT(model_nservices(m) == 3);
	CU_ASSERT(model_get_service(m, "a", "one") == keep);
	CU_ASSERT(model_get_service(m, "a", "two") == NULL);
	CU_ASSERT(model_get_service(m, "b", "one")->ports[0].port == 443);
	CU_ASSERT(model_get_endpoints(m, "a", "two") != NULL);
	CU_ASSERT(model_get_endpoints(m, "a", "one") == ekeep);

	/* A change of one field only is still heard. */
	c.svc = 0;
	sv[0] = mk_svc("a", "one", "10.0.0.1", 81);
	sv[1] = mk_svc("a", "three", "10.0.0.3", 80);
	sv[2] = mk_svc("b", "one", "10.0.0.4", 443);
	model_replace_services(m, sv, 3);
	CU_ASSERT(c.svc == 1);
	CU_ASSERT(model_get_service(m, "a", "one")->ports[0].port == 81);

	/* Empty list: every Service goes, Endpoints stay. */
	c.svc = 0;
	model_replace_services(m, NULL, 0);
	CU_ASSERT(c.svc == 1 && c.ep == 0);
	CU_ASSERT(model_nservices(m) == 0);
	CU_ASSERT(model_get_endpoints(m, "a", "one") == ekeep);
	model_replace_services(m, NULL, 0);
	CU_ASSERT(c.svc == 1);
	model_free(m);
}

/* Replacing Endpoints only: one call per real difference, by name. */
static void
test_model_replace_endpoints(void)
{
	struct counts			 c;
	struct model			*m = setup(&c);
	struct model_service		*sv[1];
	struct model_endpoints		*ev[4];
	const struct model_service	*skeep;
	const struct model_endpoints	*keep;

	sv[0] = mk_svc("a", "one", "10.0.0.1", 80);
	ev[0] = mk_eps("a", "one", 1, 8080);
	ev[1] = mk_eps("a", "two", 2, 8080);
	ev[2] = mk_eps("a", "three", 3, 8080);
	model_replace(m, sv, 1, ev, 3);
	skeep = model_get_service(m, "a", "one");
	keep = model_get_endpoints(m, "a", "one");

	/* Equal content in another order: silence. */
	c.svc = c.ep = 0;
	ev[0] = mk_eps("a", "three", 3, 8080);
	ev[1] = mk_eps("a", "one", 1, 8080);
	ev[2] = mk_eps("a", "two", 2, 8080);
	model_replace_endpoints(m, ev, 3);
	CU_ASSERT(c.svc == 0 && c.ep == 0);
	CU_ASSERT(model_get_endpoints(m, "a", "one") == keep);

	/*
	 * one equal, two changed, three removed, four added (twice: the
	 * last wins and it is told once).
	 */
	c.seen_in_cb = 0;
	ev[0] = mk_eps("a", "one", 1, 8080);
	ev[1] = mk_eps("a", "two", 2, 9090);
	ev[2] = mk_eps("a", "four", 1, 8080);
	ev[3] = mk_eps("a", "four", 4, 8080);
	model_replace_endpoints(m, ev, 4);
	CU_ASSERT(c.svc == 0);
	CU_ASSERT(c.ep == 3);
	CU_ASSERT(heard(&c, "a/two") && heard(&c, "a/three") &&
	    heard(&c, "a/four"));
	CU_ASSERT(!heard(&c, "a/one"));
	/* two and four were readable from the callback, three was gone. */
	CU_ASSERT(c.seen_in_cb == 2);
	CU_ASSERT(model_get_endpoints(m, "a", "one") == keep);
	CU_ASSERT(model_get_endpoints(m, "a", "two")->sets[0].eps[0].port ==
	    9090);
	CU_ASSERT(model_get_endpoints(m, "a", "three") == NULL);
	CU_ASSERT(model_get_endpoints(m, "a", "four")->sets[0].n == 4);
	CU_ASSERT(model_get_service(m, "a", "one") == skeep);

	/* Empty list: one call per name removed, Services stay. */
	c.ep = 0;
	model_replace_endpoints(m, NULL, 0);
	CU_ASSERT(c.ep == 3 && c.svc == 0);
	CU_ASSERT(model_get_endpoints(m, "a", "one") == NULL);
	CU_ASSERT(model_get_service(m, "a", "one") == skeep);
	model_free(m);
}

/* Synced needs both kinds, and only a change of state is told. */
static void
test_model_synced(void)
{
	struct counts	 c;
	struct model	*m = setup(&c);

	CU_ASSERT(!model_is_synced(m));
	model_set_synced(m, MODEL_F_SERVICES);
	CU_ASSERT(!model_is_synced(m));
	CU_ASSERT(c.svc == 1);
	model_set_synced(m, MODEL_F_ENDPOINTS);
	CU_ASSERT(model_is_synced(m));
	CU_ASSERT(c.svc == 2);
	model_set_synced(m, MODEL_F_SERVICES | MODEL_F_ENDPOINTS);
	CU_ASSERT(c.svc == 2);
	CU_ASSERT(model_is_synced(m));
	model_free(m);
}

/* Count Services with a port in the range the test made. */
static void
count_cb(const struct model_service *s, void *arg)
{
	size_t	*n = arg;

	if (s->ports[0].port >= 1000 && s->ports[0].port < 1100)
		(*n)++;
}

/* Iterating sees every Service; a cleared observer hears nothing. */
static void
test_model_foreach(void)
{
	struct counts	 c;
	struct model	*m = setup(&c);
	int		 i;
	char		 name[16];
	size_t		 n = 0;

	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		model_update_service(m, mk_svc("ns", name, "10.0.0.1",
		    1000 + i));
	}
	CU_ASSERT(c.svc == 100);
	model_foreach_service(m, count_cb, &n);
	CU_ASSERT(n == 100);
	model_set_observer(m, NULL);
	model_delete_service(m, "ns", "s1");
	CU_ASSERT(c.svc == 100);
	CU_ASSERT(model_nservices(m) == 99);
	model_free(m);
}

/* Staging calls, counted. */
static size_t	staged_n, staged_ends;

static void
on_staged(void *arg, const struct model_service *const *svcs, size_t n)
{
	struct counts	*c = arg;

	/* Nothing staged is in the model. */
	if (model_get_service(c->m, svcs[0]->ns, svcs[0]->name) == NULL)
		staged_n += n;
}

static void
on_stage_end(void *arg)
{
	staged_ends++;
}

/* Staging passes through to the observer; the model does not change. */
static void
test_model_stage(void)
{
	struct model_observer	 obs;
	struct model_service	*s[2];
	struct counts		 c;
	struct model		*m;

	m = setup(&c);
	s[0] = mk_svc("default", "a", "10.0.0.1", 80);
	s[1] = mk_svc("default", "b", "10.0.0.2", 80);
	/* Without the optional callbacks: nothing happens. */
	model_stage_services(m, (const struct model_service *const *)s, 2);
	model_stage_end(m);
	memset(&obs, 0, sizeof(obs));
	obs.services_changed = on_services;
	obs.endpoints_changed = on_endpoints;
	obs.services_staged = on_staged;
	obs.stage_end = on_stage_end;
	obs.arg = &c;
	model_set_observer(m, &obs);
	staged_n = staged_ends = 0;
	model_stage_services(m, (const struct model_service *const *)s, 2);
	model_stage_services(m, (const struct model_service *const *)s, 0);
	model_stage_end(m);
	CU_ASSERT_EQUAL(staged_n, 2);
	CU_ASSERT_EQUAL(staged_ends, 1);
	CU_ASSERT_EQUAL(model_nservices(m), 0);
	CU_ASSERT_EQUAL(c.svc, 0);
	model_service_free(s[0]);
	model_service_free(s[1]);
	model_free(m);
}

static const struct tu_case cases[] = {
	{ "service updates", test_model_service_updates },
	{ "staging", test_model_stage },
	{ "endpoints updates", test_model_endpoints_updates },
	{ "deep equality", test_model_equality },
	{ "replace diffing", test_model_replace },
	{ "replace services only", test_model_replace_services },
	{ "replace endpoints only", test_model_replace_endpoints },
	{ "synced", test_model_synced },
	{ "foreach", test_model_foreach },
	{ NULL, NULL }
};

TU_MAIN("model", cases)
