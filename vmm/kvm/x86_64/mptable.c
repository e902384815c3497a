/* MultiProcessor Specification 1.4 tables. Linux UAPI has no MP table
 * structs, so the layouts are defined here from the spec, chapter 4.
 *
 * Placement: the floating pointer at NB_EBDA_GPA (Linux scans the last KiB
 * of base memory, 639 KiB..640 KiB, which is where NB_EBDA_GPA is), the
 * configuration table right after it; all of it below 0xA0000.
 *
 * Interrupt routing: bus IRQ i goes to IOAPIC pin i for every pin, with no
 * IRQ0 -> pin 2 override. KVM's default GSI routing (no KVM_SET_GSI_ROUTING)
 * wires GSI i to IOAPIC pin i, the in-kernel PIT included, so identity is
 * the truth; an override would only be right with QEMU-style routing.
 * Pins 16..23 are listed too (Firecracker does the same) so that devices
 * announced on the command line may use any IOAPIC pin. */
#include "vmm/kvm/x86_64/mptable.h"

#include <string.h>

#include "vmm/kvm/x86_64/layout.h"

#define MP_SPEC_REV 4         /* 1.4 */
#define MP_LAPIC_VERSION 0x14 /* KVM's in-kernel LAPIC */
#define MP_IOAPIC_VERSION 0x11
#define MP_EBDA_END 0xa0000ull
#define MP_CPU_SIGNATURE 0x600u /* family 6, model 0, stepping 0 */
#define MP_CPU_FEATURES 0x201u  /* CPUID.1:EDX FPU | APIC */
#define MP_ISA_BUS_ID 0
#define MP_ALL_LAPICS 0xff
#define MP_IRQS NB_IOAPIC_PINS

/* 4.1 MP Floating Pointer Structure */
struct mpf_intel {
	char signature[4]; /* "_MP_" */
	uint32_t physptr;  /* configuration table address */
	uint8_t length;    /* in 16-byte units: 1 */
	uint8_t specification;
	uint8_t checksum;
	uint8_t feature1; /* 0: a configuration table is present */
	uint8_t feature2; /* bit 7 IMCR: 0, virtual wire mode */
	uint8_t feature3[3];
} __attribute__((packed));

/* 4.2 MP Configuration Table Header */
struct mpc_table {
	char signature[4]; /* "PCMP" */
	uint16_t length;   /* base table: header and entries */
	uint8_t spec;
	uint8_t checksum;
	char oem[8];
	char productid[12];
	uint32_t oemptr;
	uint16_t oemsize;
	uint16_t count; /* entries */
	uint32_t lapic; /* local APIC address */
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

enum { MP_PROCESSOR = 0, MP_BUS = 1, MP_IOAPIC = 2, MP_INTSRC = 3, MP_LINTSRC = 4 };

/* 4.3.1 Processor Entries */
struct mpc_cpu {
	uint8_t type;
	uint8_t apicid;
	uint8_t apicver;
	uint8_t cpuflag;     /* bit 0 EN, bit 1 BP */
	uint32_t cpufeature; /* CPU signature: family, model, stepping */
	uint32_t featureflag;
	uint32_t reserved[2];
} __attribute__((packed));

#define MPC_CPU_ENABLED 1
#define MPC_CPU_BSP 2

/* 4.3.2 Bus Entries */
struct mpc_bus {
	uint8_t type;
	uint8_t busid;
	char bustype[6];
} __attribute__((packed));

/* 4.3.3 I/O APIC Entries */
struct mpc_ioapic {
	uint8_t type;
	uint8_t apicid;
	uint8_t apicver;
	uint8_t flags; /* bit 0 EN */
	uint32_t apicaddr;
} __attribute__((packed));

/* 4.3.4 I/O Interrupt Assignment Entries and 4.3.5 Local Interrupt
 * Assignment Entries share this layout. */
struct mpc_intsrc {
	uint8_t type;
	uint8_t irqtype;  /* 0 INT, 1 NMI, 2 SMI, 3 ExtINT */
	uint16_t irqflag; /* 0: polarity and trigger conform to the bus */
	uint8_t srcbus;
	uint8_t srcbusirq;
	uint8_t dstapic;
	uint8_t dstirq; /* IOAPIC INTIN# or LAPIC LINTIN# */
} __attribute__((packed));

enum { MP_IRQ_INT = 0, MP_IRQ_NMI = 1, MP_IRQ_EXTINT = 3 };

_Static_assert(sizeof(struct mpf_intel) == 16, "MP 1.4 4.1: floating pointer is 16 bytes");
_Static_assert(sizeof(struct mpc_table) == 44, "MP 1.4 4.2: table header is 44 bytes");
_Static_assert(sizeof(struct mpc_cpu) == 20, "MP 1.4 4.3.1: processor entry is 20 bytes");
_Static_assert(sizeof(struct mpc_bus) == 8, "MP 1.4 4.3.2: bus entry is 8 bytes");
_Static_assert(sizeof(struct mpc_ioapic) == 8, "MP 1.4 4.3.3: I/O APIC entry is 8 bytes");
_Static_assert(sizeof(struct mpc_intsrc) == 8, "MP 1.4 4.3.4/5: interrupt entry is 8 bytes");

#define MP_TABLE_SIZE(ncpus)                                                                      \
	(sizeof(struct mpf_intel) + sizeof(struct mpc_table) + (ncpus) * sizeof(struct mpc_cpu) + \
	 sizeof(struct mpc_bus) + sizeof(struct mpc_ioapic) +                                     \
	 (MP_IRQS + 2) * sizeof(struct mpc_intsrc))
#define MP_TABLE_MAX MP_TABLE_SIZE(NB_MAX_VCPUS)

_Static_assert(NB_EBDA_GPA + MP_TABLE_MAX <= MP_EBDA_END, "MP table for NB_MAX_VCPUS must fit "
							  "between NB_EBDA_GPA and 0xA0000");

uint8_t nb_mptable_sum(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += p[i];
	return sum;
}

/* Appends entries to a buffer that MP_TABLE_MAX bounds. */
struct mp_writer {
	uint8_t *p;
	uint16_t count;
};

static void put(struct mp_writer *w, const void *entry, size_t len)
{
	memcpy(w->p, entry, len);
	w->p += len;
	w->count++;
}

static void put_cpus(struct mp_writer *w, unsigned ncpus)
{
	for (unsigned i = 0; i < ncpus; i++) {
		struct mpc_cpu cpu = {
			.type = MP_PROCESSOR,
			.apicid = (uint8_t)i,
			.apicver = MP_LAPIC_VERSION,
			.cpuflag = MPC_CPU_ENABLED | (i == 0 ? MPC_CPU_BSP : 0),
			.cpufeature = MP_CPU_SIGNATURE,
			.featureflag = MP_CPU_FEATURES,
		};
		put(w, &cpu, sizeof(cpu));
	}
}

static void put_bus_and_ioapic(struct mp_writer *w, unsigned ncpus)
{
	struct mpc_bus bus = { .type = MP_BUS, .busid = MP_ISA_BUS_ID };
	struct mpc_ioapic ioapic = {
		.type = MP_IOAPIC,
		.apicid = (uint8_t)ncpus, /* first ID after the CPUs' */
		.apicver = MP_IOAPIC_VERSION,
		.flags = 1,
		.apicaddr = (uint32_t)NB_IOAPIC_GPA,
	};

	memcpy(bus.bustype, "ISA   ", sizeof(bus.bustype));
	put(w, &bus, sizeof(bus));
	put(w, &ioapic, sizeof(ioapic));
}

static void put_interrupts(struct mp_writer *w, unsigned ioapic_id)
{
	for (unsigned irq = 0; irq < MP_IRQS; irq++) {
		struct mpc_intsrc src = {
			.type = MP_INTSRC,
			.irqtype = MP_IRQ_INT,
			.srcbus = MP_ISA_BUS_ID,
			.srcbusirq = (uint8_t)irq,
			.dstapic = (uint8_t)ioapic_id,
			.dstirq = (uint8_t)irq,
		};
		put(w, &src, sizeof(src));
	}
	/* The PIC's INTR on LINT0 (virtual wire), NMI on LINT1: on every LAPIC,
	 * as in the spec's default configurations (5.1). */
	struct mpc_intsrc lint0 = { .type = MP_LINTSRC,
				    .irqtype = MP_IRQ_EXTINT,
				    .srcbus = MP_ISA_BUS_ID,
				    .dstapic = MP_ALL_LAPICS,
				    .dstirq = 0 };
	struct mpc_intsrc lint1 = { .type = MP_LINTSRC,
				    .irqtype = MP_IRQ_NMI,
				    .srcbus = MP_ISA_BUS_ID,
				    .dstapic = MP_ALL_LAPICS,
				    .dstirq = 1 };
	put(w, &lint0, sizeof(lint0));
	put(w, &lint1, sizeof(lint1));
}

int nb_mptable_write(const struct nb_guest_mem *mem, unsigned ncpus, struct nb_err *err)
{
	uint8_t buf[MP_TABLE_MAX] = { 0 };
	struct mpf_intel *mpf = (struct mpf_intel *)buf;
	struct mpc_table *mpc = (struct mpc_table *)(mpf + 1);
	struct mp_writer w = { .p = (uint8_t *)(mpc + 1) };

	if (ncpus == 0 || ncpus > NB_MAX_VCPUS)
		return nb_err_set(err, 0, "MP table: %u vCPUs, must be 1..%u", ncpus, NB_MAX_VCPUS);
	size_t size = MP_TABLE_SIZE(ncpus);
	if (NB_EBDA_GPA + size > MP_EBDA_END) /* kept for when the constants change */
		return nb_err_set(err, 0, "MP table of %zu bytes overruns the EBDA", size);

	put_cpus(&w, ncpus);
	put_bus_and_ioapic(&w, ncpus);
	put_interrupts(&w, ncpus);

	memcpy(mpc->signature, "PCMP", 4);
	mpc->length = (uint16_t)(w.p - (uint8_t *)mpc);
	mpc->spec = MP_SPEC_REV;
	memcpy(mpc->oem, "NESTBOX ", sizeof(mpc->oem));
	memcpy(mpc->productid, "MICROVM     ", sizeof(mpc->productid));
	mpc->count = w.count;
	mpc->lapic = (uint32_t)NB_LAPIC_GPA;
	mpc->checksum = (uint8_t)-nb_mptable_sum(mpc, mpc->length);

	memcpy(mpf->signature, "_MP_", 4);
	mpf->physptr = (uint32_t)(NB_EBDA_GPA + sizeof(*mpf));
	mpf->length = 1;
	mpf->specification = MP_SPEC_REV;
	mpf->checksum = (uint8_t)-nb_mptable_sum(mpf, sizeof(*mpf));

	if (nb_mem_write(mem, NB_EBDA_GPA, buf, size, err) < 0)
		return nb_err_wrap(err, "writing the MP table");
	return 0;
}
