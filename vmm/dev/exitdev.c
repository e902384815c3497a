#include "exitdev.h"

#include <string.h>

#include "nestbox/abi.h"

void nb_exitdev_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct nb_stop *stop = opaque;
	uint32_t value;

	if (offset != 0 || len != 4) {
		if (!is_write)
			memset(data, 0xff, len);
		else
			nb_stop_request(
				stop, NB_STOP_ERROR, 0,
				"guest misused the exit device (%u-byte write at offset %llu)", len,
				(unsigned long long)offset);
		return;
	}
	if (!is_write) {
		value = NB_EXIT_MAGIC | NB_ABI_VERSION;
		memcpy(data, &value, sizeof(value));
		return;
	}
	memcpy(&value, data, sizeof(value));
	if (value == (NB_EXIT_MAGIC | NB_EXIT_READY)) {
		nb_stop_request(stop, NB_STOP_READY, 0, NULL);
		return;
	}
	if ((value & NB_EXIT_MAGIC_MASK) != NB_EXIT_MAGIC ||
	    (value & ~(NB_EXIT_MAGIC_MASK | NB_EXIT_STATUS_MASK | NB_EXIT_FLAG_OOM))) {
		nb_stop_request(stop, NB_STOP_ERROR, 0,
				"guest wrote an invalid value 0x%08x to the exit device", value);
		return;
	}
	if (value & NB_EXIT_FLAG_OOM)
		nb_stop_set_oom(stop);
	nb_stop_request(stop, NB_STOP_STATUS, (int)(value & NB_EXIT_STATUS_MASK), NULL);
}
