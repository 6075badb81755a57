/*
 * src/metrics.h - what the server counts, and the two views of it:
 * GET /metrics (Prometheus text format 0.0.4) and GET /health (JSON with a
 * status a load balancer can act on).
 *
 * Metrics (every name prefixed nirvana_):
 *   histograms  time_to_first_token_seconds, inter_token_latency_seconds,
 *               e2e_request_latency_seconds, request_queue_time_seconds
 *   counters    prompt_tokens_total, generation_tokens_total,
 *               requests_total{outcome="stop|length|cancelled|timeout|error|rejected|invalid"},
 *               http_connections_total, http_connections_refused_total,
 *               http_timeouts_total
 *   gauges      requests_running, requests_waiting,
 *               kv_blocks{state="used|cached|free"}, http_connections_open,
 *               process_resident_memory_bytes, model_bytes, uptime_seconds,
 *               jemalloc_bytes{stat=…}, jemalloc_arena_resident_bytes{arena=…}
 *               (the jemalloc ones when the binary is built with it)
 *
 * Health: "unhealthy" when more than 5% of the requests that ended in the
 * last 60 seconds failed on the server's side (outcome timeout or error;
 * deliberate overload answers, client errors and disconnects are not
 * failures); else "degraded" when more than 90% of the KV blocks are
 * referenced by running sequences; else "healthy". HTTP 200 for healthy
 * and degraded, 503 for unhealthy.
 *
 * Threads: one writer (the network thread) updates and renders; nothing
 * here locks. Owns: fixed storage only.
 */
#ifndef NRV_METRICS_H
#define NRV_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "jbuf.h"

#define NRV_HIST_MAX_BUCKETS 24

struct nrv_hist {
	const double *le;          /* (n_le) upper bounds, seconds, increasing (borrowed, static) */
	int n_le;
	uint64_t bucket[NRV_HIST_MAX_BUCKETS + 1];  /* observations per bucket (not cumulative); last: +Inf */
	uint64_t count;
	double sum;                /* seconds */
};

enum nrv_outcome {
	NRV_OUT_STOP,       /* finished: end of text or stop string */
	NRV_OUT_LENGTH,     /* finished: max_tokens or context */
	NRV_OUT_CANCELLED,  /* the client went away */
	NRV_OUT_TIMEOUT,    /* the per-request time limit passed (a server-side failure) */
	NRV_OUT_ERROR,      /* 500: the server failed */
	NRV_OUT_REJECTED,   /* 429/503: overload, answered on purpose */
	NRV_OUT_INVALID,    /* 4xx: the request was wrong */
	NRV_OUT_COUNT
};

enum nrv_health { NRV_HEALTHY, NRV_DEGRADED, NRV_UNHEALTHY };

#define NRV_METRICS_WINDOW_S 60

struct nrv_metrics {
	struct nrv_hist ttft, itl, e2e, queue;
	uint64_t prompt_tokens;
	uint64_t gen_tokens;
	uint64_t outcome[NRV_OUT_COUNT];
	struct {
		int64_t sec;        /* CLOCK_MONOTONIC second this slot counts */
		uint32_t total;
		uint32_t failed;
	} win[NRV_METRICS_WINDOW_S];
	int64_t start_ns;           /* CLOCK_MONOTONIC at init */
};

/* What the renderers need from elsewhere, sampled by the caller. */
struct nrv_metrics_gauges {
	int running, waiting;
	int kv_total, kv_used, kv_cached, kv_free;
	uint64_t rss_bytes;
	uint64_t model_bytes;
	const char *model_id;
	const char *model_path;
	int http_open;
	uint64_t http_accepted, http_refused, http_timed_out;
	bool loading;               /* the model is not ready yet: /health says 503 */
	/* How the weights are held (mem/weights.h stats); NULL strings: unknown. */
	const char *load_mode;      /* "uring", "read" or "mmap" */
	const char *backing;        /* "hugetlb", "thp", "plain" or "file" */
	uint64_t huge_bytes;        /* bytes in huge pages */
	uint64_t locked_bytes;      /* bytes locked in memory */
	double load_s;              /* seconds the load took */
	const char *digest;         /* XXH3-128 of the file, hex */
};

struct nrv_jemalloc_stats {
	bool available;             /* built with jemalloc and mallctl answered */
	uint64_t allocated, active, resident, mapped, retained, metadata;  /* bytes */
	unsigned narenas;
};

void nrv_metrics_init(struct nrv_metrics *m, int64_t now_ns);
void nrv_metrics_observe(struct nrv_hist *h, double seconds);
/* A request ended with this outcome (enum nrv_outcome). */
void nrv_metrics_outcome(struct nrv_metrics *m, int outcome, int64_t now_ns);
/* Requests that ended in the last 60 s, and how many failed server-side. */
void nrv_metrics_recent(const struct nrv_metrics *m, int64_t now_ns, uint64_t *total,
			uint64_t *failed);
/* enum nrv_health from the rules above. */
int nrv_metrics_health(const struct nrv_metrics *m, const struct nrv_metrics_gauges *g,
		       int64_t now_ns);
const char *nrv_metrics_health_name(int h);

/* Refresh jemalloc's statistics (mallctl "epoch") and read them. */
void nrv_metrics_jemalloc(struct nrv_jemalloc_stats *s);

/* Append the Prometheus exposition. */
void nrv_metrics_render(const struct nrv_metrics *m, const struct nrv_metrics_gauges *g,
			int64_t now_ns, struct nrv_jbuf *b);
/* Append the /health JSON; returns the HTTP status (200 or 503). */
int nrv_metrics_health_json(const struct nrv_metrics *m, const struct nrv_metrics_gauges *g,
			    int64_t now_ns, struct nrv_jbuf *b);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t nrv_now_ns(void);

#endif
