/* container/preload.c: the interpreter a script or an ELF names (a "#!"
 * line, PT_INTERP) and the libraries an ELF needs (DT_NEEDED), read from
 * hostile image files with every bound checked, and the walk from a
 * program on PATH that warms a template's page cache. */
#include <check.h>
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container/preload.c"
#include "unit/unit.h"

static char dir[64];

static void setup(void)
{
	nb_unit_mkdir(dir, "preload");
}

static void teardown(void)
{
	nb_unit_rmdir(dir);
}

static const char *at(const char *name)
{
	return nb_unit_at(dir, name);
}

static void put(const char *name, const void *data, size_t len, mode_t mode)
{
	int fd = open(at(name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
}

/* What nb_preload_interp says of the file data: its result, and the path. */
static bool interp_of(const void *data, size_t len, char *buf, size_t size)
{
	int fd;
	bool got;

	put("f", data, len, 0755);
	fd = open(at("f"), O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	got = nb_preload_interp(fd, buf, size);
	close(fd);
	return got;
}

#define INTERP_OF(s, buf) interp_of(s, strlen(s), buf, sizeof(buf))

START_TEST(shebang_lines)
{
	char buf[64];

	ck_assert(INTERP_OF("#!/bin/sh\necho hi\n", buf));
	ck_assert_str_eq(buf, "/bin/sh");
	ck_assert(INTERP_OF("#! \t/usr/bin/env python3\n", buf));
	ck_assert_str_eq(buf, "/usr/bin/env");
	ck_assert(INTERP_OF("#!/bin/bash", buf)); /* no newline: the file's end */
	ck_assert_str_eq(buf, "/bin/bash");
	/* relative, empty, not a "#!" at all */
	ck_assert(!INTERP_OF("#!bin/sh\n", buf));
	ck_assert(!INTERP_OF("#!\n/bin/sh\n", buf));
	ck_assert(!INTERP_OF("#!   \n", buf));
	ck_assert(!INTERP_OF("#", buf));
	ck_assert(!INTERP_OF("", buf));
	ck_assert(!INTERP_OF("echo #!/bin/sh\n", buf));
}
END_TEST

START_TEST(shebang_too_long)
{
	char line[SHEBANG_MAX + 64], small[8];

	memset(line, 'a', sizeof(line));
	memcpy(line, "#!/", 3);
	/* longer than the buffer given: refused, nothing half copied */
	ck_assert(!interp_of("#!/bin/bash\n", 12, small, sizeof(small)));
	ck_assert(interp_of("#!/bin/sh\n", 10, small, sizeof(small)));
	ck_assert_str_eq(small, "/bin/sh");
	/* a path running past what is looked at may be cut: refused, as the
	 * kernel refuses it; one that ends just before is taken */
	char big[PATH_MAX];
	ck_assert(!interp_of(line, sizeof(line), big, sizeof(big)));
	line[SHEBANG_MAX - 1] = '\n';
	ck_assert(interp_of(line, sizeof(line), big, sizeof(big)));
	ck_assert_uint_eq(strlen(big), SHEBANG_MAX - 3);
	ck_assert(!interp_of("#!/x", 4, small, 0));
}
END_TEST

/* A minimal ELF64: header, nph program headers at phoff, and bytes. */
struct elf {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[2];
	char interp[32];
};

static struct elf elf_with(const char *interp)
{
	struct elf e = { 0 };

	memcpy(e.eh.e_ident, ELFMAG, SELFMAG);
	e.eh.e_ident[EI_CLASS] = ELFCLASS64;
	e.eh.e_ident[EI_DATA] = ELFDATA2LSB;
	e.eh.e_phoff = offsetof(struct elf, ph);
	e.eh.e_phentsize = sizeof(Elf64_Phdr);
	e.eh.e_phnum = 2;
	e.ph[0].p_type = PT_LOAD;
	e.ph[1].p_type = PT_INTERP;
	e.ph[1].p_offset = offsetof(struct elf, interp);
	e.ph[1].p_filesz = strlen(interp) + 1;
	snprintf(e.interp, sizeof(e.interp), "%s", interp);
	return e;
}

START_TEST(elf_interp_found)
{
	struct elf e = elf_with("/lib/ld-musl-x86_64.so.1");
	char buf[64];

	ck_assert(interp_of(&e, sizeof(e), buf, sizeof(buf)));
	ck_assert_str_eq(buf, "/lib/ld-musl-x86_64.so.1");
	/* no PT_INTERP: a static program */
	e.ph[1].p_type = PT_NOTE;
	ck_assert(!interp_of(&e, sizeof(e), buf, sizeof(buf)));
}
END_TEST

START_TEST(elf_hostile_headers)
{
	struct elf e;
	char buf[64];

	/* the path's length: no NUL at its end, a NUL inside, too long, empty */
	e = elf_with("/lib/ld.so");
	e.ph[1].p_filesz -= 1;
	ck_assert(!interp_of(&e, sizeof(e), buf, sizeof(buf)));
	e = elf_with("/lib/ld.so");
	e.interp[4] = '\0';
	ck_assert(!interp_of(&e, sizeof(e), buf, sizeof(buf)));
	e = elf_with("/lib/ld.so");
	e.ph[1].p_filesz = sizeof(buf) + 1;
	ck_assert(!interp_of(&e, sizeof(e), buf, sizeof(buf)));
	e = elf_with("/lib/ld.so");
	e.ph[1].p_filesz = 0;
	ck_assert(!interp_of(&e, sizeof(e), buf, sizeof(buf)));
	e = elf_with("lib/ld.so"); /* relative */
	ck_assert(!interp_of(&e, sizeof(e), buf, sizeof(buf)));
	/* offsets past the file's end, or past any file's */
	e = elf_with("/lib/ld.so");
	e.ph[1].p_offset = sizeof(e);
	ck_assert(!interp_of(&e, sizeof(e), buf, sizeof(buf)));
	e.ph[1].p_offset = UINT64_MAX - 2;
	ck_assert(!interp_of(&e, sizeof(e), buf, sizeof(buf)));
	e = elf_with("/lib/ld.so");
	e.eh.e_phoff = UINT64_MAX - 8;
	ck_assert(!interp_of(&e, sizeof(e), buf, sizeof(buf)));
	e.eh.e_phoff = sizeof(e) - sizeof(Elf64_Phdr) / 2; /* a table cut by the end */
	ck_assert(!interp_of(&e, sizeof(e), buf, sizeof(buf)));
	/* a table entry size, count or class it does not read */
	e = elf_with("/lib/ld.so");
	e.eh.e_phentsize = sizeof(Elf64_Phdr) - 8;
	ck_assert(!interp_of(&e, sizeof(e), buf, sizeof(buf)));
	e = elf_with("/lib/ld.so");
	e.eh.e_phnum = PHNUM_MAX + 1;
	ck_assert(!interp_of(&e, sizeof(e), buf, sizeof(buf)));
	e.eh.e_phnum = 0;
	ck_assert(!interp_of(&e, sizeof(e), buf, sizeof(buf)));
	e = elf_with("/lib/ld.so");
	e.eh.e_ident[EI_CLASS] = ELFCLASS32;
	ck_assert(!interp_of(&e, sizeof(e), buf, sizeof(buf)));
	/* a header cut short */
	e = elf_with("/lib/ld.so");
	ck_assert(!interp_of(&e, sizeof(Elf64_Ehdr) - 1, buf, sizeof(buf)));
}
END_TEST

/* This host's own /bin/true: a real dynamic ELF whose PT_INTERP is its
 * dynamic loader, and which needs libc. */
START_TEST(real_elf)
{
	int fd = open("/bin/true", O_RDONLY | O_CLOEXEC);
	char buf[PATH_MAX], names[4][NB_PRELOAD_NAME_MAX];
	struct stat st;

	ck_assert_int_ge(fd, 0);
	ck_assert(nb_preload_interp(fd, buf, sizeof(buf)));
	ck_assert_uint_eq(nb_preload_needed(fd, names, 4), 1);
	ck_assert_str_eq(names[0], "libc.so.6");
	ck_assert_uint_eq(nb_preload_needed(fd, names, 0), 0);
	close(fd);
	ck_assert_int_eq(buf[0], '/');
	ck_assert_int_eq(stat(buf, &st), 0);
}
END_TEST

/* A minimal dynamic ELF64: one PT_LOAD over the whole file, a PT_DYNAMIC,
 * and a string table naming two libraries. */
struct delf {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[2];
	Elf64_Dyn dyn[5];
	char str[32];
};

#define DELF_BASE 0x400000u

static struct delf delf(void)
{
	struct delf e = { 0 };

	memcpy(e.eh.e_ident, ELFMAG, SELFMAG);
	e.eh.e_ident[EI_CLASS] = ELFCLASS64;
	e.eh.e_phoff = offsetof(struct delf, ph);
	e.eh.e_phentsize = sizeof(Elf64_Phdr);
	e.eh.e_phnum = 2;
	e.ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_vaddr = DELF_BASE, .p_filesz = sizeof(e) };
	e.ph[1] = (Elf64_Phdr){ .p_type = PT_DYNAMIC,
				.p_offset = offsetof(struct delf, dyn),
				.p_filesz = sizeof(e.dyn) };
	/* the names come before the table is named: order does not matter */
	e.dyn[0] = (Elf64_Dyn){ .d_tag = DT_NEEDED, .d_un.d_val = 1 };
	e.dyn[1] = (Elf64_Dyn){ .d_tag = DT_NEEDED, .d_un.d_val = 11 };
	e.dyn[2] = (Elf64_Dyn){ .d_tag = DT_STRTAB,
				.d_un.d_ptr = DELF_BASE + offsetof(struct delf, str) };
	e.dyn[3] = (Elf64_Dyn){ .d_tag = DT_STRSZ, .d_un.d_val = 24 };
	memcpy(e.str, "\0libfoo.so\0libbar.so.2\0", 24);
	return e;
}

static unsigned needed_of(const struct delf *e, size_t len, char (*names)[NB_PRELOAD_NAME_MAX])
{
	int fd;
	unsigned n;

	put("f", e, len, 0755);
	fd = open(at("f"), O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	n = nb_preload_needed(fd, names, 8);
	close(fd);
	return n;
}

START_TEST(needed_found)
{
	char names[8][NB_PRELOAD_NAME_MAX];
	struct delf e = delf();

	ck_assert_uint_eq(needed_of(&e, sizeof(e), names), 2);
	ck_assert_str_eq(names[0], "libfoo.so");
	ck_assert_str_eq(names[1], "libbar.so.2");
	/* a static program: no PT_DYNAMIC */
	e.ph[1].p_type = PT_NOTE;
	ck_assert_uint_eq(needed_of(&e, sizeof(e), names), 0);
	/* a DT_NULL ends the table */
	e = delf();
	e.dyn[1].d_tag = DT_NULL;
	ck_assert_uint_eq(needed_of(&e, sizeof(e), names), 0);
}
END_TEST

START_TEST(needed_hostile)
{
	char names[8][NB_PRELOAD_NAME_MAX];
	struct delf e;

	/* a name past the table's end, or with no NUL before it */
	e = delf();
	e.dyn[1].d_un.d_val = 24;
	ck_assert_uint_eq(needed_of(&e, sizeof(e), names), 1);
	e = delf();
	e.dyn[3].d_un.d_val = 20; /* cuts libbar.so.2 short */
	ck_assert_uint_eq(needed_of(&e, sizeof(e), names), 1);
	ck_assert_str_eq(names[0], "libfoo.so");
	e.dyn[1].d_un.d_val = UINT64_MAX;
	ck_assert_uint_eq(needed_of(&e, sizeof(e), names), 1);
	/* an empty name */
	e = delf();
	e.dyn[1].d_un.d_val = 0;
	ck_assert_uint_eq(needed_of(&e, sizeof(e), names), 1);
	/* a table size that runs past the file: names read up to its end only */
	e = delf();
	e.dyn[3].d_un.d_val = UINT64_MAX;
	ck_assert_uint_eq(needed_of(&e, sizeof(e), names), 2);
	/* no string table, or one outside every PT_LOAD's file bytes */
	e = delf();
	e.dyn[2].d_tag = DT_DEBUG;
	ck_assert_uint_eq(needed_of(&e, sizeof(e), names), 0);
	e = delf();
	e.dyn[2].d_un.d_ptr = DELF_BASE + sizeof(e);
	ck_assert_uint_eq(needed_of(&e, sizeof(e), names), 0);
	e.dyn[2].d_un.d_ptr = DELF_BASE - 1;
	ck_assert_uint_eq(needed_of(&e, sizeof(e), names), 0);
	e = delf();
	e.ph[0].p_offset = UINT64_MAX - 8;
	ck_assert_uint_eq(needed_of(&e, sizeof(e), names), 0);
	/* a dynamic table past the file's end, or huge */
	e = delf();
	e.ph[1].p_offset = sizeof(e);
	ck_assert_uint_eq(needed_of(&e, sizeof(e), names), 0);
	e = delf();
	e.ph[1].p_filesz = UINT64_MAX;
	ck_assert_uint_eq(needed_of(&e, sizeof(e), names), 0);
	/* a file cut inside its header */
	e = delf();
	ck_assert_uint_eq(needed_of(&e, sizeof(Elf64_Ehdr) - 1, names), 0);
}
END_TEST

static uint64_t size_of(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

/* A script on a PATH of three directories (the first without it, the
 * second with it not executable): the program read, then its interpreter
 * (this host's /bin/true), that one's dynamic loader and its libc (found
 * in the library directories as ld.so finds it); libc's own need of the
 * loader is the same file, read once. */
START_TEST(program_on_path)
{
	const char script[] = "#!/bin/true\nexit 0\n";
	char path[512], interp[PATH_MAX], libc[PATH_MAX];
	unsigned files;
	uint64_t want;
	int fd = open("/bin/true", O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert(nb_preload_interp(fd, interp, sizeof(interp)));
	close(fd);
	for (size_t i = 0; i < sizeof(lib_dirs) / sizeof(lib_dirs[0]); i++) {
		snprintf(libc, sizeof(libc), "%s/libc.so.6", lib_dirs[i]);
		if (access(libc, R_OK) == 0)
			break;
	}
	ck_assert_int_eq(mkdir(at("a"), 0755), 0);
	ck_assert_int_eq(mkdir(at("b"), 0755), 0);
	ck_assert_int_eq(mkdir(at("c"), 0755), 0);
	put("b/prog", "#!/nonexistent\n", 15, 0644);
	put("c/prog", script, sizeof(script) - 1, 0755);
	snprintf(path, sizeof(path), "%s::", at("a")); /* at() keeps two at a time */
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "%s:%s", at("b"), at("c"));
	want = sizeof(script) - 1 + size_of("/bin/true") + size_of(interp) + size_of(libc);
	ck_assert_uint_eq(nb_preload_program("prog", path, &files), want);
	ck_assert_uint_eq(files, 4);
	/* a path as it is; missing, a directory, a FIFO: nothing, no hang */
	ck_assert_uint_eq(nb_preload_program(at("c/prog"), NULL, &files), want);
	ck_assert_uint_eq(nb_preload_program("prog", at("a"), &files), 0);
	ck_assert_uint_eq(files, 0);
	ck_assert_uint_eq(nb_preload_program(at("a"), NULL, &files), 0);
	ck_assert_int_eq(mkfifo(at("a/fifo"), 0755), 0);
	ck_assert_uint_eq(nb_preload_program("fifo", at("a"), &files), 0);
	ck_assert_uint_eq(nb_preload_program("", NULL, &files), 0);
}
END_TEST

/* A script that names itself is read once; a chain of scripts, each
 * naming the next, is followed NB_PRELOAD_DEPTH levels. */
START_TEST(loops_and_chains_end)
{
	char line[300], name[8];
	unsigned files;
	uint64_t want = 0;

	snprintf(line, sizeof(line), "#!%s\n", at("loop"));
	put("loop", line, strlen(line), 0755);
	ck_assert_uint_eq(nb_preload_program(at("loop"), NULL, &files), strlen(line));
	ck_assert_uint_eq(files, 1);
	for (unsigned i = 0; i < NB_PRELOAD_DEPTH + 2; i++) {
		snprintf(name, sizeof(name), "s%u", i + 1);
		snprintf(line, sizeof(line), "#!%s\n", at(name));
		snprintf(name, sizeof(name), "s%u", i);
		put(name, line, strlen(line), 0755);
		if (i < NB_PRELOAD_DEPTH)
			want += strlen(line);
	}
	ck_assert_uint_eq(nb_preload_program(at("s0"), NULL, &files), want);
	ck_assert_uint_eq(files, NB_PRELOAD_DEPTH);
}
END_TEST

/* A file read whole (need not be executable); missing, a directory, a
 * FIFO: nothing, no hang. */
START_TEST(file_read_whole)
{
	char line[] = "root:x:0:0:root:/root:/bin/sh\n";

	put("passwd", line, sizeof(line) - 1, 0644);
	ck_assert_uint_eq(nb_preload_file(at("passwd")), sizeof(line) - 1);
	ck_assert_uint_eq(nb_preload_file(at("missing")), 0);
	ck_assert_int_eq(mkdir(at("d"), 0755), 0);
	ck_assert_uint_eq(nb_preload_file(at("d")), 0);
	ck_assert_int_eq(mkfifo(at("fifo"), 0644), 0);
	ck_assert_uint_eq(nb_preload_file(at("fifo")), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("preload");
	TCase *tc = tcase_create("preload");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, shebang_lines);
	tcase_add_test(tc, shebang_too_long);
	tcase_add_test(tc, elf_interp_found);
	tcase_add_test(tc, elf_hostile_headers);
	tcase_add_test(tc, real_elf);
	tcase_add_test(tc, needed_found);
	tcase_add_test(tc, needed_hostile);
	tcase_add_test(tc, program_on_path);
	tcase_add_test(tc, loops_and_chains_end);
	tcase_add_test(tc, file_read_whole);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
