/* The i8042 keyboard controller, reduced to what a microVM needs: the
 * status port reads as idle and command 0xFE (pulse reset line) stops the
 * VM, which is how a guest booted with reboot=k reboots. No keyboard. */
#ifndef NESTBOX_DEV_I8042_H
#define NESTBOX_DEV_I8042_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/kvm/stop.h"

#define NB_I8042_DATA_PORT 0x60u
#define NB_I8042_CMD_PORT 0x64u
#define NB_I8042_CMD_RESET 0xfeu

/* Bus handler for the 5-port range 0x60..0x64; opaque is the struct nb_stop. */
void nb_i8042_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

#endif
