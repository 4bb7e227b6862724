/*
 * The PROXY protocol v1 header and the trusted-proxy list.  See
 * proxyproto.h.
 */
#include "proxyproto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/un.h>

#include "number.h"

/* The fields of a header: "PROXY", the protocol, src, dst, sport, dport. */
enum { MAX_FIELDS = 6 };

struct field {
	const char *text;
	size_t len;
};

/* Splits text at single spaces; an empty field (two spaces, a leading or
 * trailing one) or more than MAX_FIELDS fields is an error (-1). */
static int split_fields(const char *text, size_t len, struct field *f)
{
	int n = 0;
	size_t start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && text[i] != ' ')
			continue;
		if (i == start || n == MAX_FIELDS)
			return -1;
		f[n].text = text + start;
		f[n].len = i - start;
		n++;
		start = i + 1;
	}
	return n;
}

static bool field_is(const struct field *f, const char *word)
{
	return f->len == strlen(word) && memcmp(f->text, word, f->len) == 0;
}

/* Decimal 0..65535, "0" or a first digit other than 0 (the spec allows
 * no leading zeros: "080" is no port). */
static bool parse_port(const struct field *f, uint16_t *port)
{
	uint64_t v;

	if (f->len > 1 && f->text[0] == '0')
		return false;
	if (!parse_decimal(f->text, f->len, 65535, &v))
		return false;
	*port = (uint16_t)v;
	return true;
}

/* IPv6 groups without leading zeros ("db8", not "0db8"), as inet_ntop
 * writes them; inet_pton checks the rest. */
static bool ipv6_groups_minimal(const char *text, size_t len)
{
	size_t start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && text[i] != ':')
			continue;
		bool dotted = memchr(text + start, '.', i - start) != NULL;
		if (!dotted && i - start > 1 && text[start] == '0')
			return false;
		start = i + 1;
	}
	return true;
}

/* An address of the named family, exactly as inet_pton takes it (which,
 * for IPv4, refuses leading zeros and anything but four parts). */
static bool parse_address(const struct field *f, int family,
			  unsigned char *out)
{
	char text[INET6_ADDRSTRLEN];

	if (f->len >= sizeof(text))
		return false;
	memcpy(text, f->text, f->len);
	text[f->len] = '\0';
	if (family == AF_INET6 && !ipv6_groups_minimal(text, f->len))
		return false;
	return inet_pton(family, text, out) == 1;
}

static const char *parse_tcp(const struct field *f, int n, int family,
			     struct proxy_header *out)
{
	if (n != MAX_FIELDS)
		return "wrong number of fields";
	if (!parse_address(&f[2], family, out->src) ||
	    !parse_address(&f[3], family, out->dst))
		return "address not of the named family";
	if (!parse_port(&f[4], &out->src_port) ||
	    !parse_port(&f[5], &out->dst_port))
		return "invalid port";
	out->family = family;
	return NULL;
}

const char *proxy_parse_v1(const char *line, size_t len,
			   struct proxy_header *out)
{
	struct field f[MAX_FIELDS];
	static const char signature[] = "PROXY ";

	memset(out, 0, sizeof(*out));
	out->family = AF_UNSPEC;
	if (len > PROXY_V1_MAX_OCTETS)
		return "longer than 107 octets";
	if (len < sizeof(signature) - 1 ||
	    memcmp(line, signature, sizeof(signature) - 1) != 0)
		return "not a PROXY header";
	if (line[len - 1] != '\n' || line[len - 2] != '\r')
		return "not ended by CRLF";
	size_t body = len - 2;
	for (size_t i = 0; i < body; i++)
		if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] >= 0x7f)
			return "control or 8-bit byte in the header";
	/* proxy-protocol.txt 2.1: after UNKNOWN the receiver ignores
	 * everything up to the CRLF. */
	static const char unknown[] = "PROXY UNKNOWN";
	size_t ulen = sizeof(unknown) - 1;
	if (body >= ulen && memcmp(line, unknown, ulen) == 0 &&
	    (body == ulen || line[ulen] == ' '))
		return NULL;
	int n = split_fields(line, body, f);
	if (n < 2)
		return n < 0 ? "empty or extra field" : "no protocol";
	if (field_is(&f[1], "TCP4"))
		return parse_tcp(f, n, AF_INET, out);
	if (field_is(&f[1], "TCP6"))
		return parse_tcp(f, n, AF_INET6, out);
	return "unknown protocol";
}

const char *proxy_source_text(const struct proxy_header *h, char *out,
			      size_t cap)
{
	if ((h->family == AF_INET || h->family == AF_INET6) &&
	    inet_ntop(h->family, h->src, out, (socklen_t)cap))
		return out;
	return "unknown";
}

/* ---- the trusted list ---- */

static bool parse_prefix(const char *text, size_t len, unsigned max,
			 unsigned *prefix)
{
	uint64_t v;

	if (len > 1 && text[0] == '0')
		return false;
	if (!parse_decimal(text, len, max, &v))
		return false;
	*prefix = (unsigned)v;
	return true;
}

/* No bits set past the prefix: "10.0.0.1/8" is a typo, not a network. */
static bool host_bits_clear(const struct proxy_net *net, size_t bytes)
{
	for (size_t i = 0; i < bytes; i++) {
		unsigned keep = net->prefix > 8 * i ? net->prefix - 8 * i : 0;
		unsigned mask = keep >= 8 ? 0xffu : (0xff00u >> keep) & 0xffu;
		if (net->addr[i] & ~mask & 0xffu)
			return false;
	}
	return true;
}

/* "local": a peer on a Unix-domain socket.  Who may connect to the socket
 * is decided by its file's owner and mode, as a front end on the same host
 * (stunnel with "protocol = proxy") needs; such a peer has no address to
 * list. */
static const char local_entry[] = "local";

static bool parse_entry(const char *text, size_t len, struct proxy_net *net)
{
	char addr[INET6_ADDRSTRLEN];

	memset(net, 0, sizeof(*net));
	if (len == sizeof(local_entry) - 1 && memcmp(text, local_entry, len) == 0) {
		net->family = AF_UNIX;
		return true;
	}
	const char *slash = memchr(text, '/', len);
	size_t alen = slash ? (size_t)(slash - text) : len;

	if (alen == 0 || alen >= sizeof(addr))
		return false;
	memcpy(addr, text, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, net->addr) == 1)
		net->family = AF_INET;
	else if (inet_pton(AF_INET6, addr, net->addr) == 1)
		net->family = AF_INET6;
	else
		return false;
	size_t bytes = net->family == AF_INET ? 4 : 16;
	net->prefix = (unsigned)(8 * bytes);
	if (slash && !parse_prefix(slash + 1, len - alen - 1, net->prefix,
				   &net->prefix))
		return false;
	return host_bits_clear(net, bytes);
}

bool trusted_proxies_parse(const char *text, struct trusted_proxies *list)
{
	size_t len = strlen(text), start = 0;

	list->count = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && text[i] != ',')
			continue;
		if (list->count == MAX_TRUSTED_PROXIES ||
		    !parse_entry(text + start, i - start,
				 &list->nets[list->count]))
			return false;
		list->count++;
		start = i + 1;
	}
	return list->count > 0;
}

static bool net_contains(const struct proxy_net *net, int family,
			 const unsigned char *addr)
{
	unsigned bits = net->prefix;

	if (net->family != family)
		return false;
	if (memcmp(net->addr, addr, bits / 8) != 0)
		return false;
	if (bits % 8 == 0)
		return true;
	unsigned mask = (0xff00u >> (bits % 8)) & 0xffu;
	return ((net->addr[bits / 8] ^ addr[bits / 8]) & mask) == 0;
}

static bool list_contains(const struct trusted_proxies *list, int family,
			  const unsigned char *addr)
{
	for (size_t i = 0; i < list->count; i++)
		if (net_contains(&list->nets[i], family, addr))
			return true;
	return false;
}

static bool list_has_local(const struct trusted_proxies *list)
{
	for (size_t i = 0; i < list->count; i++)
		if (list->nets[i].family == AF_UNIX)
			return true;
	return false;
}

bool trusted_proxies_match(const struct trusted_proxies *list,
			   const struct sockaddr *sa, socklen_t len)
{
	if (sa->sa_family == AF_UNIX && len >= (socklen_t)sizeof(sa_family_t))
		return list_has_local(list);
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in))
		return list_contains(list, AF_INET,
				     (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr);
	if (sa->sa_family != AF_INET6 || len < (socklen_t)sizeof(struct sockaddr_in6))
		return false;
	const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	/* A dual-stack listener shows an IPv4 proxy as ::ffff:a.b.c.d: either
	 * spelling in the list names it. */
	return list_contains(list, AF_INET6, a6->s6_addr) ||
	       (IN6_IS_ADDR_V4MAPPED(a6) &&
		list_contains(list, AF_INET, &a6->s6_addr[12]));
}

bool unix_socket_has_file(const struct sockaddr *own, socklen_t len)
{
	const size_t path_at = offsetof(struct sockaddr_un, sun_path);

	return own->sa_family == AF_UNIX && (size_t)len > path_at &&
	       ((const struct sockaddr_un *)own)->sun_path[0] != '\0';
}
