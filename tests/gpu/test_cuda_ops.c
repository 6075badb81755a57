/*
 * tests/gpu/test_cuda_ops.c - every CUDA op against the CPU backend (and
 * the matrix products also against an exact float reference) on random
 * data, for every weight type the CUDA kernels take; batch invariance of
 * the default matmul path; the cuBLAS path's error bound; a device error
 * reported by sync instead of aborting.
 *
 * Bounds (normalized mean squared error): 1e-7 by default; 5e-4 for a
 * matmul against the CPU backend (which quantizes the activations to 8
 * bits) and for the cuBLAS path (activations rounded to half); 1e-6 for
 * attention, whose probabilities are rounded to half after a score whose
 * dot product is summed in another order than the CPU's.
 *
 * Exit 0 pass, 1 fail, 77 skip (no CUDA build or no visible GPU).
 */
#include <errno.h>
#include <stdint.h>

#include "kernels/cpu/kernels.h"
#include "tests/gpu/gpu_util.h"

static int n_fail, n_pass;

static void check(const char *what, double e, double bound)
{
	bool ok = e <= bound;
	printf("%-4s %-40s nmse %.3g (bound %.0e)\n", ok ? "ok" : "FAIL", what, e, bound);
	if (ok)
		n_pass++;
	else
		n_fail++;
}

static void expect(const char *what, bool ok)
{
	printf("%-4s %s\n", ok ? "ok" : "FAIL", what);
	if (ok)
		n_pass++;
	else
		n_fail++;
}

/* xorshift64*: the same data on every machine. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}
static float frand(void) /* uniform in [-1, 1) */
{
	return (float)((double)rnd() / 2147483648.0 - 1.0);
}
static float gauss(void)
{
	float s = 0;
	for (int i = 0; i < 4; i++)
		s += frand();
	return s * 0.866f;
}

static void put_half(uint8_t *p, float v)
{
	nrv_half h = nrv_float_to_half(v);
	memcpy(p, &h, 2);
}

/* Random rows of a weight type: random quant bytes, sane scales. */
static void *rand_weights(int type, int rows, int k, size_t *row_bytes)
{
	int blck, bs;
	nrv_type_geom(type, &blck, &bs);
	size_t rb = (size_t)(k / blck) * bs;
	uint8_t *w = malloc(rb * rows);
	for (size_t i = 0; i < rb * rows; i++)
		w[i] = (uint8_t)rnd();
	size_t nblk = rb * rows / bs;
	for (size_t b = 0; b < nblk; b++) {
		uint8_t *p = w + b * bs;
		float d = (0.002f + 0.01f * (frand() + 1)) * (rnd() & 1 ? 1 : -1);
		switch (type) {
		case NRV_TYPE_F32: { float v = gauss() * 0.1f; memcpy(p, &v, 4); break; }
		case NRV_TYPE_F16: put_half(p, gauss() * 0.1f); break;
		case NRV_TYPE_BF16: { float v = gauss() * 0.1f; uint32_t u; memcpy(&u, &v, 4);
				      uint16_t h = (uint16_t)(u >> 16); memcpy(p, &h, 2); break; }
		case NRV_TYPE_Q4_0: case NRV_TYPE_Q5_0: case NRV_TYPE_Q8_0: put_half(p, d); break;
		case NRV_TYPE_Q4_1: case NRV_TYPE_Q5_1: put_half(p, fabsf(d)); put_half(p + 2, -8 * fabsf(d)); break;
		case NRV_TYPE_Q4_K: case NRV_TYPE_Q5_K: put_half(p, fabsf(d) * 0.1f); put_half(p + 2, fabsf(d) * 0.05f); break;
		case NRV_TYPE_Q6_K: put_half(p + 208, d * 0.05f); break;
		}
	}
	*row_bytes = rb;
	return w;
}

static struct nrv_backend_cfg cfg = {
	.n_threads = 4, .max_tokens = 64, .max_row = 1536, .max_ctx = 512, .max_heads = 16,
};

struct pair {
	struct nrv_backend *cpu, *gpu;
};

static float *gpu_get(struct nrv_backend *be, const float *dev, size_t n)
{
	float *h = malloc(n * sizeof(float));
	if (be->ops->read(be, h, dev, n * sizeof(float))) {
		for (size_t i = 0; i < n; i++)
			h[i] = NAN;
	}
	return h;
}

static float *rand_floats(size_t n, float scale)
{
	float *x = malloc(n * sizeof(float));
	for (size_t i = 0; i < n; i++)
		x[i] = gauss() * scale;
	return x;
}

/* ---- matmul ---- */

static void test_matmul(struct pair *b, int type)
{
	const int rows = 203, k = 768, N = 37;
	size_t rb;
	void *w = rand_weights(type, rows, k, &rb);
	struct nrv_tensor tc = { .type = type, .ne0 = k, .ne1 = rows, .row_bytes = rb, .data = w, .name = "w" };
	struct nrv_tensor tg = tc;
	char name[96];
	const char *tn = nrv_type_name(type);
	if (b->cpu->ops->upload(b->cpu, &tc) || b->gpu->ops->upload(b->gpu, &tg)) {
		snprintf(name, sizeof(name), "matmul %s: upload", tn);
		expect(name, false);
		free(w);
		return;
	}
	float *x = rand_floats((size_t)N * k, 1.0f);
	float *yc = calloc((size_t)N * rows, sizeof(float));
	float *dx = dev_put(b->gpu, x, (size_t)N * k * sizeof(float));
	float *dy = b->gpu->ops->alloc(b->gpu, (size_t)N * rows * sizeof(float));
	int ns[] = { 1, 5, N };
	float *y_all = NULL;
	for (int c = 0; c < 3; c++) {
		int n = ns[c];
		b->cpu->ops->matmul(b->cpu, &tc, x, n, yc);
		b->gpu->ops->matmul(b->gpu, &tg, dx, n, dy);
		float *yg = gpu_get(b->gpu, dy, (size_t)n * rows);
		snprintf(name, sizeof(name), "matmul %s n=%d vs cpu", tn, n);
		check(name, nmse(yc, yg, (size_t)n * rows), 5e-4);
		/* exact: float dequant, double dot */
		float *wr = malloc((size_t)k * sizeof(float));
		double *ex = calloc((size_t)n * rows, sizeof(double));
		float *exf = malloc((size_t)n * rows * sizeof(float));
		for (int r = 0; r < rows; r++) {
			nrv_dequant_row_ref(type, (uint8_t *)w + (size_t)r * rb, wr, k);
			for (int t = 0; t < n; t++) {
				double s = 0;
				for (int i = 0; i < k; i++)
					s += (double)wr[i] * x[(size_t)t * k + i];
				exf[(size_t)t * rows + r] = (float)s;
			}
		}
		snprintf(name, sizeof(name), "matmul %s n=%d vs exact", tn, n);
		check(name, nmse(exf, yg, (size_t)n * rows), 1e-7);
		free(wr);
		free(ex);
		free(exf);
		if (n == N)
			y_all = yg;
		else if (n == 1) {
			free(yg);
		} else {
			free(yg);
		}
	}
	/* batch invariance: token t alone gives the bits it got among N */
	int same = 1;
	for (int t = 0; t < N && y_all; t += 6) {
		b->gpu->ops->matmul(b->gpu, &tg, dx + (size_t)t * k, 1, dy);
		float *y1 = gpu_get(b->gpu, dy, rows);
		if (memcmp(y1, y_all + (size_t)t * rows, rows * sizeof(float)))
			same = 0;
		free(y1);
	}
	snprintf(name, sizeof(name), "matmul %s batch invariant (n=1 vs n=%d)", tn, N);
	expect(name, same);
	free(y_all);
	b->gpu->ops->free(b->gpu, dx);
	b->gpu->ops->free(b->gpu, dy);
	free(x);
	free(yc);
	free(w);
}

/* The opt-in cuBLAS path on its own backend. */
static void test_cublas(const struct nrv_backend_ops *cu)
{
	setenv("NRV_CUDA_GEMM", "cublas", 1);
	setenv("NRV_CUDA_GEMM_MIN", "8", 1);
	struct nrv_backend *g;
	int rc = cu->create(&cfg, &g);
	unsetenv("NRV_CUDA_GEMM");
	unsetenv("NRV_CUDA_GEMM_MIN");
	if (rc) {
		expect("cublas backend create", false);
		return;
	}
	int types[] = { NRV_TYPE_Q4_1, NRV_TYPE_Q8_0, NRV_TYPE_Q6_K, NRV_TYPE_F16 };
	for (size_t ti = 0; ti < sizeof(types) / sizeof(types[0]); ti++) {
		const int rows = 512, k = 1536, n = 40;
		size_t rb;
		void *w = rand_weights(types[ti], rows, k, &rb);
		struct nrv_tensor t = { .type = types[ti], .ne0 = k, .ne1 = rows, .row_bytes = rb, .data = w, .name = "w" };
		char name[96];
		if (g->ops->upload(g, &t)) {
			expect("cublas upload", false);
			free(w);
			continue;
		}
		float *x = rand_floats((size_t)n * k, 1.0f);
		float *dx = dev_put(g, x, (size_t)n * k * sizeof(float));
		float *dy = g->ops->alloc(g, (size_t)n * rows * sizeof(float));
		g->ops->matmul(g, &t, dx, n, dy);
		float *yg = gpu_get(g, dy, (size_t)n * rows);
		float *ex = malloc((size_t)n * rows * sizeof(float));
		float *wr = malloc((size_t)k * sizeof(float));
		for (int r = 0; r < rows; r++) {
			nrv_dequant_row_ref(types[ti], (uint8_t *)w + (size_t)r * rb, wr, k);
			for (int tt = 0; tt < n; tt++) {
				double s = 0;
				for (int i = 0; i < k; i++)
					s += (double)wr[i] * x[(size_t)tt * k + i];
				ex[(size_t)tt * rows + r] = (float)s;
			}
		}
		snprintf(name, sizeof(name), "cublas matmul %s n=%d vs exact", nrv_type_name(types[ti]), n);
		check(name, nmse(ex, yg, (size_t)n * rows), 5e-4);
		g->ops->free(g, dx);
		g->ops->free(g, dy);
		free(x);
		free(yg);
		free(ex);
		free(wr);
		free(w);
	}
	expect("cublas backend sync", g->ops->sync(g) == 0);
	g->ops->destroy(g);
}

/* ---- get_rows ---- */

static void test_get_rows(struct pair *b, int type)
{
	const int rows = 300, k = 512, n = 17;
	size_t rb;
	void *w = rand_weights(type, rows, k, &rb);
	struct nrv_tensor tc = { .type = type, .ne0 = k, .ne1 = rows, .row_bytes = rb, .data = w, .name = "emb" };
	struct nrv_tensor tg = tc;
	char name[96];
	snprintf(name, sizeof(name), "get_rows %s", nrv_type_name(type));
	if (b->gpu->ops->upload(b->gpu, &tg)) {
		expect(name, false);
		free(w);
		return;
	}
	int32_t ids[17];
	for (int i = 0; i < n; i++)
		ids[i] = (int32_t)(rnd() % rows);
	ids[3] = ids[5];
	ids[n - 1] = rows - 1;
	float *yc = calloc((size_t)n * k, sizeof(float));
	b->cpu->ops->get_rows(b->cpu, &tc, ids, n, yc);
	float *dy = b->gpu->ops->alloc(b->gpu, (size_t)n * k * sizeof(float));
	b->gpu->ops->get_rows(b->gpu, &tg, ids, n, dy);
	float *yg = gpu_get(b->gpu, dy, (size_t)n * k);
	check(name, nmse(yc, yg, (size_t)n * k), 1e-7);
	snprintf(name, sizeof(name), "get_rows %s bit for bit", nrv_type_name(type));
	expect(name, !memcmp(yc, yg, (size_t)n * k * sizeof(float)));
	b->gpu->ops->free(b->gpu, dy);
	free(yc);
	free(yg);
	free(w);
}

/* ---- float ops ---- */

static void test_rmsnorm(struct pair *b)
{
	const int n = 7, dim = 576;
	float *x = rand_floats((size_t)n * dim, 2.0f), *w = rand_floats(dim, 1.0f);
	float *yc = calloc((size_t)n * dim, sizeof(float));
	b->cpu->ops->rmsnorm(b->cpu, x, w, yc, n, dim, 1e-5f);
	float *dx = dev_put(b->gpu, x, (size_t)n * dim * 4), *dw = dev_put(b->gpu, w, dim * 4);
	float *dy = b->gpu->ops->alloc(b->gpu, (size_t)n * dim * 4);
	b->gpu->ops->rmsnorm(b->gpu, dx, dw, dy, n, dim, 1e-5f);
	float *yg = gpu_get(b->gpu, dy, (size_t)n * dim);
	check("rmsnorm", nmse(yc, yg, (size_t)n * dim), 1e-7);
	b->gpu->ops->free(b->gpu, dx);
	b->gpu->ops->free(b->gpu, dw);
	b->gpu->ops->free(b->gpu, dy);
	free(x); free(w); free(yc); free(yg);
}

static void test_rope(struct pair *b, int mode, int n_rot)
{
	const int n = 9, nh = 9, hd = 64;
	size_t sz = (size_t)n * nh * hd;
	float *x = rand_floats(sz, 1.0f);
	int32_t pos[9];
	for (int i = 0; i < n; i++)
		pos[i] = (int32_t)(rnd() % 8000);
	pos[0] = 0;
	float *dx = dev_put(b->gpu, x, sz * 4);
	b->cpu->ops->rope(b->cpu, x, n, nh, hd, n_rot, pos, 100000.0f, mode);
	b->gpu->ops->rope(b->gpu, dx, n, nh, hd, n_rot, pos, 100000.0f, mode);
	float *yg = gpu_get(b->gpu, dx, sz);
	char name[64];
	snprintf(name, sizeof(name), "rope mode %d n_rot %d", mode, n_rot);
	check(name, nmse(x, yg, sz), 1e-7);
	b->gpu->ops->free(b->gpu, dx);
	free(x); free(yg);
}

static void test_flat(struct pair *b)
{
	const int n = 10007;
	float *g = rand_floats(n, 3.0f), *u = rand_floats(n, 1.0f);
	float *oc = calloc(n, 4);
	float *dg = dev_put(b->gpu, g, n * 4), *du = dev_put(b->gpu, u, n * 4);
	float *dout = b->gpu->ops->alloc(b->gpu, n * 4);
	b->cpu->ops->swiglu(b->cpu, g, u, oc, n);
	b->gpu->ops->swiglu(b->gpu, dg, du, dout, n);
	float *og = gpu_get(b->gpu, dout, n);
	check("swiglu", nmse(oc, og, n), 1e-7);
	b->cpu->ops->add(b->cpu, g, u, n);
	b->gpu->ops->add(b->gpu, dg, du, n);
	float *ag = gpu_get(b->gpu, dg, n);
	check("add", nmse(g, ag, n), 1e-7);
	b->gpu->ops->free(b->gpu, dg);
	b->gpu->ops->free(b->gpu, du);
	b->gpu->ops->free(b->gpu, dout);
	free(g); free(u); free(oc); free(og); free(ag);
}

/* ---- KV store and attention over a shuffled paged cache ---- */

static void test_attention(struct pair *b, int nh, int nkv, int hd)
{
	const int bt = 16, n_pool = 24, n_blocks = 20, n_pre = 45;
	int kv_dim = nkv * hd;
	size_t pool_elems = (size_t)n_pool * bt * kv_dim;
	int32_t blocks[20];
	for (int i = 0; i < n_blocks; i++)
		blocks[i] = i + 3;
	for (int i = n_blocks - 1; i > 0; i--) { /* shuffle */
		int j = (int)(rnd() % (uint32_t)(i + 1));
		int32_t t = blocks[i]; blocks[i] = blocks[j]; blocks[j] = t;
	}
	nrv_half *kc = calloc(pool_elems, 2), *vc = calloc(pool_elems, 2);
	nrv_half *kg = b->gpu->ops->alloc(b->gpu, pool_elems * 2);
	nrv_half *vg = b->gpu->ops->alloc(b->gpu, pool_elems * 2);
	struct nrv_kv_view vcpu = { .k = kc, .v = vc, .blocks = blocks, .n_blocks = n_blocks, .block_tokens = bt, .kv_dim = kv_dim };
	struct nrv_kv_view vgpu = vcpu;
	vgpu.k = kg;
	vgpu.v = vg;
	struct nrv_attn_params ap = { .n_head = nh, .n_kv_head = nkv, .head_dim = hd, .scale = 1.0f / sqrtf((float)hd) };
	char name[96];
	int starts[2] = { 0, n_pre }, counts[2] = { n_pre, 1 };
	for (int phase = 0; phase < 2; phase++) {
		int n = counts[phase];
		int32_t pos[64];
		for (int i = 0; i < n; i++)
			pos[i] = starts[phase] + i;
		float *k = rand_floats((size_t)n * kv_dim, 1.0f), *v = rand_floats((size_t)n * kv_dim, 1.0f);
		float *q = rand_floats((size_t)n * nh * hd, 1.0f);
		float *dk = dev_put(b->gpu, k, (size_t)n * kv_dim * 4), *dv = dev_put(b->gpu, v, (size_t)n * kv_dim * 4);
		float *dq = dev_put(b->gpu, q, (size_t)n * nh * hd * 4);
		float *oc = calloc((size_t)n * nh * hd, 4);
		float *dout = b->gpu->ops->alloc(b->gpu, (size_t)n * nh * hd * 4);
		b->cpu->ops->kv_store(b->cpu, &vcpu, k, v, n, pos);
		b->gpu->ops->kv_store(b->gpu, &vgpu, dk, dv, n, pos);
		b->cpu->ops->attention(b->cpu, &ap, &vcpu, q, n, pos, oc);
		b->gpu->ops->attention(b->gpu, &ap, &vgpu, dq, n, pos, dout);
		float *og = gpu_get(b->gpu, dout, (size_t)n * nh * hd);
		nrv_half *kh = malloc(pool_elems * 2), *vh = malloc(pool_elems * 2);
		b->gpu->ops->read(b->gpu, kh, kg, pool_elems * 2);
		b->gpu->ops->read(b->gpu, vh, vg, pool_elems * 2);
		snprintf(name, sizeof(name), "kv_store %s heads %d/%d hd %d: pools equal", phase ? "decode" : "prefill", nh, nkv, hd);
		expect(name, !memcmp(kh, kc, pool_elems * 2) && !memcmp(vh, vc, pool_elems * 2));
		snprintf(name, sizeof(name), "attention %s n=%d heads %d/%d hd %d", phase ? "decode" : "prefill", n, nh, nkv, hd);
		check(name, nmse(oc, og, (size_t)n * nh * hd), 1e-6);
		b->gpu->ops->free(b->gpu, dk);
		b->gpu->ops->free(b->gpu, dv);
		b->gpu->ops->free(b->gpu, dq);
		b->gpu->ops->free(b->gpu, dout);
		free(k); free(v); free(q); free(oc); free(og); free(kh); free(vh);
	}
	b->gpu->ops->free(b->gpu, kg);
	b->gpu->ops->free(b->gpu, vg);
	free(kc);
	free(vc);
}

/* attention_multi: several sequences (decode and prefill chunks, own
 * shuffled block tables in one pool) in one call give every query the
 * bits attention() on its own sequence gives, and match the CPU. */
static void test_attention_multi(struct pair *b, int nh, int nkv, int hd)
{
	enum { S = 5, BT = 16, NB = 4, POOL = S * NB + 2 };
	const int n_tok[S] = { 1, 3, 1, 2, 1 }, pos0[S] = { 40, 17, 0, 60, 33 };
	int kv_dim = nkv * hd, QD = nh * hd, n = 0;
	for (int s = 0; s < S; s++)
		n += n_tok[s];
	size_t pool_elems = (size_t)POOL * BT * kv_dim;
	int32_t tables[S][NB], perm[S * NB];
	for (int i = 0; i < S * NB; i++)
		perm[i] = i + 1;
	for (int i = S * NB - 1; i > 0; i--) {
		int j = (int)(rnd() % (uint32_t)(i + 1));
		int32_t t = perm[i]; perm[i] = perm[j]; perm[j] = t;
	}
	for (int s = 0; s < S; s++)
		for (int i = 0; i < NB; i++)
			tables[s][i] = perm[s * NB + i];
	nrv_half *kc = calloc(pool_elems, 2), *vc = calloc(pool_elems, 2);
	nrv_half *kg = b->gpu->ops->alloc(b->gpu, pool_elems * 2);
	nrv_half *vg = b->gpu->ops->alloc(b->gpu, pool_elems * 2);
	struct nrv_kv_view vcpu[S], vgpu[S];
	int32_t pos[64];
	for (int s = 0, t = 0; s < S; s++) {
		vcpu[s] = (struct nrv_kv_view){ .k = kc, .v = vc, .blocks = tables[s], .n_blocks = NB,
						.block_tokens = BT, .kv_dim = kv_dim };
		vgpu[s] = vcpu[s];
		vgpu[s].k = kg;
		vgpu[s].v = vg;
		/* the whole history of the sequence, then its step's tokens */
		int len = pos0[s] + n_tok[s];
		int32_t hp[64];
		for (int i = 0; i < len; i++)
			hp[i] = i;
		float *k = rand_floats((size_t)len * kv_dim, 1.0f), *v = rand_floats((size_t)len * kv_dim, 1.0f);
		float *dk = dev_put(b->gpu, k, (size_t)len * kv_dim * 4), *dv = dev_put(b->gpu, v, (size_t)len * kv_dim * 4);
		b->cpu->ops->kv_store(b->cpu, &vcpu[s], k, v, len, hp);
		b->gpu->ops->kv_store(b->gpu, &vgpu[s], dk, dv, len, hp);
		b->gpu->ops->sync(b->gpu);
		b->gpu->ops->free(b->gpu, dk);
		b->gpu->ops->free(b->gpu, dv);
		free(k);
		free(v);
		for (int i = 0; i < n_tok[s]; i++, t++)
			pos[t] = pos0[s] + i;
	}
	struct nrv_attn_params ap = { .n_head = nh, .n_kv_head = nkv, .head_dim = hd, .scale = 1.0f / sqrtf((float)hd) };
	float *q = rand_floats((size_t)n * QD, 1.0f);
	float *dq = dev_put(b->gpu, q, (size_t)n * QD * 4);
	float *d1 = b->gpu->ops->alloc(b->gpu, (size_t)n * QD * 4);
	float *dm = b->gpu->ops->alloc(b->gpu, (size_t)n * QD * 4);
	float *oc = calloc((size_t)n * QD, 4);
	for (int s = 0, t = 0; s < S; t += n_tok[s], s++)
		b->gpu->ops->attention(b->gpu, &ap, &vgpu[s], dq + (size_t)t * QD, n_tok[s], pos + t,
				       d1 + (size_t)t * QD);
	char name[96];
	int rc = b->gpu->ops->attention_multi ?
		 b->gpu->ops->attention_multi(b->gpu, &ap, vgpu, S, dq, n_tok, pos, dm) : -ENOSYS;
	snprintf(name, sizeof(name), "attention_multi heads %d/%d hd %d: accepted", nh, nkv, hd);
	expect(name, rc == 0);
	b->cpu->ops->attention_multi(b->cpu, &ap, vcpu, S, q, n_tok, pos, oc);
	float *o1 = gpu_get(b->gpu, d1, (size_t)n * QD), *om = gpu_get(b->gpu, dm, (size_t)n * QD);
	snprintf(name, sizeof(name), "attention_multi heads %d/%d hd %d: bits of one call each", nh, nkv, hd);
	expect(name, !memcmp(o1, om, (size_t)n * QD * 4));
	snprintf(name, sizeof(name), "attention_multi heads %d/%d hd %d vs cpu", nh, nkv, hd);
	check(name, nmse(oc, om, (size_t)n * QD), 1e-6);
	/* a view of another pool is refused, and nothing is written */
	struct nrv_kv_view other[2] = { vgpu[0], vgpu[1] };
	other[1].k = kc;
	if (b->gpu->ops->attention_multi) {
		int one[2] = { 1, 1 };
		expect("attention_multi: views of two pools refused",
		       b->gpu->ops->attention_multi(b->gpu, &ap, other, 2, dq, one, pos, dm) == -EINVAL);
		int zero[2] = { 1, 0 };
		expect("attention_multi: a sequence of 0 tokens refused",
		       b->gpu->ops->attention_multi(b->gpu, &ap, vgpu, 2, dq, zero, pos, dm) == -EINVAL);
	}
	b->gpu->ops->free(b->gpu, dq);
	b->gpu->ops->free(b->gpu, d1);
	b->gpu->ops->free(b->gpu, dm);
	b->gpu->ops->free(b->gpu, kg);
	b->gpu->ops->free(b->gpu, vg);
	free(q); free(oc); free(o1); free(om); free(kc); free(vc);
}

/* A queued op that fails is reported by sync, and nothing aborts. */
static void test_error(const struct nrv_backend_ops *cu)
{
	struct nrv_backend *g;
	if (cu->create(&cfg, &g)) {
		expect("error backend create", false);
		return;
	}
	struct nrv_tensor t = { .type = NRV_TYPE_Q4_0, .ne0 = 64, .ne1 = 4, .row_bytes = 36, .name = "not uploaded" };
	float *d = g->ops->alloc(g, 4096);
	fprintf(stderr, "(an error message about a tensor that was not uploaded is expected next)\n");
	g->ops->matmul(g, &t, d, 1, d);
	expect("matmul of a tensor not uploaded: sync reports an error", g->ops->sync(g) != 0);
	g->ops->free(g, d);
	g->ops->destroy(g);
	/* an unsupported type is refused at upload */
	if (!cu->create(&cfg, &g)) {
		uint8_t blk[84] = { 0 };
		struct nrv_tensor q2 = { .type = NRV_TYPE_Q2_K, .ne0 = 256, .ne1 = 1, .row_bytes = 84, .data = blk, .name = "q2k" };
		expect("upload of Q2_K is refused with -ENOTSUP", g->ops->upload(g, &q2) == -ENOTSUP);
		g->ops->destroy(g);
	}
}

int main(void)
{
	const struct nrv_backend_ops *cu = gpu_or_skip("test_cuda_ops");
	struct pair b;
	if (nrv_backend_cpu_ops.create(&cfg, &b.cpu) || cu->create(&cfg, &b.gpu)) {
		printf("FAIL: cannot create the backends\n");
		return T_FAIL;
	}
	int types[] = {
		NRV_TYPE_F32, NRV_TYPE_F16, NRV_TYPE_BF16, NRV_TYPE_Q4_0, NRV_TYPE_Q4_1, NRV_TYPE_Q5_0,
		NRV_TYPE_Q5_1, NRV_TYPE_Q8_0, NRV_TYPE_Q4_K, NRV_TYPE_Q5_K, NRV_TYPE_Q6_K,
	};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		test_matmul(&b, types[i]);
		test_get_rows(&b, types[i]);
	}
	test_rmsnorm(&b);
	test_rope(&b, 0, 64);
	test_rope(&b, 2, 64);
	test_rope(&b, 0, 32);
	test_flat(&b);
	test_attention(&b, 9, 3, 64);
	test_attention(&b, 4, 4, 128);
	test_attention(&b, 8, 1, 256);
	test_attention_multi(&b, 9, 3, 64);
	test_attention_multi(&b, 4, 4, 128);
	test_attention_multi(&b, 8, 1, 256);
	expect("gpu backend sync after all ops", b.gpu->ops->sync(b.gpu) == 0);
	b.gpu->ops->destroy(b.gpu);
	b.cpu->ops->destroy(b.cpu);
	test_cublas(cu);
	test_error(cu);
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail ? T_FAIL : T_PASS;
}
