#include "images/curl_dl.h"

#include "common/dl.h"

#define SYM(field, name) NB_DL_SYM(struct nb_curl, field, name)

static const struct nb_dl_sym symbols[] = {
	SYM(global_init, "curl_global_init"),
	SYM(easy_init, "curl_easy_init"),
	SYM(easy_setopt, "curl_easy_setopt"),
	SYM(easy_perform, "curl_easy_perform"),
	SYM(easy_getinfo, "curl_easy_getinfo"),
	SYM(easy_cleanup, "curl_easy_cleanup"),
	SYM(easy_strerror, "curl_easy_strerror"),
	SYM(easy_escape, "curl_easy_escape"),
	SYM(free, "curl_free"),
	SYM(slist_append, "curl_slist_append"),
	SYM(slist_free_all, "curl_slist_free_all"),
	SYM(share_init, "curl_share_init"),
	SYM(share_setopt, "curl_share_setopt"),
	SYM(share_cleanup, "curl_share_cleanup"),
};

const struct nb_curl *nb_curl_load(struct nb_err *err)
{
	static struct nb_dl lib = { .soname = "libcurl.so.4", .package = "libcurl4" };
	static struct nb_curl api;

	if (NB_DL_LOAD(&lib, symbols, &api, err) < 0) {
		nb_err_wrap(err, "registry pulls need libcurl");
		return NULL;
	}
	return &api;
}
