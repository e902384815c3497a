/* Shared libraries opened on first use (dlopen), for the commands that
 * need them: linking them would load them, and what they pull in, at every
 * nestbox start (libcurl alone brings ~25 libraries, ~7 ms). One loader:
 * open once per process, fill a table of function pointers by name, and
 * when that fails say which library or function and which Debian package
 * to install. Host only; not thread-safe (the CLI loads before threads). */
#ifndef NESTBOX_COMMON_DL_H
#define NESTBOX_COMMON_DL_H

#include <stddef.h>

#include "nestbox/err.h"

struct nb_dl {
	const char *soname;  /* "libcurl.so.4" */
	const char *package; /* the Debian package that has it: "libcurl4" */
	void *handle;        /* set once loaded */
};

/* One function: its name and where its pointer goes in the API struct. */
struct nb_dl_sym {
	const char *name;
	size_t offset;
};

#define NB_DL_SYM(type, field, name)        \
	{                                   \
		name, offsetof(type, field) \
	}

/* Open lib and set each of table's n pointers in api, once: later calls
 * return 0 at once (one API struct per library). On failure nothing is
 * kept open and the next call tries again. */
int nb_dl_load(struct nb_dl *lib, const struct nb_dl_sym *table, size_t n, void *api,
	       struct nb_err *err);

/* nb_dl_load with a table that is an array. */
#define NB_DL_LOAD(lib, table, api, err) \
	nb_dl_load(lib, table, sizeof(table) / sizeof((table)[0]), api, err)

#endif
