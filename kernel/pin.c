// SPDX-License-Identifier: GPL-2.0-only
/*
 * KHUP_IOC_PIN: pin user ranges of the caller or of a task it traces.
 */
#include <linux/capability.h>
#include <linux/mm.h>
#include <linux/pid.h>
#include <linux/ptrace.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/uio.h>

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
		if (total > U32_MAX)
			return -EOVERFLOW;
	}
	*pages = total;
	return 0;
}

/*
 * Records the pfns currently mapped at [addr, addr + n pages) in @pfns
 * (0 where nothing is mapped), so the caller can count how many pages the
 * FOLL_LONGTERM pin then migrated. Takes and drops plain references only.
 */
static void khup_peek_pfns(struct mm_struct *mm, unsigned long addr,
			   unsigned long n, struct page **pages, u64 *pfns)
{
	int locked = 1;
	long got, i;

	memset(pfns, 0, n * sizeof(*pfns));
	if (mmap_read_lock_killable(mm))
		return;
	got = get_user_pages_remote(mm, addr, n, 0, pages, &locked);
	if (locked)
		mmap_read_unlock(mm);
	for (i = 0; i < got; i++) {
		pfns[i] = page_to_pfn(pages[i]);
		put_page(pages[i]);
	}
}

/* Pins one range into @t, batch by batch. */
static long khup_pin_range(struct mm_struct *mm, struct khup_task *t,
			   unsigned long addr, unsigned long nr,
			   struct page **pages, u64 *pfns)
{
	while (nr) {
		unsigned long n = min_t(unsigned long, nr, KHUP_PIN_BATCH);
		int locked = 1;
		long got, i;
		int err = 0;

		if (fatal_signal_pending(current))
			return -EINTR;
		khup_peek_pfns(mm, addr, n, pages, pfns);
		if (mmap_read_lock_killable(mm))
			return -EINTR;
		/*
		 * FOLL_LONGTERM migrates pages out of CMA and ZONE_MOVABLE
		 * before pinning: KHO scratch is CMA, and a preserved page
		 * inside it would be overwritten by the next kernel's boot.
		 */
		got = pin_user_pages_remote(mm, addr, n, FOLL_LONGTERM, pages,
					    &locked);
		if (locked)
			mmap_read_unlock(mm);
		if (got <= 0)
			return got ? got : -EFAULT;
		for (i = 0; i < got; i++) {
			if (!err)
				err = khup_task_add_page(t, addr, pages[i],
							 false);
			if (err) {
				unpin_user_page(pages[i]);
				continue;
			}
			atomic64_inc(&khup_stats.pinned);
			if (pfns[i] && pfns[i] != page_to_pfn(pages[i]))
				atomic64_inc(&khup_stats.cma_migrated);
			addr += PAGE_SIZE;
		}
		if (err)
			return err;
		/* A short pin means the next page is not mapped. */
		if (got < n)
			return -EFAULT;
		nr -= n;
		cond_resched();
	}
	return 0;
}

long khup_ioctl_pin(struct khup_pin *arg)
{
	u64 start = ktime_get_ns(), npages, old_pages, old_ext;
	struct task_struct *task;
	struct khup_image *img;
	struct mm_struct *mm;
	struct khup_task *t;
	struct iovec *iov;
	struct page **pages;
	bool new_task = false;
	u64 *pfns;
	u32 old_last = 0, i;
	pid_t tgid;
	long err;

	if (arg->flags)
		return -EOPNOTSUPP;
	if (!capable(CAP_CHECKPOINT_RESTORE) && !capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (!arg->nr_iovecs || arg->nr_iovecs > KHUP_MAX_IOVECS)
		return -EINVAL;
	if (arg->pid < 0)
		return -EINVAL;

	iov = memdup_array_user(u64_to_user_ptr(arg->iovecs), arg->nr_iovecs,
				sizeof(*iov));
	if (IS_ERR(iov))
		return PTR_ERR(iov);
	err = khup_check_iovecs(iov, arg->nr_iovecs, &npages);
	if (err)
		goto out_iov;

	if (arg->pid) {
		struct pid *pid = find_get_pid(arg->pid);

		task = pid ? get_pid_task(pid, PIDTYPE_PID) : NULL;
		put_pid(pid);
		if (!task) {
			err = -ESRCH;
			goto out_iov;
		}
		err = same_thread_group(task, current) ? 0 :
		      khup_check_tracer(task);
		if (err)
			goto out_task;
	} else {
		task = get_task_struct(current);
	}
	tgid = task_tgid_vnr(task);
	mm = get_task_mm(task);
	if (!mm) {
		err = -ESRCH;
		goto out_task;
	}
	pages = kvmalloc_array(KHUP_PIN_BATCH, sizeof(*pages), GFP_KERNEL);
	pfns = kvmalloc_array(KHUP_PIN_BATCH, sizeof(*pfns), GFP_KERNEL);
	if (!pages || !pfns) {
		err = -ENOMEM;
		goto out_free;
	}

	mutex_lock(&khup_lock);
	img = khup_image_find(arg->id);
	if (!img) {
		err = -ENOENT;
		goto out_unlock;
	}
	if (!uid_eq(img->owner, current_euid()) && !capable(CAP_SYS_ADMIN)) {
		err = -EPERM;
		goto out_unlock;
	}
	if (img->state != KHUP_STATE_OPEN) {
		err = -EBUSY;
		goto out_unlock;
	}
	t = khup_task_find(img, tgid);
	if (!t) {
		char comm[TASK_COMM_LEN];

		get_task_comm(comm, task);
		t = khup_task_new(img, tgid, comm);
		if (IS_ERR(t)) {
			err = PTR_ERR(t);
			goto out_unlock;
		}
		new_task = true;
	}
	old_pages = t->nr_pages;
	old_ext = t->nr_ext;
	if (old_ext)
		old_last = t->ext[old_ext - 1].nr;
	err = khup_task_reserve(t, npages);
	for (i = 0; !err && i < arg->nr_iovecs; i++)
		err = khup_pin_range(mm, t, (unsigned long)iov[i].iov_base,
				     iov[i].iov_len >> PAGE_SHIFT, pages, pfns);
	if (err) {
		/* All or nothing: unpin everything this call pinned. */
		khup_task_truncate(img, t, old_pages, old_ext, old_last);
		if (new_task)
			khup_task_free(img, t);
		goto out_unlock;
	}
	arg->nr_pages = t->nr_pages - old_pages;
	arg->offset = old_pages << PAGE_SHIFT;
	trace_khup_pin(img->id, tgid, arg->nr_pages, t->nr_ext - old_ext);
	atomic64_add(ktime_get_ns() - start, &khup_stats.pin_ns);
out_unlock:
	mutex_unlock(&khup_lock);
out_free:
	kvfree(pfns);
	kvfree(pages);
	mmput(mm);
out_task:
	put_task_struct(task);
out_iov:
	kfree(iov);
	return err;
}
