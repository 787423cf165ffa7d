// SPDX-License-Identifier: GPL-2.0-only
/*
 * Blocks: runs of sealed order-0 folios handed over as aligned
 * higher-order blocks.
 *
 * The next kernel's boot pays for every unit KHO preserved:
 * kho_memory_init() reserves each one as a memblock region of its own, a
 * scan of the reserved regions from the first (about 22 us of guest time
 * per unit in the benchmark, most of a 4 KiB-page upgrade's downtime).
 * Anonymous memory is mostly order-0 folios, but physically it comes in
 * long runs (about 270 pages on average in the benchmark). So at the
 * kexec, when nothing changes any more, each run is cut into aligned
 * blocks the way kho_preserve_pages() cuts it, each block is preserved as
 * one unit and its pages' own preservations are withdrawn, and the list
 * of blocks travels in the node ("khup,blocks"). The next kernel restores
 * each block with kho_restore_pages() and hands its pages to the tasks
 * that hold them, instead of a kho_restore_folio() per page.
 *
 * Nothing depends on it: a block that cannot be preserved keeps its pages
 * preserved one by one, and a run of one page is not a block.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kexec_handover.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "fdt.h"
#include "format.h"
#include "internal.h"

bool khup_blocks_enabled = true;
module_param_named(blocks, khup_blocks_enabled, bool, 0644);
MODULE_PARM_DESC(blocks,
		 "At kexec, hand runs of sealed 4 KiB pages over as blocks, which the next kernel boots and restores faster (default Y; N: every page on its own)");

/* ---- at the kexec ---- */

struct khup_blocks_out {
	void *list;		/* NULL: only count */
	u64 nr;			/* blocks made (or counted) */
	u64 pages;		/* pages in them */
};

/*
 * One block of a run: preserved as a whole, then its pages' own
 * preservations withdrawn. On error nothing changed.
 */
static int khup_block_preserve(unsigned long pfn, u32 order)
{
	unsigned long i;
	int err;

	err = khup_fault("freeze-block") ? -ENOMEM :
	      kho_preserve_pages(pfn_to_page(pfn), 1UL << order);
	if (err)
		return err;
	for (i = 0; i < 1UL << order; i++)
		kho_unpreserve_folio(pfn_folio(pfn + i));
	return 0;
}

/* Cuts the run [pfn, end) into blocks: counts them, or makes them. */
static void khup_blocks_cut(unsigned long pfn, unsigned long end, void *arg)
{
	struct khup_blocks_out *out = arg;
	u32 order;

	while (pfn < end) {
		order = khup_block_order(pfn, end, MAX_PAGE_ORDER);
		/* KHO restores a block on one NUMA node only. */
		while (order &&
		       pfn_to_nid(pfn) != pfn_to_nid(pfn + (1UL << order) - 1))
			order--;
		if (order && (!out->list || !khup_block_preserve(pfn, order))) {
			if (out->list)
				khup_blocks_put(out->list, out->nr, pfn, order);
			out->nr++;
			out->pages += 1UL << order;
		}
		pfn += 1UL << order;
	}
	cond_resched();
}

/*
 * At the kexec (the reboot notifier; khup_lock held and khup frozen):
 * hands the runs of sealed order-0 folios over as blocks, and fills in
 * @kv, the descriptor of the preserved block list, for the node. Leaves
 * @kv zeroed (no blocks: every page is preserved on its own, as before)
 * when there is no run or the list cannot be allocated or preserved.
 */
void khup_blocks_freeze(struct kho_vmalloc *kv)
{
	struct khup_blocks_out out = { };
	u64 size;
	int err;

	lockdep_assert_held(&khup_lock);
	memset(kv, 0, sizeof(*kv));
	khup_folio_sealed_runs(khup_blocks_cut, &out);
	if (!out.nr || khup_blocks_size(out.nr, &size))
		return;
	out.list = khup_fault("freeze-blocks") ? NULL : vzalloc(size);
	if (!out.list) {
		pr_warn("no memory for the list of %llu blocks; every page is handed over on its own\n",
			out.nr);
		return;
	}
	err = kho_preserve_vmalloc(out.list, kv);
	if (err) {
		pr_warn("cannot preserve the list of %llu blocks (%d); every page is handed over on its own\n",
			out.nr, err);
		memset(kv, 0, sizeof(*kv));
		vfree(out.list);
		return;
	}
	out.nr = 0;
	out.pages = 0;
	khup_folio_sealed_runs(khup_blocks_cut, &out);
	if (!out.nr) {
		/* No block could be preserved: no list either. */
		kho_unpreserve_vmalloc(kv);
		memset(kv, 0, sizeof(*kv));
		vfree(out.list);
		return;
	}
	khup_blocks_finish(out.list, out.nr);
	if (khup_debug_corrupt == 5) {
		/* Debug only: an entry changed after the list's checksum. */
		((u8 *)out.list)[KHUP_BLOCKS_HDR_SIZE] ^= 0x40;
		pr_warn("debug_corrupt: changed the block list after its checksum\n");
	}
	pr_info("%llu pages handed over in %llu blocks\n", out.pages, out.nr);
	/* The list stays allocated: the next kernel frees it. */
}

/* ---- after the kexec ---- */

/*
 * The incoming blocks, from the node's check at module load until every
 * task took its pages (khup_restore_all(), under khup_lock).
 */
static struct {
	struct kho_vmalloc kv;	/* the list's preserved pages */
	u64 nr;
	u64 *pfn;		/* first pfn of each block, increasing */
	u64 *first;		/* index of its first page in @taken */
	u8 *order;
	unsigned long *taken;	/* a page handed to a task (or unusable) */
	u64 pages;
} khup_bin;

static void khup_blocks_in_free(void)
{
	kvfree(khup_bin.pfn);
	kvfree(khup_bin.first);
	kvfree(khup_bin.order);
	kvfree(khup_bin.taken);
	memset(&khup_bin, 0, sizeof(khup_bin));
}

/* Reads and checks the list; allocates what the restore needs. */
static int khup_blocks_in_read(const struct kho_vmalloc *kv, const char **why)
{
	u64 i, pfn, size = (u64)kv->total_pages << PAGE_SHIFT;
	void *list;
	u32 order;
	int err;

	if (kv->order > MAX_PAGE_ORDER || !kv->total_pages ||
	    kv->total_pages > totalram_pages()) {
		*why = "its descriptor is not valid";
		return -EINVAL;
	}
	list = khup_fault("restore-blocks") ? NULL : kvmalloc(size, GFP_KERNEL);
	if (!list)
		return -ENOMEM;
	err = -EINVAL;
	*why = "its pages are not memory";
	if (khup_kv_copy(kv, list, size) ||
	    khup_blocks_decode(list, size, MAX_PAGE_ORDER, &khup_bin.nr, why))
		goto out;
	err = -ENOMEM;
	khup_bin.pfn = kvmalloc_array(khup_bin.nr, sizeof(u64), GFP_KERNEL);
	khup_bin.first = kvmalloc_array(khup_bin.nr, sizeof(u64), GFP_KERNEL);
	khup_bin.order = kvmalloc(khup_bin.nr, GFP_KERNEL);
	if (!khup_bin.pfn || !khup_bin.first || !khup_bin.order)
		goto out;
	for (i = 0; i < khup_bin.nr; i++) {
		khup_blocks_get(list, i, &pfn, &order);
		if (!khup_in_mem(PFN_PHYS(pfn), PAGE_SIZE << order)) {
			*why = "a block is not memory";
			err = -EINVAL;
			goto out;
		}
		khup_bin.pfn[i] = pfn;
		khup_bin.order[i] = order;
		khup_bin.first[i] = khup_bin.pages;
		khup_bin.pages += 1UL << order;
	}
	khup_bin.taken = kvcalloc(BITS_TO_LONGS(khup_bin.pages),
				  sizeof(unsigned long), GFP_KERNEL);
	err = khup_bin.taken ? 0 : -ENOMEM;
out:
	kvfree(list);
	return err;
}

/*
 * Before anything is taken over: reads the node's block list, if it has
 * one, and allocates what handing its pages out needs. -EINVAL (the
 * reason logged): the node cannot be restored (pages in blocks cannot be
 * told from other KHO users' without the list); -ENOMEM: try again later.
 * Either way nothing is left to undo.
 */
int khup_blocks_in_prepare(const void *fdt, int root)
{
	struct kho_vmalloc kv;
	const char *why;
	const void *p;
	u32 len;
	int err;

	memset(&khup_bin, 0, sizeof(khup_bin));
	p = khup_fdt_prop(fdt, root, "khup,blocks", &len);
	if (!p || len != sizeof(kv)) {
		pr_err("KHO node '%s' has no valid khup,blocks; nothing restored\n",
		       KHUP_KHO_NODE);
		return -EINVAL;
	}
	memcpy(&kv, p, sizeof(kv));
	if (!memchr_inv(&kv, 0, sizeof(kv)))
		return 0;
	err = khup_blocks_in_read(&kv, &why);
	if (err) {
		if (err == -EINVAL)
			pr_err("KHO node '%s': its block list is refused, %s; nothing restored\n",
			       KHUP_KHO_NODE, why);
		khup_blocks_in_free();
		return err;
	}
	khup_bin.kv = kv;
	return 0;
}

/* Undoes khup_blocks_in_prepare() before the point of no return. */
void khup_blocks_in_undo(void)
{
	khup_blocks_in_free();
}

/*
 * After the point of no return: takes every block over. A block KHO does
 * not have (it warns) gives no page: the tasks' pages in it read as
 * errors.
 */
void khup_blocks_in_restore(void)
{
	u64 i, restored = 0;

	for (i = 0; i < khup_bin.nr; i++) {
		cond_resched();
		if (kho_restore_pages(PFN_PHYS(khup_bin.pfn[i]),
				      1UL << khup_bin.order[i])) {
			restored += 1UL << khup_bin.order[i];
			continue;
		}
		pr_err("block %llu of %llu (%lu pages) is not preserved; its pages are lost\n",
		       i, khup_bin.nr, 1UL << khup_bin.order[i]);
		bitmap_set(khup_bin.taken, khup_bin.first[i],
			   1UL << khup_bin.order[i]);
	}
	atomic64_add(restored, &khup_stats.restored);
}

/* The last block that starts at or before @pfn, or -1. */
static s64 khup_block_find(unsigned long pfn)
{
	u64 lo = 0, hi = khup_bin.nr, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (khup_bin.pfn[mid] <= pfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (s64)lo - 1;
}

/*
 * The folio of order @order at @head for a task, if a block has any of its
 * pages: *@ours says whether one does (then NULL means the page is lost:
 * its block was not restored, or it was handed out already, or a large
 * folio claims pages of a block). If not, the caller asks KHO for it.
 */
struct folio *khup_blocks_in_take(unsigned long head, u32 order, bool *ours)
{
	unsigned long last = head + (1UL << order) - 1;
	s64 b = khup_bin.nr ? khup_block_find(last) : -1;

	*ours = b >= 0 &&
		khup_bin.pfn[b] + (1UL << khup_bin.order[b]) > head;
	if (!*ours || order ||
	    test_and_set_bit(khup_bin.first[b] + head - khup_bin.pfn[b],
			     khup_bin.taken))
		return NULL;
	return pfn_folio(head);
}

/*
 * After every task took its pages: counts the restored block pages no
 * task took, and frees the list's preserved pages. Those pages belong to
 * tasks whose tables were refused; like a refused task's pages outside
 * blocks, they stay reserved (never freed, never reused) for the rest of
 * this boot: the data of a task that was not restored is not destroyed.
 */
void khup_blocks_in_finish(void)
{
	unsigned long i, idle = 0;

	for_each_clear_bit(i, khup_bin.taken, khup_bin.pages)
		idle++;
	if (idle)
		pr_warn("%lu pages of the handed-over blocks belong to no restored task; they stay reserved\n",
			idle);
	if (khup_bin.kv.total_pages && khup_kv_free(&khup_bin.kv))
		pr_warn("the block list's pages were not preserved\n");
	if (khup_bin.nr)
		pr_info("%llu pages restored in %llu blocks\n", khup_bin.pages,
			khup_bin.nr);
	khup_blocks_in_free();
}
