/* Port-I/O and MMIO dispatch. Devices register an address range and a
 * handler; vCPU threads call nb_bus_access() for every I/O exit. Handlers
 * run on vCPU threads concurrently, so each device locks its own state.
 * Accesses nobody claims read as all-ones and are otherwise ignored. */
#ifndef NESTBOX_VMM_KVM_BUS_H
#define NESTBOX_VMM_KVM_BUS_H

#include <stdbool.h>
#include <stdint.h>

#include "nestbox/err.h"

#define NB_BUS_MAX_DEVICES 32u

/* data: len bytes (1, 2, 4 or 8), in for reads (handler fills), out for writes. */
typedef void nb_bus_handler(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
			    bool is_write);

struct nb_bus_device {
	const char *name;
	uint64_t base, len;
	nb_bus_handler *handler;
	void *opaque;
};

struct nb_bus {
	unsigned ndevices;
	struct nb_bus_device devices[NB_BUS_MAX_DEVICES];
	/* Accesses no device claimed (for diagnostics and the exit count). */
	uint64_t unclaimed;
};

/* Register [base, base+len). Fails on overlap or when the bus is full.
 * Registration happens before vCPUs start; the table is read-only after. */
int nb_bus_register(struct nb_bus *bus, const struct nb_bus_device *dev, struct nb_err *err);

/* Dispatch one access. Returns false if no device claimed it (reads are
 * then filled with 0xff). */
bool nb_bus_access(struct nb_bus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);

#endif
