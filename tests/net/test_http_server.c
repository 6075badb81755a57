/*
 * tests/net/test_http_server.c - the io_uring HTTP server end to end: a
 * tiny echo application on a loop thread, real sockets on 127.0.0.1.
 *
 * Routes of the echo application:
 *   /echo     200 with the request body (X-Method: the method)
 *   /stream   a chunked stream "a", "bb", "ccc"
 *   /hold     no answer: the handle is kept for on_wake actions
 *   /flood    a stream that on_wake feeds until the server cuts the client
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/uring/http.h"

enum { ACT_NONE, ACT_RESPOND_HELD, ACT_FLOOD, ACT_BIG };

struct app {
	struct nrv_http_server *s;
	int wake_fd;
	pthread_t th;
	int run_rc;
	atomic_int requests, closes, wakes;
	atomic_int has_held;
	struct nrv_http_conn held;
	struct nrv_http_conn closed; /* the handle on_close got */
	atomic_int action;
	atomic_int result;       /* of the last on_wake action; 1: not yet */
};

static struct app A;

static void on_request(void *app, struct nrv_http_conn c, const struct nrv_http_request *req)
{
	struct app *a = app;
	atomic_fetch_add(&a->requests, 1);
	char path[256];
	size_t n = req->path_len < sizeof(path) - 1 ? req->path_len : sizeof(path) - 1;
	memcpy(path, req->path, n);
	path[n] = 0;
	if (strcmp(path, "/stream") == 0) {
		cr_assert_eq(nrv_http_stream_begin(a->s, c, 200, "text/plain", NULL), 0);
		cr_assert_eq(nrv_http_stream_begin(a->s, c, 200, "text/plain", NULL), -EINVAL,
			     "already answering");
		cr_assert_eq(nrv_http_stream_write(a->s, c, "a", 1), 0);
		cr_assert_eq(nrv_http_stream_write(a->s, c, "", 0), 0);
		cr_assert_eq(nrv_http_stream_write(a->s, c, "bb", 2), 0);
		cr_assert_eq(nrv_http_stream_write(a->s, c, "ccc", 3), 0);
		cr_assert_eq(nrv_http_stream_end(a->s, c), 0);
		cr_assert_eq(nrv_http_stream_end(a->s, c), -ENOENT, "the request is answered");
	} else if (strcmp(path, "/hold") == 0 || strcmp(path, "/flood") == 0) {
		if (path[1] == 'f')
			cr_assert_eq(nrv_http_stream_begin(a->s, c, 200, "text/event-stream", NULL), 0);
		a->held = c;
		atomic_store(&a->has_held, 1);
	} else {
		char extra[300];
		snprintf(extra, sizeof(extra), "X-Method: %.*s\r\n", (int)req->method_len,
			 req->method);
		int r = nrv_http_respond(a->s, c, strcmp(path, "/missing") == 0 ? 404 : 200,
					 "text/plain", extra, req->body, req->body_len);
		cr_assert_eq(r, 0);
		cr_assert_eq(nrv_http_respond(a->s, c, 200, NULL, NULL, "", 0), -ENOENT);
	}
}

static void on_close(void *app, struct nrv_http_conn c)
{
	struct app *a = app;
	a->closed = c;
	atomic_fetch_add(&a->closes, 1);
}

static void on_wake(void *app)
{
	struct app *a = app;
	atomic_fetch_add(&a->wakes, 1);
	int act = atomic_exchange(&a->action, ACT_NONE);
	if (act == ACT_RESPOND_HELD) {
		atomic_store(&a->result, nrv_http_respond(a->s, a->held, 200, "text/plain", NULL,
							  "late", 4));
	} else if (act == ACT_FLOOD) {
		static char chunk[16384];
		memset(chunk, 'x', sizeof(chunk));
		int r = 0;
		for (int i = 0; i < 64 && r == 0; i++)
			r = nrv_http_stream_write(a->s, a->held, chunk, sizeof(chunk));
		atomic_store(&a->result, r);
	} else if (act == ACT_BIG) {
		/* 256 KiB per wake in chunks of 8 KiB, each filled with its own
		 * letter (the client checks order and completeness); the 8th
		 * wake ends the stream. */
		static char chunk[8192];
		static int sent_chunks;
		int r = 0;
		for (int i = 0; i < 32 && r == 0; i++, sent_chunks++) {
			memset(chunk, 'a' + sent_chunks % 26, sizeof(chunk));
			r = nrv_http_stream_write(a->s, a->held, chunk, sizeof(chunk));
		}
		if (r == 0 && sent_chunks == 256)
			r = nrv_http_stream_end(a->s, a->held);
		atomic_store(&a->result, r);
	}
}

static void *loop_main(void *arg)
{
	struct app *a = arg;
	a->run_rc = nrv_http_run(a->s);
	return NULL;
}

static void start(struct nrv_http_limits lim)
{
	memset(&A, 0, sizeof(A));
	atomic_store(&A.result, 1);
	A.wake_fd = eventfd(0, EFD_CLOEXEC);
	cr_assert_geq(A.wake_fd, 0);
	struct nrv_http_config cfg = { .host = "127.0.0.1", .port = 0, .limits = lim,
				       .wake_fd = A.wake_fd };
	struct nrv_http_handlers h = { .app = &A, .on_request = on_request, .on_close = on_close,
				       .on_wake = on_wake };
	char err[256] = "";
	int r = nrv_http_create(&cfg, &h, &A.s, err, sizeof(err));
	if (r == -ENOSYS || r == -EPERM)
		cr_skip_test("io_uring is not available here: %s", err);
	cr_assert_eq(r, 0, "create: %s", err);
	cr_assert_gt(nrv_http_port(A.s), 0);
	cr_assert_eq(pthread_create(&A.th, NULL, loop_main, &A), 0);
}

static void stop(void)
{
	nrv_http_stop(A.s);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	cr_assert_eq(pthread_timedjoin_np(A.th, NULL, &ts), 0, "nrv_http_stop returns the loop");
	cr_assert_eq(A.run_rc, 0);
	nrv_http_destroy(A.s);
	close(A.wake_fd);
}

static void wake(int action)
{
	atomic_store(&A.result, 1);
	atomic_store(&A.action, action);
	uint64_t one = 1;
	cr_assert_eq(write(A.wake_fd, &one, 8), 8);
}

/* Wait up to ms for *v to reach at least want. */
static bool wait_for(atomic_int *v, int want, int ms)
{
	for (int i = 0; i < ms; i++) {
		if (atomic_load(v) >= want)
			return true;
		usleep(1000);
	}
	return atomic_load(v) >= want;
}

static int wait_result(int ms)
{
	for (int i = 0; i < ms && atomic_load(&A.result) == 1; i++)
		usleep(1000);
	return atomic_load(&A.result);
}

/* ------------------------------------------------------------- client */

struct client {
	int fd;
	char buf[1 << 17];
	size_t len;
};

static void dial_into(struct client *c)
{
	c->len = 0;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(c->fd, 0, "socket: %s", strerror(errno));
	struct timeval tv = { 5, 0 };
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)nrv_http_port(A.s)) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(c->fd, (struct sockaddr *)&a, sizeof(a)), 0, "connect: %s",
		     strerror(errno));
}

static struct client *dial(void)
{
	struct client *c = malloc(sizeof(*c));
	dial_into(c);
	return c;
}

static void hang_up(struct client *c)
{
	close(c->fd);
	free(c);
}

static void say(struct client *c, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
		cr_assert_gt(w, 0, "send: %s", strerror(errno));
		s += w;
		n -= (size_t)w;
	}
}

static void says(struct client *c, const char *s)
{
	say(c, s, strlen(s));
}

/* Read more bytes; 0 at EOF, -1 on timeout or error. */
static int fill(struct client *c)
{
	if (c->len == sizeof(c->buf))
		return -1;
	ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	if (r > 0)
		c->len += (size_t)r;
	return r > 0 ? 1 : (int)r;
}

static void consume(struct client *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

struct resp {
	int status;
	char head[4096];
	char body[1 << 16];
	size_t body_len;
	bool chunked;
};

static bool has_header(const struct resp *r, const char *line)
{
	return strcasestr(r->head, line) != NULL;
}

/* Read one response; false on EOF before it, or timeout. */
static bool read_resp(struct client *c, struct resp *r)
{
	memset(r, 0, sizeof(*r));
	char *e;
	while (!(e = memmem(c->buf, c->len, "\r\n\r\n", 4)))
		if (fill(c) <= 0)
			return false;
	size_t hl = (size_t)(e - c->buf) + 4;
	cr_assert_lt(hl, sizeof(r->head));
	memcpy(r->head, c->buf, hl);
	consume(c, hl);
	cr_assert_eq(sscanf(r->head, "HTTP/1.1 %d ", &r->status), 1, "status line: %s", r->head);
	const char *cl = strcasestr(r->head, "\r\nContent-Length: ");
	if (r->status == 100 || r->status == 204 || r->status == 304) {
		return true;
	} else if (cl) {
		size_t n = strtoul(cl + 18, NULL, 10);
		cr_assert_lt(n, sizeof(r->body));
		while (c->len < n)
			if (fill(c) <= 0)
				return false;
		memcpy(r->body, c->buf, n);
		r->body_len = n;
		consume(c, n);
	} else if (strcasestr(r->head, "\r\nTransfer-Encoding: chunked")) {
		r->chunked = true;
		for (;;) {
			while (!(e = memmem(c->buf, c->len, "\r\n", 2)))
				if (fill(c) <= 0)
					return false;
			size_t n = strtoul(c->buf, NULL, 16);
			consume(c, (size_t)(e - c->buf) + 2);
			while (c->len < n + 2)
				if (fill(c) <= 0)
					return false;
			cr_assert_eq(memcmp(c->buf + n, "\r\n", 2), 0);
			cr_assert_lt(r->body_len + n, sizeof(r->body));
			memcpy(r->body + r->body_len, c->buf, n);
			r->body_len += n;
			consume(c, n + 2);
			if (n == 0)
				break;
		}
	} else {
		/* close-delimited */
		int f;
		while ((f = fill(c)) > 0)
			;
		cr_assert_eq(f, 0, "a close-delimited body ends with EOF");
		memcpy(r->body, c->buf, c->len);
		r->body_len = c->len;
		consume(c, c->len);
	}
	r->body[r->body_len] = 0;
	return true;
}

/* True when the server closed the connection (EOF or reset) within 5 s. */
static bool closed_by_server(struct client *c)
{
	char b[256];
	for (;;) {
		ssize_t r = recv(c->fd, b, sizeof(b), 0);
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			return true;
		if (r < 0)
			return false;
	}
}

static const struct nrv_http_limits dflt = { 0 };

/* -------------------------------------------------------------- tests */

Test(http_server, get_and_post)
{
	start(dflt);
	struct client *c = dial();
	struct resp *r = malloc(sizeof(*r));
	says(c, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
	cr_assert(read_resp(c, r));
	cr_assert_eq(r->status, 200);
	cr_assert_eq(r->body_len, 0);
	cr_assert(has_header(r, "X-Method: GET\r\n"));
	cr_assert(has_header(r, "Content-Type: text/plain\r\n"));
	cr_assert(has_header(r, "\r\nDate: "));
	says(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world");
	cr_assert(read_resp(c, r));
	cr_assert_eq(r->status, 200);
	cr_assert_str_eq(r->body, "hello world");
	cr_assert(!has_header(r, "Connection: close"));
	says(c, "GET /missing HTTP/1.1\r\nHost: t\r\n\r\n");
	cr_assert(read_resp(c, r));
	cr_assert_eq(r->status, 404);
	cr_assert(strstr(r->head, "HTTP/1.1 404 Not Found\r\n") == r->head);
	says(c, "HEAD /echo HTTP/1.1\r\nHost: t\r\n\r\n");
	cr_assert(read_resp(c, r));
	cr_assert_eq(r->status, 200);
	cr_assert_eq(r->body_len, 0);
	cr_assert_eq(atomic_load(&A.requests), 4);
	hang_up(c);
	free(r);
	stop();
}

Test(http_server, keep_alive_and_pipelining)
{
	start(dflt);
	struct client *c = dial();
	struct resp *r = malloc(sizeof(*r));
	for (int i = 0; i < 5; i++) {
		char req[128];
		snprintf(req, sizeof(req), "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n%02d", i);
		says(c, req);
		cr_assert(read_resp(c, r));
		char want[3];
		snprintf(want, sizeof(want), "%02d", i);
		cr_assert_str_eq(r->body, want);
	}
	/* Three requests in one write, the last one closing. */
	says(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nA"
		"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nB\r\n0\r\n\r\n"
		"GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	cr_assert(read_resp(c, r));
	cr_assert_str_eq(r->body, "A");
	cr_assert(read_resp(c, r));
	cr_assert_str_eq(r->body, "B");
	cr_assert(read_resp(c, r));
	cr_assert_eq(r->status, 200);
	cr_assert(has_header(r, "Connection: close\r\n"));
	cr_assert(closed_by_server(c));
	hang_up(c);
	free(r);
	stop();
}

Test(http_server, http10_closes_unless_keep_alive)
{
	start(dflt);
	struct resp *r = malloc(sizeof(*r));
	struct client *c = dial();
	says(c, "GET /echo HTTP/1.0\r\n\r\n");
	cr_assert(read_resp(c, r));
	cr_assert(has_header(r, "Connection: close\r\n"));
	cr_assert(closed_by_server(c));
	hang_up(c);
	c = dial();
	says(c, "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	cr_assert(read_resp(c, r));
	cr_assert(has_header(r, "Connection: keep-alive\r\n"));
	/* A stream to HTTP/1.0 is close-delimited, not chunked. */
	says(c, "GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	cr_assert(read_resp(c, r));
	cr_assert(!r->chunked);
	cr_assert_str_eq(r->body, "abbccc");
	hang_up(c);
	free(r);
	stop();
}

Test(http_server, chunked_request_body)
{
	start(dflt);
	struct client *c = dial();
	struct resp *r = malloc(sizeof(*r));
	says(c, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
	usleep(20000);
	says(c, "5;ext=1\r\nhello\r\n");
	usleep(20000);
	says(c, "6\r\n world\r\n0\r\nX-Trailer: y\r\n\r\n");
	cr_assert(read_resp(c, r));
	cr_assert_eq(r->status, 200);
	cr_assert_str_eq(r->body, "hello world");
	hang_up(c);
	free(r);
	stop();
}

Test(http_server, expect_100_continue)
{
	start(dflt);
	struct client *c = dial();
	struct resp *r = malloc(sizeof(*r));
	says(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
	cr_assert(read_resp(c, r));
	cr_assert_eq(r->status, 100);
	says(c, "data");
	cr_assert(read_resp(c, r));
	cr_assert_eq(r->status, 200);
	cr_assert_str_eq(r->body, "data");
	hang_up(c);
	free(r);
	stop();
}

Test(http_server, streaming_response)
{
	start(dflt);
	struct client *c = dial();
	struct resp *r = malloc(sizeof(*r));
	says(c, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\nGET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
	cr_assert(read_resp(c, r));
	cr_assert(r->chunked);
	cr_assert_str_eq(r->body, "abbccc");
	cr_assert(read_resp(c, r), "the connection stays usable after a stream");
	cr_assert_eq(r->status, 200);
	hang_up(c);
	free(r);
	stop();
}

static void expect_error(struct client *c, int status)
{
	struct resp *r = malloc(sizeof(*r));
	cr_assert(read_resp(c, r), "an answer %d", status);
	cr_assert_eq(r->status, status, "got %d: %s", r->status, r->body);
	cr_assert(has_header(r, "Content-Type: application/json\r\n"));
	cr_assert(has_header(r, "Connection: close\r\n"));
	cr_assert(strstr(r->body, "{\"error\":{\"message\":\"") == r->body, "%s", r->body);
	cr_assert(strstr(r->body, "\"param\":null,\"code\":null}}"), "%s", r->body);
	cr_assert(closed_by_server(c));
	free(r);
}

Test(http_server, bad_requests_answer_in_openai_shape)
{
	start(dflt);
	struct client *c = dial();
	says(c, "GET / HTTP/1.1\r\nHost : t\r\n\r\n");
	expect_error(c, 400);
	hang_up(c);
	c = dial();
	says(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n");
	expect_error(c, 400);
	hang_up(c);
	c = dial();
	says(c, "POST /echo HTTP/1.1\r\nHost: t\r\n\r\n");
	expect_error(c, 411);
	hang_up(c);
	c = dial();
	says(c, "GET / HTTP/2.0\r\n\r\n");
	expect_error(c, 505);
	hang_up(c);
	c = dial();
	says(c, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"); /* a TLS hello */
	expect_error(c, 400);
	hang_up(c);
	struct nrv_http_stats st;
	nrv_http_stats(A.s, &st);
	cr_assert_eq(st.bad_requests, 5);
	stop();
}

Test(http_server, header_over_limit_is_431)
{
	struct nrv_http_limits l = { .max_header_bytes = 1024 };
	start(l);
	struct client *c = dial();
	char big[2048];
	memset(big, 'a', sizeof(big));
	says(c, "GET / HTTP/1.1\r\nHost: t\r\nX-Big: ");
	say(c, big, sizeof(big));
	expect_error(c, 431);
	hang_up(c);
	stop();
}

Test(http_server, body_over_limit_is_413_at_once)
{
	struct nrv_http_limits l = { .max_body_bytes = 4096 };
	start(l);
	struct client *c = dial();
	says(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n");
	expect_error(c, 413); /* without sending a byte of the body */
	hang_up(c);
	c = dial();
	says(c, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1001\r\n");
	expect_error(c, 413);
	hang_up(c);
	stop();
}

Test(http_server, header_timeout_is_408)
{
	struct nrv_http_limits l = { .header_timeout_ms = 300 };
	start(l);
	struct client *c = dial();
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	says(c, "GET /echo HT");
	expect_error(c, 408);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	cr_assert(ms >= 250 && ms < 3000, "answered after %.0f ms", ms);
	hang_up(c);
	struct nrv_http_stats st;
	nrv_http_stats(A.s, &st);
	cr_assert_eq(st.timed_out, 1);
	stop();
}

Test(http_server, body_stall_is_408)
{
	struct nrv_http_limits l = { .body_timeout_ms = 500 };
	start(l);
	struct client *c = dial();
	says(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
	/* Bytes that keep coming keep the body alive past the timeout. */
	for (int i = 0; i < 6; i++) {
		usleep(100000);
		says(c, "d");
	}
	expect_error(c, 408);
	hang_up(c);
	stop();
}

Test(http_server, idle_keep_alive_is_closed)
{
	struct nrv_http_limits l = { .idle_timeout_ms = 300 };
	start(l);
	struct client *c = dial();
	struct resp *r = malloc(sizeof(*r));
	says(c, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
	cr_assert(read_resp(c, r));
	cr_assert(closed_by_server(c));
	hang_up(c);
	free(r);
	stop();
}

Test(http_server, max_connections_503)
{
	struct nrv_http_limits l = { .max_connections = 4 };
	start(l);
	struct client *cs[4];
	struct resp *r = malloc(sizeof(*r));
	for (int i = 0; i < 4; i++) {
		cs[i] = dial();
		says(cs[i], "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
		cr_assert(read_resp(cs[i], r));
	}
	struct client *extra = dial();
	expect_error(extra, 503);
	hang_up(extra);
	hang_up(cs[0]);
	/* The server sees the close a moment later; until then it may still
	 * answer 503. */
	for (int tries = 0;; tries++) {
		usleep(50000);
		struct client *again = dial();
		says(again, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
		cr_assert(read_resp(again, r));
		hang_up(again);
		if (r->status == 200)
			break;
		cr_assert(r->status == 503 && tries < 40, "a slot freed by a close is usable again");
	}
	for (int i = 1; i < 4; i++)
		hang_up(cs[i]);
	struct nrv_http_stats st;
	nrv_http_stats(A.s, &st);
	cr_assert_geq(st.refused, 1);
	free(r);
	stop();
}

Test(http_server, thousand_idle_connections, .timeout = 60)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_max < 2100)
		cr_skip_test("the open-file hard limit %llu is below the 2100 this test needs",
			     (unsigned long long)rl.rlim_max);
	struct nrv_http_limits l = { .max_connections = 1100 };
	start(l); /* raises the soft limit of this process */
	enum { N = 1000 };
	int *fds = malloc(N * sizeof(int));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)nrv_http_port(A.s)) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < N; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		cr_assert_geq(fds[i], 0, "socket %d: %s", i, strerror(errno));
		cr_assert_eq(connect(fds[i], (struct sockaddr *)&a, sizeof(a)), 0);
	}
	struct nrv_http_stats st;
	for (int i = 0; i < 2000; i++) {
		nrv_http_stats(A.s, &st);
		if (st.open >= N)
			break;
		usleep(1000);
	}
	cr_assert_geq(st.open, N, "all idle connections accepted (%d)", st.open);
	struct resp *r = malloc(sizeof(*r));
	struct client *c = dial();
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 100; i++) {
		says(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok");
		cr_assert(read_resp(c, r));
		cr_assert_str_eq(r->body, "ok");
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	cr_assert_lt(ms, 5000, "100 requests beside 1,000 idle connections took %.0f ms", ms);
	/* One of the idle ones works too. */
	const char *q = "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n";
	cr_assert_eq(send(fds[N / 2], q, strlen(q), 0), (ssize_t)strlen(q));
	struct client *idle = malloc(sizeof(*idle));
	idle->fd = fds[N / 2];
	idle->len = 0;
	struct timeval tv = { 5, 0 };
	setsockopt(idle->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	cr_assert(read_resp(idle, r));
	cr_assert_eq(r->status, 200);
	free(idle);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	free(fds);
	hang_up(c);
	free(r);
	stop();
}

Test(http_server, on_close_and_stale_handle)
{
	start(dflt);
	struct client *c = dial();
	says(c, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
	cr_assert(wait_for(&A.has_held, 1, 2000));
	hang_up(c); /* the client goes away while its answer is pending */
	cr_assert(wait_for(&A.closes, 1, 2000), "on_close fires");
	cr_assert_eq(A.closed.slot, A.held.slot);
	cr_assert_eq(A.closed.gen, A.held.gen);
	wake(ACT_RESPOND_HELD);
	cr_assert_eq(wait_result(2000), -ENOENT, "a stale handle is refused");
	stop();
}

Test(http_server, deferred_answer_from_on_wake)
{
	start(dflt);
	struct client *c = dial();
	struct resp *r = malloc(sizeof(*r));
	says(c, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
	cr_assert(wait_for(&A.has_held, 1, 2000));
	wake(ACT_RESPOND_HELD);
	cr_assert_eq(wait_result(2000), 0);
	cr_assert(read_resp(c, r));
	cr_assert_str_eq(r->body, "late");
	cr_assert_eq(atomic_load(&A.closes), 0, "no on_close for an answered request");
	hang_up(c);
	free(r);
	stop();
}

Test(http_server, slow_reader_is_cut)
{
	struct nrv_http_limits l = { .max_pending_out = 256 * 1024 };
	start(l);
	struct client *c = dial();
	int small = 4096;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	says(c, "GET /flood HTTP/1.1\r\nHost: t\r\n\r\n");
	cr_assert(wait_for(&A.has_held, 1, 2000));
	int r = 0;
	for (int i = 0; i < 200 && r == 0; i++) {
		wake(ACT_FLOOD);
		r = wait_result(2000);
	}
	cr_assert_eq(r, -ENOENT, "writes to a client that does not read end in -ENOENT");
	cr_assert(wait_for(&A.closes, 1, 2000), "on_close fires for the cut client");
	hang_up(c);
	stop();
}

Test(http_server, stop_before_run_and_create_errors)
{
	struct nrv_http_config cfg = { .host = "not-an-address", .wake_fd = -1 };
	struct nrv_http_handlers h = { .on_request = on_request };
	struct nrv_http_server *s = NULL;
	char err[256];
	cr_assert_eq(nrv_http_create(&cfg, &h, &s, err, sizeof(err)), -EINVAL);
	cr_assert_null(s);
	cr_assert(strstr(err, "not-an-address"), "%s", err);
	cfg.host = NULL;
	cr_assert_eq(nrv_http_create(&cfg, &h, &s, err, sizeof(err)), 0, "%s", err);
	cfg.port = nrv_http_port(s);
	struct nrv_http_server *s2 = NULL;
	cr_assert_eq(nrv_http_create(&cfg, &h, &s2, err, sizeof(err)), -EADDRINUSE);
	cr_assert(strstr(err, "port"), "%s", err);
	nrv_http_stop(s);
	cr_assert_eq(nrv_http_run(s), 0, "a stopped server's loop returns at once");
	nrv_http_destroy(s);
	nrv_http_destroy(NULL);
}

Test(http_server, half_closed_client_still_gets_its_answer)
{
	start(dflt);
	struct resp *r = malloc(sizeof(*r));
	for (int i = 0; i < 20; i++) {
		struct client *c = dial();
		says(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc");
		shutdown(c->fd, SHUT_WR);
		cr_assert(read_resp(c, r), "round %d", i);
		cr_assert_str_eq(r->body, "abc");
		cr_assert(closed_by_server(c));
		hang_up(c);
	}
	free(r);
	stop();
}

static void on_request_extra(void *app, struct nrv_http_conn c, const struct nrv_http_request *req)
{
	struct app *a = app;
	cr_assert_eq(nrv_http_respond(a->s, c, 200, NULL, "X-A: 1", "", 0), -EINVAL);
	cr_assert_eq(nrv_http_respond(a->s, c, 200, NULL, "X-A: 1\r\n\r\nX-B: 2\r\n", "", 0), -EINVAL);
	cr_assert_eq(nrv_http_stream_write(a->s, c, "x", 1), -EINVAL, "no stream begun");
	cr_assert_eq(nrv_http_respond(a->s, c, 204, NULL, "X-A: 1\r\nX-B: 2\r\n", "ignored", 7), 0);
}

Test(http_server, extra_headers_must_be_whole_lines)
{
	start(dflt);
	nrv_http_stop(A.s);
	pthread_join(A.th, NULL);
	nrv_http_destroy(A.s);
	struct nrv_http_config cfg = { .wake_fd = -1 };
	struct nrv_http_handlers h = { .app = &A, .on_request = on_request_extra };
	char err[256];
	cr_assert_eq(nrv_http_create(&cfg, &h, &A.s, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(pthread_create(&A.th, NULL, loop_main, &A), 0);
	struct client *c = dial();
	struct resp *r = malloc(sizeof(*r));
	says(c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
	cr_assert(read_resp(c, r));
	cr_assert_eq(r->status, 204);
	cr_assert(has_header(r, "\r\nX-A: 1\r\nX-B: 2\r\n\r\n"));
	cr_assert(!has_header(r, "Content-Length"), "204 has no length");
	says(c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
	cr_assert(read_resp(c, r), "and no body: the next answer parses");
	hang_up(c);
	free(r);
	stop();
}

/* Mutated requests over real sockets: the server answers or closes every
 * one, and still serves a valid request afterwards. */
Test(http_server, fuzz_over_sockets, .timeout = 120)
{
	struct nrv_http_limits l = { .header_timeout_ms = 200, .body_timeout_ms = 200,
				     .idle_timeout_ms = 200, .max_body_bytes = 64 };
	start(l);
	static const char *const seeds[] = {
		"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello",
		"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /stream HTTP/1.1\r\nHost: t\r\n\r\n",
	};
	uint64_t x = 0x243f6a8885a308d3ull;
	char buf[256];
	for (int it = 0; it < 300; it++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		const char *seed = seeds[x % 3];
		size_t len = strlen(seed);
		memcpy(buf, seed, len);
		int muts = 1 + (int)((x >> 20) % 3);
		for (int m = 0; m < muts; m++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[(x >> 8) % len] = (char)(x >> 32);
		}
		struct client *c = dial();
		say(c, buf, len);
		if (x & 1)
			shutdown(c->fd, SHUT_WR);
		cr_assert(closed_by_server(c), "iteration %d: the connection stays open", it);
		hang_up(c);
	}
	struct client *c = dial();
	struct resp *r = malloc(sizeof(*r));
	says(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok");
	cr_assert(read_resp(c, r));
	cr_assert_str_eq(r->body, "ok");
	hang_up(c);
	free(r);
	stop();
}

/* A large stream to a client that reads slowly: short sends, two output
 * buffers taking turns, and the bytes still arrive whole and in order. */
Test(http_server, large_stream_to_a_slow_reader, .timeout = 60)
{
	start(dflt);
	struct client *c = dial();
	int small = 128 * 1024; /* at least two loopback segments: no persist-timer stalls */
	setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	says(c, "GET /flood HTTP/1.1\r\nHost: t\r\n\r\n");
	cr_assert(wait_for(&A.has_held, 1, 2000));
	/* Eight batches while the client reads slowly: later batches land
	 * in the pending buffer while earlier ones are being sent. */
	for (int i = 0; i < 8; i++) {
		wake(ACT_BIG);
		cr_assert_eq(wait_result(5000), 0);
	}
	/* Read the chunked body by hand, slowly at first. */
	size_t total = 0;
	char *e;
	while (!(e = memmem(c->buf, c->len, "\r\n\r\n", 4)))
		cr_assert_gt(fill(c), 0);
	consume(c, (size_t)(e - c->buf) + 4);
	for (int slow = 0;; slow++) {
		while (!(e = memmem(c->buf, c->len, "\r\n", 2)))
			cr_assert_gt(fill(c), 0);
		size_t n = strtoul(c->buf, NULL, 16);
		consume(c, (size_t)(e - c->buf) + 2);
		if (n == 0)
			break;
		cr_assert_eq(n, 8192);
		while (c->len < n + 2)
			cr_assert_gt(fill(c), 0);
		char want = (char)('a' + (total / 8192) % 26);
		static char pattern[8192];
		memset(pattern, want, sizeof(pattern));
		cr_assert_eq(memcmp(c->buf, pattern, n), 0, "chunk %zu is whole and in order",
			     total / 8192);
		total += n;
		consume(c, n + 2);
		if (slow < 8)
			usleep(20000);
	}
	cr_assert_eq(total, 256 * 8192);
	cr_assert_eq(atomic_load(&A.closes), 0);
	hang_up(c);
	stop();
}
