/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Extent table: the little-endian, fixed-layout record of one task's pinned
 * pages that travels to the next kernel in preserved memory.
 *
 *   0  le32 magic (KHUP_TABLE_MAGIC)     4 le16 version   6 le16 hdr_size
 *   8  le16 ext_size  10 u8 page_shift  11 u8 reserved   12 le32 pid
 *  16  le64 nr_extents                  24 le64 nr_pages
 *  32  le64 bitmap_off                  40 le64 total_size
 *  48  le32 table_crc (header with both crc fields zero + extents)
 *  52  le32 bitmap_crc                  56 le64 reserved
 *  64  extents: le64 va, le64 pfn, le32 nr, u8 order, u8 flags, le16 0
 *      bitmap: bit i (byte i / 8, bit i % 8) set = page i still held
 *
 * Block list: the runs of sealed order-0 folios the module preserved with
 * KHO as aligned higher-order blocks at the kexec (blocks.c), so that the
 * next kernel restores a block with one kho_restore_pages() instead of a
 * kho_restore_folio() per page (and its boot reserves it in one memblock
 * call instead of one per page). In preserved vmalloc pages named by the
 * node's "khup,blocks" descriptor:
 *
 *   0  le32 magic ("KHUB")             4 le32 crc (of the entries)
 *   8  le64 nr
 *  16  nr entries, le64 each: pfn << KHUP_BLOCK_ORDER_BITS | order
 *
 * in increasing pfn order, never overlapping, each block aligned to its
 * order.
 *
 * Like fdt.c this compiles in the kernel and in the host unit tests.
 */
#ifndef KHUP_FORMAT_H
#define KHUP_FORMAT_H

#include <linux/string.h>
#include <linux/types.h>

#define KHUP_TBL_HDR_SIZE	64
#define KHUP_TBL_EXT_SIZE	24
#define KHUP_TBL_MAX_ORDER	20
#define KHUP_EXT_F_ZERO		0x01	/* == KHUP_EXTENT_ZERO */
#define KHUP_BLOCKS_HDR_SIZE	16
#define KHUP_BLOCK_SIZE		8
#define KHUP_BLOCK_ORDER_BITS	6

/* In-memory extent; @first is the page index of the extent's first page. */
struct khup_ext {
	u64 va;
	u64 pfn;
	u64 first;
	u32 nr;
	u8 order;
	u8 flags;
};

struct khup_tbl_info {
	u32 pid;
	u32 page_shift;
	u64 nr_extents;
	u64 nr_pages;
	u64 bitmap_off;
	u64 total_size;
};

u32 khup_crc32(u32 crc, const void *buf, size_t len);
int khup_tbl_size(u64 nr_extents, u64 nr_pages, u64 *size);
void khup_tbl_encode(void *buf, u32 pid, u32 page_shift,
		     const struct khup_ext *ext, u64 nr_extents, u64 nr_pages,
		     const u8 *present);
int khup_tbl_decode(const void *buf, u64 size, u32 page_shift,
		    struct khup_tbl_info *info, const char **why);
void khup_tbl_get_ext(const void *buf, u64 i, struct khup_ext *e);
const u8 *khup_tbl_bitmap(const void *buf);
void khup_tbl_clear_page(void *buf, u64 page);
void khup_tbl_update_bitmap_crc(void *buf);

/* Bytes of a block list of @nr blocks; -EOVERFLOW if they do not fit. */
int khup_blocks_size(u64 nr, u64 *size);
void khup_blocks_put(void *buf, u64 i, u64 pfn, u32 order);
void khup_blocks_get(const void *buf, u64 i, u64 *pfn, u32 *order);
/* Writes the header of a list whose entries [0, @nr) are written. */
void khup_blocks_finish(void *buf, u64 nr);
int khup_blocks_decode(const void *buf, u64 size, u32 max_order, u64 *nr,
		       const char **why);
u32 khup_block_order(u64 pfn, u64 end, u32 max_order);

static inline bool khup_bit_test(const u8 *map, u64 i)
{
	return map[i / 8] & (1U << (i % 8));
}

static inline void khup_bit_set(u8 *map, u64 i)
{
	map[i / 8] |= 1U << (i % 8);
}

static inline void khup_bit_clear(u8 *map, u64 i)
{
	map[i / 8] &= ~(1U << (i % 8));
}

/*
 * Bits [first, first + n): set them, or count the set ones, a byte at a
 * time where the range covers whole bytes (a THP's 512 pages are 64
 * bytes, not 512 steps), eight bytes at a time where they are all set.
 */
static inline void khup_bits_set(u8 *map, u64 first, u64 n)
{
	for (; n && first % 8; n--)
		khup_bit_set(map, first++);
	if (n >= 8) {
		memset(map + first / 8, 0xff, n / 8);
		first += n / 8 * 8;
		n %= 8;
	}
	for (; n; n--)
		khup_bit_set(map, first++);
}

/* hweight8() without <linux/bitops.h>, so the host tests build it too. */
static inline unsigned int khup_weight8(u8 b)
{
	b = b - ((b >> 1) & 0x55);
	b = (b & 0x33) + ((b >> 2) & 0x33);
	return (b + (b >> 4)) & 0x0f;
}

static inline u64 khup_bits_count(const u8 *map, u64 first, u64 n)
{
	u64 c = 0;

	for (; n && first % 8; n--)
		c += khup_bit_test(map, first++);
	/* Eight bytes at a time while all are set: a held THP's common case. */
	for (; n >= 64; n -= 64, first += 64) {
		u64 w;

		memcpy(&w, map + first / 8, sizeof(w));
		if (w != ~0ULL)
			break;
		c += 64;
	}
	for (; n >= 8; n -= 8, first += 8) {
		u8 b = map[first / 8];

		c += b == 0xff ? 8 : khup_weight8(b);
	}
	for (; n; n--)
		c += khup_bit_test(map, first++);
	return c;
}

#endif /* KHUP_FORMAT_H */
