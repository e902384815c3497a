/* nestbox: run one workload in one KVM microVM. */
#include "vmm/cli/cli.h"

int main(int argc, char **argv)
{
	return nb_cli_main(argc, argv);
}
