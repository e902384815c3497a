/* The spec's property table (common/spec.c, included here so its static
 * table and size estimate can be checked): every row round-trips, the size
 * estimate is the encoder's exact output size (so never short) up to a
 * maximal spec, and the rows are consistent with the ABI's record sizes. */
#define nb_spec_validate table_spec_validate
#define nb_spec_encode table_spec_encode
#define nb_spec_decode table_spec_decode
#define nb_spec_free table_spec_free
#define nb_spec_same_container table_spec_same_container
#define nb_spec_volume_mode table_spec_volume_mode
#define nb_spec_writable_volume table_spec_writable_volume
#include "common/spec.c"

#include <check.h>

#include "lib/spec_same.h"
#include "unit/unit.h"

static const char *const argv3[] = { "/bin/sh", "-c", "true" };
static const char *const env2[] = { "PATH=/bin", "A=b=c" };
static const char *const tmpfs2[] = { "/tmp", "/run/x:size=1m" };
static const char *const volumes2[] = { "nbvol0:rw:/data", "share:fs-ro:/srv" };
static const unsigned char bpf[16] = { 6, 0, 0, 0, 0, 0, 0xff, 0x7f, 6, 0, 0, 0, 0, 0, 0xff, 0x7f };
static const unsigned char seed32[NB_SPEC_SEED_LEN] = { 1, 2, 3 };
static const unsigned char mac6[NB_SPEC_MAC_LEN] = { 0x02, 0x4e, 0x42, 4, 5, 6 };
static const char *const dns2[] = { "10.0.0.53", "8.8.8.8" };
static const struct nb_spec_layer layers2[] = { { 0, 4096 }, { 8192, 1 } };

/* Every property set, each to a value other than its default. */
static struct nb_spec every_property(void)
{
	struct nb_spec s = {
		.argv = argv3,
		.argc = 3,
		.env = env2,
		.envc = 2,
		.rootfs = "/rootfs",
		.hostname = "box",
		.workdir = "/w",
		.user = "1:2",
		.has_caps = true,
		.caps = 5,
		.nrlimits = 2,
		.memory_max = 2 << 20,
		.swap_max = 3 << 20,
		.cpu_quota_us = 2000,
		.cpu_period_us = 100000,
		.pids_max = 9,
		.memory_low = 1 << 20,
		.cpu_weight = 100,
		.namespaces = NB_NS_USER,
		.read_only = true,
		.init = true,
		.tmpfs = tmpfs2,
		.ntmpfs = 2,
		.seccomp = bpf,
		.seccomp_len = sizeof(bpf),
		.volumes = volumes2,
		.nvolumes = 2,
		.layers = layers2,
		.nlayers = 2,
		.net_ipv4 = 0x0a000002,
		.net_prefix = 24,
		.net_gateway = 0x0a000001,
		.net_dns = dns2,
		.net_ndns = 2,
		.net_mac = mac6,
		.net_mac_len = sizeof(mac6),
		.tty = true,
		.tty_rows = 24,
		.tty_cols = 80,
		.template = true,
		.seed = seed32,
		.seed_len = sizeof(seed32),
		.clock_sec = 1764871200,
		.clock_nsec = 999999999,
		.start_gate = true,
	};

	s.rlimits[0] = (struct nb_spec_rlimit){ 7, 1, 2 };
	s.rlimits[1] = (struct nb_spec_rlimit){ 3, 0, UINT64_MAX };
	return s;
}

/* Encode, check the estimate was exact, decode, compare. */
static void round_trip(const struct nb_spec *in, size_t *len_out)
{
	struct nb_err err = { 0 };
	struct nb_spec out;
	void *blob = NULL;
	size_t len;

	ck_assert_msg(nb_spec_encode(in, &blob, &len, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(len, encoded_size(in));
	ck_assert_msg(nb_spec_decode(blob, len, &out, &err) == 0, "%s", err.msg);
	ck_assert_msg(!nb_test_spec_diff(in, &out), "%s differ", nb_test_spec_diff(in, &out));
	nb_spec_free(&out);
	free(blob);
	if (len_out)
		*len_out = len;
}

/* Each row is written when set, under its name, and read back. */
START_TEST(every_row_round_trips)
{
	struct nb_spec in = every_property();
	struct nb_err err = { 0 };
	void *blob = NULL;
	size_t len;

	round_trip(&in, NULL);
	ck_assert_msg(nb_spec_encode(&in, &blob, &len, &err) == 0, "%s", err.msg);
	for (size_t i = 0; i < NPROPS; i++) {
		int plen;

		ck_assert_msg(is_set(&props[i], &in), "%s not set", props[i].name);
		ck_assert_msg(fdt_getprop(blob, 0, props[i].name, &plen), "%s missing",
			      props[i].name);
		ck_assert_uint_eq((size_t)plen, value_len(&props[i], &in));
	}
	free(blob);
}
END_TEST

/* Unset properties are not written; the defaults come back. */
START_TEST(unset_rows_are_not_written)
{
	struct nb_spec in = { .argv = argv3, .argc = 1, .rootfs = "/" };
	struct nb_err err = { 0 };
	void *blob = NULL;
	size_t len;
	int n = 0, off;

	round_trip(&in, NULL);
	ck_assert_msg(nb_spec_encode(&in, &blob, &len, &err) == 0, "%s", err.msg);
	fdt_for_each_property_offset(off, blob, 0)
		n++;
	ck_assert_int_eq(n, 3); /* version, argv, rootfs */
	free(blob);
}
END_TEST

/* Value lengths around the 4-byte padding, each property on its own. */
START_TEST(estimate_exact_across_padding)
{
	static char s[16];

	for (size_t n = 1; n < sizeof(s) - 1; n++) {
		struct nb_spec in = every_property();

		memset(s, 'a', n);
		s[n] = '\0';
		in.hostname = s;
		round_trip(&in, NULL);
		in = (struct nb_spec){ .argv = (const char *const[]){ s },
				       .argc = 1,
				       .rootfs = "/" };
		round_trip(&in, NULL);
	}
}
END_TEST

static char *filled(size_t n, char c, const char *prefix)
{
	char *s = malloc(n + 1);

	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	memcpy(s, prefix, strlen(prefix));
	s[n] = '\0';
	return s;
}

/* argv entries of tail ends of big (NB_SPEC_MAX_STRING bytes), total bytes
 * on the wire (NULs included), spread evenly so none is empty or too long. */
static void set_argv(struct nb_spec *in, const char **argv, const char *big, size_t total)
{
	size_t k = (total + NB_SPEC_MAX_STRING) / (NB_SPEC_MAX_STRING + 1);

	for (size_t i = 0; i < k; i++) {
		size_t n = total / k + (i < total % k) - 1;

		argv[i] = big + NB_SPEC_MAX_STRING - n;
	}
	in->argv = argv;
	in->argc = k;
}

/* Every bounded property at its largest, argv filling the blob up to
 * NB_SPEC_MAX_SIZE: the estimate is what libfdt writes, and the limit is
 * where it was (one byte more is refused). */
START_TEST(maximal_spec)
{
	static struct nb_spec_layer layers[NB_MAX_LAYERS];
	static unsigned char prog[NB_SPEC_MAX_BPF * NB_SPEC_BPF_INSN];
	static const char *tmpfs[NB_SPEC_MAX_TMPFS], *volumes[NB_SPEC_MAX_VOLUMES];
	static const char *argv[NB_SPEC_MAX_SIZE / NB_SPEC_MAX_STRING + 1];
	char *path = filled(NB_SPEC_MAX_PATH, 'p', "/");
	char *tpath = filled(NB_SPEC_MAX_PATH - 1, 't', "/"); /* nb_tmpfs_parse: < 4096 */
	char *vol = filled(NB_VOLUME_SERIAL_MAX + 7 + NB_SPEC_MAX_PATH, 'v', "");
	char *big = filled(NB_SPEC_MAX_STRING, 'a', "");
	struct nb_spec in = every_property();
	struct nb_err err = { 0 };
	void *blob = NULL;
	size_t len, total;

	memcpy(vol + NB_VOLUME_SERIAL_MAX, ":fs-rw:/", 8);
	for (size_t i = 0; i < NB_MAX_LAYERS; i++)
		layers[i] = (struct nb_spec_layer){ i * NB_LAYER_ALIGN, 1 };
	for (size_t i = 0; i < NB_SPEC_MAX_TMPFS; i++)
		tmpfs[i] = tpath;
	for (size_t i = 0; i < NB_SPEC_MAX_VOLUMES; i++)
		volumes[i] = vol;
	for (size_t i = 0; i < NB_SPEC_MAX_RLIMITS; i++)
		in.rlimits[i] = (struct nb_spec_rlimit){ (uint32_t)i, i, UINT64_MAX };
	in.nrlimits = NB_SPEC_MAX_RLIMITS;
	in.hostname = filled(NB_SPEC_MAX_HOSTNAME, 'h', "");
	in.workdir = path;
	in.user = filled(NB_SPEC_MAX_USER, 'u', "");
	in.tmpfs = tmpfs;
	in.ntmpfs = NB_SPEC_MAX_TMPFS;
	in.volumes = volumes;
	in.nvolumes = NB_SPEC_MAX_VOLUMES;
	in.seccomp = prog;
	in.seccomp_len = sizeof(prog);
	in.layers = layers;
	in.nlayers = NB_MAX_LAYERS;
	set_argv(&in, argv, big, 2);
	total = NB_SPEC_MAX_SIZE - encoded_size(&in) + 2 + 8;
	do
		set_argv(&in, argv, big, --total);
	while (encoded_size(&in) > NB_SPEC_MAX_SIZE);
	ck_assert_uint_gt(encoded_size(&in), NB_SPEC_MAX_SIZE - FDT_TAGSIZE);
	round_trip(&in, &len);
	set_argv(&in, argv, big, total + 1);
	ck_assert_int_eq(nb_spec_encode(&in, &blob, &len, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "exceed"));
	free((void *)in.hostname);
	free((void *)in.user);
	free(path);
	free(tpath);
	free(vol);
	free(big);
}
END_TEST

/* The rows agree with each other and with abi.h. */
START_TEST(table_is_consistent)
{
	for (size_t i = 0; i < NPROPS; i++) {
		const struct prop *p = &props[i];

		ck_assert_ptr_eq(prop_named(p->name), p); /* names are unique */
		/* exact estimate: libfdt stores a name once only if it is the
		 * tail of another */
		for (size_t j = 0; j < NPROPS; j++) {
			size_t a = strlen(p->name), b = strlen(props[j].name);

			ck_assert_msg(i == j || a > b || strcmp(props[j].name + b - a, p->name),
				      "%s is the tail of %s", p->name, props[j].name);
		}
		if (p->with)
			ck_assert_ptr_nonnull(prop_named(p->with));
		if (p->kind == KIND_CELLS || p->kind == KIND_RECORDS)
			ck_assert_msg(cells_width(p) > 0 && p->key < MAX_CELLS &&
					      p->cells[p->key].type != CELL_NONE,
				      "%s", p->name);
		if (p->kind == KIND_STRING || p->kind == KIND_LIST)
			ck_assert_uint_le(p->max, p->kind == KIND_LIST ? NB_SPEC_MAX_ARGS
								       : NB_SPEC_MAX_STRING);
	}
	ck_assert_uint_eq(cells_width(prop_named(NB_SPEC_RLIMITS)), NB_SPEC_RLIMIT_RECORD);
	ck_assert_uint_eq(cells_width(prop_named(NB_SPEC_LAYERS)), NB_LAYER_RECORD);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("spec_table");
	TCase *tc = tcase_create("spec_table");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, every_row_round_trips);
	tcase_add_test(tc, unset_rows_are_not_written);
	tcase_add_test(tc, estimate_exact_across_padding);
	tcase_add_test(tc, maximal_spec);
	tcase_add_test(tc, table_is_consistent);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
