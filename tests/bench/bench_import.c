/*
 * bench_import: makes the data for the `watchmesh import` benchmark and
 * measures the reference rate it is judged against, in the same run.
 *
 *   bench_import DIR N
 *
 * writes DIR/bench.network (a network whose root is fixed by a seed) and
 * DIR/bench.wmb, a bundle of N events: the certificates of one station and
 * one officer, then a realistic mix of officers' bulletins (Chinese text),
 * residents' requests, replies and acks.  It then times single-core Ed25519
 * verification (sig_verify) over every event of the bundle, and SHA-256 +
 * verification together, and prints both rates as "key value" lines that
 * tests/bench/run.sh reads; the first also per second of CPU time.  Not a test: run it with `make bench`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "event.h"
#include "fixture.h"
#include "mix.h"
#include "wmcrypto.h"

#define NRESIDENTS 64

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

struct out {
	FILE *f;
	uint8_t (*ids)[WM_ID_LEN];
	size_t n;
	uint8_t **wires;
	size_t *lens;
};

/* Write e to the bundle and keep it for the reference rates. */
static void keep(struct out *o, struct fx_ev e)
{
	if (fwrite(e.wire, 1, e.len, o->f) != e.len) {
		perror("bench_import: write");
		exit(1);
	}
	memcpy(o->ids[o->n], e.id, WM_ID_LEN);
	o->wires[o->n] = e.wire;
	o->lens[o->n] = e.len;
	o->n++;
}

static void emit(struct out *o, struct event_draft *d, const struct key *k)
{
	memcpy(d->author, k->pub, WM_PUB_LEN);
	keep(o, fx_build(d, k));
}

/* For every group, from a second before t for ten years. */
static void cert(struct out *o, const struct key *issuer, const struct key *subject,
                 const char *role, const char *name, uint64_t t)
{
	keep(o, fx_cert(issuer, subject, role, name, "*", t - 1000, t + 10ull * 365 * 86400000, t));
}

int main(int argc, char **argv)
{
	char path[4096], why[WM_WHY_LEN], title[64];
	size_t n, i;
	struct fx_cast c;
	struct out o = { 0 };
	uint64_t t0 = wm_now_ms() - 30ull * 86400000;
	double t, c0, verify_s, verify_cpu_s, full_s;

	if (argc != 3 || (n = strtoul(argv[2], NULL, 10)) < 10) {
		fprintf(stderr, "usage: bench_import DIR N   (N >= 10)\n");
		return 2;
	}
	if (wmc_init() != 0)
		return 1;
	fx_cast_numbered(&c, NRESIDENTS);

	if (mix_write_network(argv[1], c.root, why) != 0) {
		fprintf(stderr, "bench_import: %s/bench.network: %s\n", argv[1], why);
		return 1;
	}

	snprintf(path, sizeof path, "%s/bench.wmb", argv[1]);
	o.f = fopen(path, "wb");
	o.ids = calloc(n, WM_ID_LEN);
	o.wires = calloc(n, sizeof *o.wires);
	o.lens = calloc(n, sizeof *o.lens);
	if (!o.f || !o.ids || !o.wires || !o.lens) {
		perror("bench_import");
		return 1;
	}
	cert(&o, c.root, c.station, "station", "高埔派出所", t0);
	cert(&o, c.station, c.officer, "officer", "王警官", t0 + 1);
	for (i = 2; i < n; i++) {
		struct event_draft d = { .created_at = t0 + 10 + i * 20, .group = mix_groups[i % 5] };
		unsigned r = (unsigned)(i % 10);
		const uint8_t *ref = r == 9 ? o.ids[i - 1] : r >= 7 ? o.ids[i - 5] : NULL;  /* ack, reply */

		emit(&o, &d, mix_draft(&d, r, i, (unsigned)(i % 4), ref, title) ? c.officer
		                                                                  : c.resident[i % NRESIDENTS]);
	}
	if (fclose(o.f) != 0) {
		perror("bench_import: close");
		return 1;
	}

	/* The reference rate: what one core does when it only verifies. */
	{
		struct event *ev;
		uint8_t (*pubs)[WM_PUB_LEN] = calloc(n, WM_PUB_LEN);
		uint8_t (*sigs)[WM_SIG_LEN] = calloc(n, WM_SIG_LEN);
		size_t bad = 0;
		for (i = 0; i < n; i++) {
			if (event_decode(o.wires[i], o.lens[i], &ev, why) != 0)
				return 1;
			memcpy(pubs[i], ev->author, WM_PUB_LEN);
			memcpy(sigs[i], ev->sig, WM_SIG_LEN);
			event_free(ev);
		}
		t = now_s();
		c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
		for (i = 0; i < n; i++)
			bad += sig_verify(pubs[i], o.ids[i], sigs[i]) != 0;
		verify_s = now_s() - t;
		verify_cpu_s = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
		t = now_s();
		for (i = 0; i < n; i++) {
			if (event_decode(o.wires[i], o.lens[i], &ev, why) == 0)
				event_free(ev);
			else
				bad++;
		}
		full_s = now_s() - t;
		if (bad) {
			fprintf(stderr, "bench_import: %zu events did not verify\n", bad);
			return 1;
		}
		free(pubs);
		free(sigs);
	}
	printf("events %zu\n", n);
	printf("verify_per_s %.0f\n", (double)n / verify_s);
	printf("decode_verify_per_s %.0f\n", (double)n / full_s);
	/* per second of CPU: a reference that other load on the machine moves
	 * less, for figures in CPU time (tests/bench/bench_catchup.py) */
	printf("verify_per_cpu_s %.0f\n", (double)n / verify_cpu_s);
	for (i = 0; i < n; i++)
		free(o.wires[i]);
	free(o.wires);
	free(o.lens);
	free(o.ids);
	fx_cast_free(&c);
	return 0;
}
