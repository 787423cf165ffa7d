// SPDX-License-Identifier: GPL-2.0-only
/*
 * KHUP_IOC_PIN: pin user ranges of the caller or of a task it traces.
 */
#include <linux/bitmap.h>
#include <linux/capability.h>
#include <linux/completion.h>
#include <linux/highmem.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/pid.h>
#include <linux/ptrace.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/sched/user.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uio.h>
#include <linux/vmstat.h>
#include <linux/workqueue.h>

#include "internal.h"
#include "trace.h"

/* Pages pinned per pin_user_pages_remote() call. */
#define KHUP_PIN_BATCH	512

/*
 * Remote pinning needs proof of PTRACE_MODE_ATTACH_REALCREDS access.
 * ptrace_may_access() is not exported to modules, so require the stronger
 * condition that the caller's thread group is the target's ptrace tracer:
 * ptrace attach (which CRIU does to every task it dumps) performed exactly
 * that check, LSM hooks included, and keeps the target stopped on request.
 */
static int khup_check_tracer(struct task_struct *task)
{
	struct task_struct *tracer;
	int err = -EPERM;

	rcu_read_lock();
	tracer = ptrace_parent(task);
	if (tracer && same_thread_group(tracer, current))
		err = 0;
	rcu_read_unlock();
	return err;
}

static int khup_cmp_iov(const void *a, const void *b)
{
	const struct iovec *x = a, *y = b;

	if (x->iov_base == y->iov_base)
		return 0;
	return x->iov_base < y->iov_base ? -1 : 1;
}

/*
 * Ranges must not overlap: each page is pinned once per PIN call (pinning
 * one page again and again would only grow its pin count). Sorts a copy.
 */
static int khup_check_overlap(const struct iovec *iov, u32 n)
{
	struct iovec *s;
	int err = 0;
	u32 i;

	if (n < 2)
		return 0;
	s = kmemdup_array(iov, n, sizeof(*iov), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	sort(s, n, sizeof(*s), khup_cmp_iov, NULL);
	for (i = 1; i < n && !err; i++)
		if ((unsigned long)s[i - 1].iov_base + s[i - 1].iov_len >
		    (unsigned long)s[i].iov_base)
			err = -EINVAL;
	kfree(s);
	return err;
}

static int khup_check_iovecs(const struct iovec *iov, u32 n, u64 *pages)
{
	u64 total = 0;
	u32 i;

	for (i = 0; i < n; i++) {
		unsigned long base = (unsigned long)iov[i].iov_base;
		unsigned long len = iov[i].iov_len;

		if (!len || !PAGE_ALIGNED(base) || !PAGE_ALIGNED(len))
			return -EINVAL;
		if (base + len < base || base + len > TASK_SIZE_MAX)
			return -EOVERFLOW;
		total += len >> PAGE_SHIFT;
		if (total > KHUP_MAX_PIN_PAGES)
			return -EOVERFLOW;
	}
	*pages = total;
	return khup_check_overlap(iov, n);
}

/*
 * The ranges of a PIN or PREPARE call from user memory, counted and
 * checked; ERR_PTR on bad input. The caller kfree()s them.
 */
static struct iovec *khup_get_iovecs(u64 uptr, u32 n, u64 *pages)
{
	struct iovec *iov;
	int err;

	if (!n || n > KHUP_MAX_IOVECS)
		return ERR_PTR(-EINVAL);
	iov = memdup_array_user(u64_to_user_ptr(uptr), n, sizeof(*iov));
	if (IS_ERR(iov))
		return iov;
	err = khup_check_iovecs(iov, n, pages);
	if (err) {
		kfree(iov);
		return ERR_PTR(err);
	}
	return iov;
}

/*
 * A traced, stopped task's pages are read as ptrace reads them
 * (access_process_vm): FOLL_FORCE, so that ranges without PROT_READ (data
 * behind PROT_NONE) can be handed over too. Never to write.
 */
static unsigned int khup_gup_flags(struct task_struct *task)
{
	return FOLL_LONGTERM |
	       (same_thread_group(task, current) ? 0 : FOLL_FORCE);
}

/*
 * The mm of @task if the caller may pin it: its own, or that of a task it
 * traces. As in mm_access(), under the task's exec_update_lock, so that a
 * tracee cannot exec a new (e.g. setuid) image between the check and the
 * mm: the mm returned is the one the check was made for.
 */
static struct mm_struct *khup_task_mm(struct task_struct *task)
{
	struct mm_struct *mm;
	int err;

	err = down_read_killable(&task->signal->exec_update_lock);
	if (err)
		return ERR_PTR(err);
	err = same_thread_group(task, current) ? 0 : khup_check_tracer(task);
	mm = err ? ERR_PTR(err) : get_task_mm(task);
	up_read(&task->signal->exec_update_lock);
	return mm ?: ERR_PTR(-ESRCH);
}

/* The task @nr names in the caller's pid namespace; 0 is the caller. */
static struct task_struct *khup_get_task(pid_t nr)
{
	struct task_struct *task;
	struct pid *pid;

	if (!nr)
		return get_task_struct(current);
	pid = find_get_pid(nr);
	task = pid ? get_pid_task(pid, PIDTYPE_PID) : NULL;
	put_pid(pid);
	return task ?: ERR_PTR(-ESRCH);
}

/*
 * Pages migrated so far, system-wide: the pin counts its migrations out of
 * CMA and ZONE_MOVABLE as the difference around it, without walking the
 * page tables a second time. Migrations elsewhere in that window are
 * counted too; during a dump the tasks are frozen, so there are few.
 */
static u64 khup_migrations(void)
{
#if defined(CONFIG_MIGRATION) && defined(CONFIG_VM_EVENT_COUNTERS)
	unsigned long *ev = kmalloc_array(NR_VM_EVENT_ITEMS, sizeof(*ev),
					  GFP_KERNEL);
	u64 n = 0;

	if (ev) {
		all_vm_events(ev);
		n = ev[PGMIGRATE_SUCCESS];
		kfree(ev);
	}
	return n;
#else
	return 0;
#endif
}

/*
 * Pins [addr, addr + nr pages) into @pages, batch by batch, without
 * khup_lock: GUP may fault, migrate and sleep for long. Runs with @mm as
 * the current mm (the caller's own, or a worker's: khup_pin_ranges()), so
 * that GUP-fast pins present pages by a lockless walk of each page table,
 * a whole PTE table or a huge PMD at a time, instead of a full walk and a
 * page-table lock per 4 KiB page. What it does not pin (pages in CMA or
 * ZONE_MOVABLE, which FOLL_LONGTERM migrates; pages to fault in or to
 * unshare) goes through the regular GUP; a page it refuses (a protection
 * key the worker's PKRU denies) is pinned as a remote access, which
 * protection keys do not restrict, like ptrace. Returns 0 or a negative
 * errno; on error the caller unpins the *@done pages already in @pages.
 */
static long khup_pin_range(struct mm_struct *mm, unsigned long addr,
			   unsigned long nr, unsigned int gup_flags,
			   struct page **pages, u64 *done,
			   struct task_struct *caller)
{
	while (nr) {
		unsigned long n = min_t(unsigned long, nr, KHUP_PIN_BATCH);
		struct page **batch = pages + *done;
		long got;

		if (__fatal_signal_pending(caller))
			return -EINTR;
		/*
		 * FOLL_LONGTERM migrates pages out of CMA and ZONE_MOVABLE
		 * before pinning: KHO scratch is CMA, and a preserved page
		 * inside it would be overwritten by the next kernel's boot.
		 */
		got = max(pin_user_pages_fast(addr, n, gup_flags, batch), 0);
		if (got < n) {
			int locked = 1;
			long more;

			if (mmap_read_lock_killable(mm)) {
				*done += got;
				return -EINTR;
			}
			more = pin_user_pages_remote(mm,
						     addr + (got << PAGE_SHIFT),
						     n - got, gup_flags,
						     batch + got, &locked);
			if (locked)
				mmap_read_unlock(mm);
			if (more > 0)
				got += more;
			*done += got;
			if (more < 0)
				return more;
			/* A short pin means the next page is not mapped. */
			if (got < n)
				return -EFAULT;
		} else {
			*done += got;
		}
		addr += n << PAGE_SHIFT;
		nr -= n;
		cond_resched();
	}
	return 0;
}

/* The ranges of one PIN call, pinned in a worker that uses the task's mm. */
struct khup_pin_job {
	struct work_struct work;
	struct completion done_c;
	struct mm_struct *mm;
	struct task_struct *caller;
	const struct iovec *iov;
	u32 nr_iovecs;
	unsigned int gup_flags;
	struct page **pages;
	u64 done;
	long err;
};

static void khup_pin_job_ranges(struct khup_pin_job *job)
{
	u32 i;

	for (i = 0; !job->err && i < job->nr_iovecs; i++)
		job->err = khup_pin_range(job->mm,
					  (unsigned long)job->iov[i].iov_base,
					  job->iov[i].iov_len >> PAGE_SHIFT,
					  job->gup_flags, job->pages,
					  &job->done, job->caller);
}

static void khup_pin_work(struct work_struct *work)
{
	struct khup_pin_job *job = container_of(work, struct khup_pin_job,
						work);

	kthread_use_mm(job->mm);
	khup_pin_job_ranges(job);
	kthread_unuse_mm(job->mm);
	complete(&job->done_c);
}

/*
 * Pins the ranges of @job. GUP-fast works on the current mm only, so
 * another task's ranges are pinned by a kernel worker that adopts its mm
 * for the time of the call (kthread_use_mm()); the caller waits, killably:
 * the worker stops at its next batch when the caller gets SIGKILL.
 */
static void khup_pin_ranges(struct khup_pin_job *job)
{
	if (job->mm == current->mm) {
		khup_pin_job_ranges(job);
		return;
	}
	INIT_WORK_ONSTACK(&job->work, khup_pin_work);
	init_completion(&job->done_c);
	queue_work(system_unbound_wq, &job->work);
	if (wait_for_completion_killable(&job->done_c))
		wait_for_completion(&job->done_c);
	destroy_work_on_stack(&job->work);
}

/*
 * How many of the (at most @max) pages at @pages continue the first one's
 * folio page by page (or, for the zero page, repeat it): a THP's pages
 * are added to the image as one run.
 */
static u32 khup_run_len(struct page **pages, unsigned long max)
{
	struct folio *folio = page_folio(pages[0]);
	u32 n = 1;

	if (is_zero_page(pages[0])) {
		while (n < max && n < U32_MAX && is_zero_page(pages[n]))
			n++;
		return n;
	}
	/* The pages of the folio from pages[0] on, at most. */
	max = min(max, folio_nr_pages(folio) - folio_page_idx(folio, pages[0]));
	while (n < max && pages[n] == pages[0] + n)
		n++;
	return n;
}

/*
 * Splits the @npages pinned pages of the ranges of @iov into runs
 * (khup_run_len(), never across two ranges) once, into @runs: the
 * snapshot and the commit then look at a run once, so a THP's 512 page
 * pointers are compared once and its folio is looked at once, not 512
 * times. Returns the number of runs.
 */
static u64 khup_split_runs(const struct iovec *iov, u32 nr_iovecs,
			   struct page **pages, u32 *runs)
{
	u64 k = 0, r = 0;
	u32 i;

	for (i = 0; i < nr_iovecs; i++) {
		unsigned long left = iov[i].iov_len >> PAGE_SHIFT;

		while (left) {
			u32 n = khup_run_len(pages + k, left);

			runs[r++] = n;
			k += n;
			left -= n;
		}
	}
	return r;
}

/* Gives back pages [from, n): unpins them, or frees snapshot copies. */
static void khup_put_pages(struct page **pages, const unsigned long *copied,
			   u64 from, u64 n)
{
	u64 i;

	for (i = from; i < n; i++) {
		if (test_bit(i, copied))
			put_page(pages[i]);
		else
			unpin_user_page(pages[i]);
	}
}

/*
 * Pages that owners outside the dump can still change must not be handed
 * over in place: shmem, memfd, MAP_SHARED and other file pages (any folio
 * that is not anonymous) are written through other mappings, fds or the
 * page cache after the dump, and another KHO user (LUO's memfd
 * preservation) may preserve the same folio, while KHO keeps no owner
 * count. Each such page is replaced by a private copy taken now, when
 * the checkpointer reads the memory (without --kho CRIU copies it into
 * its images at the same point), and the pin is dropped. The copy is
 * an unmovable allocation, so never in CMA and never in KHO scratch. An
 * anonymous page needs no copy: a pinned page another process shares
 * copy-on-write is copied for whichever process writes it. Returns the
 * number of pages copied, or -ENOMEM (the caller gives back every page).
 * Looks at the folio of each run (khup_split_runs()) once: a run is one
 * folio, anonymous or not.
 */
static long khup_snapshot(struct page **pages, const u32 *runs, u64 nr_runs,
			  unsigned long *copied)
{
	u64 i, k, r, done = 0;

	for (r = 0, k = 0; r < nr_runs; k += runs[r++]) {
		struct page *p = pages[k];

		if (is_zero_page(p) || folio_test_anon(page_folio(p)))
			continue;
		for (i = k; i < k + runs[r]; i++) {
			struct page *copy;

			copy = alloc_page(GFP_KERNEL | __GFP_NOWARN);
			if (!copy)
				return -ENOMEM;
			copy_highpage(copy, pages[i]);
			unpin_user_page(pages[i]);
			pages[i] = copy;
			__set_bit(i, copied);
			if (!(++done % KHUP_PIN_BATCH))
				cond_resched();
		}
	}
	return done;
}

/* The image to pin into, if the caller may and it is still open. */
static struct khup_image *khup_pin_target(u64 id)
{
	struct khup_image *img = khup_image_find(id);

	if (!img)
		return ERR_PTR(-ENOENT);
	if (!khup_image_may_access(img))
		return ERR_PTR(-EPERM);
	if (img->state != KHUP_STATE_OPEN || khup_frozen)
		return ERR_PTR(-EBUSY);
	return img;
}

/* The pages one PIN call pinned, in the order of its ranges. */
struct khup_pinned {
	struct page **pages;
	unsigned long *copied;	/* which of them are snapshot copies */
	u32 *runs;		/* the runs they form (khup_split_runs()) */
	u64 nr_runs;
	u64 npages;
};

/*
 * Appends the pinned pages @pd (the ranges of @iov, in order) to the
 * task's offset space under khup_lock, a run at a time. The call charged
 * them to @user up front; the image keeps the charge of its held pages
 * and the rest is given back. All or nothing: on error every page is
 * given back and nothing stays charged.
 */
static long khup_pin_commit(struct khup_pin *arg, struct task_struct *task,
			    pid_t tgid, const struct iovec *iov,
			    const struct khup_pinned *pd,
			    struct user_struct *user, struct khup_ret *ret)
{
	const unsigned long *copied = pd->copied;
	u64 old_pages, old_ext, k = 0, charged = 0;
	u64 npages = pd->npages, nr_runs = pd->nr_runs;
	struct page **pages = pd->pages;
	const u32 *runs = pd->runs;
	struct khup_image *img;
	bool new_task = false;
	u32 old_last = 0, j, step;
	struct khup_task *t;
	unsigned long va;
	bool owned;
	long err;
	u64 r;

	img = khup_pin_target(arg->id);
	if (IS_ERR(img)) {
		err = PTR_ERR(img);
		goto out_put;
	}
	t = khup_task_find(img, tgid);
	if (!t) {
		char comm[TASK_COMM_LEN];

		get_task_comm(comm, task);
		t = khup_task_new(img, tgid, comm);
		if (IS_ERR(t)) {
			err = PTR_ERR(t);
			goto out_put;
		}
		new_task = true;
	}
	if (!same_thread_group(task, current))
		khup_exit_writes_note(t, task);
	old_pages = t->nr_pages;
	old_ext = t->nr_ext;
	if (old_ext)
		old_last = t->ext[old_ext - 1].nr;
	err = khup_task_reserve(t, npages);
	va = (unsigned long)iov->iov_base;
	for (r = 0; !err && r < nr_runs; r++) {
		/* Runs never span two ranges. */
		if (va == (unsigned long)iov->iov_base + iov->iov_len) {
			iov++;
			va = (unsigned long)iov->iov_base;
		}
		/* Snapshot copies are pages of their own. */
		owned = test_bit(k, copied);
		step = owned ? 1 : runs[r];
		for (j = 0; !err && j < runs[r]; j += step) {
			err = khup_task_add_run(t, va, pages[k], step, owned);
			if (!err) {
				if (!is_zero_page(pages[k]))
					charged += step;
				va += (unsigned long)step << PAGE_SHIFT;
				k += step;
			}
		}
	}
	if (err) {
		/*
		 * Pages [0, k) were added: truncating gives them back and
		 * uncharges them.
		 */
		khup_task_truncate(img, t, old_pages, old_ext, old_last);
		if (new_task)
			khup_task_free(img, t);
		khup_put_pages(pages, copied, k, npages);
		khup_uncharge(user, npages - charged);
		return err;
	}
	/* Zero pages hold no memory: not charged. */
	khup_uncharge(user, npages - charged);
	atomic64_add(npages, &khup_stats.pinned);
	arg->nr_pages = npages;
	arg->offset = old_pages << PAGE_SHIFT;
	*ret = (struct khup_ret){
		.fd = ret->fd, .undo_id = img->id, .undo_tgid = tgid,
		.undo_pages = old_pages, .undo_ext = old_ext,
		.undo_last = old_last, .undo_pinned = npages,
		.undo_new_task = new_task,
	};
	trace_khup_pin(img->id, tgid, npages, t->nr_ext - old_ext);
	return 0;

out_put:
	khup_put_pages(pages, copied, 0, npages);
	khup_uncharge(user, npages);
	return err;
}

/*
 * The caller never learnt of its pin (the output copy failed): unpin
 * exactly what it added, if the task is as the call left it (a later pin
 * into the same task, or a seal, keeps them; the caller's EFAULT then
 * stands for an outcome it can see with KHUP_IOC_TASKS).
 */
void khup_pin_undo(const struct khup_ret *ret)
{
	struct khup_image *img;
	struct khup_task *t;

	mutex_lock(&khup_lock);
	img = khup_image_find(ret->undo_id);
	t = img ? khup_task_find(img, ret->undo_tgid) : NULL;
	if (t && img->state == KHUP_STATE_OPEN &&
	    t->nr_pages == ret->undo_pages + ret->undo_pinned) {
		khup_task_truncate(img, t, ret->undo_pages, ret->undo_ext,
				   ret->undo_last);
		if (ret->undo_new_task)
			khup_task_free(img, t);
		atomic64_sub(ret->undo_pinned, &khup_stats.pinned);
	}
	mutex_unlock(&khup_lock);
}

/*
 * Charges the whole call up front, before GUP pins (and migrates) a
 * single page, so that a call beyond a limit costs nothing: to the
 * module-wide cap, and to the image's user unless the caller has
 * CAP_IPC_LOCK. Returns the user charged (a reference), NULL if none.
 */
static struct user_struct *khup_pin_charge(u64 id, u64 npages)
{
	struct user_struct *user = NULL;
	struct khup_image *img;
	int err;

	mutex_lock(&khup_lock);
	img = khup_pin_target(id);
	err = PTR_ERR_OR_ZERO(img);
	if (!err) {
		if (img->user)
			user = get_uid(img->user);
		err = khup_charge(user, !capable(CAP_IPC_LOCK), npages);
	}
	mutex_unlock(&khup_lock);
	if (err) {
		free_uid(user);
		return ERR_PTR(err);
	}
	return user;
}

static void khup_pin_uncharge(struct user_struct *user, u64 npages)
{
	mutex_lock(&khup_lock);
	khup_uncharge(user, npages);
	mutex_unlock(&khup_lock);
}

long khup_ioctl_pin(struct khup_pin *arg, struct khup_ret *ret)
{
	u64 start = ktime_get_ns(), npages, migrated, snap_ns;
	struct khup_pinned pd = {};
	struct user_struct *user;
	struct khup_pin_job job;
	struct task_struct *task;
	struct mm_struct *mm;
	struct iovec *iov;
	long err, nsnap;
	pid_t tgid;

	if (arg->flags)
		return -EOPNOTSUPP;
	if (!capable(CAP_CHECKPOINT_RESTORE) && !capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (arg->pid < 0)
		return -EINVAL;
	iov = khup_get_iovecs(arg->iovecs, arg->nr_iovecs, &npages);
	if (IS_ERR(iov))
		return PTR_ERR(iov);

	task = khup_get_task(arg->pid);
	if (IS_ERR(task)) {
		err = PTR_ERR(task);
		goto out_iov;
	}
	tgid = task_tgid_vnr(task);
	mm = khup_task_mm(task);
	if (IS_ERR(mm)) {
		err = PTR_ERR(mm);
		goto out_task;
	}
	/*
	 * Fail fast before pinning anything; checked again at commit. After
	 * the access check: a caller that may not pin the task learns EPERM,
	 * not how much it may lock.
	 */
	user = khup_pin_charge(arg->id, npages);
	if (IS_ERR(user)) {
		err = PTR_ERR(user);
		goto out_mm;
	}
	pd.npages = npages;
	pd.pages = kvmalloc_array(npages, sizeof(*pd.pages), GFP_KERNEL);
	pd.copied = kvcalloc(BITS_TO_LONGS(npages), sizeof(*pd.copied),
			     GFP_KERNEL);
	pd.runs = kvmalloc_array(npages, sizeof(*pd.runs), GFP_KERNEL);
	if (!pd.pages || !pd.copied || !pd.runs) {
		err = -ENOMEM;
		goto out_free;
	}

	job = (struct khup_pin_job){
		.mm = mm, .caller = current, .iov = iov,
		.nr_iovecs = arg->nr_iovecs, .gup_flags = khup_gup_flags(task),
		.pages = pd.pages,
	};
	migrated = khup_migrations();
	khup_pin_ranges(&job);
	migrated = khup_migrations() - migrated;
	err = job.err;
	if (err) {
		khup_put_pages(pd.pages, pd.copied, 0, job.done);
		goto out_free;
	}
	pd.nr_runs = khup_split_runs(iov, arg->nr_iovecs, pd.pages, pd.runs);
	snap_ns = ktime_get_ns();
	nsnap = khup_snapshot(pd.pages, pd.runs, pd.nr_runs, pd.copied);
	snap_ns = ktime_get_ns() - snap_ns;
	if (nsnap < 0) {
		err = nsnap;
		khup_put_pages(pd.pages, pd.copied, 0, npages);
		goto out_free;
	}

	mutex_lock(&khup_lock);
	err = khup_pin_commit(arg, task, tgid, iov, &pd, user, ret);
	mutex_unlock(&khup_lock);
	/* The commit took over the charge, or gave it back. */
	npages = 0;
	if (!err) {
		atomic64_add(migrated, &khup_stats.cma_migrated);
		atomic64_add(nsnap, &khup_stats.snapshot);
		atomic64_add(snap_ns, &khup_stats.snapshot_ns);
		atomic64_add(ktime_get_ns() - start, &khup_stats.pin_ns);
	}
out_free:
	kvfree(pd.runs);
	kvfree(pd.copied);
	kvfree(pd.pages);
	if (npages)
		khup_pin_uncharge(user, npages);
	free_uid(user);
out_mm:
	mmput(mm);
out_task:
	put_task_struct(task);
out_iov:
	kfree(iov);
	return err;
}

/*
 * Pins and unpins at once the present pages of one range, batch by batch,
 * skipping pages that are not present (FOLL_NOFAULT) and holes. Returns
 * the number of pages looked at, or a negative errno.
 */
static long khup_prepare_range(struct mm_struct *mm, unsigned long addr,
			       unsigned long nr, unsigned int gup_flags,
			       struct page **pages)
{
	long seen = 0;

	while (nr) {
		unsigned long n = min_t(unsigned long, nr, KHUP_PIN_BATCH);
		int locked = 1;
		long got;

		if (fatal_signal_pending(current))
			return -EINTR;
		if (mmap_read_lock_killable(mm))
			return -EINTR;
		got = pin_user_pages_remote(mm, addr, n, gup_flags, pages,
					    &locked);
		if (locked)
			mmap_read_unlock(mm);
		if (got > 0) {
			unpin_user_pages(pages, got);
			seen += got;
		}
		/* A short pin stopped at a page it may not fault in: skip it. */
		if (got < (long)n)
			got = max(got, 0L) + 1;
		addr += got << PAGE_SHIFT;
		nr -= got;
		cond_resched();
	}
	return seen;
}

long khup_ioctl_prepare(struct khup_prepare *arg)
{
	u64 start = ktime_get_ns(), npages, migrated, seen = 0;
	struct page **pages = NULL;
	struct task_struct *task;
	unsigned int gup_flags;
	struct mm_struct *mm;
	struct iovec *iov;
	long err = 0, got;
	u32 i;

	if (arg->flags)
		return -EOPNOTSUPP;
	if (!capable(CAP_CHECKPOINT_RESTORE) && !capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (arg->pid < 0)
		return -EINVAL;
	iov = khup_get_iovecs(arg->iovecs, arg->nr_iovecs, &npages);
	if (IS_ERR(iov))
		return PTR_ERR(iov);
	task = khup_get_task(arg->pid);
	if (IS_ERR(task)) {
		err = PTR_ERR(task);
		goto out_iov;
	}
	mm = khup_task_mm(task);
	if (IS_ERR(mm)) {
		err = PTR_ERR(mm);
		goto out_task;
	}
	pages = kmalloc_array(KHUP_PIN_BATCH, sizeof(*pages), GFP_KERNEL);
	if (!pages) {
		err = -ENOMEM;
		goto out_mm;
	}
	gup_flags = khup_gup_flags(task) | FOLL_NOFAULT;
	migrated = khup_migrations();
	for (i = 0; i < arg->nr_iovecs; i++) {
		got = khup_prepare_range(mm, (unsigned long)iov[i].iov_base,
					 iov[i].iov_len >> PAGE_SHIFT,
					 gup_flags, pages);
		if (got < 0) {
			err = got;
			break;
		}
		seen += got;
	}
	migrated = khup_migrations() - migrated;
	atomic64_add(seen, &khup_stats.prepared);
	atomic64_add(migrated, &khup_stats.prepare_migrated);
	atomic64_add(ktime_get_ns() - start, &khup_stats.prepare_ns);
	arg->nr_pages = seen;
	arg->nr_migrated = migrated;
	kfree(pages);
out_mm:
	mmput(mm);
out_task:
	put_task_struct(task);
out_iov:
	kfree(iov);
	return err;
}
