/* nestbox guest<->host ABI: the one header both sides build against.
 *
 * Everything the VMM and nestbox-init must agree on lives here: the exit
 * device, the workload spec format and the exit-status convention. Bump
 * NB_ABI_VERSION on every incompatible change. Fields are fixed width; the
 * host treats every value it reads from the guest as hostile.
 */
#ifndef NESTBOX_ABI_H
#define NESTBOX_ABI_H

#include <stdint.h>

#define NB_ABI_VERSION 3

/* ---- exit device ---------------------------------------------------------
 * A 4-byte port-I/O register. nestbox-init writes one 32-bit value
 *   NB_EXIT_MAGIC | status          (status 0..255)
 * after the workload has finished and its output is flushed; the VMM stops
 * every vCPU and exits with `status`. Any other value, width or port offset
 * is a protocol violation the VMM reports as its own error (125).
 * Reading the register returns NB_EXIT_MAGIC | NB_ABI_VERSION, so a payload
 * can check it is talking to a nestbox VMM.
 */
#define NB_EXIT_PORT 0x0510u
#define NB_EXIT_PORT_LEN 4u
#define NB_EXIT_MAGIC 0x4e420000u /* "NB" in the high half */
#define NB_EXIT_MAGIC_MASK 0xffff0000u
#define NB_EXIT_STATUS_MASK 0x000000ffu

/* ---- exit device: the OOM flag (ABI 2, issue 15) --------------------------
 * From NB_ABI_VERSION 2 the value written may also carry
 *   NB_EXIT_FLAG_OOM                 the container's cgroup counted an
 *                                    OOM kill (memory.events oom_kill)
 * next to the status. nestbox-init sets it only when the register read back
 * a version >= NB_EXIT_OOM_SINCE; the VMM takes any other bit in
 * NB_EXIT_FLAGS_MASK ~ NB_EXIT_FLAG_OOM as a violation. The VMM reports the
 * flag to its monitor (`inspect`'s State.OOMKilled, the "oom" event).
 */
#define NB_EXIT_OOM_SINCE 2u
#define NB_EXIT_FLAG_OOM 0x00000100u
#define NB_EXIT_FLAGS_MASK 0x0000ff00u

/* ---- exit device: template ready (ABI 3, issue 16) -----------------------
 * A template boot's nestbox-init writes exactly NB_EXIT_MAGIC | NB_EXIT_READY
 * (no status, no other flag) once the workload's root is assembled and it is
 * about to read the workload spec from the stdin port (below); the VMM
 * pauses every vCPU there and saves the snapshot. In any other run the value
 * is a protocol violation.
 */
#define NB_EXIT_READY 0x00000200u

/* ---- exit status convention (Docker's) -------------------------------- */
enum nb_status {
	NB_STATUS_OK = 0,
	NB_STATUS_TIMEOUT = 124,     /* --timeout expired, VM killed */
	NB_STATUS_ERROR = 125,       /* nestbox (host or nestbox-init) failed */
	NB_STATUS_CANNOT_EXEC = 126, /* command found but not executable */
	NB_STATUS_NOT_FOUND = 127,   /* command not found */
	NB_STATUS_SIGNAL_BASE = 128, /* 128+N: workload killed by signal N */
};

/* ---- workload spec -------------------------------------------------------
 * A flattened device tree (libfdt) at NB_SPEC_PATH in the initramfs, written
 * by the host, read by nestbox-init. Root node properties:
 *   NB_SPEC_VERSION  u32     must equal NB_SPEC_FORMAT
 *   NB_SPEC_ARGV     strlist command and arguments (NUL-separated), >= 1
 *   NB_SPEC_ENV      strlist KEY=VALUE entries (NUL-separated), optional
 *   NB_SPEC_ROOTFS   string  absolute path of the workload's root inside the
 *                            guest ("/" runs it in the initramfs root)
 * argv entries are non-empty; env entries are NAME=value with a non-empty
 * NAME. Every property is bounded by the limits below; nestbox-init rejects
 * a spec that breaks one, or repeats a property, and reports
 * NB_STATUS_ERROR. Unknown properties are ignored (bump NB_SPEC_FORMAT for
 * incompatible changes).
 */
#define NB_SPEC_PATH "/nestbox/spec.dtb"
#define NB_SPEC_FORMAT 4u
#define NB_SPEC_VERSION "nestbox,version"
#define NB_SPEC_ARGV "argv"
#define NB_SPEC_ENV "env"
#define NB_SPEC_ROOTFS "rootfs"

/* Container properties (format 2), all optional; see container/:
 *   NB_SPEC_HOSTNAME  string  1..64 bytes of [A-Za-z0-9.-]   (none: "nestbox")
 *   NB_SPEC_WORKDIR   string  absolute path, created if missing (none: "/")
 *   NB_SPEC_USER      string  "user[:group]", each a name or a decimal id,
 *                             resolved in the image's /etc/passwd, /etc/group
 *   NB_SPEC_CAPS      u64     capability mask (bit n = CAP n, n <= NB_SPEC_CAP_LAST)
 *                             for bounding/permitted/effective/inheritable/ambient
 *                             (none: Docker's default set, NB_CAPS_DEFAULT)
 *   NB_SPEC_RLIMITS   bytes   records of be32 resource, be64 soft, be64 hard
 *                             (resource < NB_SPEC_MAX_RLIMITS, soft <= hard,
 *                             each resource once); replace the guest defaults
 *   NB_SPEC_MEMORY_MAX u64    cgroup memory.max in bytes (>= NB_SPEC_MIN_MEMORY)
 *   NB_SPEC_SWAP_MAX  u64     memory.swap.max in bytes (only with memory.max)
 *   NB_SPEC_CPU_MAX   2 x u32 cpu.max quota and period in microseconds
 *                             (period 1000..1000000, quota >= 1000)
 *   NB_SPEC_PIDS_MAX  u64     pids.max (>= 1)
 *   NB_SPEC_MEMORY_LOW u64    memory.low in bytes (>= 1; <= memory.max if set)
 *   NB_SPEC_CPU_WEIGHT u32    cpu.weight, 1..10000
 *   NB_SPEC_NAMESPACES u32    extra namespaces: NB_NS_NET | NB_NS_USER
 *   NB_SPEC_READONLY  u32     0 or 1: root file system mounted read-only
 *   NB_SPEC_TMPFS     strlist PATH[:OPTIONS] (common/tmpfs.h) that get a fresh tmpfs (<= 64)
 *   NB_SPEC_SECCOMP   bytes   classic BPF (struct sock_filter, 8 bytes each,
 *                             1..NB_SPEC_MAX_BPF instructions), host byte order
 */
#define NB_SPEC_HOSTNAME "hostname"
#define NB_SPEC_WORKDIR "workdir"
#define NB_SPEC_USER "user"
#define NB_SPEC_CAPS "capabilities"
#define NB_SPEC_RLIMITS "rlimits"
#define NB_SPEC_MEMORY_MAX "memory.max"
#define NB_SPEC_SWAP_MAX "memory.swap.max"
#define NB_SPEC_CPU_MAX "cpu.max"
#define NB_SPEC_PIDS_MAX "pids.max"
#define NB_SPEC_MEMORY_LOW "memory.low"
#define NB_SPEC_CPU_WEIGHT "cpu.weight"
#define NB_SPEC_MAX_CPU_WEIGHT 10000u
#define NB_SPEC_NAMESPACES "namespaces"
#define NB_SPEC_READONLY "readonly"
#define NB_SPEC_TMPFS "tmpfs"
#define NB_SPEC_SECCOMP "seccomp"

/* Docker's --init (optional, 0 or 1; container/reaper.c): PID 1 of the
 * container is a small init that starts argv as its child, forwards the
 * signals it gets to it, reaps every orphan and exits with the child's
 * status (128+N when signal N killed it). Absent or 0: argv is PID 1. */
#define NB_SPEC_INIT "init"

/* The workload's PATH when neither the image nor the command line sets
 * one (Docker's): the host puts it in the spec, nestbox-init falls back to
 * it, a template's preload looks programs up on it. */
#define NB_DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#define NB_SPEC_MAX_HOSTNAME 64u
#define NB_SPEC_MAX_PATH 4096u
#define NB_SPEC_MAX_USER 256u
#define NB_SPEC_CAP_LAST 40u
#define NB_SPEC_MAX_RLIMITS 16u /* RLIM_NLIMITS */
#define NB_SPEC_RLIMIT_RECORD 20u
#define NB_SPEC_MIN_MEMORY (1u << 20)
#define NB_SPEC_MAX_TMPFS 64u
#define NB_SPEC_MAX_BPF 4096u /* BPF_MAXINSNS */
#define NB_SPEC_BPF_INSN 8u

#define NB_NS_NET 0x1u
#define NB_NS_USER 0x2u

/* Docker's default capabilities: CHOWN DAC_OVERRIDE FOWNER FSETID KILL
 * SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD
 * AUDIT_WRITE SETFCAP (bits 0 1 3 4 5 6 7 8 10 13 18 27 29 31). */
#define NB_CAPS_DEFAULT 0xa80425fbull

#define NB_SPEC_MAX_SIZE (1u << 20) /* whole blob */
#define NB_SPEC_MAX_ARGS 4096u      /* entries in argv or env */
#define NB_SPEC_MAX_STRING 65536u   /* one argv/env entry, one path */

/* Volumes (virtio-blk disks and virtio-fs shares the guest mounts), optional:
 *   NB_SPEC_VOLUMES   strlist "ID:MODE:PATH" entries (<= NB_SPEC_MAX_VOLUMES):
 *                             MODE "ro" or "rw": a disk, ID its virtio-blk
 *                             serial (GET_ID, /sys/block/vdX/serial);
 *                             MODE "fs-ro" or "fs-rw" (format 4): a shared
 *                             host directory, ID its virtio-fs tag (the
 *                             source of `mount -t virtiofs`);
 *                             ID 1..20 of [A-Za-z0-9_-]; PATH absolute, no
 *                             ".." component, where it is mounted under the
 *                             rootfs.
 * nestbox-init mounts each, in order, before the workload starts: a disk as
 * ext4, else erofs; a share as virtiofs (read-only for fs-ro; the host
 * refuses writes to it all the same).
 */
#define NB_SPEC_VOLUMES "volumes"
#define NB_SPEC_MAX_VOLUMES 16u
#define NB_VOLUME_SERIAL_MAX 20u /* VIRTIO_BLK_ID_BYTES; also the longest share tag */
#define NB_VOLUME_MODE_FS "fs-"  /* prefix of a share's MODE */

/* Network (virtio-net eth0), optional; nestbox-init brings lo and eth0 up
 * over rtnetlink before the workload starts:
 *   NB_SPEC_NET_IPV4     2 x u32  eth0's IPv4 address (host byte order value,
 *                                 so the FDT bytes are network order) and
 *                                 prefix length 1..32
 *   NB_SPEC_NET_GATEWAY  u32      default route via this address (only with
 *                                 NB_SPEC_NET_IPV4)
 *   NB_SPEC_NET_DNS      strlist  1..NB_SPEC_MAX_DNS dotted IPv4 nameservers
 *                                 (only with NB_SPEC_NET_IPV4): nestbox-init
 *                                 writes them as the container's
 *                                 /etc/resolv.conf (replacing the image's,
 *                                 never through a symlink)
 *   NB_SPEC_NET_MAC      6 bytes  eth0's MAC address (unicast, not zero):
 *                                 nestbox-init sets it before eth0 goes up,
 *                                 with or without NB_SPEC_NET_IPV4 (a clone
 *                                 of a template gets its own here, the NIC
 *                                 having been probed with the template's)
 */
/* Terminal (-t), optional:
 *   NB_SPEC_TTY  2 x u32  rows and columns of the workload's pty at start:
 *                         both 0 (size unknown) or each 1..NB_WINSIZE_MAX.
 * Present: the workload's stdin/stdout/stderr are the slave of a pty from
 * the container's own devpts, its controlling terminal; nestbox-init relays
 * the master to the stdin and stdout ports (stderr merged, as Docker does).
 */
#define NB_SPEC_TTY "tty"

/* Warm start (issue 16), all optional:
 *   NB_SPEC_TEMPLATE  u32      1: a template boot. nestbox-init sets up the
 *                              root (layers, volumes, network), reports
 *                              NB_EXIT_READY, then reads the workload's
 *                              spec from the NB_PORT_STDIN port: le32 length
 *                              (1..NB_SPEC_MAX_SIZE), then that many bytes
 *                              (a spec in this format, without
 *                              NB_SPEC_TEMPLATE, whose rootfs is the
 *                              template's); the port's later bytes are the
 *                              workload's stdin. That spec's network
 *                              (NB_SPEC_NET_*) is set up then: a
 *                              template's eth0 stays down until its clone's
 *                              MAC and addresses come.
 *   NB_SPEC_SEED      bytes    NB_SPEC_SEED_LEN bytes of fresh host entropy:
 *                              nestbox-init adds them to the kernel's pool
 *                              (RNDADDENTROPY) and reseeds it (RNDRESEEDCRNG)
 *                              before the workload starts, so clones of one
 *                              snapshot never share random numbers
 *   NB_SPEC_CLOCK     2 x u64  the host's wall clock (seconds, nanoseconds
 *                              < 1e9) when it sent the spec: nestbox-init
 *                              sets CLOCK_REALTIME to it
 */
#define NB_SPEC_TEMPLATE "template"
#define NB_SPEC_SEED "seed"
#define NB_SPEC_CLOCK "clock"
#define NB_SPEC_SEED_LEN 32u

#define NB_SPEC_NET_IPV4 "net.ipv4"
#define NB_SPEC_NET_GATEWAY "net.gateway"
#define NB_SPEC_NET_DNS "net.dns"
#define NB_SPEC_NET_MAC "net.mac"
#define NB_SPEC_MAC_LEN 6u
#define NB_SPEC_MAX_DNS 3u
#define NB_GUEST_NET_IF "eth0"

/* ---- virtio devices ---------------------------------------------------------
 * Announced on the kernel command line (virtio_mmio.device=4K@BASE:IRQ).
 * Console: one virtio-console with VIRTIO_CONSOLE_F_MULTIPORT and four
 * generic ports (not hvc ttys: byte-clean), found by name in
 * /sys/class/virtio-ports/vportNpM/name, device /dev/vportNpM:
 *   NB_PORT_STDIN   host -> guest: the workload's stdin. The host opens it
 *                   (PORT_OPEN 1) only with `nestbox run -i`; at host EOF it
 *                   closes it (PORT_OPEN 0): read(2) returns 0 once the data
 *                   before it is consumed, so `cat` ends. Without -i it is
 *                   never opened by the host: reads return 0 at once.
 *   NB_PORT_STDOUT  guest -> host stdout
 *   NB_PORT_STDERR  guest -> host stderr
 *   NB_PORT_SIGNAL  host -> guest: signals and window sizes (below)
 * The 8250 UART (ttyS0) stays the kernel console and nestbox-init's own
 * early error channel. Bytes the guest queued are written out by the host
 * before it exits, so output completes before the exit status is acted on.
 * Entropy: virtio-rng (/sys/class/misc/hw_random/rng_current = virtio_rng.0).
 */
#define NB_PORT_STDIN "nestbox.stdin"
#define NB_PORT_STDOUT "nestbox.stdout"
#define NB_PORT_STDERR "nestbox.stderr"

/* ---- signal port -----------------------------------------------------------
 * A fourth console port, NB_PORT_SIGNAL, host -> guest only, always opened
 * by the host: the host signals nestbox forwards to the workload, and with
 * -t the terminal's window size. A byte stream of messages, each
 *   u8 NB_SIGMSG_MAGIC, u8 type, u8 payload length, u8 0, payload
 * with these types (multi-byte fields little endian):
 *   NB_SIGMSG_SIGNAL   4 bytes: le32 signal number, one of HUP INT QUIT
 *                      USR1 USR2 TERM WINCH; nestbox-init sends it to the
 *                      workload (see guest-init/signals.c for PID 1)
 *   NB_SIGMSG_WINSIZE  4 bytes: le16 rows, le16 columns, each
 *                      1..NB_WINSIZE_MAX; nestbox-init resizes the pty
 * nestbox-init treats the stream as hostile: a byte that cannot start a
 * header is dropped (resync); a whole message with an unknown type, a
 * wrong length or a bad value is skipped and logged. nestbox-init opens
 * the port at start, reads it while the workload runs and closes it once
 * the workload ended; the host sends only while the guest has it open, and
 * otherwise stops the VM as for an unforwarded signal (common/sigmsg.h has
 * the codec, vmm/run/sigforward.h the host's rules).
 */
#define NB_PORT_SIGNAL "nestbox.signal"
#define NB_SIGMSG_MAGIC 0xb5u
#define NB_SIGMSG_HEADER 4u
#define NB_SIGMSG_MAX_PAYLOAD 8u
#define NB_SIGMSG_MAX (NB_SIGMSG_HEADER + NB_SIGMSG_MAX_PAYLOAD)
#define NB_SIGMSG_SIGNAL 1u
#define NB_SIGMSG_WINSIZE 2u
#define NB_WINSIZE_MAX 4096u

/* The container's memory limit on a running VM (`nestbox update --memory`,
 * issue 15): a signal-port message
 *   NB_SIGMSG_MEMORY   8 bytes: le64 bytes for the container cgroup's
 *                      memory.max, a multiple of 4096 from
 *                      NB_SPEC_MIN_MEMORY to NB_SIGMSG_MEMORY_MAX
 * nestbox-init writes it (lowering may OOM-kill the container's processes,
 * as `docker update` does); the host has set the balloon's target for the
 * guest RAM that limit needs. A nestbox-init without it skips the message
 * as of an unknown type (the rule above).
 */
#define NB_SIGMSG_MEMORY 3u
#define NB_SIGMSG_MEMORY_MAX (1ull << 44) /* 16 TiB: 2^32 pages */

/* A running VM's snapshot restored (`nestbox run --restore DIR`, issue
 * 16): its workload runs on, so no spec brings a clone's fresh state; the
 * host sends, on the signal port,
 *   NB_SIGMSG_ENTROPY  8 bytes of host entropy, added to the kernel's
 *                      pool (NB_SIGMSG_RESUME_ENTROPY of them), then
 *   NB_SIGMSG_CLOCK    8 bytes: le64 the host's wall clock in ns since the
 *                      epoch, 1 to INT64_MAX: the CRNG is reseeded and
 *                      CLOCK_REALTIME set
 * A nestbox-init without them skips them as of an unknown type.
 */
#define NB_SIGMSG_ENTROPY 4u
#define NB_SIGMSG_CLOCK 5u
#define NB_SIGMSG_RESUME_ENTROPY 4u /* 32 bytes, as NB_SPEC_SEED_LEN */

/* A restored VM on a network (`nestbox run --restore DIR` of a VM with a
 * NIC): it has a new tap, lease and MAC, so after CLOCK the host sends
 * eth0's new configuration, which nestbox-init collects and applies on
 * NET_APPLY:
 *   NB_SIGMSG_NET_MAC      8 bytes: the MAC (6 bytes, unicast, not zero)
 *                          and 2 zero bytes
 *   NB_SIGMSG_NET_ADDR     8 bytes: le32 IPv4 address (its host-order
 *                          value, not zero), le32 prefix length 1..32
 *   NB_SIGMSG_NET_GATEWAY  4 bytes: le32 IPv4 default gateway, not zero
 *   NB_SIGMSG_NET_DNS      4 bytes: le32 IPv4 nameserver, not zero; up to
 *                          NB_SPEC_MAX_DNS of them, in order
 *   NB_SIGMSG_NET_APPLY    4 zero bytes: set the MAC, replace eth0's
 *                          address (the old one is removed), the default
 *                          route and, with nameservers, the container's
 *                          /etc/resolv.conf. Without an ADDR, eth0 loses
 *                          its address and goes down (the NIC is
 *                          unplugged). Then all of it is forgotten.
 * The workload's connections over the old address are lost, as in
 * Firecracker. nestbox-init logs a failure and goes on.
 */
#define NB_SIGMSG_NET_MAC 6u
#define NB_SIGMSG_NET_ADDR 7u
#define NB_SIGMSG_NET_GATEWAY 8u
#define NB_SIGMSG_NET_DNS 9u
#define NB_SIGMSG_NET_APPLY 10u

/* Where the host packs a plain rootfs directory in the initramfs. */
#define NB_GUEST_ROOTFS "/rootfs"

/* ---- image layers --------------------------------------------------------
 * All layers of an image share one read-only virtio-blk disk with serial
 * NB_LAYER_SERIAL: the layers' erofs images (whiteouts already in overlayfs
 * form) back to back, bottom layer first, each starting at a multiple of
 * NB_LAYER_ALIGN; the gaps read as zeros. One disk, not one per layer, so
 * an image may have more layers than there are virtio-mmio slots, and each
 * layer stays one shared, content-addressed file in the host's cache.
 * The spec says where each layer is (format 3):
 *   NB_SPEC_LAYERS   bytes   1..NB_MAX_LAYERS records of be64 offset, be64
 *                            size (bytes on that disk), bottom layer first;
 *                            offset a multiple of NB_LAYER_ALIGN, size >= 1,
 *                            each record after the end of the previous one,
 *                            offset + size <= NB_LAYER_MAX_DISK
 * nestbox-init checks the table against the disk's size, puts a read-only
 * loop device on each range and mounts them (erofs) as one overlayfs with a
 * tmpfs upper layer at the spec's rootfs, before volumes
 * (guest-init/layers.c).
 */
#define NB_SPEC_LAYERS "layers"
#define NB_LAYER_SERIAL "nblayers"
#define NB_LAYER_ALIGN 4096u
#define NB_LAYER_RECORD 16u
#define NB_MAX_LAYERS 127u             /* Docker's limit */
#define NB_LAYER_MAX_DISK (1ull << 50) /* 1 PiB: far beyond any image */

/* ---- OCI runtime: the start gate (issue 14) --------------------------------
 * `nestbox create` boots the VM; `nestbox start` runs the workload. The spec
 * property
 *   NB_SPEC_START_GATE  u32  0 or 1
 * set to 1 makes nestbox-init, once its mounts are made, wait for one
 * NB_SIGMSG_START message on the signal port (4 payload bytes, le32 0)
 * before it creates the container. A signal message before it ends the
 * wait with 128+N, the workload never run. The host holds the message until
 * the guest opens the port (vmm/virtio/console.h). The container's root is
 * then a virtio-fs share mounted at the spec's rootfs, volume 0 with PATH "/".
 */
#define NB_SPEC_START_GATE "start-gate"
#define NB_SIGMSG_START 0x10u

/* ---- OCI runtime: exec (issue 14) -------------------------------------------
 * `nestbox exec` runs a further process in a running OCI container. The VMM
 * of a `nestbox create` has a vsock device (vmm/virtio/vsock.h) listening on
 * the Unix socket NB_EXEC_SOCKET in the container's state directory; the host
 * client connects there to guest port NB_EXEC_PORT, where nestbox-init
 * listens while the workload runs. One connection runs one process. Both
 * directions carry frames
 *   u8 NB_EXEC_MAGIC, u8 type, le16 payload length (0..NB_EXEC_MAX_PAYLOAD),
 *   payload
 * Host -> guest:
 *   NB_EXEC_REQUEST  first, once: le16 argc (1..NB_EXEC_MAX_ARGS), le16 envc
 *                    (0..NB_EXEC_MAX_ENV), le16 rows, le16 cols (both 0, or
 *                    1..NB_WINSIZE_MAX each), le32 flags (NB_EXEC_TTY, no
 *                    other bit), then user, cwd, argc args and envc env
 *                    entries, each NUL-terminated, 1..NB_EXEC_MAX_STRING-1
 *                    bytes, nothing after the last: user "UID:GID" or a name
 *                    (the container's /etc/passwd), cwd absolute, env
 *                    "NAME=value"
 *   NB_EXEC_STDIN    the process's input; an empty one is its end (EOF:
 *                    its stdin closed, or its pty's VEOF written). The
 *                    guest reads no further frame while the process does
 *                    not take the input it has: the host must keep reading
 *                    the guest's frames meanwhile
 *   NB_EXEC_SIGNAL   le32 signal 1..64, for the process
 *   NB_EXEC_WINSIZE  le16 rows, le16 cols (1..NB_WINSIZE_MAX): its pty's size
 * Guest -> host:
 *   NB_EXEC_STARTED  empty: the process was exec'd
 *   NB_EXEC_STDOUT, NB_EXEC_STDERR  1.. bytes of its output (a pty: STDOUT)
 *   NB_EXEC_ERROR    1..NB_EXEC_MAX_STRING-1 bytes of text: why it could not
 *                    run; an EXIT follows
 *   NB_EXEC_EXIT     le32 status 0..255 (Docker's convention: 126 cannot
 *                    exec, 127 not found, 128+N killed by signal N); last
 * The process enters every namespace, the cgroup and the root of the
 * container's process, with the container's capabilities, rlimits, no_new_privs
 * and seccomp filter (the spec's). Each side treats the other's frames as
 * hostile (common/execmsg.h): a bad magic, type, length or value ends the
 * connection.
 */
#define NB_EXEC_PORT 1070u
#define NB_EXEC_SOCKET "exec.sock"
#define NB_EXEC_MAGIC 0xe7u
#define NB_EXEC_HEADER 4u
#define NB_EXEC_MAX_PAYLOAD 32768u
#define NB_EXEC_MAX_ARGS 1024u
#define NB_EXEC_MAX_ENV 1024u
#define NB_EXEC_MAX_STRING 4096u
#define NB_EXEC_TTY 1u
#define NB_EXEC_REQUEST 1u
#define NB_EXEC_STDIN 2u
#define NB_EXEC_SIGNAL 3u
#define NB_EXEC_WINSIZE 4u
#define NB_EXEC_STARTED 0x10u
#define NB_EXEC_STDOUT 0x11u
#define NB_EXEC_STDERR 0x12u
#define NB_EXEC_ERROR 0x13u
#define NB_EXEC_EXIT 0x14u

#endif
