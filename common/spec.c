/* The spec codec as a table: one row per property (props[] below) names its
 * field in struct nb_spec, its kind and its bounds; validate, size, write
 * and decode are per-kind functions driven by the table, and a row's hooks
 * carry what is particular to it (a character set, a cross-field rule).
 * Adding a property is adding a row, in the order it is written. */
#include "common/spec.h"

#include <arpa/inet.h>

#include <libfdt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/tmpfs.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"

/* ---- how a property is described ----------------------------------------- */

enum kind {
	KIND_VERSION, /* u32 NB_SPEC_FORMAT, always written; no field */
	KIND_STRING,  /* one NUL-terminated string: const char * at .off */
	KIND_LIST,    /* NUL-separated strings: const char *const * at .off, count at .count */
	KIND_CELLS,   /* fixed big-endian cells, each into a scalar field */
	KIND_RECORDS, /* .count records of .cells: an array at .off (of .unit-byte elements) */
	KIND_BYTES,   /* opaque .unit-byte units: const void * at .off, byte length at .count */
};

enum cell_type { CELL_NONE, CELL_U32, CELL_U64, CELL_BOOL32 };

/* A big-endian u32 or u64 on the wire and the field it fills: in struct
 * nb_spec, or in one element of a record array. CELL_BOOL32 is a bool sent
 * as u32 0 or 1. */
struct cell {
	enum cell_type type;
	size_t off;
};

#define MAX_CELLS 3

#define PROP_REQUIRED 0x1u /* missing: an error (else "not set") */
#define PROP_ALWAYS 0x2u   /* lists: decoded as empty when missing (env goes to execve) */
#define PROP_ALLOC 0x4u    /* records: decode allocates the array (else it is in nb_spec) */

struct prop {
	const char *name; /* NB_SPEC_* */
	enum kind kind;
	unsigned flags;
	size_t off, count;     /* the field and its count (strings: off only) */
	size_t min, max;       /* strings: at most max bytes; others: min..max entries/units */
	size_t unit;           /* records: sizeof an element; bytes: bytes per unit */
	const char *unit_name; /* bytes: what a unit is, for messages */
	struct cell cells[MAX_CELLS];
	/* Cells: the property is set (written) when cells[key] is nonzero, or,
	 * with flag, when the bool at offset flag is true (decode sets it);
	 * with `with`, exactly when that property is (and decode refuses it
	 * without that one). zero: decode refuses a zero cells[key], saying so. */
	unsigned key;
	size_t flag;      /* 0: none (offset 0 is argv) */
	const char *with; /* NULL: none */
	const char *zero; /* NULL: zero allowed */
	/* One string or list entry (index i) of len bytes, on validate and decode. */
	int (*check_str)(size_t i, const char *s, size_t len, struct nb_err *err);
	/* The whole spec: on validate, and on decode once this property is read. */
	int (*check)(const struct nb_spec *spec, struct nb_err *err);
};

/* The offset of field f of T, which must have the given type, so a row
 * cannot describe a field as something it is not. */
#define OFF(T, f, type)   \
	(offsetof(T, f) + \
	 0 * sizeof(char[__builtin_types_compatible_p(__typeof__(((T *)0)->f), type) ? 1 : -1]))
#define SPEC struct nb_spec
#define U32(T, f)                             \
	{                                     \
		CELL_U32, OFF(T, f, uint32_t) \
	}
#define U64(T, f)                             \
	{                                     \
		CELL_U64, OFF(T, f, uint64_t) \
	}
#define BOOL32(T, f)                         \
	{                                    \
		CELL_BOOL32, OFF(T, f, bool) \
	}
#define STRING(f) .off = OFF(SPEC, f, const char *)
#define LIST(f, n) .off = OFF(SPEC, f, const char *const *), .count = OFF(SPEC, n, size_t)
#define BYTES(f, n) .off = OFF(SPEC, f, const void *), .count = OFF(SPEC, n, size_t)
#define RECORDS(f, n, type) .off = OFF(SPEC, f, type), .count = OFF(SPEC, n, size_t)
#define FLAG(f) .flag = OFF(SPEC, f, bool)

_Static_assert(offsetof(struct nb_spec, argv) == 0, "flag 0 means no flag");

/* ---- what is particular to one property ------------------------------------ */

/* Messages name the property and the index, never the hostile bytes. */
static int check_env(size_t i, const char *s, size_t len, struct nb_err *err)
{
	const char *eq = memchr(s, '=', len);

	if (!eq)
		return nb_err_set(err, 0, "spec: property %s entry %zu has no '='", NB_SPEC_ENV, i);
	if (eq == s)
		return nb_err_set(err, 0, "spec: property %s entry %zu has an empty name",
				  NB_SPEC_ENV, i);
	return 0;
}

static int check_rootfs(size_t i, const char *path, size_t len, struct nb_err *err)
{
	(void)i;
	if (len > NB_SPEC_MAX_STRING)
		return nb_err_set(err, 0, "spec: property %s is longer than %u bytes",
				  NB_SPEC_ROOTFS, NB_SPEC_MAX_STRING);
	if (len == 0 || path[0] != '/')
		return nb_err_set(err, 0, "spec: property %s is not an absolute path",
				  NB_SPEC_ROOTFS);
	return 0;
}

static int check_hostname(size_t i, const char *s, size_t len, struct nb_err *err)
{
	(void)i;
	if (len == 0 || len > NB_SPEC_MAX_HOSTNAME)
		return nb_err_set(err, 0, "spec: property %s must be 1..%u bytes", NB_SPEC_HOSTNAME,
				  NB_SPEC_MAX_HOSTNAME);
	for (size_t k = 0; k < len; k++) {
		char c = s[k];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			return nb_err_set(err, 0,
					  "spec: property %s has a character other than "
					  "letters, digits, '-' and '.'",
					  NB_SPEC_HOSTNAME);
	}
	return 0;
}

static int check_workdir(size_t i, const char *s, size_t len, struct nb_err *err)
{
	(void)i;
	if (len == 0 || len > NB_SPEC_MAX_PATH || s[0] != '/')
		return nb_err_set(err, 0,
				  "spec: property %s is not an absolute path of at most %u "
				  "bytes",
				  NB_SPEC_WORKDIR, NB_SPEC_MAX_PATH);
	return 0;
}

/* "user[:group]": both parts non-empty printable ASCII without ':' or '/'. */
static int check_user(size_t i, const char *s, size_t len, struct nb_err *err)
{
	const char *colon = memchr(s, ':', len);

	(void)i;
	if (len == 0 || len > NB_SPEC_MAX_USER)
		return nb_err_set(err, 0, "spec: property %s must be 1..%u bytes", NB_SPEC_USER,
				  NB_SPEC_MAX_USER);
	if (colon && (colon == s || colon == s + len - 1 ||
		      memchr(colon + 1, ':', (size_t)(s + len - colon - 1))))
		return nb_err_set(err, 0, "spec: property %s is not user[:group]", NB_SPEC_USER);
	for (size_t k = 0; k < len; k++)
		if (s[k] <= ' ' || s[k] > '~' || s[k] == '/')
			return nb_err_set(err, 0, "spec: property %s has an invalid character",
					  NB_SPEC_USER);
	return 0;
}

static int check_caps(const struct nb_spec *spec, struct nb_err *err)
{
	if (spec->has_caps && spec->caps >> (NB_SPEC_CAP_LAST + 1))
		return nb_err_set(err, 0, "spec: property %s has bits above capability %u",
				  NB_SPEC_CAPS, NB_SPEC_CAP_LAST);
	return 0;
}

/* The count is bounded by the table (NB_SPEC_MAX_RLIMITS). */
static int check_rlimits(const struct nb_spec *spec, struct nb_err *err)
{
	const struct nb_spec_rlimit *r = spec->rlimits;
	uint32_t seen = 0;

	for (size_t i = 0; i < spec->nrlimits; i++) {
		if (r[i].resource >= NB_SPEC_MAX_RLIMITS)
			return nb_err_set(err, 0,
					  "spec: property %s entry %zu: unknown resource %u",
					  NB_SPEC_RLIMITS, i, r[i].resource);
		if (r[i].soft > r[i].hard)
			return nb_err_set(err, 0, "spec: property %s entry %zu: soft above hard",
					  NB_SPEC_RLIMITS, i);
		if (seen & (1u << r[i].resource))
			return nb_err_set(err, 0, "spec: property %s entry %zu: resource %u twice",
					  NB_SPEC_RLIMITS, i, r[i].resource);
		seen |= 1u << r[i].resource;
	}
	return 0;
}

static int check_memory(const struct nb_spec *spec, struct nb_err *err)
{
	if (spec->memory_max && spec->memory_max < NB_SPEC_MIN_MEMORY)
		return nb_err_set(err, 0, "spec: property %s is below %u bytes", NB_SPEC_MEMORY_MAX,
				  NB_SPEC_MIN_MEMORY);
	return 0;
}

static int check_swap(const struct nb_spec *spec, struct nb_err *err)
{
	if (!spec->memory_max && spec->swap_max)
		return nb_err_set(err, 0, "spec: property %s without %s", NB_SPEC_SWAP_MAX,
				  NB_SPEC_MEMORY_MAX);
	return 0;
}

static int check_memory_low(const struct nb_spec *spec, struct nb_err *err)
{
	if (spec->memory_max && spec->memory_low > spec->memory_max)
		return nb_err_set(err, 0, "spec: property %s is above %s", NB_SPEC_MEMORY_LOW,
				  NB_SPEC_MEMORY_MAX);
	return 0;
}

static int check_cpu_weight(const struct nb_spec *spec, struct nb_err *err)
{
	if (spec->cpu_weight > NB_SPEC_MAX_CPU_WEIGHT)
		return nb_err_set(err, 0, "spec: property %s is above %u", NB_SPEC_CPU_WEIGHT,
				  NB_SPEC_MAX_CPU_WEIGHT);
	return 0;
}

static int check_cpu(const struct nb_spec *spec, struct nb_err *err)
{
	if ((spec->cpu_quota_us || spec->cpu_period_us) &&
	    (spec->cpu_period_us < 1000 || spec->cpu_period_us > 1000000 ||
	     spec->cpu_quota_us < 1000))
		return nb_err_set(err, 0,
				  "spec: property %s needs period 1000..1000000 and quota "
				  ">= 1000 microseconds",
				  NB_SPEC_CPU_MAX);
	return 0;
}

static int check_namespaces(const struct nb_spec *spec, struct nb_err *err)
{
	if (spec->namespaces & ~(NB_NS_NET | NB_NS_USER))
		return nb_err_set(err, 0, "spec: property %s has unknown flags %#x",
				  NB_SPEC_NAMESPACES, spec->namespaces & ~(NB_NS_NET | NB_NS_USER));
	return 0;
}

static int check_tmpfs(size_t i, const char *s, size_t len, struct nb_err *err)
{
	struct nb_tmpfs_mount m;

	if (len == 0 || len > NB_SPEC_MAX_PATH || s[0] != '/')
		return nb_err_set(err, 0,
				  "spec: property %s entry %zu is not an absolute path of "
				  "at most %u bytes",
				  NB_SPEC_TMPFS, i, NB_SPEC_MAX_PATH);
	if (nb_tmpfs_parse(s, &m, err) < 0)
		return nb_err_wrap(err, "spec: property %s entry %zu", NB_SPEC_TMPFS, i);
	return 0;
}

/* MODE between the two colons: ro, rw, fs-ro or fs-rw. */
static bool volume_mode_ok(const char *mode, size_t len)
{
	if (len == 5 && strncmp(mode, NB_VOLUME_MODE_FS, 3) == 0) {
		mode += 3;
		len -= 3;
	}
	return len == 2 && (strncmp(mode, "ro", 2) == 0 || strncmp(mode, "rw", 2) == 0);
}

/* "ID:MODE:PATH" with the limits in abi.h; s is NUL-terminated. */
static int check_volume(size_t i, const char *s, size_t len, struct nb_err *err)
{
	const char *mode = strchr(s, ':');
	const char *path = mode ? strchr(mode + 1, ':') : NULL;
	size_t serial_len = mode ? (size_t)(mode - s) : 0;

	(void)len;
	if (!path || serial_len == 0 || serial_len > NB_VOLUME_SERIAL_MAX ||
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") !=
		    serial_len)
		return nb_err_set(err, 0, "spec: property %s entry %zu: bad serial",
				  NB_SPEC_VOLUMES, i);
	if (!volume_mode_ok(mode + 1, (size_t)(path - mode - 1)))
		return nb_err_set(err, 0,
				  "spec: property %s entry %zu: mode is not ro, rw, fs-ro "
				  "or fs-rw",
				  NB_SPEC_VOLUMES, i);
	path++;
	if (path[0] != '/' || strnlen(path, NB_SPEC_MAX_PATH + 1) > NB_SPEC_MAX_PATH)
		return nb_err_set(err, 0,
				  "spec: property %s entry %zu: path is not absolute or too long",
				  NB_SPEC_VOLUMES, i);
	for (const char *c = path; (c = strstr(c, "..")); c += 2)
		if (c[-1] == '/' && (c[2] == '/' || c[2] == '\0'))
			return nb_err_set(err, 0,
					  "spec: property %s entry %zu: path has a .. component",
					  NB_SPEC_VOLUMES, i);
	return 0;
}

static int check_ipv4(const struct nb_spec *spec, struct nb_err *err)
{
	if (spec->net_ipv4 && (spec->net_prefix < 1 || spec->net_prefix > 32))
		return nb_err_set(err, 0, "spec: property %s: prefix %u is not 1..32",
				  NB_SPEC_NET_IPV4, spec->net_prefix);
	return 0;
}

static int check_gateway(const struct nb_spec *spec, struct nb_err *err)
{
	if (!spec->net_ipv4 && (spec->net_prefix || spec->net_gateway))
		return nb_err_set(err, 0, "spec: a prefix or %s without %s", NB_SPEC_NET_GATEWAY,
				  NB_SPEC_NET_IPV4);
	return 0;
}

static int check_mac(const struct nb_spec *spec, struct nb_err *err)
{
	static const uint8_t zero[NB_SPEC_MAC_LEN];
	const uint8_t *mac = spec->net_mac;

	if (mac && spec->net_mac_len == NB_SPEC_MAC_LEN &&
	    ((mac[0] & 1) || !memcmp(mac, zero, NB_SPEC_MAC_LEN)))
		return nb_err_set(err, 0, "spec: property %s is not a unicast address",
				  NB_SPEC_NET_MAC);
	return 0;
}

static int check_dns(size_t i, const char *s, size_t len, struct nb_err *err)
{
	struct in_addr a;

	if (len >= INET_ADDRSTRLEN || inet_pton(AF_INET, s, &a) != 1)
		return nb_err_set(err, 0, "spec: property %s entry %zu is not an IPv4 address",
				  NB_SPEC_NET_DNS, i);
	return 0;
}

/* Aligned, non-empty, in order without overlap, inside NB_LAYER_MAX_DISK:
 * offset and size are hostile until this holds, and it rules out overflow
 * in offset + size (both are below 2^50 first). The count is bounded by
 * the table (NB_MAX_LAYERS). */
static int check_layers(const struct nb_spec *spec, struct nb_err *err)
{
	const struct nb_spec_layer *l = spec->layers;
	uint64_t end = 0;

	for (size_t i = 0; i < spec->nlayers; i++) {
		if (l[i].offset % NB_LAYER_ALIGN || l[i].offset < end)
			return nb_err_set(err, 0,
					  "spec: property %s: layer %zu starts at %llu, not "
					  "a multiple of %u at or after %llu",
					  NB_SPEC_LAYERS, i, (unsigned long long)l[i].offset,
					  NB_LAYER_ALIGN, (unsigned long long)end);
		if (l[i].size == 0 || l[i].offset > NB_LAYER_MAX_DISK ||
		    l[i].size > NB_LAYER_MAX_DISK - l[i].offset)
			return nb_err_set(err, 0,
					  "spec: property %s: layer %zu is empty or ends "
					  "past %llu bytes",
					  NB_SPEC_LAYERS, i, NB_LAYER_MAX_DISK);
		end = l[i].offset + l[i].size;
	}
	return 0;
}

static int check_tty(const struct nb_spec *spec, struct nb_err *err)
{
	bool unknown = spec->tty_rows == 0 && spec->tty_cols == 0;

	if (!spec->tty && (spec->tty_rows || spec->tty_cols))
		return nb_err_set(err, 0, "spec: a window size without %s", NB_SPEC_TTY);
	if (!unknown && (spec->tty_rows < 1 || spec->tty_rows > NB_WINSIZE_MAX ||
			 spec->tty_cols < 1 || spec->tty_cols > NB_WINSIZE_MAX))
		return nb_err_set(err, 0, "spec: property %s: %ux%u is not 1..%u each", NB_SPEC_TTY,
				  spec->tty_rows, spec->tty_cols, NB_WINSIZE_MAX);
	return 0;
}

static int check_clock(const struct nb_spec *spec, struct nb_err *err)
{
	if (spec->clock_nsec >= 1000000000u)
		return nb_err_set(err, 0, "spec: property %s: nanoseconds past 1e9", NB_SPEC_CLOCK);
	return 0;
}

/* ---- the table: one row per property, in the order they are written -------- */

#define RLIMIT struct nb_spec_rlimit
#define LAYER struct nb_spec_layer

/* clang-format off */
static const struct prop props[] = {
	{ .name = NB_SPEC_VERSION, .kind = KIND_VERSION, .flags = PROP_REQUIRED },
	{ .name = NB_SPEC_ARGV, .kind = KIND_LIST, .flags = PROP_REQUIRED, LIST(argv, argc),
	  .min = 1, .max = NB_SPEC_MAX_ARGS },
	{ .name = NB_SPEC_ENV, .kind = KIND_LIST, .flags = PROP_ALWAYS, LIST(env, envc),
	  .max = NB_SPEC_MAX_ARGS, .check_str = check_env },
	{ .name = NB_SPEC_ROOTFS, .kind = KIND_STRING, .flags = PROP_REQUIRED, STRING(rootfs),
	  .max = NB_SPEC_MAX_STRING, .check_str = check_rootfs },
	{ .name = NB_SPEC_HOSTNAME, .kind = KIND_STRING, STRING(hostname),
	  .max = NB_SPEC_MAX_HOSTNAME, .check_str = check_hostname },
	{ .name = NB_SPEC_WORKDIR, .kind = KIND_STRING, STRING(workdir), .max = NB_SPEC_MAX_PATH,
	  .check_str = check_workdir },
	{ .name = NB_SPEC_USER, .kind = KIND_STRING, STRING(user), .max = NB_SPEC_MAX_USER,
	  .check_str = check_user },
	{ .name = NB_SPEC_CAPS, .kind = KIND_CELLS, .cells = { U64(SPEC, caps) }, FLAG(has_caps),
	  .check = check_caps },
	{ .name = NB_SPEC_RLIMITS, .kind = KIND_RECORDS,
	  RECORDS(rlimits, nrlimits, RLIMIT[NB_SPEC_MAX_RLIMITS]), .max = NB_SPEC_MAX_RLIMITS,
	  .unit = sizeof(RLIMIT),
	  .cells = { U32(RLIMIT, resource), U64(RLIMIT, soft), U64(RLIMIT, hard) },
	  .check = check_rlimits },
	{ .name = NB_SPEC_MEMORY_MAX, .kind = KIND_CELLS, .cells = { U64(SPEC, memory_max) },
	  .zero = "is 0", .check = check_memory },
	{ .name = NB_SPEC_SWAP_MAX, .kind = KIND_CELLS, .cells = { U64(SPEC, swap_max) },
	  .with = NB_SPEC_MEMORY_MAX, .check = check_swap },
	{ .name = NB_SPEC_CPU_MAX, .kind = KIND_CELLS,
	  .cells = { U32(SPEC, cpu_quota_us), U32(SPEC, cpu_period_us) }, .key = 1,
	  .zero = "has period 0", .check = check_cpu },
	{ .name = NB_SPEC_PIDS_MAX, .kind = KIND_CELLS, .cells = { U64(SPEC, pids_max) },
	  .zero = "is 0" },
	{ .name = NB_SPEC_MEMORY_LOW, .kind = KIND_CELLS, .cells = { U64(SPEC, memory_low) },
	  .zero = "is 0", .check = check_memory_low },
	{ .name = NB_SPEC_CPU_WEIGHT, .kind = KIND_CELLS, .cells = { U32(SPEC, cpu_weight) },
	  .zero = "is 0", .check = check_cpu_weight },
	{ .name = NB_SPEC_NAMESPACES, .kind = KIND_CELLS, .cells = { U32(SPEC, namespaces) },
	  .check = check_namespaces },
	{ .name = NB_SPEC_READONLY, .kind = KIND_CELLS, .cells = { BOOL32(SPEC, read_only) } },
	{ .name = NB_SPEC_INIT, .kind = KIND_CELLS, .cells = { BOOL32(SPEC, init) } },
	{ .name = NB_SPEC_TMPFS, .kind = KIND_LIST, LIST(tmpfs, ntmpfs), .min = 1,
	  .max = NB_SPEC_MAX_TMPFS, .check_str = check_tmpfs },
	{ .name = NB_SPEC_SECCOMP, .kind = KIND_BYTES, BYTES(seccomp, seccomp_len), .min = 1,
	  .max = NB_SPEC_MAX_BPF, .unit = NB_SPEC_BPF_INSN, .unit_name = "BPF instructions" },
	{ .name = NB_SPEC_VOLUMES, .kind = KIND_LIST, LIST(volumes, nvolumes),
	  .max = NB_SPEC_MAX_VOLUMES, .check_str = check_volume },
	{ .name = NB_SPEC_NET_IPV4, .kind = KIND_CELLS,
	  .cells = { U32(SPEC, net_ipv4), U32(SPEC, net_prefix) }, .zero = "is 0.0.0.0",
	  .check = check_ipv4 },
	{ .name = NB_SPEC_NET_GATEWAY, .kind = KIND_CELLS, .cells = { U32(SPEC, net_gateway) },
	  .zero = "is 0.0.0.0", .check = check_gateway },
	{ .name = NB_SPEC_NET_DNS, .kind = KIND_LIST, LIST(net_dns, net_ndns), .min = 1,
	  .max = NB_SPEC_MAX_DNS, .with = NB_SPEC_NET_IPV4, .check_str = check_dns },
	{ .name = NB_SPEC_NET_MAC, .kind = KIND_BYTES, BYTES(net_mac, net_mac_len),
	  .min = NB_SPEC_MAC_LEN, .max = NB_SPEC_MAC_LEN, .unit = 1, .unit_name = "bytes",
	  .check = check_mac },
	{ .name = NB_SPEC_LAYERS, .kind = KIND_RECORDS, .flags = PROP_ALLOC,
	  RECORDS(layers, nlayers, const LAYER *), .min = 1, .max = NB_MAX_LAYERS,
	  .unit = sizeof(LAYER),
	  .cells = { U64(LAYER, offset), U64(LAYER, size) }, .check = check_layers },
	{ .name = NB_SPEC_TTY, .kind = KIND_CELLS, .cells = { U32(SPEC, tty_rows), U32(SPEC, tty_cols) },
	  FLAG(tty), .check = check_tty },
	{ .name = NB_SPEC_TEMPLATE, .kind = KIND_CELLS, .cells = { BOOL32(SPEC, template) } },
	{ .name = NB_SPEC_SEED, .kind = KIND_BYTES, BYTES(seed, seed_len), .min = NB_SPEC_SEED_LEN,
	  .max = NB_SPEC_SEED_LEN, .unit = 1, .unit_name = "bytes" },
	{ .name = NB_SPEC_CLOCK, .kind = KIND_CELLS,
	  .cells = { U64(SPEC, clock_sec), U64(SPEC, clock_nsec) }, .zero = "is 0",
	  .check = check_clock },
	{ .name = NB_SPEC_START_GATE, .kind = KIND_CELLS, .cells = { BOOL32(SPEC, start_gate) } },
};
/* clang-format on */

#define NPROPS (sizeof(props) / sizeof(props[0]))

/* ---- fields and cells ------------------------------------------------------ */

static const void *field(const void *base, size_t off)
{
	return (const char *)base + off;
}

static void *field_w(void *base, size_t off)
{
	return (char *)base + off;
}

/* Pointer fields of several types, read and written as their bytes. */
static const void *get_ptr(const struct nb_spec *spec, size_t off)
{
	const void *p;

	memcpy(&p, field(spec, off), sizeof(p));
	return p;
}

static void set_ptr(struct nb_spec *spec, size_t off, const void *p)
{
	memcpy(field_w(spec, off), &p, sizeof(p));
}

static size_t get_count(const struct nb_spec *spec, const struct prop *p)
{
	return *(const size_t *)field(spec, p->count);
}

static size_t cell_width(const struct cell *c)
{
	return c->type == CELL_U64 ? sizeof(fdt64_t) : sizeof(fdt32_t);
}

/* Bytes of one row of cells on the wire. */
static size_t cells_width(const struct prop *p)
{
	size_t n = 0;

	for (size_t i = 0; i < MAX_CELLS && p->cells[i].type != CELL_NONE; i++)
		n += cell_width(&p->cells[i]);
	return n;
}

static uint64_t cell_get(const struct cell *c, const void *base)
{
	switch (c->type) {
	case CELL_U32:
		return *(const uint32_t *)field(base, c->off);
	case CELL_U64:
		return *(const uint64_t *)field(base, c->off);
	case CELL_BOOL32:
		return *(const bool *)field(base, c->off);
	case CELL_NONE:
		break;
	}
	return 0;
}

static void cell_set(const struct cell *c, void *base, uint64_t v)
{
	if (c->type == CELL_U32)
		*(uint32_t *)field_w(base, c->off) = (uint32_t)v;
	else if (c->type == CELL_U64)
		*(uint64_t *)field_w(base, c->off) = v;
	else if (c->type == CELL_BOOL32)
		*(bool *)field_w(base, c->off) = v;
}

/* A big-endian cell of width bytes on the wire (unaligned). */
static uint64_t wire_get(const unsigned char *src, size_t width)
{
	fdt64_t be64;
	fdt32_t be32;

	if (width == sizeof(be64)) {
		memcpy(&be64, src, sizeof(be64));
		return fdt64_to_cpu(be64);
	}
	memcpy(&be32, src, sizeof(be32));
	return fdt32_to_cpu(be32);
}

static void wire_put(unsigned char *dst, size_t width, uint64_t v)
{
	fdt64_t be64 = cpu_to_fdt64(v);
	fdt32_t be32 = cpu_to_fdt32((uint32_t)v);

	memcpy(dst, width == sizeof(be64) ? (const void *)&be64 : (const void *)&be32, width);
}

/* One row of cells from base to the wire at dst; returns the bytes written. */
static size_t put_cells(const struct prop *p, const void *base, unsigned char *dst)
{
	size_t n = 0;

	for (size_t i = 0; i < MAX_CELLS && p->cells[i].type != CELL_NONE; i++) {
		wire_put(dst + n, cell_width(&p->cells[i]), cell_get(&p->cells[i], base));
		n += cell_width(&p->cells[i]);
	}
	return n;
}

/* One row of cells from the wire at src into base. */
static int get_cells(const struct prop *p, const unsigned char *src, void *base, struct nb_err *err)
{
	for (size_t i = 0; i < MAX_CELLS && p->cells[i].type != CELL_NONE; i++) {
		const struct cell *c = &p->cells[i];
		uint64_t v = wire_get(src, cell_width(c));

		if (c->type == CELL_BOOL32 && v > 1)
			return nb_err_set(err, 0, "spec: property %s is %llu, not 0 or 1", p->name,
					  (unsigned long long)v);
		cell_set(c, base, v);
		src += cell_width(c);
	}
	return 0;
}

/* Records: in nb_spec itself, or where its pointer field points. */
static const unsigned char *records_of(const struct prop *p, const struct nb_spec *spec)
{
	return p->flags & PROP_ALLOC ? get_ptr(spec, p->off) : field(spec, p->off);
}

static const struct prop *prop_named(const char *name)
{
	for (size_t i = 0; i < NPROPS; i++)
		if (strcmp(name, props[i].name) == 0)
			return &props[i];
	return NULL;
}

/* ---- per kind: set? and how many value bytes -------------------------------- */

static bool is_set(const struct prop *p, const struct nb_spec *spec)
{
	switch (p->kind) {
	case KIND_VERSION:
		return true;
	case KIND_STRING:
		return get_ptr(spec, p->off) != NULL;
	case KIND_LIST:
	case KIND_RECORDS:
	case KIND_BYTES:
		return get_count(spec, p) != 0;
	case KIND_CELLS:
		if (p->with)
			return is_set(prop_named(p->with), spec);
		if (p->flag)
			return *(const bool *)field(spec, p->flag);
		return cell_get(&p->cells[p->key], spec) != 0;
	}
	return false;
}

/* The value's length on the wire; the spec is validated, so every term is
 * bounded and the sum cannot overflow. */
static size_t value_len(const struct prop *p, const struct nb_spec *spec)
{
	const char *const *list;
	size_t n = 0;

	switch (p->kind) {
	case KIND_VERSION:
		return sizeof(fdt32_t);
	case KIND_STRING:
		return strlen(get_ptr(spec, p->off)) + 1;
	case KIND_LIST:
		list = get_ptr(spec, p->off);
		for (size_t i = 0; i < get_count(spec, p); i++)
			n += strlen(list[i]) + 1;
		return n;
	case KIND_CELLS:
		return cells_width(p);
	case KIND_RECORDS:
		return get_count(spec, p) * cells_width(p);
	case KIND_BYTES:
		return get_count(spec, p);
	}
	return 0;
}

/* ---- validate ---------------------------------------------------------------- */

static int check_count(const struct prop *p, size_t count, struct nb_err *err)
{
	if (count < p->min)
		return nb_err_set(err, 0, "spec: property %s is empty", p->name);
	if (count > p->max)
		return nb_err_set(err, 0, "spec: property %s has more than %zu entries", p->name,
				  p->max);
	return 0;
}

/* A list entry of len bytes (no NUL inside), then the row's own check. */
static int check_entry(const struct prop *p, size_t i, const char *s, size_t len,
		       struct nb_err *err)
{
	if (len == 0)
		return nb_err_set(err, 0, "spec: property %s entry %zu is empty", p->name, i);
	if (len > NB_SPEC_MAX_STRING)
		return nb_err_set(err, 0, "spec: property %s entry %zu is longer than %u bytes",
				  p->name, i, NB_SPEC_MAX_STRING);
	return p->check_str ? p->check_str(i, s, len, err) : 0;
}

static int validate_list(const struct prop *p, const struct nb_spec *spec, struct nb_err *err)
{
	const char *const *list = get_ptr(spec, p->off);
	size_t count = get_count(spec, p);

	if (count == 0 && !(p->flags & PROP_REQUIRED))
		return 0;
	if (check_count(p, count, err))
		return -1;
	if (!list)
		return nb_err_set(err, 0, "spec: property %s has %zu entries but no array", p->name,
				  count);
	for (size_t i = 0; i < count; i++) {
		if (!list[i])
			return nb_err_set(err, 0, "spec: property %s entry %zu is NULL", p->name,
					  i);
		if (check_entry(p, i, list[i], strnlen(list[i], NB_SPEC_MAX_STRING + 1), err))
			return -1;
	}
	return 0;
}

static int check_bytes(const struct prop *p, size_t len, struct nb_err *err)
{
	if (len % p->unit || len < p->min * p->unit || len > p->max * p->unit)
		return nb_err_set(err, 0, "spec: property %s is not %zu..%zu %s", p->name, p->min,
				  p->max, p->unit_name);
	return 0;
}

static int validate_records(const struct prop *p, const struct nb_spec *spec, struct nb_err *err)
{
	size_t count = get_count(spec, p);

	if (count > p->max)
		return nb_err_set(err, 0, "spec: property %s has more than %zu entries", p->name,
				  p->max);
	if (count && !records_of(p, spec))
		return nb_err_set(err, 0, "spec: property %s has %zu entries but no array", p->name,
				  count);
	return 0;
}

static int validate_prop(const struct prop *p, const struct nb_spec *spec, struct nb_err *err)
{
	const char *s;

	switch (p->kind) {
	case KIND_VERSION:
	case KIND_CELLS:
		return 0;
	case KIND_STRING:
		s = get_ptr(spec, p->off);
		if (!s)
			return p->flags & PROP_REQUIRED
				       ? nb_err_set(err, 0, "spec: property %s is missing", p->name)
				       : 0;
		/* strnlen one past the limit, so "too long" is noticed */
		return p->check_str ? p->check_str(0, s, strnlen(s, p->max + 1), err) : 0;
	case KIND_LIST:
		return validate_list(p, spec, err);
	case KIND_RECORDS:
		return validate_records(p, spec, err);
	case KIND_BYTES:
		if (!get_count(spec, p) && !get_ptr(spec, p->off))
			return 0;
		if (!get_ptr(spec, p->off))
			return nb_err_set(err, 0, "spec: property %s has a length but no data",
					  p->name);
		return check_bytes(p, get_count(spec, p), err);
	}
	return 0;
}

int nb_spec_validate(const struct nb_spec *spec, struct nb_err *err)
{
	for (size_t i = 0; i < NPROPS; i++)
		if (validate_prop(&props[i], spec, err) ||
		    (props[i].check && props[i].check(spec, err)))
			return -1;
	return 0;
}

/* ---- encode ------------------------------------------------------------------ */

/* The value of a set property into val (value_len bytes). */
static void write_value(const struct prop *p, const struct nb_spec *spec, unsigned char *val)
{
	const char *const *list;

	switch (p->kind) {
	case KIND_VERSION:
		wire_put(val, sizeof(fdt32_t), NB_SPEC_FORMAT);
		break;
	case KIND_STRING:
		memcpy(val, get_ptr(spec, p->off), value_len(p, spec));
		break;
	case KIND_LIST:
		list = get_ptr(spec, p->off);
		for (size_t i = 0; i < get_count(spec, p); i++)
			val = (unsigned char *)stpcpy((char *)val, list[i]) + 1;
		break;
	case KIND_CELLS:
		put_cells(p, spec, val);
		break;
	case KIND_RECORDS:
		for (size_t i = 0; i < get_count(spec, p); i++)
			val += put_cells(p, records_of(p, spec) + i * p->unit, val);
		break;
	case KIND_BYTES:
		memcpy(val, get_ptr(spec, p->off), get_count(spec, p));
		break;
	}
}

/* The blob libfdt's sequential writer makes (fdt_sw.c), byte for byte: the
 * header padded to the reserve map's alignment, the map's terminating
 * entry, the root node's tag and empty name, per property a struct
 * fdt_property and the value padded to the tag size, the end-node and end
 * tags, and each name in the strings block. Exact while no name is the
 * tail of another (libfdt stores such a name once); an upper bound always. */
#define TAGALIGN(n) (((n) + FDT_TAGSIZE - 1) & ~(size_t)(FDT_TAGSIZE - 1))
#define RSV_ALIGN sizeof(struct fdt_reserve_entry)
#define FDT_FIXED                                                                \
	(((sizeof(struct fdt_header) + RSV_ALIGN - 1) / RSV_ALIGN * RSV_ALIGN) + \
	 sizeof(struct fdt_reserve_entry) + FDT_TAGSIZE + TAGALIGN(1) + 2 * FDT_TAGSIZE)

static size_t encoded_size(const struct nb_spec *spec)
{
	size_t n = FDT_FIXED;

	for (size_t i = 0; i < NPROPS; i++)
		if (is_set(&props[i], spec))
			n += sizeof(struct fdt_property) + TAGALIGN(value_len(&props[i], spec)) +
			     strlen(props[i].name) + 1;
	return n;
}

/* Returns 0 or a negative libfdt error. */
static int write_fdt(void *buf, size_t cap, const struct nb_spec *spec)
{
	int rc;

	if ((rc = fdt_create(buf, (int)cap)) < 0 || (rc = fdt_finish_reservemap(buf)) < 0 ||
	    (rc = fdt_begin_node(buf, "")) < 0)
		return rc;
	for (size_t i = 0; i < NPROPS; i++) {
		const struct prop *p = &props[i];
		void *val;

		if (!is_set(p, spec))
			continue;
		rc = fdt_property_placeholder(buf, p->name, (int)value_len(p, spec), &val);
		if (rc < 0)
			return rc;
		write_value(p, spec, val);
	}
	if ((rc = fdt_end_node(buf)) < 0 || (rc = fdt_finish(buf)) < 0)
		return rc;
	return 0;
}

int nb_spec_encode(const struct nb_spec *spec, void **blob, size_t *len, struct nb_err *err)
{
	cleanup_free void *buf = NULL;
	size_t size;
	int rc;

	if (nb_spec_validate(spec, err))
		return -1;
	size = encoded_size(spec);
	if (size > NB_SPEC_MAX_SIZE)
		return nb_err_set(err, 0, "spec: encoded spec would exceed the limit of %u bytes",
				  NB_SPEC_MAX_SIZE);
	buf = malloc(size);
	if (!buf)
		return nb_err_sys(err, "spec: cannot allocate %zu bytes", size);
	rc = write_fdt(buf, size, spec);
	if (rc < 0)
		return nb_err_set(err, 0, "spec: libfdt: %s", fdt_strerror(rc));
	*len = fdt_totalsize(buf);
	*blob = NB_STEAL(buf, NULL);
	return 0;
}

/* ---- decode ------------------------------------------------------------------ */

struct raw_prop {
	const char *data;
	size_t len;
	bool present;
};

static int check_blob(const void *blob, size_t len, struct nb_err *err)
{
	int rc;

	if (len > NB_SPEC_MAX_SIZE)
		return nb_err_set(err, 0, "spec: %zu bytes, more than the limit of %u", len,
				  NB_SPEC_MAX_SIZE);
	/* fdt_check_full() reads the whole v17 header before comparing
	 * against bufsize, so a shorter buffer must not reach it. */
	if (len < sizeof(struct fdt_header))
		return nb_err_set(err, 0, "spec: %zu bytes is too short for a device tree", len);
	/* libfdt 1.6.1's fdt_check_full() dereferences NULL on older headers
	 * (version 2 has no strings block size); nb_spec_encode writes 17. */
	if (fdt_magic(blob) == FDT_MAGIC && fdt_version(blob) < 17)
		return nb_err_set(err, 0, "spec: device tree header version %u, not 17 or later",
				  fdt_version(blob));
	/* libfdt 1.6.1's fdt_next_tag() lets a property whose length is
	 * negative as an int (0xfffffff4) end where it began, and
	 * fdt_check_full() then loops for ever on it (found by fuzz_spec):
	 * walk the tags first, each strictly after the one before. */
	rc = fdt_check_header(blob);
	if (rc == 0 && fdt_totalsize(blob) > len)
		rc = -FDT_ERR_TRUNCATED;
	for (int off = 0, next = 0, tag = FDT_NOP; rc == 0 && tag != FDT_END; off = next) {
		tag = fdt_next_tag(blob, off, &next);
		if (tag != FDT_END && next <= off)
			return nb_err_set(err, 0, "spec: a device tree tag at %d does not advance",
					  off);
	}
	if (rc == 0)
		rc = fdt_check_full(blob, len);
	if (rc < 0)
		return nb_err_set(err, 0, "spec: not a valid device tree: %s", fdt_strerror(rc));
	return 0;
}

/* One pass over the root node's properties, so a duplicate is noticed
 * instead of silently shadowed; raw[i] is props[i]. */
static int collect_props(const void *blob, struct raw_prop *raw, struct nb_err *err)
{
	int off;

	fdt_for_each_property_offset(off, blob, 0) {
		const char *name;
		int plen;
		const void *val = fdt_getprop_by_offset(blob, off, &name, &plen);
		const struct prop *p;

		if (!val || !name || plen < 0)
			return nb_err_set(err, 0, "spec: unreadable property: %s",
					  fdt_strerror(val ? -FDT_ERR_BADSTRUCTURE : plen));
		p = prop_named(name);
		if (!p)
			continue;
		if (raw[p - props].present)
			return nb_err_set(err, 0, "spec: property %s appears twice", name);
		raw[p - props] = (struct raw_prop){ .data = val,
						    .len = (size_t)plen,
						    .present = true };
	}
	if (off != -FDT_ERR_NOTFOUND)
		return nb_err_set(err, 0, "spec: bad root node: %s", fdt_strerror(off));
	return 0;
}

static int decode_version(const struct prop *p, const struct raw_prop *r, struct nb_err *err)
{
	uint32_t version;

	if (r->len != sizeof(fdt32_t))
		return nb_err_set(err, 0, "spec: property %s is %zu bytes, expected 4", p->name,
				  r->len);
	version = (uint32_t)wire_get((const unsigned char *)r->data, sizeof(fdt32_t));
	if (version != NB_SPEC_FORMAT)
		return nb_err_set(err, 0, "spec: property %s is %u, this nestbox-init reads %u",
				  p->name, version, NB_SPEC_FORMAT);
	return 0;
}

/* One NUL-terminated string of at most p->max bytes (before the NUL). */
static int decode_string(const struct prop *p, const struct raw_prop *r, struct nb_spec *out,
			 struct nb_err *err)
{
	if (r->len == 0 || memchr(r->data, '\0', r->len) != r->data + r->len - 1)
		return nb_err_set(err, 0, "spec: property %s is not one NUL-terminated string",
				  p->name);
	if (r->len - 1 > p->max)
		return nb_err_set(err, 0, "spec: property %s is longer than %zu bytes", p->name,
				  p->max);
	if (p->check_str && p->check_str(0, r->data, r->len - 1, err))
		return -1;
	set_ptr(out, p->off, r->data);
	return 0;
}

/* A NUL-separated list into a NULL-terminated array of pointers into the
 * blob (owned by out from the start, so a failure leaves it to free). */
static int decode_list(const struct prop *p, const struct raw_prop *r, struct nb_spec *out,
		       struct nb_err *err)
{
	size_t n = 0;
	const char **arr;

	if (r->len > 0 && r->data[r->len - 1] != '\0')
		return nb_err_set(err, 0, "spec: property %s is not NUL-terminated", p->name);
	for (size_t i = 0; i < r->len; i++)
		n += r->data[i] == '\0';
	if (check_count(p, n, err))
		return -1;
	arr = calloc(n + 1, sizeof(*arr));
	if (!arr)
		return nb_err_sys(err, "spec: cannot allocate %zu entries", n + 1);
	set_ptr(out, p->off, arr);
	*(size_t *)field_w(out, p->count) = n;
	for (size_t i = 0, off = 0; i < n; i++) {
		size_t elen = strlen(r->data + off);

		if (check_entry(p, i, r->data + off, elen, err))
			return -1;
		arr[i] = r->data + off;
		off += elen + 1;
	}
	return 0;
}

static int decode_cells(const struct prop *p, const struct raw_prop *r, struct nb_spec *out,
			struct nb_err *err)
{
	if (r->len != cells_width(p))
		return nb_err_set(err, 0, "spec: property %s is %zu bytes, expected %zu", p->name,
				  r->len, cells_width(p));
	if (get_cells(p, (const unsigned char *)r->data, out, err))
		return -1;
	if (p->zero && cell_get(&p->cells[p->key], out) == 0)
		return nb_err_set(err, 0, "spec: property %s %s", p->name, p->zero);
	if (p->flag)
		*(bool *)field_w(out, p->flag) = true;
	return 0;
}

static int decode_records(const struct prop *p, const struct raw_prop *r, struct nb_spec *out,
			  struct nb_err *err)
{
	size_t width = cells_width(p), n = r->len / width;
	unsigned char *arr = field_w(out, p->off);

	if (r->len % width || n < p->min || n > p->max)
		return nb_err_set(err, 0,
				  "spec: property %s is %zu bytes, not %zu..%zu records of %zu",
				  p->name, r->len, p->min, p->max, width);
	if (p->flags & PROP_ALLOC) {
		arr = calloc(n, p->unit);
		if (!arr)
			return nb_err_sys(err, "spec: cannot allocate %zu records", n);
		set_ptr(out, p->off, arr);
	}
	*(size_t *)field_w(out, p->count) = n;
	for (size_t i = 0; i < n; i++)
		if (get_cells(p, (const unsigned char *)r->data + i * width, arr + i * p->unit,
			      err))
			return -1;
	return 0;
}

static int decode_prop(const struct prop *p, const struct raw_prop *raw, struct nb_spec *out,
		       struct nb_err *err)
{
	const struct raw_prop *r = &raw[p - props];

	if (!r->present && p->flags & PROP_REQUIRED)
		return nb_err_set(err, 0, "spec: property %s is missing", p->name);
	if (!r->present && !(p->flags & PROP_ALWAYS))
		return 0;
	if (p->with && !raw[prop_named(p->with) - props].present)
		return nb_err_set(err, 0, "spec: property %s without %s", p->name, p->with);
	switch (p->kind) {
	case KIND_VERSION:
		return decode_version(p, r, err);
	case KIND_STRING:
		return decode_string(p, r, out, err);
	case KIND_LIST:
		return decode_list(p, r, out, err);
	case KIND_CELLS:
		return decode_cells(p, r, out, err);
	case KIND_RECORDS:
		return decode_records(p, r, out, err);
	case KIND_BYTES:
		if (check_bytes(p, r->len, err))
			return -1;
		set_ptr(out, p->off, r->data);
		*(size_t *)field_w(out, p->count) = r->len;
		return 0;
	}
	return 0;
}

int nb_spec_decode(const void *blob, size_t len, struct nb_spec *out, struct nb_err *err)
{
	struct raw_prop raw[NPROPS] = { 0 };

	memset(out, 0, sizeof(*out));
	if (check_blob(blob, len, err) || collect_props(blob, raw, err))
		return -1;
	for (size_t i = 0; i < NPROPS; i++) {
		const struct prop *p = &props[i];

		if (decode_prop(p, raw, out, err) ||
		    (raw[i].present && p->check && p->check(out, err))) {
			nb_spec_free(out);
			return -1;
		}
	}
	return 0;
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

bool nb_spec_same_container(const struct nb_spec *a, const struct nb_spec *b)
{
	/* Volumes are mounted beneath the root before the container is made. */
	if (a->tty || b->tty || a->nvolumes || b->nvolumes || !same_str(a->rootfs, b->rootfs) ||
	    !same_str(a->hostname, b->hostname) || a->namespaces != b->namespaces ||
	    a->read_only != b->read_only || a->memory_max != b->memory_max ||
	    a->swap_max != b->swap_max || a->cpu_quota_us != b->cpu_quota_us ||
	    a->cpu_period_us != b->cpu_period_us || a->pids_max != b->pids_max ||
	    a->memory_low != b->memory_low || a->cpu_weight != b->cpu_weight ||
	    a->ntmpfs != b->ntmpfs)
		return false;
	for (size_t i = 0; i < a->ntmpfs; i++)
		if (!same_str(a->tmpfs[i], b->tmpfs[i]))
			return false;
	return true;
}

bool nb_spec_volume_mode(const char *entry, bool *share, bool *read_only)
{
	const size_t fs = strlen(NB_VOLUME_MODE_FS);
	const char *mode = strchr(entry, ':');

	if (!mode)
		return false;
	mode++;
	*share = strncmp(mode, NB_VOLUME_MODE_FS, fs) == 0;
	*read_only = strncmp(mode + (*share ? fs : 0), "ro", 2) == 0;
	return true;
}

bool nb_spec_writable_volume(const struct nb_spec *spec)
{
	for (size_t i = 0; i < spec->nvolumes; i++) {
		bool share, read_only;

		if (nb_spec_volume_mode(spec->volumes[i], &share, &read_only) && !read_only)
			return true;
	}
	return false;
}

void nb_spec_free(struct nb_spec *spec)
{
	for (size_t i = 0; i < NPROPS; i++)
		if (props[i].kind == KIND_LIST || props[i].flags & PROP_ALLOC)
			free((void *)get_ptr(spec, props[i].off));
	memset(spec, 0, sizeof(*spec));
}
