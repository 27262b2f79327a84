/*
 * freeport: print a TCP port on 127.0.0.1 that is free right now.
 *
 * The kernel picks the port (bind to port 0); we close the socket and print
 * it. No connection was made, so the port is not left in TIME_WAIT and the
 * caller can bind it at once. Another process may still take it in between;
 * the test harness retries with a fresh port when a server fails to bind.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0) {
		perror("freeport: socket");
		return 1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = 0;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror("freeport: bind");
		close(fd);
		return 1;
	}
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		perror("freeport: getsockname");
		close(fd);
		return 1;
	}
	close(fd);
	if (printf("%u\n", (unsigned)ntohs(sa.sin_port)) < 0 || fflush(stdout) != 0)
		return 1;
	return 0;
}
