/* Intel MultiProcessor Specification 1.4 table, so the (ACPI-less) guest
 * finds its CPUs, the IOAPIC and the ISA interrupt routing. */
#ifndef NESTBOX_X86_MPTABLE_H
#define NESTBOX_X86_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "nestbox/err.h"
#include "vmm/kvm/memory.h"

/* The MP table is kept in the 1 KiB between NB_EBDA_GPA and 0xA0000 (where
 * Linux scans for the floating pointer; reserved in e820): 284 bytes + 20
 * per CPU allows 37 CPUs; 32 as in Firecracker. */
#define NB_MAX_VCPUS 32u

/* Write the floating pointer and configuration table at NB_EBDA_GPA for
 * ncpus processors (APIC IDs 0..ncpus-1, CPU 0 the BSP), one IOAPIC with
 * NB_IOAPIC_PINS pins at NB_IOAPIC_GPA (ID ncpus), an ISA bus whose IRQs
 * 0..NB_IOAPIC_PINS-1 are routed to the same IOAPIC pins (identity, as
 * KVM's default GSI routing; 16..23 for MMIO devices), and LINT0=ExtINT,
 * LINT1=NMI.
 * Both checksums are valid. Fails if ncpus is 0 or > NB_MAX_VCPUS. */
int nb_mptable_write(const struct nb_guest_mem *mem, unsigned ncpus, struct nb_err *err);

/* Byte sum of buf[0..len), for checksums (the table is valid when 0). */
uint8_t nb_mptable_sum(const void *buf, size_t len);

#endif
