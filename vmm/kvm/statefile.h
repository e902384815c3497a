/* The snapshot state file: a fixed header that says which nestbox, host
 * CPU, host kernel and KVM wrote it, then a body of tagged sections, the
 * whole body covered by a sha256 in the header. Devices and the KVM code
 * put their own sections with nb_state_put() and get them back with
 * nb_state_get(); they never see the framing. A file is hostile until
 * nb_state_parse() accepted it: every length and count is bounded, the
 * checksum matches and the writer's host is this one.
 *
 * Layout (host byte order: a file never moves between hosts that differ):
 *   struct nb_state_header_raw   magic, format, ABI, host identity, guest
 *                                RAM size, vCPU count, body length, sha256
 *   sections                     u32 tag, u32 index, u32 length, bytes
 */
#ifndef NESTBOX_VMM_KVM_STATEFILE_H
#define NESTBOX_VMM_KVM_STATEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nestbox/err.h"

#define NB_STATE_FORMAT 1u
#define NB_STATE_MAX_SECTION (1u << 20) /* one section's bytes */
#define NB_STATE_MAX_BODY (64u << 20)   /* all of them */
#define NB_STATE_MAX_SECTIONS 4096u

/* What must match between the host that saved and the one restoring. */
struct nb_state_host {
	char vendor[16];        /* CPUID 0 vendor string, NUL-terminated */
	uint32_t signature;     /* CPUID 1 EAX: family, model, stepping */
	uint8_t cpuid_hash[32]; /* sha256 of KVM_GET_SUPPORTED_CPUID */
	uint8_t msr_hash[32];   /* sha256 of KVM_GET_MSR_INDEX_LIST */
	char kernel[72];        /* uname -r, NUL-terminated */
};

struct nb_state_header {
	uint32_t abi;         /* NB_ABI_VERSION of the writer */
	uint32_t spec_format; /* NB_SPEC_FORMAT of the writer */
	struct nb_state_host host;
	uint64_t mem_size; /* guest RAM bytes */
	uint32_t ncpus;
};

/* Section tags. */
enum nb_state_tag {
	NB_STATE_VCPU_REGS = 1,
	NB_STATE_VCPU_SREGS,
	NB_STATE_VCPU_XSAVE,
	NB_STATE_VCPU_XCRS,
	NB_STATE_VCPU_MSRS, /* count of struct kvm_msr_entry */
	NB_STATE_VCPU_LAPIC,
	NB_STATE_VCPU_EVENTS,
	NB_STATE_VCPU_DEBUGREGS,
	NB_STATE_VCPU_MP_STATE,
	NB_STATE_VM_PIC_MASTER,
	NB_STATE_VM_PIC_SLAVE,
	NB_STATE_VM_IOAPIC,
	NB_STATE_VM_PIT,
	NB_STATE_VM_CLOCK,
	NB_STATE_SERIAL,
	NB_STATE_VIRTIO_TRANSPORT, /* index: the slot */
	NB_STATE_VIRTIO_DEVICE,    /* index: the slot */
};

/* A body being written; the first failure sticks (failed). */
struct nb_state_buf {
	uint8_t *data;
	size_t len, cap;
	bool failed;
};

void nb_state_put(struct nb_state_buf *b, uint32_t tag, uint32_t index, const void *data,
		  size_t len);
void nb_state_buf_free(struct nb_state_buf *b);

/* The whole file: header h, then b's body. *file is malloc'd. */
int nb_state_finish(const struct nb_state_header *h, const struct nb_state_buf *b, void **file,
		    size_t *len, struct nb_err *err);

/* A parsed file; body points into the caller's buffer. */
struct nb_state {
	struct nb_state_header h;
	const uint8_t *body;
	size_t body_len;
};

/* Check framing, format, checksum and every section's bounds; then, with
 * expect non-NULL, that the writer was this nestbox on this host with the
 * same guest RAM and vCPUs. Messages say what differs and what to do. */
int nb_state_parse(const void *file, size_t len, const struct nb_state_header *expect,
		   struct nb_state *out, struct nb_err *err);

/* Copy section (tag, index), which must be exactly len bytes, into dst. */
int nb_state_get(const struct nb_state *s, uint32_t tag, uint32_t index, void *dst, size_t len,
		 struct nb_err *err);

/* Section (tag, index) of any length up to NB_STATE_MAX_SECTION: 0 with
 * *data, *len set, -1 (err set) when missing. */
int nb_state_find(const struct nb_state *s, uint32_t tag, uint32_t index, const void **data,
		  size_t *len, struct nb_err *err);

#endif
