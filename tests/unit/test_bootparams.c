/* Zero page: e820 map shape for one- and two-region guests, initrd
 * placement bounds, and the setup header fields the 64-bit entry reads. */
#include <asm/e820.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "vmm/kvm/x86_64/bootparams.h"
#include "vmm/kvm/x86_64/layout.h"
#include "unit/unit.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

static struct nb_guest_mem mem;
static struct nb_err err;

/* Guest RAM is never touched by e820/placement code; NORESERVE makes a
 * 5 GiB "guest" cost nothing. */
static void guest_map(uint64_t size)
{
	nb_unit_guest_map(&mem, size);
	memset(&err, 0, sizeof(err));
}

static void teardown(void)
{
	nb_mem_unmap(&mem);
}

#define ck_assert_err_has(substr) \
	ck_assert_msg(strstr(err.msg, (substr)), "error \"%s\" lacks \"%s\"", err.msg, (substr))

/* ---- e820 --------------------------------------------------------------- */

/* Sorted, non-empty, non-overlapping; every RAM entry backed by guest
 * memory; the EBDA..1 MiB range reserved; all RAM but that range listed. */
static void check_e820(const struct boot_e820_entry *tab, int n)
{
	uint64_t ram = 0;
	bool ebda_reserved = false;

	ck_assert_int_gt(n, 0);
	for (int i = 0; i < n; i++) {
		ck_assert_uint_gt(tab[i].size, 0);
		if (i > 0)
			ck_assert_uint_le(tab[i - 1].addr + tab[i - 1].size, tab[i].addr);
		if (tab[i].type == E820_RAM) {
			ck_assert_ptr_nonnull(nb_gpa_ptr(&mem, tab[i].addr, tab[i].size));
			ram += tab[i].size;
		} else {
			ck_assert_uint_eq(tab[i].type, E820_RESERVED);
			if (tab[i].addr <= NB_EBDA_GPA && tab[i].addr + tab[i].size >= NB_HIMEM_GPA)
				ebda_reserved = true;
		}
	}
	ck_assert(ebda_reserved);
	ck_assert_uint_eq(ram, mem.size - (NB_HIMEM_GPA - NB_EBDA_GPA));
}

START_TEST(e820_64mib)
{
	struct boot_e820_entry tab[8];
	int n;

	guest_map(64 * MiB);
	n = nb_e820_build(&mem, tab, 8);
	ck_assert_int_eq(n, 3);
	check_e820(tab, n);
	ck_assert_uint_eq(tab[0].addr, 0);
	ck_assert_uint_eq(tab[0].size, NB_EBDA_GPA);
	ck_assert_uint_eq(tab[2].addr, NB_HIMEM_GPA);
	ck_assert_uint_eq(tab[2].addr + tab[2].size, 64 * MiB);
}
END_TEST

START_TEST(e820_two_regions)
{
	struct boot_e820_entry tab[8];
	int n;

	guest_map(5 * GiB);
	ck_assert_uint_eq(mem.nregions, 2);
	n = nb_e820_build(&mem, tab, 8);
	ck_assert_int_eq(n, 4);
	check_e820(tab, n);
	ck_assert_uint_eq(tab[2].addr + tab[2].size, nb_mem_low_end(&mem));
	ck_assert_uint_le(tab[2].addr + tab[2].size, NB_MEM_HOLE_START); /* MMIO hole stays out */
	ck_assert_uint_eq(tab[3].addr, NB_MEM_HIGH_START);
	ck_assert_uint_eq(tab[3].size, 5 * GiB - nb_mem_low_end(&mem));
}
END_TEST

START_TEST(e820_capacity_too_small)
{
	struct boot_e820_entry tab[4];

	guest_map(5 * GiB);
	ck_assert_int_eq(nb_e820_build(&mem, tab, 3), -1);
	ck_assert_int_eq(nb_e820_build(&mem, tab, 4), 4);
}
END_TEST

/* ---- initrd placement --------------------------------------------------- */

static struct nb_kernel kernel_ending_at(uint64_t end)
{
	return (struct nb_kernel){ .entry = NB_KERNEL_DEFAULT_GPA,
				   .load_start = NB_KERNEL_DEFAULT_GPA,
				   .load_end = end };
}

static void check_placed(uint64_t gpa, uint64_t size, const struct nb_kernel *k, uint64_t top)
{
	ck_assert_uint_eq(gpa % 4096, 0);
	ck_assert_uint_ge(gpa, k->load_end);
	ck_assert_uint_le(gpa + size, top);
	ck_assert_uint_le(gpa + size, nb_mem_low_end(&mem));
	ck_assert_ptr_nonnull(nb_gpa_ptr(&mem, gpa, size));
	/* as high as it goes: no whole free page left above it */
	ck_assert_uint_gt(gpa + size + 4096, top);
}

START_TEST(initrd_placed_high_and_aligned)
{
	static const uint64_t sizes[] = { 1, 4096, 1234567, 20 * MiB };
	struct nb_kernel k = kernel_ending_at(NB_KERNEL_DEFAULT_GPA + 5 * MiB + 123);

	guest_map(64 * MiB);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t gpa = 0;

		ck_assert_msg(nb_initrd_place(&mem, &k, sizes[i], &gpa, &err) == 0, "%s", err.msg);
		check_placed(gpa, sizes[i], &k, 64 * MiB);
	}
}
END_TEST

START_TEST(initrd_respects_initrd_addr_max)
{
	struct nb_kernel k = kernel_ending_at(20 * MiB);
	uint64_t gpa = 0;

	guest_map(64 * MiB);
	k.bzimage = true;
	k.hdr.initrd_addr_max = 32 * MiB - 1;
	ck_assert_msg(nb_initrd_place(&mem, &k, 3 * MiB + 5, &gpa, &err) == 0, "%s", err.msg);
	check_placed(gpa, 3 * MiB + 5, &k, 32 * MiB);
}
END_TEST

START_TEST(initrd_below_4gib_on_big_guest)
{
	struct nb_kernel k = kernel_ending_at(30 * MiB);
	uint64_t gpa = 0;

	guest_map(5 * GiB);
	/* ELF kernels declare no initrd_addr_max: the old default applies. */
	ck_assert_msg(nb_initrd_place(&mem, &k, 100 * MiB, &gpa, &err) == 0, "%s", err.msg);
	check_placed(gpa, 100 * MiB, &k, NB_INITRD_MAX_GPA + 1);
	ck_assert_uint_lt(gpa + 100 * MiB, NB_MEM_HIGH_START);

	k.hdr.initrd_addr_max = 0xffffffff; /* a kernel that allows all of 4 GiB */
	ck_assert_msg(nb_initrd_place(&mem, &k, 100 * MiB, &gpa, &err) == 0, "%s", err.msg);
	check_placed(gpa, 100 * MiB, &k, nb_mem_low_end(&mem));
}
END_TEST

START_TEST(initrd_too_big)
{
	struct nb_kernel k = kernel_ending_at(20 * MiB);
	uint64_t gpa = 0xdead;

	guest_map(64 * MiB);
	ck_assert_int_eq(nb_initrd_place(&mem, &k, 45 * MiB, &gpa, &err), -1);
	ck_assert_err_has("does not fit");
	ck_assert_uint_eq(gpa, 0xdead);
	ck_assert_int_eq(nb_initrd_place(&mem, &k, UINT64_MAX, &gpa, &err), -1);
	ck_assert_int_eq(nb_initrd_place(&mem, &k, 0, &gpa, &err), -1);
	ck_assert_err_has("empty");
	/* exactly the room there is fits */
	ck_assert_msg(nb_initrd_place(&mem, &k, 44 * MiB, &gpa, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(gpa, 20 * MiB);
}
END_TEST

START_TEST(initrd_kernel_beyond_ram)
{
	struct nb_kernel k = kernel_ending_at(UINT64_MAX - 100); /* rounding up must not wrap */
	uint64_t gpa;

	guest_map(64 * MiB);
	ck_assert_int_eq(nb_initrd_place(&mem, &k, 4096, &gpa, &err), -1);
	k = kernel_ending_at(80 * MiB);
	ck_assert_int_eq(nb_initrd_place(&mem, &k, 4096, &gpa, &err), -1);
	ck_assert_err_has("does not fit");
}
END_TEST

/* ---- boot_params -------------------------------------------------------- */

static struct boot_params bp;

static struct nb_boot_args args_with(uint64_t initrd_gpa, uint64_t initrd_size)
{
	return (struct nb_boot_args){ .cmdline_gpa = NB_CMDLINE_GPA,
				      .cmdline_size = 42,
				      .initrd_gpa = initrd_gpa,
				      .initrd_size = initrd_size };
}

static void check_e820_in_bp(void)
{
	struct boot_e820_entry tab[E820_MAX_ENTRIES_ZEROPAGE];
	int n = nb_e820_build(&mem, tab, E820_MAX_ENTRIES_ZEROPAGE);

	ck_assert_int_eq(bp.e820_entries, n);
	ck_assert_mem_eq(bp.e820_table, tab, (size_t)n * sizeof(tab[0]));
}

START_TEST(bp_elf_synthesized_header)
{
	struct nb_kernel k = kernel_ending_at(30 * MiB);
	struct nb_boot_args args = args_with(40 * MiB, 3 * MiB + 1);

	guest_map(64 * MiB);
	memset(&bp, 0xa5, sizeof(bp)); /* everything not set must come out zero */
	ck_assert_msg(nb_boot_params_build(&bp, &mem, &k, &args, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(bp.hdr.boot_flag, 0xaa55);
	ck_assert_uint_eq(bp.hdr.header, 0x53726448);
	ck_assert_uint_ge(bp.hdr.version, 0x020c);
	ck_assert_uint_eq(bp.hdr.type_of_loader, 0xff);
	ck_assert(bp.hdr.loadflags & LOADED_HIGH);
	ck_assert_uint_eq(bp.hdr.kernel_alignment, 0x1000000);
	ck_assert_uint_eq(bp.hdr.cmd_line_ptr, NB_CMDLINE_GPA);
	ck_assert_uint_eq(bp.ext_cmd_line_ptr, 0);
	ck_assert_uint_eq(bp.hdr.cmdline_size, 41);
	ck_assert_uint_eq(bp.hdr.ramdisk_image, 40 * MiB);
	ck_assert_uint_eq(bp.hdr.ramdisk_size, 3 * MiB + 1);
	ck_assert_uint_eq(bp.ext_ramdisk_image, 0);
	ck_assert_uint_eq(bp.ext_ramdisk_size, 0);
	ck_assert_uint_eq(bp.sentinel, 0);
	ck_assert_uint_eq(bp.acpi_rsdp_addr, 0);
	check_e820_in_bp();
}
END_TEST

START_TEST(bp_no_initrd)
{
	struct nb_kernel k = kernel_ending_at(30 * MiB);
	struct nb_boot_args args = args_with(0, 0);

	guest_map(64 * MiB);
	ck_assert_msg(nb_boot_params_build(&bp, &mem, &k, &args, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(bp.hdr.ramdisk_image, 0);
	ck_assert_uint_eq(bp.hdr.ramdisk_size, 0);
}
END_TEST

static struct nb_kernel fake_bzimage(void)
{
	struct nb_kernel k = kernel_ending_at(30 * MiB);

	k.bzimage = true;
	k.hdr.setup_sects = 7;
	k.hdr.boot_flag = 0xaa55;
	k.hdr.header = 0x53726448;
	k.hdr.version = 0x020c;
	k.hdr.type_of_loader = 0;
	k.hdr.loadflags = 0x20; /* QUIET_FLAG, must survive */
	k.hdr.kernel_alignment = 0x200000;
	k.hdr.xloadflags = XLF_KERNEL_64;
	k.hdr.cmdline_size = 255;
	k.hdr.init_size = 9 * MiB;
	return k;
}

START_TEST(bp_bzimage_copies_and_patches_header)
{
	struct nb_kernel k = fake_bzimage();
	struct nb_boot_args args = args_with(40 * MiB, 4096);

	guest_map(64 * MiB);
	ck_assert_msg(nb_boot_params_build(&bp, &mem, &k, &args, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(bp.hdr.setup_sects, 7);
	ck_assert_uint_eq(bp.hdr.version, 0x020c);
	ck_assert_uint_eq(bp.hdr.kernel_alignment, 0x200000);
	ck_assert_uint_eq(bp.hdr.init_size, 9 * MiB);
	ck_assert_uint_eq(bp.hdr.cmdline_size, 255); /* the kernel's limit, not ours */
	ck_assert_uint_eq(bp.hdr.type_of_loader, 0xff);
	ck_assert_uint_eq(bp.hdr.loadflags, 0x20 | LOADED_HIGH);
	ck_assert_uint_eq(bp.hdr.cmd_line_ptr, NB_CMDLINE_GPA);
	ck_assert_uint_eq(bp.hdr.ramdisk_image, 40 * MiB);
	ck_assert_uint_eq(bp.hdr.ramdisk_size, 4096);
	check_e820_in_bp();
}
END_TEST

START_TEST(bp_bzimage_cmdline_limit)
{
	struct nb_kernel k = fake_bzimage();
	struct nb_boot_args args = args_with(0, 0);

	guest_map(64 * MiB);
	args.cmdline_size = 256; /* 255 characters + NUL: the limit */
	ck_assert_msg(nb_boot_params_build(&bp, &mem, &k, &args, &err) == 0, "%s", err.msg);
	args.cmdline_size = 257;
	ck_assert_int_eq(nb_boot_params_build(&bp, &mem, &k, &args, &err), -1);
	ck_assert_err_has("exceeds the kernel's limit of 255");
}
END_TEST

START_TEST(bp_cmdline_bounds)
{
	struct nb_kernel k = kernel_ending_at(30 * MiB);
	struct nb_boot_args args = args_with(0, 0);

	guest_map(64 * MiB);
	args.cmdline_size = 0;
	ck_assert_int_eq(nb_boot_params_build(&bp, &mem, &k, &args, &err), -1);
	args.cmdline_size = NB_CMDLINE_MAX + 1;
	ck_assert_int_eq(nb_boot_params_build(&bp, &mem, &k, &args, &err), -1);
	ck_assert_err_has("command line");
	args.cmdline_size = NB_CMDLINE_MAX;
	ck_assert_msg(nb_boot_params_build(&bp, &mem, &k, &args, &err) == 0, "%s", err.msg);
	args.cmdline_gpa = 64 * MiB - 10;
	args.cmdline_size = 11;
	ck_assert_int_eq(nb_boot_params_build(&bp, &mem, &k, &args, &err), -1);
	ck_assert_err_has("outside guest RAM");
}
END_TEST

START_TEST(bp_initrd_outside_ram)
{
	struct nb_kernel k = kernel_ending_at(30 * MiB);
	struct nb_boot_args args = args_with(63 * MiB, 2 * MiB);

	guest_map(64 * MiB);
	ck_assert_int_eq(nb_boot_params_build(&bp, &mem, &k, &args, &err), -1);
	ck_assert_err_has("initrd");
	args = args_with(UINT64_MAX - 4095, 8192); /* wraps */
	ck_assert_int_eq(nb_boot_params_build(&bp, &mem, &k, &args, &err), -1);
	ck_assert_err_has("outside guest RAM");
}
END_TEST

/* The zero page can describe an initrd above 4 GiB (ext_ halves), though
 * nb_initrd_place never puts one there. */
START_TEST(bp_high_initrd_uses_ext_fields)
{
	struct nb_kernel k = kernel_ending_at(30 * MiB);
	struct nb_boot_args args = args_with(NB_MEM_HIGH_START + 16 * MiB, 5 * MiB);

	guest_map(5 * GiB);
	ck_assert_msg(nb_boot_params_build(&bp, &mem, &k, &args, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(bp.hdr.ramdisk_image, 16 * MiB);
	ck_assert_uint_eq(bp.ext_ramdisk_image, 1);
	ck_assert_uint_eq(bp.hdr.ramdisk_size, 5 * MiB);
	ck_assert_uint_eq(bp.ext_ramdisk_size, 0);
	ck_assert_uint_eq(((uint64_t)bp.ext_ramdisk_image << 32) | bp.hdr.ramdisk_image,
			  args.initrd_gpa);
	check_e820_in_bp();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bootparams");
	TCase *e820 = tcase_create("e820");
	TCase *initrd = tcase_create("initrd");
	TCase *params = tcase_create("boot_params");

	tcase_add_checked_fixture(e820, NULL, teardown);
	tcase_add_test(e820, e820_64mib);
	tcase_add_test(e820, e820_two_regions);
	tcase_add_test(e820, e820_capacity_too_small);
	tcase_add_checked_fixture(initrd, NULL, teardown);
	tcase_add_test(initrd, initrd_placed_high_and_aligned);
	tcase_add_test(initrd, initrd_respects_initrd_addr_max);
	tcase_add_test(initrd, initrd_below_4gib_on_big_guest);
	tcase_add_test(initrd, initrd_too_big);
	tcase_add_test(initrd, initrd_kernel_beyond_ram);
	tcase_add_checked_fixture(params, NULL, teardown);
	tcase_add_test(params, bp_elf_synthesized_header);
	tcase_add_test(params, bp_no_initrd);
	tcase_add_test(params, bp_bzimage_copies_and_patches_header);
	tcase_add_test(params, bp_bzimage_cmdline_limit);
	tcase_add_test(params, bp_cmdline_bounds);
	tcase_add_test(params, bp_initrd_outside_ram);
	tcase_add_test(params, bp_high_initrd_uses_ext_fields);
	suite_add_tcase(s, e820);
	suite_add_tcase(s, initrd);
	suite_add_tcase(s, params);
	return nb_unit_run(s);
}
