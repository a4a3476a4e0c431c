/* A loopback port nothing listens on (bound, then closed), for the unit
 * tests of clients that must fail cleanly on a refused connection. Include
 * after cmocka.h. */
#ifndef RS_TEST_CLOSED_PORT_H
#define RS_TEST_CLOSED_PORT_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static int closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

#endif
