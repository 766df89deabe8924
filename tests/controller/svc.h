/*
 * A tiny HTTP service for tests that need something to probe (or a webhook to call):
 * 127.0.0.1 on a port the kernel picks, one thread per connection, one request per
 * connection, one service per test process.  The test gives the handler; svc_say()
 * answers.  Header-only, like harness.h; callers ignore SIGPIPE (probes hang up on
 * purpose).
 */
#ifndef GD_TEST_SVC_H
#define GD_TEST_SVC_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SVC_MAX_REQUEST	16384

/*
 * Called for each request with the connection, the request line's method and path, and
 * the request as read (headers and whatever body came with them, NUL-terminated).  It
 * answers (svc_say(), or by hand); the connection is closed after it returns.
 */
typedef void (*svc_handler)(int fd, const char *method, const char *path, const char *req);

struct svc_conn {
	int fd;
	svc_handler fn;
};

/* A whole answer: status line ("200 OK"), content type, body. */
static inline void
svc_say(int fd, const char *status, const char *type, const char *body)
{
	char head[256];
	int n = snprintf(head, sizeof(head), "HTTP/1.1 %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, type, strlen(body));

	if (write(fd, head, (size_t)n) != n || write(fd, body, strlen(body)) < 0)
		return;
}

static inline void *
svc_one(void *arg)
{
	struct svc_conn c = *(struct svc_conn *)arg;
	char req[SVC_MAX_REQUEST], method[16] = "", path[2048] = "";
	ssize_t n;

	free(arg);
	n = read(c.fd, req, sizeof(req) - 1);
	req[n > 0 ? n : 0] = '\0';
	if (n > 0) {
		const char *cl = strstr(req, "Content-Length: "), *end = strstr(req, "\r\n\r\n");
		size_t have = (size_t)n, want;

		/* A POST's body may come in a segment of its own: read all it announced. */
		if (cl != NULL && end != NULL) {
			want = (size_t)(end + 4 - req) + (size_t)strtoul(cl + 16, NULL, 10);
			while (have < want && have < sizeof(req) - 1) {
				ssize_t k = read(c.fd, req + have, sizeof(req) - 1 - have);

				if (k <= 0)
					break;
				have += (size_t)k;
			}
			req[have] = '\0';
		}
		(void)sscanf(req, "%15s %2047s", method, path);
	}
	c.fn(c.fd, method, path, req);
	(void)close(c.fd);
	return NULL;
}

static inline void *
svc_accept(void *arg)
{
	struct svc_conn *l = arg;

	for (;;) {
		struct svc_conn *c;
		int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
		pthread_t t;

		if (fd < 0)
			continue;
		if ((c = malloc(sizeof(*c))) == NULL) {
			(void)close(fd);
			continue;
		}
		c->fd = fd;
		c->fn = l->fn;
		if (pthread_create(&t, NULL, svc_one, c) != 0) {
			free(c);
			(void)close(fd);
		} else {
			(void)pthread_detach(t);
		}
	}
	return NULL;
}

/* Starts the service; its port into *ret_port.  0, or -1.  It runs until the test ends. */
static inline int
svc_start(svc_handler fn, int *ret_port)
{
	static struct svc_conn listener;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	pthread_t t;
	int fd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 || listen(fd, 128) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) == -1)
		return -1;
	listener.fd = fd;
	listener.fn = fn;
	*ret_port = ntohs(sa.sin_port);
	return pthread_create(&t, NULL, svc_accept, &listener) == 0 ? 0 : -1;
}

#endif
