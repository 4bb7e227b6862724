/*
 * The PROXY protocol, version 1 (HAProxy's proxy-protocol.txt), received:
 * a proxy that accepted the client's connection opens ours with one line
 *
 *   PROXY TCP4 <src> <dst> <sport> <dport>\r\n
 *   PROXY TCP6 <src> <dst> <sport> <dport>\r\n
 *   PROXY UNKNOWN[ anything]\r\n
 *
 * naming the client.  Only peers named by --trusted-proxies may send it
 * (anyone else could claim any address), and they must.  Both parsers
 * here are pure functions over text: no I/O, no allocation.
 */
#ifndef PROXYPROTO_H
#define PROXYPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "params.h"

/* The client as the header names it.  family is AF_INET or AF_INET6 with
 * addresses in network byte order, or AF_UNSPEC for UNKNOWN (the proxy
 * does not know: the socket's own peer stands for the client). */
struct proxy_header {
	int family;
	unsigned char src[16];
	unsigned char dst[16];
	uint16_t src_port;
	uint16_t dst_port;
};

/* Parses one header: line holds len octets, the terminating CRLF
 * included (at most PROXY_V1_MAX_OCTETS).  Returns NULL with *out filled,
 * or a short reason for the log ("LF without CR", "port out of range"). */
const char *proxy_parse_v1(const char *line, size_t len,
			   struct proxy_header *out);

/* The header's source address as text (inet_ntop), or "unknown". */
const char *proxy_source_text(const struct proxy_header *h, char *out,
			      size_t cap);

/* --trusted-proxies: addresses or CIDR prefixes, IPv4 or IPv6, or "local"
 * for a peer on a Unix-domain socket (family AF_UNIX, no address). */
struct proxy_net {
	int family;
	unsigned prefix; /* leading bits that must match */
	unsigned char addr[16];
};

struct trusted_proxies {
	size_t count;
	struct proxy_net nets[MAX_TRUSTED_PROXIES];
};

/* "10.0.0.1,192.0.2.0/24,2001:db8::/32,local": entries separated by single
 * commas, none empty; an address without /N is a host (/32, /128); no
 * host bits may be set below the prefix (a typo, not a network).  Returns
 * false on any error, list then undefined. */
bool trusted_proxies_parse(const char *text, struct trusted_proxies *list);

/* Whether the socket address (AF_INET or AF_INET6; an IPv4-mapped IPv6
 * address counts as the IPv4 one; AF_UNIX matches "local") is in the
 * list. */
bool trusted_proxies_match(const struct trusted_proxies *list,
			   const struct sockaddr *sa, socklen_t len);

/* Whether the own end of a Unix-domain connection (getsockname) is a
 * socket file: the connection was accepted on a listening socket whose
 * owner and mode decide who may connect, as "local" assumes.  The end of
 * a socketpair (what stunnel's exec gives pop3-stdio, relaying a remote
 * client's bytes) has no name, and an abstract socket no mode: neither
 * may be trusted. */
bool unix_socket_has_file(const struct sockaddr *own, socklen_t len);

#endif
