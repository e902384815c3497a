#include "images/image.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/import.h"
#include "images/records.h"
#include "images/registry.h"
#include "nestbox/cleanup.h"

/* ---- entry points ---------------------------------------------------------- */

static int import_archive(struct nb_cache *c, const char *path, const char *name,
			  const struct nb_pull_opts *opts, struct nb_image *out, struct nb_err *err)
{
	cleanup_free char *dir = NULL;
	int rc;

	/* Staged under tmp/ with a name no layer lock covers: removed here, or
	 * by the next prune (which holds the cache lock exclusively). */
	if (asprintf(&dir, "%s/archive.XXXXXX", c->tmp) < 0 || !mkdtemp(dir))
		return nb_err_sys(err, "cannot create a staging directory in %s", c->tmp);
	rc = nb_archive_to_layout(path, dir, err);
	if (rc < 0)
		nb_err_wrap(err, "%s", path);
	else
		rc = nb_import_layout(c, dir, name, opts, out, err);
	nb_rm_rf(dir);
	return rc;
}

static int import_local(struct nb_cache *c, const char *path, const struct nb_pull_opts *opts,
			struct nb_image *out, struct nb_err *err)
{
	char real[PATH_MAX];
	struct stat st;

	if (!realpath(path, real) || stat(real, &st) < 0)
		return nb_err_sys(err,
				  "image %s (want an OCI layout directory, an archive .tar or a "
				  "registry reference)",
				  path);
	if (S_ISDIR(st.st_mode))
		return nb_import_layout(c, real, real, opts, out, err);
	if (S_ISREG(st.st_mode))
		return import_archive(c, real, real, opts, out, err);
	return nb_err_set(err, 0, "%s is neither an image layout directory nor an archive", path);
}

/* A local path when it names something on disk or looks like one. */
static bool is_local(const char *ref)
{
	struct stat st;

	return ref[0] == '/' || ref[0] == '.' || stat(ref, &st) == 0;
}

int nb_image_pull(const char *ref, const struct nb_pull_opts *opts, struct nb_image *out,
		  struct nb_err *err)
{
	struct nb_pull_opts o = *opts;
	struct nb_cache c;
	int rc;

	if (!o.limits)
		o.limits = &nb_layer_default_limits;
	if (nb_cache_open(&c, false, err) < 0)
		return -1;
	if (is_local(ref))
		rc = import_local(&c, ref, &o, out, err);
	else
		rc = nb_registry_pull(&c, ref, &o, out, err);
	nb_cache_close(&c);
	return rc;
}

bool nb_image_is_reference(const char *arg)
{
	struct stat st;
	char *layout;
	bool yes;

	if (stat(arg, &st) < 0)
		return arg[0] != '/' && arg[0] != '.';
	if (S_ISREG(st.st_mode))
		return true;
	if (!S_ISDIR(st.st_mode) || asprintf(&layout, "%s/oci-layout", arg) < 0)
		return false;
	yes = access(layout, F_OK) == 0;
	free(layout);
	return yes;
}

int nb_image_resolve(const char *ref, const struct nb_report *report, struct nb_image *out,
		     struct nb_err *err)
{
	/* stdout is the workload's: report on stderr (a terminal) or not at all. */
	struct nb_pull_opts opts = { .quiet = !isatty(2),
				     .progress = isatty(2),
				     .report = *report };
	struct nb_cache c;
	bool found = false;
	int rc;

	*out = (struct nb_image){ 0 };
	if (is_local(ref))
		return nb_image_pull(ref, &opts, out, err);
	if (nb_cache_open(&c, false, err) < 0)
		return -1;
	rc = nb_records_find(&c, ref, out, &found, err);
	nb_cache_close(&c);
	if (rc < 0 || found)
		return rc;
	return nb_image_pull(ref, &opts, out, err);
}
