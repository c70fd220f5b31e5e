/*
 * tests/sim/sim_test.c: the simulator suite.  `sim_test CASE` runs one case
 * (each a meson test); the seed is printed first and on failure, and
 * WATCHMESH_SIM_SEED=N replays a run exactly.
 *
 *   all100      100 nodes, random graph: every event reaches every node
 *   partition   two halves cut apart, events on both sides, healed: converged by repair
 *   churn       30% of the nodes killed: every survivor still gets later events
 *   forged      a node injects a forged event: disconnected, stored nowhere
 *   latejoin    a node with an empty store joins late and catches up by repair
 *   ring        a ring of 40, then one node killed (a line): alerts reach everyone
 *   lossy       retransmissions on 5% of frames and links of a line of 20 nodes
 *               breaking for seconds while events are written: converged
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static uint64_t seed;
static const char *cname = "?";

#define CHECK(cond, ...)                                                                  \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "FAIL %s (%s:%d): ", cname, __FILE__, __LINE__);  \
			fprintf(stderr, __VA_ARGS__);                                     \
			fprintf(stderr, "\nreplay with WATCHMESH_SIM_SEED=%" PRIu64 "\n", seed); \
			exit(1);                                                          \
		}                                                                         \
	} while (0)

static struct sim *make(size_t n, struct sim_opts *o)
{
	struct sim *s = NULL;

	o->nodes = n;
	o->seed = seed;
	if (getenv("WATCHMESH_SIM_VERBOSE") != NULL)
		o->verbose = atoi(getenv("WATCHMESH_SIM_VERBOSE"));
	CHECK(sim_new(o, &s) == 0, "sim_new");
	return s;
}

/* Certificates on every node, links up, and warm_ms of simulated time for
 * the hellos and the first repairs. */
static void start_warm(struct sim *s, uint64_t warm_ms)
{
	sim_certs_everywhere(s);
	sim_start(s);
	sim_run_for(s, warm_ms);
}

/* How many live nodes lack event ev (among those with comp == c, or all
 * live nodes when comp is NULL). */
static size_t lacking(struct sim *s, size_t ev, const size_t *comp, size_t c)
{
	size_t i, n = 0;

	for (i = 0; i < sim_nodes(s); i++)
		if (sim_alive(s, i) && (comp == NULL || comp[i] == c) &&
		    !sim_has(s, i, sim_event_id(s, ev)))
			n++;
	return n;
}

static unsigned kind_of(size_t i)
{
	static const unsigned k[] = { 1, 3, 2, 3, 1, 3 };

	return k[i % 6];
}

static void case_all100(void)
{
	struct sim_opts o;
	struct sim *s;
	size_t e, i, n = 100;
	double copies = 0;

	sim_opts_defaults(&o);
	s = make(n, &o);
	sim_topo_random(s, 6);
	start_warm(s, 5000);                           /* hellos, first repairs */
	for (e = 0; e < 30; e++) {
		sim_post(s, (size_t)(e * 37) % n, kind_of(e), e % 2 ? "gaobu" : "xinhua");
		sim_run_for(s, 300);
	}
	sim_run_quiet(s, 20000);
	for (e = 0; e < sim_event_count(s); e++) {
		CHECK(lacking(s, e, NULL, 0) == 0, "event %zu missing at %zu nodes", e, lacking(s, e, NULL, 0));
		for (i = 0; i < n; i++)
			copies += sim_copies(s, i, e);
	}
	copies /= (double)(n * sim_event_count(s));
	printf("all100: %zu events reached all %zu nodes; mean copies per node per event %.2f\n",
	       sim_event_count(s), n, copies);
	CHECK(copies <= 3.0, "mean copies %.2f: eager push does not prune", copies);
	sim_free(s);
}

static void case_partition(void)
{
	struct sim_opts o;
	struct sim *s;
	size_t n = 60, e, i, c;
	int side[60];
	struct mesh_stats st;
	uint64_t fetched = 0, before = 0, t0;

	sim_opts_defaults(&o);
	o.mesh.repair_interval_ms = 20000;
	s = make(n, &o);
	sim_topo_random(s, 5);
	start_warm(s, 3000);
	for (i = 0; i < n; i++)
		side[i] = i < n / 2;
	sim_partition(s, side);
	for (e = 0; e < 20; e++) {
		sim_post(s, e % 2 ? e : n - 1 - e, kind_of(e), "gaobu");
		sim_run_for(s, 200);
	}
	sim_run_quiet(s, 10000);
	/* each side has its own events, none of the other side's */
	for (e = 0; e < 20; e++)
		for (i = 0; i < n; i++) {
			int own = side[i] == side[e % 2 ? e : n - 1 - e];

			if (own)
				continue;
			CHECK(!sim_has(s, i, sim_event_id(s, e)), "event %zu crossed the partition to %zu", e, i);
		}
	for (i = 0; i < n; i++) {
		mesh_get_stats(sim_mesh(s, i), &st);
		before += st.fetched;
	}
	t0 = sim_now(s);
	sim_heal(s);
	/* converge by repair: at most a few repair rounds */
	for (c = 0; c < 60; c++) {
		size_t miss = 0;

		sim_run_for(s, 1000);
		for (e = 0; e < 20; e++)
			miss += lacking(s, e, NULL, 0);
		if (miss == 0)
			break;
	}
	for (e = 0; e < 20; e++)
		CHECK(lacking(s, e, NULL, 0) == 0, "after healing, event %zu missing at %zu nodes", e,
		      lacking(s, e, NULL, 0));
	for (i = 0; i < n; i++) {
		mesh_get_stats(sim_mesh(s, i), &st);
		fetched += st.fetched;
	}
	fetched -= before;
	CHECK(fetched > 0, "nothing was fetched by repair");
	printf("partition: healed and converged in %.1f s (virtual); events fetched by repair: %" PRIu64 "\n",
	       (double)(sim_now(s) - t0) / 1000.0, fetched);
	sim_free(s);
}

static void case_churn(void)
{
	struct sim_opts o;
	struct sim *s;
	size_t n = 100, e, i, killed = 0, *comp;
	size_t first;

	sim_opts_defaults(&o);
	s = make(n, &o);
	sim_topo_random(s, 6);
	start_warm(s, 3000);
	for (e = 0; e < 5; e++) {
		sim_post(s, e * 11, kind_of(e), "gaobu");
		sim_run_for(s, 300);
	}
	sim_run_quiet(s, 10000);
	/* kill 30%, chosen by the seed */
	while (killed < n * 3 / 10) {
		i = (size_t)(((seed + killed * 7919u) * 2654435761u) % n);
		while (!sim_alive(s, i))
			i = (i + 1) % n;
		sim_kill(s, i);
		killed++;
	}
	sim_run_for(s, 2000);
	first = sim_event_count(s);
	comp = malloc(n * sizeof(*comp));
	CHECK(comp != NULL, "oom");
	sim_components(s, comp);
	for (e = 0; e < 10; e++) {
		i = (e * 13) % n;
		while (!sim_alive(s, i))
			i = (i + 1) % n;
		sim_post(s, i, kind_of(e), "gaobu");
		sim_run_for(s, 300);
	}
	sim_run_quiet(s, 20000);
	sim_run_for(s, 5000);
	for (e = first; e < sim_event_count(s); e++) {
		/* every survivor connected to the author gets it */
		size_t author = SIZE_MAX;

		for (i = 0; i < n; i++)
			if (sim_alive(s, i) && sim_arrival(s, i, e) == sim_event_time(s, e)) {
				author = i;
				break;
			}
		CHECK(author != SIZE_MAX, "no author for event %zu", e);
		CHECK(lacking(s, e, comp, comp[author]) == 0, "event %zu missing at %zu survivors", e,
		      lacking(s, e, comp, comp[author]));
	}
	printf("churn: %zu of %zu nodes killed; %zu later events reached every connected survivor\n",
	       killed, n, sim_event_count(s) - first);
	free(comp);
	sim_free(s);
}

static void case_forged(void)
{
	struct sim_opts o;
	struct sim *s;
	size_t n = 20, i, e;
	uint8_t *frame = NULL, id[32];
	size_t len = 0;
	uint64_t disc = 0;

	sim_opts_defaults(&o);
	s = make(n, &o);
	sim_topo_random(s, 4);
	start_warm(s, 3000);
	CHECK(sim_forged_frame(s, &frame, &len, id) == 0, "forged frame");
	/* node 0 turns bad: it sends the forgery to each neighbour */
	for (i = 1; i < n; i++)
		sim_inject(s, 0, i, frame, len);        /* only links that exist deliver */
	free(frame);
	sim_run_quiet(s, 10000);
	for (i = 0; i < n; i++) {
		CHECK(!sim_has(s, i, id), "forged event stored at %zu", i);
		disc += sim_disconnects(s, i);
	}
	CHECK(disc >= 2, "the forger was not disconnected (%" PRIu64 " disconnects)", disc);
	/* and it stays out: its later honest events reach nobody */
	e = sim_post(s, 0, KIND_REQUEST, "gaobu");
	sim_run_quiet(s, 10000);
	for (i = 1; i < n; i++)
		CHECK(!sim_has(s, i, sim_event_id(s, e)), "the disconnected forger still reaches %zu", i);
	/* the rest of the mesh still works */
	e = sim_post(s, 1, KIND_BULLETIN, "gaobu");
	sim_run_quiet(s, 10000);
	sim_run_for(s, 5000);
	for (i = 1; i < n; i++)
		CHECK(sim_has(s, i, sim_event_id(s, e)), "an honest event missing at %zu", i);
	printf("forged: forger disconnected by %" PRIu64 " neighbours; forged event stored nowhere\n", disc);
	sim_free(s);
}

static void case_latejoin(void)
{
	struct sim_opts o;
	struct sim *s;
	size_t n = 30, e, j, to[2] = { 3, 17 };
	uint64_t t0;

	sim_opts_defaults(&o);
	s = make(n, &o);
	sim_topo_random(s, 4);
	start_warm(s, 3000);
	for (e = 0; e < 40; e++) {
		sim_post(s, e % n, kind_of(e), e % 3 ? "gaobu" : "xinhua");
		sim_run_for(s, 100);
	}
	sim_run_quiet(s, 10000);
	t0 = sim_now(s);
	j = sim_add_node(s, to, 2);                     /* empty store: not even the certs */
	for (e = 0; e < 40 && sim_now(s) - t0 < 60000; ) {
		sim_run_for(s, 500);
		for (e = 0; e < 40 && sim_has(s, j, sim_event_id(s, e)); e++)
			;
	}
	for (e = 0; e < 40; e++)
		CHECK(sim_has(s, j, sim_event_id(s, e)), "late joiner lacks event %zu", e);
	printf("latejoin: caught up with %zu events in %.1f s (virtual)\n", sim_event_count(s),
	       (double)(sim_now(s) - t0) / 1000.0);
	sim_free(s);
}

static void case_ring(void)
{
	struct sim_opts o;
	struct sim *s;
	size_t n = 40, e, i;
	uint64_t worst = 0;

	sim_opts_defaults(&o);
	s = make(n, &o);
	sim_topo_ring(s);
	start_warm(s, 3000);
	for (e = 0; e < 10; e++) {
		sim_post(s, (e * 11) % n, KIND_ALERT, "gaobu");
		sim_run_for(s, 500);
	}
	sim_kill(s, 5);
	for (; e < 20; e++) {
		sim_post(s, (e * 11) % n == 5 ? 6 : (e * 11) % n, KIND_ALERT, "gaobu");
		sim_run_for(s, 2000);
	}
	sim_run_quiet(s, 10000);
	for (e = 0; e < 20; e++) {
		CHECK(lacking(s, e, NULL, 0) == 0, "alert %zu missing at %zu nodes", e, lacking(s, e, NULL, 0));
		for (i = 0; i < n; i++)
			if (sim_alive(s, i) && sim_arrival(s, i, e) - sim_event_time(s, e) > worst)
				worst = sim_arrival(s, i, e) - sim_event_time(s, e);
	}
	/* 39 hops of at most 30 ms, plus a graft where the tree was cut */
	CHECK(worst < 3000, "an alert took %" PRIu64 " ms", worst);
	printf("ring: 20 alerts reached all nodes of a ring of %zu, then a line; slowest %" PRIu64 " ms\n",
	       n, worst);
	sim_free(s);
}

static void case_lossy(void)
{
	struct sim_opts o;
	struct sim *s;
	size_t n = 20, e;

	sim_opts_defaults(&o);
	o.loss = 0.05;
	o.mesh.repair_interval_ms = 10000;
	s = make(n, &o);
	sim_topo_line(s);
	start_warm(s, 3000);
	for (e = 0; e < 20; e++) {
		size_t a = (e * 5 + 3) % (n - 1);

		sim_flap(s, a, a + 1, 3000);    /* the line is cut somewhere */
		sim_post(s, (e * 7) % n, kind_of(e), "gaobu");
		sim_run_for(s, 200);
	}
	sim_run_for(s, 120000);
	for (e = 0; e < 20; e++)
		CHECK(lacking(s, e, NULL, 0) == 0, "event %zu missing at %zu nodes despite repair", e,
		      lacking(s, e, NULL, 0));
	printf("lossy: 5%% retransmissions and broken links on a line of %zu: converged\n", n);
	sim_free(s);
}

int main(int argc, char **argv)
{
	static const struct { const char *name; void (*fn)(void); } cases[] = {
		{ "all100", case_all100 }, { "partition", case_partition }, { "churn", case_churn },
		{ "forged", case_forged }, { "latejoin", case_latejoin }, { "ring", case_ring },
		{ "lossy", case_lossy },
	};
	size_t i;
	int ran = 0;

	seed = sim_seed(20261129);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (argc > 1 && strcmp(argv[1], cases[i].name) != 0)
			continue;
		cname = cases[i].name;
		printf("sim %s: seed %" PRIu64 "\n", cname, seed);
		fflush(stdout);
		cases[i].fn();
		ran++;
	}
	if (ran == 0) {
		fprintf(stderr, "sim_test: no case named %s\n", argc > 1 ? argv[1] : "?");
		return 2;
	}
	return 0;
}
