/*
 * Records what a power cut could undo, for the crash-state simulator
 * (tests/powercut/powercut.py).  Built only as tests/bin/powercut-recorder.so
 * and loaded with LD_PRELOAD into an unchanged ./pop3-stdio: the release
 * binary does not know about it.
 *
 * Every call that changes a file or a name below $POWERCUT_ROOT, and every
 * fsync/fdatasync of one, is appended to the file $POWERCUT_LOG as one
 * record, in the order the calls completed:
 *   C path ino f|d        a file (open O_CREAT that made it) or directory
 *   R from to ino         rename: to now names ino
 *   X a b ino_a ino_b     renameat2 RENAME_EXCHANGE
 *   U path ino            unlink
 *   W ino offset len mtime\n<len bytes>   write or pwrite
 *   T ino len mtime       ftruncate (and open O_TRUNC)
 *   S ino f|d path        fsync or fdatasync (of a directory: its names)
 * mtime in nanoseconds after the call.  The log is opened once, before
 * the program runs, so it stays writable after the privilege switch;
 * every process of the session appends to it (O_APPEND, one write each).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static int log_fd = -1;
static char root[PATH_MAX];
static size_t root_len;

__attribute__((constructor)) static void recorder_start(void)
{
	const char *r = getenv("POWERCUT_ROOT"), *l = getenv("POWERCUT_LOG");

	if (!r || !l || strlen(r) >= sizeof(root))
		return;
	int fd = (int)syscall(SYS_openat, AT_FDCWD, l,
			      O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0)
		return;
	log_fd = fcntl(fd, F_DUPFD_CLOEXEC, 900);
	close(fd);
	strcpy(root, r);
	root_len = strlen(root);
}

static void *real(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);
	if (!f)
		abort();
	return f;
}

/* One record, one write: processes append whole records. */
static void emit(const char *head, const void *data, size_t len)
{
	size_t hl = strlen(head);
	char *buf = malloc(hl + len);
	if (!buf)
		abort();
	memcpy(buf, head, hl);
	if (len)
		memcpy(buf + hl, data, len);
	size_t done = 0;
	while (done < hl + len) {
		long n = syscall(SYS_write, log_fd, buf + done, hl + len - done);
		if (n <= 0)
			abort(); /* a record lost would make the simulation wrong */
		done += (size_t)n;
	}
	free(buf);
}

static int tracked(const char *path)
{
	return log_fd >= 0 && strncmp(path, root, root_len) == 0 &&
	       path[root_len] == '/';
}

/* The absolute path of (dirfd, path); false when it cannot be known. */
static int resolve(int dirfd, const char *path, char *out, size_t cap)
{
	char base[PATH_MAX];

	if (path[0] == '/')
		return snprintf(out, cap, "%s", path) < (int)cap;
	if (dirfd == AT_FDCWD) {
		if (!getcwd(base, sizeof(base)))
			return 0;
	} else {
		char link[64];
		snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
		ssize_t n = readlink(link, base, sizeof(base) - 1);
		if (n <= 0)
			return 0;
		base[n] = '\0';
	}
	return snprintf(out, cap, "%s/%s", base, path) < (int)cap;
}

static int fd_path(int fd, char *out, size_t cap)
{
	char link[64];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, out, cap - 1);
	if (n <= 0)
		return 0;
	out[n] = '\0';
	return tracked(out);
}

static long long mtime_ns(const struct stat *st)
{
	return (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

static unsigned long long ino_at(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 ? (unsigned long long)st.st_ino : 0;
}

/* ---- opening ---- */

static void after_open(int fd, const char *abs, int flags, int existed)
{
	struct stat st;
	char head[PATH_MAX + 128];

	if (fd < 0 || !tracked(abs) || fstat(fd, &st) != 0)
		return;
	if ((flags & O_CREAT) && !existed) {
		snprintf(head, sizeof(head), "C %s %llu f\n", abs,
			 (unsigned long long)st.st_ino);
		emit(head, NULL, 0);
	}
	if ((flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY) {
		snprintf(head, sizeof(head), "T %llu 0 %lld\n",
			 (unsigned long long)st.st_ino, mtime_ns(&st));
		emit(head, NULL, 0);
	}
}

static int do_openat(const char *fn, int dirfd, const char *path, int flags,
		     mode_t mode)
{
	int (*f)(int, const char *, int, ...) = real(fn);
	char abs[PATH_MAX];
	int known = log_fd >= 0 && resolve(dirfd, path, abs, sizeof(abs));
	int existed = known && ino_at(abs) != 0;
	int fd = f(dirfd, path, flags, mode);
	int saved = errno;
	if (known)
		after_open(fd, abs, flags, existed);
	errno = saved;
	return fd;
}

static int do_open(const char *fn, const char *path, int flags, mode_t mode)
{
	int (*f)(const char *, int, ...) = real(fn);
	char abs[PATH_MAX];
	int known = log_fd >= 0 && resolve(AT_FDCWD, path, abs, sizeof(abs));
	int existed = known && ino_at(abs) != 0;
	int fd = f(path, flags, mode);
	int saved = errno;
	if (known)
		after_open(fd, abs, flags, existed);
	errno = saved;
	return fd;
}

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	return do_open("open", path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	return do_open("open64", path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	return do_openat("openat", dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	return do_openat("openat64", dirfd, path, flags, mode);
}

int __open_2(const char *path, int flags);
int __open_2(const char *path, int flags)
{
	return do_open("open", path, flags, 0);
}

int __open64_2(const char *path, int flags);
int __open64_2(const char *path, int flags)
{
	return do_open("open64", path, flags, 0);
}

int __openat_2(int dirfd, const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags)
{
	return do_openat("openat", dirfd, path, flags, 0);
}

int __openat64_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags)
{
	return do_openat("openat64", dirfd, path, flags, 0);
}

int creat(const char *path, mode_t mode)
{
	return do_open("open", path, O_WRONLY | O_CREAT | O_TRUNC, mode);
}

int creat64(const char *path, mode_t mode)
{
	return do_open("open64", path, O_WRONLY | O_CREAT | O_TRUNC, mode);
}

/* ---- data ---- */

static void after_write(int fd, const void *buf, ssize_t n, long long offset)
{
	char path[PATH_MAX], head[128];
	struct stat st;

	if (n <= 0 || log_fd < 0 || !fd_path(fd, path, sizeof(path)) ||
	    fstat(fd, &st) != 0)
		return;
	if (offset < 0)
		offset = (long long)lseek(fd, 0, SEEK_CUR) - n;
	snprintf(head, sizeof(head), "W %llu %lld %zd %lld\n",
		 (unsigned long long)st.st_ino, offset, n, mtime_ns(&st));
	emit(head, buf, (size_t)n);
}

ssize_t write(int fd, const void *buf, size_t len)
{
	ssize_t (*f)(int, const void *, size_t) = real("write");
	ssize_t n = f(fd, buf, len);
	int saved = errno;
	after_write(fd, buf, n, -1);
	errno = saved;
	return n;
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	ssize_t (*f)(int, const void *, size_t, off_t) = real("pwrite");
	ssize_t n = f(fd, buf, len, off);
	int saved = errno;
	after_write(fd, buf, n, (long long)off);
	errno = saved;
	return n;
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	ssize_t (*f)(int, const void *, size_t, off_t) = real("pwrite64");
	ssize_t n = f(fd, buf, len, off);
	int saved = errno;
	after_write(fd, buf, n, (long long)off);
	errno = saved;
	return n;
}

static int after_truncate(int fd, int r)
{
	char path[PATH_MAX], head[128];
	struct stat st;
	int saved = errno;

	if (r == 0 && log_fd >= 0 && fd_path(fd, path, sizeof(path)) &&
	    fstat(fd, &st) == 0) {
		snprintf(head, sizeof(head), "T %llu %lld %lld\n",
			 (unsigned long long)st.st_ino, (long long)st.st_size,
			 mtime_ns(&st));
		emit(head, NULL, 0);
	}
	errno = saved;
	return r;
}

int ftruncate(int fd, off_t len)
{
	int (*f)(int, off_t) = real("ftruncate");
	return after_truncate(fd, f(fd, len));
}

int ftruncate64(int fd, off_t len)
{
	int (*f)(int, off_t) = real("ftruncate64");
	return after_truncate(fd, f(fd, len));
}

static int after_sync(int fd, int r)
{
	char path[PATH_MAX], head[PATH_MAX + 64];
	struct stat st;
	int saved = errno;

	if (r == 0 && log_fd >= 0 && fd_path(fd, path, sizeof(path)) &&
	    fstat(fd, &st) == 0) {
		snprintf(head, sizeof(head), "S %llu %c %s\n",
			 (unsigned long long)st.st_ino,
			 S_ISDIR(st.st_mode) ? 'd' : 'f', path);
		emit(head, NULL, 0);
	}
	errno = saved;
	return r;
}

int fsync(int fd)
{
	int (*f)(int) = real("fsync");
	return after_sync(fd, f(fd));
}

int fdatasync(int fd)
{
	int (*f)(int) = real("fdatasync");
	return after_sync(fd, f(fd));
}

/* ---- names ---- */

static int do_rename(int olddir, const char *from, int newdir, const char *to,
		     unsigned flags)
{
	char a[PATH_MAX], b[PATH_MAX], head[2 * PATH_MAX + 64];
	int known = log_fd >= 0 && resolve(olddir, from, a, sizeof(a)) &&
		    resolve(newdir, to, b, sizeof(b)) && (tracked(a) || tracked(b));
	unsigned long long ia = known ? ino_at(a) : 0, ib = known ? ino_at(b) : 0;
	int r = (int)syscall(SYS_renameat2, olddir, from, newdir, to, flags);
	int saved = errno;

	if (r == 0 && known) {
		if (flags & RENAME_EXCHANGE)
			snprintf(head, sizeof(head), "X %s %s %llu %llu\n", a, b, ia, ib);
		else
			snprintf(head, sizeof(head), "R %s %s %llu\n", a, b, ia);
		emit(head, NULL, 0);
	}
	errno = saved;
	return r;
}

int rename(const char *from, const char *to)
{
	return do_rename(AT_FDCWD, from, AT_FDCWD, to, 0);
}

int renameat(int olddir, const char *from, int newdir, const char *to)
{
	return do_rename(olddir, from, newdir, to, 0);
}

int renameat2(int olddir, const char *from, int newdir, const char *to,
	      unsigned flags)
{
	return do_rename(olddir, from, newdir, to, flags);
}

static int do_unlink(int dirfd, const char *path, int flags)
{
	char abs[PATH_MAX], head[PATH_MAX + 64];
	int known = log_fd >= 0 && resolve(dirfd, path, abs, sizeof(abs)) &&
		    tracked(abs);
	unsigned long long ino = known ? ino_at(abs) : 0;
	int r = (int)syscall(SYS_unlinkat, dirfd, path, flags);
	int saved = errno;

	if (r == 0 && known) {
		snprintf(head, sizeof(head), "U %s %llu\n", abs, ino);
		emit(head, NULL, 0);
	}
	errno = saved;
	return r;
}

int unlink(const char *path)
{
	return do_unlink(AT_FDCWD, path, 0);
}

int unlinkat(int dirfd, const char *path, int flags)
{
	return do_unlink(dirfd, path, flags);
}

int rmdir(const char *path)
{
	return do_unlink(AT_FDCWD, path, AT_REMOVEDIR);
}

static int do_mkdir(int dirfd, const char *path, mode_t mode)
{
	char abs[PATH_MAX], head[PATH_MAX + 64];
	int known = log_fd >= 0 && resolve(dirfd, path, abs, sizeof(abs)) &&
		    tracked(abs);
	int r = (int)syscall(SYS_mkdirat, dirfd, path, mode);
	int saved = errno;

	if (r == 0 && known) {
		snprintf(head, sizeof(head), "C %s %llu d\n", abs, ino_at(abs));
		emit(head, NULL, 0);
	}
	errno = saved;
	return r;
}

int mkdir(const char *path, mode_t mode)
{
	return do_mkdir(AT_FDCWD, path, mode);
}

int mkdirat(int dirfd, const char *path, mode_t mode)
{
	return do_mkdir(dirfd, path, mode);
}
