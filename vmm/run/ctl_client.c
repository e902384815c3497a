#include "vmm/run/ctl_client.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "images/json.h"
#include "nestbox/cleanup.h"
#include "vmm/run/vmdir.h"

int nb_ctl_connect(const char *id, struct nb_err *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	cleanup_close int dir = nb_vmdir_open(id, err);
	int fd;

	if (dir < 0)
		return -1;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d/" NB_VM_SOCKET, dir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return nb_err_sys(err, "socket");
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		if (errno == ENOENT || errno == ECONNREFUSED)
			return nb_err_set(err, 0, "VM %.12s is not running", id), -2;
		return nb_err_sys(err, "VM %.12s: control socket", id);
	}
	return fd;
}

/* One line, byte by byte up to the newline: the socket may carry more
 * lines after it (events) that must stay there. */
static int read_line(int fd, char **out, struct nb_err *err)
{
	size_t len = 0, cap = 256;
	char *buf = malloc(cap);

	*out = NULL;
	if (!buf)
		return nb_err_set(err, ENOMEM, "control reply");
	for (;;) {
		char c;
		ssize_t n = read(fd, &c, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			if (n == 0 && len == 0)
				return 0;
			return nb_err_set(err, n < 0 ? errno : 0,
					  "the VM's monitor closed the "
					  "connection");
		}
		if (c == '\n')
			break;
		if (len + 2 > cap) {
			char *grown = cap * 2 <= NB_CTL_REPLY_MAX ? realloc(buf, cap * 2) : NULL;
			if (!grown) {
				free(buf);
				return nb_err_set(err, 0, "control reply longer than %u bytes",
						  NB_CTL_REPLY_MAX);
			}
			buf = grown;
			cap *= 2;
		}
		buf[len++] = c;
	}
	buf[len] = '\0';
	*out = buf;
	return 1;
}

int nb_ctl_read(int fd, json_object **line, struct nb_err *err)
{
	cleanup_free char *text = NULL;
	int rc = read_line(fd, &text, err);

	*line = NULL;
	if (rc <= 0)
		return rc;
	*line = nb_json_parse(text, strlen(text), "control reply", err);
	if (!*line || !json_object_is_type(*line, json_type_object)) {
		json_object_put(*line);
		*line = NULL;
		return nb_err_set(err, 0, "the VM's monitor sent a malformed reply");
	}
	return 1;
}

int nb_ctl_call(int fd, const char *request, json_object **reply, struct nb_err *err)
{
	size_t len = strlen(request);
	cleanup_free char *line = malloc(len + 2);
	json_object *ok, *e, *msg;

	*reply = NULL;
	if (!line)
		return nb_err_set(err, ENOMEM, "control request");
	memcpy(line, request, len);
	memcpy(line + len, "\n", 2);
	if (send(fd, line, len + 1, MSG_NOSIGNAL) != (ssize_t)(len + 1))
		return nb_err_sys(err, "sending to the VM's monitor");
	int rc = nb_ctl_read(fd, reply, err);
	if (rc == 0)
		return nb_err_set(err, 0, "the VM's monitor closed the connection");
	if (rc < 0)
		return -1;
	if (json_object_object_get_ex(*reply, "ok", &ok) && json_object_get_boolean(ok))
		return 0;
	if (json_object_object_get_ex(*reply, "error", &e) &&
	    json_object_object_get_ex(e, "message", &msg) &&
	    json_object_is_type(msg, json_type_string))
		nb_err_set(err, 0, "%.400s", json_object_get_string(msg));
	else
		nb_err_set(err, 0, "the VM's monitor refused the request");
	json_object_put(*reply);
	*reply = NULL;
	return -1;
}
