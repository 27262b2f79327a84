/* notify_listen.c — the test's end of NOTIFY_SOCKET: binds a datagram
 * socket at PATH and appends every message syncd sends (READY=1, STATUS=,
 * WATCHDOG=1, STOPPING=1) to FILE, one line per assignment, each message
 * followed by a "--" line.  usage: notify_listen PATH FILE (runs until killed) */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char buf[4096];
	int fd;

	if (argc != 3 || strlen(argv[1]) >= sizeof(a.sun_path)) {
		fprintf(stderr, "usage: notify_listen PATH FILE\n");
		return 2;
	}
	strcpy(a.sun_path, argv[1]);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	unlink(argv[1]);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("notify_listen");
		return 1;
	}
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
		FILE *f;

		if (n < 0)
			continue;
		buf[n] = '\0';
		f = fopen(argv[2], "a");
		if (f == NULL)
			return 1;
		fprintf(f, "%s\n--\n", buf);
		fclose(f);
	}
}
