/* `nestbox update --memory` (issue 15): the control request's parser with
 * hostile values (negative, huge, below the smallest limit, not numbers),
 * the limit check against the size the VM booted with (no hotplug), the
 * balloon that leaves the guest what a limit needs, and the state file's
 * MemoryLimit. */
#include <check.h>
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nestbox/abi.h"
#include "unit/unit.h"
#include "vmm/run/ctl_proto.h"
#include "vmm/run/resources.h"
#include "vmm/run/sigforward.h"
#include "vmm/run/vmdir.h"
#include "vmm/virtio/balloon.h"

#define MIB (1ull << 20)

/* nb_ctl_parse of a C string into req, code and msg (in scope). */
#define PARSE(line) nb_ctl_parse(line, strlen(line), &req, &code, msg, sizeof(msg))

START_TEST(update_request)
{
	struct nb_ctl_request req;
	const char *code;
	char msg[256];

	ck_assert_int_eq(PARSE("{\"op\":\"update\",\"memory\":134217728}"), 0);
	ck_assert_int_eq(req.op, NB_CTL_UPDATE);
	ck_assert_uint_eq(req.memory, 128 * MIB);
	/* rounded down to 4 KiB, as the kernel rounds memory.max */
	ck_assert_int_eq(PARSE("{\"memory\":134221823,\"op\":\"update\"}"), 0);
	ck_assert_uint_eq(req.memory, 128 * MIB);
	ck_assert_int_eq(PARSE("{\"op\":\"update\",\"memory\":6291456}"), 0);
	ck_assert_uint_eq(req.memory, NB_MEMORY_MIN);
	ck_assert_int_eq(PARSE("{\"op\":\"update\",\"memory\":17592186044416}"), 0);
	ck_assert_uint_eq(req.memory, NB_SIGMSG_MEMORY_MAX);
	ck_assert_str_eq(nb_ctl_op_name(NB_CTL_UPDATE), "update");
}
END_TEST

START_TEST(update_refuses_hostile_values)
{
	static const char *const bad[] = {
		"{\"op\":\"update\"}",                       /* no memory */
		"{\"op\":\"update\",\"memory\":0}",          /* none */
		"{\"op\":\"update\",\"memory\":-1}",         /* negative */
		"{\"op\":\"update\",\"memory\":-134217728}", /* negative */
		"{\"op\":\"update\",\"memory\":6291455}",    /* below 6 MiB */
		"{\"op\":\"update\",\"memory\":4096}",
		"{\"op\":\"update\",\"memory\":17592186048512}",       /* 16 TiB + 4 KiB */
		"{\"op\":\"update\",\"memory\":9223372036854775807}",  /* INT64_MAX */
		"{\"op\":\"update\",\"memory\":18446744073709551615}", /* UINT64_MAX */
		"{\"op\":\"update\",\"memory\":99999999999999999999999999}",
		"{\"op\":\"update\",\"memory\":1e9}", /* a double */
		"{\"op\":\"update\",\"memory\":134217728.0}",
		"{\"op\":\"update\",\"memory\":\"128m\"}", /* a string */
		"{\"op\":\"update\",\"memory\":\"134217728\"}",
		"{\"op\":\"update\",\"memory\":null}",
		"{\"op\":\"update\",\"memory\":true}",
		"{\"op\":\"update\",\"memory\":[134217728]}",
		"{\"op\":\"update\",\"memory\":{}}",
		"{\"op\":\"update\",\"memory\":134217728,\"cpus\":2}", /* unknown field */
		"{\"op\":\"state\",\"memory\":134217728}",             /* not this op's */
		"{\"op\":\"update\",\"memory\":134217728",             /* cut */
	};
	struct nb_ctl_request req;
	const char *code;
	char msg[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(PARSE(bad[i]) == -1, "accepted: %s", bad[i]);
		ck_assert_str_eq(code, NB_CTL_E_BAD_REQUEST);
	}
}
END_TEST

START_TEST(limit_within_boot_size)
{
	uint64_t ram = nb_guest_ram_for(512 * MIB);
	struct nb_err err;

	/* booted with --memory 512m: 6 MiB .. 512 MiB */
	ck_assert_int_eq(nb_memory_update_check(ram, 512 * MIB, 0, 128 * MIB, &err), 0);
	ck_assert_int_eq(nb_memory_update_check(ram, 512 * MIB, 0, 512 * MIB, &err), 0);
	ck_assert_int_eq(nb_memory_update_check(ram, 512 * MIB, 0, NB_MEMORY_MIN, &err), 0);
	ck_assert_int_eq(nb_memory_update_check(ram, 512 * MIB, 0, 512 * MIB + 4096, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "no hotplug"));
	ck_assert_ptr_nonnull(strstr(err.msg, "512 MiB"));
	ck_assert_int_eq(nb_memory_update_check(ram, 512 * MIB, 0, 2048 * MIB, &err), -1);
	ck_assert_int_eq(nb_memory_update_check(ram, 512 * MIB, 0, NB_MEMORY_MIN - 4096, &err), -1);
	ck_assert_int_eq(nb_memory_update_check(ram, 512 * MIB, 0, 128 * MIB + 1, &err), -1);
	ck_assert_int_eq(nb_memory_update_check(ram, 512 * MIB, 0, UINT64_MAX & ~4095ull, &err),
			 -1);
	/* never below --memory-reservation */
	ck_assert_int_eq(nb_memory_update_check(ram, 512 * MIB, 256 * MIB, 128 * MIB, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "reservation"));
	ck_assert_int_eq(nb_memory_update_check(ram, 512 * MIB, 256 * MIB, 256 * MIB, &err), 0);
	/* no --memory at boot: as much as the guest's RAM holds */
	uint64_t max = nb_memory_limit_max(ram, 0);
	ck_assert_uint_ge(max, 512 * MIB);
	ck_assert_uint_le(nb_guest_ram_for(max), ram);
	ck_assert_uint_gt(nb_guest_ram_for(max + 4096), ram);
	ck_assert_uint_eq(max % 4096, 0);
	ck_assert_uint_eq(nb_memory_limit_max(NB_GUEST_OVERHEAD_FIXED, 0), 0);
	ck_assert_uint_eq(nb_memory_limit_max(0, 0), 0);
	ck_assert_int_eq(nb_memory_update_check(NB_GUEST_OVERHEAD_FIXED, 0, 0, NB_MEMORY_MIN, &err),
			 -1);
}
END_TEST

START_TEST(balloon_leaves_what_the_limit_needs)
{
	uint64_t ram = nb_guest_ram_for(512 * MIB);

	ck_assert_uint_eq(nb_balloon_for_limit(ram, 512 * MIB), 0);
	ck_assert_uint_eq(nb_balloon_for_limit(ram, 128 * MIB), ram - nb_guest_ram_for(128 * MIB));
	ck_assert_uint_gt(nb_balloon_for_limit(ram, 128 * MIB), 380 * MIB);
	ck_assert_uint_eq(nb_balloon_for_limit(ram, 1024 * MIB), 0); /* never "negative" */
	ck_assert_uint_lt(nb_balloon_for_limit(ram, NB_MEMORY_MIN), ram);
}
END_TEST

START_TEST(state_keeps_the_limit)
{
	static const char *const bad[] = { "-134217728", "17592186048512", "1e9",
					   "\"128m\"",   "null",           "true" };
	struct nb_vm_state in = { .status = NB_VM_RUNNING,
				  .pid = 2,
				  .monitor_pid = 1,
				  .exit_code = -1,
				  .memory_limit = 128 * MIB },
			   out;
	char *text = nb_vm_state_format(&in), line[512];
	struct nb_err err;

	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(nb_vm_state_parse(text, strlen(text), &out, &err), 0);
	ck_assert_uint_eq(out.memory_limit, 128 * MIB);
	free(text);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line),
			 "{\"Status\":\"running\",\"Pid\":2,\"MonitorPid\":1,\"MonitorStart\":1,"
			 "\"ExitCode\":-1,\"OOMKilled\":false,\"Created\":0,\"Started\":0,"
			 "\"Finished\":0,\"Error\":\"\",\"MemoryLimit\":%s}",
			 bad[i]);
		ck_assert_msg(nb_vm_state_parse(line, strlen(line), &out, &err) == -1,
			      "accepted MemoryLimit %s", bad[i]);
	}
	/* a state file from before `update`: no limit recorded */
	snprintf(line, sizeof(line),
		 "{\"Status\":\"running\",\"Pid\":2,\"MonitorPid\":1,\"MonitorStart\":1,"
		 "\"ExitCode\":-1,\"OOMKilled\":false,\"Created\":0,\"Started\":0,"
		 "\"Finished\":0,\"Error\":\"\"}");
	ck_assert_int_eq(nb_vm_state_parse(line, strlen(line), &out, &err), 0);
	ck_assert_uint_eq(out.memory_limit, 0);
}
END_TEST

static void count_report(void *opaque, enum nb_report_kind kind, const char *text)
{
	(void)kind;
	(void)text;
	++*(int *)opaque;
}

/* The VMM's side: the queued value is checked again; a bad one is told,
 * never stops the VM; a good one sets the balloon's target (the driver is
 * not up: only num_pages changes). No console: the limit is not taken. */
START_TEST(vmm_sets_the_balloon)
{
	static struct nb_balloon b;
	int reports = 0;
	struct nb_report report = { count_report, &reports };
	struct nb_sigforward f = { .con = NULL };
	uint64_t ram = nb_guest_ram_for(512 * MIB);

	nb_balloon_init(&b);
	f.memory.ram = ram;
	f.memory.boot_limit = 512 * MIB;
	f.memory.balloon = &b;
	f.memory.report = &report;
	ck_assert(nb_sigforward(&f, NB_SIGNAL_MEMORY, (uint32_t)(2048 * MIB / 4096)));
	ck_assert_int_eq(reports, 1);
	ck_assert_uint_eq(b.config.num_pages, 0);
	ck_assert(nb_sigforward(&f, NB_SIGNAL_MEMORY, 0));
	ck_assert(nb_sigforward(&f, NB_SIGNAL_MEMORY, UINT32_MAX));
	ck_assert_int_eq(reports, 3);
	ck_assert_uint_eq(b.config.num_pages, 0);
	ck_assert(nb_sigforward(&f, NB_SIGNAL_MEMORY, (uint32_t)(128 * MIB / 4096)));
	ck_assert_int_eq(reports, 4); /* no console to take the limit */
	ck_assert_uint_eq(le32toh(b.config.num_pages),
			  nb_balloon_for_limit(ram, 128 * MIB) / NB_BALLOON_PAGE);
	ck_assert(nb_sigforward(&f, NB_SIGNAL_MEMORY, (uint32_t)(512 * MIB / 4096)));
	ck_assert_uint_eq(b.config.num_pages, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("update");
	TCase *tc = tcase_create("update");

	tcase_add_test(tc, update_request);
	tcase_add_test(tc, update_refuses_hostile_values);
	tcase_add_test(tc, limit_within_boot_size);
	tcase_add_test(tc, balloon_leaves_what_the_limit_needs);
	tcase_add_test(tc, state_keeps_the_limit);
	tcase_add_test(tc, vmm_sets_the_balloon);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
