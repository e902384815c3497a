/* `nestbox login` and `nestbox logout` (vmm/cli/login.c). */
#ifndef NESTBOX_VMM_CLI_LOGIN_H
#define NESTBOX_VMM_CLI_LOGIN_H

/* argv[0] is the command name; return the exit status. */
int nb_cmd_login(int argc, char **argv);
int nb_cmd_logout(int argc, char **argv);

#endif
