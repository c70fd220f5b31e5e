/*
 * tests/sim: many watchmesh nodes in one process.  Each node is the real
 * mesh logic (node/mesh/mesh.c) over its own real store (a file in the
 * fixture's temporary directory, tests/fixture) and the real ingest path;
 * the network is a virtual clock and a queue of deliveries with seeded
 * latency, loss, link cuts and dead nodes.  Every random choice comes from
 * one seed, so a run replays exactly: the seed is printed at the start and
 * taken from WATCHMESH_SIM_SEED when set.
 *
 * Frames keep their order on a link, as over TCP; "loss" is TCP's: a lost
 * segment delays its frame and those behind it by a retransmission timeout
 * (200..1000 ms).  Connections that break are modelled by link changes
 * (sim_kill, sim_partition, disconnects the mesh asks for).
 */
#ifndef WM_SIM_H
#define WM_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "mesh.h"

#define SIM_T0 1800000000000ull        /* virtual epoch: 2027-01-15 */

struct sim;

struct sim_opts {
	size_t nodes;
	uint64_t seed;
	uint64_t lat_min_ms, lat_max_ms;    /* per link, fixed at creation */
	double loss;                        /* probability a frame is retransmitted */
	struct mesh_config mesh;            /* defaults from mesh_config_defaults */
	int verbose;                        /* mesh log lines on stderr */
};
void sim_opts_defaults(struct sim_opts *o);

/* The seed: WATCHMESH_SIM_SEED if set, else `fallback`. */
uint64_t sim_seed(uint64_t fallback);

int sim_new(const struct sim_opts *o, struct sim **out);
void sim_free(struct sim *s);

/* Topologies.  Links are created down; sim_start brings them up. */
void sim_link(struct sim *s, size_t a, size_t b);
void sim_topo_random(struct sim *s, unsigned degree);   /* connected: a ring plus random chords */
void sim_topo_line(struct sim *s);
void sim_topo_ring(struct sim *s);
/* Bring every link between two live nodes up. */
void sim_start(struct sim *s);

uint64_t sim_now(const struct sim *s);
/* Advance the virtual clock, processing everything due. */
void sim_run_for(struct sim *s, uint64_t ms);
/* Run until no frame is in flight (timers alone do not count), at most ms. */
void sim_run_quiet(struct sim *s, uint64_t max_ms);

/* Network trouble. */
void sim_kill(struct sim *s, size_t node);
/* side[i] in {0,1}: links between sides go down until sim_heal. */
void sim_partition(struct sim *s, const int *side);
void sim_heal(struct sim *s);
/* The link a-b breaks now and comes back after down_ms. */
void sim_flap(struct sim *s, size_t a, size_t b, uint64_t down_ms);
/* A new node joins now with its own empty store, linked to `to[0..n)`. */
size_t sim_add_node(struct sim *s, const size_t *to, size_t n);

/* Events.  The sim holds a root, a station and an officer (certs for all
 * groups) and residents; sim_certs_everywhere imports the certs into every
 * node's store (as if the network group had been repaired earlier). */
void sim_certs_everywhere(struct sim *s);
/* Author an event at `node` (ingested there, then published) and return
 * its index in the sim's list of events.  kind: bulletin and alert are
 * signed by the officer, requests by a resident. */
size_t sim_post(struct sim *s, size_t node, unsigned kind, const char *group);
/* The wire bytes and id of posted event i. */
const uint8_t *sim_event_id(const struct sim *s, size_t i);
size_t sim_event_count(const struct sim *s);
uint64_t sim_event_time(const struct sim *s, size_t i);
/* Inject raw frame bytes as if sent by `from` to `to` (forgeries). */
void sim_inject(struct sim *s, size_t from, size_t to, const uint8_t *buf, size_t len);
/* A validly framed EVENT whose event has a broken signature; *out malloc'd. */
int sim_forged_frame(struct sim *s, uint8_t **out, size_t *len, uint8_t id[32]);

/* Queries. */
size_t sim_nodes(const struct sim *s);
int sim_alive(const struct sim *s, size_t node);
int sim_has(struct sim *s, size_t node, const uint8_t id[32]);
/* Virtual time at which the node stored event i (0 = not held). */
uint64_t sim_arrival(const struct sim *s, size_t node, size_t ev);
/* EVENT frames carrying event i that node received, any outcome. */
uint32_t sim_copies(const struct sim *s, size_t node, size_t ev);
/* Disconnects the node's mesh asked for (invalid peers). */
uint64_t sim_disconnects(const struct sim *s, size_t node);
struct mesh *sim_mesh(struct sim *s, size_t node);
/* Component (0..) of each live node over up links; returns the count. */
size_t sim_components(const struct sim *s, size_t *comp);
/* Frames delivered in total. */
uint64_t sim_frames(const struct sim *s);

#endif
