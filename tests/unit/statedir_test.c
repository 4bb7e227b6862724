/*
 * statedir_ready (statedir.h): the directory that will hold a user's
 * index and update journal is used only when it is a directory of ours,
 * closed to others -- not a symlink, not a file, not one anybody may
 * write to.  (statedir_prepare runs as root and is driven by the bats
 * suites.)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "statedir.h"

int main(void)
{
	char dir[] = "/tmp/statedir-test.XXXXXX";
	char sub[sizeof(dir) + 16];
	struct stat st;

	if (!mkdtemp(dir)) {
		perror(dir);
		return 1;
	}
	snprintf(sub, sizeof(sub), "%s/state", dir);

	/* Made when missing, private; then found again as it is. */
	CHECK(statedir_ready(sub));
	CHECK(stat(sub, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 077) == 0);
	CHECK(statedir_ready(sub));
	/* Others may read it (an administrator's choice) but not write. */
	CHECK(chmod(sub, 0755) == 0);
	CHECK(statedir_ready(sub));
	CHECK(chmod(sub, 0777) == 0);
	CHECK(!statedir_ready(sub) && errno == EPERM);
	CHECK(chmod(sub, 0720) == 0);
	CHECK(!statedir_ready(sub));
	/* Someone else's, however private. */
	if (geteuid() == 0) {
		CHECK(chmod(sub, 0700) == 0 && chown(sub, 4100, 4100) == 0);
		CHECK(!statedir_ready(sub));
	}
	CHECK(rmdir(sub) == 0);
	/* A symlink to a good directory is still not it. */
	CHECK(symlink(dir, sub) == 0);
	CHECK(!statedir_ready(sub));
	CHECK(unlink(sub) == 0);
	int fd = open(sub, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0 && close(fd) == 0);
	CHECK(!statedir_ready(sub));
	CHECK(unlink(sub) == 0);
	/* Its parent must exist: nothing is created but the last step. */
	snprintf(sub, sizeof(sub), "%s/no/state", dir);
	CHECK(!statedir_ready(sub));

	CHECK(rmdir(dir) == 0);
	return check_summary();
}
