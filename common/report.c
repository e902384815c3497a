#include "common/report.h"

#include <stdarg.h>
#include <stdio.h>

#define REPORT_MAX 1024 /* the longest line: a --stats line */

void nb_report(const struct nb_report *r, enum nb_report_kind kind, const char *fmt, ...)
{
	char text[REPORT_MAX];
	va_list ap;

	if (!r || !r->fn)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	r->fn(r->opaque, kind, text);
}
