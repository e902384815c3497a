/* libFuzzer: the Docker-format seccomp profile compiler
 * (vmm/run/container_seccomp.h, nb_seccomp_profile_parse) on the JSON of
 * `--security-opt seccomp=FILE` or an OCI bundle's linux.seccomp, with
 * Docker's default capabilities and, when the input names "caps", with
 * none and with all of them too. Whatever the bytes, a profile it accepts
 * compiles to a filter the guest kernel would load: whole instructions,
 * 1..NB_SPEC_MAX_BPF of them, only opcodes seccomp allows, every jump
 * forward and inside the program, a return at its end; and run on the
 * syscalls of another ABI (i386, x32) it kills: only the native
 * architecture is in the filter. The first name it skipped is kept,
 * NUL-terminated, and only when it skipped one. A refusal leaves a message and no
 * filter; no descriptor is left open (the export goes through a memfd),
 * nothing leaks.
 *
 * Covers: vmm/run/container_seccomp.c vmm/confine/seccomp_bpf.c */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "nestbox/abi.h"
#include "vmm/run/container_seccomp.h"

/* Is f[0..n) a classic BPF program seccomp_check_filter() takes? */
static void check_shape(const struct sock_filter *f, size_t n)
{
	FZ_CHECK(n >= 1 && n <= NB_SPEC_MAX_BPF, "%zu instructions", n);
	FZ_CHECK(BPF_CLASS(f[n - 1].code) == BPF_RET, "no return at the end");
	for (size_t i = 0; i < n; i++) {
		uint16_t c = f[i].code;
		size_t rest = n - i - 1;

		switch (BPF_CLASS(c)) {
		case BPF_LD:
		case BPF_LDX:
			FZ_CHECK(c == (BPF_LD | BPF_W | BPF_ABS) ||
					 c == (BPF_LD | BPF_W | BPF_LEN) ||
					 c == (BPF_LDX | BPF_W | BPF_LEN) ||
					 BPF_MODE(c) == BPF_IMM || BPF_MODE(c) == BPF_MEM,
				 "insn %zu: load 0x%x", i, c);
			if (BPF_MODE(c) == BPF_ABS)
				FZ_CHECK(f[i].k % 4 == 0 && f[i].k < sizeof(struct seccomp_data),
					 "insn %zu: load at %u", i, f[i].k);
			if (BPF_MODE(c) == BPF_MEM)
				FZ_CHECK(f[i].k < BPF_MEMWORDS, "insn %zu: scratch %u", i, f[i].k);
			break;
		case BPF_ST:
		case BPF_STX:
			FZ_CHECK(f[i].k < BPF_MEMWORDS, "insn %zu: scratch %u", i, f[i].k);
			break;
		case BPF_JMP:
			if (BPF_OP(c) == BPF_JA)
				FZ_CHECK(f[i].k < rest, "insn %zu: ja %u", i, f[i].k);
			else
				FZ_CHECK((BPF_OP(c) == BPF_JEQ || BPF_OP(c) == BPF_JGT ||
					  BPF_OP(c) == BPF_JGE || BPF_OP(c) == BPF_JSET) &&
						 f[i].jt < rest && f[i].jf < rest,
					 "insn %zu: jump 0x%x +%u/+%u of %zu", i, c, f[i].jt,
					 f[i].jf, rest);
			break;
		case BPF_RET:
			FZ_CHECK(BPF_RVAL(c) == BPF_K || BPF_RVAL(c) == BPF_A, "insn %zu: ret 0x%x",
				 i, c);
			break;
		case BPF_ALU:
			FZ_CHECK(BPF_OP(c) != BPF_DIV || BPF_SRC(c) != BPF_K || f[i].k,
				 "insn %zu: division by 0", i);
			break;
		case BPF_MISC:
			FZ_CHECK(BPF_MISCOP(c) == BPF_TAX || BPF_MISCOP(c) == BPF_TXA,
				 "insn %zu: misc 0x%x", i, c);
			break;
		}
	}
}

static uint32_t alu(uint16_t op, uint32_t a, uint32_t v)
{
	switch (op) {
	case BPF_ADD:
		return a + v;
	case BPF_SUB:
		return a - v;
	case BPF_MUL:
		return a * v;
	case BPF_DIV:
		return v ? a / v : 0;
	case BPF_MOD:
		return v ? a % v : 0;
	case BPF_OR:
		return a | v;
	case BPF_AND:
		return a & v;
	case BPF_XOR:
		return a ^ v;
	case BPF_LSH:
		return v < 32 ? a << v : 0;
	case BPF_RSH:
		return v < 32 ? a >> v : 0;
	case BPF_NEG:
		return -a;
	}
	FZ_CHECK(0, "alu op 0x%x", op);
	return 0;
}

static bool jump(uint16_t op, uint32_t a, uint32_t v)
{
	return op == BPF_JEQ ? a == v : op == BPF_JGT ? a > v : op == BPF_JGE ? a >= v : a & v;
}

/* What the kernel's interpreter returns for d (the shape checked first). */
static uint32_t run(const struct sock_filter *f, size_t n, const struct seccomp_data *d)
{
	uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = { 0 };

	for (size_t pc = 0; pc < n; pc++) {
		const struct sock_filter *i = &f[pc];
		uint32_t v = BPF_SRC(i->code) == BPF_X ? x : i->k;

		switch (BPF_CLASS(i->code)) {
		case BPF_LD:
		case BPF_LDX: {
			uint32_t *r = BPF_CLASS(i->code) == BPF_LD ? &a : &x;

			if (BPF_MODE(i->code) == BPF_ABS)
				memcpy(r, (const char *)d + i->k, 4);
			else if (BPF_MODE(i->code) == BPF_LEN)
				*r = sizeof(*d);
			else
				*r = BPF_MODE(i->code) == BPF_IMM ? i->k : mem[i->k];
			break;
		}
		case BPF_ST:
			mem[i->k] = a;
			break;
		case BPF_STX:
			mem[i->k] = x;
			break;
		case BPF_ALU:
			a = alu(BPF_OP(i->code), a, v);
			break;
		case BPF_JMP:
			if (BPF_OP(i->code) == BPF_JA)
				pc += i->k;
			else
				pc += jump(BPF_OP(i->code), a, v) ? i->jt : i->jf;
			break;
		case BPF_RET:
			return BPF_RVAL(i->code) == BPF_K ? i->k : a;
		case BPF_MISC:
			if (BPF_MISCOP(i->code) == BPF_TAX)
				x = a;
			else
				a = x;
			break;
		}
	}
	FZ_CHECK(0, "ran off the end");
	return 0;
}

static bool kills(uint32_t action)
{
	action &= SECCOMP_RET_ACTION_FULL;
	return action == SECCOMP_RET_KILL_THREAD || action == SECCOMP_RET_KILL_PROCESS;
}

static void check_filter(const struct nb_seccomp_bpf *b)
{
	const struct sock_filter *f = b->data;
	size_t n = b->len / sizeof(*f);
	/* i386's execve, and x86-64's read through the x32 ABI */
	struct seccomp_data i386 = { .nr = 11, .arch = AUDIT_ARCH_I386 };
	struct seccomp_data x32 = { .nr = 0x40000000, .arch = AUDIT_ARCH_X86_64 };

	FZ_CHECK(f && b->len % sizeof(*f) == 0, "%zu bytes of filter", b->len);
	check_shape(f, n);
	FZ_CHECK(kills(run(f, n, &i386)), "an i386 syscall is let through");
	FZ_CHECK(kills(run(f, n, &x32)), "an x32 syscall is let through");
	/* (a name skipped may be "": unknown as any other) */
	FZ_CHECK(memchr(b->first_skipped, '\0', sizeof(b->first_skipped)) &&
			 (b->skipped || !b->first_skipped[0]),
		 "%u skipped, first \"%.64s\"", b->skipped, b->first_skipped);
}

static void compile(const char *json, size_t len, uint64_t caps)
{
	struct nb_seccomp_bpf bpf;
	struct nb_err err = { 0 };

	if (nb_seccomp_profile_parse(json, len, caps, &bpf, &err) == 0) {
		check_filter(&bpf);
		nb_seccomp_bpf_free(&bpf);
		return;
	}
	FZ_CHECK(err.msg[0], "a refusal without a message");
	FZ_CHECK(!bpf.data && !bpf.len && !bpf.skipped, "a refusal left a filter");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = fz_lowest_fd();
	char *json;

	if (size > NB_SECCOMP_PROFILE_MAX + 1)
		return 0; /* nb_seccomp_profile_load reads no more */
	json = fz_copy(data, size);
	compile(json, size, NB_CAPS_DEFAULT);
	if (memmem(data, size, "caps", 4)) {
		compile(json, size, 0);
		compile(json, size, (2ull << NB_SPEC_CAP_LAST) - 1);
	}
	free(json);
	FZ_CHECK(fz_lowest_fd() == fd, "a descriptor left open");
	return 0;
}
