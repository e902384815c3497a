/* A template's page cache, warmed ahead (container/preload.h). */
#include "container/preload.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "nestbox/abi.h"

#define SHEBANG_MAX 256u /* bytes of a "#!" line looked at (the kernel's BINPRM_BUF_SIZE) */
#define PHNUM_MAX 64u    /* program headers looked at; PT_INTERP comes first in practice */
#define DYN_MAX 512u     /* dynamic entries looked at (a libc's: ~30) */
#define NEEDED_MAX 32u   /* libraries looked at, per file */
/* Where a library named without a '/' is looked for: Debian's and
 * Alpine's default search path (ld.so's cache and RUNPATH are not read). */
static const char *const lib_dirs[] = { "/lib/x86_64-linux-gnu",
					"/usr/lib/x86_64-linux-gnu",
					"/lib64",
					"/usr/lib64",
					"/lib",
					"/usr/lib",
					"/usr/local/lib" };

static bool pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	return nb_pread_upto(fd, buf, len, off) == len;
}

/* "#!/path/to/interp [arg]": the path, when absolute and it fits. One that
 * runs to the end of what was looked at may be cut: refused, as the kernel
 * refuses it. */
static bool shebang(const char *head, size_t len, char *buf, size_t size)
{
	size_t i = 2, start;

	while (i < len && (head[i] == ' ' || head[i] == '\t'))
		i++;
	start = i;
	while (i < len && head[i] != ' ' && head[i] != '\t' && head[i] != '\n' && head[i] != '\0')
		i++;
	if (i == start || head[start] != '/' || i - start >= size || i == SHEBANG_MAX)
		return false;
	memcpy(buf, head + start, i - start);
	buf[i - start] = '\0';
	return true;
}

/* An ELF64's program headers into ph (PHNUM_MAX); how many, 0 if unfit. */
static unsigned elf_phdrs(int fd, const Elf64_Ehdr *eh, Elf64_Phdr *ph)
{
	unsigned n = eh->e_phnum;

	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_phentsize != sizeof(Elf64_Phdr) || n == 0 || n > PHNUM_MAX ||
	    !pread_full(fd, ph, n * sizeof(ph[0]), eh->e_phoff))
		return 0;
	return n;
}

/* An ELF64's PT_INTERP: a NUL-terminated absolute path that fits. */
static bool elf_interp(int fd, const Elf64_Ehdr *eh, char *buf, size_t size)
{
	Elf64_Phdr ph[PHNUM_MAX];
	unsigned n = elf_phdrs(fd, eh, ph);

	for (unsigned i = 0; i < n; i++) {
		if (ph[i].p_type != PT_INTERP)
			continue;
		if (ph[i].p_filesz < 2 || ph[i].p_filesz > size ||
		    !pread_full(fd, buf, (size_t)ph[i].p_filesz, ph[i].p_offset))
			return false;
		return buf[ph[i].p_filesz - 1] == '\0' && buf[0] == '/' &&
		       strlen(buf) == ph[i].p_filesz - 1;
	}
	return false;
}

/* The file offset of virtual address v, in a PT_LOAD's file bytes. */
static bool vaddr_offset(const Elf64_Phdr *ph, unsigned n, uint64_t v, uint64_t *off)
{
	for (unsigned i = 0; i < n; i++)
		if (ph[i].p_type == PT_LOAD && v >= ph[i].p_vaddr &&
		    v - ph[i].p_vaddr < ph[i].p_filesz &&
		    ph[i].p_offset <= UINT64_MAX - (v - ph[i].p_vaddr)) {
			*off = ph[i].p_offset + (v - ph[i].p_vaddr);
			return true;
		}
	return false;
}

unsigned nb_preload_needed(int fd, char (*names)[NB_PRELOAD_NAME_MAX], unsigned max)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph[PHNUM_MAX];
	Elf64_Dyn dyn[DYN_MAX];
	uint64_t strtab = 0, strsz = 0, stroff, ndyn = 0;
	unsigned n, count = 0;
	bool has_strtab = false;

	if (!pread_full(fd, &eh, sizeof(eh), 0) || !(n = elf_phdrs(fd, &eh, ph)))
		return 0;
	for (unsigned i = 0; i < n && !ndyn; i++)
		if (ph[i].p_type == PT_DYNAMIC) {
			ndyn = ph[i].p_filesz / sizeof(Elf64_Dyn);
			ndyn = ndyn < DYN_MAX ? ndyn : DYN_MAX;
			if (!pread_full(fd, dyn, (size_t)ndyn * sizeof(dyn[0]), ph[i].p_offset))
				return 0;
		}
	for (uint64_t i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; i++) {
		if (dyn[i].d_tag == DT_STRTAB)
			strtab = dyn[i].d_un.d_ptr, has_strtab = true;
		else if (dyn[i].d_tag == DT_STRSZ)
			strsz = dyn[i].d_un.d_val;
	}
	if (!has_strtab || !vaddr_offset(ph, n, strtab, &stroff))
		return 0;
	for (uint64_t i = 0; i < ndyn && dyn[i].d_tag != DT_NULL && count < max; i++) {
		uint64_t at = dyn[i].d_un.d_val;
		size_t len;

		if (dyn[i].d_tag != DT_NEEDED || at >= strsz || stroff > UINT64_MAX - at)
			continue;
		len = strsz - at < NB_PRELOAD_NAME_MAX ? (size_t)(strsz - at) : NB_PRELOAD_NAME_MAX;
		/* the name's NUL within the table, the buffer and the file */
		len = nb_pread_upto(fd, names[count], len, stroff + at);
		if (len == 0 || strnlen(names[count], len) == len || !names[count][0])
			continue;
		count++;
	}
	return count;
}

bool nb_preload_interp(int fd, char *buf, size_t size)
{
	union {
		char text[SHEBANG_MAX];
		Elf64_Ehdr eh;
	} head;
	size_t len;

	if (size == 0)
		return false;
	len = nb_pread_upto(fd, head.text, sizeof(head.text), 0);
	if (len >= 2 && head.text[0] == '#' && head.text[1] == '!')
		return shebang(head.text, len, buf, size);
	if (len >= sizeof(head.eh))
		return elf_interp(fd, &head.eh, buf, size);
	return false;
}

/* The regular file at path (and one that may be executed, with exec);
 * O_NONBLOCK: a FIFO in its place does not hang the open. */
static int open_file(const char *path, bool exec)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;

	if (fd >= 0 &&
	    (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (exec && !(st.st_mode & 0111)))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* argv0 as execvp finds it: a path as it is, a name in the first PATH
 * directory that has it as an executable regular file. */
static int find_program(const char *argv0, const char *path)
{
	char full[PATH_MAX];

	if (!argv0[0])
		return -1;
	if (strchr(argv0, '/'))
		return open_file(argv0, true);
	for (const char *p = path ? path : &NB_DEFAULT_PATH[sizeof("PATH=") - 1], *end; *p;
	     p = *end ? end + 1 : end) {
		int fd;

		end = strchrnul(p, ':');
		if (end == p) /* an empty entry is the working directory */
			snprintf(full, sizeof(full), "%s", argv0);
		else if (snprintf(full, sizeof(full), "%.*s/%s", (int)(end - p), p, argv0) >=
			 (int)sizeof(full))
			continue;
		if ((fd = open_file(full, true)) >= 0)
			return fd;
	}
	return -1;
}

/* Read fd's first NB_PRELOAD_FILE_MAX bytes (they stay in the page cache). */
static uint64_t read_all(int fd)
{
	static char buf[65536];
	uint64_t total = 0;
	ssize_t n;

	while (total < NB_PRELOAD_FILE_MAX &&
	       ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)))
		total += n > 0 ? (uint64_t)n : 0;
	return total;
}

/* What a walk has read: each file once (device and inode). */
struct walk {
	uint64_t bytes;
	unsigned files;
	struct {
		dev_t dev;
		ino_t ino;
	} seen[NB_PRELOAD_FILES_MAX];
};

/* A library by name, as ld.so looks for it (less its cache and RUNPATH). */
static int open_library(const char *name)
{
	char full[PATH_MAX];

	if (strchr(name, '/'))
		return open_file(name, false);
	for (size_t i = 0; i < sizeof(lib_dirs) / sizeof(lib_dirs[0]); i++) {
		int fd;

		if (snprintf(full, sizeof(full), "%s/%s", lib_dirs[i], name) >= (int)sizeof(full))
			return -1;
		if ((fd = open_file(full, false)) >= 0)
			return fd;
	}
	return -1;
}

/* Read fd (closed here) unless the walk has it, then what it names: its
 * interpreter and its libraries, depth levels down at most. */
static void take(struct walk *w, int fd, unsigned depth)
{
	char interp[PATH_MAX], names[NEEDED_MAX][NB_PRELOAD_NAME_MAX];
	struct stat st;
	unsigned nneeded;
	bool has_interp;

	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || w->files == NB_PRELOAD_FILES_MAX) {
		close(fd);
		return;
	}
	for (unsigned i = 0; i < w->files; i++)
		if (w->seen[i].dev == st.st_dev && w->seen[i].ino == st.st_ino) {
			close(fd);
			return;
		}
	w->seen[w->files].dev = st.st_dev;
	w->seen[w->files].ino = st.st_ino;
	w->files++;
	has_interp = nb_preload_interp(fd, interp, sizeof(interp));
	nneeded = nb_preload_needed(fd, names, NEEDED_MAX);
	w->bytes += read_all(fd);
	close(fd);
	if (++depth == NB_PRELOAD_DEPTH)
		return;
	if (has_interp)
		take(w, open_file(interp, false), depth);
	for (unsigned i = 0; i < nneeded; i++)
		take(w, open_library(names[i]), depth);
}

uint64_t nb_preload_program(const char *argv0, const char *path, unsigned *files)
{
	static struct walk w; /* PID 1's, one walk at a time */

	memset(&w, 0, sizeof(w));
	take(&w, find_program(argv0, path), 0);
	*files = w.files;
	return w.bytes;
}

uint64_t nb_preload_file(const char *path)
{
	int fd = open_file(path, false);
	uint64_t bytes;

	if (fd < 0)
		return 0;
	bytes = read_all(fd);
	close(fd);
	return bytes;
}
