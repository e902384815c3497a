/* libFuzzer: the image index / manifest / config parsers and the index
 * walk, on fuzzer-written JSON. The walk's fetcher answers every
 * descriptor with the input itself, so nested indexes are exercised up to
 * the depth limit.
 *
 * Covers: images/image.c images/oci.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "images/oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	const uint8_t *data;
	size_t size;
};

static int fetch_self(void *ctx, const struct nb_desc *d, char **out, size_t *len,
		      struct nb_err *err)
{
	struct input *in = ctx;

	(void)d;
	*out = malloc(in->size + 1);
	if (!*out)
		return nb_err_set(err, 0, "oom");
	memcpy(*out, in->data, in->size);
	*len = in->size;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct nb_err err = { 0 };
	struct nb_index idx;
	struct nb_manifest m;
	struct nb_image_config c;
	struct nb_desc md;
	const char *text = (const char *)data;

	if (nb_oci_parse_index(text, size, &idx, &err) == 0) {
		nb_oci_select(&idx, NULL, &err);
		nb_oci_select(&idx, "latest", &err);
		nb_index_free(&idx);
	}
	if (nb_oci_parse_manifest(text, size, &m, &err) == 0)
		nb_manifest_free(&m);
	if (nb_oci_parse_config(text, size, &c, &err) == 0)
		nb_image_config_free(&c);
	if (nb_oci_resolve_index(fetch_self, &in, text, size, NULL, &md, &m, &err) == 0)
		nb_manifest_free(&m);
	return 0;
}
