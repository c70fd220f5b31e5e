/*
 * What the event benchmarks (bench_import, bench_repair_gen) share beside
 * the test fixture (their keys: fx_cast_numbered): their network file and
 * their event mix -- per ten events two anti-fraud bulletins by the
 * officer, five requests, two replies and one ack by residents, with
 * Chinese text, in five groups.
 */
#ifndef WM_BENCH_MIX_H
#define WM_BENCH_MIX_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "wmcrypto.h"

/* DIR/bench.network: network "bench" of root, with a fresh secret and the
 * network id of the fixture's events (all zeros, fx_draft).  0, or nonzero
 * with why filled. */
int mix_write_network(const char *dir, const struct key *root, char why[WM_WHY_LEN]);

extern const char *const mix_groups[5];

/*
 * Fill d's kind and content for slot r (0-9) of the mix: r 0-1 a bulletin
 * numbered i with text number `text` (0-3), 2-6 a request, 7-8 a reply to
 * `ref`, 9 an ack of `ref`.  title (64 bytes) must outlive d.  Returns 1
 * when the officer signs it, 0 for a resident.
 */
int mix_draft(struct event_draft *d, unsigned r, size_t i, unsigned text, const uint8_t *ref,
              char title[64]);

#endif
