// SPDX-License-Identifier: GPL-2.0-only
/*
 * Minimal flattened device tree writer and reader, see fdt.h.
 *
 * Layout written: 40-byte header, an empty memory reservation map, the
 * structure block, the strings block. Every integer in the blob is big
 * endian, as the FDT specification requires; byte-wise accessors keep the
 * code independent of host endianness and alignment.
 */
#include <linux/errno.h>
#include <linux/string.h>
#include <linux/types.h>

#include "fdt.h"

#define FDT_BEGIN_NODE	1
#define FDT_END_NODE	2
#define FDT_PROP	3
#define FDT_NOP		4
#define FDT_END		9

/* Header field offsets */
#define H_MAGIC		0
#define H_TOTALSIZE	4
#define H_OFF_STRUCT	8
#define H_OFF_STRINGS	12
#define H_OFF_RSVMAP	16
#define H_VERSION	20
#define H_LAST_COMP	24
#define H_BOOT_CPUID	28
#define H_SIZE_STRINGS	32
#define H_SIZE_STRUCT	36

#define RSVMAP_OFF	KHUP_FDT_HDR_SIZE
#define STRUCT_OFF	(RSVMAP_OFF + 16)

static inline u32 align4(u32 x)
{
	return (x + 3) & ~3U;
}

static inline void put_be32(u8 *p, u32 v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static inline u32 get_be32(const u8 *p)
{
	return ((u32)p[0] << 24) | ((u32)p[1] << 16) | ((u32)p[2] << 8) | p[3];
}

static inline u32 hdr(const void *blob, u32 field)
{
	return get_be32((const u8 *)blob + field);
}

/* ---- writer ---- */

void khup_fdtw_init(struct khup_fdtw *w, void *buf, u32 cap)
{
	memset(w, 0, sizeof(*w));
	w->buf = buf;
	w->cap = cap;
	w->off = STRUCT_OFF;
	if (cap < STRUCT_OFF)
		w->err = -ENOSPC;
}

static void w_raw(struct khup_fdtw *w, const void *p, u32 len)
{
	u32 padded = align4(len);

	if (w->err)
		return;
	if (padded < len || padded > w->cap - w->off) {
		w->err = -ENOSPC;
		return;
	}
	if (len)
		memcpy(w->buf + w->off, p, len);
	memset(w->buf + w->off + len, 0, padded - len);
	w->off += padded;
}

static void w_u32(struct khup_fdtw *w, u32 v)
{
	u8 b[4];

	put_be32(b, v);
	w_raw(w, b, 4);
}

/* Returns the offset of @name in the strings block, adding it if new. */
static u32 w_string(struct khup_fdtw *w, const char *name)
{
	u32 len = strlen(name) + 1;
	u32 i = 0;

	while (i < w->strs_len) {
		if (!strcmp(w->strs + i, name))
			return i;
		i += strlen(w->strs + i) + 1;
	}
	if (len > KHUP_FDTW_STRS - w->strs_len) {
		w->err = w->err ? w->err : -ENOSPC;
		return 0;
	}
	memcpy(w->strs + w->strs_len, name, len);
	w->strs_len += len;
	return i;
}

void khup_fdtw_begin_node(struct khup_fdtw *w, const char *name)
{
	if (w->err)
		return;
	/* One root only, and a bounded depth the reader will accept. */
	if ((w->depth == 0 && w->off != STRUCT_OFF) ||
	    w->depth >= KHUP_FDT_MAX_DEPTH) {
		w->err = -EINVAL;
		return;
	}
	w_u32(w, FDT_BEGIN_NODE);
	w_raw(w, name, strlen(name) + 1);
	w->depth++;
}

void khup_fdtw_end_node(struct khup_fdtw *w)
{
	if (w->err)
		return;
	if (!w->depth) {
		w->err = -EINVAL;
		return;
	}
	w_u32(w, FDT_END_NODE);
	w->depth--;
}

void khup_fdtw_prop(struct khup_fdtw *w, const char *name, const void *val,
		    u32 len)
{
	u32 nameoff;

	if (w->err)
		return;
	if (!w->depth) {
		w->err = -EINVAL;
		return;
	}
	nameoff = w_string(w, name);
	w_u32(w, FDT_PROP);
	w_u32(w, len);
	w_u32(w, nameoff);
	w_raw(w, val, len);
}

void khup_fdtw_prop_u32(struct khup_fdtw *w, const char *name, u32 val)
{
	u8 b[4];

	put_be32(b, val);
	khup_fdtw_prop(w, name, b, sizeof(b));
}

void khup_fdtw_prop_u64(struct khup_fdtw *w, const char *name, u64 val)
{
	u8 b[8];

	put_be32(b, val >> 32);
	put_be32(b + 4, (u32)val);
	khup_fdtw_prop(w, name, b, sizeof(b));
}

void khup_fdtw_prop_str(struct khup_fdtw *w, const char *name,
			const char *val)
{
	khup_fdtw_prop(w, name, val, strlen(val) + 1);
}

/* Returns the total size of the finished blob or a negative errno. */
int khup_fdtw_finish(struct khup_fdtw *w)
{
	u32 size_struct, total;

	if (w->err)
		return w->err;
	if (w->depth || w->off == STRUCT_OFF)
		return -EINVAL;
	w_u32(w, FDT_END);
	if (w->err)
		return w->err;
	if (w->strs_len > w->cap - w->off)
		return -ENOSPC;
	size_struct = w->off - STRUCT_OFF;
	memcpy(w->buf + w->off, w->strs, w->strs_len);
	total = w->off + w->strs_len;

	memset(w->buf, 0, STRUCT_OFF);
	put_be32(w->buf + H_MAGIC, KHUP_FDT_MAGIC);
	put_be32(w->buf + H_TOTALSIZE, total);
	put_be32(w->buf + H_OFF_STRUCT, STRUCT_OFF);
	put_be32(w->buf + H_OFF_STRINGS, w->off);
	put_be32(w->buf + H_OFF_RSVMAP, RSVMAP_OFF);
	put_be32(w->buf + H_VERSION, KHUP_FDT_VERSION);
	put_be32(w->buf + H_LAST_COMP, KHUP_FDT_LAST_COMP);
	put_be32(w->buf + H_SIZE_STRINGS, w->strs_len);
	put_be32(w->buf + H_SIZE_STRUCT, size_struct);
	return total;
}

/* ---- reader ---- */

/* Is there a NUL in [p, p + max)? Returns its index or -1. */
static long find_nul(const u8 *p, u32 max)
{
	const u8 *q = memchr(p, 0, max);

	return q ? q - p : -1;
}

/*
 * Validates the header and walks the whole structure block once: tokens,
 * nesting, name termination, property lengths and name offsets. Only a
 * blob that passes may be given to the lookup functions below.
 */
int khup_fdt_check(const void *blob, size_t size)
{
	const u8 *b = blob;
	u32 total, off_st, sz_st, off_str, sz_str, off_rsv, pos, end;
	u32 depth = 0;
	bool root = false, child_seen[KHUP_FDT_MAX_DEPTH + 1] = { false };

	if (!blob || size < KHUP_FDT_HDR_SIZE)
		return -EINVAL;
	if (hdr(b, H_MAGIC) != KHUP_FDT_MAGIC)
		return -EINVAL;
	total = hdr(b, H_TOTALSIZE);
	if (total < KHUP_FDT_HDR_SIZE || total > size)
		return -EINVAL;
	if (hdr(b, H_VERSION) < 16 || hdr(b, H_LAST_COMP) > KHUP_FDT_VERSION)
		return -EINVAL;
	off_st = hdr(b, H_OFF_STRUCT);
	sz_st = hdr(b, H_SIZE_STRUCT);
	off_str = hdr(b, H_OFF_STRINGS);
	sz_str = hdr(b, H_SIZE_STRINGS);
	off_rsv = hdr(b, H_OFF_RSVMAP);
	if (off_st < KHUP_FDT_HDR_SIZE || off_st % 4 || off_st > total ||
	    sz_st > total - off_st)
		return -EINVAL;
	if (off_str < KHUP_FDT_HDR_SIZE || off_str > total ||
	    sz_str > total - off_str)
		return -EINVAL;
	if (off_rsv < KHUP_FDT_HDR_SIZE || off_rsv % 8 || off_rsv > total)
		return -EINVAL;
	/* The reservation map must be terminated by an all-zero entry. */
	for (pos = off_rsv;; pos += 16) {
		static const u8 zero[16];

		if (pos > total - 16 || pos < off_rsv)
			return -EINVAL;
		if (!memcmp(b + pos, zero, 16))
			break;
	}

	pos = off_st;
	end = off_st + sz_st;
	while (end - pos >= 4) {
		u32 tok = get_be32(b + pos);
		long n;

		pos += 4;
		switch (tok) {
		case FDT_BEGIN_NODE:
			if (depth == 0 && root)
				return -EINVAL;
			if (depth >= KHUP_FDT_MAX_DEPTH)
				return -EINVAL;
			n = find_nul(b + pos, end - pos);
			if (n < 0 || align4(n + 1) > end - pos)
				return -EINVAL;
			pos += align4(n + 1);
			child_seen[depth] = true;
			depth++;
			child_seen[depth] = false;
			root = true;
			break;
		case FDT_END_NODE:
			if (!depth)
				return -EINVAL;
			depth--;
			break;
		case FDT_PROP: {
			u32 len, nameoff;

			/* Properties precede subnodes and live in a node. */
			if (!depth || child_seen[depth] || end - pos < 8)
				return -EINVAL;
			len = get_be32(b + pos);
			nameoff = get_be32(b + pos + 4);
			pos += 8;
			if (nameoff >= sz_str ||
			    find_nul(b + off_str + nameoff,
				     sz_str - nameoff) < 0)
				return -EINVAL;
			if (len > end - pos || align4(len) < len ||
			    align4(len) > end - pos)
				return -EINVAL;
			pos += align4(len);
			break;
		}
		case FDT_NOP:
			break;
		case FDT_END:
			return (root && !depth) ? 0 : -EINVAL;
		default:
			return -EINVAL;
		}
	}
	return -EINVAL;
}

/* Offset just past the token at @pos, in a validated blob. */
static u32 next_tok(const u8 *b, u32 pos, u32 *tokp)
{
	u32 tok = get_be32(b + pos);

	*tokp = tok;
	pos += 4;
	if (tok == FDT_BEGIN_NODE)
		pos += align4(strlen((const char *)b + pos) + 1);
	else if (tok == FDT_PROP)
		pos += 8 + align4(get_be32(b + pos));
	return pos;
}

int khup_fdt_root(const void *blob)
{
	const u8 *b = blob;
	u32 pos = hdr(b, H_OFF_STRUCT), tok, next;

	for (;;) {
		next = next_tok(b, pos, &tok);
		if (tok == FDT_BEGIN_NODE)
			return pos;
		if (tok != FDT_NOP)
			return -EINVAL;
		pos = next;
	}
}

/* Skips properties and NOPs from @pos; returns a subnode offset or -ENOENT. */
static int find_node(const u8 *b, u32 pos)
{
	u32 tok, next;

	for (;;) {
		next = next_tok(b, pos, &tok);
		if (tok == FDT_BEGIN_NODE)
			return pos;
		if (tok != FDT_PROP && tok != FDT_NOP)
			return -ENOENT;
		pos = next;
	}
}

int khup_fdt_first_child(const void *blob, int node)
{
	u32 tok;

	return find_node(blob, next_tok(blob, node, &tok));
}

int khup_fdt_next_sibling(const void *blob, int node)
{
	const u8 *b = blob;
	u32 pos = node, tok;
	int depth = 0;

	do {
		pos = next_tok(b, pos, &tok);
		if (tok == FDT_BEGIN_NODE)
			depth++;
		else if (tok == FDT_END_NODE)
			depth--;
	} while (depth > 0);
	return find_node(b, pos);
}

const char *khup_fdt_name(const void *blob, int node)
{
	return (const char *)blob + node + 4;
}

const void *khup_fdt_prop(const void *blob, int node, const char *name,
			  u32 *lenp)
{
	const u8 *b = blob;
	const char *strs = (const char *)b + hdr(b, H_OFF_STRINGS);
	u32 pos, tok, next;

	pos = next_tok(b, node, &tok);
	for (;;) {
		next = next_tok(b, pos, &tok);
		if (tok == FDT_PROP) {
			u32 len = get_be32(b + pos + 4);
			u32 nameoff = get_be32(b + pos + 8);

			if (!strcmp(strs + nameoff, name)) {
				if (lenp)
					*lenp = len;
				return b + pos + 12;
			}
		} else if (tok != FDT_NOP) {
			return NULL;
		}
		pos = next;
	}
}

int khup_fdt_prop_u32(const void *blob, int node, const char *name, u32 *val)
{
	const u8 *p;
	u32 len;

	p = khup_fdt_prop(blob, node, name, &len);
	if (!p)
		return -ENOENT;
	if (len != 4)
		return -EINVAL;
	*val = get_be32(p);
	return 0;
}

int khup_fdt_prop_u64(const void *blob, int node, const char *name, u64 *val)
{
	const u8 *p;
	u32 len;

	p = khup_fdt_prop(blob, node, name, &len);
	if (!p)
		return -ENOENT;
	if (len != 8)
		return -EINVAL;
	*val = ((u64)get_be32(p) << 32) | get_be32(p + 4);
	return 0;
}

/* A string property: non-empty value, NUL-terminated, no embedded NUL. */
const char *khup_fdt_prop_str(const void *blob, int node, const char *name)
{
	const char *p;
	u32 len;

	p = khup_fdt_prop(blob, node, name, &len);
	if (!p || !len || p[len - 1] || strlen(p) != len - 1)
		return NULL;
	return p;
}
