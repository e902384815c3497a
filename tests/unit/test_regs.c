/* Long-mode entry state: the GDT and page tables as the CPU would read
 * them from guest memory, and the sregs/regs the boot vCPU starts with. */
#include <asm/processor-flags.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/kvm/x86_64/layout.h"
#include "vmm/kvm/x86_64/regs.h"
#include "unit/unit.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define ADDR_MASK 0x000ffffffffff000ull

static struct nb_guest_mem mem;
static struct nb_err err;
/* Host view of guest RAM (identity: the buffer starts at gpa 0). */
#define ram (mem.base)

static void setup(void)
{
	nb_unit_guest_map(&mem, 16 * MiB);
	memset(&err, 0, sizeof(err));
	ck_assert_msg(nb_x86_write_boot_tables(&mem, &err) == 0, "%s", err.msg);
}

static void teardown(void)
{
	nb_mem_unmap(&mem);
}

static uint64_t rd64(uint64_t gpa)
{
	uint64_t v;
	void *p = nb_gpa_ptr(&mem, gpa, sizeof(v));

	ck_assert_ptr_nonnull(p);
	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t gdt_entry(unsigned selector)
{
	return rd64(NB_GDT_GPA + (selector & ~7u));
}

START_TEST(gdt_entries)
{
	ck_assert_uint_eq(gdt_entry(0x00), 0);
	ck_assert_uint_eq(gdt_entry(0x08), 0x00af9b000000ffffull);
	ck_assert_uint_eq(gdt_entry(0x10), 0x00cf93000000ffffull);
	ck_assert_uint_eq(gdt_entry(0x18), 0x008f8b000000ffffull);
	/* the properties that matter, spelled out */
	uint64_t code = gdt_entry(0x08), data = gdt_entry(0x10);
	ck_assert(code >> 53 & 1);                        /* L: 64-bit code */
	ck_assert(!(code >> 54 & 1));                     /* D must be 0 with L */
	ck_assert(code >> 43 & 1);                        /* executable */
	ck_assert(!(data >> 43 & 1) && (data >> 41 & 1)); /* data, writable */
}
END_TEST

/* Walk the 4-level tables like the MMU (2 MiB leaves); -1 if unmapped. */
static uint64_t translate(uint64_t va)
{
	uint64_t pml4e = rd64(NB_PML4_GPA + ((va >> 39) & 511) * 8);
	if (!(pml4e & 1))
		return UINT64_MAX;
	uint64_t pdpte = rd64((pml4e & ADDR_MASK) + ((va >> 30) & 511) * 8);
	if (!(pdpte & 1))
		return UINT64_MAX;
	ck_assert(!(pdpte & 0x80)); /* no 1 GiB pages */
	uint64_t pde = rd64((pdpte & ADDR_MASK) + ((va >> 21) & 511) * 8);
	if (!(pde & 1))
		return UINT64_MAX;
	ck_assert(pde & 0x80); /* 2 MiB page */
	ck_assert(pde & 2);    /* writable */
	return (pde & 0x000fffffffe00000ull) | (va & (2 * MiB - 1));
}

START_TEST(identity_map_first_4gib)
{
	static const uint64_t probes[] = {
		0,
		0x1234,
		2 * MiB,
		2 * MiB + 77,
		1 * GiB,
		1 * GiB + 3 * MiB + 5,
		3 * GiB + 12345,
		4 * GiB - 2 * MiB,
		4 * GiB - 1,
	};

	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		ck_assert_msg(translate(probes[i]) == probes[i], "0x%llx maps to 0x%llx",
			      (unsigned long long)probes[i],
			      (unsigned long long)translate(probes[i]));
	ck_assert_uint_eq(translate(4 * GiB), UINT64_MAX);
	ck_assert_uint_eq(translate(512 * GiB), UINT64_MAX);
	for (unsigned i = 1; i < 512; i++)
		ck_assert_uint_eq(rd64(NB_PML4_GPA + i * 8), 0);
}
END_TEST

START_TEST(tables_do_not_overlap_boot_data)
{
	/* The page tables end before the command line; the stack is below them. */
	ck_assert_uint_le(NB_PD_GPA + 4 * 4096, NB_CMDLINE_GPA);
	ck_assert_uint_lt(NB_BOOT_STACK_GPA, NB_PML4_GPA);
	ck_assert_uint_le(NB_GDT_GPA + 4 * 8, NB_ZERO_PAGE_GPA);
}
END_TEST

/* A segment register's hidden part must match its GDT descriptor. */
static void check_segment(const struct kvm_segment *s, unsigned selector)
{
	uint64_t d = gdt_entry(selector);

	ck_assert_uint_eq(s->selector, selector);
	ck_assert_uint_eq(s->base, 0);
	ck_assert_uint_eq(s->type, (d >> 40) & 0xf);
	ck_assert_uint_eq(s->s, (d >> 44) & 1);
	ck_assert_uint_eq(s->dpl, (d >> 45) & 3);
	ck_assert_uint_eq(s->present, 1);
	ck_assert_uint_eq(s->l, (d >> 53) & 1);
	ck_assert_uint_eq(s->db, (d >> 54) & 1);
	ck_assert_uint_eq(s->g, (d >> 55) & 1);
	ck_assert_uint_eq(s->limit, 0xffffffff); /* 0xfffff pages, G=1 */
}

START_TEST(sregs_long_mode)
{
	struct kvm_sregs sregs;

	memset(&sregs, 0, sizeof(sregs));
	sregs.cr0 = 0x60000010; /* reset value: CD | NW | ET */
	sregs.apic_base = 0xfee00900;
	nb_x86_boot_sregs(&sregs);
	ck_assert(sregs.cr0 & X86_CR0_PE);
	ck_assert(sregs.cr0 & X86_CR0_PG);
	ck_assert(sregs.cr0 & X86_CR0_ET);
	ck_assert(sregs.cr0 & X86_CR0_NE);
	ck_assert(!(sregs.cr0 & (X86_CR0_CD | X86_CR0_NW)));
	ck_assert(sregs.cr4 & X86_CR4_PAE);
	ck_assert_uint_eq(sregs.efer & (EFER_LME | EFER_LMA), EFER_LME | EFER_LMA);
	ck_assert_uint_eq(sregs.cr3, NB_PML4_GPA);
	ck_assert_uint_eq(sregs.gdt.base, NB_GDT_GPA);
	ck_assert_uint_eq(sregs.gdt.limit, 4 * 8 - 1);
	ck_assert_uint_eq(sregs.apic_base, 0xfee00900); /* untouched */
	check_segment(&sregs.cs, 0x08);
	ck_assert_uint_eq(sregs.cs.l, 1);
	ck_assert_uint_eq(sregs.cs.db, 0);
	check_segment(&sregs.ds, 0x10);
	check_segment(&sregs.es, 0x10);
	check_segment(&sregs.fs, 0x10);
	check_segment(&sregs.gs, 0x10);
	check_segment(&sregs.ss, 0x10);
	check_segment(&sregs.tr, 0x18);
	ck_assert_uint_eq(sregs.tr.type, 11); /* busy 64-bit TSS */
	ck_assert_uint_eq(sregs.tr.s, 0);
}
END_TEST

START_TEST(regs_entry_state)
{
	struct kvm_regs regs;

	memset(&regs, 0xff, sizeof(regs));
	nb_x86_boot_regs(&regs, 0x1000200);
	ck_assert_uint_eq(regs.rip, 0x1000200);
	ck_assert_uint_eq(regs.rsi, NB_ZERO_PAGE_GPA);
	ck_assert_uint_eq(regs.rflags, 2);
	ck_assert_uint_eq(regs.rsp, NB_BOOT_STACK_GPA);
	ck_assert_uint_eq(regs.rbp, NB_BOOT_STACK_GPA);
	ck_assert_uint_eq(regs.rax, 0);
	ck_assert_uint_eq(regs.rdi, 0);
}
END_TEST

START_TEST(tiny_guest_rejected)
{
	struct nb_guest_mem tiny;

	nb_mem_layout(&tiny, ram, NB_PML4_GPA + 100); /* room for the GDT only */
	ck_assert_int_eq(nb_x86_write_boot_tables(&tiny, &err), -1);
	ck_assert_msg(strstr(err.msg, "PML4"), "%s", err.msg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("regs");
	TCase *tc = tcase_create("regs");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, gdt_entries);
	tcase_add_test(tc, identity_map_first_4gib);
	tcase_add_test(tc, tables_do_not_overlap_boot_data);
	tcase_add_test(tc, sregs_long_mode);
	tcase_add_test(tc, regs_entry_state);
	tcase_add_test(tc, tiny_guest_rejected);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
