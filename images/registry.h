/* The registry client: pull by reference (images/reference.h), login. */
#ifndef NESTBOX_IMAGES_REGISTRY_H
#define NESTBOX_IMAGES_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include "images/cache.h"
#include "images/reference.h"
#include "images/types.h"
#include "nestbox/err.h"

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
