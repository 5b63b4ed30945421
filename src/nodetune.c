/*
 * nodetune.c: oom_score_adj and the conntrack sysctls, set once at
 * start as kube-proxy 1.20 sets them (see nodetune.h).
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "nodetune.h"

#define NODETUNE_NETFILTER	"/proc/sys/net/netfilter/"
#define NODETUNE_HASHSIZE	"/sys/module/nf_conntrack/parameters/hashsize"
#define NODETUNE_OOM		"/proc/self/oom_score_adj"

/* getConntrackMax. */
int64_t
nodetune_conntrack_max(const struct kp_config *cfg, int ncpu)
{
	int64_t	scaled;

	if (cfg->conntrack_max_per_core <= 0)
		return (0);
	scaled = (int64_t)cfg->conntrack_max_per_core * ncpu;
	return (scaled > cfg->conntrack_min ? scaled : cfg->conntrack_min);
}

/* runtime.NumCPU: the CPUs in our affinity mask. */
int
nodetune_ncpu(void)
{
	cpu_set_t	set;
	long		n;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 &&
	    CPU_COUNT(&set) > 0)
		return (CPU_COUNT(&set));
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return (n > 0 && n < INT_MAX ? (int)n : 1);
}

/* Read an integer file; -1 with errno set on failure. */
static int
nodetune_read(const char *path, long long *v)
{
	char	 buf[64], *end;
	ssize_t	 n;
	int	 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	n = read(fd, buf, sizeof(buf) - 1);
	saved = errno;
	close(fd);
	if (n < 0) {
		errno = saved;
		return (-1);
	}
	buf[n] = '\0';
	errno = 0;
	*v = strtoll(buf, &end, 10);
	while (*end == '\n' || *end == ' ' || *end == '\t')
		end++;
	if (end == buf || *end != '\0' || errno != 0) {
		errno = EINVAL;
		return (-1);
	}
	return (0);
}

/* Write an integer (as ioutil.WriteFile(strconv.Itoa(v)) does). */
static int
nodetune_write(const char *path, long long v)
{
	char	buf[32];
	int	fd, len, saved;

	len = snprintf(buf, sizeof(buf), "%lld", v);
	if ((fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)) == -1)
		return (-1);
	if (write(fd, buf, len) != len) {
		saved = errno;
		close(fd);
		errno = saved != 0 ? saved : EIO;
		return (-1);
	}
	return (close(fd));
}

/* Why a write failed, in a few words. */
static const char *
nodetune_why(int e)
{
	switch (e) {
	case EACCES:
	case EPERM:
	case EROFS:
		return ("read-only here (a container, or a network namespace "
		    "other than the node's?)");
	case ENOENT:
		return ("not present (nf_conntrack not loaded?)");
	case EOPNOTSUPP:
		return ("not supported here (a network namespace other than "
		    "the node's?)");
	default:
		return (strerror(e));
	}
}

/* setIntSysCtl: write net/netfilter/name if it differs from v. */
static int
nodetune_sysctl(const char *root, const char *name, long long v)
{
	char		path[PATH_MAX];
	long long	cur;

	snprintf(path, sizeof(path), "%s" NODETUNE_NETFILTER "%s", root, name);
	if (nodetune_read(path, &cur) == 0 && cur == v)
		return (0);
	if (nodetune_write(path, v) == -1) {
		log_warnx("cannot set sysctl net/netfilter/%s to %lld: %s; "
		    "skipped", name, v, nodetune_why(errno));
		return (-1);
	}
	log_info("set sysctl net/netfilter/%s to %lld", name, v);
	return (0);
}

/* realConntracker.SetMax: nf_conntrack_max, then the hash size. */
static int
nodetune_conntrack(const char *root, int64_t max)
{
	char		path[PATH_MAX];
	long long	hashsize;

	if (nodetune_sysctl(root, "nf_conntrack_max", max) == -1)
		return (1);
	snprintf(path, sizeof(path), "%s" NODETUNE_HASHSIZE, root);
	if (nodetune_read(path, &hashsize) == -1) {
		log_warnx("cannot read the conntrack hash size (%s): %s; "
		    "skipped", NODETUNE_HASHSIZE, nodetune_why(errno));
		return (1);
	}
	if (hashsize >= max / 4)
		return (0);
	if (nodetune_write(path, max / 4) == -1) {
		log_warnx("cannot set the conntrack hash size to %lld: %s; "
		    "skipped", (long long)(max / 4), nodetune_why(errno));
		return (1);
	}
	log_info("set conntrack hashsize to %lld", (long long)(max / 4));
	return (0);
}

/*
 * Set oom_score_adj to v unless it already is v: under systemd,
 * OOMScoreAdjust= sets it before kuproxy starts, and the unit gives no
 * CAP_SYS_RESOURCE, without which the kernel refuses to lower it below
 * what a privileged process last set (EACCES).
 */
static int
nodetune_oom(const char *path, long long v)
{
	long long	cur;

	if (nodetune_read(path, &cur) == 0 && cur == v) {
		log_debug("%s: oom_score_adj already %lld", __func__, v);
		return (0);
	}
	if (nodetune_write(path, v) == 0) {
		log_debug("%s: oom_score_adj %lld", __func__, v);
		return (0);
	}
	if (errno == EACCES || errno == EPERM)
		log_warnx("cannot set oom_score_adj to %lld: lowering it needs "
		    "CAP_SYS_RESOURCE (under systemd, OOMScoreAdjust= sets "
		    "it); skipped", v);
	else
		log_warn("cannot set oom_score_adj to %lld", v);
	return (-1);
}

/* Apply oomScoreAdj. */
int
nodetune_apply_oom(const struct kp_config *cfg, const char *root)
{
	char	path[PATH_MAX];

	snprintf(path, sizeof(path), "%s" NODETUNE_OOM, root);
	return (nodetune_oom(path, cfg->oom_score_adj) == -1 ? 1 : 0);
}

/* Apply the conntrack settings. */
int
nodetune_apply_conntrack(const struct kp_config *cfg, const char *root,
    int ncpu)
{
	const int64_t	 sec = 1000000000;
	int64_t		 max;
	int		 failed = 0;

	if ((max = nodetune_conntrack_max(cfg, ncpu)) > 0)
		failed += nodetune_conntrack(root, max);
	/* Whole seconds, as kube-proxy truncates them; 0 leaves it. */
	if (cfg->conntrack_tcp_established_ns > 0 &&
	    nodetune_sysctl(root, "nf_conntrack_tcp_timeout_established",
	    cfg->conntrack_tcp_established_ns / sec) == -1)
		failed++;
	if (cfg->conntrack_tcp_close_wait_ns > 0 &&
	    nodetune_sysctl(root, "nf_conntrack_tcp_timeout_close_wait",
	    cfg->conntrack_tcp_close_wait_ns / sec) == -1)
		failed++;
	return (failed);
}

/* Apply oomScoreAdj and the conntrack settings. */
int
nodetune_apply(const struct kp_config *cfg, const char *root, int ncpu)
{
	return (nodetune_apply_oom(cfg, root) +
	    nodetune_apply_conntrack(cfg, root, ncpu));
}
