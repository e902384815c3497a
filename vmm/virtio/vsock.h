/* virtio-vsock (device id 19), userspace, bridged to host Unix sockets in
 * Firecracker's hybrid style:
 *   - the VMM listens on the Unix socket PATH; a host client connects and
 *     writes "CONNECT <port>\n"; once the guest accepted it reads
 *     "OK <host_port>\n" and bytes flow both ways (closed on RST);
 *   - a guest connection to CID 2 (the host) port P connects to the Unix
 *     socket "PATH_P" (nothing listening there: RST).
 * Queues: 0 rx (device -> driver), 1 tx (driver -> device), 2 event
 * (a transport reset, announced once after a restore: the guest's
 * connections were the saved VMM's).
 *
 * Flow control per virtio 1.2, 5.10.6.3: every packet carries our buf_alloc
 * (NB_VSOCK_CONN_BUF) and fwd_cnt; the host never sends the guest more than
 * its credit (buf_alloc - (tx_cnt - fwd_cnt)); a guest that sends beyond
 * ours is reset. Resources are bounded per VM: NB_VSOCK_MAX_CONNS
 * connections, NB_VSOCK_CONN_BUF bytes of guest->host buffering each
 * (allocated only while a host socket is slow), NB_VSOCK_MAX_RST pending
 * resets. All fd work runs on the event thread through one inner epoll set
 * that takes a single slot of the VMM's event loop. */
#ifndef NESTBOX_VIRTIO_VSOCK_H
#define NESTBOX_VIRTIO_VSOCK_H

#include <stdint.h>
#include <sys/un.h>

#include "vmm/kvm/event.h"
#include "vmm/virtio/virtio.h"

#define NB_VSOCK_HOST_CID 2u
#define NB_VSOCK_DEFAULT_CID 3u
#define NB_VSOCK_MAX_CONNS 64u
#define NB_VSOCK_CONN_BUF (64u << 10)
#define NB_VSOCK_MAX_PKT (64u << 10) /* largest RW payload accepted */
#define NB_VSOCK_MAX_RST 64u
#define NB_VSOCK_LINE_MAX 32u /* "CONNECT <port>\n" */
#define NB_VSOCK_HDR_SIZE 44u

struct nb_vsock;

/* How the device reaches the host's file system once the VMM is confined:
 * connect to PATH_<port> (returns a connected, non-blocking, close-on-exec
 * stream socket, or -1 with errno) and remove PATH at exit. NULL in the
 * options: the device does both itself (socket, connect, unlink), as the
 * tests do. nestbox gives a broker process (vmm/confine/vsock_broker.h), so the
 * VMM's seccomp lists need neither connect nor unlink. */
struct nb_vsock_host {
	int (*connect_port)(void *opaque, uint32_t port);
	void (*unlink_listener)(void *opaque);
	void *opaque;
};

struct nb_vsock_opts {
	const char *uds_path;             /* listening socket; guest ports at PATH_<port> */
	uint64_t guest_cid;               /* 3 .. 2^32 - 2 */
	const struct nb_vsock_host *host; /* NULL: direct */
};

/* State without a VM: validates opts, creates the listener and the inner
 * epoll set. */
int nb_vsock_open(const struct nb_vsock_opts *opts, struct nb_vsock **out, struct nb_err *err);
/* The state's virtio device (tests put it on a transport of their own). */
struct nb_virtio_dev *nb_vsock_dev(struct nb_vsock *vs);
/* The inner epoll descriptor (readable when a socket has work). */
int nb_vsock_poll_fd(const struct nb_vsock *vs);
/* Handle every ready socket (event thread; takes the device lock). */
void nb_vsock_poll(struct nb_vsock *vs);
/* Close every socket, unlink the listener, free. NULL is fine. */
void nb_vsock_close(struct nb_vsock *vs);

/* Live connections (tests, diagnostics). */
unsigned nb_vsock_nconns(const struct nb_vsock *vs);

/* The address of the host listener for guest connections to port: PATH_port.
 * -1 (ENAMETOOLONG) when it does not fit. */
int nb_vsock_port_path(const char *path, uint32_t port, struct sockaddr_un *addr);

/* The listening socket (the VMM's seccomp list matches accept4 on it); -1
 * without a PATH. */
int nb_vsock_listen_fd(const struct nb_vsock *vs);

/* Create the device on transport t, served on loop. *out is for
 * nb_vsock_close() at exit. */
int nb_virtio_vsock_add(struct nb_virtio_transport *t, struct nb_event_loop *loop,
			const struct nb_vsock_opts *opts, struct nb_vsock **out,
			struct nb_err *err);

#endif
