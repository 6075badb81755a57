/*
 * kernels/cpu/x86/avx512/table_avx512.c - the AVX-512 kernel table.
 *
 * Q4_0, Q4_1 and Q8_0 (the default model's weights and its output
 * matrix) have 512-bit VNNI kernels; every other entry is the AVX2 one
 * (or, where AVX2 has none, the reference), as the AVX2 table lists them.
 */
#include "kernels/cpu/x86/avx2/kernels_avx2.h"
#include "kernels/cpu/x86/avx512/kernels_avx512.h"

static const struct nrv_cpu_kernels avx512_table = {
	.isa = "avx512",
	.vec_dot = {
		[NRV_TYPE_F32] = nrv_vec_dot_f32_avx2,
		[NRV_TYPE_F16] = nrv_vec_dot_f16_avx2,
		[NRV_TYPE_BF16] = nrv_vec_dot_bf16_avx2,
		[NRV_TYPE_Q4_0] = nrv_vec_dot_q4_0_avx512,
		[NRV_TYPE_Q4_1] = nrv_vec_dot_q4_1_avx512,
		[NRV_TYPE_Q5_0] = nrv_vec_dot_q5_0_avx2,
		[NRV_TYPE_Q5_1] = nrv_vec_dot_q5_1_avx2,
		[NRV_TYPE_Q8_0] = nrv_vec_dot_q8_0_avx512,
		[NRV_TYPE_Q2_K] = nrv_vec_dot_q2_K_ref,
		[NRV_TYPE_Q3_K] = nrv_vec_dot_q3_K_ref,
		[NRV_TYPE_Q4_K] = nrv_vec_dot_q4_K_avx2,
		[NRV_TYPE_Q5_K] = nrv_vec_dot_q5_K_avx2,
		[NRV_TYPE_Q6_K] = nrv_vec_dot_q6_K_avx2,
	},
	.gemm = {
		[NRV_TYPE_Q4_0] = nrv_gemm_q4_0_avx512,
		[NRV_TYPE_Q4_1] = nrv_gemm_q4_1_avx512,
		[NRV_TYPE_Q5_0] = nrv_gemm_q5_0_avx2,
		[NRV_TYPE_Q5_1] = nrv_gemm_q5_1_avx2,
		[NRV_TYPE_Q8_0] = nrv_gemm_q8_0_avx512,
		[NRV_TYPE_Q4_K] = nrv_gemm_q4_K_avx2,
		[NRV_TYPE_Q5_K] = nrv_gemm_q5_K_avx2,
		[NRV_TYPE_Q6_K] = nrv_gemm_q6_K_avx2,
	},
	.quantize = {
		[NRV_TYPE_F32] = nrv_quantize_f32_ref,
		[NRV_TYPE_Q8_0] = nrv_quantize_q8_0_avx2,
		[NRV_TYPE_Q8_1] = nrv_quantize_q8_1_avx2,
		[NRV_TYPE_Q8_K] = nrv_quantize_q8_K_avx2,
	},
	.dequant = {
		[NRV_TYPE_F32] = nrv_dequant_f32_ref,
		[NRV_TYPE_F16] = nrv_dequant_f16_ref,
		[NRV_TYPE_BF16] = nrv_dequant_bf16_ref,
		[NRV_TYPE_Q4_0] = nrv_dequant_q4_0_ref,
		[NRV_TYPE_Q4_1] = nrv_dequant_q4_1_ref,
		[NRV_TYPE_Q5_0] = nrv_dequant_q5_0_ref,
		[NRV_TYPE_Q5_1] = nrv_dequant_q5_1_ref,
		[NRV_TYPE_Q8_0] = nrv_dequant_q8_0_ref,
		[NRV_TYPE_Q2_K] = nrv_dequant_q2_K_ref,
		[NRV_TYPE_Q3_K] = nrv_dequant_q3_K_ref,
		[NRV_TYPE_Q4_K] = nrv_dequant_q4_K_ref,
		[NRV_TYPE_Q5_K] = nrv_dequant_q5_K_ref,
		[NRV_TYPE_Q6_K] = nrv_dequant_q6_K_ref,
	},
	.attn_scores = nrv_attn_scores_avx2,
	.attn_values = nrv_attn_values_avx2,
	.softmax_half = nrv_softmax_half_avx2,
	.round_half = nrv_round_half_avx2,
};

const struct nrv_cpu_kernels *nrv_cpu_kernels_avx512(void)
{
	return &avx512_table;
}
