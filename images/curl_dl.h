/* libcurl, loaded on first use. Linking it would pull ~25 shared libraries
 * (TLS, HTTP/2, LDAP, Kerberos, ...) into every nestbox start, ~7 ms of
 * dynamic loading measured here, for the one command that talks HTTP. */
#ifndef NESTBOX_IMAGES_CURL_DL_H
#define NESTBOX_IMAGES_CURL_DL_H

#define CURL_DISABLE_TYPECHECK
/* CURLOPT_PROTOCOLS and CURLOPT_REDIR_PROTOCOLS are deprecated since 7.85,
 * and used only where the library predates their _STR successors. */
#define CURL_DISABLE_DEPRECATION
#include <curl/curl.h>

#include "nestbox/err.h"

struct nb_curl {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
	CURLcode (*easy_perform)(CURL *curl);
	CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *curl);
	const char *(*easy_strerror)(CURLcode code);
	char *(*easy_escape)(CURL *curl, const char *string, int length);
	void (*free)(void *p);
	struct curl_slist *(*slist_append)(struct curl_slist *list, const char *string);
	void (*slist_free_all)(struct curl_slist *list);
	CURLSH *(*share_init)(void);
	CURLSHcode (*share_setopt)(CURLSH *share, CURLSHoption option, ...);
	CURLSHcode (*share_cleanup)(CURLSH *share);
};

/* The loaded API (once per process), or NULL with err set. */
const struct nb_curl *nb_curl_load(struct nb_err *err);

#endif
