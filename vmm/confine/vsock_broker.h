/* The vsock broker: a small process that does, for the confined VMM, the two
 * things virtio-vsock needs from the host's file system while the guest
 * runs: connect to the Unix socket PATH_<port> for a guest connection to
 * host port <port>, and remove the listening socket PATH at exit.
 *
 * Why a process: seccomp cannot look at a path, so a VMM thread allowed to
 * call connect(2) or unlink(2) could reach any socket (a container engine's)
 * or remove any file its uid may. The broker is forked before any guest
 * code runs, keeps its own copy of PATH, closes every other descriptor and
 * installs its own seccomp filter (read, sendmsg, an AF_UNIX stream socket,
 * connect, unlink, close, exit). The VMM only sends it a port number or
 * "unlink" over a socketpair and receives the connected socket back with
 * SCM_RIGHTS: what the VMM can make it do is connect to PATH_<u32> and
 * remove PATH (and the run's record), nothing else. It dies with the VMM (PR_SET_PDEATHSIG) and
 * when its socketpair closes. Host only. */
#ifndef NESTBOX_VMM_CONFINE_VSOCK_BROKER_H
#define NESTBOX_VMM_CONFINE_VSOCK_BROKER_H

#include <stdint.h>
#include <sys/types.h>

#include "nestbox/err.h"
#include "vmm/virtio/vsock.h"

struct nb_vsock_broker {
	pid_t pid; /* 0: not running */
	int fd;    /* the VMM's end of the socketpair; -1: none */
};

/* Fork the broker for the listener PATH (single-threaded caller). record:
 * this run's record (vmm/run/records.h), removed with PATH at exit (the confined VMM
 * cannot), or NULL. */
int nb_vsock_broker_start(struct nb_vsock_broker *b, const char *path, const char *record,
			  struct nb_err *err);

/* The device's struct nb_vsock_host for b. */
struct nb_vsock_host nb_vsock_broker_host(struct nb_vsock_broker *b);

/* Close the VMM's end: the broker exits. */
void nb_vsock_broker_stop(struct nb_vsock_broker *b);

#endif
