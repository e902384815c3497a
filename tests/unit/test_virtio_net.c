/* virtio-net as a template and its clones have it (vmm/virtio/net.h): a NIC
 * with no tap (unplugged) takes the guest's frames and drops them and fills
 * no rx buffer; a device restored from its state onto a tap of its own
 * (a datagram socketpair stands in) serves the buffers the guest posted
 * before the snapshot, and its own config (the clone's MAC). */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_net.h>

#include "../lib/vdrv.h"
#include "unit.h"
#include "vmm/kvm/event.h"
#include "vmm/kvm/stop.h"
#include "vmm/virtio/net.h"

#define RXQ 0u
#define TXQ 1u
#define FEATURES (NB_VIRTIO_F_VERSION_1 | 1ull << VIRTIO_NET_F_MAC | 1ull << VIRTIO_NET_F_STATUS)

static struct nb_stop stop;
static struct nb_event_loop loop;
static uint8_t *ram;
static struct vd d;

static void setup(void)
{
	struct nb_err err;

	ck_assert_int_eq(nb_stop_init(&stop, &err), 0);
	ck_assert_int_eq(nb_event_init(&loop, &stop, 0, &err), 0);
	ram = aligned_alloc(4096, VD_RAM_SIZE);
	ck_assert_ptr_nonnull(ram);
	vd_init(&d, ram);
}

static void teardown(void)
{
	nb_event_destroy(&loop);
	free(ram);
}

struct used {
	unsigned n;
	uint32_t len;
};

static void count_used(void *opaque, unsigned q, uint16_t head, uint32_t len)
{
	struct used *u = opaque;

	(void)q;
	(void)head;
	u->n++;
	u->len = len;
}

static struct used reap(unsigned q)
{
	struct used u = { 0 };
	const char *why = NULL;

	ck_assert_msg(vd_reap(&d, q, count_used, &u, &why), "%s", why ? why : "");
	return u;
}

/* A 60-byte frame after a zero header. */
static void send_frame(void)
{
	static uint8_t frame[NB_NET_HDR_SIZE + 60];
	struct vd_seg seg = { frame, sizeof(frame), false };

	memset(frame + NB_NET_HDR_SIZE, 0xab, 60);
	ck_assert_int_ge(vd_post(&d, TXQ, &seg, 1, false), 0);
	vd_kick(&d, TXQ);
}

static void post_rx(void)
{
	struct vd_seg seg = { NULL, 2048, true };

	ck_assert_int_ge(vd_post(&d, RXQ, &seg, 1, false), 0);
	vd_kick(&d, RXQ);
}

static struct nb_net *new_net(int tap_fd, uint8_t last)
{
	struct nb_net_opts o = { .tap_fd = tap_fd, .mac = { 0x02, 0x4e, 0x42, 0, 0, last } };
	struct nb_err err = { 0 };
	struct nb_net *net = nb_net_new(&loop, &o, &err);

	ck_assert_msg(net != NULL, "%s", err.msg);
	return net;
}

START_TEST(unplugged_drops_tx_and_fills_no_rx)
{
	static struct nb_virtio_mmio m;
	struct nb_net *net = new_net(0, 1); /* neither a name nor a descriptor */
	struct nb_err err;
	uint8_t mac[6], status;

	ck_assert_int_eq(nb_virtio_mmio_init(&m, nb_net_dev(net), &d.mem, &err), 0);
	vd_attach(&d, &m);
	ck_assert(vd_probe(&d, FEATURES, 64));
	for (unsigned i = 0; i < 6; i++)
		nb_virtio_mmio_io(&m, VIRTIO_MMIO_CONFIG + i, &mac[i], 1, false);
	nb_virtio_mmio_io(&m, VIRTIO_MMIO_CONFIG + 6, &status, 1, false);
	ck_assert_uint_eq(mac[5], 1);
	ck_assert_uint_eq(status & VIRTIO_NET_S_LINK_UP, VIRTIO_NET_S_LINK_UP);
	post_rx();
	send_frame();
	send_frame();
	struct used tx = reap(TXQ), rx = reap(RXQ);
	ck_assert_uint_eq(tx.n, 2); /* taken, and gone */
	ck_assert_uint_eq(rx.n, 0); /* nothing ever arrives */
	nb_virtio_mmio_destroy(&m);
	nb_net_close(net);
}
END_TEST

/* The template's NIC (unplugged) with rx buffers posted; its state loaded
 * into a clone's NIC on a tap: a frame on that tap lands in the buffer the
 * template's guest posted; the clone's config holds its own MAC. */
START_TEST(restored_onto_a_tap)
{
	static struct nb_virtio_mmio tm, cm;
	struct nb_net *tnet = new_net(0, 1), *cnet;
	struct nb_virtio_dev *tdev = nb_net_dev(tnet), *cdev;
	struct nb_virtio_state st;
	struct nb_err err = { 0 };
	uint8_t frame[NB_NET_HDR_SIZE + 60], back[sizeof(frame)], mac5;
	int sv[2];

	ck_assert_int_eq(nb_virtio_mmio_init(&tm, tdev, &d.mem, &err), 0);
	vd_attach(&d, &tm);
	ck_assert(vd_probe(&d, FEATURES, 64));
	post_rx();
	post_rx();
	ck_assert_uint_eq(reap(RXQ).n, 0);
	nb_virtio_state_save(tdev, &st);

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	cnet = new_net(sv[0], 7);
	cdev = nb_net_dev(cnet);
	ck_assert_int_eq(nb_virtio_mmio_init(&cm, cdev, &d.mem, &err), 0);
	ck_assert_msg(nb_virtio_state_load(cdev, &st, &err) == 0, "%s", err.msg);
	ck_assert_msg(cdev->ops->load(cdev, NULL, 0, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(cdev->ops->load(cdev, "x", 1, &err), -1); /* it saves nothing */
	vd_attach(&d, &cm);
	memset(frame, 0, NB_NET_HDR_SIZE);
	memset(frame + NB_NET_HDR_SIZE, 0xcd, 60);
	ck_assert_int_eq(send(sv[1], frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
	nb_virtio_process(cdev); /* the restore's kick (nb_virtio_mmio_kick_all) */
	struct used rx = reap(RXQ);
	ck_assert_uint_eq(rx.n, 1);
	ck_assert_uint_eq(rx.len, sizeof(frame));
	ck_assert_uint_eq(vd_read_back(&d, RXQ, 0, back, sizeof(back)), sizeof(back));
	ck_assert_mem_eq(back + NB_NET_HDR_SIZE, frame + NB_NET_HDR_SIZE, 60);
	nb_virtio_mmio_io(&cm, VIRTIO_MMIO_CONFIG + 5, &mac5, 1, false);
	ck_assert_uint_eq(mac5, 7);
	/* and the guest's tx reaches the tap */
	send_frame();
	ck_assert_uint_eq(reap(TXQ).n, 1);
	ck_assert_int_eq(recv(sv[1], back, sizeof(back), MSG_DONTWAIT), (ssize_t)sizeof(frame));
	nb_virtio_mmio_destroy(&tm);
	nb_virtio_mmio_destroy(&cm);
	nb_net_close(tnet);
	nb_net_close(cnet); /* and its tap, sv[0] */
	close(sv[1]);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("virtio_net");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, unplugged_drops_tx_and_fills_no_rx);
	tcase_add_test(tc, restored_onto_a_tap);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return nb_unit_run(suite());
}
