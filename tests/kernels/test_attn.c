/*
 * tests/kernels/test_attn.c - the attention kernels of every ISA table
 * against the scalar references (kernels/cpu/ref/attn_ref.c).
 *
 *   - attn_scores: within |simd - ref| <= hd * 2^-23 * scale * sum_d |q_d k_d|
 *     (a bound on any change of float summation order), and bit-identical
 *     to itself whatever the number of queries per call and however the
 *     keys are split between calls;
 *   - attn_values, softmax_half, round_half: bit-identical to the reference
 *     (they keep its arithmetic), and attn_values under key splits;
 *   - the reference's own semantics: scores of half-rounded queries, and
 *     half-rounded probabilities that sum to about 1.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/kernels.h"

static uint64_t rng_state;

static void seed(void)
{
	rng_state = 0x2545f4914f6cdd1dULL;
}

static float frand(void) /* uniform in [-1, 1) */
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return (float)((double)(x >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static const struct nrv_cpu_kernels *isa_or_skip(const char *name)
{
	const struct nrv_cpu_kernels *k = nrv_cpu_kernels_select(name);
	if (!k)
		cr_skip_test("the %s kernels are not built or this CPU lacks %s; not tested here",
			     name, name);
	return k;
}

/* Head sizes: the default model's 64, other multiples of 8, and sizes the
 * SIMD twins hand to the reference. */
static const int head_dims[] = { 64, 8, 16, 72, 128, 256, 20, 6 };
#define N_HD (int)(sizeof(head_dims) / sizeof(head_dims[0]))

enum { NQ = 7, NK = 67, KSTRIDE_PAD = 24 };

struct case_data {
	int hd;
	size_t ks;           /* halves between key rows (padded as a KV slot is) */
	float q[NQ * 512];   /* rounded to half */
	nrv_half k[NK * (512 + KSTRIDE_PAD)];
	nrv_half v[NK * (512 + KSTRIDE_PAD)];
};

static void gen_case(struct case_data *c, int hd)
{
	c->hd = hd;
	c->ks = (size_t)hd + KSTRIDE_PAD;
	for (int i = 0; i < NQ * hd; i++)
		c->q[i] = 4.0f * frand();
	nrv_round_half_ref(c->q, NQ * hd);
	for (size_t i = 0; i < NK * c->ks; i++) {
		c->k[i] = nrv_float_to_half(2.0f * frand());
		c->v[i] = nrv_float_to_half(frand());
	}
}

static void check_scores(const struct nrv_cpu_kernels *k, const struct case_data *c)
{
	int hd = c->hd;
	const float scale = 0.125f;
	static float ref[NQ * NK], got[NQ * NK], split[NQ * NK];
	nrv_attn_scores_ref(hd, NQ, c->q, (size_t)hd, c->k, c->ks, NK, scale, ref, NK);
	k->attn_scores(hd, NQ, c->q, (size_t)hd, c->k, c->ks, NK, scale, got, NK);
	double worst = 0.0;
	for (int i = 0; i < NQ; i++) {
		for (int j = 0; j < NK; j++) {
			double mag = 0.0;
			for (int d = 0; d < hd; d++)
				mag += fabs((double)c->q[i * hd + d] *
					    nrv_half_to_float(c->k[j * c->ks + d]));
			double err = fabs((double)got[i * NK + j] - ref[i * NK + j]);
			double tol = hd * ldexp(1.0, -23) * scale * mag;
			cr_assert(err <= tol, "%s hd %d: score (%d, %d) %.9g vs ref %.9g",
				  k->isa, hd, i, j, got[i * NK + j], ref[i * NK + j]);
			if (mag > 0 && err / (scale * mag) > worst)
				worst = err / (scale * mag);
		}
	}
	cr_log_info("%s attn_scores hd %d: worst |simd - ref| / sum|q k| = %.3g", k->isa, hd, worst);
	/* One query per call, keys in three uneven pieces: the same bits. */
	for (int i = 0; i < NQ; i++) {
		const float *qi = c->q + (size_t)i * hd;
		float *si = split + (size_t)i * NK;
		k->attn_scores(hd, 1, qi, 0, c->k, c->ks, 5, scale, si, 0);
		k->attn_scores(hd, 1, qi, 0, c->k + 5 * c->ks, c->ks, 1, scale, si + 5, 0);
		k->attn_scores(hd, 1, qi, 0, c->k + 6 * c->ks, c->ks, NK - 6, scale, si + 6, 0);
	}
	cr_assert(memcmp(split, got, sizeof(got)) == 0, "%s hd %d: scores depend on the call split",
		  k->isa, hd);
}

static void check_values(const struct nrv_cpu_kernels *k, const struct case_data *c)
{
	int hd = c->hd;
	static float p[NQ * NK], ref[NQ * 512], got[NQ * 512], split[NQ * 512];
	for (int i = 0; i < NQ * NK; i++)
		p[i] = 0.5f * (frand() + 1.0f);
	nrv_round_half_ref(p, NQ * NK);
	for (int i = 0; i < NQ * hd; i++)
		ref[i] = got[i] = split[i] = 0.25f * frand();
	nrv_attn_values_ref(hd, NQ, p, NK, c->v, c->ks, NK, ref, (size_t)hd);
	k->attn_values(hd, NQ, p, NK, c->v, c->ks, NK, got, (size_t)hd);
	cr_assert(memcmp(ref, got, (size_t)NQ * hd * sizeof(float)) == 0,
		  "%s hd %d: attn_values differs from the reference", k->isa, hd);
	for (int i = 0; i < NQ; i++) {
		const float *pi = p + (size_t)i * NK;
		float *oi = split + (size_t)i * hd;
		k->attn_values(hd, 1, pi, 0, c->v, c->ks, 9, oi, 0);
		k->attn_values(hd, 1, pi + 9, 0, c->v + 9 * c->ks, c->ks, NK - 9, oi, 0);
	}
	cr_assert(memcmp(split, got, (size_t)NQ * hd * sizeof(float)) == 0,
		  "%s hd %d: attn_values depends on the call split", k->isa, hd);
}

static void check_softmax(const struct nrv_cpu_kernels *k)
{
	static float ref[1031], got[1031];
	static const int lens[] = { 1, 2, 7, 8, 9, 31, 64, 513, 1031 };
	for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
		int n = lens[li];
		for (int i = 0; i < n; i++)
			ref[i] = got[i] = 12.0f * frand();
		if (n > 3)
			ref[3] = got[3] = NAN; /* skipped by the max, as the reference skips it */
		nrv_softmax_half_ref(ref, n);
		k->softmax_half(got, n);
		for (int i = 0; i < n; i++)
			cr_assert(memcmp(&ref[i], &got[i], sizeof(float)) == 0 ||
				  (isnan(ref[i]) && isnan(got[i])),
				  "%s softmax_half n %d: [%d] %.9g vs ref %.9g", k->isa, n, i, got[i], ref[i]);
	}
	/* Rounding: ties, subnormals, overflow, signs. */
	static float x[64], y[64];
	const float special[] = { 1.0f + 0x1p-11f, 1.0f + 0x3p-11f, 0x1p-25f, 0x1.8p-25f, 0x1p-24f,
				  65519.0f, 65520.0f, -0.0f, -1e-30f, 3.0e38f, -65504.0f, 0.1f };
	for (int i = 0; i < 64; i++)
		x[i] = i < 12 ? special[i] : 70000.0f * frand() * ldexpf(1.0f, -(i % 30));
	memcpy(y, x, sizeof(x));
	nrv_round_half_ref(x, 61);
	k->round_half(y, 61);
	cr_assert(memcmp(x, y, sizeof(x)) == 0, "%s round_half differs from the reference", k->isa);
}

static void check_isa(const struct nrv_cpu_kernels *k)
{
	static struct case_data c;
	for (int i = 0; i < N_HD; i++) {
		gen_case(&c, head_dims[i]);
		check_scores(k, &c);
		check_values(k, &c);
	}
	check_softmax(k);
}

Test(attn, ref_semantics, .init = seed)
{
	/* A score is scale * sum of q_d * k_d in element order; the
	 * probabilities are halves summing to 1 within their rounding. */
	float q[16], s[3];
	nrv_half k[3 * 16];
	for (int i = 0; i < 16; i++)
		q[i] = nrv_half_to_float(nrv_float_to_half(frand()));
	for (int i = 0; i < 48; i++)
		k[i] = nrv_float_to_half(frand());
	nrv_attn_scores_ref(16, 1, q, 16, k, 16, 3, 0.25f, s, 3);
	for (int j = 0; j < 3; j++) {
		float dot = 0.0f;
		for (int d = 0; d < 16; d++)
			dot += q[d] * nrv_half_to_float(k[j * 16 + d]);
		cr_assert_eq(s[j], dot * 0.25f);
	}
	nrv_softmax_half_ref(s, 3);
	double sum = 0.0;
	for (int j = 0; j < 3; j++) {
		cr_assert_eq(s[j], nrv_half_to_float(nrv_float_to_half(s[j])));
		sum += s[j];
	}
	cr_assert(fabs(sum - 1.0) < 3e-3, "probabilities sum to %g", sum);
}

Test(attn, ref_table, .init = seed)
{
	check_isa(nrv_cpu_kernels_ref());
}

Test(attn, avx2, .init = seed)
{
	check_isa(isa_or_skip("avx2"));
}

Test(attn, avx512, .init = seed)
{
	check_isa(isa_or_skip("avx512"));
}
