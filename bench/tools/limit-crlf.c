/*
 * limit-crlf FILE: the least RETR of every message costs -- read FILE in
 * 128 KiB blocks, turn LF into CRLF, put a "." before every line that
 * begins with ".", and write 128 KiB blocks to stdout (a pipe in the
 * benchmark).  No message boundaries, no per-line system calls.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char out[131072 * 3];
static size_t out_len;

static int flush_out(void)
{
	size_t done = 0;
	while (done < out_len) {
		ssize_t w = write(1, out + done, out_len - done);
		if (w < 0)
			return -1;
		done += (size_t)w;
	}
	out_len = 0;
	return 0;
}

int main(int argc, char **argv)
{
	static char buf[131072];
	int at_line_start = 1;
	ssize_t n;
	int fd;

	if (argc != 2 || (fd = open(argv[1], O_RDONLY)) < 0) {
		fprintf(stderr, "usage: limit-crlf FILE\n");
		return 2;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		const char *p = buf, *end = buf + n;
		while (p < end) {
			if (at_line_start && *p == '.')
				out[out_len++] = '.';
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			const char *stop = nl ? nl : end;
			memcpy(out + out_len, p, (size_t)(stop - p));
			out_len += (size_t)(stop - p);
			if (nl) {
				out[out_len++] = '\r';
				out[out_len++] = '\n';
				p = nl + 1;
				at_line_start = 1;
			} else {
				p = end;
				at_line_start = 0;
			}
		}
		if (out_len >= 131072 && flush_out() != 0)
			return 1;
	}
	return flush_out() != 0 || n < 0;
}
