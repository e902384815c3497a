/* Token-bucket rate limiting for virtio devices, after Firecracker's
 * RateLimiter: a limiter holds two buckets, bandwidth (bytes) and ops, each
 * with a size, a time to refill from empty to full and an optional
 * one-time burst (extra tokens spent first, never refilled). A bucket of
 * size 0 does not limit.
 *
 * The buckets are pure logic on a monotonic time in nanoseconds that the
 * caller passes in, so unit tests drive them with a fake clock. The limiter
 * adds the event-loop side: when a request does not fit it arms a timerfd
 * (watched by the event loop) for the moment it will, and the device's
 * resume callback runs then on the event thread. Devices stop taking work
 * while a limiter is blocked; nothing busy-loops or sleeps.
 *
 * A request larger than the bucket can never fit, so it is let through
 * once the bucket is full and leaves the bucket in debt (negative budget),
 * which refills before anything else passes: the long-run rate holds and
 * nothing starves. Firecracker lets such a request through at once and
 * then blocks for the time it over-consumed; this is the same idea without
 * the up-front burst. Charging after the fact (nb_ratelimit_charge, for
 * tap frames whose size is known only once read) uses the same debt.
 */
#ifndef NESTBOX_VMM_VIRTIO_RATELIMIT_H
#define NESTBOX_VMM_VIRTIO_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "nestbox/err.h"

struct nb_event_loop;

#define NB_RATELIMIT_MIN_WAIT_NS 1000000ull /* 1 ms: batch wake-ups */
#define NB_RATELIMIT_MAX_TOKENS ((uint64_t)INT64_MAX)

struct nb_bucket_config {
	uint64_t size;           /* tokens when full; 0: unlimited */
	uint64_t one_time_burst; /* extra tokens available once */
	uint64_t refill_ms;      /* empty to full; 0 with size > 0: 1000 */
};

struct nb_ratelimit_config {
	struct nb_bucket_config bytes, ops;
};

struct nb_token_bucket {
	uint64_t size, burst, refill_ns;
	int64_t budget;   /* < 0: debt from an oversized request */
	uint64_t frac;    /* refill remainder, in token * ns units */
	uint64_t last_ns; /* time of the last refill */
};

/* A bucket starts full at now_ns. Sizes above NB_RATELIMIT_MAX_TOKENS are
 * clamped to it. */
void nb_bucket_init(struct nb_token_bucket *b, const struct nb_bucket_config *cfg, uint64_t now_ns);
bool nb_bucket_unlimited(const struct nb_token_bucket *b);

/* Add the tokens earned since the last refill (time never runs back). */
void nb_bucket_refill(struct nb_token_bucket *b, uint64_t now_ns);

/* Nanoseconds from now until `tokens` fit (0: they fit now); call after
 * nb_bucket_refill. */
uint64_t nb_bucket_wait_ns(const struct nb_token_bucket *b, uint64_t tokens);

/* Take tokens, burst first; the budget may go into debt (see above). */
void nb_bucket_take(struct nb_token_bucket *b, uint64_t tokens);

typedef uint64_t nb_ratelimit_clock_fn(void);
typedef void nb_ratelimit_resume_fn(void *opaque);

struct nb_ratelimit {
	struct nb_token_bucket bytes, ops;
	bool enabled; /* some bucket limits */
	bool blocked; /* the timer is armed: wait for it */
	nb_ratelimit_clock_fn *clock;
	int timer_fd;
	nb_ratelimit_resume_fn *resume;
	void *opaque;
	uint64_t throttled; /* times a request had to wait */
};

/* CLOCK_MONOTONIC in nanoseconds: the default clock. */
uint64_t nb_ratelimit_now_ns(void);

/* Buckets only, no timer (clock NULL: nb_ratelimit_now_ns). Such a
 * limiter reports "blocked" but cannot wake anyone up: unit tests. */
void nb_ratelimit_init(struct nb_ratelimit *rl, const struct nb_ratelimit_config *cfg,
		       nb_ratelimit_clock_fn *clock);

/* nb_ratelimit_init plus, if cfg limits anything, a timerfd watched by loop
 * whose expiry calls resume(opaque) on the event thread. Set-up time. */
int nb_ratelimit_attach(struct nb_ratelimit *rl, const struct nb_ratelimit_config *cfg,
			struct nb_event_loop *loop, nb_ratelimit_resume_fn *resume, void *opaque,
			struct nb_err *err);
/* Unwatch and close the timer. loop NULL at teardown, when the loop goes
 * too: close only (no epoll_ctl under the main thread's seccomp filter). */
void nb_ratelimit_detach(struct nb_ratelimit *rl, struct nb_event_loop *loop);

/* Whether a request of `bytes` and `ops` may go now; if so it is charged
 * to both buckets, else nothing is charged and the timer is armed for when
 * it fits (the caller stops and waits for resume). Event thread only. */
bool nb_ratelimit_admit(struct nb_ratelimit *rl, uint64_t bytes, uint64_t ops);

/* Charge what was used without asking (may leave debt). */
void nb_ratelimit_charge(struct nb_ratelimit *rl, uint64_t bytes, uint64_t ops);

/* Parse a rate in bytes per second as Docker writes it: a whole number
 * with an optional unit b, k/kb, m/mb, g/gb (powers of 1024, any case),
 * e.g. "10mb", "512k", "1048576". 0 and overflow are refused. */
int nb_ratelimit_parse_rate(const char *text, uint64_t *bytes_per_sec, struct nb_err *err);

/* A rate as a limiter config: a bucket of one second's worth, refilled in
 * one second (the first second may use a full bucket at once). */
void nb_ratelimit_config_rate(struct nb_bucket_config *cfg, uint64_t per_sec);

/* A NIC's limits as `nestbox run --net-rate` takes them and a snapshot
 * records them: rx=RATE,tx=RATE,rx-ops=N,tx-ops=N, any of them, each once
 * (RATE as nb_ratelimit_parse_rate reads it). rates[] is in that order,
 * 0 for one not given. */
enum { NB_NET_RATE_RX, NB_NET_RATE_TX, NB_NET_RATE_RX_OPS, NB_NET_RATE_TX_OPS, NB_NET_RATES };
int nb_net_rate_parse(const char *text, uint64_t rates[NB_NET_RATES], struct nb_err *err);

/* The text nb_net_rate_parse reads back to rates ("" when all are 0). */
#define NB_NET_RATE_TEXT 128u
void nb_net_rate_format(const uint64_t rates[NB_NET_RATES], char text[NB_NET_RATE_TEXT]);

#endif
