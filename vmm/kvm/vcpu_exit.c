/* KVM exit decoding (vcpu_exit.h): the checks on every field KVM filled
 * before any of it is followed. */
#include "vmm/kvm/vcpu_exit.h"

#include <stdint.h>

#include "vmm/kvm/kvm.h"
#include "vmm/kvm/vm.h"

static bool handle_pio(struct nb_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint64_t size = run->io.size, count = run->io.count;
	uint64_t offset = run->io.data_offset;

	/* KVM fills these, but a bad value must not make us read past the page. */
	if ((size != 1 && size != 2 && size != 4) || count == 0 || offset > vcpu->vm->run_size ||
	    size * count > vcpu->vm->run_size - offset) {
		nb_stop_request(&vcpu->vm->stop, NB_STOP_ERROR, 0,
				"vCPU %u: malformed port I/O exit", vcpu->index);
		return false;
	}
	uint8_t *data = (uint8_t *)run + offset;
	for (uint64_t i = 0; i < count; i++)
		nb_bus_access(&vcpu->vm->pio, run->io.port, data + i * size, (uint32_t)size,
			      run->io.direction == KVM_EXIT_IO_OUT);
	vcpu->stats.pio++;
	return true;
}

static bool handle_mmio(struct nb_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;

	if (run->mmio.len == 0 || run->mmio.len > sizeof(run->mmio.data)) {
		nb_stop_request(&vcpu->vm->stop, NB_STOP_ERROR, 0, "vCPU %u: malformed MMIO exit",
				vcpu->index);
		return false;
	}
	nb_bus_access(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
		      run->mmio.is_write);
	vcpu->stats.mmio++;
	return true;
}

static bool handle_system_event(struct nb_vcpu *vcpu)
{
	struct nb_stop *stop = &vcpu->vm->stop;

	switch (vcpu->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
	case KVM_SYSTEM_EVENT_RESET:
		nb_stop_request(stop, NB_STOP_RESET, 0, "vCPU %u: the guest asked for a %s",
				vcpu->index,
				vcpu->run->system_event.type == KVM_SYSTEM_EVENT_RESET
					? "reset"
					: "shutdown");
		break;
	default:
		nb_stop_request(stop, NB_STOP_ERROR, 0, "vCPU %u: system event %u", vcpu->index,
				vcpu->run->system_event.type);
	}
	return false;
}

static bool handle_internal_error(struct nb_vcpu *vcpu)
{
	const char *hint = vcpu->vm->pvm_host ? nb_kvm_pvm_hint
					      : "the guest kernel crashed KVM's "
						"emulator; try another kernel";

	nb_stop_request(&vcpu->vm->stop, NB_STOP_ERROR, 0,
			"vCPU %u: KVM internal error (suberror %u): %s", vcpu->index,
			vcpu->run->internal.suberror, hint);
	return false;
}

bool nb_vcpu_handle_exit(struct nb_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	struct nb_stop *stop = &vcpu->vm->stop;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		return handle_pio(vcpu);
	case KVM_EXIT_MMIO:
		return handle_mmio(vcpu);
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC (test payloads): nothing can wake us. */
		nb_stop_request(stop, NB_STOP_ERROR, 0, "vCPU %u halted with nothing to wake it",
				vcpu->index);
		return false;
	case KVM_EXIT_SHUTDOWN:
		/* Triple fault: on a PC this resets the machine. Said apart from
		 * a reset the guest asks for: it prints nothing first. */
		nb_stop_request(stop, NB_STOP_RESET, 0,
				"vCPU %u triple-faulted (a fault it could not even report)",
				vcpu->index);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		return handle_system_event(vcpu);
	case KVM_EXIT_INTERNAL_ERROR:
		return handle_internal_error(vcpu);
	case KVM_EXIT_FAIL_ENTRY:
		nb_stop_request(stop, NB_STOP_ERROR, 0,
				"vCPU %u: VM entry failed (hardware reason 0x%llx)", vcpu->index,
				(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return false;
	default:
		vcpu->stats.other++;
		nb_stop_request(stop, NB_STOP_ERROR, 0, "vCPU %u: unexpected KVM exit reason %u",
				vcpu->index, run->exit_reason);
		return false;
	}
}
