/* Errors are values: a function that can fail returns -1 and fills a
 * struct nb_err; callers add context with nb_err_wrap() and pass it up; one
 * place (main) prints it. Shared by host and guest code.
 */
#ifndef NESTBOX_ERR_H
#define NESTBOX_ERR_H

#include <stdarg.h>

#define NB_ERR_MSG_MAX 512

struct nb_err {
	int errnum; /* errno of the root cause, 0 if none */
	int status; /* exit status this error maps to (0: NB_STATUS_ERROR) */
	char msg[NB_ERR_MSG_MAX];
};

/* Set err to the formatted message; if errnum != 0, ": strerror(errnum)"
 * is appended. Always returns -1 so callers can `return nb_err_set(...)`. */
int nb_err_set(struct nb_err *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Same as nb_err_set with errnum = errno. */
int nb_err_sys(struct nb_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefix the existing message with "context: ". Returns -1. */
int nb_err_wrap(struct nb_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The exit status for err (NB_STATUS_ERROR unless set otherwise). */
int nb_err_status(const struct nb_err *err);

#endif
