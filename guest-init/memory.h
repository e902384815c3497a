/* The guest's side of memory that comes back (vmm/virtio/balloon.h). */
#ifndef NESTBOX_GUEST_MEMORY_H
#define NESTBOX_GUEST_MEMORY_H

/* Free page reporting in 2 MiB blocks (order 9, the host's transparent
 * huge page) instead of the kernel's pageblock order (4 MiB here): more of
 * what the workload frees is reported, and from VMs with as little as
 * 64 MiB free (the kernel reports only when 32 blocks more than its low
 * watermark are free). Nothing happens without the balloon driver. */
void nb_memory_tune(void);

#endif
