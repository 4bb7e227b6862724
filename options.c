/*
 * The command line: long and short options, the usage text, and one line
 * on stderr for every mistake.
 */
#include "options.h"

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "number.h"
#include "params.h"

enum {
	OPT_FAIL_DELAY = 256,
	OPT_STATE_DIR,
	OPT_PRELOGIN_USER,
	OPT_CHROOT,
	OPT_CHECKPASSWORD,
	OPT_TRUSTED_PROXIES,
};

static const struct option long_options[] = {
	{ "spool", required_argument, NULL, 's' },
	{ "passwd", required_argument, NULL, 'p' },
	{ "blocklist", required_argument, NULL, 'b' },
	{ "timeout", required_argument, NULL, 't' },
	{ "fail-delay", required_argument, NULL, OPT_FAIL_DELAY },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "cache-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "prelogin-user", required_argument, NULL, OPT_PRELOGIN_USER },
	{ "chroot", required_argument, NULL, OPT_CHROOT },
	{ "checkpassword", required_argument, NULL, OPT_CHECKPASSWORD },
	{ "trusted-proxies", required_argument, NULL, OPT_TRUSTED_PROXIES },
	{ "debug", no_argument, NULL, 'd' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const char usage[] =
    "usage: pop3-stdio [OPTIONS]   (the client is on stdin/stdout)\n"
    "  -s, --spool=DIR        maildrop of user U is the mbox DIR/U "
    "(default " DEFAULT_SPOOL_DIR ")\n"
    "  -p, --passwd=FILE      virtual users, name:crypt-hash[:uid:gid] "
    "(default: system accounts)\n"
    "      --checkpassword=PROG  external checker (qmail's interface) "
    "decides passwords\n"
    "  -b, --blocklist=FILE   blocked users (default " DEFAULT_BLOCKLIST ")\n"
    "  -t, --timeout=SECS     idle timeout (default " STR(DEFAULT_IDLE_TIMEOUT) ")\n"
    "      --fail-delay=SECS  pause before a failed login's answer "
    "(default " STR(DEFAULT_FAIL_DELAY) ")\n"
    "      --state-dir=DIR    per-user update journal under DIR/<user> "
    "(alias --cache-dir)\n"
    "      --prelogin-user=U  account for the pre-login dialogue when root "
    "(default " DEFAULT_PRELOGIN_USER ")\n"
    "      --chroot=DIR       empty directory for the pre-login dialogue "
    "(default " DEFAULT_CHROOT_DIR ")\n"
    "      --trusted-proxies=LIST  these peers (addresses, CIDR prefixes, "
    "comma-separated;\n"
    "                         local: a peer on a Unix-domain socket file)\n"
    "                         must open with a PROXY v1 header naming the "
    "client\n"
    "  -d, --debug            protocol trace on stderr, passwords masked\n"
    "  -V, --version          print the version and exit\n"
    "  -h, --help             print this help and exit\n";

/* One line on stderr naming the problem, and exit status 2. */
static int usage_error(const char *problem, const char *subject)
{
	/* Nothing better to do when stderr itself fails: the status says it. */
	(void)fprintf(stderr, "pop3-stdio: %s '%s' (try --help)\n", problem,
		      subject);
	return 2;
}

static bool seconds_value(const char *text, unsigned max, unsigned *out)
{
	uint64_t v;
	if (!parse_decimal(text, strlen(text), max, &v))
		return false;
	*out = (unsigned)v;
	return true;
}

static int print_and_exit(const char *text)
{
	if (fputs(text, stdout) == EOF || fflush(stdout) == EOF)
		return 1;
	return 0;
}

static int apply_option(int opt, const char *arg, struct config *c)
{
	switch (opt) {
	case 's': c->spool_dir = arg; break;
	case 'p': c->passwd_file = arg; break;
	case 'b':
		c->blocklist = arg;
		c->blocklist_named = true;
		break;
	case 't':
		if (!seconds_value(arg, MAX_TIMEOUT_SECONDS, &c->timeout) ||
		    c->timeout == 0)
			return usage_error("invalid value for --timeout:", arg);
		break;
	case OPT_FAIL_DELAY:
		if (!seconds_value(arg, MAX_FAIL_DELAY_SECONDS, &c->fail_delay))
			return usage_error("invalid value for --fail-delay:", arg);
		break;
	case OPT_STATE_DIR: c->state_dir = arg; break;
	case OPT_PRELOGIN_USER: c->prelogin_user = arg; break;
	case OPT_CHROOT: c->chroot_dir = arg; break;
	case OPT_CHECKPASSWORD: c->checkpassword = arg; break;
	case OPT_TRUSTED_PROXIES:
		if (!trusted_proxies_parse(arg, &c->trusted_proxies))
			return usage_error("invalid value for --trusted-proxies:",
					   arg);
		break;
	case 'd': c->debug = true; break;
	case 'V': return print_and_exit("pop3-stdio " POP3_VERSION "\n");
	case 'h': return print_and_exit(usage);
	}
	return -1;
}

int parse_options(int argc, char **argv, struct config *c)
{
	*c = (struct config){ .spool_dir = DEFAULT_SPOOL_DIR,
			      .blocklist = DEFAULT_BLOCKLIST,
			      .prelogin_user = DEFAULT_PRELOGIN_USER,
			      .chroot_dir = DEFAULT_CHROOT_DIR,
			      .timeout = DEFAULT_IDLE_TIMEOUT,
			      .fail_delay = DEFAULT_FAIL_DELAY };
	opterr = 0;
	for (;;) {
		int before = optind;
		int opt = getopt_long(argc, argv, ":s:p:b:t:dVh", long_options, NULL);
		if (opt == -1)
			break;
		const char *name = argv[before < argc ? before : argc - 1];
		if (opt == '?')
			return usage_error("unknown option", optopt ? argv[optind - 1] : name);
		if (opt == ':')
			return usage_error("missing value for option", argv[optind - 1]);
		int status = apply_option(opt, optarg, c);
		if (status >= 0)
			return status;
	}
	if (optind < argc)
		return usage_error("unexpected argument", argv[optind]);
	if (c->spool_dir[0] == '\0')
		return usage_error("invalid value for --spool:", c->spool_dir);
	/* Executed without a PATH search, from whatever directory. */
	if (c->checkpassword && c->checkpassword[0] != '/')
		return usage_error("--checkpassword needs an absolute path:",
				   c->checkpassword);
	if (c->checkpassword && c->passwd_file)
		return usage_error("--checkpassword cannot be used with",
				   "--passwd");
	return -1;
}
