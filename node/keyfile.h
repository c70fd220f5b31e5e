/*
 * node/keyfile: passphrases and key files on disk.  The key file's text
 * format is crypto/wmcrypto.h's (keyfile_encode, keyfile_decode); here it
 * is read and written, decrypted with a passphrase from a file or from the
 * terminal (echo off).  The names keep the files_ prefix the daemon and
 * the tools call them by.
 */
#ifndef WM_KEYFILE_H
#define WM_KEYFILE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "wmcrypto.h"

/* A passphrase from `file` (its first line; a trailing newline is dropped)
 * or, when file is NULL, from the terminal with echo off, prompted on
 * stderr; echo comes back if a signal ends or stops the process at the
 * prompt.  fresh=1 (a key being made) holds it to files_pass_strength and
 * asks twice at the terminal.  If file is NULL and stdin is not a terminal:
 * WM_ENEEDPASS with a why naming --passphrase-file.  *out is malloc'd; free
 * with files_pass_free (wipes). */
int files_passphrase(const char *file, const char *prompt, int fresh,
                     char **out, size_t *len, char why[WM_WHY_LEN]);

/* 0 if pass is strong enough to seal a new key: at least 10 characters, not
 * digits only, not one key repeated or a run of keys, not one of the most
 * common; else WM_EINVAL with a why of one line saying which. */
int files_pass_strength(const char *pass, size_t len, char why[WM_WHY_LEN]);
void files_pass_free(char *pass, size_t len);

/* Load a key file, asking for its passphrase (from passfile or the terminal)
 * only if it is encrypted.  need: FILES_PUBLIC takes a public-only file;
 * FILES_SECRET needs the secret half itself (the key agent's own load);
 * FILES_USE needs to sign or to open sealed text, so a key agent holding
 * the key (`watchmesh key agent`) stands in for it, and nothing is asked. */
enum { FILES_PUBLIC = 0, FILES_SECRET = 1, FILES_USE = 2 };
int files_load_key(const char *path, const char *passfile, int need,
                   struct key **out, char why[WM_WHY_LEN]);

/*
 * The key agent's side of things the client needs too.  An agent listens on
 * DIR/agent-<the key's first 16 hex digits>.sock, DIR the user's private
 * runtime directory: $XDG_RUNTIME_DIR/watchmesh when that is set, else
 * /tmp/watchmesh-<uid>; it must be a directory (not a link) of ours, mode
 * 0700.  A request is one byte of operation and the key's 32 bytes, then:
 *   AGENT_SIGN  the 32-byte id; answer AGENT_OK and the 64-byte signature
 *   AGENT_OPEN  a count n (1 byte, 1..AGENT_SLOTS_MAX) and n slots of a
 *               sealed box (80 bytes each); answer AGENT_OK and the box's
 *               32-byte key from the first slot the key opens, or AGENT_NO
 *               when none does
 *   AGENT_PING  nothing; answer AGENT_OK and the end of its time (8 bytes,
 *               ms since the epoch, big-endian)
 *   AGENT_LOCK  nothing; answer AGENT_OK, and the agent wipes the key and ends
 * Anything else, or another key: the connection is closed unanswered.
 */
#define AGENT_SIGN 'S'
#define AGENT_OPEN 'O'
#define AGENT_PING 'P'
#define AGENT_LOCK 'L'
#define AGENT_OK   'K'
#define AGENT_NO   'N'
#define AGENT_SLOTS_MAX WM_SEAL_MAX_RECIPIENTS
#define AGENT_REQ_MAX (1 + WM_PUB_LEN + 1 + AGENT_SLOTS_MAX * WM_SEAL_SLOT_LEN)
/* The runtime directory into dir (made, mode 0700, when create).  0, or an
 * error with why (a directory that is not private is refused). */
int files_agent_dir(char dir[PATH_MAX], int create, char why[WM_WHY_LEN]);
/* The socket path of pub's agent in dir. */
void files_agent_sock(const char *dir, const uint8_t pub[WM_PUB_LEN], char path[PATH_MAX]);
/* One request to pub's agent; the answer after AGENT_OK into out (outlen
 * bytes).  0; WM_ECRYPTO when it answers AGENT_NO; WM_ENOTFOUND when no
 * agent for pub answers. */
int files_agent_call(const uint8_t pub[WM_PUB_LEN], char op, const uint8_t *in, size_t inlen,
                     uint8_t *out, size_t outlen);

/* The public key written in a key file, without decrypting anything. */
int files_key_pub(const char *path, uint8_t pub[WM_PUB_LEN], char why[WM_WHY_LEN]);

/* A public key given on the command line: 64 hex digits, or the path of a
 * key file (its public line is used). */
int files_parse_pub(const char *arg, uint8_t pub[WM_PUB_LEN], char why[WM_WHY_LEN]);

/* Save k to path (refusing to replace a file), encrypted when passphrase is
 * not NULL at the cost `level` gives, mode 0600. */
int files_save_key(const char *path, const struct key *k, const char *pass, size_t passlen,
                   enum keyfile_kdf level, char why[WM_WHY_LEN]);

#endif
