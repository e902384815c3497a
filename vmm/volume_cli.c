#include "vmm/volume_cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *option_name(int opt)
{
	switch (opt) {
	case NB_OPT_DEVICE_READ_BPS: return "--device-read-bps";
	case NB_OPT_DEVICE_WRITE_BPS: return "--device-write-bps";
	case NB_OPT_DEVICE_READ_IOPS: return "--device-read-iops";
	default: return "--device-write-iops";
	}
}

static bool is_iops(int opt)
{
	return opt == NB_OPT_DEVICE_READ_IOPS || opt == NB_OPT_DEVICE_WRITE_IOPS;
}

int nb_volume_cli_option(int opt, const char *arg, struct nb_run_options *opts,
			 struct nb_err *err)
{
	const size_t max = sizeof(opts->device_rates) / sizeof(opts->device_rates[0]);

	switch (opt) {
	case NB_OPT_DEVICE_READ_BPS:
	case NB_OPT_DEVICE_WRITE_BPS:
	case NB_OPT_DEVICE_READ_IOPS:
	case NB_OPT_DEVICE_WRITE_IOPS:
		if (opts->ndevice_rates == max)
			return nb_err_set(err, 0, "%s: at most %zu device rate options",
					  option_name(opt), max);
		/* -v may come later on the command line: match in the check. */
		opts->device_rates[opts->ndevice_rates++] = (struct nb_run_device_rate){ arg, opt };
		return 0;
	default:
		return 1;
	}
}

/* Requests per second: a whole number above 0. */
static int parse_count(const char *text, uint64_t *out, struct nb_err *err)
{
	char *end;

	errno = 0;
	unsigned long long v = text[0] >= '0' && text[0] <= '9' ? strtoull(text, &end, 10) : 0;
	if (v == 0 || errno || *end || v > NB_RATELIMIT_MAX_TOKENS)
		return nb_err_set(err, 0, "invalid count '%s': use a whole number above 0", text);
	*out = v;
	return 0;
}

/* The same string, or two names of one file (./a.img and /abs/a.img). */
static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	if (strcmp(a, b) == 0)
		return true;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

static uint64_t *field_of(struct nb_run_volume *v, int opt)
{
	switch (opt) {
	case NB_OPT_DEVICE_READ_BPS: return &v->read_bps;
	case NB_OPT_DEVICE_WRITE_BPS: return &v->write_bps;
	case NB_OPT_DEVICE_READ_IOPS: return &v->read_iops;
	default: return &v->write_iops;
	}
}

static int apply(const struct nb_run_device_rate *r, struct nb_run_options *opts,
		 struct nb_err *err)
{
	const char *name = option_name(r->opt), *colon = strrchr(r->arg, ':');
	char path[PATH_MAX];
	bool found = false;
	uint64_t value;
	int rc;

	/* Split at the last ':' (a -v host path has none anyway). */
	if (!colon || colon == r->arg || (size_t)(colon - r->arg) >= sizeof(path))
		return nb_err_set(err, 0, "%s %s: use HOST_IMG:%s", name, r->arg,
				  is_iops(r->opt) ? "N" : "RATE");
	memcpy(path, r->arg, (size_t)(colon - r->arg));
	path[colon - r->arg] = '\0';
	rc = is_iops(r->opt) ? parse_count(colon + 1, &value, err)
			     : nb_ratelimit_parse_rate(colon + 1, &value, err);
	if (rc < 0)
		return nb_err_wrap(err, "%s %s", name, r->arg);
	for (size_t i = 0; i < opts->nvolumes; i++) {
		if (!same_file(opts->volumes[i].host, path))
			continue;
		*field_of(&opts->volumes[i], r->opt) = value;
		found = true;
	}
	if (!found)
		return nb_err_set(err, 0, "%s %s: %s is not a volume of this run; attach it with "
				  "-v %s:/GUEST_PATH (rates apply to -v volumes)", name, r->arg,
				  path, path);
	return 0;
}

int nb_volume_cli_check(struct nb_run_options *opts, struct nb_err *err)
{
	for (size_t i = 0; i < opts->ndevice_rates; i++)
		if (apply(&opts->device_rates[i], opts, err) < 0)
			return -1;
	return 0;
}

void nb_volume_limits(const struct nb_run_volume *v, struct nb_ratelimit_config *read,
		      struct nb_ratelimit_config *write)
{
	nb_ratelimit_config_rate(&read->bytes, v->read_bps);
	nb_ratelimit_config_rate(&read->ops, v->read_iops);
	nb_ratelimit_config_rate(&write->bytes, v->write_bps);
	nb_ratelimit_config_rate(&write->ops, v->write_iops);
}
