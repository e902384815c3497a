#include "guest-init/memory.h"

#include <fcntl.h>
#include <unistd.h>

#include "nestbox/cleanup.h"

#define REPORTING_ORDER "/sys/module/page_reporting/parameters/page_reporting_order"

void nb_memory_tune(void)
{
	cleanup_close int fd = open(REPORTING_ORDER, O_WRONLY | O_CLOEXEC);

	if (fd >= 0 && write(fd, "9", 1) != 1) {
		/* the kernel's order stays: reporting still works, coarser */
	}
}
