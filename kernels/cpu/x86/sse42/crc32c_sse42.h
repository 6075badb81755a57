/*
 * kernels/cpu/x86/sse42/crc32c_sse42.h - CRC32C with the SSE4.2 crc32
 * instruction. Only call it after __builtin_cpu_supports("sse4.2");
 * net/proto.c does the choosing, and its portable table-driven version
 * is the reference this one is tested against (tests/net/test_proto.c).
 */
#ifndef NRV_CRC32C_SSE42_H
#define NRV_CRC32C_SSE42_H

#include <stddef.h>
#include <stdint.h>

/* CRC32C of buf[0..len) continuing crc (0 to start), with the usual
 * pre- and post-inversion: the same contract as nrv_proto_crc32c. */
uint32_t nrv_crc32c_sse42(uint32_t crc, const void *buf, size_t len);

#endif
