/*
 * node/files: plain files -- read whole, mapped, written atomically,
 * appended (see files.h).  Two things to know: every write that replaces a
 * file goes through a temporary file, fsync and rename (a power cut on a
 * village PC must not leave half a key), and every byte read from a file is
 * judged as outside input by the module that reads that format.
 */
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int files_exists(const char *path)
{
	struct stat st;
	return path && lstat(path, &st) == 0;
}

/* "a FIFO", "a directory", ... for the refusal of what is not a regular file. */
static const char *type_name(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISFIFO(m))
		return "a FIFO (named pipe)";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISLNK(m))
		return "a symbolic link";
	return "not a regular file";
}

/*
 * The one way a file given by the user is opened for reading.  open(2)
 * of a FIFO without a writer blocks until one comes, perhaps forever, so
 * the open is non-blocking and the type is judged on the descriptor (no
 * race with a rename in between): a regular file, or with allow_pipe a
 * FIFO or pipe whose first bytes (or end) arrive within FILES_PIPE_WAIT_MS.
 * The descriptor is made blocking again.  0 and *fd, *st; or why filled.
 */
static int open_read(const char *path, int allow_pipe, int *fd, struct stat *st, char why[WM_WHY_LEN])
{
	int f, fl, rc = WM_EIO;

	f = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (f < 0) {
		wm_why(why, "cannot open %s: %s", path, strerror(errno));
		return errno == ENOENT ? WM_ENOTFOUND : WM_EIO;
	}
	if (fstat(f, st) != 0) {
		wm_why(why, "cannot read %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st->st_mode) && !(allow_pipe && S_ISFIFO(st->st_mode))) {
		wm_why(why, "%s is %s; give a regular file", path, type_name(st->st_mode));
		rc = WM_EINVAL;
		goto fail;
	}
	if (S_ISFIFO(st->st_mode)) {
		struct pollfd pfd = { .fd = f, .events = POLLIN };
		int n;

		while ((n = poll(&pfd, 1, FILES_PIPE_WAIT_MS)) < 0 && errno == EINTR)
			;
		if (n < 0) {
			wm_why(why, "cannot read %s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0) {
			wm_why(why, "nothing came from %s within %d s: is anything writing to it?", path,
			       FILES_PIPE_WAIT_MS / 1000);
			goto fail;
		}
	}
	if ((fl = fcntl(f, F_GETFL)) < 0 || fcntl(f, F_SETFL, fl & ~O_NONBLOCK) != 0) {
		wm_why(why, "cannot read %s: %s", path, strerror(errno));
		goto fail;
	}
	*fd = f;
	return 0;
fail:
	close(f);
	return rc;
}

static int read_whole(const char *path, size_t max, int allow_pipe, uint8_t **buf, size_t *len,
                      char why[WM_WHY_LEN])
{
	int fd = -1, rc;
	uint8_t *b = NULL;
	struct stat st;
	size_t have = 0, cap;

	rc = open_read(path, allow_pipe, &fd, &st, why);
	if (rc)
		return rc;
	rc = WM_EIO;
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

int files_read(const char *path, size_t max, uint8_t **buf, size_t *len, char why[WM_WHY_LEN])
{
	return read_whole(path, max, 0, buf, len, why);
}

int files_read_pipe(const char *path, size_t max, uint8_t **buf, size_t *len, char why[WM_WHY_LEN])
{
	return read_whole(path, max, 1, buf, len, why);
}

int files_map(const char *path, struct files_map *m, char why[WM_WHY_LEN])
{
	int fd, rc;
	struct stat st;
	void *p;

	rc = open_read(path, 0, &fd, &st, why);
	if (rc)
		return rc;
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

int files_check_out(const char *path, int replace, char why[WM_WHY_LEN])
{
	struct stat st;

	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		wm_why(why, "cannot write %s: %s", path, strerror(errno));
		return WM_EIO;
	}
	/* rename(2) puts a regular file in place of whatever is there: a
	 * symlink's target would not be written, and a FIFO, a device (as
	 * root, /dev/full became a file) or a socket would be lost */
	if (!S_ISREG(st.st_mode)) {
		wm_why(why, "%s is %s; not replacing it", path, type_name(st.st_mode));
		return WM_EINVAL;
	}
	if (!replace) {
		wm_why(why, "%s already exists; not replacing it without --force", path);
		return WM_EINVAL;
	}
	return 0;
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
	struct files_writer *w;
	int rc = files_check_out(path, 1, why);

	if (rc)
		return rc;
	w = calloc(1, sizeof *w);
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
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600), err;
	int created = fd >= 0;
	struct stat st;

	if (fd < 0 && errno == EEXIST)
		fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0) {
		wm_why(why, "cannot open %s: %s", path, strerror(errno));
		return WM_EIO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		wm_why(why, "%s is not a regular file", path);
		close(fd);
		return WM_EIO;
	}
	if (write_all(fd, buf, len) != 0 || fsync(fd) != 0) {
		/* a half-written event would spoil the bundle for every reader:
		 * back to the size it had, and a file made here goes */
		err = errno;
		if (ftruncate(fd, st.st_size) == 0 && created)
			unlink(path);
		close(fd);
		wm_why(why, "cannot write %s: %s", path, strerror(err));
		return WM_EIO;
	}
	if (close(fd) != 0) {
		wm_why(why, "cannot write %s: %s", path, strerror(errno));
		return WM_EIO;
	}
	return 0;
}

