/* Little-endian fields of the guest<->host messages (include/nestbox/abi.h),
 * byte by byte: no alignment assumed. Host and guest. */
#ifndef NESTBOX_COMMON_LE_H
#define NESTBOX_COMMON_LE_H

#include <stdint.h>

static inline void nb_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline uint16_t nb_get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline void nb_put_le32(uint8_t *p, uint32_t v)
{
	nb_put_le16(p, (uint16_t)v);
	nb_put_le16(p + 2, (uint16_t)(v >> 16));
}

static inline uint32_t nb_get_le32(const uint8_t *p)
{
	return nb_get_le16(p) | (uint32_t)nb_get_le16(p + 2) << 16;
}

static inline void nb_put_le64(uint8_t *p, uint64_t v)
{
	nb_put_le32(p, (uint32_t)v);
	nb_put_le32(p + 4, (uint32_t)(v >> 32));
}

static inline uint64_t nb_get_le64(const uint8_t *p)
{
	return nb_get_le32(p) | (uint64_t)nb_get_le32(p + 4) << 32;
}

#endif
