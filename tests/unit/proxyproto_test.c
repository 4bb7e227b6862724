/*
 * Unit tests of the PROXY v1 header parser and the --trusted-proxies
 * list (proxyproto.c), against haproxy's proxy-protocol.txt section 2.1.
 * Every failed case is printed (tests/unit/check.h); the exit status says
 * whether any failed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "check.h"
#include "proxyproto.h"

/* check(condition, case, detail): a CHECK naming the case, and what went
 * wrong when it failed. */
#define check(cond, what, detail)                                              \
	((void)(CHECK_CASE(cond, what) || (printf("\t%s\n", (detail)), false)))

static const char *parse(const char *line, struct proxy_header *h)
{
	return proxy_parse_v1(line, strlen(line), h);
}

static void accepts_tcp4(void)
{
	struct proxy_header h;
	const char *why = parse("PROXY TCP4 192.0.2.7 198.51.100.1 56324 110\r\n", &h);
	unsigned char src[4] = { 192, 0, 2, 7 }, dst[4] = { 198, 51, 100, 1 };

	check(why == NULL, "TCP4 accepted", why ? why : "");
	check(h.family == AF_INET && memcmp(h.src, src, 4) == 0 &&
		      memcmp(h.dst, dst, 4) == 0 && h.src_port == 56324 &&
		      h.dst_port == 110,
	      "TCP4 fields", "wrong values");
	check(parse("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n", &h) == NULL &&
		      h.src_port == 0 && h.dst_port == 65535,
	      "TCP4 extremes", "ports 0 and 65535 refused");
}

static void accepts_tcp6(void)
{
	struct proxy_header h;
	char text[INET6_ADDRSTRLEN];
	const char *why =
	    parse("PROXY TCP6 2001:db8::7 2001:db8::1 4000 995\r\n", &h);

	check(why == NULL, "TCP6 accepted", why ? why : "");
	check(h.family == AF_INET6 && h.src_port == 4000 && h.dst_port == 995 &&
		      strcmp(proxy_source_text(&h, text, sizeof(text)),
			     "2001:db8::7") == 0,
	      "TCP6 fields", text);
	/* The longest header there is: 107 octets exactly. */
	why = parse("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
		    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
		    &h);
	check(why == NULL, "TCP6 of 107 octets", why ? why : "");
}

static void accepts_unknown(void)
{
	struct proxy_header h;

	check(parse("PROXY UNKNOWN\r\n", &h) == NULL && h.family == AF_UNSPEC,
	      "UNKNOWN", "refused");
	/* Section 2.1: after UNKNOWN the rest of the line is ignored. */
	check(parse("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", &h) == NULL &&
		      h.family == AF_UNSPEC,
	      "UNKNOWN with fields", "refused");
	check(strcmp(proxy_source_text(&h, (char[64]){ 0 }, 64), "unknown") == 0,
	      "UNKNOWN text", "not 'unknown'");
}

static void refuses(const char *line, size_t len, const char *what)
{
	struct proxy_header h;

	check(proxy_parse_v1(line, len, &h) != NULL, what, "accepted");
}

#define REFUSES(literal, what) refuses(literal, sizeof(literal) - 1, what)

static void refuses_malformed(void)
{
	REFUSES("PROXY TCP4 192.0.2.7 198.51.100.1 56324 110\n", "LF only");
	REFUSES("PROXY TCP4 192.0.2.7 198.51.100.1 56324 110\r", "CR only");
	REFUSES("PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n", "missing field");
	REFUSES("PROXY TCP4 192.0.2.7 198.51.100.1 56324 110 7\r\n", "extra field");
	REFUSES("PROXY TCP4 192.0.2.7  198.51.100.1 56324 110\r\n", "double space");
	REFUSES("PROXY TCP4 192.0.2.7 198.51.100.1 56324 110 \r\n", "trailing space");
	REFUSES(" PROXY TCP4 192.0.2.7 198.51.100.1 56324 110\r\n", "leading space");
	REFUSES("PROXY\tTCP4 192.0.2.7 198.51.100.1 56324 110\r\n", "tab");
	REFUSES("proxy TCP4 192.0.2.7 198.51.100.1 56324 110\r\n", "lower case");
	REFUSES("PROXY tcp4 192.0.2.7 198.51.100.1 56324 110\r\n", "lower protocol");
	REFUSES("PROXY TCP4 192.0.2.7 198.51.100.1 65536 110\r\n", "port 65536");
	REFUSES("PROXY TCP4 192.0.2.7 198.51.100.1 99999999999999999999 110\r\n",
		"huge port");
	REFUSES("PROXY TCP4 192.0.2.7 198.51.100.1 056324 110\r\n", "leading zero port");
	REFUSES("PROXY TCP4 192.0.2.7 198.51.100.1 00 110\r\n", "port 00");
	REFUSES("PROXY TCP4 192.0.2.7 198.51.100.1 -1 110\r\n", "negative port");
	REFUSES("PROXY TCP4 192.0.2.7 198.51.100.1 +1 110\r\n", "plus port");
	REFUSES("PROXY TCP4 192.0.2.07 198.51.100.1 56324 110\r\n",
		"leading zero address");
	REFUSES("PROXY TCP4 192.0.2 198.51.100.1 56324 110\r\n", "three-part address");
	REFUSES("PROXY TCP4 192.0.2.256 198.51.100.1 56324 110\r\n", "octet 256");
	REFUSES("PROXY TCP4 2001:db8::7 2001:db8::1 56324 110\r\n",
		"IPv6 under TCP4");
	REFUSES("PROXY TCP6 192.0.2.7 198.51.100.1 56324 110\r\n", "IPv4 under TCP6");
	REFUSES("PROXY TCP6 2001:0db8::7 2001:db8::1 56324 110\r\n",
		"leading zero IPv6 group");
	REFUSES("PROXY TCP6 2001:db8::7%eth0 2001:db8::1 56324 110\r\n", "scope id");
	REFUSES("PROXY UDP4 192.0.2.7 198.51.100.1 56324 110\r\n", "UDP4");
	REFUSES("PROXY UNKNOWNX\r\n", "UNKNOWNX");
	REFUSES("PROXY \r\n", "no protocol");
	REFUSES("PROXY\r\n", "PROXY alone");
	REFUSES("USER alice\r\n", "a command");
	REFUSES("", "nothing");
	REFUSES("PROXY TCP4 192.0.2.7\0 198.51.100.1 56324 110\r\n", "NUL");
	REFUSES("PROXY TCP4 192.0.2.7\r198.51.100.1 56324 110\r\n", "CR inside");
	/* 108 octets: one more than the spec allows, even when well formed. */
	char long_line[108];
	memcpy(long_line, "PROXY UNKNOWN ", 14);
	memset(long_line + 14, 'x', sizeof(long_line) - 16);
	memcpy(long_line + sizeof(long_line) - 2, "\r\n", 2);
	size_t n = sizeof(long_line);
	refuses(long_line, n, "108 octets");
	refuses(long_line + 1, n - 1, "107 octets, not PROXY");
}

static int match4(const struct trusted_proxies *l, const char *addr)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };

	inet_pton(AF_INET, addr, &sin.sin_addr);
	return trusted_proxies_match(l, (struct sockaddr *)&sin, sizeof(sin));
}

static int match6(const struct trusted_proxies *l, const char *addr)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };

	inet_pton(AF_INET6, addr, &sin6.sin6_addr);
	return trusted_proxies_match(l, (struct sockaddr *)&sin6, sizeof(sin6));
}

static void trusted_list(void)
{
	struct trusted_proxies l;

	check(trusted_proxies_parse("10.231.0.1,192.0.2.0/25,2001:db8::/33,::1", &l) &&
		      l.count == 4,
	      "list parsed", "refused");
	check(match4(&l, "10.231.0.1") && !match4(&l, "10.231.0.2"), "host entry",
	      "10.231.0.1 only");
	check(match4(&l, "192.0.2.0") && match4(&l, "192.0.2.127") &&
		      !match4(&l, "192.0.2.128"),
	      "/25", "boundary");
	check(match6(&l, "2001:db8:7fff::1") && !match6(&l, "2001:db8:8000::1"),
	      "/33", "boundary");
	check(match6(&l, "::1") && !match6(&l, "::2"), "::1", "host");
	/* A dual-stack listener's view of an IPv4 proxy. */
	check(match6(&l, "::ffff:10.231.0.1") && !match6(&l, "::ffff:10.231.0.2"),
	      "v4-mapped", "not matched as IPv4");
	check(trusted_proxies_parse("::ffff:10.231.0.1", &l) &&
		      match6(&l, "::ffff:10.231.0.1"),
	      "v4-mapped entry", "does not match itself");
	check(trusted_proxies_parse("0.0.0.0/0", &l) && match4(&l, "203.0.113.9") &&
		      !match6(&l, "2001:db8::1"),
	      "0.0.0.0/0", "IPv4 only");
	/* "local": a peer on a Unix-domain socket, and nothing else. */
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t unnamed = sizeof(sa_family_t);
	check(trusted_proxies_parse("local", &l) &&
		      trusted_proxies_match(&l, (struct sockaddr *)&sun, unnamed) &&
		      !match4(&l, "127.0.0.1") && !match6(&l, "::1"),
	      "local", "matches an IP peer, or not a Unix one");
	check(trusted_proxies_parse("127.0.0.1", &l) &&
		      !trusted_proxies_match(&l, (struct sockaddr *)&sun, unnamed),
	      "Unix peer", "trusted without local");
	check(trusted_proxies_parse("10.0.0.1,local", &l) && l.count == 2 &&
		      trusted_proxies_match(&l, (struct sockaddr *)&sun, unnamed) &&
		      match4(&l, "10.0.0.1"),
	      "local among addresses", "refused");
	const char *bad[] = { "local/8", "LOCAL", "locall", "loca",
			      "",	      ",",	    "10.0.0.1,",
			      ",10.0.0.1",    "10.0.0.1,,10.0.0.2",
			      "10.0.0.1/33",  "10.0.0.0/08", "10.0.0.1/8",
			      "10.0.0.0/",    "/8",	    "10.0.0.0/-1",
			      "host.example", "10.0.0.1 ",   "2001:db8::1/129",
			      "2001:db8::/31x", "10.0.0.01" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		check(!trusted_proxies_parse(bad[i], &l), "bad list refused", bad[i]);
	char many[MAX_TRUSTED_PROXIES * 16 + 16] = "";
	for (int i = 0; i <= MAX_TRUSTED_PROXIES; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many),
			 "%s10.0.%d.1", i ? "," : "", i);
	check(!trusted_proxies_parse(many, &l), "too many entries", "accepted");
}

static void unix_socket_file(void)
{
	struct sockaddr_un named = { .sun_family = AF_UNIX };
	struct sockaddr_un abstract = { .sun_family = AF_UNIX };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t path_at = offsetof(struct sockaddr_un, sun_path);

	strcpy(named.sun_path, "/run/pop3-stdio/pop3s-backend.sock");
	check(unix_socket_has_file((struct sockaddr *)&named,
				   path_at + strlen(named.sun_path) + 1),
	      "socket file", "not recognised");
	/* A socketpair's end: only the family. */
	check(!unix_socket_has_file((struct sockaddr *)&named, sizeof(sa_family_t)),
	      "unnamed end", "taken for a file");
	memcpy(abstract.sun_path, "\0pop3", 5);
	check(!unix_socket_has_file((struct sockaddr *)&abstract, path_at + 5),
	      "abstract socket", "taken for a file");
	check(!unix_socket_has_file((struct sockaddr *)&sin, sizeof(sin)),
	      "IPv4 socket", "taken for a file");
}

int main(void)
{
	accepts_tcp4();
	accepts_tcp6();
	accepts_unknown();
	refuses_malformed();
	trusted_list();
	unix_socket_file();
	return check_summary();
}
