/* Registry references: [HOST[:PORT]/]NAME[:TAG][@sha256:HEX]. */
#ifndef NESTBOX_IMAGES_REGISTRY_H
#define NESTBOX_IMAGES_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include "images/cache.h"
#include "images/types.h"
#include "nestbox/err.h"

#define NB_REF_HOST_MAX 256
#define NB_REF_REPO_MAX 256
#define NB_REF_TAG_MAX 128

struct nb_ref {
	char host[NB_REF_HOST_MAX]; /* "registry-1.docker.io" for Docker Hub names */
	char repo[NB_REF_REPO_MAX]; /* "library/busybox" */
	char tag[NB_REF_TAG_MAX];   /* "latest" unless a digest is given */
	char digest[80];            /* "sha256:..." or "" */
	bool loopback;              /* localhost, 127.x, [::1]: plain HTTP by default */
};

int nb_ref_parse(const char *text, struct nb_ref *out, struct nb_err *err);

/* Parse a WWW-Authenticate: Bearer challenge's realm, service and scope. */
int nb_auth_parse_bearer(const char *header, char *realm, size_t realm_size, char *service,
			 size_t service_size, char *scope, size_t scope_size);

struct nb_creds;

/* The auth-file key for a `nestbox login` argument: HOST[:PORT], a scheme
 * and path dropped, Docker Hub's names as "docker.io". */
int nb_registry_server(const char *arg, char *key, size_t size, struct nb_err *err);

/* Check creds against the registry named by key (GET /v2/ through its
 * Bearer or Basic challenge); HTTP for loopback or with insecure. */
int nb_registry_login(const char *key, const struct nb_creds *creds, bool insecure,
		      struct nb_err *err);

/* Pull ref into the cache, import and record it; fills out when not NULL. */
int nb_registry_pull(struct nb_cache *c, const char *ref, const struct nb_pull_opts *opts,
		     struct nb_image *out, struct nb_err *err);

#endif
