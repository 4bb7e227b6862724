/*
 * Fuzz target: the PROXY v1 header parser and the --trusted-proxies list
 * parser (proxyproto.c).
 *
 * The first byte picks which: even, the rest is a header as a trusted
 * proxy's connection would open with it; odd, the rest is an option
 * value.  Checked besides crashes and overflows: an accepted header is at
 * most 107 octets ending in CRLF, starts "PROXY ", names a family it was
 * spelled with, and written out again from what was parsed (inet_ntop,
 * decimal ports) it parses to the same values; an accepted list has 1 to
 * MAX_TRUSTED_PROXIES entries, each matching its own address (a
 * Unix-domain peer for "local") and the list matching each of them.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/un.h>

#include "fuzz.h"
#include "proxyproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_header(const char *line, size_t len,
			 const struct proxy_header *h)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], again_line[160];
	struct proxy_header again;

	FUZZ_CHECK(len <= PROXY_V1_MAX_OCTETS && len >= 8);
	FUZZ_CHECK(memcmp(line, "PROXY ", 6) == 0);
	FUZZ_CHECK(line[len - 2] == '\r' && line[len - 1] == '\n');
	if (h->family == AF_UNSPEC) {
		FUZZ_CHECK(memcmp(line, "PROXY UNKNOWN", 13) == 0);
		return;
	}
	FUZZ_CHECK(h->family == AF_INET || h->family == AF_INET6);
	FUZZ_CHECK(memcmp(line + 6, h->family == AF_INET ? "TCP4 " : "TCP6 ", 5) == 0);
	FUZZ_CHECK(inet_ntop(h->family, h->src, src, sizeof(src)) &&
		   inet_ntop(h->family, h->dst, dst, sizeof(dst)));
	int n = snprintf(again_line, sizeof(again_line), "PROXY %s %s %s %u %u\r\n",
			 h->family == AF_INET ? "TCP4" : "TCP6", src, dst,
			 (unsigned)h->src_port, (unsigned)h->dst_port);
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(again_line));
	FUZZ_CHECK(proxy_parse_v1(again_line, (size_t)n, &again) == NULL);
	FUZZ_CHECK(again.family == h->family && again.src_port == h->src_port &&
		   again.dst_port == h->dst_port &&
		   memcmp(again.src, h->src, 16) == 0 &&
		   memcmp(again.dst, h->dst, 16) == 0);
}

static bool matches_itself(const struct trusted_proxies *l,
			   const struct proxy_net *net)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	/* "local": a Unix-domain peer, which has no address (only a family). */
	if (net->family == AF_UNIX)
		return trusted_proxies_match(l, (struct sockaddr *)&sun, sizeof(sa_family_t));
	if (net->family == AF_INET) {
		memcpy(&sin.sin_addr, net->addr, 4);
		return trusted_proxies_match(l, (struct sockaddr *)&sin, sizeof(sin));
	}
	memcpy(&sin6.sin6_addr, net->addr, 16);
	return trusted_proxies_match(l, (struct sockaddr *)&sin6, sizeof(sin6));
}

static void check_list(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct trusted_proxies l, one = { .count = 1 };

	FUZZ_CHECK(text);
	memcpy(text, data, size);
	text[size] = '\0';
	if (trusted_proxies_parse(text, &l)) {
		FUZZ_CHECK(l.count >= 1 && l.count <= MAX_TRUSTED_PROXIES);
		for (size_t i = 0; i < l.count; i++) {
			const struct proxy_net *net = &l.nets[i];
			FUZZ_CHECK(net->family == AF_INET || net->family == AF_INET6 ||
				   (net->family == AF_UNIX && net->prefix == 0));
			FUZZ_CHECK(net->prefix <= (net->family == AF_INET ? 32u : 128u));
			one.nets[0] = *net;
			FUZZ_CHECK(matches_itself(&one, net));
			FUZZ_CHECK(matches_itself(&l, net));
		}
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_header h;

	if (size == 0)
		return 0;
	if (data[0] & 1) {
		check_list(data + 1, size - 1);
		return 0;
	}
	const char *line = (const char *)data + 1;
	if (proxy_parse_v1(line, size - 1, &h) == NULL)
		check_header(line, size - 1, &h);
	return 0;
}
