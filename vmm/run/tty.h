/* -t on the host side: the host terminal in raw mode for the run (when
 * stdin is a terminal and -i streams it, as Docker does), restored on
 * every exit path, and the window size the guest's pty should have. */
#ifndef NESTBOX_VMM_RUN_TTY_H
#define NESTBOX_VMM_RUN_TTY_H

#include <stdbool.h>
#include <stdint.h>

#include "nestbox/err.h"

/* Refuse -i -t when stdin is not a terminal, with Docker's message. */
int nb_tty_check(bool interactive, struct nb_err *err);

/* The size of the terminal on stdout (Docker's choice), else on stdin.
 * Returns false when neither is a terminal or it reports 0x0; sizes are
 * clamped to NB_WINSIZE_MAX. */
bool nb_tty_size(uint16_t *rows, uint16_t *cols);

/* Put stdin's terminal in raw mode (keys go to the guest's pty: its line
 * discipline makes ^C a SIGINT there). Registers an atexit restore the
 * first time. No-op when stdin is not a terminal. */
int nb_tty_raw(struct nb_err *err);

/* -t into the spec: a pty, sized as nb_tty_size says (else unknown). */
struct nb_spec;
void nb_tty_spec(bool tty, struct nb_spec *spec);

/* Put the terminal back as nb_tty_raw found it; idempotent. */
void nb_tty_restore(void);

#endif
