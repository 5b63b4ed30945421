/*
 * test_svcfile.c: the services file watcher, live on a temporary
 * directory: loads, replacements, broken files, reloads.
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "model.h"
#include "svcfile.h"
#include "tu.h"

/* The live test's observer. */
struct live {
	struct event_base	*base;
	struct model		*model;
	int			 svc_calls;
	int			 ep_calls;
	const char		*want_ip;	/* stop when web has this IP */
};

/* Count a services_changed call. */
static void
live_services(void *arg)
{
	((struct live *)arg)->svc_calls++;
}

/* Count an endpoints_changed call. */
static void
live_endpoints(void *arg, const char *ns, const char *name)
{
	((struct live *)arg)->ep_calls++;
}

/* Return 1 if the model's default/web has the wanted cluster IP. */
static int
live_done(struct live *l)
{
	const struct model_service	*s;

	s = model_get_service(l->model, "default", "web");
	return (s != NULL && l->want_ip != NULL &&
	    strcmp(s->cluster_ip, l->want_ip) == 0);
}

/* Check the condition every 20 ms; stop the loop when it holds. */
static void
live_tick(evutil_socket_t fd, short what, void *arg)
{
	struct live	*l = arg;

	if (live_done(l))
		event_base_loopbreak(l->base);
}

/* Run the loop until live_done or ms milliseconds passed. */
static int
live_run(struct live *l, int ms)
{
	struct event	*tick;
	struct timeval	 tv = { 0, 20000 }, lim;

	lim.tv_sec = ms / 1000;
	lim.tv_usec = (ms % 1000) * 1000;
	tick = event_new(l->base, -1, EV_PERSIST, live_tick, l);
	event_add(tick, &tv);
	event_base_loopexit(l->base, &lim);
	event_base_dispatch(l->base);
	event_free(tick);
	return (live_done(l));
}

/* Write content to path via a temporary file and rename(). */
static void
write_rename(const char *dir, const char *path, const char *content)
{
	char	tmp[512];
	FILE	*f;

	snprintf(tmp, sizeof(tmp), "%s/.tmp-services", dir);
	f = fopen(tmp, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs(content, f);
	CU_ASSERT_FATAL(fclose(f) == 0);
	CU_ASSERT_FATAL(rename(tmp, path) == 0);
}

/* Overwrite path in place. */
static void
write_inplace(const char *path, const char *content)
{
	FILE	*f = fopen(path, "w");

	CU_ASSERT_FATAL(f != NULL);
	fputs(content, f);
	CU_ASSERT_FATAL(fclose(f) == 0);
}

#define LIVE_SVC(ip)							\
	"apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"	\
	"spec:\n  clusterIP: " ip "\n  ports: [{name: http, port: 80}]\n" \
	"---\napiVersion: v1\nkind: Endpoints\nmetadata: {name: web}\n" \
	"subsets: [{addresses: [{ip: 127.0.0.1}], ports: [{name: http, " \
	"port: 8080}]}]\n"

/* The file is watched: changes land, broken files change nothing. */
static void
test_svcfile_live(void)
{
	struct model_observer	 obs;
	struct live		 l;
	struct svcfile		*sf;
	char			 dir[] = "/tmp/kuproxy-svcfile-XXXXXX";
	char			 path[512];
	int			 svc, ep;

	log_init(0);
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/services.yaml", dir);
	memset(&l, 0, sizeof(l));
	l.base = event_base_new();
	l.model = model_new();
	CU_ASSERT_FATAL(l.base != NULL);
	memset(&obs, 0, sizeof(obs));
	obs.services_changed = live_services;
	obs.endpoints_changed = live_endpoints;
	obs.arg = &l;
	model_set_observer(l.model, &obs);

	/* Missing at start: empty and unsynced, then it appears. */
	sf = svcfile_new(l.base, path, l.model);
	CU_ASSERT_FATAL(sf != NULL);
	CU_ASSERT(!model_is_synced(l.model));
	CU_ASSERT(model_nservices(l.model) == 0);
	write_rename(dir, path, LIVE_SVC("10.0.0.1"));
	l.want_ip = "10.0.0.1";
	CU_ASSERT(live_run(&l, 3000));
	CU_ASSERT(model_is_synced(l.model));
	CU_ASSERT(model_get_endpoints(l.model, "default", "web") != NULL);
	CU_ASSERT(l.ep_calls == 1);

	/* Replaced by rename: the new content is in within bounds. */
	write_rename(dir, path, LIVE_SVC("10.0.0.2"));
	l.want_ip = "10.0.0.2";
	CU_ASSERT(live_run(&l, 3000));

	/* Rewritten in place. */
	write_inplace(path, LIVE_SVC("10.0.0.3"));
	l.want_ip = "10.0.0.3";
	CU_ASSERT(live_run(&l, 3000));

	/* A broken file: nothing changes, nobody is told. */
	svc = l.svc_calls;
	ep = l.ep_calls;
	write_rename(dir, path, LIVE_SVC("10.0.0.4") "  - bad: [\n");
	l.want_ip = NULL;
	live_run(&l, 500);
	CU_ASSERT(l.svc_calls == svc && l.ep_calls == ep);
	CU_ASSERT_STRING_EQUAL(model_get_service(l.model, "default",
	    "web")->cluster_ip, "10.0.0.3");
	CU_ASSERT(svcfile_reload(sf) == -1);

	/* The same content again: loaded, but no observer calls. */
	write_rename(dir, path, LIVE_SVC("10.0.0.3"));
	live_run(&l, 500);
	CU_ASSERT(svcfile_reload(sf) == 0);
	CU_ASSERT(l.svc_calls == svc && l.ep_calls == ep);

	svcfile_free(sf);
	model_free(l.model);
	event_base_free(l.base);
	unlink(path);
	CU_ASSERT(rmdir(dir) == 0);
}
static const struct tu_case cases[] = {
	{ "live watch", test_svcfile_live },
	{ NULL, NULL }
};

TU_MAIN("svcfile", cases)
