/* nestbox guest<->host ABI: the one header both sides build against.
 *
 * Everything the VMM and nestbox-init must agree on lives here: the exit
 * device, the workload spec format and the exit-status convention. Bump
 * NB_ABI_VERSION on every incompatible change. Fields are fixed width; the
 * host treats every value it reads from the guest as hostile.
 */
#ifndef NESTBOX_ABI_H
#define NESTBOX_ABI_H

#include <stdint.h>

#define NB_ABI_VERSION 1

/* ---- exit device ---------------------------------------------------------
 * A 4-byte port-I/O register. nestbox-init writes one 32-bit value
 *   NB_EXIT_MAGIC | status          (status 0..255)
 * after the workload has finished and its output is flushed; the VMM stops
 * every vCPU and exits with `status`. Any other value, width or port offset
 * is a protocol violation the VMM reports as its own error (125).
 * Reading the register returns NB_EXIT_MAGIC | NB_ABI_VERSION, so a payload
 * can check it is talking to a nestbox VMM.
 */
#define NB_EXIT_PORT 0x0510u
#define NB_EXIT_PORT_LEN 4u
#define NB_EXIT_MAGIC 0x4e420000u /* "NB" in the high half */
#define NB_EXIT_MAGIC_MASK 0xffff0000u
#define NB_EXIT_STATUS_MASK 0x000000ffu

/* ---- exit status convention (Docker's) -------------------------------- */
enum nb_status {
	NB_STATUS_OK = 0,
	NB_STATUS_TIMEOUT = 124,    /* --timeout expired, VM killed */
	NB_STATUS_ERROR = 125,      /* nestbox (host or nestbox-init) failed */
	NB_STATUS_CANNOT_EXEC = 126, /* command found but not executable */
	NB_STATUS_NOT_FOUND = 127,  /* command not found */
	NB_STATUS_SIGNAL_BASE = 128, /* 128+N: workload killed by signal N */
};

/* ---- workload spec -------------------------------------------------------
 * A flattened device tree (libfdt) at NB_SPEC_PATH in the initramfs, written
 * by the host, read by nestbox-init. Root node properties:
 *   NB_SPEC_VERSION  u32     must equal NB_SPEC_FORMAT
 *   NB_SPEC_ARGV     strlist command and arguments (NUL-separated), >= 1
 *   NB_SPEC_ENV      strlist KEY=VALUE entries (NUL-separated), optional
 *   NB_SPEC_ROOTFS   string  absolute path of the workload's root inside the
 *                            guest ("/" runs it in the initramfs root)
 * argv entries are non-empty; env entries are NAME=value with a non-empty
 * NAME. Every property is bounded by the limits below; nestbox-init rejects
 * a spec that breaks one, or repeats a property, and reports
 * NB_STATUS_ERROR. Unknown properties are ignored (bump NB_SPEC_FORMAT for
 * incompatible changes).
 */
#define NB_SPEC_PATH "/nestbox/spec.dtb"
#define NB_SPEC_FORMAT 1u
#define NB_SPEC_VERSION "nestbox,version"
#define NB_SPEC_ARGV "argv"
#define NB_SPEC_ENV "env"
#define NB_SPEC_ROOTFS "rootfs"

#define NB_SPEC_MAX_SIZE (1u << 20)   /* whole blob */
#define NB_SPEC_MAX_ARGS 4096u        /* entries in argv or env */
#define NB_SPEC_MAX_STRING 65536u     /* one argv/env entry, one path */

/* Where the host packs a plain rootfs directory in the initramfs. */
#define NB_GUEST_ROOTFS "/rootfs"

#endif
