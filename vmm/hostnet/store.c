#include "vmm/hostnet/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/file.h"
#include "common/parse.h"
#include "nestbox/cleanup.h"

#define FILE_MAX (4u << 20)

static int open_dir(const char *path, struct nb_err *err)
{
	int fd;

	if (nb_mkdir_p(AT_FDCWD, path, 0700, 0, err) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return nb_err_sys(err, "cannot open %s", path);
	return fd;
}

int nb_netstore_open(struct nb_netstore *s, const char *defs_dir, const char *leases_dir,
		     struct nb_err *err)
{
	*s = (struct nb_netstore){ -1, -1, -1 };
	if ((s->defs_fd = open_dir(defs_dir, err)) < 0 ||
	    (s->leases_fd = open_dir(leases_dir, err)) < 0)
		goto fail;
	s->lock_fd = openat(s->defs_fd, ".lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (s->lock_fd < 0) {
		nb_err_sys(err, "cannot open %s/.lock", defs_dir);
		goto fail;
	}
	while (flock(s->lock_fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			nb_err_sys(err, "cannot lock %s/.lock", defs_dir);
			goto fail;
		}
	return 0;
fail:
	nb_netstore_close(s);
	return -1;
}

void nb_netstore_close(struct nb_netstore *s)
{
	int *fds[] = { &s->lock_fd, &s->leases_fd, &s->defs_fd };

	for (size_t i = 0; i < 3; i++) {
		if (*fds[i] >= 0)
			close(*fds[i]); /* the lock goes with its descriptor */
		*fds[i] = -1;
	}
}

static void file_name(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s.json", name);
}

int nb_netstore_get(struct nb_netstore *s, const char *name, struct nb_netdef *def,
		    struct nb_err *err)
{
	char file[NB_NETNAME_MAX + 8];
	cleanup_free char *text = NULL;
	size_t len;

	if (nb_netname_check(name, err) < 0)
		return -1;
	file_name(file, sizeof(file), name);
	if (nb_file_read_nofollow(s->defs_fd, file, FILE_MAX, &text, &len, err) < 0)
		return err->errnum == ENOENT ? 1 : -1;
	if (nb_netdef_parse(text, def, err) < 0)
		return nb_err_wrap(err, "network %s", name);
	if (strcmp(def->name, name) != 0)
		return nb_err_set(err, 0, "network %s: its file names %s", name, def->name);
	return 0;
}

int nb_netstore_put(struct nb_netstore *s, const struct nb_netdef *def, struct nb_err *err)
{
	char file[NB_NETNAME_MAX + 8];
	cleanup_free char *text = nb_netdef_json(def);

	if (!text)
		return nb_err_set(err, ENOMEM, "network %s", def->name);
	file_name(file, sizeof(file), def->name);
	return nb_file_write_atomic(s->defs_fd, file, NULL, text, strlen(text), 0600, err);
}

int nb_netstore_del(struct nb_netstore *s, const char *name, struct nb_err *err)
{
	char file[NB_NETNAME_MAX + 8];

	file_name(file, sizeof(file), name);
	if (unlinkat(s->defs_fd, file, 0) < 0 && errno != ENOENT)
		return nb_err_sys(err, "cannot remove network %s", name);
	if (unlinkat(s->leases_fd, file, 0) < 0 && errno != ENOENT)
		return nb_err_sys(err, "cannot remove the leases of network %s", name);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct nb_netdef *)a)->name, ((const struct nb_netdef *)b)->name);
}

int nb_netstore_list(struct nb_netstore *s, struct nb_netdef **defs, size_t *n, struct nb_err *err)
{
	int fd = dup(s->defs_fd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	size_t cap = 0;

	*defs = NULL;
	*n = 0;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return nb_err_sys(err, "cannot list networks");
	}
	rewinddir(d);
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		char name[NB_NETNAME_MAX + 1];
		struct nb_netdef def;
		struct nb_err ignored;

		if (e->d_name[0] == '.' || len <= 5 || len - 5 > NB_NETNAME_MAX ||
		    strcmp(e->d_name + len - 5, ".json") != 0)
			continue;
		memcpy(name, e->d_name, len - 5);
		name[len - 5] = '\0';
		if (nb_netstore_get(s, name, &def, &ignored) != 0)
			continue;
		if (*n == cap) {
			struct nb_netdef *grown = realloc(*defs,
							  (cap = cap ? cap * 2 : 8) * sizeof(def));

			if (!grown) {
				closedir(d);
				free(*defs);
				*defs = NULL;
				return nb_err_set(err, ENOMEM, "listing networks");
			}
			*defs = grown;
		}
		(*defs)[(*n)++] = def;
	}
	closedir(d);
	if (*n)
		qsort(*defs, *n, sizeof(**defs), by_name);
	return 0;
}

/* ---- leases ------------------------------------------------------------------ */

void nb_leases_free(struct nb_leases *l)
{
	free(l->v);
	*l = (struct nb_leases){ 0 };
}

int nb_leases_add(struct nb_leases *l, const struct nb_lease *lease, struct nb_err *err)
{
	struct nb_lease *grown;

	if (l->n >= NB_LEASES_MAX)
		return nb_err_set(err, 0, "more than %u VMs on one network", NB_LEASES_MAX);
	grown = realloc(l->v, (l->n + 1) * sizeof(*lease));
	if (!grown)
		return nb_err_set(err, ENOMEM, "leases");
	l->v = grown;
	l->v[l->n++] = *lease;
	return 0;
}

json_object *nb_lease_json(const struct nb_lease *lease)
{
	char ip[NB_IPV4_TEXT], pub[NB_PUBLISH_TEXT];
	json_object *o = json_object_new_object(), *ports = json_object_new_array();

	nb_ipv4_format(lease->ip, ip);
	json_object_object_add(o, "ip", json_object_new_string(ip));
	json_object_object_add(o, "pid", json_object_new_int(lease->pid));
	json_object_object_add(o, "start", json_object_new_int64((int64_t)lease->start));
	json_object_object_add(o, "tap", json_object_new_string(lease->tap));
	for (size_t i = 0; i < lease->npublish; i++) {
		nb_publish_format(&lease->publish[i], pub);
		json_object_array_add(ports, json_object_new_string(pub));
	}
	json_object_object_add(o, "publish", ports);
	return o;
}

int nb_leases_save(struct nb_netstore *s, const char *name, const struct nb_leases *l,
		   struct nb_err *err)
{
	char file[NB_NETNAME_MAX + 8];
	json_object *arr;
	int rc;

	file_name(file, sizeof(file), name);
	if (l->n == 0) {
		if (unlinkat(s->leases_fd, file, 0) < 0 && errno != ENOENT)
			return nb_err_sys(err, "cannot remove the leases of network %s", name);
		return 0;
	}
	arr = json_object_new_array();
	for (size_t i = 0; i < l->n; i++)
		json_object_array_add(arr, nb_lease_json(&l->v[i]));
	const char *text = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN);
	rc = text ? nb_file_write_atomic(s->leases_fd, file, NULL, text, strlen(text), 0600, err)
		  : nb_err_set(err, ENOMEM, "leases of network %s", name);
	json_object_put(arr);
	return rc;
}

static int lease_parse(json_object *o, struct nb_lease *lease, struct nb_err *err)
{
	json_object *ip, *pid, *start, *tap, *ports;

	*lease = (struct nb_lease){ 0 };
	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "ip", &ip) ||
	    !json_object_object_get_ex(o, "pid", &pid) ||
	    !json_object_object_get_ex(o, "start", &start) ||
	    !json_object_object_get_ex(o, "tap", &tap) ||
	    !json_object_object_get_ex(o, "publish", &ports) ||
	    !json_object_is_type(ip, json_type_string) ||
	    !json_object_is_type(pid, json_type_int) ||
	    !json_object_is_type(start, json_type_int) ||
	    !json_object_is_type(tap, json_type_string) ||
	    !json_object_is_type(ports, json_type_array) ||
	    json_object_array_length(ports) > NB_PUBLISH_MAX || json_object_get_int(pid) <= 0 ||
	    json_object_get_string_len(tap) >= (int)sizeof(lease->tap))
		return nb_err_set(err, 0, "a lease is not {ip, pid, start, tap, publish}");
	if (nb_ipv4_parse(json_object_get_string(ip), false, &lease->ip, err) < 0)
		return -1;
	lease->pid = json_object_get_int(pid);
	lease->start = (uint64_t)json_object_get_int64(start);
	strcpy(lease->tap, json_object_get_string(tap));
	for (size_t i = 0; i < json_object_array_length(ports); i++) {
		json_object *p = json_object_array_get_idx(ports, i);

		if (!json_object_is_type(p, json_type_string) ||
		    nb_publish_parse(json_object_get_string(p), &lease->publish[i], err) < 0)
			return nb_err_set(err, 0, "a lease's published port is not valid");
		lease->npublish++;
	}
	return 0;
}

int nb_leases_load(struct nb_netstore *s, const char *name, struct nb_leases *l, struct nb_err *err)
{
	char file[NB_NETNAME_MAX + 8];
	cleanup_free char *text = NULL;
	size_t len;
	json_object *arr;
	int rc = 0;

	*l = (struct nb_leases){ 0 };
	file_name(file, sizeof(file), name);
	if (nb_file_read_nofollow(s->leases_fd, file, FILE_MAX, &text, &len, err) < 0)
		return err->errnum == ENOENT ? 0 : -1;
	arr = json_tokener_parse(text);
	if (!arr || !json_object_is_type(arr, json_type_array) ||
	    json_object_array_length(arr) > NB_LEASES_MAX)
		rc = nb_err_set(err, 0, "not a list of leases");
	for (size_t i = 0; rc == 0 && i < json_object_array_length(arr); i++) {
		struct nb_lease lease;

		rc = lease_parse(json_object_array_get_idx(arr, i), &lease, err);
		if (rc == 0)
			rc = nb_leases_add(l, &lease, err);
	}
	json_object_put(arr);
	if (rc < 0) {
		nb_leases_free(l);
		return nb_err_wrap(err, "leases of network %s", name);
	}
	return 0;
}

static bool leased(const struct nb_leases *l, uint32_t ip)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].ip == ip)
			return true;
	return false;
}

int nb_leases_alloc(const struct nb_netdef *def, const struct nb_leases *l, uint32_t want,
		    uint32_t *ip, struct nb_err *err)
{
	char text[NB_IPV4_TEXT];
	uint32_t last = def->subnet | ~nb_prefix_mask(def->prefix);

	if (want) {
		nb_ipv4_format(want, text);
		if (!nb_netdef_host(def, want) || want == def->gateway)
			return nb_err_set(err, 0,
					  "--ip %s is not a free host address of network %s", text,
					  def->name);
		if (leased(l, want))
			return nb_err_set(err, 0, "--ip %s is in use on network %s", text,
					  def->name);
		*ip = want;
		return 0;
	}
	for (uint32_t a = def->subnet + 1; a < last; a++)
		if (a != def->gateway && !leased(l, a)) {
			*ip = a;
			return 0;
		}
	return nb_err_set(err, 0, "network %s has no free address (all of its /%u is in use)",
			  def->name, def->prefix);
}

size_t nb_leases_prune(struct nb_leases *l, bool (*alive)(const struct nb_lease *))
{
	size_t kept = 0, n = l->n;

	for (size_t i = 0; i < n; i++)
		if (alive(&l->v[i]))
			l->v[kept++] = l->v[i];
	l->n = kept;
	return n - kept;
}

bool nb_leases_remove(struct nb_leases *l, int pid)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].pid == pid) {
			l->v[i] = l->v[--l->n];
			return true;
		}
	return false;
}

uint64_t nb_proc_start(int pid)
{
	char path[32], buf[1024], *p;
	const char *end;
	ssize_t n;
	int fd;
	uint64_t start = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* After "pid (comm) ": comm may hold spaces and parentheses. */
	p = strrchr(buf, ')');
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p && !nb_parse_digits(p + 1, &start, &end))
		start = 0;
	return start;
}

bool nb_lease_alive(const struct nb_lease *lease)
{
	return nb_proc_start(lease->pid) == lease->start && lease->start != 0;
}
