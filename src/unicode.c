/*
 * src/unicode.c - UTF-8 and category lookups (see unicode.h).
 */
#include "unicode.h"

static int is_cont(uint8_t b)
{
	return (b & 0xC0) == 0x80;
}

uint32_t nrv_utf8_decode(const uint8_t *s, size_t len, size_t *used)
{
	uint8_t b = s[0];
	uint32_t cp;

	*used = 1;
	if (b < 0x80)
		return b;
	if (b < 0xC0) /* continuation byte in lead position */
		return NRV_UCD_REPLACEMENT;
	if (b < 0xE0) {
		if (len < 2 || !is_cont(s[1]))
			return NRV_UCD_REPLACEMENT;
		*used = 2;
		return (uint32_t)(b & 0x1F) << 6 | (s[1] & 0x3F);
	}
	if (b < 0xF0) {
		if (len < 3 || !is_cont(s[1]) || !is_cont(s[2]))
			return NRV_UCD_REPLACEMENT;
		*used = 3;
		return (uint32_t)(b & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
	}
	if (b < 0xF8) {
		if (len < 4 || !is_cont(s[1]) || !is_cont(s[2]) || !is_cont(s[3]))
			return NRV_UCD_REPLACEMENT;
		cp = (uint32_t)(b & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 |
		     (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
		if (cp > 0x10FFFF)
			return NRV_UCD_REPLACEMENT;
		*used = 4;
		return cp;
	}
	return NRV_UCD_REPLACEMENT;
}

int nrv_utf8_encode(uint32_t cp, uint8_t out[4])
{
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xC0 | cp >> 6);
		out[1] = (uint8_t)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xE0 | cp >> 12);
		out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
		out[2] = (uint8_t)(0x80 | (cp & 0x3F));
		return 3;
	}
	if (cp <= 0x10FFFF) {
		out[0] = (uint8_t)(0xF0 | cp >> 18);
		out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
		out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
		out[3] = (uint8_t)(0x80 | (cp & 0x3F));
		return 4;
	}
	return 0;
}

uint16_t nrv_ucd_flags(uint32_t cp)
{
	unsigned lo = 0, hi = nrv__ucd_n_ranges;

	if (cp > 0x10FFFF)
		return NRV_UCD_UNDEFINED;
	/* Last range whose start <= cp; ranges[0].start is 0. */
	while (hi - lo > 1) {
		unsigned mid = lo + (hi - lo) / 2;
		if (nrv__ucd_ranges[mid].start <= cp)
			lo = mid;
		else
			hi = mid;
	}
	return nrv__ucd_ranges[lo].flags;
}

const char *nrv_ucd_version(void)
{
	return nrv__ucd_version;
}
