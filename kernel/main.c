// SPDX-License-Identifier: GPL-2.0-only
/*
 * khup - Kexec HandOver of User Pages.
 *
 * /dev/khup pins user pages in place, records them per task in images, and
 * hands sealed images to the next kernel through KHO; after kexec the
 * module takes the pages back at load. See doc/module.md.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kexec_handover.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/reboot.h>
#include <linux/sched/user.h>
#include <linux/slab.h>
#include <linux/trace.h>
#include <linux/uaccess.h>

#include "internal.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

#ifdef KHUP_TEST_HOOKS
int khup_debug_corrupt;
module_param_named(debug_corrupt, khup_debug_corrupt, int, 0600);
MODULE_PARM_DESC(debug_corrupt,
		 "Testing only (test builds): 1 corrupt extent tables at seal, 2 publish an unknown compatible, 3 publish a malformed FDT, 4 change the node after its checksum, 5 change the block list after its checksum at kexec");

int khup_debug_lose_page = -1;
module_param_named(debug_lose_page, khup_debug_lose_page, int, 0400);
MODULE_PARM_DESC(debug_lose_page,
		 "Testing only (test builds): after kexec, page N of every restored task is freed and counted as lost, as if it could not be claimed");

static int khup_debug_fail_nth;
module_param_named(debug_fail_nth, khup_debug_fail_nth, int, 0600);
MODULE_PARM_DESC(debug_fail_nth,
		 "Testing only (test builds): the Nth fault-injection point reached from now on (restore at load, publish) fails as out of memory, once; 0 none");

/*
 * A fault-injection point: true (fail as out of memory) when it is the
 * debug_fail_nth-th one reached since that was set. Covers what failslab
 * and fail-nth cannot aim at: the steps of module init and of publishing
 * the node, and KHO's own refusals.
 */
bool khup_fault(const char *site)
{
	if (READ_ONCE(khup_debug_fail_nth) <= 0)
		return false;
	if (--khup_debug_fail_nth)
		return false;
	pr_info("debug_fail_nth: injected a failure at %s\n", site);
	return true;
}
#endif

unsigned long khup_max_pinned_pages;
module_param_named(max_pinned_pages, khup_max_pinned_pages, ulong, 0644);
MODULE_PARM_DESC(max_pinned_pages,
		 "Most pages all images may hold at once (0: no cap); a PIN beyond it fails with ENOSPC");

static char *khup_trace;
module_param_named(trace, khup_trace, charp, 0444);
MODULE_PARM_DESC(trace,
		 "Enable khup:* events from load on: \"top\" for the top-level buffer, else a trace instance name (e.g. the persistent one)");

/*
 * The restore happens in module init, before anyone could enable khup:*
 * through tracefs; with trace=... the restore after kexec is recorded too.
 */
static void khup_trace_enable(void)
{
	struct trace_array *tr;
	int err;

	if (!khup_trace || !*khup_trace)
		return;
	if (!strcmp(khup_trace, "top")) {
		err = trace_set_clr_event("khup", NULL, 1);
	} else {
		tr = trace_array_get_by_name(khup_trace, NULL);
		err = tr ? trace_array_set_clr_event(tr, "khup", NULL, true) :
			   -ENOENT;
		if (tr)
			trace_array_put(tr);
	}
	if (err)
		pr_warn("cannot enable khup:* events in '%s': %d\n", khup_trace,
			err);
}

static bool khup_admin(void)
{
	return capable(CAP_CHECKPOINT_RESTORE) || capable(CAP_SYS_ADMIN);
}

/*
 * A name is non-empty, NUL-terminated, zero-padded after the NUL, and
 * printable ASCII without spaces: it appears in logs, the KHO node, netlink
 * messages and every tool's text and JSON output, none of which then needs
 * escaping.
 */
static int khup_check_name(const char *name)
{
	size_t len = strnlen(name, KHUP_NAME_LEN), i;

	if (!len || len == KHUP_NAME_LEN ||
	    memchr_inv(name + len, 0, KHUP_NAME_LEN - len))
		return -EINVAL;
	for (i = 0; i < len; i++)
		if ((unsigned char)name[i] <= ' ' || (unsigned char)name[i] > '~')
			return -EINVAL;
	return 0;
}

/*
 * Set under khup_lock by the reboot notifier, which runs on the kexec path
 * (kernel_kexec() -> kernel_restart_prepare()) while other tasks still
 * run: taking the lock waits for the operation in progress, and from then
 * on every state change fails with EBUSY, so the "khup" node and the
 * tables it points to reach the next kernel exactly as they are now
 * (never half-updated: a punch between its bitmap and its checksum, a
 * release between freeing tables and withdrawing the node).
 */
bool khup_frozen;

static long khup_ioctl_create(struct khup_create *arg, struct khup_ret *ret)
{
	struct khup_image *img;
	int err;

	if (arg->flags)
		return -EOPNOTSUPP;
	if (!khup_admin())
		return -EPERM;
	err = khup_check_name(arg->name);
	if (err)
		return err;
	mutex_lock(&khup_lock);
	img = khup_frozen ? ERR_PTR(-EBUSY) :
	      khup_image_new(arg->name, current_euid(), khup_next_id());
	if (!IS_ERR(img)) {
		/*
		 * Its pins outlive the caller's processes: they are charged
		 * to the creator's user (RLIMIT_MEMLOCK), unless it may lock
		 * memory without limit, as io_uring decides at ring creation.
		 */
		if (!capable(CAP_IPC_LOCK))
			img->user = get_uid(current_user());
		arg->id = img->id;
		ret->undo_id = img->id;
	}
	mutex_unlock(&khup_lock);
	return PTR_ERR_OR_ZERO(img);
}

/* Looks up @id for a state change by its owner (or CAP_SYS_ADMIN). */
struct khup_image *khup_image_for_change(u64 id)
{
	struct khup_image *img;

	if (!khup_admin())
		return ERR_PTR(-EPERM);
	img = khup_image_find(id);
	if (!img)
		return ERR_PTR(-ENOENT);
	if (!khup_image_may_access(img))
		return ERR_PTR(-EPERM);
	if (khup_frozen)
		return ERR_PTR(-EBUSY);
	return img;
}

static long khup_ioctl_seal(struct khup_image_op *arg)
{
	struct khup_image *img;
	long err;

	if (arg->flags)
		return -EOPNOTSUPP;
	mutex_lock(&khup_lock);
	img = khup_image_for_change(arg->id);
	err = PTR_ERR_OR_ZERO(img);
	if (err)
		goto out;
	err = -EBUSY;
	if (img->state != KHUP_STATE_OPEN)
		goto out;
	err = -EINVAL;
	if (!khup_image_pages(img))
		goto out;
	/* The tasks' deaths must not write into what is handed over. */
	err = khup_exit_writes_detach(img);
	if (err)
		goto out;
	err = khup_seal(img);
	if (err)
		goto out_reattach;
	err = khup_publish();
	if (err) {
		khup_unseal(img);
		khup_publish();
		goto out_reattach;
	}
	img->state = KHUP_STATE_SEALED;
	khup_notify(img, KHUP_EVENT_SEALED);
	pr_info("sealed image %llu '%s': %u tasks, %llu pages\n", img->id,
		img->name, img->nr_tasks, khup_image_pages(img));
	goto out;
out_reattach:
	khup_exit_writes_reattach(img);
out:
	mutex_unlock(&khup_lock);
	return err;
}

/* Called with khup_lock held; also used by the netlink release command. */
long khup_release_locked(u64 id)
{
	struct khup_image *img;
	u64 pages;

	img = khup_image_for_change(id);
	if (IS_ERR(img))
		return PTR_ERR(img);
	/* A restore reads it: only its commit (or its end) may let it go. */
	if (img->claim)
		return -EBUSY;
	pages = khup_image_pages(img);
	khup_notify(img, KHUP_EVENT_RELEASED);
	trace_khup_release(img->id, 0, pages);
	khup_image_release(img);
	khup_publish();
	return 0;
}

static long khup_ioctl_release(struct khup_image_op *arg)
{
	long err;

	if (arg->flags)
		return -EOPNOTSUPP;
	mutex_lock(&khup_lock);
	err = khup_release_locked(arg->id);
	mutex_unlock(&khup_lock);
	return err;
}

static long khup_ioctl_info(struct khup_info *arg)
{
	struct khup_image *img;

	if (arg->flags & ~KHUP_INFO_BY_NAME)
		return -EOPNOTSUPP;
	if (arg->reserved)
		return -EINVAL;
	if ((arg->flags & KHUP_INFO_BY_NAME) && khup_check_name(arg->name))
		return -EINVAL;
	mutex_lock(&khup_lock);
	if (arg->flags & KHUP_INFO_BY_NAME)
		img = khup_image_find_name(arg->name);
	else
		img = khup_image_find(arg->id);
	if (!img) {
		mutex_unlock(&khup_lock);
		return -ENOENT;
	}
	arg->id = img->id;
	memset(arg->name, 0, sizeof(arg->name));
	strscpy(arg->name, img->name, sizeof(arg->name));
	arg->owner_uid = from_kuid_munged(current_user_ns(), img->owner);
	arg->state = img->state;
	arg->nr_tasks = img->nr_tasks;
	arg->nr_pages = khup_image_pages(img);
	arg->created_ns = img->created_ns;
	arg->kexec_count = img->kexec_count;
	memset(arg->release, 0, sizeof(arg->release));
	strscpy(arg->release, img->release, sizeof(arg->release));
	arg->nr_lost = khup_image_lost(img);
	arg->nr_consumed = khup_image_consumed(img);
	arg->claimer = img->claim ? khup_claim_owner(img->claim) : 0;
	arg->info_flags = img->claim ? KHUP_INFO_CLAIMED : 0;
	mutex_unlock(&khup_lock);
	return 0;
}

static long khup_ioctl_list(struct khup_list *arg)
{
	u64 __user *uids = u64_to_user_ptr(arg->ids);
	struct khup_image *img;
	u32 n = 0, cap = arg->count;
	u64 *ids;

	ids = kvmalloc_array(KHUP_MAX_IMAGES, sizeof(*ids), GFP_KERNEL);
	if (!ids)
		return -ENOMEM;
	mutex_lock(&khup_lock);
	list_for_each_entry(img, &khup_images, node)
		ids[n++] = img->id;
	mutex_unlock(&khup_lock);
	arg->count = n;
	if (copy_to_user(uids, ids, min(n, cap) * sizeof(*ids))) {
		kvfree(ids);
		return -EFAULT;
	}
	kvfree(ids);
	return 0;
}

/*
 * TASKS and EXTENTS fill a kernel buffer under khup_lock and copy it out
 * after dropping it: a faulting user buffer never holds up khup.
 */
static long khup_ioctl_tasks(struct khup_tasks *arg)
{
	struct khup_task_info __user *ut = u64_to_user_ptr(arg->tasks);
	u64 __user *ud = u64_to_user_ptr(arg->digests);
	struct khup_task_info *x = NULL;
	struct khup_image *img;
	struct khup_task *t;
	u32 n = 0, cap = min_t(u32, arg->count, KHUP_MAX_TASKS);
	u64 *dig = NULL;
	long err = 0;

	if (cap) {
		x = kvcalloc(cap, sizeof(*x), GFP_KERNEL);
		if (arg->digests)
			dig = kvcalloc(cap, sizeof(*dig), GFP_KERNEL);
		if (!x || (arg->digests && !dig)) {
			err = -ENOMEM;
			goto out;
		}
	}
	mutex_lock(&khup_lock);
	img = khup_image_find(arg->id);
	if (!img) {
		mutex_unlock(&khup_lock);
		err = -ENOENT;
		goto out;
	}
	list_for_each_entry(t, &img->tasks, node) {
		if (n < cap) {
			x[n].pid = t->pid;
			x[n].nr_lost = min_t(u64, t->nr_lost, U32_MAX);
			x[n].nr_pages = t->nr_pages;
			x[n].nr_extents = t->nr_ext;
			strscpy(x[n].comm, t->comm, sizeof(x[n].comm));
			if (dig)
				dig[n] = khup_task_digest(img, t);
		}
		n++;
	}
	mutex_unlock(&khup_lock);
	if (copy_to_user(ut, x, array_size(min(n, cap), sizeof(*x))) ||
	    (dig && copy_to_user(ud, dig, array_size(min(n, cap), sizeof(*dig)))))
		err = -EFAULT;
	arg->count = n;
out:
	kvfree(dig);
	kvfree(x);
	return err;
}

static long khup_ioctl_extents(struct khup_extents *arg)
{
	struct khup_extent __user *ue = u64_to_user_ptr(arg->extents);
	struct khup_extent *x = NULL;
	struct khup_image *img;
	struct khup_task *t;
	u64 i, n, cap;
	long err = 0;
	bool pfns;

	if (arg->reserved)
		return -EINVAL;
	/*
	 * Physical addresses are for the administrator only; the image's
	 * owner (with CAP_CHECKPOINT_RESTORE) gets the extents without them
	 * (pfn 0), which is all a restore needs (where the huge pages were).
	 */
	pfns = capable(CAP_SYS_ADMIN);
	mutex_lock(&khup_lock);
	img = khup_image_find(arg->id);
	t = img ? khup_task_find(img, arg->pid) : NULL;
	if (!t) {
		err = -ENOENT;
		goto out_unlock;
	}
	if (!pfns && !khup_image_may_access(img)) {
		err = -EPERM;
		goto out_unlock;
	}
	n = t->nr_ext;
	if (n > U32_MAX) {
		err = -EOVERFLOW;
		goto out_unlock;
	}
	cap = min_t(u64, arg->count, n);
	if (cap) {
		x = kvcalloc(cap, sizeof(*x), GFP_KERNEL);
		if (!x) {
			err = -ENOMEM;
			goto out_unlock;
		}
	}
	for (i = 0; i < cap; i++) {
		x[i].va = t->ext[i].va;
		x[i].pfn = pfns ? t->ext[i].pfn : 0;
		x[i].nr = t->ext[i].nr;
		x[i].order = t->ext[i].order;
		x[i].flags = t->ext[i].flags;
	}
	mutex_unlock(&khup_lock);
	if (copy_to_user(ue, x, array_size(cap, sizeof(*x))))
		err = -EFAULT;
	else
		arg->count = n;
	kvfree(x);
	return err;

out_unlock:
	mutex_unlock(&khup_lock);
	return err;
}

union khup_ucmd {
	struct khup_create create;
	struct khup_pin pin;
	struct khup_image_op op;
	struct khup_info info;
	struct khup_list list;
	struct khup_open_pages open;
	struct khup_restore_self restore;
	struct khup_tasks tasks;
	struct khup_extents extents;
	struct khup_claim_op claim;
	struct khup_prepare prepare;
};

/*
 * The struct of each ioctl: its size now and in its first version, and
 * whether it has outputs to copy back (SEAL and RELEASE have none: a
 * failed copy must not turn their success into an error).
 */
struct khup_ioctl_op {
	unsigned int size;
	unsigned int min_size;
	bool out;
};

#define KHUP_OP(_cmd, _struct, _last, _out)				\
	[_cmd] = {							\
		.size = sizeof(_struct) +				\
			BUILD_BUG_ON_ZERO(sizeof(union khup_ucmd) <	\
					  sizeof(_struct)),		\
		.min_size = offsetofend(_struct, _last),		\
		.out = _out,						\
	}

static const struct khup_ioctl_op khup_ops[] = {
	KHUP_OP(KHUP_CMD_CREATE, struct khup_create, id, true),
	KHUP_OP(KHUP_CMD_PIN, struct khup_pin, offset, true),
	KHUP_OP(KHUP_CMD_SEAL, struct khup_image_op, id, false),
	KHUP_OP(KHUP_CMD_RELEASE, struct khup_image_op, id, false),
	KHUP_OP(KHUP_CMD_INFO, struct khup_info, release, true),
	KHUP_OP(KHUP_CMD_LIST, struct khup_list, ids, true),
	KHUP_OP(KHUP_CMD_OPEN_PAGES, struct khup_open_pages, nr_pages, true),
	KHUP_OP(KHUP_CMD_RESTORE_SELF, struct khup_restore_self, nr_pages,
		true),
	KHUP_OP(KHUP_CMD_TASKS, struct khup_tasks, tasks, true),
	KHUP_OP(KHUP_CMD_EXTENTS, struct khup_extents, extents, true),
	KHUP_OP(KHUP_CMD_CLAIM, struct khup_claim_op, reserved, true),
	KHUP_OP(KHUP_CMD_PREPARE, struct khup_prepare, nr_migrated, true),
};

/* The output could not be copied: undo what the call did. */
static void khup_undo(unsigned int nr, struct khup_ret *ret)
{
	if (ret->file) {
		fput(ret->file);
		put_unused_fd(ret->fd);
	}
	if (nr == KHUP_CMD_CREATE && ret->undo_id) {
		mutex_lock(&khup_lock);
		khup_release_locked(ret->undo_id);
		mutex_unlock(&khup_lock);
	}
	if (nr == KHUP_CMD_PIN && ret->undo_pinned)
		khup_pin_undo(ret);
}

/*
 * Direct calls with each handler's own argument type, no function-pointer
 * table: nothing for kCFI to trap on. A handler that creates an fd leaves
 * it in @nf, to be installed only once its number reached the caller.
 */
static long khup_call(unsigned int nr, union khup_ucmd *u,
		      struct khup_claim *claim, struct khup_ret *nf)
{
	switch (nr) {
	case KHUP_CMD_CREATE:
		return khup_ioctl_create(&u->create, nf);
	case KHUP_CMD_PIN:
		return khup_ioctl_pin(&u->pin, nf);
	case KHUP_CMD_SEAL:
		return khup_ioctl_seal(&u->op);
	case KHUP_CMD_RELEASE:
		return khup_ioctl_release(&u->op);
	case KHUP_CMD_INFO:
		return khup_ioctl_info(&u->info);
	case KHUP_CMD_LIST:
		return khup_ioctl_list(&u->list);
	case KHUP_CMD_OPEN_PAGES:
		return khup_ioctl_open_pages(&u->open, claim, nf);
	case KHUP_CMD_RESTORE_SELF:
		return khup_ioctl_restore_self(&u->restore);
	case KHUP_CMD_TASKS:
		return khup_ioctl_tasks(&u->tasks);
	case KHUP_CMD_EXTENTS:
		return khup_ioctl_extents(&u->extents);
	case KHUP_CMD_CLAIM:
		return khup_ioctl_claim(&u->claim, nf);
	case KHUP_CMD_PREPARE:
		return khup_ioctl_prepare(&u->prepare);
	}
	return -ENOTTY;
}

/*
 * Extensible-struct dispatch in the style of liveupdate/iommufd: the user
 * states its struct size; bytes the kernel does not know must be zero
 * (E2BIG otherwise, from copy_struct_from_user()); outputs are copied back
 * for the size the user knows. @claim is set for the ioctls issued on a
 * claim fd (claim.c), which only open consuming readers. If the output
 * cannot be copied, what the call did is undone (a new fd is installed
 * only after the copy): an ioctl that fails changed nothing.
 */
long khup_ioctl_dispatch(unsigned int cmd, void __user *ubuf,
			 struct khup_claim *claim)
{
	struct khup_ret ret = { .fd = -1 };
	const struct khup_ioctl_op *op;
	union khup_ucmd buf;
	unsigned int nr;
	u32 usize;
	long err;

	if (_IOC_TYPE(cmd) != KHUP_IOCTL_TYPE || _IOC_DIR(cmd) != _IOC_NONE ||
	    _IOC_SIZE(cmd))
		return -ENOTTY;
	nr = _IOC_NR(cmd);
	if (nr >= ARRAY_SIZE(khup_ops) || !khup_ops[nr].size ||
	    (claim && nr != KHUP_CMD_OPEN_PAGES))
		return -ENOTTY;
	op = &khup_ops[nr];
	if (get_user(usize, (u32 __user *)ubuf))
		return -EFAULT;
	if (usize < op->min_size)
		return -EINVAL;
	err = copy_struct_from_user(&buf, op->size, ubuf, usize);
	if (err)
		return err;
	err = khup_call(nr, &buf, claim, &ret);
	if (err)
		return err;
	if (op->out && copy_to_user(ubuf, &buf, min_t(u32, usize, op->size))) {
		khup_undo(nr, &ret);
		return -EFAULT;
	}
	if (ret.file)
		fd_install(ret.fd, ret.file);
	return 0;
}

/*
 * No compat_ioctl: KHUP_IOC_PIN takes an array of native struct iovec, and
 * CRIU and khupd are 64-bit; 32-bit callers get ENOTTY.
 */
static long khup_ioctl(struct file *file, unsigned int cmd, unsigned long uarg)
{
	return khup_ioctl_dispatch(cmd, (void __user *)uarg, NULL);
}

static const struct file_operations khup_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = khup_ioctl,
};

/*
 * /sys/class/misc/khup/node_format: the KHO node format this module writes,
 * so that an upgrade can check before kexec that the next kernel's module
 * reads it (its "khup_node_formats" module info).
 */
static ssize_t node_format_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", KHUP_COMPATIBLE);
}
static DEVICE_ATTR_RO(node_format);

static struct attribute *khup_attrs[] = {
	&dev_attr_node_format.attr,
	NULL,
};
ATTRIBUTE_GROUPS(khup);

static struct miscdevice khup_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "khup",
	.fops = &khup_fops,
	.mode = 0600,
	.groups = khup_groups,
};

static int khup_reboot(struct notifier_block *nb, unsigned long action,
		       void *cmd)
{
	mutex_lock(&khup_lock);
	khup_frozen = true;
	khup_freeze_node(action == SYS_RESTART);
	mutex_unlock(&khup_lock);
	pr_info("frozen for %s: %d images, nothing changes from here on\n",
		action == SYS_RESTART ? "restart or kexec" : "shutdown",
		khup_images_count());
	return NOTIFY_DONE;
}

static struct notifier_block khup_reboot_nb = {
	.notifier_call = khup_reboot,
};

static int __init khup_init(void)
{
	int err;

	err = khup_shrinker_init();
	if (err)
		return err;
	err = khup_netlink_init();
	if (err)
		goto out_shrinker;
	khup_trace_enable();
	err = register_reboot_notifier(&khup_reboot_nb);
	if (err)
		goto out_netlink;
	/*
	 * /dev/khup goes live with khup_lock held until the images that came
	 * over are restored: a new image must not take the id or name of one
	 * still coming over (its pages would be stranded). Netlink requests
	 * wait for the lock too.
	 */
	mutex_lock(&khup_lock);
	err = misc_register(&khup_misc);
	if (!err && kho_is_enabled() && is_kho_boot()) {
		/* Fails only having taken nothing over: the load fails. */
		err = khup_restore_all();
		if (err)
			misc_deregister(&khup_misc);
	}
	mutex_unlock(&khup_lock);
	if (err)
		goto out_reboot;
	if (!kho_is_enabled())
		pr_info("KHO is disabled (boot with kho=on); images cannot be sealed\n");
	return 0;

out_reboot:
	unregister_reboot_notifier(&khup_reboot_nb);
out_netlink:
	khup_netlink_exit();
out_shrinker:
	khup_shrinker_exit();
	return err;
}

static void __exit khup_exit(void)
{
	/* Held images keep a module reference, so none is left here. */
	misc_deregister(&khup_misc);
	unregister_reboot_notifier(&khup_reboot_nb);
	khup_netlink_exit();
	mutex_lock(&khup_lock);
	khup_kho_exit();
	mutex_unlock(&khup_lock);
	khup_shrinker_exit();
}

module_init(khup_init);
module_exit(khup_exit);

MODULE_DESCRIPTION("khup: Kexec HandOver of User Pages");
/* The KHO node formats this module reads after a kexec. */
MODULE_INFO(khup_node_formats,
	    KHUP_COMPATIBLE " " KHUP_COMPATIBLE_V2 " " KHUP_COMPATIBLE_V1);
MODULE_LICENSE("GPL");
