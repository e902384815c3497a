#include "common/procstat.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nestbox/cleanup.h"

bool nb_procstat_parse(const char *line, struct nb_procstat *out)
{
	const char *p = strrchr(line, ')');

	/* fields 3 (state) .. 22 (starttime) */
	return p && sscanf(p + 1,
			   " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %" SCNu64 " %" SCNu64
			   " %*d %*d %*d %*d %*d %*d %" SCNu64,
			   &out->state, &out->utime, &out->stime, &out->start) == 4;
}

bool nb_procstat_read(pid_t pid, struct nb_procstat *out)
{
	char path[32], buf[1024];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return nb_procstat_parse(buf, out);
}

uint64_t nb_proc_start_time(pid_t pid)
{
	struct nb_procstat st;

	return pid > 0 && nb_procstat_read(pid, &st) ? st.start : 0;
}
