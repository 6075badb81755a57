/*
 * udp_client.h - a client for the nirvana UDP protocol (docs/protocol.md)
 * over an ordinary kernel UDP socket.
 *
 * This header is self-contained (C99, standard headers only) so that
 * programs can copy it into their own builds and link libnrv_proto.a.
 *
 * One client is one connected UDP socket to one server, and runs one
 * request at a time: nrv_udp_client_generate sends the request (in
 * fragments when it is larger than a datagram), then delivers the tokens
 * in order to a callback while it recovers from loss by itself: it asks
 * the server again for missing datagrams (NACK), and resends the request
 * by the same id when no answer comes (the server does not run a request
 * twice). Use several clients for concurrent requests. A client is not
 * thread-safe; it allocates only in nrv_udp_client_create.
 *
 * Errors are 0 or a negative errno; nothing is printed.
 */
#ifndef NRV_UDP_CLIENT_H
#define NRV_UDP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct nrv_udp_client;

struct nrv_udp_client_cfg {
	const char *host;          /* numeric IPv4 or IPv6 address, or "localhost" */
	uint16_t port;
	uint32_t max_payload;      /* datagram bytes, as the server's; 0: 1472; 512 .. 8972 */
	uint32_t max_request_bytes;/* largest request body; 0: 262144 */
	int accept_timeout_ms;     /* wait for ACCEPT before resending by id; 0: 250; doubles */
	int retries;               /* resends of a request; 0: 4; < 0: none */
	int stall_timeout_ms;      /* silence before a tail NACK; 0: 200 */
	int nack_interval_ms;      /* between NACKs of one hole; 0: 20 */
	int max_nacks;             /* NACKs of one hole before giving up; 0: 8 */
	int request_timeout_ms;    /* whole request; 0: 60000 */
	uint32_t reorder;          /* datagrams held out of order; 0: 256 */
	uint64_t id_seed;          /* first request id; 0: random */
};

/* Bits of nrv_udp_client_req.set (the same as the wire's). */
enum {
	NRV_UDP_SET_MAX_TOKENS = 1u << 0,
	NRV_UDP_SET_TEMPERATURE = 1u << 1,
	NRV_UDP_SET_TOP_P = 1u << 2,
	NRV_UDP_SET_TOP_K = 1u << 3,
	NRV_UDP_SET_MIN_P = 1u << 4,
	NRV_UDP_SET_REPEAT_PENALTY = 1u << 5,
	NRV_UDP_SET_FREQUENCY_PENALTY = 1u << 6,
	NRV_UDP_SET_PRESENCE_PENALTY = 1u << 7,
	NRV_UDP_SET_PENALTY_LAST_N = 1u << 8,
	NRV_UDP_SET_SEED = 1u << 9,
};

struct nrv_udp_client_req {
	const char *model;         /* NULL or "": the server's default model */
	const char *prompt;        /* UTF-8 text, prompt_len bytes (or NUL-terminated if 0) */
	size_t prompt_len;
	const int32_t *prompt_ids; /* instead of text: n_prompt_ids token ids */
	size_t n_prompt_ids;
	const char *stop[4];       /* stop strings, NUL-terminated */
	int n_stop;
	bool ignore_eos;
	uint16_t set;              /* NRV_UDP_SET_*: which of the values below are sent */
	uint32_t max_tokens;
	float temperature, top_p, min_p;
	int32_t top_k;
	float repeat_penalty, frequency_penalty, presence_penalty;
	int32_t penalty_last_n;
	uint64_t seed;
};

/* Finish reasons (as on the wire). */
enum {
	NRV_UDP_FINISH_STOP = 1,
	NRV_UDP_FINISH_LENGTH = 2,
	NRV_UDP_FINISH_STOP_STRING = 3,
	NRV_UDP_FINISH_CANCELLED = 4,
	NRV_UDP_FINISH_TIMEOUT = 5,
};

struct nrv_udp_client_res {
	uint64_t id;               /* the request id used */
	int finish;                /* NRV_UDP_FINISH_*, 0 if no FINAL came */
	uint16_t error_code;       /* the server's ERROR code (docs/protocol.md 4.4), or 0 */
	uint32_t retry_after_ms;   /* with OVERLOADED */
	char error_msg[257];       /* the server's message, NUL-terminated */
	uint32_t prompt_tokens, completion_tokens;
	uint64_t queue_ns, prefill_ns, decode_ns, total_ns;   /* the server's timings */
	int64_t ttft_ns;           /* first datagram sent to first token delivered; -1: none */
	int64_t e2e_ns;            /* first datagram sent to the end */
	uint32_t retries;          /* request resends by id */
	uint32_t nacks;            /* NACK datagrams sent */
	uint32_t gaps;             /* holes seen in the sequence */
	uint32_t dups;             /* duplicate datagrams dropped */
};

/* Counters over the client's life. */
struct nrv_udp_client_stats {
	uint64_t sent, received;   /* datagrams */
	uint64_t bad;              /* received datagrams that failed validation */
	uint64_t stray;            /* valid datagrams for another id or of an unexpected type */
	uint64_t retries, nacks, gaps, dups;
};

/* Called for each token in order. index: the token's index in the
 * completion; text: its bytes (not NUL-terminated; may end inside a UTF-8
 * character that the next token completes); t_ns: CLOCK_MONOTONIC when it
 * was received. Return 0 to go on, non-zero to cancel the request. */
typedef int (*nrv_udp_client_token_fn)(void *user, uint32_t index, int32_t token,
					const char *text, size_t len, int64_t t_ns);

/* Open a socket to the server. Returns 0, -EINVAL (bad address or bound),
 * -ENOMEM or the socket error. */
int nrv_udp_client_create(const struct nrv_udp_client_cfg *cfg, struct nrv_udp_client **out);
/* Close and free. Accepts NULL. */
void nrv_udp_client_destroy(struct nrv_udp_client *c);

/*
 * Run one request to its end. on_token may be NULL. *res is always filled.
 * Returns 0 when a FINAL arrived (res->finish says why it ended, CANCELLED
 * when on_token asked to stop), -EREMOTEIO when the server answered ERROR
 * (res->error_code, res->error_msg), -ETIMEDOUT when the server stayed
 * silent through every retry or NACK or request_timeout_ms passed,
 * -E2BIG when the request is over max_request_bytes or its fragment limit,
 * -EINVAL for a malformed request, or a socket error.
 */
int nrv_udp_client_generate(struct nrv_udp_client *c, const struct nrv_udp_client_req *req,
			    nrv_udp_client_token_fn on_token, void *user,
			    struct nrv_udp_client_res *res);

/* Send one PING and wait up to timeout_ms for its PONG. *rtt_ns: the round
 * trip. Returns 0 or -ETIMEDOUT, or a socket error. */
int nrv_udp_client_ping(struct nrv_udp_client *c, int timeout_ms, int64_t *rtt_ns);

/* Send a CANCEL for request id (once; the server answers with the
 * request's FINAL, which the caller of generate receives). */
int nrv_udp_client_cancel(struct nrv_udp_client *c, uint64_t id);

void nrv_udp_client_stats(const struct nrv_udp_client *c, struct nrv_udp_client_stats *st);

#ifdef __cplusplus
}
#endif

#endif
