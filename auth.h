/*
 * Logins and privileges: checking a name and password against system
 * accounts (passwd + shadow, crypt(3)), a virtual-users file or an external
 * checker (then the account is a system account found through NSS), consulting
 * the blocked-users file, and switching the process to an account for good.
 *
 * Virtual-users file: one user a line, "name:crypt-hash[:uid:gid]";
 * '#' comments and blank lines ignored; a "{CRYPT}" prefix on the hash is
 * accepted.  Names may be e-mail addresses.
 */
#ifndef AUTH_H
#define AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "params.h"

struct auth_config {
	const char *passwd_file; /* NULL: system accounts */
	/* An external checker (checkpassword.h) decides passwords, and the
	 * account it accepts is a system account; NULL: none. */
	const char *checkpassword;
	const char *blocklist;
	bool blocklist_named;
	bool as_root; /* we will switch to the account's uid and gid */
	/* as_root: the pre-login account's uid, which no session may have */
	bool has_prelogin_uid;
	uid_t prelogin_uid;
};

struct account {
	char name[MAX_USER_NAME + 1];
	uid_t uid;
	gid_t gid;
	bool system; /* supplementary groups from /etc/group */
	bool has_ids; /* uid and gid are set (always for system accounts) */
	char home[PATH_BUFFER]; /* empty when unknown */
};

/* Every outcome but AUTH_OK looks the same to the client; the log tells
 * them apart.  Each costs one crypt(3), so timing tells nothing either
 * (with an external checker, which runs for some only, the answer's time
 * is set by --fail-delay: see privsep.c). */
enum auth_outcome {
	AUTH_OK,
	AUTH_UNKNOWN_USER,
	AUTH_BAD_PASSWORD,
	AUTH_BLOCKED,
	AUTH_INVALID_NAME,
	AUTH_UNUSABLE,     /* would serve as root or as the pre-login
			    * account, no uid/gid, expired, ... */
	AUTH_SYSTEM_ERROR, /* unreadable passwd or blocked-users file */
};

/* user and password are exactly len bytes (a NUL inside fails). */
enum auth_outcome auth_check(const struct auth_config *config,
			     const char *user, size_t user_len,
			     const char *password, size_t password_len,
			     struct account *account);
const char *auth_outcome_text(enum auth_outcome outcome);

/* A name usable as a path component under the spool: 1-255 octets, no
 * '/', not starting with '.', no control characters or spaces. */
bool auth_name_is_valid(const char *name, size_t len);

/* Looks user up in an open virtual-users file, read to its end; the first
 * line for user wins.  *first_hash receives the first hash in the file
 * that names a crypt(3) method ("$..."), else the first hash at all (for
 * timing-equal checks of unknown users). */
struct virtual_user {
	char hash[HASH_BUFFER];
	bool has_ids;
	uid_t uid;
	gid_t gid;
};
bool auth_find_virtual(FILE *in, const char *user, struct virtual_user *found,
		       char first_hash[HASH_BUFFER]);

/* Switches to the account for good (when root), then checks that root
 * cannot be regained.  False when any step failed: the caller must exit. */
bool auth_become(const struct account *account);

/* The pre-login process: when root, chroot to chroot_dir if it exists and
 * become user (e.g. nobody).  Does nothing when not root. */
bool auth_become_prelogin(const char *user, const char *chroot_dir);

/* Overwrites a secret so it does not linger in memory. */
void auth_wipe(void *secret, size_t len);

#endif
