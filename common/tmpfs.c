#include "common/tmpfs.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

struct flag_opt {
	const char *name;
	unsigned long set, clear;
};

static const struct flag_opt flag_opts[] = {
	{ "rw", 0, MS_RDONLY },     { "ro", MS_RDONLY, 0 },   { "exec", 0, MS_NOEXEC },
	{ "noexec", MS_NOEXEC, 0 }, { "suid", 0, MS_NOSUID }, { "nosuid", MS_NOSUID, 0 },
	{ "dev", 0, MS_NODEV },     { "nodev", MS_NODEV, 0 },
};

/* "N" or "N[kmg]" (what tmpfs's size= takes), N a positive decimal. */
static bool valid_size(const char *v, size_t len)
{
	size_t digits = strspn(v, "0123456789");

	if (digits == 0 || digits > 15 || v[0] == '0')
		return false;
	return digits == len || (digits + 1 == len && strchr("kmgKMG", v[digits]));
}

static bool valid_mode(const char *v, size_t len)
{
	return len >= 1 && len <= 4 && strspn(v, "01234567") == len;
}

/* One option of length len at opt. */
static int apply(const char *opt, size_t len, struct nb_tmpfs_mount *m, char *size, char *mode,
		 struct nb_err *err)
{
	for (size_t i = 0; i < sizeof(flag_opts) / sizeof(flag_opts[0]); i++) {
		if (strlen(flag_opts[i].name) == len && !strncmp(opt, flag_opts[i].name, len)) {
			m->flags = (m->flags & ~flag_opts[i].clear) | flag_opts[i].set;
			return 0;
		}
	}
	if (len > 5 && !strncmp(opt, "size=", 5) && valid_size(opt + 5, len - 5)) {
		snprintf(size, 20, "%.*s", (int)(len - 5), opt + 5);
		return 0;
	}
	if (len > 5 && !strncmp(opt, "mode=", 5) && valid_mode(opt + 5, len - 5)) {
		snprintf(mode, 8, "%.*s", (int)(len - 5), opt + 5);
		return 0;
	}
	return nb_err_set(err, 0,
			  "--tmpfs option '%.*s': use rw, ro, exec, noexec, suid, nosuid, "
			  "dev, nodev, size=N[k|m|g] or mode=OCTAL",
			  (int)(len > 64 ? 64 : len), opt);
}

int nb_tmpfs_parse(const char *entry, struct nb_tmpfs_mount *out, struct nb_err *err)
{
	const char *colon = strchr(entry, ':');
	size_t path_len = colon ? (size_t)(colon - entry) : strlen(entry);
	char size[20] = "", mode[8] = "1777";

	memset(out, 0, sizeof(*out));
	if (path_len == 0 || path_len >= sizeof(out->path) || entry[0] != '/')
		return nb_err_set(err, 0, "--tmpfs %.64s: give an absolute path", entry);
	memcpy(out->path, entry, path_len);
	out->flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	for (const char *opt = colon ? colon + 1 : NULL; opt;) {
		const char *comma = strchr(opt, ',');
		size_t len = comma ? (size_t)(comma - opt) : strlen(opt);

		if (len == 0)
			return nb_err_set(err, 0, "--tmpfs %.64s: empty option", entry);
		if (apply(opt, len, out, size, mode, err) < 0)
			return -1;
		opt = comma ? comma + 1 : NULL;
	}
	snprintf(out->data, sizeof(out->data), "mode=%s%s%s", mode, size[0] ? ",size=" : "", size);
	return 0;
}
