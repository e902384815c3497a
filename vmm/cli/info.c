/* `nestbox version` (and --version) and `nestbox info`, as docker's: what
 * this nestbox is and what it finds on this host, read cheaply (no VM, no
 * network). Each builds one JSON object; `--format json` prints it as it
 * is, otherwise it is printed as indented "Key: value" lines. */
#include <archive.h>
#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "build/version.h"
#include "common/spec.h"
#include "images/cache.h"
#include "images/records.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"
#include "vmm/cli/cli.h"
#include "vmm/cli/commands.h"
#include "vmm/cli/print.h"
#include "vmm/kvm/kvm.h"
#include "vmm/run/records.h"
#include "vmm/run/run.h"

#define KERNEL_SCAN_MAX (256u << 20) /* a vmlinux this big is not ours anyway */
#define BANNER "Linux version "

/* ---- shared: options and printing --------------------------------------- */

/* [--format json|FORMAT] [-f json]: 1 for JSON, 0 for text, -1 on a usage
 * error (printed), 2 for --help (printed). */
static int parse_format(int argc, char **argv, const char *usage)
{
	bool json = false;

	for (int i = 1; i < argc; i++) {
		const char *v = NULL;

		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage, stdout);
			return 2;
		}
		if (!strncmp(argv[i], "--format=", 9))
			v = argv[i] + 9;
		else if ((!strcmp(argv[i], "--format") || !strcmp(argv[i], "-f")) && i + 1 < argc)
			v = argv[++i];
		if (!v) {
			char msg[256];

			snprintf(msg, sizeof(msg), "%s: unknown argument '%.100s'", argv[0],
				 argv[i]);
			return nb_cli_usage_error(argv[0], msg), -1;
		}
		if (strcmp(v, "json") != 0) {
			char msg[256];

			snprintf(msg, sizeof(msg), "%s: --format %.100s: the only format is json",
				 argv[0], v);
			return nb_cli_usage_error(argv[0], msg), -1;
		}
		json = true;
	}
	return json;
}

/* "Key: value" lines, objects indented under their key. */
static void print_text(struct json_object *o, int depth)
{
	json_object_object_foreach(o, key, val) {
		printf("%*s%s:", depth * 2, "", key);
		if (json_object_is_type(val, json_type_object)) {
			putchar('\n');
			print_text(val, depth + 1);
		} else if (json_object_is_type(val, json_type_array)) {
			for (size_t i = 0; i < json_object_array_length(val); i++)
				printf(" %s",
				       json_object_get_string(json_object_array_get_idx(val, i)));
			putchar('\n');
		} else {
			printf(" %s\n", json_object_get_string(val));
		}
	}
}

static int print_object(struct json_object *o, bool json)
{
	if (json)
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		print_text(o, 0);
	json_object_put(o);
	return fflush(stdout) == 0 ? 0 : NB_STATUS_ERROR;
}

static void add_str(struct json_object *o, const char *key, const char *value)
{
	json_object_object_add(o, key, json_object_new_string(value ? value : ""));
}

static void add_bool(struct json_object *o, const char *key, bool value)
{
	json_object_object_add(o, key, json_object_new_boolean(value));
}

/* ---- version ------------------------------------------------------------ */

/* "6.1.119" from a kernel image: the banner of an ELF vmlinux, or the
 * kernel_version string a bzImage's setup header points to. */
static void kernel_version(const char *path, char *out, size_t size)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	const char *p = NULL;
	void *map;
	size_t n;

	out[0] = '\0';
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < 0x300 || st.st_size > KERNEL_SCAN_MAX)
		return;
	n = (size_t)st.st_size;
	map = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return;
	const unsigned char *b = map;
	if (!memcmp(b + 0x202, "HdrS", 4)) {
		size_t off = (size_t)(b[0x20e] | b[0x20f] << 8) + 0x200;

		if (b[0x20e] | b[0x20f])
			p = off < n ? (const char *)b + off : NULL;
	} else if ((p = memmem(b, n, BANNER, strlen(BANNER)))) {
		p += strlen(BANNER);
	}
	if (p) {
		size_t len = 0, left = n - (size_t)((const unsigned char *)p - b);

		while (len < left && len + 1 < size && p[len] > ' ' && p[len] < 0x7f)
			len++;
		memcpy(out, p, len);
		out[len] = '\0';
	}
	munmap(map, n);
}

static char *beside_nestbox(const char *name)
{
	cleanup_free char *dir = nb_cli_self_dir();
	char *path;

	return dir && asprintf(&path, "%s/%s", dir, name) >= 0 ? path : NULL;
}

static void add_guest(struct json_object *o)
{
	cleanup_free char *kernel = beside_nestbox("vmlinux");
	cleanup_free char *init = beside_nestbox("nestbox-init");
	struct json_object *k = json_object_new_object(), *i = json_object_new_object();
	char version[64];

	add_str(k, "Path", kernel);
	kernel_version(kernel ? kernel : "", version, sizeof(version));
	add_str(k, "Version", version[0] ? version : "(not found)");
	/* what every boot starts from (the benches give QEMU the same) */
	add_str(k, "CommandLine", nb_run_base_cmdline);
	add_str(i, "Path", init);
	add_bool(i, "Present", init && access(init, R_OK) == 0);
	json_object_object_add(o, "GuestKernel", k);
	json_object_object_add(o, "GuestInit", i);
}

static struct json_object *version_object(void)
{
	struct json_object *o = json_object_new_object(), *libs = json_object_new_object();
	const struct scmp_version *sv = seccomp_version();
	char buf[64];

	add_str(o, "Version", NB_VERSION);
	json_object_object_add(o, "ABIVersion", json_object_new_int(NB_ABI_VERSION));
	json_object_object_add(o, "SpecFormat", json_object_new_int(NB_SPEC_FORMAT));
	add_str(o, "OS/Arch", "linux/amd64");
	add_str(o, "Compiler", "gcc " __VERSION__);
	add_guest(o);
	snprintf(buf, sizeof(buf), "%u.%u.%u", sv->major, sv->minor, sv->micro);
	add_str(libs, "libseccomp", buf);
	add_str(libs, "json-c", json_c_version());
	add_str(libs, "libarchive", archive_version_string());
	json_object_object_add(o, "Libraries", libs);
	return o;
}

static const char version_usage[] =
	"Usage: nestbox version [--format json]\n"
	"\n"
	"Show nestbox's version (git describe at build time), the guest ABI and spec\n"
	"format it speaks, the guest kernel (and the command line every boot starts\n"
	"from) and init beside it, and its libraries.\n"
	"`nestbox --version` prints the one-line form.\n";

int nb_cmd_version(int argc, char **argv)
{
	int fmt = parse_format(argc, argv, version_usage);

	if (fmt < 0)
		return NB_STATUS_ERROR;
	if (fmt == 2)
		return 0;
	return print_object(version_object(), fmt == 1);
}

void nb_cli_print_version(void)
{
	printf("nestbox version %s, ABI %d\n", NB_VERSION, NB_ABI_VERSION);
}

/* ---- info --------------------------------------------------------------- */

static void add_kvm(struct json_object *o)
{
	struct json_object *k = json_object_new_object();
	struct nb_kvm_host host;
	struct nb_err err = { 0 };

	nb_kvm_probe(NB_KVM_DEV, "/sys", &host);
	add_str(k, "Kind", nb_kvm_kind_name(host.kind));
	add_bool(k, "RunsGuests", nb_kvm_host_check(&host, true, &err) == 0);
	if (err.msg[0])
		add_str(k, "Why", err.msg);
	json_object_object_add(o, "KVM", k);
}

/* cgroup v2 at /sys/fs/cgroup (what --cgroup uses): its controllers; else
 * v1 with the enabled controllers of /proc/cgroups, and a v2 hierarchy
 * mounted beside it (hybrid) named. */
static void add_cgroup(struct json_object *o)
{
	struct json_object *c = json_object_new_object(), *list = json_object_new_array();
	FILE *f = fopen("/sys/fs/cgroup/cgroup.controllers", "re");
	char line[256], word[64];
	int enabled;

	if (f) {
		add_str(c, "Version", "2");
		while (fscanf(f, "%63s", word) == 1)
			json_object_array_add(list, json_object_new_string(word));
	} else if ((f = fopen("/proc/cgroups", "re"))) {
		add_str(c, "Version", "1");
		while (fgets(line, sizeof(line), f))
			if (line[0] != '#' &&
			    sscanf(line, "%63s %*d %*d %d", word, &enabled) == 2 && enabled)
				json_object_array_add(list, json_object_new_string(word));
		if (access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) == 0)
			add_str(c, "Hybrid",
				"cgroup v2 at /sys/fs/cgroup/unified (--cgroup needs it "
				"at /sys/fs/cgroup)");
	} else {
		add_str(c, "Version", "none");
	}
	if (f)
		fclose(f);
	json_object_object_add(c, "Controllers", list);
	json_object_object_add(o, "Cgroup", c);
}

/* Bytes and entries of the regular files in dir whose name ends in suffix. */
static void dir_usage(const char *dir, const char *suffix, int64_t *bytes, int64_t *count)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t sl = strlen(suffix);

	*bytes = *count = 0;
	while (d && (e = readdir(d))) {
		struct stat st;
		size_t nl = strlen(e->d_name);

		if (e->d_name[0] == '.' || nl < sl || strcmp(e->d_name + nl - sl, suffix) ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		*bytes += (int64_t)st.st_blocks * 512;
		*count += 1;
	}
	if (d)
		closedir(d);
}

static void add_store(struct json_object *o)
{
	struct json_object *s = json_object_new_object(), *rec, *images;
	struct nb_err err = { 0 };
	struct nb_cache c;
	int64_t bytes, count;

	if (nb_cache_open(&c, false, &err) < 0) {
		add_str(s, "Error", err.msg);
		json_object_object_add(o, "ImageStore", s);
		return;
	}
	add_str(s, "Path", c.root);
	rec = nb_records_load(&c, &err);
	if (rec && json_object_object_get_ex(rec, "images", &images))
		json_object_object_add(s, "Images",
				       json_object_new_int64(
					       (int64_t)json_object_array_length(images)));
	else
		add_str(s, "Images", err.msg);
	json_object_put(rec);
	dir_usage(c.layers, ".erofs", &bytes, &count);
	json_object_object_add(s, "Layers", json_object_new_int64(count));
	json_object_object_add(s, "LayerCacheBytes", json_object_new_int64(bytes));
	dir_usage(c.blobs, "", &bytes, &count);
	json_object_object_add(s, "BlobBytes", json_object_new_int64(bytes));
	nb_cache_close(&c);
	json_object_object_add(o, "ImageStore", s);
}

static int64_t meminfo(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	long long v = -1;
	size_t kl = strlen(key);

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			v = strtoll(line + kl + 1, NULL, 10);
			break;
		}
	if (f)
		fclose(f);
	return v;
}

/* The first PATH directory (of a fixed list: root's PATH may lack sbin)
 * holding an executable name. */
static bool have_tool(const char *name)
{
	static const char *const dirs[] = { "/usr/sbin", "/usr/bin", "/sbin", "/bin" };
	char path[128];

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dirs[i], name);
		if (access(path, X_OK) == 0)
			return true;
	}
	return false;
}

static void add_host(struct json_object *o)
{
	struct json_object *h = json_object_new_object();
	struct utsname u;
	int64_t kb = meminfo("MemTotal"), huge_kb = meminfo("Hugepagesize");

	add_str(h, "Kernel", uname(&u) == 0 ? u.release : "");
	json_object_object_add(h, "CPUs", json_object_new_int64(sysconf(_SC_NPROCESSORS_ONLN)));
	json_object_object_add(h, "MemTotalBytes", json_object_new_int64(kb < 0 ? -1 : kb * 1024));
	json_object_object_add(h, "HugePagesFree",
			       json_object_new_int64(meminfo("HugePages_Free")));
	json_object_object_add(h, "HugePageSizeBytes",
			       json_object_new_int64(huge_kb < 0 ? -1 : huge_kb * 1024));
	add_bool(h, "Tun", access("/dev/net/tun", F_OK) == 0);
	add_bool(h, "VhostVsock", access("/dev/vhost-vsock", F_OK) == 0);
	add_bool(h, "Userfaultfd",
		 access("/dev/userfaultfd", F_OK) == 0 ||
			 access("/proc/sys/vm/unprivileged_userfaultfd", F_OK) == 0);
	add_bool(h, "Nftables", have_tool("nft"));
	add_bool(h, "MkfsErofs", have_tool("mkfs.erofs"));
	json_object_object_add(o, "Host", h);
}

static const char info_usage[] =
	"Usage: nestbox info [--format json]\n"
	"\n"
	"Show what nestbox finds on this host: the KVM kind (real, pvm, none, ...) and\n"
	"whether it runs the guest, the cgroup version and controllers, the run\n"
	"directory, the image store (images, layer cache size), the guest kernel and\n"
	"init, and host features (tun, vhost-vsock, userfaultfd, hugepages, nft,\n"
	"mkfs.erofs). Reads files only: no VM is started.\n";

int nb_cmd_info(int argc, char **argv)
{
	struct json_object *o;
	int fmt = parse_format(argc, argv, info_usage);

	if (fmt < 0)
		return NB_STATUS_ERROR;
	if (fmt == 2)
		return 0;
	o = json_object_new_object();
	add_str(o, "Version", NB_VERSION);
	add_kvm(o);
	add_cgroup(o);
	add_str(o, "RunDir", nb_run_dir());
	add_store(o);
	add_guest(o);
	add_host(o);
	return print_object(o, fmt == 1);
}
