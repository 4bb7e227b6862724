/*
 * Logins and privileges.  See auth.h.
 */
#include "auth.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <paths.h>
#include <pwd.h>
#include <shadow.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "blocklist.h"
#include "checkpassword.h"
#include "number.h"

/* Used when the source holds no hash to imitate: yescrypt at Debian's
 * default cost, with a fixed salt (no password matches it in practice). */
#define FALLBACK_SETTING "$y$j9T$Ax5Ndn0PmIOJN9xIY3bVb/"

/* A failed look-up (unknown user, invalid name, locked account) still runs
 * crypt(3), and it must cost what a real user's check costs, or the time
 * taken tells who exists: SHA-512 at 5000 rounds takes ~1 ms, yescrypt
 * ~20 ms.  So it imitates a real hash of the same source, used whole as
 * the setting: crypt(3) takes the method, the cost parameters ("$6$",
 * "$6$rounds=N$", "$y$j9T$", "$2b$12$") and the salt from it and ignores
 * the rest.  Whose salt it is does not matter: the result is thrown away.
 * A locked hash ("!" in front, from usermod -L) still names its method;
 * "*", "x" or an empty field name none (NULL). */
static const char *imitation_of(const char *hash)
{
	while (*hash == '!')
		hash++;
	return hash[0] == '$' ? hash : NULL;
}

bool auth_name_is_valid(const char *name, size_t len)
{
	if (len == 0 || len > MAX_USER_NAME || name[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c <= ' ' || c == 0x7f || c == '/')
			return false;
	}
	return true;
}

void auth_wipe(void *secret, size_t len)
{
	/* explicit_bzero: stores the compiler may not drop as dead. */
	explicit_bzero(secret, len);
}

/* Compares two crypt(3) strings without stopping at the first difference. */
static bool equal_hashes(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), n = la < lb ? la : lb;
	unsigned char diff = la != lb;

	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

/* Runs crypt(3) even when there is nothing to match, so that every
 * outcome takes the same time. */
static bool password_matches(const char *password, const char *hash,
			     const char *imitate)
{
	bool usable = hash && hash[0] != '\0' && hash[0] != '!' && hash[0] != '*';
	const char *setting = usable ? hash : imitate;
	struct crypt_data *data = calloc(1, sizeof(*data));

	if (!data)
		return false;
	const char *result = crypt_r(password, setting, data);
	bool ok = usable && result && result[0] != '*' && equal_hashes(result, hash);
	auth_wipe(data, sizeof(*data));
	free(data);
	return ok;
}

static void strip_crypt_prefix(char *hash)
{
	static const char prefix[] = "{CRYPT}";
	size_t n = sizeof(prefix) - 1;

	if (strncasecmp(hash, prefix, n) == 0)
		memmove(hash, hash + n, strlen(hash + n) + 1);
}

/* "name:hash" or "name:hash:uid:gid" with the line end removed. */
static bool parse_virtual_line(char *line, char **name, char **hash,
			       struct virtual_user *vu)
{
	char *fields[5];
	size_t count = 0;
	char *p = line;

	while (count < 5) {
		fields[count++] = p;
		p = strchr(p, ':');
		if (!p)
			break;
		*p++ = '\0';
	}
	if (p || (count != 2 && count != 4) || fields[0][0] == '\0')
		return false;
	*name = fields[0];
	*hash = fields[1];
	vu->has_ids = count == 4;
	if (vu->has_ids) {
		uint64_t uid, gid;
		if (!parse_decimal(fields[2], strlen(fields[2]), UINT32_MAX - 1, &uid) ||
		    !parse_decimal(fields[3], strlen(fields[3]), UINT32_MAX - 1, &gid))
			return false;
		vu->uid = (uid_t)uid;
		vu->gid = (gid_t)gid;
	}
	return strlen(*hash) < sizeof(vu->hash);
}

bool auth_find_virtual(FILE *in, const char *user, struct virtual_user *found,
		       char first_hash[HASH_BUFFER])
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	bool matched = false;

	first_hash[0] = '\0';
	/* The whole file is read whatever the name, so that whether and
	 * where a user's line is does not show in the time taken. */
	while ((got = getline(&line, &cap, in)) >= 0) {
		size_t len = strnlen(line, (size_t)got);
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		line[len] = '\0';
		char *name, *hash;
		struct virtual_user vu = { 0 };
		if (line[0] == '#' || !parse_virtual_line(line, &name, &hash, &vu))
			continue;
		strip_crypt_prefix(hash);
		/* Best a hash that names its method, for imitation_of. */
		if (first_hash[0] == '\0' ||
		    (!imitation_of(first_hash) && imitation_of(hash)))
			memcpy(first_hash, hash, strlen(hash) + 1);
		if (matched || strcmp(name, user) != 0)
			continue;
		memcpy(vu.hash, hash, strlen(hash) + 1);
		*found = vu;
		matched = true;
	}
	if (line)
		auth_wipe(line, cap);
	free(line);
	return matched;
}

/* user NULL: an invalid name, which matches no line but costs the same. */
static enum auth_outcome check_virtual(const struct auth_config *config,
				       const char *user, const char *password,
				       struct account *account)
{
	struct virtual_user vu;
	char first_hash[HASH_BUFFER];
	int fd = open(config->passwd_file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	FILE *in = fd >= 0 ? fdopen(fd, "r") : NULL;

	if (!in) {
		syslog(LOG_ERR, "passwd file %s: %m", config->passwd_file);
		if (fd >= 0)
			close(fd);
		password_matches(password, NULL, FALLBACK_SETTING);
		return AUTH_SYSTEM_ERROR;
	}
	/* No line has an empty name (parse_virtual_line refuses them). */
	bool known = auth_find_virtual(in, user ? user : "", &vu, first_hash);
	bool failed = ferror(in);
	(void)fclose(in); /* read only: a failed close loses nothing */
	const char *imitate = known ? imitation_of(vu.hash) : NULL;
	if (!imitate)
		imitate = imitation_of(first_hash);
	bool match = password_matches(password, known ? vu.hash : NULL,
				      imitate ? imitate : FALLBACK_SETTING);
	auth_wipe(vu.hash, sizeof(vu.hash));
	auth_wipe(first_hash, sizeof(first_hash));
	if (failed) {
		syslog(LOG_ERR, "passwd file %s: read error", config->passwd_file);
		return AUTH_SYSTEM_ERROR;
	}
	if (!known)
		return AUTH_UNKNOWN_USER;
	if (!match)
		return AUTH_BAD_PASSWORD;
	account->system = false;
	account->has_ids = vu.has_ids;
	account->uid = vu.uid;
	account->gid = vu.gid;
	account->home[0] = '\0';
	if (config->as_root && !vu.has_ids) {
		syslog(LOG_ERR, "user %s: no uid:gid in %s, needed when running as "
				"root", user, config->passwd_file);
		return AUTH_UNUSABLE;
	}
	return AUTH_OK;
}

static bool account_expired(const struct spwd *sp)
{
	long today = (long)(time(NULL) / 86400);
	return sp && sp->sp_expire > 0 && today >= sp->sp_expire;
}

/* For system accounts the hash to imitate is the first in the shadow file
 * that names a method: the accounts passwd(1) made, with the method and
 * cost PAM is set to.  Read from the file itself, not through NSS, so the
 * look-up is local and short (it stops at the first such entry). */
static const char *shadow_imitation(char out[HASH_BUFFER])
{
	char buf[SHADOW_LINE_BUFFER];
	struct spwd entry, *sp;
	const char *found = NULL;
	FILE *in = fopen(_PATH_SHADOW, "re");

	if (!in)
		return FALLBACK_SETTING;
	while (!found && fgetspent_r(in, &entry, buf, sizeof(buf), &sp) == 0) {
		const char *setting = imitation_of(sp->sp_pwdp);
		if (setting && strlen(setting) < HASH_BUFFER)
			found = memcpy(out, setting, strlen(setting) + 1);
	}
	auth_wipe(buf, sizeof(buf));
	(void)fclose(in); /* read only: a failed close loses nothing */
	return found ? found : FALLBACK_SETTING;
}

static bool system_password_matches(const char *password, const char *hash)
{
	char buf[HASH_BUFFER];
	const char *imitate = hash ? imitation_of(hash) : NULL;
	bool usable = hash && hash[0] != '\0' && hash[0] != '!' && hash[0] != '*';

	if (!usable && !imitate)
		imitate = shadow_imitation(buf);
	bool match = password_matches(password, hash, imitate);
	auth_wipe(buf, sizeof(buf));
	return match;
}

static void set_system_account(const struct passwd *pw, struct account *account)
{
	account->system = true;
	account->has_ids = true;
	account->uid = pw->pw_uid;
	account->gid = pw->pw_gid;
	/* A cut home would name some other directory: better none. */
	int n = snprintf(account->home, sizeof(account->home), "%s", pw->pw_dir);
	if (n < 0 || (size_t)n >= sizeof(account->home))
		account->home[0] = '\0';
}

/* user NULL: an invalid name, which is looked up nowhere but costs the
 * same as an unknown one. */
static enum auth_outcome check_system(const char *user, const char *password,
				      struct account *account)
{
	errno = 0;
	struct passwd *pw = user ? getpwnam(user) : NULL;
	if (!pw) {
		system_password_matches(password, NULL);
		if (errno != 0 && errno != ENOENT && errno != ESRCH)
			syslog(LOG_ERR, "getpwnam: %m");
		return AUTH_UNKNOWN_USER;
	}
	set_system_account(pw, account);
	struct spwd *sp = getspnam(user);
	if (!sp && errno == EACCES)
		syslog(LOG_ERR, "cannot read the shadow file (not root?)");
	const char *hash = sp ? sp->sp_pwdp : pw->pw_passwd;
	if (!system_password_matches(password, hash))
		return AUTH_BAD_PASSWORD;
	if (account_expired(sp))
		return AUTH_UNUSABLE;
	return AUTH_OK;
}

/* Root must never serve a session, nor the pre-login account: that one
 * runs everything a stranger can reach, and if it were a mail user too, a
 * compromise of it would read and change that user's mail. */
static bool forbidden_uid(const struct auth_config *config, const char *user,
			  uid_t uid)
{
	if (!config->as_root)
		return false;
	if (uid == 0) {
		syslog(LOG_ERR, "user %s: would serve as uid 0; refused", user);
		return true;
	}
	if (config->has_prelogin_uid && uid == config->prelogin_uid) {
		syslog(LOG_ERR, "user %s: would serve as uid %lu, the pre-login "
				"account's; refused", user, (unsigned long)uid);
		return true;
	}
	return false;
}

/* Checked after the password so that a blocked user's right password
 * takes as long as a wrong one and reveals nothing. */
static enum auth_outcome after_blocklist(const struct auth_config *config,
					 const char *user,
					 enum auth_outcome outcome)
{
	switch (blocklist_check(config->blocklist, config->blocklist_named, user)) {
	case BLOCK_ALLOWED:
		return outcome;
	case BLOCK_BLOCKED:
		return outcome == AUTH_SYSTEM_ERROR ? outcome : AUTH_BLOCKED;
	case BLOCK_UNREADABLE:
		return AUTH_SYSTEM_ERROR;
	}
	return AUTH_SYSTEM_ERROR;
}

/* An external checker decides the password; the account it accepts is a
 * system account found through NSS (files, LDAP, SSSD).  The blocked-users
 * file is read first, so that a blocked user's password never reaches
 * another program, and an invalid name reaches none either.  Those two
 * answer without running the checker: --fail-delay (privsep.c) keeps every
 * failure's answer the same time after the attempt. */
static enum auth_outcome check_external(const struct auth_config *config,
					const char *user, size_t user_len,
					const char *password,
					size_t password_len,
					struct account *account)
{
	if (!user)
		return AUTH_INVALID_NAME;
	enum auth_outcome blocked = after_blocklist(config, user, AUTH_OK);
	if (blocked != AUTH_OK)
		return blocked;
	switch (checkpassword_run(config->checkpassword, user, user_len,
				  password, password_len)) {
	case CHECKPW_ACCEPTED:
		break;
	case CHECKPW_REJECTED:
		return AUTH_BAD_PASSWORD;
	case CHECKPW_TEMPFAIL:
		return AUTH_SYSTEM_ERROR;
	}
	errno = 0;
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		if (errno != 0 && errno != ENOENT && errno != ESRCH)
			syslog(LOG_ERR, "getpwnam: %m");
		syslog(LOG_NOTICE, "user %s: accepted by the checker, but no "
				   "such account", user);
		return AUTH_UNKNOWN_USER;
	}
	set_system_account(pw, account);
	return AUTH_OK;
}

enum auth_outcome auth_check(const struct auth_config *config,
			     const char *user, size_t user_len,
			     const char *password, size_t password_len,
			     struct account *account)
{
	enum auth_outcome outcome;
	bool valid = auth_name_is_valid(user, user_len) &&
		     strlen(user) == user_len && strlen(password) == password_len;

	memset(account, 0, sizeof(*account));
	if (valid)
		memcpy(account->name, user, user_len + 1);
	/* An invalid name is checked with no name: it costs what an
	 * unknown user does, and is then refused. */
	const char *name = valid ? user : NULL;
	if (config->checkpassword)
		outcome = check_external(config, name, user_len, password,
					 password_len, account);
	else if (config->passwd_file)
		outcome = check_virtual(config, name, password, account);
	else
		outcome = check_system(name, password, account);
	if (!valid) {
		memset(account, 0, sizeof(*account));
		return AUTH_INVALID_NAME;
	}
	if (!config->checkpassword)
		outcome = after_blocklist(config, user, outcome);
	if (outcome == AUTH_OK && forbidden_uid(config, user, account->uid))
		outcome = AUTH_UNUSABLE;
	return outcome;
}

const char *auth_outcome_text(enum auth_outcome outcome)
{
	switch (outcome) {
	case AUTH_OK:
		return "ok";
	case AUTH_UNKNOWN_USER:
		return "unknown user";
	case AUTH_BAD_PASSWORD:
		return "bad password";
	case AUTH_BLOCKED:
		return "blocked user";
	case AUTH_INVALID_NAME:
		return "invalid user name";
	case AUTH_UNUSABLE:
		return "account not usable";
	case AUTH_SYSTEM_ERROR:
		return "system error";
	}
	return "?";
}

static bool cannot_regain_root(uid_t uid, gid_t gid)
{
	if (getuid() != uid || geteuid() != uid || getgid() != gid ||
	    getegid() != gid)
		return false;
	return uid == 0 || (setuid(0) != 0 && seteuid(0) != 0);
}

bool auth_become(const struct account *account)
{
	if (geteuid() != 0)
		return true;
	if (!account->has_ids || account->uid == 0)
		return false;
	bool groups = account->system
			  ? initgroups(account->name, account->gid) == 0
			  : setgroups(1, &account->gid) == 0;
	if (!groups || setgid(account->gid) != 0 || setuid(account->uid) != 0) {
		syslog(LOG_ERR, "switching to user %s: %m", account->name);
		return false;
	}
	if (!cannot_regain_root(account->uid, account->gid)) {
		syslog(LOG_CRIT, "user %s: privileges not dropped", account->name);
		return false;
	}
	return true;
}

bool auth_become_prelogin(const char *user, const char *chroot_dir)
{
	if (geteuid() != 0)
		return true;
	struct passwd *pw = getpwnam(user);
	if (!pw || pw->pw_uid == 0) {
		syslog(LOG_ERR, "pre-login user %s: not found or root", user);
		return false;
	}
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	if (chroot_dir && access(chroot_dir, F_OK) != 0)
		syslog(LOG_NOTICE, "%s missing: pre-login dialogue not chrooted "
				   "(mkdir -m 755 %s to have it)", chroot_dir, chroot_dir);
	else if (chroot_dir && (chroot(chroot_dir) != 0 || chdir("/") != 0)) {
		syslog(LOG_ERR, "chroot %s: %m", chroot_dir);
		return false;
	}
	if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
		syslog(LOG_ERR, "switching to pre-login user %s: %m", user);
		return false;
	}
	return cannot_regain_root(uid, gid);
}
