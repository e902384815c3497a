/* libFuzzer: sequences of guest vsock packets (the input, cut into header
 * + payload records) through the tx queue, with rx buffers to answer into
 * and a real host service at PATH_5000, then a device reset.
 *
 * Covers: vmm/virtio/vsock.c */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "vmm/virtio/mmio.h"
#include "vmm/virtio/vsock.h"

#define RAM_SIZE (1u << 20)
#define QSIZE 64u
#define PKT_AREA 0x40000u
#define RX_AREA 0x80000u
#define RX_BUF 2048u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *ram;
static struct nb_guest_mem mem;
static struct nb_virtio_mmio m;
static struct nb_vsock *vs;
static int service = -1;

static uint64_t qbase(unsigned q)
{
	return 0x10000u * (q + 1);
}

static void desc(unsigned q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = ram + qbase(q) + 16u * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static void avail(unsigned q, uint16_t idx, uint16_t head)
{
	memcpy(ram + qbase(q) + 0x1000 + 4 + 2u * (idx % QSIZE), &head, 2);
	idx++;
	memcpy(ram + qbase(q) + 0x1000 + 2, &idx, 2);
}

static void init_once(void)
{
	static char dir[] = "/tmp/nestbox-fuzz-vsock-XXXXXX";
	char path[96];
	struct nb_err err = { 0 };
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	if (ram)
		return;
	ram = calloc(1, RAM_SIZE);
	if (!ram || !mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/v", dir);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s_5000", path);
	service = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (service < 0 || bind(service, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(service, 128) < 0)
		abort();
	nb_mem_layout(&mem, ram, RAM_SIZE);
	struct nb_vsock_opts opts = { .uds_path = path, .guest_cid = 3 };
	if (nb_vsock_open(&opts, &vs, &err) < 0 ||
	    nb_virtio_mmio_init(&m, nb_vsock_dev(vs), &mem, &err) < 0)
		abort();
}

static void rings(void)
{
	memset(ram, 0, RAM_SIZE);
	m.dev->driver_features = NB_VIRTIO_F_VERSION_1;
	m.dev->status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	for (unsigned q = 0; q < 3; q++) {
		struct nb_virtq *vq = &m.dev->queues[q];

		nb_virtq_reset(vq);
		vq->size = QSIZE;
		vq->max_size = 128;
		vq->desc_gpa = qbase(q);
		vq->avail_gpa = qbase(q) + 0x1000;
		vq->used_gpa = qbase(q) + 0x2000;
		if (nb_virtq_enable(vq) < 0)
			abort();
	}
	for (uint16_t i = 0; i < 32; i++) {
		desc(0, i, RX_AREA + (uint64_t)i * RX_BUF, i == 7 ? 20 : RX_BUF, VRING_DESC_F_WRITE,
		     0);
		avail(0, i, i);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t at = PKT_AREA;
	uint16_t n = 0;
	int c;

	init_once();
	rings();
	/* Records: 44-byte header, then as many payload bytes as its len says
	 * (or what is left); each its own two-descriptor chain. */
	while (size >= NB_VSOCK_HDR_SIZE && n < 30 && at + size < RX_AREA) {
		uint32_t len;

		memcpy(&len, data + 24, 4);
		size_t take = NB_VSOCK_HDR_SIZE +
			      (len < size - NB_VSOCK_HDR_SIZE ? len : size - NB_VSOCK_HDR_SIZE);
		memcpy(ram + at, data, take);
		desc(1, 2u * n, at, NB_VSOCK_HDR_SIZE,
		     take > NB_VSOCK_HDR_SIZE ? VRING_DESC_F_NEXT : 0, (uint16_t)(2u * n + 1));
		desc(1, 2u * n + 1, at + NB_VSOCK_HDR_SIZE, (uint32_t)(take - NB_VSOCK_HDR_SIZE), 0,
		     0);
		avail(1, n, (uint16_t)(2u * n));
		n++;
		at += take;
		data += take;
		size -= take;
		nb_virtio_process(m.dev);
		nb_vsock_poll(vs);
	}
	while ((c = accept(service, NULL, NULL)) >= 0)
		close(c);
	pthread_mutex_lock(&m.dev->lock);
	m.dev->ops->reset(m.dev);
	pthread_mutex_unlock(&m.dev->lock);
	if (nb_vsock_nconns(vs) != 0)
		abort();
	return 0;
}
