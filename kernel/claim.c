// SPDX-License-Identifier: GPL-2.0-only
/*
 * Claims: one restorer per image, consume then commit.
 *
 * A restore takes the image's claim (KHUP_IOC_CLAIM), an fd. Readers
 * opened through it *consume* the pages they punch: the pages stay held
 * (and preserved, should a kexec come first) until the restorer commits
 * (KHUP_IOC_COMMIT on the claim fd), which releases the image. If the
 * claim fd goes away without a commit - the restore failed, or the
 * restorer was killed - every consumed page is readable again and the
 * image can be claimed anew. So a failed restore never loses memory.
 *
 * Consumed pages duplicate what the restored processes already hold, so
 * they must not pin memory the system needs: a shrinker frees them under
 * pressure. They then count as lost: the image can no longer be claimed
 * (a retry would miss them), which KHUP_IOC_INFO and TASKS report.
 *
 * A post-copy restore runs its processes before their memory is copied:
 * they are *tied* to the claim (KHUP_IOC_CLAIM_TIE) with the userfaultfd
 * that the filler serves. If the claim ends without a commit, the tied
 * processes are killed before the module lets go of their userfaultfds,
 * so none of them ever runs on reading zeros where a page was not copied.
 *
 * Everything here runs under khup_lock except the shrinker's count.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/dcache.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/shrinker.h>
#include <linux/slab.h>

#include "internal.h"
#include "trace.h"

/* A process restored post-copy and the userfaultfd its memory is filled by. */
struct khup_claim_tie_ent {
	struct pid *pid;	/* thread group */
	struct file *uffd;	/* NULL if none */
};

struct khup_claim {
	struct kref ref;	/* the claim file and every consuming reader */
	struct khup_image *img;	/* holds an image reference */
	bool active;		/* neither committed nor rolled back */
	struct pid *owner;	/* the claiming process */
	struct khup_claim_tie_ent *ties;
	u32 nr_ties, cap_ties;
};

/* Consumed pages over all images, for the shrinker's count. */
static atomic64_t khup_consumed_total;
static struct shrinker *khup_shrinker;

void khup_claim_hold(struct khup_claim *c)
{
	kref_get(&c->ref);
}

/*
 * Lets go of the processes tied to @c: on a rollback (@kill) every one
 * is sent SIGKILL first, and only then are their userfaultfds put, so
 * that none returns from a fault to read a page that was never copied.
 * Returns how many were signalled.
 */
static u32 khup_claim_untie(struct khup_claim *c, bool kill)
{
	u32 i, killed = 0;

	if (kill)
		for (i = 0; i < c->nr_ties; i++)
			killed += !kill_pid(c->ties[i].pid, SIGKILL, 1);
	for (i = 0; i < c->nr_ties; i++) {
		if (c->ties[i].uffd)
			fput(c->ties[i].uffd);
		put_pid(c->ties[i].pid);
	}
	kfree(c->ties);
	c->ties = NULL;
	c->nr_ties = 0;
	c->cap_ties = 0;
	return killed;
}

static void khup_claim_free(struct kref *ref)
{
	struct khup_claim *c = container_of(ref, struct khup_claim, ref);

	khup_claim_untie(c, false);
	khup_image_put(c->img);
	put_pid(c->owner);
	kfree(c);
}

void khup_claim_put(struct khup_claim *c)
{
	kref_put(&c->ref, khup_claim_free);
}

bool khup_claim_active(const struct khup_claim *c)
{
	return c->active;
}

struct khup_image *khup_claim_image(const struct khup_claim *c)
{
	return c->img;
}

pid_t khup_claim_owner(const struct khup_claim *c)
{
	return pid_vnr(c->owner);
}

u64 khup_image_lost(const struct khup_image *img)
{
	const struct khup_task *t;
	u64 n = 0;

	list_for_each_entry(t, &img->tasks, node)
		n += t->nr_lost;
	return n;
}

u64 khup_image_consumed(const struct khup_image *img)
{
	const struct khup_task *t;
	u64 n = 0;

	list_for_each_entry(t, &img->tasks, node)
		n += t->nr_consumed;
	return n;
}

/*
 * Records that page @idx of @t can never be read again. Allocates the lost
 * bitmap on first use, except in the shrinker: the claim allocated it.
 */
int khup_mark_lost(struct khup_task *t, u64 idx)
{
	if (!t->lost) {
		t->lost = kvzalloc(t->cap_pages / 8, GFP_KERNEL);
		if (!t->lost)
			return -ENOMEM;
	}
	if (!khup_bit_test(t->lost, idx)) {
		khup_bit_set(t->lost, idx);
		t->nr_lost++;
	}
	return 0;
}

/* The first set bit of @map in [from, end), or @end. */
static u64 khup_next_bit(const u8 *map, u64 from, u64 end)
{
	for (; from < end; from++) {
		if (!(from % 8) && !map[from / 8]) {
			from += 7;
			continue;
		}
		if (khup_bit_test(map, from))
			return from;
	}
	return end;
}

/* Marks the held pages [first, end) of @t consumed; returns how many. */
u64 khup_consume(struct khup_task *t, u64 first, u64 end)
{
	u64 i, n = 0;

	if (WARN_ON_ONCE(!t->consumed))
		return 0;
	for (i = first; i < end; i++) {
		if (!khup_bit_test(t->present, i) ||
		    khup_bit_test(t->consumed, i))
			continue;
		khup_bit_set(t->consumed, i);
		n++;
	}
	t->nr_consumed += n;
	atomic64_add(n, &khup_consumed_total);
	atomic64_add(n, &khup_stats.consumed);
	return n;
}

/* Forgets what the claim consumed: the pages are readable as before. */
static void khup_claim_end(struct khup_claim *c)
{
	struct khup_image *img = c->img;
	struct khup_task *t;

	list_for_each_entry(t, &img->tasks, node) {
		atomic64_sub(t->nr_consumed, &khup_consumed_total);
		t->nr_consumed = 0;
		kvfree(t->consumed);
		t->consumed = NULL;
	}
	c->active = false;
	if (img->claim == c)
		img->claim = NULL;
}

static int khup_claim_release(struct inode *inode, struct file *file)
{
	struct khup_claim *c = file->private_data;
	struct khup_image *img = c->img;
	u32 ties, killed;
	u64 consumed;

	mutex_lock(&khup_lock);
	if (c->active) {
		consumed = khup_image_consumed(img);
		khup_claim_end(c);
		ties = c->nr_ties;
		killed = khup_claim_untie(c, true);
		pr_info("image %llu '%s': claim dropped without commit; %llu consumed pages are readable again\n",
			img->id, img->name, consumed);
		if (ties)
			pr_info("image %llu '%s': killed %u of the %u processes restored post-copy (the others had exited)\n",
				img->id, img->name, killed, ties);
		trace_khup_rollback(img->id, consumed);
	}
	khup_claim_put(c);
	mutex_unlock(&khup_lock);
	return 0;
}

/* KHUP_IOC_COMMIT on a claim fd: the restore succeeded; free the image. */
static long khup_claim_commit(struct khup_claim *c, struct khup_image_op *op)
{
	struct khup_image *img = c->img;
	u64 consumed, start = ktime_get_ns();

	if (op->flags)
		return -EOPNOTSUPP;
	if (!c->active)
		return -ESTALE;
	if (op->id != img->id)
		return -EINVAL;
	if (khup_frozen)
		return -EBUSY;
	consumed = khup_image_consumed(img);
	khup_claim_end(c);
	khup_claim_untie(c, false);
	pr_info("image %llu '%s': restore committed (%llu pages consumed, %llu not read); releasing it\n",
		img->id, img->name, consumed, khup_image_pages(img) - consumed);
	trace_khup_commit(img->id, consumed);
	khup_notify(img, KHUP_EVENT_RELEASED);
	trace_khup_release(img->id, 0, khup_image_pages(img));
	khup_image_release(img);
	khup_publish();
	atomic64_add(ktime_get_ns() - start, &khup_stats.commit_ns);
	return 0;
}

/*
 * KHUP_IOC_CLAIM_TIE with KHUP_TIE_FILLED: the filler copied every page
 * served through @fd and closes it next; from then on the kernel resolves
 * the process's faults, so the module must not keep the userfaultfd alive.
 * The process stays tied.
 */
static long khup_claim_filled(struct khup_claim *c, int fd)
{
	struct file *uffd, *held = NULL;
	long err = -ENOENT;
	u32 i;

	uffd = fget(fd);
	if (!uffd)
		return -EBADF;
	mutex_lock(&khup_lock);
	if (!c->active) {
		err = -ESTALE;
		goto out;
	}
	for (i = 0; i < c->nr_ties; i++) {
		if (c->ties[i].uffd == uffd) {
			held = uffd;
			c->ties[i].uffd = NULL;
			err = 0;
			break;
		}
	}
out:
	mutex_unlock(&khup_lock);
	if (held)
		fput(held);
	fput(uffd);
	return err;
}

/*
 * KHUP_IOC_CLAIM_TIE: the caller is a process restored post-copy; kill it
 * if the claim ends without a commit (see khup_claim_untie()).
 */
static long khup_claim_tie(struct khup_claim *c, void __user *ubuf, u32 usize)
{
	struct khup_claim_tie arg;
	struct khup_claim_tie_ent *n;
	struct file *uffd = NULL;
	long err;

	if (usize < offsetofend(struct khup_claim_tie, reserved))
		return -EINVAL;
	err = copy_struct_from_user(&arg, sizeof(arg), ubuf, usize);
	if (err)
		return err;
	if (arg.flags & ~KHUP_TIE_FILLED)
		return -EOPNOTSUPP;
	if (arg.reserved || arg.uffd < -1)
		return -EINVAL;
	if (arg.flags & KHUP_TIE_FILLED)
		return khup_claim_filled(c, arg.uffd);
	if (arg.uffd >= 0) {
		uffd = fget(arg.uffd);
		if (!uffd)
			return -EBADF;
		/*
		 * Only a userfaultfd: holding any other file (a claim, a
		 * socket with the claim in flight) could keep the claim
		 * alive through its own ties.
		 */
		if (strcmp(file_dentry(uffd)->d_name.name, "[userfaultfd]")) {
			fput(uffd);
			return -EINVAL;
		}
	}

	mutex_lock(&khup_lock);
	err = -ESTALE;
	if (!c->active)
		goto out;
	err = -ENOSPC;
	if (c->nr_ties >= KHUP_MAX_TASKS)
		goto out;
	if (c->nr_ties == c->cap_ties) {
		u32 cap = c->cap_ties ? 2 * c->cap_ties : 16;

		err = -ENOMEM;
		n = krealloc_array(c->ties, cap, sizeof(*n), GFP_KERNEL);
		if (!n)
			goto out;
		c->ties = n;
		c->cap_ties = cap;
	}
	c->ties[c->nr_ties].pid = get_pid(task_tgid(current));
	c->ties[c->nr_ties].uffd = uffd;
	c->nr_ties++;
	uffd = NULL;
	err = 0;
out:
	mutex_unlock(&khup_lock);
	if (uffd)
		fput(uffd);
	return err;
}

static long khup_claim_ioctl(struct file *file, unsigned int cmd,
			     unsigned long uarg)
{
	struct khup_claim *c = file->private_data;
	void __user *ubuf = (void __user *)uarg;
	struct khup_image_op op;
	u32 usize;
	long err;

	if (cmd == KHUP_IOC_OPEN_PAGES)
		return khup_ioctl_dispatch(cmd, ubuf, c);
	if (cmd == KHUP_IOC_CLAIM_TIE) {
		if (get_user(usize, (u32 __user *)ubuf))
			return -EFAULT;
		return khup_claim_tie(c, ubuf, usize);
	}
	if (cmd != KHUP_IOC_COMMIT)
		return -ENOTTY;
	if (get_user(usize, (u32 __user *)ubuf))
		return -EFAULT;
	if (usize < offsetofend(struct khup_image_op, id))
		return -EINVAL;
	err = copy_struct_from_user(&op, sizeof(op), ubuf, usize);
	if (err)
		return err;
	mutex_lock(&khup_lock);
	err = khup_claim_commit(c, &op);
	mutex_unlock(&khup_lock);
	return err;
}

static const struct file_operations khup_claim_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = khup_claim_ioctl,
	.release = khup_claim_release,
};

/*
 * Allocates every task's consumed bitmap, and its lost bitmap if it has
 * none yet, so that the shrinker never allocates; all or nothing.
 */
static int khup_claim_alloc(struct khup_image *img)
{
	struct khup_task *t;

	list_for_each_entry(t, &img->tasks, node) {
		t->consumed = kvzalloc(t->cap_pages / 8, GFP_KERNEL);
		if (!t->consumed)
			goto err;
		if (!t->lost)
			t->lost = kvzalloc(t->cap_pages / 8, GFP_KERNEL);
		if (!t->lost)
			goto err;
	}
	return 0;
err:
	list_for_each_entry(t, &img->tasks, node) {
		kvfree(t->consumed);
		t->consumed = NULL;
	}
	return -ENOMEM;
}

long khup_ioctl_claim(struct khup_claim_op *arg, struct khup_ret *nf)
{
	struct khup_image *img;
	struct khup_claim *c;
	struct file *file;
	int fd, err;

	if (arg->flags & ~KHUP_FD_CLOEXEC)
		return -EOPNOTSUPP;
	if (arg->reserved)
		return -EINVAL;
	c = kzalloc_obj(*c);
	if (!c)
		return -ENOMEM;
	fd = get_unused_fd_flags(O_RDWR |
				 (arg->flags & KHUP_FD_CLOEXEC ? O_CLOEXEC : 0));
	if (fd < 0) {
		kfree(c);
		return fd;
	}

	mutex_lock(&khup_lock);
	img = khup_image_for_change(arg->id);
	err = PTR_ERR_OR_ZERO(img);
	if (err)
		goto err_unlock;
	err = -EBUSY;
	if (img->claim || img->state == KHUP_STATE_OPEN)
		goto err_unlock;
	err = -EIO;
	if (khup_image_lost(img)) {
		pr_err("image %llu '%s': %llu pages are lost; refusing to claim it for a restore\n",
		       img->id, img->name, khup_image_lost(img));
		goto err_unlock;
	}
	err = khup_claim_alloc(img);
	if (err)
		goto err_unlock;
	kref_init(&c->ref);
	kref_get(&img->ref);
	c->img = img;
	c->active = true;
	c->owner = get_pid(task_tgid(current));
	file = anon_inode_getfile("[khup-claim]", &khup_claim_fops, c, O_RDWR);
	if (IS_ERR(file)) {
		err = PTR_ERR(file);
		khup_claim_end(c);
		khup_claim_put(c);
		goto err_unlock_nofree;
	}
	img->claim = c;
	trace_khup_claim(img->id, khup_image_pages(img));
	mutex_unlock(&khup_lock);
	arg->fd = fd;
	nf->fd = fd;
	nf->file = file;
	return 0;

err_unlock:
	kfree(c);
err_unlock_nofree:
	mutex_unlock(&khup_lock);
	put_unused_fd(fd);
	return err;
}

/*
 * Frees up to @nr consumed pages: the restore that read them no longer
 * needs them, a retry would. Marks them lost, so the image cannot be
 * claimed again, and brings the published bitmaps' checksums up to date.
 */
static unsigned long khup_reclaim_consumed(unsigned long nr)
{
	struct khup_image *img;
	unsigned long freed = 0;
	struct khup_task *t;

	list_for_each_entry(img, &khup_images, node) {
		if (!img->claim)
			continue;
		list_for_each_entry(t, &img->tasks, node) {
			u64 before = freed, idx = 0;

			while (t->nr_consumed && freed < nr) {
				idx = khup_next_bit(t->consumed, idx,
						    t->nr_pages);
				if (idx >= t->nr_pages)
					break;
				if (khup_mark_lost(t, idx))
					break;
				khup_bit_clear(t->consumed, idx);
				t->nr_consumed--;
				atomic64_dec(&khup_consumed_total);
				khup_task_drop_page(img, t, idx);
				freed++;
			}
			if (freed != before) {
				if (t->tbl)
					khup_tbl_update_bitmap_crc(t->tbl);
				pr_warn_ratelimited("image %llu task %d: %llu consumed pages freed under memory pressure; the image can no longer be restored again\n",
						    img->id, t->pid,
						    (u64)(freed - before));
				trace_khup_lost(img->id, t->pid,
						freed - before);
			}
			if (freed >= nr)
				return freed;
		}
	}
	return freed;
}

static unsigned long khup_shrink_count(struct shrinker *s,
				       struct shrink_control *sc)
{
	return atomic64_read(&khup_consumed_total) ?: SHRINK_EMPTY;
}

static unsigned long khup_shrink_scan(struct shrinker *s,
				      struct shrink_control *sc)
{
	unsigned long freed;

	/* Allocations under khup_lock may recurse into reclaim. */
	if (!mutex_trylock(&khup_lock))
		return SHRINK_STOP;
	/* Frozen for a kexec: the published tables must stay as they are. */
	freed = khup_frozen ? 0 : khup_reclaim_consumed(sc->nr_to_scan);
	mutex_unlock(&khup_lock);
	return freed;
}

int khup_shrinker_init(void)
{
	khup_shrinker = shrinker_alloc(0, "khup-consumed");
	if (!khup_shrinker)
		return -ENOMEM;
	khup_shrinker->count_objects = khup_shrink_count;
	khup_shrinker->scan_objects = khup_shrink_scan;
	shrinker_register(khup_shrinker);
	return 0;
}

void khup_shrinker_exit(void)
{
	shrinker_free(khup_shrinker);
}
