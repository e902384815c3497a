/* A process's line of /proc/PID/stat, the fields nestbox reads: whether it
 * is a zombie, its CPU time, and its start time (which tells a live process
 * from a later one given the same pid). Host only; libc only.
 */
#ifndef NESTBOX_PROCSTAT_H
#define NESTBOX_PROCSTAT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct nb_procstat {
	char state;     /* field 3: R, S, D, Z, X, ... */
	uint64_t utime; /* fields 14 and 15, clock ticks, all threads */
	uint64_t stime;
	uint64_t start; /* field 22, clock ticks since boot */
};

/* Parse one stat line (NUL-terminated). The command name (field 2) may
 * hold anything, spaces and ')' included: the fields after it are found
 * from its last ')'. Returns false when the line is malformed. */
bool nb_procstat_parse(const char *line, struct nb_procstat *out);

/* Read and parse /proc/PID/stat. False when there is no such process. */
bool nb_procstat_read(pid_t pid, struct nb_procstat *out);

/* pid's start time, 0 when there is no such process. A zombie still has
 * its start time: callers that need a live one check state. */
uint64_t nb_proc_start_time(pid_t pid);

#endif
