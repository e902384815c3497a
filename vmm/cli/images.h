/* `nestbox pull`, `images`, `rmi`, `prune` (and `login`, `logout`: vmm/cli/login.h). */
#ifndef NESTBOX_VMM_CLI_IMAGES_H
#define NESTBOX_VMM_CLI_IMAGES_H

/* argv[0] is the command name; returns the exit status. */
int nb_images_main(int argc, char **argv);

#endif
