/* CPUID filter: a synthetic KVM_GET_SUPPORTED_CPUID in, per-vCPU CPUID
 * out: topology, hypervisor bit, KVM leaves, no duplicates, capacity. */
#include <check.h>
#include <linux/kvm_para.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/kvm/x86_64/cpuid.h"
#include "unit/unit.h"

#define SIG KVM_CPUID_FLAG_SIGNIFCANT_INDEX
#define L1_ECX_MONITOR (1u << 3)
#define L1_ECX_TSC_DEADLINE (1u << 24)
#define L1_ECX_HYPERVISOR (1u << 31)
#define TSC_KHZ 2893012u

static struct nb_err err;

static struct kvm_cpuid2 *alloc_cpuid(size_t n)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));

	ck_assert_ptr_nonnull(c);
	return c;
}

static void push(struct kvm_cpuid2 *c, struct kvm_cpuid_entry2 e)
{
	c->entries[c->nent++] = e;
}

/* A host-like supported list with the traps: a garbage APIC ID in leaf 1,
 * MONITOR set, host topology in 0xb, KVM's own 0x40000000/1 and a stray
 * hypervisor leaf, and a duplicated leaf. */
static struct kvm_cpuid2 *make_supported(bool with_kvm_features)
{
	struct kvm_cpuid2 *c = alloc_cpuid(64);

	push(c, (struct kvm_cpuid_entry2){ .function = 0, .eax = 0x1f, .ebx = 0x756e6547 });
	push(c, (struct kvm_cpuid_entry2){ .function = 1,
					   .eax = 0x806c1,
					   .ebx = 0x2b100800,
					   .ecx = 0x7ffafbff | L1_ECX_MONITOR,
					   .edx = 0xbfebfbff });
	for (uint32_t i = 0; i < 5; i++) {
		/* cache type | level << 5, plus garbage core/sharing fields */
		static const uint32_t level_type[] = { 0x21, 0x22, 0x43, 0x63, 0 };
		uint32_t eax = level_type[i] ? level_type[i] | 0xfc00c000u : 0;

		push(c, (struct kvm_cpuid_entry2){
				.function = 4, .index = i, .flags = SIG, .eax = eax });
	}
	push(c, (struct kvm_cpuid_entry2){
			.function = 7, .index = 0, .flags = SIG, .ebx = 0xf3bfa7eb });
	push(c, (struct kvm_cpuid_entry2){ .function = 0xb,
					   .index = 0,
					   .flags = SIG,
					   .eax = 1,
					   .ebx = 2,
					   .ecx = 0x100,
					   .edx = 7 });
	push(c, (struct kvm_cpuid_entry2){ .function = 0xb,
					   .index = 1,
					   .flags = SIG,
					   .eax = 5,
					   .ebx = 16,
					   .ecx = 0x201,
					   .edx = 7 });
	push(c, (struct kvm_cpuid_entry2){ .function = 0x40000000,
					   .eax = 0x40000001,
					   .ebx = 0x4b4d564b,
					   .ecx = 0x564b4d56,
					   .edx = 0x4d });
	if (with_kvm_features)
		push(c, (struct kvm_cpuid_entry2){ .function = 0x40000001, .eax = 0x01007afb });
	push(c, (struct kvm_cpuid_entry2){ .function = 0x40000005, .eax = 0xdeadbeef });
	push(c, (struct kvm_cpuid_entry2){ .function = 7, .index = 0, .flags = SIG, .ebx = 1 });
	push(c, (struct kvm_cpuid_entry2){ .function = 0x80000000, .eax = 0x8000001e });
	push(c, (struct kvm_cpuid_entry2){ .function = 0x80000008, .eax = 0x3030, .ecx = 0x700f });
	push(c, (struct kvm_cpuid_entry2){
			.function = 0x8000001e, .eax = 0x55, .ebx = 0x0103, .ecx = 0x0301 });
	return c;
}

static struct kvm_cpuid2 *filter(const struct kvm_cpuid2 *sup, unsigned vcpu, unsigned ncpus,
				 uint32_t tsc_khz)
{
	struct kvm_cpuid2 *out = alloc_cpuid(NB_CPUID_MAX_ENTRIES);

	memset(&err, 0, sizeof(err));
	ck_assert_msg(nb_cpuid_filter(sup, vcpu, ncpus, tsc_khz, out, &err) == 0, "%s", err.msg);
	ck_assert_uint_le(out->nent, NB_CPUID_MAX_ENTRIES);
	return out;
}

static struct kvm_cpuid_entry2 *need(struct kvm_cpuid2 *c, uint32_t function, uint32_t index)
{
	struct kvm_cpuid_entry2 *e = nb_cpuid_find(c, function, index);

	ck_assert_msg(e, "leaf 0x%x.%u missing", function, index);
	return e;
}

static void check_no_duplicates(const struct kvm_cpuid2 *c)
{
	for (uint32_t i = 0; i < c->nent; i++)
		for (uint32_t j = i + 1; j < c->nent; j++)
			ck_assert_msg(c->entries[i].function != c->entries[j].function ||
					      c->entries[i].index != c->entries[j].index,
				      "leaf 0x%x.%u twice", c->entries[i].function,
				      c->entries[i].index);
}

START_TEST(per_vcpu_topology)
{
	const unsigned ncpus = 4;
	struct kvm_cpuid2 *sup = make_supported(true);

	for (unsigned v = 0; v < ncpus; v++) {
		struct kvm_cpuid2 *c = filter(sup, v, ncpus, TSC_KHZ);
		struct kvm_cpuid_entry2 *l1 = need(c, 1, 0);

		ck_assert_uint_eq(l1->ebx >> 24, v);
		ck_assert_uint_eq((l1->ebx >> 16) & 0xff, ncpus);
		ck_assert_uint_eq(l1->ebx & 0xffff, 0x0800); /* CLFLUSH size kept */
		ck_assert(l1->ecx & L1_ECX_HYPERVISOR);
		ck_assert(!(l1->ecx & L1_ECX_MONITOR));
		ck_assert_uint_eq(l1->eax, 0x806c1);

		struct kvm_cpuid_entry2 *smt = need(c, 0xb, 0), *core = need(c, 0xb, 1);
		struct kvm_cpuid_entry2 *end = need(c, 0xb, 2);
		ck_assert_uint_eq(smt->edx, v);
		ck_assert_uint_eq(core->edx, v);
		ck_assert_uint_eq(end->edx, v);
		ck_assert_uint_eq((smt->ecx >> 8) & 0xff, 1); /* SMT level */
		ck_assert_uint_eq(smt->ebx & 0xffff, 1);      /* one thread per core */
		ck_assert_uint_eq(smt->eax & 0x1f, 0);
		ck_assert_uint_eq((core->ecx >> 8) & 0xff, 2); /* core level */
		ck_assert_uint_eq(core->ebx & 0xffff, ncpus);
		ck_assert_uint_ge(1u << (core->eax & 0x1f), ncpus); /* APIC IDs fit the shift */
		ck_assert_uint_eq(core->ecx & 0xff, 1);
		ck_assert_uint_eq((end->ecx >> 8) & 0xff, 0); /* terminator */
		ck_assert(smt->flags & SIG);

		struct kvm_cpuid_entry2 *amd = need(c, 0x8000001e, 0);
		ck_assert_uint_eq(amd->eax, v);
		ck_assert_uint_eq(amd->ebx & 0xff, v);
		ck_assert_uint_eq((amd->ebx >> 8) & 0xff, 0); /* one thread per core */
		ck_assert_uint_eq(need(c, 0x80000008, 0)->ecx & 0xff, ncpus - 1);
		check_no_duplicates(c);
		free(c);
	}
	free(sup);
}
END_TEST

START_TEST(leaf4_core_and_sharing_fields)
{
	struct kvm_cpuid2 *sup = make_supported(true);
	struct kvm_cpuid2 *c = filter(sup, 1, 6, TSC_KHZ);

	for (uint32_t i = 0; i < 4; i++) {
		struct kvm_cpuid_entry2 *e = need(c, 4, i);
		uint32_t level = (e->eax >> 5) & 7;

		ck_assert_uint_eq(e->eax >> 26, 5); /* cores per package - 1 */
		ck_assert_uint_eq((e->eax >> 14) & 0xfff, level == 3 ? 5 : 0);
		ck_assert_uint_eq(e->eax & 0x3fff, sup->entries[2 + i].eax & 0x3fff);
	}
	ck_assert_uint_eq(need(c, 4, 4)->eax, 0); /* the null subleaf stays null */
	free(c);
	free(sup);
}
END_TEST

START_TEST(single_vcpu_has_no_htt)
{
	struct kvm_cpuid2 *sup = make_supported(true);
	struct kvm_cpuid2 *c = filter(sup, 0, 1, TSC_KHZ);

	ck_assert(!(need(c, 1, 0)->edx & (1u << 28)));
	ck_assert_uint_eq(need(c, 0xb, 1)->ebx & 0xffff, 1);
	free(c);
	c = filter(sup, 0, 2, TSC_KHZ);
	ck_assert(need(c, 1, 0)->edx & (1u << 28));
	free(c);
	free(sup);
}
END_TEST

START_TEST(tsc_deadline_passed_through)
{
	struct kvm_cpuid2 *sup = make_supported(true);
	struct kvm_cpuid2 *c;

	sup->entries[1].ecx &= ~L1_ECX_TSC_DEADLINE;
	c = filter(sup, 0, 1, TSC_KHZ);
	ck_assert(!(need(c, 1, 0)->ecx & L1_ECX_TSC_DEADLINE));
	free(c);
	sup->entries[1].ecx |= L1_ECX_TSC_DEADLINE;
	c = filter(sup, 0, 1, TSC_KHZ);
	ck_assert(need(c, 1, 0)->ecx & L1_ECX_TSC_DEADLINE);
	free(c);
	free(sup);
}
END_TEST

START_TEST(kvm_leaves)
{
	struct kvm_cpuid2 *sup = make_supported(true);
	struct kvm_cpuid2 *c = filter(sup, 2, 3, TSC_KHZ);
	struct kvm_cpuid_entry2 *sig = need(c, KVM_CPUID_SIGNATURE, 0);
	char name[12];

	memcpy(name, &sig->ebx, 4);
	memcpy(name + 4, &sig->ecx, 4);
	memcpy(name + 8, &sig->edx, 4);
	ck_assert_mem_eq(name, "KVMKVMKVM\0\0\0", 12);
	ck_assert_uint_eq(sig->eax, 0x40000010);
	ck_assert_uint_eq(need(c, KVM_CPUID_FEATURES, 0)->eax, 0x01007afb); /* KVM's own */
	struct kvm_cpuid_entry2 *timing = need(c, 0x40000010, 0);
	ck_assert_uint_eq(timing->eax, TSC_KHZ);
	ck_assert_uint_eq(timing->ebx, 1000000);
	ck_assert_ptr_null(nb_cpuid_find(c, 0x40000005, 0)); /* stray leaf removed */
	unsigned hv = 0;
	for (uint32_t i = 0; i < c->nent; i++)
		hv += c->entries[i].function >= 0x40000000 && c->entries[i].function <= 0x4fffffff;
	ck_assert_uint_eq(hv, 3);
	check_no_duplicates(c);
	free(c);
	free(sup);
}
END_TEST

START_TEST(kvm_features_default_and_no_tsc)
{
	struct kvm_cpuid2 *sup = make_supported(false);
	struct kvm_cpuid2 *c = filter(sup, 0, 1, 0);
	uint32_t feat = need(c, KVM_CPUID_FEATURES, 0)->eax;

	ck_assert(feat & (1u << KVM_FEATURE_CLOCKSOURCE2));
	ck_assert_uint_eq(need(c, 0x40000010, 0)->eax, 0);
	free(c);
	free(sup);
}
END_TEST

START_TEST(find_respects_index_flag)
{
	struct kvm_cpuid2 *sup = make_supported(true);
	struct kvm_cpuid2 *c = filter(sup, 0, 2, TSC_KHZ);

	ck_assert_uint_eq(need(c, 4, 3)->index, 3);
	ck_assert_ptr_null(nb_cpuid_find(c, 4, 7));
	ck_assert_ptr_eq(nb_cpuid_find(c, 1, 0), nb_cpuid_find(c, 1, 99)); /* index ignored */
	ck_assert_ptr_null(nb_cpuid_find(c, 0x12345678, 0));
	ck_assert_uint_eq(need(c, 7, 0)->ebx, 0xf3bfa7eb); /* first of the duplicates kept */
	free(c);
	free(sup);
}
END_TEST

/* n distinct plain leaves (none the filter rewrites or drops). */
static struct kvm_cpuid2 *plain_leaves(size_t n)
{
	struct kvm_cpuid2 *c = alloc_cpuid(n);

	for (size_t i = 0; i < n; i++)
		push(c, (struct kvm_cpuid_entry2){ .function = 0x1000 + (uint32_t)i });
	return c;
}

START_TEST(capacity)
{
	/* The filter adds the three KVM leaves: 253 + 3 fits exactly. */
	struct kvm_cpuid2 *sup = plain_leaves(NB_CPUID_MAX_ENTRIES - 3);
	struct kvm_cpuid2 *out = alloc_cpuid(NB_CPUID_MAX_ENTRIES);

	ck_assert_msg(nb_cpuid_filter(sup, 0, 1, TSC_KHZ, out, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(out->nent, NB_CPUID_MAX_ENTRIES);
	free(sup);

	sup = plain_leaves(NB_CPUID_MAX_ENTRIES - 2);
	ck_assert_int_eq(nb_cpuid_filter(sup, 0, 1, TSC_KHZ, out, &err), -1);
	ck_assert_msg(strstr(err.msg, "more than"), "%s", err.msg);
	ck_assert_uint_le(out->nent, NB_CPUID_MAX_ENTRIES);
	free(sup);

	sup = plain_leaves(1000);
	ck_assert_int_eq(nb_cpuid_filter(sup, 0, 1, TSC_KHZ, out, &err), -1);
	ck_assert_uint_le(out->nent, NB_CPUID_MAX_ENTRIES);
	free(sup);
	free(out);
}
END_TEST

START_TEST(many_duplicates_still_fit)
{
	struct kvm_cpuid2 *sup = alloc_cpuid(600);
	struct kvm_cpuid2 *c;

	for (uint32_t i = 0; i < 600; i++)
		push(sup, (struct kvm_cpuid_entry2){ .function = 0x1000 + i % 10 });
	c = filter(sup, 0, 1, TSC_KHZ);
	ck_assert_uint_eq(c->nent, 10 + 3);
	check_no_duplicates(c);
	free(c);
	free(sup);
}
END_TEST

START_TEST(bad_vcpu_index)
{
	struct kvm_cpuid2 *sup = make_supported(true);
	struct kvm_cpuid2 *out = alloc_cpuid(NB_CPUID_MAX_ENTRIES);

	ck_assert_int_eq(nb_cpuid_filter(sup, 4, 4, TSC_KHZ, out, &err), -1);
	ck_assert_int_eq(nb_cpuid_filter(sup, 0, 0, TSC_KHZ, out, &err), -1);
	free(out);
	free(sup);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cpuid");
	TCase *tc = tcase_create("cpuid");

	tcase_add_test(tc, per_vcpu_topology);
	tcase_add_test(tc, leaf4_core_and_sharing_fields);
	tcase_add_test(tc, single_vcpu_has_no_htt);
	tcase_add_test(tc, tsc_deadline_passed_through);
	tcase_add_test(tc, kvm_leaves);
	tcase_add_test(tc, kvm_features_default_and_no_tsc);
	tcase_add_test(tc, find_respects_index_flag);
	tcase_add_test(tc, capacity);
	tcase_add_test(tc, many_duplicates_still_fit);
	tcase_add_test(tc, bad_vcpu_index);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
