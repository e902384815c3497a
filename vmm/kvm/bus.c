#include "vmm/kvm/bus.h"

#include <string.h>

static bool overlaps(const struct nb_bus_device *a, const struct nb_bus_device *b)
{
	return a->base < b->base + b->len && b->base < a->base + a->len;
}

int nb_bus_register(struct nb_bus *bus, const struct nb_bus_device *dev, struct nb_err *err)
{
	if (dev->len == 0 || dev->base + dev->len < dev->base)
		return nb_err_set(err, 0, "device %s: bad range 0x%llx+0x%llx", dev->name,
				  (unsigned long long)dev->base, (unsigned long long)dev->len);
	if (bus->ndevices == NB_BUS_MAX_DEVICES)
		return nb_err_set(err, 0, "device %s: bus is full (%u devices)", dev->name,
				  NB_BUS_MAX_DEVICES);
	for (unsigned i = 0; i < bus->ndevices; i++)
		if (overlaps(&bus->devices[i], dev))
			return nb_err_set(err, 0, "device %s overlaps %s at 0x%llx", dev->name,
					  bus->devices[i].name, (unsigned long long)dev->base);
	bus->devices[bus->ndevices++] = *dev;
	return 0;
}

bool nb_bus_access(struct nb_bus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	for (unsigned i = 0; i < bus->ndevices; i++) {
		const struct nb_bus_device *dev = &bus->devices[i];

		/* The whole access must fall inside the device's range. */
		if (addr < dev->base || addr - dev->base >= dev->len ||
		    len > dev->len - (addr - dev->base))
			continue;
		dev->handler(dev->opaque, addr - dev->base, data, len, is_write);
		return true;
	}
	__atomic_fetch_add(&bus->unclaimed, 1, __ATOMIC_RELAXED);
	if (!is_write)
		memset(data, 0xff, len);
	return false;
}
