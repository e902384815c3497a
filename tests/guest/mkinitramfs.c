/* Guest-tier helper: compose an initramfs for plain QEMU from nestbox-init,
 * an optional rootfs directory and a spec built from the command line (or
 * raw spec bytes from a file, to feed nestbox-init a broken spec).
 *
 *   mkinitramfs -o OUT -i INIT [-r ROOTFS_DIR] [-g GUEST_ROOT] [-e NAME=VALUE]...
 *               [-s RAW_SPEC_FILE] [-w SPEC_OUT] [--] CMD [ARG...]
 *
 * -w also writes the spec alone (for `nestbox-init SPEC` run by hand);
 * -o - skips the initramfs.
 *
 * Build: gcc -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -I. -Iinclude \
 *          -o build/tests/guest/mkinitramfs tests/guest/mkinitramfs.c \
 *          images/initramfs.c common/spec.c common/err.c -larchive -lfdt
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/spec.h"
#include "images/initramfs.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"

#define MAX_ENV 64

struct options {
	const char *out, *init, *rootfs_dir, *raw_spec, *spec_out;
	const char *guest_root;
	const char *env[MAX_ENV];
	size_t envc;
	const char *const *argv;
	size_t argc;
};

static int usage(void)
{
	fprintf(stderr, "usage: mkinitramfs -o OUT -i INIT [-r ROOTFS_DIR] [-g GUEST_ROOT] "
			"[-e NAME=VALUE]... [-s RAW_SPEC] [-w SPEC_OUT] [--] CMD [ARG...]\n");
	return 2;
}

static int parse(int argc, char **argv, struct options *o)
{
	int opt;

	*o = (struct options){ .guest_root = NB_GUEST_ROOTFS };
	while ((opt = getopt(argc, argv, "+o:i:r:g:e:s:w:")) != -1) {
		switch (opt) {
		case 'o': o->out = optarg; break;
		case 'i': o->init = optarg; break;
		case 'r': o->rootfs_dir = optarg; break;
		case 'g': o->guest_root = optarg; break;
		case 's': o->raw_spec = optarg; break;
		case 'w': o->spec_out = optarg; break;
		case 'e':
			if (o->envc == MAX_ENV)
				return -1;
			o->env[o->envc++] = optarg;
			break;
		default: return -1;
		}
	}
	o->argv = (const char *const *)&argv[optind];
	o->argc = (size_t)(argc - optind);
	if (!o->out || !o->init || (!o->raw_spec && o->argc == 0))
		return -1;
	return 0;
}

static int read_file(const char *path, void **data, size_t *len, struct nb_err *err)
{
	cleanup_fclose FILE *f = fopen(path, "rb");
	cleanup_free char *buf = malloc(NB_SPEC_MAX_SIZE * 2);
	size_t n;

	if (!f || !buf)
		return nb_err_sys(err, "%s", path);
	n = fread(buf, 1, NB_SPEC_MAX_SIZE * 2, f);
	if (ferror(f))
		return nb_err_sys(err, "%s", path);
	*data = NB_STEAL(buf, NULL);
	*len = n;
	return 0;
}

static int make_spec(const struct options *o, void **blob, size_t *len, struct nb_err *err)
{
	struct nb_spec spec = { .argv = o->argv, .argc = o->argc, .env = o->env,
				.envc = o->envc, .rootfs = o->guest_root };

	if (o->raw_spec)
		return read_file(o->raw_spec, blob, len, err);
	return nb_spec_encode(&spec, blob, len, err);
}

static int write_out(const char *path, const void *data, size_t len, struct nb_err *err)
{
	cleanup_fclose FILE *f = fopen(path, "wb");

	if (!f || fwrite(data, 1, len, f) != len || fflush(f) != 0)
		return nb_err_sys(err, "%s", path);
	return 0;
}

static int build(const struct options *o, struct nb_buf *buf, struct nb_err *err)
{
	cleanup_free void *spec = NULL;
	size_t spec_len = 0;

	if (make_spec(o, &spec, &spec_len, err) < 0 ||
	    (o->spec_out && write_out(o->spec_out, spec, spec_len, err) < 0))
		return -1;
	if (strcmp(o->out, "-") == 0)
		return 0;
	if (nb_initramfs_build(buf, o->init, o->rootfs_dir, spec, spec_len, err) < 0)
		return -1;
	return write_out(o->out, buf->data, buf->len, err);
}

int main(int argc, char **argv)
{
	struct options o;
	struct nb_err err = { 0 };
	struct nb_buf buf = { 0 };
	int rc = 0;

	if (parse(argc, argv, &o) < 0)
		return usage();
	if (build(&o, &buf, &err) < 0) {
		fprintf(stderr, "mkinitramfs: %s\n", err.msg);
		rc = 1;
	}
	nb_buf_free(&buf);
	return rc;
}
