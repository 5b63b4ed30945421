/*
 * iptables.h: the rule state of one address family: kube-proxy
 * userspace's iptables "portals" (rendered by iptables_render.h, chains
 * and jumps in iptables_jumps.h) applied with iptables-restore, with no
 * step that blocks: the caller runs every command (the jump reads, each
 * restore) itself, with exec_start() from its loop, and hands the
 * results back.
 *
 * A full sync applies the complete content of the five chains with one
 * "iptables-restore --noflush -w 5": each chain is declared, which
 * flushes it inside the same transaction (see iptables_render.h).
 *
 * Incremental updates: re-declaring the chains costs about as much as
 * loading every rule again, even for a change of one Service (most of a
 * second at 20k rules with nf_tables: see docs/benchmarks.md).  So a
 * non-forced sync whose text differs from the one last applied compares
 * the "-A" lines of both per table as sets (each rule matches its own
 * destination, protocol and port, so their order does not matter; see
 * iptables_diff.h) and, when the jumps are known good and at most
 * max(64, 10% of the rules) lines differ, applies only the difference,
 * with no chain declaration, so nothing is flushed, make before break,
 * in two restores run one after the other:
 *	1. make: each new rule as "-I CHAIN 1 ...", the last rendered
 *	   first, so they end up at the top of their chains in render
 *	   order and take precedence over a stale rule for the same
 *	   destination and port (a Service whose proxy port changed);
 *	2. break: "-D" of each rule gone, started once phase 1 succeeded.
 * A change with only additions or only deletions is a single restore.
 * Why two: with nf_tables, iptables-restore reads back the whole chain
 * of every "-D", while "-A" and "-I CHAIN 1" lines read nothing; so a
 * new rule is in effect without waiting for the deletions.  Between the
 * phases a stale rule of a removed Service can still redirect to its
 * old proxy port, as it can anyway while a restore runs in the
 * background; the UDP conntrack flush of a removed Service waits for
 * phase 2.  The full text is used at the first sync, at every forced
 * (periodic) sync, which repairs drift such as a rule deleted by hand,
 * after any failure, and for larger changes.  An incremental restore
 * fails when a rule to delete or a chain is gone; the next prepare then
 * applies the full text.  A phase 1 failure deletes nothing; after a
 * phase 2 failure the new rules are in and stale ones may remain until
 * that full restore.  After an incremental update the chains hold the
 * same rules as the full text would give, though new rules are first
 * rather than in name order.  Legacy iptables rewrites the whole table
 * at every restore, so there a change with both phases costs two.
 *
 * Jump rules from the built-in chains (see iptables_jumps.h) are read
 * exactly when a full text will be applied with its jumps in doubt: at
 * the first sync, at every forced (periodic) sync and after any
 * failure (ipt_reads_due()).  Their fixes go into the same restore
 * input as the full text.
 *
 * One sync:
 *
 *	ipt_reads_due? --no--------------------------+
 *	    | yes                                    |
 *	    v                                        v
 *	run the IPT_NREADS argv of ipt_reads_init(), ipt_sync_prepare()
 *	each result to ipt_reads_take() -----------> (with the reads)
 *	                                             | 1
 *	                                             v
 *	    run a->argv with a->input --ok--> ipt_apply_next()? --1--> run
 *	         | failed                      | 0                  again
 *	         v                             v                      |
 *	    ipt_sync_finish(-1)           ipt_sync_finish(0) <--------+
 */
#ifndef IPTABLES_H
#define IPTABLES_H

#include <stddef.h>
#include <stdint.h>

#include "ipt_modes.h"
#include "ipt_text.h"
#include "iptables_jumps.h"
#include "iptables_render.h"

/* Bound of one iptables-restore run, ms. */
#define IPT_RESTORE_TIMEOUT_MS	120000
/* Bound of one "-S" listing (or iptables-save of a table): time, size. */
#define IPT_READ_TIMEOUT_MS	60000
#define IPT_READ_MAX		(64 * 1024 * 1024)

struct exec_result;
struct ipt;

/*
 * A rule set of one family, driving iptables_path (e.g.
 * "/usr/sbin/iptables"), iptables_path "-restore" and "-save".  Runs
 * nothing.  Returns NULL if family is not AF_INET or AF_INET6, path is
 * empty or memory ran out.
 */
struct ipt	*ipt_new(const char *iptables_path, int family);
/*
 * Free a rule set; NULL is ignored.  The kernel's rules stay (see
 * ipt_cleanup()).  No prepared ipt_apply or ipt_reads may be
 * outstanding.
 */
void		 ipt_free(struct ipt *);
/*
 * Ask "iptables -V" whether the binaries drive nf_tables, which decides
 * how rules are streamed (see below).  Blocking (bounded by
 * IPT_READ_TIMEOUT_MS): call it at start-up.  A failure counts as
 * legacy.
 */
void		 ipt_backend_probe(struct ipt *);

/*
 * The jump reads of one sync: argv[i] lists ipt_read_chains[i] ("iptables
 * -w 5 -t TABLE -S CHAIN"); run them in order, each with
 * IPT_READ_TIMEOUT_MS and an output bound of IPT_READ_MAX, and give
 * each result to ipt_reads_take().  argv points into the struct ipt,
 * which must outlive it.
 */
struct ipt_reads {
	const char	*argv[IPT_NREADS][8];
	char		*out[IPT_NREADS];	/* listings, NULL until read */
	int		 n;			/* how many were taken */
};
/*
 * Return 1 if a sync with this force must read the jumps before
 * ipt_sync_prepare() (the first sync, a forced one, or any after a
 * failure), 0 if not.
 */
int	 ipt_reads_due(const struct ipt *, int force);
/* Set r up: the argv of every read, nothing read yet. */
void	 ipt_reads_init(const struct ipt *, struct ipt_reads *r);
/*
 * Take the result of read number r->n (rv and res as exec returns them;
 * res may be NULL if it could not be started): keep the listing and
 * return 0, or return -1 with a reason in err (the command's message, or
 * "output too large") and forget the state, as a failed restore does.
 * Then r must be released either way.
 */
int	 ipt_reads_take(struct ipt *, struct ipt_reads *r, int rv,
	    const struct exec_result *res, char *err, size_t errlen);
/* Release the listings of r; r may be reused after ipt_reads_init(). */
void	 ipt_reads_free(struct ipt_reads *r);

/*
 * A prepared restore: run a->argv with a->input and
 * IPT_RESTORE_TIMEOUT_MS; if that succeeded and ipt_apply_next() returns
 * 1, run a->input (now the second phase) the same way; then finish with
 * the result of the last run.  At most one prepared restore per struct
 * ipt may be outstanding; the ipt must outlive it (a->argv points into
 * it).
 */
struct ipt_apply {
	const char	*argv[5];	/* restore --noflush -w 5 */
	char		*input;		/* restore input of this phase */
	size_t		 inlen;
	int		 phase;		/* 1, or 2 after ipt_apply_next() */
	int		 incremental;	/* 1: only the changed rules */
	size_t		 nchanges;	/* incremental: "-I" + "-D" lines;
					   full: the rules ("-A" lines) */
	size_t		 nadds;		/* incremental: "-I" lines */
	size_t		 ndels;		/* incremental: "-D" lines */
	char		*input2;	/* private: the "-D" phase, or NULL */
	size_t		 inlen2;
	char		*text;		/* private: the rendered text */
	size_t		 textlen;
};
/*
 * Render the service ports (see ipt_render()) and decide what makes the
 * kernel's rules match them: nothing if the text equals the one last
 * applied, the jumps are known good and force is 0; an incremental
 * update if the change is small and force is 0; else the full text,
 * with the fixes of the jumps from reads spliced in.  reads is what the
 * jump reads gave (all IPT_NREADS taken) when ipt_reads_due() said so,
 * else NULL (and ignored).  Runs nothing.  Skipped entries (see
 * ipt_render()) are logged once per change.
 *
 * Returns 1 with a filled in (release it with ipt_sync_finish() or
 * ipt_apply_free(), which clear it: read incremental, nchanges, nadds
 * and ndels before), 0 when nothing needs to run, or -1 with a reason in
 * err: a render error, the reads missing although due, or out of
 * memory.  After a failed restore (finish returned -1) the next prepare
 * renders the full text and wants the jumps read, so a caller that
 * retries at its next sync repairs any partial state.
 */
int	 ipt_sync_prepare(struct ipt *, const struct ipt_params *,
	    const struct ipt_svcport *, size_t n, int force,
	    const struct ipt_reads *reads, struct ipt_apply *a, char *err,
	    size_t errlen);
/*
 * Once phase 1 of a has succeeded: if an incremental update has
 * deletions after additions, make a->input the deletions (phase 2) and
 * return 1; otherwise return 0 and leave a as it is.
 */
int	 ipt_apply_next(struct ipt_apply *a);
/*
 * Take the result of the last run of a (rv and res as exec returns
 * them; res may be NULL if rv is -1 and the phase could not be
 * started) and release a.  Returns 0, or -1 with a reason in err,
 * quoting the input line that iptables-restore named ("input line 7
 * \"-A KUBE-...\": <its message>"), prefixed "incremental update: "
 * (phase 1) or "incremental update, removing stale rules: " (phase 2)
 * if a was incremental.  A success with a phase 2 not run
 * (ipt_apply_next() not called) counts as a failure.  On failure the
 * state is forgotten: the next prepare applies the full text.
 */
int	 ipt_sync_finish(struct ipt *, struct ipt_apply *a, int rv,
	    const struct exec_result *res, char *err, size_t errlen);
/* Release a prepared restore that will not run (or not on). */
void	 ipt_apply_free(struct ipt_apply *a);

/*
 * Streaming, for service ports staged while a large services file is
 * still being parsed: their rules go, as "-A" lines, into one
 * iptables-restore that runs meanwhile, appended after the rules
 * already there, so a streamed rule never takes over the destination of
 * a live Service (a file rejected in the end cannot disturb what
 * serves).  Two modes:
 *	IPT_STREAM_BATCHES (nf_tables): each part is its own "*nat" /
 *	    "*filter" blocks ending in COMMIT; iptables-restore commits a
 *	    block as soon as it reads it, so the kernel loads the first
 *	    rules while the daemon parses the rest on the other core;
 *	IPT_STREAM_ONCE (legacy, which rewrites the whole table at every
 *	    COMMIT, slow at 20k rules: see docs/benchmarks.md): one "*nat"
 *	    transaction whose COMMIT is the stream's end; iptables-restore
 *	    parses the lines as they come, and only nat rules can be
 *	    streamed.
 *
 * ipt_stream_begin() sets st up and fills argv ("restore --noflush -w
 * 5"), and returns 0, when the chains and jumps are known good (a
 * restore succeeded and nothing failed since; a state in doubt is
 * repaired by the next full sync instead) and ipt_backend_probe() has
 * run, which gives the mode; -1 otherwise.  No prepared ipt_apply may
 * run meanwhile.
 *
 * ipt_stream_add() renders the next part (the rules of n service ports)
 * and returns it in *buf, *len, valid until the next call: write it to
 * the restore.  Returns -1 with a reason in err if it cannot be rendered
 * (nothing is added then): a render error, or rules other than nat in
 * IPT_STREAM_ONCE mode.  ipt_stream_end() gives the closing part (the
 * COMMIT in IPT_STREAM_ONCE mode; empty otherwise) to write before
 * closing the restore's input.  Every part is kept in st->sent.
 *
 * ipt_stream_done() takes the result once the restore ended (rv, res as
 * exec returns them) and the number of bytes of st->sent that were
 * written: on success those rules are added to the ones the next
 * incremental sync compares with, so the sync that adopts the staged
 * ports has nothing left to do, and it returns 0.  On failure the state
 * is forgotten (the next sync applies the full text) and it returns -1
 * with the failing input line quoted in err.  Either way st is
 * released; ipt_stream_free() releases one that will not run.
 */
#define IPT_STREAM_BATCHES	1
#define IPT_STREAM_ONCE		2
struct ipt_stream {
	int		 mode;		/* IPT_STREAM_* */
	struct ipt_text	 sent;		/* every part so far */
	size_t		 nrules;
	int		 open;		/* private: "*nat" written (ONCE) */
	int		 closed;	/* private: COMMIT written (ONCE) */
};
int	 ipt_stream_begin(struct ipt *, struct ipt_stream *,
	    const char *argv[5]);
int	 ipt_stream_add(struct ipt_stream *, const struct ipt_params *,
	    const struct ipt_svcport *, size_t n, const char **buf,
	    size_t *len, char *err, size_t errlen);
void	 ipt_stream_end(struct ipt_stream *, const char **buf, size_t *len);
int	 ipt_stream_done(struct ipt *, struct ipt_stream *, size_t wrote,
	    int rv, const struct exec_result *res, char *err, size_t errlen);
void	 ipt_stream_free(struct ipt_stream *);

/*
 * Remove the chains of kube-proxy's modes in modes (see ipt_modes.h:
 * IPT_MODES_ALL for --cleanup) and every jump to them from this family:
 * reads "iptables-save -t nat", "-t filter" and "-t mangle" and applies
 * ipt_render_cleanup() in one restore.  found (may be NULL) says what
 * was removed.  Blocking: for --cleanup.  Idempotent: returns 0 when
 * nothing is there, when a table does not exist, or when the binaries
 * are not installed.  Returns -1 with a reason in err on any other
 * failure.
 */
int	 ipt_cleanup(struct ipt *, int modes, struct ipt_modes_found *found,
	    char *err, size_t errlen);

/*
 * The same in the background (see migrate.h): ipt_save_argv() fills
 * argv with "iptables-save -t table" (argv points into the struct ipt
 * and table); run it with IPT_READ_TIMEOUT_MS and an output bound of
 * IPT_READ_MAX and give the result (rv, res as exec returns them; res
 * NULL if it could not be started) to ipt_save_take(), which returns 0
 * with the listing in *save (the caller frees it; NULL when the table
 * does not exist), 1 when the binary is not installed (nothing is
 * there), or -1 with a reason in err.  ipt_restore_argv() fills argv
 * with "iptables-restore --noflush -w 5"; ipt_restore_explain() says
 * why a restore of input failed, quoting the input line it names.
 */
void	 ipt_save_argv(const struct ipt *, const char *table,
	    const char *argv[4]);
int	 ipt_save_take(const struct ipt *, const char *table, int rv,
	    const struct exec_result *res, char **save, char *err,
	    size_t errlen);
void	 ipt_restore_argv(const struct ipt *, const char *argv[5]);
void	 ipt_restore_explain(const struct exec_result *res,
	    const char *input, char *err, size_t errlen);

#endif /* IPTABLES_H */
