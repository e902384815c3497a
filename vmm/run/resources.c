#include "vmm/run/resources.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"
#include "common/parse.h"
#include "nestbox/cleanup.h"

#define RAM_ALIGN (2ull << 20)

uint64_t nb_guest_ram_for(uint64_t limit)
{
	uint64_t ram = limit + NB_GUEST_OVERHEAD_FIXED + (limit >> NB_GUEST_OVERHEAD_SHIFT);

	return (ram + RAM_ALIGN - 1) & ~(RAM_ALIGN - 1);
}

uint32_t nb_cpu_shares_to_weight(uint64_t shares)
{
	if (shares < 2)
		shares = 2;
	if (shares > 262144)
		shares = 262144;
	return (uint32_t)(1 + (shares - 2) * 9999 / 262142);
}

/* One CPU number of a list: digits, below CPU_SETSIZE. */
static int cpu_number(const char *list, const char **p, unsigned *cpu, struct nb_err *err)
{
	uint64_t v;

	if (!nb_parse_digits(*p, &v, p))
		return nb_err_set(err, 0, "CPU list '%.64s': expected a CPU number at '%.16s'",
				  list, *p);
	if (v >= CPU_SETSIZE)
		return nb_err_set(err, 0, "CPU list '%.64s': CPU %llu is beyond %d", list,
				  (unsigned long long)v, CPU_SETSIZE - 1);
	*cpu = (unsigned)v;
	return 0;
}

int nb_cpulist_parse(const char *text, cpu_set_t *set, struct nb_err *err)
{
	const char *p = text;

	CPU_ZERO(set);
	if (!*p)
		return nb_err_set(err, 0, "CPU list is empty: use e.g. 0-3,8");
	for (;;) {
		unsigned first, last;

		if (cpu_number(text, &p, &first, err) < 0)
			return -1;
		last = first;
		if (*p == '-') {
			p++;
			if (cpu_number(text, &p, &last, err) < 0)
				return -1;
			if (last < first)
				return nb_err_set(err, 0,
						  "CPU list '%.64s': range %u-%u runs backwards",
						  text, first, last);
		}
		for (unsigned c = first; c <= last; c++)
			CPU_SET(c, set);
		if (*p == '\0')
			return 0;
		if (*p != ',')
			return nb_err_set(err, 0,
					  "CPU list '%.64s': unexpected '%c' (use e.g. 0-3,8)",
					  text, *p);
		p++;
	}
}

int nb_cpuset_check(const cpu_set_t *set, const char *online, struct nb_err *err)
{
	cpu_set_t host;

	if (nb_cpulist_parse(online, &host, err) < 0)
		return nb_err_wrap(err, "the host's online CPUs");
	for (unsigned c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, set) && !CPU_ISSET(c, &host))
			return nb_err_set(err, 0,
					  "--cpuset-cpus: CPU %u is not online on this host "
					  "(online: %s)",
					  c, online);
	return 0;
}

int nb_cpuset_check_host(const cpu_set_t *set, struct nb_err *err)
{
	cleanup_free char *online = NULL;
	size_t len;

	if (nb_file_read(AT_FDCWD, "/sys/devices/system/cpu/online", 4096, &online, &len, err) < 0)
		return nb_err_wrap(err, "--cpuset-cpus");
	online[strcspn(online, "\n")] = '\0';
	return nb_cpuset_check(set, online, err);
}
