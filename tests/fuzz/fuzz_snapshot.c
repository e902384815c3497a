/* libFuzzer: snapshot state files as a restore reads them. Half the inputs
 * are taken as whole files (header, checksum, framing); the other half are
 * wrapped as a body behind a valid header and checksum, so the section
 * framing and the device loaders see hostile bytes: the UART's state, a
 * virtio-console's transport-independent state (queues checked against
 * guest RAM) and its own state. Oracles: a loaded queue's rings lie inside
 * guest RAM; a loaded UART's FIFO indices are inside the FIFO.
 * Covers: vmm/kvm/statefile.c vmm/virtio/core.c (snapshot)
 * vmm/virtio/console.c (save/load) vmm/dev/serial.c (save/load) */
#include <string.h>

#include "fuzz/fuzz.h"
#include "nestbox/abi.h"
#include "vmm/dev/serial.h"
#include "vmm/kvm/statefile.h"
#include "vmm/virtio/console.h"

#define RAM (1u << 20)

static struct nb_guest_mem mem;
static struct nb_console *con;

static void init_once(void)
{
	struct nb_console_opts o = { .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1 };
	struct nb_err err;

	if (con)
		return;
	nb_mem_layout(&mem, calloc(1, RAM), RAM);
	con = nb_console_new(NULL, &o, &err);
	if (!mem.base || !con)
		abort();
	nb_virtio_dev_set_mem(nb_console_dev(con), &mem);
}

static void load_devices(const struct nb_state *s)
{
	struct nb_virtio_dev *dev = nb_console_dev(con);
	struct nb_serial serial;
	struct nb_serial_state ss;
	struct nb_virtio_state vs;
	const void *data;
	size_t len;
	struct nb_err err;

	nb_serial_init(&serial, -1, NULL, NULL, 4);
	if (nb_state_get(s, NB_STATE_SERIAL, 0, &ss, sizeof(ss), &err) == 0 &&
	    nb_serial_load(&serial, &ss, &err) == 0)
		FZ_CHECK(serial.rx_head < NB_SERIAL_RX_FIFO && serial.rx_count <= NB_SERIAL_RX_FIFO,
			 "FIFO %u+%u", serial.rx_head, serial.rx_count);
	nb_serial_destroy(&serial);
	if (nb_state_get(s, NB_STATE_VIRTIO_TRANSPORT, 0, &vs, sizeof(vs), &err) == 0 &&
	    nb_virtio_state_load(dev, &vs, &err) == 0)
		for (unsigned i = 0; i < dev->ops->nqueues; i++) {
			const struct nb_virtq *q = &dev->queues[i];
			FZ_CHECK(!q->ready ||
					 (q->desc && q->avail && q->used && q->size <= q->max_size),
				 "queue %u ready outside RAM", i);
		}
	if (nb_state_find(s, NB_STATE_VIRTIO_DEVICE, 0, &data, &len, &err) == 0)
		dev->ops->load(dev, data, len, &err);
	nb_virtio_reset(dev, true);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nb_state_header h = { .abi = NB_ABI_VERSION, .mem_size = RAM, .ncpus = 1 };
	struct nb_state_buf b = { 0 };
	struct nb_state s;
	struct nb_err err;
	void *file = NULL;
	size_t len = 0;

	init_once();
	if (size == 0)
		return 0;
	if (data[0] & 1) {
		if (nb_state_parse(data + 1, size - 1, NULL, &s, &err) == 0)
			load_devices(&s);
		return 0;
	}
	/* A valid header and checksum around hostile sections. */
	b.data = malloc(size);
	if (!b.data)
		return 0;
	memcpy(b.data, data + 1, size - 1);
	b.len = b.cap = size - 1;
	if (nb_state_finish(&h, &b, &file, &len, &err) == 0 &&
	    nb_state_parse(file, len, &h, &s, &err) == 0)
		load_devices(&s);
	free(file);
	nb_state_buf_free(&b);
	return 0;
}
