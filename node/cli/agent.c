/*
 * node/cli/agent: `watchmesh key agent` and `watchmesh key lock`, so that an
 * officer types the passphrase once a shift (keyfile.h describes the
 * socket and its requests; files_load_key is the client).
 *
 * The agent holds the unlocked key in sodium_malloc'd memory (locked, never
 * swapped; fenced by guard pages), made again in the child after the fork,
 * since memory locks are not inherited.  It signs ids for processes of its
 * own uid (SO_PEERCRED, beside the private directory) and opens sealed
 * boxes' slots for them (the box's key, not its own), never hands the key
 * out, cannot be traced or dumped (PR_SET_DUMPABLE 0), and wipes the key
 * and ends at its time, at `key lock`, or at SIGTERM/SIGINT/SIGHUP.
 */
#define _GNU_SOURCE          /* struct ucred, accept4 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "keyfile.h"

#define AGENT_DEFAULT_MS (8 * 3600 * 1000ull)       /* one shift */
#define AGENT_MAX_MS (24 * 3600 * 1000ull)

static volatile sig_atomic_t agent_stop;

static void on_signal(int sig)
{
	(void)sig;
	agent_stop = 1;
}

/* "8h", "90m", "2h30m" (and seconds, "30s", for tests): at most a day. */
static int parse_for(const char *s, uint64_t *ms)
{
	uint64_t total = 0, v;
	char *end;

	if (!s[0])
		return -1;
	while (*s) {
		if (*s < '0' || *s > '9')
			return -1;
		errno = 0;
		v = strtoull(s, &end, 10);
		if (errno || (*end != 'h' && *end != 'm' && *end != 's') || v > 24 * 3600)
			return -1;
		total += v * (*end == 'h' ? 3600000ull : *end == 'm' ? 60000ull : 1000ull);
		s = end + 1;
	}
	if (total == 0 || total > AGENT_MAX_MS)
		return -1;
	*ms = total;
	return 0;
}

/* One request on a connection; 1 if it was AGENT_LOCK. */
static int serve_one(int fd, const struct key *k, uint64_t until)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint8_t req[AGENT_REQ_MAX], ans[1 + WM_SIG_LEN];
	struct ucred cred;
	socklen_t clen = sizeof cred;
	size_t need = 1 + WM_PUB_LEN, got = 0;
	ssize_t n;
	int i;

	/* the directory keeps others out; this is the second lock on the door */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0 || cred.uid != getuid())
		return 0;
	while (got < need) {
		if (poll(&p, 1, 2000) != 1)
			return 0;
		n = read(fd, req + got, need - got);
		if (n <= 0)
			return 0;
		got += (size_t)n;
		if (got == 1 + WM_PUB_LEN && req[0] == AGENT_SIGN)
			need += WM_ID_LEN;
		else if (got == 1 + WM_PUB_LEN && req[0] == AGENT_OPEN)
			need += 1;
		else if (got == 2 + WM_PUB_LEN && req[0] == AGENT_OPEN) {
			if (req[got - 1] == 0 || req[got - 1] > AGENT_SLOTS_MAX)
				return 0;
			need += req[got - 1] * (size_t)WM_SEAL_SLOT_LEN;
		}
	}
	if (memcmp(req + 1, k->pub, WM_PUB_LEN) != 0)
		return 0;
	ans[0] = AGENT_OK;
	switch (req[0]) {
	case AGENT_SIGN:
		if (key_sign_id(k, req + 1 + WM_PUB_LEN, ans + 1) != 0)
			return 0;
		(void)send(fd, ans, 1 + WM_SIG_LEN, MSG_NOSIGNAL);
		return 0;
	case AGENT_OPEN:
		/* the box's key, as the reader's own secret half would give it */
		if (seal_open_slot(req + 2 + WM_PUB_LEN, req[1 + WM_PUB_LEN], k, ans + 1) != 0)
			ans[0] = AGENT_NO;
		(void)send(fd, ans, ans[0] == AGENT_OK ? 1 + WM_SEAL_KEY_LEN : 1, MSG_NOSIGNAL);
		wmc_wipe(ans, sizeof ans);
		return 0;
	case AGENT_PING:
		for (i = 0; i < 8; i++)
			ans[1 + i] = (uint8_t)(until >> (56 - 8 * i));
		(void)send(fd, ans, 9, MSG_NOSIGNAL);
		return 0;
	case AGENT_LOCK:
		(void)send(fd, ans, 1, MSG_NOSIGNAL);
		return 1;
	default:
		return 0;
	}
}

static void serve(int lfd, struct key *k, uint64_t until, const char *sock)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	uint64_t now;
	int fd;

	while (!agent_stop && (now = wm_now_ms()) < until) {
		uint64_t left = until - now;
		if (poll(&p, 1, left > 60000 ? 60000 : (int)left) != 1)
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		if (serve_one(fd, k, until))
			agent_stop = 1;
		close(fd);
	}
	unlink(sock);
	close(lfd);
	key_free(k);
}

/* A listening socket at path, replacing one an agent that died left. */
static int listen_at(const char *path, int *out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, r;

	if (strlen(path) >= sizeof sa.sun_path) {
		cli_err("the key agent's socket path is too long: %s", path);
		return CLI_FAIL;
	}
	(void)unlink(path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		cli_err("cannot make the key agent's socket: %s", strerror(errno));
		return CLI_FAIL;
	}
	old = umask(077);        /* the socket is made 0600, never wider for a moment */
	r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (r != 0 || listen(fd, 16) != 0) {
		cli_err("cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		return CLI_FAIL;
	}
	*out = fd;
	return CLI_OK;
}

int cli_key_agent(const char *keypath, const char *passfile, const char *dur)
{
	char dir[PATH_MAX], sock[PATH_MAX], why[WM_WHY_LEN] = "", hex[WM_HEX_PUB + 1], at[32];
	struct key *k = NULL, *kc = NULL;
	uint64_t ms = AGENT_DEFAULT_MS, until;
	uint8_t pub[WM_PUB_LEN], ends[8];
	time_t t;
	struct tm tm;
	pid_t pid;
	int lfd = -1, devnull;

	if (!keypath)
		return cli_usage_err("key", "key agent needs --key KEY (or $WATCHMESH_KEY)");
	if (dur && parse_for(dur, &ms) != 0)
		return cli_usage_err("key", "--for takes hours and minutes, like 8h, 90m or 2h30m, at most 24h");
	if (files_agent_dir(dir, 1, why) != 0) {
		cli_err("%s", why);
		return CLI_FAIL;
	}
	/* asked before the passphrase: one agent a key */
	if (files_key_pub(keypath, pub, why) != 0) {
		cli_err("%s", why);
		return CLI_FAIL;
	}
	if (files_agent_call(pub, AGENT_PING, NULL, 0, ends, sizeof ends) == 0) {
		cli_err("a key agent holds %s already; `watchmesh key lock --key %s` ends it", keypath, keypath);
		return CLI_FAIL;
	}
	if (files_load_key(keypath, passfile, FILES_SECRET, &k, why) != 0) {
		cli_err("%s", why);
		return CLI_FAIL;
	}
	files_agent_sock(dir, k->pub, sock);
	if (listen_at(sock, &lfd) != CLI_OK) {
		key_free(k);
		return CLI_FAIL;
	}
	until = wm_now_ms() + ms;
	hex_encode(hex, k->pub, WM_PUB_LEN);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		cli_err("cannot start the key agent: %s", strerror(errno));
		unlink(sock);
		close(lfd);
		key_free(k);
		return CLI_FAIL;
	}
	if (pid > 0) {
		close(lfd);
		key_free(k);
		t = (time_t)(until / 1000);
		localtime_r(&t, &tm);
		strftime(at, sizeof at, "%H:%M", &tm);
		printf("key agent for %s (%.16s) running until %s (pid %ld); `watchmesh key lock` ends it\n",
		       keypath, hex, at, (long)pid);
		return CLI_OK;
	}
	/* the child: its own session, no terminal, no core, no tracer */
	(void)setsid();
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		(void)dup2(devnull, STDIN_FILENO);
		(void)dup2(devnull, STDOUT_FILENO);
		(void)dup2(devnull, STDERR_FILENO);
		close(devnull);
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGPIPE, SIG_IGN);
	/* memory locks are not inherited: the key again, in the child's own
	 * locked memory, and the parent's copy wiped */
	if (key_from_seed(k->sec, &kc) != 0) {
		key_free(k);
		_exit(1);
	}
	key_free(k);
	serve(lfd, kc, until, sock);
	_exit(0);
}

/* `key lock`: the agent of KEY ends, wiping it. */
int cli_key_lock(const char *keypath)
{
	char why[WM_WHY_LEN] = "";
	uint8_t pub[WM_PUB_LEN], none[1];

	if (!keypath)
		return cli_usage_err("key", "key lock needs --key KEY (or $WATCHMESH_KEY): the key whose agent ends");
	if (files_key_pub(keypath, pub, why) != 0) {
		cli_err("%s", why);
		return CLI_FAIL;
	}
	if (files_agent_call(pub, AGENT_LOCK, NULL, 0, none, 0) != 0) {
		cli_err("no key agent holds %s", keypath);
		return CLI_FAIL;
	}
	printf("locked %s: its agent has wiped the key and ended\n", keypath);
	return CLI_OK;
}
