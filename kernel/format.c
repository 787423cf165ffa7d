// SPDX-License-Identifier: GPL-2.0-only
/*
 * Extent table and block list encoding and validation, see format.h.
 *
 * Explicit byte-wise little-endian accessors: the next kernel may be a
 * different version (or, in principle, build) and must read exactly these
 * bytes. Nothing from a table is used before khup_tbl_decode() has checked
 * magic, version, every size, the extents' sanity and both CRCs; nothing
 * from a block list before khup_blocks_decode() has.
 */
#ifdef __KERNEL__
#include <linux/crc32.h>
#endif
#include <linux/errno.h>
#include <linux/string.h>
#include <linux/types.h>

#include "format.h"

#define KHUP_TABLE_MAGIC_LE	0x5855484bU	/* "KHUX" */
#define KHUP_TABLE_VERSION_1	1
#define KHUP_BLOCKS_MAGIC_LE	0x4255484bU	/* "KHUB" */

#define T_MAGIC		0
#define T_VERSION	4
#define T_HDR_SIZE	6
#define T_EXT_SIZE	8
#define T_PAGE_SHIFT	10
#define T_PID		12
#define T_NR_EXTENTS	16
#define T_NR_PAGES	24
#define T_BITMAP_OFF	32
#define T_TOTAL_SIZE	40
#define T_TABLE_CRC	48
#define T_BITMAP_CRC	52

static void put_le(u8 *p, u64 v, int bytes)
{
	int i;

	for (i = 0; i < bytes; i++)
		p[i] = v >> (8 * i);
}

static u64 get_le(const u8 *p, int bytes)
{
	u64 v = 0;
	int i;

	for (i = 0; i < bytes; i++)
		v |= (u64)p[i] << (8 * i);
	return v;
}

/*
 * CRC-32 (IEEE 802.3, reflected, as zlib's crc32()): crc = 0 to start.
 * The kernel's crc32_le() is the same polynomial without the inversions
 * and runs at memory speed (bitmaps of large images are megabytes); the
 * host unit tests, which check the result against zlib, use the bitwise
 * form.
 */
u32 khup_crc32(u32 crc, const void *buf, size_t len)
{
#ifdef __KERNEL__
	return ~crc32_le(~crc, buf, len);
#else
	const u8 *p = buf;
	int k;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320U & -(crc & 1));
	}
	return ~crc;
#endif
}

/* Table size for the given counts; -EOVERFLOW if it does not fit in u64. */
int khup_tbl_size(u64 nr_extents, u64 nr_pages, u64 *size)
{
	u64 ext_bytes, map_bytes;

	if (nr_extents > (U64_MAX / 2) / KHUP_TBL_EXT_SIZE ||
	    nr_pages > U64_MAX / 4)
		return -EOVERFLOW;
	ext_bytes = nr_extents * KHUP_TBL_EXT_SIZE;
	map_bytes = ((nr_pages + 63) / 64) * 8;
	*size = KHUP_TBL_HDR_SIZE + ext_bytes + map_bytes;
	return 0;
}

static u32 table_crc(const u8 *b, u64 nr_extents)
{
	u8 h[KHUP_TBL_HDR_SIZE];
	u32 crc;

	memcpy(h, b, sizeof(h));
	put_le(h + T_TABLE_CRC, 0, 4);
	put_le(h + T_BITMAP_CRC, 0, 4);
	crc = khup_crc32(0, h, sizeof(h));
	return khup_crc32(crc, b + KHUP_TBL_HDR_SIZE,
			  nr_extents * KHUP_TBL_EXT_SIZE);
}

/*
 * Writes a complete table into @buf, which must be khup_tbl_size() bytes.
 * @present may be NULL (every page held).
 */
void khup_tbl_encode(void *buf, u32 pid, u32 page_shift,
		     const struct khup_ext *ext, u64 nr_extents, u64 nr_pages,
		     const u8 *present)
{
	u8 *b = buf;
	u64 size = 0, map_off, i;

	khup_tbl_size(nr_extents, nr_pages, &size);
	map_off = KHUP_TBL_HDR_SIZE + nr_extents * KHUP_TBL_EXT_SIZE;
	memset(b, 0, size);
	put_le(b + T_MAGIC, KHUP_TABLE_MAGIC_LE, 4);
	put_le(b + T_VERSION, KHUP_TABLE_VERSION_1, 2);
	put_le(b + T_HDR_SIZE, KHUP_TBL_HDR_SIZE, 2);
	put_le(b + T_EXT_SIZE, KHUP_TBL_EXT_SIZE, 2);
	b[T_PAGE_SHIFT] = page_shift;
	put_le(b + T_PID, pid, 4);
	put_le(b + T_NR_EXTENTS, nr_extents, 8);
	put_le(b + T_NR_PAGES, nr_pages, 8);
	put_le(b + T_BITMAP_OFF, map_off, 8);
	put_le(b + T_TOTAL_SIZE, size, 8);

	for (i = 0; i < nr_extents; i++) {
		u8 *e = b + KHUP_TBL_HDR_SIZE + i * KHUP_TBL_EXT_SIZE;

		put_le(e, ext[i].va, 8);
		put_le(e + 8, ext[i].pfn, 8);
		put_le(e + 16, ext[i].nr, 4);
		e[20] = ext[i].order;
		e[21] = ext[i].flags;
	}
	if (present) {
		memcpy(b + map_off, present, (nr_pages + 7) / 8);
	} else {
		for (i = 0; i < nr_pages; i++)
			khup_bit_set(b + map_off, i);
	}
	put_le(b + T_TABLE_CRC, table_crc(b, nr_extents), 4);
	khup_tbl_update_bitmap_crc(b);
}

void khup_tbl_get_ext(const void *buf, u64 i, struct khup_ext *e)
{
	const u8 *p = (const u8 *)buf + KHUP_TBL_HDR_SIZE +
		      i * KHUP_TBL_EXT_SIZE;

	e->va = get_le(p, 8);
	e->pfn = get_le(p + 8, 8);
	e->nr = get_le(p + 16, 4);
	e->order = p[20];
	e->flags = p[21];
}

const u8 *khup_tbl_bitmap(const void *buf)
{
	return (const u8 *)buf + get_le((const u8 *)buf + T_BITMAP_OFF, 8);
}

void khup_tbl_clear_page(void *buf, u64 page)
{
	khup_bit_clear((u8 *)buf + get_le((u8 *)buf + T_BITMAP_OFF, 8), page);
}

void khup_tbl_update_bitmap_crc(void *buf)
{
	u8 *b = buf;
	u64 off = get_le(b + T_BITMAP_OFF, 8);
	u64 size = get_le(b + T_TOTAL_SIZE, 8);

	put_le(b + T_BITMAP_CRC, khup_crc32(0, b + off, size - off), 4);
}

/*
 * Checks, in order: header fields, the sizes implied by the counts, the
 * table CRC, the bitmap CRC, then every extent (flags, order, alignment,
 * overflow, page total). Returns what is wrong, or NULL.
 */
static const char *tbl_problem(const void *buf, u64 size, u32 page_shift,
			       struct khup_tbl_info *info)
{
	const u8 *b = buf;
	u64 need, i, pages = 0;

	if (size < KHUP_TBL_HDR_SIZE)
		return "table smaller than its header";
	if (get_le(b + T_MAGIC, 4) != KHUP_TABLE_MAGIC_LE)
		return "bad table magic";
	if (get_le(b + T_VERSION, 2) != KHUP_TABLE_VERSION_1)
		return "unknown table version";
	if (get_le(b + T_HDR_SIZE, 2) != KHUP_TBL_HDR_SIZE ||
	    get_le(b + T_EXT_SIZE, 2) != KHUP_TBL_EXT_SIZE)
		return "unexpected header or extent size";
	if (b[T_PAGE_SHIFT] != page_shift)
		return "page size differs from this kernel's";
	if (b[11] || get_le(b + 56, 8))
		return "reserved header bytes not zero";
	info->pid = get_le(b + T_PID, 4);
	info->page_shift = page_shift;
	info->nr_extents = get_le(b + T_NR_EXTENTS, 8);
	info->nr_pages = get_le(b + T_NR_PAGES, 8);
	info->bitmap_off = get_le(b + T_BITMAP_OFF, 8);
	info->total_size = get_le(b + T_TOTAL_SIZE, 8);
	if (khup_tbl_size(info->nr_extents, info->nr_pages, &need))
		return "extent or page count overflows";
	if (info->total_size != need || need > size)
		return "table size does not match its counts";
	if (info->bitmap_off !=
	    KHUP_TBL_HDR_SIZE + info->nr_extents * KHUP_TBL_EXT_SIZE)
		return "bitmap offset does not match extent count";
	if (get_le(b + T_TABLE_CRC, 4) != table_crc(b, info->nr_extents))
		return "table checksum mismatch";
	if (get_le(b + T_BITMAP_CRC, 4) !=
	    khup_crc32(0, b + info->bitmap_off, need - info->bitmap_off))
		return "bitmap checksum mismatch";

	for (i = 0; i < info->nr_extents; i++) {
		const u8 *p = b + KHUP_TBL_HDR_SIZE + i * KHUP_TBL_EXT_SIZE;
		struct khup_ext e;
		u64 page_mask = ((u64)1 << page_shift) - 1;

		khup_tbl_get_ext(b, i, &e);
		if (get_le(p + 22, 2))
			return "reserved extent bytes not zero";
		if (!e.nr)
			return "empty extent";
		if (e.flags & ~KHUP_EXT_F_ZERO)
			return "unknown extent flags";
		if (e.order > KHUP_TBL_MAX_ORDER)
			return "extent order too large";
		if (e.va & page_mask)
			return "extent address not page aligned";
		if (e.va + ((u64)e.nr << page_shift) < e.va)
			return "extent address range overflows";
		if (e.flags & KHUP_EXT_F_ZERO) {
			if (e.pfn || e.order)
				return "zero-page extent with a pfn";
		} else if (!e.pfn || e.pfn + e.nr < e.pfn ||
			   (e.pfn + e.nr) > (U64_MAX >> page_shift)) {
			return "extent pfn range invalid";
		}
		pages += e.nr;
		if (pages > info->nr_pages)
			return "extents hold more pages than the header says";
	}
	if (pages != info->nr_pages)
		return "extents hold fewer pages than the header says";
	return NULL;
}

/*
 * Validates a table of @size bytes written by a previous kernel. On error
 * *@why names exactly what is wrong.
 */
int khup_tbl_decode(const void *buf, u64 size, u32 page_shift,
		    struct khup_tbl_info *info, const char **why)
{
	*why = tbl_problem(buf, size, page_shift, info);
	return *why ? -EINVAL : 0;
}

/* ---- block list ---- */

#define B_MAGIC	0
#define B_CRC	4
#define B_NR	8

int khup_blocks_size(u64 nr, u64 *size)
{
	if (nr > (U64_MAX - KHUP_BLOCKS_HDR_SIZE) / KHUP_BLOCK_SIZE)
		return -EOVERFLOW;
	*size = KHUP_BLOCKS_HDR_SIZE + nr * KHUP_BLOCK_SIZE;
	return 0;
}

void khup_blocks_put(void *buf, u64 i, u64 pfn, u32 order)
{
	put_le((u8 *)buf + KHUP_BLOCKS_HDR_SIZE + i * KHUP_BLOCK_SIZE,
	       pfn << KHUP_BLOCK_ORDER_BITS | order, 8);
}

void khup_blocks_get(const void *buf, u64 i, u64 *pfn, u32 *order)
{
	u64 v = get_le((const u8 *)buf + KHUP_BLOCKS_HDR_SIZE +
		       i * KHUP_BLOCK_SIZE, 8);

	*pfn = v >> KHUP_BLOCK_ORDER_BITS;
	*order = v & ((1U << KHUP_BLOCK_ORDER_BITS) - 1);
}

void khup_blocks_finish(void *buf, u64 nr)
{
	u8 *b = buf;

	put_le(b + B_MAGIC, KHUP_BLOCKS_MAGIC_LE, 4);
	put_le(b + B_NR, nr, 8);
	put_le(b + B_CRC, khup_crc32(0, b + KHUP_BLOCKS_HDR_SIZE,
				     nr * KHUP_BLOCK_SIZE), 4);
}

static const char *blocks_problem(const void *buf, u64 size, u32 max_order,
				  u64 *nr)
{
	const u8 *b = buf;
	u64 i, need, pfn, end = 0;
	u32 order;

	if (size < KHUP_BLOCKS_HDR_SIZE)
		return "block list smaller than its header";
	if (get_le(b + B_MAGIC, 4) != KHUP_BLOCKS_MAGIC_LE)
		return "bad block list magic";
	*nr = get_le(b + B_NR, 8);
	if (khup_blocks_size(*nr, &need) || need > size)
		return "block count does not fit the list";
	if (get_le(b + B_CRC, 4) !=
	    khup_crc32(0, b + KHUP_BLOCKS_HDR_SIZE, *nr * KHUP_BLOCK_SIZE))
		return "block list checksum mismatch";
	for (i = 0; i < *nr; i++) {
		khup_blocks_get(b, i, &pfn, &order);
		if (!order || order > max_order)
			return "block order out of range";
		if (pfn & ((1ULL << order) - 1))
			return "block not aligned to its order";
		if (!pfn)
			return "block at pfn 0";
		if (pfn < end)
			return "blocks not in increasing pfn order";
		end = pfn + (1ULL << order);
	}
	return NULL;
}

/*
 * Validates a block list of at most @size bytes written by a previous
 * kernel: magic, count, CRC, then every entry's order (1..@max_order),
 * alignment, and order in the list. On error *@why names what is wrong.
 */
int khup_blocks_decode(const void *buf, u64 size, u32 max_order, u64 *nr,
		       const char **why)
{
	*why = blocks_problem(buf, size, max_order, nr);
	return *why ? -EINVAL : 0;
}

/*
 * The order of the largest block, at most @max_order, that starts at @pfn
 * (aligned to it) and ends at or before @end (> @pfn): a run [pfn, end)
 * is cut into blocks as kho_preserve_pages() cuts it, NUMA aside.
 */
u32 khup_block_order(u64 pfn, u64 end, u32 max_order)
{
	u32 order = 0;

	while (order < max_order && !(pfn & (1ULL << order)) &&
	       end - pfn >= 2ULL << order)
		order++;
	return order;
}
