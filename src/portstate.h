/*
 * portstate.h: the persisted proxy port of every service port, so that a
 * restarted kuproxy rebinds the same ports and the iptables rules left by
 * its predecessor stay valid from the first moment.
 *
 * File format, one line per service port, '#' comments:
 *	<PROTO> <proxy-port> <ns/name:port>
 * e.g. "TCP 40123 default/web:http".  Written atomically (temp + rename).
 */
#ifndef PORTSTATE_H
#define PORTSTATE_H

#include <stddef.h>
#include <stdint.h>

struct portstate_entry {
	char		*name;		/* ns/name:port, or ns/name */
	int		 proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t	 port;
};

struct htab;

struct portstate {
	struct portstate_entry	*v;
	size_t			 n;
	struct htab		*index;	/* private: (proto, name) -> entry */
};

/*
 * Parse a state file held in buf into ps, which must be empty (zeroed or
 * cleared).  Blank lines and lines starting with '#' are skipped; any
 * other line must be "TCP|UDP <1-65535> <ns/name[:port]>", and a
 * (name, proto) pair may appear once.  Returns 0, or -1 with
 * "line N: reason" in err and ps left empty (the caller then starts
 * without persisted ports).  Pure.
 */
int	 portstate_parse(const char *buf, size_t len, struct portstate *,
	    char *err, size_t errlen);
/* Find the persisted port of (name, proto); 0 if none.  Hashed. */
uint16_t portstate_lookup(const struct portstate *, const char *name,
	    int proto);
/* Add an entry (copies name). */
void	 portstate_add(struct portstate *, const char *name, int proto,
	    uint16_t port);
/* Free the entries; the struct itself may be reused. */
void	 portstate_clear(struct portstate *);
/*
 * Read path into ps (empty, as for portstate_parse); a missing file is an
 * empty state, a symbolic link or a FIFO is refused (O_NOFOLLOW,
 * O_NONBLOCK).  Returns 0, or -1 with "path: line N: reason" or the
 * failing system call in err, ps left empty.
 */
int	 portstate_load(const char *path, struct portstate *, char *err,
	    size_t errlen);
/*
 * Write ps to path atomically: path.tmp is created afresh (mode 0600,
 * O_EXCL, so never through a link), written, fsynced and renamed over
 * path.  Entries the parser would reject (bad protocol, port 0, bad
 * name, duplicates) fail the save.  Returns 0, or -1 with a reason
 * naming the file in err; path is then unchanged.
 */
int	 portstate_save(const char *path, const struct portstate *, char *err,
	    size_t errlen);

/*
 * Make the state directory usable: create it (0700) and any missing
 * parent (0755), as mkdir -p -m 0700 does; an existing directory of
 * ours with group or other bits is made 0700 (with a warning).
 * Returns 0, or -1 with "state directory DIR: reason" in err if it
 * cannot be created, is not a directory, cannot be written in, is
 * owned by a user other than root and us, or lets others in and cannot
 * be made 0700.
 */
int	 portstate_dir_prepare(const char *dir, char *err, size_t errlen);

#endif /* PORTSTATE_H */
