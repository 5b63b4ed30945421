/*
 * monotime.h: the one clock for timeouts, backoffs and durations.
 */
#ifndef MONOTIME_H
#define MONOTIME_H

#include <stdint.h>

/*
 * Return CLOCK_MONOTONIC in milliseconds.  It never jumps and is a vDSO
 * call; wall-clock time (libevent's cached time too) would break idle
 * timeouts, backoffs and affinity ttls when the clock is set.  Never
 * fails.
 */
uint64_t	monotime_ms(void);

#endif /* MONOTIME_H */
