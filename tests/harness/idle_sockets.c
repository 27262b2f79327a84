/* idle_sockets.c — holds N TCP connections from one local address to a
 * server without sending a byte (a slowloris), for the API's connection
 * limit tests.  Prints how many were opened, then how many the server had
 * closed when SECONDS are over.
 * usage: idle_sockets SOURCE-ADDR HOST PORT N SECONDS */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
	struct rlimit rl;
	int n, secs, opened = 0, closed = 0, *fds;

	if (argc != 6 || inet_pton(AF_INET, argv[1], &src.sin_addr) != 1 ||
	    inet_pton(AF_INET, argv[2], &dst.sin_addr) != 1) {
		fprintf(stderr, "usage: idle_sockets SOURCE-ADDR HOST PORT N SECONDS\n");
		return 2;
	}
	dst.sin_port = htons((unsigned short)atoi(argv[3]));
	n = atoi(argv[4]);
	secs = atoi(argv[5]);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 64) {
		rl.rlim_cur = (rlim_t)n + 64;
		if (rl.rlim_max < rl.rlim_cur)
			rl.rlim_max = rl.rlim_cur;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	fds = calloc((size_t)n, sizeof(int));
	if (fds == NULL)
		return 1;
	for (int i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		fds[i] = -1;
		if (fd < 0)
			break;
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0 ||
		    connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
			close(fd);
			continue;
		}
		fds[i] = fd;
		opened++;
	}
	printf("opened %d\n", opened);
	fflush(stdout);
	sleep((unsigned)secs);
	for (int i = 0; i < n; i++) {
		struct pollfd p = {.fd = fds[i], .events = POLLIN};
		char c;

		if (fds[i] < 0)
			continue;
		/* closed by the server: readable with EOF (or reset) */
		if (poll(&p, 1, 0) == 1 && recv(fds[i], &c, 1, MSG_DONTWAIT) <= 0)
			closed++;
		close(fds[i]);
	}
	printf("closed by the server %d\n", closed);
	free(fds);
	return 0;
}
