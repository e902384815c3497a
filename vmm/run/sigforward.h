/* Host signals for the workload: nestbox's INT, TERM, HUP, QUIT, USR1,
 * USR2 and WINCH go to the guest over the console's signal port
 * (include/nestbox/abi.h), so the workload decides what they mean, as with
 * `docker run`. With -t, WINCH sends the terminal's new size instead.
 *
 * Safety net: a signal the guest cannot take (its signal port is closed,
 * i.e. no nestbox-init is listening, or messages pile up unread) stops the
 * VM as before, with 128+N; so does an INT or TERM arriving within
 * NB_SIGFORWARD_FORCE_MS of a previous one ("press Ctrl-C again"). WINCH
 * never stops the VM.
 */
#ifndef NESTBOX_VMM_RUN_SIGFORWARD_H
#define NESTBOX_VMM_RUN_SIGFORWARD_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/report.h"

#define NB_SIGFORWARD_FORCE_MS 3000.0

/* The OCI start gate (include/nestbox/abi.h): `nestbox start` sends this
 * signal to the VMM, which passes NB_SIGMSG_START to the guest, held until
 * nestbox-init listens, after the terminal's size with -t. Only runs with
 * a start gate handle it. Until then there is no workload to take a
 * signal: any other one but WINCH stops the VM with 128+N (a created
 * container is killed, as runc and crun do), whether or not the guest
 * listens yet. Not NB_VCPU_KICK_SIGNAL (vmm/kvm/vcpu.h): the event loop
 * blocks this one in every thread, and a blocked kick never takes a vCPU
 * out of KVM_RUN. */
#define NB_SIGNAL_START (SIGRTMIN + 2)

/* `nestbox update --memory` (vmm/run/monitor.h): the monitor queues this
 * signal (sigqueue) with the container's new memory limit in 4 KiB pages;
 * the VMM, when its run set memory.ram, checks it
 * (nb_memory_update_check), sets the balloon's target to what that limit
 * leaves over (nb_balloon_for_limit) and sends the limit to nestbox-init
 * (NB_SIGMSG_MEMORY, held until it listens). A bad value is reported and
 * dropped; it never stops the VM. */
#define NB_SIGNAL_MEMORY (SIGRTMIN + 3)

/* `nestbox snapshot` (vmm/run/monitor.h): the monitor sends this signal
 * to a detached VMM whose run can be snapshotted (nb_run_snapshot_refusal);
 * the VMM holds the VM at a safe point, saves it into the files it opened
 * at start and lets it go on (snapshot.fn). */
#define NB_SIGNAL_SNAPSHOT (SIGRTMIN + 4)

struct nb_console;
struct nb_balloon;

struct nb_sigforward {
	struct nb_console *con;
	bool tty;            /* -t: WINCH becomes a window size */
	bool start_gate;     /* NB_SIGNAL_START releases the workload */
	bool started;        /* with start_gate: NB_SIGNAL_START came */
	double last_stop_ms; /* CLOCK_MONOTONIC of the last INT/TERM forwarded; 0 none */
	struct {             /* NB_SIGNAL_MEMORY; ram 0: not handled */
		uint64_t ram, boot_limit, reservation; /* nb_memory_update_check's */
		struct nb_balloon *balloon;            /* NULL: none (--memory-prealloc) */
		const struct nb_report *report;        /* where a refused value is told */
	} memory;
	struct { /* NB_SIGNAL_SNAPSHOT; fn NULL: not handled */
		void (*fn)(void *opaque);
		void *opaque;
	} snapshot;
};

/* loop->forward_signal (vmm/kvm/event.h), opaque a struct nb_sigforward. On
 * the main thread: returns true when the signal was handed to the guest
 * (or, for WINCH, dealt with), false when the VM should stop with 128+signo.
 * value: sigqueue's (NB_SIGNAL_MEMORY). */
bool nb_sigforward(void *opaque, int signo, uint32_t value);

#endif
