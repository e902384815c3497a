#include "vmm/cli/print.h"

#include <stdio.h>

#include "nestbox/abi.h"

int nb_cli_error(const char *who, const struct nb_err *err)
{
	fflush(stdout);
	fprintf(stderr, "%s: %s\n", who ? who : "nestbox", err->msg);
	return nb_err_status(err);
}

int nb_cli_usage_error(const char *cmd, const char *msg)
{
	fflush(stdout);
	fprintf(stderr, "nestbox: %s (see nestbox %s --help)\n", msg, cmd);
	return NB_STATUS_ERROR;
}

static void print_report(void *opaque, enum nb_report_kind kind, const char *text)
{
	(void)opaque;
	switch (kind) {
	case NB_REPORT_OUTPUT:
		printf("%s\n", text);
		fflush(stdout); /* line by line, also into a pipe */
		return;
	case NB_REPORT_PROGRESS:
		fputs(text, stderr);
		return;
	case NB_REPORT_STATS:
		fprintf(stderr, "%s\n", text);
		return;
	case NB_REPORT_WARNING:
		fflush(stdout);
		fprintf(stderr, "nestbox: warning: %s\n", text);
		return;
	case NB_REPORT_MESSAGE:
		fflush(stdout);
		fprintf(stderr, "nestbox: %s\n", text);
		return;
	}
}

struct nb_report nb_cli_reporter(void)
{
	return (struct nb_report){ .fn = print_report };
}
