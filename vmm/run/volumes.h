/* A run's volumes (struct nb_run_volume, parsed by vmm/cli/volume_opts.c)
 * as their devices need them. Host only. */
#ifndef NESTBOX_VMM_RUN_VOLUMES_H
#define NESTBOX_VMM_RUN_VOLUMES_H

#include "vmm/run/run.h"
#include "vmm/virtio/ratelimit.h"

/* A volume's --device-* limits as token-bucket configs for its disk. */
void nb_volume_limits(const struct nb_run_volume *v, struct nb_ratelimit_config *read,
		      struct nb_ratelimit_config *write);

#endif
