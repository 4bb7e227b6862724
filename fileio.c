/*
 * Whole-buffer file I/O.  See fileio.h.
 */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

enum direction { READING, WRITING };
#define STREAM_OFFSET UINT64_MAX /* not positional: pipes and sockets */

/* The one loop behind the four functions below. */
static bool transfer(int fd, char *p, size_t len, uint64_t offset,
		     enum direction dir)
{
	bool stream = offset == STREAM_OFFSET;

	while (len > 0) {
		ssize_t n;
		if (dir == READING)
			n = stream ? read(fd, p, len) : pread(fd, p, len, (off_t)offset);
		else
			n = stream ? write(fd, p, len) : pwrite(fd, p, len, (off_t)offset);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			if (!stream)
				offset += (uint64_t)n;
		} else if (n == 0) {
			/* End of file on a read; no progress on a write: never
			 * spin on it. */
			errno = dir == READING ? ENODATA : EIO;
			return false;
		} else if (errno != EINTR) {
			return false;
		}
	}
	return true;
}

bool pread_full(int fd, void *buf, size_t len, uint64_t offset)
{
	return transfer(fd, buf, len, offset, READING);
}

/* transfer() takes char *, but only reads through it when writing. */
bool pwrite_full(int fd, const void *buf, size_t len, uint64_t offset)
{
	return transfer(fd, (char *)(uintptr_t)buf, len, offset, WRITING);
}

bool write_full(int fd, const void *buf, size_t len)
{
	return transfer(fd, (char *)(uintptr_t)buf, len, STREAM_OFFSET, WRITING);
}

bool read_full(int fd, void *buf, size_t len)
{
	return transfer(fd, buf, len, STREAM_OFFSET, READING);
}

bool fsync_directory(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool ok = fsync(fd) == 0;
	int saved = errno;
	close(fd);
	errno = saved;
	return ok;
}

bool join_path(char *buf, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(buf, cap, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= cap) {
		errno = ENAMETOOLONG;
		return false;
	}
	return true;
}
