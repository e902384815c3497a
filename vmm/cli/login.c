/* `nestbox login` and `nestbox logout`, as podman and docker spell them:
 *   nestbox login [-u|--username USER] [--password-stdin] [--insecure] REGISTRY
 *   nestbox logout REGISTRY
 * login checks the credentials against the registry before storing them
 * (images/auth.h says where); without --password-stdin it asks on the
 * terminal, echo off. No --password option: a password in argv is visible
 * to every user in /proc. */
#include "vmm/cli/login.h"

#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "images/auth.h"
#include "images/registry.h"
#include "vmm/cli/print.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"

static const char login_usage[] =
	"Usage: nestbox login [-u|--username USER] [--password-stdin] [--insecure] REGISTRY\n"
	"       nestbox logout REGISTRY\n"
	"\n"
	"login checks the user name and password against REGISTRY (HOST[:PORT]) and stores\n"
	"them for pull and run where podman and skopeo keep theirs: $REGISTRY_AUTH_FILE, else\n"
	"${XDG_RUNTIME_DIR}/containers/auth.json (/run/containers/UID/auth.json without it);\n"
	"they and ~/.config/containers/auth.json and ~/.docker/config.json are read.\n"
	"Without --password-stdin the password is asked for on the terminal.\n";

/* One line of fd 0 into buf without its newline; echo off when asked. */
static int read_line(const char *prompt, bool hide, char *buf, size_t size, struct nb_err *err)
{
	struct termios old, quiet;
	bool tty = isatty(0) && tcgetattr(0, &old) == 0;
	size_t n = 0;
	char c;
	ssize_t got;

	if (prompt)
		fputs(prompt, stderr);
	if (hide && tty) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(0, TCSAFLUSH, &quiet);
	}
	while ((got = read(0, &c, 1)) == 1 && c != '\n') {
		if (n + 1 >= size) {
			n = size;
			break;
		}
		buf[n++] = c;
	}
	if (hide && tty) {
		tcsetattr(0, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (got < 0)
		return nb_err_sys(err, "cannot read the %s", hide ? "password" : "user name");
	if (n == size)
		return nb_err_set(err, 0, "the %s is longer than %zu bytes",
				  hide ? "password" : "user name", size - 1);
	if (n && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	if (n == 0)
		return nb_err_set(err, 0, "an empty %s", hide ? "password" : "user name");
	return 0;
}

static int get_creds(const char *user, bool password_stdin, struct nb_creds *c, struct nb_err *err)
{
	if (user) {
		if (strlen(user) >= sizeof(c->user) || !*user || strchr(user, ':'))
			return nb_err_set(err, 0, "the user name is empty, too long or has a ':'");
		strcpy(c->user, user);
	} else if (!isatty(0)) {
		return nb_err_set(err, 0,
				  "give the user name with --username (stdin is no terminal)");
	} else if (read_line("Username: ", false, c->user, sizeof(c->user), err) < 0) {
		return -1;
	}
	if (!password_stdin && !isatty(0))
		return nb_err_set(err, 0,
				  "no terminal to ask for the password on: pipe it in with "
				  "--password-stdin");
	return read_line(password_stdin ? NULL : "Password: ", true, c->pass, sizeof(c->pass), err);
}

int nb_cmd_login(int argc, char **argv)
{
	struct nb_creds creds = { 0 };
	struct nb_err err = { 0 };
	const char *user = NULL, *server = NULL;
	bool password_stdin = false, insecure = false;
	char key[NB_REF_HOST_MAX];
	cleanup_free char *file = NULL;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return fputs(login_usage, stdout), 0;
		else if ((!strcmp(argv[i], "-u") || !strcmp(argv[i], "--username")) && i + 1 < argc)
			user = argv[++i];
		else if (!strncmp(argv[i], "--username=", 11))
			user = argv[i] + 11;
		else if (!strcmp(argv[i], "--password-stdin"))
			password_stdin = true;
		else if (!strcmp(argv[i], "--insecure"))
			insecure = true;
		else if (argv[i][0] == '-')
			return nb_cli_usage_error("login",
						  "login: unknown option or missing value");
		else if (server)
			return nb_cli_usage_error("login", "login: give one REGISTRY");
		else
			server = argv[i];
	}
	if (!server)
		return nb_cli_usage_error("login", "login: missing REGISTRY");
	rc = nb_registry_server(server, key, sizeof(key), &err) < 0 ||
			     get_creds(user, password_stdin, &creds, &err) < 0 ||
			     nb_registry_login(key, &creds, insecure, &err) < 0 ||
			     nb_auth_store(key, &creds, &file, &err) < 0
		     ? -1
		     : 0;
	explicit_bzero(&creds, sizeof(creds));
	if (rc < 0)
		return nb_cli_error(NULL, &err);
	printf("Login Succeeded! (%s in %s)\n", key, file);
	return 0;
}

int nb_cmd_logout(int argc, char **argv)
{
	struct nb_err err = { 0 };
	char key[NB_REF_HOST_MAX];
	bool found = false;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return fputs(login_usage, stdout), 0;
	if (argc != 2 || argv[1][0] == '-')
		return nb_cli_usage_error("login", "logout: give one REGISTRY");
	if (nb_registry_server(argv[1], key, sizeof(key), &err) < 0 ||
	    nb_auth_remove(key, &found, &err) < 0)
		return nb_cli_error(NULL, &err);
	if (!found) {
		nb_err_set(&err, 0, "not logged in to %s", key);
		return nb_cli_error(NULL, &err);
	}
	printf("Removed login credentials for %s\n", key);
	return 0;
}
