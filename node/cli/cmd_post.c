/*
 * node/cmd_post: `watchmesh post KIND`, signing one event from readable
 * options.  Defaults are chosen for an officer in a hurry (an alert needs
 * only --headline, --text and --area); everything is checked before the
 * key's passphrase is asked, and public text is scanned for personal data
 * (node/pii) before anything is signed.
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
#include "pii.h"

static const char usage_post[] =
"usage: watchmesh post KIND --key KEY (--dir DIR | --out FILE) --group G [options]\n"
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
"  request   --text T [--topic T] [--to PUB,...]                   anyone admitted\n"
"            topic: police non-police dispute lost-found other (default police);\n"
"            --to seals the text so only those keys (and you) can read it\n"
"  reply     --reply-to ID --text T                                a lead, an answer\n"
"  status    --ref ID --state S [--note T] [--referred-to WHO]     on a request\n"
"            state: acknowledged assigned referred resolved closed\n"
"  retract   --ref ID [--reason T]                                 withdraw an event\n"
"  ack       --ref ID [--what W] [--text T]                        on an alert\n"
"            what: seen helping found (default seen)\n"
"  cert      --subject PUB --role R --name N --groups G,... [--days N]  (= cert issue)\n"
"  revoke    --subject PUB [--reason T]                            (= cert revoke)\n"
"\n"
"Common options:\n"
"  --key KEY               the signing key file (asks its passphrase if encrypted)\n"
"  --passphrase-file F     the key's passphrase, from F's first line\n"
"  --dir DIR               store in this node (ids may then be given as a prefix)\n"
"  --out FILE              append the signed event to a bundle file\n"
"  --group G               the group, e.g. gaobu.xinhua-village (cert/revoke: network)\n"
"  --ref ID, --reply-to ID what the event answers or acts on (refs[0]); comma-\n"
"                          separated for more\n"
"  --expires WHEN          a duration (90m, 6h, 2d, 1w) or a local time\n"
"                          (\"2026-12-01 18:00\")\n"
"  --text-file FILE        the text from a file (\"-\": standard input), instead of --text\n"
"  --lang L                language tag (default zh when the text has Chinese)\n"
"  --allow-personal-data   publish although the text holds a phone, ID or card number\n"
"\n"
"Public text is checked for mainland mobile numbers, resident ID numbers and\n"
"bank card numbers; the post is refused unless --allow-personal-data.  Photos\n"
"(JPEG, PNG, WebP) are limited to 48 KiB, since an event is at most 64 KiB.\n";

enum {
	K_BUL = 1 << KIND_BULLETIN, K_ALE = 1 << KIND_ALERT, K_REQ = 1 << KIND_REQUEST,
	K_REP = 1 << KIND_REPLY, K_STA = 1 << KIND_STATUS, K_RET = 1 << KIND_RETRACT,
	K_CER = 1 << KIND_CERT, K_REV = 1 << KIND_REVOKE, K_ACK = 1 << KIND_ACK,
	K_ALL = 0x3fe,
};

/* Options and the kinds they apply to. */
static const struct {
	const char *name;
	int has_arg;
	unsigned kinds;
} post_opts[] = {
	{ "dir", 1, K_ALL }, { "key", 1, K_ALL }, { "group", 1, K_ALL }, { "out", 1, K_ALL },
	{ "passphrase-file", 1, K_ALL }, { "expires", 1, K_ALL & ~(K_CER | K_REV) },
	{ "ref", 1, K_ALL & ~(K_CER | K_REV) }, { "reply-to", 1, K_ALL & ~(K_CER | K_REV) },
	{ "allow-personal-data", 0, K_ALL },
	{ "title", 1, K_BUL }, { "text", 1, K_BUL | K_ALE | K_REQ | K_REP | K_ACK },
	{ "text-file", 1, K_BUL | K_ALE | K_REQ | K_REP | K_ACK },
	{ "category", 1, K_BUL | K_ALE }, { "lang", 1, K_BUL | K_ALE | K_REQ | K_REP },
	{ "event", 1, K_ALE }, { "headline", 1, K_ALE }, { "urgency", 1, K_ALE },
	{ "severity", 1, K_ALE }, { "certainty", 1, K_ALE }, { "area", 1, K_ALE },
	{ "circle", 1, K_ALE }, { "instruction", 1, K_ALE }, { "contact", 1, K_ALE },
	{ "photo", 1, K_ALE }, { "topic", 1, K_REQ }, { "to", 1, K_REQ },
	{ "state", 1, K_STA }, { "note", 1, K_STA }, { "referred-to", 1, K_STA },
	{ "reason", 1, K_RET | K_REV }, { "subject", 1, K_CER | K_REV }, { "role", 1, K_CER },
	{ "name", 1, K_CER }, { "groups", 1, K_CER }, { "days", 1, K_CER },
	{ "what", 1, K_ACK },
};
#define NOPTS (sizeof post_opts / sizeof post_opts[0])

/* Fields whose text is public and scanned for personal data. */
static const char *const public_text[] = {
	"title", "text", "event", "headline", "area", "instruction", "contact", "note",
	"referred-to", "reason", "name",
};

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

/* "LAT,LON,RADIUS_M" in decimal degrees and metres. */
static int parse_circle(const char *s, int64_t *lat, int64_t *lon, uint64_t *r)
{
	char *e1 = NULL, *e2 = NULL, *e3 = NULL;
	double la, lo;
	unsigned long long rad;

	errno = 0;
	la = strtod(s, &e1);
	if (errno || e1 == s || *e1 != ',')
		return -1;
	lo = strtod(e1 + 1, &e2);
	if (errno || e2 == e1 + 1 || *e2 != ',')
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

static const char *photo_type(const uint8_t *p, size_t n)
{
	if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
		return "image/jpeg";
	if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
		return "image/png";
	if (n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
		return "image/webp";
	return NULL;
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

/* Scan the public text options; 0 if clean, else print and return 1. */
static int check_personal(const struct cli_opt *opts)
{
	size_t i, k;
	int found = 0;

	for (i = 0; i < sizeof public_text / sizeof public_text[0]; i++) {
		const char *v = cli_get(opts, NOPTS, public_text[i]);
		struct pii_finding f[8];
		int n;
		char list[WM_WHY_LEN * 2];
		size_t o = 0;

		if (!v || !*v)
			continue;
		n = pii_scan(v, strlen(v), f, 8);
		if (n <= 0)
			continue;
		list[0] = 0;
		for (k = 0; k < (size_t)n && k < 8; k++) {
			int w = snprintf(list + o, sizeof list - o, "%s%s %s", k ? ", " : "",
			                 pii_type_name(f[k].type), f[k].masked);
			if (w < 0 || (size_t)w >= sizeof list - o)
				break;
			o += (size_t)w;
		}
		cli_err("refused: --%s contains personal data: %s%s; remove it, or publish it "
		        "anyway with --allow-personal-data", public_text[i], list, n > 8 ? ", ..." : "");
		found = 1;
	}
	return found;
}

int cmd_post(int argc, char **argv)
{
	struct cli_opt opts[NOPTS];
	const char *pos[2], *kname, *dir, *out, *keyfile, *group, *v;
	char why[WM_WHY_LEN] = "";
	size_t np = 0, i;
	unsigned kind;
	uint64_t now = wm_now_ms();
	struct event_draft d;
	struct key *k = NULL;
	struct node_dir *nd = NULL;
	uint8_t *photo = NULL, *box = NULL;
	size_t photolen = 0, boxlen = 0;
	uint8_t subject[WM_PUB_LEN];
	uint8_t (*recips)[WM_PUB_LEN] = NULL;
	struct cval *items = NULL, circle[3];
	char *gbuf = NULL;
	uint8_t *textbuf = NULL;
	size_t textlen = 0;
	int r, ret = CLI_FAIL;

	for (i = 0; i < NOPTS; i++) {
		opts[i].name = post_opts[i].name;
		opts[i].has_arg = post_opts[i].has_arg;
		opts[i].val = NULL;
	}
	r = cli_parse("post", usage_post, argc, argv, opts, NOPTS, pos, 2, &np);
	if (r)
		return r > 0 ? CLI_OK : CLI_USAGE;
	if (np != 1)
		return cli_usage_err("post", "expected one KIND (bulletin, alert, request, reply, "
		                     "status, retract, cert, revoke, ack)");
	kname = pos[0];
	kind = kind_from_name(kname);
	if (!kind)
		return cli_usage_err("post", "unknown kind '%s'", kname);
	for (i = 0; i < NOPTS; i++)
		if (opts[i].val && !(post_opts[i].kinds & (1u << kind)))
			return cli_usage_err("post", "--%s does not apply to a %s", opts[i].name, kname);
#define OPT(n) cli_get(opts, NOPTS, n)
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
		for (i = 0; i < NOPTS; i++)
			if (strcmp(opts[i].name, "text") == 0)
				opts[i].val = (const char *)textbuf;
	}
	if (!dir && !out)
		return cli_usage_err("post", "give --dir DIR (store it) or --out FILE (a bundle), or both");
	if (OPT("ref") && OPT("reply-to"))
		return cli_usage_err("post", "--ref and --reply-to are the same thing; give one");
	if (kind == KIND_CERT || kind == KIND_REVOKE) {
		if (group && strcmp(group, WM_NETWORK_GROUP) != 0)
			return cli_usage_err("post", "a %s belongs in the group \"network\"", kname);
	} else {
		if (!group)
			return cli_usage_err("post", "--group G is required");
		if (!event_group_valid(group, strlen(group)) || strcmp(group, WM_NETWORK_GROUP) == 0)
			return cli_usage_err("post", "'%s' is not a group for posts (1-64 bytes of a-z 0-9 . _ -)",
			                     group);
	}

	memset(&d, 0, sizeof d);
	d.kind = kind;
	d.group = group;
	d.created_at = now;

	/* content from options */
	switch (kind) {
	case KIND_BULLETIN:
		if (!OPT("title") || !OPT("text"))
			return cli_usage_err("post", "a bulletin needs --title and --text");
		draft_str(&d, "title", OPT("title"));
		draft_str(&d, "text", OPT("text"));
		draft_str(&d, "category", OPT("category") ? OPT("category") : "notice");
		break;
	case KIND_ALERT: {
		const char *headline = OPT("headline"), *text = OPT("text");
		if (!headline || !text || !OPT("area"))
			return cli_usage_err("post", "an alert needs --headline, --text and --area");
		draft_str(&d, "headline", headline);
		draft_str(&d, "text", text);
		draft_str(&d, "event", OPT("event") ? OPT("event") : headline);
		draft_str(&d, "category", OPT("category") ? OPT("category") : "Safety");
		draft_str(&d, "urgency", OPT("urgency") ? OPT("urgency") : "Immediate");
		draft_str(&d, "severity", OPT("severity") ? OPT("severity") : "Severe");
		draft_str(&d, "certainty", OPT("certainty") ? OPT("certainty") : "Observed");
		draft_str(&d, "area_desc", OPT("area"));
		if ((v = OPT("circle"))) {
			int64_t lat, lon;
			uint64_t rad;
			if (parse_circle(v, &lat, &lon, &rad) != 0)
				return cli_usage_err("post", "--circle wants LAT,LON,RADIUS_M, e.g. "
				                     "22.543096,114.057865,2000");
			circle[0] = cval_int(lat);
			circle[1] = cval_int(lon);
			circle[2] = cval_uint(rad);
			draft_array(&d, "circle", circle, 3);
		}
		if (OPT("instruction"))
			draft_str(&d, "instruction", OPT("instruction"));
		if (OPT("contact"))
			draft_str(&d, "contact", OPT("contact"));
		d.expires_at = now + 24 * 60 * MIN_MS;
		break;
	}
	case KIND_REQUEST:
		if (!OPT("text"))
			return cli_usage_err("post", "a request needs --text");
		draft_str(&d, "topic", OPT("topic") ? OPT("topic") : "police");
		break;
	case KIND_REPLY:
		if (!OPT("text"))
			return cli_usage_err("post", "a reply needs --text");
		draft_str(&d, "text", OPT("text"));
		break;
	case KIND_STATUS:
		if (!OPT("state"))
			return cli_usage_err("post", "a status needs --state (acknowledged, assigned, "
			                     "referred, resolved, closed)");
		draft_str(&d, "state", OPT("state"));
		if (OPT("note"))
			draft_str(&d, "note", OPT("note"));
		if (OPT("referred-to"))
			draft_str(&d, "referred_to", OPT("referred-to"));
		break;
	case KIND_RETRACT:
		if (OPT("reason"))
			draft_str(&d, "reason", OPT("reason"));
		break;
	case KIND_ACK:
		draft_str(&d, "what", OPT("what") ? OPT("what") : "seen");
		if (OPT("text"))
			draft_str(&d, "text", OPT("text"));
		break;
	case KIND_CERT:
		r = cli_cert_draft("post", opts, NOPTS, &d, subject, &gbuf, &items);
		if (r)
			return r;
		break;
	case KIND_REVOKE:
		r = cli_revoke_draft("post", opts, NOPTS, &d, subject);
		if (r)
			return r;
		break;
	default:
		break;
	}
	if ((v = OPT("lang")))
		draft_str(&d, "lang", v);
	else if ((kind == KIND_BULLETIN || kind == KIND_ALERT || kind == KIND_REQUEST ||
	          kind == KIND_REPLY) && has_cjk(OPT("text")))
		draft_str(&d, "lang", "zh");
	if ((v = OPT("expires"))) {
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
	if ((kind == KIND_REPLY || kind == KIND_STATUS || kind == KIND_RETRACT || kind == KIND_ACK) &&
	    !OPT("ref") && !OPT("reply-to")) {
		ret = cli_usage_err("post", "a %s needs --ref ID (what it %s)", kname,
		                    kind == KIND_REPLY ? "answers" : "is about");
		goto out;
	}

	/* personal data, before anything is signed or a passphrase asked */
	if (!OPT("allow-personal-data") && !(kind == KIND_REQUEST && OPT("to")) &&
	    check_personal(opts)) {
		ret = CLI_FAIL;
		goto out;
	}
	if (kind == KIND_REQUEST && !OPT("to") && OPT("text"))
		draft_str(&d, "text", OPT("text"));

	if ((v = OPT("photo"))) {
		const char *type;
		r = files_read(v, 64u << 20, &photo, &photolen, why);
		if (r) {
			cli_err("%s", why);
			goto out;
		}
		type = photo_type(photo, photolen);
		if (!type) {
			cli_err("%s is not a JPEG, PNG or WebP image", v);
			goto out;
		}
		if (photolen > WM_PHOTO_MAX) {
			cli_err("%s is %.1f KiB; an alert's photo may be at most %d KiB (an event is at "
			        "most 64 KiB): shrink it, e.g. 480 pixels wide as a JPEG of quality 70",
			        v, (double)photolen / 1024.0, WM_PHOTO_MAX / 1024);
			goto out;
		}
		draft_bin(&d, "photo", photo, photolen);
		draft_str(&d, "photo_type", type);
	}

	if (dir && !(nd = cli_open_dir(dir)))
		goto out;
	if ((v = OPT("ref")) || (v = OPT("reply-to"))) {
		char *copy = strdup(v), *p, *c;
		if (!copy) {
			cli_err("out of memory");
			goto out;
		}
		for (p = copy; p; p = c) {
			c = strchr(p, ',');
			if (c)
				*c++ = 0;
			if (d.nrefs >= WM_MAX_REFS) {
				free(copy);
				ret = cli_usage_err("post", "at most %d refs", WM_MAX_REFS);
				goto out;
			}
			if (cli_resolve_id(nd ? nd->store : NULL, p, d.refs[d.nrefs]) != 0) {
				free(copy);
				ret = CLI_USAGE;
				goto out;
			}
			d.nrefs++;
		}
		free(copy);
	}

	if (files_load_key(keyfile, OPT("passphrase-file"), 1, &k, why) != 0) {
		cli_err("%s", why);
		goto out;
	}

	if (kind == KIND_REQUEST && (v = OPT("to"))) {
		size_t n = 1;
		const char *t = OPT("text");
		char *copy, *p, *c;
		for (p = (char *)(uintptr_t)v; *p; p++)
			n += *p == ',';
		if (n > WM_SEAL_MAX_RECIPIENTS) {
			ret = cli_usage_err("post", "--to lists at most %d recipients", WM_SEAL_MAX_RECIPIENTS);
			goto out;
		}
		recips = calloc(n, sizeof *recips);
		items = calloc(n, sizeof *items);
		copy = strdup(v);
		if (!recips || !items || !copy) {
			free(copy);
			cli_err("out of memory");
			goto out;
		}
		for (i = 0, p = copy; p; p = c, i++) {
			c = strchr(p, ',');
			if (c)
				*c++ = 0;
			if (files_parse_pub(p, recips[i], why) != 0) {
				free(copy);
				ret = cli_usage_err("post", "--to: %s", why);
				goto out;
			}
			items[i] = cval_bin(recips[i], WM_PUB_LEN);
		}
		free(copy);
		r = seal_box((const uint8_t *)t, strlen(t), (const uint8_t (*)[WM_PUB_LEN])recips, n,
		             k->pub, &box, &boxlen);
		if (r) {
			cli_err("cannot seal the request: %s", wm_strerror(r));
			goto out;
		}
		draft_array(&d, "to", items, n);
		draft_bin(&d, "box", box, boxlen);
	}
#undef OPT

	ret = cli_sign_and_deliver(&d, k, nd, out);
out:
	node_dir_close(nd);
	key_free(k);
	free(photo);
	free(box);
	free(recips);
	free(items);
	free(gbuf);
	free(textbuf);
	return ret;
}
