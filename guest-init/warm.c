#include "guest-init/warm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "nestbox/abi.h"
#include "nestbox/cleanup.h"

/* Exactly len bytes; EOF before them is an error. */
static int read_full(int fd, void *buf, size_t len, struct nb_err *err)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return nb_err_sys(err, "reading the workload spec");
		if (n == 0)
			return nb_err_set(err, 0,
					  "the workload spec ended after %zu of %zu bytes "
					  "(the host closed the stdin port)",
					  got, len);
		got += (size_t)n;
	}
	return 0;
}

int nb_warm_read_spec(int fd, void **blob, size_t *len, struct nb_err *err)
{
	uint8_t le[4];
	uint32_t n;
	char *buf;

	if (read_full(fd, le, sizeof(le), err) < 0)
		return -1;
	n = (uint32_t)le[0] | (uint32_t)le[1] << 8 | (uint32_t)le[2] << 16 | (uint32_t)le[3] << 24;
	if (n == 0 || n > NB_SPEC_MAX_SIZE)
		return nb_err_set(err, 0, "the workload spec's length %u is not 1..%u", n,
				  NB_SPEC_MAX_SIZE);
	buf = malloc(n);
	if (!buf)
		return nb_err_sys(err, "workload spec");
	if (read_full(fd, buf, n, err) < 0) {
		free(buf);
		return -1;
	}
	*blob = buf;
	*len = n;
	return 0;
}

int nb_warm_add_entropy(const void *seed, size_t len, struct nb_err *err)
{
	struct {
		struct rand_pool_info info;
		uint8_t buf[NB_SPEC_SEED_LEN];
	} pool;
	cleanup_close int fd = -1;

	if (len == 0 || len > sizeof(pool.buf))
		return nb_err_set(err, 0, "entropy: %zu bytes, 1 to %u", len, NB_SPEC_SEED_LEN);
	fd = open("/dev/urandom", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return nb_err_sys(err, "cannot open /dev/urandom to reseed");
	memcpy(pool.buf, seed, len);
	pool.info.entropy_count = (int)(len * 8);
	pool.info.buf_size = (int)len;
	if (ioctl(fd, RNDADDENTROPY, &pool) < 0)
		return nb_err_sys(err, "RNDADDENTROPY");
	return 0;
}

int nb_warm_reseed(struct nb_err *err)
{
	cleanup_close int fd = open("/dev/urandom", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return nb_err_sys(err, "cannot open /dev/urandom to reseed");
	if (ioctl(fd, RNDRESEEDCRNG) < 0)
		return nb_err_sys(err, "RNDRESEEDCRNG");
	return 0;
}

int nb_warm_apply(const struct nb_spec *spec, struct nb_err *err)
{
	struct timespec now = { .tv_sec = (time_t)spec->clock_sec,
				.tv_nsec = (long)spec->clock_nsec };

	if (!spec->seed || spec->seed_len != NB_SPEC_SEED_LEN)
		return nb_err_set(err, 0, "the workload spec after a restore has no %s",
				  NB_SPEC_SEED);
	if (nb_warm_add_entropy(spec->seed, spec->seed_len, err) < 0 || nb_warm_reseed(err) < 0)
		return -1;
	if (spec->clock_sec && clock_settime(CLOCK_REALTIME, &now) < 0)
		return nb_err_sys(err, "cannot set the clock");
	return 0;
}
