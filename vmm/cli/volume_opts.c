#include "vmm/cli/volume_opts.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/virtio/ratelimit.h"
#include "common/parse.h"

static const char *option_name(int opt)
{
	switch (opt) {
	case NB_OPT_DEVICE_READ_BPS:
		return "--device-read-bps";
	case NB_OPT_DEVICE_WRITE_BPS:
		return "--device-write-bps";
	case NB_OPT_DEVICE_READ_IOPS:
		return "--device-read-iops";
	default:
		return "--device-write-iops";
	}
}

static bool is_iops(int opt)
{
	return opt == NB_OPT_DEVICE_READ_IOPS || opt == NB_OPT_DEVICE_WRITE_IOPS;
}

bool nb_volume_is_dir(const char *host)
{
	struct stat st;

	return stat(host, &st) == 0 && S_ISDIR(st.st_mode);
}

bool nb_volume_guest_ok(const char *guest)
{
	size_t len = strlen(guest);

	return guest[0] == '/' && !strstr(guest, "/../") &&
	       !(len >= 3 && strcmp(guest + len - 3, "/..") == 0);
}

/* "readonly", "ro", or either "=true"/"=1" (Docker's spelling); false
 * values too; -1 if key is neither. */
static int readonly_value(const char *key, const char *value)
{
	if (strcmp(key, "readonly") && strcmp(key, "ro"))
		return -1;
	if (!value || !strcmp(value, "true") || !strcmp(value, "1"))
		return 1;
	if (!strcmp(value, "false") || !strcmp(value, "0"))
		return 0;
	return -1;
}

/* One key=value of --mount into v; -1 with err set on anything else. */
static int mount_field(const char *arg, char *field, struct nb_run_volume *v, bool *bind,
		       struct nb_err *err)
{
	char *value = strchr(field, '=');
	int ro;

	if (value)
		*value++ = '\0';
	if (!strcmp(field, "type") && value) {
		if (strcmp(value, "bind"))
			return nb_err_set(err, 0,
					  "--mount %s: type %s: only type=bind is supported", arg,
					  value);
		*bind = true;
	} else if ((!strcmp(field, "source") || !strcmp(field, "src")) && value) {
		v->host = value;
	} else if ((!strcmp(field, "target") || !strcmp(field, "destination") ||
		    !strcmp(field, "dst")) &&
		   value) {
		v->guest = value;
	} else if ((ro = readonly_value(field, value)) >= 0) {
		v->read_only = ro;
	} else {
		return nb_err_set(err, 0,
				  "--mount %s: unknown field '%s' (type, source, target, "
				  "readonly)",
				  arg, field);
	}
	return 0;
}

/* --mount type=bind,source=HOST,target=GUEST[,readonly]: a volume like
 * -v HOST:GUEST[:ro]; HOST must exist, as with docker. */
static int parse_mount(const char *arg, struct nb_run_options *opts, struct nb_err *err)
{
	static char *copies[NB_RUN_MAX_VOLUMES]; /* live until the next parse */
	struct nb_run_volume v = { 0 };
	char *copy, *save = NULL;
	bool bind = false;

	if (opts->nvolumes == NB_RUN_MAX_VOLUMES)
		return nb_err_set(err, 0, "--mount: at most %u volumes", NB_RUN_MAX_VOLUMES);
	free(copies[opts->nvolumes]);
	copy = copies[opts->nvolumes] = strdup(arg);
	if (!copy)
		return nb_err_sys(err, "--mount");
	for (char *field = strtok_r(copy, ",", &save); field; field = strtok_r(NULL, ",", &save))
		if (mount_field(arg, field, &v, &bind, err) < 0)
			return -1;
	if (!bind || !v.host || !v.guest)
		return nb_err_set(err, 0,
				  "--mount %s: use type=bind,source=HOST,target=/GUEST_PATH", arg);
	if (v.host[0] != '/' || !nb_volume_guest_ok(v.guest))
		return nb_err_set(err, 0,
				  "--mount %s: source and target must be absolute paths "
				  "(target without ..)",
				  arg);
	if (access(v.host, F_OK) < 0)
		return nb_err_sys(err, "--mount %s: bind source %s", arg, v.host);
	v.dir = nb_volume_is_dir(v.host);
	opts->volumes[opts->nvolumes++] = v;
	return 0;
}

int nb_volume_cli_option(int opt, const char *arg, struct nb_run_options *opts, struct nb_err *err)
{
	const size_t max = sizeof(opts->device_rates) / sizeof(opts->device_rates[0]);

	switch (opt) {
	case NB_OPT_MOUNT:
		return parse_mount(arg, opts, err);
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
	case NB_OPT_DEVICE_READ_BPS:
		return &v->read_bps;
	case NB_OPT_DEVICE_WRITE_BPS:
		return &v->write_bps;
	case NB_OPT_DEVICE_READ_IOPS:
		return &v->read_iops;
	default:
		return &v->write_iops;
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
	rc = is_iops(r->opt)
		     ? nb_parse_u64("count", colon + 1, 1, NB_RATELIMIT_MAX_TOKENS, &value, err)
		     : nb_ratelimit_parse_rate(colon + 1, &value, err);
	if (rc < 0)
		return nb_err_wrap(err, "%s %s", name, r->arg);
	for (size_t i = 0; i < opts->nvolumes; i++) {
		if (!same_file(opts->volumes[i].host, path))
			continue;
		if (opts->volumes[i].dir)
			return nb_err_set(err, 0,
					  "%s %s: %s is a shared directory; rates apply to disk "
					  "images",
					  name, r->arg, path);
		*field_of(&opts->volumes[i], r->opt) = value;
		found = true;
	}
	if (!found)
		return nb_err_set(err, 0,
				  "%s %s: %s is not a volume of this run; attach it with "
				  "-v %s:/GUEST_PATH (rates apply to -v volumes)",
				  name, r->arg, path, path);
	return 0;
}

int nb_volume_cli_check(struct nb_run_options *opts, struct nb_err *err)
{
	for (size_t i = 0; i < opts->ndevice_rates; i++)
		if (apply(&opts->device_rates[i], opts, err) < 0)
			return -1;
	return 0;
}
