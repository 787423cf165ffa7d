/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Minimal flattened device tree writer and reader.
 *
 * The kernel's libfdt is linked only into built-in code and none of its
 * symbols is exported, so a module that hands a device tree to KHO must
 * bring its own. This one writes FDT version 17 blobs (one pass, sticky
 * errors) and reads them only after khup_fdt_check() has validated the
 * whole structure block, so every later lookup stays inside the blob.
 *
 * The file uses only <linux/types.h>, <linux/string.h> and <linux/errno.h>
 * so the host unit tests compile the very same source against the real
 * libfdt.
 */
#ifndef KHUP_FDT_H
#define KHUP_FDT_H

#include <linux/types.h>

#define KHUP_FDT_MAGIC		0xd00dfeedU
#define KHUP_FDT_VERSION	17
#define KHUP_FDT_LAST_COMP	16
#define KHUP_FDT_HDR_SIZE	40
#define KHUP_FDT_MAX_DEPTH	16
#define KHUP_FDTW_STRS		512

struct khup_fdtw {
	u8 *buf;
	u32 cap;
	u32 off;	/* end of the structure block so far */
	u32 depth;
	int err;	/* first error, sticky */
	u32 strs_len;
	char strs[KHUP_FDTW_STRS];
};

void khup_fdtw_init(struct khup_fdtw *w, void *buf, u32 cap);
void khup_fdtw_begin_node(struct khup_fdtw *w, const char *name);
void khup_fdtw_end_node(struct khup_fdtw *w);
void khup_fdtw_prop(struct khup_fdtw *w, const char *name, const void *val,
		    u32 len);
void khup_fdtw_prop_u32(struct khup_fdtw *w, const char *name, u32 val);
void khup_fdtw_prop_u64(struct khup_fdtw *w, const char *name, u64 val);
void khup_fdtw_prop_str(struct khup_fdtw *w, const char *name,
			const char *val);
int khup_fdtw_finish(struct khup_fdtw *w);

int khup_fdt_check(const void *blob, size_t size);
int khup_fdt_root(const void *blob);
int khup_fdt_first_child(const void *blob, int node);
int khup_fdt_next_sibling(const void *blob, int node);
const char *khup_fdt_name(const void *blob, int node);
const void *khup_fdt_prop(const void *blob, int node, const char *name,
			  u32 *lenp);
int khup_fdt_prop_u32(const void *blob, int node, const char *name, u32 *val);
int khup_fdt_prop_u64(const void *blob, int node, const char *name, u64 *val);
const char *khup_fdt_prop_str(const void *blob, int node, const char *name);

#endif /* KHUP_FDT_H */
