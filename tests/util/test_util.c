/*
 * tests/util/test_util.c - the CLI helpers: strict number parsing, CPU
 * lists, and the UTF-8 hold-back that keeps streamed text whole.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "util.h"

Test(util, parse_int_is_strict)
{
	int v;
	cr_assert_eq(nrv_parse_int("42", 0, 100, &v), 0);
	cr_assert_eq(v, 42);
	cr_assert_eq(nrv_parse_int("-1", -1, 10, &v), 0);
	cr_assert_eq(v, -1);
	cr_assert_eq(nrv_parse_int("101", 0, 100, &v), -1);
	cr_assert_eq(nrv_parse_int("4x", 0, 100, &v), -1);
	cr_assert_eq(nrv_parse_int("", 0, 100, &v), -1);
	cr_assert_eq(nrv_parse_int("99999999999999999999", 0, 100, &v), -1);
}

Test(util, parse_float_and_u64)
{
	float f;
	uint64_t u;
	cr_assert_eq(nrv_parse_float("0.5", 0, 1, &f), 0);
	cr_assert_float_eq(f, 0.5f, 1e-7);
	cr_assert_eq(nrv_parse_float("nan", 0, 1, &f), -1);
	cr_assert_eq(nrv_parse_float("inf", 0, 1e30f, &f), -1);
	cr_assert_eq(nrv_parse_float("1.5", 0, 1, &f), -1);
	cr_assert_eq(nrv_parse_u64("18446744073709551615", &u), 0);
	cr_assert_eq(u, UINT64_MAX);
	cr_assert_eq(nrv_parse_u64("-3", &u), -1);
	cr_assert_eq(nrv_parse_u64("18446744073709551616", &u), -1);
}

Test(util, cpu_lists)
{
	int c[8];
	cr_assert_eq(nrv_parse_cpu_list("0,2,4-6", c, 8), 5);
	cr_assert_eq(c[0], 0);
	cr_assert_eq(c[1], 2);
	cr_assert_eq(c[4], 6);
	cr_assert_eq(nrv_parse_cpu_list("0-100", c, 8), -1, "more cores than room");
	cr_assert_eq(nrv_parse_cpu_list("3-1", c, 8), -1);
	cr_assert_eq(nrv_parse_cpu_list("a", c, 8), -1);
	cr_assert_eq(nrv_parse_cpu_list("", c, 8), -1);
	cr_assert_eq(nrv_parse_cpu_list("1,", c, 8), 1);
}

Test(util, utf8_holdback)
{
	/* complete text: nothing held */
	cr_assert_eq(nrv_utf8_incomplete_tail("abc", 3), 0);
	cr_assert_eq(nrv_utf8_incomplete_tail("\xc3\xa9", 2), 0);
	cr_assert_eq(nrv_utf8_incomplete_tail("\xf0\x9f\x98\x80", 4), 0);
	/* the start of a 2-, 3- and 4-byte character is held */
	cr_assert_eq(nrv_utf8_incomplete_tail("a\xc3", 2), 1);
	cr_assert_eq(nrv_utf8_incomplete_tail("a\xe6\x97", 3), 2);
	cr_assert_eq(nrv_utf8_incomplete_tail("a\xf0\x9f\x98", 4), 3);
	/* invalid bytes are never held back (they can never complete) */
	cr_assert_eq(nrv_utf8_incomplete_tail("a\xff", 2), 0);
	cr_assert_eq(nrv_utf8_incomplete_tail("a\x80", 2), 0);
	cr_assert_eq(nrv_utf8_incomplete_tail("", 0), 0);
	/* every prefix of a valid string: emitting all but the tail never
	 * cuts a character */
	const char *s = "h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x98\x80!";
	size_t n = strlen(s);
	for (size_t i = 0; i <= n; i++) {
		size_t keep = nrv_utf8_incomplete_tail(s, i);
		size_t emit = i - keep;
		cr_assert(emit == 0 || emit == n || (((unsigned char)s[emit] & 0xc0) != 0x80),
			  "prefix %zu: emitting %zu bytes cuts a character", i, emit);
	}
}

Test(util, formatters)
{
	char b[32];
	nrv_fmt_count(b, sizeof(b), 134515008);
	cr_assert_str_eq(b, "134.52 M");
	nrv_fmt_count(b, sizeof(b), 999);
	cr_assert_str_eq(b, "999");
	nrv_fmt_bytes(b, sizeof(b), 96576768);
	cr_assert_str_eq(b, "92.10 MiB");
	nrv_fmt_bytes(b, sizeof(b), 12);
	cr_assert_str_eq(b, "12 B");
}
