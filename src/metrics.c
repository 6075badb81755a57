/*
 * src/metrics.c - counters, histograms, /metrics and /health (see metrics.h).
 */
#include "metrics.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"

#if NRV_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

/* Bucket bounds in seconds, as vLLM exposes them, so dashboards carry over. */
static const double ttft_le[] = { 0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5,
				  0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0 };
static const double itl_le[] = { 0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05,
				 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5 };
static const double e2e_le[] = { 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0,
				 20.0, 30.0, 40.0, 50.0, 60.0, 120.0 };

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

int64_t nrv_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void hist_init(struct nrv_hist *h, const double *le, int n)
{
	memset(h, 0, sizeof(*h));
	h->le = le;
	h->n_le = n;
}

void nrv_metrics_init(struct nrv_metrics *m, int64_t now_ns)
{
	memset(m, 0, sizeof(*m));
	hist_init(&m->ttft, ttft_le, N(ttft_le));
	hist_init(&m->itl, itl_le, N(itl_le));
	hist_init(&m->e2e, e2e_le, N(e2e_le));
	hist_init(&m->queue, ttft_le, N(ttft_le));
	m->start_ns = now_ns;
}

void nrv_metrics_observe(struct nrv_hist *h, double s)
{
	if (!(s >= 0))
		s = 0; /* NaN or a clock step backwards: count it as instant */
	int i = 0;
	while (i < h->n_le && s > h->le[i])
		i++;
	h->bucket[i]++;
	h->count++;
	h->sum += s;
}

static bool is_failure(int outcome)
{
	return outcome == NRV_OUT_TIMEOUT || outcome == NRV_OUT_ERROR;
}

void nrv_metrics_outcome(struct nrv_metrics *m, int outcome, int64_t now_ns)
{
	if (outcome < 0 || outcome >= NRV_OUT_COUNT)
		return;
	m->outcome[outcome]++;
	int64_t sec = now_ns / 1000000000;
	int slot = (int)(sec % NRV_METRICS_WINDOW_S);
	if (m->win[slot].sec != sec) {
		m->win[slot].sec = sec;
		m->win[slot].total = 0;
		m->win[slot].failed = 0;
	}
	m->win[slot].total++;
	if (is_failure(outcome))
		m->win[slot].failed++;
}

void nrv_metrics_recent(const struct nrv_metrics *m, int64_t now_ns, uint64_t *total,
			uint64_t *failed)
{
	int64_t sec = now_ns / 1000000000;
	*total = *failed = 0;
	for (int i = 0; i < NRV_METRICS_WINDOW_S; i++) {
		if (m->win[i].sec > sec - NRV_METRICS_WINDOW_S && m->win[i].sec <= sec &&
		    m->win[i].total) {
			*total += m->win[i].total;
			*failed += m->win[i].failed;
		}
	}
}

int nrv_metrics_health(const struct nrv_metrics *m, const struct nrv_metrics_gauges *g,
		       int64_t now_ns)
{
	uint64_t total, failed;
	nrv_metrics_recent(m, now_ns, &total, &failed);
	if (g->loading || (total && failed * 20 > total))
		return NRV_UNHEALTHY;
	if (g->kv_total > 0 && (int64_t)g->kv_used * 10 > (int64_t)g->kv_total * 9)
		return NRV_DEGRADED;
	return NRV_HEALTHY;
}

const char *nrv_metrics_health_name(int h)
{
	switch (h) {
	case NRV_HEALTHY: return "healthy";
	case NRV_DEGRADED: return "degraded";
	default: return "unhealthy";
	}
}

#if NRV_HAVE_JEMALLOC
static uint64_t je_size(const char *name)
{
	size_t v = 0, len = sizeof(v);
	return mallctl(name, &v, &len, NULL, 0) == 0 ? (uint64_t)v : 0;
}
#endif

void nrv_metrics_jemalloc(struct nrv_jemalloc_stats *s)
{
	memset(s, 0, sizeof(*s));
#if NRV_HAVE_JEMALLOC
	/* statistics are snapshots taken when the epoch advances */
	uint64_t epoch = 1;
	size_t len = sizeof(epoch);
	if (mallctl("epoch", &epoch, &len, &epoch, len) != 0)
		return;
	s->available = true;
	s->allocated = je_size("stats.allocated");
	s->active = je_size("stats.active");
	s->resident = je_size("stats.resident");
	s->mapped = je_size("stats.mapped");
	s->retained = je_size("stats.retained");
	s->metadata = je_size("stats.metadata");
	unsigned n = 0;
	len = sizeof(n);
	if (mallctl("arenas.narenas", &n, &len, NULL, 0) == 0)
		s->narenas = n;
#endif
}

static void hist_render(struct nrv_jbuf *b, const char *name, const char *help,
			const struct nrv_hist *h)
{
	nrv_jbuf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	uint64_t cum = 0;
	for (int i = 0; i < h->n_le; i++) {
		cum += h->bucket[i];
		nrv_jbuf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, h->le[i], (unsigned long long)cum);
	}
	cum += h->bucket[h->n_le];
	nrv_jbuf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", name,
			(unsigned long long)cum, name, h->sum, name, (unsigned long long)h->count);
}

static void one(struct nrv_jbuf *b, const char *type, const char *name, const char *help,
		double v)
{
	nrv_jbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

static const char *const outcome_names[NRV_OUT_COUNT] = {
	"stop", "length", "cancelled", "timeout", "error", "rejected", "invalid",
};

#if NRV_HAVE_JEMALLOC
static void render_arenas(struct nrv_jbuf *b, unsigned narenas)
{
	nrv_jbuf_puts(b, "# HELP nirvana_jemalloc_arena_resident_bytes Resident bytes of each "
			 "initialized jemalloc arena.\n"
			 "# TYPE nirvana_jemalloc_arena_resident_bytes gauge\n");
	for (unsigned i = 0; i < narenas && i < 256; i++) {
		char name[64];
		bool init = false;
		size_t len = sizeof(init);
		snprintf(name, sizeof(name), "arena.%u.initialized", i);
		if (mallctl(name, &init, &len, NULL, 0) || !init)
			continue;
		snprintf(name, sizeof(name), "stats.arenas.%u.resident", i);
		nrv_jbuf_printf(b, "nirvana_jemalloc_arena_resident_bytes{arena=\"%u\"} %llu\n", i,
				(unsigned long long)je_size(name));
	}
}
#endif

void nrv_metrics_render(const struct nrv_metrics *m, const struct nrv_metrics_gauges *g,
			int64_t now_ns, struct nrv_jbuf *b)
{
	hist_render(b, "nirvana_time_to_first_token_seconds",
		    "Time from the request's arrival to its first generated token.", &m->ttft);
	hist_render(b, "nirvana_inter_token_latency_seconds",
		    "Time between two consecutive generated tokens of a request.", &m->itl);
	hist_render(b, "nirvana_e2e_request_latency_seconds",
		    "Time from the request's arrival to its last token.", &m->e2e);
	hist_render(b, "nirvana_request_queue_time_seconds",
		    "Time a request waited before joining the running batch.", &m->queue);
	one(b, "counter", "nirvana_prompt_tokens_total", "Prompt tokens of finished requests.",
	    (double)m->prompt_tokens);
	one(b, "counter", "nirvana_generation_tokens_total", "Tokens generated.",
	    (double)m->gen_tokens);
	nrv_jbuf_puts(b, "# HELP nirvana_requests_total Generation requests by how they ended.\n"
			 "# TYPE nirvana_requests_total counter\n");
	for (int i = 0; i < NRV_OUT_COUNT; i++)
		nrv_jbuf_printf(b, "nirvana_requests_total{outcome=\"%s\"} %llu\n", outcome_names[i],
				(unsigned long long)m->outcome[i]);
	one(b, "gauge", "nirvana_requests_running", "Sequences in the running batch.", g->running);
	one(b, "gauge", "nirvana_requests_waiting", "Requests queued for admission.", g->waiting);
	nrv_jbuf_printf(b, "# HELP nirvana_kv_blocks KV cache blocks by state.\n"
			   "# TYPE nirvana_kv_blocks gauge\n"
			   "nirvana_kv_blocks{state=\"used\"} %d\n"
			   "nirvana_kv_blocks{state=\"cached\"} %d\n"
			   "nirvana_kv_blocks{state=\"free\"} %d\n",
			g->kv_used, g->kv_cached, g->kv_free);
	one(b, "gauge", "nirvana_http_connections_open", "HTTP connections open now.", g->http_open);
	one(b, "counter", "nirvana_http_connections_total", "HTTP connections accepted.",
	    (double)g->http_accepted);
	one(b, "counter", "nirvana_http_connections_refused_total",
	    "HTTP connections refused over the connection limit.", (double)g->http_refused);
	one(b, "counter", "nirvana_http_timeouts_total",
	    "HTTP connections closed for a header, body or idle timeout.", (double)g->http_timed_out);
	one(b, "gauge", "nirvana_process_resident_memory_bytes", "Resident set size of the process.",
	    (double)g->rss_bytes);
	one(b, "gauge", "nirvana_model_bytes", "Bytes of the loaded model file.",
	    (double)g->model_bytes);
	one(b, "gauge", "nirvana_uptime_seconds", "Seconds since the server started.",
	    (double)(now_ns - m->start_ns) / 1e9);
	struct nrv_jemalloc_stats je;
	nrv_metrics_jemalloc(&je);
	if (je.available) {
		nrv_jbuf_printf(b, "# HELP nirvana_jemalloc_bytes jemalloc's statistics (stats.*).\n"
				   "# TYPE nirvana_jemalloc_bytes gauge\n"
				   "nirvana_jemalloc_bytes{stat=\"allocated\"} %llu\n"
				   "nirvana_jemalloc_bytes{stat=\"active\"} %llu\n"
				   "nirvana_jemalloc_bytes{stat=\"resident\"} %llu\n"
				   "nirvana_jemalloc_bytes{stat=\"mapped\"} %llu\n"
				   "nirvana_jemalloc_bytes{stat=\"retained\"} %llu\n"
				   "nirvana_jemalloc_bytes{stat=\"metadata\"} %llu\n",
				(unsigned long long)je.allocated, (unsigned long long)je.active,
				(unsigned long long)je.resident, (unsigned long long)je.mapped,
				(unsigned long long)je.retained, (unsigned long long)je.metadata);
#if NRV_HAVE_JEMALLOC
		render_arenas(b, je.narenas);
#endif
	}
}

int nrv_metrics_health_json(const struct nrv_metrics *m, const struct nrv_metrics_gauges *g,
			    int64_t now_ns, struct nrv_jbuf *b)
{
	int h = nrv_metrics_health(m, g, now_ns);
	uint64_t total, failed;
	nrv_metrics_recent(m, now_ns, &total, &failed);
	uint64_t all = 0, errors = 0;
	for (int i = 0; i < NRV_OUT_COUNT; i++)
		all += m->outcome[i];
	errors = m->outcome[NRV_OUT_TIMEOUT] + m->outcome[NRV_OUT_ERROR];
	nrv_jbuf_puts(b, "{\"status\":");
	nrv_jbuf_cstr(b, g->loading ? "loading" : nrv_metrics_health_name(h));
	nrv_jbuf_printf(b, ",\"uptime_s\":%.3f", (double)(now_ns - m->start_ns) / 1e9);
	nrv_jbuf_puts(b, ",\"models\":[");
	if (g->model_id) {
		nrv_jbuf_puts(b, "{\"id\":");
		nrv_jbuf_cstr(b, g->model_id);
		nrv_jbuf_puts(b, ",\"path\":");
		nrv_jbuf_cstr(b, g->model_path ? g->model_path : "");
		nrv_jbuf_printf(b, ",\"bytes\":%llu,\"loaded\":%s", (unsigned long long)g->model_bytes,
				g->loading ? "false" : "true");
		if (g->load_mode) {
			nrv_jbuf_puts(b, ",\"load\":{\"mode\":");
			nrv_jbuf_cstr(b, g->load_mode);
			nrv_jbuf_puts(b, ",\"backing\":");
			nrv_jbuf_cstr(b, g->backing ? g->backing : "");
			nrv_jbuf_printf(b, ",\"huge_bytes\":%llu,\"locked_bytes\":%llu,\"seconds\":%.3f,"
					   "\"gb_per_s\":%.2f}",
					(unsigned long long)g->huge_bytes, (unsigned long long)g->locked_bytes,
					g->load_s, g->load_s > 0 ? (double)g->model_bytes / g->load_s / 1e9 : 0.0);
		}
		if (g->digest && g->digest[0]) {
			nrv_jbuf_puts(b, ",\"digest\":");
			nrv_jbuf_cstr(b, g->digest);
		}
		nrv_jbuf_puts(b, "}");
	}
	nrv_jbuf_printf(b, "],\"memory\":{\"rss_bytes\":%llu,\"model_bytes\":%llu,"
			   "\"kv_blocks_used\":%d,\"kv_blocks_cached\":%d,\"kv_blocks_free\":%d,"
			   "\"kv_blocks_total\":%d",
			(unsigned long long)g->rss_bytes, (unsigned long long)g->model_bytes, g->kv_used,
			g->kv_cached, g->kv_free, g->kv_total);
	struct nrv_jemalloc_stats je;
	nrv_metrics_jemalloc(&je);
	if (je.available)
		nrv_jbuf_printf(b, ",\"jemalloc\":{\"allocated\":%llu,\"active\":%llu,\"resident\":%llu,"
				   "\"mapped\":%llu,\"retained\":%llu,\"arenas\":%u}",
				(unsigned long long)je.allocated, (unsigned long long)je.active,
				(unsigned long long)je.resident, (unsigned long long)je.mapped,
				(unsigned long long)je.retained, je.narenas);
	else
		nrv_jbuf_puts(b, ",\"jemalloc\":null");
	nrv_jbuf_printf(b, "},\"requests\":{\"running\":%d,\"waiting\":%d,\"total\":%llu,"
			   "\"errors\":%llu,\"rejected\":%llu,\"recent_total\":%llu,"
			   "\"recent_errors\":%llu,\"recent_error_rate\":%.4f},"
			   "\"connections\":{\"open\":%d,\"accepted\":%llu}}",
			g->running, g->waiting, (unsigned long long)all, (unsigned long long)errors,
			(unsigned long long)m->outcome[NRV_OUT_REJECTED], (unsigned long long)total,
			(unsigned long long)failed, total ? (double)failed / (double)total : 0.0,
			g->http_open, (unsigned long long)g->http_accepted);
	return h == NRV_UNHEALTHY ? 503 : 200;
}
