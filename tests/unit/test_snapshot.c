/* The snapshot state file (vmm/kvm/statefile.h) and the device state
 * loaders a restore feeds it to: round trip, refusal of corrupt, truncated
 * and foreign files, hostile sections (lengths, counts, values), and the
 * UTF-8 check `nestbox fn` uses on captured output. */
#include <check.h>
#include <string.h>

#include "common/parse.h"
#include "common/spec.h"
#include "nestbox/abi.h"
#include "unit/unit.h"
#include "vmm/dev/serial.h"
#include "vmm/kvm/statefile.h"
#include "vmm/virtio/console.h"
#include "vmm/virtio/virtio.h"

static struct nb_state_header header(void)
{
	struct nb_state_header h = { .abi = NB_ABI_VERSION,
				     .spec_format = NB_SPEC_FORMAT,
				     .mem_size = 512u << 20,
				     .ncpus = 2 };

	strcpy(h.host.vendor, "AuthenticAMD");
	strcpy(h.host.kernel, "6.1.0-test");
	h.host.signature = 0x830f10;
	memset(h.host.cpuid_hash, 0xab, sizeof(h.host.cpuid_hash));
	memset(h.host.msr_hash, 0xcd, sizeof(h.host.msr_hash));
	return h;
}

/* A file of header() with two sections. */
static void *make_file(size_t *len)
{
	struct nb_state_header h = header();
	struct nb_state_buf b = { 0 };
	uint32_t regs[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	void *file = NULL;
	struct nb_err err;

	nb_state_put(&b, NB_STATE_VCPU_REGS, 0, regs, sizeof(regs));
	nb_state_put(&b, NB_STATE_VCPU_REGS, 1, "hello", 5);
	ck_assert_int_eq(nb_state_finish(&h, &b, &file, len, &err), 0);
	nb_state_buf_free(&b);
	return file;
}

START_TEST(round_trip)
{
	size_t len;
	void *file = make_file(&len);
	struct nb_state_header want = header();
	struct nb_state s;
	struct nb_err err;
	uint32_t regs[8];
	const void *data;
	size_t n;

	ck_assert_int_eq(nb_state_parse(file, len, &want, &s, &err), 0);
	ck_assert_int_eq(nb_state_get(&s, NB_STATE_VCPU_REGS, 0, regs, sizeof(regs), &err), 0);
	ck_assert_uint_eq(regs[7], 8);
	ck_assert_int_eq(nb_state_find(&s, NB_STATE_VCPU_REGS, 1, &data, &n, &err), 0);
	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(memcmp(data, "hello", 5), 0);
	/* Wrong length, missing section. */
	ck_assert_int_eq(nb_state_get(&s, NB_STATE_VCPU_REGS, 1, regs, sizeof(regs), &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "5 bytes"));
	ck_assert_int_eq(nb_state_get(&s, NB_STATE_VCPU_LAPIC, 0, regs, 4, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "missing"));
	free(file);
}
END_TEST

START_TEST(refuses_corrupt_and_truncated)
{
	size_t len;
	uint8_t *file = make_file(&len);
	struct nb_state s;
	struct nb_err err;

	for (size_t cut = 0; cut < len; cut += 7) {
		ck_assert_int_eq(nb_state_parse(file, cut, NULL, &s, &err), -1);
		ck_assert_ptr_nonnull(strstr(err.msg, "snapshot refused"));
	}
	file[len - 1] ^= 1; /* a body byte: the checksum catches it */
	ck_assert_int_eq(nb_state_parse(file, len, NULL, &s, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "checksum"));
	file[len - 1] ^= 1;
	file[0] = 'X';
	ck_assert_int_eq(nb_state_parse(file, len, NULL, &s, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "not a nestbox snapshot"));
	free(file);
}
END_TEST

START_TEST(refuses_foreign)
{
	size_t len;
	void *file = make_file(&len);
	struct nb_state_header want = header();
	struct nb_state s;
	struct nb_err err;

	strcpy(want.host.vendor, "GenuineIntel");
	ck_assert_int_eq(nb_state_parse(file, len, &want, &s, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "another CPU"));
	want = header();
	strcpy(want.host.kernel, "6.12.0");
	ck_assert_int_eq(nb_state_parse(file, len, &want, &s, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "host kernel"));
	want = header();
	want.abi++;
	ck_assert_int_eq(nb_state_parse(file, len, &want, &s, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "another nestbox"));
	want = header();
	want.host.msr_hash[3] ^= 1;
	ck_assert_int_eq(nb_state_parse(file, len, &want, &s, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "MSRs"));
	want = header();
	want.mem_size <<= 1;
	ck_assert_int_eq(nb_state_parse(file, len, &want, &s, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "MiB"));
	free(file);
}
END_TEST

/* A body whose section lengths lie, with a checksum that matches: the
 * framing check, not the hash, must refuse it. */
START_TEST(refuses_hostile_sections)
{
	struct nb_state_header h = header();
	struct nb_state_buf b = { 0 };
	uint32_t lie[3] = { NB_STATE_VCPU_REGS, 0, 0xfffffff0u };
	void *file;
	size_t len;
	struct nb_state s;
	struct nb_err err;

	/* Raw bytes that look like a section header claiming 4 GiB. */
	b.data = malloc(sizeof(lie));
	memcpy(b.data, lie, sizeof(lie));
	b.len = b.cap = sizeof(lie);
	ck_assert_int_eq(nb_state_finish(&h, &b, &file, &len, &err), 0);
	ck_assert_int_eq(nb_state_parse(file, len, NULL, &s, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "past the end"));
	free(file);
	/* A header cut in half. */
	b.len = 6;
	ck_assert_int_eq(nb_state_finish(&h, &b, &file, &len, &err), 0);
	ck_assert_int_eq(nb_state_parse(file, len, NULL, &s, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "cut short"));
	free(file);
	nb_state_buf_free(&b);
	/* A section above the limit is never written. */
	ck_assert_int_eq(b.failed, false);
	nb_state_put(&b, 1, 0, "", NB_STATE_MAX_SECTION + 1);
	ck_assert(b.failed);
	ck_assert_int_eq(nb_state_finish(&h, &b, &file, &len, &err), -1);
	nb_state_buf_free(&b);
}
END_TEST

START_TEST(serial_state_checked)
{
	struct nb_serial s;
	struct nb_serial_state st = { 0 };
	struct nb_err err;

	nb_serial_init(&s, -1, NULL, NULL, 4);
	st.rx_head = NB_SERIAL_RX_FIFO;
	ck_assert_int_eq(nb_serial_load(&s, &st, &err), -1);
	st.rx_head = 0;
	st.rx_count = NB_SERIAL_RX_FIFO + 1;
	ck_assert_int_eq(nb_serial_load(&s, &st, &err), -1);
	st.rx_count = 3;
	st.ier = 0x05;
	st.dll = 1;
	ck_assert_int_eq(nb_serial_load(&s, &st, &err), 0);
	nb_serial_save(&s, &st);
	ck_assert_uint_eq(st.rx_count, 3);
	ck_assert_uint_eq(st.ier, 0x05);
	nb_serial_destroy(&s);
}
END_TEST

/* A device's transport-independent state against its ops and guest RAM. */
START_TEST(virtio_state_checked)
{
	struct nb_guest_mem mem;
	struct nb_console_opts copts = { .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1 };
	struct nb_err err;
	struct nb_console *con = nb_console_new(NULL, &copts, &err);
	struct nb_virtio_dev *dev;
	struct nb_virtio_state st;

	ck_assert_ptr_nonnull(con);
	dev = nb_console_dev(con);
	nb_unit_guest_map(&mem, 16u << 20);
	nb_virtio_dev_set_mem(dev, &mem);
	nb_virtio_state_save(dev, &st);
	ck_assert_int_eq(nb_virtio_state_load(dev, &st, &err), 0);
	st.nqueues = 3;
	ck_assert_int_eq(nb_virtio_state_load(dev, &st, &err), -1);
	nb_virtio_state_save(dev, &st);
	st.queues[2] = (struct nb_virtq_state){ .ready = 1,
						.size = 64,
						.desc_gpa = 0x1000,
						.avail_gpa = 0x2000,
						.used_gpa = 0x3000,
						.last_avail = 7,
						.used_idx = 7 };
	st.driver_features = NB_VIRTIO_F_VERSION_1;
	ck_assert_int_eq(nb_virtio_state_load(dev, &st, &err), 0);
	ck_assert(dev->queues[2].ready);
	ck_assert_uint_eq(dev->queues[2].last_avail, 7);
	st.queues[2].used_gpa = (16u << 20) - 8; /* the used ring leaves guest RAM */
	ck_assert_int_eq(nb_virtio_state_load(dev, &st, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "does not fit"));
	st.queues[2].used_gpa = 0x3000;
	st.queues[2].size = 4096; /* above QueueNumMax */
	ck_assert_int_eq(nb_virtio_state_load(dev, &st, &err), -1);
	st.queues[2].size = 64;
	st.driver_features = 1ull << 60; /* never offered */
	ck_assert_int_eq(nb_virtio_state_load(dev, &st, &err), -1);
	st.driver_features = NB_VIRTIO_F_VERSION_1;
	st.status = 0x1ff;
	ck_assert_int_eq(nb_virtio_state_load(dev, &st, &err), -1);
	/* The console's own state: exact length, bounded counts. */
	ck_assert_int_eq(dev->ops->load(dev, "x", 1, &err), -1);
	nb_mem_unmap(&mem);
	free(con);
}
END_TEST

START_TEST(utf8)
{
	ck_assert(nb_utf8_valid("", 0));
	ck_assert(nb_utf8_valid("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15));
	ck_assert(!nb_utf8_valid("\xff", 1));
	ck_assert(!nb_utf8_valid("\xc3", 1));             /* cut short */
	ck_assert(!nb_utf8_valid("\xc0\xaf", 2));         /* overlong */
	ck_assert(!nb_utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
	ck_assert(!nb_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
	ck_assert(!nb_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
	ck_assert(!nb_utf8_valid("a\x80", 2));
}
END_TEST

/* Scrubbed: well-formed sequences kept, each stray byte a '?'. */
START_TEST(utf8_scrub)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "", "" },
		{ "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80",
		  "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80" },
		{ "op \"\xff\xfe\"", "op \"??\"" },
		{ "cut \xe2\x82", "cut ??" }, /* a name cut at %.64s */
		{ "\xc0\xaf \xed\xa0\x80", "?"
					   "? ???" }, /* overlong, surrogate */
		{ "a\x80"
		  "b\xc3\xa9",
		  "a?b\xc3\xa9" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[64];

		snprintf(buf, sizeof(buf), "%s", cases[i].in);
		ck_assert_str_eq(nb_utf8_scrub(buf), cases[i].out);
		ck_assert(nb_utf8_valid(buf, strlen(buf)));
	}
}
END_TEST

/* The warm start spec properties (abi.h): bounds on encode and decode. */
START_TEST(warm_spec_bounds)
{
	static const char *const argv[] = { "true" };
	uint8_t seed[NB_SPEC_SEED_LEN + 1] = { 0 };
	struct nb_spec in = { .argv = argv,
			      .argc = 1,
			      .rootfs = "/rootfs",
			      .template = true,
			      .seed = seed,
			      .seed_len = NB_SPEC_SEED_LEN,
			      .clock_sec = 5 },
		       out;
	struct nb_err err;
	void *blob = NULL;
	size_t len;

	ck_assert_int_eq(nb_spec_encode(&in, &blob, &len, &err), 0);
	ck_assert_int_eq(nb_spec_decode(blob, len, &out, &err), 0);
	ck_assert(out.template);
	ck_assert_uint_eq(out.seed_len, NB_SPEC_SEED_LEN);
	ck_assert_uint_eq(out.clock_sec, 5);
	nb_spec_free(&out);
	free(blob);
	in.seed_len = NB_SPEC_SEED_LEN + 1;
	ck_assert_int_eq(nb_spec_validate(&in, &err), -1);
	in.seed_len = NB_SPEC_SEED_LEN - 1;
	ck_assert_int_eq(nb_spec_validate(&in, &err), -1);
	in.seed_len = NB_SPEC_SEED_LEN;
	in.clock_nsec = 1000000000u;
	ck_assert_int_eq(nb_spec_validate(&in, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, NB_SPEC_CLOCK));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("snapshot");
	TCase *tc = tcase_create("statefile");

	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, refuses_corrupt_and_truncated);
	tcase_add_test(tc, refuses_foreign);
	tcase_add_test(tc, refuses_hostile_sections);
	tcase_add_test(tc, serial_state_checked);
	tcase_add_test(tc, virtio_state_checked);
	tcase_add_test(tc, utf8);
	tcase_add_test(tc, utf8_scrub);
	tcase_add_test(tc, warm_spec_bounds);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return nb_unit_run(suite());
}
