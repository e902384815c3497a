#include "vmm/kvm/statefile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "images/digest.h"

#define MAGIC "NBSNAP\r\n"

struct header_raw {
	char magic[8];
	uint32_t format;
	uint32_t abi, spec_format;
	uint32_t ncpus;
	uint64_t mem_size;
	struct nb_state_host host;
	uint64_t body_len;
	char body_sha256[NB_DIGEST_HEX_LEN + 1]; /* hex, NUL-terminated */
};

struct section_raw {
	uint32_t tag, index, len;
};

void nb_state_put(struct nb_state_buf *b, uint32_t tag, uint32_t index, const void *data,
		  size_t len)
{
	struct section_raw s = { tag, index, (uint32_t)len };
	size_t need = sizeof(s) + len;

	if (b->failed || len > NB_STATE_MAX_SECTION || b->len + need > NB_STATE_MAX_BODY) {
		b->failed = true;
		return;
	}
	if (b->len + need > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 65536) + need;
		uint8_t *p = realloc(b->data, cap);

		if (!p) {
			b->failed = true;
			return;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, &s, sizeof(s));
	memcpy(b->data + b->len + sizeof(s), data, len);
	b->len += need;
}

void nb_state_buf_free(struct nb_state_buf *b)
{
	free(b->data);
	*b = (struct nb_state_buf){ 0 };
}

int nb_state_finish(const struct nb_state_header *h, const struct nb_state_buf *b, void **file,
		    size_t *len, struct nb_err *err)
{
	struct header_raw raw = { .format = NB_STATE_FORMAT,
				  .abi = h->abi,
				  .spec_format = h->spec_format,
				  .ncpus = h->ncpus,
				  .mem_size = h->mem_size,
				  .host = h->host,
				  .body_len = b->len };
	struct nb_digest d;
	uint8_t *out;

	if (b->failed)
		return nb_err_set(err, ENOMEM, "snapshot state: a section did not fit");
	memcpy(raw.magic, MAGIC, sizeof(raw.magic));
	if (nb_sha256_buf(b->data, b->len, &d, err) < 0)
		return -1;
	memcpy(raw.body_sha256, d.hex, sizeof(raw.body_sha256));
	out = malloc(sizeof(raw) + b->len);
	if (!out)
		return nb_err_sys(err, "snapshot state");
	memcpy(out, &raw, sizeof(raw));
	if (b->len)
		memcpy(out + sizeof(raw), b->data, b->len);
	*file = out;
	*len = sizeof(raw) + b->len;
	return 0;
}

static bool terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

/* The writer's host against this one, field by field. */
static int check_host(const struct nb_state_host *got, const struct nb_state_host *want,
		      struct nb_err *err)
{
	if (strcmp(got->vendor, want->vendor) || got->signature != want->signature)
		return nb_err_set(err, 0,
				  "it was taken on another CPU (%.15s signature %#x; this host: "
				  "%.15s %#x)",
				  got->vendor, got->signature, want->vendor, want->signature);
	if (strcmp(got->kernel, want->kernel))
		return nb_err_set(err, 0, "it was taken under host kernel %.71s (this one: %.71s)",
				  got->kernel, want->kernel);
	if (memcmp(got->cpuid_hash, want->cpuid_hash, sizeof(got->cpuid_hash)))
		return nb_err_set(err, 0, "KVM's CPUID features differ from this host's");
	if (memcmp(got->msr_hash, want->msr_hash, sizeof(got->msr_hash)))
		return nb_err_set(err, 0, "KVM's list of MSRs differs from this host's");
	return 0;
}

static int check_expected(const struct nb_state_header *got, const struct nb_state_header *want,
			  struct nb_err *err)
{
	if (got->abi != want->abi || got->spec_format != want->spec_format)
		return nb_err_set(err, 0,
				  "it was written by another nestbox (ABI %u, spec format %u; "
				  "this one: %u, %u)",
				  got->abi, got->spec_format, want->abi, want->spec_format);
	if (check_host(&got->host, &want->host, err) < 0)
		return -1;
	if (got->mem_size != want->mem_size || got->ncpus != want->ncpus)
		return nb_err_set(err, 0,
				  "it is of a VM with %llu MiB and %u vCPUs, not %llu MiB and %u",
				  (unsigned long long)(got->mem_size >> 20), got->ncpus,
				  (unsigned long long)(want->mem_size >> 20), want->ncpus);
	return 0;
}

/* Every section's header and bytes inside the body, at most
 * NB_STATE_MAX_SECTIONS of them. */
static int check_sections(const uint8_t *body, size_t len, struct nb_err *err)
{
	size_t off = 0;
	unsigned n = 0;

	while (off < len) {
		struct section_raw s;

		if (len - off < sizeof(s) || ++n > NB_STATE_MAX_SECTIONS)
			return nb_err_set(err, 0, "section %u is cut short or one too many", n);
		memcpy(&s, body + off, sizeof(s));
		off += sizeof(s);
		if (s.len > NB_STATE_MAX_SECTION || s.len > len - off)
			return nb_err_set(err, 0, "section %u (tag %u) runs past the end", n,
					  s.tag);
		off += s.len;
	}
	return 0;
}

static int parse(const void *file, size_t len, const struct nb_state_header *expect,
		 struct nb_state *out, struct nb_err *err)
{
	struct header_raw raw;
	struct nb_digest d;

	if (len < sizeof(raw))
		return nb_err_set(err, 0, "it is truncated (%zu bytes)", len);
	memcpy(&raw, file, sizeof(raw));
	if (memcmp(raw.magic, MAGIC, sizeof(raw.magic)))
		return nb_err_set(err, 0, "it is not a nestbox snapshot");
	if (raw.format != NB_STATE_FORMAT)
		return nb_err_set(err, 0, "its format is %u; this nestbox reads format %u",
				  raw.format, NB_STATE_FORMAT);
	if (raw.body_len > NB_STATE_MAX_BODY || raw.body_len != len - sizeof(raw))
		return nb_err_set(err, 0, "it is truncated or has trailing bytes");
	if (!terminated(raw.host.vendor, sizeof(raw.host.vendor)) ||
	    !terminated(raw.host.kernel, sizeof(raw.host.kernel)))
		return nb_err_set(err, 0, "its host identity is malformed");
	out->body = (const uint8_t *)file + sizeof(raw);
	out->body_len = (size_t)raw.body_len;
	if (nb_sha256_buf(out->body, out->body_len, &d, err) < 0)
		return -1;
	if (memcmp(d.hex, raw.body_sha256, sizeof(raw.body_sha256)))
		return nb_err_set(err, 0, "its checksum does not match (the file is corrupt)");
	out->h = (struct nb_state_header){ .abi = raw.abi,
					   .spec_format = raw.spec_format,
					   .host = raw.host,
					   .mem_size = raw.mem_size,
					   .ncpus = raw.ncpus };
	if (check_sections(out->body, out->body_len, err) < 0)
		return -1;
	return expect ? check_expected(&out->h, expect, err) : 0;
}

int nb_state_parse(const void *file, size_t len, const struct nb_state_header *expect,
		   struct nb_state *out, struct nb_err *err)
{
	memset(out, 0, sizeof(*out));
	if (parse(file, len, expect, out, err) < 0) {
		memset(out, 0, sizeof(*out));
		return nb_err_wrap(err, "snapshot refused");
	}
	return 0;
}

int nb_state_find(const struct nb_state *s, uint32_t tag, uint32_t index, const void **data,
		  size_t *len, struct nb_err *err)
{
	size_t off = 0;

	/* The framing was checked by nb_state_parse. */
	while (off + sizeof(struct section_raw) <= s->body_len) {
		struct section_raw r;

		memcpy(&r, s->body + off, sizeof(r));
		off += sizeof(r);
		if (r.len > s->body_len - off)
			break;
		if (r.tag == tag && r.index == index) {
			*data = s->body + off;
			*len = r.len;
			return 0;
		}
		off += r.len;
	}
	return nb_err_set(err, 0, "snapshot: state %u/%u is missing", tag, index);
}

int nb_state_get(const struct nb_state *s, uint32_t tag, uint32_t index, void *dst, size_t len,
		 struct nb_err *err)
{
	const void *data;
	size_t got;

	if (nb_state_find(s, tag, index, &data, &got, err) < 0)
		return -1;
	if (got != len)
		return nb_err_set(err, 0, "snapshot: state %u/%u is %zu bytes, not %zu", tag, index,
				  got, len);
	memcpy(dst, data, len);
	return 0;
}
