/*
 * limit-scan FILE: the least a POP3 server must do to answer STAT on an
 * mbox without an index -- read every block, visit every newline with
 * memchr (the size as sent counts each LF as CRLF) and recognise "From "
 * after it.  Prints messages, lines and the CRLF size.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static char buf[131072 + 8];
	unsigned long long bytes = 0, lines = 0, msgs = 0;
	size_t keep = 0; /* bytes carried over: a "\nFrom" cut by the block end */
	ssize_t n;
	int fd;

	if (argc != 2 || (fd = open(argv[1], O_RDONLY)) < 0) {
		fprintf(stderr, "usage: limit-scan FILE\n");
		return 2;
	}
	while ((n = read(fd, buf + keep, sizeof(buf) - 8 - keep)) > 0) {
		if (bytes == 0 && n >= 5 && memcmp(buf, "From ", 5) == 0)
			msgs++;
		bytes += (unsigned long long)n;
		char *p = buf, *end = buf + keep + (size_t)n;
		char *nl;
		keep = 0;
		while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
			if (end - nl < 6) { /* "\nFrom" may be cut: look again */
				keep = (size_t)(end - nl);
				memmove(buf, nl, keep);
				break;
			}
			lines++;
			if (memcmp(nl + 1, "From ", 5) == 0)
				msgs++;
			p = nl + 1;
		}
	}
	for (size_t i = 0; i < keep; i++)
		if (buf[i] == '\n')
			lines++;
	close(fd);
	printf("%llu messages, %llu lines, %llu octets as CRLF\n", msgs, lines, bytes + lines);
	return n < 0;
}
