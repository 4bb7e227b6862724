/*
 * popclient: the TCP side of the benchmark.
 *
 *   popclient sessions HOST PORT USER PASS N
 *       N sequential sessions of greeting, USER, PASS, STAT, QUIT, each
 *       command sent alone and its answer awaited; prints sessions/s.
 *   popclient latency HOST PORT USER PASS N
 *       one session; after login, for i = 1..N: LIST i, UIDL i, TOP i 0,
 *       RETR i, each sent alone and answered in full before the next (no
 *       pipelining); prints the median and 90th percentile per command.
 *
 * Any -ERR or short answer is an error (exit 1): a fast failure must never
 * pass for a fast server.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char rbuf[1 << 22];
static size_t rlen;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "popclient: %s\n", what);
	exit(1);
}

static int dial(const char *host, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		die("socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		die("connect");
	return fd;
}

/* Reads one whole answer; returns 0, or -1 on -ERR / EOF.  A multi-line
 * answer ends with ".\r\n" at a line start after the first line
 * (byte-stuffing keeps that unique). */
static int answer(int fd, int multi)
{
	size_t body = (size_t)-1; /* where the lines after the first begin */
	rlen = 0;
	for (;;) {
		if (rlen == sizeof(rbuf)) { /* a long RETR: keep only the tail */
			memmove(rbuf, rbuf + rlen - 8, 8);
			rlen = 8;
			body = 0;
		}
		ssize_t n = read(fd, rbuf + rlen, sizeof(rbuf) - rlen);
		if (n <= 0)
			return -1;
		rlen += (size_t)n;
		if (body == (size_t)-1) {
			char *nl = memchr(rbuf, '\n', rlen);
			if (!nl)
				continue;
			if (memcmp(rbuf, "+OK", 3) != 0)
				return -1;
			body = (size_t)(nl + 1 - rbuf);
			if (!multi)
				return 0;
		}
		size_t b = rlen - body;
		if (b >= 3 && memcmp(rbuf + rlen - 3, ".\r\n", 3) == 0 &&
		    (b == 3 || rbuf[rlen - 4] == '\n'))
			return 0;
	}
}

static void command(int fd, const char *line, int multi)
{
	char buf[300];
	int n = snprintf(buf, sizeof(buf), "%s\r\n", line);
	if (write(fd, buf, (size_t)n) != n)
		die("write");
	if (answer(fd, multi) != 0) {
		fprintf(stderr, "popclient: %s: %.*s\n", line, (int)(rlen < 200 ? rlen : 200), rbuf);
		exit(1);
	}
}

static int login(const char *host, int port, const char *user, const char *pass)
{
	char line[300];
	int fd = dial(host, port);
	if (answer(fd, 0) != 0)
		die("no greeting");
	snprintf(line, sizeof(line), "USER %s", user);
	command(fd, line, 0);
	snprintf(line, sizeof(line), "PASS %s", pass);
	command(fd, line, 0);
	return fd;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc != 7)
		die("usage: popclient sessions|latency HOST PORT USER PASS N");
	int port = atoi(argv[3]), n = atoi(argv[6]);
	if (n <= 0)
		die("N must be positive");

	if (strcmp(argv[1], "sessions") == 0) {
		double t0 = now();
		for (int i = 0; i < n; i++) {
			int fd = login(argv[2], port, argv[4], argv[5]);
			command(fd, "STAT", 0);
			command(fd, "QUIT", 0);
			close(fd);
		}
		double t = now() - t0;
		printf("%d sessions in %.3f s: %.1f sessions/s\n", n, t, n / t);
		return 0;
	}
	if (strcmp(argv[1], "latency") == 0) {
		static const char *const verb[] = { "LIST %d", "UIDL %d", "TOP %d 0", "RETR %d" };
		double *ms = calloc((size_t)n * 4, sizeof(double));
		int fd = login(argv[2], port, argv[4], argv[5]);
		char line[64];
		for (int i = 0; i < n * 4; i++) {
			snprintf(line, sizeof(line), verb[i % 4], i / 4 + 1);
			double t0 = now();
			command(fd, line, i % 4 >= 2);
			ms[i] = (now() - t0) * 1000;
		}
		command(fd, "QUIT", 0);
		qsort(ms, (size_t)n * 4, sizeof(double), cmp);
		printf("%d commands: median %.3f ms, p90 %.3f ms, max %.3f ms\n", n * 4,
		       ms[n * 2], ms[n * 4 * 9 / 10], ms[n * 4 - 1]);
		return 0;
	}
	die("unknown mode");
}
