/* `nestbox pull`, `images`, `rmi`, `prune` (and `login`, `logout`: images/login.h). */
#ifndef NESTBOX_IMAGES_COMMANDS_H
#define NESTBOX_IMAGES_COMMANDS_H

#include <stdbool.h>

/* True when name is one of the image commands. */
bool nb_images_is_command(const char *name);
/* argv[0] is the command name; returns the exit status. */
int nb_images_main(int argc, char **argv);

#endif
