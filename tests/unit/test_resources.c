/* Resources as in Docker (issue 15): --memory is the container's limit
 * and the VM gets the overhead on top; --memory-swap and
 * --memory-reservation against --memory; --cpu-shares as cpu.weight;
 * CPU lists parsed strictly and checked against the host's online list;
 * hostile input refused with a message naming the option. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "nestbox/abi.h"
#include "vmm/cli/cli.h"
#include "vmm/cli/container_opts.h"
#include "vmm/run/container_spec.h"
#include "vmm/run/resources.h"
#include "unit/cli_parse.h"
#include "unit/unit.h"

#define MIB (1ull << 20)

START_TEST(overhead)
{
	/* the limit plus 40 MiB plus 1/32, rounded up to 2 MiB */
	ck_assert_uint_eq(nb_guest_ram_for(64 * MIB), 106 * MIB);
	ck_assert_uint_eq(nb_guest_ram_for(256 * MIB), 304 * MIB);
	ck_assert_uint_eq(nb_guest_ram_for(6 * MIB), 48 * MIB);
	ck_assert_uint_eq(nb_guest_ram_for(100000000) % (2 * MIB), 0);
	ck_assert_uint_ge(nb_guest_ram_for(100000000), 100000000 + NB_GUEST_OVERHEAD_FIXED);
	for (uint64_t l = NB_MEMORY_MIN; l < 4096 * MIB; l = l * 3 + 12345)
		ck_assert_uint_ge(nb_guest_ram_for(l), l + NB_GUEST_OVERHEAD_FIXED + l / 32);
}
END_TEST

START_TEST(memory_is_the_containers_limit)
{
	struct nb_run_options o;
	struct nb_err err;
	struct nb_spec spec = { 0 };
	struct nb_container_owned own;

	ck_assert_int_eq(PARSE(&o, &err, "run", "--memory", "64m", "--memory-reservation", "32m",
			       "-c", "1024", "r", "true"),
			 0);
	ck_assert_uint_eq(o.container.memory_max, 64 * MIB);
	ck_assert_uint_eq(o.mem_size, nb_guest_ram_for(64 * MIB));
	ck_assert_uint_eq(o.container.memory_low, 32 * MIB);
	ck_assert_uint_eq(o.container.cpu_weight, 39);
	o.container.seccomp_unconfined = true;
	ck_assert_int_eq(nb_container_spec(&o, &spec, &own, &err), 0);
	ck_assert_uint_eq(spec.memory_max, 67108864);
	ck_assert_uint_eq(spec.memory_low, 32 * MIB);
	ck_assert_uint_eq(spec.cpu_weight, 39);
	nb_container_owned_free(&own);
	/* an odd size is the limit as given; only the VM is rounded */
	ck_assert_int_eq(PARSE(&o, &err, "run", "-m", "100000001", "r", "true"), 0);
	ck_assert_uint_eq(o.container.memory_max, 100000001);
	ck_assert_uint_eq(o.mem_size % (2 * MIB), 0);
	/* no --memory: the default VM, no limit */
	ck_assert_int_eq(PARSE(&o, &err, "run", "r", "true"), 0);
	ck_assert_uint_eq(o.container.memory_max, 0);
	ck_assert_uint_eq(o.mem_size, 512 * MIB);
	ck_assert(!o.res.prealloc && !o.res.hugetlb && !o.res.pinned);
	/* --memory-swap equal to --memory or -1: no swap, accepted */
	ck_assert_int_eq(PARSE(&o, &err, "run", "-m", "1g", "--memory-swap", "1g", "r", "x"), 0);
	ck_assert_int_eq(PARSE(&o, &err, "run", "-m", "1g", "--memory-swap", "-1", "r", "x"), 0);
	ck_assert_int_eq(PARSE(&o, &err, "run", "--memory-prealloc", "--memory-hugepages", "r",
			       "x"),
			 0);
	ck_assert(o.res.prealloc && o.res.hugetlb);
}
END_TEST

START_TEST(memory_hostile)
{
	struct nb_run_options o;
	struct nb_err err;

	expect_error(PARSE(&o, &err, "run", "-m", "5m", "r", "x"), &err, "--memory 5m: use 6 MiB");
	expect_error(PARSE(&o, &err, "run", "-m", "0", "r", "x"), &err, "--memory 0");
	expect_error(PARSE(&o, &err, "run", "-m", "-64m", "r", "x"), &err, "invalid size");
	expect_error(PARSE(&o, &err, "run", "-m", "64mb", "r", "x"), &err, "invalid size");
	expect_error(PARSE(&o, &err, "run", "-m", "99999999999999999999", "r", "x"), &err,
		     "invalid size");
	expect_error(PARSE(&o, &err, "run", "-m", "16777215g", "r", "x"), &err, "--memory");
	expect_error(PARSE(&o, &err, "run", "-m", "", "r", "x"), &err, "invalid size");
	expect_error(PARSE(&o, &err, "run", "--memory-swap", "1g", "r", "x"), &err,
		     "--memory-swap needs --memory");
	expect_error(PARSE(&o, &err, "run", "-m", "1g", "--memory-swap", "512m", "r", "x"), &err,
		     "at least --memory");
	expect_error(PARSE(&o, &err, "run", "-m", "1g", "--memory-swap", "2g", "r", "x"), &err,
		     "no swap device");
	expect_error(PARSE(&o, &err, "run", "-m", "1g", "--memory-swap", "-2", "r", "x"), &err,
		     "invalid size");
	expect_error(PARSE(&o, &err, "run", "-m", "64m", "--memory-reservation", "65m", "r", "x"),
		     &err, "at most --memory");
	expect_error(PARSE(&o, &err, "run", "--memory-reservation", "0", "r", "x"), &err,
		     "--memory-reservation 0");
}
END_TEST

START_TEST(cpu_shares)
{
	struct nb_run_options o;
	struct nb_err err;

	ck_assert_uint_eq(nb_cpu_shares_to_weight(2), 1);
	ck_assert_uint_eq(nb_cpu_shares_to_weight(1024), 39); /* Docker's default -> ~ 100/2.5 */
	ck_assert_uint_eq(nb_cpu_shares_to_weight(262144), 10000);
	ck_assert_int_eq(PARSE(&o, &err, "run", "--cpu-shares", "262144", "r", "x"), 0);
	ck_assert_uint_eq(o.container.cpu_weight, 10000);
	expect_error(PARSE(&o, &err, "run", "--cpu-shares", "1", "r", "x"), &err, "--cpu-shares");
	expect_error(PARSE(&o, &err, "run", "--cpu-shares", "262145", "r", "x"), &err,
		     "from 2 to 262144");
	expect_error(PARSE(&o, &err, "run", "-c", "+5", "r", "x"), &err, "--cpu-shares");
	expect_error(PARSE(&o, &err, "run", "-c", "5 ", "r", "x"), &err, "--cpu-shares");
}
END_TEST

START_TEST(cpu_lists)
{
	struct nb_err err;
	cpu_set_t set;

	ck_assert_int_eq(nb_cpulist_parse("0-3,8,10-11", &set, &err), 0);
	ck_assert_int_eq(CPU_COUNT(&set), 7);
	ck_assert(CPU_ISSET(3, &set) && CPU_ISSET(8, &set) && CPU_ISSET(11, &set));
	ck_assert(!CPU_ISSET(4, &set) && !CPU_ISSET(9, &set));
	ck_assert_int_eq(nb_cpulist_parse("5", &set, &err), 0);
	ck_assert_int_eq(CPU_COUNT(&set), 1);
	const char *bad[] = { "",       ",",   "1,",  ",1",   "1--2",
			      "3-1",    "-1",  "1-",  "a",    "1 ",
			      " 1",     "1;2", "0x1", "1024", "99999999999999999999999",
			      "1-1024", "+1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(nb_cpulist_parse(bad[i], &set, &err) == -1, "'%s' accepted", bad[i]);
	ck_assert_int_eq(nb_cpulist_parse("0-1", &set, &err), 0);
	ck_assert_int_eq(nb_cpuset_check(&set, "0-3", &err), 0);
	ck_assert_int_eq(nb_cpuset_check(&set, "0,2-3", &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "CPU 1 is not online on this host (online: 0,2-3)"));
	ck_assert_int_eq(nb_cpuset_check(&set, "garbage", &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "the host's online CPUs"));
	/* CPU 0 is online on every Linux host */
	ck_assert_int_eq(nb_cpulist_parse("0", &set, &err), 0);
	ck_assert_int_eq(nb_cpuset_check_host(&set, &err), 0);
}
END_TEST

START_TEST(cpuset_option)
{
	struct nb_run_options o;
	struct nb_err err;

	ck_assert_int_eq(PARSE(&o, &err, "run", "--cpuset-cpus", "1,3", "r", "x"), 0);
	ck_assert(o.res.pinned);
	ck_assert(CPU_ISSET(1, &o.res.cpuset) && CPU_ISSET(3, &o.res.cpuset));
	expect_error(PARSE(&o, &err, "run", "--cpuset-cpus", "1-x", "r", "x"), &err,
		     "--cpuset-cpus: CPU list '1-x'");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("resources");
	TCase *tc = tcase_create("resources");

	tcase_add_test(tc, overhead);
	tcase_add_test(tc, memory_is_the_containers_limit);
	tcase_add_test(tc, memory_hostile);
	tcase_add_test(tc, cpu_shares);
	tcase_add_test(tc, cpu_lists);
	tcase_add_test(tc, cpuset_option);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
