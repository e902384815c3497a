/* Token buckets and the rate limiter on a fake clock; rate parsing. */
#include <check.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "vmm/kvm/event.h"
#include "vmm/virtio/ratelimit.h"
#include "unit/unit.h"

#define MS 1000000ull
#define SEC 1000000000ull

static uint64_t fake_now;

static uint64_t fake_clock(void)
{
	return fake_now;
}

static struct nb_token_bucket bucket(uint64_t size, uint64_t burst, uint64_t refill_ms)
{
	struct nb_bucket_config cfg = { size, burst, refill_ms };
	struct nb_token_bucket b;

	nb_bucket_init(&b, &cfg, 0);
	return b;
}

START_TEST(starts_full_and_refills_linearly)
{
	struct nb_token_bucket b = bucket(1000, 0, 1000);

	ck_assert_uint_eq(nb_bucket_wait_ns(&b, 1000), 0);
	nb_bucket_take(&b, 1000);
	ck_assert_int_eq(b.budget, 0);
	/* 100 tokens take 100 ms at 1000 per second. */
	ck_assert_uint_eq(nb_bucket_wait_ns(&b, 100), 100 * MS);
	nb_bucket_refill(&b, 50 * MS);
	ck_assert_int_eq(b.budget, 50);
	ck_assert_uint_eq(nb_bucket_wait_ns(&b, 100), 50 * MS);
	nb_bucket_refill(&b, 10 * SEC);
	ck_assert_int_eq(b.budget, 1000); /* capped at the size */
}
END_TEST

START_TEST(fractions_do_not_drift)
{
	struct nb_token_bucket b = bucket(3, 0, 1000); /* one token per 333.3 ms */

	nb_bucket_take(&b, 3);
	for (uint64_t t = 1; t <= 1000; t++) /* refilled every ms */
		nb_bucket_refill(&b, t * MS);
	ck_assert_int_eq(b.budget, 3);
	nb_bucket_take(&b, 3);
	nb_bucket_refill(&b, 1000 * MS + 333 * MS);
	ck_assert_int_eq(b.budget, 0);
	/* The 334th ms completes the token the first 333 nearly earned. */
	ck_assert_uint_eq(nb_bucket_wait_ns(&b, 1), MS / 3 + 1);
	nb_bucket_refill(&b, 1000 * MS + 334 * MS);
	ck_assert_int_eq(b.budget, 1);
}
END_TEST

START_TEST(one_time_burst_first_never_refilled)
{
	struct nb_token_bucket b = bucket(100, 500, 1000);

	ck_assert_uint_eq(nb_bucket_wait_ns(&b, 600), 0);
	nb_bucket_take(&b, 550); /* 500 burst, then 50 of the budget */
	ck_assert_uint_eq(b.burst, 0);
	ck_assert_int_eq(b.budget, 50);
	nb_bucket_refill(&b, 100 * SEC);
	ck_assert_uint_eq(b.burst, 0);
	ck_assert_int_eq(b.budget, 100);
	nb_bucket_take(&b, 60);
	ck_assert_uint_eq(nb_bucket_wait_ns(&b, 50), 100 * MS);
}
END_TEST

START_TEST(oversized_request_passes_when_full_then_debt)
{
	struct nb_token_bucket b = bucket(1000, 0, 1000);

	nb_bucket_take(&b, 500);
	/* 5000 never fits in 1000: it waits for a full bucket only. */
	ck_assert_uint_eq(nb_bucket_wait_ns(&b, 5000), 500 * MS);
	nb_bucket_refill(&b, 500 * MS);
	ck_assert_uint_eq(nb_bucket_wait_ns(&b, 5000), 0);
	nb_bucket_take(&b, 5000);
	ck_assert_int_eq(b.budget, -4000);
	/* The debt is paid back before even one token is lent again: 4.001 s. */
	ck_assert_uint_eq(nb_bucket_wait_ns(&b, 1), 4001 * MS);
	ck_assert_uint_eq(nb_bucket_wait_ns(&b, 0), 4000 * MS);
	nb_bucket_refill(&b, 500 * MS + 4001 * MS);
	ck_assert_int_eq(b.budget, 1);
}
END_TEST

START_TEST(zero_and_extremes)
{
	struct nb_token_bucket none = bucket(0, 0, 1000);
	struct nb_token_bucket huge = bucket(UINT64_MAX, UINT64_MAX, UINT64_MAX);
	struct nb_token_bucket tiny = bucket(1, 0, 1);

	/* size 0: no limit, whatever is asked. */
	ck_assert(nb_bucket_unlimited(&none));
	ck_assert_uint_eq(nb_bucket_wait_ns(&none, UINT64_MAX), 0);
	nb_bucket_take(&none, UINT64_MAX);
	ck_assert_uint_eq(nb_bucket_wait_ns(&none, 1), 0);
	/* Clamped sizes, saturated refill time: no overflow anywhere. */
	ck_assert_uint_eq(huge.size, NB_RATELIMIT_MAX_TOKENS);
	ck_assert_uint_eq(huge.refill_ns, UINT64_MAX);
	nb_bucket_take(&huge, UINT64_MAX);
	nb_bucket_take(&huge, UINT64_MAX);
	ck_assert_int_eq(huge.budget, -INT64_MAX); /* saturated, not wrapped */
	ck_assert_uint_eq(nb_bucket_wait_ns(&huge, UINT64_MAX), UINT64_MAX);
	nb_bucket_refill(&huge, UINT64_MAX); /* ~584 years: one bucket's worth */
	ck_assert_int_le(huge.budget, 0);
	/* Deep debt on a 1-token bucket refilled every ms. */
	nb_bucket_take(&tiny, UINT64_MAX);
	ck_assert_int_eq(tiny.budget, -INT64_MAX);
	nb_bucket_refill(&tiny, UINT64_MAX);
	ck_assert_int_le(tiny.budget, 1);
	/* refill_ms 0 means one second. */
	struct nb_token_bucket dflt = bucket(10, 0, 0);
	ck_assert_uint_eq(dflt.refill_ns, SEC);
	/* Time running backwards changes nothing. */
	nb_bucket_take(&dflt, 10);
	nb_bucket_refill(&dflt, 5 * SEC);
	nb_bucket_take(&dflt, 10);
	nb_bucket_refill(&dflt, 1 * SEC);
	ck_assert_int_eq(dflt.budget, 0);
}
END_TEST

START_TEST(limiter_charges_both_or_neither)
{
	struct nb_ratelimit_config cfg = { .bytes = { 1000, 0, 1000 }, .ops = { 2, 0, 1000 } };
	struct nb_ratelimit rl;

	fake_now = 0;
	nb_ratelimit_init(&rl, &cfg, fake_clock);
	ck_assert(rl.enabled);
	ck_assert(nb_ratelimit_admit(&rl, 100, 1));
	ck_assert(nb_ratelimit_admit(&rl, 100, 1));
	/* The ops bucket is dry: the bytes bucket is not charged either. */
	ck_assert(!nb_ratelimit_admit(&rl, 100, 1));
	ck_assert_int_eq(rl.bytes.budget, 800);
	ck_assert_uint_eq(rl.throttled, 1);
	fake_now = 500 * MS; /* one op back */
	ck_assert(nb_ratelimit_admit(&rl, 100, 1));
	ck_assert(!nb_ratelimit_admit(&rl, 100, 1));
	/* A frame charged after the fact may leave debt. */
	nb_ratelimit_charge(&rl, 5000, 0); /* 900 - 5000 */
	ck_assert_int_eq(rl.bytes.budget, -4100);
	fake_now = 500 * MS + 4 * SEC;
	ck_assert(!nb_ratelimit_admit(&rl, 1, 0));
	fake_now = 500 * MS + 5 * SEC;
	ck_assert(nb_ratelimit_admit(&rl, 1, 0));

	struct nb_ratelimit_config off = { 0 };
	nb_ratelimit_init(&rl, &off, fake_clock);
	ck_assert(!rl.enabled);
	for (int i = 0; i < 1000; i++)
		ck_assert(nb_ratelimit_admit(&rl, UINT64_MAX, UINT64_MAX));
}
END_TEST

static int resumed;

static void on_resume(void *opaque)
{
	(void)opaque;
	resumed++;
}

/* The real timer: a dry limiter stays blocked until its timerfd fires,
 * and the event loop's callback unblocks it and resumes the device. */
START_TEST(timer_resumes)
{
	struct nb_ratelimit_config cfg = { .ops = { 1, 0, 20 } }; /* one op per 20 ms */
	struct nb_event_loop loop;
	struct nb_stop stop;
	struct nb_err err = { 0 };
	struct nb_ratelimit rl;
	struct epoll_event ev;
	uint64_t t0;

	ck_assert_int_eq(nb_stop_init(&stop, &err), 0);
	ck_assert_msg(nb_event_init(&loop, &stop, 0, &err) == 0, "%s", err.msg);
	ck_assert_msg(nb_ratelimit_attach(&rl, &cfg, &loop, on_resume, NULL, &err) == 0, "%s",
		      err.msg);
	ck_assert_int_ge(rl.timer_fd, 0);
	ck_assert(nb_ratelimit_admit(&rl, 0, 1));
	t0 = nb_ratelimit_now_ns();
	ck_assert(!nb_ratelimit_admit(&rl, 0, 1));
	ck_assert(rl.blocked);
	ck_assert(!nb_ratelimit_admit(&rl, 0, 1)); /* still waiting: no re-arm */
	ck_assert_uint_eq(rl.throttled, 1);
	ck_assert_int_eq(epoll_wait(loop.epoll_fd, &ev, 1, 2000), 1);
	ck_assert_int_eq(ev.data.fd, rl.timer_fd);
	ck_assert_uint_ge(nb_ratelimit_now_ns() - t0, 15 * MS);
	/* What the loop does with that event. */
	loop.handlers[loop.nhandlers - 1].fn(loop.handlers[loop.nhandlers - 1].opaque, rl.timer_fd,
					     EPOLLIN);
	ck_assert_int_eq(resumed, 1);
	ck_assert(!rl.blocked);
	ck_assert(nb_ratelimit_admit(&rl, 0, 1));
	nb_ratelimit_detach(&rl, &loop);
	ck_assert_int_eq(rl.timer_fd, -1);
	nb_event_destroy(&loop);
	nb_stop_destroy(&stop);
}
END_TEST

START_TEST(parse_rates)
{
	static const struct {
		const char *text;
		uint64_t value;
	} good[] = { { "1", 1 },
		     { "100b", 100 },
		     { "512k", 512 << 10 },
		     { "512KB", 512 << 10 },
		     { "10mb", 10 << 20 },
		     { "10M", 10 << 20 },
		     { "2g", 2ull << 30 },
		     { "3Gb", 3ull << 30 } };
	static const char *const bad[] = { "",
					   "0",
					   "0mb",
					   "-1",
					   "+1",
					   " 1",
					   "1 ",
					   "1t",
					   "mb",
					   "1.5m",
					   "1kk",
					   "10mbs",
					   "k1",
					   "99999999999999999999",
					   "9223372036854775808",
					   "8589934592g" };
	struct nb_err err = { 0 };
	uint64_t v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(nb_ratelimit_parse_rate(good[i].text, &v, &err) == 0, "%s: %s",
			      good[i].text, err.msg);
		ck_assert_uint_eq(v, good[i].value);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(nb_ratelimit_parse_rate(bad[i], &v, &err) < 0, "'%s' accepted",
			      bad[i]);
	ck_assert_ptr_nonnull(strstr(err.msg, "invalid rate"));
	ck_assert_int_eq(nb_ratelimit_parse_rate("9223372036854775807", &v, &err), 0);
}
END_TEST

/* --net-rate as a snapshot records it (nb_net_rate_format) reads back to
 * the same limits, each alone, all four at their largest, none. */
START_TEST(net_rate_text_round_trips)
{
	const uint64_t max = NB_RATELIMIT_MAX_TOKENS;
	const uint64_t cases[][NB_NET_RATES] = {
		{ 10u << 20, 0, 0, 0 }, { 0, 512u << 10, 0, 0 }, { 0, 0, 7, 0 },
		{ 0, 0, 0, 100 },       { 1, 2, 3, 4 },          { max, max, max, max },
	};
	uint64_t back[NB_NET_RATES];
	char text[NB_NET_RATE_TEXT];
	struct nb_err err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		nb_net_rate_format(cases[i], text);
		ck_assert_msg(nb_net_rate_parse(text, back, &err) == 0, "'%s': %s", text, err.msg);
		ck_assert_mem_eq(back, cases[i], sizeof(back));
	}
	nb_net_rate_format((const uint64_t[NB_NET_RATES]){ 0 }, text);
	ck_assert_str_eq(text, "");
	ck_assert_int_lt(nb_net_rate_parse(text, back, &err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "--net-rate"));
	nb_net_rate_format((const uint64_t[NB_NET_RATES]){ 1048576, 0, 0, 100 }, text);
	ck_assert_str_eq(text, "rx=1048576,tx-ops=100");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("ratelimit");

	tcase_add_test(tc, starts_full_and_refills_linearly);
	tcase_add_test(tc, fractions_do_not_drift);
	tcase_add_test(tc, one_time_burst_first_never_refilled);
	tcase_add_test(tc, oversized_request_passes_when_full_then_debt);
	tcase_add_test(tc, zero_and_extremes);
	tcase_add_test(tc, limiter_charges_both_or_neither);
	tcase_add_test(tc, timer_resumes);
	tcase_add_test(tc, parse_rates);
	tcase_add_test(tc, net_rate_text_round_trips);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
