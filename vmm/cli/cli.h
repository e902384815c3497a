/* The nestbox command line: parse and validate into options, with no side
 * effects; the commands act on the result. */
#ifndef NESTBOX_VMM_CLI_CLI_H
#define NESTBOX_VMM_CLI_CLI_H

#include <stdint.h>

#include "nestbox/err.h"
#include "vmm/run/run.h"

/* Parse `run` arguments (argv[0] is "run") into opts. self_dir is the
 * directory holding the nestbox binary, for the default kernel and init. */
int nb_cli_parse_run(int argc, char **argv, const char *self_dir, struct nb_run_options *opts,
		     struct nb_err *err);

/* The directory holding the running nestbox binary (malloc'd; "." when
 * unknown), where the default guest kernel and init are. */
char *nb_cli_self_dir(void);

/* `nestbox --version`: one line (vmm/cli/info.c). */
void nb_cli_print_version(void);

/* CLOCK_MONOTONIC ms when nestbox started (for --stats and fn). */
double nb_cli_start_ms(void);

/* Entry point: returns the process exit status. */
int nb_cli_main(int argc, char **argv);

#endif
