/*
 * kernels/cpu/x86/sse42/crc32c_sse42.c - CRC32C, 8 bytes per crc32
 * instruction. Compiled alone with -msse4.2 (kernels/cpu/x86/sse42/
 * meson.build) so that no other object of the build can contain SSE4.2
 * code. One dependent chain of crc32q runs at about 8 bytes per 3 cycles,
 * far above what a datagram of at most 9 KiB needs; the three-way
 * interleaving of large-buffer implementations would not pay here.
 */
#include <nmmintrin.h>
#include <string.h>

#include "crc32c_sse42.h"

uint32_t nrv_crc32c_sse42(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t c = (uint32_t)~crc;

	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);  /* unaligned: datagrams land anywhere in an mbuf */
		c = _mm_crc32_u64(c, w);
		p += 8;
		len -= 8;
	}
	uint32_t c32 = (uint32_t)c;
	while (len--)
		c32 = _mm_crc32_u8(c32, *p++);
	return ~c32;
}
