/*
 * iptables.h: kube-proxy userspace's iptables "portals", rendered as one
 * iptables-restore input per address family and applied in one exec.
 *
 * Chains (the same as kube-proxy userspace, so --cleanup of either
 * removes the other's leftovers):
 *	nat    KUBE-PORTALS-CONTAINER   jump from PREROUTING, before NodePorts
 *	nat    KUBE-PORTALS-HOST        jump from OUTPUT, before NodePorts
 *	nat    KUBE-NODEPORT-CONTAINER  jump from PREROUTING, addrtype LOCAL
 *	nat    KUBE-NODEPORT-HOST       jump from OUTPUT, addrtype LOCAL
 *	filter KUBE-NODEPORT-NON-LOCAL  jump from INPUT, first
 *
 * A sync renders the complete content of the five chains and applies it
 * with one "iptables-restore --noflush -w 5".  Each chain is declared
 * (":NAME - [0:0]"), which in --noflush mode flushes it (creating it if
 * needed) inside the same transaction, so stale rules vanish atomically
 * and no other chain is touched.
 *
 * Incremental updates: re-declaring the chains costs about as much as
 * loading every rule again (0.7 s at 20k rules with nf_tables), even for
 * a change of one Service.  So a non-forced sync whose text differs from
 * the one last applied compares the "-A" lines of both per table as sets
 * (each rule matches its own destination, protocol and port, so their
 * order does not matter) and, when the jumps are known good and at most
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
 * of every "-D" (about 0.1-0.13 s per 10k-rule chain), while "-A" and
 * "-I CHAIN 1" lines read nothing (about 17 ms for a few); so a new
 * rule is in effect without waiting for the deletions.  Between the
 * phases a stale rule of a removed Service can still redirect to its
 * old proxy port, as it can anyway while a restore runs in the
 * background; the UDP conntrack flush of a removed Service waits for
 * phase 2.  The full text is used at the first sync, at every forced
 * (periodic) sync, which repairs drift such as a rule deleted by hand,
 * after any failure, and for larger changes.  An incremental restore
 * fails when a rule to delete or a chain is gone; the next prepare then
 * applies the full text (ipt_sync() does so at once).  A phase 1
 * failure deletes nothing; after a phase 2 failure the new rules are in
 * and stale ones may remain until that full restore.  After an
 * incremental update the chains hold the same rules as the full text
 * would give, though new rules are first rather than in name order.
 * Cost at 10k Services (20k rules) with nf_tables, one changed
 * ClusterIP: phase 1 about 20 ms, phase 2 over about 0.3 s after the
 * start (both portal chains read back; 0.3 s in one restore before the
 * split), against 0.8 s in full.  Legacy rewrites the whole table at
 * every restore: about 0.11 s each (so a change with both phases costs
 * two), 0.26 s in full.
 *
 * Jump rules from the built-in chains: read with "iptables -w 5 -t T -S
 * CHAIN" (three small execs: nat PREROUTING, nat OUTPUT, filter INPUT;
 * never the whole table, which holds our own thousands of rules) at the
 * first sync, at every forced (periodic) sync and after any failure.
 * Fixes go into the same restore input: every jump that targets one of
 * our chains but is not exactly ours is deleted ("-D" with its printed
 * text), duplicates and misplaced copies are deleted, and a missing jump
 * is added: portal jumps with "-I CHAIN 1", NodePort jumps with "-A".
 * Rules are compared as sets of arguments, because iptables prints
 * matches in its own order.  Checked: each jump exists exactly once, and
 * the NodePort jump comes after the portal jump in the same chain.  Not
 * checked: that the portal jump is still the very first rule.  Other
 * software (Docker, CNI plugins) also inserts at the top; insisting on
 * first place would make both sides re-insert forever.  kube-proxy
 * checks existence only.
 *
 * Per service port (S = proxy port, P = service port, N = NodePort),
 * arguments in kube-proxy's order:
 *	-m comment --comment "ns/name:port" -p tcp -m tcp --dport P
 *	    [-d IP/32] [-m physdev ! --physdev-is-in]
 *	    [-m addrtype --dst-type LOCAL] -j TARGET
 *	clusterIP, each LB ingress IP:
 *	    PORTALS-CONTAINER -d IP -j REDIRECT --to-ports S
 *	    PORTALS-HOST      -d IP -j DNAT --to-destination HOSTIP:S
 *	each externalIP:
 *	    PORTALS-CONTAINER -d IP -m physdev ! --physdev-is-in -j REDIRECT
 *	    PORTALS-CONTAINER -d IP -m addrtype --dst-type LOCAL -j REDIRECT
 *	    PORTALS-HOST      -d IP -m addrtype --dst-type LOCAL -j DNAT
 *	NodePort (no -d):
 *	    NODEPORT-CONTAINER --dport N -j REDIRECT --to-ports S
 *	    NODEPORT-HOST      --dport N -j DNAT --to-destination HOSTIP:S
 *	    NODEPORT-NON-LOCAL --dport S -m state --state NEW -j ACCEPT
 * With a specific bind address B, REDIRECT becomes "DNAT
 * --to-destination B:S" and HOSTIP is B.  IPv6: -d IP/128, [IP]:S.
 */
#ifndef IPTABLES_H
#define IPTABLES_H

#include <stddef.h>
#include <stdint.h>

#define IPT_ERRLEN	1024
/* Bound of one iptables-restore run, ms. */
#define IPT_RESTORE_TIMEOUT_MS	120000

struct exec_result;

/* One service port as the rules need it.  Nothing is owned. */
struct ipt_svcport {
	const char		*name;		/* "ns/name:port", "ns/name" */
	int			 proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t		 port;		/* service port */
	uint16_t		 node_port;	/* 0: none */
	uint16_t		 proxy_port;	/* our listening port */
	const char		*cluster_ip;	/* decides the family */
	const char *const	*external_ips;
	size_t			 n_external_ips;
	const char *const	*lb_ips;	/* load-balancer ingress IPs */
	size_t			 n_lb_ips;
};

/* What the rules of one family depend on besides the services. */
struct ipt_params {
	int		 family;	/* AF_INET or AF_INET6 */
	const char	*bind_ip;	/* NULL, "" or unspecified: wildcard */
	const char	*host_ip;	/* node IP for host DNAT; NULL, "" */
};

/* A rendered restore input. */
struct ipt_text {
	char	*buf;		/* NUL-terminated, NULL when empty */
	size_t	 len;
	size_t	 cap;
	size_t	 nrules;	/* "-A" lines */
	size_t	 nskipped;	/* service ports or IPs left out */
	char	 skipped[256];	/* why the first one was left out */
	int	 oom;		/* private: an append failed */
	size_t	 natmark;	/* private: end of the nat declarations */
	size_t	 filtermark;	/* private: end of the filter ones */
};

struct ipt;

/*
 * Render the restore input for the service ports of params->family (the
 * family of cluster_ip; ports of the other family are left out without
 * comment), sorted by name, protocol and port so that the text does not
 * depend on the input order.  externalIPs and LB IPs keep their order.
 * Invalid entries (a name with characters other than [A-Za-z0-9-._/:],
 * an unparsable cluster IP, a protocol other than TCP/UDP, a zero port;
 * an external or LB IP that is invalid or of the other family) are left
 * out and counted in out->nskipped, the first reason in out->skipped:
 * one bad Service must not fail the whole transaction.  Pure.
 *
 * out is initialised here and must be released with ipt_text_free().
 * Returns 0, or -1 with a reason in err (out is then empty):
 *	- params->family is neither AF_INET nor AF_INET6;
 *	- bind_ip is set but not an IP of that family;
 *	- host_ip is set but not an IP of that family;
 *	- a host-side DNAT is needed and neither a specific bind_ip nor a
 *	  host_ip is given;
 *	- out of memory.
 */
int	 ipt_render(const struct ipt_params *, const struct ipt_svcport *,
	    size_t n, struct ipt_text *out, char *err, size_t errlen);
/* Release a rendered text (the struct may be reused). */
void	 ipt_text_free(struct ipt_text *);

/*
 * Render the restore input that removes our chains, given the output of
 * "iptables-save -t nat" and "-t filter" (either may be NULL or empty):
 * "-D" for every rule in another chain that jumps or goes to one of our
 * chains (each copy), then each of our chains that exists is declared
 * (flushed) and deleted with "-X".  out->len is 0 when there is nothing
 * to remove.  Pure.  Returns 0, or -1 if out of memory.
 */
int	 ipt_render_cleanup(const char *nat_save, const char *filter_save,
	    struct ipt_text *out, char *err, size_t errlen);

/*
 * A rule set of one family, driving iptables_path (e.g.
 * "/usr/sbin/iptables"), iptables_path "-restore" and "-save".  Returns
 * NULL if family is not AF_INET or AF_INET6 or path is empty.
 */
struct ipt	*ipt_new(const char *iptables_path, int family);
/*
 * Free a rule set; NULL is ignored.  The kernel's rules stay (see
 * ipt_cleanup()).  No prepared ipt_apply may be outstanding.
 */
void		 ipt_free(struct ipt *);

/*
 * Make the kernel's rules match the service ports: render, and apply
 * with one iptables-restore, checking the jump rules first on the first
 * call, after a failure, and whenever force is set.  If the rendered
 * text equals the one last applied and force is 0, nothing is run.  A
 * small change without force is applied incrementally (see above), its
 * two phases one after the other; if either fails, the full text is
 * applied at once and its result returned.  The caller forces at its
 * periodic sync, which repairs chains, rules or jumps that someone
 * removed.  Skipped entries (see ipt_render) are logged once per
 * change.  Returns 0, or -1 with a
 * reason in err: a render error, a failed "-S" read, or a failed
 * restore, quoting the input line that iptables-restore named
 * ("input line 7 \"-A KUBE-...\": <its message>").
 */
int	 ipt_sync(struct ipt *, const struct ipt_params *,
	    const struct ipt_svcport *, size_t n, int force, char *err,
	    size_t errlen);

/*
 * ipt_sync() in parts, so that the restores can run without blocking an
 * event loop (exec_start()): prepare, run a->argv with a->input and
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
 * Render and decide, as ipt_sync() does; the jump reads ("-S") run here,
 * synchronously, when due.  Returns 1 with a filled in (release it with
 * ipt_sync_finish() or ipt_apply_free(), which clear it: read
 * incremental, nchanges, nadds and ndels before), 0 when nothing needs
 * to run, or -1 with a reason in err.  After a failed restore (finish
 * returned -1) the next prepare renders the full text and re-checks the
 * jumps, so a caller that retries at its next sync repairs any partial
 * state.
 */
int	 ipt_sync_prepare(struct ipt *, const struct ipt_params *,
	    const struct ipt_svcport *, size_t n, int force,
	    struct ipt_apply *a, char *err, size_t errlen);
/*
 * Once phase 1 of a has succeeded: if an incremental update has
 * deletions after additions, make a->input the deletions (phase 2) and
 * return 1; otherwise return 0 and leave a as it is.
 */
int	 ipt_apply_next(struct ipt_apply *a);
/*
 * Take the result of the last run of a (rv and res as exec returns
 * them; res may be NULL if rv is -1 and the phase could not be
 * started) and release a.  Returns 0, or -1 with the quoted failing
 * line in err, prefixed "incremental update: " (phase 1) or
 * "incremental update, removing stale rules: " (phase 2) if a was
 * incremental.  A success with a phase 2 not run (ipt_apply_next() not
 * called) counts as a failure.  On failure the state is forgotten: the
 * next prepare applies the full text.
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
 *	    COMMIT: 0.1 s at 20k rules): one "*nat" transaction whose
 *	    COMMIT is the stream's end; iptables-restore parses the lines
 *	    as they come, and only nat rules can be streamed.
 *
 * ipt_stream_begin() sets st up and fills argv ("restore --noflush -w
 * 5"), and returns 0, when the chains and jumps are known good (a
 * restore succeeded and nothing failed since; a state in doubt is
 * repaired by the next full sync instead); -1 otherwise.  The mode
 * comes from "iptables -V", asked once.  No prepared ipt_apply may run
 * meanwhile.
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
 *
 * ipt_render_adds() renders as ipt_render() does but keeps only the
 * "-A" lines (a declaration would flush its chain), in table blocks
 * each ending in COMMIT; out->nrules counts them.  Pure.
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
int	 ipt_render_adds(const struct ipt_params *, const struct ipt_svcport *,
	    size_t n, struct ipt_text *out, char *err, size_t errlen);

/*
 * Remove every chain and jump rule of ours (and of kube-proxy
 * userspace) from this family: reads "iptables-save -t nat" and "-t
 * filter" and applies ipt_render_cleanup() in one restore.  Idempotent:
 * returns 0 when nothing is there, when a table does not exist, or when
 * the binaries are not installed.  Returns -1 with a reason in err on
 * any other failure.
 */
int	 ipt_cleanup(struct ipt *, char *err, size_t errlen);

/*
 * Delete the UDP conntrack entries of a removed service:
 * "conntrack -D --orig-dst IP -p udp" (plus "-f ipv6").  If
 * conntrack_path is not executable, warns once (per struct ipt) and
 * returns 0.  Exit status 1 with "0 flow entries have been deleted" is
 * success.  Returns -1 with a reason in err if ip is not an IP address
 * or conntrack fails otherwise.
 */
int	 ipt_flush_conntrack(struct ipt *, const char *conntrack_path,
	    const char *ip, char *err, size_t errlen);

#endif /* IPTABLES_H */
