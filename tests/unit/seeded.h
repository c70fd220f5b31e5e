/*
 * tests/unit/seeded.h: the unit tests' one random source, replayable.  A
 * test program includes it once, calls seeded_start with the name of its
 * replay variable in main, and prints `seed` with whatever fails.
 * xorshift64*: fast, and the same numbers on every machine for one seed.
 */
#ifndef WM_TEST_SEEDED_H
#define WM_TEST_SEEDED_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t seed, rng_state;

/* The seed from the variable env (a run to replay) or the clock, printed
 * for what (the tests' name) with the variable that replays it. */
static inline void seeded_start(const char *env, const char *what)
{
	const char *v = getenv(env);

	seed = v ? strtoull(v, NULL, 10) : (uint64_t)time(NULL);
	rng_state = seed * 0x9e3779b97f4a7c15ULL + 1;
	printf("# %s, seed %" PRIu64 " (%s to replay)\n", what, seed, env);
}

static inline uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

/* Uniform enough below n (n much smaller than 2^64); 0 when n is 0. */
static inline uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

#endif
