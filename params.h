/*
 * Every tunable of pop3-stdio in one place, each with the reason for its value.
 */
#ifndef PARAMS_H
#define PARAMS_H

#define POP3_VERSION "1.0.0"
#define POP3_IMPLEMENTATION "pop3-stdio"

/* Defaults of the command-line options (see pop3-stdio(8)). */
#define DEFAULT_SPOOL_DIR "/var/mail"
#define DEFAULT_BLOCKLIST "/etc/pop3-stdio/blocked-users"
/* Root-started sessions keep per-user index and update journal here; the
 * root part creates DIR/<user> owned by the user before switching to it. */
#define DEFAULT_STATE_DIR "/var/lib/pop3-stdio"
/* The pre-login dialogue runs as this account when started as root. */
#define DEFAULT_PRELOGIN_USER "nobody"
/* ...chrooted here when the directory exists (as popa3d does). */
#define DEFAULT_CHROOT_DIR "/var/empty"
#define DEFAULT_IDLE_TIMEOUT 600 /* RFC 1939 4: at least 10 minutes */
#define DEFAULT_FAIL_DELAY 2     /* slows password guessing to ~1/s */
#define MAX_TIMEOUT_SECONDS 86400
#define MAX_FAIL_DELAY_SECONDS 3600

/* RFC 2449 4: a command line is at most 255 octets including CRLF. */
#define MAX_COMMAND_LINE 255
/* RFC 2449 4: a response's first line is at most 512 octets with CRLF. */
#define MAX_RESPONSE_LINE 512
/* AUTH PLAIN's continuation line carries base64 of authzid, authcid and
 * password (each up to 255 octets): 4/3 of 767 plus slack.  RFC 5034 4
 * lets it exceed the 255-octet command limit. */
#define MAX_SASL_LINE 1100
/* User names are path components under the spool; NAME_MAX keeps them one. */
#define MAX_USER_NAME 255
#define MAX_PASSWORD 255

/* RFC 1939 does not limit failures; three is what clients expect and keeps
 * one connection from being a brute-force channel. */
#define MAX_LOGIN_FAILURES 3

/* Socket and file I/O move in blocks this large: big enough that a RETR of
 * a large message costs few system calls, small enough to stay in L2. */
#define IO_BLOCK 131072
#define OUTPUT_BUFFER 131072
/* Client input arrives in reads of at most this: pipelined commands are at
 * most 255 octets each, so it holds 64 of them (memory counts per message;
 * a bigger buffer would only save reads of a few microseconds each). */
#define INPUT_BUFFER 16384

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

#endif
