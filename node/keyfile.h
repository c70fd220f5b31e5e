/*
 * node/keyfile: passphrases and key files on disk.  The key file's text
 * format is crypto/wmcrypto.h's (keyfile_encode, keyfile_decode); here it
 * is read and written, decrypted with a passphrase from a file or from the
 * terminal (echo off).  The names keep the files_ prefix the daemon and
 * the tools call them by.
 */
#ifndef WM_KEYFILE_H
#define WM_KEYFILE_H

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
 * only if it is encrypted.  need_secret=1 refuses a public-only file. */
int files_load_key(const char *path, const char *passfile, int need_secret,
                   struct key **out, char why[WM_WHY_LEN]);

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
