#include "images/curl_dl.h"

#include <dlfcn.h>
#include <stddef.h>

#define LIBCURL "libcurl.so.4"

static const struct {
	const char *name;
	size_t offset;
} symbols[] = {
	{ "curl_global_init", offsetof(struct nb_curl, global_init) },
	{ "curl_easy_init", offsetof(struct nb_curl, easy_init) },
	{ "curl_easy_setopt", offsetof(struct nb_curl, easy_setopt) },
	{ "curl_easy_perform", offsetof(struct nb_curl, easy_perform) },
	{ "curl_easy_getinfo", offsetof(struct nb_curl, easy_getinfo) },
	{ "curl_easy_cleanup", offsetof(struct nb_curl, easy_cleanup) },
	{ "curl_easy_strerror", offsetof(struct nb_curl, easy_strerror) },
	{ "curl_easy_escape", offsetof(struct nb_curl, easy_escape) },
	{ "curl_free", offsetof(struct nb_curl, free) },
	{ "curl_slist_append", offsetof(struct nb_curl, slist_append) },
	{ "curl_slist_free_all", offsetof(struct nb_curl, slist_free_all) },
	{ "curl_share_init", offsetof(struct nb_curl, share_init) },
	{ "curl_share_setopt", offsetof(struct nb_curl, share_setopt) },
	{ "curl_share_cleanup", offsetof(struct nb_curl, share_cleanup) },
};

const struct nb_curl *nb_curl_load(struct nb_err *err)
{
	static struct nb_curl api;
	static void *lib;

	if (lib)
		return &api;
	lib = dlopen(LIBCURL, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		nb_err_set(err, 0,
			   "registry pulls need libcurl: %s (install libcurl4, "
			   "scripts/deps.sh)",
			   dlerror());
		return NULL;
	}
	for (size_t i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++) {
		void *sym = dlsym(lib, symbols[i].name);
		if (!sym) {
			nb_err_set(err, 0, "%s lacks %s", LIBCURL, symbols[i].name);
			dlclose(lib);
			lib = NULL;
			return NULL;
		}
		/* POSIX guarantees object and function pointers convert. */
		*(void **)((char *)&api + symbols[i].offset) = sym;
	}
	return &api;
}
