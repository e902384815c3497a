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
#include "lib/spec_same.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                           \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			fprintf(stderr, "fuzz_spec: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                              \
		}                                                                             \
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
	CHECK(!nb_test_spec_diff(&spec, &again));
	nb_spec_free(&again);
	nb_spec_free(&spec);
	free(copy);
	free(blob);
	return 0;
}
