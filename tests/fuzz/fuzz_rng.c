/* libFuzzer: virtio-rng (vmm/virtio/rng.c) behind the mmio transport,
 * driven by a guest driver (tests/lib/vdrv.h) whose steps the input
 * picks: feature negotiation, request chains of any shape (readable,
 * writable, indirect, empty), notifications, hostile register writes and
 * ring pokes. Each answer must stay within the request's writable bytes
 * and NB_RNG_MAX_REQUEST.
 * Covers: vmm/virtio/rng.c */
#include "fuzz/fuzz.h"
#include "vmm/virtio/rng.h"

static void check_answer(void *opaque, unsigned q, uint16_t head, uint32_t len)
{
	(void)opaque;
	(void)q;
	(void)head;
	FZ_CHECK(len <= NB_RNG_MAX_REQUEST, "answered %u bytes", len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	static struct nb_rng rng;
	static struct nb_virtio_mmio m;
	struct nb_err err = { 0 };
	struct fz f = { data, size };
	struct vd d;
	const char *why = NULL;

	if (!ram && !(ram = malloc(VD_RAM_SIZE)))
		abort();
	vd_init(&d, ram);
	nb_rng_init(&rng);
	if (nb_virtio_mmio_init(&m, &rng.vdev, &d.mem, &err) < 0)
		abort();
	vd_attach(&d, &m);
	for (unsigned steps = 0; fz_more(&f) && steps < 256; steps++) {
		fz_virtio_op(&f, &d, fz_u8(&f) % FZ_NOPS);
		FZ_CHECK(vd_reap(&d, 0, check_answer, NULL, &why), "%s", why);
	}
	nb_virtio_mmio_destroy(&m);
	pthread_mutex_destroy(&m.dev->lock);
	return 0;
}
