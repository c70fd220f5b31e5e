/*
 * node/files: reading and writing the node's and operators' files (see
 * files.h for the formats).  Two things to know: every write that replaces
 * a file goes through a temporary file, fsync and rename (a power cut on a
 * village PC must not leave half a key), and every byte read from a file is
 * judged as outside input.
 */
#include "files.h"
#include "trust.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define NET_MAGIC "watchmesh-network 1"
#define KEY_MAGIC "watchmesh-key 1"
#define SMALL_FILE_MAX (1u << 20)


uint64_t files_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int files_exists(const char *path)
{
	struct stat st;
	return path && lstat(path, &st) == 0;
}

/* --- plain files ------------------------------------------------------------ */

int files_read(const char *path, size_t max, uint8_t **buf, size_t *len, char why[WM_WHY_LEN])
{
	int fd = -1, rc = WM_EIO;
	uint8_t *b = NULL;
	struct stat st;
	size_t have = 0, cap;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		wm_why(why, "cannot open %s: %s", path, strerror(errno));
		return errno == ENOENT ? WM_ENOTFOUND : WM_EIO;
	}
	if (fstat(fd, &st) != 0) {
		wm_why(why, "cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		wm_why(why, "%s is a directory, not a file", path);
		goto out;
	}
	if (st.st_size < 0 || (uint64_t)st.st_size > max) {
		wm_why(why, "%s is too large for this kind of file", path);
		rc = WM_ETOOBIG;
		goto out;
	}
	cap = (size_t)st.st_size + 1;
	if (cap < 4096)
		cap = 4096;
	b = malloc(cap);
	if (!b) {
		rc = WM_ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n;
		if (have + 1 >= cap) {
			uint8_t *nb;
			if (cap > max + 1) {
				wm_why(why, "%s is too large for this kind of file", path);
				rc = WM_ETOOBIG;
				goto out;
			}
			nb = realloc(b, cap * 2);
			if (!nb) {
				rc = WM_ENOMEM;
				goto out;
			}
			b = nb;
			cap *= 2;
		}
		n = read(fd, b + have, cap - 1 - have);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			wm_why(why, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	if (have > max) {
		wm_why(why, "%s is too large for this kind of file", path);
		rc = WM_ETOOBIG;
		goto out;
	}
	b[have] = 0;
	*buf = b;
	*len = have;
	b = NULL;
	rc = 0;
out:
	free(b);
	if (fd >= 0)
		close(fd);
	return rc;
}

int files_map(const char *path, struct files_map *m, char why[WM_WHY_LEN])
{
	int fd;
	struct stat st;
	void *p;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		wm_why(why, "cannot open %s: %s", path, strerror(errno));
		return errno == ENOENT ? WM_ENOTFOUND : WM_EIO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		wm_why(why, "%s is not a regular file", path);
		close(fd);
		return WM_EIO;
	}
	if (st.st_size == 0) {
		close(fd);
		m->data = NULL;
		m->len = 0;
		return 0;
	}
	if ((uint64_t)st.st_size > SIZE_MAX) {
		close(fd);
		wm_why(why, "%s is too large", path);
		return WM_ETOOBIG;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		wm_why(why, "cannot map %s: %s", path, strerror(errno));
		return WM_EIO;
	}
	(void)madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
	m->data = p;
	m->len = (size_t)st.st_size;
	return 0;
}

void files_unmap(struct files_map *m)
{
	if (!m || !m->data)
		return;
	munmap((void *)(uintptr_t)m->data, m->len);
	m->data = NULL;
	m->len = 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fsync the directory holding path, so the rename itself is durable. */
static void sync_parent(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	int fd;

	if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
		return;
	slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = 0;
	else
		*slash = 0;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

struct files_writer {
	int fd;
	int failed;
	size_t used;
	uint8_t buf[1 << 16];            /* write in 64 KiB pieces */
	mode_t mode;
	char path[PATH_MAX];
	char tmp[PATH_MAX];
	char err[128];
};

int files_writer_open(const char *path, mode_t mode, struct files_writer **out, char why[WM_WHY_LEN])
{
	struct files_writer *w = calloc(1, sizeof *w);
	if (!w)
		return WM_ENOMEM;
	if (snprintf(w->path, sizeof w->path, "%s", path) >= (int)sizeof w->path ||
	    snprintf(w->tmp, sizeof w->tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof w->tmp) {
		wm_why(why, "path too long: %s", path);
		free(w);
		return WM_EINVAL;
	}
	w->fd = mkstemp(w->tmp);
	if (w->fd < 0) {
		wm_why(why, "cannot create %s: %s", path, strerror(errno));
		free(w);
		return WM_EIO;
	}
	w->mode = mode;
	*out = w;
	return 0;
}

static int writer_flush(struct files_writer *w)
{
	if (w->failed)
		return WM_EIO;
	if (w->used && write_all(w->fd, w->buf, w->used) != 0) {
		w->failed = 1;
		snprintf(w->err, sizeof w->err, "%s", strerror(errno));
		return WM_EIO;
	}
	w->used = 0;
	return 0;
}

int files_writer_put(struct files_writer *w, const void *buf, size_t len)
{
	if (w->failed)
		return WM_EIO;
	if (len > sizeof w->buf - w->used) {
		if (writer_flush(w))
			return WM_EIO;
		if (len >= sizeof w->buf) {
			if (write_all(w->fd, buf, len) != 0) {
				w->failed = 1;
				snprintf(w->err, sizeof w->err, "%s", strerror(errno));
				return WM_EIO;
			}
			return 0;
		}
	}
	memcpy(w->buf + w->used, buf, len);
	w->used += len;
	return 0;
}

int files_writer_commit(struct files_writer *w, char why[WM_WHY_LEN])
{
	int rc = WM_EIO;

	(void)writer_flush(w);
	if (w->failed) {
		wm_why(why, "cannot write %s: %s", w->path, w->err);
		goto fail;
	}
	if (fchmod(w->fd, w->mode) != 0 || fsync(w->fd) != 0) {
		wm_why(why, "cannot write %s: %s", w->path, strerror(errno));
		goto fail;
	}
	if (close(w->fd) != 0) {
		w->fd = -1;
		wm_why(why, "cannot write %s: %s", w->path, strerror(errno));
		goto fail;
	}
	w->fd = -1;
	if (rename(w->tmp, w->path) != 0) {
		wm_why(why, "cannot write %s: %s", w->path, strerror(errno));
		goto fail;
	}
	sync_parent(w->path);
	free(w);
	return 0;
fail:
	files_writer_abort(w);
	return rc;
}

void files_writer_abort(struct files_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	unlink(w->tmp);
	free(w);
}

int files_write_atomic(const char *path, const void *buf, size_t len, mode_t mode, int excl,
                       char why[WM_WHY_LEN])
{
	struct files_writer *w = NULL;
	int rc;

	if (excl && files_exists(path)) {
		wm_why(why, "%s already exists; not replacing it", path);
		return WM_EINVAL;
	}
	rc = files_writer_open(path, mode, &w, why);
	if (rc)
		return rc;
	rc = files_writer_put(w, buf, len);
	if (rc) {
		wm_why(why, "cannot write %s: %s", path, strerror(errno));
		files_writer_abort(w);
		return rc;
	}
	if (excl && files_exists(path)) {
		wm_why(why, "%s already exists; not replacing it", path);
		files_writer_abort(w);
		return WM_EINVAL;
	}
	return files_writer_commit(w, why);
}

int files_append(const char *path, const void *buf, size_t len, char why[WM_WHY_LEN])
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		wm_why(why, "cannot open %s: %s", path, strerror(errno));
		return WM_EIO;
	}
	if (write_all(fd, buf, len) != 0 || fsync(fd) != 0) {
		wm_why(why, "cannot write %s: %s", path, strerror(errno));
		close(fd);
		return WM_EIO;
	}
	if (close(fd) != 0) {
		wm_why(why, "cannot write %s: %s", path, strerror(errno));
		return WM_EIO;
	}
	return 0;
}

/* --- passphrases ------------------------------------------------------------ */

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
                   char why[WM_WHY_LEN])
{
	char *text = NULL;
	int rc = keyfile_encode(k, pass, passlen, &text);
	if (rc) {
		wm_why(why, "cannot encode the key: %s", wm_strerror(rc));
		return rc;
	}
	rc = files_write_atomic(path, text, strlen(text), 0600, 1, why);
	wmc_wipe(text, strlen(text));
	free(text);
	return rc;
}

/* --- network file ----------------------------------------------------------- */

int network_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0, i;
	if (n == 0 || n > FILES_NETNAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

/* The keyword lines of a network file, each at most once. */
static const char *const net_keys[] = { "name", "root", "secret", "vouched" };
enum { NK_NAME, NK_ROOT, NK_SECRET, NK_VOUCHED, NK_COUNT };

int network_parse(const char *text, size_t len, struct network *out, char why[WM_WHY_LEN])
{
	struct network n;
	size_t i = 0, lineno = 0;
	int seen[NK_COUNT] = { 0 }, key;
	char ln[16];

	memset(&n, 0, sizeof n);
	while (i < len) {
		size_t e = i, l, kl, vl = 0;
		const char *s = text + i, *v = NULL, *sp;
		while (e < len && text[e] != '\n')
			e++;
		l = e - i;
		if (l > 0 && s[l - 1] == '\r')
			l--;
		i = e + 1;
		lineno++;
		snprintf(ln, sizeof ln, "%zu", lineno);
		if (memchr(s, '\0', l) != NULL) {
			wm_why(why, "line %s: a NUL byte (not a text file?)", ln);
			goto bad;
		}
		if (lineno == 1) {
			if (l != strlen(NET_MAGIC) || memcmp(s, NET_MAGIC, l) != 0) {
				wm_why(why, "not a watchmesh network file (the first line should be '%s')",
				        NET_MAGIC);
				goto bad;
			}
			continue;
		}
		if (l == 0 || s[0] == '#')
			continue;               /* blank or comment */
		/* "keyword value": the value is everything after the first space */
		sp = memchr(s, ' ', l);
		kl = sp ? (size_t)(sp - s) : l;
		for (key = 0; key < NK_COUNT; key++)
			if (strlen(net_keys[key]) == kl && memcmp(s, net_keys[key], kl) == 0)
				break;
		if (key == NK_COUNT || sp == NULL || sp + 1 == s + l) {
			wm_why(why, "line %s: unknown line in network file", ln);
			goto bad;
		}
		if (seen[key]) {
			wm_why(why, "line %s: a second '%s' line", ln, net_keys[key]);
			goto bad;
		}
		seen[key] = 1;
		v = sp + 1;
		vl = l - kl - 1;
		switch (key) {
		case NK_NAME:
			if (vl > FILES_NETNAME_MAX) {
				wm_why(why, "line %s: the network name is longer than 64 bytes", ln);
				goto bad;
			}
			memcpy(n.name, v, vl);
			if (!network_name_ok(n.name)) {
				wm_why(why, "line %s: bad network name", ln);
				goto bad;
			}
			break;
		case NK_ROOT:
			if (vl != WM_HEX_PUB || hex_decode(n.root, WM_PUB_LEN, v, vl)) {
				wm_why(why, "line %s: 'root' needs 64 hex digits", ln);
				goto bad;
			}
			break;
		case NK_SECRET:
			if (vl != 2 * WM_SECRET_LEN || hex_decode(n.secret, WM_SECRET_LEN, v, vl)) {
				wm_why(why, "line %s: 'secret' needs 64 hex digits", ln);
				goto bad;
			}
			break;
		default:                        /* NK_VOUCHED */
			if (vl > FILES_VOUCHED_MAX) {
				wm_why(why, "line %s: the vouched group list is longer than %d bytes", ln,
				       FILES_VOUCHED_MAX);
				goto bad;
			}
			memcpy(n.vouched, v, vl);
			if (!network_vouched_ok(n.vouched)) {
				wm_why(why, "line %s: 'vouched' needs group names separated by commas (or *), "
				       "not '%s' ('network' cannot be vouched)", ln, n.vouched);
				goto bad;
			}
			break;
		}
	}
	if (lineno == 0) {
		wm_why(why, "empty network file");
		goto bad;
	}
	for (key = 0; key < NK_VOUCHED; key++)
		if (!seen[key]) {
			wm_why(why, "network file lacks a '%s' line", net_keys[key]);
			goto bad;
		}
	*out = n;
	wmc_wipe(&n, sizeof n);
	return 0;
bad:
	wmc_wipe(&n, sizeof n);
	return WM_EFORMAT;
}

int network_encode(const struct network *n, char **out, size_t *len)
{
	char root[WM_HEX_PUB + 1], secret[2 * WM_SECRET_LEN + 1];
	size_t cap = 64 + strlen(n->name) + sizeof root + sizeof secret + strlen(n->vouched) + 48;
	char *t = malloc(cap);
	int w;

	if (!t)
		return WM_ENOMEM;
	hex_encode(root, n->root, WM_PUB_LEN);
	hex_encode(secret, n->secret, WM_SECRET_LEN);
	w = snprintf(t, cap, "%s\nname %s\nroot %s\nsecret %s\n%s%s%s", NET_MAGIC, n->name, root, secret,
	             n->vouched[0] ? "vouched " : "", n->vouched, n->vouched[0] ? "\n" : "");
	wmc_wipe(secret, sizeof secret);
	if (w < 0 || (size_t)w >= cap) {
		wmc_wipe(t, cap);
		free(t);
		return WM_EINVAL;
	}
	*out = t;
	*len = (size_t)w;
	return 0;
}

_Static_assert(FILES_VOUCHED_MAX < TRUST_VOUCHED_LEN, "the store keeps every list a network file may hold");

int network_vouched_ok(const char *list)
{
	const char *p = list, *e;

	if (strcmp(list, "*") == 0)
		return 1;
	for (;;) {
		size_t l;

		e = strchr(p, ',');
		l = e ? (size_t)(e - p) : strlen(p);
		if (!event_group_valid(p, l) || (l == strlen(WM_NETWORK_GROUP) &&
		                                 memcmp(p, WM_NETWORK_GROUP, l) == 0))
			return 0;
		if (e == NULL)
			return 1;
		p = e + 1;
	}
}

int network_load(const char *path, struct network *out, char why[WM_WHY_LEN])
{
	uint8_t *text = NULL;
	size_t len = 0;
	char inner[WM_WHY_LEN];
	int rc = files_read(path, 64 * 1024, &text, &len, why);
	if (rc)
		return rc;
	rc = network_parse((const char *)text, len, out, inner);
	if (rc)
		wm_why(why, "%s: %s", path, inner);
	wmc_wipe(text, len);
	free(text);
	return rc;
}

/* --- watchmesh.conf --------------------------------------------------------- */

void conf_defaults(struct node_conf *c)
{
	memset(c, 0, sizeof *c);
	strcpy(c->groups, "*");
	strcpy(c->listen, "0.0.0.0:7700");
	strcpy(c->http, "127.0.0.1:8080");
	c->repair_interval = 60;
	c->eager_peers = 3;
	c->peer_rate = 200;
	c->peer_burst = 2000;
	c->author_rate = 600;
	c->author_burst = 100;
	c->max_peers = 32;
	c->beacons = 1;
	c->beacon_port = 7701;
	c->beacon_interval = 30;
	c->keepalive = 15;
	c->backoff_max = 300;
	c->expire_interval = 300;
	strcpy(c->log_level, "info");
}

int conf_encode(const struct node_conf *c, char **out)
{
	size_t cap = 8192 + 5 * CONF_VAL_MAX;
	char *t = malloc(cap);
	int w;

	if (!t)
		return WM_ENOMEM;
	w = snprintf(t, cap,
		"# watchmesh node configuration: one \"key = value\" per line; '#' starts a comment.\n"
		"# An unknown key is an error.  `watchmesh run` reads this file at start; SIGHUP\n"
		"# re-reads the peers list.\n"
		"\n"
		"# This node's name, shown to peers and in status output.  Default: the\n"
		"# --name given to `watchmesh init`, else the directory's name.\n"
		"name = %s\n"
		"\n"
		"# Groups this node carries, comma-separated (e.g. gaobu.xinhua-village,gaobu.police).\n"
		"# \"*\" carries every group.  The group \"network\" (certificates) is always carried.\n"
		"# Default: *\n"
		"groups = %s\n"
		"\n"
		"# Address and TCP port the mesh listens on for neighbouring nodes.\n"
		"# Default: 0.0.0.0:7700\n"
		"listen = %s\n"
		"\n"
		"# Address and port of the HTTP API and web app (keep it on 127.0.0.1 or the\n"
		"# community's LAN).  Default: 127.0.0.1:8080\n"
		"http = %s\n"
		"\n"
		"# Neighbouring nodes to connect to, comma-separated host:port, each optionally\n"
		"# followed by @ and the node's public key (64 hex digits) to accept only that\n"
		"# node there.  SIGHUP re-reads this list.  Default: none\n"
		"peers = %s\n"
		"\n"
		"# Seconds between set reconciliations (repair) with each peer; repair also\n"
		"# runs whenever a peer connects.  Default: 60\n"
		"repair_interval = %" PRIu64 "\n"
		"\n"
		"# Peers that receive each new event whole at once; the others get its id\n"
		"# and ask if they miss it.  Default: 3\n"
		"eager_peers = %u\n"
		"\n"
		"# Live events accepted from one peer per second, and the burst above it.\n"
		"# Default: 200 and 2000\n"
		"peer_rate = %u\n"
		"peer_burst = %u\n"
		"\n"
		"# Live events accepted per author per minute, and the burst above it.\n"
		"# Default: 600 and 100\n"
		"author_rate = %u\n"
		"author_burst = %u\n"
		"\n"
		"# Connected peers at most (inbound beyond this are refused).  Default: 32\n"
		"max_peers = %u\n"
		"\n"
		"# Signed, encrypted UDP beacons that let nodes of the same network on the\n"
		"# local network find each other: on or off, the UDP port, seconds between\n"
		"# beacons.  Default: on, 7701, 30\n"
		"beacons = %s\n"
		"beacon_port = %u\n"
		"beacon_interval = %" PRIu64 "\n"
		"\n"
		"# Seconds a link may stay idle before a keepalive; silent for three times\n"
		"# this, it is closed.  Default: 15\n"
		"keepalive = %" PRIu64 "\n"
		"\n"
		"# Longest delay, in seconds, between attempts to reconnect to a peer (the\n"
		"# delay starts at 1 s and doubles, with jitter).  Default: 300\n"
		"backoff_max = %" PRIu64 "\n"
		"\n"
		"# Seconds between collections of expired events.  Default: 300\n"
		"expire_interval = %" PRIu64 "\n"
		"\n"
		"# What the daemon logs on stderr: debug, info or warn.  Default: info\n"
		"log_level = %s\n",
		c->name, c->groups, c->listen, c->http, c->peers, c->repair_interval,
		c->eager_peers, c->peer_rate, c->peer_burst, c->author_rate, c->author_burst,
		c->max_peers, c->beacons ? "on" : "off", c->beacon_port, c->beacon_interval,
		c->keepalive, c->backoff_max, c->expire_interval, c->log_level);
	if (w < 0 || (size_t)w >= cap) {
		free(t);
		return WM_EINVAL;
	}
	*out = t;
	return 0;
}

static void trim(const char **s, size_t *l)
{
	while (*l > 0 && ((*s)[0] == ' ' || (*s)[0] == '\t')) {
		(*s)++;
		(*l)--;
	}
	while (*l > 0 && ((*s)[*l - 1] == ' ' || (*s)[*l - 1] == '\t' || (*s)[*l - 1] == '\r'))
		(*l)--;
}

/* A decimal in [lo, hi] from v[0..vl). */
static int conf_uint(const char *v, size_t vl, uint64_t lo, uint64_t hi, uint64_t *out)
{
	uint64_t x = 0;
	size_t i;

	if (vl == 0 || vl > 12)
		return -1;
	for (i = 0; i < vl; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (x < lo || x > hi)
		return -1;
	*out = x;
	return 0;
}

/* The numeric keys: name, where, bounds. */
struct conf_num {
	const char *key;
	size_t off;
	int is64;
	uint64_t lo, hi;
};
static const struct conf_num conf_nums[] = {
	{ "repair_interval", offsetof(struct node_conf, repair_interval), 1, 1, 86400 },
	{ "eager_peers", offsetof(struct node_conf, eager_peers), 0, 0, 64 },
	{ "peer_rate", offsetof(struct node_conf, peer_rate), 0, 1, 1000000 },
	{ "peer_burst", offsetof(struct node_conf, peer_burst), 0, 1, 10000000 },
	{ "author_rate", offsetof(struct node_conf, author_rate), 0, 1, 1000000 },
	{ "author_burst", offsetof(struct node_conf, author_burst), 0, 1, 10000000 },
	{ "max_peers", offsetof(struct node_conf, max_peers), 0, 1, 4096 },
	{ "beacon_port", offsetof(struct node_conf, beacon_port), 0, 1, 65535 },
	{ "beacon_interval", offsetof(struct node_conf, beacon_interval), 1, 1, 86400 },
	{ "keepalive", offsetof(struct node_conf, keepalive), 1, 1, 3600 },
	{ "backoff_max", offsetof(struct node_conf, backoff_max), 1, 1, 86400 },
	{ "expire_interval", offsetof(struct node_conf, expire_interval), 1, 1, 86400 },
};

static int conf_is(const char *k, size_t kl, const char *name)
{
	return strlen(name) == kl && memcmp(k, name, kl) == 0;
}

int conf_parse(const char *text, size_t len, struct node_conf *out, char why[WM_WHY_LEN])
{
	struct node_conf c;
	size_t i = 0, lineno = 0, j;
	char ln[16];

	conf_defaults(&c);
	while (i < len) {
		size_t e = i, l, kl, vl;
		const char *s = text + i, *eq, *k, *v;
		char *dst = NULL;
		size_t dstcap = CONF_VAL_MAX;
		int done = 0;
		while (e < len && text[e] != '\n')
			e++;
		l = e - i;
		i = e + 1;
		lineno++;
		snprintf(ln, sizeof ln, "%zu", lineno);
		trim(&s, &l);
		if (l == 0 || s[0] == '#')
			continue;
		eq = memchr(s, '=', l);
		if (!eq) {
			wm_why(why, "line %s: expected \"key = value\"", ln);
			return WM_EFORMAT;
		}
		k = s;
		kl = (size_t)(eq - s);
		v = eq + 1;
		vl = l - kl - 1;
		trim(&k, &kl);
		trim(&v, &vl);
		if (memchr(v, 0, vl)) {
			wm_why(why, "line %s: NUL byte in value", ln);
			return WM_EFORMAT;
		}
		if (conf_is(k, kl, "name"))
			dst = c.name;
		else if (conf_is(k, kl, "groups"))
			dst = c.groups;
		else if (conf_is(k, kl, "listen"))
			dst = c.listen;
		else if (conf_is(k, kl, "http"))
			dst = c.http;
		else if (conf_is(k, kl, "peers"))
			dst = c.peers;
		else if (conf_is(k, kl, "log_level")) {
			if (!conf_is(v, vl, "debug") && !conf_is(v, vl, "info") && !conf_is(v, vl, "warn")) {
				wm_why(why, "line %s: log_level must be debug, info or warn", ln);
				return WM_EFORMAT;
			}
			dst = c.log_level;
			dstcap = sizeof c.log_level;
		} else if (conf_is(k, kl, "beacons")) {
			if (conf_is(v, vl, "on") || conf_is(v, vl, "yes") || conf_is(v, vl, "1"))
				c.beacons = 1;
			else if (conf_is(v, vl, "off") || conf_is(v, vl, "no") || conf_is(v, vl, "0"))
				c.beacons = 0;
			else {
				wm_why(why, "line %s: beacons must be on or off", ln);
				return WM_EFORMAT;
			}
			done = 1;
		} else {
			for (j = 0; j < sizeof conf_nums / sizeof conf_nums[0]; j++) {
				const struct conf_num *cn = &conf_nums[j];
				uint64_t x;
				if (!conf_is(k, kl, cn->key))
					continue;
				if (conf_uint(v, vl, cn->lo, cn->hi, &x) != 0) {
					wm_why(why, "line %s: %s must be a whole number from %" PRIu64
					          " to %" PRIu64, ln, cn->key, cn->lo, cn->hi);
					return WM_EFORMAT;
				}
				if (cn->is64)
					*(uint64_t *)(void *)((char *)&c + cn->off) = x;
				else
					*(unsigned *)(void *)((char *)&c + cn->off) = (unsigned)x;
				done = 1;
				break;
			}
		}
		if (done)
			continue;
		if (!dst) {
			wm_why(why, "line %s: unknown key '%.*s'", ln, (int)(kl > 64 ? 64 : kl), k);
			return WM_EFORMAT;
		}
		if (vl >= dstcap) {
			wm_why(why, "line %s: value too long", ln);
			return WM_EFORMAT;
		}
		memset(dst, 0, dstcap);         /* a key given twice: the last wins, whole */
		memcpy(dst, v, vl);
		if (dst == c.peers) {
			/* judged here so that a bad entry names its line */
			struct conf_peer *ps = malloc(CONF_PEERS_MAX * sizeof *ps);
			char inner[WM_WHY_LEN] = "";
			size_t np = 0;
			int prc = ps ? conf_peers_parse(c.peers, ps, CONF_PEERS_MAX, &np, inner) : WM_ENOMEM;
			free(ps);
			if (prc) {
				wm_why(why, "line %s: %s", ln, inner[0] ? inner : wm_strerror(prc));
				return prc == WM_ENOMEM ? prc : WM_EFORMAT;
			}
		}
	}
	if (!c.groups[0])
		strcpy(c.groups, "*");
	*out = c;
	return 0;
}

int conf_peers_parse(const char *list, struct conf_peer *out, size_t max, size_t *n,
                     char why[WM_WHY_LEN])
{
	size_t cnt = 0;
	const char *p = list ? list : "";

	while (*p) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		const char *s = p, *at, *colon;
		struct conf_peer cp;
		size_t al;

		p = e ? e + 1 : p + l;
		trim(&s, &l);
		if (l == 0)
			continue;
		memset(&cp, 0, sizeof cp);
		at = memchr(s, '@', l);
		al = at ? (size_t)(at - s) : l;
		if (at) {
			const char *h = at + 1;
			size_t hl = l - al - 1;
			if (hex_decode(cp.pub, WM_PUB_LEN, h, hl) != 0) {
				wm_why(why, "peer '%.*s': after '@' expected the node's public key "
				          "(64 hex digits)", (int)(l > 100 ? 100 : l), s);
				return WM_EFORMAT;
			}
			cp.has_pub = 1;
		}
		colon = NULL;
		for (size_t k = al; k > 0; k--)
			if (s[k - 1] == ':') {
				colon = s + k - 1;
				break;
			}
		if (!colon || colon == s || al >= sizeof cp.addr) {
			wm_why(why, "peer '%.*s': expected host:port", (int)(al > 100 ? 100 : al), s);
			return WM_EFORMAT;
		}
		{
			uint64_t port;
			size_t pl = al - (size_t)(colon - s) - 1;
			if (conf_uint(colon + 1, pl, 1, 65535, &port) != 0) {
				wm_why(why, "peer '%.*s': the port must be 1 to 65535",
				          (int)(al > 100 ? 100 : al), s);
				return WM_EFORMAT;
			}
		}
		for (size_t k = 0; k < al; k++)
			if ((unsigned char)s[k] <= ' ') {
				wm_why(why, "peer '%.*s': space or control character in the address",
				          (int)(al > 100 ? 100 : al), s);
				return WM_EFORMAT;
			}
		memcpy(cp.addr, s, al);
		cp.addr[al] = 0;
		if (cnt >= max) {
			wm_why(why, "more than %zu peers", max);
			return WM_ETOOBIG;
		}
		out[cnt++] = cp;
	}
	*n = cnt;
	return 0;
}

int conf_load(const char *path, struct node_conf *c, char why[WM_WHY_LEN])
{
	uint8_t *text = NULL;
	size_t len = 0;
	char inner[WM_WHY_LEN];
	int rc = files_read(path, SMALL_FILE_MAX, &text, &len, why);
	if (rc)
		return rc;
	rc = conf_parse((const char *)text, len, c, inner);
	if (rc)
		wm_why(why, "%s: %s", path, inner);
	free(text);
	return rc;
}

/* --- the data directory ----------------------------------------------------- */

int node_dir_open(const char *dir, struct node_dir **out, char why[WM_WHY_LEN])
{
	char path[PATH_MAX];
	struct node_dir *nd = NULL;
	struct stat st;
	int rc;

	if (stat(dir, &st) != 0) {
		wm_why(why, "no data directory at %s (create one with `watchmesh init`)", dir);
		return WM_ENOTFOUND;
	}
	if (!S_ISDIR(st.st_mode)) {
		wm_why(why, "%s is not a directory", dir);
		return WM_ENOTFOUND;
	}
	snprintf(path, sizeof path, "%s/network", dir);
	if (!files_exists(path)) {
		wm_why(why, "%s is not a watchmesh data directory (no network file; "
		             "create one with `watchmesh init`)", dir);
		return WM_ENOTFOUND;
	}
	nd = calloc(1, sizeof *nd);
	if (!nd)
		return WM_ENOMEM;
	rc = network_load(path, &nd->net, why);
	if (rc)
		goto fail;
	snprintf(path, sizeof path, "%s/watchmesh.conf", dir);
	if (files_exists(path)) {
		rc = conf_load(path, &nd->conf, why);
		if (rc)
			goto fail;
	} else {
		conf_defaults(&nd->conf);
	}
	snprintf(path, sizeof path, "%s/store.db", dir);
	rc = store_open(path, &nd->store, why);
	if (rc)
		goto fail;
	if ((rc = trust_set_vouched(nd->store, nd->net.vouched)) != 0) {
		wm_why(why, "%s: cannot record the vouched groups: %s", path, store_errmsg(nd->store));
		store_close(nd->store);
		goto fail;
	}
	nd->ictx.store = nd->store;
	memcpy(nd->ictx.root, nd->net.root, WM_PUB_LEN);
	nd->ictx.now = files_now_ms();
	*out = nd;
	return 0;
fail:
	wmc_wipe(nd, sizeof *nd);
	free(nd);
	return rc;
}

void node_dir_close(struct node_dir *nd)
{
	if (!nd)
		return;
	store_close(nd->store);
	wmc_wipe(nd, sizeof *nd);
	free(nd);
}
