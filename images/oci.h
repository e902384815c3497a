/* OCI image index / manifest / config parsers (also Docker's v2 schema 2
 * manifest list, manifest and config, which share the shapes), and the walk
 * from an index to one linux/amd64 manifest. Parsers take untrusted bytes and
 * bound every count and length; they never touch the file system, so the
 * fuzzer (tests/fuzz/fuzz_manifest.c) drives them directly. */
#ifndef NESTBOX_IMAGES_OCI_H
#define NESTBOX_IMAGES_OCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "images/digest.h"
#include "nestbox/err.h"

#define NB_OCI_MAX_MANIFESTS 1024 /* entries in one index */
#define NB_OCI_MAX_LAYERS 127     /* Docker's limit; a VM takes as many (NB_MAX_LAYERS) */
#define NB_OCI_MAX_INDEX_DEPTH 8  /* nested indexes: deeper is a loop or abuse */
#define NB_OCI_MAX_STRV 4096      /* Entrypoint/Cmd/Env entries */
#define NB_OCI_MAX_STR 65536
#define NB_OCI_MT_MAX 128
#define NB_OCI_REF_MAX 256

enum nb_media {
	NB_MEDIA_UNKNOWN,
	NB_MEDIA_INDEX,    /* OCI index or Docker manifest list */
	NB_MEDIA_MANIFEST, /* OCI or Docker v2s2 manifest */
	NB_MEDIA_CONFIG,
	NB_MEDIA_LAYER_TAR,
	NB_MEDIA_LAYER_GZIP,
	NB_MEDIA_LAYER_ZSTD,
};

enum nb_media nb_media_classify(const char *media_type);

struct nb_desc {
	char media_type[NB_OCI_MT_MAX];
	enum nb_media media;
	struct nb_digest digest;
	int64_t size;
	char os[32], arch[32], variant[32]; /* platform, "" when absent */
	char ref_name[NB_OCI_REF_MAX];      /* org.opencontainers.image.ref.name */
};

struct nb_index {
	struct nb_desc *manifests;
	size_t n;
};

struct nb_manifest {
	struct nb_desc config;
	struct nb_desc *layers;
	size_t n_layers;
};

struct nb_image_config {
	char **entrypoint, **cmd, **env; /* NULL-terminated, NULL when unset */
	char *workdir, *user;            /* NULL when unset */
	struct nb_digest *diff_ids;      /* rootfs.diff_ids */
	size_t n_diff_ids;
};

int nb_oci_parse_index(const char *data, size_t len, struct nb_index *out, struct nb_err *err);
int nb_oci_parse_manifest(const char *data, size_t len, struct nb_manifest *out,
			  struct nb_err *err);
int nb_oci_parse_config(const char *data, size_t len, struct nb_image_config *out,
			struct nb_err *err);
void nb_index_free(struct nb_index *i);
void nb_manifest_free(struct nb_manifest *m);
void nb_image_config_free(struct nb_image_config *c);

/* Pick the entry of idx for linux/amd64 (an entry with no platform counts
 * when it is the only one); name, when set, must match its ref.name
 * annotation. Returns its position or -1 with err naming what was there. */
int nb_oci_select(const struct nb_index *idx, const char *name, struct nb_err *err);

/* Fetch the bytes of a descriptor (small JSON blobs), verified against its
 * digest and size; *data is malloc'd. */
/* A fetched config or manifest against its descriptor: size and digest
 * (nb_digest_check; the error says which of the two it was). */
int nb_desc_check(const struct nb_desc *d, const void *data, size_t len, struct nb_err *err);

typedef int (*nb_fetch_fn)(void *ctx, const struct nb_desc *d, char **data, size_t *len,
			   struct nb_err *err);

/* From a descriptor (index or manifest) to the linux/amd64 manifest,
 * following nested indexes up to NB_OCI_MAX_INDEX_DEPTH. *manifest_desc
 * gets the chosen manifest's descriptor. */
int nb_oci_resolve(nb_fetch_fn fetch, void *ctx, const struct nb_desc *start, const char *name,
		   struct nb_desc *manifest_desc, struct nb_manifest *manifest, struct nb_err *err);

/* Same, starting from index bytes already in hand (index.json of a layout). */
int nb_oci_resolve_index(nb_fetch_fn fetch, void *ctx, const char *data, size_t len,
			 const char *name, struct nb_desc *manifest_desc,
			 struct nb_manifest *manifest, struct nb_err *err);

#endif
