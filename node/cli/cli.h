/*
 * node/cli: what the `watchmesh` subcommands (cmd_*.c) share: a small
 * option parser, error printing and the exit codes (main.c); the list of
 * events that feed, show and search print (list.c); the signing path and
 * the certificate and revocation drafts (sign.c).
 *
 * Exit codes: 0 done; 1 the command ran and failed or was refused (a bad
 * file, a refused event); 2 the command line itself was wrong.  Every error
 * is one line on stderr starting "watchmesh: ".
 */
#ifndef WM_CLI_H
#define WM_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "event.h"
#include "nodedir.h"
#include "render.h"
#include "store.h"

#define CLI_OK    0
#define CLI_FAIL  1
#define CLI_USAGE 2

/* An option the command accepts: "--name VALUE" or "--name=VALUE" when
 * has_arg, else a flag.  After parsing, `val` is the value (or "" for a
 * flag) when given, NULL when not. */
struct cli_opt {
	const char *name;            /* without the dashes */
	int has_arg;
	const char *val;
};

/* Parse argv[0..argc) (the words after the subcommand) against opts.
 * Words that are not options go to pos[] (at most maxpos).  "--help" or
 * "-h" anywhere prints `usage` to stdout and returns 1 (the caller exits
 * 0).  Errors print one line and return -1 (the caller exits 2). */
int cli_parse(const char *cmd, const char *usage, int argc, char **argv,
              struct cli_opt *opts, size_t nopts, const char **pos, size_t maxpos, size_t *npos);
/* The value of option `name` (NULL if absent). */
const char *cli_get(const struct cli_opt *opts, size_t nopts, const char *name);
/* cli_parse fills an absent --dir with cli_default_dir() and an absent
 * --key with $WATCHMESH_KEY; this says whether `name` was on the command
 * line itself (a positional DIR may stand in for a defaulted --dir). */
int cli_explicit(const struct cli_opt *opts, size_t nopts, const char *name);
/* The data directory without --dir: $WATCHMESH_DIR; else WM_DEFAULT_DIR
 * (meson.build's statedir) when we may read it; else the current
 * directory when it holds a node; else NULL. */
const char *cli_default_dir(void);
/* The usage error for a command that needs a data directory and has none
 * (naming WM_DEFAULT_DIR when it is there but we may not read it). */
int cli_no_dir(const char *cmd);
/* The data directory of `run`, `init` and `status`: the one positional
 * word (pos, np from cli_parse) or --dir, which mean the same, else the
 * default.  0 and *dir, or a usage error printed (CLI_USAGE). */
int cli_dir_arg(const char *cmd, const struct cli_opt *opts, size_t nopts, const char **pos,
                size_t np, const char **dir);

/* "watchmesh: <message>" on stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Usage error: the message plus "see `watchmesh CMD --help`"; returns CLI_USAGE. */
int cli_usage_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Open the data directory named by --dir, printing the error; NULL on failure. */
struct node_dir *cli_open_dir(const char *dir);

/* A key given as 64 hex digits or a key file, or (with nd) as the exact
 * name of a valid certificate (in its window, its subject not revoked) or
 * a prefix of 6+ hex digits of a key such a certificate names, when it
 * names one key.  0, or an exit code with the error printed (an
 * ambiguous name or prefix lists what it matches). */
int cli_resolve_key(const char *cmd, struct node_dir *nd, const char *arg, uint8_t pub[WM_PUB_LEN]);
/* The same for a certificate's subject (issue, renew, revoke): when no
 * valid certificate matches, certificates in any state (expired, revoked)
 * are searched too. */
int cli_resolve_subject(const char *cmd, struct node_dir *nd, const char *arg, uint8_t pub[WM_PUB_LEN]);

/* A 64-hex event id, or (with a store) a unique prefix of at least 4 hex
 * digits.  Prints the error and returns nonzero on failure. */
int cli_resolve_id(struct store *s, const char *arg, uint8_t id[WM_ID_LEN]);

/* Parse "N" as a positive integer no larger than max; 0 on success. */
int cli_parse_uint(const char *s, uint64_t max, uint64_t *out);

/* Events copied out of a store callback (cli_collect_cb), decoded and
 * printed by cli_print_list: as text (nested: answers under their target)
 * or as one JSON array.  Free with cli_list_free. */
struct cli_item {
	uint8_t *wire;
	size_t len;
	struct event *ev;
	int parent;                  /* index of the target in the list, or -1 */
	int shown;
	uint64_t created_at;         /* from the store, for sorting before decoding */
	uint8_t id[WM_ID_LEN];
	int has_under;               /* nested under `under`, not refs[0] (feed: an */
	uint8_t under[WM_ID_LEN];    /* answer to an alert since updated, under the update) */
};
struct cli_list {
	struct cli_item *v;
	size_t n, cap;
	int err;
};
int cli_collect_cb(void *ctx, const struct stored_event *e);
/* The latest version of the alert id (cmd_feed.c): the alert of its group
 * whose refs[0] is it, not retracted (the newest of several), and so on;
 * id itself when none.  0 with latest and its expires_at, or a WM_E* code
 * (WM_ENOTFOUND: id is not held). */
int cli_alert_latest(struct store *s, const uint8_t id[WM_ID_LEN], uint8_t latest[WM_ID_LEN],
                     uint64_t *expires_at);
void cli_list_free(struct cli_list *l);
int cli_print_list(struct node_dir *nd, const struct key *reader, struct cli_list *l, int json,
                   int nest);
/* Decode what was collected (what is not decoded yet); events that no
 * longer decode (they did on the way in) are dropped with a note rather
 * than trusted. */
void cli_list_decode(struct cli_list *l);
/* What rendering needs of this node and the reader's key (may be NULL). */
void cli_render_init(struct render_ctx *rc, struct node_dir *nd, const struct key *reader);
/* Print j (indented) on stdout and free it; CLI_OK, or CLI_FAIL if stdout
 * failed. */
int cli_dump_json(json_t *j);

/* Subcommands: argc/argv are the words after the subcommand's name. */
int cmd_network(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_cert(int argc, char **argv);
int cmd_certs(int argc, char **argv);
int cmd_post(int argc, char **argv);
int cmd_feed(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_tls(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_restore(int argc, char **argv);

/* Hold DIR's daemon lock (the daemon holds it while it runs): no daemon is
 * using DIR, and none starts until *fd is closed.  CLI_OK, or CLI_FAIL
 * with the error printed, saying to stop the daemon and then `then`. */
int cli_lock_dir(const char *dir, const char *then, int *fd);

/* agent.c: `key agent` (KEY unlocked for `dur`, default 8h, in a process of
 * its own) and `key lock`.  Exit codes, errors printed. */
int cli_key_agent(const char *keypath, const char *passfile, const char *dur);
int cli_key_lock(const char *keypath);

/* Sign the draft (created_at is set here; the network id is nd's, or with
 * nd NULL the one in the network file `netfile`; prev is the head of the
 * draft's group in the heads beside `keypath`, node/heads.h), store it through
 * ingest_event (INGEST_LOCAL) when nd is not NULL, append it to the bundle
 * `out` when not NULL, move the head, and print its id.  Returns an exit
 * code; errors printed. */
/* The check every signing command makes before it asks a passphrase: an
 * event needs a network id, from --dir or, without it, --network.  0 or a
 * usage error printed. */
int cli_need_network(const char *cmd, const char *dir, const char *netfile);
int cli_sign_and_deliver(struct event_draft *d, const struct key *signer, const char *keypath,
                         struct node_dir *nd, const char *netfile, const char *out);

/* `cert issue` / `post cert` and `cert revoke` / `post revoke` fill the
 * draft's content from options; strings live in opts.  --subject is read
 * by cli_resolve_subject (a name or prefix needs nd). */
int cli_cert_draft(const char *cmd, const struct cli_opt *opts, size_t nopts,
                   struct node_dir *nd, struct event_draft *d, uint8_t subject[WM_PUB_LEN],
                   char **groups_buf, struct cval **items);
int cli_revoke_draft(const char *cmd, const struct cli_opt *opts, size_t nopts,
                     struct node_dir *nd, struct event_draft *d, uint8_t subject[WM_PUB_LEN]);

/* --- keep.c: the keep list of `cert revoke --dir` --------------------------------- */

/* What a filled keep list points into; cli_keep_free after signing. */
struct cli_keep { void *held; struct cval *items, *entries; };
void cli_keep_free(struct cli_keep *k);
/* Fill d's keep from nd's store by arrival order: each chain's tip and
 * the running expiring events of subject that arrived before cut (0 = no
 * cut), shown with the gaps and the events not reached; asks y/N on the
 * terminal unless yes.  CLI_OK, or CLI_FAIL with the reason printed. */
int cli_fill_keep(struct node_dir *nd, const uint8_t subject[WM_PUB_LEN], int64_t cut, uint64_t now,
                  int yes, struct event_draft *d, struct cli_keep *out);
/* TIME as ms since the epoch, or YYYY-MM-DDTHH:MM:SSZ; 0 or -1. */
int cli_parse_time(const char *s, int64_t *ms);

#endif
