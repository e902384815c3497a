/* libFuzzer: the workload spec decoder as nestbox-init runs it. The guest
 * reads at most NB_SPEC_MAX_SIZE + 1 bytes of /nestbox/spec into a heap
 * buffer of their size (guest-init/init.c) and decodes them; so does this
 * target, then uses what it got as the guest would (strings read to their
 * ends, tmpfs entries parsed as container/rootfs.c does, the seccomp
 * program sized for a struct sock_fprog). Whatever the bytes, a spec the
 * guest accepts must be one the host could have written: it validates,
 * and encodes to a blob that decodes to the same spec.
 *
 * Covers: common/spec.c */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/spec.h"
#include "common/tmpfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                       \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "fuzz_spec: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                          \
		}                                                                         \
	} while (0)

static size_t touch_list(const char *const *list, size_t n)
{
	size_t sum = 0;

	CHECK(n == 0 || list);
	for (size_t i = 0; i < n; i++)
		sum += strlen(list[i]);
	if (list)
		CHECK(list[n] == NULL);
	return sum;
}

static bool same_list(const char *const *a, const char *const *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* What the guest does with a decoded spec before any system call. */
static void use(const struct nb_spec *s)
{
	struct nb_err err = { 0 };

	touch_list(s->argv, s->argc);
	touch_list(s->env, s->envc);
	touch_list(s->volumes, s->nvolumes);
	CHECK(s->argc >= 1 && s->argv[0][0]);
	CHECK(s->rootfs && s->rootfs[0] == '/');
	for (size_t i = 0; i < s->ntmpfs; i++) {
		struct nb_tmpfs_mount m;

		CHECK(nb_tmpfs_parse(s->tmpfs[i], &m, &err) == 0);
	}
	/* struct sock_fprog.len is an unsigned short of 8-byte instructions. */
	CHECK(s->seccomp_len % 8 == 0 && s->seccomp_len / 8 <= 0xffff);
	CHECK(!s->seccomp == !s->seccomp_len);
	for (size_t i = 0; i < s->nlayers; i++)
		CHECK(s->layers[i].size > 0);
}

static void same_spec(const struct nb_spec *a, const struct nb_spec *b)
{
	CHECK(a->argc == b->argc && same_list(a->argv, b->argv, a->argc));
	CHECK(a->envc == b->envc && same_list(a->env, b->env, a->envc));
	CHECK(strcmp(a->rootfs, b->rootfs) == 0);
	CHECK(same_str(a->hostname, b->hostname) && same_str(a->workdir, b->workdir) &&
	      same_str(a->user, b->user));
	CHECK(a->has_caps == b->has_caps && a->caps == b->caps);
	CHECK(a->nrlimits == b->nrlimits &&
	      !memcmp(a->rlimits, b->rlimits, a->nrlimits * sizeof(a->rlimits[0])));
	CHECK(a->memory_max == b->memory_max && a->swap_max == b->swap_max &&
	      a->cpu_quota_us == b->cpu_quota_us && a->cpu_period_us == b->cpu_period_us &&
	      a->pids_max == b->pids_max && a->namespaces == b->namespaces &&
	      a->read_only == b->read_only);
	CHECK(a->ntmpfs == b->ntmpfs && same_list(a->tmpfs, b->tmpfs, a->ntmpfs));
	CHECK(a->seccomp_len == b->seccomp_len &&
	      (!a->seccomp_len || !memcmp(a->seccomp, b->seccomp, a->seccomp_len)));
	CHECK(a->nvolumes == b->nvolumes && same_list(a->volumes, b->volumes, a->nvolumes));
	CHECK(a->nlayers == b->nlayers &&
	      (!a->nlayers || !memcmp(a->layers, b->layers, a->nlayers * sizeof(a->layers[0]))));
	CHECK(a->net_ipv4 == b->net_ipv4 && a->net_prefix == b->net_prefix &&
	      a->net_gateway == b->net_gateway);
	CHECK(a->tty == b->tty && a->tty_rows == b->tty_rows && a->tty_cols == b->tty_cols);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nb_spec spec, again;
	struct nb_err err = { 0 };
	void *blob, *copy = NULL;
	size_t len;

	if (size > NB_SPEC_MAX_SIZE + 1)
		return 0; /* read_spec reads no more */
	blob = malloc(size ? size : 1);
	if (!blob)
		abort();
	memcpy(blob, data, size);
	if (nb_spec_decode(blob, size, &spec, &err) < 0) {
		CHECK(err.msg[0] && !spec.argv && !spec.env);
		free(blob);
		return 0;
	}
	use(&spec);
	if (nb_spec_validate(&spec, &err) < 0) {
		fprintf(stderr, "fuzz_spec: the guest accepts a spec the host refuses: %s\n",
			err.msg);
		abort();
	}
	CHECK(nb_spec_encode(&spec, &copy, &len, &err) == 0);
	CHECK(nb_spec_decode(copy, len, &again, &err) == 0);
	same_spec(&spec, &again);
	nb_spec_free(&again);
	nb_spec_free(&spec);
	free(copy);
	free(blob);
	return 0;
}
