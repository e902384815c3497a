/* Published ports (`-p, --publish [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp]`,
 * Docker's syntax; ranges "8080-8081:80-81" of equal length). Parsing
 * only; vmm/hostnet/nft.h turns them into DNAT rules. Host only. */
#ifndef NESTBOX_VMM_HOSTNET_PUBLISH_H
#define NESTBOX_VMM_HOSTNET_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include "nestbox/err.h"

#define NB_PUBLISH_MAX 32u        /* -p options per VM */
#define NB_PUBLISH_MAX_PORTS 256u /* ports per VM, ranges counted port by port */
#define NB_PUBLISH_TEXT 72u       /* "255.255.255.255:65535-65535:65535-65535/tcp" and room */

struct nb_publish {
	uint32_t host_ip; /* host byte order; 0: every address of the host */
	uint16_t host_port, container_port;
	uint16_t count; /* ports in the range, >= 1 */
	uint8_t proto;  /* IPPROTO_TCP or IPPROTO_UDP */
};

/* One -p argument. Refused: a missing host port (Docker's random host
 * port is not offered), port 0 or > 65535, ranges of different lengths or
 * running past 65535, an unknown protocol, anything after it. */
int nb_publish_parse(const char *text, struct nb_publish *p, struct nb_err *err);

/* The canonical text of p ("0.0.0.0:8080:80/tcp", ranges as "A-B"),
 * which nb_publish_parse() reads back. */
void nb_publish_format(const struct nb_publish *p, char buf[NB_PUBLISH_TEXT]);

/* Do a and b claim a common host address, port and protocol? */
int nb_publish_clash(const struct nb_publish *a, const struct nb_publish *b);

#endif
