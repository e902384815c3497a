/* Decoding a vCPU's KVM exit: what KVM_RUN left in the vCPU's kvm_run
 * becomes port-I/O or MMIO accesses on the VM's buses, or a stop reason.
 * No KVM call is made here, so tests and fuzzers feed it a kvm_run they
 * wrote themselves (vcpu->run pointing at vm->run_size bytes of it). */
#ifndef NESTBOX_VMM_KVM_VCPU_EXIT_H
#define NESTBOX_VMM_KVM_VCPU_EXIT_H

#include <stdbool.h>

struct nb_vcpu;

/* Handle the exit now in vcpu->run, using vcpu->vm's buses, stop latch,
 * run_size and pvm_host, and count it in vcpu->stats. Every field of the
 * exit is checked before it is followed (a data offset and length past
 * run_size is an error, not an access). Returns false when the vCPU must
 * stop; a stop reason is then latched. */
bool nb_vcpu_handle_exit(struct nb_vcpu *vcpu);

#endif
