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
	pid_t pid;
};

/* The task behind @r, or NULL once its image was released. */
static struct khup_task *khup_reader_task(struct khup_reader *r)
{
	if (r->img->dead)
		return NULL;
	return khup_task_find(r->img, r->pid);
}

/*
 * Page @idx of @t with a reference taken, NULL if it reads as zeros (zero
 * page, punched, or not held). Called with khup_lock held; the reference
 * lets the caller copy after dropping the lock, so a slow or faulting
 * user buffer never holds up other khup calls, and a concurrent punch
 * cannot free the page under the copy.
 */
static struct page *khup_get_page(struct khup_task *t, u64 idx)
{
	struct khup_ext *e = khup_task_ext_of(t, idx);
	struct page *page;

	if (!e || (e->flags & KHUP_EXT_F_ZERO) ||
	    !khup_bit_test(t->present, idx))
		return NULL;
	page = pfn_to_page(e->pfn + (idx - e->first));
	get_page(page);
	return page;
}

static ssize_t khup_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct khup_reader *r = iocb->ki_filp->private_data;
	loff_t pos = iocb->ki_pos;
	struct khup_task *t;
	ssize_t done = 0;

	if (pos < 0)
		return -EINVAL;
	while (iov_iter_count(to)) {
		size_t off = offset_in_page(pos), len, n;
		struct page *page;
		u64 size;

		mutex_lock(&khup_lock);
		t = khup_reader_task(r);
		if (!t) {
			mutex_unlock(&khup_lock);
			if (!done)
				done = -ENODEV;
			break;
		}
		size = t->nr_pages << PAGE_SHIFT;
		if (pos >= size) {
			mutex_unlock(&khup_lock);
			break;
		}
		page = khup_get_page(t, pos >> PAGE_SHIFT);
		mutex_unlock(&khup_lock);

		len = min_t(u64, PAGE_SIZE - off, size - pos);
		len = min(len, iov_iter_count(to));
		if (page) {
			void *kaddr = kmap_local_page(page);

			n = copy_to_iter(kaddr + off, len, to);
			kunmap_local(kaddr);
			put_page(page);
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
	}
	return done;
}

static long khup_fallocate(struct file *file, int mode, loff_t off,
			   loff_t len)
{
	struct khup_reader *r = file->private_data;
	struct khup_task *t;
	u64 first, end, i, before;

	if (mode != (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;
	mutex_lock(&khup_lock);
	t = khup_reader_task(r);
	if (!t) {
		mutex_unlock(&khup_lock);
		return -ENODEV;
	}
	/* Only pages entirely inside the range are dropped, as for files. */
	first = DIV_ROUND_UP((u64)off, PAGE_SIZE);
	end = min_t(u64, ((u64)off + len) >> PAGE_SHIFT, t->nr_pages);
	before = t->held;
	for (i = first; i < end; i++)
		khup_task_drop_page(r->img, t, i);
	if (t->tbl && before != t->held)
		khup_tbl_update_bitmap_crc(t->tbl);
	trace_khup_release(r->img->id, r->pid, before - t->held);
	if (before != t->held && !khup_image_pages(r->img))
		khup_notify(r->img, KHUP_EVENT_FREED);
	mutex_unlock(&khup_lock);
	return 0;
}

static int khup_reader_release(struct inode *inode, struct file *file)
{
	struct khup_reader *r = file->private_data;

	mutex_lock(&khup_lock);
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

long khup_ioctl_open_pages(struct khup_open_pages *arg)
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
	err = -EPERM;
	if (!khup_image_may_access(img))
		goto err_unlock;
	t = khup_task_find(img, arg->pid);
	err = -ENOENT;
	if (!t)
		goto err_unlock;
	r->img = img;
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
	arg->nr_pages = t->nr_pages;
	arg->fd = fd;
	mutex_unlock(&khup_lock);
	fd_install(fd, file);
	return 0;

err_unlock:
	mutex_unlock(&khup_lock);
	put_unused_fd(fd);
	kfree(r);
	return err;
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
		if (!held)
			continue;

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
