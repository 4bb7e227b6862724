/*
 * pop3load: many POP3 or POP3S clients at once, each looping
 * greeting, USER, PASS, UIDL, LIST, QUIT (what a mail client that polls
 * and leaves mail on the server sends), every command awaited.
 *
 *   pop3load [-s] [-r] [-u N] -c CLIENTS -t SECONDS HOST PORT USER PASS
 *     -s  POP3S: TLS from the first byte (port 995 style)
 *     -r  resume: each client keeps the TLS session of its last connection
 *         and offers it on the next (TLS 1.3 tickets or a TLS 1.2 id), as
 *         a mail client polling every few minutes may
 *     -u  with "%d" in USER: client I takes turns among users N*I .. N*I+N-1
 *         (a POP3 server may hold a maildrop's lock for a moment after
 *         QUIT's answer; a real client polls again minutes later)
 *
 * Prints one line of key=value: sessions completed inside the window,
 * sessions/s, p50 and p99 of the session time (connect to close, ms), the
 * share of TLS sessions resumed, errors, and this process's own CPU per
 * session (so that a reader can see the client is not the bottleneck).
 * Any -ERR, short answer or failed handshake counts as an error; exit 1 if
 * there was any.  A benchmark tool (bench/), not part of the product: it
 * uses OpenSSL directly.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES 200000

struct config {
	int tls, resume, clients, users;
	double seconds;
	struct sockaddr_in addr;
	const char *user, *pass;
	SSL_CTX *ctx;
	double start, stop;
	atomic_int go;
};

struct client {
	struct config *cf;
	char user[4][200];
	pthread_t thread;
	double *times;
	size_t count, cap;
	long errors, resumed, handshakes, done;
	double phase[8]; /* time spent in each step, summed */
	char err[200];
};

struct conn {
	int fd;
	SSL *ssl;
	char buf[65536];
	size_t len, pos;
	char last[200]; /* the answer that was not +OK */
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int conn_write(struct conn *c, const char *s)
{
	size_t n = strlen(s);
	if (c->ssl)
		return SSL_write(c->ssl, s, (int)n) == (int)n ? 0 : -1;
	while (n > 0) {
		ssize_t w = write(c->fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static int conn_fill(struct conn *c)
{
	if (c->pos > 0) {
		memmove(c->buf, c->buf + c->pos, c->len - c->pos);
		c->len -= c->pos;
		c->pos = 0;
	}
	if (c->len == sizeof(c->buf))
		return -1;
	ssize_t r;
	if (c->ssl) {
		r = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) - c->len));
	} else {
		do
			r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		while (r < 0 && errno == EINTR);
	}
	if (r <= 0)
		return -1;
	c->len += (size_t)r;
	return 0;
}

/* One line into line[]; returns its length without CRLF, or -1. */
static int conn_line(struct conn *c, char *line, size_t max)
{
	for (;;) {
		char *nl = memchr(c->buf + c->pos, '\n', c->len - c->pos);
		if (nl) {
			size_t n = (size_t)(nl - (c->buf + c->pos)) + 1;
			size_t keep = n < max - 1 ? n : max - 1;
			memcpy(line, c->buf + c->pos, keep);
			line[keep] = 0;
			c->pos += n;
			while (keep > 0 && (line[keep - 1] == '\n' || line[keep - 1] == '\r'))
				line[--keep] = 0;
			return (int)keep;
		}
		if (conn_fill(c) != 0)
			return -1;
	}
}

/* A status line that must be +OK; multi: then lines up to ".". */
static int answer(struct conn *c, int multi)
{
	char line[1024];
	if (conn_line(c, line, sizeof(line)) < 0) {
		snprintf(c->last, sizeof(c->last), "(connection closed)");
		return -1;
	}
	if (strncmp(line, "+OK", 3) != 0) {
		snprintf(c->last, sizeof(c->last), "%.190s", line);
		return -1;
	}
	while (multi) {
		if (conn_line(c, line, sizeof(line)) < 0)
			return -1;
		if (strcmp(line, ".") == 0)
			break;
	}
	return 0;
}

static int command(struct conn *c, const char *cmd, int multi)
{
	return conn_write(c, cmd) == 0 ? answer(c, multi) : -1;
}

static int dial(const struct config *cf)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct timeval tv = { .tv_sec = 30 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&cf->addr, sizeof(cf->addr)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int session(struct client *cl, SSL_SESSION **saved)
{
	struct config *cf = cl->cf;
	struct conn *c = calloc(1, sizeof(*c));
	char cmd[300];
	int rc = -1;

	if (!c)
		return -1;
	double t = now(), t1;
#define STEP(i) (t1 = now(), cl->phase[i] += t1 - t, t = t1)
	c->fd = dial(cf);
	if (c->fd < 0) {
		snprintf(cl->err, sizeof(cl->err), "connect: %s", strerror(errno));
		free(c);
		return -1;
	}
	if (cf->tls) {
		c->ssl = SSL_new(cf->ctx);
		SSL_set_fd(c->ssl, c->fd);
		if (cf->resume && *saved)
			SSL_set_session(c->ssl, *saved);
		if (SSL_connect(c->ssl) != 1) {
			snprintf(cl->err, sizeof(cl->err), "handshake: %s",
				 ERR_reason_error_string(ERR_get_error()));
			goto out;
		}
		cl->handshakes++;
		STEP(0);
		if (SSL_session_reused(c->ssl))
			cl->resumed++;
	}
	if (answer(c, 0) != 0)
		goto bad;
	STEP(1);
	snprintf(cmd, sizeof(cmd), "USER %s\r\n", cl->user[cl->done % (long)cf->users]);
	if (command(c, cmd, 0) != 0)
		goto bad;
	STEP(2);
	snprintf(cmd, sizeof(cmd), "PASS %s\r\n", cf->pass);
	if (command(c, cmd, 0) != 0)
		goto bad;
	STEP(3);
	if (command(c, "UIDL\r\n", 1) != 0 || command(c, "LIST\r\n", 1) != 0)
		goto bad;
	STEP(4);
	if (command(c, "QUIT\r\n", 0) != 0)
		goto bad;
	STEP(5);
	rc = 0;
	if (c->ssl) {
		/* TLS 1.3 tickets arrive after the handshake: the session to
		 * keep is the one as it stands at the end. */
		if (cf->resume) {
			SSL_SESSION *s = SSL_get1_session(c->ssl);
			if (s && SSL_SESSION_is_resumable(s)) {
				if (*saved)
					SSL_SESSION_free(*saved);
				*saved = s;
			} else if (s) {
				SSL_SESSION_free(s);
			}
		}
		SSL_shutdown(c->ssl);
	}
	goto out;
bad:
	snprintf(cl->err, sizeof(cl->err), "bad answer: %.180s", c->last);
out:
	if (c->ssl)
		SSL_free(c->ssl);
	close(c->fd);
	free(c);
	return rc;
}

static void *run_client(void *arg)
{
	struct client *cl = arg;
	struct config *cf = cl->cf;
	SSL_SESSION *saved = NULL;

	while (!atomic_load(&cf->go))
		usleep(1000);
	for (;;) {
		double t0 = now();
		if (t0 >= cf->stop)
			break;
		int rc = session(cl, &saved);
		double t1 = now();
		if (rc != 0) {
			cl->errors++;
			continue;
		}
		cl->done++;
		if (t1 <= cf->stop && cl->count < cl->cap)
			cl->times[cl->count++] = t1 - t0;
	}
	if (saved)
		SSL_SESSION_free(saved);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void usage(void)
{
	fprintf(stderr, "usage: pop3load [-s] [-r] [-u N] -c CLIENTS -t SECONDS HOST PORT USER PASS\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct config cf;
	int opt;

	cf.clients = 1;
	cf.seconds = 5;
	cf.users = 1;
	while ((opt = getopt(argc, argv, "src:t:u:")) != -1) {
		switch (opt) {
		case 's': cf.tls = 1; break;
		case 'r': cf.resume = 1; break;
		case 'c': cf.clients = atoi(optarg); break;
		case 't': cf.seconds = atof(optarg); break;
		case 'u': cf.users = atoi(optarg); break;
		default: usage();
		}
	}
	if (argc - optind != 4 || cf.clients < 1 || cf.users < 1 || cf.users > 4)
		usage();
	cf.addr.sin_family = AF_INET;
	cf.addr.sin_port = htons((unsigned short)atoi(argv[optind + 1]));
	if (inet_pton(AF_INET, argv[optind], &cf.addr.sin_addr) != 1)
		usage();
	cf.user = argv[optind + 2];
	cf.pass = argv[optind + 3];
	if (cf.tls) {
		cf.ctx = SSL_CTX_new(TLS_client_method());
		/* The client's cost is kept low: no certificate check (both
		 * servers get the same treatment), and its own session cache
		 * off: each client holds its one session itself. */
		SSL_CTX_set_verify(cf.ctx, SSL_VERIFY_NONE, NULL);
		SSL_CTX_set_session_cache_mode(cf.ctx, SSL_SESS_CACHE_OFF);
	}

	struct client *cls = calloc((size_t)cf.clients, sizeof(*cls));
	size_t cap = MAX_SAMPLES / (size_t)cf.clients + 1000;
	for (int i = 0; i < cf.clients; i++) {
		cls[i].cf = &cf;
		cls[i].cap = cap;
		/* "%d" in USER: client i logs in as its own user (a maildrop
		 * is locked for the length of a session). */
		const char *pct = strstr(cf.user, "%d");
		for (int u = 0; u < cf.users; u++) {
			if (pct)
				snprintf(cls[i].user[u], sizeof(cls[i].user[u]), "%.*s%d%s",
					 (int)(pct - cf.user), cf.user, i * cf.users + u,
					 pct + 2);
			else
				snprintf(cls[i].user[u], sizeof(cls[i].user[u]), "%s", cf.user);
		}
		cls[i].times = malloc(cap * sizeof(double));
		if (pthread_create(&cls[i].thread, NULL, run_client, &cls[i]) != 0) {
			perror("pthread_create");
			return 1;
		}
	}
	double cpu0 = cpu_seconds();
	cf.start = now();
	cf.stop = cf.start + cf.seconds;
	atomic_store(&cf.go, 1);
	size_t total = 0;
	long errors = 0, resumed = 0, handshakes = 0, done = 0;
	const char *err = "";
	for (int i = 0; i < cf.clients; i++) {
		pthread_join(cls[i].thread, NULL);
		total += cls[i].count;
		errors += cls[i].errors;
		resumed += cls[i].resumed;
		handshakes += cls[i].handshakes;
		done += cls[i].done;
		if (cls[i].errors && !*err)
			err = cls[i].err;
	}
	double cpu = cpu_seconds() - cpu0;
	double phase[8] = { 0 };
	for (int i = 0; i < cf.clients; i++)
		for (int j = 0; j < 8; j++)
			phase[j] += cls[i].phase[j];
	double *all = malloc((total + 1) * sizeof(double));
	size_t k = 0;
	for (int i = 0; i < cf.clients; i++)
		for (size_t j = 0; j < cls[i].count; j++)
			all[k++] = cls[i].times[j];
	qsort(all, total, sizeof(double), cmp_double);
	double p50 = total ? all[total / 2] : 0;
	double p99 = total ? all[(size_t)((double)(total - 1) * 0.99)] : 0;
	printf("sessions=%zu rate=%.1f p50_ms=%.2f p99_ms=%.2f resumed=%.3f errors=%ld "
	       "client_cpu_ms=%.3f all_sessions=%ld\n",
	       total, (double)total / cf.seconds, p50 * 1e3, p99 * 1e3,
	       handshakes ? (double)resumed / (double)handshakes : 0.0, errors,
	       done ? cpu / (double)done * 1e3 : 0.0, done);
	/* Where a session's time goes (means, ms): handshake, greeting,
	 * USER, PASS, UIDL + LIST, QUIT. */
	if (done)
		fprintf(stderr, "steps_ms tls=%.2f greeting=%.2f user=%.2f pass=%.2f "
			"uidl_list=%.2f quit=%.2f\n", phase[0] / (double)done * 1e3,
			phase[1] / (double)done * 1e3, phase[2] / (double)done * 1e3,
			phase[3] / (double)done * 1e3, phase[4] / (double)done * 1e3,
			phase[5] / (double)done * 1e3);
	if (errors)
		fprintf(stderr, "pop3load: %ld errors, e.g. %s\n", errors, err);
	return errors ? 1 : 0;
}
