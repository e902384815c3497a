#include "guest-init/mounts.h"

#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

bool nb_is_mount_point(const char *path)
{
	char parent[4096];
	struct stat st, pst;
	char *slash;
	int n = snprintf(parent, sizeof(parent), "%s", path);

	if (n < 0 || (size_t)n >= sizeof(parent) || stat(path, &st) < 0)
		return false;
	while (n > 1 && parent[n - 1] == '/')
		parent[--n] = '\0';
	slash = strrchr(parent, '/');
	if (!slash)
		return false;
	if (slash == parent)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (stat(parent, &pst) < 0)
		return false;
	return st.st_dev != pst.st_dev || st.st_ino == pst.st_ino;
}

int nb_mount(const struct nb_mount *m, struct nb_err *err)
{
	if (nb_is_mount_point(m->target))
		return 0;
	if (mount(m->source, m->target, m->fstype, m->flags, m->data) < 0)
		return nb_err_sys(err, "cannot mount %s on %s", m->fstype ? m->fstype : m->source,
				  m->target);
	return 0;
}
