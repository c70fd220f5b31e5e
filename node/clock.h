/*
 * node/clock: the wall clock that event times, expiry and beacons are
 * judged by.
 */
#ifndef WM_CLOCK_H
#define WM_CLOCK_H

#include <stdint.h>

/* Milliseconds since the epoch, UTC. */
uint64_t wm_now_ms(void);

#endif
