/*
 * node/trust.c: who may sign what (the rules are proto/PROTOCOL.md section
 * 11, "Trust and certificates").
 *
 * Everything is computed from the certs and revocations tables at the
 * event's own created_at, never at "now", so every node reaches the same
 * verdict for the same event whatever order things arrived in -- except for
 * what is simply not known yet, which gives a passing refusal
 * (WM_EUNKNOWNCERT, WM_EPENDING) that repair or import retries.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trust.h"

#include "render.h"


/* First 8 hex digits of a key, for messages. */
static const char *short_hex(char buf[17], const uint8_t *key)
{
	hex_encode(buf, key, 8);
	return buf;
}

int trust_groups_cover(const char *groups, const char *group)
{
	size_t glen, n;
	const char *p, *end;

	if (groups == NULL || group == NULL)
		return 0;
	glen = strlen(group);
	for (p = groups; *p != '\0'; p = *end ? end + 1 : end) {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		n = (size_t)(end - p);
		if ((n == 1 && p[0] == '*') || (n == glen && n > 0 && memcmp(p, group, n) == 0))
			return 1;
	}
	return 0;
}

/* A cert counts from not_before, but never from more than a day before it
 * was signed: a key that can sign certs could otherwise date one into the
 * past its issuer had before it was revoked. */
#define CERT_BACKDATE_MS (24ull * 60 * 60 * 1000)

static uint64_t starts_at(const struct cert *c)
{
	uint64_t floor = c->created_at > CERT_BACKDATE_MS ? c->created_at - CERT_BACKDATE_MS : 0;

	return c->not_before > floor ? c->not_before : floor;
}

static int valid_at(const struct cert *c, uint64_t t)
{
	return starts_at(c) <= t && t < c->not_after;
}

/*
 * Does the event `id` by c's subject keep what c gives it?  A revocation
 * by c's issuer, or by root, takes it away except from the ids its kept
 * set holds (what its keep lists reach); several revokes by one signer are
 * one kept set; each signer that revoked the subject must keep the event.
 * id NULL: an event not held (kept by nobody).  1 yes, 0 no, <0 error.
 */
static int kept_by(struct store *s, const uint8_t subject[WM_PUB_LEN], const uint8_t signer[WM_PUB_LEN],
                   const uint8_t *id)
{
	int rc = store_revoked_by(s, subject, signer);

	if (rc <= 0)
		return rc < 0 ? rc : 1;
	return id == NULL ? 0 : store_is_kept(s, subject, signer, id);
}

static int cert_holds_for(struct store *s, const uint8_t root[WM_PUB_LEN], const struct cert *c,
                          const uint8_t *id)
{
	int rc = kept_by(s, c->subject, c->issuer, id);

	if (rc == 1 && memcmp(c->issuer, root, WM_PUB_LEN) != 0)
		rc = kept_by(s, c->subject, root, id);
	return rc;
}

/* --- cert lists --------------------------------------------------------------- */

struct certs {
	struct cert *v;
	size_t n, cap;
	int borrowed;                /* v is a trust_cache's: certs_free leaves it */
};

/* Certs read for one subject.  Ingest keeps at most TRUST_CERTS_PER_ISSUER
 * running ones per issuer, so only hundreds of stations reach this; then
 * the refusal is passing, as every resource limit is. */
#define CERTS_MAX 4096

static int certs_add(void *ctx, const struct cert *c)
{
	struct certs *l = ctx;
	struct cert *v;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 4;

		if (cap > CERTS_MAX)
			return WM_ELIMIT;
		if ((v = realloc(l->v, cap * sizeof(*v))) == NULL)
			return WM_ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *c;
	return 0;
}

/*
 * The certificate lists of a few subjects as the store held them when they
 * were read: a daemon catching up judges thousands of posts by the same
 * officers in one transaction, and reading their chain is most of what
 * trust costs an event.  Only reads are kept, never verdicts: revocations
 * (store_revoked_by, store_is_kept) are read each time.
 */
#define TRUST_CACHE_SUBJECTS 8
#define TRUST_CACHE_CERTS 16         /* a longer list is read each time */

struct trust_cache {
	struct {
		int used;
		uint64_t call;       /* the last call that read it: while it runs, the list is lent out */
		uint8_t subject[WM_PUB_LEN];
		struct cert *v;      /* NULL when n is 0 */
		size_t n;
	} e[TRUST_CACHE_SUBJECTS];
	size_t next;                 /* the entry replaced next */
	uint64_t calls;              /* trust_check_event_cached calls so far */
};

/* The cache of the trust_check_event_cached call running on this thread,
 * else NULL: a parameter through every rule between it and certs_of
 * (public ones among them) would carry the same pointer. */
static _Thread_local struct trust_cache *active;

int trust_cache_new(struct trust_cache **out)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return WM_ENOMEM;
	return 0;
}

void trust_cache_clear(struct trust_cache *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < TRUST_CACHE_SUBJECTS; i++)
		free(c->e[i].v);
	memset(c, 0, sizeof(*c));
}

void trust_cache_free(struct trust_cache *c)
{
	trust_cache_clear(c);
	free(c);
}

/* Keep l as subject's list, in an entry the running call has not read (a
 * list it reads stays lent out until it returns); a failure, or no such
 * entry, only leaves it out. */
static void cache_put(struct trust_cache *c, const uint8_t subject[WM_PUB_LEN], const struct certs *l)
{
	struct cert *v = NULL;
	size_t i = c->next, k;

	for (k = 0; k < TRUST_CACHE_SUBJECTS && c->e[i].used && c->e[i].call == c->calls; k++)
		i = (i + 1) % TRUST_CACHE_SUBJECTS;
	if (k == TRUST_CACHE_SUBJECTS || l->n > TRUST_CACHE_CERTS ||
	    (l->n > 0 && (v = malloc(l->n * sizeof(*v))) == NULL))
		return;
	if (l->n > 0)
		memcpy(v, l->v, l->n * sizeof(*v));
	free(c->e[i].v);
	c->e[i].used = 1;
	c->e[i].call = c->calls;
	memcpy(c->e[i].subject, subject, WM_PUB_LEN);
	c->e[i].v = v;
	c->e[i].n = l->n;
	c->next = (i + 1) % TRUST_CACHE_SUBJECTS;
}

static int certs_of(struct store *s, const uint8_t subject[WM_PUB_LEN], struct certs *l)
{
	size_t i;
	int rc;

	memset(l, 0, sizeof(*l));
	for (i = 0; active != NULL && i < TRUST_CACHE_SUBJECTS; i++) {
		if (active->e[i].used && memcmp(active->e[i].subject, subject, WM_PUB_LEN) == 0) {
			active->e[i].call = active->calls;
			l->v = active->e[i].v;
			l->n = active->e[i].n;
			l->borrowed = 1;
			return 0;
		}
	}
	if ((rc = store_certs_of(s, subject, certs_add, l)) == 0 && active != NULL)
		cache_put(active, subject, l);
	return rc;
}

static void certs_free(struct certs *l)
{
	if (!l->borrowed)
		free(l->v);
	memset(l, 0, sizeof(*l));
}

/* Why a candidate chain failed, in the order a reader wants to hear it:
 * a higher value wins when several certs all fail. */
enum fail {
	F_NONE = 0,
	F_ROLE,         /* a node or resident cert: never official */
	F_ISSUER,       /* a station cert not issued by root */
	F_GROUP,        /* does not cover the group */
	F_TIME,         /* outside not_before..not_after */
	F_UNKNOWN,      /* the issuing station's cert is not known yet */
	F_REVOKED,      /* everything fits but a key was revoked by then */
};

struct verdict {
	enum fail fail;
	char why[WM_WHY_LEN];
};

static void note(struct verdict *v, enum fail f, const char *fmt, ...)
{
	va_list ap;

	if (f <= v->fail)
		return;
	v->fail = f;
	va_start(ap, fmt);
	vsnprintf(v->why, sizeof(v->why), fmt, ap);
	va_end(ap);
}

/* "not valid at T (it runs from A to B)", in local times, for people. */
static void note_window(struct verdict *v, const char *what, uint64_t at, const struct cert *c)
{
	char t[64], a[64], b[64];

	render_time(t, sizeof t, at);
	render_time(a, sizeof a, c->not_before);
	render_time(b, sizeof b, c->not_after);
	note(v, F_TIME, "%s is not valid at %s (it runs from %s to %s)", what, t, a, b);
}

/* "a bulletin", "an alert": a kind as a sentence names it. */
static const char *a_kind(unsigned kind)
{
	switch (kind) {
	case KIND_BULLETIN: return "a bulletin";
	case KIND_ALERT: return "an alert";
	case KIND_REQUEST: return "a help request";
	case KIND_REPLY: return "a reply";
	case KIND_STATUS: return "a status";
	case KIND_RETRACT: return "a retraction";
	case KIND_CERT: return "a certificate";
	case KIND_REVOKE: return "a revocation";
	case KIND_ACK: return "an ack";
	default: return "an event of an unknown kind";
	}
}

/*
 * Is `c` (a cert of some key) a station cert that holds at t for the
 * station's event id (an event it signed: a post, or the cert or revoke
 * through which it acts for someone else): issued by root, in its window,
 * covering group (unless group is NULL), and id kept if root revoked the
 * station?  1 yes, 0 no (v says why), <0 error.
 */
static int station_cert_ok(struct store *s, const uint8_t root[WM_PUB_LEN], const struct cert *c,
                           const char *group, uint64_t t, const uint8_t *id, struct verdict *v)
{
	char hx[17];
	int rc;

	if (c->role != ROLE_STATION) {
		note(v, F_ROLE, "key %s holds a %s certificate, not a station's", short_hex(hx, c->subject),
		     role_name(c->role));
		return 0;
	}
	if (memcmp(c->issuer, root, WM_PUB_LEN) != 0) {
		note(v, F_ISSUER, "station certificate of '%s' is not issued by the network root", c->name);
		return 0;
	}
	if (group != NULL && !trust_groups_cover(c->groups, group)) {
		note(v, F_GROUP, "station '%s' covers groups '%s', not '%s'", c->name, c->groups, group);
		return 0;
	}
	if (!valid_at(c, t)) {
		char what[WM_WHY_LEN];
		snprintf(what, sizeof what, "the station certificate of '%s'", c->name);
		note_window(v, what, t, c);
		return 0;
	}
	if ((rc = cert_holds_for(s, root, c, id)) != 1) {
		if (rc == 0)
			note(v, F_REVOKED, "station '%s' was revoked, and what it signed here is not in what "
			     "the revocation keeps", c->name);
		return rc;
	}
	return 1;
}

/* A station cert of `station` that holds at t for group and the station's
 * event id; *name its name. */
static int station_ok(struct store *s, const uint8_t root[WM_PUB_LEN], const uint8_t station[WM_PUB_LEN],
                      const char *group, uint64_t t, const uint8_t *id, struct verdict *v, char name[128])
{
	struct certs l;
	char hx[17];
	size_t i;
	int rc;

	if ((rc = certs_of(s, station, &l)) != 0)
		goto out;
	if (l.n == 0) {
		note(v, F_UNKNOWN, "no certificate known yet for the issuing station %s", short_hex(hx, station));
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		if ((rc = station_cert_ok(s, root, &l.v[i], group, t, id, v)) != 0) {
			if (rc == 1 && name != NULL)
				snprintf(name, 128, "%s", l.v[i].name);
			goto out;
		}
	}
out:
	certs_free(&l);
	return rc;
}

/* trust_official (vouch = 0: a station or an officer) and trust_vouched
 * (vouch = 1: a resident too). */
static int chain_holder(struct store *s, const uint8_t root[WM_PUB_LEN],
                        const uint8_t author[WM_PUB_LEN], const char *group, uint64_t at,
                        const uint8_t *id, int vouch, struct official *out, char why[WM_WHY_LEN])
{
	struct verdict v = { F_NONE, "" };
	struct official o;
	struct certs l;
	char hx[17], station[128];
	size_t i;
	int rc;

	if (s == NULL || root == NULL || author == NULL || group == NULL)
		return WM_EINVAL;
	if ((rc = certs_of(s, author, &l)) != 0)
		goto out;
	if (l.n == 0) {
		wm_why(why, "no certificate known for key %s", short_hex(hx, author));
		rc = WM_EUNKNOWNCERT;
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		const struct cert *c = &l.v[i];

		memset(&o, 0, sizeof(o));
		if (c->role == ROLE_STATION) {
			if ((rc = station_cert_ok(s, root, c, group, at, id, &v)) < 0)
				goto out;
			if (rc == 0)
				continue;
			o.role = ROLE_STATION;
			snprintf(o.name, sizeof(o.name), "%s", c->name);
			goto found;
		}
		if (c->role != ROLE_OFFICER && !(vouch && c->role == ROLE_RESIDENT)) {
			note(&v, F_ROLE, "'%s' holds a %s certificate, which does not make %s",
			     c->name, role_name(c->role), vouch ? "a vouched resident" : "an official");
			continue;
		}
		if (!trust_groups_cover(c->groups, group)) {
			note(&v, F_GROUP, "%s '%s' covers groups '%s', not '%s'", role_name(c->role), c->name,
			     c->groups, group);
			continue;
		}
		if (!valid_at(c, at)) {
			char what[WM_WHY_LEN];
			snprintf(what, sizeof what, "the certificate of %s '%s'", role_name(c->role), c->name);
			note_window(&v, what, at, c);
			continue;
		}
		if ((rc = cert_holds_for(s, root, c, id)) < 0)
			goto out;
		if (rc == 0) {
			note(&v, F_REVOKED, "%s '%s' was revoked, and this event is not in what the revocation "
			     "keeps", role_name(c->role), c->name);
			continue;
		}
		/* the station acts for the officer through the cert it signed */
		station[0] = '\0';
		if ((rc = station_ok(s, root, c->issuer, group, at, c->event_id, &v, station)) < 0)
			goto out;
		if (rc == 0)
			continue;
		o.role = c->role;
		snprintf(o.name, sizeof(o.name), "%s", c->name);
		snprintf(o.station, sizeof(o.station), "%s", station);
		goto found;
	}
	/* Nothing held: report the most telling failure. */
	if (v.fail == F_REVOKED)
		rc = WM_EREVOKED;
	else if (v.fail == F_UNKNOWN)
		rc = WM_EUNKNOWNCERT;
	else
		rc = vouch ? WM_ENOTVOUCHED : WM_ENOTOFFICIAL;
	wm_why(why, "%s", v.why[0] ? v.why : vouch ? "not vouched for in this group"
	                                          : "not an official of this group");
	goto out;
found:
	if (out != NULL)
		*out = o;
	rc = 0;
out:
	certs_free(&l);
	return rc;
}

int trust_official(struct store *s, const uint8_t root[WM_PUB_LEN],
                   const uint8_t author[WM_PUB_LEN], const char *group, uint64_t at,
                   const uint8_t *id, struct official *out, char why[WM_WHY_LEN])
{
	return chain_holder(s, root, author, group, at, id, 0, out, why);
}

int trust_vouched(struct store *s, const uint8_t root[WM_PUB_LEN],
                  const uint8_t author[WM_PUB_LEN], const char *group, uint64_t at,
                  const uint8_t *id, struct official *out, char why[WM_WHY_LEN])
{
	return chain_holder(s, root, author, group, at, id, 1, out, why);
}

/* --- vouched groups ------------------------------------------------------------------- */

#define VOUCHED_META "vouched"

/* The certificates of node key `key` in *l (certs_free it), 0; or 1, why
 * saying so, when the network's root revoked the key itself (*l empty);
 * <0 on a store error. */
static int node_key_certs(struct store *s, const uint8_t root[WM_PUB_LEN], const uint8_t key[WM_PUB_LEN],
                          struct certs *l, char why[WM_WHY_LEN])
{
	char hx[17];
	int rc = store_revoked_by(s, key, root);

	if (rc == 1) {
		wm_why(why, "the network's root revoked key %s", short_hex(hx, key));
		return 1;
	}
	return rc < 0 ? rc : certs_of(s, key, l);
}

int trust_node_key_revoked(struct store *s, const uint8_t root[WM_PUB_LEN], const uint8_t key[WM_PUB_LEN],
                           char why[WM_WHY_LEN])
{
	struct certs l;
	char hx[17];
	size_t i;
	int rc = node_key_certs(s, root, key, &l, why);

	if (rc != 0)
		return rc == 1 ? WM_EREVOKED : rc;
	for (i = 0; i < l.n && rc == 0; i++) {
		if (l.v[i].role != ROLE_NODE)
			continue;
		/* an id of NULL: kept by no revocation */
		if ((rc = cert_holds_for(s, root, &l.v[i], NULL)) == 0) {
			wm_why(why, "the node certificate of key %s is revoked", short_hex(hx, key));
			rc = WM_EREVOKED;
		} else if (rc == 1) {
			rc = 0;
		}
	}
	certs_free(&l);
	return rc;
}

int trust_node_key_certified(struct store *s, const uint8_t root[WM_PUB_LEN],
                             const uint8_t key[WM_PUB_LEN], uint64_t now, char why[WM_WHY_LEN])
{
	struct verdict v = { F_NONE, "" };
	struct certs l;
	char hx[17];
	size_t i;
	int rc = node_key_certs(s, root, key, &l, why);

	if (rc != 0)
		return rc == 1 ? 0 : rc;
	for (i = 0; i < l.n && rc == 0; i++) {
		const struct cert *c = &l.v[i];

		if (c->role != ROLE_NODE)
			continue;
		if (!valid_at(c, now)) {
			char what[WM_WHY_LEN];
			snprintf(what, sizeof what, "the node certificate of key %s", short_hex(hx, key));
			note_window(&v, what, now, c);
			continue;
		}
		if ((rc = cert_holds_for(s, root, c, NULL)) == 0)
			note(&v, F_REVOKED, "the node certificate of key %s is revoked", short_hex(hx, key));
		else if (rc == 1)    /* its station's certificate holds now, for the cert it signed */
			rc = station_ok(s, root, c->issuer, NULL, now, c->event_id, &v, NULL);
	}
	certs_free(&l);
	if (rc == 0 && v.fail != F_NONE)
		wm_why(why, "%s", v.why);
	else if (rc == 0)
		wm_why(why, "key %s holds no node certificate", short_hex(hx, key));
	return rc;
}

int trust_set_vouched(struct store *s, const char *list)
{
	char now[TRUST_VOUCHED_LEN];
	int rc;

	if (s == NULL || list == NULL || strlen(list) >= sizeof(now))
		return WM_EINVAL;
	rc = store_meta_get(s, VOUCHED_META, now, sizeof(now));
	if ((rc == 0 && strcmp(now, list) == 0) || (rc == WM_ENOTFOUND && list[0] == '\0'))
		return 0;       /* unchanged (none, and none recorded, included) */
	return store_meta_set(s, VOUCHED_META, list);
}

/* The vouched list recorded in the store ("" if none).  A list too long
 * for the buffer (written by another build) is the store's fault, never a
 * verdict on the event being judged: WM_ESTORE, not WM_ETOOBIG (lasting). */
static int vouched_list(struct store *s, char *out, size_t len)
{
	int rc = store_meta_get(s, VOUCHED_META, out, len);

	if (rc == WM_ENOTFOUND) {
		out[0] = '\0';
		return 0;
	}
	return rc == WM_ETOOBIG ? WM_ESTORE : rc;
}

/* Requests, replies, acks and retracts: in a vouched group, a key with a
 * resident, officer or station certificate for it. */
static int check_vouched(struct store *s, const uint8_t root[WM_PUB_LEN], const struct event *ev,
                         char *why)
{
	char list[TRUST_VOUCHED_LEN], inner[WM_WHY_LEN];
	int rc;

	if ((rc = vouched_list(s, list, sizeof(list))) != 0)
		return rc;
	if (list[0] == '\0' || !trust_groups_cover(list, ev->group))
		return 0;       /* an open group */
	rc = trust_vouched(s, root, ev->author, ev->group, ev->created_at, ev->id, NULL, inner);
	if (rc != 0 && rc != WM_ESTORE && rc != WM_ENOMEM)
		wm_why(why, "group '%s' is vouched: only keys with a resident or officer certificate "
		       "for it may post there (%s)", ev->group, inner);
	return rc;
}

/* --- per-kind rules ------------------------------------------------------------------ */

int trust_cert_from_event(const struct event *ev, struct cert *out, char why[WM_WHY_LEN])
{
	const struct cval *groups;
	const uint8_t *subject;
	const char *p;
	struct cert c;
	size_t n, i, k = 0;
	char role[16];

	if (ev == NULL || out == NULL || ev->kind != KIND_CERT) {
		wm_why(why, "not a certificate");
		return WM_ECONTENT;
	}
	memset(&c, 0, sizeof(c));
	memcpy(c.event_id, ev->id, WM_ID_LEN);
	memcpy(c.issuer, ev->author, WM_PUB_LEN);
	c.created_at = ev->created_at;
	if (event_get_bin(ev, "subject", &subject, &n) != 0 || n != WM_PUB_LEN) {
		wm_why(why, "the certificate names no key (its subject)");
		return WM_ECONTENT;
	}
	memcpy(c.subject, subject, WM_PUB_LEN);
	if (event_get_str(ev, "role", &p, &n) != 0 || n >= sizeof(role)) {
		wm_why(why, "the certificate gives no role");
		return WM_ECONTENT;
	}
	memcpy(role, p, n);
	role[n] = '\0';
	if ((c.role = role_from_name(role)) == 0) {
		wm_why(why, "the certificate's role '%s' is not station, officer, node or resident", role);
		return WM_ECONTENT;
	}
	if (event_get_str(ev, "name", &p, &n) != 0 || n == 0 || n >= sizeof(c.name)) {
		wm_why(why, "the certificate's name is missing or longer than %zu bytes", sizeof(c.name) - 1);
		return WM_ECONTENT;
	}
	memcpy(c.name, p, n);
	if (event_get_uint(ev, "not_before", &c.not_before) != 0 ||
	    event_get_uint(ev, "not_after", &c.not_after) != 0 || c.not_before >= c.not_after) {
		wm_why(why, "the certificate ends before it begins");
		return WM_ECONTENT;
	}
	groups = event_get(ev, "groups");
	if (groups == NULL || groups->type != CV_ARRAY || groups->len == 0) {
		wm_why(why, "the certificate names no group");
		return WM_ECONTENT;
	}
	for (i = 0; i < groups->len; i++) {
		const struct cval *g = &groups->items[i];

		if (g->type != CV_STR || g->len == 0 || memchr(g->ptr, ',', g->len) != NULL ||
		    memchr(g->ptr, '\0', g->len) != NULL || k + g->len + 1 >= sizeof(c.groups)) {
			wm_why(why, "the certificate's group number %zu is not a group name, or its groups are "
			       "too many", i + 1);
			return WM_ECONTENT;
		}
		if (i > 0)
			c.groups[k++] = ',';
		memcpy(c.groups + k, g->ptr, g->len);
		k += g->len;
	}
	*out = c;
	return 0;
}

/* Cert events: stations by root; officers, nodes, residents by a station
 * whose own cert holds at the cert's created_at (any group). */
static int check_cert(struct store *s, const uint8_t root[WM_PUB_LEN], const struct event *ev, char *why)
{
	struct verdict v = { F_NONE, "" };
	struct cert c;
	int rc;

	if ((rc = trust_cert_from_event(ev, &c, why)) != 0)
		return rc;
	if (c.role == ROLE_STATION) {
		if (memcmp(ev->author, root, WM_PUB_LEN) != 0) {
			wm_why(why, "a station certificate must be signed by the network root");
			return WM_EFORBIDDEN;
		}
		return 0;
	}
	if (memcmp(ev->author, root, WM_PUB_LEN) == 0) {
		wm_why(why, "the network root certifies stations only; a %s is certified by a station",
		        role_name(c.role));
		return WM_EFORBIDDEN;
	}
	if ((rc = station_ok(s, root, ev->author, NULL, ev->created_at, ev->id, &v, NULL)) < 0)
		return rc;
	if (rc == 1)
		return 0;
	switch (v.fail) {
	case F_UNKNOWN:
		wm_why(why, "the issuer of this %s certificate has no certificate known yet", role_name(c.role));
		return WM_EUNKNOWNCERT;
	case F_REVOKED:
		wm_why(why, "issuer of this certificate: %s", v.why);
		return WM_EREVOKED;
	default:
		wm_why(why, "a %s certificate must be signed by a station with a valid certificate: %s",
		        role_name(c.role), v.why);
		return WM_EFORBIDDEN;
	}
}

/* Revoke events: by root, or by the issuer of a cert the subject holds,
 * itself a station then; never of root. */
static int check_revoke(struct store *s, const uint8_t root[WM_PUB_LEN], const struct event *ev, char *why)
{
	struct verdict v = { F_NONE, "" };
	const uint8_t *subject;
	struct certs l;
	size_t n, i;
	char hx[17];
	int rc;

	if (event_get_bin(ev, "subject", &subject, &n) != 0 || n != WM_PUB_LEN) {
		wm_why(why, "the revocation names no key (its subject)");
		return WM_ECONTENT;
	}
	if (memcmp(subject, root, WM_PUB_LEN) == 0) {
		wm_why(why, "the network root is never revoked");
		return WM_EFORBIDDEN;
	}
	if (memcmp(ev->author, root, WM_PUB_LEN) == 0)
		return 0;
	if ((rc = certs_of(s, subject, &l)) != 0)
		goto out;
	if (l.n == 0) {
		wm_why(why, "no certificate known yet for the revoked key %s", short_hex(hx, subject));
		rc = WM_EUNKNOWNCERT;
		goto out;
	}
	rc = WM_EFORBIDDEN;
	for (i = 0; i < l.n; i++)
		if (memcmp(l.v[i].issuer, ev->author, WM_PUB_LEN) == 0)
			rc = 0;
	if (rc != 0) {
		wm_why(why, "only the network root or the issuer of one of its certificates may revoke key %s",
		        short_hex(hx, subject));
		goto out;
	}
	/* Only stations issue what root does not, and a station revoked (or
	 * not yet valid) at the revoke's date cannot revoke by then. */
	if ((rc = station_ok(s, root, ev->author, NULL, ev->created_at, ev->id, &v, NULL)) < 0)
		goto out;
	if (rc == 0) {
		wm_why(why, "the signer of this revocation holds no valid station certificate then: %s", v.why);
		rc = v.fail == F_UNKNOWN ? WM_EUNKNOWNCERT : v.fail == F_REVOKED ? WM_EREVOKED : WM_EFORBIDDEN;
	} else {
		rc = 0;
	}
out:
	certs_free(&l);
	return rc;
}

/* Bulletins and alerts: an official of the event's group at created_at. */
static int check_official(struct store *s, const uint8_t root[WM_PUB_LEN], const struct event *ev, char *why)
{
	char inner[WM_WHY_LEN];
	int rc = trust_official(s, root, ev->author, ev->group, ev->created_at, ev->id, NULL, inner);

	if (rc == 0)
		return 0;
	if (rc == WM_EUNKNOWNCERT || rc == WM_EREVOKED || rc == WM_ENOTOFFICIAL)
		wm_why(why, "a %s must be signed by an official of '%s': %s", kind_name(ev->kind), ev->group, inner);
	return rc;
}

/* Status: an official of the group, or the request's author closing it. */
static int check_status(struct store *s, const uint8_t root[WM_PUB_LEN], const struct event *ev, char *why)
{
	struct store_info req;
	char inner[WM_WHY_LEN];
	const char *state;
	size_t n;
	int rc, off;

	if (ev->nrefs < 1) {
		wm_why(why, "a status must name the help request it is about");
		return WM_ECONTENT;
	}
	if (event_get_str(ev, "state", &state, &n) != 0) {
		wm_why(why, "a status must give a state (acknowledged, assigned, referred, resolved or closed)");
		return WM_ECONTENT;
	}
	rc = store_info(s, ev->refs[0], &req);
	if (rc != 0 && rc != WM_ENOTFOUND)
		return rc;
	if (rc == 0) {
		if (req.kind != KIND_REQUEST) {
			wm_why(why, "this status answers %s; a status can only answer a help request",
			       a_kind(req.kind));
			return WM_EFORBIDDEN;
		}
		if (strcmp(req.group, ev->group) != 0) {
			wm_why(why, "the status is in the group '%s' but its help request is in '%s'", ev->group,
			       req.group);
			return WM_EFORBIDDEN;
		}
	}
	off = trust_official(s, root, ev->author, ev->group, ev->created_at, ev->id, NULL, inner);
	if (off == 0)
		return 0;
	if (off != WM_EUNKNOWNCERT && off != WM_EREVOKED && off != WM_ENOTOFFICIAL)
		return off;
	if (rc == WM_ENOTFOUND) {
		wm_why(why, "the request this status refers to is not known yet, and its author is not an official "
		        "of '%s'", ev->group);
		return WM_EPENDING;
	}
	if (memcmp(req.author, ev->author, WM_PUB_LEN) == 0) {
		if (n == 6 && memcmp(state, "closed", 6) == 0)
			return 0;
		wm_why(why, "the author of a request may only close it (state 'closed'), not set '%.*s'",
		        (int)(n < 32 ? n : 32), state);
		return WM_EFORBIDDEN;
	}
	if (off == WM_EREVOKED || off == WM_EUNKNOWNCERT) {
		/* no certificate of the author known yet: it may come (passing) */
		wm_why(why, "a status must be signed by an official of '%s' or the request's author: %s",
		        ev->group, inner);
		return off;
	}
	wm_why(why, "a status must be signed by an official of '%s' or the request's author", ev->group);
	return WM_EFORBIDDEN;
}

int trust_retract_allowed(struct store *s, const uint8_t root[WM_PUB_LEN], const struct event *ev,
                          const struct store_info *target, char why[WM_WHY_LEN])
{
	char inner[WM_WHY_LEN];
	int rc;

	if (s == NULL || root == NULL || ev == NULL || target == NULL)
		return WM_EINVAL;
	if (target->kind == KIND_CERT || target->kind == KIND_REVOKE) {
		wm_why(why, "%s cannot be retracted; a certificate is withdrawn by revoking it (cert revoke)",
		       a_kind(target->kind));
		return WM_EFORBIDDEN;
	}
	if (target->kind == KIND_RETRACT) {
		wm_why(why, "a retraction cannot be retracted");
		return WM_EFORBIDDEN;
	}
	if (strcmp(target->group, ev->group) != 0) {
		wm_why(why, "the retraction is in the group '%s' but the event it withdraws is in '%s'", ev->group,
		       target->group);
		return WM_EFORBIDDEN;
	}
	/* A stolen key could otherwise date a retract before its own
	 * revocation and still withdraw posts made after it. */
	if (ev->created_at < target->created_at) {
		char t[64], span[64];
		render_time(t, sizeof t, ev->created_at);
		render_span(span, sizeof span, target->created_at - ev->created_at);
		wm_why(why, "the retraction is dated %s, %s before the event it withdraws: a retraction "
		       "comes after what it withdraws", t, span);
		return WM_EFORBIDDEN;
	}
	if (memcmp(target->author, ev->author, WM_PUB_LEN) == 0)
		return 0;
	rc = trust_official(s, root, ev->author, target->group, ev->created_at, ev->id, NULL, inner);
	if (rc == 0)
		return 0;
	if (rc == WM_EREVOKED || rc == WM_EUNKNOWNCERT) {
		/* no certificate of the author known yet: it may come (passing) */
		wm_why(why, "only the target's author or an official of '%s' may retract it: %s", target->group, inner);
		return rc;
	}
	if (rc != WM_ENOTOFFICIAL)
		return rc;
	wm_why(why, "only the target's author or an official of '%s' may retract it", target->group);
	return WM_EFORBIDDEN;
}

static int check_retract(struct store *s, const uint8_t root[WM_PUB_LEN], const struct event *ev, char *why)
{
	struct store_info target;
	int rc;

	if (ev->nrefs < 1) {
		wm_why(why, "a retraction must name the event it withdraws");
		return WM_ECONTENT;
	}
	/* before the target: a retract waiting for one carries its reason
	 * into the group as any post would */
	if ((rc = check_vouched(s, root, ev, why)) != 0)
		return rc;
	rc = store_info(s, ev->refs[0], &target);
	if (rc == WM_ENOTFOUND)
		return 0;       /* kept, and judged when the target arrives */
	if (rc != 0)
		return rc;
	return trust_retract_allowed(s, root, ev, &target, why);
}

struct pair_count {
	const struct cert *c;   /* the new cert */
	size_t n;               /* its issuer's certs of its subject running at its date */
};

static int pair_count_add(void *ctx, const struct cert *c)
{
	struct pair_count *pc = ctx;

	/* not itself: the late pass judges stored certs again */
	if (memcmp(c->issuer, pc->c->issuer, WM_PUB_LEN) == 0 && c->not_after > pc->c->created_at &&
	    memcmp(c->event_id, pc->c->event_id, WM_ID_LEN) != 0)
		pc->n++;
	return 0;
}

/* At most TRUST_CERTS_PER_ISSUER certs of one issuer for one subject still
 * running at the new one's date.  One station can thus add only a few
 * certs to another station's officer, and the excess is refused for a
 * passing reason: it is nobody's verdict on the subject's key, and it
 * passes as the running certs lapse. */
static int check_cert_limit(struct store *s, const struct event *ev, char *why)
{
	struct pair_count pc = { NULL, 0 };
	struct cert c;
	char hx[17];
	int rc;

	if ((rc = trust_cert_from_event(ev, &c, why)) != 0)
		return rc;
	pc.c = &c;
	if ((rc = store_certs_of(s, c.subject, pair_count_add, &pc)) != 0)
		return rc;
	if (pc.n < TRUST_CERTS_PER_ISSUER)
		return 0;
	wm_why(why, "key %s already holds %zu running certificates from this issuer, at most %d; "
	       "refused until one lapses", short_hex(hx, c.subject), pc.n, TRUST_CERTS_PER_ISSUER);
	return WM_ELIMIT;
}

int trust_shown(struct store *s, const uint8_t root[WM_PUB_LEN], const struct event *ev,
                struct official *out)
{
	char why[WM_WHY_LEN];
	int rc;

	if (s == NULL || root == NULL || ev == NULL || out == NULL)
		return WM_EINVAL;
	rc = trust_official(s, root, ev->author, ev->group, ev->created_at, ev->id, out, why);
	if (rc == 0 || rc == WM_ESTORE || rc == WM_ENOMEM)
		return rc;
	rc = trust_vouched(s, root, ev->author, ev->group, ev->created_at, ev->id, out, why);
	if (rc == 0 || rc == WM_ESTORE || rc == WM_ENOMEM)
		return rc;
	return WM_ENOTFOUND;
}

int trust_check_event(struct store *s, const uint8_t root[WM_PUB_LEN], const struct event *ev,
                      char why[WM_WHY_LEN])
{
	int rc;

	if (s == NULL || root == NULL || ev == NULL)
		return WM_EINVAL;
	/* proto checks this too; trust does not depend on it */
	if ((ev->kind == KIND_CERT || ev->kind == KIND_REVOKE) != (strcmp(ev->group, WM_NETWORK_GROUP) == 0)) {
		wm_why(why, "group '%s' holds certificates and revocations, and only them", WM_NETWORK_GROUP);
		return WM_EFORBIDDEN;
	}
	switch (ev->kind) {
	case KIND_BULLETIN:
	case KIND_ALERT:
		return check_official(s, root, ev, why);
	case KIND_REQUEST:
	case KIND_REPLY:
	case KIND_ACK:
		return check_vouched(s, root, ev, why);
	case KIND_STATUS:
		return check_status(s, root, ev, why);
	case KIND_RETRACT:
		return check_retract(s, root, ev, why);
	case KIND_CERT:
		if ((rc = check_cert(s, root, ev, why)) != 0)
			return rc;
		return check_cert_limit(s, ev, why);
	case KIND_REVOKE:
		return check_revoke(s, root, ev, why);
	default:
		wm_why(why, "unknown kind %u", ev->kind);
		return WM_ECONTENT;
	}
}

int trust_check_event_cached(struct trust_cache *c, struct store *s, const uint8_t root[WM_PUB_LEN],
                             const struct event *ev, char why[WM_WHY_LEN])
{
	int rc;

	if (c != NULL)
		c->calls++;
	active = c;
	rc = trust_check_event(s, root, ev, why);
	active = NULL;
	return rc;
}

/* --- late revocations --------------------------------------------------------------------- */

/* Ids (and wire copies) of the events to judge again, gathered a batch at
 * a time before any is hidden, so no statement is stepping while rows go
 * away and an author with a long history costs bounded memory. */
#define REJUDGE_BATCH 256

struct rejudge {
	struct item { uint8_t id[WM_ID_LEN]; uint8_t *wire; size_t len; uint64_t created_at; } *v;
	size_t n, cap;
	int full;                             /* the batch filled: more may follow */
	int has_after;                        /* only events after (after_t, after_id) */
	uint64_t after_t;
	uint8_t after_id[WM_ID_LEN];
	char vouched[TRUST_VOUCHED_LEN];      /* the vouched groups */
};

static int rejudge_add(void *ctx, const struct stored_event *e)
{
	struct rejudge *r = ctx;
	struct item *v;

	/* Requests, replies and acks depend on a certificate only in a
	 * vouched group; a retracted event has no bytes left to judge. */
	if (r->has_after && (e->created_at < r->after_t ||
	                     (e->created_at == r->after_t && memcmp(e->id, r->after_id, WM_ID_LEN) <= 0)))
		return 0;       /* judged in an earlier batch */
	if (e->retracted)
		return 0;
	if ((e->kind == KIND_REQUEST || e->kind == KIND_REPLY || e->kind == KIND_ACK) &&
	    (r->vouched[0] == '\0' || e->group == NULL || !trust_groups_cover(r->vouched, e->group)))
		return 0;
	if (r->n == REJUDGE_BATCH) {
		r->full = 1;
		return 1;       /* stops the iteration */
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;

		if ((v = realloc(r->v, cap * sizeof(*v))) == NULL)
			return WM_ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	if ((r->v[r->n].wire = malloc(e->wire_len ? e->wire_len : 1)) == NULL)
		return WM_ENOMEM;
	memcpy(r->v[r->n].wire, e->wire, e->wire_len);
	memcpy(r->v[r->n].id, e->id, WM_ID_LEN);
	r->v[r->n].len = e->wire_len;
	r->v[r->n].created_at = e->created_at;
	r->n++;
	return 0;
}

static void rejudge_free(struct rejudge *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->v[i].wire);
	free(r->v);
	r->v = NULL;
	r->n = r->cap = 0;
}

/* Keys whose events to judge again (all of them: ancestry, not dates). */
struct work {
	struct { uint8_t key[WM_PUB_LEN]; int done; } v[256];
	size_t n;
};

static void work_add(struct work *w, const uint8_t key[WM_PUB_LEN])
{
	size_t i;

	for (i = 0; i < w->n; i++)
		if (memcmp(w->v[i].key, key, WM_PUB_LEN) == 0)
			return;
	if (w->n == sizeof(w->v) / sizeof(w->v[0]))
		return;         /* bounded: a station with more officers is judged on arrival */
	memcpy(w->v[w->n].key, key, WM_PUB_LEN);
	w->v[w->n].done = 0;
	w->n++;
}

/* --- kept sets ----------------------------------------------------------------------------- */

/* A chain longer than this is walked no further (a gap is noted, as if the
 * link were not held, so nothing older is kept by mistake). */
#define KEEP_WALK_MAX 1000000

/*
 * Add to the kept set of (author, signer) the lasting event id of group
 * and its ancestors through prev: events of the same author and group,
 * lasting ones only.  A link not held is noted as a gap, which counts as
 * kept and resumes the walk when it arrives (trust_after_insert).
 */
static int keep_walk(struct store *s, const uint8_t author[WM_PUB_LEN], const uint8_t signer[WM_PUB_LEN],
                     const uint8_t id[WM_ID_LEN], const char *group)
{
	struct store_link l;
	uint8_t cur[WM_ID_LEN];
	size_t n;
	int rc;

	memcpy(cur, id, WM_ID_LEN);
	for (n = 0; n < KEEP_WALK_MAX; n++) {
		if ((rc = store_is_kept(s, author, signer, cur)) != 0)
			return rc < 0 ? rc : 0;         /* walked from here already */
		rc = store_link(s, cur, &l);
		if (rc == WM_ENOTFOUND)
			return store_gap_add(s, cur, author, signer, group);
		if (rc != 0)
			return rc;
		if (memcmp(l.author, author, WM_PUB_LEN) != 0 || strcmp(l.group, group) != 0 ||
		    l.expires_at != 0)
			return 0;
		if ((rc = store_kept_add(s, author, signer, cur)) != 0)
			return rc;
		if (!l.has_prev)
			return 0;
		memcpy(cur, l.prev, WM_ID_LEN);
	}
	return store_gap_add(s, cur, author, signer, group);
}

/* The keep list of revoke ev (by signer ev->author, of subject) into the
 * kept set: a kept expiring event keeps only itself, a lasting one its
 * chain. */
static int keep_list(struct store *s, const struct event *ev, const uint8_t subject[WM_PUB_LEN])
{
	const struct cval *keep = event_get(ev, "keep"), *e;
	char group[WM_GROUP_MAX + 1];
	size_t i;
	int rc;

	if (keep == NULL || keep->type != CV_ARRAY)
		return 0;       /* proto checked the form: none */
	for (i = 0; i < keep->len; i++) {
		e = &keep->items[i];
		if (e->type != CV_ARRAY || e->len != 3 || e->items[0].type != CV_STR ||
		    e->items[0].len > WM_GROUP_MAX || e->items[1].type != CV_BIN ||
		    e->items[1].len != WM_ID_LEN || e->items[2].type != CV_UINT)
			continue;
		if (e->items[2].u != 0) {
			rc = store_kept_add(s, subject, ev->author, e->items[1].ptr);
		} else {
			memcpy(group, e->items[0].ptr, e->items[0].len);
			group[e->items[0].len] = '\0';
			rc = keep_walk(s, subject, ev->author, e->items[1].ptr, group);
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

struct revokes { trust_changed_cb changed; void *ctx; const uint8_t *skip; };

static int revoke_changed(void *ctx, const uint8_t id[WM_ID_LEN])
{
	struct revokes *r = ctx;

	if (r->skip != NULL && memcmp(id, r->skip, WM_ID_LEN) == 0)
		return 0;
	return r->changed(r->ctx, id);
}

int trust_after_insert(struct store *s, const struct event *ev, trust_changed_cb changed, void *ctx)
{
	struct store_gap g[16];
	struct revokes r = { changed, ctx, NULL };
	size_t n, i;
	int rc;

	if (s == NULL || ev == NULL)
		return WM_EINVAL;
	if ((rc = store_gaps_take(s, ev->id, ev->author, g, sizeof(g) / sizeof(g[0]), &n)) != 0 || n == 0)
		return rc;
	for (i = 0; i < n; i++)
		if ((rc = keep_walk(s, g[i].author, g[i].signer, ev->id, g[i].group)) != 0)
			return rc;
	/* what the walk reached may have been hidden: judge those again */
	return changed != NULL ? store_revokes_of(s, ev->author, revoke_changed, &r) : 0;
}

struct pass {
	struct work *w;
	const uint8_t *by;                    /* the revoke that started the pass */
	trust_changed_cb changed;
	void *ctx;
	int64_t hidden;
};

static int rejudge_one(struct store *s, const uint8_t root[WM_PUB_LEN], const struct item *it,
                       struct pass *p)
{
	char why[WM_WHY_LEN], msg[WM_WHY_LEN];
	struct event *ev = NULL;
	struct cert c;
	unsigned kind;
	int rc;

	if (event_decode(it->wire, it->len, &ev, why) != 0)
		return 0;       /* it passed once; the store does not re-judge its bytes */
	rc = trust_check_event(s, root, ev, why);
	if (rc == WM_ESTORE || rc == WM_ENOMEM) {
		event_free(ev);
		return rc;
	}
	/* It was accepted once, so its author's certs were there: a cert now
	 * missing was hidden just before, and hides what it gave too. */
	if (rc == 0 || (!wm_error_is_lasting(rc) && rc != WM_EUNKNOWNCERT)) {
		event_free(ev);
		return 0;
	}
	kind = ev->kind;
	if (kind == KIND_CERT && trust_cert_from_event(ev, &c, NULL) == 0)
		work_add(p->w, c.subject);      /* what it vouched for, all of it */
	event_free(ev);
	wm_why(msg, "hidden by a later revocation: %s", why);
	if ((rc = store_hide(s, it->id, p->by, WM_EREVOKED, msg)) != 0)
		return rc == WM_ENOTFOUND ? 0 : rc;
	p->hidden++;
	if (kind == KIND_REVOKE && p->changed != NULL)
		return p->changed(p->ctx, it->id);      /* it stopped counting */
	return 0;
}

int trust_after_revocation(struct store *s, const uint8_t root[WM_PUB_LEN], const struct event *ev,
                           trust_changed_cb changed, void *ctx, int64_t *hidden)
{
	struct pass p = { NULL, NULL, changed, ctx, 0 };
	struct revokes rv = { changed, ctx, NULL };
	struct rejudge r;
	const uint8_t *subject;
	size_t n, i, k;
	int rc = 0, more = 1;

	memset(&r, 0, sizeof(r));
	if (s == NULL || root == NULL || ev == NULL)
		return WM_EINVAL;
	if (event_get_bin(ev, "subject", &subject, &n) != 0 || n != WM_PUB_LEN)
		return WM_ECONTENT;
	if ((rc = vouched_list(s, r.vouched, sizeof(r.vouched))) != 0)
		return rc;
	if ((rc = keep_list(s, ev, subject)) != 0)
		return rc;
	/* the kept set may have grown: what the other revokes of subject hid
	 * is judged again */
	rv.skip = ev->id;
	if (changed != NULL && (rc = store_revokes_of(s, subject, revoke_changed, &rv)) != 0)
		return rc;
	if ((p.w = calloc(1, sizeof(*p.w))) == NULL)
		return WM_ENOMEM;
	p.by = ev->id;
	work_add(p.w, subject);
	while (more) {
		more = 0;
		for (i = 0; i < p.w->n; i++) {
			if (p.w->v[i].done)
				continue;
			p.w->v[i].done = 1;
			more = 1;
			r.has_after = 0;
			do {
				r.full = 0;
				rc = store_events_by_author(s, p.w->v[i].key, r.has_after ? r.after_t : 0,
				                            rejudge_add, &r);
				if (rc == 1)
					rc = 0;         /* a full batch */
				for (k = 0; rc == 0 && k < r.n; k++)
					rc = rejudge_one(s, root, &r.v[k], &p);
				if (r.n > 0) {
					r.has_after = 1;
					r.after_t = r.v[r.n - 1].created_at;
					memcpy(r.after_id, r.v[r.n - 1].id, WM_ID_LEN);
				}
				rejudge_free(&r);
			} while (rc == 0 && r.full);
			if (rc != 0)
				goto out;
		}
	}
	if (hidden != NULL)
		*hidden = p.hidden;
out:
	rejudge_free(&r);
	free(p.w);
	return rc;
}
