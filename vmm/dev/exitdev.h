/* The paravirtual exit device (protocol in include/nestbox/abi.h):
 * nestbox-init writes NB_EXIT_MAGIC | status and the VM stops with it. */
#ifndef NESTBOX_DEV_EXITDEV_H
#define NESTBOX_DEV_EXITDEV_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/kvm/stop.h"

/* Bus handler for NB_EXIT_PORT..+NB_EXIT_PORT_LEN; opaque is the struct nb_stop. */
void nb_exitdev_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

#endif
