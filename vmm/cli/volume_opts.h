/* Volume options of `nestbox run` beyond -v, in Docker's words:
 * --mount type=bind,source=HOST,target=GUEST[,readonly] (a directory is
 * shared over virtio-fs, a file is a disk, as with -v);
 * --device-read-bps, --device-write-bps HOST_IMG:RATE and
 * --device-read-iops, --device-write-iops HOST_IMG:N, where HOST_IMG is a
 * -v disk's host path (vmm/run/volumes.h makes them the disk's token
 * buckets). Host only. */
#ifndef NESTBOX_VMM_CLI_VOLUME_OPTS_H
#define NESTBOX_VMM_CLI_VOLUME_OPTS_H

#include <getopt.h>
#include <stdbool.h>

#include "nestbox/err.h"
#include "vmm/run/run.h"

enum {
	NB_OPT_DEVICE_READ_BPS = 1024,
	NB_OPT_DEVICE_WRITE_BPS,
	NB_OPT_DEVICE_READ_IOPS,
	NB_OPT_DEVICE_WRITE_IOPS,
	NB_OPT_MOUNT,
};

/* getopt_long entries, spliced into cli.c's table. */
#define NB_VOLUME_LONG_OPTIONS                                                              \
	{ "device-read-bps", required_argument, NULL, NB_OPT_DEVICE_READ_BPS },             \
		{ "device-write-bps", required_argument, NULL, NB_OPT_DEVICE_WRITE_BPS },   \
		{ "device-read-iops", required_argument, NULL, NB_OPT_DEVICE_READ_IOPS },   \
		{ "device-write-iops", required_argument, NULL, NB_OPT_DEVICE_WRITE_IOPS }, \
	{                                                                                   \
		"mount", required_argument, NULL, NB_OPT_MOUNT                              \
	}

#define NB_VOLUME_USAGE                                                                           \
	"      --mount type=bind,source=HOST,target=GUEST_PATH[,readonly]\n"                      \
	"                         the same as -v HOST:GUEST_PATH[:ro] (HOST must exist)\n"        \
	"      --device-read-bps HOST_IMG:RATE, --device-write-bps HOST_IMG:RATE\n"               \
	"                         limit a -v volume's reads or writes to RATE bytes per second\n" \
	"                         (e.g. 10mb, 512k; a token bucket of one second's worth)\n"      \
	"      --device-read-iops HOST_IMG:N, --device-write-iops HOST_IMG:N\n"                   \
	"                         limit a -v volume's read or write requests to N per second\n"

/* Whether a volume's host path is a directory (shared over virtio-fs). */
bool nb_volume_is_dir(const char *host);

/* A guest path a volume may be mounted at: absolute, no ".." component. */
bool nb_volume_guest_ok(const char *guest);

/* Record one rate option or parse one --mount (checked once every -v is known). Returns 0, -1
 * with err set, or 1 if opt is not a volume rate option. */
int nb_volume_cli_option(int opt, const char *arg, struct nb_run_options *opts, struct nb_err *err);

/* After parsing: parse the recorded rates and set them on the disks whose
 * host path is HOST_IMG (the same string, or the same file). */
int nb_volume_cli_check(struct nb_run_options *opts, struct nb_err *err);

#endif
