/*
 * procstat.h: the standard process_* metrics of Prometheus clients
 * (process_cpu_seconds_total, process_resident_memory_bytes, ...), read
 * from /proc as client_golang's process collector does.
 */
#ifndef PROCSTAT_H
#define PROCSTAT_H

#include <stdint.h>

struct procstat {
	double		cpu_seconds;	/* user + system */
	uint64_t	rss_bytes;
	uint64_t	vsize_bytes;
	uint64_t	open_fds;
	uint64_t	max_fds;	/* soft RLIMIT_NOFILE */
	double		start_time;	/* epoch seconds */
};

/*
 * Parse the text of /proc/PID/stat (buf, NUL-terminated) with the
 * system's clock ticks per second (tck) and page size, and the boot time
 * btime (epoch seconds, from /proc/stat): fills cpu_seconds, rss_bytes,
 * vsize_bytes and start_time.  Returns 0, or -1 if buf is malformed.
 */
int		procstat_parse_stat(const char *buf, long tck, long pagesize,
		    uint64_t btime, struct procstat *st);
/*
 * Read this process's figures.  Returns 0, or -1 if /proc could not be
 * read (st is then partly filled, the rest zero).
 */
int		procstat_read(struct procstat *st);

#endif /* PROCSTAT_H */
