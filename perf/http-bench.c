/*
 * perf/http-bench.c - requests per second of the io_uring HTTP server with
 * a trivial echo application, over keep-alive connections on loopback.
 *
 *   http-bench [-c CONNECTIONS] [-n REQUESTS_PER_CONNECTION] [-b BODY_BYTES]
 *
 * The server runs in this process on its own thread; each connection is
 * driven by a client thread sending one request and reading its answer
 * (no pipelining), so the figure includes a loopback round trip per request.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/uring/http.h"

struct bench {
	struct nrv_http_server *s;
	int port, n, body;
	long failures;
};

static void on_request(void *app, struct nrv_http_conn c, const struct nrv_http_request *req)
{
	struct bench *b = app;
	nrv_http_respond(b->s, c, 200, "application/json", NULL, req->body, req->body_len);
}

static void *loop_main(void *arg)
{
	nrv_http_run(arg);
	return NULL;
}

static void *client_main(void *arg)
{
	struct bench *b = arg;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)b->port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror("connect");
		__atomic_add_fetch(&b->failures, b->n, __ATOMIC_RELAXED);
		return NULL;
	}
	char *req = malloc((size_t)b->body + 256);
	int hl = sprintf(req, "POST /v1/echo HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
			 "Content-Length: %d\r\n\r\n", b->body);
	memset(req + hl, 'x', (size_t)b->body);
	size_t rl = (size_t)hl + (size_t)b->body;
	char buf[1 << 16];
	for (int i = 0; i < b->n; i++) {
		if (send(fd, req, rl, MSG_NOSIGNAL) != (ssize_t)rl)
			goto fail;
		size_t got = 0, want = 0;
		for (;;) {
			ssize_t r = recv(fd, buf + got, sizeof(buf) - got, 0);
			if (r <= 0)
				goto fail;
			got += (size_t)r;
			char *e = memmem(buf, got, "\r\n\r\n", 4);
			if (e && !want) {
				char *cl = strcasestr(buf, "Content-Length: ");
				if (!cl || strncmp(buf, "HTTP/1.1 200", 12))
					goto fail;
				want = (size_t)(e - buf) + 4 + strtoul(cl + 16, NULL, 10);
			}
			if (want && got >= want)
				break;
		}
	}
	close(fd);
	free(req);
	return NULL;
fail:
	__atomic_add_fetch(&b->failures, 1, __ATOMIC_RELAXED);
	close(fd);
	free(req);
	return NULL;
}

int main(int argc, char **argv)
{
	int conns = 1, n = 20000, body = 64, opt;
	while ((opt = getopt(argc, argv, "c:n:b:")) != -1) {
		if (opt == 'c')
			conns = atoi(optarg);
		else if (opt == 'n')
			n = atoi(optarg);
		else if (opt == 'b')
			body = atoi(optarg);
		else {
			fprintf(stderr, "usage: http-bench [-c CONNECTIONS] [-n REQUESTS] [-b BODY_BYTES]\n");
			return 2;
		}
	}
	if (conns < 1 || conns > 1000 || n < 1 || body < 0 || body > 32768) {
		fprintf(stderr, "http-bench: -c 1..1000, -n >= 1, -b 0..32768\n");
		return 2;
	}
	struct bench b = { .n = n, .body = body };
	struct nrv_http_config cfg = { .wake_fd = -1 };
	struct nrv_http_handlers h = { .app = &b, .on_request = on_request };
	char err[256];
	if (nrv_http_create(&cfg, &h, &b.s, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	b.port = nrv_http_port(b.s);
	pthread_t loop, *cl = calloc((size_t)conns, sizeof(pthread_t));
	pthread_create(&loop, NULL, loop_main, b.s);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < conns; i++)
		pthread_create(&cl[i], NULL, client_main, &b);
	for (int i = 0; i < conns; i++)
		pthread_join(cl[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	nrv_http_stop(b.s);
	pthread_join(loop, NULL);
	nrv_http_destroy(b.s);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	double total = (double)conns * n;
	printf("http-bench: %d connection(s) x %d keep-alive requests, %d-byte bodies: "
	       "%.0f requests/s, %.1f us mean round trip, %ld failures\n",
	       conns, n, body, total / s, s / n * 1e6, b.failures);
	free(cl);
	return b.failures ? 1 : 0;
}
