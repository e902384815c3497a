/* The one printer: every message nestbox itself shows (errors carried up
 * as struct nb_err, what lower layers report through common/report.h)
 * goes through here. The workload's own output is relayed by the console
 * device; commands print their output (tables, listings) themselves. */
#ifndef NESTBOX_VMM_CLI_PRINT_H
#define NESTBOX_VMM_CLI_PRINT_H

#include "common/report.h"
#include "nestbox/err.h"

/* "nestbox: MSG" on stderr (who replaces "nestbox", e.g. "nestbox gc"),
 * after what stdout still holds. Returns err's exit status. */
int nb_cli_error(const char *who, const struct nb_err *err);

/* "nestbox: MSG (see nestbox CMD --help)"; returns NB_STATUS_ERROR. */
int nb_cli_usage_error(const char *cmd, const char *msg);

/* The printer lower layers report to (struct nb_report). */
struct nb_report nb_cli_reporter(void);

#endif
