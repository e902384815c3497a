#include "vmm/kvm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vmm/kvm/kvm.h"
#include "nestbox/cleanup.h"
#include "vmm/kvm/vcpu.h"
#include "vmm/kvm/x86_64/cpuid.h"
#include "vmm/kvm/x86_64/layout.h"
#include "vmm/kvm/x86_64/regs.h"

/* KVM on Intel needs three pages for the real-mode TSS and one for the EPT
 * identity map, somewhere the guest never uses: just below the BIOS area. */
#define TSS_GPA 0xfffbd000ull
#define IDENTITY_MAP_GPA 0xfffbc000ull

static int check_extension(struct nb_vm *vm, long cap)
{
	return ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, cap);
}

static int create_vm_fd(struct nb_vm *vm, struct nb_err *err)
{
	static const struct {
		long cap;
		const char *name;
	} required[] = {
		{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
		{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
		{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
		{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
		{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
		{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
	};

	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (check_extension(vm, required[i].cap) <= 0)
			return nb_err_set(err, 0, "this host's KVM lacks %s, which nestbox needs",
					  required[i].name);
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return nb_err_sys(err, "KVM_CREATE_VM");
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, TSS_GPA) < 0)
		return nb_err_sys(err, "KVM_SET_TSS_ADDR");
	uint64_t identity = IDENTITY_MAP_GPA;
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0)
		return nb_err_sys(err, "KVM_SET_IDENTITY_MAP_ADDR");
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return nb_err_sys(err, "KVM_CREATE_IRQCHIP");
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return nb_err_sys(err, "KVM_CREATE_PIT2");
	return 0;
}

static int map_memory(struct nb_vm *vm, const struct nb_vm_config *cfg, struct nb_err *err)
{
	if ((cfg->mem_from_file
		     ? nb_mem_map_file(&vm->mem, cfg->mem_size, cfg->mem_fd, &cfg->mem_opts, err)
		     : nb_mem_map(&vm->mem, cfg->mem_size, &cfg->mem_opts, err)) < 0)
		return -1;
	for (unsigned i = 0; i < vm->mem.nregions; i++) {
		struct kvm_userspace_memory_region region = {
			.slot = i,
			.guest_phys_addr = vm->mem.regions[i].gpa,
			.memory_size = vm->mem.regions[i].size,
			.userspace_addr = (uint64_t)(uintptr_t)vm->mem.regions[i].host,
		};
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
			return nb_err_sys(err, "KVM_SET_USER_MEMORY_REGION slot %u", i);
	}
	return 0;
}

static struct kvm_cpuid2 *alloc_cpuid(unsigned nent)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));

	if (c)
		c->nent = nent;
	return c;
}

static struct kvm_cpuid2 *get_supported_cpuid(struct nb_vm *vm, struct nb_err *err)
{
	struct kvm_cpuid2 *c = alloc_cpuid(NB_CPUID_MAX_ENTRIES);

	if (!c) {
		nb_err_set(err, ENOMEM, "allocating CPUID");
		return NULL;
	}
	if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		nb_err_sys(err, "KVM_GET_SUPPORTED_CPUID");
		free(c);
		return NULL;
	}
	return c;
}

/* The LAPIC's LINT0 delivers the PIC's ExtINT and LINT1 NMIs, as on a PC;
 * the MP table says the same. */
static int setup_lapic(struct nb_vcpu *vcpu, struct nb_err *err)
{
	enum { LVT_LINT0 = 0x350, LVT_LINT1 = 0x360, MODE_EXTINT = 0x7 << 8, MODE_NMI = 0x4 << 8 };
	struct kvm_lapic_state lapic;
	uint32_t lint0 = MODE_EXTINT, lint1 = MODE_NMI;

	if (ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic) < 0)
		return nb_err_sys(err, "KVM_GET_LAPIC");
	memcpy(&lapic.regs[LVT_LINT0], &lint0, sizeof(lint0));
	memcpy(&lapic.regs[LVT_LINT1], &lint1, sizeof(lint1));
	if (ioctl(vcpu->fd, KVM_SET_LAPIC, &lapic) < 0)
		return nb_err_sys(err, "KVM_SET_LAPIC");
	return 0;
}

static int setup_cpuid(struct nb_vm *vm, struct nb_vcpu *vcpu, const struct kvm_cpuid2 *supported,
		       struct nb_err *err)
{
	cleanup_free struct kvm_cpuid2 *cpuid = alloc_cpuid(NB_CPUID_MAX_ENTRIES);

	if (!cpuid)
		return nb_err_set(err, ENOMEM, "allocating CPUID");
	if (nb_cpuid_filter(supported, vcpu->index, vm->ncpus, vm->tsc_khz, cpuid, err) < 0)
		return -1;
	/* KVM emulates the TSC-deadline timer but does not list it as supported. */
	if (check_extension(vm, KVM_CAP_TSC_DEADLINE_TIMER) > 0) {
		struct kvm_cpuid_entry2 *leaf1 = nb_cpuid_find(cpuid, 1, 0);
		if (leaf1)
			leaf1->ecx |= 1u << 24;
	}
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid) < 0)
		return nb_err_sys(err, "KVM_SET_CPUID2 on vCPU %u", vcpu->index);
	return 0;
}

static int setup_fpu(struct nb_vcpu *vcpu, struct nb_err *err)
{
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };

	if (ioctl(vcpu->fd, KVM_SET_FPU, &fpu) < 0)
		return nb_err_sys(err, "KVM_SET_FPU");
	return 0;
}

static int create_vcpu(struct nb_vm *vm, unsigned index, struct nb_err *err)
{
	struct nb_vcpu *vcpu = &vm->vcpus[index];
	void *run;

	vcpu->vm = vm;
	vcpu->index = index;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (vcpu->fd < 0)
		return nb_err_sys(err, "KVM_CREATE_VCPU %u", index);
	run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (run == MAP_FAILED)
		return nb_err_sys(err, "mapping kvm_run of vCPU %u", index);
	vcpu->run = run;
	return 0;
}

static int configure_vcpu(struct nb_vm *vm, struct nb_vcpu *vcpu,
			  const struct kvm_cpuid2 *supported, struct nb_err *err)
{
	if (setup_cpuid(vm, vcpu, supported, err) < 0 || setup_lapic(vcpu, err) < 0 ||
	    setup_fpu(vcpu, err) < 0)
		return nb_err_wrap(err, "vCPU %u", vcpu->index);
	return 0;
}

static int create_vcpus(struct nb_vm *vm, struct nb_err *err)
{
	cleanup_free struct kvm_cpuid2 *supported = NULL;
	int size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);

	if (size < (int)sizeof(struct kvm_run))
		return nb_err_sys(err, "KVM_GET_VCPU_MMAP_SIZE");
	vm->run_size = (size_t)size;
	supported = get_supported_cpuid(vm, err);
	if (!supported)
		return -1;
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (create_vcpu(vm, i, err) < 0)
			return -1;
	/* The guest's TSC frequency goes into CPUID so it never calibrates. */
	int khz = ioctl(vm->vcpus[0].fd, KVM_GET_TSC_KHZ, 0);
	vm->tsc_khz = khz > 0 ? (uint32_t)khz : 0;
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (configure_vcpu(vm, &vm->vcpus[i], supported, err) < 0)
			return -1;
	return 0;
}

int nb_vm_create(struct nb_vm *vm, const struct nb_vm_config *cfg, struct nb_err *err)
{
	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = -1;
	vm->pause.lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	vm->pause.cond = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
	for (unsigned i = 0; i < NB_MAX_VCPUS; i++)
		vm->vcpus[i].fd = -1;
	if (nb_stop_init(&vm->stop, err) < 0)
		return -1;
	if (cfg->ncpus == 0 || cfg->ncpus > NB_MAX_VCPUS) {
		nb_vm_destroy(vm);
		return nb_err_set(err, 0, "--cpus %u is out of range: use 1 to %u", cfg->ncpus,
				  NB_MAX_VCPUS);
	}
	vm->ncpus = cfg->ncpus;
	vm->pvm_host = cfg->pvm_host;
	vm->pinned = cfg->cpuset != NULL;
	if (cfg->cpuset)
		vm->cpuset = *cfg->cpuset;
	vm->kvm_fd = nb_kvm_open(err);
	if (vm->kvm_fd < 0 || create_vm_fd(vm, err) < 0 || map_memory(vm, cfg, err) < 0 ||
	    create_vcpus(vm, err) < 0) {
		nb_vm_destroy(vm);
		return -1;
	}
	return 0;
}

void nb_vm_destroy(struct nb_vm *vm)
{
	for (unsigned i = 0; i < NB_MAX_VCPUS; i++) {
		struct nb_vcpu *vcpu = &vm->vcpus[i];
		if (vcpu->run)
			munmap(vcpu->run, vm->run_size);
		if (vcpu->fd >= 0)
			close(vcpu->fd);
		vcpu->run = NULL;
		vcpu->fd = -1;
	}
	nb_mem_unmap(&vm->mem);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->vm_fd = vm->kvm_fd = -1;
	nb_stop_destroy(&vm->stop);
}

int nb_vm_setup_boot_cpu(struct nb_vm *vm, uint64_t entry, struct nb_err *err)
{
	struct nb_vcpu *bsp = &vm->vcpus[0];
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (nb_x86_write_boot_tables(&vm->mem, err) < 0)
		return -1;
	if (ioctl(bsp->fd, KVM_GET_SREGS, &sregs) < 0)
		return nb_err_sys(err, "KVM_GET_SREGS");
	nb_x86_boot_sregs(&sregs);
	if (ioctl(bsp->fd, KVM_SET_SREGS, &sregs) < 0)
		return nb_err_sys(err, "KVM_SET_SREGS");
	nb_x86_boot_regs(&regs, entry);
	if (ioctl(bsp->fd, KVM_SET_REGS, &regs) < 0)
		return nb_err_sys(err, "KVM_SET_REGS");
	return 0;
}

void nb_vm_set_irq(void *opaque, unsigned irq, bool level)
{
	struct nb_vm *vm = opaque;
	struct kvm_irq_level line = { .irq = irq, .level = level };

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &line) < 0)
		nb_stop_request(&vm->stop, NB_STOP_ERROR, 0, "KVM_IRQ_LINE %u: %s", irq,
				strerror(errno));
}

int nb_vm_start(struct nb_vm *vm, struct nb_err *err)
{
	pthread_attr_t attr;
	int rc;

	if (nb_vcpu_signal_setup(err) < 0)
		return -1;
	if ((rc = pthread_attr_init(&attr)) != 0)
		return nb_err_set(err, rc, "vCPU thread attributes");
	/* --cpuset-cpus: each vCPU thread starts on the set (checked against
	 * the host's online CPUs by the caller). */
	if (vm->pinned &&
	    (rc = pthread_attr_setaffinity_np(&attr, sizeof(vm->cpuset), &vm->cpuset)) != 0) {
		pthread_attr_destroy(&attr);
		return nb_err_set(err, rc, "--cpuset-cpus: vCPU thread affinity");
	}
	vm->pid = getpid();
	for (unsigned i = 0; i < vm->ncpus && rc == 0; i++) {
		struct nb_vcpu *vcpu = &vm->vcpus[i];

		rc = pthread_create(&vcpu->thread, &attr, nb_vcpu_thread, vcpu);
		if (rc != 0) /* the caller stops the ones started */
			nb_err_set(err, rc, "starting vCPU %u thread", i);
		vcpu->thread_started = rc == 0;
	}
	pthread_attr_destroy(&attr);
	return rc ? -1 : 0;
}

void nb_vm_pause(struct nb_vm *vm)
{
	pthread_mutex_lock(&vm->pause.lock);
	__atomic_store_n(&vm->pause.want, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&vm->pause.lock);
	for (unsigned i = 0; i < vm->ncpus; i++)
		nb_vcpu_kick(&vm->vcpus[i]);
}

int nb_vm_pause_wait(struct nb_vm *vm, unsigned others, unsigned timeout_ms, struct nb_err *err)
{
	struct timespec until;
	bool held;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&vm->pause.lock);
	while (rc == 0 && !vm->pause.gone && vm->pause.parked < vm->ncpus + others)
		rc = pthread_cond_timedwait(&vm->pause.cond, &vm->pause.lock, &until);
	held = !vm->pause.gone && vm->pause.parked == vm->ncpus + others;
	pthread_mutex_unlock(&vm->pause.lock);
	if (!held)
		return nb_err_set(err, 0, "the VM did not pause within %u ms (is it stopping?)",
				  timeout_ms);
	return 0;
}

void nb_vm_park(struct nb_vm *vm)
{
	pthread_mutex_lock(&vm->pause.lock);
	if (vm->pause.want) {
		vm->pause.parked++;
		pthread_cond_broadcast(&vm->pause.cond);
		while (vm->pause.want)
			pthread_cond_wait(&vm->pause.cond, &vm->pause.lock);
		vm->pause.parked--;
	}
	pthread_mutex_unlock(&vm->pause.lock);
}

void nb_vm_resume(struct nb_vm *vm)
{
	pthread_mutex_lock(&vm->pause.lock);
	__atomic_store_n(&vm->pause.want, false, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&vm->pause.cond);
	pthread_mutex_unlock(&vm->pause.lock);
}

void nb_vm_stop_vcpus(struct nb_vm *vm)
{
	nb_stop_request(&vm->stop, NB_STOP_HOST, 0, NULL);
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vm->vcpus[i].thread_started)
			nb_vcpu_kick(&vm->vcpus[i]);
	for (unsigned i = 0; i < vm->ncpus; i++) {
		if (vm->vcpus[i].thread_started)
			pthread_join(vm->vcpus[i].thread, NULL);
		vm->vcpus[i].thread_started = false;
	}
}
