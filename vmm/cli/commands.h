/* The commands of `nestbox`: one table (vmm/cli/cli.c) names each with
 * its one-line summary and its entry point. A command is a file in
 * vmm/cli; its entry point takes argv[0] = the command's name and returns
 * the process exit status (only the front end prints). */
#ifndef NESTBOX_VMM_CLI_COMMANDS_H
#define NESTBOX_VMM_CLI_COMMANDS_H

struct nb_cli_command {
	const char *name;
	const char *summary; /* one line for `nestbox --help`; NULL: hidden */
	int (*main)(int argc, char **argv);
};

/* vmm/cli/cli.c */
int nb_cmd_run(int argc, char **argv);
int nb_cmd_gc(int argc, char **argv);
int nb_cmd_seccomp_dump(int argc, char **argv);
/* vmm/cli/warm.c */
int nb_cmd_template(int argc, char **argv);
int nb_cmd_fn(int argc, char **argv);
/* vmm/cli/serve.c */
int nb_cmd_serve(int argc, char **argv);
/* vmm/cli/network.c */
int nb_cmd_network(int argc, char **argv);
/* vmm/cli/info.c */
int nb_cmd_version(int argc, char **argv);
int nb_cmd_info(int argc, char **argv);
/* vmm/cli/lifecycle.c: see vmm/cli/lifecycle.h */
/* vmm/cli/oci.c */
int nb_oci_main(int argc, char **argv);
/* vmm/cli/images.c, vmm/cli/login.c */
int nb_images_main(int argc, char **argv);

#endif
