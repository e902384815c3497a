/* The zero page: e820 map, initrd placement and the setup header the
 * 64-bit entry reads (Documentation/arch/x86/boot.rst). */
#include "vmm/kvm/x86_64/bootparams.h"

#include <asm/e820.h>
#include <string.h>

#include "vmm/kvm/x86_64/layout.h"

#define PAGE_SIZE_4K 4096ull
#define BOOT_FLAG 0xaa55u
#define SETUP_MAGIC 0x53726448u     /* "HdrS" */
#define SYNTH_VERSION 0x020fu       /* 2.15: every field we fill exists */
#define LOADER_UNDEFINED 0xffu      /* type_of_loader: "no assigned id" */
#define ELF_KERNEL_ALIGN 0x1000000u /* 16 MiB, CONFIG_PHYSICAL_ALIGN default */
#define MIB(x) ((unsigned long long)((x) >> 20))

static void e820_add(struct boot_e820_entry *tab, int *n, uint64_t addr, uint64_t size,
		     uint32_t type)
{
	tab[*n] = (struct boot_e820_entry){ .addr = addr, .size = size, .type = type };
	(*n)++;
}

int nb_e820_build(const struct nb_guest_mem *mem, struct boot_e820_entry *tab, size_t max)
{
	uint64_t low_end = nb_mem_low_end(mem);
	size_t need = 2 + (low_end > NB_HIMEM_GPA) + (mem->nregions > 1);
	int n = 0;

	if (max < need)
		return -1;
	e820_add(tab, &n, 0, NB_EBDA_GPA, E820_RAM);
	/* EBDA (MP table), VGA hole and BIOS area: never guest RAM. */
	e820_add(tab, &n, NB_EBDA_GPA, NB_HIMEM_GPA - NB_EBDA_GPA, E820_RESERVED);
	if (low_end > NB_HIMEM_GPA)
		e820_add(tab, &n, NB_HIMEM_GPA, low_end - NB_HIMEM_GPA, E820_RAM);
	if (mem->nregions > 1)
		e820_add(tab, &n, mem->regions[1].gpa, mem->regions[1].size, E820_RAM);
	return n;
}

/* The kernel's initrd ceiling (inclusive): its header's initrd_addr_max,
 * or the old default when it declares none (always so for ELF). */
static uint64_t initrd_addr_max(const struct nb_kernel *kernel)
{
	return kernel->hdr.initrd_addr_max ? kernel->hdr.initrd_addr_max : NB_INITRD_MAX_GPA;
}

int nb_initrd_place(const struct nb_guest_mem *mem, const struct nb_kernel *kernel, uint64_t size,
		    uint64_t *gpa, struct nb_err *err)
{
	uint64_t top = nb_mem_low_end(mem);
	uint64_t floor = (kernel->load_end + PAGE_SIZE_4K - 1) & ~(PAGE_SIZE_4K - 1);

	if (initrd_addr_max(kernel) + 1 < top)
		top = initrd_addr_max(kernel) + 1;
	if (size == 0)
		return nb_err_set(err, 0, "initrd is empty");
	if (floor < kernel->load_end || top < floor || size > top - floor)
		return nb_err_set(err, 0,
				  "initrd of %llu MiB does not fit between the kernel's "
				  "end (%llu MiB) and %llu MiB",
				  MIB(size + (1ull << 20) - 1), MIB(kernel->load_end), MIB(top));
	/* As high as possible: leaves the space after the kernel to the kernel
	 * (it grows into it while decompressing and for early allocations). */
	*gpa = (top - size) & ~(PAGE_SIZE_4K - 1);
	return 0;
}

static void synthesize_header(struct setup_header *hdr)
{
	memset(hdr, 0, sizeof(*hdr));
	hdr->boot_flag = BOOT_FLAG;
	hdr->header = SETUP_MAGIC;
	hdr->version = SYNTH_VERSION;
	hdr->kernel_alignment = ELF_KERNEL_ALIGN;
}

static int set_cmdline(struct boot_params *bp, const struct nb_guest_mem *mem,
		       const struct nb_kernel *kernel, const struct nb_boot_args *args,
		       struct nb_err *err)
{
	if (args->cmdline_size == 0 || args->cmdline_size > NB_CMDLINE_MAX)
		return nb_err_set(err, 0, "command line of %u bytes: must be 1..%u with the NUL",
				  args->cmdline_size, NB_CMDLINE_MAX);
	/* The kernel's cmdline_size excludes the terminating NUL. */
	if (kernel->bzimage && args->cmdline_size - 1 > kernel->hdr.cmdline_size)
		return nb_err_set(err, 0,
				  "command line of %u bytes exceeds the kernel's "
				  "limit of %u",
				  args->cmdline_size - 1, kernel->hdr.cmdline_size);
	if (!nb_gpa_ptr(mem, args->cmdline_gpa, args->cmdline_size))
		return nb_err_set(err, 0, "command line at 0x%llx is outside guest RAM",
				  (unsigned long long)args->cmdline_gpa);
	bp->hdr.cmd_line_ptr = (uint32_t)args->cmdline_gpa;
	bp->ext_cmd_line_ptr = (uint32_t)(args->cmdline_gpa >> 32);
	/* bzImage: the field is the kernel's own limit, left as read. */
	if (!kernel->bzimage)
		bp->hdr.cmdline_size = args->cmdline_size - 1;
	return 0;
}

static int set_initrd(struct boot_params *bp, const struct nb_guest_mem *mem,
		      const struct nb_boot_args *args, struct nb_err *err)
{
	if (args->initrd_size == 0)
		return 0;
	if (!nb_gpa_ptr(mem, args->initrd_gpa, args->initrd_size))
		return nb_err_set(err, 0, "initrd 0x%llx+0x%llx is outside guest RAM",
				  (unsigned long long)args->initrd_gpa,
				  (unsigned long long)args->initrd_size);
	bp->hdr.ramdisk_image = (uint32_t)args->initrd_gpa;
	bp->ext_ramdisk_image = (uint32_t)(args->initrd_gpa >> 32);
	bp->hdr.ramdisk_size = (uint32_t)args->initrd_size;
	bp->ext_ramdisk_size = (uint32_t)(args->initrd_size >> 32);
	return 0;
}

int nb_boot_params_build(struct boot_params *bp, const struct nb_guest_mem *mem,
			 const struct nb_kernel *kernel, const struct nb_boot_args *args,
			 struct nb_err *err)
{
	int n;

	memset(bp, 0, sizeof(*bp));
	if (kernel->bzimage)
		bp->hdr = kernel->hdr;
	else
		synthesize_header(&bp->hdr);
	/* Unassigned loader id; LOADED_HIGH: the protected-mode code is at
	 * or above 1 MiB. KEEP_SEGMENTS matters only to the 32-bit entry. */
	bp->hdr.type_of_loader = LOADER_UNDEFINED;
	bp->hdr.loadflags |= LOADED_HIGH;
	if (set_cmdline(bp, mem, kernel, args, err) < 0 || set_initrd(bp, mem, args, err) < 0)
		return -1;
	n = nb_e820_build(mem, bp->e820_table, E820_MAX_ENTRIES_ZEROPAGE);
	if (n < 0)
		return nb_err_set(err, 0, "e820 map does not fit the zero page");
	bp->e820_entries = (uint8_t)n;
	return 0;
}
