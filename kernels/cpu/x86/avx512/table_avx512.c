/*
 * kernels/cpu/x86/avx512/table_avx512.c - the AVX-512 kernel table.
 *
 * Q4_0, Q4_1 and Q8_0 (the default model's weights and its output
 * matrix) have 512-bit VNNI kernels; every other entry is the AVX2 table's
 * (or, where AVX2 has none, the reference), copied from it once.
 */
#include <pthread.h>

#include "kernels/cpu/x86/avx2/kernels_avx2.h"
#include "kernels/cpu/x86/avx512/kernels_avx512.h"

static struct nrv_cpu_kernels avx512_table;
static pthread_once_t avx512_once = PTHREAD_ONCE_INIT;

static void build_avx512(void)
{
	struct nrv_cpu_kernels *t = &avx512_table;
	*t = *nrv_cpu_kernels_avx2();
	t->isa = "avx512";
	t->vec_dot[NRV_TYPE_Q4_0] = nrv_vec_dot_q4_0_avx512;
	t->vec_dot[NRV_TYPE_Q4_1] = nrv_vec_dot_q4_1_avx512;
	t->vec_dot[NRV_TYPE_Q8_0] = nrv_vec_dot_q8_0_avx512;
	t->gemm[NRV_TYPE_Q4_0] = nrv_gemm_q4_0_avx512;
	t->gemm[NRV_TYPE_Q4_1] = nrv_gemm_q4_1_avx512;
	t->gemm[NRV_TYPE_Q8_0] = nrv_gemm_q8_0_avx512;
}

const struct nrv_cpu_kernels *nrv_cpu_kernels_avx512(void)
{
	pthread_once(&avx512_once, build_avx512);
	return &avx512_table;
}
