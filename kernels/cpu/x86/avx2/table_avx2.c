/*
 * kernels/cpu/x86/avx2/table_avx2.c - the AVX2 kernel table.
 *
 * Built once from the reference table, with the entries that have an AVX2
 * kernel replaced. Types without one keep their scalar references (Q2_K,
 * Q3_K, and every dequantizer: dequantization runs once per token for the
 * embedding row only).
 */
#include <pthread.h>

#include "kernels/cpu/x86/avx2/kernels_avx2.h"

static struct nrv_cpu_kernels avx2_table;
static pthread_once_t avx2_once = PTHREAD_ONCE_INIT;

static void build_avx2(void)
{
	struct nrv_cpu_kernels *t = &avx2_table;
	*t = *nrv_cpu_kernels_ref();
	t->isa = "avx2";

	t->vec_dot[NRV_TYPE_F32] = nrv_vec_dot_f32_avx2;
	t->vec_dot[NRV_TYPE_F16] = nrv_vec_dot_f16_avx2;
	t->vec_dot[NRV_TYPE_BF16] = nrv_vec_dot_bf16_avx2;
	t->vec_dot[NRV_TYPE_Q4_0] = nrv_vec_dot_q4_0_avx2;
	t->vec_dot[NRV_TYPE_Q4_1] = nrv_vec_dot_q4_1_avx2;
	t->vec_dot[NRV_TYPE_Q5_0] = nrv_vec_dot_q5_0_avx2;
	t->vec_dot[NRV_TYPE_Q5_1] = nrv_vec_dot_q5_1_avx2;
	t->vec_dot[NRV_TYPE_Q8_0] = nrv_vec_dot_q8_0_avx2;
	t->vec_dot[NRV_TYPE_Q4_K] = nrv_vec_dot_q4_K_avx2;
	t->vec_dot[NRV_TYPE_Q5_K] = nrv_vec_dot_q5_K_avx2;
	t->vec_dot[NRV_TYPE_Q6_K] = nrv_vec_dot_q6_K_avx2;

	t->gemm[NRV_TYPE_Q4_0] = nrv_gemm_q4_0_avx2;
	t->gemm[NRV_TYPE_Q4_1] = nrv_gemm_q4_1_avx2;
	t->gemm[NRV_TYPE_Q5_0] = nrv_gemm_q5_0_avx2;
	t->gemm[NRV_TYPE_Q5_1] = nrv_gemm_q5_1_avx2;
	t->gemm[NRV_TYPE_Q8_0] = nrv_gemm_q8_0_avx2;
	t->gemm[NRV_TYPE_Q4_K] = nrv_gemm_q4_K_avx2;
	t->gemm[NRV_TYPE_Q5_K] = nrv_gemm_q5_K_avx2;
	t->gemm[NRV_TYPE_Q6_K] = nrv_gemm_q6_K_avx2;

	t->quantize[NRV_TYPE_Q8_0] = nrv_quantize_q8_0_avx2;
	t->quantize[NRV_TYPE_Q8_1] = nrv_quantize_q8_1_avx2;
	t->quantize[NRV_TYPE_Q8_K] = nrv_quantize_q8_K_avx2;

	t->attn_scores = nrv_attn_scores_avx2;
	t->attn_values = nrv_attn_values_avx2;
	t->softmax_half = nrv_softmax_half_avx2;
	t->round_half = nrv_round_half_avx2;
}

const struct nrv_cpu_kernels *nrv_cpu_kernels_avx2(void)
{
	pthread_once(&avx2_once, build_avx2);
	return &avx2_table;
}
