/*
 * node/keyfile: passphrases and key files on disk (formats in
 * crypto/wmcrypto.h; see keyfile.h).  Every passphrase is wiped when it
 * is freed (files_pass_free), and so is the text of every key file read.
 */
#include "files.h"
#include "keyfile.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define KEY_MAGIC "watchmesh-key 1"

#define PASS_MAX 1024

void files_pass_free(char *pass, size_t len)
{
	if (!pass)
		return;
	wmc_wipe(pass, len);
	free(pass);
}

/* One line from the terminal with echo off; *out malloc'd. */
static int read_tty_line(const char *prompt, char **out, size_t *outlen, char why[WM_WHY_LEN])
{
	struct termios old, quiet;
	char *buf = NULL;
	size_t n = 0;
	int c, echo_off = 0, rc = WM_EIO;

	buf = malloc(PASS_MAX + 1);
	if (!buf)
		return WM_ENOMEM;
	fprintf(stderr, "%s", prompt);
	fflush(stderr);
	if (tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0)
			echo_off = 1;
	}
	for (;;) {
		c = getchar();
		if (c == EOF || c == '\n')
			break;
		if (n >= PASS_MAX) {
			wm_why(why, "passphrase longer than %s bytes", "1024");
			rc = WM_EINVAL;
			goto out;
		}
		buf[n++] = (char)c;
	}
	if (c == EOF && n == 0) {
		wm_why(why, "no passphrase entered");
		rc = WM_ENEEDPASS;
		goto out;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = 0;
	*out = buf;
	*outlen = n;
	buf = NULL;
	rc = 0;
out:
	if (echo_off)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	if (buf)
		files_pass_free(buf, PASS_MAX + 1);
	return rc;
}

int files_passphrase(const char *file, const char *prompt, int confirm,
                     char **out, size_t *len, char why[WM_WHY_LEN])
{
	char *p = NULL, *q = NULL;
	size_t plen = 0, qlen = 0;
	int rc;

	if (file) {
		uint8_t *buf = NULL;
		size_t blen = 0, n = 0;
		rc = files_read(file, 64 * 1024, &buf, &blen, why);
		if (rc)
			return rc;
		while (n < blen && buf[n] != '\n')
			n++;
		if (n > 0 && buf[n - 1] == '\r')
			n--;
		if (n == 0 || n > PASS_MAX) {
			wm_why(why, n ? "the passphrase in %s is longer than 1024 bytes"
			               : "%s holds no passphrase (its first line is empty)", file);
			files_pass_free((char *)buf, blen);
			return WM_EINVAL;
		}
		/* Keep the bytes in place; wipe everything after the line. */
		wmc_wipe(buf + n, blen - n);
		buf[n] = 0;
		*out = (char *)buf;
		*len = n;
		return 0;
	}
	if (!isatty(STDIN_FILENO)) {
		wm_why(why, "a passphrase is needed and stdin is not a terminal; "
		             "give it with --passphrase-file FILE");
		return WM_ENEEDPASS;
	}
	rc = read_tty_line(prompt, &p, &plen, why);
	if (rc)
		return rc;
	if (plen == 0) {
		wm_why(why, "empty passphrase");
		files_pass_free(p, plen);
		return WM_EINVAL;
	}
	if (confirm) {
		rc = read_tty_line("Same passphrase again: ", &q, &qlen, why);
		if (rc) {
			files_pass_free(p, plen);
			return rc;
		}
		if (qlen != plen || !wmc_equal(p, q, plen)) {
			wm_why(why, "the two passphrases differ");
			files_pass_free(p, plen);
			files_pass_free(q, qlen);
			return WM_EPASSPHRASE;
		}
		files_pass_free(q, qlen);
	}
	*out = p;
	*len = plen;
	return 0;
}


/* --- key files -------------------------------------------------------------- */

int files_load_key(const char *path, const char *passfile, int need_secret,
                   struct key **out, char why[WM_WHY_LEN])
{
	uint8_t *text = NULL;
	size_t len = 0, passlen = 0;
	char *pass = NULL;
	struct key *k = NULL;
	char prompt[PATH_MAX + 32];
	char inner[WM_WHY_LEN];
	int rc, enc;

	rc = files_read(path, 64 * 1024, &text, &len, why);
	if (rc)
		return rc;
	enc = keyfile_is_encrypted((const char *)text, len);
	if (enc < 0) {
		wm_why(why, "%s is not a watchmesh key file", path);
		rc = WM_EFORMAT;
		goto out;
	}
	if (enc == 1) {
		snprintf(prompt, sizeof prompt, "Passphrase for %s: ", path);
		rc = files_passphrase(passfile, prompt, 0, &pass, &passlen, why);
		if (rc)
			goto out;
	}
	inner[0] = 0;
	rc = keyfile_decode((const char *)text, len, pass, passlen, &k, inner, sizeof inner);
	if (rc == WM_EPASSPHRASE) {
		wm_why(why, "wrong passphrase for %s", path);
		goto out;
	}
	if (rc) {
		wm_why(why, "%s is not a usable key file: %s", path,
		          inner[0] ? inner : wm_strerror(rc));
		if (rc != WM_ENOMEM)
			rc = WM_EFORMAT;
		goto out;
	}
	if (need_secret && !k->sec) {
		wm_why(why, "%s holds only a public key; a secret key is needed to sign", path);
		rc = WM_EINVAL;
		goto out;
	}
	*out = k;
	k = NULL;
	rc = 0;
out:
	key_free(k);
	files_pass_free(pass, passlen);
	if (text) {
		wmc_wipe(text, len);
		free(text);
	}
	return rc;
}

/* The "public <hex>" line of a key file's text. */
static int key_text_pub(const char *t, size_t len, uint8_t pub[WM_PUB_LEN])
{
	size_t i = 0, ml = strlen(KEY_MAGIC);

	if (len < ml || memcmp(t, KEY_MAGIC, ml) != 0 || (len > ml && t[ml] != '\n' && t[ml] != '\r'))
		return WM_EFORMAT;
	while (i < len) {
		size_t e = i;
		while (e < len && t[e] != '\n')
			e++;
		if (e - i >= 7 + WM_HEX_PUB && memcmp(t + i, "public ", 7) == 0) {
			size_t hl = e - i - 7;
			if (hl > 0 && t[i + 7 + hl - 1] == '\r')
				hl--;
			if (hl != WM_HEX_PUB)
				return WM_EFORMAT;
			return hex_decode(pub, WM_PUB_LEN, t + i + 7, hl) ? WM_EFORMAT : 0;
		}
		i = e + 1;
	}
	return WM_EFORMAT;
}

int files_key_pub(const char *path, uint8_t pub[WM_PUB_LEN], char why[WM_WHY_LEN])
{
	uint8_t *text = NULL;
	size_t len = 0;
	int rc = files_read(path, 64 * 1024, &text, &len, why);
	if (rc)
		return rc;
	rc = key_text_pub((const char *)text, len, pub);
	if (rc)
		wm_why(why, "%s is not a watchmesh key file (no valid 'public' line)", path);
	wmc_wipe(text, len);
	free(text);
	return rc;
}

int files_parse_pub(const char *arg, uint8_t pub[WM_PUB_LEN], char why[WM_WHY_LEN])
{
	if (!arg || !*arg) {
		wm_why(why, "empty public key");
		return WM_EINVAL;
	}
	if (strlen(arg) == WM_HEX_PUB && hex_decode(pub, WM_PUB_LEN, arg, WM_HEX_PUB) == 0)
		return 0;
	if (files_exists(arg))
		return files_key_pub(arg, pub, why);
	wm_why(why, "'%s' is neither a 64-digit hex public key nor a key file", arg);
	return WM_EINVAL;
}

int files_save_key(const char *path, const struct key *k, const char *pass, size_t passlen,
                   enum keyfile_kdf level, char why[WM_WHY_LEN])
{
	char *text = NULL;
	int rc = keyfile_encode(k, pass, passlen, level, &text);
	if (rc) {
		wm_why(why, "cannot encode the key: %s", wm_strerror(rc));
		return rc;
	}
	rc = files_write_atomic(path, text, strlen(text), 0600, 1, why);
	wmc_wipe(text, strlen(text));
	free(text);
	return rc;
}

