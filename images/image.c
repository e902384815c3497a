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
#include "images/reference.h"
#include "images/registry.h"
#include "nestbox/cleanup.h"

/* ---- entry points ---------------------------------------------------------- */

static int import_archive(struct nb_cache *c, const char *path, enum nb_archive_kind kind,
			  const char *want, const char *name, const struct nb_pull_opts *opts,
			  struct nb_image *out, struct nb_err *err)
{
	cleanup_free char *dir = NULL;
	int rc;

	/* Staged under tmp/ with a name no layer lock covers: removed here, or
	 * by the next prune (which holds the cache lock exclusively). */
	if (asprintf(&dir, "%s/archive.XXXXXX", c->tmp) < 0 || !mkdtemp(dir))
		return nb_err_sys(err, "cannot create a staging directory in %s", c->tmp);
	rc = nb_archive_to_layout(path, dir, kind, kind == NB_ARCHIVE_DOCKER ? want : NULL, err);
	if (rc < 0)
		nb_err_wrap(err, "%s", path);
	else
		rc = nb_import_layout(c, dir, kind == NB_ARCHIVE_DOCKER ? NULL : want, name, opts,
				      out, err);
	nb_rm_rf(dir);
	return rc;
}

/* A local image by its source name: a path (a layout directory or an
 * archive, told apart by what is on disk) or a transport's PATH[:TAG]. */
static int import_local(struct nb_cache *c, const struct nb_source_name *src,
			const struct nb_pull_opts *opts, struct nb_image *out, struct nb_err *err)
{
	static const char *const prefixes[] = {
		[NB_SOURCE_OCI] = "oci:",
		[NB_SOURCE_OCI_ARCHIVE] = "oci-archive:",
		[NB_SOURCE_DOCKER_ARCHIVE] = "docker-archive:",
	};
	const char *tag = src->tag[0] ? src->tag : NULL;
	cleanup_free char *name = NULL;
	char real[PATH_MAX];
	struct stat st;

	if (!realpath(src->path, real) || stat(real, &st) < 0)
		return nb_err_sys(err,
				  "image %s (want an OCI layout directory, an archive .tar or a "
				  "registry reference)",
				  src->path);
	if (src->kind == NB_SOURCE_PATH) {
		if (S_ISDIR(st.st_mode))
			return nb_import_layout(c, real, NULL, real, opts, out, err);
		if (S_ISREG(st.st_mode))
			return import_archive(c, real, NB_ARCHIVE_ANY, NULL, real, opts, out, err);
		return nb_err_set(err, 0, "%s is neither an image layout directory nor an archive",
				  src->path);
	}
	if (asprintf(&name, "%s%s%s%s", prefixes[src->kind], real, tag ? ":" : "", tag ? tag : "") <
	    0)
		return nb_err_set(err, ENOMEM, "image name");
	if (src->kind == NB_SOURCE_OCI) {
		if (!S_ISDIR(st.st_mode))
			return nb_err_set(err, 0,
					  "oci:%s: not a directory (an OCI archive is "
					  "oci-archive:PATH)",
					  src->path);
		return nb_import_layout(c, real, tag, name, opts, out, err);
	}
	if (!S_ISREG(st.st_mode))
		return nb_err_set(err, 0,
				  "%s%s: not an archive file (a layout directory is oci:PATH)",
				  prefixes[src->kind], src->path);
	return import_archive(c, real,
			      src->kind == NB_SOURCE_OCI_ARCHIVE ? NB_ARCHIVE_OCI
								 : NB_ARCHIVE_DOCKER,
			      tag, name, opts, out, err);
}

static int source_of(const char *text, struct nb_source_name *src, struct nb_err *err)
{
	struct stat st;

	return nb_source_parse(text, stat(text, &st) == 0, src, err);
}

int nb_image_pull(const char *ref, const struct nb_pull_opts *opts, struct nb_image *out,
		  struct nb_err *err)
{
	struct nb_pull_opts o = *opts;
	struct nb_source_name src;
	struct nb_cache c;
	int rc;

	if (!o.limits)
		o.limits = &nb_layer_default_limits;
	if (source_of(ref, &src, err) < 0)
		return -1;
	if (nb_cache_open(&c, false, err) < 0)
		return -1;
	if (src.kind == NB_SOURCE_REGISTRY)
		rc = nb_registry_pull(&c, src.path, &o, out, err);
	else
		rc = import_local(&c, &src, &o, out, err);
	nb_cache_close(&c);
	return rc;
}

char *nb_image_absolute(const char *ref, struct nb_err *err)
{
	struct nb_source_name src;
	cleanup_free char *real = NULL;
	/* a transport's prefix ends at the first ':' (PATH has none after it) */
	size_t prefix = 0;
	char *out;

	if (source_of(ref, &src, err) < 0)
		return NULL;
	if (src.kind == NB_SOURCE_REGISTRY) {
		out = strdup(ref);
		return out ? out : (nb_err_sys(err, "%s", ref), NULL);
	}
	if (src.kind != NB_SOURCE_PATH)
		prefix = (size_t)(strchr(ref, ':') - ref) + 1;
	real = realpath(src.path, NULL);
	if (!real)
		return nb_err_sys(err, "image %s", src.path), NULL;
	if (asprintf(&out, "%.*s%s%s%s", (int)prefix, ref, real, src.tag[0] ? ":" : "", src.tag) <
	    0)
		return nb_err_sys(err, "%s", ref), NULL;
	return out;
}

bool nb_image_is_reference(const char *arg)
{
	struct nb_source_name src;
	struct nb_err ignored;
	struct stat st;
	char *layout;
	bool yes;

	if (source_of(arg, &src, &ignored) < 0)
		return true; /* a bad transport or reference: its error comes later */
	if (src.kind != NB_SOURCE_PATH)
		return true;
	if (stat(arg, &st) < 0)
		return false;
	if (S_ISREG(st.st_mode))
		return true;
	if (!S_ISDIR(st.st_mode) || asprintf(&layout, "%s/oci-layout", arg) < 0)
		return false;
	yes = access(layout, F_OK) == 0;
	free(layout);
	return yes;
}

int nb_image_record_name(const char *text, char *name, size_t size)
{
	struct nb_source_name src;
	struct nb_err ignored;
	struct nb_ref ref;

	if (source_of(text, &src, &ignored) == 0 && src.kind == NB_SOURCE_REGISTRY &&
	    nb_ref_parse(src.path, &ref, &ignored) == 0)
		return nb_ref_format(&ref, name, size);
	return snprintf(name, size, "%s", text) < (int)size ? 0 : -1;
}

int nb_image_resolve(const char *ref, const struct nb_report *report, struct nb_image *out,
		     struct nb_err *err)
{
	/* stdout is the workload's: report on stderr (a terminal) or not at all. */
	struct nb_pull_opts opts = { .quiet = !isatty(2),
				     .progress = isatty(2),
				     .report = *report };
	struct nb_source_name src;
	char name[NB_REF_TEXT_MAX];
	struct nb_cache c;
	bool found = false;
	int rc;

	*out = (struct nb_image){ 0 };
	if (source_of(ref, &src, err) < 0)
		return -1;
	if (src.kind != NB_SOURCE_REGISTRY)
		return nb_image_pull(ref, &opts, out, err);
	/* A cached image by its canonical name (or its id), else a pull. */
	if (nb_image_record_name(src.path, name, sizeof(name)) < 0)
		return nb_err_set(err, 0, "image name is too long");
	if (nb_cache_open(&c, false, err) < 0)
		return -1;
	rc = nb_records_find(&c, name, out, &found, err);
	if (rc == 0 && !found && strcmp(name, src.path) != 0)
		rc = nb_records_find(&c, src.path, out, &found, err);
	nb_cache_close(&c);
	if (rc < 0 || found)
		return rc;
	return nb_image_pull(ref, &opts, out, err);
}
