/*
 * node/cli/cmd_post: `watchmesh post KIND`, signing one event from readable
 * options.  One table (post_fields) says which options each kind takes,
 * which it needs, their defaults and how each becomes content; whether the
 * values are acceptable is proto/content.c's to say when the event is
 * built.  Defaults are chosen for an officer in a hurry (an alert needs
 * only --headline, --text and --area); the command line is checked before
 * the key's passphrase is asked, public text is scanned for personal data
 * (node/pii) and a photo's metadata removed (node/photo) before anything
 * is signed.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "clock.h"
#include "content.h"
#include "event.h"
#include "files.h"
#include "keyfile.h"
#include "keyname.h"
#include "netfile.h"
#include "nodedir.h"
#include "photo.h"
#include "pii.h"
#include "render.h"
#include "store.h"
#include "trust.h"

static const char usage_post[] =
"usage: watchmesh post KIND --key KEY (--dir DIR | --out FILE --network NETFILE)\n"
"                      --group G [options]\n"
"\n"
"Signs one event with KEY, stores it in the node at DIR (printing its id once it\n"
"is safely on disk) and/or appends it to the bundle FILE.  KIND is one of:\n"
"  bulletin  --title T --text T [--category C] [--lang L]         officers/stations\n"
"            category: fraud safety traffic weather notice lost-found other\n"
"            (default notice)\n"
"  alert     --headline H --text T --area A [--event E] [--category C]\n"
"            [--urgency U] [--severity S] [--certainty C] [--circle LAT,LON,RADIUS_M]\n"
"            [--instruction T] [--contact T] [--photo FILE] [--expires WHEN]\n"
"            defaults: event = the headline, category Safety, urgency Immediate,\n"
"            severity Severe, certainty Observed, expires in 24h (CAP 1.2 values)\n"
"  alert     --update ID [alert options]   amend a running alert (CAP Update):\n"
"            what is not given is the alert's; it runs as long again\n"
"  request   --text T [--topic T] [--to PUB,...]                   anyone admitted\n"
"            topic: police non-police dispute lost-found other (default police);\n"
"            --to seals topic, language and text so only those keys (and you)\n"
"            can read them; --to officers: the group's officers and stations\n"
"            (from the node's certificates; needs --dir).  PUB: 64 hex digits,\n"
"            a key file, or with --dir a certificate's exact name or a unique\n"
"            prefix of 6+ hex digits of a certified key (`watchmesh certs`)\n"
"  reply     --reply-to ID --text T [--to PUB,...]                 a lead, an answer\n"
"            (--to as for a request: a sealed reply)\n"
"  status    --ref ID --state S [--note T] [--referred-to WHO]     on a request\n"
"            state: acknowledged assigned referred resolved closed\n"
"            [--to PUB,...] with referred: the sealed request, opened with\n"
"            your key, re-sealed for the office it goes to (needs --dir)\n"
"  retract   --ref ID [--reason T]                                 withdraw an event\n"
"  ack       --ref ID [--what W] [--text T]                        on an alert\n"
"            what: seen helping found (default seen)\n"
"  cert      --subject PUB --role R --name N --groups G,... [--days N]  (= cert issue;\n"
"            PUB as for --to, or the name of an expired or revoked certificate)\n"
"  revoke    --subject PUB [--reason T]                            (= cert revoke)\n"
"\n"
"Common options:\n"
"  --key KEY               the signing key file (asks its passphrase if encrypted)\n"
"  --passphrase-file F     the key's passphrase, from F's first line\n"
"  --dir DIR               store in this node (ids may then be given as a prefix)\n"
"  --out FILE              append the signed event to a bundle file\n"
"  --network NETFILE       with --out and no --dir: the network file (the event\n"
"                          carries its id)\n"
"  --group G               the group, e.g. gaobu.xinhua-village (cert/revoke: network;\n"
"                          a reply, status or ack with --dir: that of what it\n"
"                          answers, when left out)\n"
"  --ref ID, --reply-to ID what the event answers or acts on (refs[0]); comma-\n"
"                          separated for more\n"
"  --expires WHEN          a duration (90m, 6h, 2d, 1w) or a local time\n"
"                          (\"2026-12-01 18:00\")\n"
"  --text-file FILE        the text from a file (\"-\": standard input), instead of --text\n"
"  --lang L                language tag (default zh when the text has Chinese)\n"
"  --allow-personal-data   publish although the text holds a phone, ID or card number\n"
"  --new-group             a group no certificate names yet (else refused)\n"
"\n"
"Public text is checked for mainland mobile numbers, resident ID numbers and\n"
"bank card numbers, however written; the post is refused unless\n"
"--allow-personal-data.  Photos (JPEG, PNG, WebP) lose their metadata (EXIF with\n"
"its GPS position, XMP, comments, ...; what went is said) and are limited to\n"
"48 KiB, since an event is at most 64 KiB; a damaged photo is refused.\n";

#define MIN_MS  (60ull * 1000ull)

/* --expires: "90m", "6h", "2d", "1w", or a local time "2026-12-01 18:00". */
static int parse_expires(const char *s, uint64_t now, uint64_t *out)
{
	char *end = NULL;
	unsigned long long v;
	int y, mo, d, h = 0, mi = 0, n = 0;
	struct tm tm;
	time_t t;

	if (isdigit((unsigned char)s[0])) {
		errno = 0;
		v = strtoull(s, &end, 10);
		if (!errno && end && end[0] && !end[1] && v > 0 && v <= 100000) {
			uint64_t unit = end[0] == 'm' ? MIN_MS : end[0] == 'h' ? 60 * MIN_MS
			              : end[0] == 'd' ? 1440 * MIN_MS : end[0] == 'w' ? 10080 * MIN_MS : 0;
			if (unit) {
				*out = now + v * unit;
				return 0;
			}
		}
	}
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) == 3 && (s[n] == 0 ||
	    ((s[n] == ' ' || s[n] == 'T') && sscanf(s + n + 1, "%2d:%2d%n", &h, &mi, &n) == 2))) {
		memset(&tm, 0, sizeof tm);
		tm.tm_year = y - 1900;
		tm.tm_mon = mo - 1;
		tm.tm_mday = d;
		tm.tm_hour = h;
		tm.tm_min = mi;
		tm.tm_isdst = -1;
		if (mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59)
			return -1;
		t = mktime(&tm);
		if (t == (time_t)-1 || t < 0)
			return -1;
		*out = (uint64_t)t * 1000u;
		return 0;
	}
	return -1;
}

/* s up to end is a plain decimal: [-]digits[.digits] (strtod alone also
 * takes hex floats, exponents, inf and leading blanks: "0x10" is 16). */
static int decimal_ok(const char *s, const char *end)
{
	const char *p = s + (*s == '-');
	int digits = 0, dot = 0;

	for (; p < end; p++) {
		if (*p >= '0' && *p <= '9')
			digits++;
		else if (*p == '.' && !dot && digits)
			dot = 1;
		else
			return 0;
	}
	return digits > 0 && end[-1] != '.';
}

/* "LAT,LON,RADIUS_M" in decimal degrees and metres. */
static int parse_circle(const char *s, int64_t *lat, int64_t *lon, uint64_t *r)
{
	char *e1 = NULL, *e2 = NULL, *e3 = NULL;
	double la, lo;
	unsigned long long rad;

	errno = 0;
	la = strtod(s, &e1);
	if (errno || e1 == s || *e1 != ',' || !decimal_ok(s, e1))
		return -1;
	lo = strtod(e1 + 1, &e2);
	if (errno || e2 == e1 + 1 || *e2 != ',' || !decimal_ok(e1 + 1, e2))
		return -1;
	if (!isdigit((unsigned char)e2[1]))
		return -1;
	rad = strtoull(e2 + 1, &e3, 10);
	if (errno || *e3 || rad == 0 || rad > 20000000ull)
		return -1;
	if (!(la >= -90.0 && la <= 90.0) || !(lo >= -180.0 && lo <= 180.0))
		return -1;
	*lat = (int64_t)(la * 1e6 + (la >= 0 ? 0.5 : -0.5));
	*lon = (int64_t)(lo * 1e6 + (lo >= 0 ? 0.5 : -0.5));
	*r = rad;
	return 0;
}

/* --text-file: the whole file (or stdin), one trailing newline dropped. */
static int read_text_file(const char *path, uint8_t **out, size_t *outlen)
{
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	char why[WM_WHY_LEN] = "";

	if (strcmp(path, "-") == 0) {
		for (;;) {
			size_t n;
			if (len + 4096 + 1 > cap) {
				uint8_t *nb;
				cap = cap ? cap * 2 : 8192;
				if (cap > (1u << 20)) {
					free(buf);
					cli_err("the text on standard input is longer than 1 MiB");
					return -1;
				}
				nb = realloc(buf, cap);
				if (!nb) {
					free(buf);
					cli_err("out of memory");
					return -1;
				}
				buf = nb;
			}
			n = fread(buf + len, 1, cap - len - 1, stdin);
			len += n;
			if (n == 0)
				break;
		}
		if (ferror(stdin)) {
			free(buf);
			cli_err("cannot read the text from standard input");
			return -1;
		}
		if (!buf && !(buf = malloc(1))) {
			cli_err("out of memory");
			return -1;
		}
		buf[len] = 0;
	} else if (files_read(path, 1u << 20, &buf, &len, why) != 0) {
		cli_err("%s", why);
		return -1;
	}
	/* a file written on Windows ends its lines with CR LF; the content
	 * rules refuse CR, so take the line ends as the writer meant them */
	{
		size_t i, o = 0;
		for (i = 0; i < len; i++)
			if (!(buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n'))
				buf[o++] = buf[i];
		len = o;
		buf[len] = 0;
	}
	if (len > 0 && buf[len - 1] == '\n')
		buf[--len] = 0;
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = 0;
	if (memchr(buf, 0, len) || len == 0) {
		free(buf);
		cli_err("%s: %s", path, len ? "the text holds a NUL byte" : "the text is empty");
		return -1;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

static int has_cjk(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	for (; p && *p; p++)
		if (*p >= 0xe3 && *p <= 0xe9 && p[1] >= 0x80)
			return 1;
	return 0;
}

/*
 * The options of each kind and how each becomes content.  Which values a
 * key may take (categories, states, lengths, one line or several) is for
 * proto/content.c to judge when the event is built; this table says only
 * which options a kind takes, which it needs, and their defaults.
 */
enum post_how {
	AS_TEXT,        /* the string as given */
	AS_LANG,        /* as given; without it, "zh" when --text has Chinese */
	AS_CIRCLE,      /* "LAT,LON,RADIUS_M" -> [lat_e6, lon_e6, radius_m] */
	AS_PHOTO,       /* an image file -> photo (bin) and photo_type */
	AS_SEALABLE,    /* in clear, or sealed into "box" with the language when --to is given */
	AS_RECIPIENTS,  /* public keys or key files -> an array of keys */
	AS_DRAFT,       /* read by cli_cert_draft / cli_revoke_draft (sign.c) */
};

#define REQ 1           /* the kind needs it */
#define PUB 2           /* public text: scanned for personal data */

static const struct post_field {
	unsigned kind;
	const char *opt;            /* --opt */
	const char *key;            /* its content key (AS_DRAFT: the draft's business) */
	enum post_how how;
	int flags;
	const char *def;            /* value when not given; "--X": option X's */
} post_fields[] = {
	/* kind          option         content key    how            flags      default */
	{ KIND_BULLETIN, "title",       "title",       AS_TEXT,       REQ | PUB, NULL },
	{ KIND_BULLETIN, "text",        "text",        AS_TEXT,       REQ | PUB, NULL },
	{ KIND_BULLETIN, "category",    "category",    AS_TEXT,       0,         "notice" },
	{ KIND_BULLETIN, "lang",        "lang",        AS_LANG,       0,         NULL },
	{ KIND_ALERT,    "headline",    "headline",    AS_TEXT,       REQ | PUB, NULL },
	{ KIND_ALERT,    "text",        "text",        AS_TEXT,       REQ | PUB, NULL },
	{ KIND_ALERT,    "area",        "area_desc",   AS_TEXT,       REQ | PUB, NULL },
	{ KIND_ALERT,    "event",       "event",       AS_TEXT,       PUB,       "--headline" },
	{ KIND_ALERT,    "category",    "category",    AS_TEXT,       0,         "Safety" },
	{ KIND_ALERT,    "urgency",     "urgency",     AS_TEXT,       0,         "Immediate" },
	{ KIND_ALERT,    "severity",    "severity",    AS_TEXT,       0,         "Severe" },
	{ KIND_ALERT,    "certainty",   "certainty",   AS_TEXT,       0,         "Observed" },
	{ KIND_ALERT,    "circle",      "circle",      AS_CIRCLE,     0,         NULL },
	{ KIND_ALERT,    "instruction", "instruction", AS_TEXT,       PUB,       NULL },
	{ KIND_ALERT,    "contact",     "contact",     AS_TEXT,       PUB,       NULL },
	{ KIND_ALERT,    "photo",       "photo",       AS_PHOTO,      0,         NULL },
	{ KIND_ALERT,    "lang",        "lang",        AS_LANG,       0,         NULL },
	{ KIND_REQUEST,  "text",        "text",        AS_SEALABLE,   REQ | PUB, NULL },
	{ KIND_REQUEST,  "topic",       "topic",       AS_SEALABLE,   0,         "police" },
	{ KIND_REQUEST,  "to",          "to",          AS_RECIPIENTS, 0,         NULL },
	{ KIND_REQUEST,  "lang",        "lang",        AS_LANG,       0,         NULL },
	{ KIND_REPLY,    "text",        "text",        AS_SEALABLE,   REQ | PUB, NULL },
	{ KIND_REPLY,    "to",          "to",          AS_RECIPIENTS, 0,         NULL },
	{ KIND_REPLY,    "lang",        "lang",        AS_LANG,       0,         NULL },
	{ KIND_STATUS,   "state",       "state",       AS_TEXT,       REQ,       NULL },
	{ KIND_STATUS,   "note",        "note",        AS_TEXT,       PUB,       NULL },
	{ KIND_STATUS,   "referred-to", "referred_to", AS_TEXT,       PUB,       NULL },
	{ KIND_STATUS,   "to",          "to",          AS_RECIPIENTS, 0,         NULL },
	{ KIND_RETRACT,  "reason",      "reason",      AS_TEXT,       PUB,       NULL },
	{ KIND_ACK,      "what",        "what",        AS_TEXT,       0,         "seen" },
	{ KIND_ACK,      "text",        "text",        AS_TEXT,       PUB,       NULL },
	{ KIND_CERT,     "subject",     NULL,          AS_DRAFT,      0,         NULL },
	{ KIND_CERT,     "role",        NULL,          AS_DRAFT,      0,         NULL },
	{ KIND_CERT,     "name",        NULL,          AS_DRAFT,      PUB,       NULL },
	{ KIND_CERT,     "groups",      NULL,          AS_DRAFT,      0,         NULL },
	{ KIND_CERT,     "days",        NULL,          AS_DRAFT,      0,         NULL },
	{ KIND_REVOKE,   "subject",     NULL,          AS_DRAFT,      0,         NULL },
	{ KIND_REVOKE,   "reason",      NULL,          AS_DRAFT,      PUB,       NULL },
};
#define NFIELDS (sizeof post_fields / sizeof post_fields[0])

/* What a kind needs besides its fields. */
static const struct {
	const char *ref;            /* it needs --ref: "what it <ref>" */
	const char *expires;        /* the default --expires */
} post_kinds[KIND_MAX + 1] = {
	[KIND_ALERT] = { NULL, "24h" },
	[KIND_REPLY] = { "answers", NULL },
	[KIND_STATUS] = { "is about", NULL },
	[KIND_RETRACT] = { "is about", NULL },
	[KIND_ACK] = { "is about", NULL },
};

/* The options of every kind; EVENTS: every kind but cert and revoke, which
 * are the network's and take neither refs nor an expiry. */
#define ALL_KINDS ((2u << KIND_MAX) - 2u)      /* kinds 1..KIND_MAX */
#define EVENTS (ALL_KINDS & ~(1u << KIND_CERT | 1u << KIND_REVOKE))
static const struct {
	const char *name;
	int has_arg;
	unsigned kinds;
} post_common[] = {
	{ "dir", 1, ALL_KINDS }, { "key", 1, ALL_KINDS }, { "group", 1, ALL_KINDS },
	{ "out", 1, ALL_KINDS }, { "network", 1, ALL_KINDS }, { "passphrase-file", 1, ALL_KINDS },
	{ "allow-personal-data", 0, ALL_KINDS }, { "new-group", 0, EVENTS },
	{ "update", 1, 1u << KIND_ALERT },
	{ "expires", 1, EVENTS }, { "ref", 1, EVENTS }, { "reply-to", 1, EVENTS },
	{ "text-file", 1, 0 },      /* wherever --text is */
};
#define NCOMMON (sizeof post_common / sizeof post_common[0])
#define NOPTS_MAX (NCOMMON + NFIELDS)

/* Every option name once, for cli_parse; returns how many. */
static size_t post_options(struct cli_opt *opts)
{
	size_t n = 0, i, j;

	for (i = 0; i < NCOMMON; i++) {
		opts[n].name = post_common[i].name;
		opts[n].has_arg = post_common[i].has_arg;
		opts[n++].val = NULL;
	}
	for (i = 0; i < NFIELDS; i++) {
		for (j = 0; j < n && strcmp(opts[j].name, post_fields[i].opt) != 0; j++)
			;
		if (j < n)
			continue;
		opts[n].name = post_fields[i].opt;
		opts[n].has_arg = 1;
		opts[n++].val = NULL;
	}
	return n;
}

static const struct post_field *post_field(unsigned kind, const char *opt)
{
	size_t i;

	for (i = 0; i < NFIELDS; i++)
		if (post_fields[i].kind == kind && strcmp(post_fields[i].opt, opt) == 0)
			return &post_fields[i];
	return NULL;
}

static int post_applies(unsigned kind, const char *opt)
{
	size_t i;

	if (strcmp(opt, "text-file") == 0)
		return post_field(kind, "text") != NULL;
	for (i = 0; i < NCOMMON; i++)
		if (strcmp(post_common[i].name, opt) == 0)
			return (post_common[i].kinds >> kind) & 1;
	return post_field(kind, opt) != NULL;
}

/* "a bulletin", "an alert" */
static const char *a_or_an(const char *word)
{
	return strchr("aeiou", word[0]) ? "an" : "a";
}

/* All of the kind's required options, or a usage error naming them (and
 * the choices, when the one it needs is a choice). */
static int post_required(unsigned kind, const char *kname, const struct cli_opt *opts, size_t nopts)
{
	const struct post_field *req[NFIELDS];
	const char *const *choices;
	char list[256];
	size_t nreq = 0, i, o = 0;
	int missing = 0;

	for (i = 0; i < NFIELDS; i++)
		if (post_fields[i].kind == kind && (post_fields[i].flags & REQ)) {
			req[nreq++] = &post_fields[i];
			missing |= cli_get(opts, nopts, post_fields[i].opt) == NULL;
		}
	if (!missing)
		return 0;
	list[0] = 0;
	for (i = 0; i < nreq && o < sizeof list; i++)
		o += (size_t)snprintf(list + o, sizeof list - o, "%s--%s",
		                      i == 0 ? "" : i + 1 == nreq ? " and " : ", ", req[i]->opt);
	if (nreq == 1 && (choices = content_enum(kind, req[0]->key)) != NULL)
		for (i = 0; choices[i] && o < sizeof list; i++)
			o += (size_t)snprintf(list + o, sizeof list - o, "%s%s%s", i ? ", " : " (",
			                      choices[i], choices[i + 1] ? "" : ")");
	return cli_usage_err("post", "%s %s needs %s", a_or_an(kname), kname, list);
}

/* Scan the public text options; 0 if clean, else print and return 1. */
static int check_personal(unsigned kind, const struct cli_opt *opts, size_t nopts, int sealed)
{
	size_t i, k;
	int found = 0;

	for (i = 0; i < NFIELDS; i++) {
		const struct post_field *f = &post_fields[i];
		const char *v = cli_get(opts, nopts, f->opt);
		struct pii_finding pf[8];
		int n;
		char list[WM_WHY_LEN * 2];
		size_t o = 0;

		if (f->kind != kind || !(f->flags & PUB) || (f->how == AS_SEALABLE && sealed) || !v || !*v)
			continue;
		n = pii_scan(v, strlen(v), pf, 8);
		if (n <= 0)
			continue;
		list[0] = 0;
		for (k = 0; k < (size_t)n && k < 8; k++) {
			int w = snprintf(list + o, sizeof list - o, "%s%s %s", k ? ", " : "",
			                 pii_type_name(pf[k].type), pf[k].masked);
			if (w < 0 || (size_t)w >= sizeof list - o)
				break;
			o += (size_t)w;
		}
		cli_err("refused: --%s contains personal data: %s%s; remove it, or publish it "
		        "anyway with --allow-personal-data", f->opt, list, n > 8 ? ", ..." : "");
		found = 1;
	}
	return found;
}

/* What the draft points into; it must outlive event_build. */
struct post_bufs {
	struct cval circle[3];
	uint8_t *photo, *box;
	uint8_t (*recips)[WM_PUB_LEN];
	size_t nto;
	int officers;                /* --to officers */
	struct sealed parts;         /* what goes into the box (--to) */
	struct sealed referred;      /* status --to: the request, opened */
	uint8_t subject[WM_PUB_LEN];
	char *groups;                /* cert: its groups, split */
	struct cval *items;          /* cert: its groups as content items */
};

static void post_bufs_free(struct post_bufs *b)
{
	free(b->photo);
	free(b->box);
	free(b->recips);
	content_sealed_free(&b->referred);
	free(b->groups);
	free(b->items);
}

/* --to: the recipients' keys, each once. */
static int add_recipient(struct post_bufs *b, const uint8_t pub[WM_PUB_LEN])
{
	size_t i;

	for (i = 0; i < b->nto; i++)
		if (memcmp(b->recips[i], pub, WM_PUB_LEN) == 0)
			return 0;
	if (b->nto >= WM_SEAL_MAX_RECIPIENTS)
		return cli_usage_err("post", "--to lists at most %d recipients", WM_SEAL_MAX_RECIPIENTS);
	memcpy(b->recips[b->nto++], pub, WM_PUB_LEN);
	return 0;
}

/* --to, once the node is open (names and key prefixes are looked up in
 * its certificates), before any passphrase is asked. */
static int parse_recipients(const char *v, struct node_dir *nd, struct post_bufs *b)
{
	char *copy, *p, *c;
	uint8_t pub[WM_PUB_LEN];
	int r = 0;

	b->recips = calloc(WM_SEAL_MAX_RECIPIENTS, sizeof *b->recips);
	copy = strdup(v);
	if (!b->recips || !copy) {
		free(copy);
		cli_err("out of memory");
		return CLI_FAIL;
	}
	for (p = copy; p && r == 0; p = c) {
		c = strchr(p, ',');
		if (c)
			*c++ = 0;
		if (strcmp(p, "officers") == 0)
			b->officers = 1;         /* looked up once the node is open */
		else if ((r = cli_resolve_key("post", nd, p, pub)) != 0)
			break;
		else
			r = add_recipient(b, pub);
	}
	free(copy);
	return r;
}

/* --to officers: the keys that are official for the group now (stations
 * certified by root, their officers), from the node's certificates. */
struct officers_ctx {
	struct node_dir *nd;
	struct post_bufs *b;
	const char *group;
	uint64_t now;
	int r;
};

static int officer_cb(void *vctx, const struct cert *c)
{
	struct officers_ctx *x = vctx;
	char why[WM_WHY_LEN];

	if (c->role == ROLE_STATION && memcmp(c->issuer, x->nd->net.root, WM_PUB_LEN) == 0 &&
	    store_certs_issued_by(x->nd->store, c->subject, officer_cb, x) != 0)
		return 1;
	if (x->r == 0 && (c->role == ROLE_STATION || c->role == ROLE_OFFICER) &&
	    trust_official(x->nd->store, x->nd->net.root, c->subject, x->group, x->now, NULL, NULL, why) == 0)
		x->r = add_recipient(x->b, c->subject);
	return x->r != 0;
}

static int add_officers(struct node_dir *nd, const char *group, struct post_bufs *b)
{
	struct officers_ctx x = { nd, b, group, wm_now_ms(), 0 };

	if (!nd)
		return cli_usage_err("post", "--to officers needs --dir (the node knows the officers)");
	if (store_certs_issued_by(nd->store, nd->net.root, officer_cb, &x) != 0 && x.r == 0) {
		cli_err("cannot read the certificates");
		return CLI_FAIL;
	}
	if (x.r)
		return x.r;
	if (b->nto == 0) {
		cli_err("no officer or station is certified for %s here; name the recipients with --to PUB", group);
		return CLI_FAIL;
	}
	return 0;
}

/* status --to: the request it refers, opened with the officer's key, to be
 * re-sealed for the office. */
static int open_referred(struct node_dir *nd, const uint8_t id[WM_ID_LEN], const struct key *k,
                         struct post_bufs *b)
{
	char why[WM_WHY_LEN] = "", hex[2 * WM_ID_LEN + 1];
	uint8_t *wire = NULL;
	size_t len = 0;
	struct event *ev = NULL;
	int r;

	hex_encode(hex, id, WM_ID_LEN);
	if (!nd)
		return cli_usage_err("post", "status --to needs --dir (the node holds the request to re-seal)");
	if (store_get(nd->store, id, &wire, &len) != 0 || event_decode(wire, len, &ev, why) != 0 ||
	    ev->kind != KIND_REQUEST || !event_get(ev, "box")) {
		cli_err("refused: %.12s is not a sealed request in this node; only a sealed request is "
		        "re-sealed (give a public one's office --referred-to only)", hex);
		r = CLI_FAIL;
	} else if ((r = content_open(ev, k, &b->referred, why)) != 0) {
		if (r == WM_ENOTFOUND)
			cli_err("refused: the request %.12s is not sealed to your key: you cannot re-seal it", hex);
		else
			cli_err("refused: the request %.12s: %s", hex, why);
		r = CLI_FAIL;
	} else {
		b->parts.topic = b->referred.topic;
		b->parts.topiclen = b->referred.topiclen;
		b->parts.lang = b->referred.lang;
		b->parts.langlen = b->referred.langlen;
		b->parts.text = b->referred.text;
		b->parts.textlen = b->referred.textlen;
	}
	event_free(ev);
	free(wire);
	return r;
}

/* The options of the kind that need no file and no key, into the draft. */
static int post_content(unsigned kind, const struct cli_opt *opts, size_t nopts,
                        struct node_dir *nd, struct event_draft *d, struct post_bufs *b)
{
	const char *v, *text = cli_get(opts, nopts, "text");
	int sealed = cli_get(opts, nopts, "to") != NULL;
	size_t i;

	if (kind == KIND_CERT)
		return cli_cert_draft("post", opts, nopts, nd, d, b->subject, &b->groups, &b->items);
	if (kind == KIND_REVOKE)
		return cli_revoke_draft("post", opts, nopts, nd, d, b->subject);
	for (i = 0; i < NFIELDS; i++) {
		const struct post_field *f = &post_fields[i];

		if (f->kind != kind)
			continue;
		v = cli_get(opts, nopts, f->opt);
		if (!v && f->def)
			v = strncmp(f->def, "--", 2) == 0 ? cli_get(opts, nopts, f->def + 2) : f->def;
		switch (f->how) {
		case AS_TEXT:
			if (v)
				draft_str(d, f->key, v);
			break;
		case AS_SEALABLE:
			if (v && !sealed)
				draft_str(d, f->key, v);
			else if (v && strcmp(f->key, "topic") == 0) {
				b->parts.topic = v;
				b->parts.topiclen = strlen(v);
			} else if (v) {
				b->parts.text = v;
				b->parts.textlen = strlen(v);
			}
			break;
		case AS_LANG:
			/* inside the box when sealed: the language says much of the text */
			if ((v || has_cjk(text)) && !sealed)
				draft_str(d, f->key, v ? v : "zh");
			else if (v || has_cjk(text)) {
				b->parts.lang = v ? v : "zh";
				b->parts.langlen = strlen(b->parts.lang);
			}
			break;
		case AS_CIRCLE: {
			int64_t lat, lon;
			uint64_t rad;
			if (!v)
				break;
			if (parse_circle(v, &lat, &lon, &rad) != 0)
				return cli_usage_err("post", "--circle wants LAT,LON,RADIUS_M, e.g. "
				                     "22.543096,114.057865,2000");
			b->circle[0] = cval_int(lat);
			b->circle[1] = cval_int(lon);
			b->circle[2] = cval_uint(rad);
			draft_array(d, f->key, b->circle, 3);
			break;
		}
		default:                /* AS_PHOTO, AS_RECIPIENTS: read later, with the node */
			break;
		}
	}
	return 0;
}

/* --photo: the image, its metadata removed (node/photo; saying what went),
 * attached with its type. */
static int post_photo(const char *path, struct event_draft *d, struct post_bufs *b)
{
	char why[WM_WHY_LEN] = "", removed[160];
	size_t len = 0;
	struct photo_result res;

	if (files_read(path, 64u << 20, &b->photo, &len, why) != 0) {
		cli_err("%s", why);
		return CLI_FAIL;
	}
	if (photo_strip(b->photo, len, b->photo, &res, why) != 0) {
		cli_err("refused: %s: %s", path, why);
		return CLI_FAIL;
	}
	if (res.removed) {
		photo_removed_list(res.removed, removed, sizeof removed);
		fprintf(stderr, "removed from the photo: %s\n", removed);
	}
	if (res.len > WM_PHOTO_MAX) {
		cli_err("%s is %.1f KiB%s; an alert's photo may be at most %d KiB (an event is at "
		        "most 64 KiB): shrink it, e.g. 480 pixels wide as a JPEG of quality 70",
		        path, (double)res.len / 1024.0, res.removed ? " without its metadata" : "",
		        WM_PHOTO_MAX / 1024);
		return CLI_FAIL;
	}
	draft_bin(d, "photo", b->photo, res.len);
	draft_str(d, "photo_type", res.type);
	return 0;
}

/* --ref / --reply-to: ids or unique prefixes (looked up in the node). */
static int post_refs(const char *v, struct node_dir *nd, struct event_draft *d)
{
	char *copy = strdup(v), *p, *c;

	if (!copy) {
		cli_err("out of memory");
		return CLI_FAIL;
	}
	for (p = copy; p; p = c) {
		c = strchr(p, ',');
		if (c)
			*c++ = 0;
		if (d->nrefs >= WM_MAX_REFS) {
			free(copy);
			return cli_usage_err("post", "at most %d refs", WM_MAX_REFS);
		}
		if (cli_resolve_id(nd ? nd->store : NULL, p, d->refs[d->nrefs]) != 0) {
			free(copy);
			return CLI_USAGE;
		}
		d->nrefs++;
	}
	free(copy);
	return 0;
}

/*
 * The group, with the node at hand: a reply, status or ack goes in the
 * group of what it answers, so without --group it is taken from there and
 * with another one it is refused (an ack of an alert elsewhere would reach
 * nobody who saw the alert).  A group no certificate of the node names,
 * and that the node holds nothing of, is most likely a typo: refused,
 * naming the group one or two letters away when there is one; a group
 * being started on purpose says --new-group.  (Groups the node holds
 * events of count as known: a network of "*" certificates names none.)
 */
static unsigned edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	unsigned row[WM_GROUP_MAX + 2], prev, tmp;

	if (la > WM_GROUP_MAX || lb > WM_GROUP_MAX)
		return 99;
	for (j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = (unsigned)i;
		for (j = 1; j <= lb; j++) {
			unsigned best = prev + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb];
}

struct group_seen {
	const char *want;
	int known;
	char near[WM_GROUP_MAX + 1];
};

static int group_seen_cb(void *ctx, const struct cert *c)
{
	struct group_seen *g = ctx;
	char list[sizeof c->groups], *p, *save = NULL;

	snprintf(list, sizeof list, "%s", c->groups);
	for (p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		if (strcmp(p, g->want) == 0)   /* "*" names no group: it cannot catch a typo */
			g->known = 1;
		else if (!g->near[0] && edit_distance(p, g->want) <= 2)
			snprintf(g->near, sizeof g->near, "%s", p);
	}
	return 0;
}

/* Stops store_events at the first event: there is one. */
static int any_cb(void *ctx, const struct stored_event *e)
{
	(void)ctx;
	(void)e;
	return 1;
}

static int post_group(struct node_dir *nd, struct event_draft *d, const char *group, const char *kname,
                      int new_group, char refgroup[WM_GROUP_MAX + 1])
{
	struct group_seen g;
	struct store_filter f;
	struct store_info info;
	char hex[2 * WM_ID_LEN + 1];

	if (d->nrefs > 0 && (d->kind == KIND_REPLY || d->kind == KIND_STATUS || d->kind == KIND_ACK) &&
	    store_info(nd->store, d->refs[0], &info) == 0) {
		hex_encode(hex, d->refs[0], WM_ID_LEN);
		if (group && strcmp(group, info.group) != 0)
			return cli_usage_err("post", "%.12s is in the group %s: %s %s goes in the same group "
			                     "(leave --group out)", hex, info.group, a_or_an(kname), kname);
		if (!group) {
			snprintf(refgroup, WM_GROUP_MAX + 1, "%s", info.group);
			d->group = refgroup;
			return 0;
		}
	}
	if (!group)
		return cli_usage_err("post", "--group G is required (what --ref names is not in this node)");
	memset(&g, 0, sizeof g);
	g.want = group;
	if (keyname_certs_each(nd, group_seen_cb, &g) != 0 || g.known)
		return 0;
	memset(&f, 0, sizeof f);
	f.group = group;
	f.limit = 1;
	if (store_events(nd->store, &f, any_cb, NULL) != 0)
		return 0;
	if (g.near[0])
		return cli_usage_err("post", "no certificate names the group '%s': did you mean '%s'?",
		                     group, g.near);
	if (!new_group)
		return cli_usage_err("post", "no certificate on this node names the group '%s': check its "
		                     "spelling (`watchmesh certs` lists the groups), or give --new-group "
		                     "to start it", group);
	return 0;
}

/*
 * --update ID: the running alert it amends (its latest version), whose
 * fields stand in for the options not given.  Strings become the options'
 * values (kept in u->vals), so the rest of post reads them as typed; the
 * circle is written back as decimals; the photo is attached as it was.
 */
struct post_update {
	struct event *ev;            /* the alert updated; the draft points into it */
	uint8_t id[WM_ID_LEN];
	char *vals[NFIELDS];
	char circle[96];
	char *photo_type;            /* with the photo, when no --photo is given */
};

static void post_update_free(struct post_update *u)
{
	size_t i;

	event_free(u->ev);
	for (i = 0; i < NFIELDS; i++)
		free(u->vals[i]);
	free(u->photo_type);
}

/* v (millionths) as a plain decimal: parse_circle reads it back exactly. */
static int put_e6(char *buf, size_t len, int64_t v)
{
	uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	return snprintf(buf, len, "%s%" PRIu64 ".%06" PRIu64, v < 0 ? "-" : "", a / 1000000u, a % 1000000u);
}

static int post_update_load(struct node_dir *nd, const char *arg, uint64_t now, struct cli_opt *opts,
                            size_t nopts, struct post_update *u)
{
	char why[WM_WHY_LEN], hex[9], lhex[9], when[160];
	struct store_info info;
	uint8_t given[WM_ID_LEN], *wire = NULL;
	size_t len = 0, i, j;
	uint64_t until = 0;
	const char *p, *h;
	size_t n, hn;
	int r = CLI_FAIL;

	if (cli_resolve_id(nd->store, arg, given) != 0)
		return CLI_USAGE;
	render_short(hex, given);
	if (store_info(nd->store, given, &info) != 0 || info.kind != KIND_ALERT)
		return cli_usage_err("post", "%s is not an alert: --update amends an alert", hex);
	if (info.retracted)
		return cli_usage_err("post", "the alert %s was withdrawn: post a new alert instead", hex);
	if (cli_alert_latest(nd->store, given, u->id, &until) != 0) {
		cli_err("cannot read the store");
		return CLI_FAIL;
	}
	render_short(lhex, u->id);
	if (memcmp(u->id, given, WM_ID_LEN) != 0)
		fprintf(stderr, "the alert %s was updated already: updating its latest version, %s\n", hex, lhex);
	if (until != 0 && until <= now) {
		render_when(when, sizeof when, until, now);
		return cli_usage_err("post", "the alert %s ended at %s: post a new alert instead", lhex, when);
	}
	if (store_get(nd->store, u->id, &wire, &len) != 0 || event_decode(wire, len, &u->ev, why) != 0 ||
	    u->ev->withheld) {
		cli_err("cannot read the alert %s from the store", lhex);
		goto out;
	}
	for (i = 0; i < NFIELDS; i++) {
		const struct post_field *f = &post_fields[i];

		if (f->kind != KIND_ALERT || (f->how != AS_TEXT && f->how != AS_LANG && f->how != AS_CIRCLE))
			continue;
		for (j = 0; j < nopts && strcmp(opts[j].name, f->opt) != 0; j++)
			;
		if (j == nopts || opts[j].val)
			continue;               /* given: the update's own */
		if (f->how == AS_CIRCLE) {
			const struct cval *c = event_get(u->ev, "circle");
			size_t o;
			if (!c || c->type != CV_ARRAY || c->len != 3 || c->items[2].type != CV_UINT)
				continue;
			o = (size_t)put_e6(u->circle, sizeof u->circle,
			                   c->items[0].type == CV_INT ? c->items[0].i : (int64_t)c->items[0].u);
			u->circle[o++] = ',';
			o += (size_t)put_e6(u->circle + o, sizeof u->circle - o,
			                    c->items[1].type == CV_INT ? c->items[1].i : (int64_t)c->items[1].u);
			snprintf(u->circle + o, sizeof u->circle - o, ",%" PRIu64, c->items[2].u);
			opts[j].val = u->circle;
			continue;
		}
		if (event_get_str(u->ev, f->key, &p, &n) != 0)
			continue;
		/* an event that was its headline follows a new --headline */
		if (strcmp(f->key, "event") == 0 && event_get_str(u->ev, "headline", &h, &hn) == 0 && hn == n &&
		    memcmp(h, p, n) == 0)
			continue;
		if ((u->vals[i] = strndup(p, n)) == NULL) {
			cli_err("out of memory");
			goto out;
		}
		opts[j].val = u->vals[i];
	}
	if (event_get_str(u->ev, "photo_type", &p, &n) == 0 && (u->photo_type = strndup(p, n)) == NULL) {
		cli_err("out of memory");
		goto out;
	}
	r = 0;
out:
	free(wire);
	return r;
}

/* --to: the box, bound to the event's kind, network, author and group. */
static int post_seal(struct post_bufs *b, struct event_draft *d, const struct key *k,
                     struct node_dir *nd, const char *netfile)
{
	char why[WM_WHY_LEN] = "";
	uint8_t network[WM_NETWORK_LEN];
	size_t boxlen = 0;
	int r;

	if (b->officers && (r = add_officers(nd, d->group, b)) != 0)
		return r;
	if (d->kind == KIND_STATUS && (r = open_referred(nd, d->refs[0], k, b)) != 0)
		return r;
	if (nd) {
		memcpy(network, nd->net.id, WM_NETWORK_LEN);
	} else {
		struct network net;

		if (network_load(netfile, &net, why) != 0) {
			cli_err("%s", why);
			return CLI_FAIL;
		}
		memcpy(network, net.id, WM_NETWORK_LEN);
		wmc_wipe(&net, sizeof net);
	}
	b->parts.to = (const uint8_t *)b->recips;
	b->parts.nto = b->nto;
	if (content_seal(k, d->kind, network, d->group, &b->parts, &b->box, &boxlen, why) != 0) {
		cli_err("refused: cannot seal it: %s", why);
		return CLI_FAIL;
	}
	draft_bin(d, "box", b->box, boxlen);
	return 0;
}

int cmd_post(int argc, char **argv)
{
	struct cli_opt opts[NOPTS_MAX];
	const char *pos[2], *kname, *dir, *out, *keyfile, *group, *v;
	char why[WM_WHY_LEN] = "", refgroup[WM_GROUP_MAX + 1] = "";
	size_t np = 0, i, nopts = post_options(opts);
	unsigned kind;
	uint64_t now = wm_now_ms();
	struct event_draft d;
	struct key *k = NULL;
	struct node_dir *nd = NULL;
	struct post_bufs b;
	struct post_update u;
	uint8_t *textbuf = NULL;
	size_t textlen = 0;
	int r, ret = CLI_FAIL;

	memset(&b, 0, sizeof b);
	memset(&u, 0, sizeof u);
	r = cli_parse("post", usage_post, argc, argv, opts, nopts, pos, 2, &np);
	if (r)
		return r > 0 ? CLI_OK : CLI_USAGE;
	if (np != 1)
		return cli_usage_err("post", "expected one KIND (bulletin, alert, request, reply, "
		                     "status, retract, cert, revoke, ack)");
	kname = pos[0];
	kind = kind_from_name(kname);
	if (!kind)
		return cli_usage_err("post", "unknown kind '%s'", kname);
	for (i = 0; i < nopts; i++)
		if (opts[i].val && !post_applies(kind, opts[i].name))
			return cli_usage_err("post", "--%s does not apply to %s %s", opts[i].name,
			                     a_or_an(kname), kname);
#define OPT(n) cli_get(opts, nopts, n)
	dir = OPT("dir");
	out = OPT("out");
	keyfile = OPT("key");
	group = OPT("group");
	if (!keyfile)
		return cli_usage_err("post", "--key KEY is required");
	if ((v = OPT("text-file"))) {
		if (OPT("text"))
			return cli_usage_err("post", "give --text or --text-file, not both");
		if (read_text_file(v, &textbuf, &textlen) != 0)
			return CLI_FAIL;
		for (i = 0; i < nopts; i++)
			if (strcmp(opts[i].name, "text") == 0)
				opts[i].val = (const char *)textbuf;
	}
	if (!dir && !out) {
		ret = cli_usage_err("post", "give --dir DIR (store it) or --out FILE (a bundle), or both");
		goto out;
	}
	if ((r = cli_need_network("post", dir, OPT("network"))) != 0) {
		ret = r;
		goto out;
	}
	if (OPT("ref") && OPT("reply-to")) {
		ret = cli_usage_err("post", "--ref and --reply-to are the same thing; give one");
		goto out;
	}
	if ((v = OPT("update"))) {
		if (!dir) {
			ret = cli_usage_err("post", "--update needs --dir: the node holds the alert it amends");
			goto out;
		}
		if (OPT("ref") || OPT("reply-to")) {
			ret = cli_usage_err("post", "--update says which alert this one updates: give no --ref");
			goto out;
		}
		if (!(nd = cli_open_dir(dir)))
			goto out;
		if ((r = post_update_load(nd, v, now, opts, nopts, &u)) != 0) {
			ret = r;
			goto out;
		}
		if (group && strcmp(group, u.ev->group) != 0) {
			ret = cli_usage_err("post", "the alert it updates is in the group %s: the update goes in "
			                    "the same group (leave --group out)", u.ev->group);
			goto out;
		}
		group = u.ev->group;
	}
	if (kind == KIND_CERT || kind == KIND_REVOKE) {
		if (group && strcmp(group, WM_NETWORK_GROUP) != 0) {
			ret = cli_usage_err("post", "a %s belongs in the group \"network\"", kname);
			goto out;
		}
		/* --subject may be a name or a key prefix, looked up in the node */
		if (dir && !(nd = cli_open_dir(dir)))
			goto out;
	} else if (!group && !(dir && (OPT("ref") || OPT("reply-to")) && kind != KIND_RETRACT)) {
		ret = cli_usage_err("post", "--group G is required");
		goto out;
	} else if (group && (!event_group_valid(group, strlen(group)) || strcmp(group, WM_NETWORK_GROUP) == 0)) {
		ret = cli_usage_err("post", "'%s' is not a group for posts (1-64 bytes of a-z 0-9 . _ -)",
		                    group);
		goto out;
	}

	memset(&d, 0, sizeof d);
	d.kind = kind;
	d.group = group;
	d.created_at = now;
	if ((r = post_required(kind, kname, opts, nopts)) != 0 ||
	    (r = post_content(kind, opts, nopts, nd, &d, &b)) != 0) {
		ret = r;
		goto out;
	}
	if ((v = OPT("expires")) || (v = post_kinds[kind].expires)) {
		if (parse_expires(v, now, &d.expires_at) != 0) {
			ret = cli_usage_err("post", "--expires wants a duration (90m, 6h, 2d, 1w) or a "
			                    "local time (\"2026-12-01 18:00\"), not '%s'", v);
			goto out;
		}
		if (d.expires_at <= now) {
			ret = cli_usage_err("post", "--expires %s is in the past", v);
			goto out;
		}
	}
	/* an update without --expires runs as long again as the alert was set to */
	if (u.ev && !OPT("expires") && u.ev->expires_at > u.ev->created_at)
		d.expires_at = now + (u.ev->expires_at - u.ev->created_at);
	if (u.ev && !OPT("photo") && u.photo_type) {
		const uint8_t *ph;
		size_t phlen;
		if (event_get_bin(u.ev, "photo", &ph, &phlen) == 0) {
			draft_bin(&d, "photo", ph, phlen);
			draft_str(&d, "photo_type", u.photo_type);
		}
	}
	if (post_kinds[kind].ref && !OPT("ref") && !OPT("reply-to")) {
		ret = cli_usage_err("post", "%s %s needs --ref ID (what it %s)", a_or_an(kname), kname,
		                    post_kinds[kind].ref);
		goto out;
	}

	if (kind == KIND_STATUS && OPT("to") && strcmp(OPT("state"), "referred") != 0) {
		ret = cli_usage_err("post", "--to on a status re-seals a request for the office it is referred "
		                    "to: it needs --state referred");
		goto out;
	}
	/* the rules of 'text' for a sealed text, which the event's own check
	 * cannot see: its readers would refuse to show it */
	if (OPT("to") && kind != KIND_STATUS &&
	    content_check_sealed_text((const uint8_t *)OPT("text"), strlen(OPT("text")), why) != 0) {
		cli_err("refused: %s", why);
		goto out;
	}
	/* personal data, before anything is read or signed or a passphrase asked */
	if (!OPT("allow-personal-data") && check_personal(kind, opts, nopts, OPT("to") != NULL))
		goto out;
	if ((v = OPT("photo")) && post_photo(v, &d, &b) != 0)
		goto out;
	if (dir && !nd && !(nd = cli_open_dir(dir)))
		goto out;
	if ((v = OPT("to")) && (r = parse_recipients(v, nd, &b)) != 0) {
		ret = r;
		goto out;
	}
	if (((v = OPT("ref")) || (v = OPT("reply-to"))) && (r = post_refs(v, nd, &d)) != 0) {
		ret = r;
		goto out;
	}
	if (u.ev) {
		memcpy(d.refs[0], u.id, WM_ID_LEN);
		d.nrefs = 1;
	}
	if (nd && kind != KIND_CERT && kind != KIND_REVOKE &&
	    (r = post_group(nd, &d, group, kname, OPT("new-group") != NULL, refgroup)) != 0) {
		ret = r;
		goto out;
	}
	if (files_load_key(keyfile, OPT("passphrase-file"), FILES_USE, &k, why) != 0) {
		cli_err("%s", why);
		goto out;
	}
	if (OPT("to") && (r = post_seal(&b, &d, k, nd, OPT("network"))) != 0) {
		ret = r;
		goto out;
	}
#undef OPT

	ret = cli_sign_and_deliver(&d, k, keyfile, nd, cli_get(opts, nopts, "network"), out);
out:
	node_dir_close(nd);
	key_free(k);
	post_bufs_free(&b);
	post_update_free(&u);
	free(textbuf);
	return ret;
}
