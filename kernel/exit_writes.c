// SPDX-License-Identifier: GPL-2.0-only
/*
 * Exit-time writes: keep dying tasks out of their handed-over memory.
 *
 * A sealed image holds the live pages of its tasks, and the checkpointer
 * kills those tasks after the dump. While a thread exits, the kernel
 * writes into its user memory on its behalf:
 *
 *  - mm_release() zeroes *clear_child_tid (the thread id that glibc keeps
 *    in struct pthread and that pthread_join() and pthread_kill() read)
 *    when other users of the mm remain;
 *  - futex_cleanup() walks the robust list (and the compat one) and marks
 *    every robust futex the thread holds FUTEX_OWNER_DIED; the robust
 *    unlock fix-up on the signal path clears list_op_pending through the
 *    same head.
 *
 * The checkpointer has already recorded both pointers (the restorer sets
 * them again), so sealing detaches them from every thread of every task
 * pinned through ptrace: the memory handed over is the memory at the
 * freeze, however and whenever the tasks die. The old values are kept
 * while the image exists in this kernel; releasing the image puts them
 * back in the threads that are still alive (a failed dump resumes them).
 *
 * Only threads stopped under the caller's ptrace are touched: they cannot
 * run until the caller resumes them, so nothing races with set_tid_address()
 * or set_robust_list(). All functions here are called with khup_lock held.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/pid.h>
#include <linux/ptrace.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>

#include "internal.h"

struct khup_exit_state {
	struct pid *pid;			/* the thread */
	int __user *clear_child_tid;
	struct robust_list_head __user *robust_list;
#ifdef CONFIG_COMPAT
	struct compat_robust_list_head __user *compat_robust_list;
#endif
};

/* Remembers the thread group of a task pinned through ptrace. */
void khup_exit_writes_note(struct khup_task *t, struct task_struct *task)
{
	if (!t->tgid)
		t->tgid = get_pid(task_tgid(task));
}

static bool khup_stopped_by_caller(struct task_struct *p)
{
	struct task_struct *tracer = ptrace_parent(p);

	return task_is_traced(p) && tracer && same_thread_group(tracer, current);
}

/*
 * Checks that every thread of @t's thread group is alive and stopped
 * under the caller's ptrace, and counts them into *@nr. Under RCU.
 */
static int khup_exit_writes_check(struct khup_task *t, unsigned int *nr)
{
	struct task_struct *leader, *p;
	int err = 0;

	*nr = 0;
	leader = pid_task(t->tgid, PIDTYPE_TGID);
	if (!leader || (leader->signal->flags & SIGNAL_GROUP_EXIT)) {
		pr_err("pid %d exited after its pages were pinned: its exit may have written into them\n",
		       t->pid);
		return -ESRCH;
	}
	for_each_thread(leader, p) {
		if (p->flags & PF_EXITING) {
			pr_err("thread %d of pid %d is exiting: its exit may write into the pinned pages\n",
			       task_pid_nr(p), t->pid);
			return -ESRCH;
		}
		if (!khup_stopped_by_caller(p)) {
			pr_err("thread %d of pid %d is not stopped under the caller's ptrace\n",
			       task_pid_nr(p), t->pid);
			err = -EBUSY;
		}
		(*nr)++;
	}
	return err;
}

/* Detaches the exit-time writes of every thread of @t, saving them. */
static int khup_exit_writes_detach_task(struct khup_task *t)
{
	struct khup_exit_state *st;
	struct task_struct *leader, *p;
	unsigned int nr, i = 0;
	int err;

	rcu_read_lock();
	err = khup_exit_writes_check(t, &nr);
	rcu_read_unlock();
	if (err)
		return err;
	st = kvcalloc(nr, sizeof(*st), GFP_KERNEL);
	if (!st)
		return -ENOMEM;

	rcu_read_lock();
	/* Stopped threads cannot clone; recheck all the same. */
	err = khup_exit_writes_check(t, &i);
	if (!err && i != nr)
		err = -EAGAIN;
	if (err) {
		rcu_read_unlock();
		kvfree(st);
		return err;
	}
	i = 0;
	leader = pid_task(t->tgid, PIDTYPE_TGID);
	for_each_thread(leader, p) {
		st[i].pid = get_pid(task_pid(p));
		st[i].clear_child_tid = p->clear_child_tid;
		WRITE_ONCE(p->clear_child_tid, NULL);
		st[i].robust_list = p->futex.robust_list;
		WRITE_ONCE(p->futex.robust_list, NULL);
#ifdef CONFIG_COMPAT
		st[i].compat_robust_list = p->futex.compat_robust_list;
		WRITE_ONCE(p->futex.compat_robust_list, NULL);
#endif
		i++;
	}
	rcu_read_unlock();
	t->exit_state = st;
	t->nr_exit_state = nr;
	return 0;
}

/*
 * Puts the saved pointers back in @t's threads that are still alive and
 * were not given new ones, then forgets them.
 */
static void khup_exit_writes_reattach_task(struct khup_task *t)
{
	struct khup_exit_state *st = t->exit_state;
	struct task_struct *p;
	unsigned int i;

	for (i = 0; i < t->nr_exit_state; i++) {
		rcu_read_lock();
		p = pid_task(st[i].pid, PIDTYPE_PID);
		if (p && !(p->flags & PF_EXITING)) {
			if (!READ_ONCE(p->clear_child_tid))
				WRITE_ONCE(p->clear_child_tid,
					   st[i].clear_child_tid);
			if (!READ_ONCE(p->futex.robust_list))
				WRITE_ONCE(p->futex.robust_list,
					   st[i].robust_list);
#ifdef CONFIG_COMPAT
			if (!READ_ONCE(p->futex.compat_robust_list))
				WRITE_ONCE(p->futex.compat_robust_list,
					   st[i].compat_robust_list);
#endif
		}
		rcu_read_unlock();
		put_pid(st[i].pid);
	}
	kvfree(st);
	t->exit_state = NULL;
	t->nr_exit_state = 0;
}

/*
 * Detaches the exit-time writes of every task of @img that was pinned
 * through ptrace; the caller's own memory is left alone. All or nothing.
 */
int khup_exit_writes_detach(struct khup_image *img)
{
	struct khup_task *t;
	int err;

	list_for_each_entry(t, &img->tasks, node) {
		if (!t->tgid || t->exit_state)
			continue;
		err = khup_exit_writes_detach_task(t);
		if (err) {
			khup_exit_writes_reattach(img);
			return err;
		}
	}
	return 0;
}

/* Undoes khup_exit_writes_detach() for the threads still alive. */
void khup_exit_writes_reattach(struct khup_image *img)
{
	struct khup_task *t;

	list_for_each_entry(t, &img->tasks, node)
		if (t->exit_state)
			khup_exit_writes_reattach_task(t);
}

/* Drops what khup_exit_writes_note() and _detach() kept for @t. */
void khup_exit_writes_forget(struct khup_task *t)
{
	if (t->exit_state)
		khup_exit_writes_reattach_task(t);
	put_pid(t->tgid);
	t->tgid = NULL;
}
