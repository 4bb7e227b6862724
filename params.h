/*
 * Every tunable of pop3-stdio in one place, each with the reason for its value.
 */
#ifndef PARAMS_H
#define PARAMS_H

#include <limits.h>

#define POP3_VERSION "1.0.0"
#define POP3_IMPLEMENTATION "pop3-stdio"

/* A number as text, for the usage text: STR(DEFAULT_IDLE_TIMEOUT) is "600". */
#define STR_OF(x) #x
#define STR(x) STR_OF(x)

/* Defaults of the command-line options (see pop3-stdio(8), whose stated
 * defaults tests/options.bats compares with --help). */
/* Where Postfix, Exim and procmail deliver on Debian-like systems. */
#define DEFAULT_SPOOL_DIR "/var/mail"
/* Beside the package's other configuration; a missing file blocks nobody. */
#define DEFAULT_BLOCKLIST "/etc/pop3-stdio/blocked-users"
/* Root-started sessions keep per-user index and update journal here; the
 * root part creates DIR/<user> owned by the user before switching to it. */
#define DEFAULT_STATE_DIR "/var/lib/pop3-stdio"
/* The pre-login dialogue runs as this account when started as root. */
#define DEFAULT_PRELOGIN_USER "nobody"
/* ...chrooted here when the directory exists (as popa3d does). */
#define DEFAULT_CHROOT_DIR "/var/empty"
/* Plain numbers (no suffix): the usage text shows them with STR(). */
#define DEFAULT_IDLE_TIMEOUT 600 /* RFC 1939 4: at least 10 minutes */
#define DEFAULT_FAIL_DELAY 2     /* slows password guessing to ~1/s */
/* A day: longer than any client waits between commands, and far from
 * overflowing the poll() timeout in milliseconds (netio.c). */
#define MAX_TIMEOUT_SECONDS 86400
/* An hour: a delay that long already stops a client; more would only keep
 * a process waiting. */
#define MAX_FAIL_DELAY_SECONDS 3600
_Static_assert((long long)MAX_TIMEOUT_SECONDS * 1000 <= INT_MAX,
	       "the idle timeout in milliseconds fits poll()'s int");

/* RFC 2449 4: a command line is at most 255 octets including CRLF. */
#define MAX_COMMAND_LINE 255
/* RFC 2449 4: a response's first line is at most 512 octets with CRLF. */
#define MAX_RESPONSE_LINE 512
/* User names are path components under the spool; NAME_MAX keeps them one. */
#define MAX_USER_NAME 255
/* As for names: more than a PASS line can carry (RFC 2449 4), so AUTH
 * PLAIN, which could carry more, accepts no password PASS could not. */
#define MAX_PASSWORD 255
_Static_assert(MAX_COMMAND_LINE <= MAX_USER_NAME + 1,
	       "a USER argument, shorter than its command line, always fits "
	       "the user name buffer");
_Static_assert(MAX_COMMAND_LINE <= MAX_PASSWORD + 1,
	       "a PASS argument always fits the password buffer");
/* RFC 4616 2: AUTH PLAIN's decoded message, authzid NUL authcid NUL
 * password, with both names limited like user names. */
#define MAX_SASL_PLAIN (2 * MAX_USER_NAME + MAX_PASSWORD + 2)
/* AUTH PLAIN's continuation line carries that message in base64: 4/3 of it
 * plus slack.  RFC 5034 4 lets it exceed the 255-octet command limit. */
#define MAX_SASL_LINE 1100
_Static_assert(MAX_SASL_LINE >= 4 * ((MAX_SASL_PLAIN + 2) / 3) + 2,
	       "the base64 of the longest PLAIN message fits a SASL line");

/* RFC 1939 does not limit failures; three is what clients expect and keeps
 * one connection from being a brute-force channel. */
#define MAX_LOGIN_FAILURES 3

/* Socket and file I/O move in blocks this large: big enough that a RETR of
 * a large message costs few system calls, small enough to stay in L2. */
#define IO_BLOCK 131072
/* Output is written a block at a time, for the same reason. */
#define OUTPUT_BUFFER IO_BLOCK
/* Client input arrives in reads of at most this: pipelined commands are at
 * most 255 octets each, so it holds 64 of them (memory counts per message;
 * a bigger buffer would only save reads of a few microseconds each). */
#define INPUT_BUFFER 16384
_Static_assert(INPUT_BUFFER >= MAX_SASL_LINE,
	       "the longest line the server reads fits the input buffer");

/* The cold scan (mboxscan.c).  Below PARALLEL_MIN bytes to scan, a
 * second thread costs more than it saves (starting one takes tens of
 * microseconds; 4 MB take about 1 ms). */
#define PARALLEL_MIN (4u << 20)
/* Above it, the file is cut at likely message starts into chunks of
 * CHUNK_BYTES that the session's thread and one worker take in turn,
 * whichever is free, each holding the messages of a chunk it scans ahead
 * until those before them are emitted.  4 MB take about 2 ms: the two
 * threads end within a chunk of each other, and handing a chunk over (a
 * mutex and a wake-up, microseconds) is lost in it; 1 and 2 MB were
 * slower, 8 and 16 MB no faster. */
#define CHUNK_BYTES (4u << 20)
/* The most messages held for one chunk (128 bytes each, so 128 KiB, whose
 * pages are only touched as they fill): past that its scan stops at the
 * next message and the session's thread scans on from there, so memory
 * never grows with a chunk's message count. */
#define HELD_MAX 1024
/* Chunks in flight, from the one to be emitted next on: the worker's,
 * one the session's thread scans rather than wait for it, and room for
 * the worker to go on meanwhile.  With 3 the worker waited for a free
 * slot for 1-14 ms of a 30 ms scan of the M maildrop; with 4 it never
 * did, and the scan took 0.028 s instead of 0.035 s; 6 and 8 were no
 * faster. */
#define CHUNK_SLOTS 4

/* Room for a path built from the spool, state or home directory and a user
 * name, with its NUL: the kernel refuses longer ones, and join_path
 * (fileio.c) refuses what does not fit. */
#define PATH_BUFFER PATH_MAX
/* Room for a crypt(3) hash or setting with its NUL: the longest in use
 * (yescrypt, SHA-512 with rounds) are under 130 characters. */
#define HASH_BUFFER 256
/* Room for one /etc/shadow entry (fgetspent_r): a hash and nine fields;
 * an entry that does not fit is skipped. */
#define SHADOW_LINE_BUFFER 4096

/* Client-supplied text in the log (user names, peer addresses) is cut to
 * this many bytes: enough to recognise, short enough that a hostile name
 * cannot flood the log. */
#define MAX_LOGGED_TEXT 64

/* The QUIT update (journal.c) moves kept text in windows, each costing an
 * fdatasync of the mbox and one of the journal; text that moves less than
 * this is copied into the journal instead, so that no update has more than
 * about MAX_WINDOWS windows, nor windows smaller than MIN_WINDOW.  At a few
 * GB/s of writing, 4 MB takes about as long as the two fdatasyncs.  Only
 * the fuzz build (Makefile, -DMIN_WINDOW=64) changes it, so that small
 * inputs reach the windowed path. */
#ifndef MIN_WINDOW
#define MIN_WINDOW (4u << 20)
#endif
#define MAX_WINDOWS 32

/* How long to wait for an MDA's fcntl lock on the mbox (mailbox.c) before
 * answering [SYS/TEMP]: a delivery holds it for milliseconds. */
#define LOCK_WAIT_SECONDS 30

/* RFC 1939 7: a unique-id is 1 to 70 characters in 0x21..0x7E. */
#define MAX_UIDL_LENGTH 70
/* The index remembers this many ids of deleted messages (8 bytes each),
 * so that a copy delivered again is not taken for one already fetched. */
#define MAX_RETIRED_IDS 65536

/* --checkpassword (checkpassword.c).  qmail's checkpassword reads at most
 * 512 bytes from descriptor 3: the name, the password and the empty
 * timestamp with their three NULs must fit, or a classic checker would
 * compare a cut password. */
#define CHECKPASSWORD_MAX_INPUT 512
/* A PAM stack that asks an LDAP or Kerberos server can take seconds
 * (nslcd's bind_timelimit is 10 s, sssd's ldap_opt_timeout 8 s; pam_unix
 * waits about 2 s after a wrong password).  A checker still silent after
 * 15 s is taken for hung: it is killed, and the client gets [SYS/TEMP]
 * while it is still listening (clients give up after 30-60 s). */
#define CHECKPASSWORD_TIMEOUT 15
/* The checker's whole environment: a shell-script checker finds the
 * system's tools (a program of its own it names by its full path);
 * nothing of the superserver's or the client's environment reaches it. */
#define CHECKPASSWORD_ENV_PATH "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
/* argv[1]: a classic checker executes this after a successful check, as
 * the user; it only has to exit 0, and true(1) does nothing else. */
#define CHECKPASSWORD_NEXT "/bin/true"

/* The PROXY protocol v1 (HAProxy's proxy-protocol.txt 2.1): a header is
 * at most 107 octets, CRLF included ("PROXY TCP6" and two full IPv6
 * addresses and ports), so a receiver never needs to read further. */
#define PROXY_V1_MAX_OCTETS 107
/* A trusted proxy writes its header as soon as it has connected; a peer
 * that has not sent it whole within this many seconds is not one
 * (haproxy and nginx wait a few seconds at most for theirs too).  One
 * deadline for the whole header, so a dribbling sender cannot stretch it. */
#define PROXY_HEADER_TIMEOUT 5
/* --trusted-proxies entries: a site's proxies, not a routing table. */
#define MAX_TRUSTED_PROXIES 64

#endif
