/* MP table: parsed back from guest memory by byte offsets from the MP
 * specification 1.4 (chapter 4), independently of mptable.c's structs. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/kvm/x86_64/layout.h"
#include "vmm/kvm/x86_64/mptable.h"
#include "unit/unit.h"

#define MiB (1ull << 20)
#define EBDA_END 0xa0000ull

static struct nb_guest_mem mem;
static struct nb_err err;
/* Host view of guest RAM (identity: the buffer starts at gpa 0). */
#define ram (mem.base)

static void setup(void)
{
	nb_unit_guest_map(&mem, 16 * MiB);
	memset(&err, 0, sizeof(err));
}

static void teardown(void)
{
	nb_mem_unmap(&mem);
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

struct parsed {
	unsigned cpus, bsps, buses, ioapics, intsrcs, lintsrcs, entries;
	uint8_t ioapic_id;
	uint8_t cpu_seen[256];
	uint8_t pin_of_irq[256];
	uint8_t lint_type[2];
};

/* Walk the floating pointer and the table; assert what every valid table
 * must satisfy, return the counts for the caller to compare. */
static void parse(struct parsed *out)
{
	const uint8_t *mpf = ram + NB_EBDA_GPA;

	memset(out, 0, sizeof(*out));
	memset(out->pin_of_irq, 0xff, sizeof(out->pin_of_irq));
	ck_assert_mem_eq(mpf, "_MP_", 4);
	ck_assert_uint_eq(mpf[8], 1); /* length in paragraphs */
	ck_assert_uint_eq(mpf[9], 4); /* spec 1.4 */
	ck_assert_uint_eq(nb_mptable_sum(mpf, 16), 0);
	ck_assert_uint_eq(mpf[11], 0); /* feature1: a table follows */

	uint32_t physptr = rd32(mpf + 4);
	ck_assert_uint_ge(physptr, NB_EBDA_GPA + 16);
	const uint8_t *mpc = ram + physptr;
	uint16_t length = rd16(mpc + 4);
	ck_assert_mem_eq(mpc, "PCMP", 4);
	ck_assert_uint_le(physptr + length, EBDA_END);
	ck_assert_uint_eq(nb_mptable_sum(mpc, length), 0);
	ck_assert_uint_eq(mpc[6], 4);
	ck_assert_uint_eq(rd32(mpc + 36), NB_LAPIC_GPA);
	ck_assert_uint_eq(rd16(mpc + 40), 0); /* no extended table */

	const uint8_t *p = mpc + 44, *end = mpc + length;
	while (p < end) {
		out->entries++;
		switch (p[0]) {
		case 0:                      /* processor */
			ck_assert(p[3] & 1); /* enabled */
			ck_assert_uint_eq(out->cpu_seen[p[1]], 0);
			out->cpu_seen[p[1]] = 1;
			out->cpus++;
			if (p[3] & 2) {
				out->bsps++;
				ck_assert_uint_eq(p[1], 0);
			}
			ck_assert(rd32(p + 8) & (1u << 9)); /* features: APIC */
			p += 20;
			break;
		case 1: /* bus */
			ck_assert_mem_eq(p + 2, "ISA   ", 6);
			out->buses++;
			p += 8;
			break;
		case 2: /* I/O APIC */
			ck_assert(p[3] & 1);
			ck_assert_uint_eq(p[2], 0x11);
			ck_assert_uint_eq(rd32(p + 4), NB_IOAPIC_GPA);
			out->ioapic_id = p[1];
			out->ioapics++;
			p += 8;
			break;
		case 3:                             /* I/O interrupt */
			ck_assert_uint_eq(p[1], 0); /* INT */
			ck_assert_uint_eq(p[6], out->ioapic_id);
			ck_assert_uint_eq(out->pin_of_irq[p[5]], 0xff); /* one route per IRQ */
			out->pin_of_irq[p[5]] = p[7];
			out->intsrcs++;
			p += 8;
			break;
		case 4: /* local interrupt */
			ck_assert_uint_le(p[7], 1);
			out->lint_type[p[7]] = p[1];
			out->lintsrcs++;
			p += 8;
			break;
		default:
			ck_abort_msg("unknown MP entry type %u", p[0]);
		}
	}
	ck_assert_ptr_eq(p, end);
	ck_assert_uint_eq(rd16(mpc + 34), out->entries);
}

START_TEST(table_valid_for_ncpus)
{
	static const unsigned counts[] = { 1, 2, 3, 8, NB_MAX_VCPUS };
	unsigned ncpus = counts[_i];
	struct parsed t;

	ck_assert_msg(nb_mptable_write(&mem, ncpus, &err) == 0, "%s", err.msg);
	parse(&t);
	ck_assert_uint_eq(t.cpus, ncpus);
	ck_assert_uint_eq(t.bsps, 1);
	for (unsigned i = 0; i < ncpus; i++)
		ck_assert_msg(t.cpu_seen[i], "no processor entry for APIC ID %u", i);
	ck_assert_uint_eq(t.buses, 1);
	ck_assert_uint_eq(t.ioapics, 1);
	ck_assert_uint_eq(t.ioapic_id, ncpus); /* distinct from every APIC ID */
	ck_assert_uint_ge(t.intsrcs, 16);
	ck_assert_uint_le(t.intsrcs, NB_IOAPIC_PINS);
	for (unsigned irq = 0; irq < t.intsrcs; irq++)
		ck_assert_uint_eq(t.pin_of_irq[irq], irq);
	ck_assert_uint_eq(t.lintsrcs, 2);
	ck_assert_uint_eq(t.lint_type[0], 3); /* ExtINT */
	ck_assert_uint_eq(t.lint_type[1], 1); /* NMI */
}
END_TEST

static bool ebda_untouched(void)
{
	for (uint64_t a = NB_EBDA_GPA; a < EBDA_END; a++)
		if (ram[a])
			return false;
	return true;
}

START_TEST(bad_ncpus_rejected)
{
	ck_assert_int_eq(nb_mptable_write(&mem, 0, &err), -1);
	ck_assert_msg(strstr(err.msg, "vCPUs"), "%s", err.msg);
	ck_assert_int_eq(nb_mptable_write(&mem, NB_MAX_VCPUS + 1, &err), -1);
	ck_assert_int_eq(nb_mptable_write(&mem, 1000000, &err), -1);
	ck_assert(ebda_untouched());
}
END_TEST

START_TEST(guest_without_ebda_rejected)
{
	struct nb_guest_mem tiny;

	nb_mem_layout(&tiny, ram, NB_EBDA_GPA + 100); /* the table cannot fit */
	ck_assert_int_eq(nb_mptable_write(&tiny, 2, &err), -1);
	ck_assert_msg(strstr(err.msg, "MP table"), "%s", err.msg);
	ck_assert(ebda_untouched());
}
END_TEST

START_TEST(sum_wraps_mod_256)
{
	const uint8_t bytes[] = { 0x80, 0x70, 0x10, 0x01, 0xff };

	ck_assert_uint_eq(nb_mptable_sum(bytes, 0), 0);
	ck_assert_uint_eq(nb_mptable_sum(bytes, 3), 0);
	ck_assert_uint_eq(nb_mptable_sum(bytes, 5), 0);
	ck_assert_uint_eq(nb_mptable_sum(bytes, 4), 1);
}
END_TEST

START_TEST(corruption_breaks_checksum)
{
	struct parsed t;

	ck_assert_msg(nb_mptable_write(&mem, 4, &err) == 0, "%s", err.msg);
	parse(&t);
	uint8_t *mpc = ram + rd32(ram + NB_EBDA_GPA + 4);
	mpc[44 + 1] ^= 1; /* the first processor's APIC ID */
	ck_assert_uint_ne(nb_mptable_sum(mpc, rd16(mpc + 4)), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mptable");
	TCase *tc = tcase_create("mptable");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, table_valid_for_ncpus, 0, 5);
	tcase_add_test(tc, bad_ncpus_rejected);
	tcase_add_test(tc, guest_without_ebda_rejected);
	tcase_add_test(tc, sum_wraps_mod_256);
	tcase_add_test(tc, corruption_breaks_checksum);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
