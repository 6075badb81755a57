/*
 * net/proto.h - the UDP wire format of docs/protocol.md, version 1.
 *
 * Decoding is zero-copy and stateless: nrv_proto_decode checks a datagram
 * where it landed and fills a view whose pointers point into that buffer;
 * the view is valid as long as the buffer is. Encoding writes into a
 * caller's buffer; token datagrams start from a prebuilt header template.
 * No function here allocates, blocks or keeps state between calls, so all
 * of it may run in a packet burst.
 *
 * Errors: the decoders return 0 or a negative enum nrv_proto_err
 * (nrv_proto_strerror names it); a caller-owned struct nrv_proto_stats
 * counts every outcome. The encoders return the bytes written or -ENOSPC /
 * -EINVAL.
 *
 * Owns: nothing. Does not own: buffers, sockets, reassembly (net/reasm.h),
 * the retransmit window (net/rtx.h).
 */
#ifndef NRV_NET_PROTO_H
#define NRV_NET_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NRV_PROTO_MAGIC 0x564Eu          /* bytes 'N' 'V', little-endian */
#define NRV_PROTO_VERSION 1
#define NRV_PROTO_HDR 32                 /* header bytes */
#define NRV_PROTO_MAX_PAYLOAD 1472       /* default datagram bytes (1500 MTU - IPv4 - UDP) */
#define NRV_PROTO_MIN_PAYLOAD_CFG 512    /* smallest max_payload one may configure */
#define NRV_PROTO_MAX_PAYLOAD_JUMBO 8972 /* 9000-byte jumbo frames */
#define NRV_PROTO_REQ_FIXED 56           /* fixed part of a request body */
#define NRV_PROTO_MAX_STOP 4             /* stop strings per request */
#define NRV_PROTO_MAX_ERRMSG 256         /* ERROR message bytes */
#define NRV_PROTO_MAX_NACK 64            /* ranges per NACK */
#define NRV_PROTO_MAX_NACK_COUNT 1024    /* seqs per range */
#define NRV_PROTO_MAX_FRAGS_CAP 4096     /* hard bound on frag_count */
#define NRV_PROTO_MAX_TOKENS 1048576u    /* max_tokens upper bound */
#define NRV_PROTO_TOKENS_HDR 8           /* TOKENS payload before its records */
#define NRV_PROTO_TOKEN_REC 6            /* record bytes before its text */
#define NRV_PROTO_FINAL_LEN 48
#define NRV_PROTO_ACCEPT_LEN 8
#define NRV_PROTO_PING_MIN 8

enum nrv_proto_type {
	NRV_PROTO_REQUEST = 1,
	NRV_PROTO_CANCEL = 2,
	NRV_PROTO_PING = 3,
	NRV_PROTO_PONG = 4,
	NRV_PROTO_NACK = 5,
	NRV_PROTO_ACCEPT = 6,
	NRV_PROTO_TOKENS = 7,
	NRV_PROTO_FINAL = 8,
	NRV_PROTO_ERROR = 9,
	NRV_PROTO_TYPE_MAX = 9,
};

/* Header flag bits; every other bit is reserved. */
#define NRV_PROTO_F_RETRY 0x0001u        /* REQUEST: a retry by the same id */

/* Request body: bits of `set` (which optional parameters are present). */
enum {
	NRV_PROTO_SET_MAX_TOKENS = 1u << 0,
	NRV_PROTO_SET_TEMPERATURE = 1u << 1,
	NRV_PROTO_SET_TOP_P = 1u << 2,
	NRV_PROTO_SET_TOP_K = 1u << 3,
	NRV_PROTO_SET_MIN_P = 1u << 4,
	NRV_PROTO_SET_REPEAT_PENALTY = 1u << 5,
	NRV_PROTO_SET_FREQUENCY_PENALTY = 1u << 6,
	NRV_PROTO_SET_PRESENCE_PENALTY = 1u << 7,
	NRV_PROTO_SET_PENALTY_LAST_N = 1u << 8,
	NRV_PROTO_SET_SEED = 1u << 9,
	NRV_PROTO_SET_ALL = (1u << 10) - 1,
};
#define NRV_PROTO_RF_IGNORE_EOS 0x01u    /* req_flags bit 0 */

enum nrv_proto_prompt_kind { NRV_PROTO_PROMPT_TEXT = 0, NRV_PROTO_PROMPT_IDS = 1 };

enum nrv_proto_finish {
	NRV_PROTO_FINISH_STOP = 1,
	NRV_PROTO_FINISH_LENGTH = 2,
	NRV_PROTO_FINISH_STOP_STRING = 3,
	NRV_PROTO_FINISH_CANCELLED = 4,
	NRV_PROTO_FINISH_TIMEOUT = 5,
};

/* ERROR codes on the wire (docs/protocol.md 4.4). */
enum nrv_proto_code {
	NRV_PROTO_C_BAD_REQUEST = 1,
	NRV_PROTO_C_UNKNOWN_MODEL = 2,
	NRV_PROTO_C_OVERLOADED = 3,
	NRV_PROTO_C_TOO_LARGE = 4,
	NRV_PROTO_C_VERSION = 5,
	NRV_PROTO_C_DUPLICATE_ID = 6,
	NRV_PROTO_C_GONE = 7,
	NRV_PROTO_C_TIMEOUT = 8,
	NRV_PROTO_C_INTERNAL = 9,
	NRV_PROTO_C_SHUTTING_DOWN = 10,
};

/* Why a datagram or body was rejected; decoders return the negative. */
enum nrv_proto_err {
	NRV_PROTO_OK = 0,
	NRV_PROTO_E_TRUNCATED,   /* shorter than the header */
	NRV_PROTO_E_OVERSIZE,    /* longer than max_payload */
	NRV_PROTO_E_MAGIC,
	NRV_PROTO_E_VERSION,
	NRV_PROTO_E_TYPE,
	NRV_PROTO_E_LENGTH,      /* payload_len != datagram length - 32 */
	NRV_PROTO_E_CRC,
	NRV_PROTO_E_RESERVED,    /* a reserved flag bit or field not zero */
	NRV_PROTO_E_FRAG,        /* fragment fields wrong for the type or out of bounds */
	NRV_PROTO_E_PAYLOAD,     /* the type's payload does not add up */
	NRV_PROTO_E_BODY,        /* request body malformed or a value out of range */
	NRV_PROTO_E_COUNT,
};

/* Bounds the decoder enforces; zero fields take the defaults. */
struct nrv_proto_limits {
	uint32_t max_payload;        /* datagram bytes; 0: 1472; 512 .. 8972 */
	uint32_t max_request_bytes;  /* request body; 0: 262144 */
	uint32_t max_frags;          /* fragments per request; 0: 1024; <= 4096 */
};

/* Counters of decode outcomes, owned by the caller (one per thread). */
struct nrv_proto_stats {
	uint64_t ok;                            /* datagrams accepted */
	uint64_t bad[NRV_PROTO_E_COUNT];        /* by enum nrv_proto_err */
};

/* The header, decoded (host order). */
struct nrv_proto_hdr {
	uint8_t version;
	uint8_t type;               /* enum nrv_proto_type */
	uint16_t flags;
	uint16_t payload_len;
	uint64_t id;
	uint32_t seq;
	uint16_t frag_index;
	uint16_t frag_count;
	uint32_t total_len;
	uint32_t crc;
};

struct nrv_proto_tokens {
	uint16_t n;                 /* records, >= 1 */
	uint32_t first_index;       /* index of the first token in the whole completion */
	const uint8_t *rec;         /* n records: i32 id, u16 len, text (unaligned) */
	size_t rec_len;             /* bytes of records */
};

/* Walks the records of a TOKENS view. */
struct nrv_proto_tok_iter {
	const uint8_t *p, *end;
};

struct nrv_proto_final {
	uint8_t finish;             /* enum nrv_proto_finish */
	uint32_t prompt_tokens;
	uint32_t completion_tokens;
	uint64_t queue_ns, prefill_ns, decode_ns, total_ns;
};

struct nrv_proto_error {
	uint16_t code;              /* enum nrv_proto_code (unknown codes pass: treat as INTERNAL) */
	uint32_t retry_after_ms;
	const char *msg;            /* msg_len bytes of UTF-8, not NUL-terminated, into the datagram */
	uint16_t msg_len;
};

struct nrv_proto_nack {
	uint16_t n;                 /* ranges, 1 .. 64 */
	const uint8_t *ranges;      /* n x {u32 first_seq, u32 count}; read with nrv_proto_nack_range */
};

struct nrv_proto_accept {
	uint32_t window;            /* the server's retransmit window, datagrams */
	uint16_t max_payload;
};

/* A decoded datagram: views into the buffer given to nrv_proto_decode. */
struct nrv_proto_msg {
	struct nrv_proto_hdr h;
	const uint8_t *payload;     /* h.payload_len bytes */
	union {
		struct nrv_proto_tokens tok;      /* TOKENS */
		struct nrv_proto_final fin;       /* FINAL */
		struct nrv_proto_error err;       /* ERROR */
		struct nrv_proto_nack nack;       /* NACK */
		struct nrv_proto_accept acc;      /* ACCEPT */
	} u;                        /* REQUEST, PING, PONG, CANCEL: use payload */
};

/* Sampling parameters as the HTTP API has them; a field counts only if
 * its bit is in `set`. */
struct nrv_proto_params {
	uint16_t set;               /* NRV_PROTO_SET_* */
	uint32_t max_tokens;
	float temperature, top_p, min_p;
	int32_t top_k;
	float repeat_penalty, frequency_penalty, presence_penalty;
	int32_t penalty_last_n;
	uint64_t seed;
};

/* A request body, decoded (views) or to encode (caller's pointers). */
struct nrv_proto_request {
	struct nrv_proto_params p;
	uint8_t prompt_kind;        /* enum nrv_proto_prompt_kind */
	uint8_t req_flags;          /* NRV_PROTO_RF_* */
	const char *model;          /* model_len bytes; 0: the server's default */
	uint8_t model_len;
	uint8_t n_stop;             /* 0 .. 4 */
	const char *stop[NRV_PROTO_MAX_STOP];
	uint8_t stop_len[NRV_PROTO_MAX_STOP];
	const uint8_t *prompt;      /* prompt_len bytes: UTF-8, or i32 ids (unaligned: nrv_proto_prompt_id) */
	uint32_t prompt_len;
};

/* Where a datagram came from: the key, with the request id, of the
 * server's reassembly and request tables. Zero every byte before filling
 * it (it is compared with memcmp). */
struct nrv_proto_peer {
	uint16_t family;            /* AF_INET or AF_INET6 */
	uint16_t port;              /* network order, as in sockaddr */
	uint8_t addr[16];           /* IPv4: the first 4 bytes */
};

/* A prebuilt header for the datagrams of one response stream. */
struct nrv_proto_tmpl {
	uint8_t hdr[NRV_PROTO_HDR];
};

/* Builds TOKENS datagrams record by record, straight into a send buffer. */
struct nrv_proto_tokbuf {
	uint8_t *buf;
	size_t cap;                 /* usable bytes (<= max_payload) */
	size_t len;                 /* bytes written so far */
	uint16_t n;                 /* records so far */
};

/* ---- CRC32C ---- */

/* CRC32C (Castagnoli) of buf, continuing `crc` (start with 0). Picks the
 * SSE4.2 instruction at run time where the CPU has it. */
uint32_t nrv_proto_crc32c(uint32_t crc, const void *buf, size_t len);
/* The portable table-driven version (the reference). */
uint32_t nrv_proto_crc32c_ref(uint32_t crc, const void *buf, size_t len);
/* Whether nrv_proto_crc32c uses the SSE4.2 instruction on this CPU. */
bool nrv_proto_crc32c_hw(void);

/* ---- decoding ---- */

/* Fill zero fields of *l with the defaults and check it: 0 or -EINVAL. */
int nrv_proto_limits_fix(struct nrv_proto_limits *l);

/*
 * Check the datagram buf[0..len) (docs/protocol.md section 7) and fill *m
 * with views into buf. lim: NULL for the defaults (must be fixed by
 * nrv_proto_limits_fix otherwise). st: counters to bump, or NULL.
 * Returns 0 or -enum nrv_proto_err; on error *m is unspecified.
 */
int nrv_proto_decode(const uint8_t *buf, size_t len, const struct nrv_proto_limits *lim,
		     struct nrv_proto_msg *m, struct nrv_proto_stats *st);

/* Parse a complete request body (one fragment's payload, or the
 * reassembled bytes) into views. Returns 0 or -NRV_PROTO_E_BODY. */
int nrv_proto_request_parse(const uint8_t *body, size_t len, struct nrv_proto_request *r);

/* Token id i (< prompt_len / 4) of an id prompt. */
int32_t nrv_proto_prompt_id(const struct nrv_proto_request *r, uint32_t i);

/* Iterate the records of a TOKENS view. next returns 1 with a record,
 * 0 at the end (the decoder has proven the records well formed). */
void nrv_proto_tok_iter_init(struct nrv_proto_tok_iter *it, const struct nrv_proto_tokens *t);
int nrv_proto_tok_next(struct nrv_proto_tok_iter *it, int32_t *id, const uint8_t **text,
		       uint16_t *len);

/* Range i of a NACK view. */
void nrv_proto_nack_range(const struct nrv_proto_nack *n, uint16_t i, uint32_t *first,
			  uint32_t *count);

/* True for types a server receives (REQUEST, CANCEL, PING, NACK). */
bool nrv_proto_from_client(uint8_t type);

/* Names for logs: an error, a message type, a wire error code. */
const char *nrv_proto_strerror(int err);
const char *nrv_proto_type_name(uint8_t type);
const char *nrv_proto_code_name(uint16_t code);

/* ---- encoding ---- */

/* Bytes the body of r will take: 56 + model + stops + prompt. */
size_t nrv_proto_request_size(const struct nrv_proto_request *r);
/* Write the body of r into body[0..cap). Returns its size, -ENOSPC, or
 * -EINVAL when r itself breaks a rule of section 4.1. */
long nrv_proto_request_encode(const struct nrv_proto_request *r, uint8_t *body, size_t cap);
/* Fragments a body of total bytes takes with datagrams of max_payload. */
uint32_t nrv_proto_frag_count(size_t total, uint32_t max_payload);
/* Write fragment `index` of body[0..total) as a REQUEST datagram into
 * buf[0..cap). Returns its length, or -EINVAL / -ENOSPC. */
long nrv_proto_encode_fragment(uint8_t *buf, size_t cap, uint32_t max_payload, uint64_t id,
			       uint16_t flags, const uint8_t *body, size_t total, uint32_t index);

/* Write a datagram of `type` with the given payload (copied) and seal it
 * (payload_len, CRC). h supplies id, seq and flags; the fragment fields
 * are set to 0/1 and total_len to 0. For REQUEST use
 * nrv_proto_encode_fragment. Returns the length or -ENOSPC / -EINVAL. */
long nrv_proto_encode(uint8_t *buf, size_t cap, uint8_t type, uint64_t id, uint32_t seq,
		      uint16_t flags, const void *payload, size_t plen);
/* Payload builders for the fixed-layout types; return payload bytes. */
size_t nrv_proto_final_payload(uint8_t out[NRV_PROTO_FINAL_LEN], const struct nrv_proto_final *f);
/* ERROR payload into out[0..cap): msg is truncated to 256 bytes (on a
 * UTF-8 character boundary). Returns bytes or -ENOSPC. */
long nrv_proto_error_payload(uint8_t *out, size_t cap, uint16_t code, uint32_t retry_after_ms,
			     const char *msg);
size_t nrv_proto_accept_payload(uint8_t out[NRV_PROTO_ACCEPT_LEN], uint32_t window,
				uint16_t max_payload);
/* n ranges into out[0..cap); -EINVAL for n or counts out of bounds. */
long nrv_proto_nack_payload(uint8_t *out, size_t cap, const uint32_t *first,
			    const uint32_t *count, uint16_t n);

/* A template for the stream of request `id` (type, seq, payload_len and
 * CRC are filled per datagram). */
void nrv_proto_tmpl_init(struct nrv_proto_tmpl *t, uint64_t id);
/* Start a TOKENS datagram in buf[0..cap) (cap: at most max_payload).
 * Returns 0 or -ENOSPC. */
int nrv_proto_tokens_begin(struct nrv_proto_tokbuf *b, uint8_t *buf, size_t cap,
			   const struct nrv_proto_tmpl *t, uint32_t seq, uint32_t first_index);
/* Append one token. -ENOSPC when it does not fit (the datagram is left as
 * it was: finish it and start the next), -EINVAL for text over 65535. */
int nrv_proto_tokens_add(struct nrv_proto_tokbuf *b, int32_t id, const void *text, size_t len);
/* Fill n_tokens, payload_len and the CRC. Returns the datagram length, or
 * 0 if no token was added (nothing to send). */
size_t nrv_proto_tokens_finish(struct nrv_proto_tokbuf *b);
/* Seal a datagram of len bytes whose header and payload are written:
 * sets payload_len and the CRC. */
void nrv_proto_seal(uint8_t *buf, size_t len);

#endif
