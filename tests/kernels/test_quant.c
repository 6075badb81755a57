/*
 * tests/kernels/test_quant.c - the scalar reference quant kernels.
 *
 * What is checked here (bit-exact agreement of dequantization with the
 * gguf package is tests/py/test_dequant.py's job):
 *   - the half helpers of quant.h, exhaustively and on tricky roundings,
 *     against the compiler's _Float16 where it has one;
 *   - the activation quantizers: every element within its rounding bound;
 *   - every weight type's vec_dot against dot(dequant(w), x) in double;
 *   - a few hand-built blocks decode to known values;
 *   - the kernel table and ISA selection.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "kernels/cpu/kernels.h"

/* ---- deterministic random numbers ---- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rng_uniform(void) /* [0, 1) */
{
	return (double)(rng_next() >> 11) * 0x1p-53;
}

static float rng_gauss(void)
{
	double u = rng_uniform(), v = rng_uniform();
	return (float)(sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * M_PI * v));
}

/* ---- half helpers ---- */

static uint32_t f2u(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof(u));
	return u;
}

static float u2f(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof(f));
	return f;
}

static int half_is_nan(nrv_half h)
{
	return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0;
}

Test(quant_half, round_trip_all_halves)
{
	for (uint32_t i = 0; i < 65536; i++) {
		nrv_half h = (nrv_half)i;
		float f = nrv_half_to_float(h);
		if (half_is_nan(h)) {
			cr_assert(isnan(f), "half 0x%04x should decode to NaN", i);
			cr_assert(half_is_nan(nrv_float_to_half(f)), "NaN 0x%04x must stay NaN", i);
			continue;
		}
		cr_assert_eq(nrv_float_to_half(f), h, "half 0x%04x -> %a -> 0x%04x", i, f,
			     nrv_float_to_half(f));
	}
}

#ifdef __FLT16_MAX__
/* The compiler's _Float16 conversions are an implementation we did not
 * write (IEEE round-to-nearest-even). */
Test(quant_half, decode_matches_float16)
{
	for (uint32_t i = 0; i < 65536; i++) {
		uint16_t h = (uint16_t)i;
		_Float16 c;
		memcpy(&c, &h, sizeof(c));
		float want = (float)c, got = nrv_half_to_float(h);
		if (isnan(want))
			cr_assert(isnan(got), "0x%04x", i);
		else
			cr_assert_eq(f2u(got), f2u(want), "0x%04x: got %a want %a", i, got, want);
	}
}

Test(quant_half, encode_matches_float16_sweep)
{
	/* Every 257th float bit pattern covers all exponents and many
	 * mantissa tails, including the subnormal and overflow ranges. */
	for (uint64_t u = 0; u <= 0xffffffffull; u += 257) {
		float f = u2f((uint32_t)u);
		_Float16 c = (_Float16)f;
		uint16_t want;
		memcpy(&want, &c, sizeof(want));
		nrv_half got = nrv_float_to_half(f);
		if (isnan(f))
			cr_assert(half_is_nan(got), "%a", f);
		else
			cr_assert_eq(got, want, "%a (0x%08x): got 0x%04x want 0x%04x", f,
				     (uint32_t)u, got, want);
	}
}
#endif

Test(quant_half, encode_tricky_values)
{
	static const struct { float f; nrv_half h; const char *why; } cases[] = {
		{ 0.0f, 0x0000, "zero" },
		{ -0.0f, 0x8000, "negative zero keeps its sign" },
		{ 1.0f, 0x3c00, "one" },
		{ 1.0f + 0x1p-11f, 0x3c00, "tie between 1 and 1+2^-10 goes to even (1)" },
		{ 1.0f + 3 * 0x1p-11f, 0x3c02, "tie between 1+2^-10 and 1+2^-9 goes to even (up)" },
		{ 1.0f + 0x1p-11f + 0x1p-20f, 0x3c01, "just above a tie rounds up" },
		{ -(1.0f + 3 * 0x1p-11f), 0xbc02, "negative tie" },
		{ 65504.0f, 0x7bff, "largest finite half" },
		{ 65519.99f, 0x7bff, "below the overflow threshold rounds down" },
		{ 65520.0f, 0x7c00, "tie at the top overflows to infinity" },
		{ 1e9f, 0x7c00, "overflow" },
		{ -1e9f, 0xfc00, "negative overflow" },
		{ INFINITY, 0x7c00, "infinity" },
		{ -INFINITY, 0xfc00, "negative infinity" },
		{ 0x1p-14f, 0x0400, "smallest normal" },
		{ 0x1p-14f - 0x1p-25f, 0x0400, "tie between largest subnormal and smallest normal goes to even (normal)" },
		{ 0x1p-24f, 0x0001, "smallest subnormal" },
		{ 0x1p-25f, 0x0000, "half the smallest subnormal ties to even (zero)" },
		{ 0x1p-25f + 0x1p-40f, 0x0001, "just above that rounds up" },
		{ 3 * 0x1p-25f, 0x0002, "1.5 subnormal units tie to even (2)" },
		{ 5 * 0x1p-25f, 0x0002, "2.5 subnormal units tie to even (2)" },
		{ 0x1p-26f, 0x0000, "underflow to zero" },
		{ -0x1p-24f, 0x8001, "negative subnormal" },
		{ 0x1p-149f, 0x0000, "float subnormal underflows" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_assert_eq(nrv_float_to_half(cases[i].f), cases[i].h, "%a: got 0x%04x want 0x%04x (%s)",
			     cases[i].f, nrv_float_to_half(cases[i].f), cases[i].h, cases[i].why);
	cr_assert(half_is_nan(nrv_float_to_half(NAN)));
	cr_assert(half_is_nan(nrv_float_to_half(u2f(0x7f800001u))), "a NaN with only low payload bits stays NaN");
}

Test(quant_half, bf16_decode)
{
	cr_assert_eq(nrv_bf16_to_float(0x3f80), 1.0f);
	cr_assert_eq(nrv_bf16_to_float(0xc040), -3.0f);
	cr_assert_eq(f2u(nrv_bf16_to_float(0x0001)), 0x00010000u);
}

/* ---- activation quantizers ---- */

/* Decode an activation row back to floats (the test's own decoder) and the
 * rounding bound of every element: Q8_0/Q8_1 store q = round(x / d) with
 * d = max|x|/127 rounded to half, so |x - half(d) q| <= d/2 + |q| |d - half(d)|;
 * Q8_K keeps d as a float, so |x - d q| <= |d|/2. A relative slack of 1e-4
 * on d/2 absorbs the float rounding of x * (1/d). */
static void act_decode(int at, const void *a, int n, float *xq, double *bound)
{
	if (at == NRV_TYPE_F32) {
		memcpy(xq, a, (size_t)n * sizeof(float));
		for (int i = 0; i < n; i++)
			bound[i] = 0.0;
		return;
	}
	if (at == NRV_TYPE_Q8_K) {
		const struct nrv_block_q8_K *b = a;
		for (int i = 0; i < n; i++) {
			float d = b[i / NRV_QK_K].d;
			xq[i] = d * (float)b[i / NRV_QK_K].qs[i % NRV_QK_K];
			bound[i] = fabs(d) * (0.5 + 1e-4);
		}
		return;
	}
	size_t stride = at == NRV_TYPE_Q8_0 ? sizeof(struct nrv_block_q8_0) : sizeof(struct nrv_block_q8_1);
	for (int ib = 0; ib < n / NRV_QK; ib++) {
		const unsigned char *p = (const unsigned char *)a + ib * stride;
		nrv_half dh;
		memcpy(&dh, p, sizeof(dh));
		const int8_t *qs = (const int8_t *)(p + (at == NRV_TYPE_Q8_0 ? 2 : 4));
		float hd = nrv_half_to_float(dh);
		for (int j = 0; j < NRV_QK; j++) {
			int i = ib * NRV_QK + j;
			xq[i] = hd * (float)qs[j];
			bound[i] = 0.0; /* completed by the caller, which knows d */
		}
	}
}

/* For the Q8_0/Q8_1 bound: d as the quantizer computes it, before rounding to half. */
static float q8_block_d(const float *x)
{
	float amax = 0.0f;
	for (int j = 0; j < NRV_QK; j++)
		amax = fmaxf(amax, fabsf(x[j]));
	return amax / 127.0f;
}

static void act_bound(int at, const float *x, const void *a, int n, float *xq, double *bound)
{
	act_decode(at, a, n, xq, bound);
	if (at != NRV_TYPE_Q8_0 && at != NRV_TYPE_Q8_1)
		return;
	for (int ib = 0; ib < n / NRV_QK; ib++) {
		float d = q8_block_d(x + ib * NRV_QK);
		float hd = nrv_half_to_float(nrv_float_to_half(d));
		for (int j = 0; j < NRV_QK; j++) {
			int i = ib * NRV_QK + j;
			double q = hd != 0.0f ? fabs((double)xq[i] / hd) : 0.0;
			bound[i] = d * (0.5 + 1e-4) + q * fabs((double)d - hd);
		}
	}
}

/* Gaussian activations, optionally with a few outliers as real ones have. */
static void fill_activations(float *x, int n, int outliers)
{
	for (int i = 0; i < n; i++)
		x[i] = rng_gauss();
	for (int k = 0; outliers && k < n / 64; k++)
		x[rng_next() % (uint64_t)n] *= 20.0f;
}

static void check_act_quantizer(int at)
{
	enum { N = 4096 };
	static float x[N], xq[N];
	static double bound[N];
	static unsigned char a[N / NRV_QK_K * sizeof(struct nrv_block_q8_K) + N / NRV_QK * 36];
	const struct nrv_cpu_kernels *k = nrv_cpu_kernels_ref();
	rng_state = 0x51ed + (uint64_t)at;
	for (int trial = 0; trial < 20; trial++) {
		fill_activations(x, N, trial & 1);
		if (trial == 1) /* an all-zero block */
			memset(x, 0, NRV_QK_K * sizeof(float));
		k->quantize[at](x, a, N);
		act_bound(at, x, a, N, xq, bound);
		for (int i = 0; i < N; i++)
			cr_assert(fabs((double)x[i] - xq[i]) <= bound[i],
				  "%s element %d: x %g decoded %g, error %g > bound %g", nrv_type_name(at),
				  i, x[i], xq[i], fabs((double)x[i] - xq[i]), bound[i]);
	}
}

Test(quant_act, q8_0_round_trip) { check_act_quantizer(NRV_TYPE_Q8_0); }
Test(quant_act, q8_1_round_trip) { check_act_quantizer(NRV_TYPE_Q8_1); }
Test(quant_act, q8_K_round_trip) { check_act_quantizer(NRV_TYPE_Q8_K); }

Test(quant_act, q8_1_sum_and_q8_K_bsums)
{
	enum { N = 1024 };
	static float x[N];
	static struct nrv_block_q8_1 b1[N / NRV_QK];
	static struct nrv_block_q8_K bk[N / NRV_QK_K];
	rng_state = 7;
	fill_activations(x, N, 1);
	nrv_quantize_q8_1_ref(x, b1, N);
	for (int ib = 0; ib < N / NRV_QK; ib++) {
		int sum = 0;
		for (int j = 0; j < NRV_QK; j++)
			sum += b1[ib].qs[j];
		/* s is d * sum(q) with d before its rounding to half, rounded once. */
		float want = (float)sum * q8_block_d(x + ib * NRV_QK);
		cr_assert_eq(b1[ib].s, nrv_float_to_half(want), "block %d", ib);
	}
	nrv_quantize_q8_K_ref(x, bk, N);
	for (int ib = 0; ib < N / NRV_QK_K; ib++) {
		int amax_q = 0;
		for (int g = 0; g < 16; g++) {
			int s = 0;
			for (int l = 0; l < 16; l++) {
				s += bk[ib].qs[16 * g + l];
				amax_q = abs(bk[ib].qs[16 * g + l]) > amax_q ? abs(bk[ib].qs[16 * g + l]) : amax_q;
			}
			cr_assert_eq(bk[ib].bsums[g], s, "block %d group %d", ib, g);
		}
		cr_assert_eq(amax_q, 127, "the largest element maps to 127 in magnitude");
	}
}

Test(quant_act, rounding_direction)
{
	/* max|x| = 127 makes d = 1: every activation format rounds ties to
	 * even, as llama.cpp's x86 kernels do at run time. */
	float x[NRV_QK_K] = { 0 };
	x[0] = 127.0f;
	x[1] = 2.5f;
	x[2] = -2.5f;
	x[3] = 3.5f;
	x[4] = 0.5f;
	struct nrv_block_q8_0 b0;
	nrv_quantize_q8_0_ref(x, &b0, NRV_QK);
	cr_assert_eq(nrv_half_to_float(b0.d), 1.0f);
	cr_assert_eq(b0.qs[0], 127);
	cr_assert_eq(b0.qs[1], 2);
	cr_assert_eq(b0.qs[2], -2);
	cr_assert_eq(b0.qs[3], 4);
	cr_assert_eq(b0.qs[4], 0);
	x[0] = -127.0f; /* iscale = 1, d = 1 */
	struct nrv_block_q8_K bk;
	nrv_quantize_q8_K_ref(x, &bk, NRV_QK_K);
	cr_assert_eq(bk.d, 1.0f);
	cr_assert_eq(bk.qs[0], -127);
	cr_assert_eq(bk.qs[1], 2);
	cr_assert_eq(bk.qs[2], -2);
	cr_assert_eq(bk.qs[3], 4);
	cr_assert_eq(bk.qs[4], 0);
}

/* ---- weights ---- */

static void put_half(unsigned char *p, float f)
{
	nrv_half h = nrv_float_to_half(f);
	memcpy(p, &h, sizeof(h));
}

static float rand_scale(void) /* finite, sane: 0.002 .. 0.02 */
{
	return (float)(0.002 + 0.018 * rng_uniform());
}

/*
 * Random but valid weight rows: random quant bytes (every bit pattern of
 * the quants and packed sub-scales is a valid block) with finite half
 * scales of a realistic size. The super-block mins are positive as real
 * K-quant files have them; Q4_1/Q5_1 mins sit near -d * 2^(bits-1) so rows
 * are roughly centred, as a real quantizer produces.
 */
static void fill_weights(int type, void *w, int n)
{
	int blck, size;
	nrv_type_geom(type, &blck, &size);
	unsigned char *p = w;
	if (type == NRV_TYPE_F32 || type == NRV_TYPE_F16 || type == NRV_TYPE_BF16) {
		for (int i = 0; i < n; i++) {
			float f = rng_gauss() * 0.05f;
			if (type == NRV_TYPE_F32) {
				memcpy(p + 4 * i, &f, 4);
			} else if (type == NRV_TYPE_F16) {
				put_half(p + 2 * i, f);
			} else {
				uint16_t b = (uint16_t)(f2u(f) >> 16);
				memcpy(p + 2 * i, &b, 2);
			}
		}
		return;
	}
	for (int i = 0; i < n / blck * size; i++)
		p[i] = (unsigned char)rng_next();
	for (int ib = 0; ib < n / blck; ib++, p += size) {
		float d = rand_scale() * (rng_next() & 1 ? 1.0f : -1.0f);
		switch (type) {
		case NRV_TYPE_Q4_0:
		case NRV_TYPE_Q5_0:
		case NRV_TYPE_Q8_0:
			put_half(p, d);
			break;
		case NRV_TYPE_Q4_1:
			d = fabsf(d);
			put_half(p, d);
			put_half(p + 2, -d * 8.0f * (float)(0.5 + rng_uniform()));
			break;
		case NRV_TYPE_Q5_1:
			d = fabsf(d);
			put_half(p, d);
			put_half(p + 2, -d * 16.0f * (float)(0.5 + rng_uniform()));
			break;
		case NRV_TYPE_Q2_K:
			put_half(p + offsetof(struct nrv_block_q2_K, d), d / 8);
			put_half(p + offsetof(struct nrv_block_q2_K, dmin), rand_scale() / 8);
			break;
		case NRV_TYPE_Q3_K:
			put_half(p + offsetof(struct nrv_block_q3_K, d), d / 16);
			break;
		case NRV_TYPE_Q4_K:
			put_half(p + offsetof(struct nrv_block_q4_K, d), d / 32);
			put_half(p + offsetof(struct nrv_block_q4_K, dmin), rand_scale() / 32);
			break;
		case NRV_TYPE_Q5_K:
			put_half(p + offsetof(struct nrv_block_q5_K, d), d / 32);
			put_half(p + offsetof(struct nrv_block_q5_K, dmin), rand_scale() / 16);
			break;
		case NRV_TYPE_Q6_K:
			put_half(p + offsetof(struct nrv_block_q6_K, d), d / 64);
			break;
		default:
			cr_assert_fail("no generator for %s", nrv_type_name(type));
		}
	}
}

/*
 * Tolerances of vec_dot, as a fraction of M = sum_i |w_i| |xq_i| (xq the
 * decoded activations), for the float arithmetic alone: the integer sums
 * are exact, so the error comes from a few roundings per block (scale
 * products, the min term) and the float accumulation over n/32 or n/256
 * blocks, about (blocks + 4) * 2^-24 * (sum of |block terms|). With
 * n = 4096 that is under 1e-5 of M, and where a min term is subtracted
 * (Q4_1, Q5_1, Q2_K, Q4_K, Q5_K) the block terms can exceed their
 * difference by the ratio of min to weight (about 4x here), so those get
 * 4e-5. The float types accumulate in double: 1e-6 covers the one
 * product rounding per element and the final rounding to float.
 */
static double dot_tolerance(int type)
{
	switch (type) {
	case NRV_TYPE_F32:
	case NRV_TYPE_F16:
	case NRV_TYPE_BF16:
		return 1e-6;
	case NRV_TYPE_Q4_0:
	case NRV_TYPE_Q5_0:
	case NRV_TYPE_Q8_0:
	case NRV_TYPE_Q3_K:
	case NRV_TYPE_Q6_K:
		return 1e-5;
	default:
		return 4e-5;
	}
}

/* Q4_1/Q5_1 apply the min through the activation's s = half(d * sum(q)),
 * which differs from sum of the decoded activations by the half roundings
 * of d and s; return that part of the expected result exactly. */
static double q8_1_min_correction(int type, const void *w, const void *a, int n)
{
	if (type != NRV_TYPE_Q4_1 && type != NRV_TYPE_Q5_1)
		return 0.0;
	int blck, size;
	nrv_type_geom(type, &blck, &size);
	const struct nrv_block_q8_1 *y = a;
	double c = 0.0;
	for (int ib = 0; ib < n / NRV_QK; ib++) {
		nrv_half mh;
		memcpy(&mh, (const unsigned char *)w + (size_t)ib * size + 2, sizeof(mh));
		int sum = 0;
		for (int j = 0; j < NRV_QK; j++)
			sum += y[ib].qs[j];
		double exact = (double)nrv_half_to_float(y[ib].d) * sum;
		c += nrv_half_to_float(mh) * ((double)nrv_half_to_float(y[ib].s) - exact);
	}
	return c;
}

static void check_vec_dot(int type)
{
	enum { N = 4096, TRIALS = 16 };
	static float x[N], xq[N], wf[N];
	static double bound[N];
	static unsigned char w[N * 4];
	static unsigned char a[N * 4];
	const struct nrv_cpu_kernels *k = nrv_cpu_kernels_ref();
	int at = nrv_cpu_act_type(type);
	cr_assert_geq(at, 0);
	cr_assert_not_null(k->vec_dot[type], "%s has no vec_dot", nrv_type_name(type));
	cr_assert_not_null(k->quantize[at]);
	cr_assert_not_null(k->dequant[type]);
	double tol = dot_tolerance(type);
	rng_state = 0xd07 + (uint64_t)type;
	for (int trial = 0; trial < TRIALS; trial++) {
		fill_weights(type, w, N);
		fill_activations(x, N, trial & 1);
		k->dequant[type](w, wf, N);
		k->quantize[at](x, a, N);
		act_bound(at, x, a, N, xq, bound);
		float got = k->vec_dot[type](N, w, a);

		double exact_q = 0.0, mag = 0.0, exact_x = 0.0, mag_x = 0.0, act_err = 0.0;
		for (int i = 0; i < N; i++) {
			exact_q += (double)wf[i] * xq[i];
			mag += fabs((double)wf[i] * xq[i]);
			exact_x += (double)wf[i] * x[i];
			mag_x += fabs((double)wf[i] * x[i]);
			act_err += fabs((double)wf[i]) * bound[i];
		}
		double corr = q8_1_min_correction(type, w, a, N);
		exact_q += corr;

		/* The arithmetic of the kernel, given the quantized activations. */
		cr_assert(fabs(got - exact_q) <= tol * mag,
			  "%s trial %d: vec_dot %.9g, dot(dequant(w), dequant(a)) %.9g: "
			  "error %.3g of sum|w*a| > %.3g", nrv_type_name(type), trial, got, exact_q,
			  fabs(got - exact_q) / mag, tol);
		/* Against the float activations: add the activation rounding,
		 * bounded per element (sum_i |w_i| e_i). */
		cr_assert(fabs(got - exact_x) <= act_err + fabs(corr) + tol * mag,
			  "%s trial %d: vec_dot %.9g, dot(dequant(w), x) %.9g: error %.3g > bound %.3g",
			  nrv_type_name(type), trial, got, exact_x, fabs(got - exact_x),
			  act_err + fabs(corr) + tol * mag);
		/* And for Gaussian activations without outliers that bound is a
		 * small fraction of sum|w*x|: each element is within max|x|/254 of
		 * its block, about 3/254 of the 0.8 mean |x|, so under 1/32. */
		if (!(trial & 1))
			cr_assert(act_err <= mag_x / 32, "%s: activation error bound %.3g of sum|w*x|",
				  nrv_type_name(type), act_err / mag_x);
	}
}

#define DOT_TEST(T) Test(quant_dot, T) { check_vec_dot(NRV_TYPE_##T); }
DOT_TEST(F32)
DOT_TEST(F16)
DOT_TEST(BF16)
DOT_TEST(Q4_0)
DOT_TEST(Q4_1)
DOT_TEST(Q5_0)
DOT_TEST(Q5_1)
DOT_TEST(Q8_0)
DOT_TEST(Q2_K)
DOT_TEST(Q3_K)
DOT_TEST(Q4_K)
DOT_TEST(Q5_K)
DOT_TEST(Q6_K)

/* ---- hand-built blocks with known values ---- */

Test(quant_dequant, q4_0_layout)
{
	struct nrv_block_q4_0 b;
	b.d = nrv_float_to_half(0.5f);
	for (int j = 0; j < 16; j++)
		b.qs[j] = (uint8_t)(j | (15 - j) << 4);
	float y[32];
	nrv_dequant_row_ref(NRV_TYPE_Q4_0, &b, y, 32);
	for (int j = 0; j < 16; j++) {
		cr_assert_eq(y[j], 0.5f * (float)(j - 8), "low nibble %d", j);
		cr_assert_eq(y[16 + j], 0.5f * (float)(7 - j), "high nibble %d", j);
	}
}

Test(quant_dequant, q5_1_high_bits)
{
	struct nrv_block_q5_1 b;
	b.d = nrv_float_to_half(1.0f);
	b.m = nrv_float_to_half(-16.0f);
	memset(b.qs, 0x00, sizeof(b.qs));
	/* fifth bit set on elements 0 and 31 only (bit i of the LE u32) */
	b.qh[0] = 0x01;
	b.qh[1] = 0x00;
	b.qh[2] = 0x00;
	b.qh[3] = 0x80;
	float y[32];
	nrv_dequant_row_ref(NRV_TYPE_Q5_1, &b, y, 32);
	for (int j = 0; j < 32; j++)
		cr_assert_eq(y[j], (j == 0 || j == 31) ? 0.0f : -16.0f, "element %d", j);
}

Test(quant_dequant, q6_K_layout)
{
	struct nrv_block_q6_K b;
	memset(&b, 0, sizeof(b));
	b.d = nrv_float_to_half(1.0f);
	for (int g = 0; g < 16; g++)
		b.scales[g] = 1;
	/* element 128 + 64 + 5 (h 1, g 2, l 5): high nibble of ql[64 + 5],
	 * bits 4..5 of qh[32 + 5] */
	b.ql[64 + 5] = 0x70;
	b.qh[32 + 5] = 0x30;
	float y[NRV_QK_K];
	nrv_dequant_row_ref(NRV_TYPE_Q6_K, &b, y, NRV_QK_K);
	for (int i = 0; i < NRV_QK_K; i++)
		cr_assert_eq(y[i], i == 197 ? (float)(0x37 - 32) : -32.0f, "element %d", i);
}

Test(quant_dequant, unsupported_type_poisons)
{
	unsigned char blk[64] = { 0 };
	float y[32];
	nrv_dequant_row_ref(NRV_TYPE_Q8_K, blk, y, 32);
	for (int i = 0; i < 32; i++)
		cr_assert(isnan(y[i]));
}

/* ---- the table and selection ---- */

Test(quant_table, ref_table_complete)
{
	static const int wtypes[] = {
		NRV_TYPE_F32, NRV_TYPE_F16, NRV_TYPE_BF16, NRV_TYPE_Q4_0, NRV_TYPE_Q4_1,
		NRV_TYPE_Q5_0, NRV_TYPE_Q5_1, NRV_TYPE_Q8_0, NRV_TYPE_Q2_K, NRV_TYPE_Q3_K,
		NRV_TYPE_Q4_K, NRV_TYPE_Q5_K, NRV_TYPE_Q6_K,
	};
	const struct nrv_cpu_kernels *k = nrv_cpu_kernels_ref();
	cr_assert_str_eq(k->isa, "ref");
	for (size_t i = 0; i < sizeof(wtypes) / sizeof(wtypes[0]); i++) {
		int t = wtypes[i];
		cr_assert_not_null(k->vec_dot[t], "%s", nrv_type_name(t));
		cr_assert_not_null(k->dequant[t], "%s", nrv_type_name(t));
		cr_assert_not_null(k->quantize[nrv_cpu_act_type(t)], "%s", nrv_type_name(t));
	}
}

Test(quant_table, select)
{
	const struct nrv_cpu_kernels *best = nrv_cpu_kernels_select(NULL);
	cr_assert_not_null(best);
	cr_assert_eq(nrv_cpu_kernels_select("ref"), nrv_cpu_kernels_ref());
	cr_assert_null(nrv_cpu_kernels_select("sse9"));
	cr_assert_null(nrv_cpu_kernels_select(""));
	/* A forced ISA is either unavailable (NULL) or exactly that ISA. */
	const char *isas[] = { "avx2", "avx512" };
	for (int i = 0; i < 2; i++) {
		const struct nrv_cpu_kernels *k = nrv_cpu_kernels_select(isas[i]);
		if (k)
			cr_assert_str_eq(k->isa, isas[i]);
	}
}
