#include "vmm/run/volumes.h"

void nb_volume_limits(const struct nb_run_volume *v, struct nb_ratelimit_config *read,
		      struct nb_ratelimit_config *write)
{
	nb_ratelimit_config_rate(&read->bytes, v->read_bps);
	nb_ratelimit_config_rate(&read->ops, v->read_iops);
	nb_ratelimit_config_rate(&write->bytes, v->write_bps);
	nb_ratelimit_config_rate(&write->ops, v->write_iops);
}
