#include "vmm/run/tty.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "common/spec.h"
#include "nestbox/abi.h"

static struct termios saved;
static bool raw_active;

int nb_tty_check(bool interactive, struct nb_err *err)
{
	if (interactive && !isatty(STDIN_FILENO))
		return nb_err_set(err, 0,
				  "the input device is not a TTY (-t with -i needs a "
				  "terminal on stdin; drop -t to stream a pipe or file)");
	return 0;
}

static uint16_t clamp(unsigned v)
{
	return (uint16_t)(v > NB_WINSIZE_MAX ? NB_WINSIZE_MAX : v);
}

bool nb_tty_size(uint16_t *rows, uint16_t *cols)
{
	static const int fds[] = { STDOUT_FILENO, STDIN_FILENO };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		struct winsize ws;

		if (ioctl(fds[i], TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0 || ws.ws_col == 0)
			continue;
		*rows = clamp(ws.ws_row);
		*cols = clamp(ws.ws_col);
		return true;
	}
	return false;
}

void nb_tty_spec(bool tty, struct nb_spec *spec)
{
	uint16_t rows, cols;

	spec->tty = tty;
	if (tty && nb_tty_size(&rows, &cols)) {
		spec->tty_rows = rows;
		spec->tty_cols = cols;
	}
}

void nb_tty_restore(void)
{
	if (!raw_active)
		return;
	/* TCSADRAIN: what the guest printed reaches the screen in raw form
	 * before cooked mode resumes. */
	tcsetattr(STDIN_FILENO, TCSADRAIN, &saved);
	raw_active = false;
}

int nb_tty_raw(struct nb_err *err)
{
	static bool registered;
	struct termios raw;

	if (raw_active || !isatty(STDIN_FILENO))
		return 0;
	if (tcgetattr(STDIN_FILENO, &saved) < 0)
		return nb_err_sys(err, "-t: reading the terminal's mode");
	if (!registered && atexit(nb_tty_restore) != 0)
		return nb_err_set(err, 0, "-t: cannot register the terminal restore");
	registered = true;
	raw = saved;
	cfmakeraw(&raw);
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) < 0)
		return nb_err_sys(err, "-t: putting the terminal in raw mode");
	raw_active = true;
	return 0;
}
