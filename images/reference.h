/* Image references by Docker's rules (the grammar of
 * github.com/distribution/reference, with Docker's normalisation):
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] path          (at most 255 bytes)
 *   domain     := host [ ":" port ]             host: DNS-like name or [IPv6]
 *   path       := component ( "/" component )*
 *   component  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
 *   digest     := sha256 ":" 64 lowercase hex   (the only algorithm pulled)
 *
 * The first component is a registry only if it has a '.' or a ':', is
 * "localhost", or has an uppercase letter; otherwise the registry is Docker
 * Hub: `alpine` is docker.io/library/alpine:latest, `docker.io/alpine` and
 * `index.docker.io/alpine` the same, and Docker Hub is reached at
 * registry-1.docker.io. A name without tag or digest gets ":latest". A bare
 * 64-hex string is an image id, never a name.
 *
 * Local images (images/image.h) use skopeo's and podman's transports:
 *   oci:PATH[:TAG], oci-archive:PATH[:TAG], docker-archive:PATH[:REF],
 *   docker://REFERENCE; PATH ends at the first ':' as in skopeo. */
#ifndef NESTBOX_IMAGES_REFERENCE_H
#define NESTBOX_IMAGES_REFERENCE_H

#include <stdbool.h>
#include <stddef.h>

#include "nestbox/err.h"

#define NB_REF_NAME_MAX 255 /* domain "/" path, as distribution's NameTotalLengthMax */
#define NB_REF_HOST_MAX 256
#define NB_REF_REPO_MAX 256
#define NB_REF_TAG_MAX 129 /* 128 and the NUL */
#define NB_REF_DIGEST_MAX 72
#define NB_REF_TEXT_MAX 4096 /* longest text nb_ref_parse looks at */

struct nb_ref {
	char domain[NB_REF_HOST_MAX];   /* as named: "docker.io", "localhost:5000" */
	char host[NB_REF_HOST_MAX];     /* where to connect: "registry-1.docker.io" for docker.io */
	char repo[NB_REF_REPO_MAX];     /* "library/busybox" */
	char tag[NB_REF_TAG_MAX];       /* "latest" when neither tag nor digest is given */
	char digest[NB_REF_DIGEST_MAX]; /* "sha256:<64 hex>" or "" */
	bool loopback;                  /* localhost, 127.x, [::1]: plain HTTP by default */
};

/* Parse and normalise text; err names what is wrong and how it should look. */
int nb_ref_parse(const char *text, struct nb_ref *out, struct nb_err *err);

/* The canonical name DOMAIN/PATH[:TAG][@DIGEST] (what `nestbox images`
 * records), into buf; -1 if it does not fit. */
int nb_ref_format(const struct nb_ref *ref, char *buf, size_t size);

/* A registry's name as a reference's domain: host[:port], host a DNS-like
 * name (components of letters, digits and inner '-') or [IPv6]. */
bool nb_ref_valid_domain(const char *s);

/* Whether a host[:port] is this machine (plain HTTP by default). */
bool nb_ref_is_loopback(const char *host);

/* How a local or remote image was named (images/image.c resolves it). */
enum nb_source_kind {
	NB_SOURCE_PATH,           /* an existing path: a layout, an archive, a rootfs dir */
	NB_SOURCE_OCI,            /* oci:PATH[:TAG] */
	NB_SOURCE_OCI_ARCHIVE,    /* oci-archive:PATH[:TAG] */
	NB_SOURCE_DOCKER_ARCHIVE, /* docker-archive:PATH[:REF] */
	NB_SOURCE_REGISTRY,       /* a reference (docker://REFERENCE too) */
};

struct nb_source_name {
	enum nb_source_kind kind;
	char path[NB_REF_TEXT_MAX]; /* PATH, or the reference's text for a registry */
	char tag[NB_REF_TEXT_MAX];  /* TAG or REF after PATH; "" when none */
};

/* Split a transport prefix off text. Without one, kind is NB_SOURCE_PATH
 * when text starts with '/' or '.' or names something on disk (the caller
 * looks), else NB_SOURCE_REGISTRY; exists says whether text is on disk.
 * Checks the transport's parts (a non-empty PATH; a TAG by the tag grammar;
 * a REF by the reference grammar), not the files. */
int nb_source_parse(const char *text, bool exists, struct nb_source_name *out, struct nb_err *err);

/* Whether the tag grammar accepts s. */
bool nb_ref_valid_tag(const char *s);

#endif
