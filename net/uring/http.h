/*
 * net/uring/http.h - an HTTP/1.1 server on io_uring.
 *
 * One thread runs the loop (nrv_http_run): multishot accept, recv into
 * provided buffers, send, keep-alive, chunked responses for streams,
 * header/body limits and slow-client timeouts. The application sees whole
 * requests through on_request and answers with nrv_http_respond or the
 * nrv_http_stream_* calls - from the loop thread only (inside a callback).
 * Work that finishes on another thread wakes the loop through an eventfd
 * (on_wake), where the application drains its rings and answers.
 *
 * A connection carries at most one request at a time: after on_request it
 * reads nothing more until the response is complete (pipelined bytes wait
 * in its buffer). Answers the HTTP layer gives by itself, in OpenAI's
 * error shape: 400 (malformed request), 408 (header or body timeout, then
 * close), 411/501 (unsupported framing), 413 (body over the limit), 431
 * (header block over the limit), 503 (connection limit, then close),
 * 100 Continue when the client expects it.
 *
 * Owns: sockets, connection state, buffers. Does not own: routing, JSON,
 * anything about models.
 */
#ifndef NRV_NET_HTTP_H
#define NRV_NET_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nrv_http_server;

struct nrv_http_limits {
	size_t max_header_bytes;   /* request line + headers; 0: 8192 -> 431 */
	size_t max_body_bytes;     /* 0: 1 MiB -> 413 */
	int header_timeout_ms;     /* no complete header block within it -> 408 + close; 0: 10000 */
	int body_timeout_ms;       /* body stalled (no byte) this long -> 408 + close; 0: 30000 */
	int idle_timeout_ms;       /* keep-alive connection idle between requests -> close; 0: 60000 */
	int max_connections;       /* open at once; past it: 503 + close; 0: 4096 */
	size_t max_pending_out;    /* unsent response bytes before a slow reader is cut; 0: 8 MiB */
};

struct nrv_http_config {
	const char *host;          /* numeric IPv4/IPv6 or "localhost"; NULL: 127.0.0.1 */
	int port;                  /* 0: any free port (see nrv_http_port) */
	struct nrv_http_limits limits;
	int wake_fd;               /* an eventfd whose readiness calls on_wake; -1: none */
};

struct nrv_http_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

#define NRV_HTTP_MAX_HEADERS 64

/* A parsed request. Every pointer is into the connection's buffer and is
 * valid only during on_request: copy what must outlive the call. */
struct nrv_http_request {
	const char *method;
	size_t method_len;
	const char *path;          /* the request target, query string included */
	size_t path_len;
	int minor_version;         /* HTTP/1.x */
	struct nrv_http_header headers[NRV_HTTP_MAX_HEADERS];
	size_t n_headers;
	const char *body;          /* de-chunked when the client sent chunks */
	size_t body_len;
	bool keep_alive;
};

/* A connection handle: the slot plus a generation, so a handle kept past
 * the connection's close is refused (-ENOENT) rather than misdirected. */
struct nrv_http_conn {
	uint32_t slot;
	uint32_t gen;
};

struct nrv_http_handlers {
	void *app;
	/* A complete request. Answer now or later (from on_wake). */
	void (*on_request)(void *app, struct nrv_http_conn c, const struct nrv_http_request *req);
	/* The connection went away (peer closed, reset, timeout, slow reader)
	 * while its response was not complete: cancel the work behind it.
	 * The handle is dead after this call. May be NULL. */
	void (*on_close)(void *app, struct nrv_http_conn c);
	/* wake_fd became readable (the server has already reset it). May be NULL. */
	void (*on_wake)(void *app);
};

/* Case-insensitive header lookup; NULL when absent. */
const struct nrv_http_header *nrv_http_find_header(const struct nrv_http_request *req,
						   const char *name);

/* Bind and listen. Returns 0 or -errno with err saying what to fix
 * (address in use, bad host, io_uring unavailable...). */
int nrv_http_create(const struct nrv_http_config *cfg, const struct nrv_http_handlers *h,
		    struct nrv_http_server **out, char *err, size_t errlen);
/* Run the loop on the calling thread until nrv_http_stop. 0 or -errno. */
int nrv_http_run(struct nrv_http_server *s);
/* Ask the loop to return. Any thread, async-signal-safe. */
void nrv_http_stop(struct nrv_http_server *s);
/* Close every connection and free. Accepts NULL. */
void nrv_http_destroy(struct nrv_http_server *s);
/* The bound port. */
int nrv_http_port(const struct nrv_http_server *s);

/*
 * Answer a request with a whole body (copied). extra_headers is NULL or
 * complete header lines ("Retry-After: 1\r\n"). Loop thread only.
 * Returns 0, -ENOENT (the connection is gone: drop the work), -EINVAL
 * (already answering), -ENOMEM.
 */
int nrv_http_respond(struct nrv_http_server *s, struct nrv_http_conn c, int status,
		     const char *content_type, const char *extra_headers,
		     const void *body, size_t len);
/* Start a chunked response; then write chunks (copied; empty writes are
 * skipped) and end it. Same returns as nrv_http_respond. */
int nrv_http_stream_begin(struct nrv_http_server *s, struct nrv_http_conn c, int status,
			  const char *content_type, const char *extra_headers);
int nrv_http_stream_write(struct nrv_http_server *s, struct nrv_http_conn c,
			  const void *data, size_t len);
int nrv_http_stream_end(struct nrv_http_server *s, struct nrv_http_conn c);

struct nrv_http_stats {
	int open;                  /* connections open now */
	uint64_t accepted;         /* all time */
	uint64_t refused;          /* over max_connections */
	uint64_t timed_out;        /* header, body or idle timeout */
	uint64_t bad_requests;     /* answered 400/411/413/431/501 by the HTTP layer */
};
/* Counters; loop thread, or any thread for a best-effort read. */
void nrv_http_stats(const struct nrv_http_server *s, struct nrv_http_stats *out);

#endif
