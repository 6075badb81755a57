/*
 * tests/api/test_textstream.c - streamed text: UTF-8 characters are never
 * cut between chunks, a stop string's beginning is held back until it is
 * certain, and a match ends the text before the stop string.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "textstream.h"

/* Feed `pieces` (NULL-terminated) and collect the released chunks. */
static int run(const char *const *stops, int n_stop, const char *const *pieces, char *all,
	       char chunks[][64], int *n_chunks)
{
	struct nrv_textstream s;
	size_t lens[4] = { 0 };
	for (int i = 0; i < n_stop; i++)
		lens[i] = strlen(stops[i]);
	cr_assert_eq(nrv_textstream_init(&s, NULL, stops, lens, n_stop), 0);
	all[0] = 0;
	*n_chunks = 0;
	int stopped = 0;
	for (int i = 0; pieces[i]; i++) {
		const char *o;
		size_t l;
		int rc = nrv_textstream_push_text(&s, pieces[i], strlen(pieces[i]), &o, &l);
		cr_assert_geq(rc, 0);
		strncat(all, o, l);
		memcpy(chunks[*n_chunks], o, l);
		chunks[(*n_chunks)++][l] = 0;
		if (rc == 1) {
			stopped = 1;
			break;
		}
	}
	const char *o;
	size_t l;
	nrv_textstream_finish(&s, &o, &l);
	strncat(all, o, l);
	memcpy(chunks[*n_chunks], o, l);
	chunks[(*n_chunks)++][l] = 0;
	return stopped;
}

static void assert_whole_chars(char chunks[][64], int n)
{
	for (int i = 0; i < n; i++) {
		size_t l = strlen(chunks[i]);
		if (!l)
			continue;
		cr_assert_neq((unsigned char)chunks[i][0] & 0xc0, 0x80, "chunk %d starts mid-character", i);
	}
}

Test(textstream, no_stops_passes_text_through)
{
	const char *p[] = { "Hello", ",", " world", NULL };
	char all[256], ch[16][64];
	int n;
	cr_assert_eq(run(NULL, 0, p, all, ch, &n), 0);
	cr_assert_str_eq(all, "Hello, world");
	cr_assert_str_eq(ch[0], "Hello", "text with nothing to hold is released at once");
}

Test(textstream, utf8_split_across_tokens)
{
	/* "é" = c3 a9 and "😀" = f0 9f 98 80 arriving byte by byte */
	const char *p[] = { "caf", "\xc3", "\xa9", " ", "\xf0", "\x9f\x98", "\x80", "!", NULL };
	char all[256], ch[16][64];
	int n;
	run(NULL, 0, p, all, ch, &n);
	cr_assert_str_eq(all, "caf\xc3\xa9 \xf0\x9f\x98\x80!");
	assert_whole_chars(ch, n);
	cr_assert_str_eq(ch[1], "", "a lone lead byte is held");
	cr_assert_str_eq(ch[2], "\xc3\xa9");
	cr_assert_str_eq(ch[6], "\xf0\x9f\x98\x80");
}

Test(textstream, stop_across_tokens_is_excluded)
{
	const char *stops[] = { "END" };
	const char *p[] = { "ab", "cE", "N", "Dxyz", "more", NULL };
	char all[256], ch[16][64];
	int n;
	cr_assert_eq(run(stops, 1, p, all, ch, &n), 1);
	cr_assert_str_eq(all, "abc");
	cr_assert_str_eq(ch[1], "c", "'E' might start END: held back");
	cr_assert_str_eq(ch[2], "", "'EN' still might");
	for (int i = 0; i < n; i++)
		cr_assert_null(strchr(ch[i], 'E'), "chunk %d leaked the stop string's start", i);
}

Test(textstream, false_start_is_released)
{
	const char *stops[] = { "END" };
	const char *p[] = { "aE", "Nx", "b", NULL };
	char all[256], ch[16][64];
	int n;
	cr_assert_eq(run(stops, 1, p, all, ch, &n), 0);
	cr_assert_str_eq(all, "aENxb");
	cr_assert_str_eq(ch[0], "a");
	cr_assert_str_eq(ch[1], "ENx", "once 'ENx' cannot be END, it goes out");
}

Test(textstream, earliest_of_several_stops_wins)
{
	const char *stops[] = { "world", "lo w", "\n\n" };
	const char *p[] = { "Hello world", NULL };
	char all[256], ch[16][64];
	int n;
	cr_assert_eq(run(stops, 3, p, all, ch, &n), 1);
	cr_assert_str_eq(all, "Hel");
}

Test(textstream, stop_inside_one_token_and_unicode_stop)
{
	const char *stops[] = { "\xc3\xa9t\xc3\xa9" };  /* "été" */
	const char *p[] = { "un \xc3", "\xa9t", "\xc3", "\xa9 chaud", NULL };
	char all[256], ch[16][64];
	int n;
	cr_assert_eq(run(stops, 1, p, all, ch, &n), 1);
	cr_assert_str_eq(all, "un ");
	assert_whole_chars(ch, n);
}

Test(textstream, finish_releases_held_prefix)
{
	const char *stops[] = { "###" };
	const char *p[] = { "text#", "#", NULL };
	char all[256], ch[16][64];
	int n;
	cr_assert_eq(run(stops, 1, p, all, ch, &n), 0);
	cr_assert_str_eq(ch[0], "text");
	cr_assert_str_eq(all, "text##", "at the end, a prefix that never completed is text");
}

Test(textstream, pushes_after_stop_release_nothing)
{
	struct nrv_textstream s;
	const char *stops[] = { "x" };
	size_t l1 = 1;
	nrv_textstream_init(&s, NULL, stops, &l1, 1);
	const char *o;
	size_t l;
	cr_assert_eq(nrv_textstream_push_text(&s, "abxcd", 5, &o, &l), 1);
	cr_assert_eq(l, 2);
	cr_assert_eq(nrv_textstream_push_text(&s, "more", 4, &o, &l), 1);
	cr_assert_eq(l, 0);
	nrv_textstream_finish(&s, &o, &l);
	cr_assert_eq(l, 0);
}

Test(textstream, bad_init)
{
	struct nrv_textstream s;
	char big[300];
	memset(big, 'a', sizeof(big));
	const char *stops[] = { big };
	size_t len = sizeof(big);
	cr_assert_eq(nrv_textstream_init(&s, NULL, stops, &len, 1), -EINVAL);
	cr_assert_eq(nrv_textstream_init(&s, NULL, stops, &len, 5), -EINVAL);
}

/* Every way of cutting a text into pieces gives the same output, whole characters only. */
Test(textstream, any_split_same_text)
{
	const char *text = "ab\xc3\xa9 STOP? no: ST\xe4\xb8\x96OP fin";
	const char *stops[] = { "STOP!", "\xe4\xb8\x96O" };
	size_t n = strlen(text);
	for (size_t a = 1; a < n; a++) {
		for (size_t b = a; b < n; b++) {
			char p0[64], p1[64], p2[64];
			memcpy(p0, text, a);
			p0[a] = 0;
			memcpy(p1, text + a, b - a);
			p1[b - a] = 0;
			memcpy(p2, text + b, n - b);
			p2[n - b] = 0;
			const char *p[] = { p0, p1, p2, NULL };
			char all[256], ch[16][64];
			int nc;
			cr_assert_eq(run(stops, 2, p, all, ch, &nc), 1);
			cr_assert_str_eq(all, "ab\xc3\xa9 STOP? no: ST", "split %zu/%zu", a, b);
			assert_whole_chars(ch, nc);
		}
	}
}
