/* Registry credentials where podman, skopeo and docker keep them, so a
 * login made with any of them works for nestbox and the other way round.
 * Read from the first file that exists of
 *   $REGISTRY_AUTH_FILE (when set, the only one)
 *   ${XDG_RUNTIME_DIR:-/run/containers/$UID}/containers/auth.json
 *     (without XDG_RUNTIME_DIR: /run/containers/$UID/auth.json, podman's)
 *   $HOME/.config/containers/auth.json
 *   $HOME/.docker/config.json
 * each `{"auths": {"HOST[:PORT]": {"auth": base64("user:password")}}}`
 * (keys may carry a scheme or a path, as docker writes them; credential
 * helpers are not run). `nestbox login` writes the first of the list
 * (mode 0600, temp file + rename, other entries kept). */
#ifndef NESTBOX_IMAGES_AUTH_H
#define NESTBOX_IMAGES_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "nestbox/err.h"

#define NB_AUTH_FIELD_MAX 1024 /* user and password, each */

struct nb_creds {
	char user[NB_AUTH_FIELD_MAX];
	char pass[NB_AUTH_FIELD_MAX];
};

/* Credentials for host ("registry-1.docker.io" also matches docker.io and
 * index.docker.io). *found false with 0 when there are none; -1 when an
 * auth file exists but cannot be read or parsed. */
int nb_auth_lookup(const char *host, struct nb_creds *out, bool *found, struct nb_err *err);

/* Store creds for host in the file login writes; *path_out (optional) gets
 * its name, freed by the caller. */
int nb_auth_store(const char *host, const struct nb_creds *creds, char **path_out,
		  struct nb_err *err);

/* Remove host's entry from that file; *found false when there was none. */
int nb_auth_remove(const char *host, bool *found, struct nb_err *err);

/* base64("user:pass") into out (size >= 4/3 of both plus 8). */
int nb_auth_basic(const struct nb_creds *creds, char *out, size_t size, struct nb_err *err);

#endif
