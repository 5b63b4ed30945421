/*
 * migrate.c: removing what kube-proxy's other modes left behind, in the
 * background at start-up or blocking for --cleanup.  See migrate.h.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <net/if.h>
#include <netinet/in.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec.h"
#include "ipt_modes.h"
#include "ipt_text.h"
#include "iptables.h"
#include "log.h"
#include "migrate.h"
#include "monotime.h"

/* The step a migration is at (see migrate.h). */
enum migrate_step {
	MIGRATE_SAVE_NAT = 0,	/* "iptables-save -t nat" runs */
	MIGRATE_SAVE_FILTER,	/* "iptables-save -t filter" runs */
	MIGRATE_SAVE_MANGLE,	/* "iptables-save -t mangle" runs */
	MIGRATE_RESTORE,	/* the restore that removes the chains */
	MIGRATE_IPSET_LIST,	/* "ipset list -n" */
	MIGRATE_IPSET_DESTROY,	/* "ipset restore" of "destroy" lines */
};

/* One family's start-up migration. */
struct migrate {
	struct event_base	*base;
	struct ipt		*ipt;
	int			 family;
	char			*ipset;		/* NULL: no ipset binary */
	void			(*done)(void *);
	void			*arg;
	enum migrate_step	 step;
	struct exec_job		*job;		/* the running command */
	const char		*argv[5];
	char			*save[3];	/* nat, filter, mangle */
	struct ipt_text		 input;		/* of the restore running */
	struct ipt_modes_found	 found;		/* chains removed */
	struct ipt_text		 sets;		/* ipsets destroyed */
	int			 link;		/* 1: kube-ipvs0 deleted */
	uint64_t		 start_ms;
};

static void	migrate_cb(int, struct exec_result *, void *);

/* Return the family's name for log lines. */
static const char *
migrate_fam(int family)
{
	return (family == AF_INET6 ? "IPv6" : "IPv4");
}

/* Find the ipset binary (see migrate.h). */
const char *
migrate_ipset_path(const char *iptables_path)
{
	static char	 buf[PATH_MAX];
	const char	*path = getenv("PATH"), *p, *fixed[] = {
			    "/usr/sbin/ipset", "/sbin/ipset", NULL };
	size_t		 n;
	int		 i;

	if (iptables_path != NULL &&
	    (p = strrchr(iptables_path, '/')) != NULL) {
		snprintf(buf, sizeof(buf), "%.*s/ipset",
		    (int)(p - iptables_path), iptables_path);
		if (access(buf, X_OK) == 0)
			return (buf);
	}
	for (p = path; p != NULL && *p != '\0'; p += n + (p[n] == ':')) {
		n = strcspn(p, ":");
		if (n == 0 || p[0] != '/')
			continue;
		snprintf(buf, sizeof(buf), "%.*s/ipset", (int)n, p);
		if (access(buf, X_OK) == 0)
			return (buf);
	}
	for (i = 0; fixed[i] != NULL; i++)
		if (access(fixed[i], X_OK) == 0) {
			snprintf(buf, sizeof(buf), "%s", fixed[i]);
			return (buf);
		}
	return (NULL);
}

/* Delete a network link by index with one RTM_DELLINK request. */
int
migrate_link_delete(const char *name, char *err, size_t errlen)
{
	struct {
		struct nlmsghdr		nh;
		struct ifinfomsg	ifi;
	}			 req;
	struct sockaddr_nl	 sa;
	struct timeval		 tv = { 5, 0 };
	struct nlmsgerr		*e;
	struct nlmsghdr		*nh;
	char			 buf[4096];
	unsigned int		 idx;
	ssize_t			 n;
	int			 fd, rv = -1;

	if ((idx = if_nametoindex(name)) == 0)
		return (0);
	if ((fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
	    NETLINK_ROUTE)) == -1) {
		snprintf(err, errlen, "link %s: netlink: %s", name,
		    strerror(errno));
		return (-1);
	}
	/* The kernel answers at once; bound the wait all the same. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifi));
	req.nh.nlmsg_type = RTM_DELLINK;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req.nh.nlmsg_seq = 1;
	req.ifi.ifi_family = AF_UNSPEC;
	req.ifi.ifi_index = (int)idx;
	if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&sa,
	    sizeof(sa)) == -1 || (n = recv(fd, buf, sizeof(buf), 0)) == -1) {
		snprintf(err, errlen, "link %s: netlink: %s", name,
		    strerror(errno));
		goto done;
	}
	nh = (struct nlmsghdr *)buf;
	if (!NLMSG_OK(nh, (size_t)n) || nh->nlmsg_type != NLMSG_ERROR ||
	    nh->nlmsg_len < NLMSG_LENGTH(sizeof(*e))) {
		snprintf(err, errlen, "link %s: unexpected netlink answer",
		    name);
		goto done;
	}
	e = NLMSG_DATA(nh);
	if (e->error == 0)
		rv = 1;
	else if (e->error == -ENODEV)
		rv = 0;		/* gone meanwhile */
	else
		snprintf(err, errlen, "link %s: cannot delete: %s", name,
		    strerror(-e->error));
done:
	close(fd);
	return (rv);
}

/* Release what a migration holds (not the struct). */
static void
migrate_clear(struct migrate *m)
{
	int	i;

	for (i = 0; i < 3; i++) {
		free(m->save[i]);
		m->save[i] = NULL;
	}
	ipt_text_free(&m->input);
	ipt_text_free(&m->sets);
	free(m->ipset);
	m->ipset = NULL;
}

/*
 * Log what was removed (by whom: "removed the leftovers of kube-proxy's
 * other modes", or for --cleanup "cleanup removed"), in one line;
 * nothing if nothing was.
 */
static void
migrate_log(int family, const char *who, const struct ipt_modes_found *f,
    int link, const struct ipt_text *sets, uint64_t ms)
{
	struct ipt_text	w;

	if (f->nchains + f->njumps == 0 && !link && sets->len == 0)
		return;
	memset(&w, 0, sizeof(w));
	ipt_puts(&w, f->what);
	if (f->njumps > 0)
		ipt_putf(&w, "%s%zu jump rules", w.len ? "; " : "",
		    f->njumps);
	if (link)
		ipt_putf(&w, "%slink %s", w.len ? "; " : "",
		    IPT_MODES_IPVS_LINK);
	if (sets->len > 0)
		ipt_putf(&w, "%sipsets %s", w.len ? "; " : "", sets->buf);
	log_info("%s: %s in %llu ms: %s", migrate_fam(family), who,
	    (unsigned long long)ms, w.buf != NULL ? w.buf : "(out of memory)");
	ipt_text_free(&w);
}

/* The migration is over (err: why it stopped early, or NULL). */
static void
migrate_finish(struct migrate *m, const char *err)
{
	void	(*done)(void *) = m->done;
	void	*arg = m->arg;

	migrate_log(m->family, "removed the leftovers of kube-proxy's other "
	    "modes", &m->found, m->link, &m->sets, monotime_ms() - m->start_ms);
	if (err != NULL)
		log_warnx("%s: leftovers of kube-proxy's other modes not "
		    "removed: %s", migrate_fam(m->family), err);
	migrate_clear(m);
	free(m);
	done(arg);
}

/* Start the command of the current step. */
static int
migrate_run(struct migrate *m, size_t outmax, int timeout_ms, char *err,
    size_t errlen)
{
	m->job = exec_start(m->base, m->argv, m->input.buf, m->input.len,
	    timeout_ms, outmax, migrate_cb, m, err, errlen);
	return (m->job == NULL ? -1 : 0);
}

/* Step 4: list the ipsets, if there is an ipset binary. */
static void
migrate_ipsets(struct migrate *m)
{
	char	err[IPT_ERRLEN];

	if (m->ipset == NULL) {
		migrate_finish(m, NULL);
		return;
	}
	ipt_text_free(&m->input);
	m->step = MIGRATE_IPSET_LIST;
	m->argv[0] = m->ipset;
	m->argv[1] = "list";
	m->argv[2] = "-n";
	m->argv[3] = NULL;
	if (migrate_run(m, IPT_READ_MAX, MIGRATE_IPSET_TIMEOUT_MS, err,
	    sizeof(err)) == -1)
		migrate_finish(m, err);
}

/* Step 3: the chains are gone: delete kube-ipvs0, then the ipsets. */
static void
migrate_after_rules(struct migrate *m)
{
	char	err[IPT_ERRLEN];
	int	r;

	if (m->family == AF_INET) {
		if ((r = migrate_link_delete(IPT_MODES_IPVS_LINK, err,
		    sizeof(err))) == -1)
			log_warnx("%s", err);
		m->link = r == 1;
	}
	migrate_ipsets(m);
}

/* Both tables are read: render and start the restore, if needed. */
static void
migrate_render(struct migrate *m)
{
	char	err[IPT_ERRLEN];

	if (ipt_render_cleanup(m->save[0], m->save[1], m->save[2],
	    IPT_MODES_OTHER, &m->input, &m->found, err, sizeof(err)) == -1) {
		migrate_finish(m, err);
		return;
	}
	if (m->input.len == 0) {
		migrate_after_rules(m);
		return;
	}
	m->step = MIGRATE_RESTORE;
	ipt_restore_argv(m->ipt, m->argv);
	if (migrate_run(m, EXEC_OUTMAX, IPT_RESTORE_TIMEOUT_MS, err,
	    sizeof(err)) == -1) {
		memset(&m->found, 0, sizeof(m->found));
		migrate_finish(m, err);
	}
}

/* Take a listing of "iptables-save"; read the next table or render. */
static void
migrate_saved(struct migrate *m, int rv, const struct exec_result *res)
{
	static const char *const tables[] = { "nat", "filter", "mangle" };
	const char	*table = tables[m->step];
	char		 err[IPT_ERRLEN];
	int		 r;

	r = ipt_save_take(m->ipt, table, rv, res, &m->save[m->step], err,
	    sizeof(err));
	if (r == -1) {
		migrate_finish(m, err);
		return;
	}
	if (r == 1 || m->step == MIGRATE_SAVE_MANGLE) {
		/* Not installed: no chains; kube-ipvs0, ipsets still may be. */
		if (r == 1)
			migrate_after_rules(m);
		else
			migrate_render(m);
		return;
	}
	m->step++;
	ipt_save_argv(m->ipt, tables[m->step], m->argv);
	if (migrate_run(m, IPT_READ_MAX, IPT_READ_TIMEOUT_MS, err,
	    sizeof(err)) == -1)
		migrate_finish(m, err);
}

/* Take the list of ipsets; destroy ours, if any. */
static void
migrate_listed(struct migrate *m, int rv, const struct exec_result *res)
{
	char	err[IPT_ERRLEN];
	int	n;

	if (rv != 0) {
		/* No ipset support at all is no leftover: say it quietly. */
		log_debug("%s: %s list -n: %s", __func__, m->ipset, res->err);
		migrate_finish(m, NULL);
		return;
	}
	if ((n = ipt_modes_ipsets(res->out, m->family, &m->input,
	    &m->sets)) <= 0) {
		migrate_finish(m, n == -1 ? "out of memory" : NULL);
		return;
	}
	m->step = MIGRATE_IPSET_DESTROY;
	m->argv[0] = m->ipset;
	m->argv[1] = "restore";
	m->argv[2] = NULL;
	if (migrate_run(m, EXEC_OUTMAX, MIGRATE_IPSET_TIMEOUT_MS, err,
	    sizeof(err)) == -1)
		migrate_finish(m, err);
}

/* A command of the migration ended: go on with the next step. */
static void
migrate_cb(int rv, struct exec_result *res, void *arg)
{
	struct migrate	*m = arg;
	char		 err[IPT_ERRLEN];

	m->job = NULL;
	switch (m->step) {
	case MIGRATE_SAVE_NAT:
	case MIGRATE_SAVE_FILTER:
	case MIGRATE_SAVE_MANGLE:
		migrate_saved(m, rv, res);
		break;
	case MIGRATE_RESTORE:
		if (rv != 0) {
			ipt_restore_explain(res, m->input.buf, err,
			    sizeof(err));
			memset(&m->found, 0, sizeof(m->found));
			migrate_finish(m, err);
		} else
			migrate_after_rules(m);
		break;
	case MIGRATE_IPSET_LIST:
		migrate_listed(m, rv, res);
		break;
	case MIGRATE_IPSET_DESTROY:
		if (rv == 0) {
			migrate_finish(m, NULL);
			break;
		}
		snprintf(err, sizeof(err), "%s restore: %s: %.*s", m->ipset,
		    res->err, (int)strcspn(res->out, "\n"), res->out);
		ipt_text_free(&m->sets);	/* which were is unknown */
		migrate_finish(m, err);
		break;
	}
}

/* Start the migration of one family (see migrate.h). */
struct migrate *
migrate_start(struct event_base *base, struct ipt *ipt, int family,
    const char *ipset_path, void (*done)(void *), void *arg)
{
	struct migrate	*m;
	char		 err[IPT_ERRLEN];

	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (ipset_path != NULL && (m->ipset = strdup(ipset_path)) == NULL)) {
		log_warnx("%s: leftovers of kube-proxy's other modes not "
		    "removed: out of memory", migrate_fam(family));
		free(m);
		return (NULL);
	}
	m->base = base;
	m->ipt = ipt;
	m->family = family;
	m->done = done;
	m->arg = arg;
	m->start_ms = monotime_ms();
	m->step = MIGRATE_SAVE_NAT;
	ipt_save_argv(ipt, "nat", m->argv);
	if (migrate_run(m, IPT_READ_MAX, IPT_READ_TIMEOUT_MS, err,
	    sizeof(err)) == -1) {
		log_warnx("%s: leftovers of kube-proxy's other modes not "
		    "removed: %s", migrate_fam(family), err);
		migrate_clear(m);
		free(m);
		return (NULL);
	}
	return (m);
}

/* Stop a migration that is not over. */
void
migrate_cancel(struct migrate *m)
{
	if (m == NULL)
		return;
	exec_cancel(m->job);
	migrate_clear(m);
	free(m);
}

/* Append "; msg" (or msg) to err. */
static void
migrate_err(char *err, size_t errlen, const char *msg)
{
	size_t	len = strlen(err);

	if (len + 3 < errlen)
		snprintf(err + len, errlen - len, "%s%s", len ? "; " : "",
		    msg);
}

/* Destroy ipvs mode's sets of family, blocking (--cleanup). */
static int
migrate_cleanup_ipsets(const char *ipset, int family, struct ipt_text *sets,
    char *err, size_t errlen)
{
	const char		*list[] = { ipset, "list", "-n", NULL };
	const char		*restore[] = { ipset, "restore", NULL };
	struct exec_result	 res;
	struct ipt_text		 in;
	int			 n, rv = 0;

	if (exec_run_max(list, NULL, 0, MIGRATE_IPSET_TIMEOUT_MS,
	    IPT_READ_MAX, &res) == -1) {
		/* No ipset support in the kernel: no sets either. */
		exec_result_free(&res);
		return (0);
	}
	n = ipt_modes_ipsets(res.out, family, &in, sets);
	exec_result_free(&res);
	if (n == -1) {
		snprintf(err, errlen, "ipsets: out of memory");
		return (-1);
	}
	if (n > 0 && exec_run(restore, in.buf, in.len,
	    MIGRATE_IPSET_TIMEOUT_MS, &res) == -1) {
		snprintf(err, errlen, "%s restore: %s: %.*s", ipset, res.err,
		    (int)strcspn(res.out, "\n"), res.out);
		ipt_text_free(sets);
		rv = -1;
	}
	if (n > 0)
		exec_result_free(&res);
	ipt_text_free(&in);
	return (rv);
}

/* --cleanup of one family: all modes, kube-ipvs0, ipsets. */
int
migrate_cleanup(struct ipt *ipt, int family, const char *ipset_path,
    char *err, size_t errlen)
{
	struct ipt_modes_found	 found;
	struct ipt_text		 sets;
	char			 e[IPT_ERRLEN];
	uint64_t		 t0 = monotime_ms();
	int			 link = 0, rv = 0;

	err[0] = '\0';
	memset(&sets, 0, sizeof(sets));
	if (ipt_cleanup(ipt, IPT_MODES_ALL, &found, e, sizeof(e)) == -1) {
		/* A set still referenced by a rule cannot be destroyed. */
		migrate_err(err, errlen, e);
		return (-1);
	}
	if (family == AF_INET &&
	    (link = migrate_link_delete(IPT_MODES_IPVS_LINK, e,
	    sizeof(e))) == -1) {
		migrate_err(err, errlen, e);
		rv = -1;
	}
	if (ipset_path != NULL && migrate_cleanup_ipsets(ipset_path, family,
	    &sets, e, sizeof(e)) == -1) {
		migrate_err(err, errlen, e);
		rv = -1;
	}
	migrate_log(family, "cleanup removed", &found, link == 1, &sets,
	    monotime_ms() - t0);
	ipt_text_free(&sets);
	return (rv);
}
