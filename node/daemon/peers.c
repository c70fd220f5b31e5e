/*
 * node/daemon/peers.c: the peers a node knows of (configured, heard by
 * beacon, connected; kept for status.json), the dialers, the transport's
 * callbacks and the mesh's send and disconnect.  A disconnect the mesh asks
 * for is queued here and carried out by peers_close_pending after the call
 * into the mesh returns: the mesh must not be re-entered from its callbacks.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_int.h"
#include "keyname.h"
#include "rotate.h"
#include "trust.h"

#define D_SLOW_NS      (10 * 1000000ull)   /* debug log: a frame that took this long */
/* Members dialed from their beacons at once, at most: whoever holds the
 * network secret can make beacons for any number of keys, and each dialer
 * makes a connection (and a handshake message 1) every few seconds. */
#define D_BEACON_DIALERS 8

/* --- the peers we know of ----------------------------------------------------------- */

struct dknown *peers_known_by_pub(struct daemon *d, const uint8_t pub[WM_PUB_LEN])
{
	size_t i;
	for (i = 0; i < D_MAX_KNOWN; i++)
		if (d->known[i].used && d->known[i].has_pub &&
		    memcmp(d->known[i].pub, pub, WM_PUB_LEN) == 0)
			return &d->known[i];
	return NULL;
}

/* The entry holding a configured address (its key may be known by now). */
static struct dknown *known_by_addr(struct daemon *d, const char *addr)
{
	size_t i;
	for (i = 0; i < D_MAX_KNOWN; i++)
		if (d->known[i].used && strcmp(d->known[i].addr, addr) == 0)
			return &d->known[i];
	return NULL;
}

static struct ddialer *dialer_of(struct daemon *d, const struct transport_dialer *td)
{
	size_t i;
	for (i = 0; td && i < d->ndialers; i++)
		if (d->dialers[i].d == td)
			return &d->dialers[i];
	return NULL;
}

/* The key dd dials: the one its rotation led to while that counts, else the
 * configured one (NULL: any member at the address). */
static const uint8_t *dialed_key(const struct ddialer *dd)
{
	if (dd->pinned && !dd->dropped)
		return dd->pin;
	return dd->cp.has_pub ? dd->cp.pub : NULL;
}

/* The entry a dialer of ours keeps: by the key it dials (configured, or the
 * key that one rotated to), else by its address. */
static struct dknown *known_of_dialer(struct daemon *d, const struct transport_dialer *td)
{
	const struct ddialer *dd = dialer_of(d, td);

	if (!dd)
		return NULL;
	return dd->cp.has_pub ? peers_known_by_pub(d, dialed_key(dd)) : known_by_addr(d, dd->cp.addr);
}

/*
 * k (a dialer's entry) turned out to be the peer with key pub.  A peer is
 * one entry: another entry already holding pub (made by an inbound link
 * before our dialer learned whose address it dials) is folded into k.
 * NULL when k is up with another key: its address now answers with a new
 * key while the old one is still linked, so they are two peers.
 */
static struct dknown *known_learn(struct daemon *d, struct dknown *k, const uint8_t pub[WM_PUB_LEN])
{
	struct dknown *o = peers_known_by_pub(d, pub);

	if (o == k)
		return k;
	if (k->up && k->has_pub)
		return NULL;
	k->has_pub = 1;
	memcpy(k->pub, pub, WM_PUB_LEN);
	if (o) {
		if (o->up || !k->up) {
			k->up = o->up;
			k->outbound = o->outbound;
			k->eager = o->eager;
			k->handle = o->handle;
			k->since = o->since;
		}
		if (!k->name[0])
			memcpy(k->name, o->name, sizeof k->name);
		if (!k->last_error[0])
			memcpy(k->last_error, o->last_error, sizeof k->last_error);
		if (o->banned_until > k->banned_until)
			k->banned_until = o->banned_until;
		k->beacon |= o->beacon;
		k->configured |= o->configured;
		memset(o, 0, sizeof *o);
	}
	d->status_dirty = 1;
	return k;
}

/* A free slot, or the one down longest (never an up or configured one). */
static struct dknown *known_new(struct daemon *d)
{
	struct dknown *victim = NULL;
	size_t i;

	for (i = 0; i < D_MAX_KNOWN; i++) {
		struct dknown *k = &d->known[i];
		if (!k->used) {
			memset(k, 0, sizeof *k);
			k->used = 1;
			return k;
		}
		if (!k->up && !k->configured && (!victim || k->since < victim->since))
			victim = k;
	}
	if (victim) {
		memset(victim, 0, sizeof *victim);
		victim->used = 1;
	}
	return victim;
}

void peers_known_name(const struct dknown *k, char *out, size_t len)
{
	char h[17];
	if (k && k->has_pub) {
		d_hex8(h, k->pub);
		if (k->name[0])
			snprintf(out, len, "%s (%s)", k->name, h);
		else
			snprintf(out, len, "%s", h);
	} else {
		snprintf(out, len, "%s", k ? k->addr : "?");
	}
}

/* --- connections ---------------------------------------------------------------------- */

static struct dconn *conn_by_handle(struct daemon *d, uint32_t h)
{
	size_t i;
	for (i = 0; i < d->nconns; i++)
		if (d->conns[i]->handle == h)
			return d->conns[i];
	return NULL;
}

static int conn_with_pub(struct daemon *d, const uint8_t pub[WM_PUB_LEN])
{
	size_t i;
	for (i = 0; i < d->nconns; i++)
		if (memcmp(d->conns[i]->pub, pub, WM_PUB_LEN) == 0)
			return 1;
	return 0;
}

static int io_send(void *ctx, uint32_t peer, const uint8_t *buf, size_t len, int prio)
{
	struct daemon *d = ctx;
	struct dconn *c = conn_by_handle(d, peer);

	if (!c)
		return WM_EIO;
	return transport_send(c->conn, buf, len, prio ? TRANSPORT_PRIO_HIGH : TRANSPORT_PRIO_NORMAL);
}

static void io_disconnect(void *ctx, uint32_t peer, const char *why, uint64_t backoff_ms)
{
	struct daemon *d = ctx;
	struct dconn *c = conn_by_handle(d, peer);
	struct dknown *k;

	if (!c)
		return;
	for (size_t i = 0; i < d->npend; i++)
		if (d->pend[i].handle == peer)
			return;              /* already on its way out */
	if (d->npend >= d->pendcap) {
		size_t cap = d->pendcap ? 2 * d->pendcap : 16;
		struct dpending *np = realloc(d->pend, cap * sizeof *np);
		if (!np) {
			d_log(d, D_WARN, "out of memory: cannot disconnect peer %" PRIu32, peer);
			return;
		}
		d->pend = np;
		d->pendcap = cap;
	}
	d->pend[d->npend].handle = peer;
	snprintf(d->pend[d->npend].why, D_ERR_LEN, "%s", why ? why : "disconnected by the mesh");
	d->pend[d->npend].backoff = backoff_ms;
	d->npend++;
	k = peers_known_by_pub(d, c->pub);
	if (k && backoff_ms > 0)
		k->banned_until = d_now_ms() + backoff_ms;
}

/* --- transport callbacks ------------------------------------------------------------ */

static void tr_on_up(void *ctx, struct transport_conn *tc, const uint8_t pub[WM_PUB_LEN], int outbound)
{
	struct daemon *d = ctx;
	struct dconn *c, **nc;
	struct dknown *k;
	char name[300];
	uint64_t now = d_now_ms();

	c = calloc(1, sizeof *c);
	nc = realloc(d->conns, (d->nconns + 1) * sizeof *nc);
	if (!c || !nc) {
		free(c);
		if (nc)
			d->conns = nc;
		transport_close(tc, "out of memory", 0);
		return;
	}
	d->conns = nc;
	c->handle = ++d->next_handle;
	if (c->handle == 0)
		c->handle = ++d->next_handle;
	c->conn = tc;
	memcpy(c->pub, pub, WM_PUB_LEN);
	snprintf(c->addr, sizeof c->addr, "%s", transport_conn_addr(tc));
	c->outbound = outbound;
	c->since = now;
	d->conns[d->nconns++] = c;
	transport_conn_set_data(tc, c);

	k = known_of_dialer(d, transport_conn_dialer(tc));
	if (k)
		k = known_learn(d, k, pub);
	if (!k)
		k = peers_known_by_pub(d, pub);
	if (!k && (k = known_new(d)) != NULL) {
		k->has_pub = 1;
		memcpy(k->pub, pub, WM_PUB_LEN);
	}
	if (k) {
		if (!k->configured || !k->addr[0])
			snprintf(k->addr, sizeof k->addr, "%s", c->addr);
		k->up = 1;
		k->outbound = outbound;
		k->handle = c->handle;
		k->since = now;
		k->banned_until = 0;
	}
	peers_known_name(k, name, sizeof name);
	d_log(d, D_INFO, "peer %s %s up (%s)", name, c->addr, outbound ? "outbound" : "inbound");
	d->status_dirty = 1;
	if (mesh_peer_up(d->mesh, c->handle, pub, outbound, now) != 0) {
		/* a link the mesh does not know would only carry keepalives */
		d_log(d, D_WARN, "mesh refused peer handle %" PRIu32 "; closing the link", c->handle);
		io_disconnect(d, c->handle, "the mesh refused the peer", 0);   /* closed after this */
	}
	d_after_mesh(d);
}

void peers_frame(void *ctx, uint32_t handle, const uint8_t *bytes, size_t len,
                 const struct vq_event *ev)
{
	struct daemon *d = ctx;
	uint64_t t0;

	if (d->stopping)
		return;
	t0 = uv_hrtime();
	if (ev != NULL)
		(void)mesh_receive_event(d->mesh, handle, ev->push, ev->wire, ev->len, d_now_ms());
	else
		(void)mesh_receive(d->mesh, handle, bytes, len, d_now_ms());
	t0 = uv_hrtime() - t0;
	if (t0 >= D_SLOW_NS && d->log_level <= D_DEBUG)
		d_log(d, D_DEBUG, "a frame of %zu bytes from peer %" PRIu32 " took %.1f ms",
		      len, handle, (double)t0 / 1e6);
	d_after_mesh(d);
}

/* Through the verify queue, which hands each frame to peers_frame in turn. */
static void tr_on_frame(void *ctx, struct transport_conn *tc, const uint8_t *bytes, size_t len)
{
	struct daemon *d = ctx;
	struct dconn *c = transport_conn_data(tc);

	if (!c || d->stopping)
		return;
	vq_frame(d->vq, c->handle, bytes, len);
}

static void tr_on_down(void *ctx, struct transport_conn *tc, const char *reason)
{
	struct daemon *d = ctx;
	struct dconn *c = transport_conn_data(tc);
	struct dknown *k;
	char name[300];
	size_t i;

	if (!c)
		return;
	transport_conn_set_data(tc, NULL);
	k = peers_known_by_pub(d, c->pub);
	if (k && d->mesh) {
		/* its name from HELLO, before the mesh forgets it */
		size_t n = mesh_peer_count(d->mesh);
		struct mesh_peer_info pi;
		for (i = 0; i < n; i++)
			if (mesh_peer_info(d->mesh, i, &pi) == 0 && pi.peer == c->handle && pi.name[0])
				snprintf(k->name, sizeof k->name, "%s", pi.name);
	}
	if (k) {
		k->up = 0;
		k->eager = 0;
		k->since = d_now_ms();
		snprintf(k->last_error, sizeof k->last_error, "%s", reason ? reason : "closed");
	}
	peers_known_name(k, name, sizeof name);
	d_log(d, D_INFO, "peer %s %s down: %s", name, c->addr, reason ? reason : "closed");
	for (i = 0; i < d->nconns; i++)
		if (d->conns[i] == c) {
			d->conns[i] = d->conns[--d->nconns];
			break;
		}
	if (d->mesh)
		mesh_peer_down(d->mesh, c->handle, d_now_ms());
	free(c);
	d->status_dirty = 1;
	d_after_mesh(d);
}

static void tr_on_log(void *ctx, const char *line)
{
	d_log(ctx, D_INFO, "%s", line);
}

/* A link that failed before it was up: the peer's own last error, kept for
 * status, unless the peer is up by another link (a duplicate closed is no
 * failure of it).  A dialer that meets a key learns whose address it dials. */
static void tr_on_fail(void *ctx, struct transport_dialer *td, const uint8_t *pub, const char *reason)
{
	struct daemon *d = ctx;
	struct dknown *k = known_of_dialer(d, td);

	if (k && pub)
		k = known_learn(d, k, pub);
	if (!k && pub)
		k = peers_known_by_pub(d, pub);
	if (!k || k->up)
		return;
	snprintf(k->last_error, sizeof k->last_error, "%s", reason);
	d->status_dirty = 1;
}

/* A peer of watchmesh.conf: its key is configured, or was learned from a
 * link a configured dialer made, or this link is one a configured dialer
 * made now. */
static int configured(struct daemon *d, const uint8_t pub[WM_PUB_LEN], struct transport_dialer *td)
{
	const struct dknown *k = peers_known_by_pub(d, pub);
	const struct ddialer *dd = dialer_of(d, td);

	if (k && k->configured)
		return 1;
	return dd && !dd->from_beacon;
}

/* A key a configured peer rotated to whose rotation stopped counting
 * (peers_judge_pins), not configured itself: refused, why saying so. */
static int dropped_pin(struct daemon *d, const uint8_t pub[WM_PUB_LEN], char why[WM_WHY_LEN])
{
	const struct dknown *k = peers_known_by_pub(d, pub);
	char hx[17];
	size_t i;

	if (k && k->configured)
		return 0;
	for (i = 0; i < d->ndialers; i++) {
		const struct ddialer *dd = &d->dialers[i];

		if (dd->pinned && dd->dropped && memcmp(dd->pin, pub, WM_PUB_LEN) == 0) {
			d_hex8(hx, pub);
			wm_why(why, "key %s is refused: peer %s rotated to it, and that rotation no longer counts "
			       "(a key of it is revoked; see the log)", hx, dd->cp.addr);
			return 1;
		}
	}
	return 0;
}

/*
 * Admission (issue 8 item 7, eclipse): configured peers are never refused
 * for max_peers; strangers (inbound, or dialed from a beacon) take at most
 * max_peers minus the configured ones.  (The transport admits at most 4
 * inbound links from one address.)  So keys made up by the thousand,
 * connecting first, cannot keep a node from its neighbours.
 */
static int tr_allow(void *ctx, struct transport_conn *tc, const uint8_t pub[WM_PUB_LEN],
                    char why[WM_WHY_LEN])
{
	struct daemon *d = ctx;
	/* links admitted but not up yet count as strangers: several
	 * handshakes may finish before the first of them is up */
	unsigned reserved = 0, strangers = transport_admitting(d->tr);
	size_t i;

	if (d->stopping) {
		wm_why(why, "node is shutting down");
		return 1;
	}
	if (dropped_pin(d, pub, why))
		return 1;
	/* a second link with a key already up is the transport's to settle */
	if (configured(d, pub, transport_conn_dialer(tc)) || conn_with_pub(d, pub))
		return 0;
	for (i = 0; i < d->ndialers; i++)
		reserved += !d->dialers[i].from_beacon;
	for (i = 0; i < d->nconns; i++)
		strangers += !configured(d, d->conns[i]->pub, NULL);
	if (strangers + reserved >= d->nd->conf.max_peers) {
		wm_why(why, "too many peers (max_peers = %u, %u of them kept for configured peers)",
		       d->nd->conf.max_peers, reserved);
		return 1;
	}
	return 0;
}

/* --- keys followed through a rotation (PROTOCOL.md §10) ----------------------------- */

#define D_PINS_MAX (256 * 1024)
#define D_PINS_DROPPED "dropped "    /* a line's mark: its rotation stopped counting */

/*
 * DIR/pins, one line a peer whose `peers` line pins a key that rotated:
 *     [dropped ]ADDR OLD NEW AT [CHAIN]
 * (the address and key as configured, the key followed to, the time of the
 * last statement followed, ms, and the keys between OLD and NEW, oldest
 * first, comma-separated, at most D_CHAIN_MAX: the newest; a file written
 * before the chain was kept has none, and a single step needs none).
 * "dropped " marks a rotation that stopped counting (peers_judge_pins): OLD
 * is dialed; a watchmesh older than the mark reads no address there, so it
 * does not follow either.  A line counts only while the peers line still
 * names OLD at ADDR: the operator's line wins once edited.
 */
static int pins_line(const char *line, struct ddialer *dd)
{
	char addr[256], ohex[WM_HEX_PUB + 1], nhex[WM_HEX_PUB + 1];
	const size_t mark = strlen(D_PINS_DROPPED);
	int dropped = strncmp(line, D_PINS_DROPPED, mark) == 0, n = 0;
	const char *p = line + (dropped ? mark : 0);
	unsigned long long t;
	uint8_t old[WM_PUB_LEN];
	size_t k = 0;

	if (sscanf(p, "%255s %64s %64s %llu%n", addr, ohex, nhex, &t, &n) != 4 ||
	    strcmp(addr, dd->cp.addr) != 0 || hex_decode(old, WM_PUB_LEN, ohex, strlen(ohex)) != 0 ||
	    memcmp(old, dd->cp.pub, WM_PUB_LEN) != 0 ||
	    hex_decode(dd->pin, WM_PUB_LEN, nhex, strlen(nhex)) != 0)
		return 0;
	for (p += n; *p == ' '; p++)
		;
	while (*p && k < D_CHAIN_MAX && strspn(p, "0123456789abcdef") == WM_HEX_PUB &&
	       (p[WM_HEX_PUB] == ',' || p[WM_HEX_PUB] == '\0') &&
	       hex_decode(dd->chain[k], WM_PUB_LEN, p, WM_HEX_PUB) == 0) {
		k++;
		p += WM_HEX_PUB + (p[WM_HEX_PUB] == ',');
	}
	if (*p)
		return 0;    /* a chain that does not read: the line does not count */
	dd->nchain = k;
	dd->pin_at = t;
	dd->dropped = dropped;
	return 1;
}

/* dd's line in DIR/pins, read into dd (pin, pin_at, chain, dropped): 1, or
 * 0 when there is none. */
static int pins_find(struct daemon *d, struct ddialer *dd)
{
	char path[PATH_MAX + 8], why[WM_WHY_LEN];
	char *line, *save = NULL;
	uint8_t *buf = NULL;
	size_t len;
	int found = 0;

	snprintf(path, sizeof path, "%s/pins", d->dir);
	if (!dd->cp.has_pub || !files_exists(path))
		return 0;
	if (files_read(path, D_PINS_MAX, &buf, &len, why) != 0) {
		d_log(d, D_WARN, "%s (the keys pinned there are not followed)", why);
		return 0;
	}
	for (line = strtok_r((char *)buf, "\n", &save); line && !found; line = strtok_r(NULL, "\n", &save))
		found = pins_line(line, dd);
	free(buf);
	return found;
}

/* The line for dd's address in DIR/pins, in place of any before (marked
 * dropped or not). */
static int pins_record(struct daemon *d, const struct ddialer *dd, char why[WM_WHY_LEN])
{
	char path[PATH_MAX + 8], ohex[WM_HEX_PUB + 1], nhex[WM_HEX_PUB + 1], *out, *line, *save = NULL;
	const size_t mark = strlen(D_PINS_DROPPED);
	size_t len = 0, n = 0, alen = strlen(dd->cp.addr), i;
	uint8_t *buf = NULL;
	int rc;

	snprintf(path, sizeof path, "%s/pins", d->dir);
	if (files_exists(path) && (rc = files_read(path, D_PINS_MAX, &buf, &len, why)) != 0)
		return rc;
	out = malloc(len + (D_CHAIN_MAX + 2) * (WM_HEX_PUB + 1) + mark + alen + 32);
	if (!out) {
		free(buf);
		wm_why(why, "out of memory");
		return WM_ENOMEM;
	}
	line = buf ? strtok_r((char *)buf, "\n", &save) : NULL;
	for (; line; line = strtok_r(NULL, "\n", &save)) {
		const char *a = line + (strncmp(line, D_PINS_DROPPED, mark) == 0 ? mark : 0);
		if (strncmp(a, dd->cp.addr, alen) != 0 || a[alen] != ' ')
			n += (size_t)sprintf(out + n, "%s\n", line);
	}
	hex_encode(ohex, dd->cp.pub, WM_PUB_LEN);
	hex_encode(nhex, dd->pin, WM_PUB_LEN);
	n += (size_t)sprintf(out + n, "%s%s %s %s %" PRIu64, dd->dropped ? D_PINS_DROPPED : "",
	                     dd->cp.addr, ohex, nhex, dd->pin_at);
	for (i = 0; i < dd->nchain; i++) {
		hex_encode(ohex, dd->chain[i], WM_PUB_LEN);
		n += (size_t)sprintf(out + n, "%c%s", i ? ',' : ' ', ohex);
	}
	out[n++] = '\n';
	rc = files_write_atomic(path, out, n, 0600, 0, why);
	free(out);
	free(buf);
	return rc;
}

/* key joins the end of dd's chain (the oldest forgotten beyond D_CHAIN_MAX). */
static void chain_add(struct ddialer *dd, const uint8_t key[WM_PUB_LEN])
{
	if (dd->nchain == D_CHAIN_MAX)
		memmove(dd->chain[0], dd->chain[1], --dd->nchain * WM_PUB_LEN);
	memcpy(dd->chain[dd->nchain++], key, WM_PUB_LEN);
}

/*
 * Does dd's followed rotation still count?  Not once a key of its chain
 * (the configured key, or one between it and the key followed to) is
 * revoked while the key followed to holds no valid node certificate: a
 * thief who rotated a stolen key before its revocation arrived has none,
 * the node's own new key gets one from its station (docs/keys.md), so the
 * old key's certificate revoked after an honest rotation leaves it be.
 * 1 counts, 0 not; why says which; <0 cannot tell (a store error).
 */
static int pin_counts(struct daemon *d, const struct ddialer *dd, char why[WM_WHY_LEN])
{
	char rwhy[WM_WHY_LEN] = "", cwhy[WM_WHY_LEN] = "";
	size_t i;
	int rc = trust_node_key_revoked(d->nd->store, d->nd->net.root, dd->cp.pub, rwhy);

	for (i = 0; rc == 0 && i < dd->nchain; i++)
		rc = trust_node_key_revoked(d->nd->store, d->nd->net.root, dd->chain[i], rwhy);
	if (rc == 0) {
		wm_why(why, "no key of its chain is revoked");
		return 1;
	}
	if (rc != WM_EREVOKED)
		return rc;
	rc = trust_node_key_certified(d->nd->store, d->nd->net.root, dd->pin, d_now_ms(), cwhy);
	if (rc == 1)
		wm_why(why, "%s, but the new key holds a valid node certificate", rwhy);
	else if (rc == 0)
		wm_why(why, "%s, and %s", rwhy, cwhy);
	return rc;
}

/* Judge dd's followed rotation now (dd->pinned); a change is logged and
 * recorded in DIR/pins, and at a start a rotation that does not count is
 * told again.  1 if the key to dial changed. */
static int pin_judge(struct daemon *d, struct ddialer *dd, int starting)
{
	char why[WM_WHY_LEN] = "", fwhy[WM_WHY_LEN] = "", ohex[WM_HEX_PUB + 1], nhex[WM_HEX_PUB + 1];
	int rc = pin_counts(d, dd, why), changed;

	if (rc < 0) {     /* judged again at the next status tick */
		d_log(d, D_DEBUG, "peer %s: cannot judge the key rotation it is followed by: %s", dd->cp.addr,
		      wm_strerror(rc));
		return 0;
	}
	changed = rc == dd->dropped;
	if (!changed && !(starting && dd->dropped))
		return 0;
	dd->dropped = !rc;
	hex_encode(ohex, dd->cp.pub, WM_PUB_LEN);
	hex_encode(nhex, dd->pin, WM_PUB_LEN);
	if (dd->dropped)
		d_log(d, D_WARN, "peer %s: its key rotation from %s to %s no longer counts: %s; the new key is "
		      "refused, the old one dialed.  If the rotation was the peer's own, have its station "
		      "certify the new key (cert issue --role node); if not, the old key was stolen: remove the "
		      "peer or change its peers line (%s/pins marks it dropped)",
		      dd->cp.addr, ohex, nhex, why, d->dir);
	else
		d_log(d, D_INFO, "peer %s: its key rotation from %s to %s counts again (%s): following it",
		      dd->cp.addr, ohex, nhex, why);
	if (changed && pins_record(d, dd, fwhy) != 0)
		d_log(d, D_WARN, "%s (%s/pins left as it was)", fwhy, d->dir);
	return changed;
}

/* A dialer's peer proved another key than the one we dial it by: admitted
 * only if its statements lead there from that key, for this network, none
 * older than the rotation followed last (so a replayed older one cannot
 * roll it back), and no key that signed a step is revoked (a thief holding
 * a revoked key could otherwise hand its place to a fresh one).  The keys
 * before it, if it followed before, are judged by peers_judge_pins. */
static int tr_rotated(void *ctx, struct transport_conn *tc, const uint8_t old[WM_PUB_LEN],
                      const uint8_t new_pub[WM_PUB_LEN], const uint8_t *frame, size_t len,
                      char why[WM_WHY_LEN])
{
	struct daemon *d = ctx;
	struct ddialer *dd = dialer_of(d, transport_conn_dialer(tc));
	char ohex[WM_HEX_PUB + 1], nhex[WM_HEX_PUB + 1], fwhy[WM_WHY_LEN] = "";
	uint8_t signers[ROT_MAX][WM_PUB_LEN];
	struct dknown *k;
	size_t n, i;
	uint64_t at;
	int rc;

	if (!dd || !dd->cp.has_pub || dd->from_beacon) {
		/* a member found by beacon is dialed by the key its beacons name */
		wm_why(why, "the peer's key is not the one dialed, and only a configured peer's rotation is followed");
		return WM_EREJECTED;
	}
	rc = rot_follow(frame, len, d->nd->net.id, old, dd->pinned ? dd->pin_at : 0, new_pub, &at, signers, &n,
	                why);
	for (i = 0; rc == 0 && i < n; i++) {
		rc = trust_node_key_revoked(d->nd->store, d->nd->net.root, signers[i], fwhy);
		if (rc == WM_EREVOKED)
			wm_why(why, "the peer's key rotation is signed by a revoked key: %s", fwhy);
		else if (rc != 0)     /* not followed: judged again at the next try */
			wm_why(why, "cannot tell whether the peer's key rotation is signed by a revoked key: %s",
			       wm_strerror(rc));
	}
	if (rc)
		return rc;
	if ((k = known_of_dialer(d, dd->d)) != NULL)
		known_learn(d, k, new_pub);   /* the same peer, for status, under its new key */
	/* the chain from the configured key: from old on, after the keys before it */
	i = memcmp(old, dd->cp.pub, WM_PUB_LEN) == 0;
	if (i)
		dd->nchain = 0;
	for (; i < n; i++)
		chain_add(dd, signers[i]);
	dd->pinned = 1;
	dd->dropped = 0;
	memcpy(dd->pin, new_pub, WM_PUB_LEN);
	dd->pin_at = at;
	hex_encode(ohex, old, WM_PUB_LEN);
	hex_encode(nhex, new_pub, WM_PUB_LEN);
	if (pins_record(d, dd, fwhy) != 0)
		d_log(d, D_WARN, "%s (the new key is followed until the daemon restarts)", fwhy);
	d_log(d, D_INFO, "peer %s rotated its key from %s to %s (a statement signed by the old key); "
	      "following it, recorded in %s/pins", dd->cp.addr, ohex, nhex, d->dir);
	return 0;
}

/* dd dials the other key now (pin_judge changed it): the links to the key
 * it dialed are closed, and its entry for status follows. */
static void dialer_rekey(struct daemon *d, struct ddialer *dd)
{
	const uint8_t *was = dd->dropped ? dd->pin : dd->cp.pub, *now = dialed_key(dd);
	char why[WM_WHY_LEN] = "";
	struct dknown *k;
	size_t j;

	/* downwards: a link closed leaves its place to the last, met already */
	for (j = d->nconns; j-- > 0;)
		if (memcmp(d->conns[j]->pub, was, WM_PUB_LEN) == 0)
			transport_close(d->conns[j]->conn, dd->dropped ? "the key rotation this key was followed "
			                "through no longer counts (a key of it is revoked)" : "following the peer's "
			                "key rotation again", 0);
	transport_dialer_remove(dd->d);
	dd->d = NULL;
	if (transport_connect(d->tr, dd->cp.addr, now, &dd->d, why) != 0)
		d_log(d, D_WARN, "cannot dial %s: %s (until a restart)", dd->cp.addr, why);
	transport_dialer_prefer(dd->d);
	if ((k = peers_known_by_pub(d, was)) != NULL)
		known_learn(d, k, now);
}

void peers_judge_pins(struct daemon *d)
{
	int changed = 0;
	size_t i;

	for (i = 0; i < d->ndialers; i++) {
		struct ddialer *dd = &d->dialers[i];

		if (dd->pinned && pin_judge(d, dd, 0)) {
			dialer_rekey(d, dd);
			changed = 1;
		}
	}
	if (changed)
		d_after_mesh(d);
}

/* --- dialers ---------------------------------------------------------------------- */

static int dialer_add(struct daemon *d, const struct conf_peer *cp, int from_beacon)
{
	struct ddialer *dd;
	struct dknown *k;
	char why[WM_WHY_LEN] = "";
	int rc;

	if (d->ndialers >= D_MAX_DIALERS)
		return WM_ETOOBIG;
	dd = &d->dialers[d->ndialers];
	memset(dd, 0, sizeof *dd);
	dd->cp = *cp;
	dd->from_beacon = from_beacon;
	dd->heard_at = d_now_ms();
	dd->pinned = !from_beacon && pins_find(d, dd);
	if (dd->pinned)
		(void)pin_judge(d, dd, 1);
	rc = transport_connect(d->tr, cp->addr, dialed_key(dd), &dd->d, why);
	if (rc) {
		d_log(d, D_WARN, "cannot dial %s: %s", cp->addr, why[0] ? why : wm_strerror(rc));
		return rc;
	}
	d->ndialers++;
	if (!from_beacon)
		transport_dialer_prefer(dd->d);   /* its address keeps handshake slots under attack */
	k = known_of_dialer(d, dd->d);
	if (!k)
		k = known_new(d);
	if (k) {
		if (cp->has_pub) {
			k->has_pub = 1;
			memcpy(k->pub, dialed_key(dd), WM_PUB_LEN);
		}
		snprintf(k->addr, sizeof k->addr, "%s", cp->addr);
		if (from_beacon)
			k->beacon = 1;
		else
			k->configured = 1;
	}
	d->status_dirty = 1;
	return 0;
}

static void dialer_remove_at(struct daemon *d, size_t i)
{
	struct ddialer *dd = &d->dialers[i];
	struct dknown *k;
	size_t j;

	transport_dialer_remove(dd->d);
	for (j = 0; j < D_MAX_KNOWN; j++) {
		k = &d->known[j];
		if (k->used && strcmp(k->addr, dd->cp.addr) == 0 &&
		    (!dd->cp.has_pub || (k->has_pub && !memcmp(k->pub, dd->cp.pub, WM_PUB_LEN))))
			k->configured = 0;
	}
	d->dialers[i] = d->dialers[--d->ndialers];
	d->status_dirty = 1;
}

static int same_peer(const struct conf_peer *a, const struct conf_peer *b)
{
	return strcmp(a->addr, b->addr) == 0 && a->has_pub == b->has_pub &&
	       (!a->has_pub || memcmp(a->pub, b->pub, WM_PUB_LEN) == 0);
}

/* This node's own statements (`key rotate` wrote them), for the neighbours
 * that pinned a key it had before. */
static int rotation_load(struct daemon *d, char why[WM_WHY_LEN])
{
	char path[PATH_MAX + 12], twhy[WM_WHY_LEN] = "";
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	snprintf(path, sizeof path, "%s/rotation", d->dir);
	if (!files_exists(path))
		return 0;
	rc = files_read(path, ROT_MAX * ROT_RECORD_LEN, &buf, &len, why);
	if (rc == 0 && len % ROT_RECORD_LEN != 0) {
		wm_why(why, "%s is cut short (%zu bytes); remove it, or restore it from a backup", path, len);
		rc = WM_EFORMAT;
	}
	if (rc == 0 && (rc = transport_set_rotation(d->tr, buf, len / ROT_RECORD_LEN, twhy)) != 0)
		wm_why(why, "%s: %s", path, twhy);
	free(buf);
	return rc;
}

/* c's peers list, its keys given by a certificate's name or a prefix
 * (conf_peer.ref) resolved against the node's certificates as every CLI
 * option's key is; an entry that names no key or several is an error naming
 * path, the line and what matched. */
static int peers_parse(struct daemon *d, const struct node_conf *c, const char *path,
                       struct conf_peer *ps, size_t *n, char why[WM_WHY_LEN])
{
	char rwhy[WM_WHY_LEN] = "";
	size_t i;
	int rc = conf_peers_parse(c->peers, ps, D_MAX_DIALERS, n, rwhy);

	if (rc)
		wm_why(why, "%s line %u: %s", path, c->peers_line, rwhy[0] ? rwhy : wm_strerror(rc));
	for (i = 0; rc == 0 && i < *n; i++) {
		if (!ps[i].ref[0])
			continue;
		if ((rc = keyname_resolve(d->nd, ps[i].ref, 0, d_now_ms(), ps[i].pub, rwhy)) != 0)
			wm_why(why, "%s line %u: peers: %s: %s", path, c->peers_line, ps[i].addr, rwhy);
		else
			ps[i].has_pub = 1;
	}
	return rc;
}

int peers_start_dialers(struct daemon *d, const struct node_conf *c, char why[WM_WHY_LEN])
{
	struct conf_peer *ps = calloc(D_MAX_DIALERS, sizeof *ps);
	char path[PATH_MAX + 32];
	size_t n = 0, i;
	int rc;

	if (!ps)
		return WM_ENOMEM;
	snprintf(path, sizeof path, "%s/watchmesh.conf", d->dir);
	rc = rotation_load(d, why);
	if (rc == 0)
		rc = peers_parse(d, c, path, ps, &n, why);
	for (i = 0; rc == 0 && i < n; i++) {
		rc = dialer_add(d, &ps[i], 0);
		if (rc)
			wm_why(why, "peers: cannot dial '%s'", ps[i].addr);
	}
	free(ps);
	return rc;
}

/* SIGHUP: the peers list again; add and remove dialers to match it. */
int peers_reload(struct daemon *d, const struct node_conf *c, const char *path)
{
	char why[WM_WHY_LEN] = "";
	struct conf_peer *ps = calloc(D_MAX_DIALERS, sizeof *ps);
	size_t n = 0, i, j, added = 0, removed = 0, kept = 0;
	int rc = WM_ENOMEM;

	if (!ps) {
		d_log(d, D_WARN, "SIGHUP: out of memory; nothing changed");
		return rc;
	}
	rc = peers_parse(d, c, path, ps, &n, why);
	if (rc) {
		d_log(d, D_WARN, "SIGHUP: %s; nothing changed", why);
		goto out;
	}
	for (i = 0; i < d->ndialers;) {
		int keep = d->dialers[i].from_beacon;
		for (j = 0; !keep && j < n; j++)
			keep = same_peer(&d->dialers[i].cp, &ps[j]);
		if (keep) {
			i++;
			continue;
		}
		d_log(d, D_INFO, "SIGHUP: peer %s removed", d->dialers[i].cp.addr);
		dialer_remove_at(d, i);
		removed++;
	}
	for (j = 0; j < n; j++) {
		int have = 0;
		for (i = 0; i < d->ndialers && !have; i++)
			have = !d->dialers[i].from_beacon && same_peer(&d->dialers[i].cp, &ps[j]);
		if (have) {
			kept++;
			continue;
		}
		if (dialer_add(d, &ps[j], 0) == 0) {
			d_log(d, D_INFO, "SIGHUP: peer %s added", ps[j].addr);
			added++;
		}
	}
	snprintf(d->nd->conf.peers, sizeof d->nd->conf.peers, "%s", c->peers);
	d_log(d, D_INFO, "SIGHUP: peers reloaded: %zu added, %zu removed, %zu unchanged",
	      added, removed, kept);
out:
	free(ps);
	return rc;
}

/* --- beacons ---------------------------------------------------------------------- */

static void bc_on_member(void *ctx, const uint8_t pub[WM_PUB_LEN], const char *addr)
{
	struct daemon *d = ctx;
	struct conf_peer cp;
	char h[17];
	size_t i, n;

	if (d->stopping)
		return;
	for (i = 0; i < d->ndialers; i++) {
		struct ddialer *dd = &d->dialers[i];

		if (!dd->cp.has_pub || memcmp(dd->cp.pub, pub, WM_PUB_LEN) != 0)
			continue;
		if (!dd->from_beacon || strcmp(dd->cp.addr, addr) == 0 || conn_with_pub(d, pub)) {
			dd->heard_at = d_now_ms();
			return;
		}
		/* a member we dial from its beacons moved (DHCP): follow it */
		d_hex8(h, pub);
		d_log(d, D_INFO, "beacon: member %s moved from %s to %s", h, dd->cp.addr, addr);
		dialer_remove_at(d, i);
		break;
	}
	if (conn_with_pub(d, pub))
		return;
	for (i = 0, n = 0; i < d->ndialers; i++)
		n += d->dialers[i].from_beacon;
	d_hex8(h, pub);
	if (n >= D_BEACON_DIALERS) {
		d_log(d, D_DEBUG, "beacon: member %s at %s not dialed: already dialing %zu members heard "
		      "by beacon", h, addr, n);
		return;
	}
	memset(&cp, 0, sizeof cp);
	snprintf(cp.addr, sizeof cp.addr, "%s", addr);
	cp.has_pub = 1;
	memcpy(cp.pub, pub, WM_PUB_LEN);
	if (dialer_add(d, &cp, 1) == 0)
		d_log(d, D_INFO, "beacon: member %s at %s; dialing it", h, addr);
}

/* Dialers started from beacons whose member has gone quiet (3 beacon
 * intervals) and is not connected: stop dialing them, or a laptop that
 * visited once would be dialed for ever. */
void peers_beacon_expire(struct daemon *d, uint64_t now)
{
	uint64_t quiet = 3 * d->nd->conf.beacon_interval * 1000;
	char h[17];
	size_t i;

	for (i = 0; i < d->ndialers;) {
		struct ddialer *dd = &d->dialers[i];

		if (!dd->from_beacon || !dd->cp.has_pub || now < dd->heard_at + quiet ||
		    conn_with_pub(d, dd->cp.pub)) {
			i++;
			continue;
		}
		d_hex8(h, dd->cp.pub);
		d_log(d, D_INFO, "beacon: member %s at %s not heard for %llu s; no longer dialing it", h,
		      dd->cp.addr, (unsigned long long)((now - dd->heard_at) / 1000));
		dialer_remove_at(d, i);
	}
}

static void bc_on_log(void *ctx, int debug, const char *line)
{
	d_log(ctx, debug ? D_DEBUG : D_INFO, "%s", line);
}

/* --- what the loop glue installs ------------------------------------------------ */

void peers_close_pending(struct daemon *d)
{
	while (d->npend > 0) {
		struct dpending p = d->pend[0];
		struct dconn *c;

		memmove(d->pend, d->pend + 1, (d->npend - 1) * sizeof d->pend[0]);
		d->npend--;
		c = conn_by_handle(d, p.handle);
		if (c)
			transport_close(c->conn, p.why, p.backoff);   /* on_down runs inside */
	}
}

void peers_transport_callbacks(struct daemon *d, struct transport_callbacks *tcb)
{
	memset(tcb, 0, sizeof *tcb);
	tcb->ctx = d;
	tcb->on_up = tr_on_up;
	tcb->on_frame = tr_on_frame;
	tcb->on_down = tr_on_down;
	tcb->on_log = tr_on_log;
	tcb->on_fail = tr_on_fail;
	tcb->allow_peer = tr_allow;
	tcb->on_rotated = tr_rotated;
}

void peers_mesh_io(struct mesh_io *io)
{
	io->send = io_send;
	io->disconnect = io_disconnect;
}

void peers_beacon_callbacks(struct daemon *d, struct beacon_callbacks *bcb)
{
	memset(bcb, 0, sizeof *bcb);
	bcb->ctx = d;
	bcb->on_member = bc_on_member;
	bcb->on_log = bc_on_log;
}
