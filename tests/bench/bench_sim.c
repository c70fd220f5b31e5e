/*
 * bench_sim: the mesh at scale in the simulator (tests/sim).
 *   bench_sim [NODES...]          default: 200 1000
 * For each size: a random graph of mean degree 6 (between 2 and 8 links a
 * node), 20 ms links, the default mesh configuration; after a warm-up, one
 * alert a second from random nodes.  Prints the median and p99 time for an
 * alert to reach every node, the mean number of EVENT frames (whole copies)
 * a node receives per event, and the wall-clock cost.  Seeded:
 * WATCHMESH_SIM_SEED=N replays.  ALERTS=N changes the number of alerts.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(size_t n, uint64_t seed, size_t alerts)
{
	struct sim_opts o;
	struct sim *s = NULL;
	uint64_t *t = calloc(alerts, sizeof(*t));
	double t0 = wall(), copies = 0, copies_warm = 0;
	size_t a, i, incomplete = 0, warm = alerts / 5;
	uint64_t frames0;

	sim_opts_defaults(&o);
	o.nodes = n;
	o.seed = seed;
	o.lat_min_ms = o.lat_max_ms = 20;
	if (t == NULL || sim_new(&o, &s) != 0)
		return 1;
	sim_topo_random(s, 6);
	sim_certs_everywhere(s);
	sim_start(s);
	sim_run_for(s, 5000);
	frames0 = sim_frames(s);
	for (a = 0; a < alerts; a++) {
		size_t ev = sim_post(s, (size_t)(seed + a * 7919u) % n, 2, "gaobu");
		uint64_t last = 0;

		sim_run_for(s, 1000);
		for (i = 0; i < n; i++) {
			uint64_t at = sim_arrival(s, i, ev);

			if (at == 0) {
				incomplete++;
				last = UINT64_MAX;
				break;
			}
			if (at > last)
				last = at;
			copies += sim_copies(s, i, ev);
			if (a >= warm)
				copies_warm += sim_copies(s, i, ev);
		}
		t[a] = last == UINT64_MAX ? UINT64_MAX : last - sim_event_time(s, ev);
	}
	qsort(t, alerts, sizeof(*t), cmp_u64);
	printf("| %5zu | %6zu | %7" PRIu64 " ms | %7" PRIu64 " ms | %5.2f | %5.2f | %9.1f | %6.1f s |%s\n",
	       n, alerts, t[alerts / 2], t[(alerts * 99 + 99) / 100 - 1],
	       copies / (double)(n * alerts), copies_warm / (double)(n * (alerts - warm)),
	       (double)(sim_frames(s) - frames0) / (double)alerts / (double)n, wall() - t0,
	       incomplete ? " INCOMPLETE" : "");
	fflush(stdout);
	sim_free(s);
	free(t);
	return incomplete ? 1 : 0;
}

int main(int argc, char **argv)
{
	uint64_t seed = sim_seed(7);
	size_t alerts = getenv("ALERTS") ? (size_t)atoi(getenv("ALERTS")) : 50;
	int i, rc = 0;

	if (alerts < 5)
		alerts = 5;
	printf("bench_sim: seed %" PRIu64 "; random graph, mean degree 6, 20 ms links; one alert a second\n\n",
	       seed);
	printf("| nodes | alerts | median to all | p99 to all | copies | after warm-up | frames/node/alert | wall |\n");
	printf("|-------|--------|---------------|------------|--------|---------------|-------------------|------|\n");
	if (argc < 2) {
		rc |= run(200, seed, alerts);
		rc |= run(1000, seed, alerts);
	}
	for (i = 1; i < argc; i++)
		rc |= run((size_t)atoi(argv[i]), seed, alerts);
	return rc;
}
