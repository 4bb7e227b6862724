/*
 * okserver: a "POP3 server" that only answers +OK to every line and exits
 * on QUIT -- the ceiling for sessions per second through a superserver
 * (what process start-up and the TCP handshake cost, nothing else).
 */
#include <string.h>
#include <strings.h>
#include <unistd.h>

int main(void)
{
	char buf[4096];
	size_t len = 0;
	ssize_t n;

	if (write(1, "+OK\r\n", 5) != 5)
		return 1;
	while ((n = read(0, buf + len, sizeof(buf) - len)) > 0) {
		len += (size_t)n;
		char *nl;
		while ((nl = memchr(buf, '\n', len)) != NULL) {
			int quit = strncasecmp(buf, "QUIT", 4) == 0;
			if (write(1, "+OK\r\n", 5) != 5)
				return 1;
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len);
			if (quit)
				return 0;
		}
		if (len == sizeof(buf))
			len = 0;
	}
	return 0;
}
