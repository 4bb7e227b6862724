/*
 * limit-read FILE: read FILE in 128 KiB blocks and drop them -- the floor
 * for anything that has to look at every byte of the mbox (what `cat FILE
 * >/dev/null` costs, without cat's write system calls).
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static char buf[131072];
	unsigned long long total = 0;
	ssize_t n;
	int fd;

	if (argc != 2 || (fd = open(argv[1], O_RDONLY)) < 0) {
		fprintf(stderr, "usage: limit-read FILE\n");
		return 2;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += (unsigned long long)n;
	if (n < 0) {
		perror("limit-read: read");
		return 1;
	}
	printf("%llu bytes\n", total);
	return 0;
}
