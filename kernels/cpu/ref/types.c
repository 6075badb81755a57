/*
 * kernels/cpu/ref/types.c - type names and activation formats.
 */
#include "kernels/cpu/kernels.h"

const char *nrv_type_name(int type)
{
	switch (type) {
	case NRV_TYPE_F32: return "F32";
	case NRV_TYPE_F16: return "F16";
	case NRV_TYPE_BF16: return "BF16";
	case NRV_TYPE_Q4_0: return "Q4_0";
	case NRV_TYPE_Q4_1: return "Q4_1";
	case NRV_TYPE_Q5_0: return "Q5_0";
	case NRV_TYPE_Q5_1: return "Q5_1";
	case NRV_TYPE_Q8_0: return "Q8_0";
	case NRV_TYPE_Q8_1: return "Q8_1";
	case NRV_TYPE_Q2_K: return "Q2_K";
	case NRV_TYPE_Q3_K: return "Q3_K";
	case NRV_TYPE_Q4_K: return "Q4_K";
	case NRV_TYPE_Q5_K: return "Q5_K";
	case NRV_TYPE_Q6_K: return "Q6_K";
	case NRV_TYPE_Q8_K: return "Q8_K";
	default: return NULL;
	}
}

int nrv_cpu_act_type(int wtype)
{
	switch (wtype) {
	case NRV_TYPE_F32:
	case NRV_TYPE_F16:
	case NRV_TYPE_BF16:
		return NRV_TYPE_F32;
	case NRV_TYPE_Q4_0:
	case NRV_TYPE_Q5_0:
	case NRV_TYPE_Q8_0:
		return NRV_TYPE_Q8_0;
	case NRV_TYPE_Q4_1:
	case NRV_TYPE_Q5_1:
		return NRV_TYPE_Q8_1;
	case NRV_TYPE_Q2_K:
	case NRV_TYPE_Q3_K:
	case NRV_TYPE_Q4_K:
	case NRV_TYPE_Q5_K:
	case NRV_TYPE_Q6_K:
		return NRV_TYPE_Q8_K;
	default:
		return -1;
	}
}

size_t nrv_cpu_act_row_bytes(int wtype, int n)
{
	int at = nrv_cpu_act_type(wtype);
	if (at < 0)
		return 0;
	int blck, size;
	nrv_type_geom(at, &blck, &size);
	return (size_t)(n / blck) * (size_t)size;
}
