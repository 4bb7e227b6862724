/*
 * The state-directory ownership policy: which directory holds a user's
 * index and journal, and that nobody but the user can reach into it.
 * Everything root does here is opened relative to directory descriptors
 * with O_NOFOLLOW, so a symlink planted in the path leads nowhere.
 */
#include "statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "fileio.h"
#include "params.h"

/* <base>/<user>, new or left by an earlier session, made the user's:
 * never one that belongs to somebody else. */
static bool claim_user_dir(int base_fd, const char *base,
			   const struct account *acct)
{
	struct stat st;

	/* The journal is synced with this directory, but the directory's own
	 * name is durable only once its parent is synced: without that a
	 * power cut could take the directory, and the journal with it. */
	if (mkdirat(base_fd, acct->name, 0700) == 0 ? fsync(base_fd) != 0
						    : errno != EEXIST)
		return false;
	int user = openat(base_fd, acct->name,
			  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (user < 0)
		return false;
	bool usable = fstat(user, &st) == 0;
	if (usable && st.st_uid != 0 && st.st_uid != acct->uid) {
		syslog(LOG_WARNING, "%s/%s: belongs to uid %lu, not the user",
		       base, acct->name, (unsigned long)st.st_uid);
		errno = EPERM;
		usable = false;
	}
	usable = usable && fchown(user, acct->uid, acct->gid) == 0 &&
		 fchmod(user, 0700) == 0;
	close(user);
	return usable;
}

/* Root creates <base>/<user> for the user before giving up root: the
 * user could not create it in a root-owned base.  Everything is opened
 * relative to directory descriptors with O_NOFOLLOW, so a symlink planted
 * in the path leads nowhere. */
static bool make_user_dir_as_root(const char *base, const struct account *acct)
{
	struct stat st;

	/* 0711: users may pass through to their own directory, not list. */
	if (mkdir(base, 0711) == 0
		    ? chmod(base, 0711) != 0 || !fsync_parent(base)
		    : errno != EEXIST)
		return false;
	int dir = open(base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return false;
	bool usable = fstat(dir, &st) == 0;
	/* Whoever else can write the base could swap a user's journal. */
	if (usable && (st.st_uid != 0 || (st.st_mode & 022))) {
		syslog(LOG_WARNING, "%s: not used for state: it must be owned by "
		       "root and writable by nobody else", base);
		errno = EPERM;
		usable = false;
	}
	usable = usable && claim_user_dir(dir, base, acct);
	close(dir);
	return usable;
}

/* Without root: <spool>/.pop3-stdio when the spool is ours, else
 * ~/.pop3-stdio; NULL when there is no such place. */
static const char *own_state_base(const char *spool_dir,
				  const struct account *acct, char *buf,
				  size_t cap)
{
	struct stat st;

	if (stat(spool_dir, &st) == 0 && st.st_uid == geteuid() &&
	    join_path(buf, cap, spool_dir, ".pop3-stdio"))
		return buf;
	const char *home = acct->home[0] ? acct->home : NULL;
	struct passwd *pw = home ? NULL : getpwuid(geteuid());
	if (!home && pw)
		home = pw->pw_dir;
	if (home && home[0] == '/' && join_path(buf, cap, home, ".pop3-stdio"))
		return buf;
	return NULL;
}

void statedir_prepare(const char *configured, const char *spool_dir,
		      const struct account *acct, char *out, size_t cap)
{
	char buf[PATH_BUFFER];
	const char *base = configured;
	bool root = geteuid() == 0;

	out[0] = '\0';
	if (!base && root)
		base = DEFAULT_STATE_DIR;
	if (!base)
		base = own_state_base(spool_dir, acct, buf, sizeof(buf));
	if (!base || !join_path(out, cap, base, acct->name))
		goto none;
	if (root ? !make_user_dir_as_root(base, acct)
		 : (mkdir(base, 0700) == 0 ? !fsync_parent(base) : errno != EEXIST))
		goto none;
	return;
none:
	syslog(LOG_WARNING, "user %s: no usable state directory (%s): %m",
	       acct->name, base ? base : "none");
	out[0] = '\0';
}

/* The user side of the policy, after the privilege switch: what root
 * prepared must still be a private directory of ours. */
bool statedir_ready(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) == 0 ? !fsync_parent(dir) : errno != EEXIST)
		return false;
	if (lstat(dir, &st) != 0)
		return false;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022)) {
		syslog(LOG_ERR, "%s: not a private directory of ours, not used", dir);
		errno = EPERM;
		return false;
	}
	return true;
}
