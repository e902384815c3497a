#include "i8042.h"

#include <string.h>

void nb_i8042_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct nb_stop *stop = opaque;
	uint64_t port = NB_I8042_DATA_PORT + offset;

	if (!is_write) {
		/* Status 0: output buffer empty, input buffer empty, so the
		 * kernel's kb_wait() returns at once. Data reads 0. */
		memset(data, 0, len);
		return;
	}
	if (port == NB_I8042_CMD_PORT && len == 1 && data[0] == NB_I8042_CMD_RESET)
		nb_stop_request(stop, NB_STOP_RESET, 0, "the guest reset the machine (i8042)");
}
