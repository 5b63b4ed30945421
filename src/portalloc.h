/*
 * portalloc.h: proxy port allocation (kube-proxy port_allocator.go).
 *
 * With a range (base > 0, size > 0) ports come from a bitmap, starting
 * at a random offset and scanning upward with wrap-around.  With size 0
 * (the default, "" or any range based at 0) every allocation returns 0,
 * meaning "let the kernel choose".
 */
#ifndef PORTALLOC_H
#define PORTALLOC_H

#include <stddef.h>
#include <stdint.h>

struct portalloc;

/*
 * Parse kube-proxy's --proxy-port-range syntax: "" , "N", "A-B", "A+N"
 * (inclusive).  On success *base and *size describe the range (size 0
 * when base is 0) and 0 is returned; otherwise -1 with a reason in err.
 */
int		 portalloc_parse_range(const char *s, uint16_t *base,
		    uint32_t *size, char *err, size_t errlen);
/*
 * Return a new allocator for [base, base + size), cut at 65535; base or
 * size 0 means kernel-chosen.  Never NULL (allocation failure is fatal:
 * made once at start-up).
 */
struct portalloc *portalloc_new(uint16_t base, uint32_t size);
/* Free the allocator; NULL is ignored. */
void		 portalloc_free(struct portalloc *);
/*
 * Allocate a port into *port (0 in kernel-chosen mode).  Returns 0, or
 * -1 if the range is exhausted.
 */
int		 portalloc_get(struct portalloc *, uint16_t *port);
/*
 * Claim a specific port, e.g. one persisted by a previous run.  Returns
 * 0, or -1 if it is outside the range or already taken.  In
 * kernel-chosen mode any port is accepted (nothing is tracked).
 */
int		 portalloc_reserve(struct portalloc *, uint16_t port);
/* Release a port; ports outside the range and 0 are ignored. */
void		 portalloc_release(struct portalloc *, uint16_t port);
/*
 * Change the range to [base, base + size) as portalloc_new() takes it
 * (a live reload of portRange), with no port in use: the caller then
 * reserves the ports it still holds that fall in the new range.  Ports
 * released later outside the new range are ignored.  Allocation
 * failure is fatal (reload path).
 */
void		 portalloc_set_range(struct portalloc *, uint16_t base,
		    uint32_t size);
/* Return the number of ports in use (0 in kernel-chosen mode). */
size_t		 portalloc_used(const struct portalloc *);

#endif /* PORTALLOC_H */
