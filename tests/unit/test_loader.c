/* Kernel loader: synthetic ELF and bzImage images, each defect rejected
 * with a message that names it; the real build/vmlinux and build/bzImage
 * when they exist. */
#include <check.h>
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/kvm/x86_64/layout.h"
#include "vmm/kvm/x86_64/loader.h"
#include "unit/unit.h"

#define MiB (1ull << 20)
#define GUEST_SIZE (64 * MiB)

static struct nb_guest_mem mem;
static struct nb_err err;
static struct nb_kernel k;

static void guest_map(uint64_t size)
{
	nb_unit_guest_map(&mem, size);
	memset(&err, 0, sizeof(err));
}

static void setup(void)
{
	guest_map(GUEST_SIZE);
}

static void teardown(void)
{
	nb_mem_unmap(&mem);
}

#define ck_assert_err_has(substr) \
	ck_assert_msg(strstr(err.msg, (substr)), "error \"%s\" lacks \"%s\"", err.msg, (substr))

static uint8_t *gpa(uint64_t addr, uint64_t len)
{
	uint8_t *p = nb_gpa_ptr(&mem, addr, len);

	ck_assert_ptr_nonnull(p);
	return p;
}

/* ---- ELF ---------------------------------------------------------------- */

/* Two PT_LOAD segments (text; data + bss) and a PT_NOTE in between. */
#define TEXT_GPA 0x1000000ull
#define TEXT_SIZE 0x100u
#define TEXT_OFF 0x200u
#define DATA_GPA 0x1200000ull
#define DATA_FILESZ 0x40u
#define DATA_MEMSZ 0x1000u
#define DATA_OFF 0x300u
#define ELF_LEN (DATA_OFF + DATA_FILESZ)
#define ELF_ENTRY (TEXT_GPA + 0x10)

static _Alignas(8) uint8_t elf[ELF_LEN];
static Elf64_Ehdr *eh = (Elf64_Ehdr *)elf;
static Elf64_Phdr *ph = (Elf64_Phdr *)(elf + sizeof(Elf64_Ehdr));

static void build_elf(void)
{
	memset(elf, 0, sizeof(elf));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = ELF_ENTRY;
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = 3;
	ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD,
			      .p_offset = TEXT_OFF,
			      .p_paddr = TEXT_GPA,
			      .p_vaddr = 0xffffffff81000000ull,
			      .p_filesz = TEXT_SIZE,
			      .p_memsz = TEXT_SIZE };
	ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = 0xffffff, .p_filesz = 0xffffff };
	ph[2] = (Elf64_Phdr){ .p_type = PT_LOAD,
			      .p_offset = DATA_OFF,
			      .p_paddr = DATA_GPA,
			      .p_filesz = DATA_FILESZ,
			      .p_memsz = DATA_MEMSZ };
	for (unsigned i = 0; i < TEXT_SIZE; i++)
		elf[TEXT_OFF + i] = (uint8_t)(0x80 + i);
	for (unsigned i = 0; i < DATA_FILESZ; i++)
		elf[DATA_OFF + i] = (uint8_t)(0x11 * (i + 1));
}

static void elf_setup(void)
{
	setup();
	build_elf();
}

START_TEST(elf_valid_loads_segments_and_zeroes_bss)
{
	memset(gpa(DATA_GPA, DATA_MEMSZ), 0xee, DATA_MEMSZ); /* stale bytes where bss goes */
	ck_assert_msg(nb_kernel_load(elf, sizeof(elf), &mem, &k, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(k.entry, ELF_ENTRY);
	ck_assert_uint_eq(k.load_start, TEXT_GPA);
	ck_assert_uint_eq(k.load_end, DATA_GPA + DATA_MEMSZ);
	ck_assert(!k.bzimage);
	ck_assert_mem_eq(gpa(TEXT_GPA, TEXT_SIZE), elf + TEXT_OFF, TEXT_SIZE);
	ck_assert_mem_eq(gpa(DATA_GPA, DATA_FILESZ), elf + DATA_OFF, DATA_FILESZ);
	for (uint64_t a = DATA_GPA + DATA_FILESZ; a < DATA_GPA + DATA_MEMSZ; a++)
		ck_assert_msg(*gpa(a, 1) == 0, "bss byte at 0x%llx not zeroed",
			      (unsigned long long)a);
}
END_TEST

static void expect_elf_error(size_t len, const char *substr)
{
	ck_assert_int_eq(nb_kernel_load(elf, len, &mem, &k, &err), -1);
	ck_assert_err_has(substr);
}

START_TEST(elf_truncated_header)
{
	expect_elf_error(sizeof(Elf64_Ehdr) - 1, "truncated");
}
END_TEST

START_TEST(elf_bad_magic)
{
	elf[1] = 'X';
	expect_elf_error(sizeof(elf), "not an ELF or bzImage");
}
END_TEST

START_TEST(elf_32bit_class)
{
	eh->e_ident[EI_CLASS] = ELFCLASS32;
	expect_elf_error(sizeof(elf), "64-bit");
}
END_TEST

START_TEST(elf_wrong_machine)
{
	eh->e_machine = EM_386;
	expect_elf_error(sizeof(elf), "not x86-64");
}
END_TEST

START_TEST(elf_not_exec)
{
	eh->e_type = ET_DYN;
	expect_elf_error(sizeof(elf), "not an executable");
}
END_TEST

START_TEST(elf_bad_phentsize)
{
	eh->e_phentsize = sizeof(Elf64_Phdr) + 8;
	expect_elf_error(sizeof(elf), "program header size");
}
END_TEST

START_TEST(elf_phoff_past_eof)
{
	eh->e_phoff = sizeof(elf) + 1;
	expect_elf_error(sizeof(elf), "start past end of file");
}
END_TEST

START_TEST(elf_phoff_wraps)
{
	/* phoff + phnum * phentsize wraps 2^64 to a small number. */
	eh->e_phoff = UINT64_MAX - sizeof(Elf64_Phdr) + 1;
	eh->e_phnum = 2;
	expect_elf_error(sizeof(elf), "past end of file");
}
END_TEST

START_TEST(elf_phnum_times_phentsize_past_eof)
{
	eh->e_phnum = 0xfffe;
	expect_elf_error(sizeof(elf), "program headers run past end of file");
}
END_TEST

START_TEST(elf_segment_past_eof)
{
	ph[2].p_filesz = DATA_FILESZ + 1;
	ph[2].p_memsz = DATA_MEMSZ;
	expect_elf_error(sizeof(elf), "segment 2 runs past end of file");
}
END_TEST

START_TEST(elf_segment_offset_wraps)
{
	ph[2].p_offset = UINT64_MAX - 0x10;
	ph[2].p_filesz = 0x20; /* offset + filesz wraps to 0xf */
	expect_elf_error(sizeof(elf), "segment 2 runs past end of file");
}
END_TEST

START_TEST(elf_filesz_above_memsz)
{
	ph[2].p_memsz = DATA_FILESZ - 1;
	expect_elf_error(sizeof(elf), "exceeds memory size");
}
END_TEST

START_TEST(elf_segment_past_guest_ram)
{
	ph[2].p_paddr = GUEST_SIZE - DATA_MEMSZ / 2;
	expect_elf_error(sizeof(elf), "segment 2");
	ck_assert_err_has("outside guest RAM");
}
END_TEST

START_TEST(elf_segment_paddr_wraps)
{
	ph[2].p_paddr = 0xfffffffffffff000ull;
	ph[2].p_memsz = 0x2000; /* paddr + memsz wraps to 0x1000 */
	expect_elf_error(sizeof(elf), "outside guest RAM");
}
END_TEST

START_TEST(elf_segment_in_boot_area)
{
	ph[0].p_paddr = 0x7000; /* would overwrite the zero page */
	expect_elf_error(sizeof(elf), "boot area");
}
END_TEST

START_TEST(elf_entry_outside_segments)
{
	eh->e_entry = 0x3000000;
	expect_elf_error(sizeof(elf), "entry point");
}
END_TEST

START_TEST(elf_no_load_segment)
{
	ph[0].p_type = PT_NOTE;
	ph[2].p_type = PT_NULL;
	expect_elf_error(sizeof(elf), "no loadable segment");
}
END_TEST

START_TEST(elf_nothing_copied_on_error)
{
	memset(gpa(TEXT_GPA, TEXT_SIZE), 0x5a, TEXT_SIZE);
	ph[2].p_memsz = DATA_FILESZ - 1; /* segment 0 is fine, segment 2 is not */
	expect_elf_error(sizeof(elf), "segment 2");
	for (unsigned i = 0; i < TEXT_SIZE; i++)
		ck_assert_uint_eq(*gpa(TEXT_GPA + i, 1), 0x5a);
}
END_TEST

/* ---- bzImage ------------------------------------------------------------ */

#define BZ_SETUP_SECTS 4u
#define BZ_CODE_OFF ((BZ_SETUP_SECTS + 1) * 512u)
#define BZ_CODE_SIZE 0x3000u
#define BZ_LEN (BZ_CODE_OFF + BZ_CODE_SIZE)
#define BZ_INIT_SIZE (4 * MiB)

static uint8_t bz[BZ_LEN + 512];
static size_t bz_len;
static struct setup_header bzh;

/* Write bzh into the image as a kernel's header.S lays it out. */
static void bz_commit(void)
{
	memcpy(bz + 0x1f1, &bzh, sizeof(bzh));
}

static void build_bzimage(void)
{
	memset(bz, 0, sizeof(bz));
	memset(&bzh, 0, sizeof(bzh));
	bzh.setup_sects = BZ_SETUP_SECTS;
	bzh.boot_flag = 0xaa55;
	/* jmp rel8 at 0x200 whose target is the header's end, as in header.S */
	bzh.jump = (uint16_t)(0xeb | ((0x1f1 + sizeof(bzh) - 0x202) << 8));
	bzh.header = 0x53726448;
	bzh.version = 0x020f;
	bzh.loadflags = LOADED_HIGH;
	bzh.initrd_addr_max = 0x7fffffff;
	bzh.kernel_alignment = 0x200000;
	bzh.relocatable_kernel = 1;
	bzh.xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G;
	bzh.cmdline_size = 2047;
	bzh.pref_address = NB_KERNEL_DEFAULT_GPA;
	bzh.init_size = BZ_INIT_SIZE;
	bz_commit();
	for (unsigned i = 0; i < BZ_CODE_SIZE; i++)
		bz[BZ_CODE_OFF + i] = (uint8_t)(i * 7 + 3);
	bz_len = BZ_LEN;
}

static void bz_setup(void)
{
	setup();
	build_bzimage();
}

static void expect_bz_error(const char *substr)
{
	bz_commit();
	ck_assert_int_eq(nb_kernel_load(bz, bz_len, &mem, &k, &err), -1);
	ck_assert_err_has(substr);
}

START_TEST(bz_valid_loads_at_pref_address)
{
	ck_assert_msg(nb_kernel_load(bz, bz_len, &mem, &k, &err) == 0, "%s", err.msg);
	ck_assert(k.bzimage);
	ck_assert_uint_eq(k.load_start, NB_KERNEL_DEFAULT_GPA);
	ck_assert_uint_eq(k.entry, k.load_start + 0x200);
	ck_assert_uint_eq(k.load_end, k.load_start + BZ_INIT_SIZE);
	ck_assert_uint_eq(k.hdr.version, 0x020f);
	ck_assert_uint_eq(k.hdr.cmdline_size, 2047);
	ck_assert_uint_eq(k.hdr.init_size, BZ_INIT_SIZE);
	ck_assert_mem_eq(gpa(k.load_start, BZ_CODE_SIZE), bz + BZ_CODE_OFF, BZ_CODE_SIZE);
}
END_TEST

START_TEST(bz_other_pref_address)
{
	bzh.pref_address = 32 * MiB;
	bz_commit();
	ck_assert_msg(nb_kernel_load(bz, bz_len, &mem, &k, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(k.load_start, 32 * MiB);
	ck_assert_uint_eq(k.entry, 32 * MiB + 0x200);
	ck_assert_mem_eq(gpa(32 * MiB, BZ_CODE_SIZE), bz + BZ_CODE_OFF, BZ_CODE_SIZE);
}
END_TEST

START_TEST(bz_insane_pref_address_uses_default)
{
	static const uint64_t insane[] = { 0x7000, 0x1000123, 62 * MiB, UINT64_MAX - 0xfff };

	for (size_t i = 0; i < sizeof(insane) / sizeof(insane[0]); i++) {
		build_bzimage();
		bzh.pref_address = insane[i];
		bz_commit();
		ck_assert_msg(nb_kernel_load(bz, bz_len, &mem, &k, &err) == 0, "%s", err.msg);
		ck_assert_uint_eq(k.load_start, NB_KERNEL_DEFAULT_GPA);
	}
}
END_TEST

START_TEST(bz_code_larger_than_init_size)
{
	bzh.init_size = 0x1000; /* load_end must still cover the whole code */
	bz_commit();
	ck_assert_msg(nb_kernel_load(bz, bz_len, &mem, &k, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(k.load_end, k.load_start + BZ_CODE_SIZE);
}
END_TEST

START_TEST(bz_setup_sects_zero_means_four)
{
	bzh.setup_sects = 0;
	bz_commit();
	ck_assert_msg(nb_kernel_load(bz, bz_len, &mem, &k, &err) == 0, "%s", err.msg);
	ck_assert_mem_eq(gpa(k.load_start, BZ_CODE_SIZE), bz + BZ_CODE_OFF, BZ_CODE_SIZE);
}
END_TEST

START_TEST(bz_old_protocol)
{
	bzh.version = 0x020b;
	expect_bz_error("2.11 is too old");
}
END_TEST

START_TEST(bz_no_kernel_64)
{
	bzh.xloadflags = XLF_CAN_BE_LOADED_ABOVE_4G;
	expect_bz_error("XLF_KERNEL_64");
}
END_TEST

START_TEST(bz_setup_sects_past_eof)
{
	bzh.setup_sects = 255;
	expect_bz_error("setup sectors (255) run past end of file");
}
END_TEST

START_TEST(bz_code_empty)
{
	bz_len = BZ_CODE_OFF;
	expect_bz_error("past end of file");
}
END_TEST

START_TEST(bz_init_size_too_large)
{
	bzh.init_size = 100 * MiB;
	expect_bz_error("needs 100 MiB");
	ck_assert_err_has("guest has 64 MiB");
}
END_TEST

START_TEST(bz_truncated)
{
	bz_len = 0x210; /* has "HdrS" at 0x202 but not the whole header */
	ck_assert_int_eq(nb_kernel_load(bz, bz_len, &mem, &k, &err), -1);
	ck_assert_err_has("truncated");
}
END_TEST

START_TEST(garbage_rejected)
{
	uint8_t junk[4096];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 31 + 1);
	ck_assert_int_eq(nb_kernel_load(junk, sizeof(junk), &mem, &k, &err), -1);
	ck_assert_err_has("not an ELF or bzImage");
	ck_assert_int_eq(nb_kernel_load(junk, 0, &mem, &k, &err), -1);
}
END_TEST

/* ---- the real kernel build --------------------------------------------- */

#define REAL_BZIMAGE "build/bzImage"
#define REAL_VMLINUX "build/vmlinux"
#define REAL_GUEST (512 * MiB)

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long size;

	ck_assert_msg(f, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	ck_assert_int_gt(size, 0);
	rewind(f);
	buf = malloc((size_t)size);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	*len = (size_t)size;
	return buf;
}

static void real_setup(void)
{
	guest_map(REAL_GUEST);
}

START_TEST(real_bzimage_loads)
{
	size_t len;
	uint8_t *buf = slurp(REAL_BZIMAGE, &len);

	ck_assert_msg(nb_kernel_load(buf, len, &mem, &k, &err) == 0, "%s", err.msg);
	ck_assert(k.bzimage);
	ck_assert_uint_eq(k.entry, k.load_start + 0x200);
	ck_assert_uint_ge(k.load_start, NB_HIMEM_GPA);
	ck_assert_uint_ge(k.load_end, k.load_start + k.hdr.init_size);
	ck_assert_uint_ge(k.hdr.version, 0x020c);
	free(buf);
}
END_TEST

START_TEST(real_vmlinux_loads)
{
	size_t len;
	uint8_t *buf = slurp(REAL_VMLINUX, &len);
	Elf64_Ehdr real;
	Elf64_Phdr first;

	ck_assert_msg(nb_kernel_load(buf, len, &mem, &k, &err) == 0, "%s", err.msg);
	memcpy(&real, buf, sizeof(real));
	ck_assert(!k.bzimage);
	ck_assert_uint_eq(k.entry, real.e_entry);
	ck_assert(k.entry >= k.load_start && k.entry < k.load_end);
	/* The first PT_LOAD's bytes are where its p_paddr says. */
	for (unsigned i = 0; i < real.e_phnum; i++) {
		memcpy(&first, buf + real.e_phoff + i * sizeof(first), sizeof(first));
		if (first.p_type == PT_LOAD)
			break;
	}
	ck_assert_uint_eq(first.p_type, PT_LOAD);
	ck_assert_mem_eq(gpa(first.p_paddr, 256), buf + first.p_offset, 256);
	free(buf);
}
END_TEST

static TCase *elf_tcase(void)
{
	TCase *tc = tcase_create("elf");

	tcase_add_checked_fixture(tc, elf_setup, teardown);
	tcase_add_test(tc, elf_valid_loads_segments_and_zeroes_bss);
	tcase_add_test(tc, elf_truncated_header);
	tcase_add_test(tc, elf_bad_magic);
	tcase_add_test(tc, elf_32bit_class);
	tcase_add_test(tc, elf_wrong_machine);
	tcase_add_test(tc, elf_not_exec);
	tcase_add_test(tc, elf_bad_phentsize);
	tcase_add_test(tc, elf_phoff_past_eof);
	tcase_add_test(tc, elf_phoff_wraps);
	tcase_add_test(tc, elf_phnum_times_phentsize_past_eof);
	tcase_add_test(tc, elf_segment_past_eof);
	tcase_add_test(tc, elf_segment_offset_wraps);
	tcase_add_test(tc, elf_filesz_above_memsz);
	tcase_add_test(tc, elf_segment_past_guest_ram);
	tcase_add_test(tc, elf_segment_paddr_wraps);
	tcase_add_test(tc, elf_segment_in_boot_area);
	tcase_add_test(tc, elf_entry_outside_segments);
	tcase_add_test(tc, elf_no_load_segment);
	tcase_add_test(tc, elf_nothing_copied_on_error);
	return tc;
}

static TCase *bz_tcase(void)
{
	TCase *tc = tcase_create("bzimage");

	tcase_add_checked_fixture(tc, bz_setup, teardown);
	tcase_add_test(tc, bz_valid_loads_at_pref_address);
	tcase_add_test(tc, bz_other_pref_address);
	tcase_add_test(tc, bz_insane_pref_address_uses_default);
	tcase_add_test(tc, bz_code_larger_than_init_size);
	tcase_add_test(tc, bz_setup_sects_zero_means_four);
	tcase_add_test(tc, bz_old_protocol);
	tcase_add_test(tc, bz_no_kernel_64);
	tcase_add_test(tc, bz_setup_sects_past_eof);
	tcase_add_test(tc, bz_code_empty);
	tcase_add_test(tc, bz_init_size_too_large);
	tcase_add_test(tc, bz_truncated);
	tcase_add_test(tc, garbage_rejected);
	return tc;
}

/* Check has no skip result: a missing file's test is not registered, and a
 * "skip NAME: REASON" line (what tests/run counts) says so. */
static TCase *real_tcase(void)
{
	TCase *tc = tcase_create("real-kernel");

	tcase_add_checked_fixture(tc, real_setup, teardown);
	tcase_set_timeout(tc, 60);
	if (access(REAL_BZIMAGE, R_OK) == 0)
		tcase_add_test(tc, real_bzimage_loads);
	else
		printf("skip real_bzimage_loads: %s absent\n", REAL_BZIMAGE);
	if (access(REAL_VMLINUX, R_OK) == 0)
		tcase_add_test(tc, real_vmlinux_loads);
	else
		printf("skip real_vmlinux_loads: %s absent\n", REAL_VMLINUX);
	return tc;
}

int main(void)
{
	Suite *s = suite_create("loader");

	suite_add_tcase(s, elf_tcase());
	suite_add_tcase(s, bz_tcase());
	suite_add_tcase(s, real_tcase());
	return nb_unit_run(s);
}
