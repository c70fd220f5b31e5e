/*
 * node/daemon/status.c: DIR/status.json, which `watchmesh status` reads:
 * the node, its peers with the mesh's view of each, the last repair that
 * changed anything, the mesh's counters and the certificates of DIR's keys
 * that end soon.  Written by rename every DAEMON_STATUS_MS when something
 * changed, else every fifth tick (its updated_at shows a reader that the
 * daemon is alive).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "daemon.h"
#include "daemon_int.h"

static void jset_u(json_t *o, const char *key, uint64_t v)
{
	json_object_set_new(o, key, json_integer((json_int_t)v));
}

static json_t *jhex(const uint8_t *p, size_t n)
{
	char h[2 * WM_PUB_LEN + 1];
	hex_encode(h, p, n);
	return json_string(h);
}

static void d_refresh_known(struct daemon *d)
{
	size_t i, n = mesh_peer_count(d->mesh);
	struct mesh_peer_info pi;

	for (i = 0; i < n; i++) {
		struct dknown *k;
		if (mesh_peer_info(d->mesh, i, &pi) != 0)
			continue;
		k = peers_known_by_pub(d, pi.pub);
		if (!k)
			continue;
		if (pi.name[0] && strcmp(k->name, pi.name) != 0) {
			snprintf(k->name, sizeof k->name, "%s", pi.name);
			d->status_dirty = 1;
		}
		if (k->eager != pi.eager) {
			k->eager = pi.eager;
			d->status_dirty = 1;
		}
		if (pi.last_repair_at > d->last_repair.at) {
			d->last_repair.at = pi.last_repair_at;
			d->last_repair.need = pi.last_repair_need;
			d->last_repair.have = pi.last_repair_have;
			d->last_repair.round_trips = pi.last_repair_round_trips;
			d->last_repair.bytes_out = pi.last_repair_bytes_out;
			d->last_repair.bytes_in = pi.last_repair_bytes_in;
			d->last_repair.ms = pi.last_repair_ms;
			peers_known_name(k, d->last_repair.peer, sizeof d->last_repair.peer);
			d->status_dirty = 1;
		}
	}
}

/* The certificates ending soon are read again at most once a minute: a
 * renewal or a day gone by shows within it, and a status asked for over
 * HTTP does not read every key file in DIR. */
#define STATUS_CERTS_MS (60 * 1000)

static void status_refresh_certs(struct daemon *d, uint64_t now)
{
	json_t *w;

	if (d->cert_warns && now - d->cert_warns_at < STATUS_CERTS_MS)
		return;
	if ((w = node_dir_cert_warnings(d->nd, d->dir, now)) == NULL)
		return;
	if (!d->cert_warns || !json_equal(w, d->cert_warns))
		d->status_dirty = 1;
	json_decref(d->cert_warns);
	d->cert_warns = w;
	d->cert_warns_at = now;
}

json_t *status_json(struct daemon *d, const char *state)
{
	json_t *o = json_object(), *peers = json_array(), *st = json_object();
	struct mesh_stats ms;
	uint64_t now = d_now_ms();
	size_t i, j, n;

	json_object_set_new(o, "version", json_integer(1));
	json_object_set_new(o, "state", json_string(state));
	jset_u(o, "pid", getpid());
	json_object_set_new(o, "name", json_string(d->nd->conf.name));
	json_object_set_new(o, "key", json_string(d->selfhex));
	json_object_set_new(o, "network", json_string(d->nd->net.name));
	json_object_set_new(o, "listen", json_string(d->listen_addr));
	jset_u(o, "started_at", d->started_at);
	jset_u(o, "updated_at", now);
	json_object_set_new(o, "beacons", json_boolean(d->bc != NULL));
	if (d->disk_full)
		jset_u(o, "disk_full_since", d->disk_full);
	jset_u(o, "disk_free", d->disk_free);
	status_refresh_certs(d, now);
	if (d->cert_warns)
		json_object_set(o, "certificates_ending", d->cert_warns);

	n = d->mesh ? mesh_peer_count(d->mesh) : 0;
	for (i = 0; i < D_MAX_KNOWN; i++) {
		struct dknown *k = &d->known[i];
		json_t *p;
		const char *s;

		if (!k->used)
			continue;
		p = json_object();
		if (k->has_pub)
			json_object_set_new(p, "key", jhex(k->pub, WM_PUB_LEN));
		json_object_set_new(p, "name", json_string(k->name));
		json_object_set_new(p, "addr", json_string(k->addr));
		json_object_set_new(p, "configured", json_boolean(k->configured));
		json_object_set_new(p, "beacon", json_boolean(k->beacon));
		if (k->up)
			s = "up";
		else if (k->banned_until > now)
			s = "backing off";
		else if (k->since == 0 && !k->last_error[0])
			s = "connecting";
		else
			s = "down";
		json_object_set_new(p, "state", json_string(s));
		jset_u(p, "since", k->since);
		if (k->banned_until > now)
			jset_u(p, "banned_until", k->banned_until);
		json_object_set_new(p, "last_error", json_string(k->last_error));
		if (k->up) {
			json_object_set_new(p, "direction", json_string(k->outbound ? "outbound" : "inbound"));
			json_object_set_new(p, "push", json_string(k->eager ? "eager" : "lazy"));
			for (j = 0; j < n; j++) {
				struct mesh_peer_info pi;
				if (mesh_peer_info(d->mesh, j, &pi) != 0 || pi.peer != k->handle)
					continue;
				json_object_set_new(p, "ready", json_boolean(pi.ready));
				json_object_set_new(p, "groups", json_string(pi.groups));
				jset_u(p, "events_in", pi.events_in);
				jset_u(p, "events_out", pi.events_out);
				jset_u(p, "duplicates_in", pi.duplicates_in);
				jset_u(p, "last_repair_at", pi.last_repair_at);
				jset_u(p, "last_repair_need", pi.last_repair_need);
				jset_u(p, "last_repair_have", pi.last_repair_have);
				jset_u(p, "last_repair_round_trips", pi.last_repair_round_trips);
				jset_u(p, "last_repair_bytes_out", pi.last_repair_bytes_out);
				jset_u(p, "last_repair_bytes_in", pi.last_repair_bytes_in);
				/* nothing missing either way (remembered refusals are no
				 * difference: node/mesh counts only what a fetch can close) */
				json_object_set_new(p, "in_sync", json_boolean(pi.last_repair_at > 0 &&
				                    pi.last_repair_need == 0 && pi.last_repair_have == 0));
			}
		}
		json_array_append_new(peers, p);
	}
	json_object_set_new(o, "peers", peers);

	if (d->last_repair.at) {
		json_t *r = json_object();
		json_object_set_new(r, "peer", json_string(d->last_repair.peer));
		jset_u(r, "at", d->last_repair.at);
		jset_u(r, "need", d->last_repair.need);
		jset_u(r, "have", d->last_repair.have);
		jset_u(r, "round_trips", d->last_repair.round_trips);
		jset_u(r, "bytes_out", d->last_repair.bytes_out);
		jset_u(r, "bytes_in", d->last_repair.bytes_in);
		jset_u(r, "ms", d->last_repair.ms);
		json_object_set_new(o, "last_repair", r);
	}
	memset(&ms, 0, sizeof ms);
	if (d->mesh)
		mesh_get_stats(d->mesh, &ms);
	jset_u(st, "events_in", ms.events_in);
	/* a rolled-back batch's events are not in the store */
	jset_u(st, "stored", ms.stored - d->local.rolled_back);
	jset_u(st, "duplicates", ms.duplicates);
	jset_u(st, "refused", ms.refused);
	jset_u(st, "invalid", ms.invalid);
	jset_u(st, "rate_limited", ms.rate_limited);
	jset_u(st, "events_out", ms.events_out);
	jset_u(st, "repairs", ms.repairs);
	jset_u(st, "fetched", ms.fetched);
	jset_u(st, "published", d->local.published);
	jset_u(st, "expired", d->expired);
	json_object_set_new(o, "mesh", st);
	/* No store counts here: counting scans the events table (about a
	 * second at 1M events) and this runs every 2 s during a repair.
	 * `watchmesh status` adds fresh counts itself (BENCHMARKS.md, repair). */
	return o;
}

void status_write(struct daemon *d, const char *state)
{
	char path[PATH_MAX + 32], tmp[PATH_MAX + 48];
	json_t *o = status_json(d, state);

	snprintf(path, sizeof path, "%s/%s", d->dir, DAEMON_STATUS_FILE);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (!o || json_dump_file(o, tmp, JSON_INDENT(1) | JSON_SORT_KEYS) != 0 ||
	    rename(tmp, path) != 0) {
		d_log(d, D_DEBUG, "cannot write %s", path);
		unlink(tmp);
	}
	json_decref(o);
	d->status_dirty = 0;
}

void status_timer_cb(uv_timer_t *t)
{
	struct daemon *d = t->data;
	struct mesh_stats ms;

	if (d->stopping)
		return;
	if (d->bc)
		peers_beacon_expire(d, d_now_ms());
	disk_check(d);
	peers_judge_pins(d);
	d_refresh_known(d);
	memset(&ms, 0, sizeof ms);
	mesh_get_stats(d->mesh, &ms);
	if (memcmp(&ms, &d->last_stats, sizeof ms) != 0) {
		d->last_stats = ms;
		d->status_dirty = 1;
	}
	/* every tick when something changed, else every 5th (updated_at shows
	 * a reader that the daemon is alive) */
	if (d->status_dirty || ++d->status_ticks % 5 == 0)
		status_write(d, disk_state(d));
}
