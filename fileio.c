/*
 * Whole-buffer file I/O.  See fileio.h.
 */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

bool pread_full(int fd, void *buf, size_t len, uint64_t offset)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)offset);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			offset += (uint64_t)n;
		} else if (n == 0) {
			errno = ENODATA;
			return false;
		} else if (errno != EINTR) {
			return false;
		}
	}
	return true;
}

bool pwrite_full(int fd, const void *buf, size_t len, uint64_t offset)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)offset);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			offset += (uint64_t)n;
		} else if (n == 0) {
			errno = EIO; /* no progress: never spin */
			return false;
		} else if (errno != EINTR) {
			return false;
		}
	}
	return true;
}

bool write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n == 0) {
			errno = EIO; /* no progress: never spin */
			return false;
		} else if (errno != EINTR) {
			return false;
		}
	}
	return true;
}

bool read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n == 0) {
			errno = ENODATA;
			return false;
		} else if (errno != EINTR) {
			return false;
		}
	}
	return true;
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
