/*
 * node/keyfile: passphrases and key files on disk (formats in
 * crypto/wmcrypto.h; see keyfile.h).  Every passphrase is wiped when it
 * is freed (files_pass_free), and so is the text of every key file read.
 * The terminal prompt reads with read(2), never through stdio, and owns the
 * terminal's settings while echo is off: a signal that ends or stops the
 * process gives the echo back first.
 */
#include "files.h"
#include "keyfile.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>


#define PASS_MAX 1024
/* tries at the terminal before a command gives up */
#define PASS_TRIES 3

void files_pass_free(char *pass, size_t len)
{
	if (!pass)
		return;
	wmc_wipe(pass, len);
	free(pass);
}

/*
 * While echo is off, a Ctrl-C (or Ctrl-Z, Ctrl-\, a kill) must not leave the
 * shell without echo: these handlers put the terminal back, then let the
 * signal do what it did before (end or stop the process).  After a stop
 * (SIGCONT), echo goes off again and the prompt goes on.  Only
 * async-signal-safe calls, and only file-static state, which a prompt (one at
 * a time, from the main thread) owns while it runs.
 */
static const int tty_signals[] = { SIGINT, SIGTERM, SIGTSTP, SIGQUIT };
#define TTY_NSIG (sizeof tty_signals / sizeof tty_signals[0])
static struct sigaction tty_prev[TTY_NSIG];
static struct termios tty_saved, tty_quiet;

static void tty_on_signal(int sig)
{
	struct sigaction ours;
	int saved_errno = errno;
	size_t i;

	for (i = 0; i < TTY_NSIG && tty_signals[i] != sig; i++)
		;
	if (i == TTY_NSIG)
		return;
	(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &tty_saved);
	(void)sigaction(sig, &tty_prev[i], &ours);
	(void)raise(sig);        /* SA_NODEFER: delivered now, as before us */
	(void)sigaction(sig, &ours, NULL);
	(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &tty_quiet);
	errno = saved_errno;
}

/* The prompt's signals held back while the handlers and the terminal change
 * together, so that no signal sees one changed without the other (a Ctrl-Z
 * there would otherwise turn echo off again after the prompt). */
static void tty_block(sigset_t *old)
{
	sigset_t set;
	size_t i;

	sigemptyset(&set);
	for (i = 0; i < TTY_NSIG; i++)
		sigaddset(&set, tty_signals[i]);
	(void)sigprocmask(SIG_BLOCK, &set, old);
}

/* Echo off with the handlers above in place; 0, or -1 if stdin's settings
 * cannot be changed (then nothing was changed). */
static int tty_quiet_begin(void)
{
	struct sigaction sa;
	sigset_t old;
	size_t i;
	int rc = 0;

	if (tcgetattr(STDIN_FILENO, &tty_saved) != 0)
		return -1;
	tty_quiet = tty_saved;
	tty_quiet.c_lflag &= ~(tcflag_t)ECHO;
	tty_quiet.c_lflag |= ECHONL;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = tty_on_signal;
	sa.sa_flags = SA_NODEFER | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	tty_block(&old);
	for (i = 0; i < TTY_NSIG; i++)
		(void)sigaction(tty_signals[i], &sa, &tty_prev[i]);
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &tty_quiet) != 0) {
		for (i = 0; i < TTY_NSIG; i++)
			(void)sigaction(tty_signals[i], &tty_prev[i], NULL);
		rc = -1;
	}
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static void tty_quiet_end(void)
{
	sigset_t old;
	size_t i;

	tty_block(&old);
	(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &tty_saved);
	for (i = 0; i < TTY_NSIG; i++)
		(void)sigaction(tty_signals[i], &tty_prev[i], NULL);
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
}

/* One line from the terminal with echo off; *out malloc'd.  Read a byte at
 * a time with read(2), not stdio, so no copy of the passphrase stays behind
 * in stdin's buffer (unwiped) and nothing past the line is consumed. */
static int read_tty_line(const char *prompt, char **out, size_t *outlen, char why[WM_WHY_LEN])
{
	char *buf = NULL;
	size_t n = 0;
	ssize_t r;
	char c = 0;
	int echo_off, rc = WM_EIO;

	buf = malloc(PASS_MAX + 1);
	if (!buf)
		return WM_ENOMEM;
	/* echo goes off before the prompt shows: nothing typed at it echoes */
	echo_off = tty_quiet_begin() == 0;
	fprintf(stderr, "%s", prompt);
	fflush(stderr);
	for (;;) {
		r = read(STDIN_FILENO, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			wm_why(why, "cannot read the passphrase: %s", strerror(errno));
			goto out;
		}
		if (r == 0 || c == '\n')
			break;
		if (n >= PASS_MAX) {
			wm_why(why, "passphrase longer than %s bytes", "1024");
			rc = WM_EINVAL;
			goto out;
		}
		buf[n++] = c;
	}
	if (r == 0 && n == 0) {
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
		tty_quiet_end();
	if (buf)
		files_pass_free(buf, PASS_MAX + 1);
	return rc;
}

/*
 * The strength rule, for a station operator and an officer in a hurry: long
 * enough to take a sentence, not a number.  Passphrases that are refused are
 * the ones tried first by anyone holding a stolen key file: short ones, digits
 * only (phone numbers, dates, badge numbers), one key repeated or a run of
 * keys, and a few of the most common.  Lengths count characters, so
 * 十个汉字也可以.
 */
#define PASS_MIN_CHARS 10

static const char *const pass_common[] = {
	"password123", "password1234", "passw0rd123", "iloveyou123", "qwertyuiop",
	"qwertyuiop123", "qwerty123456", "1q2w3e4r5t", "1q2w3e4r5t6y", "1qaz2wsx3edc",
	"qazwsxedcrfv", "asdfghjkl;", "zxcvbnm123", "abc1234567", "abcd123456",
	"a123456789", "woaini1314", "woaini5201314", "changeme123", "administrator",
};

int files_pass_strength(const char *pass, size_t len, char why[WM_WHY_LEN])
{
	size_t i, chars = 0, digits = 0, same = 1, run = 1;
	char low[32];

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)pass[i];
		if ((c & 0xc0) != 0x80)
			chars++;
		if (c >= '0' && c <= '9')
			digits++;
		if (i > 0 && c == (unsigned char)pass[i - 1])
			same++;
		if (i > 0 && (c == (unsigned char)pass[i - 1] + 1 || c + 1 == (unsigned char)pass[i - 1]))
			run++;
	}
	if (chars < PASS_MIN_CHARS) {
		wm_why(why, "the passphrase is too short: %zu characters where at least %d are needed "
		            "(four ordinary words make a good one)", chars, PASS_MIN_CHARS);
		return WM_EINVAL;
	}
	if (digits == len) {
		wm_why(why, "the passphrase is digits only, like a phone number or a date, "
		            "among the first things guessed; use words");
		return WM_EINVAL;
	}
	if (same == len || run == len) {
		wm_why(why, "the passphrase is one key repeated or a run of keys, "
		            "among the first things guessed; use words");
		return WM_EINVAL;
	}
	if (len < sizeof low) {
		for (i = 0; i < len; i++)
			low[i] = (char)tolower((unsigned char)pass[i]);
		low[len] = 0;
		for (i = 0; i < sizeof pass_common / sizeof pass_common[0]; i++)
			if (strcmp(low, pass_common[i]) == 0) {
				wmc_wipe(low, sizeof low);
				wm_why(why, "the passphrase is one of the most common ones, "
				            "among the first things guessed; use words of your own");
				return WM_EINVAL;
			}
		wmc_wipe(low, sizeof low);
	}
	return 0;
}

/* One try at the terminal: the passphrase, and for a fresh one its strength
 * and the same again. */
static int tty_passphrase(const char *prompt, int fresh, char **out, size_t *len,
                          char why[WM_WHY_LEN])
{
	char *p = NULL, *q = NULL;
	size_t plen = 0, qlen = 0;
	int rc;

	rc = read_tty_line(prompt, &p, &plen, why);
	if (rc)
		return rc;
	if (plen == 0) {
		wm_why(why, fresh ? "empty passphrase (a key without one is made with "
		                    "`watchmesh key new --no-passphrase`)"
		                  : "empty passphrase (a key made with --no-passphrase asks for none; "
		                    "this one is encrypted)");
		files_pass_free(p, plen);
		return WM_EINVAL;
	}
	if (fresh && (rc = files_pass_strength(p, plen, why)) != 0) {
		files_pass_free(p, plen);
		return rc;
	}
	if (fresh) {
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

int files_passphrase(const char *file, const char *prompt, int fresh,
                     char **out, size_t *len, char why[WM_WHY_LEN])
{
	int rc, tries;

	if (file) {
		uint8_t *buf = NULL;
		size_t blen = 0, n = 0;
		rc = files_read_pipe(file, 64 * 1024, &buf, &blen, why);
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
		if (fresh && (rc = files_pass_strength((char *)buf, n, why)) != 0) {
			files_pass_free((char *)buf, blen);
			return rc;
		}
		*out = (char *)buf;
		*len = n;
		return 0;
	}
	if (!isatty(STDIN_FILENO)) {
		wm_why(why, "a passphrase is needed and stdin is not a terminal; "
		             "give it with --passphrase-file FILE");
		return WM_ENEEDPASS;
	}
	/* a typo at the terminal costs a try, not the command; the end of
	 * input (WM_ENEEDPASS) and a failing terminal end it at once.  A
	 * passphrase that opens a file is tried by files_load_key, which
	 * counts the wrong ones and the empty ones together. */
	if (!fresh)
		return tty_passphrase(prompt, 0, out, len, why);
	for (tries = 1;; tries++) {
		rc = tty_passphrase(prompt, fresh, out, len, why);
		if (rc == 0 || tries == PASS_TRIES || (rc != WM_EINVAL && rc != WM_EPASSPHRASE))
			return rc;
		fprintf(stderr, "watchmesh: %s; try again (%d of %d)\n", why, tries + 1, PASS_TRIES);
	}
}


/* --- the key agent's client ---------------------------------------------------- */

int files_agent_dir(char dir[PATH_MAX], int create, char why[WM_WHY_LEN])
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat st;

	if (xdg && xdg[0] == '/')
		snprintf(dir, PATH_MAX, "%s/watchmesh", xdg);
	else
		snprintf(dir, PATH_MAX, "/tmp/watchmesh-%lu", (unsigned long)getuid());
	if (create && mkdir(dir, 0700) != 0 && errno != EEXIST) {
		wm_why(why, "cannot make %s: %s", dir, strerror(errno));
		return WM_EIO;
	}
	if (lstat(dir, &st) != 0) {
		wm_why(why, "no key agent directory %s", dir);
		return WM_ENOTFOUND;
	}
	/* another user's directory in /tmp, or a link to one, would hand them
	 * our socket: refused, never repaired */
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077) != 0) {
		wm_why(why, "%s is not a private directory of yours (mode 0700); remove it and try again", dir);
		return WM_EIO;
	}
	return 0;
}

void files_agent_sock(const char *dir, const uint8_t pub[WM_PUB_LEN], char path[PATH_MAX])
{
	char hex[WM_HEX_PUB + 1];

	hex_encode(hex, pub, WM_PUB_LEN);
	snprintf(path, PATH_MAX, "%s/agent-%.16s.sock", dir, hex);
}

/* All of len bytes, or -1 (an agent answers at once; a stuck one costs 5 s). */
static int agent_io(int fd, uint8_t *buf, size_t len, int writing)
{
	struct pollfd p = { .fd = fd, .events = writing ? POLLOUT : POLLIN };
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		if (poll(&p, 1, 5000) != 1)
			return -1;
		n = writing ? send(fd, buf + done, len - done, MSG_NOSIGNAL) : read(fd, buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

int files_agent_call(const uint8_t pub[WM_PUB_LEN], char op, const uint8_t *in, size_t inlen,
                     uint8_t *out, size_t outlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[PATH_MAX], path[PATH_MAX], why[WM_WHY_LEN];
	uint8_t req[AGENT_REQ_MAX], ok = 0;
	int fd, rc = WM_ENOTFOUND;

	if (inlen > sizeof req - 1 - WM_PUB_LEN || files_agent_dir(dir, 0, why) != 0)
		return WM_ENOTFOUND;
	files_agent_sock(dir, pub, path);
	if (strlen(path) >= sizeof sa.sun_path)
		return WM_ENOTFOUND;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return WM_ENOTFOUND;
	req[0] = (uint8_t)op;
	memcpy(req + 1, pub, WM_PUB_LEN);
	if (inlen)
		memcpy(req + 1 + WM_PUB_LEN, in, inlen);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && agent_io(fd, req, 1 + WM_PUB_LEN + inlen, 1) == 0 &&
	    agent_io(fd, &ok, 1, 0) == 0) {
		if (ok == AGENT_OK && agent_io(fd, out, outlen, 0) == 0)
			rc = 0;
		else if (ok == AGENT_NO)
			rc = WM_ECRYPTO;
	}
	close(fd);
	return rc;
}

static int agent_sign(const uint8_t pub[WM_PUB_LEN], const uint8_t id[WM_ID_LEN], uint8_t sig[WM_SIG_LEN])
{
	return files_agent_call(pub, AGENT_SIGN, id, WM_ID_LEN, sig, WM_SIG_LEN) == 0 ? 0 : WM_ECRYPTO;
}

/* The box key from the first of n slots the agent's key opens: WM_ENOTFOUND
 * when none does, WM_EIO when the agent is gone. */
static int agent_unseal(const uint8_t pub[WM_PUB_LEN], const uint8_t *slots, size_t n, uint8_t *boxkey)
{
	uint8_t in[1 + AGENT_SLOTS_MAX * WM_SEAL_SLOT_LEN];

	if (n == 0 || n > AGENT_SLOTS_MAX)
		return WM_EINVAL;
	in[0] = (uint8_t)n;
	memcpy(in + 1, slots, n * WM_SEAL_SLOT_LEN);
	switch (files_agent_call(pub, AGENT_OPEN, in, 1 + n * WM_SEAL_SLOT_LEN, boxkey, WM_SEAL_KEY_LEN)) {
	case 0:
		return 0;
	case WM_ECRYPTO:
		return WM_ENOTFOUND;
	default:
		return WM_EIO;
	}
}

/* A key through pub's agent, if one answers for it: it signs and opens. */
static int agent_key(const uint8_t pub[WM_PUB_LEN], struct key **out)
{
	uint8_t until[8];

	if (files_agent_call(pub, AGENT_PING, NULL, 0, until, sizeof until) != 0 || key_from_pub(pub, out) != 0)
		return WM_ENOTFOUND;
	(*out)->sign = agent_sign;
	(*out)->unseal = agent_unseal;
	return 0;
}

/* --- key files -------------------------------------------------------------- */

int files_load_key(const char *path, const char *passfile, int need,
                   struct key **out, char why[WM_WHY_LEN])
{
	uint8_t *text = NULL;
	size_t len = 0, passlen = 0;
	char *pass = NULL;
	struct key *k = NULL;
	char prompt[PATH_MAX + 32];
	char inner[WM_WHY_LEN];
	uint8_t pub[WM_PUB_LEN];
	int rc, enc, tries;

	rc = files_read(path, 64 * 1024, &text, &len, why);
	if (rc)
		return rc;
	enc = keyfile_is_encrypted((const char *)text, len);
	if (enc < 0) {
		wm_why(why, "%s is not a watchmesh key file", path);
		rc = WM_EFORMAT;
		goto out;
	}
	/* the agent holds the key unlocked: nothing to ask */
	if (enc == 1 && need == FILES_USE && keyfile_public((const char *)text, len, pub, inner, sizeof inner) == 0 &&
	    agent_key(pub, out) == 0) {
		rc = 0;
		goto out;
	}
	snprintf(prompt, sizeof prompt, "Passphrase for %s: ", path);
	for (tries = 1;; tries++) {
		if (enc == 1 && (rc = files_passphrase(passfile, prompt, 0, &pass, &passlen, why)) != 0) {
			if (rc != WM_EINVAL || passfile || tries == PASS_TRIES)
				goto out;
			fprintf(stderr, "watchmesh: %s; try again (%d of %d)\n", why, tries + 1, PASS_TRIES);
			continue;
		}
		inner[0] = 0;
		rc = keyfile_decode((const char *)text, len, pass, passlen, &k, inner, sizeof inner);
		if (rc != WM_EPASSPHRASE)
			break;
		/* a file's passphrase is what it is; only a person retypes */
		if (passfile || tries == PASS_TRIES) {
			wm_why(why, passfile ? "wrong passphrase for %s (the one in --passphrase-file)"
			                     : "wrong passphrase for %s (3 tries)", path);
			goto out;
		}
		files_pass_free(pass, passlen);
		pass = NULL;
		passlen = 0;
		fprintf(stderr, "watchmesh: wrong passphrase for %s; try again (%d of %d)\n", path, tries + 1,
		        PASS_TRIES);
	}
	if (rc) {
		wm_why(why, "%s is not a usable key file: %s", path,
		          inner[0] ? inner : wm_strerror(rc));
		if (rc != WM_ENOMEM)
			rc = WM_EFORMAT;
		goto out;
	}
	if (need != FILES_PUBLIC && !k->sec) {
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

int files_key_pub(const char *path, uint8_t pub[WM_PUB_LEN], char why[WM_WHY_LEN])
{
	char kwhy[WM_WHY_LEN];
	uint8_t *text = NULL;
	size_t len = 0;
	int rc = files_read(path, 64 * 1024, &text, &len, why);
	if (rc)
		return rc;
	/* the rules keyfile_decode reads by: a file that loads names its key here */
	rc = keyfile_public((const char *)text, len, pub, kwhy, sizeof kwhy);
	if (rc)
		wm_why(why, "%s is not a watchmesh key file: %s", path, kwhy);
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

