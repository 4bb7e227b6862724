/*
 * Whole-buffer file I/O: EINTR retried, short transfers continued, every
 * failure reported with errno set.  A read that meets end of file sets
 * ENODATA, so callers can tell a shrunken file from a disk error.
 */
#ifndef FILEIO_H
#define FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool pread_full(int fd, void *buf, size_t len, uint64_t offset);
bool pwrite_full(int fd, const void *buf, size_t len, uint64_t offset);
bool write_full(int fd, const void *buf, size_t len);
/* Exactly len bytes from a pipe or socket; false at end of input. */
bool read_full(int fd, void *buf, size_t len);
/* fsync of a directory, so that a rename or unlink in it is durable. */
bool fsync_directory(const char *dir);
/* fsync of the directory that holds path: a new name in it (a directory
 * just made) is durable only then, whatever is synced inside it. */
bool fsync_parent(const char *path);
/* dir "/" name into buf of size cap; false when it does not fit. */
bool join_path(char *buf, size_t cap, const char *dir, const char *name);

#endif
