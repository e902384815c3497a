/* Kernel loader: ELF vmlinux or bzImage, both entered at their 64-bit
 * entry point. Every field read from the file is validated against the
 * file length and guest RAM before a single byte is copied. */
#include "vmm/kvm/x86_64/loader.h"

#include <elf.h>
#include <string.h>

#include "vmm/kvm/x86_64/layout.h"

#define SETUP_HDR_OFFSET 0x1f1u   /* boot protocol: setup header in the file */
#define SETUP_MAGIC_OFFSET 0x202u /* "HdrS" */
#define SETUP_MAGIC 0x53726448u
#define SETUP_SECT_SIZE 512u
#define SETUP_SECTS_DEFAULT 4u   /* setup_sects == 0 means 4 */
#define BZ_MIN_VERSION 0x020cu   /* 2.12: xloadflags, XLF_KERNEL_64 */
#define BZ_ENTRY64_OFFSET 0x200u /* 64-bit entry: startup_64 */
#define MIB(x) ((unsigned long long)(((x) + (1ull << 20) - 1) >> 20)) /* rounded up */

static bool is_elf(const uint8_t *buf, size_t len)
{
	return len >= SELFMAG && memcmp(buf, ELFMAG, SELFMAG) == 0;
}

static bool is_bzimage(const uint8_t *buf, size_t len)
{
	return len >= SETUP_MAGIC_OFFSET + 4 && memcmp(buf + SETUP_MAGIC_OFFSET, "HdrS", 4) == 0;
}

static int elf_check_ehdr(const Elf64_Ehdr *eh, size_t len, struct nb_err *err)
{
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return nb_err_set(err, 0, "ELF kernel is not 64-bit little-endian");
	if (eh->e_ident[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT)
		return nb_err_set(err, 0, "ELF kernel has unknown ELF version %u", eh->e_version);
	if (eh->e_type != ET_EXEC)
		return nb_err_set(err, 0, "ELF kernel is not an executable (e_type %u)",
				  eh->e_type);
	if (eh->e_machine != EM_X86_64)
		return nb_err_set(err, 0, "ELF kernel is for machine %u, not x86-64",
				  eh->e_machine);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return nb_err_set(err, 0, "ELF program header size %u, expected %zu",
				  eh->e_phentsize, sizeof(Elf64_Phdr));
	if (eh->e_phnum == 0 || eh->e_phnum == PN_XNUM)
		return nb_err_set(err, 0, "ELF kernel has %u program headers", eh->e_phnum);
	if (eh->e_phoff > len)
		return nb_err_set(err, 0, "ELF program headers start past end of file");
	/* phnum * phentsize is at most 0xffff * 0xffff: no overflow in 64 bits. */
	if ((uint64_t)eh->e_phnum * eh->e_phentsize > len - eh->e_phoff)
		return nb_err_set(err, 0, "ELF program headers run past end of file");
	return 0;
}

static int elf_check_segment(const Elf64_Phdr *ph, unsigned i, size_t len,
			     const struct nb_guest_mem *mem, struct nb_err *err)
{
	if (ph->p_offset > len || ph->p_filesz > len - ph->p_offset)
		return nb_err_set(err, 0, "segment %u runs past end of file", i);
	if (ph->p_filesz > ph->p_memsz)
		return nb_err_set(err, 0, "segment %u: file size 0x%llx exceeds memory size 0x%llx",
				  i, (unsigned long long)ph->p_filesz,
				  (unsigned long long)ph->p_memsz);
	if (ph->p_memsz == 0)
		return 0;
	/* Below 1 MiB live the zero page, GDT, page tables and MP table. */
	if (ph->p_paddr < NB_HIMEM_GPA)
		return nb_err_set(err, 0, "segment %u at 0x%llx overlaps the boot area below 1 MiB",
				  i, (unsigned long long)ph->p_paddr);
	if (!nb_mem_contains(mem, ph->p_paddr, ph->p_memsz))
		return nb_err_set(err, 0,
				  "segment %u (0x%llx+0x%llx) is outside guest RAM "
				  "(guest has %llu MiB)",
				  i, (unsigned long long)ph->p_paddr,
				  (unsigned long long)ph->p_memsz, MIB(mem->size));
	return 0;
}

static void read_phdr(const uint8_t *buf, const Elf64_Ehdr *eh, unsigned i, Elf64_Phdr *ph)
{
	/* memcpy: the file buffer has no alignment guarantee. */
	memcpy(ph, buf + eh->e_phoff + (uint64_t)i * sizeof(*ph), sizeof(*ph));
}

/* Pass 1: validate every PT_LOAD and compute the loaded range. */
static int elf_check_segments(const uint8_t *buf, size_t len, const Elf64_Ehdr *eh,
			      const struct nb_guest_mem *mem, struct nb_kernel *out,
			      struct nb_err *err)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	Elf64_Phdr ph;

	for (unsigned i = 0; i < eh->e_phnum; i++) {
		read_phdr(buf, eh, i, &ph);
		if (ph.p_type != PT_LOAD)
			continue;
		if (elf_check_segment(&ph, i, len, mem, err) < 0)
			return -1;
		if (ph.p_memsz == 0)
			continue;
		if (ph.p_paddr < lo)
			lo = ph.p_paddr;
		if (ph.p_paddr + ph.p_memsz > hi) /* no wrap: checked by nb_mem_contains */
			hi = ph.p_paddr + ph.p_memsz;
	}
	if (hi == 0)
		return nb_err_set(err, 0, "ELF kernel has no loadable segment");
	if (eh->e_entry < lo || eh->e_entry >= hi)
		return nb_err_set(err, 0,
				  "entry point 0x%llx is outside the loaded segments "
				  "0x%llx-0x%llx",
				  (unsigned long long)eh->e_entry, (unsigned long long)lo,
				  (unsigned long long)hi);
	out->load_start = lo;
	out->load_end = hi;
	return 0;
}

static int check_elf(const uint8_t *buf, size_t len, const struct nb_guest_mem *mem,
		     struct nb_kernel *out, struct nb_err *err)
{
	Elf64_Ehdr eh;

	if (len < sizeof(eh))
		return nb_err_set(err, 0, "ELF header truncated (%zu bytes)", len);
	memcpy(&eh, buf, sizeof(eh));
	if (elf_check_ehdr(&eh, len, err) < 0)
		return -1;
	if (elf_check_segments(buf, len, &eh, mem, out, err) < 0)
		return -1;
	/* vmlinux's e_entry is phys_startup_64, a physical address. */
	out->entry = eh.e_entry;
	out->bzimage = false;
	return 0;
}

/* Pass 2, after check_elf: copy and zero the bss tails. */
static int copy_elf(const uint8_t *buf, const struct nb_guest_mem *mem, struct nb_err *err)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;

	memcpy(&eh, buf, sizeof(eh));
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		read_phdr(buf, &eh, i, &ph);
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		uint8_t *dst = nb_gpa_ptr(mem, ph.p_paddr, ph.p_memsz);
		if (!dst)
			return nb_err_set(err, 0, "segment %u: no guest RAM to load it into", i);
		memcpy(dst, buf + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
	}
	return 0;
}

/* Copy the setup header the way the boot protocol says: from 0x1f1 up to
 * 0x202 + the byte at 0x201 (the jump's displacement), at most the struct. */
static void read_setup_header(const uint8_t *buf, struct setup_header *hdr)
{
	size_t n = SETUP_MAGIC_OFFSET + buf[0x201] - SETUP_HDR_OFFSET;

	if (n > sizeof(*hdr))
		n = sizeof(*hdr);
	memset(hdr, 0, sizeof(*hdr));
	memcpy(hdr, buf + SETUP_HDR_OFFSET, n);
}

static int bz_check_header(const struct setup_header *hdr, struct nb_err *err)
{
	if (hdr->header != SETUP_MAGIC)
		return nb_err_set(err, 0, "bzImage setup header has no HdrS magic");
	if (hdr->version < BZ_MIN_VERSION)
		return nb_err_set(err, 0, "bzImage boot protocol %u.%02u is too old (need 2.12)",
				  hdr->version >> 8, hdr->version & 0xff);
	if (!(hdr->xloadflags & XLF_KERNEL_64))
		return nb_err_set(err, 0, "bzImage has no 64-bit entry (XLF_KERNEL_64 unset)");
	return 0;
}

/* pref_address if it is page aligned, above 1 MiB and the kernel fits
 * there; else the default 16 MiB. */
static uint64_t bz_load_addr(const struct setup_header *hdr, uint64_t need,
			     const struct nb_guest_mem *mem)
{
	uint64_t pref = hdr->pref_address;

	if (pref >= NB_HIMEM_GPA && pref % 4096 == 0 && nb_mem_contains(mem, pref, need))
		return pref;
	return NB_KERNEL_DEFAULT_GPA;
}

static int check_bzimage(const uint8_t *buf, size_t len, const struct nb_guest_mem *mem,
			 struct nb_kernel *out, struct nb_err *err)
{
	struct setup_header *hdr = &out->hdr;

	if (len < SETUP_HDR_OFFSET + sizeof(*hdr))
		return nb_err_set(err, 0, "bzImage truncated (%zu bytes)", len);
	read_setup_header(buf, hdr);
	if (bz_check_header(hdr, err) < 0)
		return -1;

	uint64_t sects = hdr->setup_sects ? hdr->setup_sects : SETUP_SECTS_DEFAULT;
	uint64_t code_off = (sects + 1) * SETUP_SECT_SIZE;
	if (code_off >= len)
		return nb_err_set(err, 0,
				  "bzImage setup sectors (%llu) run past end of file "
				  "(%zu bytes)",
				  (unsigned long long)sects, len);
	uint64_t code_size = len - code_off;
	uint64_t need = hdr->init_size > code_size ? hdr->init_size : code_size;
	uint64_t load = bz_load_addr(hdr, need, mem);

	if (!nb_mem_contains(mem, load, need))
		return nb_err_set(err, 0,
				  "kernel needs %llu MiB at %llu MiB but guest has "
				  "%llu MiB of low RAM",
				  MIB(need), MIB(load), MIB(nb_mem_low_end(mem)));
	out->entry = load + BZ_ENTRY64_OFFSET;
	out->load_start = load;
	out->load_end = load + need;
	out->bzimage = true;
	return 0;
}

/* After check_bzimage: the protected-mode code, at its load address. */
static int copy_bzimage(const uint8_t *buf, size_t len, const struct nb_guest_mem *mem,
			const struct nb_kernel *k, struct nb_err *err)
{
	uint64_t sects = k->hdr.setup_sects ? k->hdr.setup_sects : SETUP_SECTS_DEFAULT;
	uint64_t code_off = (sects + 1) * SETUP_SECT_SIZE, code_size = len - code_off;
	uint8_t *dst = nb_gpa_ptr(mem, k->load_start, code_size);

	if (!dst)
		return nb_err_set(err, 0, "no guest RAM to load the bzImage into");
	memcpy(dst, buf + code_off, code_size);
	return 0;
}

int nb_kernel_check(const uint8_t *buf, size_t len, const struct nb_guest_mem *mem,
		    struct nb_kernel *out, struct nb_err *err)
{
	memset(out, 0, sizeof(*out));
	if (is_elf(buf, len))
		return check_elf(buf, len, mem, out, err);
	if (is_bzimage(buf, len))
		return check_bzimage(buf, len, mem, out, err);
	return nb_err_set(err, 0, "not an ELF or bzImage (%zu bytes)", len);
}

int nb_kernel_load(const uint8_t *buf, size_t len, const struct nb_guest_mem *mem,
		   struct nb_kernel *out, struct nb_err *err)
{
	if (nb_kernel_check(buf, len, mem, out, err) < 0)
		return -1;
	return out->bzimage ? copy_bzimage(buf, len, mem, out, err) : copy_elf(buf, mem, err);
}

/* Does the PT_NOTE segment at [off, off+size) hold a note owned by "Linux"? */
static bool notes_name_linux(const uint8_t *buf, size_t len, uint64_t off, uint64_t size)
{
	static const char owner[] = "Linux";

	if (off > len || size > len - off)
		return false;
	for (uint64_t pos = 0; size - pos >= sizeof(Elf64_Nhdr);) {
		Elf64_Nhdr nh;
		memcpy(&nh, buf + off + pos, sizeof(nh));
		uint64_t name_len = ((uint64_t)nh.n_namesz + 3) & ~3ull;
		uint64_t desc_len = ((uint64_t)nh.n_descsz + 3) & ~3ull;
		pos += sizeof(nh);
		if (name_len > size - pos)
			return false;
		if (nh.n_namesz == sizeof(owner) &&
		    memcmp(buf + off + pos, owner, sizeof(owner)) == 0)
			return true;
		if (desc_len > size - pos - name_len)
			return false;
		pos += name_len + desc_len;
	}
	return false;
}

bool nb_kernel_is_linux(const uint8_t *buf, size_t len)
{
	struct nb_err ignored;
	Elf64_Ehdr eh;

	if (is_bzimage(buf, len))
		return true;
	if (!is_elf(buf, len) || len < sizeof(eh))
		return false;
	memcpy(&eh, buf, sizeof(eh));
	if (elf_check_ehdr(&eh, len, &ignored) < 0)
		return false;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		read_phdr(buf, &eh, i, &ph);
		if (ph.p_type == PT_NOTE && notes_name_linux(buf, len, ph.p_offset, ph.p_filesz))
			return true;
	}
	return false;
}
