/* What code below the front end must tell the user mid-flow, handed up to
 * the front end (vmm/cli), the one place that prints: a warning, a message
 * that is not the run's error (a confined child's, a host stop), a --stats
 * line, a line of a command's output. Errors themselves travel as struct nb_err (nestbox/err.h). */
#ifndef NESTBOX_COMMON_REPORT_H
#define NESTBOX_COMMON_REPORT_H

enum nb_report_kind {
	NB_REPORT_MESSAGE,  /* "nestbox: TEXT" on stderr */
	NB_REPORT_WARNING,  /* "nestbox: warning: TEXT" on stderr */
	NB_REPORT_STATS,    /* TEXT on stderr: one --stats JSON line */
	NB_REPORT_OUTPUT,   /* TEXT on stdout: a line of a command's output */
	NB_REPORT_PROGRESS, /* TEXT on stderr as it is: a terminal's redrawn status line */
};

/* The front end's printer; fn NULL: nothing is shown. */
struct nb_report {
	void (*fn)(void *opaque, enum nb_report_kind kind, const char *text);
	void *opaque;
};

/* Format one line (no newline) and hand it to r's printer. */
void nb_report(const struct nb_report *r, enum nb_report_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
