/* Scope-bound cleanup in the crun style: declare with the attribute, hand
 * ownership off by resetting the variable (fd = -1, ptr = NULL). */
#ifndef NESTBOX_CLEANUP_H
#define NESTBOX_CLEANUP_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void nb_cleanup_freep(void *p)
{
	free(*(void **)p);
}

static inline void nb_cleanup_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void nb_cleanup_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define cleanup_free __attribute__((cleanup(nb_cleanup_freep)))
#define cleanup_close __attribute__((cleanup(nb_cleanup_closep)))
#define cleanup_fclose __attribute__((cleanup(nb_cleanup_fclosep)))

/* Take ownership out of a cleanup variable. */
#define NB_STEAL(var, empty)                     \
	({                                       \
		__typeof__(var) nb_tmp_ = (var); \
		(var) = (empty);                 \
		nb_tmp_;                         \
	})

#endif
