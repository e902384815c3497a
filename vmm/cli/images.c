#include "vmm/cli/images.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "images/image.h"
#include "images/json.h"
#include "images/reference.h"
#include "vmm/cli/login.h"
#include "images/records.h"
#include "vmm/cli/print.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"

#define IMAGE_FORMS                                                                                 \
	"IMAGE is a registry reference by Docker's rules ([HOST[:PORT]/]NAME[:TAG][@sha256:HEX];\n" \
	"`alpine` is docker.io/library/alpine:latest), docker://REF, oci:DIR[:TAG] (an OCI\n"       \
	"layout), oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG], or a path: a\n"           \
	"layout directory, an OCI or docker archive.\n"

static const char pull_usage[] =
	"Usage: nestbox pull [--insecure] [-q|--quiet] IMAGE\n"
	"\n"
	"Fetch IMAGE into the local store, verifying every blob, and convert each layer\n"
	"once into the layer cache (erofs, ${XDG_CACHE_HOME:-$HOME/.cache}/nestbox).\n" IMAGE_FORMS
	"Registries are HTTPS; loopback registries (localhost, 127.0.0.1) and --insecure\n"
	"use plain HTTP. Prints `layer I/N sha256:HEX BYTES converted|cached` and\n"
	"`image sha256:HEX NAME` on stdout (a progress bar on stderr when it is a terminal).\n";

static const char images_usage[] =
	"Usage: nestbox images [-q|--quiet] [--format json] [--json]\n"
	"\n"
	"List the images in the local store: a table of name, manifest digest, layers\n"
	"and layer cache size. -q: image ids only (the config digest's first 12 hex\n"
	"digits, as docker). --format json: one JSON object per image and line, with\n"
	"docker's fields (Repository, Tag, Digest, ID, CreatedAt, Size) and SizeBytes.\n"
	"--json: the store's own records as one JSON array.\n";

static const char rmi_usage[] =
	"Usage: nestbox rmi IMAGE\n"
	"\n"
	"Remove an image from the local store, and the layers no other image uses.\n"
	"IMAGE is a name as `nestbox images` lists it (a registry reference is\n"
	"normalised as pull does: `rmi alpine` removes docker.io/library/alpine:latest),\n"
	"a manifest digest sha256:HEX, or 12 or more of its first hex digits.\n";

static const char prune_usage[] = "Usage: nestbox prune\n"
				  "\n"
				  "Remove the layers and blobs no image in the store uses.\n";

static const char *usage_of(const char *cmd)
{
	if (!strcmp(cmd, "pull"))
		return pull_usage;
	if (!strcmp(cmd, "images"))
		return images_usage;
	if (!strcmp(cmd, "rmi"))
		return rmi_usage;
	return prune_usage;
}

static int unknown_option(const char *cmd, const char *arg)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "%s: unknown option '%.100s'", cmd, arg);
	return nb_cli_usage_error(cmd, msg);
}

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
		else if (argv[i][0] == '-' && argv[i][1])
			return unknown_option("pull", argv[i]);
		else if (ref)
			return nb_cli_usage_error("pull", "pull: give one IMAGE");
		else
			ref = argv[i];
	}
	if (!ref)
		return nb_cli_usage_error("pull", "pull: missing IMAGE");
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

/* "docker.io/library/alpine:3" -> "alpine" and "3", as docker shows them;
 * a transport's name splits after its PATH; other names at the tag's ':'
 * (after the last '/'); no tag: <none>. */
static void repo_tag(const char *ref, char *repo, size_t rsize, char *tag, size_t tsize)
{
	const char *at = strchr(ref, '@'), *slash, *colon;
	size_t n = at ? (size_t)(at - ref) : strlen(ref);
	struct nb_source_name src;
	struct nb_err ignored;

	if (nb_source_parse(ref, false, &src, &ignored) == 0 && src.kind != NB_SOURCE_PATH &&
	    src.kind != NB_SOURCE_REGISTRY) {
		snprintf(repo, rsize, "%.*s", (int)(strcspn(ref, ":") + 1 + strlen(src.path)), ref);
		snprintf(tag, tsize, "%.255s", src.tag[0] ? src.tag : "<none>");
		return;
	}
	if (!strncmp(ref, "docker.io/library/", 18) && !memchr(ref + 18, '/', n - 18))
		ref += 18, n -= 18;
	else if (!strncmp(ref, "docker.io/", 10))
		ref += 10, n -= 10;
	slash = memrchr(ref, '/', n);
	colon = memrchr(slash ? slash : ref, ':', n - (size_t)(slash ? slash - ref : 0));
	snprintf(repo, rsize, "%.*s", (int)(colon ? (size_t)(colon - ref) : n), ref);
	snprintf(tag, tsize, "%.*s", colon ? (int)(n - (size_t)(colon - ref) - 1) : 6,
		 colon ? colon + 1 : "<none>");
}

static void human_size(int64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB" };
	double v = (double)bytes;
	unsigned u = 0;

	while (v >= 1000 && u + 1 < sizeof(units) / sizeof(units[0]))
		v /= 1000, u++;
	snprintf(buf, size, u ? "%.3g%s" : "%.0f%s", v, units[u]);
}

/* One docker-like JSON object per line. */
static void print_json_lines(struct json_object *images)
{
	for (size_t i = 0; i < json_object_array_length(images); i++) {
		struct json_object *rec = json_object_array_get_idx(images, i), *size, *created;
		struct json_object *o = json_object_new_object();
		char repo[4096], tag[256], when[64], human[32];
		int64_t bytes = 0;
		time_t t = 0;
		struct tm tm;

		repo_tag(str_of(rec, "ref"), repo, sizeof(repo), tag, sizeof(tag));
		if (json_object_object_get_ex(rec, "erofs_size", &size))
			bytes = json_object_get_int64(size);
		if (json_object_object_get_ex(rec, "created", &created))
			t = (time_t)json_object_get_int64(created);
		if (!gmtime_r(&t, &tm) ||
		    !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S +0000 UTC", &tm))
			when[0] = '\0'; /* a record's time out of range */
		human_size(bytes, human, sizeof(human));
		json_object_object_add(o, "Repository", json_object_new_string(repo));
		json_object_object_add(o, "Tag", json_object_new_string(tag));
		json_object_object_add(o, "Digest",
				       json_object_new_string(str_of(rec, "manifest")));
		json_object_object_add(o, "ID", json_object_new_string(str_of(rec, "config")));
		json_object_object_add(o, "Name", json_object_new_string(str_of(rec, "ref")));
		json_object_object_add(o, "CreatedAt", json_object_new_string(when));
		json_object_object_add(o, "Size", json_object_new_string(human));
		json_object_object_add(o, "SizeBytes", json_object_new_int64(bytes));
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	}
}

/* -q: each image's short id (config digest), once. */
static void print_ids(struct json_object *images)
{
	for (size_t i = 0; i < json_object_array_length(images); i++) {
		const char *id = str_of(json_object_array_get_idx(images, i), "config");
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(id, str_of(json_object_array_get_idx(images, j), "config"));
		if (!seen && strlen(id) >= 7 + 12)
			printf("%.12s\n", id + 7);
	}
}

enum images_out { OUT_TABLE, OUT_RECORDS, OUT_JSON_LINES, OUT_IDS };

static int images_options(int argc, char **argv, enum images_out *out)
{
	*out = OUT_TABLE;
	for (int i = 1; i < argc; i++) {
		const char *fmt = NULL;

		if (!strcmp(argv[i], "--json"))
			*out = OUT_RECORDS;
		else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
			*out = OUT_IDS;
		else if (!strncmp(argv[i], "--format=", 9))
			fmt = argv[i] + 9;
		else if (!strcmp(argv[i], "--format") && i + 1 < argc)
			fmt = argv[++i];
		else
			return unknown_option("images", argv[i]);
		if (fmt && strcmp(fmt, "json") != 0)
			return nb_cli_usage_error("images", "images: the only --format is json");
		if (fmt)
			*out = OUT_JSON_LINES;
	}
	return 0;
}

static int cmd_images(int argc, char **argv)
{
	struct nb_err err = { 0 };
	struct nb_cache c;
	struct json_object *o, *images;
	enum images_out out;

	if (images_options(argc, argv, &out))
		return NB_STATUS_ERROR;
	if (nb_cache_open(&c, false, &err) < 0)
		return nb_cli_error(NULL, &err);
	o = nb_records_load(&c, &err);
	if (!o) {
		nb_cache_close(&c);
		return nb_cli_error(NULL, &err);
	}
	json_object_object_get_ex(o, "images", &images);
	add_sizes(&c, images);
	if (out == OUT_RECORDS)
		puts(json_object_to_json_string_ext(images,
						    JSON_C_TO_STRING_PLAIN |
							    JSON_C_TO_STRING_NOSLASHESCAPE));
	else if (out == OUT_JSON_LINES)
		print_json_lines(images);
	else if (out == OUT_IDS)
		print_ids(images);
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
		return nb_cli_usage_error("prune", "prune takes no arguments");
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
	char name[4096], want[4096];
	int rc;

	if (argc != 2)
		return nb_cli_usage_error("rmi", "rmi: give one IMAGE");
	if (argv[1][0] == '-')
		return unknown_option("rmi", argv[1]);
	if (nb_image_record_name(argv[1], want, sizeof(want)) < 0)
		return nb_cli_usage_error("rmi", "rmi: the image name is too long");
	if (nb_cache_open(&c, true, &err) < 0)
		return nb_cli_error(NULL, &err);
	rc = nb_records_remove(&c, want, name, sizeof(name), &err);
	if (rc == 0 && !name[0] && strcmp(want, argv[1]) != 0)
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
			return fputs(usage_of(argv[0]), stdout), 0;
	if (!strcmp(argv[0], "pull"))
		return cmd_pull(argc, argv);
	if (!strcmp(argv[0], "images"))
		return cmd_images(argc, argv);
	if (!strcmp(argv[0], "rmi"))
		return cmd_rmi(argc, argv);
	return cmd_prune(argc, argv);
}
