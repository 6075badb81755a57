/*
 * src/sse.h - an incremental parser for server-sent events (the
 * text/event-stream format OpenAI-style servers stream tokens in).
 *
 * Bytes are fed as they arrive, split anywhere: inside a field name, between
 * the CR and LF of a line ending, inside a multi-byte character. Each complete
 * event (the lines up to a blank line) is handed to a callback with its data
 * lines joined by '\n'. Comment lines (": keep-alive") are counted and
 * skipped; "id" and "retry" fields and unknown fields are ignored, as the
 * format asks. Lines may end in LF, CRLF or a lone CR.
 *
 * Owns: the line and data buffers it grows up to max_event bytes. It does not
 * own the callback's user data. Not thread-safe; one parser per stream.
 */
#ifndef NRV_SSE_H
#define NRV_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One complete event. event is the "event:" field ("message" when absent),
 * data the joined "data:" lines, NUL-terminated (len excludes the NUL). Both
 * are valid only during the call. Return 0 to go on, anything else to stop:
 * nrv_sse_feed() then returns that value. */
typedef int (*nrv_sse_cb)(void *ud, const char *event, const char *data, size_t len);

struct nrv_sse {
	char *line;		/* the line being read, not yet terminated */
	size_t line_len, line_cap;
	char *data;		/* data lines of the pending event, each + '\n' */
	size_t data_len, data_cap;
	char event[64];		/* "event:" field of the pending event, truncated */
	size_t max_event;	/* bound on line_len and data_len, bytes */
	bool after_cr;		/* the last byte seen was a CR: a following LF belongs to it */
	uint64_t n_events;	/* events dispatched so far */
	uint64_t n_comments;	/* comment lines seen so far (keep-alives) */
};

/* Set up an empty parser; max_event bounds one line and one event's data
 * (0 means 1 MiB). Allocates nothing until bytes arrive. */
void nrv_sse_init(struct nrv_sse *p, size_t max_event);
void nrv_sse_fini(struct nrv_sse *p);
/* Forget any partial line or event (for a new stream on the same parser);
 * keeps the buffers. */
void nrv_sse_reset(struct nrv_sse *p);

/* Feed n bytes. Calls cb for every event they complete.
 * Returns 0, the callback's nonzero return value (parsing stops there; the
 * rest of buf is dropped), -EMSGSIZE when a line or an event's data exceeds
 * max_event, or -ENOMEM. */
int nrv_sse_feed(struct nrv_sse *p, const char *buf, size_t n, nrv_sse_cb cb, void *ud);

/* The stream ended. A last event whose blank line never came (only the
 * final newline, or not even that) is dispatched anyway: servers that close
 * right after "data: [DONE]\n" lose nothing. Returns as nrv_sse_feed(). */
int nrv_sse_finish(struct nrv_sse *p, nrv_sse_cb cb, void *ud);

#endif
