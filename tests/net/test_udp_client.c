/*
 * tests/net/test_udp_client.c - the client library over loopback against
 * the test-only echo responder (responder.h): requests in one datagram and
 * in fragments, lost datagrams recovered by NACK, a lost FINAL recovered
 * by the tail NACK, a silent server answered by retries by the same id
 * which the responder does not run twice, cancel, errors, ping.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/proto.h"
#include "net/udp_client.h"
#include "responder.h"

struct collect {
	char text[20000];
	size_t len;
	uint32_t n;
	int stop_after;        /* cancel after this many tokens; 0: never */
	int out_of_order;
};

static int on_token(void *user, uint32_t index, int32_t token, const char *text, size_t len,
		    int64_t t_ns)
{
	struct collect *c = user;
	if (index != c->n)
		c->out_of_order++;
	c->n++;
	if (c->len + len < sizeof(c->text)) {
		memcpy(c->text + c->len, text, len);
		c->len += len;
	}
	return c->stop_after && c->n >= (uint32_t)c->stop_after;
}

static struct nrv_udp_client *client_for(const struct responder *r, int accept_ms, int retries)
{
	struct nrv_udp_client_cfg cfg = {0};
	cfg.host = "127.0.0.1";
	cfg.port = r->port;
	cfg.accept_timeout_ms = accept_ms;
	cfg.retries = retries;
	cfg.stall_timeout_ms = 50;
	cfg.nack_interval_ms = 10;
	cfg.request_timeout_ms = 20000;
	struct nrv_udp_client *c;
	int rc = nrv_udp_client_create(&cfg, &c);
	cr_assert_eq(rc, 0, "create: %s", strerror(-rc));
	return c;
}

static void text_prompt(char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)('a' + (i * 7) % 26);
	buf[n] = 0;
}

static int run(struct nrv_udp_client *c, const char *prompt, uint32_t max_tokens,
	       struct collect *col, struct nrv_udp_client_res *res)
{
	struct nrv_udp_client_req q = {0};
	q.prompt = prompt;
	q.set = NRV_UDP_SET_MAX_TOKENS | NRV_UDP_SET_TEMPERATURE | NRV_UDP_SET_SEED;
	q.max_tokens = max_tokens;
	q.temperature = 0;
	q.seed = 1;
	return nrv_udp_client_generate(c, &q, on_token, col, res);
}

Test(udp_client, echo_in_one_datagram)
{
	struct responder r;
	struct responder_cfg rc = {0};
	cr_assert_eq(responder_start(&r, &rc), 0);
	struct nrv_udp_client *c = client_for(&r, 250, 4);
	static struct collect col;
	memset(&col, 0, sizeof(col));
	struct nrv_udp_client_res res;
	cr_assert_eq(run(c, "hello, world", 100, &col, &res), 0, "error %u: %s", res.error_code,
		     res.error_msg);
	cr_assert_eq(res.finish, NRV_UDP_FINISH_STOP);
	cr_assert_eq(col.len, 12);
	cr_assert_eq(memcmp(col.text, "hello, world", 12), 0);
	cr_assert_eq(col.out_of_order, 0);
	cr_assert_eq(res.completion_tokens, 12);
	cr_assert_eq(res.prompt_tokens, 12);
	cr_assert_eq(res.total_ns, 1234, "the server's timings come through");
	cr_assert_geq(res.ttft_ns, 0);
	cr_assert_geq(res.e2e_ns, res.ttft_ns);
	cr_assert_eq(res.retries, 0);
	/* max_tokens under the prompt: finish LENGTH. */
	memset(&col, 0, sizeof(col));
	cr_assert_eq(run(c, "hello, world", 5, &col, &res), 0);
	cr_assert_eq(res.finish, NRV_UDP_FINISH_LENGTH);
	cr_assert_eq(col.len, 5);
	nrv_udp_client_destroy(c);
	responder_stop(&r);
	cr_assert_eq(atomic_load(&r.runs), 2);
}

Test(udp_client, gaps_are_recovered_by_nack, .timeout = 60)
{
	/* Every 5th datagram the responder sends is lost: tokens, ACCEPTs,
	 * resends and FINALs alike. */
	struct responder r;
	struct responder_cfg rc = {.drop_every = 5, .step_us = 100};
	cr_assert_eq(responder_start(&r, &rc), 0);
	struct nrv_udp_client *c = client_for(&r, 250, 4);
	static char prompt[301];
	text_prompt(prompt, 300);
	static struct collect col;
	uint32_t nacks = 0, gaps = 0;
	for (int i = 0; i < 5; i++) {
		memset(&col, 0, sizeof(col));
		struct nrv_udp_client_res res;
		int e = run(c, prompt, 1000, &col, &res);
		cr_assert_eq(e, 0, "request %d: %s (error %u)", i, strerror(-e), res.error_code);
		cr_assert_eq(res.finish, NRV_UDP_FINISH_STOP);
		cr_assert_eq(col.len, 300, "request %d: every token, once", i);
		cr_assert_eq(memcmp(col.text, prompt, 300), 0, "in order");
		cr_assert_eq(col.out_of_order, 0);
		nacks += res.nacks;
		gaps += res.gaps;
	}
	nrv_udp_client_destroy(c);
	responder_stop(&r);
	cr_assert_gt(gaps, 0);
	cr_assert_gt(nacks, 0);
	cr_assert_gt(atomic_load(&r.dropped), 0);
	cr_assert_gt(atomic_load(&r.resent), 0);
	cr_assert_eq(atomic_load(&r.runs), 5, "each request ran once");
}

Test(udp_client, lost_final_is_recovered_by_tail_nack)
{
	struct responder r;
	struct responder_cfg rc = {.drop_final_once = 1};
	cr_assert_eq(responder_start(&r, &rc), 0);
	struct nrv_udp_client *c = client_for(&r, 250, 4);
	static struct collect col;
	memset(&col, 0, sizeof(col));
	struct nrv_udp_client_res res;
	cr_assert_eq(run(c, "abc", 10, &col, &res), 0);
	cr_assert_eq(res.finish, NRV_UDP_FINISH_STOP);
	cr_assert_eq(col.len, 3);
	cr_assert_geq(res.nacks, 1);
	cr_assert_geq(res.e2e_ns, 50 * 1000000, "recovered after the 50 ms stall timeout");
	nrv_udp_client_destroy(c);
	responder_stop(&r);
	cr_assert_eq(atomic_load(&r.resent), 1);
}

Test(udp_client, silent_server_gets_retries_by_the_same_id, .timeout = 60)
{
	/* The responder runs the request at once but sends nothing for
	 * 350 ms: the client resends by id (at 100 and 300 ms), the
	 * responder recognises the id and resends the stream instead of
	 * running it again. */
	struct responder r;
	struct responder_cfg rc = {.mute_ms = 350, .step_us = 1000};
	cr_assert_eq(responder_start(&r, &rc), 0);
	struct nrv_udp_client *c = client_for(&r, 100, 4);
	static struct collect col;
	memset(&col, 0, sizeof(col));
	struct nrv_udp_client_res res;
	int e = run(c, "retry me please", 100, &col, &res);
	cr_assert_eq(e, 0, "%s", strerror(-e));
	cr_assert_eq(col.len, 15);
	cr_assert_eq(memcmp(col.text, "retry me please", 15), 0);
	cr_assert_geq(res.retries, 2);
	nrv_udp_client_destroy(c);
	responder_stop(&r);
	cr_assert_eq(atomic_load(&r.runs), 1, "never run twice");
	cr_assert_geq(atomic_load(&r.dup_reqs), 1);
}

Test(udp_client, fragmented_request_with_lost_fragments, .timeout = 60)
{
	/* 5000 bytes: 4 fragments; every 3rd REQUEST datagram is lost, so
	 * the first attempt is incomplete and the retry fills the hole. */
	struct responder r;
	struct responder_cfg rc = {.drop_in_every = 3, .tokens_per_dgram = 50, .step_us = 100};
	cr_assert_eq(responder_start(&r, &rc), 0);
	struct nrv_udp_client *c = client_for(&r, 100, 4);
	static char prompt[5001];
	text_prompt(prompt, 5000);
	static struct collect col;
	memset(&col, 0, sizeof(col));
	struct nrv_udp_client_res res;
	int e = run(c, prompt, 6000, &col, &res);
	cr_assert_eq(e, 0, "%s", strerror(-e));
	cr_assert_eq(col.len, 5000);
	cr_assert_eq(memcmp(col.text, prompt, 5000), 0);
	cr_assert_geq(res.retries, 1);
	nrv_udp_client_destroy(c);
	responder_stop(&r);
	cr_assert_eq(atomic_load(&r.runs), 1);
}

Test(udp_client, token_id_prompt)
{
	struct responder r;
	struct responder_cfg rc = {0};
	cr_assert_eq(responder_start(&r, &rc), 0);
	struct nrv_udp_client *c = client_for(&r, 250, 4);
	int32_t ids[3] = {0x41, 0x42, 0x43};
	struct nrv_udp_client_req q = {0};
	q.prompt_ids = ids;
	q.n_prompt_ids = 3;
	q.model = "echo";
	static struct collect col;
	memset(&col, 0, sizeof(col));
	struct nrv_udp_client_res res;
	cr_assert_eq(nrv_udp_client_generate(c, &q, on_token, &col, &res), 0);
	/* The echo sends the prompt's bytes: id 0x41 is "A\0\0\0" little-endian. */
	cr_assert_eq(col.len, 12);
	cr_assert_eq(col.text[0], 'A');
	cr_assert_eq(col.text[4], 'B');
	nrv_udp_client_destroy(c);
	responder_stop(&r);
}

Test(udp_client, cancel_from_the_callback)
{
	struct responder r;
	struct responder_cfg rc = {.step_us = 5000};
	cr_assert_eq(responder_start(&r, &rc), 0);
	struct nrv_udp_client *c = client_for(&r, 250, 4);
	static char prompt[201];
	text_prompt(prompt, 200);
	static struct collect col;
	memset(&col, 0, sizeof(col));
	col.stop_after = 3;
	struct nrv_udp_client_res res;
	cr_assert_eq(run(c, prompt, 1000, &col, &res), 0);
	cr_assert_eq(res.finish, NRV_UDP_FINISH_CANCELLED);
	cr_assert_eq(col.n, 3, "no token delivered after the callback said stop");
	cr_assert_lt(res.completion_tokens, 200);
	nrv_udp_client_destroy(c);
	responder_stop(&r);
	cr_assert_geq(atomic_load(&r.cancels), 1);
}

Test(udp_client, server_errors_are_reported)
{
	struct responder r;
	struct responder_cfg rc = {0};
	cr_assert_eq(responder_start(&r, &rc), 0);
	struct nrv_udp_client *c = client_for(&r, 250, 4);
	struct nrv_udp_client_req q = {0};
	q.prompt = "x";
	q.model = "no-such-model";
	struct nrv_udp_client_res res;
	cr_assert_eq(nrv_udp_client_generate(c, &q, NULL, NULL, &res), -EREMOTEIO);
	cr_assert_eq(res.error_code, 2, "UNKNOWN_MODEL");
	cr_assert(strstr(res.error_msg, "unknown model"), "%s", res.error_msg);
	/* Requests the client refuses to send. */
	q.model = NULL;
	q.n_stop = 5;
	cr_assert_eq(nrv_udp_client_generate(c, &q, NULL, NULL, &res), -EINVAL);
	q.n_stop = 0;
	q.set = NRV_UDP_SET_MAX_TOKENS;
	q.max_tokens = 0;
	cr_assert_eq(nrv_udp_client_generate(c, &q, NULL, NULL, &res), -EINVAL);
	static char big[300000];
	memset(big, 'a', sizeof(big) - 1);
	q.prompt = big;
	q.max_tokens = 1;
	cr_assert_eq(nrv_udp_client_generate(c, &q, NULL, NULL, &res), -E2BIG);
	nrv_udp_client_destroy(c);
	responder_stop(&r);
}

Test(udp_client, garbage_is_counted_and_service_goes_on)
{
	struct responder r;
	struct responder_cfg rc = {0};
	cr_assert_eq(responder_start(&r, &rc), 0);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(r.port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	uint8_t junk[1500];
	for (int i = 0; i < 200; i++) {
		for (size_t k = 0; k < sizeof(junk); k++)
			junk[k] = (uint8_t)(i * 31 + k * 7);
		junk[0] = 'N';
		junk[1] = 'V';
		(void)sendto(fd, junk, (size_t)(i * 7) % sizeof(junk), 0, (struct sockaddr *)&a,
			     sizeof(a));
		/* One at a time: a burst would overflow the socket buffer,
		 * and the kernel's drops are not what is under test. */
		for (int w = 0; w < 10000 && atomic_load(&r.bad) < i + 1; w++)
			usleep(100);
	}
	close(fd);
	struct nrv_udp_client *c = client_for(&r, 250, 4);
	static struct collect col;
	memset(&col, 0, sizeof(col));
	struct nrv_udp_client_res res;
	cr_assert_eq(run(c, "still here", 100, &col, &res), 0);
	cr_assert_eq(col.len, 10);
	nrv_udp_client_destroy(c);
	responder_stop(&r);
	int nbad = atomic_load(&r.bad);
	/* At least: a datagram left over from another test process whose
	 * ephemeral port this one reused may add to it. */
	cr_assert_geq(nbad, 200, "bad %d", nbad);
}

Test(udp_client, ping_and_timeouts)
{
	struct responder r;
	struct responder_cfg rc = {0};
	cr_assert_eq(responder_start(&r, &rc), 0);
	struct nrv_udp_client *c = client_for(&r, 20, 2);
	int64_t rtt = 0;
	for (int i = 0; i < 20; i++) {
		cr_assert_eq(nrv_udp_client_ping(c, 1000, &rtt), 0);
		cr_assert_gt(rtt, 0);
		cr_assert_lt(rtt, 1000000000);
	}
	cr_assert_eq(atomic_load(&r.pings), 20);
	responder_stop(&r);
	/* Nobody listens now. */
	cr_assert_eq(nrv_udp_client_ping(c, 30, &rtt), -ETIMEDOUT);
	struct nrv_udp_client_res res;
	static struct collect col;
	cr_assert_eq(run(c, "anyone?", 10, &col, &res), -ETIMEDOUT);
	cr_assert_eq(res.retries, 2);
	cr_assert_geq(res.e2e_ns, (20 + 40 + 80) * 1000000LL, "waits of 20, 40 and 80 ms");
	struct nrv_udp_client_stats st;
	nrv_udp_client_stats(c, &st);
	cr_assert_eq(st.retries, 2);
	cr_assert_eq(nrv_udp_client_cancel(c, 0), -EINVAL);
	nrv_udp_client_destroy(c);
	nrv_udp_client_destroy(NULL);

	struct nrv_udp_client_cfg bad = {.host = "not an address", .port = 1};
	struct nrv_udp_client *x;
	cr_assert_eq(nrv_udp_client_create(&bad, &x), -EINVAL);
	bad.host = "127.0.0.1";
	bad.max_payload = 100;
	cr_assert_eq(nrv_udp_client_create(&bad, &x), -EINVAL);
}
