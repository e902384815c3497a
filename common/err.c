#include "nestbox/err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "nestbox/abi.h"

static void vformat(struct nb_err *err, int errnum, const char *fmt, va_list ap)
{
	int len = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);

	err->errnum = errnum;
	if (errnum != 0 && len >= 0 && (size_t)len < sizeof(err->msg))
		snprintf(err->msg + len, sizeof(err->msg) - (size_t)len, ": %s", strerror(errnum));
}

int nb_err_set(struct nb_err *err, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vformat(err, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int nb_err_sys(struct nb_err *err, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vformat(err, saved, fmt, ap);
	va_end(ap);
	return -1;
}

int nb_err_wrap(struct nb_err *err, const char *fmt, ...)
{
	char old[NB_ERR_MSG_MAX];
	size_t len;
	va_list ap;

	memcpy(old, err->msg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	/* "context: old", cut at the buffer's end. */
	len = strlen(err->msg);
	if (len + 2 < sizeof(err->msg)) {
		memcpy(err->msg + len, ": ", 3);
		len += 2;
		strncat(err->msg + len, old, sizeof(err->msg) - len - 1);
	}
	return -1;
}

int nb_err_status(const struct nb_err *err)
{
	return err->status ? err->status : NB_STATUS_ERROR;
}
