/*
 * tests/gpu/test_cuda_dequant.cpp - the CUDA kernels' dequantization
 * (kernels/cuda/dequant.cuh), compiled for the host as plain C++, against
 * the scalar reference bit for bit, for every type and unit. No GPU
 * needed: runs in the fast suite wherever a C++ compiler is found.
 *
 * Exit 0 pass, 1 fail.
 */
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

extern "C" {
#include "kernels/cpu/kernels.h"
}
#include "kernels/cuda/dequant.cuh"
#include "kernels/cuda/geom.h"

static uint64_t s = 0x243F6A8885A308D3ull;
static uint8_t rnd8()
{
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return (uint8_t)(s >> 24);
}

template <int T>
static int row_check(const uint8_t *row, int k, float *out)
{
	int units = k / NRV_CU_UNIT;
	for (int u = 0; u < units; u++)
		nrv_cu_deq_unit<T>(row, u, out + (size_t)u * 32);
	return 0;
}

int main()
{
	const int types[] = { NRV_TYPE_F32, NRV_TYPE_F16, NRV_TYPE_BF16, NRV_TYPE_Q4_0, NRV_TYPE_Q4_1,
			      NRV_TYPE_Q5_0, NRV_TYPE_Q5_1, NRV_TYPE_Q8_0, NRV_TYPE_Q4_K, NRV_TYPE_Q5_K,
			      NRV_TYPE_Q6_K };
	const int k = 1024, rows = 16;
	int fails = 0;
	for (int type : types) {
		int blck, bs;
		nrv_type_geom(type, &blck, &bs);
		size_t rb = (size_t)(k / blck) * bs;
		std::vector<uint8_t> w(rb * rows + 8);
		for (auto &b : w)
			b = rnd8();
		/* keep the float types' scales finite: clear the exponent's top bit */
		for (size_t b = 0; b + bs <= rb * rows; b += bs) {
			if (type == NRV_TYPE_F16 || type == NRV_TYPE_BF16 || type == NRV_TYPE_F32)
				w[b + bs - 1] &= 0xBF;
			else if (type == NRV_TYPE_Q6_K)
				w[b + 209] &= 0xBF;
			else {
				w[b + 1] &= 0xBF;
				if (type == NRV_TYPE_Q4_1 || type == NRV_TYPE_Q5_1 || type == NRV_TYPE_Q4_K ||
				    type == NRV_TYPE_Q5_K)
					w[b + 3] &= 0xBF;
			}
		}
		std::vector<float> ref(k), got(k);
		int bad = 0;
		for (int r = 0; r < rows; r++) {
			const uint8_t *row = w.data() + (size_t)r * rb;
			nrv_dequant_row_ref(type, row, ref.data(), k);
			int rc = NRV_CU_DISPATCH(type, row_check, row, k, got.data());
			if (rc) {
				bad = k;
				break;
			}
			for (int i = 0; i < k; i++) {
				if (memcmp(&ref[i], &got[i], 4) && !(std::isnan(ref[i]) && std::isnan(got[i]))) {
					if (!bad)
						printf("  %s row %d elem %d: ref %.9g cuda %.9g\n",
						       nrv_type_name(type), r, i, ref[i], got[i]);
					bad++;
				}
			}
		}
		printf("%-4s dequant %s: %d of %d elements differ\n", bad ? "FAIL" : "ok",
		       nrv_type_name(type), bad, k * rows);
		fails += bad != 0;
	}
	printf("%s\n", fails ? "FAILED" : "ok");
	return fails ? 1 : 0;
}
