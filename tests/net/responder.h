/*
 * tests/net/responder.h - a test-only peer that speaks the UDP protocol
 * on 127.0.0.1 and "generates" by echoing the prompt back, one token per
 * prompt byte. It is not the server: it exists to drive the client
 * library, and it uses net/reasm and net/rtx the way a server would, with
 * knobs to lose datagrams on purpose.
 */
#ifndef NRV_TEST_RESPONDER_H
#define NRV_TEST_RESPONDER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct responder_cfg {
	int drop_every;        /* drop every Nth datagram sent (all kinds); 0: none */
	int drop_in_every;     /* drop every Nth REQUEST datagram received; 0: none */
	int drop_final_once;   /* drop the first transmission of each FINAL */
	int mute_ms;           /* send nothing for this long after the first REQUEST */
	int step_us;           /* between a job's datagrams; 0: 200 */
	int tokens_per_dgram;  /* 0: 1 */
	uint32_t window;       /* retransmit window; 0: 64 */
};

struct responder {
	struct responder_cfg cfg;
	int fd;
	uint16_t port;
	pthread_t th;
	atomic_int quit;
	/* What happened, for the tests to assert. */
	atomic_int runs;        /* requests started (must be 1 per id) */
	atomic_int dup_reqs;    /* complete REQUESTs for an id already admitted */
	atomic_int nacks, resent, cancels, pings, dropped, bad;
	void *priv;
};

/* Bind a socket on 127.0.0.1 (any port) and start the thread. 0 or -errno. */
int responder_start(struct responder *r, const struct responder_cfg *cfg);
/* Stop the thread and close. */
void responder_stop(struct responder *r);

#endif
