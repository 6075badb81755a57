/*
 * tests/api/test_metrics.c - histograms, the failure window and health
 * rules, and the Prometheus text.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "config.h"
#include "metrics.h"

#define SEC 1000000000LL

Test(metrics, histogram_buckets)
{
	struct nrv_metrics m;
	nrv_metrics_init(&m, 0);
	nrv_metrics_observe(&m.ttft, 0.0005);
	nrv_metrics_observe(&m.ttft, 0.001);   /* le is inclusive */
	nrv_metrics_observe(&m.ttft, 0.03);
	nrv_metrics_observe(&m.ttft, 1000);
	cr_assert_eq(m.ttft.bucket[0], 2);
	cr_assert_eq(m.ttft.bucket[m.ttft.n_le], 1);
	cr_assert_eq(m.ttft.count, 4);
	cr_assert_float_eq(m.ttft.sum, 1000.0315, 1e-9);
	struct nrv_jbuf b;
	nrv_jbuf_init(&b);
	struct nrv_metrics_gauges g = { .kv_total = 10, .kv_free = 10 };
	nrv_metrics_render(&m, &g, 5 * SEC, &b);
	cr_assert(strstr(b.p, "nirvana_time_to_first_token_seconds_bucket{le=\"0.001\"} 2\n"), "%s", b.p);
	cr_assert(strstr(b.p, "nirvana_time_to_first_token_seconds_bucket{le=\"0.04\"} 3\n"));
	cr_assert(strstr(b.p, "nirvana_time_to_first_token_seconds_bucket{le=\"+Inf\"} 4\n"));
	cr_assert(strstr(b.p, "nirvana_time_to_first_token_seconds_count 4\n"));
	cr_assert(strstr(b.p, "# TYPE nirvana_inter_token_latency_seconds histogram\n"));
	cr_assert(strstr(b.p, "# TYPE nirvana_e2e_request_latency_seconds histogram\n"));
	cr_assert(strstr(b.p, "# TYPE nirvana_request_queue_time_seconds histogram\n"));
	cr_assert(strstr(b.p, "nirvana_kv_blocks{state=\"free\"} 10\n"));
	cr_assert(strstr(b.p, "nirvana_requests_total{outcome=\"rejected\"} 0\n"));
	cr_assert(strstr(b.p, "# TYPE nirvana_prompt_tokens_total counter\n"));
#if NRV_HAVE_JEMALLOC
	cr_assert(strstr(b.p, "nirvana_jemalloc_bytes{stat=\"resident\"}"), "jemalloc stats missing");
#endif
	nrv_jbuf_fini(&b);
}

Test(metrics, health_rules)
{
	struct nrv_metrics m;
	nrv_metrics_init(&m, 0);
	struct nrv_metrics_gauges g = { .kv_total = 100, .kv_used = 90 };
	int64_t t = 1000 * SEC;
	cr_assert_eq(nrv_metrics_health(&m, &g, t), NRV_HEALTHY, "90%% is not above 90%%");
	g.kv_used = 91;
	cr_assert_eq(nrv_metrics_health(&m, &g, t), NRV_DEGRADED);
	g.kv_used = 0;
	/* overload answers and client errors are not failures */
	for (int i = 0; i < 50; i++)
		nrv_metrics_outcome(&m, NRV_OUT_REJECTED, t);
	for (int i = 0; i < 50; i++)
		nrv_metrics_outcome(&m, NRV_OUT_INVALID, t);
	cr_assert_eq(nrv_metrics_health(&m, &g, t), NRV_HEALTHY);
	/* 5 of 105 = 4.8%: still healthy; 6 of 106 = 5.7%: unhealthy */
	for (int i = 0; i < 5; i++)
		nrv_metrics_outcome(&m, NRV_OUT_ERROR, t);
	cr_assert_eq(nrv_metrics_health(&m, &g, t), NRV_HEALTHY);
	nrv_metrics_outcome(&m, NRV_OUT_TIMEOUT, t);
	cr_assert_eq(nrv_metrics_health(&m, &g, t), NRV_UNHEALTHY);
	struct nrv_jbuf b;
	nrv_jbuf_init(&b);
	cr_assert_eq(nrv_metrics_health_json(&m, &g, t, &b), 503);
	cr_assert(strstr(b.p, "\"status\":\"unhealthy\""), "%s", b.p);
	nrv_jbuf_fini(&b);
	/* a minute later the failures have left the window */
	uint64_t total, failed;
	nrv_metrics_recent(&m, t + 61 * SEC, &total, &failed);
	cr_assert_eq(total, 0);
	cr_assert_eq(nrv_metrics_health(&m, &g, t + 61 * SEC), NRV_HEALTHY);
	/* slots are reused: an old second's counts do not leak into a new one */
	nrv_metrics_outcome(&m, NRV_OUT_STOP, t + 60 * SEC);
	nrv_metrics_recent(&m, t + 60 * SEC, &total, &failed);
	cr_assert_eq(total, 1);
	cr_assert_eq(failed, 0);
	g.loading = true;
	cr_assert_eq(nrv_metrics_health(&m, &g, t + 60 * SEC), NRV_UNHEALTHY);
}

Test(metrics, jemalloc_is_the_allocator)
{
	struct nrv_jemalloc_stats s;
	nrv_metrics_jemalloc(&s);
#if NRV_HAVE_JEMALLOC
	cr_assert(s.available);
	cr_assert_gt(s.resident, 0);
	cr_assert_gt(s.narenas, 0);
#else
	cr_assert_not(s.available);
#endif
}
