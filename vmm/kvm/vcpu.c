#include "vmm/kvm/vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "vmm/kvm/vcpu_exit.h"
#include "vmm/kvm/vm.h"

static void kick_handler(int sig)
{
	(void)sig; /* only there to interrupt KVM_RUN with EINTR */
}

int nb_vcpu_signal_setup(struct nb_err *err)
{
	struct sigaction sa = { .sa_handler = kick_handler };

	sigemptyset(&sa.sa_mask);
	if (sigaction(NB_VCPU_KICK_SIGNAL, &sa, NULL) < 0)
		return nb_err_sys(err, "installing the vCPU kick handler");
	return 0;
}

void nb_vcpu_kick(struct nb_vcpu *vcpu)
{
	pid_t tid = __atomic_load_n(&vcpu->tid, __ATOMIC_SEQ_CST);

	/* immediate_exit covers a kick that lands just before KVM_RUN (or
	 * before the thread even ran: no tid yet). tgkill itself, not
	 * pthread_kill: the main thread's seccomp list allows it for this
	 * process and this signal only, and needs no getpid. */
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (tid > 0)
		syscall(SYS_tgkill, vcpu->vm->pid, tid, NB_VCPU_KICK_SIGNAL);
}

static double clock_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* nb_vm_pause wants this vCPU held: its last exit is handled; the
 * snapshot lets a pending port or MMIO read finish. After the pause the
 * kick's immediate_exit is cleared, unless a stop was asked meanwhile. */
static bool held(struct nb_vcpu *vcpu)
{
	struct nb_vm *vm = vcpu->vm;

	/* every exit passes here: no lock unless a pause is wanted */
	if (!__atomic_load_n(&vm->pause.want, __ATOMIC_ACQUIRE))
		return false;
	nb_vm_park(vm);
	if (!nb_stop_requested(&vm->stop))
		__atomic_store_n(&vcpu->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	return true;
}

void *nb_vcpu_thread(void *arg)
{
	struct nb_vcpu *vcpu = arg;
	struct nb_stop *stop = &vcpu->vm->stop;
	char name[16];

	__atomic_store_n(&vcpu->tid, gettid(), __ATOMIC_SEQ_CST);
	snprintf(name, sizeof(name), "nb-vcpu%u", vcpu->index);
	pthread_setname_np(pthread_self(), name);
	if (vcpu->vm->thread_init)
		vcpu->vm->thread_init(vcpu->vm->thread_init_opaque);
	if (vcpu->index == 0) {
		vcpu->vm->ready_cpu_ms = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
		vcpu->vm->ready_mono_ms = clock_ms(CLOCK_MONOTONIC);
	}

	for (;;) {
		if (held(vcpu))
			continue; /* a snapshot's pause ended: run on, unless a stop came */
		if (__atomic_load_n(&vcpu->run->immediate_exit, __ATOMIC_SEQ_CST))
			break;
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			nb_stop_request(stop, NB_STOP_ERROR, 0, "vCPU %u: KVM_RUN: %s", vcpu->index,
					strerror(errno));
			break;
		}
		vcpu->stats.runs++;
		if (!nb_vcpu_handle_exit(vcpu) || nb_stop_requested(stop))
			break;
	}
	pthread_mutex_lock(&vcpu->vm->pause.lock);
	vcpu->vm->pause.gone++;
	pthread_cond_broadcast(&vcpu->vm->pause.cond);
	pthread_mutex_unlock(&vcpu->vm->pause.lock);
	return NULL;
}
