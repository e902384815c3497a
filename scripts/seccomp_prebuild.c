/* Build-time compile of nestbox's seccomp filters (vmm/confine/seccomp_prebuilt.h):
 *   seccomp_prebuild OUT.c
 * writes every filter the VMM's threads can need, with placeholders for the
 * run's values, and Docker's default profile for the default capabilities,
 * as C tables. Linked with the host objects themselves, so the filters are
 * exactly what a run would compile. */
#include <linux/filter.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>

#include "nestbox/abi.h"
#include "vmm/confine/seccomp.h"
#include "vmm/run/container_seccomp.h"

static void emit(FILE *out, const char *name, const struct nb_seccomp_bpf *b)
{
	const struct sock_filter *f = b->data;

	fprintf(out, "static const struct sock_filter %s[] = {\n", name);
	for (size_t i = 0; i < b->len / sizeof(*f); i++)
		fprintf(out, "\t{ 0x%04x, %u, %u, 0x%08x },\n", f[i].code, f[i].jt, f[i].jf, f[i].k);
	fprintf(out, "};\n");
}

static void entry(FILE *out, const char *name, unsigned kind, unsigned key,
		  const struct nb_seccomp_bpf *b)
{
	fprintf(out, "\t{ %u, 0x%x, %s, %zu, %u, ", kind, key, name,
		b->len / sizeof(struct sock_filter), b->skipped);
	if (b->skipped)
		fprintf(out, "\"%s\" },\n", b->first_skipped);
	else
		fprintf(out, "NULL },\n");
}

static int fail(const char *what, const struct nb_err *err)
{
	fprintf(stderr, "seccomp_prebuild: %s: %s\n", what, err->msg);
	return 1;
}

int main(int argc, char **argv)
{
	static struct nb_seccomp_bpf bpf[NB_THREAD_KINDS][1u << 10];
	static unsigned keys[NB_THREAD_KINDS][1u << 10], n[NB_THREAD_KINDS];
	struct nb_seccomp_bpf docker;
	struct nb_err err;
	char name[64];
	FILE *out;

	if (argc != 2) {
		fprintf(stderr, "usage: seccomp_prebuild OUT.c\n");
		return 2;
	}
	for (unsigned k = 0; k < NB_THREAD_KINDS; k++) {
		uint32_t space = nb_sandbox_key_space(k), key = 0;

		do { /* every subset of space */
			struct nb_sandbox_config cfg = nb_sandbox_placeholders(key);

			if (n[k] == sizeof(keys[k]) / sizeof(keys[k][0])) {
				fprintf(stderr, "seccomp_prebuild: too many %s filters\n",
					nb_sandbox_kind_name(k));
				return 1;
			}
			if (nb_sandbox_compile(k, SCMP_ACT_KILL_PROCESS, &cfg, &bpf[k][n[k]], &err))
				return fail(nb_sandbox_kind_name(k), &err);
			keys[k][n[k]++] = key;
			key = (key - space) & space;
		} while (key);
	}
	if (nb_seccomp_default_compile(NB_CAPS_DEFAULT, &docker, &err))
		return fail("Docker's default profile", &err);

	out = fopen(argv[1], "w");
	if (!out) {
		perror(argv[1]);
		return 1;
	}
	fprintf(out, "/* Written by scripts/seccomp_prebuild.c: do not edit. */\n"
		     "#include \"vmm/confine/seccomp_prebuilt.h\"\n\n");
	for (unsigned k = 0; k < NB_THREAD_KINDS; k++)
		for (unsigned i = 0; i < n[k]; i++) {
			snprintf(name, sizeof(name), "%s_%x", nb_sandbox_kind_name(k), keys[k][i]);
			emit(out, name, &bpf[k][i]);
		}
	emit(out, "docker_default", &docker);
	fprintf(out, "\nconst struct nb_prebuilt_bpf nb_prebuilt_vmm[] = {\n");
	size_t total = 0;
	for (unsigned k = 0; k < NB_THREAD_KINDS; k++)
		for (unsigned i = 0; i < n[k]; i++, total++) {
			snprintf(name, sizeof(name), "%s_%x", nb_sandbox_kind_name(k), keys[k][i]);
			entry(out, name, k, keys[k][i], &bpf[k][i]);
			nb_seccomp_bpf_free(&bpf[k][i]);
		}
	fprintf(out, "};\nconst size_t nb_prebuilt_vmm_count = %zu;\n\n", total);
	fprintf(out, "const struct nb_prebuilt_bpf nb_prebuilt_docker_default = ");
	fprintf(out, "{ 0, 0, docker_default, %zu, %u, ", docker.len / sizeof(struct sock_filter),
		docker.skipped);
	fprintf(out, docker.skipped ? "\"%s\" };\n" : "NULL };\n", docker.first_skipped);
	nb_seccomp_bpf_free(&docker);
	if (fclose(out) != 0) {
		perror(argv[1]);
		return 1;
	}
	return 0;
}
