/*
 * What the fuzz targets share: a private scratch directory (on tmpfs when
 * there is one, so fsync costs nothing), whole-buffer file writes, and the
 * one way a target reports a broken invariant -- abort(), which libFuzzer
 * records as a crash with the input that caused it.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"

/* A broken invariant: say which, then crash so the input is kept. */
#define FUZZ_CHECK(cond)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",     \
				__FILE__, __LINE__, #cond);                  \
			abort();                                             \
		}                                                            \
	} while (0)

/* A fresh directory for this fuzzing process, removed by nobody: it is
 * small, and a crash leaves it for inspection. */
static inline const char *fuzz_scratch_dir(void)
{
	static char dir[64];
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	snprintf(dir, sizeof(dir), "%s/pop3-fuzz.XXXXXX", base);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		abort();
	}
	return dir;
}

/* Replaces the file at path with exactly len bytes of data. */
static inline void fuzz_write_file(const char *path, const void *data,
				   size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || !write_full(fd, data, len) || close(fd) != 0) {
		perror(path);
		abort();
	}
}

#endif
