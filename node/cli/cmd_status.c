/*
 * node/cli/cmd_status: `watchmesh status --dir DIR [--json]`.  The running
 * daemon writes DIR/status.json every few seconds and soon after a change
 * (node/daemon/); this reads it, tells whether the daemon still runs (it
 * holds an flock on DIR/daemon.lock), and adds fresh event counts from the
 * store.  --json prints the status file's object with "running" and the
 * fresh "store" counts set.
 *
 * Exit status: 0 the daemon runs; 1 it does not (the last status, if any,
 * is still printed, marked stopped); 2 a wrong command line.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "clock.h"
#include "daemon.h"
#include "files.h"
#include "nodedir.h"
#include "render.h"

static const char usage_status[] =
"usage: watchmesh status [--dir DIR] [--json]\n"
"\n"
"What the node's daemon (`watchmesh run DIR`) is doing: its peers and their\n"
"state (up/down/backing off, eager/lazy push, since when, last error), each\n"
"peer once, \"in sync\" for a peer up whose last repair found nothing missing\n"
"either way, the last repair, the mesh's counters and the store's event\n"
"counts.  Read from\n"
"DIR/status.json, which the daemon rewrites every few seconds.  Warns of the\n"
"certificates of DIR/node.key and of other key files in DIR that end within\n"
"30 days (or have ended) with no later one held, read fresh from the store\n"
"(in --json: certificates_ending, each key file named within DIR; the\n"
"daemon puts the same in status.json and /api/v1/status, read again once a\n"
"minute).\n"
"\n"
"Exit status: 0 the daemon is running, 1 it is not.\n";

/* 1 if a daemon holds DIR/daemon.lock, 0 if not. */
static int daemon_running(const char *dir)
{
	char path[PATH_MAX];
	int fd, running;

	snprintf(path, sizeof path, "%s/daemon.lock", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	running = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
	close(fd);
	return running;
}

/* A string of status.json, escaped for the terminal: peer names and errors
 * come from other nodes.  Valid until eight more calls (a printf line
 * uses a few). */
static const char *jstr(const json_t *o, const char *k)
{
	static char ring[8][512];
	static unsigned next;
	const char *s = json_string_value(json_object_get(o, k));
	char *out = ring[next++ % 8];

	render_escape(out, sizeof ring[0], s ? s : "");
	return out;
}

static long long jint(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/* "2026-12-03 14:22 (3 minutes ago)" in local time, or "never".  A time
 * just ahead of this clock (the daemon's, a moment later) is "now". */
static void when(char *out, size_t len, long long ms, long long now)
{
	if (ms <= 0)
		snprintf(out, len, "never");
	else
		render_when(out, len, (uint64_t)ms, (uint64_t)(ms > now ? ms : now));
}

static void print_cert_warnings(const json_t *warns, const char *dir)
{
	const json_t *w;
	char end[16];
	size_t i;

	json_array_foreach(warns, i, w) {
		long long left = jint(w, "days_left"), at = jint(w, "not_after");
		time_t t = (time_t)(at / 1000);
		struct tm tm;

		localtime_r(&t, &tm);
		strftime(end, sizeof end, "%Y-%m-%d", &tm);
		if (at <= (long long)wm_now_ms())
			printf("warning: the certificate of %s (%s, %s/%s) ended on %s; renew it: ", jstr(w, "name"),
			       jstr(w, "role"), dir, jstr(w, "file"), end);
		else
			printf("warning: the certificate of %s (%s, %s/%s) ends in %lld day%s, on %s; renew it: ",
			       jstr(w, "name"), jstr(w, "role"), dir, jstr(w, "file"), left, left == 1 ? "" : "s", end);
		printf("watchmesh cert renew --issuer ISSUER.key --subject %s --dir %s\n", jstr(w, "key"), dir);
	}
}

static void print_text(const json_t *st, int running, const struct store_counts *sc)
{
	long long now = (long long)wm_now_ms();
	const json_t *peers = json_object_get(st, "peers"), *p, *m, *r;
	char w[96];
	size_t i, up = 0, insync = 0;

	when(w, sizeof w, jint(st, "started_at"), now);
	printf("node %s (key %.16s) of network %s\n", jstr(st, "name"), jstr(st, "key"),
	       jstr(st, "network"));
	if (running)
		printf("daemon: running (pid %lld), listening on %s, started %s\n", jint(st, "pid"),
		       jstr(st, "listen"), w);
	else
		printf("daemon: not running (last status below)\n");
	json_array_foreach(peers, i, p)
		if (strcmp(jstr(p, "state"), "up") == 0) {
			up++;
			insync += json_is_true(json_object_get(p, "in_sync"));
		}
	printf("peers: %zu up of %zu known", up, json_array_size(peers));
	if (up > 0)
		printf("; in sync with %zu of %zu", insync, up);
	printf("\n");
	json_array_foreach(peers, i, p) {
		const char *state = jstr(p, "state");
		const char *name = jstr(p, "name");
		char key[17] = "";
		snprintf(key, sizeof key, "%s", jstr(p, "key"));
		when(w, sizeof w, jint(p, "since"), now);
		printf("  %-20s %-16s %-22s %s", name[0] ? name : "-", key[0] ? key : "-",
		       jstr(p, "addr"), state);
		if (strcmp(state, "up") == 0) {
			printf(", %s, %s push, since %s\n", jstr(p, "direction"), jstr(p, "push"), w);
			printf("      events in %lld, out %lld, duplicates %lld", jint(p, "events_in"),
			       jint(p, "events_out"), jint(p, "duplicates_in"));
			if (jint(p, "last_repair_at") > 0) {
				when(w, sizeof w, jint(p, "last_repair_at"), now);
				printf("; last repair %s: needed %lld, had %lld, %lld round trips, "
				       "%lld/%lld bytes", w,
				       jint(p, "last_repair_need"), jint(p, "last_repair_have"),
				       jint(p, "last_repair_round_trips"), jint(p, "last_repair_bytes_out"),
				       jint(p, "last_repair_bytes_in"));
				if (json_is_true(json_object_get(p, "in_sync")))
					printf("; in sync");
			}
			printf("\n");
		} else {
			if (jint(p, "since") > 0)
				printf(" since %s", w);
			printf("\n");
		}
		if (strcmp(state, "up") != 0 && jstr(p, "last_error")[0])
			printf("      last error: %s\n", jstr(p, "last_error"));
	}
	r = json_object_get(st, "last_repair");
	if (r) {
		when(w, sizeof w, jint(r, "at"), now);
		printf("last repair: with %s at %s: needed %lld, had %lld; %lld round trips, "
		       "%lld bytes sent, %lld received, took %lld.%lld s\n", jstr(r, "peer"), w,
		       jint(r, "need"), jint(r, "have"), jint(r, "round_trips"), jint(r, "bytes_out"),
		       jint(r, "bytes_in"), jint(r, "ms") / 1000, jint(r, "ms") % 1000 / 100);
	} else {
		printf("last repair: none yet\n");
	}
	m = json_object_get(st, "mesh");
	if (m)
		printf("mesh: %lld events in (%lld stored, %lld duplicates, %lld refused, %lld invalid, "
		       "%lld rate-limited), %lld out, %lld local published, %lld repairs, %lld fetched\n",
		       jint(m, "events_in"), jint(m, "stored"), jint(m, "duplicates"), jint(m, "refused"),
		       jint(m, "invalid"), jint(m, "rate_limited"), jint(m, "events_out"),
		       jint(m, "published"), jint(m, "repairs"), jint(m, "fetched"));
	if (sc)
		printf("store: %" PRId64 " events, %" PRId64 " retracted, %" PRId64
		       " refused and remembered, %" PRId64 " certificates\n",
		       sc->events, sc->retracted, sc->rejected, sc->certs);
	when(w, sizeof w, jint(st, "updated_at"), now);
	printf("status written %s\n", w);
}

int cmd_status(int argc, char **argv)
{
	struct cli_opt opts[] = { { "dir", 1, NULL }, { "json", 0, NULL } };
	const size_t nopts = sizeof opts / sizeof opts[0];
	const char *pos[2], *dir;
	char path[PATH_MAX];
	struct node_dir *nd = NULL;
	struct store_counts sc;
	int have_counts = 0, running, r;
	size_t np = 0;
	json_t *st = NULL, *warns;
	json_error_t jerr;

	r = cli_parse("status", usage_status, argc, argv, opts, nopts, pos, 2, &np);
	if (r)
		return r > 0 ? CLI_OK : CLI_USAGE;
	if ((r = cli_dir_arg("status", opts, nopts, pos, np, &dir)) != 0)
		return r;
	nd = cli_open_dir(dir);
	if (!nd)
		return CLI_FAIL;
	if (store_counts(nd->store, &sc) == 0)
		have_counts = 1;
	running = daemon_running(dir);
	/* fresh from the store, as the counts are: a renewal shows at once,
	 * and a stopped daemon's node is warned of too */
	warns = node_dir_cert_warnings(nd, dir, wm_now_ms());
	snprintf(path, sizeof path, "%s/%s", dir, DAEMON_STATUS_FILE);
	if (files_exists(path))
		st = json_load_file(path, 0, &jerr);
	if (!st || !json_is_object(st)) {
		json_decref(st);
		st = NULL;
	}
	if (cli_get(opts, nopts, "json")) {
		json_t *o = st ? json_incref(st) : json_object();
		if (have_counts) {
			json_t *c = json_object();
			json_object_set_new(c, "events", json_integer((json_int_t)sc.events));
			json_object_set_new(c, "retracted", json_integer((json_int_t)sc.retracted));
			json_object_set_new(c, "rejected", json_integer((json_int_t)sc.rejected));
			json_object_set_new(c, "certs", json_integer((json_int_t)sc.certs));
			json_object_set_new(o, "store", c);
		}
		json_object_set_new(o, "running", json_boolean(running));
		if (warns)
			json_object_set(o, "certificates_ending", warns);
		if (!running)
			json_object_set_new(o, "state", json_string("stopped"));
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		fputc('\n', stdout);
		json_decref(o);
	} else if (st) {
		print_text(st, running, have_counts ? &sc : NULL);
	} else {
		printf("node %s: the daemon has not written a status yet (%s)\n",
		       nd->conf.name[0] ? nd->conf.name : dir, running ? "starting" : "not running");
		if (have_counts)
			printf("store: %" PRId64 " events, %" PRId64 " retracted, %" PRId64
			       " refused and remembered, %" PRId64 " certificates\n",
			       sc.events, sc.retracted, sc.rejected, sc.certs);
	}
	if (!cli_get(opts, nopts, "json") && warns)
		print_cert_warnings(warns, dir);
	json_decref(warns);
	json_decref(st);
	node_dir_close(nd);
	return running ? CLI_OK : CLI_FAIL;
}
