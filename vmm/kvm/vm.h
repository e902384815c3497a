/* A KVM virtual machine: the VM fd, guest memory, in-kernel irqchip and
 * PIT, the I/O buses, and one thread per vCPU. */
#ifndef NESTBOX_VMM_KVM_VM_H
#define NESTBOX_VMM_KVM_VM_H

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "vmm/kvm/bus.h"
#include "vmm/kvm/memory.h"
#include "nestbox/err.h"
#include "vmm/kvm/stop.h"
#include "vmm/kvm/x86_64/mptable.h"

/* Userspace exit counters per vCPU (in-kernel exits are in KVM's stats). */
struct nb_vcpu_stats {
	uint64_t runs; /* KVM_RUN returns */
	uint64_t pio;  /* port I/O exits */
	uint64_t mmio; /* MMIO exits */
	uint64_t other;
};

struct nb_vm;

struct nb_vcpu {
	struct nb_vm *vm;
	unsigned index;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
	pid_t tid; /* the thread's id once it runs (kicks target it); 0 before */
	struct nb_vcpu_stats stats;
};

struct nb_vm_config {
	unsigned ncpus;
	uint64_t mem_size;
	struct nb_mem_opts mem_opts; /* prealloc, hugetlb (memory.h) */
	const cpu_set_t *cpuset;     /* host CPUs the vCPU threads may run on; NULL: any */
	bool pvm_host;      /* the host's KVM is PVM (vmm/kvm/kvm.h): explains internal errors */
	bool mem_from_file; /* guest RAM from mem_fd (a snapshot's memory file) */
	int mem_fd;
};

struct nb_vm {
	int kvm_fd;
	int vm_fd;
	size_t run_size;
	uint32_t tsc_khz;
	struct nb_guest_mem mem;
	struct nb_bus pio;
	struct nb_bus mmio;
	struct nb_stop stop;
	unsigned ncpus;
	pid_t pid; /* the process that runs the vCPU threads (their kicks) */
	bool pvm_host;
	cpu_set_t cpuset; /* the vCPU threads' affinity */
	bool pinned;      /* ... if set */
	struct nb_vcpu vcpus[NB_MAX_VCPUS];
	/* Each vCPU thread runs it first, before its first guest instruction
	 * (vmm/run installs the thread's seccomp filter there); NULL: none. */
	void (*thread_init)(void *opaque);
	void *thread_init_opaque;
	/* Process CPU time and monotonic time when vCPU 0 first entered
	 * KVM_RUN: the VMM's start-up cost. */
	double ready_cpu_ms, ready_mono_ms;
	struct nb_vm_pause { /* nb_vm_pause: who holds at a safe point */
		pthread_mutex_t lock;
		pthread_cond_t cond;
		bool want;
		unsigned parked; /* threads held now */
		unsigned gone;   /* vCPU threads that ended */
	} pause;
};

/* Create the VM with its memory, irqchip, PIT and (not yet running) vCPUs,
 * each with its filtered CPUID. On failure everything is released. */
int nb_vm_create(struct nb_vm *vm, const struct nb_vm_config *cfg, struct nb_err *err);
void nb_vm_destroy(struct nb_vm *vm);

/* Put vCPU 0 at the 64-bit entry point (boot tables must be in memory). */
int nb_vm_setup_boot_cpu(struct nb_vm *vm, uint64_t entry, struct nb_err *err);

/* Drive an interrupt line of the in-kernel irqchip (nb_irq_set shape). */
void nb_vm_set_irq(void *vm, unsigned irq, bool level);

/* Start one thread per vCPU (created on the config's cpuset, if any); each
 * runs until the VM is asked to stop. */
int nb_vm_start(struct nb_vm *vm, struct nb_err *err);

/* A live snapshot's pause: every vCPU thread leaves KVM_RUN and holds
 * between two exits (its last one handled); other threads hold when they
 * call nb_vm_park (the device threads, at an event handler's boundary:
 * vmm/run asks them after this). */
void nb_vm_pause(struct nb_vm *vm);

/* Wait until the vCPUs and `others` more threads hold; -1 with err when
 * they do not within timeout_ms (a thread ended: the VM is stopping).
 * Either way nb_vm_resume follows. */
int nb_vm_pause_wait(struct nb_vm *vm, unsigned others, unsigned timeout_ms, struct nb_err *err);

/* On a thread that nb_vm_pause counts on: hold until nb_vm_resume (returns
 * at once when no pause is wanted). */
void nb_vm_park(struct nb_vm *vm);

/* Let every held thread go on. */
void nb_vm_resume(struct nb_vm *vm);

/* Make every vCPU leave KVM_RUN and wait for its thread. */
void nb_vm_stop_vcpus(struct nb_vm *vm);

#endif
