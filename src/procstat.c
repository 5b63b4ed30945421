/*
 * procstat.c: this process's CPU time, memory, descriptors and start
 * time from /proc, for the process_* metrics.
 */
#include <sys/resource.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procstat.h"

/* Parse /proc/PID/stat (see procstat.h). */
int
procstat_parse_stat(const char *buf, long tck, long pagesize,
    uint64_t btime, struct procstat *st)
{
	unsigned long long	 utime, stime, start, vsize;
	long long		 rss;
	const char		*p;

	/* comm may hold spaces and parentheses: skip to the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL || tck <= 0)
		return (-1);
	/* Fields 3 (state) on; utime is 14, stime 15, starttime 22. */
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%llu %llu %*d %*d %*d %*d %*d %*d %llu %llu %lld", &utime,
	    &stime, &start, &vsize, &rss) != 5)
		return (-1);
	st->cpu_seconds = (double)(utime + stime) / (double)tck;
	st->vsize_bytes = vsize;
	st->rss_bytes = rss > 0 ? (uint64_t)rss * (uint64_t)pagesize : 0;
	st->start_time = (double)btime + (double)start / (double)tck;
	return (0);
}

/* Return the boot time from /proc/stat, or 0. */
static uint64_t
procstat_btime(void)
{
	FILE			*fp;
	char			 line[256];
	unsigned long long	 bt = 0;

	if ((fp = fopen("/proc/stat", "re")) == NULL)
		return (0);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "btime %llu", &bt) == 1)
			break;
	fclose(fp);
	return (bt);
}

/* Count the entries of /proc/self/fd, but . and .. and the DIR's own. */
static uint64_t
procstat_fds(void)
{
	DIR		*d;
	struct dirent	*de;
	uint64_t	 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return (0);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return (n > 0 ? n - 1 : 0);
}

/* Read this process's figures. */
int
procstat_read(struct procstat *st)
{
	struct rlimit	 rl;
	FILE		*fp;
	char		 buf[1024];
	size_t		 len;
	int		 rv = -1;

	memset(st, 0, sizeof(st[0]));
	st->open_fds = procstat_fds();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		st->max_fds = rl.rlim_cur;
	if ((fp = fopen("/proc/self/stat", "re")) == NULL)
		return (-1);
	len = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[len] = '\0';
	if (len > 0)
		rv = procstat_parse_stat(buf, sysconf(_SC_CLK_TCK),
		    sysconf(_SC_PAGESIZE), procstat_btime(), st);
	return (rv);
}
