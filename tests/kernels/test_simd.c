/*
 * tests/kernels/test_simd.c - every ISA kernel table against the scalar
 * reference table.
 *
 * For each ISA this CPU runs (others skip, saying why):
 *   - activation quantizers: the same bytes as the reference, on random
 *     rows and on rows built to hit rounding ties, zeros and sign cases;
 *   - vec_dot: within a named tolerance of the reference, relative to
 *     sum_i |w_i a_i| (the dequantized terms), for every weight type;
 *   - gemm: bit-identical to the same table's vec_dot for 1..13 tokens and
 *     odd row counts, with padded strides (the batch-invariance contract).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/kernels.h"

/* ---- data ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static float frand(void) /* uniform in [-1, 1) */
{
	return (float)((double)(rng() >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static void put_half(uint8_t *p, float f)
{
	nrv_half h = nrv_float_to_half(f);
	memcpy(p, &h, sizeof(h));
}

/* A random scale: magnitude 2^-10..2^-3, random sign when `sign`. */
static float rand_scale(int sign)
{
	float m = ldexpf(1.0f + 0.5f * frand(), -3 - (int)(rng() % 8));
	return sign && (rng() & 1) ? -m : m;
}

/* Random weight rows: random bytes (every bit pattern of the quants is a
 * valid encoding) with the float fields set to sane random scales. */
static void gen_weights(int type, uint8_t *w, size_t stride, int rows, int n)
{
	int blck, size;
	nrv_type_geom(type, &blck, &size);
	for (int r = 0; r < rows; r++) {
		uint8_t *row = w + (size_t)r * stride;
		for (int i = 0; i < n / blck * size; i++)
			row[i] = (uint8_t)rng();
		for (int b = 0; b < n / blck; b++) {
			uint8_t *p = row + (size_t)b * size;
			switch (type) {
			case NRV_TYPE_F32: {
				float f = frand();
				memcpy(p, &f, 4);
				break;
			}
			case NRV_TYPE_F16: put_half(p, frand()); break;
			case NRV_TYPE_BF16: {
				float f = frand();
				uint32_t u;
				memcpy(&u, &f, 4);
				uint16_t h = (uint16_t)(u >> 16);
				memcpy(p, &h, 2);
				break;
			}
			case NRV_TYPE_Q4_0: case NRV_TYPE_Q5_0: case NRV_TYPE_Q8_0:
				put_half(p, rand_scale(1));
				break;
			case NRV_TYPE_Q4_1: case NRV_TYPE_Q5_1:
				put_half(p, rand_scale(1));
				put_half(p + 2, rand_scale(1) * 8.0f);
				break;
			case NRV_TYPE_Q2_K:
				put_half(p + 80, rand_scale(0));
				put_half(p + 82, rand_scale(0));
				break;
			case NRV_TYPE_Q3_K: put_half(p + 108, rand_scale(1)); break;
			case NRV_TYPE_Q4_K: case NRV_TYPE_Q5_K:
				put_half(p, rand_scale(0) * 0.1f);
				put_half(p + 2, rand_scale(0) * 0.1f);
				break;
			case NRV_TYPE_Q6_K: put_half(p + 208, rand_scale(1) * 0.1f); break;
			default: break;
			}
		}
	}
}

static void gen_floats(float *x, int n)
{
	for (int i = 0; i < n; i++) {
		x[i] = frand();
		if (rng() % 64 == 0)
			x[i] *= 20.0f; /* outliers, as activations have */
	}
}

/* Dequantized activation row (of activation type at). */
static void dequant_act(int at, const void *a, float *y, int n)
{
	if (at == NRV_TYPE_F32) {
		memcpy(y, a, (size_t)n * 4);
	} else if (at == NRV_TYPE_Q8_0) {
		nrv_dequant_q8_0_ref(a, y, n);
	} else if (at == NRV_TYPE_Q8_1) {
		const struct nrv_block_q8_1 *b = a;
		for (int i = 0; i < n; i++)
			y[i] = nrv_half_to_float(b[i / 32].d) * b[i / 32].qs[i % 32];
	} else {
		const struct nrv_block_q8_K *b = a;
		for (int i = 0; i < n; i++)
			y[i] = b[i / 256].d * b[i / 256].qs[i % 256];
	}
}

/* ---- the tables ---- */

static const struct nrv_cpu_kernels *isa_or_skip(const char *name)
{
	const struct nrv_cpu_kernels *k = nrv_cpu_kernels_select(name);
	if (!k) {
		cr_skip_test("the %s kernels are not built or this CPU lacks %s; not tested here",
			     name, name);
	}
	cr_assert_str_eq(k->isa, name);
	return k;
}

static const int weight_types[] = {
	NRV_TYPE_F32, NRV_TYPE_F16, NRV_TYPE_BF16, NRV_TYPE_Q4_0, NRV_TYPE_Q4_1,
	NRV_TYPE_Q5_0, NRV_TYPE_Q5_1, NRV_TYPE_Q8_0, NRV_TYPE_Q2_K, NRV_TYPE_Q3_K,
	NRV_TYPE_Q4_K, NRV_TYPE_Q5_K, NRV_TYPE_Q6_K,
};
#define N_WTYPES (int)(sizeof(weight_types) / sizeof(weight_types[0]))

/*
 * vec_dot tolerance, relative to sum_i |w_i a_i|. Both sides sum n/32 (or
 * n/256) block terms in float, in different orders (the float weights: in
 * float against the reference's double), so each is within about
 * (terms per lane + 8) * 2^-24 of the exact value in this measure: 3e-7
 * at 4096 elements; measured worst cases are 1.5e-7. 1e-6 is 50000 times
 * tighter than llama.cpp's test, which allows 0.02 of the dot itself.
 */
static double vec_dot_tolerance(int type)
{
	(void)type;
	return 1e-6;
}

/* ---- quantizers ---- */

static void check_quant_bytes(const struct nrv_cpu_kernels *k, int at, const float *x, int n,
			      const char *what)
{
	int blck, size;
	nrv_type_geom(at, &blck, &size);
	size_t bytes = (size_t)(n / blck) * (size_t)size;
	uint8_t *want = malloc(bytes), *got = malloc(bytes);
	memset(want, 0xa5, bytes);
	memset(got, 0x5a, bytes);
	nrv_cpu_kernels_ref()->quantize[at](x, want, n);
	k->quantize[at](x, got, n);
	size_t i = 0;
	while (i < bytes && want[i] == got[i])
		i++;
	cr_expect(i == bytes, "%s quantize %s (%s): first differing byte %zu of %zu",
		  k->isa, nrv_type_name(at), what, i, bytes);
	free(want);
	free(got);
}

static void check_quantizers(const struct nrv_cpu_kernels *k)
{
	static const int ats[] = { NRV_TYPE_Q8_0, NRV_TYPE_Q8_1, NRV_TYPE_Q8_K };
	enum { N = 1536 };
	float *x = malloc(N * sizeof(float));
	for (int ai = 0; ai < 3; ai++) {
		int at = ats[ai];
		cr_assert(k->quantize[at], "%s has no quantizer for %s", k->isa, nrv_type_name(at));
		for (int rep = 0; rep < 20; rep++) {
			gen_floats(x, N);
			check_quant_bytes(k, at, x, N, "random");
		}
		/* Ties: with max|x| = 127 the scale is 1 (Q8_0/Q8_1), so
		 * halves land exactly on x.5; Q8_K with max = -127 too. */
		for (int i = 0; i < N; i++)
			x[i] = (float)((int)(rng() % 253) - 126) + 0.5f;
		for (int b = 0; b < N; b += 32)
			x[b + (int)(rng() % 32)] = -127.0f;
		check_quant_bytes(k, at, x, N, "ties");
		/* Zeros, a lone value, equal magnitudes of both signs (the
		 * first one decides Q8_K's sign), signed zeros, tiny values. */
		memset(x, 0, N * sizeof(float));
		check_quant_bytes(k, at, x, N, "zeros");
		x[300] = 3.0f;
		x[301] = -3.0f;
		x[700] = -2.5f;
		x[701] = 2.5f;
		x[1000] = -0.0f;
		/* Tiny, but not so tiny that 1/d overflows: the reference
		 * then converts inf to int8, which C leaves undefined. */
		for (int i = 1200; i < N; i++)
			x[i] = ldexpf(frand(), -100);
		check_quant_bytes(k, at, x, N, "sparse");
		for (int i = 0; i < N; i++)
			x[i] = frand() * 3e5f;
		check_quant_bytes(k, at, x, N, "large");
	}
	free(x);
}

/* ---- vec_dot against the reference ---- */

static void check_vec_dot(const struct nrv_cpu_kernels *k, int type, int n, int reps)
{
	const struct nrv_cpu_kernels *ref = nrv_cpu_kernels_ref();
	int at = nrv_cpu_act_type(type);
	int blck, size;
	nrv_type_geom(type, &blck, &size);
	if (n % blck)
		return;
	size_t wbytes = (size_t)(n / blck) * (size_t)size;
	uint8_t *w = malloc(wbytes);
	void *a = malloc(nrv_cpu_act_row_bytes(type, n) + 64);
	float *x = malloc((size_t)n * 4), *wd = malloc((size_t)n * 4), *ad = malloc((size_t)n * 4);
	double worst = 0.0;
	for (int rep = 0; rep < reps; rep++) {
		gen_weights(type, w, wbytes, 1, n);
		gen_floats(x, n);
		ref->quantize[at](x, a, n);
		float want = ref->vec_dot[type](n, w, a);
		float got = k->vec_dot[type](n, w, a);
		nrv_dequant_row_ref(type, w, wd, n);
		dequant_act(at, a, ad, n);
		double mag = 0.0;
		for (int i = 0; i < n; i++)
			mag += fabs((double)wd[i] * (double)ad[i]);
		double err = fabs((double)got - (double)want) / (mag > 0.0 ? mag : 1.0);
		cr_expect(isfinite(got) && err <= vec_dot_tolerance(type),
			  "%s vec_dot %s n=%d rep %d: got %.9g want %.9g (relative error %.3g > %.3g)",
			  k->isa, nrv_type_name(type), n, rep, got, want, err, vec_dot_tolerance(type));
		if (err > worst)
			worst = err;
	}
	cr_log_info("%s vec_dot %-4s n=%-5d worst error %.2e of sum|w a|", k->isa,
		    nrv_type_name(type), n, worst);
	free(w);
	free(a);
	free(x);
	free(wd);
	free(ad);
}

static void check_vec_dots(const struct nrv_cpu_kernels *k)
{
	static const int ns[] = { 256, 576, 1536, 4096 };
	for (int i = 0; i < N_WTYPES; i++) {
		cr_assert(k->vec_dot[weight_types[i]], "%s lacks vec_dot %s", k->isa,
			  nrv_type_name(weight_types[i]));
		for (size_t j = 0; j < sizeof(ns) / sizeof(ns[0]); j++)
			check_vec_dot(k, weight_types[i], ns[j], 40);
		check_vec_dot(k, weight_types[i], 32, 40);
		check_vec_dot(k, weight_types[i], 7, 20); /* float weights: odd lengths */
	}
}

/* ---- gemm == vec_dot, bit for bit ---- */

static void check_gemm(const struct nrv_cpu_kernels *k, int type, int n)
{
	enum { MAX_ROWS = 19, MAX_TOK = 13 };
	static const int row_counts[] = { 1, 2, 3, 4, 5, 7, 16, 17, 19 };
	int at = nrv_cpu_act_type(type);
	int blck, size;
	nrv_type_geom(type, &blck, &size);
	size_t wrow = (size_t)(n / blck) * (size_t)size;
	size_t ws = wrow + 6;     /* padded, unaligned strides */
	/* activation rows keep their block's alignment (4 bytes for Q8_K's
	 * float scale), as the backend's 64-byte rows do */
	size_t as = (nrv_cpu_act_row_bytes(type, n) + 10 + 3) & ~(size_t)3;
	size_t ldy = MAX_ROWS + 3;
	uint8_t *w = malloc(ws * MAX_ROWS);
	uint8_t *a = malloc(as * MAX_TOK);
	float *x = malloc((size_t)n * 4);
	float *y = malloc(ldy * MAX_TOK * sizeof(float));
	gen_weights(type, w, ws, MAX_ROWS, n);
	for (int t = 0; t < MAX_TOK; t++) {
		gen_floats(x, n);
		nrv_cpu_kernels_ref()->quantize[at](x, a + (size_t)t * as, n);
	}
	for (size_t ri = 0; ri < sizeof(row_counts) / sizeof(row_counts[0]); ri++) {
		int rows = row_counts[ri];
		for (int nt = 1; nt <= MAX_TOK; nt++) {
			for (size_t i = 0; i < ldy * MAX_TOK; i++)
				y[i] = NAN;
			k->gemm[type](n, w, ws, rows, a, as, nt, y, ldy);
			for (int t = 0; t < MAX_TOK; t++) {
				for (int r = 0; r < (int)ldy; r++) {
					float got = y[(size_t)t * ldy + r];
					if (t >= nt || r >= rows) {
						cr_assert(isnan(got), "%s gemm %s wrote outside its tile (%d, %d)",
							  k->isa, nrv_type_name(type), r, t);
						continue;
					}
					float want = k->vec_dot[type](n, w + (size_t)r * ws, a + (size_t)t * as);
					cr_assert(memcmp(&got, &want, sizeof(got)) == 0,
						  "%s gemm %s n=%d rows=%d tokens=%d: y(%d, %d) = %.9g, vec_dot %.9g",
						  k->isa, nrv_type_name(type), n, rows, nt, r, t, got, want);
				}
			}
		}
	}
	free(w);
	free(a);
	free(x);
	free(y);
}

static void check_gemms(const struct nrv_cpu_kernels *k, const int *required, int n_required)
{
	for (int i = 0; i < n_required; i++)
		cr_assert(k->gemm[required[i]], "%s lacks gemm %s", k->isa,
			  nrv_type_name(required[i]));
	for (int i = 0; i < N_WTYPES; i++) {
		int type = weight_types[i];
		if (!k->gemm[type])
			continue;
		int blck, size;
		nrv_type_geom(type, &blck, &size);
		check_gemm(k, type, blck == NRV_QK_K ? 512 : 576);
		check_gemm(k, type, blck == NRV_QK_K ? 256 : 32);
	}
}

/* ---- the tests ---- */

static const int avx2_gemm_types[] = {
	NRV_TYPE_Q4_0, NRV_TYPE_Q4_1, NRV_TYPE_Q5_0, NRV_TYPE_Q5_1, NRV_TYPE_Q8_0,
	NRV_TYPE_Q4_K, NRV_TYPE_Q5_K, NRV_TYPE_Q6_K,
};
static const int avx512_gemm_types[] = { NRV_TYPE_Q4_0, NRV_TYPE_Q4_1, NRV_TYPE_Q8_0 };

static void seed(void)
{
	rng_state = 0x9e3779b97f4a7c15ULL;
}

Test(simd, select_names, .init = seed)
{
	cr_assert_eq(nrv_cpu_kernels_select("ref"), nrv_cpu_kernels_ref());
	cr_assert_null(nrv_cpu_kernels_select("sse9"));
	const struct nrv_cpu_kernels *best = nrv_cpu_kernels_select(NULL);
	cr_assert_not_null(best);
	cr_log_info("best kernels on this CPU: %s", best->isa);
}

Test(simd, avx2_quantize, .init = seed)
{
	check_quantizers(isa_or_skip("avx2"));
}

Test(simd, avx2_vec_dot, .init = seed)
{
	check_vec_dots(isa_or_skip("avx2"));
}

Test(simd, avx2_gemm, .init = seed)
{
	check_gemms(isa_or_skip("avx2"), avx2_gemm_types,
		    (int)(sizeof(avx2_gemm_types) / sizeof(avx2_gemm_types[0])));
}

Test(simd, avx512_quantize, .init = seed)
{
	check_quantizers(isa_or_skip("avx512"));
}

Test(simd, avx512_vec_dot, .init = seed)
{
	check_vec_dots(isa_or_skip("avx512"));
}

Test(simd, avx512_gemm, .init = seed)
{
	check_gemms(isa_or_skip("avx512"), avx512_gemm_types,
		    (int)(sizeof(avx512_gemm_types) / sizeof(avx512_gemm_types[0])));
}
