#include "vmm/cli/images.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/image.h"
#include "images/json.h"
#include "vmm/cli/login.h"
#include "images/records.h"
#include "vmm/cli/print.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"

static const char usage_text[] =
	"Usage: nestbox pull [--insecure] [--quiet] REF\n"
	"       nestbox images [--json]\n"
	"       nestbox rmi REF\n"
	"       nestbox prune\n"
	"       nestbox login [-u USER] [--password-stdin] REGISTRY; nestbox logout REGISTRY\n"
	"\n"
	"REF is an OCI image layout directory, an OCI or docker archive .tar, or a registry\n"
	"reference [HOST[:PORT]/]NAME[:TAG][@sha256:DIGEST]. Registries are HTTPS; loopback\n"
	"registries (localhost, 127.0.0.1) and --insecure use plain HTTP.\n"
	"Layers are cached as erofs images in ${XDG_CACHE_HOME:-$HOME/.cache}/nestbox.\n"
	"pull prints `layer I/N sha256:HEX BYTES converted|cached` and `image sha256:HEX REF`\n"
	"on stdout (a progress bar on stderr instead when stderr is a terminal).\n";

static int cmd_pull(int argc, char **argv)
{
	struct nb_pull_opts opts = { .progress = isatty(2), .report = nb_cli_reporter() };
	struct nb_image img;
	struct nb_err err = { 0 };
	char d[NB_DIGEST_STR_LEN + 1];
	const char *ref = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--insecure") == 0)
			opts.insecure = true;
		else if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0)
			opts.quiet = true;
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return fputs(usage_text, stdout), 0;
		else if (argv[i][0] == '-' && argv[i][1])
			return nb_cli_usage_error("pull", "pull: unknown option");
		else if (ref)
			return nb_cli_usage_error("pull", "pull: give one REF");
		else
			ref = argv[i];
	}
	if (!ref)
		return nb_cli_usage_error("pull", "pull: missing REF");
	if (opts.quiet)
		opts.progress = false;
	if (nb_image_pull(ref, &opts, &img, &err) < 0)
		return nb_cli_error(NULL, &err);
	nb_digest_format(&img.manifest, d);
	printf("image %s %s\n", d, img.ref);
	nb_image_free(&img);
	return 0;
}

static int64_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

/* Decorate each record with the on-disk sizes of its layer images. */
static void add_sizes(const struct nb_cache *c, struct json_object *images)
{
	for (size_t i = 0; i < json_object_array_length(images); i++) {
		struct json_object *rec = json_object_array_get_idx(images, i), *layers, *dv;
		int64_t total = 0;
		if (!json_object_object_get_ex(rec, "layers", &layers) ||
		    !json_object_is_type(layers, json_type_array))
			continue;
		for (size_t j = 0; j < json_object_array_length(layers); j++) {
			struct json_object *l = json_object_array_get_idx(layers, j);
			struct nb_digest d;
			struct nb_err err;
			int64_t size = -1;
			if (json_object_object_get_ex(l, "digest", &dv) &&
			    nb_digest_parse(json_object_get_string(dv), &d, &err) == 0) {
				cleanup_free char *path = nb_cache_layer_path(c, &d);
				size = path ? file_size(path) : -1;
			}
			json_object_object_add(l, "erofs_size", json_object_new_int64(size));
			total += size > 0 ? size : 0;
		}
		json_object_object_add(rec, "erofs_size", json_object_new_int64(total));
	}
}

static const char *str_of(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : "";
}

static void print_table(struct json_object *images)
{
	int width = 3;

	for (size_t i = 0; i < json_object_array_length(images); i++) {
		int len = (int)strlen(str_of(json_object_array_get_idx(images, i), "ref"));
		width = len > width ? (len < 120 ? len : 120) : width;
	}
	printf("%-*s %-19s %6s %12s\n", width, "REF", "MANIFEST", "LAYERS", "SIZE");
	for (size_t i = 0; i < json_object_array_length(images); i++) {
		struct json_object *rec = json_object_array_get_idx(images, i), *layers, *size;
		json_object_object_get_ex(rec, "layers", &layers);
		json_object_object_get_ex(rec, "erofs_size", &size);
		printf("%-*s %-19.19s %6zu %12" PRId64 "\n", width, str_of(rec, "ref"),
		       str_of(rec, "manifest"), json_object_array_length(layers),
		       json_object_get_int64(size));
	}
}

static int cmd_images(int argc, char **argv)
{
	bool json = argc == 2 && strcmp(argv[1], "--json") == 0;
	struct nb_err err = { 0 };
	struct nb_cache c;
	struct json_object *o, *images;

	if (argc > 2 || (argc == 2 && !json))
		return nb_cli_usage_error("pull", "images: the only option is --json");
	if (nb_cache_open(&c, false, &err) < 0)
		return nb_cli_error(NULL, &err);
	o = nb_records_load(&c, &err);
	if (!o) {
		nb_cache_close(&c);
		return nb_cli_error(NULL, &err);
	}
	json_object_object_get_ex(o, "images", &images);
	add_sizes(&c, images);
	if (json)
		puts(json_object_to_json_string_ext(images,
						    JSON_C_TO_STRING_PLAIN |
							    JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		print_table(images);
	json_object_put(o);
	nb_cache_close(&c);
	return 0;
}

/* ---- prune: with the cache lock exclusive, no import is in flight ------- */

static bool referenced(struct json_object *images, const char *field, const char *hex)
{
	for (size_t i = 0; i < json_object_array_length(images); i++) {
		struct json_object *rec = json_object_array_get_idx(images, i), *layers;
		const char *m = str_of(rec, "manifest"), *cfg = str_of(rec, "config");
		if (!strcmp(field, "blob") && ((strlen(m) > 7 && !strcmp(m + 7, hex)) ||
					       (strlen(cfg) > 7 && !strcmp(cfg + 7, hex))))
			return true;
		if (!json_object_object_get_ex(rec, "layers", &layers) ||
		    !json_object_is_type(layers, json_type_array))
			continue;
		for (size_t j = 0; j < json_object_array_length(layers); j++) {
			const char *d = str_of(json_object_array_get_idx(layers, j), "digest");
			if (!strcmp(field, "layer") && strlen(d) > 7 && !strcmp(d + 7, hex))
				return true;
		}
	}
	return false;
}

struct prune_stats {
	unsigned layers, blobs;
	uint64_t bytes;
};

static void prune_layers(const struct nb_cache *c, struct json_object *images,
			 struct prune_stats *st)
{
	DIR *dir = opendir(c->layers);
	struct dirent *e;

	while (dir && (e = readdir(dir))) {
		char hex[NB_DIGEST_HEX_LEN + 1], *path;
		const char *suffix = e->d_name + 7 + NB_DIGEST_HEX_LEN;
		if (strncmp(e->d_name, "sha256-", 7) || strlen(e->d_name) < 7 + NB_DIGEST_HEX_LEN)
			continue;
		memcpy(hex, e->d_name + 7, NB_DIGEST_HEX_LEN);
		hex[NB_DIGEST_HEX_LEN] = '\0';
		if (referenced(images, "layer", hex) ||
		    asprintf(&path, "%s/%s", c->layers, e->d_name) < 0)
			continue;
		int64_t size = file_size(path);
		if (unlink(path) == 0 && !strcmp(suffix, ".erofs")) {
			st->layers++;
			st->bytes += size > 0 ? (uint64_t)size : 0;
		}
		free(path);
	}
	if (dir)
		closedir(dir);
}

static void prune_blobs(const struct nb_cache *c, struct json_object *images,
			struct prune_stats *st)
{
	DIR *dir = opendir(c->blobs);
	struct dirent *e;

	while (dir && (e = readdir(dir))) {
		char *path;
		if (e->d_name[0] == '.' || referenced(images, "blob", e->d_name) ||
		    asprintf(&path, "%s/%s", c->blobs, e->d_name) < 0)
			continue;
		int64_t size = file_size(path);
		if (unlink(path) == 0) {
			st->blobs++;
			st->bytes += size > 0 ? (uint64_t)size : 0;
		}
		free(path);
	}
	if (dir)
		closedir(dir);
}

static int prune(const struct nb_cache *c, struct prune_stats *st, struct nb_err *err)
{
	struct json_object *o = nb_records_load(c, err), *images;

	*st = (struct prune_stats){ 0 };
	if (!o)
		return -1;
	json_object_object_get_ex(o, "images", &images);
	prune_layers(c, images, st);
	prune_blobs(c, images, st);
	json_object_put(o);
	return 0;
}

static int cmd_prune(int argc, char **argv)
{
	struct nb_err err = { 0 };
	struct prune_stats st;
	struct nb_cache c;
	int rc;

	(void)argv;
	if (argc != 1)
		return nb_cli_usage_error("pull", "prune takes no arguments");
	if (nb_cache_open(&c, true, &err) < 0)
		return nb_cli_error(NULL, &err);
	rc = prune(&c, &st, &err);
	nb_cache_close(&c);
	if (rc < 0)
		return nb_cli_error(NULL, &err);
	printf("removed %u layers and %u blobs, %" PRIu64 " bytes\n", st.layers, st.blobs,
	       st.bytes);
	return 0;
}

static int cmd_rmi(int argc, char **argv)
{
	struct nb_err err = { 0 };
	struct prune_stats st;
	struct nb_cache c;
	char name[4096];
	int rc;

	if (argc != 2)
		return nb_cli_usage_error("pull", "rmi: give one REF");
	if (nb_cache_open(&c, true, &err) < 0)
		return nb_cli_error(NULL, &err);
	rc = nb_records_remove(&c, argv[1], name, sizeof(name), &err);
	if (rc == 0 && !name[0])
		rc = nb_err_set(&err, 0, "no image '%s' in the cache (see nestbox images)",
				argv[1]);
	/* Layers no other image uses go with it. */
	if (rc == 0)
		rc = prune(&c, &st, &err);
	nb_cache_close(&c);
	if (rc < 0)
		return nb_cli_error(NULL, &err);
	printf("removed %s (%u layers, %" PRIu64 " bytes freed)\n", name, st.layers, st.bytes);
	return 0;
}

int nb_images_main(int argc, char **argv)
{
	if (!strcmp(argv[0], "login"))
		return nb_cmd_login(argc, argv);
	if (!strcmp(argv[0], "logout"))
		return nb_cmd_logout(argc, argv);
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return fputs(usage_text, stdout), 0;
	if (!strcmp(argv[0], "pull"))
		return cmd_pull(argc, argv);
	if (!strcmp(argv[0], "images"))
		return cmd_images(argc, argv);
	if (!strcmp(argv[0], "rmi"))
		return cmd_rmi(argc, argv);
	return cmd_prune(argc, argv);
}
