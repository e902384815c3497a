/* The vCPU thread: KVM_RUN in a loop, each exit handed to
 * nb_vcpu_handle_exit() (vcpu_exit.h). */
#ifndef NESTBOX_VMM_KVM_VCPU_H
#define NESTBOX_VMM_KVM_VCPU_H

#include <signal.h>
#include <stdbool.h>

#include "nestbox/err.h"

struct nb_vcpu;

/* Signal used to knock a vCPU thread out of KVM_RUN. */
#define NB_VCPU_KICK_SIGNAL (SIGRTMIN + 1)

/* Install the (empty) handler for the kick signal; once per process. */
int nb_vcpu_signal_setup(struct nb_err *err);

/* pthread entry; arg is the struct nb_vcpu. */
void *nb_vcpu_thread(void *arg);

/* Make the vCPU leave KVM_RUN and not enter it again. */
void nb_vcpu_kick(struct nb_vcpu *vcpu);

#endif
