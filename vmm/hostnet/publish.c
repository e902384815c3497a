#include "vmm/hostnet/publish.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "common/parse.h"
#include "vmm/hostnet/netdef.h"

/* "P" or "P-Q", 1 <= P <= Q <= 65535, the whole of text. */
static int parse_range(const char *text, uint16_t *first, uint16_t *count)
{
	char buf[16];
	const char *dash = strchr(text, '-');
	uint64_t a, b;

	if (strlen(text) >= sizeof(buf))
		return -1;
	if (!dash)
		return nb_parse_decimal(text, 1, 65535, &a) ? (*first = (uint16_t)a, *count = 1, 0)
							    : -1;
	memcpy(buf, text, (size_t)(dash - text));
	buf[dash - text] = '\0';
	if (!nb_parse_decimal(buf, 1, 65535, &a) || !nb_parse_decimal(dash + 1, 1, 65535, &b) ||
	    b < a)
		return -1;
	*first = (uint16_t)a;
	*count = (uint16_t)(b - a + 1);
	return 0;
}

int nb_publish_parse(const char *text, struct nb_publish *p, struct nb_err *err)
{
	char copy[NB_PUBLISH_TEXT + 16], *fields[3], *proto, *save = NULL;
	size_t n = 0;
	uint16_t host_count, cont_count;

	*p = (struct nb_publish){ .proto = IPPROTO_TCP };
	if (strlen(text) >= sizeof(copy) || strstr(text, "::") || text[0] == ':')
		goto bad;
	strcpy(copy, text);
	proto = strchr(copy, '/');
	if (proto) {
		*proto++ = '\0';
		if (strcmp(proto, "udp") == 0)
			p->proto = IPPROTO_UDP;
		else if (strcmp(proto, "tcp") != 0)
			return nb_err_set(err, 0, "-p %.64s: the protocol is tcp or udp", text);
	}
	if (copy[0] == '\0' || copy[strlen(copy) - 1] == ':')
		goto bad;
	for (char *f = strtok_r(copy, ":", &save); f; f = strtok_r(NULL, ":", &save)) {
		if (n == 3)
			goto bad;
		fields[n++] = f;
	}
	if (n < 2)
		return nb_err_set(err, 0,
				  "-p %.64s: give the host port too, "
				  "[HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp]",
				  text);
	if (n == 3 && nb_ipv4_parse(fields[0], true, &p->host_ip, err) < 0)
		return nb_err_wrap(err, "-p %.64s: the host address", text);
	if (parse_range(fields[n - 2], &p->host_port, &host_count) < 0 ||
	    parse_range(fields[n - 1], &p->container_port, &cont_count) < 0)
		goto bad;
	if (host_count != cont_count)
		return nb_err_set(err, 0,
				  "-p %.64s: the host and container ranges differ in length", text);
	p->count = host_count;
	return 0;
bad:
	return nb_err_set(err, 0,
			  "-p %.64s: use [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp], ports 1 to "
			  "65535 or ranges like 8080-8081:80-81",
			  text);
}

static int range_text(char *buf, size_t size, uint16_t first, uint16_t count)
{
	return count > 1 ? snprintf(buf, size, "%u-%u", first,
				    (unsigned)(first + count - 1) & 0xffffu)
			 : snprintf(buf, size, "%u", first);
}

void nb_publish_format(const struct nb_publish *p, char buf[NB_PUBLISH_TEXT])
{
	char ip[NB_IPV4_TEXT], h[24], c[24];

	nb_ipv4_format(p->host_ip, ip);
	range_text(h, sizeof(h), p->host_port, p->count);
	range_text(c, sizeof(c), p->container_port, p->count);
	snprintf(buf, NB_PUBLISH_TEXT, "%s:%s:%s/%s", ip, h, c,
		 p->proto == IPPROTO_UDP ? "udp" : "tcp");
}

int nb_publish_clash(const struct nb_publish *a, const struct nb_publish *b)
{
	return a->proto == b->proto && (!a->host_ip || !b->host_ip || a->host_ip == b->host_ip) &&
	       a->host_port < b->host_port + b->count && b->host_port < a->host_port + a->count;
}
