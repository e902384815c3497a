/* Split virtqueue walker against crafted, hostile rings. */
#include <check.h>
#include <stdlib.h>

#include "lib/vring.h"
#include "unit/unit.h"

#define RAM_SIZE (1u << 20)

static uint8_t *ram;
static struct vr v;
static struct nb_virtq_chain chain;

static void setup(void)
{
	ram = aligned_alloc(4096, RAM_SIZE);
	memset(ram, 0, RAM_SIZE);
	ck_assert_int_eq(vr_init(&v, ram, RAM_SIZE, 8), 0);
}

static void teardown(void)
{
	free(ram);
}

START_TEST(simple_chain_and_used_ring)
{
	vr_desc(&v, 0, VR_DATA, 16, VRING_DESC_F_NEXT, 1);
	vr_desc(&v, 1, VR_DATA + 16, 100, VRING_DESC_F_WRITE, 0);
	vr_avail(&v, 0);
	ck_assert(nb_virtq_has_avail(&v.q));
	ck_assert_int_eq(nb_virtq_pop(&v.q, &chain), 1);
	ck_assert_uint_eq(chain.head, 0);
	ck_assert_uint_eq(chain.nread, 1);
	ck_assert_uint_eq(chain.nwrite, 1);
	ck_assert_uint_eq(chain.read_len, 16);
	ck_assert_uint_eq(chain.write_len, 100);
	ck_assert_ptr_eq(chain.segs[1].host, ram + VR_DATA + 16);
	ck_assert_int_eq(nb_virtq_pop(&v.q, &chain), 0);
	nb_virtq_push(&v.q, chain.head, 42);
	uint32_t id, len;
	vr_used_elem(&v, 0, &id, &len);
	ck_assert_uint_eq(vr_used_idx(&v), 1);
	ck_assert_uint_eq(id, 0);
	ck_assert_uint_eq(len, 42);
}
END_TEST

START_TEST(avail_idx_wraps_around)
{
	v.q.last_avail = v.q.used_idx = 0xfffe;
	vr_set_avail_idx(&v, 0xfffe);
	for (unsigned i = 0; i < 4; i++) {
		vr_desc(&v, i, VR_DATA + 64 * i, 64, VRING_DESC_F_WRITE, 0);
		vr_avail(&v, (uint16_t)i);
	}
	ck_assert_uint_eq(v.avail_idx, 2);
	for (unsigned i = 0; i < 4; i++) {
		ck_assert_int_eq(nb_virtq_pop(&v.q, &chain), 1);
		ck_assert_uint_eq(chain.head, i);
		nb_virtq_push(&v.q, chain.head, 1);
	}
	ck_assert_int_eq(nb_virtq_pop(&v.q, &chain), 0);
	ck_assert_uint_eq(vr_used_idx(&v), 2);
	ck_assert(!v.q.broken);
}
END_TEST

START_TEST(avail_idx_jump_breaks_queue)
{
	vr_desc(&v, 0, VR_DATA, 64, 0, 0);
	vr_set_avail_idx(&v, 9); /* 9 new entries in a queue of 8 */
	ck_assert_int_eq(nb_virtq_pop(&v.q, &chain), -1);
	ck_assert(v.q.broken);
	ck_assert_int_eq(nb_virtq_pop(&v.q, &chain), 0); /* stays stopped */
	ck_assert(!nb_virtq_has_avail(&v.q));
}
END_TEST

START_TEST(descriptor_loop_is_refused)
{
	vr_desc(&v, 0, VR_DATA, 8, VRING_DESC_F_NEXT, 1);
	vr_desc(&v, 1, VR_DATA, 8, VRING_DESC_F_NEXT, 0);
	vr_avail(&v, 0);
	ck_assert_int_eq(nb_virtq_pop(&v.q, &chain), -1);
	ck_assert(v.q.broken);
}
END_TEST

START_TEST(self_loop_is_refused)
{
	vr_desc(&v, 3, VR_DATA, 8, VRING_DESC_F_NEXT, 3);
	vr_avail(&v, 3);
	ck_assert_int_eq(nb_virtq_pop(&v.q, &chain), -1);
}
END_TEST

START_TEST(full_length_chain_is_accepted)
{
	for (unsigned i = 0; i < 8; i++)
		vr_desc(&v, i, VR_DATA + 8 * i, 8, i < 7 ? VRING_DESC_F_NEXT : 0,
			(uint16_t)(i + 1));
	vr_avail(&v, 0);
	ck_assert_int_eq(nb_virtq_pop(&v.q, &chain), 1);
	ck_assert_uint_eq(chain.nread, 8);
}
END_TEST

START_TEST(chain_longer_than_queue_via_indirect)
{
	v.q.indirect = true;
	/* 1 direct buffer + an indirect table of 8 = 9 buffers > queue size 8 */
	vr_desc(&v, 0, VR_DATA, 8, VRING_DESC_F_NEXT, 1);
	vr_desc(&v, 1, VR_DATA + 0x1000, 8 * 16, VRING_DESC_F_INDIRECT, 0);
	for (unsigned i = 0; i < 8; i++)
		vr_desc_at(&v, VR_DATA + 0x1000, i, VR_DATA, 8, i < 7 ? VRING_DESC_F_NEXT : 0,
			   (uint16_t)(i + 1));
	vr_avail(&v, 0);
	ck_assert_int_eq(nb_virtq_pop(&v.q, &chain), -1);
}
END_TEST

START_TEST(out_of_range_addresses)
{
	static const uint64_t bad[][2] = {
		{ RAM_SIZE - 4, 8 },   /* straddles the end of RAM */
		{ RAM_SIZE, 1 },       /* just past it */
		{ 1ull << 63, 16 },    /* far outside */
		{ UINT64_MAX - 3, 8 }, /* wraps around */
		{ 0, UINT32_MAX },     /* longer than RAM */
	};

	teardown();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setup();
		vr_desc(&v, 0, bad[i][0], (uint32_t)bad[i][1], VRING_DESC_F_WRITE, 0);
		vr_avail(&v, 0);
		ck_assert_msg(nb_virtq_pop(&v.q, &chain) == -1, "case %zu accepted", i);
		teardown();
	}
	setup(); /* for the fixture's teardown */
}
END_TEST

START_TEST(last_byte_of_ram)
{
	vr_desc(&v, 0, RAM_SIZE - 1, 1, VRING_DESC_F_WRITE, 0);
	vr_avail(&v, 0);
	ck_assert_int_eq(nb_virtq_pop(&v.q, &chain), 1);
	ck_assert_ptr_eq(chain.segs[0].host, ram + RAM_SIZE - 1);
	ck_assert_uint_eq(nb_virtq_chain_write(&chain, 0, "xy", 2), 1); /* bounded by the seg */
	ck_assert_uint_eq(ram[RAM_SIZE - 1], 'x');
}
END_TEST

START_TEST(zero_length_descriptor_is_skipped)
{
	vr_desc(&v, 0, 1ull << 62, 0, VRING_DESC_F_NEXT, 1); /* address never followed */
	vr_desc(&v, 1, VR_DATA, 4, VRING_DESC_F_WRITE, 0);
	vr_avail(&v, 0);
	ck_assert_int_eq(nb_virtq_pop(&v.q, &chain), 1);
	ck_assert_uint_eq(chain.nread + chain.nwrite, 1);
	ck_assert_uint_eq(chain.write_len, 4);
}
END_TEST

START_TEST(index_out_of_range)
{
	vr_avail(&v, 8); /* head == queue size */
	ck_assert_int_eq(nb_virtq_pop(&v.q, &chain), -1);
	teardown();
	setup();
	vr_desc(&v, 0, VR_DATA, 4, VRING_DESC_F_NEXT, 200);
	vr_avail(&v, 0);
	ck_assert_int_eq(nb_virtq_pop(&v.q, &chain), -1);
}
END_TEST

START_TEST(readable_after_writable_is_refused)
{
	vr_desc(&v, 0, VR_DATA, 4, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	vr_desc(&v, 1, VR_DATA, 4, 0, 0);
	vr_avail(&v, 0);
	ck_assert_int_eq(nb_virtq_pop(&v.q, &chain), -1);
}
END_TEST

START_TEST(indirect_descriptors)
{
	uint64_t table = VR_DATA + 0x1000;

	v.q.indirect = true;
	vr_desc(&v, 0, table, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	vr_desc_at(&v, table, 0, VR_DATA, 16, VRING_DESC_F_NEXT, 1);
	vr_desc_at(&v, table, 1, VR_DATA + 16, 512, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	vr_desc_at(&v, table, 2, VR_DATA + 528, 1, VRING_DESC_F_WRITE, 0);
	vr_avail(&v, 0);
	ck_assert_int_eq(nb_virtq_pop(&v.q, &chain), 1);
	ck_assert_uint_eq(chain.nread, 1);
	ck_assert_uint_eq(chain.nwrite, 2);
	ck_assert_uint_eq(chain.write_len, 513);
}
END_TEST

START_TEST(indirect_refusals)
{
	uint64_t table = VR_DATA + 0x1000;
	struct {
		uint32_t len;
		uint16_t flags;
		bool feature, nested;
	} cases[] = {
		{ 32, VRING_DESC_F_INDIRECT, false, false },    /* not negotiated */
		{ 24, VRING_DESC_F_INDIRECT, true, false },     /* not 16-multiple */
		{ 0, VRING_DESC_F_INDIRECT, true, false },      /* empty */
		{ 16 * 9, VRING_DESC_F_INDIRECT, true, false }, /* > queue size */
		{ 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, true, false }, /* with NEXT */
		{ 32, VRING_DESC_F_INDIRECT, true, true },                      /* nested */
	};

	teardown();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setup();
		v.q.indirect = cases[i].feature;
		vr_desc(&v, 0, table, cases[i].len, cases[i].flags, 1);
		vr_desc_at(&v, table, 0, cases[i].nested ? table : VR_DATA, 16,
			   cases[i].nested ? VRING_DESC_F_INDIRECT : 0, 0);
		vr_avail(&v, 0);
		ck_assert_msg(nb_virtq_pop(&v.q, &chain) == -1, "case %zu accepted", i);
		teardown();
	}
	setup();
	vr_desc(&v, 0, RAM_SIZE - 16, 32, VRING_DESC_F_INDIRECT, 0); /* table past RAM */
	v.q.indirect = true;
	vr_avail(&v, 0);
	ck_assert_int_eq(nb_virtq_pop(&v.q, &chain), -1);
}
END_TEST

START_TEST(enable_checks_rings)
{
	struct vr w;

	ck_assert_int_eq(vr_init(&w, ram, RAM_SIZE, 6), -1); /* not a power of 2 */
	ck_assert_int_eq(vr_init(&w, ram, RAM_SIZE, 0), -1);
	ck_assert_int_eq(vr_init(&w, ram, RAM_SIZE, 512), -1); /* > max */
	ck_assert_int_eq(vr_init(&w, ram, RAM_SIZE, 8), 0);
	w.q.used_gpa = RAM_SIZE - 8; /* used ring past the end */
	ck_assert_int_eq(nb_virtq_enable(&w.q), -1);
	w.q.used_gpa = VR_USED + 2; /* misaligned */
	ck_assert_int_eq(nb_virtq_enable(&w.q), -1);
	w.q.used_gpa = VR_USED;
	w.q.desc_gpa = UINT64_MAX - 15;
	ck_assert_int_eq(nb_virtq_enable(&w.q), -1);
}
END_TEST

START_TEST(interrupt_suppression)
{
	uint16_t flags = VRING_AVAIL_F_NO_INTERRUPT;

	vr_desc(&v, 0, VR_DATA, 4, VRING_DESC_F_WRITE, 0);
	vr_avail(&v, 0);
	ck_assert_int_eq(nb_virtq_pop(&v.q, &chain), 1);
	nb_virtq_push(&v.q, 0, 4);
	memcpy(ram + VR_AVAIL, &flags, 2);
	ck_assert(!nb_virtq_need_signal(&v.q));
	flags = 0;
	memcpy(ram + VR_AVAIL, &flags, 2);
	ck_assert(nb_virtq_need_signal(&v.q));
}
END_TEST

START_TEST(event_idx)
{
	uint16_t used_event = 1; /* interrupt when used idx passes 1 */

	v.q.event_idx = true;
	memcpy(ram + VR_AVAIL + 4 + 2 * 8, &used_event, 2);
	for (unsigned i = 0; i < 3; i++) {
		vr_desc(&v, i, VR_DATA, 4, VRING_DESC_F_WRITE, 0);
		vr_avail(&v, (uint16_t)i);
	}
	ck_assert_int_eq(nb_virtq_pop(&v.q, &chain), 1);
	uint16_t avail_event;
	memcpy(&avail_event, ram + VR_USED + 4 + 8 * 8, 2);
	ck_assert_uint_eq(avail_event, 1);     /* device asks to be told from entry 1 on */
	nb_virtq_push(&v.q, 0, 4);             /* used idx 1: not past used_event */
	ck_assert(nb_virtq_need_signal(&v.q)); /* first signal always */
	ck_assert_int_eq(nb_virtq_pop(&v.q, &chain), 1);
	nb_virtq_push(&v.q, 1, 4); /* used idx 2: crosses used_event 1 */
	ck_assert(nb_virtq_need_signal(&v.q));
	ck_assert_int_eq(nb_virtq_pop(&v.q, &chain), 1);
	nb_virtq_push(&v.q, 2, 4); /* used idx 3: event 1 already passed */
	ck_assert(!nb_virtq_need_signal(&v.q));
}
END_TEST

START_TEST(chain_iov_and_copies)
{
	struct iovec iov[4];

	vr_desc(&v, 0, VR_DATA, 16, VRING_DESC_F_NEXT, 1);
	vr_desc(&v, 1, VR_DATA + 100, 10, VRING_DESC_F_NEXT, 2);
	vr_desc(&v, 2, VR_DATA + 200, 10, 0, 0);
	vr_avail(&v, 0);
	memcpy(ram + VR_DATA + 14, "abcd", 4);
	memcpy(ram + VR_DATA + 100, "efgh", 4);
	ck_assert_int_eq(nb_virtq_pop(&v.q, &chain), 1);
	char buf[8] = { 0 };
	ck_assert_uint_eq(nb_virtq_chain_read(&chain, 14, buf, 4), 4);
	ck_assert_mem_eq(buf, "abef", 4);
	ck_assert_uint_eq(nb_virtq_chain_read(&chain, 34, buf, 8), 2); /* only 36 bytes */
	ck_assert_uint_eq(nb_virtq_chain_iov(&chain, false, 16, 20, iov, 4), 2);
	ck_assert_uint_eq(iov[0].iov_len, 10);
	ck_assert_uint_eq(nb_virtq_chain_iov(&chain, false, 16, 21, iov, 4), 0); /* too long */
	ck_assert_uint_eq(nb_virtq_chain_iov(&chain, false, 0, 36, iov, 2), 0);  /* too many */
	ck_assert_uint_eq(nb_virtq_chain_write(&chain, 0, "x", 1), 0); /* nothing writable */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("virtqueue");
	TCase *tc = tcase_create("virtqueue");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, simple_chain_and_used_ring);
	tcase_add_test(tc, avail_idx_wraps_around);
	tcase_add_test(tc, avail_idx_jump_breaks_queue);
	tcase_add_test(tc, descriptor_loop_is_refused);
	tcase_add_test(tc, self_loop_is_refused);
	tcase_add_test(tc, full_length_chain_is_accepted);
	tcase_add_test(tc, chain_longer_than_queue_via_indirect);
	tcase_add_test(tc, out_of_range_addresses);
	tcase_add_test(tc, last_byte_of_ram);
	tcase_add_test(tc, zero_length_descriptor_is_skipped);
	tcase_add_test(tc, index_out_of_range);
	tcase_add_test(tc, readable_after_writable_is_refused);
	tcase_add_test(tc, indirect_descriptors);
	tcase_add_test(tc, indirect_refusals);
	tcase_add_test(tc, enable_checks_rings);
	tcase_add_test(tc, interrupt_suppression);
	tcase_add_test(tc, event_idx);
	tcase_add_test(tc, chain_iov_and_copies);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
