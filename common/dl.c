#include "common/dl.h"

#include <dlfcn.h>

int nb_dl_load(struct nb_dl *lib, const struct nb_dl_sym *table, size_t n, void *api,
	       struct nb_err *err)
{
	void *h;

	if (lib->handle)
		return 0;
	if (!(h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL)))
		return nb_err_set(err, 0, "cannot load %s (%s): install %s (scripts/deps.sh)",
				  lib->soname, dlerror(), lib->package);
	for (size_t i = 0; i < n; i++) {
		void *sym = dlsym(h, table[i].name);

		if (!sym) {
			dlclose(h);
			return nb_err_set(err, 0, "%s lacks %s: install a newer %s", lib->soname,
					  table[i].name, lib->package);
		}
		/* POSIX guarantees object and function pointers convert. */
		*(void **)((char *)api + table[i].offset) = sym;
	}
	lib->handle = h;
	return 0;
}
