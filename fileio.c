/*
 * Whole-buffer file I/O.  See fileio.h.
 */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "params.h"

#define STREAM_OFFSET UINT64_MAX /* not positional: pipes and sockets */

/* The one loop behind the four functions below: reads into `in`, or
 * writes from `out`; the other is NULL.  Two pointers rather than one
 * cast: a const buffer is never written through. */
static bool transfer(int fd, char *in, const char *out, size_t len,
		     uint64_t offset)
{
	bool stream = offset == STREAM_OFFSET;

	for (size_t done = 0; done < len;) {
		size_t left = len - done;
		off_t at = stream ? 0 : (off_t)(offset + done);
		ssize_t n;
		if (in)
			n = stream ? read(fd, in + done, left)
				   : pread(fd, in + done, left, at);
		else
			n = stream ? write(fd, out + done, left)
				   : pwrite(fd, out + done, left, at);
		if (n > 0) {
			done += (size_t)n;
		} else if (n == 0) {
			/* End of file on a read; no progress on a write: never
			 * spin on it. */
			errno = in ? ENODATA : EIO;
			return false;
		} else if (errno != EINTR) {
			return false;
		}
	}
	return true;
}

bool pread_full(int fd, void *buf, size_t len, uint64_t offset)
{
	return transfer(fd, buf, NULL, len, offset);
}

bool pwrite_full(int fd, const void *buf, size_t len, uint64_t offset)
{
	return transfer(fd, NULL, buf, len, offset);
}

bool write_full(int fd, const void *buf, size_t len)
{
	return transfer(fd, NULL, buf, len, STREAM_OFFSET);
}

bool read_full(int fd, void *buf, size_t len)
{
	return transfer(fd, buf, NULL, len, STREAM_OFFSET);
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

bool fsync_parent(const char *path)
{
	char parent[PATH_BUFFER];
	const char *slash = strrchr(path, '/');
	size_t len = slash ? (size_t)(slash - path) : 0;

	if (!slash)
		return fsync_directory(".");
	if (len == 0)
		return fsync_directory("/");
	if (len >= sizeof(parent)) {
		errno = ENAMETOOLONG;
		return false;
	}
	memcpy(parent, path, len);
	parent[len] = '\0';
	return fsync_directory(parent);
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
