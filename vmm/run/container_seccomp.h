/* The container's seccomp filter, compiled on the host to classic BPF with
 * libseccomp and carried in the spec (the guest only installs it):
 * Docker's default profile, or a Docker-format JSON profile
 * (--security-opt seccomp=FILE). Host only. */
#ifndef NESTBOX_VMM_RUN_CONTAINER_SECCOMP_H
#define NESTBOX_VMM_RUN_CONTAINER_SECCOMP_H

#include <stddef.h>
#include <stdint.h>

#include "nestbox/err.h"
#include "vmm/confine/seccomp_bpf.h"

#define NB_SECCOMP_PROFILE_MAX (1u << 20) /* bytes of JSON */
#define NB_SECCOMP_MAX_RULES 4096u        /* entries in "syscalls" */
#define NB_SECCOMP_MAX_NAMES 1024u        /* names in one entry */

/* Docker's default profile (an allowlist; everything else fails with
 * EPERM) for a container whose bounding set is caps: rules Docker ties to a
 * capability are in only when caps has it. */
int nb_seccomp_default(uint64_t caps, struct nb_seccomp_bpf *out, struct nb_err *err);
/* The same, always compiled with libseccomp (nb_seccomp_default takes the
 * filter built at build time for the default capabilities:
 * vmm/confine/seccomp_prebuilt.h). */
int nb_seccomp_default_compile(uint64_t caps, struct nb_seccomp_bpf *out, struct nb_err *err);

/* A Docker-format profile from len bytes of hostile JSON. Unknown syscall
 * names are skipped and counted (as runc does: a profile written for a
 * newer kernel still loads); unknown actions, operators, architectures or
 * wrong types are errors. */
int nb_seccomp_profile_parse(const char *json, size_t len, uint64_t caps,
			     struct nb_seccomp_bpf *out, struct nb_err *err);

/* nb_seccomp_profile_parse() of the file at path (at most
 * NB_SECCOMP_PROFILE_MAX bytes). */
int nb_seccomp_profile_load(const char *path, uint64_t caps, struct nb_seccomp_bpf *out,
			    struct nb_err *err);

/* "CAP_SYS_ADMIN", "sys_admin" or "SYS_ADMIN" -> 21; "ALL" -> 64; -1 if
 * unknown. */
int nb_cap_by_name(const char *name);

#endif
