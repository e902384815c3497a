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
 * Container properties: -H HOSTNAME -W WORKDIR -u USER[:GROUP] -c CAPMASK (hex)
 * -m MEMORY_MAX -M SWAP_MAX -C QUOTA:PERIOD -p PIDS_MAX -N net|user|net,user -R
 * (read-only root) -t TMPFS_PATH... -l RESOURCE:SOFT:HARD... -S SYSCALL[,SYSCALL]
 * (a seccomp filter, built here with libseccomp, that fails those syscalls
 * with EPERM and allows the rest) -B BPF_FILE (raw filter bytes) -D (Docker's
 * default profile, vmm/run/container_seccomp.c, for the capability set in effect).
 * Image layers: -L OFFSET:SIZE... (bytes on the NB_LAYER_SERIAL disk, bottom first).
 *
 * Build: gcc -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -I. -Iinclude \
 *          -o build/tests/guest/mkinitramfs tests/guest/mkinitramfs.c \
 *          images/initramfs.c common/spec.c common/err.c -larchive -lfdt
 */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/spec.h"
#include "images/initramfs.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"
#include "vmm/run/container_seccomp.h"

#define MAX_ENV 64

struct options {
	const char *out, *init, *rootfs_dir, *raw_spec, *spec_out;
	const char *guest_root;
	const char *env[MAX_ENV];
	size_t envc;
	const char *const *argv;
	size_t argc;
	struct nb_spec c; /* the container properties only */
	const char *tmpfs[NB_SPEC_MAX_TMPFS];
	const char *deny, *bpf_file;
	bool default_profile;
	struct nb_spec_layer layers[NB_MAX_LAYERS];
};

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno || end == s || *end ? -1 : 0;
}

static int parse_container_opt(int opt, struct options *o)
{
	struct nb_spec *c = &o->c;
	uint64_t v, v2;
	char *end;

	switch (opt) {
	case 'H':
		c->hostname = optarg;
		return 0;
	case 'W':
		c->workdir = optarg;
		return 0;
	case 'u':
		c->user = optarg;
		return 0;
	case 'R':
		c->read_only = true;
		return 0;
	case 'T': /* -t: ROWSxCOLS of the pty */
		c->tty = true;
		return sscanf(optarg, "%" SCNu32 "x%" SCNu32, &c->tty_rows, &c->tty_cols) == 2 ? 0
											       : -1;
	case 'c':
		c->has_caps = true;
		return parse_u64(optarg, &c->caps);
	case 'm':
		return parse_u64(optarg, &c->memory_max);
	case 'M':
		return parse_u64(optarg, &c->swap_max);
	case 'p':
		return parse_u64(optarg, &c->pids_max);
	case 'S':
		o->deny = optarg;
		return 0;
	case 'B':
		o->bpf_file = optarg;
		return 0;
	case 'D':
		o->default_profile = true;
		return 0;
	case 'L':
		if (c->nlayers == NB_MAX_LAYERS ||
		    sscanf(optarg, "%" SCNu64 ":%" SCNu64, &v, &v2) != 2)
			return -1;
		o->layers[c->nlayers++] = (struct nb_spec_layer){ v, v2 };
		c->layers = o->layers;
		return 0;
	case 'N':
		c->namespaces |= strstr(optarg, "net") ? NB_NS_NET : 0;
		c->namespaces |= strstr(optarg, "user") ? NB_NS_USER : 0;
		return 0;
	case 'C':
		if (sscanf(optarg, "%" SCNu32 ":%" SCNu32, &c->cpu_quota_us, &c->cpu_period_us) !=
		    2)
			return -1;
		return 0;
	case 't':
		if (c->ntmpfs == NB_SPEC_MAX_TMPFS)
			return -1;
		o->tmpfs[c->ntmpfs++] = optarg;
		c->tmpfs = o->tmpfs;
		return 0;
	case 'l':
		if (c->nrlimits == NB_SPEC_MAX_RLIMITS)
			return -1;
		v = strtoull(optarg, &end, 0);
		if (*end != ':')
			return -1;
		v2 = strtoull(end + 1, &end, 0);
		if (*end != ':')
			return -1;
		c->rlimits[c->nrlimits++] = (struct nb_spec_rlimit){ (uint32_t)v, v2,
								     strtoull(end + 1, NULL, 0) };
		return 0;
	}
	return -1;
}

/* A filter that allows everything but the named syscalls (EPERM). */
static int deny_filter(const char *list, void **bpf, size_t *len, struct nb_err *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	char names[256], *save;
	int fd = -1, rc = 0;
	off_t size;
	char *buf;

	if (!ctx)
		return nb_err_set(err, 0, "seccomp_init failed");
	snprintf(names, sizeof(names), "%s", list);
	for (char *n = strtok_r(names, ",", &save); n && rc == 0; n = strtok_r(NULL, ",", &save)) {
		int nr = seccomp_syscall_resolve_name(n);

		rc = nr == __NR_SCMP_ERROR ? -EINVAL
					   : seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
	}
	if (rc == 0 && (fd = memfd_create("bpf", 0)) < 0)
		rc = -errno;
	if (rc == 0)
		rc = seccomp_export_bpf(ctx, fd);
	seccomp_release(ctx);
	size = rc == 0 ? lseek(fd, 0, SEEK_END) : -1;
	buf = size > 0 ? malloc((size_t)size) : NULL;
	if (!buf || pread(fd, buf, (size_t)size, 0) != size) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return nb_err_set(err, rc < 0 ? -rc : 0, "cannot build a seccomp filter denying %s",
				  list);
	}
	close(fd);
	*bpf = buf;
	*len = (size_t)size;
	return 0;
}

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
	while ((opt = getopt(argc, argv, "+o:i:r:g:e:s:w:H:W:u:c:m:M:C:p:N:Rt:T:l:S:B:DL:")) !=
	       -1) {
		switch (opt) {
		case 'o':
			o->out = optarg;
			break;
		case 'i':
			o->init = optarg;
			break;
		case 'r':
			o->rootfs_dir = optarg;
			break;
		case 'g':
			o->guest_root = optarg;
			break;
		case 's':
			o->raw_spec = optarg;
			break;
		case 'w':
			o->spec_out = optarg;
			break;
		case 'e':
			if (o->envc == MAX_ENV)
				return -1;
			o->env[o->envc++] = optarg;
			break;
		default:
			if (parse_container_opt(opt, o) < 0)
				return -1;
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
	struct nb_spec spec = o->c;
	cleanup_free void *bpf = NULL;
	int rc;

	if (o->raw_spec)
		return read_file(o->raw_spec, blob, len, err);
	spec.argv = o->argv;
	spec.argc = o->argc;
	spec.env = o->env;
	spec.envc = o->envc;
	spec.rootfs = o->guest_root;
	if (o->deny && deny_filter(o->deny, &bpf, &spec.seccomp_len, err) < 0)
		return -1;
	if (o->bpf_file && read_file(o->bpf_file, &bpf, &spec.seccomp_len, err) < 0)
		return -1;
	if (o->default_profile) {
		struct nb_seccomp_bpf def;

		if (nb_seccomp_default(spec.has_caps ? spec.caps : NB_CAPS_DEFAULT, &def, err) < 0)
			return -1;
		bpf = def.data;
		spec.seccomp_len = def.len;
	}
	spec.seccomp = bpf;
	rc = nb_spec_encode(&spec, blob, len, err);
	return rc;
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
