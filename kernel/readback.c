// SPDX-License-Identifier: GPL-2.0-only
/*
 * Read-back of held pages: a per-(image, task) fd for pread/preadv and
 * hole punching (what CRIU's restorer uses), and KHUP_IOC_RESTORE_SELF.
 */
#include <linux/anon_inodes.h>
#include <linux/falloc.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

#include "internal.h"
#include "trace.h"

struct khup_reader {
	struct khup_image *img;	/* holds a reference */
	struct khup_task *t;	/* lives as long as the image */
	pid_t pid;
	struct khup_claim *claim;	/* consuming reader: holds a reference */
};

/*
 * The task behind @r, or an error: ENODEV once its image was released,
 * ESTALE once the claim of a consuming reader ended.
 */
static struct khup_task *khup_reader_task(struct khup_reader *r)
{
	if (r->img->dead)
		return ERR_PTR(-ENODEV);
	if (r->claim && !khup_claim_active(r->claim))
		return ERR_PTR(-ESTALE);
	return r->t;
}

/*
 * Resolves the run of pages that starts at byte @pos: it ends with the
 * extent, with the folio, or at the first page no longer held. Returns its
 * length in bytes from @pos (0 at or past the end of the offset space)
 * with *@folio referenced and *@foff the offset of @pos in it, or with
 * *@folio NULL for zero-page extents; -EIO if the page at @pos is not held
 * (punched or lost: it never reads as zeros). Called with khup_lock held;
 * the reference lets the caller copy after dropping the lock, so a slow
 * or faulting user buffer never holds up other khup calls, and nothing
 * can free the folio under the copy.
 */
static ssize_t khup_resolve_run(struct khup_task *t, loff_t pos,
				struct folio **folio, size_t *foff)
{
	u64 idx = pos >> PAGE_SHIFT, end, i;
	struct khup_ext *e;
	struct page *page;

	*folio = NULL;
	if (idx >= t->nr_pages)
		return 0;
	e = khup_task_ext_of(t, idx);
	if (!e || !khup_bit_test(t->present, idx))
		return -EIO;
	end = e->first + e->nr;
	if (!(e->flags & KHUP_EXT_F_ZERO)) {
		page = pfn_to_page(e->pfn + (idx - e->first));
		*folio = page_folio(page);
		i = folio_page_idx(*folio, page);
		*foff = (i << PAGE_SHIFT) + offset_in_page(pos);
		end = min(end, idx + folio_nr_pages(*folio) - i);
		folio_get(*folio);
	}
	for (i = idx + 1; i < end && khup_bit_test(t->present, i); i++)
		;
	return ((i - idx) << PAGE_SHIFT) - offset_in_page(pos);
}

/* One look-up and one copy per run: a THP costs no more than a page. */
static ssize_t khup_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct khup_reader *r = iocb->ki_filp->private_data;
	u64 start = ktime_get_ns();
	loff_t pos = iocb->ki_pos;
	ssize_t done = 0;

	if (pos < 0)
		return -EINVAL;
	while (iov_iter_count(to)) {
		struct khup_task *t;
		struct folio *folio;
		size_t foff = 0, n;
		ssize_t len;

		mutex_lock(&khup_lock);
		t = khup_reader_task(r);
		len = IS_ERR(t) ? PTR_ERR(t) :
		      khup_resolve_run(t, pos, &folio, &foff);
		mutex_unlock(&khup_lock);
		if (len <= 0) {
			if (!done)
				done = len;
			break;
		}

		len = min_t(size_t, len, iov_iter_count(to));
		if (folio) {
			n = copy_folio_to_iter(folio, foff, len, to);
			folio_put(folio);
		} else {
			n = iov_iter_zero(len, to);
		}
		done += n;
		pos += n;
		if (n < len) {
			if (!done)
				done = -EFAULT;
			break;
		}
		if (fatal_signal_pending(current))
			break;
		cond_resched();
	}
	if (done > 0) {
		trace_khup_readback(r->img->id, r->pid, iocb->ki_pos, done);
		iocb->ki_pos = pos;
		atomic64_add(done, &khup_stats.read_bytes);
		atomic64_add(ktime_get_ns() - start, &khup_stats.read_ns);
	}
	return done;
}

/*
 * Punching through a consuming reader marks the pages consumed: they are
 * freed when the claim commits. Through a plain reader it drops them at
 * once, unless a restore holds the image.
 */
static long khup_fallocate(struct file *file, int mode, loff_t off,
			   loff_t len)
{
	struct khup_reader *r = file->private_data;
	struct khup_task *t;
	u64 first, end, i, before;
	long err = 0;

	if (mode != (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;
	mutex_lock(&khup_lock);
	t = khup_reader_task(r);
	if (IS_ERR(t)) {
		err = PTR_ERR(t);
		goto out;
	}
	/* Only pages entirely inside the range are dropped, as for files. */
	first = DIV_ROUND_UP((u64)off, PAGE_SIZE);
	end = min_t(u64, ((u64)off + len) >> PAGE_SHIFT, t->nr_pages);
	if (first >= end)
		goto out;
	if (r->claim) {
		trace_khup_consume(r->img->id, r->pid,
				   khup_consume(t, first, end));
		goto out;
	}
	if (r->img->claim || khup_frozen) {
		err = -EBUSY;
		goto out;
	}
	before = t->held;
	for (i = first; i < end; i++) {
		khup_task_drop_page(r->img, t, i);
		cond_resched();
	}
	if (t->tbl && before != t->held)
		khup_tbl_update_bitmap_crc(t->tbl);
	trace_khup_release(r->img->id, r->pid, before - t->held);
	if (before != t->held && !khup_image_pages(r->img))
		khup_notify(r->img, KHUP_EVENT_FREED);
out:
	mutex_unlock(&khup_lock);
	return err;
}

static int khup_reader_release(struct inode *inode, struct file *file)
{
	struct khup_reader *r = file->private_data;

	mutex_lock(&khup_lock);
	if (r->claim)
		khup_claim_put(r->claim);
	khup_image_put(r->img);
	mutex_unlock(&khup_lock);
	kfree(r);
	return 0;
}

static const struct file_operations khup_reader_fops = {
	.owner = THIS_MODULE,
	.read_iter = khup_read_iter,
	.fallocate = khup_fallocate,
	.llseek = generic_file_llseek,
	.release = khup_reader_release,
};

long khup_ioctl_open_pages(struct khup_open_pages *arg,
			   struct khup_claim *claim, struct khup_new_fd *nf)
{
	struct khup_reader *r;
	struct khup_image *img;
	struct khup_task *t;
	struct file *file;
	int fd, err;

	if (arg->flags & ~KHUP_FD_CLOEXEC)
		return -EOPNOTSUPP;
	r = kzalloc_obj(*r);
	if (!r)
		return -ENOMEM;
	fd = get_unused_fd_flags(O_RDWR |
				 (arg->flags & KHUP_FD_CLOEXEC ? O_CLOEXEC : 0));
	if (fd < 0) {
		kfree(r);
		return fd;
	}

	mutex_lock(&khup_lock);
	img = khup_image_find(arg->id);
	err = -ENOENT;
	if (!img)
		goto err_unlock;
	err = -ESTALE;
	if (claim && !khup_claim_active(claim))
		goto err_unlock;
	err = -EINVAL;
	if (claim && khup_claim_image(claim) != img)
		goto err_unlock;
	err = -EPERM;
	if (!khup_image_may_access(img))
		goto err_unlock;
	t = khup_task_find(img, arg->pid);
	err = -ENOENT;
	if (!t)
		goto err_unlock;
	r->img = img;
	r->t = t;
	r->pid = t->pid;
	kref_get(&img->ref);
	file = anon_inode_create_getfile("[khup-pages]", &khup_reader_fops, r,
					 O_RDWR, NULL);
	if (IS_ERR(file)) {
		err = PTR_ERR(file);
		khup_image_put(img);
		goto err_unlock;
	}
	/*
	 * A private inode that looks like a regular file of the offset
	 * space's size: pread() needs FMODE_PREAD and vfs_fallocate() only
	 * accepts regular files (as for KVM's guest_memfd).
	 */
	file_inode(file)->i_mode |= S_IFREG;
	i_size_write(file_inode(file), t->nr_pages << PAGE_SHIFT);
	file->f_mode |= FMODE_PREAD | FMODE_LSEEK;
	file->f_flags |= O_LARGEFILE;
	if (claim) {
		khup_claim_hold(claim);
		r->claim = claim;
	}
	arg->nr_pages = t->nr_pages;
	arg->fd = fd;
	mutex_unlock(&khup_lock);
	nf->fd = fd;
	nf->file = file;
	return 0;

err_unlock:
	mutex_unlock(&khup_lock);
	put_unused_fd(fd);
	kfree(r);
	return err;
}

/* Page @idx of @t with a reference taken; see khup_resolve_run(). */
static struct page *khup_get_page(struct khup_task *t, u64 idx)
{
	struct khup_ext *e = khup_task_ext_of(t, idx);
	struct page *page;

	page = pfn_to_page(e->pfn + (idx - e->first));
	get_page(page);
	return page;
}

/*
 * Copies every held page of the task to the caller at its recorded va.
 * Each page is looked up under khup_lock and copied after dropping it.
 */
long khup_ioctl_restore_self(struct khup_restore_self *arg)
{
	u64 id = arg->id, idx, copied = 0;
	struct khup_image *img;
	struct khup_task *t;
	pid_t pid;
	long err;

	if (arg->flags)
		return -EOPNOTSUPP;
	if (arg->reserved)
		return -EINVAL;
	mutex_lock(&khup_lock);
	img = khup_image_find(id);
	err = -ENOENT;
	if (!img)
		goto out_unlock;
	err = -EPERM;
	if (!khup_image_may_access(img))
		goto out_unlock;
	err = -ENOENT;
	if (arg->pid) {
		t = khup_task_find(img, arg->pid);
	} else {
		err = -EINVAL;
		t = img->nr_tasks == 1 ?
		    list_first_entry(&img->tasks, struct khup_task, node) :
		    NULL;
	}
	if (!t)
		goto out_unlock;
	pid = t->pid;
	mutex_unlock(&khup_lock);

	for (idx = 0, err = 0; !err; idx++) {
		bool held, zero;
		struct page *page = NULL;
		struct khup_ext *e;
		u64 va;

		mutex_lock(&khup_lock);
		img = khup_image_find(id);
		t = img ? khup_task_find(img, pid) : NULL;
		if (!t || idx >= t->nr_pages) {
			mutex_unlock(&khup_lock);
			err = t ? 0 : -ENODEV;
			break;
		}
		e = khup_task_ext_of(t, idx);
		held = e && khup_bit_test(t->present, idx);
		zero = held && (e->flags & KHUP_EXT_F_ZERO);
		va = held ? e->va + ((idx - e->first) << PAGE_SHIFT) : 0;
		if (held && !zero)
			page = khup_get_page(t, idx);
		mutex_unlock(&khup_lock);
		/* Punched or lost: never zeros in its place. */
		if (!held) {
			err = -EIO;
			break;
		}

		if (page) {
			void *kaddr = kmap_local_page(page);

			if (copy_to_user(u64_to_user_ptr(va), kaddr, PAGE_SIZE))
				err = -EFAULT;
			kunmap_local(kaddr);
			put_page(page);
		} else if (clear_user(u64_to_user_ptr(va), PAGE_SIZE)) {
			err = -EFAULT;
		}
		if (!err)
			copied++;
		if (!err && fatal_signal_pending(current))
			err = -EINTR;
		cond_resched();
	}
	arg->nr_pages = copied;
	trace_khup_readback(id, pid, 0, copied << PAGE_SHIFT);
	return err;

out_unlock:
	mutex_unlock(&khup_lock);
	return err;
}
