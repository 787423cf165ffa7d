// SPDX-License-Identifier: GPL-2.0-only
/*
 * Handover: preserving sealed images with KHO, publishing the "khup" node,
 * and taking everything back at module load after kexec.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/err.h>
#include <linux/io.h>
#include <linux/kexec_handover.h>
#include <linux/mm.h>
#include <linux/pid.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/vmalloc.h>

#include "fdt.h"
#include "internal.h"
#include "trace.h"

/*
 * Replaces the compatible of the incoming node once it has been taken
 * over; the same length, so the blob stays a valid FDT.
 */
#define KHUP_CLAIMED	"claimed"
static_assert(sizeof(KHUP_CLAIMED) == sizeof(KHUP_COMPATIBLE));
static_assert(sizeof(KHUP_CLAIMED) == sizeof(KHUP_COMPATIBLE_V2));
static_assert(sizeof(KHUP_CLAIMED) == sizeof(KHUP_COMPATIBLE_V1));

/* The FDT currently registered with kho_add_subtree(), or NULL. */
static void *khup_blob;
/* Where its "khup,next-id" value is, to update it in place. */
static u8 *khup_blob_next_id;
/* The same in the incoming node, kept for this boot; or NULL. */
static u8 *khup_in_next_id;
/* Where its "khup,crc" value is, and its size, to refresh the CRC. */
static u8 *khup_blob_crc;
static u32 khup_blob_size;
/* Where its "khup,blocks" descriptor is, filled in at the kexec. */
static u8 *khup_blob_blocks;
/* Offsets of those in the FDT khup_write_fdt() wrote last. */
static u32 khup_next_id_off, khup_crc_off, khup_blocks_off;

/*
 * Image ids are never handed out twice, across kexecs and reloads: the
 * node carries the next id ("khup,next-id", a property readers of
 * "khup-v2" without it ignore), the next kernel's module starts from it,
 * and a module reloaded in the same boot finds it in the incoming node,
 * which it kept and updated at its exit.
 */
static void khup_put_next_id(u8 *p)
{
	u64 v = khup_peek_next_id();
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = v & 0xff;
}

static u64 khup_get_next_id(const u8 *p)
{
	u64 v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void khup_put_be32(u8 *p, u32 v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/*
 * The node's own checksum ("khup,crc"): CRC-32 of the whole FDT
 * (header totalsize bytes) with the value of "khup,crc" taken as zero.
 * The extent tables have theirs; this one covers what points to them.
 */
static u32 khup_node_crc(const void *fdt, u32 size, const u8 *crc)
{
	static const u8 zero[4];
	u32 off = crc - (const u8 *)fdt, c;

	c = khup_crc32(0, fdt, off);
	c = khup_crc32(c, zero, sizeof(zero));
	return khup_crc32(c, crc + 4, size - off - 4);
}

static u32 khup_get_be32(const u8 *p)
{
	return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3];
}

/*
 * At the kexec (the reboot notifier, khup_lock held, khup frozen): images
 * created since the node was last published took ids too, and on a
 * restart or kexec (@kexec) the runs of sealed pages are handed over as
 * blocks (blocks.c). A node that no longer matches its checksum is left
 * as it is: a new checksum would bless it.
 */
void khup_freeze_node(bool kexec)
{
	struct kho_vmalloc kv;

	lockdep_assert_held(&khup_lock);
	if (!khup_blob_next_id)
		return;
	if (khup_node_crc(khup_blob, khup_blob_size, khup_blob_crc) !=
	    khup_get_be32(khup_blob_crc)) {
		pr_err("the published node changed after its checksum; the next kernel will refuse it\n");
		return;
	}
	khup_put_next_id(khup_blob_next_id);
	if (kexec && khup_blocks_enabled) {
		khup_blocks_freeze(&kv);
		memcpy(khup_blob_blocks, &kv, sizeof(kv));
	}
	khup_put_be32(khup_blob_crc,
		      khup_node_crc(khup_blob, khup_blob_size, khup_blob_crc));
}

typedef int (*khup_folio_fn)(struct folio *folio, u32 nr);

/*
 * The folio holding page @j of extent @e: how many of the extent's pages
 * from @j on it holds (*@span), and how many of those the task holds.
 */
static u32 khup_held_in_folio(const struct khup_task *t,
			      const struct khup_ext *e, u32 j,
			      struct folio **folio, u32 *span)
{
	*folio = page_folio(pfn_to_page(e->pfn + j));
	*span = min_t(u64, e->nr - j,
		      folio_pfn(*folio) + folio_nr_pages(*folio) -
		      (e->pfn + j));
	return khup_bits_count(t->present, e->first + j, *span);
}

/*
 * Calls @fn once per folio and extent with the number of held pages of the
 * extent in that folio (a THP: once, not 512 times), in offset order, at
 * most @limit times. Returns how many calls succeeded; *@err gets the
 * first failure. The same image walked again makes the same calls.
 */
static u64 khup_walk_held(struct khup_image *img, khup_folio_fn fn, u64 limit,
			  int *err)
{
	struct khup_task *t;
	u64 done = 0, i;
	u32 j, n, span;

	*err = 0;
	list_for_each_entry(t, &img->tasks, node) {
		for (i = 0; i < t->nr_ext; i++) {
			struct khup_ext *e = &t->ext[i];

			if (e->flags & KHUP_EXT_F_ZERO)
				continue;
			for (j = 0; j < e->nr; j += span) {
				struct folio *folio;

				n = khup_held_in_folio(t, e, j, &folio, &span);
				if (!n)
					continue;
				if (done == limit)
					return done;
				*err = fn(folio, n);
				if (*err)
					return done;
				done++;
			}
			cond_resched();
		}
	}
	return done;
}

/*
 * khup_walk_held(img, khup_folio_seal, ...), the same calls in the same
 * order, with the order-0 folios of each extent sealed in batches
 * (khup_folio_seal_small()): one folio-table walk per run of pages
 * instead of one per page.
 */
static u64 khup_seal_held(struct khup_image *img, int *err)
{
	struct khup_task *t;
	u64 done = 0, i, n;
	u32 j, span;

	*err = 0;
	list_for_each_entry(t, &img->tasks, node) {
		for (i = 0; i < t->nr_ext; i++) {
			struct khup_ext *e = &t->ext[i];
			struct folio *folio;

			if (e->flags & KHUP_EXT_F_ZERO)
				continue;
			for (j = 0; j < e->nr; j += span) {
				if (!e->order) {
					span = khup_folio_seal_small(e->pfn + j,
								     t->present,
								     e->first + j,
								     e->nr - j,
								     &n, err);
					done += n;
					if (*err)
						return done;
					if (span)
						continue;
					/* A large folio after all: as below. */
				}
				n = khup_held_in_folio(t, e, j, &folio, &span);
				if (!n)
					continue;
				*err = khup_folio_seal(folio, n);
				if (*err)
					return done;
				done++;
			}
			cond_resched();
		}
	}
	return done;
}

static int khup_unseal_one(struct folio *folio, u32 nr)
{
	khup_folio_unseal(folio, nr);
	return 0;
}

/*
 * Writes @t's extent table into vmalloc memory preserved page by page, so
 * its size is bounded only by memory, not by KHO's largest contiguous
 * preserved allocation (4 MiB, about 174000 extents).
 */
static int khup_write_table(struct khup_task *t)
{
	u64 size;
	void *tbl;
	int err;

	err = khup_tbl_size(t->nr_ext, t->nr_pages, &size);
	if (err)
		return err;
	tbl = vmalloc(size);
	if (!tbl)
		return -ENOMEM;
	khup_tbl_encode(tbl, t->pid, PAGE_SHIFT, t->ext, t->nr_ext,
			t->nr_pages, t->present);
	if (khup_debug_corrupt == 1 && t->nr_ext) {
		/* Debug only: make the next kernel's checksum check fail. */
		((u8 *)tbl)[KHUP_TBL_HDR_SIZE + 8] ^= 1;
		pr_warn("debug_corrupt: corrupted extent table of task %d\n",
			t->pid);
	}
	err = kho_preserve_vmalloc(tbl, &t->tbl_kv);
	if (err) {
		vfree(tbl);
		return err;
	}
	t->tbl = tbl;
	t->tbl_size = size;
	return 0;
}

/* Unpreserves and frees @t's published table, if it has one. */
void khup_free_table(struct khup_task *t)
{
	if (!t->tbl)
		return;
	kho_unpreserve_vmalloc(&t->tbl_kv);
	vfree(t->tbl);
	t->tbl = NULL;
	t->tbl_size = 0;
	memset(&t->tbl_kv, 0, sizeof(t->tbl_kv));
}

static void khup_free_tables(struct khup_image *img)
{
	struct khup_task *t;

	list_for_each_entry(t, &img->tasks, node)
		khup_free_table(t);
}

/*
 * Preserves every held folio of @img and writes its extent tables. On
 * error nothing stays preserved. The caller publishes.
 */
int khup_seal(struct khup_image *img)
{
	u64 start = ktime_get_ns(), done;
	struct khup_task *t;
	int err;

	if (!kho_is_enabled())
		return -ENODEV;
	if (img->sealed)
		return 0;
	done = khup_seal_held(img, &err);
	if (err) {
		khup_walk_held(img, khup_unseal_one, done, &err);
		return err;
	}
	img->sealed = true;
	list_for_each_entry(t, &img->tasks, node) {
		err = khup_write_table(t);
		if (err) {
			khup_unseal(img);
			return err;
		}
	}
	trace_khup_seal(img->id, img->nr_tasks, khup_image_pages(img));
	atomic64_add(ktime_get_ns() - start, &khup_stats.seal_ns);
	return 0;
}

void khup_unseal(struct khup_image *img)
{
	int err;

	if (!img->sealed)
		return;
	khup_walk_held(img, khup_unseal_one, U64_MAX, &err);
	khup_free_tables(img);
	img->sealed = false;
}

static void khup_write_fdt(struct khup_fdtw *w)
{
	struct khup_image *img;
	struct khup_task *t;
	char node[32];
	u32 n = 0;

	list_for_each_entry(img, &khup_images, node)
		n += img->sealed;
	khup_fdtw_begin_node(w, "");
	/* Debug only: a compatible the next kernel must not understand. */
	khup_fdtw_prop_str(w, "compatible",
			   khup_debug_corrupt == 2 ? "khup-v0" : KHUP_COMPATIBLE);
	khup_fdtw_prop_u32(w, "khup,nr-images", n);
	khup_fdtw_prop_u64(w, "khup,next-id", khup_peek_next_id());
	khup_next_id_off = w->off - sizeof(u64);
	khup_fdtw_prop_u32(w, "khup,crc", 0);
	khup_crc_off = w->off - sizeof(u32);
	/* No blocks until the kexec fills it in (khup_freeze_node()). */
	khup_fdtw_prop(w, "khup,blocks", &(struct kho_vmalloc){ },
		       sizeof(struct kho_vmalloc));
	khup_blocks_off = w->off - ALIGN(sizeof(struct kho_vmalloc), 4);
	list_for_each_entry(img, &khup_images, node) {
		if (!img->sealed)
			continue;
		snprintf(node, sizeof(node), "image-%llx", img->id);
		khup_fdtw_begin_node(w, node);
		khup_fdtw_prop_u64(w, "id", img->id);
		khup_fdtw_prop_str(w, "image-name", img->name);
		khup_fdtw_prop_u32(w, "owner-uid",
				   from_kuid(&init_user_ns, img->owner));
		khup_fdtw_prop_u64(w, "created-ns", img->created_ns);
		khup_fdtw_prop_str(w, "release", img->release);
		khup_fdtw_prop_u64(w, "kexec-count", img->kexec_count);
		khup_fdtw_prop(w, "digest-key", &img->digest_key,
			       sizeof(img->digest_key));
		list_for_each_entry(t, &img->tasks, node) {
			snprintf(node, sizeof(node), "task-%d", t->pid);
			khup_fdtw_begin_node(w, node);
			khup_fdtw_prop_u32(w, "pid", t->pid);
			khup_fdtw_prop_str(w, "comm", t->comm[0] ? t->comm : "?");
			khup_fdtw_prop_u64(w, "nr-pages", t->nr_pages);
			khup_fdtw_prop_u64(w, "nr-extents", t->nr_ext);
			khup_fdtw_prop_u64(w, "table-size", t->tbl_size);
			khup_fdtw_prop(w, "table-vmalloc", &t->tbl_kv,
				       sizeof(t->tbl_kv));
			khup_fdtw_end_node(w);
		}
		khup_fdtw_end_node(w);
	}
	khup_fdtw_end_node(w);
}

static void khup_withdraw_blob(void)
{
	if (!khup_blob)
		return;
	kho_remove_subtree(khup_blob);
	kho_unpreserve_free(khup_blob);
	khup_blob = NULL;
	khup_blob_next_id = NULL;
	khup_blob_crc = NULL;
	khup_blob_blocks = NULL;
}

/*
 * Rebuilds the "khup" KHO node from the sealed images. With no sealed
 * image the node is withdrawn, so KHO's out tree shows no trace of khup.
 */
int khup_publish(void)
{
	struct khup_image *img;
	struct khup_fdtw *w;
	size_t cap = 1024;
	bool any = false;
	void *buf;
	int size, err;

	list_for_each_entry(img, &khup_images, node) {
		if (!img->sealed)
			continue;
		any = true;
		cap += 512 + (size_t)img->nr_tasks * 256;
	}
	if (!any) {
		khup_withdraw_blob();
		return 0;
	}
	w = khup_fault("publish-alloc") ? NULL : kmalloc(sizeof(*w), GFP_KERNEL);
	if (!w) {
		err = -ENOMEM;
		goto out_withdraw;
	}
	buf = khup_fault("publish-preserve") ? ERR_PTR(-ENOMEM) :
	      kho_alloc_preserve(cap);
	if (IS_ERR(buf)) {
		kfree(w);
		err = PTR_ERR(buf);
		goto out_withdraw;
	}
	khup_fdtw_init(w, buf, cap);
	khup_write_fdt(w);
	size = khup_fdtw_finish(w);
	kfree(w);
	if (size < 0) {
		kho_unpreserve_free(buf);
		err = size;
		goto out_withdraw;
	}
	khup_put_be32((u8 *)buf + khup_crc_off,
		      khup_node_crc(buf, size, (u8 *)buf + khup_crc_off));
	if (khup_debug_corrupt == 2)
		pr_warn("debug_corrupt: published an unknown compatible\n");
	if (khup_debug_corrupt == 4) {
		/* Debug only: a valid FDT whose checksum does not match. */
		((u8 *)buf)[khup_next_id_off - 13] ^= 0x80;	/* nr-images */
		pr_warn("debug_corrupt: changed the node after its checksum\n");
	}
	if (khup_debug_corrupt == 3) {
		/* Debug only: a struct block running past the blob. */
		((u8 *)buf)[36] ^= 0x80;
		pr_warn("debug_corrupt: published a malformed FDT\n");
	}
	if (khup_blob)
		kho_remove_subtree(khup_blob);
	err = khup_fault("publish-add") ? -ENOMEM :
	      kho_add_subtree(KHUP_KHO_NODE, buf, size);
	if (err) {
		kho_unpreserve_free(buf);
		goto out_withdraw;
	}
	if (khup_blob)
		kho_unpreserve_free(khup_blob);
	khup_blob = buf;
	khup_blob_next_id = (u8 *)buf + khup_next_id_off;
	khup_blob_crc = (u8 *)buf + khup_crc_off;
	khup_blob_blocks = (u8 *)buf + khup_blocks_off;
	khup_blob_size = size;
	return 0;

out_withdraw:
	/*
	 * The old node describes images that changed since (a release has
	 * freed tables it points to); handing it over could make the next
	 * kernel restore freed memory. Handing over nothing is safer.
	 */
	khup_withdraw_blob();
	pr_err("cannot publish KHO node (%d): sealed images will not survive kexec\n",
	       err);
	return err;
}

void khup_kho_exit(void)
{
	khup_withdraw_blob();
	/* A reload in this boot goes on from here. */
	if (khup_in_next_id)
		khup_put_next_id(khup_in_next_id);
}

/*
 * The incoming node's own checksum, if it has one (nodes written before
 * "khup,crc" have none and are read as before), over the FDT's
 * totalsize, which khup_fdt_check() bounded by the retrieved size.
 */
static bool khup_node_crc_ok(const void *fdt, int root)
{
	const u8 *p, *h = fdt;
	u32 len, size, want;

	p = khup_fdt_prop(fdt, root, "khup,crc", &len);
	if (!p)
		return true;
	if (len != sizeof(u32))
		return false;
	size = khup_get_be32(h + 4);
	want = khup_get_be32(p);
	return khup_node_crc(fdt, size, p) == want;
}

/* The incoming node's next id, if it has one: no id below it is reused. */
static void khup_take_next_id(const void *fdt, int root)
{
	const void *p;
	u32 len;

	p = khup_fdt_prop(fdt, root, "khup,next-id", &len);
	if (!p || len != sizeof(u64))
		return;
	khup_in_next_id = (u8 *)p;
	if (khup_get_next_id(p) > 1)
		khup_note_id(khup_get_next_id(p) - 1);
}

/* ---- after kexec ---- */

/*
 * Takes ownership of the folio holding pages [j, j + span) of @e, @nr of
 * which are held: one folio-table update for all of them (a THP once, not
 * 512 times). False if the folio cannot be had or does not hold them all.
 */
static bool khup_claim_folio(struct khup_task *t, const struct khup_ext *e,
			     u32 j, u32 span, u32 nr)
{
	unsigned long pfn = e->pfn + j;
	unsigned long head = pfn & ~((1UL << e->order) - 1);
	struct khup_folio kf;
	struct folio *folio;
	bool in_block;

	if (khup_folio_load(head, &kf)) {
		folio = pfn_folio(head);
	} else {
		/*
		 * The table takes over the reference the block's restore or
		 * kho_restore_folio() gives.
		 */
		folio = khup_blocks_in_take(head, e->order, &in_block);
		if (!in_block) {
			folio = kho_restore_folio(PFN_PHYS(head));
			if (folio)
				atomic64_add(folio_nr_pages(folio),
					     &khup_stats.restored);
		}
		if (!folio)
			return false;
		if (folio_order(folio) != e->order)
			pr_warn("task %d: a folio has order %u, its table says %u\n",
				t->pid, folio_order(folio), e->order);
		kf = (struct khup_folio){ .pfn = folio_pfn(folio), .owned = true };
	}
	if (pfn + span - kf.pfn > folio_nr_pages(folio) ||
	    kf.refs > KHUP_KF_REF_MAX - nr)
		goto out_unused;
	kf.refs += nr;
	if (khup_folio_store(&kf)) {
		kf.refs -= nr;
		goto out_unused;
	}
	return true;

out_unused:
	/* A folio just restored that no page will hold goes back at once. */
	if (!kf.refs) {
		khup_folio_forget(kf.pfn);
		folio_put(folio);
	}
	return false;
}

/*
 * One task of the incoming node, prepared before anything is taken over:
 * its table read in place (or copied out of its preserved vmalloc pages),
 * checked, and everything the restore will need allocated, so that the
 * restore proper cannot fail for want of memory.
 */
struct khup_task_in {
	struct khup_image *img;
	struct khup_task *t;
	int node;
	u64 tbl_size;
	const void *tbl;
	void *copy;		/* "khup-v2": the table copied out of its pages */
	phys_addr_t phys;	/* "khup-v1": the table's folio */
	struct kho_vmalloc kv;	/* "khup-v2": where the table's pages are */
};

/* Preserved memory not yet restored, as the previous kernel left it. */
const void *khup_in_mem(phys_addr_t phys, u64 size)
{
	unsigned long pfn;

	for (pfn = PHYS_PFN(phys); pfn < PHYS_PFN(phys + size - 1) + 1; pfn++)
		if (!pfn_valid(pfn))
			return NULL;
	return phys_to_virt(phys);
}

/*
 * Calls @fn on every page run of a preserved vmalloc area ("khup-v2"
 * table), then on the chunk page listing them, reading the chunk before
 * @fn sees it (@fn may free it). Stops at the first error.
 */
static int khup_kv_walk(const struct kho_vmalloc *kv,
			int (*fn)(phys_addr_t phys, u32 nr, void *arg),
			void *arg)
{
	u32 contig = 1U << kv->order, idx = 0, i, chunks = 0;
	phys_addr_t phys = kv->first.phys, next;
	const struct kho_vmalloc_chunk *c;
	int err;

	while (phys) {
		c = khup_in_mem(phys, PAGE_SIZE);
		/* Each chunk but the last is full: no list loops for ever. */
		if (!c || !PAGE_ALIGNED(phys) ||
		    chunks++ > kv->total_pages / KHO_VMALLOC_SIZE)
			return -EINVAL;
		for (i = 0; i < ARRAY_SIZE(c->phys) && c->phys[i]; i++) {
			if (idx + contig > kv->total_pages ||
			    !khup_in_mem(c->phys[i], (u64)contig << PAGE_SHIFT))
				return -EINVAL;
			err = fn(c->phys[i], contig, arg);
			if (err)
				return err;
			idx += contig;
		}
		next = c->hdr.next.phys;
		err = fn(phys, 0, arg);
		if (err)
			return err;
		phys = next;
	}
	return idx == kv->total_pages ? 0 : -EINVAL;
}

struct khup_kv_copy {
	u8 *dst;
	u64 left;
};

static int khup_kv_copy_run(phys_addr_t phys, u32 nr, void *arg)
{
	struct khup_kv_copy *c = arg;
	u64 n = min_t(u64, c->left, (u64)nr << PAGE_SHIFT);

	memcpy(c->dst, phys_to_virt(phys), n);
	c->dst += n;
	c->left -= n;
	return 0;
}

/*
 * Copies the first @size bytes of a preserved vmalloc area to @dst without
 * taking its pages over; -EINVAL if its chunks are not memory.
 */
int khup_kv_copy(const struct kho_vmalloc *kv, void *dst, u64 size)
{
	struct khup_kv_copy copy = { .dst = dst, .left = size };

	return khup_kv_walk(kv, khup_kv_copy_run, &copy);
}

/* Takes the pages back and frees them: @nr data pages, or a chunk (0). */
static int khup_kv_free_run(phys_addr_t phys, u32 nr, void *arg)
{
	struct page *page = kho_restore_pages(phys, nr ? nr : 1);
	u32 i;

	if (!page)
		return -EINVAL;
	for (i = 0; i < (nr ? nr : 1); i++)
		__free_page(page + i);
	return 0;
}

/* Takes a preserved vmalloc area's pages back and frees them. */
int khup_kv_free(const struct kho_vmalloc *kv)
{
	return khup_kv_walk(kv, khup_kv_free_run, NULL);
}

/*
 * Finds the incoming table of a task node, without taking it over. Its
 * size was checked against the node's counts; here its memory is.
 */
static int khup_table_in(const void *fdt, int node, bool v1,
			 struct khup_task_in *in, const char **why)
{
	const void *prop;
	u64 pages;
	u32 len;

	if (v1) {
		if (khup_fdt_prop_u64(fdt, node, "table", &in->phys) ||
		    !PAGE_ALIGNED(in->phys)) {
			*why = "no valid table address";
			return -EINVAL;
		}
		in->tbl = khup_in_mem(in->phys, in->tbl_size);
		if (!in->tbl) {
			*why = "table is not memory";
			return -EINVAL;
		}
		return 0;
	}
	prop = khup_fdt_prop(fdt, node, "table-vmalloc", &len);
	if (!prop || len != sizeof(in->kv)) {
		*why = "no valid table-vmalloc descriptor";
		return -EINVAL;
	}
	memcpy(&in->kv, prop, sizeof(in->kv));
	pages = DIV_ROUND_UP(in->tbl_size, PAGE_SIZE);
	if (in->kv.order > MAX_PAGE_ORDER || in->kv.total_pages < pages ||
	    in->kv.total_pages > ALIGN(pages, 1UL << in->kv.order)) {
		*why = "table-vmalloc disagrees with table-size";
		return -EINVAL;
	}
	in->copy = khup_fault("restore-table") ? NULL :
		   kvmalloc(in->tbl_size, GFP_KERNEL);
	if (!in->copy)
		return -ENOMEM;
	if (khup_kv_copy(&in->kv, in->copy, in->tbl_size)) {
		*why = "table pages are not memory";
		return -EINVAL;
	}
	in->tbl = in->copy;
	return 0;
}

/* Takes the table's preserved pages back and frees them (after commit). */
static void khup_table_in_free(struct khup_task_in *in, bool v1)
{
	struct folio *folio;

	if (v1) {
		folio = kho_restore_folio(in->phys);
		if (folio)
			folio_put(folio);
		else
			pr_warn("task %d: table folio not preserved\n",
				in->t->pid);
	} else if (khup_kv_free(&in->kv)) {
		pr_warn("task %d: table pages not preserved\n", in->t->pid);
	}
}

/*
 * Reserves (or releases the unused reservations of) a folio-table slot
 * for every folio of the task's extents, so that claiming them after the
 * point of no return never allocates.
 */
static int khup_task_in_slots(struct khup_task_in *in, bool reserve)
{
	struct khup_ext e;
	unsigned long pfn;
	u64 i;
	int err;

	if (reserve && khup_fault("restore-folio-table"))
		return -ENOMEM;
	for (i = 0; i < in->t->cap_ext; i++) {
		khup_tbl_get_ext(in->tbl, i, &e);
		if (e.flags & KHUP_EXT_F_ZERO)
			continue;
		for (pfn = e.pfn & ~((1UL << e.order) - 1); pfn < e.pfn + e.nr;
		     pfn += 1UL << e.order) {
			if (!reserve) {
				khup_folio_unreserve(pfn);
				continue;
			}
			err = khup_folio_reserve(pfn);
			if (err)
				return err;
		}
		cond_resched();
	}
	return 0;
}

/*
 * Prepares one task node: reads and checks its table, allocates the task
 * and its arrays, reserves its folio-table slots. A node that is refused
 * returns -EINVAL (the caller skips it: its pages stay reserved); a
 * failed allocation returns -ENOMEM (the whole restore is called off).
 * Takes nothing over.
 */
static int khup_prepare_task(struct khup_image *img, const void *fdt,
			     int node, bool v1, struct khup_task_in *in)
{
	u64 nr_pages, nr_ext, want;
	struct khup_tbl_info info;
	const char *comm, *why;
	struct khup_task *t;
	u32 pid;
	int err;

	memset(in, 0, sizeof(*in));
	in->img = img;
	in->node = node;
	comm = khup_fdt_prop_str(fdt, node, "comm");
	if (khup_fdt_prop_u32(fdt, node, "pid", &pid) || !comm ||
	    khup_fdt_prop_u64(fdt, node, "nr-pages", &nr_pages) ||
	    khup_fdt_prop_u64(fdt, node, "nr-extents", &nr_ext) ||
	    khup_fdt_prop_u64(fdt, node, "table-size", &in->tbl_size)) {
		pr_err("image %llu: node %s lacks a property, skipped\n",
		       img->id, khup_fdt_name(fdt, node));
		return -EINVAL;
	}
	if (!pid || pid > PID_MAX_LIMIT || khup_task_find(img, pid) ||
	    nr_pages > U32_MAX || nr_ext > nr_pages ||
	    khup_tbl_size(nr_ext, nr_pages, &want) || want != in->tbl_size) {
		pr_err("image %llu: node %s has invalid pid/table values, skipped\n",
		       img->id, khup_fdt_name(fdt, node));
		return -EINVAL;
	}
	err = khup_table_in(fdt, node, v1, in, &why);
	if (err == -EINVAL)
		pr_err("image %llu task %u: %s; its pages stay reserved\n",
		       img->id, pid, why);
	if (err)
		return err;
	if (khup_tbl_decode(in->tbl, in->tbl_size, PAGE_SHIFT, &info, &why)) {
		pr_err("image %llu task %u: extent table refused: %s; its pages stay reserved\n",
		       img->id, pid, why);
		return -EINVAL;
	}
	if (info.pid != pid || info.nr_pages != nr_pages ||
	    info.nr_extents != nr_ext) {
		pr_err("image %llu task %u: table header disagrees with the node\n",
		       img->id, pid);
		return -EINVAL;
	}
	t = khup_fault("restore-task") ? ERR_PTR(-ENOMEM) :
	    khup_task_new(img, pid, comm);
	if (IS_ERR(t))
		return PTR_ERR(t);
	in->t = t;
	err = khup_fault("restore-bitmap") ? -ENOMEM :
	      khup_task_reserve(t, nr_pages);
	if (!err && nr_ext) {
		t->ext = khup_fault("restore-extents") ? NULL :
			 kvmalloc_array(nr_ext, sizeof(*t->ext), GFP_KERNEL);
		err = t->ext ? 0 : -ENOMEM;
	}
	if (err)
		return err;
	t->cap_ext = nr_ext;
	return khup_task_in_slots(in, true);
}

/* Undoes khup_prepare_task(): the node stays as it came. */
static void khup_task_in_undo(struct khup_task_in *in)
{
	if (in->t) {
		khup_task_in_slots(in, false);
		khup_task_free(in->img, in->t);
	}
	kvfree(in->copy);
}

/*
 * Takes over the folios of a prepared task (after the point of no return:
 * nothing here allocates, the folio-table slots are reserved), then frees
 * its incoming table.
 */
static void khup_restore_task(struct khup_task_in *in, bool v1)
{
	struct khup_image *img = in->img;
	struct khup_task *t = in->t;
	u64 i, lost = 0, held = 0;
	const u8 *map;
	u32 j, k, n, span;
	bool ok;

	map = khup_tbl_bitmap(in->tbl);
	for (i = 0; i < t->cap_ext; i++) {
		struct khup_ext *e = &t->ext[i];

		khup_tbl_get_ext(in->tbl, i, e);
		e->first = t->nr_pages;
		t->nr_pages += e->nr;
		t->nr_ext++;
		for (j = 0; j < e->nr; j += span) {
			unsigned long pfn = e->pfn + j;

			/* The pages of the extent in one folio, at once. */
			span = min_t(u64, e->nr - j,
				     (pfn | ((1UL << e->order) - 1)) + 1 - pfn);
			n = khup_bits_count(map, e->first + j, span);
			if (!n)
				continue;
			ok = (e->flags & KHUP_EXT_F_ZERO) ||
			     khup_claim_folio(t, e, j, span, n);
			if (ok && !(e->flags & KHUP_EXT_F_ZERO))
				held += n;
			if (ok && n == span) {
				khup_bits_set(t->present, e->first + j, span);
				t->held += span;
				continue;
			}
			for (k = 0; k < span; k++) {
				if (!khup_bit_test(map, e->first + j + k))
					continue;
				if (ok) {
					khup_bit_set(t->present, e->first + j + k);
					t->held++;
				} else {
					/* Reads of it fail; it is never zeros. */
					khup_mark_lost(t, e->first + j + k);
					lost++;
				}
			}
		}
		cond_resched();
	}
	/*
	 * Held pages count against max_pinned_pages, but are charged to
	 * nobody's RLIMIT_MEMLOCK: they exist already and cannot be refused.
	 */
	atomic64_add(held, &khup_stats.held);
#ifdef KHUP_TEST_HOOKS
	if (khup_debug_lose_page >= 0 &&
	    khup_debug_lose_page < t->nr_pages &&
	    khup_bit_test(t->present, khup_debug_lose_page)) {
		khup_task_drop_page(img, t, khup_debug_lose_page);
		khup_mark_lost(t, khup_debug_lose_page);
		lost++;
	}
#endif
	if (lost)
		pr_err("image %llu task %u: %llu pages could not be restored; they read as errors\n",
		       img->id, t->pid, lost);
	trace_khup_restore(img->id, t->pid, t->held, lost);
	if (lost)
		trace_khup_lost(img->id, t->pid, lost);
	khup_task_in_slots(in, false);
	kvfree(in->copy);
	in->copy = NULL;
	in->tbl = NULL;
	khup_table_in_free(in, v1);
}

/*
 * Recreates the image of an image node and prepares its tasks into
 * @in[*@n...]. A malformed node is skipped (0); a failed allocation
 * returns -ENOMEM, leaving what was prepared for the caller to undo.
 */
static int khup_prepare_image(const void *fdt, int node, bool v1,
			      struct khup_task_in *in, u32 *n)
{
	u64 id, created, kexecs;
	const char *name, *rel;
	struct khup_image *img;
	const void *key;
	u32 owner, len;
	int task, err;

	name = khup_fdt_prop_str(fdt, node, "image-name");
	rel = khup_fdt_prop_str(fdt, node, "release");
	if (khup_fdt_prop_u64(fdt, node, "id", &id) || !id || !name ||
	    strlen(name) >= KHUP_NAME_LEN || !rel ||
	    khup_fdt_prop_u32(fdt, node, "owner-uid", &owner) ||
	    khup_fdt_prop_u64(fdt, node, "created-ns", &created) ||
	    khup_fdt_prop_u64(fdt, node, "kexec-count", &kexecs)) {
		pr_err("node %s is malformed, its pages stay reserved\n",
		       khup_fdt_name(fdt, node));
		return 0;
	}
	if (khup_image_find(id)) {
		pr_err("node %s: duplicate image id %llu, skipped\n",
		       khup_fdt_name(fdt, node), id);
		return 0;
	}
	img = khup_fault("restore-image") ? ERR_PTR(-ENOMEM) :
	      khup_image_new(name, make_kuid(&init_user_ns, owner), id);
	if (IS_ERR(img)) {
		pr_err("image %llu '%s': cannot recreate (%ld)\n", id, name,
		       PTR_ERR(img));
		return PTR_ERR(img) == -ENOMEM ? -ENOMEM : 0;
	}
	img->state = KHUP_STATE_RESTORED;
	/* Nodes written before digests: the new random key stands. */
	key = khup_fdt_prop(fdt, node, "digest-key", &len);
	if (key && len == sizeof(img->digest_key))
		memcpy(&img->digest_key, key, len);
	img->created_ns = created;
	img->kexec_count = kexecs + 1;
	strscpy(img->release, rel, sizeof(img->release));
	for (task = khup_fdt_first_child(fdt, node); task >= 0;
	     task = khup_fdt_next_sibling(fdt, task)) {
		err = khup_prepare_task(img, fdt, task, v1, &in[*n]);
		/* Only a want of memory calls the whole restore off. */
		if (err && err != -ENOMEM) {
			khup_task_in_undo(&in[*n]);
			continue;
		}
		(*n)++;
		if (err)
			return err;
	}
	if (!img->nr_tasks) {
		pr_err("image %llu '%s': no task could be restored\n", id, name);
		khup_image_release(img);
	}
	return 0;
}

/* The number of task nodes under the image nodes of @root. */
static u32 khup_count_tasks(const void *fdt, int root)
{
	int node, task;
	u32 n = 0;

	for (node = khup_fdt_first_child(fdt, root); node >= 0;
	     node = khup_fdt_next_sibling(fdt, node))
		for (task = khup_fdt_first_child(fdt, node); task >= 0;
		     task = khup_fdt_next_sibling(fdt, task))
			n++;
	return n;
}

/*
 * Undoes the preparation of every image of this load: the images go, the
 * incoming node and everything it describes stay as they came, for a
 * later load.
 */
static void khup_prepare_undo(struct khup_task_in *in, u32 n)
{
	struct khup_image *img, *tmp;
	u32 i;

	for (i = 0; i < n; i++)
		khup_task_in_undo(&in[i]);
	list_for_each_entry_safe(img, tmp, &khup_images, node)
		if (img->state == KHUP_STATE_RESTORED)
			khup_image_release(img);
}

/*
 * At module load after a KHO kexec, under khup_lock: validate the node,
 * restore every held folio, and seal the images again so a further kexec
 * carries them too. Whatever cannot be validated is left alone (reserved,
 * not touched), and the module stays loadable.
 *
 * In two steps: first everything is read and checked, and everything the
 * restore needs is allocated, taking nothing over; a failure there (out
 * of memory) undoes it and returns the error, so the load fails and a
 * later one finds the node as it came. Then the node is claimed and the
 * folios taken over, which cannot fail for want of memory. Only sealing
 * the images again and publishing may fail after that: the images are
 * restored all the same, and are not handed over further.
 */
int khup_restore_all(void)
{
	u64 start = ktime_get_ns();
	struct khup_task_in *in = NULL;
	struct khup_image *img;
	const char *compat;
	phys_addr_t phys;
	size_t size;
	void *fdt;
	int err, root, node;
	u32 n = 0, i;
	bool v1, blocks;

	lockdep_assert_held(&khup_lock);
	err = kho_retrieve_subtree(KHUP_KHO_NODE, &phys, &size);
	if (err == -ENOENT)
		return 0;
	if (err) {
		pr_err("cannot retrieve KHO node '%s': %d\n", KHUP_KHO_NODE,
		       err);
		return 0;
	}
	fdt = phys_to_virt(phys);
	if (khup_fdt_check(fdt, size)) {
		pr_err("KHO node '%s' (%zu bytes) is not a valid FDT; nothing restored\n",
		       KHUP_KHO_NODE, size);
		return 0;
	}
	root = khup_fdt_root(fdt);
	compat = khup_fdt_prop_str(fdt, root, "compatible");
	if (compat && !strcmp(compat, KHUP_CLAIMED)) {
		pr_info("KHO node '%s' was already taken over earlier in this boot\n",
			KHUP_KHO_NODE);
		khup_take_next_id(fdt, root);
		return 0;
	}
	v1 = compat && !strcmp(compat, KHUP_COMPATIBLE_V1);
	blocks = compat && !strcmp(compat, KHUP_COMPATIBLE);
	if (!compat || (!v1 && !blocks && strcmp(compat, KHUP_COMPATIBLE_V2))) {
		pr_err("KHO node '%s' has unknown compatible \"%s\" (want \"%s\", \"%s\" or \"%s\"); nothing restored\n",
		       KHUP_KHO_NODE, compat ? compat : "(none)",
		       KHUP_COMPATIBLE, KHUP_COMPATIBLE_V2, KHUP_COMPATIBLE_V1);
		return 0;
	}
	if (!khup_node_crc_ok(fdt, root)) {
		pr_err("KHO node '%s' fails its checksum; nothing restored\n",
		       KHUP_KHO_NODE);
		return 0;
	}
	/* "khup-v3": the pages of the runs handed over as blocks. */
	err = blocks ? khup_blocks_in_prepare(fdt, root) : 0;
	if (err == -EINVAL)
		return 0;
	if (err) {
		pr_err("cannot restore the KHO node (%d); nothing taken over, a later load tries again\n",
		       err);
		return err;
	}

	i = khup_count_tasks(fdt, root);
	if (i) {
		in = khup_fault("restore-tasks") ? NULL :
		     kvcalloc(i, sizeof(*in), GFP_KERNEL);
		err = in ? 0 : -ENOMEM;
	}
	for (node = khup_fdt_first_child(fdt, root); !err && node >= 0;
	     node = khup_fdt_next_sibling(fdt, node)) {
		if (strncmp(khup_fdt_name(fdt, node), "image-", 6)) {
			pr_warn("unknown node %s ignored\n",
				khup_fdt_name(fdt, node));
			continue;
		}
		err = khup_prepare_image(fdt, node, v1, in, &n);
	}
	/*
	 * The node is ours. Its memory is kept for the rest of this boot and
	 * its compatible overwritten, so a later load of the module (after
	 * rmmod) sees that everything was taken over already instead of
	 * restoring the same folios twice.
	 */
	if (!err && !kho_restore_folio(phys)) {
		pr_err("KHO node '%s' is not in preserved memory; nothing restored\n",
		       KHUP_KHO_NODE);
		khup_prepare_undo(in, n);
		khup_blocks_in_undo();
		kvfree(in);
		return 0;
	}
	if (err) {
		khup_prepare_undo(in, n);
		khup_blocks_in_undo();
		kvfree(in);
		pr_err("cannot restore the KHO node (%d); nothing taken over, a later load tries again\n",
		       err);
		return err;
	}

	/* The point of no return. */
	memcpy((char *)compat, KHUP_CLAIMED, sizeof(KHUP_CLAIMED));
	khup_take_next_id(fdt, root);
	khup_blocks_in_restore();
	for (i = 0; i < n; i++)
		khup_restore_task(&in[i], v1);
	khup_blocks_in_finish();
	kvfree(in);
	list_for_each_entry(img, &khup_images, node) {
		if (img->state != KHUP_STATE_RESTORED)
			continue;
		khup_note_id(img->id);
		pr_info("restored image %llu '%s': %u tasks, %llu pages\n",
			img->id, img->name, img->nr_tasks,
			khup_image_pages(img));
		err = khup_fault("restore-seal") ? -ENOMEM : khup_seal(img);
		if (err)
			pr_err("image %llu: cannot preserve again (%d); it will not survive the next kexec\n",
			       img->id, err);
		khup_notify(img, KHUP_EVENT_RESTORED);
	}
	khup_publish();
	atomic64_add(ktime_get_ns() - start, &khup_stats.restore_ns);
	return 0;
}
