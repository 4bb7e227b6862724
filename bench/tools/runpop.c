/*
 * runpop: time one server process the way the benchmark needs it.
 *
 *   runpop [-u UID -g GID] [-e NAME=VALUE]... -i COMMANDS -- PROGRAM [ARG...]
 *
 * Starts PROGRAM with an empty environment (plus the -e variables), stdin a
 * pipe that receives the file COMMANDS (all at once: a pipelining client),
 * stdout a pipe that runpop drains like a fast client.  Dovecot's pop3
 * refuses a plain file on stdin, so every server gets the same pipe.
 * The clock runs from just before fork to the server's exit; reading the
 * command file and setting up the pipes happen before.  Prints one line:
 *
 *   seconds=S maxrss_kb=K out_bytes=B ok_lines=O err_lines=E status=X last=LINE
 *
 * maxrss_kb is the largest resident set of the server and of every process
 * it waited for (wait4's rusage), i.e. its privilege-separated children too.
 * ok_lines / err_lines count lines that begin with "+OK" / "-ERR".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "runpop: %s: %s\n", what, strerror(errno));
	exit(2);
}

static char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0)
		die(path);
	char *buf = malloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n <= 0)
			die(path);
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return buf;
}

int main(int argc, char **argv)
{
	char *envv[64];
	int envc = 0;
	const char *cmdfile = NULL;
	long uid = -1, gid = -1;
	int c;

	while ((c = getopt(argc, argv, "+u:g:e:i:")) != -1) {
		switch (c) {
		case 'u': uid = atol(optarg); break;
		case 'g': gid = atol(optarg); break;
		case 'e': if (envc < 63) envv[envc++] = optarg; break;
		case 'i': cmdfile = optarg; break;
		default: goto usage;
		}
	}
	if (!cmdfile || optind >= argc)
		goto usage;
	envv[envc] = NULL;

	size_t cmd_len, cmd_done = 0;
	char *cmd = slurp(cmdfile, &cmd_len);
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
		die("pipe");
	/* A pipe as large as allowed (1 MiB by default): the whole command
	 * stream is usually waiting before the server reads its first line. */
	fcntl(in[1], F_SETPIPE_SZ, 1 << 20);
	fcntl(out[0], F_SETPIPE_SZ, 1 << 20);
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	while (cmd_done < cmd_len) {
		ssize_t n = write(in[1], cmd + cmd_done, cmd_len - cmd_done);
		if (n <= 0)
			break;
		cmd_done += (size_t)n;
	}
	if (cmd_done == cmd_len) {
		close(in[1]);
		in[1] = -1;
	}

	double t0 = now();
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		if (gid >= 0 && (setgroups(0, NULL) != 0 || setgid((gid_t)gid) != 0))
			die("setgid");
		if (uid >= 0 && setuid((uid_t)uid) != 0)
			die("setuid");
		execve(argv[optind], argv + optind, envv);
		die(argv[optind]);
	}
	close(in[0]);
	close(out[1]);

	static char buf[1 << 17];
	char tail[256];
	size_t tail_len = 0;
	unsigned long long out_bytes = 0, ok = 0, err = 0;
	int in_head = 1; /* collecting the first bytes of a line */
	char head[4];
	size_t head_len = 0;
	for (;;) {
		struct pollfd p[2] = { { out[0], POLLIN, 0 }, { in[1], POLLOUT, 0 } };
		if (poll(p, in[1] >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (in[1] >= 0 && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t n = write(in[1], cmd + cmd_done, cmd_len - cmd_done);
			if (n > 0)
				cmd_done += (size_t)n;
			if (n < 0 && errno != EAGAIN)
				cmd_done = cmd_len; /* the server is gone */
			if (cmd_done == cmd_len) {
				close(in[1]);
				in[1] = -1;
			}
		}
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		ssize_t n = read(out[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		out_bytes += (unsigned long long)n;
		/* Line by line with memchr: as fast as a client that only reads. */
		const char *q = buf, *end = buf + n;
		while (q < end) {
			if (in_head) {
				while (q < end && head_len < 4 && *q != '\n')
					head[head_len++] = *q++;
				if (q == end && head_len < 4)
					break;
				if (head_len >= 3 && memcmp(head, "+OK", 3) == 0)
					ok++;
				else if (head_len == 4 && memcmp(head, "-ERR", 4) == 0)
					err++;
				in_head = 0;
			}
			const char *nl = memchr(q, '\n', (size_t)(end - q));
			if (!nl)
				break;
			q = nl + 1;
			in_head = 1;
			head_len = 0;
		}
		size_t keep = (size_t)n < sizeof(tail) ? (size_t)n : sizeof(tail);
		if (tail_len + keep > sizeof(tail)) {
			size_t drop = tail_len + keep - sizeof(tail);
			memmove(tail, tail + drop, tail_len - drop);
			tail_len -= drop;
		}
		memcpy(tail + tail_len, end - keep, keep);
		tail_len += keep;
	}
	struct rusage ru;
	int status;
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR)
			die("wait4");
	double t1 = now();
	/* The last line of the output, spaces as '_' to keep one token. */
	char last[256];
	size_t e = tail_len, b0, k = 0;
	while (e > 0 && (tail[e - 1] == '\n' || tail[e - 1] == '\r'))
		e--;
	for (b0 = e; b0 > 0 && tail[b0 - 1] != '\n'; b0--)
		;
	for (size_t i = b0; i < e; i++)
		last[k++] = tail[i] == ' ' ? '_' : tail[i];
	last[k] = '\0';
	printf("seconds=%.6f maxrss_kb=%ld out_bytes=%llu ok_lines=%llu err_lines=%llu status=%d last=%s\n",
	       t1 - t0, ru.ru_maxrss, out_bytes, ok, err,
	       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), last);
	return 0;
usage:
	fprintf(stderr, "usage: runpop [-u UID -g GID] [-e NAME=VALUE]... -i COMMANDS -- PROGRAM [ARG...]\n");
	return 2;
}
