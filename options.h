/*
 * The command line: what pop3-stdio(8) documents, parsed into a config.
 */
#ifndef OPTIONS_H
#define OPTIONS_H

#include <stdbool.h>

#include "proxyproto.h"

struct config {
	const char *spool_dir;
	const char *passwd_file;
	const char *checkpassword; /* NULL: no external checker */
	const char *blocklist;
	bool blocklist_named;
	const char *state_dir; /* NULL: the default for how we run */
	const char *prelogin_user;
	const char *chroot_dir;
	unsigned timeout;
	unsigned fail_delay;
	bool debug;
	/* Peers that must open with a PROXY header; none by default. */
	struct trusted_proxies trusted_proxies;
};

/* Fills config from the command line.  Returns -1 to go on, or the exit
 * status to end with (0 after --help or --version, 2 after a bad option,
 * with a one-line message on stderr). */
int parse_options(int argc, char **argv, struct config *config);

#endif
