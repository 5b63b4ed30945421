/*
 * iptables.c: the rule state of one family: what was applied last,
 * whether the jumps are known good; the jump reads, the full or
 * incremental restore, streams and the cleanup.  See iptables.h.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "ipt_text.h"
#include "iptables.h"
#include "iptables_diff.h"
#include "log.h"

/* Seconds to wait for the xtables lock, as kube-proxy's "-w 5". */
#define IPT_WAIT		"5"

struct ipt {
	int	 family;
	char	*path;		/* iptables */
	char	*restore;	/* iptables-restore */
	char	*save;		/* iptables-save */
	char	*last;		/* text last applied, NULL if none */
	size_t	 lastlen;
	int	 jumps_ok;	/* jumps verified by the last restore */
	int	 backend;	/* IPT_BACKEND_*, from "iptables -V" */
};

/* What "iptables -V" says the binaries drive. */
#define IPT_BACKEND_UNKNOWN	0	/* not asked yet */
#define IPT_BACKEND_NFT		1	/* "(nf_tables)" */
#define IPT_BACKEND_OTHER	2	/* legacy, or it would not say */

/* Describe a failed command: its message, and the first output line. */
static void
ipt_exec_error(const struct exec_result *res, const char *what, char *err,
    size_t errlen)
{
	size_t	n = strcspn(res->out, "\n");

	snprintf(err, errlen, "%s: %s%s%.*s", what, res->err,
	    n > 0 ? ": " : "", (int)(n > 300 ? 300 : n), res->out);
}

/* Insert the jump fixes after the chain declarations of each table. */
static int
ipt_splice(const struct ipt_text *t, const struct ipt_text fix[2],
    struct ipt_text *in)
{
	memset(in, 0, sizeof(*in));
	ipt_put(in, t->buf, t->natmark);
	if (fix[0].len > 0)
		ipt_put(in, fix[0].buf, fix[0].len);
	ipt_put(in, t->buf + t->natmark, t->filtermark - t->natmark);
	if (fix[1].len > 0)
		ipt_put(in, fix[1].buf, fix[1].len);
	ipt_put(in, t->buf + t->filtermark, t->len - t->filtermark);
	return (in->oom ? -1 : 0);
}

/* Return the line number an iptables-restore error names, or 0. */
static unsigned long
ipt_error_line(const char *out)
{
	const char	*p = out, *q;

	while ((p = strstr(p, "line")) != NULL) {
		for (q = p + 4; *q == ':' || *q == ' '; q++)
			;
		if (isdigit((unsigned char)*q))
			return (strtoul(q, NULL, 10));
		p += 4;
	}
	return (0);
}

/* Explain a failed restore, quoting the input line it names. */
void
ipt_restore_explain(const struct exec_result *res, const char *input,
    char *err, size_t errlen)
{
	const char	*p = input, *line = NULL, *msg = res->out;
	unsigned long	 want, i;
	size_t		 len = 0, mlen;

	/* The message proper, not the "line N" or "Try ..." lines. */
	while ((mlen = strcspn(msg, "\n")) == 0 ||
	    strncmp(msg, "Error occurred at line", 22) == 0 ||
	    strncmp(msg, "Try `", 5) == 0) {
		if (msg[mlen] == '\0')
			break;
		msg += mlen + 1;
	}
	if ((want = ipt_error_line(res->out)) > 0)
		for (i = 0; i < want; i++)
			if ((line = ipt_next_line(&p, &len)) == NULL)
				break;
	if (line != NULL)
		snprintf(err, errlen, "%s: input line %lu \"%.*s\": %.*s",
		    res->err, want, (int)(len > 300 ? 300 : len), line,
		    (int)(mlen > 300 ? 300 : mlen), msg);
	else
		snprintf(err, errlen, "%s%s%.*s", res->err, mlen ? ": " : "",
		    (int)(mlen > 300 ? 300 : mlen), msg);
}

/* Apply a restore input with "iptables-restore --noflush -w 5". */
static int
ipt_restore(struct ipt *ipt, const char *input, size_t len, char *err,
    size_t errlen)
{
	const char		*argv[] = { ipt->restore, "--noflush", "-w",
				    IPT_WAIT, NULL };
	struct exec_result	 res;
	int			 rv = 0;

	if (exec_run(argv, input, len, IPT_RESTORE_TIMEOUT_MS, &res) == -1) {
		ipt_restore_explain(&res, input, err, errlen);
		rv = -1;
	}
	exec_result_free(&res);
	return (rv);
}

/* Create the rule set of one family. */
struct ipt *
ipt_new(const char *iptables_path, int family)
{
	struct ipt	*ipt;

	if (iptables_path == NULL || iptables_path[0] == '\0' ||
	    (family != AF_INET && family != AF_INET6))
		return (NULL);
	if ((ipt = calloc(1, sizeof(*ipt))) == NULL)
		return (NULL);
	ipt->family = family;
	if ((ipt->path = strdup(iptables_path)) == NULL ||
	    asprintf(&ipt->restore, "%s-restore", iptables_path) == -1 ||
	    asprintf(&ipt->save, "%s-save", iptables_path) == -1) {
		ipt->restore = ipt->save = NULL;
		ipt_free(ipt);
		return (NULL);
	}
	return (ipt);
}

/* Free a rule set (the kernel's rules stay). */
void
ipt_free(struct ipt *ipt)
{
	if (ipt == NULL)
		return;
	free(ipt->path);
	free(ipt->restore);
	free(ipt->save);
	free(ipt->last);
	free(ipt);
}

/* Release a prepared restore. */
void
ipt_apply_free(struct ipt_apply *a)
{
	if (a->input != a->text)
		free(a->input);
	free(a->input2);
	free(a->text);
	memset(a, 0, sizeof(*a));
}

/* Forget what was applied: check jumps and re-apply in full next time. */
static void
ipt_forget(struct ipt *ipt)
{
	ipt->jumps_ok = 0;
	free(ipt->last);
	ipt->last = NULL;
	ipt->lastlen = 0;
}

/* Keep text (taking it over) as the one the kernel's rules match. */
static void
ipt_keep(struct ipt *ipt, char *text, size_t len)
{
	free(ipt->last);
	ipt->last = text;
	ipt->lastlen = len;
}

/* Must this sync read the jumps first? */
int
ipt_reads_due(const struct ipt *ipt, int force)
{
	/* The full text is applied then, with its jumps in doubt. */
	return (force || !ipt->jumps_ok);
}

/* Set up the jump reads of one sync. */
void
ipt_reads_init(const struct ipt *ipt, struct ipt_reads *r)
{
	const char	**argv;
	int		  i;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < IPT_NREADS; i++) {
		argv = r->argv[i];
		argv[0] = ipt->path;
		argv[1] = "-w";
		argv[2] = IPT_WAIT;
		argv[3] = "-t";
		argv[4] = ipt_read_chains[i].table;
		argv[5] = "-S";
		argv[6] = ipt_read_chains[i].chain;
		argv[7] = NULL;
	}
}

/* Keep the listing of the next read, or forget the state if it failed. */
int
ipt_reads_take(struct ipt *ipt, struct ipt_reads *r, int rv,
    const struct exec_result *res, char *err, size_t errlen)
{
	struct exec_result	 copy;
	char			 what[128];
	int			 i = r->n;

	if (i >= IPT_NREADS) {
		snprintf(err, errlen, "%s: no jump read left", ipt->path);
		return (-1);
	}
	snprintf(what, sizeof(what), "%s -t %s -S %s", ipt->path,
	    ipt_read_chains[i].table, ipt_read_chains[i].chain);
	if (rv == 0 && res != NULL && !res->truncated &&
	    (r->out[i] = strdup(res->out)) != NULL) {
		r->n++;
		return (0);
	}
	if (res == NULL)
		snprintf(err, errlen, "%s: not run", what);
	else if (rv == 0 && !res->truncated)
		snprintf(err, errlen, "%s: out of memory", what);
	else {
		copy = *res;
		if (res->truncated)
			snprintf(copy.err, sizeof(copy.err),
			    "output too large");
		ipt_exec_error(&copy, what, err, errlen);
	}
	ipt_forget(ipt);
	return (-1);
}

/* Release the listings of the jump reads. */
void
ipt_reads_free(struct ipt_reads *r)
{
	int	i;

	for (i = 0; i < IPT_NREADS; i++)
		free(r->out[i]);
	memset(r, 0, sizeof(*r));
}

/* Splice the fixes of the jumps the reads found into in (empty if none). */
static int
ipt_prepare_jumps(const struct ipt_reads *reads, const struct ipt_text *text,
    struct ipt_text *in, char *err, size_t errlen)
{
	struct ipt_text	fix[2];
	int		rv = 0;

	memset(in, 0, sizeof(*in));
	if (reads == NULL || reads->n < IPT_NREADS) {
		snprintf(err, errlen, "jump rules not read");
		return (-1);
	}
	if (ipt_jumps_fixes((const char *const *)reads->out, fix, err,
	    errlen) == -1)
		return (-1);
	if (fix[0].len + fix[1].len > 0 && ipt_splice(text, fix, in) == -1) {
		snprintf(err, errlen, "out of memory");
		ipt_text_free(in);
		rv = -1;
	}
	ipt_text_free(&fix[0]);
	ipt_text_free(&fix[1]);
	return (rv);
}

/* Render, compare with the last text, fix jumps: what to restore. */
int
ipt_sync_prepare(struct ipt *ipt, const struct ipt_params *p,
    const struct ipt_svcport *sp, size_t n, int force,
    const struct ipt_reads *reads, struct ipt_apply *a, char *err,
    size_t errlen)
{
	struct ipt_text	text, in, in2;
	size_t		nadds = 0, ndels = 0;
	ssize_t		nchanges = -1;
	int		same;

	memset(a, 0, sizeof(*a));
	if (p->family != ipt->family) {
		snprintf(err, errlen, "%s: parameters of the other family",
		    ipt->path);
		return (-1);
	}
	if (ipt_render(p, sp, n, &text, err, errlen) == -1)
		return (-1);
	same = ipt->last != NULL && ipt->lastlen == text.len &&
	    memcmp(ipt->last, text.buf, text.len) == 0;
	if (same && ipt->jumps_ok && !force) {
		ipt_text_free(&text);
		return (0);
	}
	if (text.nskipped > 0 && !same)
		log_warnx("%s: %zu service ports or IPs left out, first: %s",
		    ipt->restore, text.nskipped, text.skipped);
	memset(&in, 0, sizeof(in));
	memset(&in2, 0, sizeof(in2));
	/* Only from a state known good; forced syncs repair drift. */
	if (!force && ipt->jumps_ok && ipt->last != NULL &&
	    (nchanges = ipt_incremental(ipt->last, &text, &in, &in2, &nadds,
	    &ndels)) == 0) {
		/* The same rules in another order: nothing to change. */
		ipt_keep(ipt, text.buf, text.len);
		return (0);
	}
	if (nchanges > 0 && in.buf == NULL) {
		/* Deletions only: a single phase. */
		in = in2;
		memset(&in2, 0, sizeof(in2));
	}
	if (nchanges == -1 && (force || !ipt->jumps_ok) &&
	    ipt_prepare_jumps(reads, &text, &in, err, errlen) == -1) {
		ipt_forget(ipt);
		ipt_text_free(&text);
		return (-1);
	}
	a->argv[0] = ipt->restore;
	a->argv[1] = "--noflush";
	a->argv[2] = "-w";
	a->argv[3] = IPT_WAIT;
	a->argv[4] = NULL;
	a->text = text.buf;
	a->textlen = text.len;
	a->input = in.buf != NULL ? in.buf : text.buf;
	a->inlen = in.buf != NULL ? in.len : text.len;
	a->input2 = in2.buf;
	a->inlen2 = in2.len;
	a->phase = 1;
	a->incremental = nchanges > 0;
	a->nchanges = nchanges > 0 ? (size_t)nchanges : text.nrules;
	a->nadds = nadds;
	a->ndels = ndels;
	return (1);
}

/* After phase 1 succeeded: switch a to the deletions, if there are. */
int
ipt_apply_next(struct ipt_apply *a)
{
	if (a->input2 == NULL)
		return (0);
	if (a->input != a->text)
		free(a->input);
	a->input = a->input2;
	a->inlen = a->inlen2;
	a->input2 = NULL;
	a->inlen2 = 0;
	a->phase = 2;
	return (1);
}

/* Record how the prepared restore went; release it. */
int
ipt_sync_finish(struct ipt *ipt, struct ipt_apply *a, int rv,
    const struct exec_result *res, char *err, size_t errlen)
{
	const char	*what;
	char		 msg[IPT_ERRLEN];

	if (rv == 0 && a->input2 != NULL) {
		/* Phase 2 never ran: the stale rules are still there. */
		snprintf(msg, sizeof(msg),
		    "stale rules not removed (second phase not run)");
		rv = -1;
	} else if (rv != 0 && res == NULL)
		snprintf(msg, sizeof(msg), "%s not run", a->argv[0]);
	else if (rv != 0)
		ipt_restore_explain(res, a->input, msg, sizeof(msg));
	if (rv != 0) {
		if (!a->incremental)
			what = "";
		else if (a->phase == 2)
			what = "incremental update, removing stale rules: ";
		else
			what = "incremental update: ";
		snprintf(err, errlen, "%s%s", what, msg);
		/* The next prepare re-checks and applies the full text. */
		ipt_forget(ipt);
		ipt_apply_free(a);
		return (-1);
	}
	ipt->jumps_ok = 1;
	if (a->input == a->text)
		a->input = NULL;	/* it is the text we keep */
	ipt_keep(ipt, a->text, a->textlen);
	a->text = NULL;
	ipt_apply_free(a);
	return (0);
}

/* Ask "iptables -V" whether the binaries drive nf_tables (start-up). */
void
ipt_backend_probe(struct ipt *ipt)
{
	const char		*argv[] = { ipt->path, "-V", NULL };
	struct exec_result	 res;

	ipt->backend = IPT_BACKEND_OTHER;
	if (exec_run_max(argv, NULL, 0, IPT_READ_TIMEOUT_MS, 4096, &res) == 0 &&
	    strstr(res.out, "(nf_tables)") != NULL)
		ipt->backend = IPT_BACKEND_NFT;
	exec_result_free(&res);
}

/* May rules be streamed now?  Set up st and argv for its restore. */
int
ipt_stream_begin(struct ipt *ipt, struct ipt_stream *st, const char *argv[5])
{
	memset(st, 0, sizeof(*st));
	if (!ipt->jumps_ok || ipt->last == NULL ||
	    ipt->backend == IPT_BACKEND_UNKNOWN)
		return (-1);
	st->mode = ipt->backend == IPT_BACKEND_NFT ? IPT_STREAM_BATCHES :
	    IPT_STREAM_ONCE;
	argv[0] = ipt->restore;
	argv[1] = "--noflush";
	argv[2] = "-w";
	argv[3] = IPT_WAIT;
	argv[4] = NULL;
	return (0);
}

/*
 * Keep only the nat rules of an ipt_render_adds() text, for a stream
 * with one COMMIT: no header, no COMMIT.  Returns -1 if it has rules of
 * another table.
 */
static int
ipt_stream_bare(const struct ipt_text *t, struct ipt_text *out)
{
	const char	*q = t->buf != NULL ? t->buf : "", *line;
	size_t		 len;

	memset(out, 0, sizeof(*out));
	while ((line = ipt_next_line(&q, &len)) != NULL) {
		if (line[0] == '*' && (len != 4 || memcmp(line, "*nat", 4))) {
			ipt_text_free(out);
			return (-1);
		}
		if (len > 3 && memcmp(line, "-A ", 3) == 0) {
			ipt_put(out, line, len);
			ipt_put(out, "\n", 1);
		}
	}
	return (out->oom ? -1 : 0);
}

/* Render the next part of a stream; it is appended to st->sent. */
int
ipt_stream_add(struct ipt_stream *st, const struct ipt_params *p,
    const struct ipt_svcport *sp, size_t n, const char **buf, size_t *len,
    char *err, size_t errlen)
{
	struct ipt_text	t, bare;
	size_t		start = st->sent.len;

	*buf = NULL;
	*len = 0;
	if (ipt_render_adds(p, sp, n, &t, err, errlen) == -1)
		return (-1);
	if (st->mode == IPT_STREAM_ONCE) {
		if (ipt_stream_bare(&t, &bare) == -1) {
			ipt_text_free(&t);
			snprintf(err, errlen, "only nat rules can be streamed "
			    "in one transaction");
			return (-1);
		}
		if (bare.len > 0 && !st->open) {
			ipt_put(&st->sent, "*nat\n", 5);
			st->open = 1;
		}
		ipt_put(&st->sent, bare.buf != NULL ? bare.buf : "", bare.len);
		ipt_text_free(&bare);
	} else
		ipt_put(&st->sent, t.buf != NULL ? t.buf : "", t.len);
	if (st->sent.oom) {
		ipt_text_free(&t);
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	st->nrules += t.nrules;
	ipt_text_free(&t);
	if (st->sent.buf != NULL) {
		*buf = st->sent.buf + start;
		*len = st->sent.len - start;
	}
	return (0);
}

/* The closing part of a stream: COMMIT of the one transaction, if any. */
void
ipt_stream_end(struct ipt_stream *st, const char **buf, size_t *len)
{
	size_t	start = st->sent.len;

	*buf = NULL;
	*len = 0;
	if (st->mode != IPT_STREAM_ONCE || !st->open || st->closed)
		return;
	ipt_put(&st->sent, "COMMIT\n", 7);
	st->closed = 1;
	if (st->sent.oom)
		return;
	*buf = st->sent.buf + start;
	*len = st->sent.len - start;
}

/* Forget a stream's text (the restore was not run, or is gone). */
void
ipt_stream_free(struct ipt_stream *st)
{
	ipt_text_free(&st->sent);
	memset(st, 0, sizeof(*st));
}

/*
 * A stream's restore ended: its rules join the known ones, or not.
 * wrote is how much of st->sent was written.
 */
int
ipt_stream_done(struct ipt *ipt, struct ipt_stream *st, size_t wrote, int rv,
    const struct exec_result *res, char *err, size_t errlen)
{
	const char	*sent = st->sent.buf != NULL ? st->sent.buf : "";
	size_t		 len = wrote < st->sent.len ? wrote : st->sent.len;
	char		*t;
	int		 r = 0;

	if (rv != 0) {
		if (res != NULL)
			ipt_restore_explain(res, sent, err, errlen);
		else
			snprintf(err, errlen, "%s not run", ipt->restore);
		r = -1;
		goto forget;
	}
	if (ipt->last == NULL || st->sent.oom)
		goto forget;
	if (len > 0) {
		if ((t = realloc(ipt->last, ipt->lastlen + len + 1)) == NULL)
			goto forget;
		memcpy(t + ipt->lastlen, sent, len);
		t[ipt->lastlen + len] = '\0';
		ipt->last = t;
		ipt->lastlen += len;
	}
	ipt_stream_free(st);
	return (0);
forget:
	/* Failed, or the rules are in but what we know of them is lost. */
	ipt_forget(ipt);
	ipt_stream_free(st);
	return (r);
}

/* Return 1 if an iptables message means "that does not exist". */
static int
ipt_not_found(const char *out)
{
	return (strstr(out, "No chain/target/match by that name") != NULL ||
	    strstr(out, "No such file or directory") != NULL ||
	    strstr(out, "does a matching rule exist") != NULL ||
	    strstr(out, "does not exist") != NULL);
}

/* The argv of "iptables-save -t table". */
void
ipt_save_argv(const struct ipt *ipt, const char *table, const char *argv[4])
{
	argv[0] = ipt->save;
	argv[1] = "-t";
	argv[2] = table;
	argv[3] = NULL;
}

/* Take the listing of "iptables-save -t table" (see iptables.h). */
int
ipt_save_take(const struct ipt *ipt, const char *table, int rv,
    const struct exec_result *res, char **save, char *err, size_t errlen)
{
	char	what[128];

	*save = NULL;
	snprintf(what, sizeof(what), "%s -t %s", ipt->save, table);
	if (res == NULL) {
		snprintf(err, errlen, "%s: not run", what);
		return (-1);
	}
	if (rv == -1) {
		if (res->exec_errno == ENOENT)
			return (1);
		if (ipt_not_found(res->out))
			return (0);
		ipt_exec_error(res, what, err, errlen);
		return (-1);
	}
	if (res->truncated) {
		snprintf(err, errlen, "%s: output too large", what);
		return (-1);
	}
	if ((*save = strdup(res->out)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", what);
		return (-1);
	}
	return (0);
}

/* The argv of "iptables-restore --noflush -w 5". */
void
ipt_restore_argv(const struct ipt *ipt, const char *argv[5])
{
	argv[0] = ipt->restore;
	argv[1] = "--noflush";
	argv[2] = "-w";
	argv[3] = IPT_WAIT;
	argv[4] = NULL;
}

/* Read "iptables-save -t table": 0 (*save), 1 not installed, -1. */
static int
ipt_save_table(struct ipt *ipt, const char *table, char **save, char *err,
    size_t errlen)
{
	const char		*argv[4];
	struct exec_result	 res;
	int			 rv;

	ipt_save_argv(ipt, table, argv);
	rv = exec_run_max(argv, NULL, 0, IPT_READ_TIMEOUT_MS, IPT_READ_MAX,
	    &res);
	rv = ipt_save_take(ipt, table, rv, &res, save, err, errlen);
	exec_result_free(&res);
	return (rv);
}

/* Remove the chains of the modes, and every jump to them. */
int
ipt_cleanup(struct ipt *ipt, int modes, struct ipt_modes_found *found,
    char *err, size_t errlen)
{
	struct ipt_text	 text;
	char		*nat = NULL, *filter = NULL, *mangle = NULL;
	int		 rv = -1, r;

	memset(&text, 0, sizeof(text));
	if (found != NULL)
		memset(found, 0, sizeof(*found));
	if ((r = ipt_save_table(ipt, "nat", &nat, err, errlen)) != 0 ||
	    (r = ipt_save_table(ipt, "filter", &filter, err, errlen)) != 0 ||
	    (r = ipt_save_table(ipt, "mangle", &mangle, err, errlen)) != 0) {
		rv = r == 1 ? 0 : -1;	/* not installed: nothing there */
		goto done;
	}
	if (ipt_render_cleanup(nat, filter, mangle, modes, &text, found, err,
	    errlen) == -1)
		goto done;
	if (text.len == 0 ||
	    ipt_restore(ipt, text.buf, text.len, err, errlen) == 0)
		rv = 0;
	if (modes & IPT_MODE_USERSPACE)
		ipt_forget(ipt);
done:
	free(nat);
	free(filter);
	free(mangle);
	ipt_text_free(&text);
	return (rv);
}
