/*
 * net/proto.c - the UDP wire format (docs/protocol.md): in-place decoding,
 * encoding into caller buffers, CRC32C.
 *
 * Every field is loaded with memcpy and converted from little-endian, so
 * the decoder works on a payload at any alignment (a DPDK mbuf puts it at
 * an odd offset). Nothing is read before its bounds are proven.
 */
#include <endian.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "proto.h"

#if defined(__x86_64__)
#include "kernels/cpu/x86/sse42/crc32c_sse42.h"
#endif

/* ---- little-endian loads and stores ---- */

static inline uint16_t ld16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return le16toh(v);
}

static inline uint32_t ld32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return le32toh(v);
}

static inline uint64_t ld64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return le64toh(v);
}

static inline float ldf(const uint8_t *p)
{
	uint32_t u = ld32(p);
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static inline void st16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}

static inline void st32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static inline void st64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static inline void stf(uint8_t *p, float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	st32(p, u);
}

/* ---- CRC32C ---- */

/* Reflected CRC32C table (polynomial 0x1EDC6F41, reversed 0x82F63B78):
 * entry i is the CRC of the byte i. */
static const uint32_t crc32c_table[256] = {
	0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c,
	0x26a1e7e8, 0xd4ca64eb, 0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b,
	0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24, 0x105ec76f, 0xe235446c,
	0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
	0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc,
	0xbc267848, 0x4e4dfb4b, 0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a,
	0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35, 0xaa64d611, 0x580f5512,
	0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
	0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad,
	0x1642ae59, 0xe4292d5a, 0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a,
	0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595, 0x417b1dbc, 0xb3109ebf,
	0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
	0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f,
	0xed03a29b, 0x1f682198, 0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927,
	0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38, 0xdbfc821c, 0x2997011f,
	0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
	0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e,
	0x4767748a, 0xb50cf789, 0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859,
	0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46, 0x7198540d, 0x83f3d70e,
	0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
	0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de,
	0xdde0eb2a, 0x2f8b6829, 0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c,
	0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93, 0x082f63b7, 0xfa44e0b4,
	0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
	0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b,
	0xb4091bff, 0x466298fc, 0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c,
	0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033, 0xa24bb5a6, 0x502036a5,
	0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
	0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975,
	0x0e330a81, 0xfc588982, 0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d,
	0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622, 0x38cc2a06, 0xcaa7a905,
	0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
	0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8,
	0xe52cc12c, 0x1747422f, 0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff,
	0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0, 0xd3d3e1ab, 0x21b862a8,
	0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
	0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78,
	0x7fab5e8c, 0x8dc0dd8f, 0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee,
	0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1, 0x69e9f0d5, 0x9b8273d6,
	0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
	0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69,
	0xd5cf889d, 0x27a40b9e, 0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e,
	0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

uint32_t nrv_proto_crc32c_ref(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t c = ~crc;

	while (len--)
		c = crc32c_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

bool nrv_proto_crc32c_hw(void)
{
#if defined(__x86_64__)
	return __builtin_cpu_supports("sse4.2");
#else
	return false;
#endif
}

uint32_t nrv_proto_crc32c(uint32_t crc, const void *buf, size_t len)
{
	/* The cpuid test is a load and a bit test of data libgcc filled in at
	 * start-up: cheaper than keeping a function pointer in a global. */
#if defined(__x86_64__)
	if (__builtin_cpu_supports("sse4.2"))
		return nrv_crc32c_sse42(crc, buf, len);
#endif
	return nrv_proto_crc32c_ref(crc, buf, len);
}

/* The datagram checksum: header bytes 0..27, then the payload. */
static uint32_t dgram_crc(const uint8_t *buf, size_t len)
{
	uint32_t c = nrv_proto_crc32c(0, buf, 28);
	return nrv_proto_crc32c(c, buf + NRV_PROTO_HDR, len - NRV_PROTO_HDR);
}

/* ---- names ---- */

const char *nrv_proto_strerror(int err)
{
	static const char *const names[NRV_PROTO_E_COUNT] = {
		[NRV_PROTO_OK] = "ok",
		[NRV_PROTO_E_TRUNCATED] = "datagram shorter than the 32-byte header",
		[NRV_PROTO_E_OVERSIZE] = "datagram longer than max_payload",
		[NRV_PROTO_E_MAGIC] = "bad magic (not a nirvana datagram)",
		[NRV_PROTO_E_VERSION] = "unsupported protocol version",
		[NRV_PROTO_E_TYPE] = "unknown message type",
		[NRV_PROTO_E_LENGTH] = "payload_len does not match the datagram length",
		[NRV_PROTO_E_CRC] = "CRC32C mismatch",
		[NRV_PROTO_E_RESERVED] = "reserved flag or field not zero",
		[NRV_PROTO_E_FRAG] = "fragment fields out of bounds or wrong for the type",
		[NRV_PROTO_E_PAYLOAD] = "payload malformed for its type",
		[NRV_PROTO_E_BODY] = "request body malformed or a value out of range",
	};
	if (err < 0)
		err = -err;
	return err < NRV_PROTO_E_COUNT ? names[err] : "unknown error";
}

const char *nrv_proto_type_name(uint8_t type)
{
	static const char *const names[] = {
		"?", "REQUEST", "CANCEL", "PING", "PONG", "NACK",
		"ACCEPT", "TOKENS", "FINAL", "ERROR",
	};
	return type <= NRV_PROTO_TYPE_MAX ? names[type] : "?";
}

const char *nrv_proto_code_name(uint16_t code)
{
	static const char *const names[] = {
		"INTERNAL", "BAD_REQUEST", "UNKNOWN_MODEL", "OVERLOADED", "TOO_LARGE",
		"VERSION", "DUPLICATE_ID", "GONE", "TIMEOUT", "INTERNAL", "SHUTTING_DOWN",
	};
	return code <= NRV_PROTO_C_SHUTTING_DOWN ? names[code] : "INTERNAL";
}

bool nrv_proto_from_client(uint8_t type)
{
	return type == NRV_PROTO_REQUEST || type == NRV_PROTO_CANCEL ||
	       type == NRV_PROTO_PING || type == NRV_PROTO_NACK;
}

/* ---- decoding ---- */

int nrv_proto_limits_fix(struct nrv_proto_limits *l)
{
	if (!l->max_payload)
		l->max_payload = NRV_PROTO_MAX_PAYLOAD;
	if (!l->max_request_bytes)
		l->max_request_bytes = 262144;
	if (!l->max_frags)
		l->max_frags = 1024;
	if (l->max_payload < NRV_PROTO_MIN_PAYLOAD_CFG ||
	    l->max_payload > NRV_PROTO_MAX_PAYLOAD_JUMBO ||
	    l->max_request_bytes < NRV_PROTO_REQ_FIXED + 1 ||
	    l->max_request_bytes > (16u << 20) || l->max_frags > NRV_PROTO_MAX_FRAGS_CAP)
		return -EINVAL;
	return 0;
}

/* Well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
static bool utf8_ok(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		size_t k;
		uint32_t cp, min;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			k = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

static int dec_tokens(struct nrv_proto_msg *m)
{
	const uint8_t *p = m->payload;
	size_t n = m->h.payload_len;
	if (n < NRV_PROTO_TOKENS_HDR || ld16(p + 2) != 0)
		return -NRV_PROTO_E_PAYLOAD;
	struct nrv_proto_tokens *t = &m->u.tok;
	t->n = ld16(p);
	t->first_index = ld32(p + 4);
	t->rec = p + NRV_PROTO_TOKENS_HDR;
	t->rec_len = n - NRV_PROTO_TOKENS_HDR;
	if (t->n == 0)
		return -NRV_PROTO_E_PAYLOAD;
	/* Walk the records: they must fill the payload exactly. */
	size_t off = 0;
	for (uint32_t i = 0; i < t->n; i++) {
		if (t->rec_len - off < NRV_PROTO_TOKEN_REC)
			return -NRV_PROTO_E_PAYLOAD;
		size_t tl = ld16(t->rec + off + 4);
		off += NRV_PROTO_TOKEN_REC;
		if (t->rec_len - off < tl)
			return -NRV_PROTO_E_PAYLOAD;
		off += tl;
	}
	if (off != t->rec_len)
		return -NRV_PROTO_E_PAYLOAD;
	if ((uint64_t)t->first_index + t->n > UINT32_MAX)
		return -NRV_PROTO_E_PAYLOAD;
	return 0;
}

static int dec_payload(struct nrv_proto_msg *m)
{
	const uint8_t *p = m->payload;
	size_t n = m->h.payload_len;

	switch (m->h.type) {
	case NRV_PROTO_REQUEST:
		return n >= 1 ? 0 : -NRV_PROTO_E_PAYLOAD;
	case NRV_PROTO_CANCEL:
		return n == 0 ? 0 : -NRV_PROTO_E_PAYLOAD;
	case NRV_PROTO_PING:
	case NRV_PROTO_PONG:
		return n >= NRV_PROTO_PING_MIN ? 0 : -NRV_PROTO_E_PAYLOAD;
	case NRV_PROTO_NACK: {
		if (n == 0 || n % 8 || n / 8 > NRV_PROTO_MAX_NACK)
			return -NRV_PROTO_E_PAYLOAD;
		m->u.nack.n = (uint16_t)(n / 8);
		m->u.nack.ranges = p;
		for (size_t i = 0; i < n; i += 8) {
			uint32_t first = ld32(p + i), count = ld32(p + i + 4);
			if (count == 0 || count > NRV_PROTO_MAX_NACK_COUNT ||
			    (uint64_t)first + count > (uint64_t)UINT32_MAX + 1)
				return -NRV_PROTO_E_PAYLOAD;
		}
		return 0;
	}
	case NRV_PROTO_ACCEPT:
		if (n != NRV_PROTO_ACCEPT_LEN || ld16(p + 6) != 0)
			return -NRV_PROTO_E_PAYLOAD;
		m->u.acc.window = ld32(p);
		m->u.acc.max_payload = ld16(p + 4);
		if (m->u.acc.window == 0)
			return -NRV_PROTO_E_PAYLOAD;
		return 0;
	case NRV_PROTO_TOKENS:
		return dec_tokens(m);
	case NRV_PROTO_FINAL: {
		struct nrv_proto_final *f = &m->u.fin;
		if (n != NRV_PROTO_FINAL_LEN)
			return -NRV_PROTO_E_PAYLOAD;
		f->finish = p[0];
		if (p[1] || ld16(p + 2) || ld32(p + 12))
			return -NRV_PROTO_E_PAYLOAD;
		if (f->finish < NRV_PROTO_FINISH_STOP || f->finish > NRV_PROTO_FINISH_TIMEOUT)
			return -NRV_PROTO_E_PAYLOAD;
		f->prompt_tokens = ld32(p + 4);
		f->completion_tokens = ld32(p + 8);
		f->queue_ns = ld64(p + 16);
		f->prefill_ns = ld64(p + 24);
		f->decode_ns = ld64(p + 32);
		f->total_ns = ld64(p + 40);
		return 0;
	}
	case NRV_PROTO_ERROR: {
		struct nrv_proto_error *e = &m->u.err;
		if (n < 8)
			return -NRV_PROTO_E_PAYLOAD;
		e->code = ld16(p);
		e->msg_len = ld16(p + 2);
		e->retry_after_ms = ld32(p + 4);
		e->msg = (const char *)(p + 8);
		if (e->code == 0 || e->msg_len > NRV_PROTO_MAX_ERRMSG || n != 8u + e->msg_len ||
		    !utf8_ok(p + 8, e->msg_len))
			return -NRV_PROTO_E_PAYLOAD;
		return 0;
	}
	}
	return -NRV_PROTO_E_TYPE;
}

static int decode(const uint8_t *buf, size_t len, const struct nrv_proto_limits *lim,
		  struct nrv_proto_msg *m)
{
	struct nrv_proto_hdr *h = &m->h;

	if (len < NRV_PROTO_HDR)
		return -NRV_PROTO_E_TRUNCATED;
	if (len > lim->max_payload)
		return -NRV_PROTO_E_OVERSIZE;
	if (ld16(buf) != NRV_PROTO_MAGIC)
		return -NRV_PROTO_E_MAGIC;
	h->version = buf[2];
	h->type = buf[3];
	h->flags = ld16(buf + 4);
	h->payload_len = ld16(buf + 6);
	h->id = ld64(buf + 8);
	h->seq = ld32(buf + 16);
	h->frag_index = ld16(buf + 20);
	h->frag_count = ld16(buf + 22);
	h->total_len = ld32(buf + 24);
	h->crc = ld32(buf + 28);
	if (h->version != NRV_PROTO_VERSION)
		return -NRV_PROTO_E_VERSION;
	if (h->type == 0 || h->type > NRV_PROTO_TYPE_MAX)
		return -NRV_PROTO_E_TYPE;
	if (h->payload_len != len - NRV_PROTO_HDR)
		return -NRV_PROTO_E_LENGTH;
	if (dgram_crc(buf, len) != h->crc)
		return -NRV_PROTO_E_CRC;

	uint16_t allowed = h->type == NRV_PROTO_REQUEST ? NRV_PROTO_F_RETRY : 0;
	if (h->flags & ~allowed)
		return -NRV_PROTO_E_RESERVED;
	/* The id is the key of everything; 0 is never a valid one. */
	if (h->id == 0)
		return -NRV_PROTO_E_RESERVED;
	bool sequenced = h->type == NRV_PROTO_TOKENS || h->type == NRV_PROTO_FINAL ||
			 h->type == NRV_PROTO_ERROR;
	if (!sequenced && h->seq != 0)
		return -NRV_PROTO_E_RESERVED;

	if (h->type == NRV_PROTO_REQUEST) {
		if (h->frag_count == 0 || h->frag_index >= h->frag_count ||
		    h->frag_count > lim->max_frags)
			return -NRV_PROTO_E_FRAG;
		if (h->total_len < NRV_PROTO_REQ_FIXED + 1 || h->total_len > lim->max_request_bytes)
			return -NRV_PROTO_E_FRAG;
		/* A fragment cannot hold more than the body, nor can the body
		 * have fewer bytes than one per fragment. */
		if (h->payload_len > h->total_len || h->frag_count > h->total_len)
			return -NRV_PROTO_E_FRAG;
		if (h->frag_count == 1 && h->payload_len != h->total_len)
			return -NRV_PROTO_E_FRAG;
		/* The body must fit the fragments at this datagram size. */
		uint64_t room = (uint64_t)h->frag_count * (lim->max_payload - NRV_PROTO_HDR);
		if (room < h->total_len)
			return -NRV_PROTO_E_FRAG;
	} else if (h->frag_index != 0 || h->frag_count != 1 || h->total_len != 0) {
		return -NRV_PROTO_E_FRAG;
	}
	m->payload = buf + NRV_PROTO_HDR;
	return dec_payload(m);
}

int nrv_proto_decode(const uint8_t *buf, size_t len, const struct nrv_proto_limits *lim,
		     struct nrv_proto_msg *m, struct nrv_proto_stats *st)
{
	static const struct nrv_proto_limits defaults = {
		NRV_PROTO_MAX_PAYLOAD, 262144, 1024,
	};
	int rc = decode(buf, len, lim ? lim : &defaults, m);
	if (st) {
		if (rc == 0)
			st->ok++;
		else
			st->bad[-rc]++;
	}
	return rc;
}

static bool finite_in(float v, float lo, float hi)
{
	return isfinite(v) && v >= lo && v <= hi;
}

int nrv_proto_request_parse(const uint8_t *body, size_t len, struct nrv_proto_request *r)
{
	const int bad = -NRV_PROTO_E_BODY;
	if (len < NRV_PROTO_REQ_FIXED)
		return bad;
	memset(r, 0, sizeof(*r));
	struct nrv_proto_params *p = &r->p;
	p->set = ld16(body);
	r->prompt_kind = body[2];
	r->n_stop = body[3];
	r->model_len = body[4];
	r->req_flags = body[5];
	if ((p->set & ~NRV_PROTO_SET_ALL) || r->prompt_kind > NRV_PROTO_PROMPT_IDS ||
	    r->n_stop > NRV_PROTO_MAX_STOP || (r->req_flags & ~NRV_PROTO_RF_IGNORE_EOS) ||
	    ld16(body + 6) != 0)
		return bad;

	/* Each parameter: present and in range, or absent and zero. */
	static const struct { uint16_t bit; uint8_t off; uint8_t size; } fields[] = {
		{NRV_PROTO_SET_MAX_TOKENS, 8, 4}, {NRV_PROTO_SET_TEMPERATURE, 12, 4},
		{NRV_PROTO_SET_TOP_P, 16, 4}, {NRV_PROTO_SET_TOP_K, 20, 4},
		{NRV_PROTO_SET_MIN_P, 24, 4}, {NRV_PROTO_SET_REPEAT_PENALTY, 28, 4},
		{NRV_PROTO_SET_FREQUENCY_PENALTY, 32, 4}, {NRV_PROTO_SET_PRESENCE_PENALTY, 36, 4},
		{NRV_PROTO_SET_PENALTY_LAST_N, 40, 4}, {NRV_PROTO_SET_SEED, 48, 8},
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (!(p->set & fields[i].bit)) {
			bool zero = fields[i].size == 4 ? ld32(body + fields[i].off) == 0
							: ld64(body + fields[i].off) == 0;
			if (!zero)
				return bad;
		}
	}
	p->max_tokens = ld32(body + 8);
	p->temperature = ldf(body + 12);
	p->top_p = ldf(body + 16);
	p->top_k = (int32_t)ld32(body + 20);
	p->min_p = ldf(body + 24);
	p->repeat_penalty = ldf(body + 28);
	p->frequency_penalty = ldf(body + 32);
	p->presence_penalty = ldf(body + 36);
	p->penalty_last_n = (int32_t)ld32(body + 40);
	r->prompt_len = ld32(body + 44);
	p->seed = ld64(body + 48);
	if ((p->set & NRV_PROTO_SET_MAX_TOKENS) &&
	    (p->max_tokens < 1 || p->max_tokens > NRV_PROTO_MAX_TOKENS))
		return bad;
	if ((p->set & NRV_PROTO_SET_TEMPERATURE) && !finite_in(p->temperature, 0, 1e30f))
		return bad;
	if ((p->set & NRV_PROTO_SET_TOP_P) && !finite_in(p->top_p, 0, 1e30f))
		return bad;
	if ((p->set & NRV_PROTO_SET_TOP_K) && p->top_k < 0)
		return bad;
	if ((p->set & NRV_PROTO_SET_MIN_P) && !finite_in(p->min_p, 0, 1))
		return bad;
	if ((p->set & NRV_PROTO_SET_REPEAT_PENALTY) &&
	    (!finite_in(p->repeat_penalty, 0, 1e30f) || p->repeat_penalty == 0))
		return bad;
	if ((p->set & NRV_PROTO_SET_FREQUENCY_PENALTY) && !finite_in(p->frequency_penalty, -2, 2))
		return bad;
	if ((p->set & NRV_PROTO_SET_PRESENCE_PENALTY) && !finite_in(p->presence_penalty, -2, 2))
		return bad;
	if ((p->set & NRV_PROTO_SET_PENALTY_LAST_N) && p->penalty_last_n < 0)
		return bad;

	size_t off = NRV_PROTO_REQ_FIXED;
	if (len - off < r->model_len)
		return bad;
	r->model = (const char *)(body + off);
	for (size_t i = 0; i < r->model_len; i++)
		if (body[off + i] < 0x21 || body[off + i] > 0x7e)
			return bad;
	off += r->model_len;
	for (uint8_t i = 0; i < r->n_stop; i++) {
		if (len - off < 1)
			return bad;
		uint8_t sl = body[off++];
		if (sl == 0 || len - off < sl || !utf8_ok(body + off, sl))
			return bad;
		r->stop[i] = (const char *)(body + off);
		r->stop_len[i] = sl;
		off += sl;
	}
	/* The prompt ends the body exactly. */
	if (r->prompt_len == 0 || len - off != r->prompt_len)
		return bad;
	r->prompt = body + off;
	if (r->prompt_kind == NRV_PROTO_PROMPT_TEXT) {
		if (!utf8_ok(r->prompt, r->prompt_len))
			return bad;
	} else {
		if (r->prompt_len % 4)
			return bad;
		for (uint32_t i = 0; i < r->prompt_len / 4; i++)
			if ((int32_t)ld32(r->prompt + 4 * (size_t)i) < 0)
				return bad;
	}
	return 0;
}

int32_t nrv_proto_prompt_id(const struct nrv_proto_request *r, uint32_t i)
{
	return (int32_t)ld32(r->prompt + 4 * (size_t)i);
}

void nrv_proto_tok_iter_init(struct nrv_proto_tok_iter *it, const struct nrv_proto_tokens *t)
{
	it->p = t->rec;
	it->end = t->rec + t->rec_len;
}

int nrv_proto_tok_next(struct nrv_proto_tok_iter *it, int32_t *id, const uint8_t **text,
		       uint16_t *len)
{
	/* Re-checked so a view that did not come from the decoder cannot
	 * walk past its end. */
	if ((size_t)(it->end - it->p) < NRV_PROTO_TOKEN_REC)
		return 0;
	uint16_t tl = ld16(it->p + 4);
	if ((size_t)(it->end - it->p) - NRV_PROTO_TOKEN_REC < tl)
		return 0;
	*id = (int32_t)ld32(it->p);
	*len = tl;
	*text = it->p + NRV_PROTO_TOKEN_REC;
	it->p += NRV_PROTO_TOKEN_REC + tl;
	return 1;
}

void nrv_proto_nack_range(const struct nrv_proto_nack *n, uint16_t i, uint32_t *first,
			  uint32_t *count)
{
	*first = ld32(n->ranges + 8 * (size_t)i);
	*count = ld32(n->ranges + 8 * (size_t)i + 4);
}

/* ---- encoding ---- */

void nrv_proto_seal(uint8_t *buf, size_t len)
{
	st16(buf + 6, (uint16_t)(len - NRV_PROTO_HDR));
	st32(buf + 28, dgram_crc(buf, len));
}

static void put_hdr(uint8_t *buf, uint8_t type, uint16_t flags, uint64_t id, uint32_t seq,
		    uint16_t index, uint16_t count, uint32_t total)
{
	st16(buf, NRV_PROTO_MAGIC);
	buf[2] = NRV_PROTO_VERSION;
	buf[3] = type;
	st16(buf + 4, flags);
	st16(buf + 6, 0);
	st64(buf + 8, id);
	st32(buf + 16, seq);
	st16(buf + 20, index);
	st16(buf + 22, count);
	st32(buf + 24, total);
	st32(buf + 28, 0);
}

size_t nrv_proto_request_size(const struct nrv_proto_request *r)
{
	size_t n = NRV_PROTO_REQ_FIXED + r->model_len + r->prompt_len;
	for (uint8_t i = 0; i < r->n_stop && i < NRV_PROTO_MAX_STOP; i++)
		n += 1 + (size_t)r->stop_len[i];
	return n;
}

long nrv_proto_request_encode(const struct nrv_proto_request *r, uint8_t *body, size_t cap)
{
	if (r->n_stop > NRV_PROTO_MAX_STOP || r->prompt_len == 0 || !r->prompt ||
	    (r->model_len && !r->model))
		return -EINVAL;
	size_t need = nrv_proto_request_size(r);
	if (need > cap)
		return -ENOSPC;
	const struct nrv_proto_params *p = &r->p;
	uint16_t s = p->set;
	memset(body, 0, NRV_PROTO_REQ_FIXED);
	st16(body, s);
	body[2] = r->prompt_kind;
	body[3] = r->n_stop;
	body[4] = r->model_len;
	body[5] = r->req_flags;
	if (s & NRV_PROTO_SET_MAX_TOKENS)
		st32(body + 8, p->max_tokens);
	if (s & NRV_PROTO_SET_TEMPERATURE)
		stf(body + 12, p->temperature);
	if (s & NRV_PROTO_SET_TOP_P)
		stf(body + 16, p->top_p);
	if (s & NRV_PROTO_SET_TOP_K)
		st32(body + 20, (uint32_t)p->top_k);
	if (s & NRV_PROTO_SET_MIN_P)
		stf(body + 24, p->min_p);
	if (s & NRV_PROTO_SET_REPEAT_PENALTY)
		stf(body + 28, p->repeat_penalty);
	if (s & NRV_PROTO_SET_FREQUENCY_PENALTY)
		stf(body + 32, p->frequency_penalty);
	if (s & NRV_PROTO_SET_PRESENCE_PENALTY)
		stf(body + 36, p->presence_penalty);
	if (s & NRV_PROTO_SET_PENALTY_LAST_N)
		st32(body + 40, (uint32_t)p->penalty_last_n);
	st32(body + 44, r->prompt_len);
	if (s & NRV_PROTO_SET_SEED)
		st64(body + 48, p->seed);
	size_t off = NRV_PROTO_REQ_FIXED;
	if (r->model_len)
		memcpy(body + off, r->model, r->model_len);
	off += r->model_len;
	for (uint8_t i = 0; i < r->n_stop; i++) {
		if (!r->stop[i] || !r->stop_len[i])
			return -EINVAL;
		body[off++] = r->stop_len[i];
		memcpy(body + off, r->stop[i], r->stop_len[i]);
		off += r->stop_len[i];
	}
	memcpy(body + off, r->prompt, r->prompt_len);
	off += r->prompt_len;
	/* What we send must pass our own parser: encoding a request the
	 * server would reject is a caller's bug better caught here. */
	struct nrv_proto_request chk;
	if (nrv_proto_request_parse(body, off, &chk))
		return -EINVAL;
	return (long)off;
}

uint32_t nrv_proto_frag_count(size_t total, uint32_t max_payload)
{
	size_t l = max_payload - NRV_PROTO_HDR;
	return (uint32_t)((total + l - 1) / l);
}

long nrv_proto_encode_fragment(uint8_t *buf, size_t cap, uint32_t max_payload, uint64_t id,
			       uint16_t flags, const uint8_t *body, size_t total, uint32_t index)
{
	if (max_payload < NRV_PROTO_MIN_PAYLOAD_CFG || max_payload > NRV_PROTO_MAX_PAYLOAD_JUMBO ||
	    id == 0 || total == 0 || total > UINT32_MAX || (flags & ~NRV_PROTO_F_RETRY))
		return -EINVAL;
	uint32_t count = nrv_proto_frag_count(total, max_payload);
	if (count > NRV_PROTO_MAX_FRAGS_CAP || index >= count)
		return -EINVAL;
	size_t l = max_payload - NRV_PROTO_HDR;
	size_t off = (size_t)index * l;
	size_t n = total - off < l ? total - off : l;
	if (cap < NRV_PROTO_HDR + n)
		return -ENOSPC;
	put_hdr(buf, NRV_PROTO_REQUEST, flags, id, 0, (uint16_t)index, (uint16_t)count,
		(uint32_t)total);
	memcpy(buf + NRV_PROTO_HDR, body + off, n);
	nrv_proto_seal(buf, NRV_PROTO_HDR + n);
	return (long)(NRV_PROTO_HDR + n);
}

long nrv_proto_encode(uint8_t *buf, size_t cap, uint8_t type, uint64_t id, uint32_t seq,
		      uint16_t flags, const void *payload, size_t plen)
{
	if (type == 0 || type > NRV_PROTO_TYPE_MAX || type == NRV_PROTO_REQUEST ||
	    plen > NRV_PROTO_MAX_PAYLOAD_JUMBO - NRV_PROTO_HDR)
		return -EINVAL;
	if (cap < NRV_PROTO_HDR + plen)
		return -ENOSPC;
	put_hdr(buf, type, flags, id, seq, 0, 1, 0);
	if (plen)
		memmove(buf + NRV_PROTO_HDR, payload, plen);
	nrv_proto_seal(buf, NRV_PROTO_HDR + plen);
	return (long)(NRV_PROTO_HDR + plen);
}

size_t nrv_proto_final_payload(uint8_t out[NRV_PROTO_FINAL_LEN], const struct nrv_proto_final *f)
{
	memset(out, 0, NRV_PROTO_FINAL_LEN);
	out[0] = f->finish;
	st32(out + 4, f->prompt_tokens);
	st32(out + 8, f->completion_tokens);
	st64(out + 16, f->queue_ns);
	st64(out + 24, f->prefill_ns);
	st64(out + 32, f->decode_ns);
	st64(out + 40, f->total_ns);
	return NRV_PROTO_FINAL_LEN;
}

long nrv_proto_error_payload(uint8_t *out, size_t cap, uint16_t code, uint32_t retry_after_ms,
			     const char *msg)
{
	size_t n = msg ? strlen(msg) : 0;
	if (n > NRV_PROTO_MAX_ERRMSG) {
		n = NRV_PROTO_MAX_ERRMSG;
		/* Do not cut a UTF-8 character in two. */
		while (n > 0 && ((uint8_t)msg[n] & 0xc0) == 0x80)
			n--;
	}
	if (cap < 8 + n)
		return -ENOSPC;
	st16(out, code);
	st16(out + 2, (uint16_t)n);
	st32(out + 4, retry_after_ms);
	if (n)
		memcpy(out + 8, msg, n);
	return (long)(8 + n);
}

size_t nrv_proto_accept_payload(uint8_t out[NRV_PROTO_ACCEPT_LEN], uint32_t window,
				uint16_t max_payload)
{
	st32(out, window);
	st16(out + 4, max_payload);
	st16(out + 6, 0);
	return NRV_PROTO_ACCEPT_LEN;
}

long nrv_proto_nack_payload(uint8_t *out, size_t cap, const uint32_t *first,
			    const uint32_t *count, uint16_t n)
{
	if (n == 0 || n > NRV_PROTO_MAX_NACK)
		return -EINVAL;
	if (cap < 8u * n)
		return -ENOSPC;
	for (uint16_t i = 0; i < n; i++) {
		if (count[i] == 0 || count[i] > NRV_PROTO_MAX_NACK_COUNT ||
		    (uint64_t)first[i] + count[i] > (uint64_t)UINT32_MAX + 1)
			return -EINVAL;
		st32(out + 8 * (size_t)i, first[i]);
		st32(out + 8 * (size_t)i + 4, count[i]);
	}
	return 8L * n;
}

void nrv_proto_tmpl_init(struct nrv_proto_tmpl *t, uint64_t id)
{
	put_hdr(t->hdr, NRV_PROTO_TOKENS, 0, id, 0, 0, 1, 0);
}

int nrv_proto_tokens_begin(struct nrv_proto_tokbuf *b, uint8_t *buf, size_t cap,
			   const struct nrv_proto_tmpl *t, uint32_t seq, uint32_t first_index)
{
	if (cap < NRV_PROTO_HDR + NRV_PROTO_TOKENS_HDR)
		return -ENOSPC;
	memcpy(buf, t->hdr, NRV_PROTO_HDR);
	buf[3] = NRV_PROTO_TOKENS;
	st32(buf + 16, seq);
	uint8_t *p = buf + NRV_PROTO_HDR;
	st16(p, 0);
	st16(p + 2, 0);
	st32(p + 4, first_index);
	b->buf = buf;
	b->cap = cap;
	b->len = NRV_PROTO_HDR + NRV_PROTO_TOKENS_HDR;
	b->n = 0;
	return 0;
}

int nrv_proto_tokens_add(struct nrv_proto_tokbuf *b, int32_t id, const void *text, size_t len)
{
	if (len > UINT16_MAX || b->n == UINT16_MAX)
		return -EINVAL;
	if (b->cap - b->len < NRV_PROTO_TOKEN_REC + len)
		return -ENOSPC;
	uint8_t *p = b->buf + b->len;
	st32(p, (uint32_t)id);
	st16(p + 4, (uint16_t)len);
	if (len)
		memcpy(p + NRV_PROTO_TOKEN_REC, text, len);
	b->len += NRV_PROTO_TOKEN_REC + len;
	b->n++;
	return 0;
}

size_t nrv_proto_tokens_finish(struct nrv_proto_tokbuf *b)
{
	if (b->n == 0)
		return 0;
	st16(b->buf + NRV_PROTO_HDR, b->n);
	nrv_proto_seal(b->buf, b->len);
	return b->len;
}
