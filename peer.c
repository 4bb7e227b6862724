/*
 * The client's address.  See peer.h.
 */
#include "peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>


/* A dual-stack socket (systemd's ListenStream=110) shows IPv4 clients as
 * ::ffff:a.b.c.d; the plain form is what a firewall ban has to name. */
static const char *ipv6_text(const struct sockaddr_in6 *sin6, char *out,
			     socklen_t cap)
{
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		return inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], out, cap);
	return inet_ntop(AF_INET6, &sin6->sin6_addr, out, cap);
}

/* The address of fd 0's peer when it is an IP socket, else NULL. */
static const char *socket_peer(char *out, socklen_t cap)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(ss);

	if (getpeername(STDIN_FILENO, (struct sockaddr *)&ss, &len) != 0)
		return NULL;
	if (ss.ss_family == AF_INET)
		return inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
				 out, cap);
	if (ss.ss_family == AF_INET6)
		return ipv6_text((struct sockaddr_in6 *)&ss, out, cap);
	return NULL;
}

const char *peer_address(char *out, size_t cap)
{
	char addr[INET6_ADDRSTRLEN];
	const char *from = socket_peer(addr, sizeof(addr));

	/* systemd, tcpserver, xinetd and stunnel name the peer in the
	 * environment; it is only logged, and made safe for that. */
	const char *vars[] = { "REMOTE_ADDR", "TCPREMOTEIP", "REMOTE_HOST" };
	for (size_t i = 0; !from && i < sizeof(vars) / sizeof(*vars); i++)
		from = getenv(vars[i]);
	if (!from)
		from = "local";
	return log_safe(from, strnlen(from, MAX_LOGGED_TEXT), out, cap);
}
