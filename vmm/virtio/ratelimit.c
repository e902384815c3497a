#include "vmm/virtio/ratelimit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "common/parse.h"
#include "vmm/kvm/event.h"

typedef unsigned __int128 u128;

/* ---- one bucket: pure arithmetic on the caller's clock ------------------ */

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

void nb_bucket_init(struct nb_token_bucket *b, const struct nb_bucket_config *cfg, uint64_t now_ns)
{
	uint64_t ms = cfg->refill_ms ? cfg->refill_ms : 1000;

	*b = (struct nb_token_bucket){
		.size = min_u64(cfg->size, NB_RATELIMIT_MAX_TOKENS),
		.burst = min_u64(cfg->one_time_burst, NB_RATELIMIT_MAX_TOKENS),
		/* Saturate: a refill time of ~584 years is as good as forever. */
		.refill_ns = ms > UINT64_MAX / 1000000 ? UINT64_MAX : ms * 1000000,
		.last_ns = now_ns,
	};
	b->budget = (int64_t)b->size;
}

bool nb_bucket_unlimited(const struct nb_token_bucket *b)
{
	return b->size == 0;
}

void nb_bucket_refill(struct nb_token_bucket *b, uint64_t now_ns)
{
	uint64_t elapsed;
	u128 acc, add;

	if (nb_bucket_unlimited(b) || now_ns <= b->last_ns)
		return;
	elapsed = now_ns - b->last_ns;
	b->last_ns = now_ns;
	if (b->budget >= (int64_t)b->size) {
		b->frac = 0; /* a full bucket earns nothing, not even a fraction */
		return;
	}
	/* Exact: elapsed * size < 2^127, and frac < refill_ns carries the
	 * part of a token earned so far, so no rounding drift. */
	acc = (u128)elapsed * b->size + b->frac;
	add = acc / b->refill_ns;
	b->frac = (uint64_t)(acc % b->refill_ns);
	if (add >= (u128)((__int128)b->size - b->budget)) {
		b->budget = (int64_t)b->size;
		b->frac = 0;
	} else {
		b->budget += (int64_t)add;
	}
}

uint64_t nb_bucket_wait_ns(const struct nb_token_bucket *b, uint64_t tokens)
{
	uint64_t rest = tokens - min_u64(tokens, b->burst);
	/* A request larger than the bucket waits for a full one (then debt). */
	int64_t need = (int64_t)min_u64(rest, b->size);
	u128 deficit, ns;

	if (nb_bucket_unlimited(b) || b->budget >= need)
		return 0;
	/* deficit <= 2^64 and refill_ns < 2^64: the product fits. */
	deficit = (u128)((__int128)need - b->budget);
	ns = deficit * b->refill_ns - b->frac;
	ns = (ns + b->size - 1) / b->size;
	return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

void nb_bucket_take(struct nb_token_bucket *b, uint64_t tokens)
{
	uint64_t from_burst = min_u64(tokens, b->burst);
	__int128 left;

	if (nb_bucket_unlimited(b))
		return;
	b->burst -= from_burst;
	left = (__int128)b->budget - (tokens - from_burst);
	/* A debt this deep never refills in practice; just do not wrap. */
	b->budget = left < -(__int128)INT64_MAX ? -INT64_MAX : (int64_t)left;
}

/* ---- a limiter: two buckets and a timer --------------------------------- */

uint64_t nb_ratelimit_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void nb_ratelimit_init(struct nb_ratelimit *rl, const struct nb_ratelimit_config *cfg,
		       nb_ratelimit_clock_fn *clock)
{
	uint64_t now;

	memset(rl, 0, sizeof(*rl));
	rl->timer_fd = -1;
	rl->clock = clock ? clock : nb_ratelimit_now_ns;
	now = rl->clock();
	nb_bucket_init(&rl->bytes, &cfg->bytes, now);
	nb_bucket_init(&rl->ops, &cfg->ops, now);
	rl->enabled = !nb_bucket_unlimited(&rl->bytes) || !nb_bucket_unlimited(&rl->ops);
}

static void on_timer(void *opaque, int fd, uint32_t events)
{
	struct nb_ratelimit *rl = opaque;
	uint64_t expirations;

	(void)events;
	if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return;
	rl->blocked = false;
	if (rl->resume)
		rl->resume(rl->opaque);
}

int nb_ratelimit_attach(struct nb_ratelimit *rl, const struct nb_ratelimit_config *cfg,
			struct nb_event_loop *loop, nb_ratelimit_resume_fn *resume, void *opaque,
			struct nb_err *err)
{
	nb_ratelimit_init(rl, cfg, NULL);
	if (!rl->enabled)
		return 0;
	rl->resume = resume;
	rl->opaque = opaque;
	rl->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (rl->timer_fd < 0)
		return nb_err_sys(err, "rate limiter: timerfd_create");
	if (nb_event_add(loop, rl->timer_fd, EPOLLIN, on_timer, rl, err) < 0) {
		close(rl->timer_fd);
		rl->timer_fd = -1;
		return nb_err_wrap(err, "rate limiter");
	}
	return 0;
}

void nb_ratelimit_detach(struct nb_ratelimit *rl, struct nb_event_loop *loop)
{
	if (rl->timer_fd < 0)
		return;
	if (loop)
		nb_event_remove(loop, rl->timer_fd);
	close(rl->timer_fd);
	rl->timer_fd = -1;
}

/* One-shot timer for wait_ns from now. False if it could not be armed. */
static bool arm(struct nb_ratelimit *rl, uint64_t wait_ns)
{
	struct itimerspec its = { 0 };

	if (wait_ns < NB_RATELIMIT_MIN_WAIT_NS)
		wait_ns = NB_RATELIMIT_MIN_WAIT_NS;
	if (wait_ns / 1000000000u > (uint64_t)INT32_MAX) /* ~68 years: as good as forever */
		wait_ns = (uint64_t)INT32_MAX * 1000000000u;
	its.it_value.tv_sec = (time_t)(wait_ns / 1000000000u);
	its.it_value.tv_nsec = (long)(wait_ns % 1000000000u);
	if (timerfd_settime(rl->timer_fd, 0, &its, NULL) < 0)
		return false;
	rl->blocked = true;
	return true;
}

bool nb_ratelimit_admit(struct nb_ratelimit *rl, uint64_t bytes, uint64_t ops)
{
	uint64_t now, wait;

	if (!rl->enabled)
		return true;
	if (rl->blocked) /* in order: nothing overtakes a waiting request */
		return false;
	now = rl->clock();
	nb_bucket_refill(&rl->bytes, now);
	nb_bucket_refill(&rl->ops, now);
	wait = nb_bucket_wait_ns(&rl->bytes, bytes);
	if (nb_bucket_wait_ns(&rl->ops, ops) > wait)
		wait = nb_bucket_wait_ns(&rl->ops, ops);
	if (wait) {
		rl->throttled++;
		/* Without a timer (unit tests) the caller asks again later. A
		 * timer that cannot be armed would stall the device for good:
		 * let the request through instead (charged, so debt follows). */
		if (rl->timer_fd < 0 || arm(rl, wait))
			return false;
	}
	nb_bucket_take(&rl->bytes, bytes);
	nb_bucket_take(&rl->ops, ops);
	return true;
}

void nb_ratelimit_charge(struct nb_ratelimit *rl, uint64_t bytes, uint64_t ops)
{
	if (!rl->enabled)
		return;
	nb_bucket_take(&rl->bytes, bytes);
	nb_bucket_take(&rl->ops, ops);
}

/* ---- options ------------------------------------------------------------ */

int nb_ratelimit_parse_rate(const char *text, uint64_t *bytes_per_sec, struct nb_err *err)
{
	static const struct {
		const char *unit;
		unsigned shift;
	} units[] = { { "", 0 },   { "b", 0 },   { "k", 10 }, { "kb", 10 },
		      { "m", 20 }, { "mb", 20 }, { "g", 30 }, { "gb", 30 } };
	uint64_t value = 0;
	const char *end;

	if (!nb_parse_digits(text, &value, &end) || value == 0)
		goto bad;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].unit) != 0)
			continue;
		if (value > NB_RATELIMIT_MAX_TOKENS >> units[i].shift)
			goto bad;
		*bytes_per_sec = (uint64_t)value << units[i].shift;
		return 0;
	}
bad:
	return nb_err_set(err, 0,
			  "invalid rate '%s': use bytes per second above 0, with an "
			  "optional unit b, k, m or g (e.g. 10mb, 512k)",
			  text);
}

static const char *const net_rate_keys[NB_NET_RATES] = { "rx", "tx", "rx-ops", "tx-ops" };

int nb_net_rate_parse(const char *text, uint64_t rates[NB_NET_RATES], struct nb_err *err)
{
	char copy[256], *save = NULL, *item;
	bool seen[NB_NET_RATES] = { false }, any = false;

	memset(rates, 0, NB_NET_RATES * sizeof(*rates));
	/* strtok_r would skip empty items: refuse them here. */
	if (strlen(text) >= sizeof(copy) || !text[0] || text[0] == ',' ||
	    text[strlen(text) - 1] == ',' || strstr(text, ",,"))
		goto bad;
	strcpy(copy, text);
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		size_t k = 0;

		if (!eq)
			goto bad;
		*eq = '\0';
		while (k < NB_NET_RATES && strcmp(item, net_rate_keys[k]) != 0)
			k++;
		if (k == NB_NET_RATES || seen[k])
			goto bad;
		seen[k] = any = true;
		if (k <= NB_NET_RATE_TX ? nb_ratelimit_parse_rate(eq + 1, &rates[k], err) < 0
					: nb_parse_u64(net_rate_keys[k], eq + 1, 1,
						       NB_RATELIMIT_MAX_TOKENS, &rates[k], err) < 0)
			return nb_err_wrap(err, "--net-rate %s", text);
	}
	if (any)
		return 0;
bad:
	return nb_err_set(err, 0,
			  "--net-rate %s: use rx=RATE,tx=RATE,rx-ops=N,tx-ops=N (any of "
			  "them, each once; RATE in bytes per second like 10mb)",
			  text);
}

void nb_net_rate_format(const uint64_t rates[NB_NET_RATES], char text[NB_NET_RATE_TEXT])
{
	size_t n = 0;

	/* 4 keys of at most 6 bytes, 19 digits, '=' and ',': 108 bytes */
	text[0] = '\0';
	for (size_t k = 0; k < NB_NET_RATES; k++)
		if (rates[k])
			n += (size_t)snprintf(text + n, NB_NET_RATE_TEXT - n, "%s%s=%llu",
					      n ? "," : "", net_rate_keys[k],
					      (unsigned long long)rates[k]);
}

void nb_ratelimit_config_rate(struct nb_bucket_config *cfg, uint64_t per_sec)
{
	*cfg = (struct nb_bucket_config){ .size = per_sec, .refill_ms = 1000 };
}
