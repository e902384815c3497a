/* `nestbox network create|ls|inspect|rm`: nestbox networks
 * (vmm/hostnet/hostnet.h), as `docker network` has them. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "nestbox/abi.h"
#include "vmm/cli/commands.h"
#include "vmm/cli/print.h"
#include "vmm/hostnet/hostnet.h"

static const char usage_text[] =
	"Usage: nestbox network COMMAND\n"
	"\n"
	"Manage nestbox networks: a Linux bridge per network, made on first use, one tap per\n"
	"VM, addresses leased from the subnet, outbound NAT and published ports (-p) by\n"
	"nftables (table inet nestbox). Networks are isolated from each other. Needs root.\n"
	"\n"
	"Commands:\n"
	"  create [--subnet CIDR] [--gateway IP] NAME  define a network (default subnet: the\n"
	"                                  first free 10.88.N.0/24; gateway: its first address)\n"
	"  ls [--format json] [-q]         list networks (alias: list)\n"
	"  inspect NAME...                 networks and their VMs as JSON\n"
	"  rm NAME...                      remove networks (refused while a VM uses one)\n"
	"\n"
	"'bridge' is the default network (nestbox run -p without --network), defined on\n"
	"first use as 10.88.0.0/24 unless created before with a subnet of your choice.\n";

static int usage(const char *sub, bool help)
{
	(void)sub;
	fputs(usage_text, help ? stdout : stderr);
	return help ? 0 : NB_STATUS_ERROR;
}

static bool is_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

static int cmd_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "subnet", required_argument, NULL, 's' },
		{ "gateway", required_argument, NULL, 'g' },
		{ "driver", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *subnet = NULL, *gateway = NULL;
	struct nb_netdef def;
	struct nb_err err;
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		if (opt == 's')
			subnet = optarg;
		else if (opt == 'g')
			gateway = optarg;
		else if (opt == 'd' && strcmp(optarg, "bridge") != 0)
			return nb_cli_usage_error("network create", "the only --driver is bridge");
		else if (opt != 'd')
			return nb_cli_usage_error("network create", "bad or incomplete option");
	}
	if (optind != argc - 1)
		return nb_cli_usage_error("network create", "give one NAME");
	if (nb_hostnet_create(argv[optind], subnet, gateway, &def, &err) < 0)
		return nb_cli_error("nestbox network create", &err);
	printf("%s\n", def.name);
	return 0;
}

/* A VM of the network as inspect shows it: its lease without the
 * process start time (the store's liveness check). */
static json_object *vm_json(const struct nb_lease *l)
{
	json_object *o = nb_lease_json(l);

	json_object_object_del(o, "start");
	return o;
}

static json_object *info_json(const struct nb_hostnet_info *info, bool with_vms)
{
	char subnet[NB_IPV4_TEXT + 3], a[NB_IPV4_TEXT];
	json_object *o = json_object_new_object();

	nb_ipv4_format(info->def.subnet, a);
	snprintf(subnet, sizeof(subnet), "%s/%u", a, info->def.prefix);
	json_object_object_add(o, "name", json_object_new_string(info->def.name));
	json_object_object_add(o, "driver", json_object_new_string("bridge"));
	json_object_object_add(o, "subnet", json_object_new_string(subnet));
	nb_ipv4_format(info->def.gateway, a);
	json_object_object_add(o, "gateway", json_object_new_string(a));
	json_object_object_add(o, "bridge", json_object_new_string(info->def.bridge));
	json_object_object_add(o, "bridge_up", json_object_new_boolean(info->bridge_up));
	if (with_vms) {
		json_object *vms = json_object_new_array();

		for (size_t i = 0; i < info->leases.n; i++)
			json_object_array_add(vms, vm_json(&info->leases.v[i]));
		json_object_object_add(o, "vms", vms);
	} else {
		json_object_object_add(o, "vms", json_object_new_int((int)info->leases.n));
	}
	return o;
}

static int cmd_ls(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	struct nb_hostnet_info *infos;
	size_t n;
	bool json = false, quiet = false;
	struct nb_err err;
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "qf:", opts, NULL)) != -1) {
		if (opt == 'q')
			quiet = true;
		else if (opt == 'f' && strcmp(optarg, "json") == 0)
			json = true;
		else if (opt == 'f')
			return nb_cli_usage_error("network ls", "the only --format is json");
		else
			return nb_cli_usage_error("network ls", "bad or incomplete option");
	}
	if (optind != argc)
		return nb_cli_usage_error("network ls", "no arguments expected");
	if (nb_hostnet_list(&infos, &n, &err) < 0)
		return nb_cli_error("nestbox network ls", &err);
	if (!json && !quiet)
		printf("%-20s %-18s %-15s %-12s %s\n", "NAME", "SUBNET", "GATEWAY", "BRIDGE",
		       "VMS");
	for (size_t i = 0; i < n; i++) {
		const struct nb_hostnet_info *in = &infos[i];
		char a[NB_IPV4_TEXT], subnet[NB_IPV4_TEXT + 3], gw[NB_IPV4_TEXT];

		if (quiet) {
			printf("%s\n", in->def.name);
		} else if (json) {
			json_object *o = info_json(in, false);

			printf("%s\n",
			       json_object_to_json_string_ext(
				       o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
			json_object_put(o);
		} else {
			nb_ipv4_format(in->def.subnet, a);
			snprintf(subnet, sizeof(subnet), "%s/%u", a, in->def.prefix);
			nb_ipv4_format(in->def.gateway, gw);
			printf("%-20s %-18s %-15s %-12s %zu\n", in->def.name, subnet, gw,
			       in->def.bridge, in->leases.n);
		}
		nb_hostnet_info_free(&infos[i]);
	}
	free(infos);
	return 0;
}

static int cmd_inspect(int argc, char **argv)
{
	json_object *arr;
	struct nb_err err;
	int status = 0;

	if (argc < 2 || argv[1][0] == '-')
		return nb_cli_usage_error("network inspect", "give NAME...");
	arr = json_object_new_array();
	for (int i = 1; i < argc; i++) {
		struct nb_hostnet_info info;

		if (nb_hostnet_inspect(argv[i], &info, &err) < 0) {
			status = nb_cli_error("nestbox network inspect", &err);
			continue;
		}
		json_object_array_add(arr, info_json(&info, true));
		nb_hostnet_info_free(&info);
	}
	printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
								   JSON_C_TO_STRING_SPACED |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(arr);
	return status;
}

static int cmd_rm(int argc, char **argv)
{
	struct nb_err err;
	int status = 0;

	if (argc < 2 || argv[1][0] == '-')
		return nb_cli_usage_error("network rm", "give NAME...");
	for (int i = 1; i < argc; i++) {
		if (nb_hostnet_remove(argv[i], &err) < 0)
			status = nb_cli_error("nestbox network rm", &err);
		else
			printf("%s\n", argv[i]);
	}
	return status;
}

int nb_cmd_network(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} subs[] = { { "create", cmd_create },   { "ls", cmd_ls }, { "list", cmd_ls },
		     { "inspect", cmd_inspect }, { "rm", cmd_rm }, { "remove", cmd_rm } };

	if (argc < 2)
		return usage(NULL, false);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0)
		return usage(NULL, true);
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return is_help(argc - 1, argv + 1) ? usage(argv[1], true)
							   : subs[i].fn(argc - 1, argv + 1);
	return nb_cli_usage_error("network", "unknown network command");
}
