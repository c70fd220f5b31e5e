/*
 * node/files: the files a node and its operators keep on disk, and how they
 * are read and written.
 *
 *   network file     "watchmesh-network 1" / "name N" / "root HEX" / "secret HEX"
 *                    / optionally "vouched G1,G2" (or "vouched *")
 *   key files        crypto/wmcrypto.h's text format; decrypted here, with a
 *                    passphrase from a file or from the terminal (echo off)
 *   watchmesh.conf   "key = value" lines, '#' comments
 *   data directory   DIR/{node.key, network, watchmesh.conf, store.db}
 *
 * Files are written atomically (temporary file, fsync, rename) with the mode
 * asked for, so a crash leaves either the old file or the new one.  Every
 * reader treats the file as outside input: bad content is an error with a
 * reason in `why`, never a crash.
 */
#ifndef WM_FILES_H
#define WM_FILES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "ingest.h"
#include "store.h"
#include "wmcrypto.h"

#define FILES_NETNAME_MAX 64

/* --- plain files ------------------------------------------------------------ */

/* Whole file into *buf (malloc'd, NUL-terminated beyond len; caller frees).
 * Files larger than `max` bytes are refused (WM_ETOOBIG). */
int files_read(const char *path, size_t max, uint8_t **buf, size_t *len, char why[WM_WHY_LEN]);

/* A read-only mapping of a whole file (bundles may be hundreds of MB).
 * An empty file maps to data == NULL, len == 0.  Unmap with files_unmap. */
struct files_map {
	const uint8_t *data;
	size_t len;
};
int files_map(const char *path, struct files_map *m, char why[WM_WHY_LEN]);
void files_unmap(struct files_map *m);

/* Write buf to path atomically with `mode` (e.g. 0600).  excl=1 refuses to
 * replace an existing file (WM_EINVAL, why says so). */
int files_write_atomic(const char *path, const void *buf, size_t len, mode_t mode, int excl,
                       char why[WM_WHY_LEN]);

/* An atomic writer for large outputs: write to path.tmp.XXXXXX, then
 * files_writer_commit fsyncs and renames; files_writer_abort removes it. */
struct files_writer;
int files_writer_open(const char *path, mode_t mode, struct files_writer **out, char why[WM_WHY_LEN]);
int files_writer_put(struct files_writer *w, const void *buf, size_t len);
int files_writer_commit(struct files_writer *w, char why[WM_WHY_LEN]);   /* frees w */
void files_writer_abort(struct files_writer *w);                          /* frees w; NULL ok */

/* Append to a file (created 0600 if missing), fsynced. */
int files_append(const char *path, const void *buf, size_t len, char why[WM_WHY_LEN]);

/* 1 if path exists (any type), 0 if not. */
int files_exists(const char *path);

/* --- passphrases ------------------------------------------------------------ */

/* A passphrase from `file` (its first line; a trailing newline is dropped)
 * or, when file is NULL, from the terminal with echo off, prompted on
 * stderr; confirm=1 asks twice.  If file is NULL and stdin is not a
 * terminal: WM_ENEEDPASS with a why naming --passphrase-file.  *out is
 * malloc'd; free with files_pass_free (wipes). */
int files_passphrase(const char *file, const char *prompt, int confirm,
                     char **out, size_t *len, char why[WM_WHY_LEN]);
void files_pass_free(char *pass, size_t len);

/* --- key files -------------------------------------------------------------- */

/* Load a key file, asking for its passphrase (from passfile or the terminal)
 * only if it is encrypted.  need_secret=1 refuses a public-only file. */
int files_load_key(const char *path, const char *passfile, int need_secret,
                   struct key **out, char why[WM_WHY_LEN]);

/* The public key written in a key file, without decrypting anything. */
int files_key_pub(const char *path, uint8_t pub[WM_PUB_LEN], char why[WM_WHY_LEN]);

/* A public key given on the command line: 64 hex digits, or the path of a
 * key file (its public line is used). */
int files_parse_pub(const char *arg, uint8_t pub[WM_PUB_LEN], char why[WM_WHY_LEN]);

/* Save k to path (refusing to replace a file), encrypted when passphrase is
 * not NULL, mode 0600. */
int files_save_key(const char *path, const struct key *k, const char *pass, size_t passlen,
                   char why[WM_WHY_LEN]);

/* --- network file ----------------------------------------------------------- */

#define FILES_VOUCHED_MAX 1024
struct network {
	char name[FILES_NETNAME_MAX + 1];
	uint8_t root[WM_PUB_LEN];
	uint8_t secret[WM_SECRET_LEN];
	/* groups where only keys with a resident (or officer, or station)
	 * certificate for the group may post: "g1,g2", "*" for all, "" none */
	char vouched[FILES_VOUCHED_MAX + 1];
};
/* Text <-> struct.  network_encode: *out malloc'd (holds the secret: the
 * caller wipes and frees it). */
int network_parse(const char *text, size_t len, struct network *out, char why[WM_WHY_LEN]);
int network_encode(const struct network *n, char **out, size_t *len);
int network_load(const char *path, struct network *out, char why[WM_WHY_LEN]);
/* 1 if list is "*" or group names separated by commas, "network" not among
 * them (the vouched line of a network file). */
int network_vouched_ok(const char *list);
/* 1 if the name is acceptable for a network or a node: 1-64 bytes, no
 * control characters. */
int network_name_ok(const char *name);

/* --- watchmesh.conf --------------------------------------------------------- */

#define CONF_VAL_MAX 1024
/*
 * Every key, its unit and default; the same text is written as comments into
 * a new DIR/watchmesh.conf (conf_encode) and listed in the README.  An
 * unknown key, a value out of range or a line that is not "key = value" is
 * an error naming the line.
 */
struct node_conf {
	char name[CONF_VAL_MAX];
	char groups[CONF_VAL_MAX];   /* comma-separated; "*" = all */
	char listen[CONF_VAL_MAX];   /* mesh TCP address (0.0.0.0:7700) */
	char http[CONF_VAL_MAX];     /* HTTP API address (127.0.0.1:8080) */
	char peers[CONF_VAL_MAX];    /* comma-separated host:port[@pubhex] */
	uint64_t repair_interval;    /* s between repairs with each peer (60) */
	unsigned eager_peers;        /* peers that get whole events at once (3) */
	unsigned peer_rate;          /* live events/s accepted from one peer (200) */
	unsigned peer_burst;         /* ... and its burst (2000) */
	unsigned author_rate;        /* live events/min accepted per author (600) */
	unsigned author_burst;       /* ... and its burst (100) */
	unsigned max_peers;          /* connected peers at most (32) */
	int beacons;                 /* 1: LAN beacons on (default), 0: off */
	unsigned beacon_port;        /* UDP port of LAN beacons (7701) */
	uint64_t beacon_interval;    /* s between beacons (30) */
	uint64_t keepalive;          /* s idle before a ping; dead after 3x (15) */
	uint64_t backoff_max;        /* s, longest reconnect delay (300) */
	uint64_t expire_interval;    /* s between collections of expired events (300) */
	char log_level[16];          /* debug, info (default) or warn */
};
/* The defaults (see above). */
void conf_defaults(struct node_conf *c);
/* The default file text, with a comment above each key; *out malloc'd. */
int conf_encode(const struct node_conf *c, char **out);
/* Parse: unknown keys, bad values and lines that are not "key = value" are
 * errors (WM_EFORMAT) naming the line. */
int conf_parse(const char *text, size_t len, struct node_conf *c, char why[WM_WHY_LEN]);
int conf_load(const char *path, struct node_conf *c, char why[WM_WHY_LEN]);

/* One entry of the peers list: "host:port" or "host:port@<64 hex pubkey>".
 * conf_parse refuses a list longer than CONF_PEERS_MAX. */
#define CONF_PEERS_MAX 256
struct conf_peer {
	char addr[256];              /* host:port, as written */
	int has_pub;
	uint8_t pub[WM_PUB_LEN];
};
/* Split a peers value into at most max entries (*n of them).  Spaces around
 * entries are ignored; an empty list is fine.  WM_EFORMAT with why naming
 * the entry when one is malformed; WM_ETOOBIG when there are more than max. */
int conf_peers_parse(const char *list, struct conf_peer *out, size_t max, size_t *n,
                     char why[WM_WHY_LEN]);

/* --- the data directory ----------------------------------------------------- */

/* An opened data directory: its network, its store, an ingest context. */
struct node_dir {
	struct network net;
	struct node_conf conf;
	struct store *store;
	struct ingest_ctx ictx;      /* .now is set at open; refresh before use */
};
/* Opens DIR/network, DIR/watchmesh.conf (defaults if absent) and
 * DIR/store.db.  WM_ENOTFOUND with a why when DIR is not a data directory. */
int node_dir_open(const char *dir, struct node_dir **out, char why[WM_WHY_LEN]);
void node_dir_close(struct node_dir *nd);


/* Milliseconds since the epoch, UTC. */
uint64_t files_now_ms(void);

#endif
