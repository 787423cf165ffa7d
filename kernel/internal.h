/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * khup internal interfaces shared by the module's files.
 *
 * Locking: one mutex, khup_lock, serialises every change to images, tasks,
 * the folio table and the KHO node. The operations are rare (checkpoint,
 * kexec, restore) and long, so a single lock keeps the invariants simple:
 *
 *  - a page is "held" by an image while its bit in task->present is set;
 *    before kexec a held page carries one FOLL_PIN pin, or is a private
 *    snapshot copy the module owns (a page others could still write, see
 *    pin.c); after kexec its folio is owned (restored) by the module;
 *  - every held page but the zero page counts in khup_stats.held (the
 *    max_pinned_pages cap), and, if the image has a charged user, in that
 *    user's locked_vm (RLIMIT_MEMLOCK): dropping the page uncharges it;
 *  - the folio table (image.c) maps a folio's head pfn to its counts,
 *    packed in an xarray value entry (no allocation per folio): refs
 *    counts the held pages of a folio the module owns (restored after
 *    kexec, or a snapshot copy taken at pin), sealed_refs held pages in
 *    sealed images; a pinned folio has an entry only while a sealed image
 *    holds it (its pins hold it), so a drop unpins a page whose folio has
 *    no owned entry and frees an owned folio with its last reference;
 *  - a folio is KHO-preserved exactly while sealed_refs > 0, so every
 *    preserved folio appears in a published extent table and nothing the
 *    next kernel restores was freed here;
 *  - a held page whose bit is set in task->consumed was read and punched
 *    by the image's claim (claim.c): it stays held until the claim commits
 *    and is readable again if the claim ends without committing;
 *  - a page whose bit is set in task->lost is not held and can never be
 *    read again (not claimed after kexec, or reclaimed while consumed).
 */
#ifndef KHUP_INTERNAL_H
#define KHUP_INTERNAL_H

#include <linux/bits.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/siphash.h>
#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/kho/abi/kexec_handover.h>
#include <linux/khup.h>

#include "format.h"

struct folio;
struct khup_claim;
struct khup_exit_state;
struct pid;
struct user_struct;

struct khup_task {
	struct list_head node;
	pid_t pid;
	char comm[TASK_COMM_LEN];
	struct khup_ext *ext;	/* ordered by offset */
	u64 nr_ext;
	u64 cap_ext;
	u64 nr_pages;		/* size of the offset space */
	u8 *present;		/* one bit per page, see format.h */
	u64 cap_pages;
	u64 held;		/* bits set in present */
	void *tbl;		/* published extent table (vmalloc), preserved */
	u64 tbl_size;
	struct kho_vmalloc tbl_kv;	/* how KHO finds @tbl's pages */
	u8 *consumed;		/* allocated while the image is claimed */
	u64 nr_consumed;
	u8 *lost;		/* allocated at the first lost page */
	u64 nr_lost;
	struct pid *tgid;	/* pinned through ptrace (exit_writes.c) */
	struct khup_exit_state *exit_state;	/* saved at seal, per thread */
	unsigned int nr_exit_state;
};

struct khup_image {
	struct list_head node;
	struct kref ref;	/* the image list and every read-back fd */
	u64 id;
	char name[KHUP_NAME_LEN];
	kuid_t owner;
	u32 state;		/* enum khup_image_state */
	bool dead;		/* released; only fds still refer to it */
	bool sealed;		/* folios preserved, tables published */
	u64 created_ns;
	u64 kexec_count;
	char release[KHUP_RELEASE_LEN];
	struct list_head tasks;
	u32 nr_tasks;
	struct khup_claim *claim;	/* the restore holding the image */
	struct user_struct *user;	/* its held pages charged to; or NULL */
	siphash_key_t digest_key;	/* KHUP_IOC_TASKS digests; in the node */
};

/* The largest count the folio table holds (31 bits each). */
#define KHUP_KF_REF_MAX		(BIT(31) - 1)

/* What the folio table (image.c) records of a folio, unpacked. */
struct khup_folio {
	unsigned long pfn;	/* head pfn */
	u32 refs;		/* held pages, of an owned folio */
	u32 sealed_refs;	/* held pages in sealed images */
	bool owned;		/* restored after kexec: we hold its reference */
};

struct khup_stats {
	atomic64_t pinned;
	atomic64_t preserved;
	atomic64_t restored;
	atomic64_t freed;
	atomic64_t cma_migrated;
	atomic64_t prepared;
	atomic64_t prepare_migrated;
	atomic64_t prepare_ns;
	atomic64_t kmem_bytes;	/* ext arrays, bitmaps, extent tables */
	atomic64_t pin_ns;
	atomic64_t seal_ns;
	atomic64_t restore_ns;
	atomic64_t read_bytes;
	atomic64_t read_ns;
	atomic64_t consumed;
	atomic64_t commit_ns;
	atomic64_t held;	/* held pages now (not the zero page) */
	atomic64_t charged;	/* of those, charged to RLIMIT_MEMLOCK */
	atomic64_t snapshot;	/* pages copied because others could write */
	atomic64_t snapshot_ns;
};

extern struct mutex khup_lock;
extern struct list_head khup_images;
extern struct khup_stats khup_stats;
extern bool khup_frozen;
extern unsigned long khup_max_pinned_pages;
/* Testing-only module parameters: in test builds only (KHUP_TEST_HOOKS). */
#ifdef KHUP_TEST_HOOKS
extern int khup_debug_corrupt;
extern int khup_debug_lose_page;
bool khup_fault(const char *site);
#else
#define khup_debug_corrupt 0
/* A fault-injection point (debug_fail_nth); never fails in production. */
static inline bool khup_fault(const char *site)
{
	return false;
}
#endif

/* image.c */
struct khup_image *khup_image_new(const char *name, kuid_t owner, u64 id);
struct khup_image *khup_image_find(u64 id);
struct khup_image *khup_image_find_name(const char *name);
void khup_image_put(struct khup_image *img);
void khup_image_release(struct khup_image *img);
bool khup_image_may_access(const struct khup_image *img);
struct khup_task *khup_task_find(struct khup_image *img, pid_t pid);
u64 khup_task_digest(const struct khup_image *img, const struct khup_task *t);
struct khup_task *khup_task_new(struct khup_image *img, pid_t pid,
				const char *comm);
void khup_task_free(struct khup_image *img, struct khup_task *t);
int khup_task_reserve(struct khup_task *t, u64 more_pages);
int khup_task_add_run(struct khup_task *t, u64 va, struct page *page, u32 nr,
		      bool owned);
struct khup_ext *khup_task_ext_of(struct khup_task *t, u64 idx);
void khup_task_drop_page(struct khup_image *img, struct khup_task *t,
			 u64 idx);
void khup_task_truncate(struct khup_image *img, struct khup_task *t,
			u64 nr_pages, u64 nr_ext, u32 last_nr);
bool khup_folio_load(unsigned long pfn, struct khup_folio *kf);
int khup_folio_store(const struct khup_folio *kf);
void khup_folio_forget(unsigned long pfn);
int khup_folio_reserve(unsigned long pfn);
void khup_folio_unreserve(unsigned long pfn);
int khup_folio_own(unsigned long pfn, u32 nr);
int khup_folio_seal(struct folio *folio, u32 nr);
u32 khup_folio_seal_small(unsigned long pfn, const u8 *map, u64 first,
			  u32 nr, u64 *sealed, int *err);
void khup_folio_unseal(struct folio *folio, u32 nr);
void khup_folio_sealed_runs(void (*fn)(unsigned long pfn, unsigned long end,
				       void *arg), void *arg);
u64 khup_image_pages(const struct khup_image *img);
u64 khup_kmem_bytes(void);
u64 khup_next_id(void);
u64 khup_peek_next_id(void);
void khup_note_id(u64 id);
int khup_images_count(void);
int khup_charge(struct user_struct *user, bool limit, u64 nr);
void khup_uncharge(struct user_struct *user, u64 nr);

/*
 * What a handler leaves for khup_ioctl_dispatch(), which copies the
 * ioctl's output to the caller afterwards: a new fd to install once that
 * copy worked, or what to undo if it failed (an image created, pages
 * pinned), so that a failed ioctl never changed anything.
 */
struct khup_ret {
	int fd;
	struct file *file;
	u64 undo_id;		/* CREATE: the new image; PIN: the image */
	pid_t undo_tgid;	/* PIN: the task, its size before the call */
	u64 undo_pages;
	u64 undo_ext;
	u32 undo_last;
	u64 undo_pinned;	/* PIN: pages pinned by the call, 0: nothing */
	bool undo_new_task;
};

/* claim.c */
long khup_ioctl_claim(struct khup_claim_op *arg, struct khup_ret *nf);
void khup_claim_hold(struct khup_claim *c);
void khup_claim_put(struct khup_claim *c);
bool khup_claim_active(const struct khup_claim *c);
struct khup_image *khup_claim_image(const struct khup_claim *c);
pid_t khup_claim_owner(const struct khup_claim *c);
u64 khup_consume(struct khup_task *t, u64 first, u64 end);
int khup_mark_lost(struct khup_task *t, u64 idx);
u64 khup_image_lost(const struct khup_image *img);
u64 khup_image_consumed(const struct khup_image *img);
int khup_shrinker_init(void);
void khup_shrinker_exit(void);

/* main.c */
long khup_release_locked(u64 id);
struct khup_image *khup_image_for_change(u64 id);
long khup_ioctl_dispatch(unsigned int cmd, void __user *ubuf,
			 struct khup_claim *claim);

/* exit_writes.c */
void khup_exit_writes_note(struct khup_task *t, struct task_struct *task);
int khup_exit_writes_detach(struct khup_image *img);
void khup_exit_writes_reattach(struct khup_image *img);
void khup_exit_writes_forget(struct khup_task *t);

/* pin.c */
long khup_ioctl_pin(struct khup_pin *arg, struct khup_ret *ret);
void khup_pin_undo(const struct khup_ret *ret);
long khup_ioctl_prepare(struct khup_prepare *arg);

/* readback.c */
long khup_ioctl_open_pages(struct khup_open_pages *arg,
			   struct khup_claim *claim, struct khup_ret *nf);
long khup_ioctl_restore_self(struct khup_restore_self *arg);

/* kho.c */
int khup_seal(struct khup_image *img);
void khup_unseal(struct khup_image *img);
int khup_publish(void);
void khup_freeze_node(bool kexec);
int khup_restore_all(void);
void khup_kho_exit(void);
void khup_free_table(struct khup_task *t);
const void *khup_in_mem(phys_addr_t phys, u64 size);
int khup_kv_copy(const struct kho_vmalloc *kv, void *dst, u64 size);
int khup_kv_free(const struct kho_vmalloc *kv);

/* blocks.c */
extern bool khup_blocks_enabled;
void khup_blocks_freeze(struct kho_vmalloc *kv);
int khup_blocks_in_prepare(const void *fdt, int root);
void khup_blocks_in_undo(void);
void khup_blocks_in_restore(void);
struct folio *khup_blocks_in_take(unsigned long head, u32 order, bool *ours);
void khup_blocks_in_finish(void);

/* netlink.c */
int khup_netlink_init(void);
void khup_netlink_exit(void);
void khup_notify(struct khup_image *img, u32 event);

#endif /* KHUP_INTERNAL_H */
