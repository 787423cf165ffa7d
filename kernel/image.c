// SPDX-License-Identifier: GPL-2.0-only
/*
 * Images, their tasks' offset spaces, and the folio table.
 *
 * All functions here are called with khup_lock held.
 */
#include <linux/bitfield.h>
#include <linux/cred.h>
#include <linux/capability.h>
#include <linux/kexec_handover.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/random.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/utsname.h>
#include <linux/xarray.h>

#include "internal.h"

/* Serialises all image, folio table and KHO node changes (internal.h). */
DEFINE_MUTEX(khup_lock);
LIST_HEAD(khup_images);
struct khup_stats khup_stats;

/*
 * Head pfn -> what khup knows of every folio it owns (restored after
 * kexec) or that a sealed image holds, packed into an xarray value entry
 * so that a folio costs no allocation of its own (only the xarray's
 * nodes: a few bytes per folio when pfns are dense): bit 0 owned, bits
 * 1..31 sealed references, bits 32..62 held references of an owned folio.
 * A pinned folio of open images only has no entry: its pins hold it.
 */
static DEFINE_XARRAY(khup_folios);

#define KHUP_KF_OWNED		BIT(0)
#define KHUP_KF_SEALED		GENMASK(31, 1)
#define KHUP_KF_REFS		GENMASK(62, 32)
static u64 khup_last_id;
static int khup_nr_images;

u64 khup_next_id(void)
{
	return ++khup_last_id;
}

/* The id the next image will get. */
u64 khup_peek_next_id(void)
{
	return khup_last_id + 1;
}

/* Ids that came over a kexec must never be handed out again. */
void khup_note_id(u64 id)
{
	if (id > khup_last_id)
		khup_last_id = id;
}

int khup_images_count(void)
{
	return khup_nr_images;
}

/*
 * Charges @nr held pages: to the module-wide cap (max_pinned_pages, ENOSPC
 * beyond it) and, if @user is set, to that user's locked_vm, as io_uring
 * and RDMA charge their long-term pins; with @limit, beyond the caller's
 * RLIMIT_MEMLOCK is ENOMEM. The pins outlive the process that made them,
 * so they are charged to a user, not to an mm. Nothing is charged on
 * error. Under khup_lock (the cap's counter changes only under it).
 */
int khup_charge(struct user_struct *user, bool limit, u64 nr)
{
	unsigned long lim = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	long cur, new;

	lockdep_assert_held(&khup_lock);
	if (!nr)
		return 0;
	if (khup_max_pinned_pages &&
	    atomic64_read(&khup_stats.held) + nr > khup_max_pinned_pages)
		return -ENOSPC;
	if (user) {
		/* locked_vm is shared with io_uring: no lock, a cmpxchg. */
		cur = atomic_long_read(&user->locked_vm);
		do {
			new = cur + nr;
			if (limit && new > lim)
				return -ENOMEM;
		} while (!atomic_long_try_cmpxchg(&user->locked_vm, &cur, new));
		atomic64_add(nr, &khup_stats.charged);
	}
	atomic64_add(nr, &khup_stats.held);
	return 0;
}

void khup_uncharge(struct user_struct *user, u64 nr)
{
	if (!nr)
		return;
	if (user) {
		atomic_long_sub(nr, &user->locked_vm);
		atomic64_sub(nr, &khup_stats.charged);
	}
	atomic64_sub(nr, &khup_stats.held);
}

struct khup_image *khup_image_new(const char *name, kuid_t owner, u64 id)
{
	struct khup_image *img;

	if (khup_nr_images >= KHUP_MAX_IMAGES)
		return ERR_PTR(-ENOSPC);
	if (khup_image_find_name(name))
		return ERR_PTR(-EEXIST);
	img = kzalloc_obj(*img);
	if (!img)
		return ERR_PTR(-ENOMEM);
	kref_init(&img->ref);
	INIT_LIST_HEAD(&img->tasks);
	strscpy(img->name, name, sizeof(img->name));
	img->owner = owner;
	img->id = id;
	img->state = KHUP_STATE_OPEN;
	get_random_bytes(&img->digest_key, sizeof(img->digest_key));
	img->created_ns = ktime_get_real_ns();
	strscpy(img->release, utsname()->release, sizeof(img->release));
	list_add_tail(&img->node, &khup_images);
	/*
	 * Held images pin the module: its exit cannot fail, and unloading
	 * would strand pinned or preserved pages. rmmod gets EBUSY.
	 */
	if (!khup_nr_images++)
		__module_get(THIS_MODULE);
	return img;
}

struct khup_image *khup_image_find(u64 id)
{
	struct khup_image *img;

	list_for_each_entry(img, &khup_images, node)
		if (img->id == id)
			return img;
	return NULL;
}

struct khup_image *khup_image_find_name(const char *name)
{
	struct khup_image *img;

	list_for_each_entry(img, &khup_images, node)
		if (!strcmp(img->name, name))
			return img;
	return NULL;
}

static void khup_image_free(struct kref *ref)
{
	kfree(container_of(ref, struct khup_image, ref));
}

void khup_image_put(struct khup_image *img)
{
	kref_put(&img->ref, khup_image_free);
}

/*
 * Its owner or CAP_SYS_ADMIN; and always CAP_CHECKPOINT_RESTORE or
 * CAP_SYS_ADMIN: the owner is a bare uid, carried over the kexec, that may
 * name someone else in the new kernel.
 */
bool khup_image_may_access(const struct khup_image *img)
{
	if (capable(CAP_SYS_ADMIN))
		return true;
	return capable(CAP_CHECKPOINT_RESTORE) &&
	       uid_eq(img->owner, current_euid());
}

u64 khup_image_pages(const struct khup_image *img)
{
	const struct khup_task *t;
	u64 n = 0;

	list_for_each_entry(t, &img->tasks, node)
		n += t->held;
	return n;
}

/*
 * The module's own kernel memory for the held images: tasks, extent
 * arrays, page bitmaps and the published extent tables. The folio table
 * stores its counts in xarray value entries; its xarray nodes (576 bytes
 * per 64 slots) are not counted. Called under khup_lock.
 */
u64 khup_kmem_bytes(void)
{
	const struct khup_image *img;
	const struct khup_task *t;
	u64 n = 0;

	list_for_each_entry(img, &khup_images, node) {
		n += sizeof(*img);
		list_for_each_entry(t, &img->tasks, node) {
			n += sizeof(*t) + t->cap_ext * sizeof(*t->ext);
			n += t->cap_pages / 8 * (1 + !!t->consumed + !!t->lost);
			n += PAGE_ALIGN(t->tbl_size);
		}
	}
	return n;
}

/*
 * The task's extent digest (KHUP_IOC_TASKS): SipHash-2-4 chained over its
 * pid and extents with the image's key. Equal while the extents are;
 * reveals nothing of the pfns without the key, which only the kernel
 * (and the KHO node) has.
 */
u64 khup_task_digest(const struct khup_image *img, const struct khup_task *t)
{
	const siphash_key_t *key = &img->digest_key;
	u64 h = siphash_2u64((u32)t->pid, t->nr_ext, key), i;

	for (i = 0; i < t->nr_ext; i++) {
		const struct khup_ext *e = &t->ext[i];

		h = siphash_4u64(h, e->va, e->pfn,
				 (u64)e->nr | (u64)e->order << 32 |
				 (u64)e->flags << 40, key);
		if (!(i % 4096))
			cond_resched();
	}
	return h;
}

struct khup_task *khup_task_find(struct khup_image *img, pid_t pid)
{
	struct khup_task *t;

	list_for_each_entry(t, &img->tasks, node)
		if (t->pid == pid)
			return t;
	return NULL;
}

struct khup_task *khup_task_new(struct khup_image *img, pid_t pid,
				const char *comm)
{
	struct khup_task *t;

	if (img->nr_tasks >= KHUP_MAX_TASKS)
		return ERR_PTR(-ENOSPC);
	t = kzalloc_obj(*t);
	if (!t)
		return ERR_PTR(-ENOMEM);
	t->pid = pid;
	strscpy(t->comm, comm, sizeof(t->comm));
	list_add_tail(&t->node, &img->tasks);
	img->nr_tasks++;
	return t;
}

/* Drops every held page, the published table and the task itself. */
void khup_task_free(struct khup_image *img, struct khup_task *t)
{
	u64 i;

	for (i = 0; i < t->nr_pages; i++) {
		khup_task_drop_page(img, t, i);
		if (!(i % 4096))
			cond_resched();
	}
	khup_exit_writes_forget(t);
	kvfree(t->consumed);
	kvfree(t->lost);
	khup_free_table(t);
	list_del(&t->node);
	img->nr_tasks--;
	kvfree(t->ext);
	kvfree(t->present);
	kfree(t);
}

/* Grows the bitmap so @more_pages more pages fit; nothing else changes. */
int khup_task_reserve(struct khup_task *t, u64 more_pages)
{
	u64 need, cap;
	u8 *map;

	if (more_pages > U32_MAX || t->nr_pages + more_pages > U32_MAX)
		return -ENOSPC;
	need = t->nr_pages + more_pages;
	if (need <= t->cap_pages)
		return 0;
	cap = max3(need, t->cap_pages * 2, 512ULL);
	cap = min_t(u64, round_up(cap, 64), (u64)U32_MAX + 1);
	map = kvrealloc(t->present, cap / 8, GFP_KERNEL | __GFP_ZERO);
	if (!map)
		return -ENOMEM;
	/* kvrealloc() zeroes only when it has to copy; be explicit. */
	memset(map + t->cap_pages / 8, 0, (cap - t->cap_pages) / 8);
	t->present = map;
	t->cap_pages = cap;
	return 0;
}

/* Unpacks the entry of the folio at head pfn @pfn; false if none. */
bool khup_folio_load(unsigned long pfn, struct khup_folio *kf)
{
	void *entry = xa_load(&khup_folios, pfn);
	unsigned long v;

	if (!entry)
		return false;
	v = xa_to_value(entry);
	kf->pfn = pfn;
	kf->owned = v & KHUP_KF_OWNED;
	kf->sealed_refs = FIELD_GET(KHUP_KF_SEALED, v);
	kf->refs = FIELD_GET(KHUP_KF_REFS, v);
	return true;
}

/*
 * Stores @kf; replacing an entry never allocates, a new one may fail with
 * ENOMEM.
 */
int khup_folio_store(const struct khup_folio *kf)
{
	unsigned long v = (kf->owned ? KHUP_KF_OWNED : 0) |
			  FIELD_PREP(KHUP_KF_SEALED, (unsigned long)kf->sealed_refs) |
			  FIELD_PREP(KHUP_KF_REFS, (unsigned long)kf->refs);

	return xa_err(xa_store(&khup_folios, kf->pfn, xa_mk_value(v),
			       GFP_KERNEL));
}

void khup_folio_forget(unsigned long pfn)
{
	xa_erase(&khup_folios, pfn);
}

/*
 * Reserves the slot of a folio about to be stored (the restore after
 * kexec, which must not fail for want of memory half-way): storing into
 * it never allocates. khup_folio_unreserve() drops a slot still unused.
 */
int khup_folio_reserve(unsigned long pfn)
{
	return xa_reserve(&khup_folios, pfn, GFP_KERNEL);
}

void khup_folio_unreserve(unsigned long pfn)
{
	xa_release(&khup_folios, pfn);
}

/*
 * @nr more held pages of the folio at head pfn @pfn, which the module
 * owns (a restored folio, or a snapshot copy): the table keeps its count,
 * and its last drop frees it. On error nothing changed.
 */
int khup_folio_own(unsigned long pfn, u32 nr)
{
	struct khup_folio kf;

	if (!khup_folio_load(pfn, &kf))
		kf = (struct khup_folio){ .pfn = pfn };
	if (kf.refs > KHUP_KF_REF_MAX - nr)
		return -EOVERFLOW;
	kf.owned = true;
	kf.refs += nr;
	return khup_folio_store(&kf);
}

/*
 * Appends @nr pages at the end of the task's offset space: @page and the
 * pages after it, all of one folio (or all the zero page), mapped at @va
 * onwards. A pinned folio gets no folio-table entry here, only when an
 * image holding it is sealed (khup_folio_seal()): its pins are its
 * references, so the pin costs no table update at all. An @owned page (a
 * snapshot copy the module allocated, pin.c) is entered now, owned, since
 * only the table tells its drop to free it rather than unpin it. The
 * caller has reserved the bitmap; on error nothing changed and the caller
 * still owns its pins (or the copy).
 */
int khup_task_add_run(struct khup_task *t, u64 va, struct page *page, u32 nr,
		      bool owned)
{
	bool zero = is_zero_page(page);
	u64 pfn = zero ? 0 : page_to_pfn(page);
	u8 order = zero ? 0 : folio_order(page_folio(page));
	u8 flags = zero ? KHUP_EXT_F_ZERO : 0;
	struct khup_ext *last = t->nr_ext ? &t->ext[t->nr_ext - 1] : NULL;
	bool extend;
	int err;

	if (WARN_ON_ONCE(!nr || t->nr_pages + nr > t->cap_pages))
		return -ENOMEM;
	extend = last && last->flags == flags && last->order == order &&
		 last->nr <= U32_MAX - nr &&
		 last->va + ((u64)last->nr << PAGE_SHIFT) == va &&
		 (zero || last->pfn + last->nr == pfn);
	if (!extend && t->nr_ext == t->cap_ext) {
		u64 cap = max(t->cap_ext * 2, 64ULL);
		struct khup_ext *ext;

		ext = kvrealloc(t->ext, array_size(cap, sizeof(*ext)),
				GFP_KERNEL);
		if (!ext)
			return -ENOMEM;
		t->ext = ext;
		t->cap_ext = cap;
		last = t->nr_ext ? &t->ext[t->nr_ext - 1] : NULL;
	}
	if (owned && !zero) {
		err = khup_folio_own(folio_pfn(page_folio(page)), nr);
		if (err)
			return err;
	}

	if (extend) {
		last->nr += nr;
	} else {
		struct khup_ext *e = &t->ext[t->nr_ext++];

		e->va = va;
		e->pfn = pfn;
		e->first = t->nr_pages;
		e->nr = nr;
		e->order = order;
		e->flags = flags;
	}
	khup_bits_set(t->present, t->nr_pages, nr);
	t->nr_pages += nr;
	t->held += nr;
	return 0;
}

/* The extent holding page @idx of the offset space (binary search). */
struct khup_ext *khup_task_ext_of(struct khup_task *t, u64 idx)
{
	u64 lo = 0, hi = t->nr_ext;

	while (lo < hi) {
		u64 mid = lo + (hi - lo) / 2;
		struct khup_ext *e = &t->ext[mid];

		if (idx < e->first)
			hi = mid;
		else if (idx >= e->first + e->nr)
			lo = mid + 1;
		else
			return e;
	}
	return NULL;
}

/*
 * Stops holding page @idx: withdraws its folio from KHO when this was the
 * last sealed reference, then unpins it (before kexec) or frees the folio
 * when no image holds any of its pages (after kexec). The published
 * table's bitmap is updated; the caller refreshes its CRC.
 */
void khup_task_drop_page(struct khup_image *img, struct khup_task *t,
			 u64 idx)
{
	struct khup_folio kf;
	struct khup_ext *e;
	struct folio *folio;
	struct page *page;

	if (idx >= t->nr_pages || !khup_bit_test(t->present, idx))
		return;
	e = khup_task_ext_of(t, idx);
	khup_bit_clear(t->present, idx);
	t->held--;
	if (t->tbl)
		khup_tbl_clear_page(t->tbl, idx);
	atomic64_inc(&khup_stats.freed);
	if (WARN_ON_ONCE(!e) || (e->flags & KHUP_EXT_F_ZERO))
		return;
	khup_uncharge(img->user, 1);

	page = pfn_to_page(e->pfn + (idx - e->first));
	folio = page_folio(page);
	if (img->sealed)
		khup_folio_unseal(folio, 1);
	if (!khup_folio_load(folio_pfn(folio), &kf) || !kf.owned) {
		/* Pinned: the pin is the page's reference. */
		unpin_user_page(page);
		return;
	}
	if (WARN_ON_ONCE(!kf.refs))
		return;
	kf.refs--;
	if (kf.refs) {
		/* Replaces the entry: cannot fail. */
		WARN_ON_ONCE(khup_folio_store(&kf));
		return;
	}
	khup_folio_forget(kf.pfn);
	folio_put(folio);
}

/* Undoes a failed pin call: drops pages from @nr_pages on, restores extents. */
void khup_task_truncate(struct khup_image *img, struct khup_task *t,
			u64 nr_pages, u64 nr_ext, u32 last_nr)
{
	u64 i;

	for (i = nr_pages; i < t->nr_pages; i++) {
		khup_task_drop_page(img, t, i);
		atomic64_dec(&khup_stats.freed);
	}
	t->nr_pages = nr_pages;
	t->nr_ext = nr_ext;
	if (nr_ext)
		t->ext[nr_ext - 1].nr = last_nr;
}

/*
 * @nr more sealed pages in @folio: preserve it with KHO on the first. One
 * walk of the folio table loads and stores the entry (created here for a
 * pinned folio). On error nothing changed.
 */
int khup_folio_seal(struct folio *folio, u32 nr)
{
	XA_STATE(xas, &khup_folios, folio_pfn(folio));
	unsigned long old;
	void *entry;
	int err;

	do {
		xas_lock(&xas);
		entry = xas_load(&xas);
		old = entry ? xa_to_value(entry) : 0;
		if (FIELD_GET(KHUP_KF_SEALED, old) > KHUP_KF_REF_MAX - nr) {
			xas_unlock(&xas);
			return -EOVERFLOW;
		}
		/* No carry out of the field: checked just above. */
		xas_store(&xas, xa_mk_value(old +
				FIELD_PREP(KHUP_KF_SEALED, (unsigned long)nr)));
		xas_unlock(&xas);
	} while (xas_nomem(&xas, GFP_KERNEL));
	err = xas_error(&xas);
	if (err || FIELD_GET(KHUP_KF_SEALED, old))
		return err;
	err = kho_preserve_folio(folio);
	if (err) {
		/* Back as it was: replacing an entry cannot fail. */
		if (entry)
			xa_store(&khup_folios, folio_pfn(folio), entry,
				 GFP_KERNEL);
		else
			xa_erase(&khup_folios, folio_pfn(folio));
		return err;
	}
	atomic64_add(folio_nr_pages(folio), &khup_stats.preserved);
	return 0;
}

/* Takes back one sealed reference counted by khup_folio_seal_small(). */
static void khup_folio_seal_undo(unsigned long pfn)
{
	struct khup_folio kf;

	if (WARN_ON_ONCE(!khup_folio_load(pfn, &kf) || !kf.sealed_refs))
		return;
	if (!--kf.sealed_refs && !kf.owned)
		khup_folio_forget(pfn);
	else
		WARN_ON_ONCE(khup_folio_store(&kf));
}

/* Order-0 folios counted per hold of the folio table's lock. */
#define KHUP_SEAL_CHUNK	64

/*
 * khup_folio_seal() for each held page among the @nr pages from @pfn on
 * (bit @first of @map is the first one's), as long as each is a folio of
 * its own: consecutive pfns are counted in one walk of the folio table
 * per KHUP_SEAL_CHUNK pages, under one hold of its lock, and the folios
 * sealed for the first time are then preserved. Returns how many pages
 * it went through (it stops before a large folio); *@sealed gets the
 * folios sealed, which are the first *@sealed held pages: on error
 * (*@err) the others are as they were.
 */
u32 khup_folio_seal_small(unsigned long pfn, const u8 *map, u64 first,
			  u32 nr, u64 *sealed, int *err)
{
	XA_STATE(xas, &khup_folios, pfn);
	u64 fresh, counted = 0, preserved = 0;
	u32 k = 0, c, b, end;
	bool overflow = false;
	unsigned long old;
	void *entry;

	*err = 0;
	*sealed = 0;
	while (k < nr) {
		c = k;
		end = min(nr, c + KHUP_SEAL_CHUNK);
		fresh = 0;
		xas_lock(&xas);
		xas_set(&xas, pfn + k);
		entry = xas_load(&xas);
		for (; k < end; k++) {
			if (k > c)
				entry = xas_next(&xas);
			if (folio_test_large(page_folio(pfn_to_page(pfn + k))))
				break;
			if (!khup_bit_test(map, first + k))
				continue;
			old = entry ? xa_to_value(entry) : 0;
			if (FIELD_GET(KHUP_KF_SEALED, old) == KHUP_KF_REF_MAX) {
				overflow = true;
				break;
			}
			xas_store(&xas, xa_mk_value(old +
					FIELD_PREP(KHUP_KF_SEALED, 1UL)));
			if (xas_error(&xas))
				break;
			if (!FIELD_GET(KHUP_KF_SEALED, old))
				fresh |= BIT_ULL(k - c);
		}
		xas_unlock(&xas);
		for (b = c; b < k; b++) {
			if (!khup_bit_test(map, first + b))
				continue;
			if (fresh & BIT_ULL(b - c)) {
				*err = kho_preserve_folio(pfn_folio(pfn + b));
				if (*err)
					break;
				preserved++;
			}
			counted++;
		}
		if (*err) {
			/* Counted but not preserved: count them out again. */
			for (; b < k; b++)
				if (khup_bit_test(map, first + b))
					khup_folio_seal_undo(pfn + b);
			break;
		}
		if (overflow) {
			*err = -EOVERFLOW;
			break;
		}
		if (k < end && xas_error(&xas)) {
			/* A node of the table to allocate: retry page k. */
			if (!xas_nomem(&xas, GFP_KERNEL)) {
				*err = xas_error(&xas);
				break;
			}
			continue;
		}
		if (k < end)
			break;		/* a large folio: not ours */
		cond_resched();
	}
	xas_destroy(&xas);
	atomic64_add(preserved, &khup_stats.preserved);
	*sealed = counted;
	return k;
}

/*
 * @nr fewer sealed pages in @folio: withdrawn from KHO with the last; a
 * pinned folio then leaves the folio table.
 */
void khup_folio_unseal(struct folio *folio, u32 nr)
{
	struct khup_folio kf;

	if (WARN_ON_ONCE(!khup_folio_load(folio_pfn(folio), &kf) ||
			 kf.sealed_refs < nr))
		return;
	kf.sealed_refs -= nr;
	if (!kf.sealed_refs) {
		kho_unpreserve_folio(folio);
		atomic64_sub(folio_nr_pages(folio), &khup_stats.preserved);
		if (!kf.owned) {
			khup_folio_forget(kf.pfn);
			return;
		}
	}
	WARN_ON_ONCE(khup_folio_store(&kf));
}

/*
 * Calls @fn on every run [pfn, end) of consecutive pfns whose folios are
 * order 0 and sealed, in increasing pfn order. For the kexec (blocks.c),
 * when nothing changes any more.
 */
void khup_folio_sealed_runs(void (*fn)(unsigned long pfn, unsigned long end,
				       void *arg), void *arg)
{
	unsigned long pfn, start = 0, end = 0;
	void *entry;

	lockdep_assert_held(&khup_lock);
	xa_for_each(&khup_folios, pfn, entry) {
		if (!FIELD_GET(KHUP_KF_SEALED, xa_to_value(entry)) ||
		    folio_test_large(pfn_folio(pfn)))
			continue;
		if (pfn != end) {
			if (end)
				fn(start, end, arg);
			start = pfn;
		}
		end = pfn + 1;
	}
	if (end)
		fn(start, end, arg);
}

/*
 * Drops every page and table of @img and forgets it. The caller
 * republishes the KHO node afterwards.
 */
void khup_image_release(struct khup_image *img)
{
	struct khup_task *t, *tmp;

	list_for_each_entry_safe(t, tmp, &img->tasks, node)
		khup_task_free(img, t);
	img->sealed = false;
	img->dead = true;
	if (img->user) {
		free_uid(img->user);
		img->user = NULL;
	}
	list_del(&img->node);
	if (!--khup_nr_images)
		module_put(THIS_MODULE);
	khup_image_put(img);
}
