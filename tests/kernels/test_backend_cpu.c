/*
 * tests/kernels/test_backend_cpu.c - the CPU backend's element-wise ops and
 * attention: batch invariance.
 *
 * A query's attention output (and every row of rmsnorm, rope, swiglu, add,
 * kv_store) must be the same bits whatever the thread count (1, 2, 3), the
 * number of tokens per step, and the paging of the KV cache. The ref table
 * is checked against the best table with a tolerance.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/cpu/kernels.h"

static uint64_t rng_state;

static float frand(void) /* uniform in [-1, 1) */
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return (float)((double)(x >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

enum { N_TOK = 41, MAX_CTX = 64, BLOCK = 8, N_POOL_BLOCKS = MAX_CTX / BLOCK };

struct shape {
	int n_head, n_kv_head, head_dim;
};

static struct nrv_backend *make_backend(int threads, const char *isa)
{
	if (isa)
		setenv("NRV_CPU", isa, 1);
	struct nrv_backend_cfg cfg = {
		.n_threads = threads, .max_tokens = N_TOK, .max_row = 1024, .max_ctx = MAX_CTX,
		.max_heads = 16,
	};
	struct nrv_backend *be = NULL;
	int rc = nrv_backend_cpu_ops.create(&cfg, &be);
	if (isa)
		unsetenv("NRV_CPU");
	cr_assert_eq(rc, 0, "create (%d threads): %d", threads, rc);
	return be;
}

/*
 * Run kv_store + attention over N_TOK tokens in steps of the given sizes
 * (a 0-terminated list), KV cache paged in blocks of BLOCK positions when
 * `paged` (in a scrambled block order), else one block. Returns out.
 */
static void run_attention(struct nrv_backend *be, const struct shape *s, const float *q,
			  const float *k, const float *v, const int *steps, int paged, float *out)
{
	const struct nrv_backend_ops *o = &nrv_backend_cpu_ops;
	int kv_dim = s->n_kv_head * s->head_dim, qd = s->n_head * s->head_dim;
	nrv_half *kc = o->alloc(be, (size_t)MAX_CTX * kv_dim * sizeof(nrv_half));
	nrv_half *vc = o->alloc(be, (size_t)MAX_CTX * kv_dim * sizeof(nrv_half));
	static const int32_t scrambled[N_POOL_BLOCKS] = { 5, 2, 7, 0, 3, 6, 1, 4 };
	static const int32_t one = 0;
	struct nrv_kv_view kv = {
		.k = kc, .v = vc, .blocks = paged ? scrambled : &one,
		.n_blocks = paged ? N_POOL_BLOCKS : 1, .block_tokens = paged ? BLOCK : MAX_CTX,
		.kv_dim = kv_dim,
	};
	struct nrv_attn_params ap = {
		.n_head = s->n_head, .n_kv_head = s->n_kv_head, .head_dim = s->head_dim,
		.scale = 1.0f / sqrtf((float)s->head_dim),
	};
	int32_t pos[N_TOK];
	for (int i = 0; i < N_TOK; i++)
		pos[i] = i;
	int done = 0;
	for (int i = 0; done < N_TOK; i++) {
		int n = steps[i] ? steps[i] : N_TOK - done;
		if (n > N_TOK - done)
			n = N_TOK - done;
		o->kv_store(be, &kv, k + (size_t)done * kv_dim, v + (size_t)done * kv_dim, n, pos + done);
		o->attention(be, &ap, &kv, q + (size_t)done * qd, n, pos + done, out + (size_t)done * qd);
		done += n;
	}
	o->free(be, kc);
	o->free(be, vc);
}

static void check_shape(const struct shape *s)
{
	int kv_dim = s->n_kv_head * s->head_dim, qd = s->n_head * s->head_dim;
	float *q = malloc(sizeof(float) * N_TOK * qd), *k = malloc(sizeof(float) * N_TOK * kv_dim);
	float *v = malloc(sizeof(float) * N_TOK * kv_dim);
	float *want = malloc(sizeof(float) * N_TOK * qd), *got = malloc(sizeof(float) * N_TOK * qd);
	for (int i = 0; i < N_TOK * qd; i++)
		q[i] = 3.0f * frand();
	for (int i = 0; i < N_TOK * kv_dim; i++) {
		k[i] = 3.0f * frand();
		v[i] = frand();
	}
	static const int all[] = { 0 };
	static const int singles[] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
				       1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	static const int uneven[] = { 5, 1, 13, 3, 0 };
	static const int halves[] = { 20, 0 };
	static const int *splits[] = { all, singles, uneven, halves };
	struct nrv_backend *be1 = make_backend(1, NULL);
	run_attention(be1, s, q, k, v, all, 0, want);
	for (int th = 1; th <= 3; th++) {
		struct nrv_backend *be = th == 1 ? be1 : make_backend(th, NULL);
		for (int si = 0; si < 4; si++) {
			for (int paged = 0; paged < 2; paged++) {
				memset(got, 0xff, sizeof(float) * N_TOK * qd);
				run_attention(be, s, q, k, v, splits[si], paged, got);
				cr_assert(memcmp(got, want, sizeof(float) * N_TOK * qd) == 0,
					  "heads %d/%d x %d: %d threads, split %d, paged %d: not the same bits",
					  s->n_head, s->n_kv_head, s->head_dim, th, si, paged);
			}
		}
		if (th != 1)
			nrv_backend_cpu_ops.destroy(be);
	}
	/* The reference table: only the scores' summation order differs. */
	struct nrv_backend *ber = make_backend(2, "ref");
	run_attention(ber, s, q, k, v, uneven, 1, got);
	for (int i = 0; i < N_TOK * qd; i++)
		cr_assert(fabsf(got[i] - want[i]) <= 1e-3f, "ref vs best table [%d]: %g vs %g", i,
			  got[i], want[i]);
	nrv_backend_cpu_ops.destroy(ber);
	nrv_backend_cpu_ops.destroy(be1);
	free(q);
	free(k);
	free(v);
	free(want);
	free(got);
}

static void seed(void)
{
	rng_state = 0x9e3779b97f4a7c15ULL;
}

Test(backend_cpu, attention_gqa_invariance, .init = seed)
{
	check_shape(&(struct shape){ .n_head = 9, .n_kv_head = 3, .head_dim = 64 });
}

Test(backend_cpu, attention_mha_invariance, .init = seed)
{
	check_shape(&(struct shape){ .n_head = 4, .n_kv_head = 4, .head_dim = 72 });
}

Test(backend_cpu, attention_mqa_invariance, .init = seed)
{
	check_shape(&(struct shape){ .n_head = 6, .n_kv_head = 1, .head_dim = 20 });
}

/* rmsnorm, rope, swiglu, add on the team: the bits of the per-row
 * references, for 1, 2 and 3 threads. */
Test(backend_cpu, elementwise_invariance, .init = seed)
{
	enum { N = 37, DIM = 576, NH = 9, HD = 64, FF = 1536 };
	const struct nrv_backend_ops *o = &nrv_backend_cpu_ops;
	static float x[N * FF], w[DIM], up[N * FF], want[N * FF], got[N * FF];
	int32_t pos[N];
	for (int i = 0; i < N * FF; i++) {
		x[i] = 4.0f * frand();
		up[i] = frand();
	}
	for (int i = 0; i < DIM; i++)
		w[i] = frand();
	for (int i = 0; i < N; i++)
		pos[i] = 3 * i + 1;
	for (int th = 1; th <= 3; th++) {
		struct nrv_backend *be = make_backend(th, NULL);
		for (int i = 0; i < N; i++)
			nrv_rmsnorm_ref(x + i * DIM, w, want + i * DIM, DIM, 1e-5f);
		o->rmsnorm(be, x, w, got, N, DIM, 1e-5f);
		cr_assert(memcmp(want, got, sizeof(float) * N * DIM) == 0, "rmsnorm, %d threads", th);
		memcpy(want, x, sizeof(float) * N * DIM);
		memcpy(got, x, sizeof(float) * N * DIM);
		for (int i = 0; i < N; i++)
			nrv_rope_ref(want + i * NH * HD, NH, HD, HD, pos[i], 10000.0f, 0);
		o->rope(be, got, N, NH, HD, HD, pos, 10000.0f, 0);
		cr_assert(memcmp(want, got, sizeof(float) * N * DIM) == 0, "rope, %d threads", th);
		nrv_swiglu_ref(x, up, want, N * FF);
		o->swiglu(be, x, up, got, N * FF);
		cr_assert(memcmp(want, got, sizeof(float) * N * FF) == 0, "swiglu, %d threads", th);
		memcpy(want, up, sizeof(float) * N * FF);
		memcpy(got, up, sizeof(float) * N * FF);
		for (int i = 0; i < N * FF; i++)
			want[i] += x[i];
		o->add(be, got, x, N * FF);
		cr_assert(memcmp(want, got, sizeof(float) * N * FF) == 0, "add, %d threads", th);
		o->destroy(be);
	}
}
