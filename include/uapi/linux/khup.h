/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * khup - Kexec HandOver of User Pages
 *
 * The only contract between the khup kernel module and userspace (CRIU
 * plugin, khupd, khupctl, tests): the /dev/khup ioctls, the generic netlink
 * family "khup", and the names and layout of the KHO node the module hands
 * over to the next kernel.
 */

#ifndef _UAPI_LINUX_KHUP_H
#define _UAPI_LINUX_KHUP_H

#include <linux/ioctl.h>
#include <linux/types.h>

/**
 * DOC: General ioctl format
 *
 * Every ioctl takes a pointer to a structure whose first member is
 * ``__u32 size``, set by userspace to the size of the structure it was
 * built against. The kernel copies min(size, its own size) bytes; bytes
 * beyond what the kernel understands must be zero. Reserved fields must be
 * zero. Output fields are written back for min(size, kernel size) bytes.
 *
 * ioctls use a standard meaning for common errnos:
 *
 *  - ENOTTY: the ioctl number is not supported at all.
 *  - E2BIG: the structure has non-zero bytes in a part the kernel does not
 *    understand (trailing bytes beyond the kernel's structure).
 *  - EOPNOTSUPP: a flag or mode the kernel does not understand.
 *  - EINVAL: everything was understood but a field is not correct (size
 *    smaller than the first version of the structure, non-zero reserved
 *    field, unterminated or empty name, unaligned address or length, zero
 *    or too many iovecs, wrong image state).
 *  - ENOENT: the image id, image name or task pid does not exist.
 *  - EEXIST: an image with that name already exists.
 *  - EPERM: the caller lacks the capability, is not the image's owner, or
 *    (remote pinning) is not the ptrace tracer of the target task.
 *  - ESRCH: the pid does not name a live process.
 *  - EFAULT: a user pointer or a range to pin is not mapped.
 *  - EOVERFLOW: address + length overflows, or a count does not fit
 *    (e.g. more than %KHUP_MAX_PIN_PAGES pages in one pin call).
 *  - ENOSPC: too many images, tasks or extents.
 *  - EBUSY: the image cannot change state now (e.g. pinning into a sealed
 *    image).
 *  - ENOMEM: out of memory.
 *  - ENODEV: KHO is disabled in this kernel (boot with kho=on).
 */

/* The ioctl type (0xB9 is unused in ioctl-number.rst). */
#define KHUP_IOCTL_TYPE		0xB9

/* Maximum image name length including the terminating NUL. */
#define KHUP_NAME_LEN		64

/* Maximum kernel release string length including the terminating NUL. */
#define KHUP_RELEASE_LEN	72

/* Maximum number of iovecs in one KHUP_IOC_PIN call. */
#define KHUP_MAX_IOVECS		1024

/* Maximum number of pages in one KHUP_IOC_PIN call (16 GiB of 4 KiB pages). */
#define KHUP_MAX_PIN_PAGES	(1U << 22)

/* Maximum number of images held at once. */
#define KHUP_MAX_IMAGES		256

/* Maximum number of tasks per image. */
#define KHUP_MAX_TASKS		4096

enum {
	KHUP_CMD_BASE = 0x00,
	KHUP_CMD_CREATE = KHUP_CMD_BASE,
	KHUP_CMD_PIN = 0x01,
	KHUP_CMD_SEAL = 0x02,
	KHUP_CMD_RELEASE = 0x03,
	KHUP_CMD_INFO = 0x04,
	KHUP_CMD_LIST = 0x05,
	KHUP_CMD_OPEN_PAGES = 0x06,
	KHUP_CMD_RESTORE_SELF = 0x07,
	KHUP_CMD_TASKS = 0x08,
	KHUP_CMD_EXTENTS = 0x09,
	KHUP_CMD_CLAIM = 0x0a,
	KHUP_CMD_COMMIT = 0x0b,
	KHUP_CMD_PREPARE = 0x0c,
	KHUP_CMD_CLAIM_TIE = 0x0d,
};

/**
 * enum khup_image_state - life cycle of an image
 * @KHUP_STATE_OPEN: accepting pins; not handed over at kexec.
 * @KHUP_STATE_SEALED: pins closed; folios preserved with KHO and the image
 *	published in the "khup" KHO node. Survives kexec.
 * @KHUP_STATE_RESTORED: came over from the previous kernel; its pages are
 *	owned by the module and already preserved again, so an image that is
 *	never released also survives the next kexec.
 */
enum khup_image_state {
	KHUP_STATE_OPEN = 1,
	KHUP_STATE_SEALED = 2,
	KHUP_STATE_RESTORED = 3,
};

/**
 * struct khup_create - ioctl(KHUP_IOC_CREATE)
 * @size:	Input; sizeof(struct khup_create).
 * @flags:	Input; must be 0.
 * @name:	Input; NUL-terminated, non-empty, unique image name of at most
 *		%KHUP_NAME_LEN bytes including the NUL, printable ASCII
 *		without spaces (0x21..0x7e); bytes after the NUL must be zero.
 * @id:		Output; the new image's id (never 0).
 *
 * Creates an empty image in state %KHUP_STATE_OPEN owned by the caller's
 * euid. Requires CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN.
 *
 * Errors: EEXIST name in use; ENOSPC %KHUP_MAX_IMAGES reached.
 */
struct khup_create {
	__u32		size;
	__u32		flags;
	char		name[KHUP_NAME_LEN];
	__aligned_u64	id;
};

/**
 * struct khup_pin - ioctl(KHUP_IOC_PIN)
 * @size:	Input; sizeof(struct khup_pin).
 * @flags:	Input; must be 0.
 * @id:		Input; image id, the image must be %KHUP_STATE_OPEN.
 * @pid:	Input; 0 pins the caller's own memory; otherwise a pid in the
 *		caller's pid namespace whose task the caller is ptrace-tracing
 *		(attached with PTRACE_SEIZE/ATTACH, which proves
 *		PTRACE_MODE_ATTACH_REALCREDS access). Pages are recorded
 *		under the thread group id.
 * @nr_iovecs:	Input; number of struct iovec at @iovecs, 1 to
 *		%KHUP_MAX_IOVECS.
 * @iovecs:	Input; user pointer to an array of struct iovec. Every
 *		iov_base and iov_len must be page aligned, iov_len non-zero.
 * @nr_pages:	Output; pages pinned by this call.
 * @offset:	Output; byte offset of the first page pinned by this call in
 *		the task's page offset space (see KHUP_IOC_OPEN_PAGES).
 *
 * Pins exactly the pages of the given ranges with FOLL_LONGTERM (which also
 * migrates them out of CMA, including KHO scratch), in the given order. The
 * n-th page pinned for a task is at offset n * page size of the task's
 * offset space, like CRIU's pages-*.img. Large folios (THP) are kept whole.
 * The call is all or nothing: on error nothing of it stays pinned.
 * Requires CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN.
 *
 * Errors: EINVAL unaligned/empty range or bad @nr_iovecs; EOVERFLOW range
 * wraps or more than %KHUP_MAX_PIN_PAGES pages; EFAULT unmapped range;
 * ESRCH no such pid; EPERM not the tracer; EBUSY image not open; ENOSPC
 * too many tasks/extents.
 */
struct khup_pin {
	__u32		size;
	__u32		flags;
	__aligned_u64	id;
	__s32		pid;
	__u32		nr_iovecs;
	__aligned_u64	iovecs;
	__aligned_u64	nr_pages;
	__aligned_u64	offset;
};

/**
 * struct khup_prepare - ioctl(KHUP_IOC_PREPARE)
 * @size:	Input; sizeof(struct khup_prepare).
 * @flags:	Input; must be 0.
 * @pid:	Input; as for %KHUP_IOC_PIN: 0 for the caller, else a task the
 *		caller ptrace-traces. The task need not be stopped: attach
 *		with PTRACE_SEIZE and let it run.
 * @nr_iovecs:	Input; as for %KHUP_IOC_PIN.
 * @iovecs:	Input; as for %KHUP_IOC_PIN, except that pages which are
 *		not present, unmapped holes and pages a pin would have to
 *		fault (e.g. shared copy-on-write with another process) are
 *		skipped: nothing is faulted in.
 * @nr_pages:	Output; present pages looked at.
 * @nr_migrated: Output; pages migrated meanwhile, system-wide (the
 *		pgmigrate_success event count around the call).
 *
 * Moves the present pages of the ranges out of CMA and ZONE_MOVABLE (KHO
 * scratch is CMA) while the task still runs, by pinning them with
 * FOLL_LONGTERM and unpinning them again at once. A later %KHUP_IOC_PIN,
 * inside a checkpoint's downtime, then only migrates the pages that were
 * allocated since. Nothing stays pinned and no image is involved.
 * Requires CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN.
 *
 * Errors: as for %KHUP_IOC_PIN, without EFAULT, EBUSY and ENOSPC.
 */
struct khup_prepare {
	__u32		size;
	__u32		flags;
	__s32		pid;
	__u32		nr_iovecs;
	__aligned_u64	iovecs;
	__aligned_u64	nr_pages;
	__aligned_u64	nr_migrated;
};

/**
 * struct khup_image_op - ioctl(KHUP_IOC_SEAL) and ioctl(KHUP_IOC_RELEASE)
 * @size:	Input; sizeof(struct khup_image_op).
 * @flags:	Input; must be 0.
 * @id:		Input; image id.
 *
 * SEAL: closes an %KHUP_STATE_OPEN image, preserves its folios with KHO and
 * republishes the "khup" KHO node. EBUSY if the image is not open, EINVAL
 * if it holds no pages. For every task pinned by pid, it first clears the
 * clear_child_tid and robust list pointers of all its threads, so that
 * their exit writes nothing into the handed-over memory (the checkpointer
 * restores them); releasing the image puts them back in threads still
 * alive. EBUSY if such a thread is not stopped under the caller's ptrace,
 * ESRCH if the task exited since it was pinned.
 *
 * RELEASE: unpins or frees every page of the image, withdraws it from KHO
 * and forgets it; its id becomes invalid (ENOENT on a second release).
 *
 * Both require CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN and ownership
 * (caller euid == image owner) unless the caller has CAP_SYS_ADMIN.
 */
struct khup_image_op {
	__u32		size;
	__u32		flags;
	__aligned_u64	id;
};

/* khup_info.flags: look the image up by @name instead of @id. */
#define KHUP_INFO_BY_NAME	(1U << 0)

/**
 * struct khup_info - ioctl(KHUP_IOC_INFO)
 * @size:	Input; sizeof(struct khup_info).
 * @flags:	Input; 0 or %KHUP_INFO_BY_NAME.
 * @id:		Input (or Output with %KHUP_INFO_BY_NAME); image id.
 * @name:	Output (or Input with %KHUP_INFO_BY_NAME); image name.
 * @owner_uid:	Output; euid of the creator (in the initial user namespace).
 * @state:	Output; enum khup_image_state.
 * @nr_tasks:	Output; number of tasks in the image.
 * @reserved:	Must be 0.
 * @nr_pages:	Output; pages still held (pinned or restored, not punched).
 * @created_ns:	Output; CLOCK_REALTIME of creation in ns.
 * @kexec_count: Output; number of kexecs the image has survived.
 * @release:	Output; utsname release of the kernel that created it.
 * @nr_lost:	Output; pages that can no longer be read (not claimed after
 *		a kexec, or consumed pages reclaimed under memory pressure):
 *		they read as EIO and the image cannot be claimed.
 * @nr_consumed: Output; pages read and punched by the current claim's
 *		restore, kept until it commits (see %KHUP_IOC_CLAIM).
 * @claimer:	Output; thread group id of the process that holds the
 *		claim (in the caller's pid namespace; 0 if none or not
 *		visible), see @flags.
 * @info_flags:	Output; %KHUP_INFO_CLAIMED if the image is claimed.
 */
struct khup_info {
	__u32		size;
	__u32		flags;
	__aligned_u64	id;
	char		name[KHUP_NAME_LEN];
	__u32		owner_uid;
	__u32		state;
	__u32		nr_tasks;
	__u32		reserved;
	__aligned_u64	nr_pages;
	__aligned_u64	created_ns;
	__aligned_u64	kexec_count;
	char		release[KHUP_RELEASE_LEN];
	__aligned_u64	nr_lost;
	__aligned_u64	nr_consumed;
	__s32		claimer;
	__u32		info_flags;
};

/* khup_info.info_flags: a restore holds the image (KHUP_IOC_CLAIM). */
#define KHUP_INFO_CLAIMED	(1U << 0)

/**
 * struct khup_list - ioctl(KHUP_IOC_LIST)
 * @size:	Input; sizeof(struct khup_list).
 * @count:	Input: capacity of @ids in entries; Output: number of images.
 *		If the output is larger than the input, only the first
 *		input-count ids were written.
 * @ids:	Input; user pointer to an array of __u64, may be 0 if
 *		@count is 0.
 */
struct khup_list {
	__u32		size;
	__u32		count;
	__aligned_u64	ids;
};

/* khup_open_pages.flags: set O_CLOEXEC on the new fd. */
#define KHUP_FD_CLOEXEC		(1U << 0)

/**
 * struct khup_open_pages - ioctl(KHUP_IOC_OPEN_PAGES)
 * @size:	Input; sizeof(struct khup_open_pages).
 * @flags:	Input; 0 or %KHUP_FD_CLOEXEC.
 * @id:		Input; image id (any state).
 * @pid:	Input; task pid as recorded in the image.
 * @fd:		Output; read-back file descriptor.
 * @nr_pages:	Output; size of the task's offset space in pages.
 *
 * Returns an fd on which pread()/preadv() at page offsets return page
 * contents (a read starting at or beyond the end returns 0, like EOF; a
 * page the image no longer holds, punched or lost, fails the read with
 * EIO: it never reads as zeros; a page that mapped the zero page reads as
 * zeros) and fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off,
 * len) drops the pages fully inside the range (unpinned before kexec, freed
 * after); EBUSY while the image is claimed. Offsets and lengths of reads
 * need not be aligned. Once the image is released, reads and punches fail
 * with ENODEV. Owner or CAP_SYS_ADMIN only.
 *
 * Issued on a claim fd (see %KHUP_IOC_CLAIM) instead of /dev/khup, it
 * returns a *consuming* reader of the claimed image: punching marks the
 * pages consumed instead of dropping them (ESTALE once the claim ended).
 */
struct khup_open_pages {
	__u32		size;
	__u32		flags;
	__aligned_u64	id;
	__s32		pid;
	__s32		fd;
	__aligned_u64	nr_pages;
};

/**
 * struct khup_claim_op - ioctl(KHUP_IOC_CLAIM)
 * @size:	Input; sizeof(struct khup_claim_op).
 * @flags:	Input; 0 or %KHUP_FD_CLOEXEC.
 * @id:		Input; image id (state SEALED or RESTORED).
 * @fd:		Output; the claim file descriptor.
 * @reserved:	Must be 0.
 *
 * Takes the exclusive right to restore an image: one restorer at a time.
 * The claim lives as long as the returned fd (and its duplicates). On it:
 *
 *  - KHUP_IOC_OPEN_PAGES (struct khup_open_pages) opens consuming readers;
 *    pages they punch are *consumed*: still held (and handed over at a
 *    kexec), readable again if the restore fails; under memory pressure
 *    the module may free consumed pages (they then count as lost);
 *  - KHUP_IOC_COMMIT (struct khup_image_op, @id of the claimed image)
 *    ends the restore successfully: the image is released, every page
 *    freed;
 *  - KHUP_IOC_CLAIM_TIE (struct khup_claim_tie) ties the caller, a
 *    process restored post-copy, to the claim: it is killed if the claim
 *    ends without a commit.
 *
 * The claim fd may be passed to other processes (e.g. a lazy-pages
 * daemon that commits once the last page is copied). Closing the
 * claim without committing (the restorer failed or died) rolls back:
 * consumed pages are held and readable as before, and the image can be
 * claimed again. While claimed, KHUP_IOC_RELEASE, netlink
 * release and punching through plain readers fail with EBUSY.
 *
 * EBUSY if the image is already claimed (or still OPEN), EIO if it has
 * lost pages (see khup_info.nr_lost). Owner or CAP_SYS_ADMIN, and
 * CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN.
 */
struct khup_claim_op {
	__u32		size;
	__u32		flags;
	__aligned_u64	id;
	__s32		fd;
	__u32		reserved;
};

/**
 * struct khup_claim_tie - ioctl(KHUP_IOC_CLAIM_TIE), on a claim fd only
 * @size:	Input; sizeof(struct khup_claim_tie).
 * @flags:	Input; 0 or %KHUP_TIE_FILLED.
 * @uffd:	Input; the caller's userfaultfd, or -1 for none.
 * @reserved:	Must be 0.
 *
 * Ties the calling process (its thread group) to the claim, for a
 * post-copy restore whose memory is still being filled through @uffd by
 * another process (CRIU's lazy-pages daemon). If the claim then ends
 * without a commit, the module sends SIGKILL to every tied process and
 * only afterwards drops its reference to their userfaultfds: a tied
 * process can never run on with the pages not yet copied, which it would
 * otherwise read as zeros once the filler's userfaultfd is closed. A
 * commit forgets the ties. Up to %KHUP_MAX_TASKS ties per claim (ENOSPC
 * beyond); EBADF if @uffd is not an open fd, EINVAL if it is not a
 * userfaultfd; ESTALE once the claim ended.
 *
 * With %KHUP_TIE_FILLED, issued by the filler: every page of the process
 * served through @uffd has been copied, and the filler is about to close
 * it. The module lets go of @uffd (the process stays tied), so that the
 * process's later faults are resolved by the kernel instead of waiting on
 * a userfaultfd nobody reads. ENOENT if no tie holds @uffd.
 */
struct khup_claim_tie {
	__u32		size;
	__u32		flags;
	__s32		uffd;
	__u32		reserved;
};

/* khup_claim_tie.flags: the filler is done with @uffd. */
#define KHUP_TIE_FILLED		(1U << 0)

/**
 * struct khup_restore_self - ioctl(KHUP_IOC_RESTORE_SELF)
 * @size:	Input; sizeof(struct khup_restore_self).
 * @flags:	Input; must be 0.
 * @id:		Input; image id.
 * @pid:	Input; task pid as recorded in the image, or 0 if the image
 *		has exactly one task.
 * @reserved:	Must be 0.
 * @nr_pages:	Output; pages copied.
 *
 * Copies every held page of the task back into the caller's memory at the
 * virtual address it was pinned from. The caller must have those ranges
 * mapped writable (EFAULT otherwise). EIO (after copying the pages before
 * it) if a page of the task is no longer held. Pages are not dropped;
 * release the image afterwards. Owner or CAP_SYS_ADMIN only.
 */
struct khup_restore_self {
	__u32		size;
	__u32		flags;
	__aligned_u64	id;
	__s32		pid;
	__u32		reserved;
	__aligned_u64	nr_pages;
};

/**
 * struct khup_task_info - one entry of KHUP_IOC_TASKS output
 * @pid:	pid (thread group id) recorded at pin time.
 * @nr_lost:	pages of the task that can no longer be read (see
 *		khup_info.nr_lost).
 * @nr_pages:	size of the task's offset space in pages.
 * @nr_extents:	number of extents.
 * @comm:	task comm at pin time.
 */
struct khup_task_info {
	__s32		pid;
	__u32		nr_lost;
	__aligned_u64	nr_pages;
	__aligned_u64	nr_extents;
	char		comm[16];
};

/**
 * struct khup_tasks - ioctl(KHUP_IOC_TASKS)
 * @size:	Input; sizeof(struct khup_tasks).
 * @count:	Input: capacity of @tasks; Output: number of tasks in the image.
 * @id:		Input; image id.
 * @tasks:	Input; user pointer to an array of struct khup_task_info.
 * @digests:	Input; 0, or a user pointer to an array of @count __u64 that
 *		gets each task's extent digest, in the order of @tasks: a
 *		keyed hash (SipHash-2-4) of the task's pid and extents (va,
 *		pfn, pages, order, flags). The key is random per image and
 *		crosses the kexec with it, so a digest stays the same while
 *		the extents do, reveals no pfn, and needs no CAP_SYS_ADMIN
 *		(unlike %KHUP_IOC_EXTENTS): a checkpointer checks with it that
 *		an image is still the one it dumped.
 */
struct khup_tasks {
	__u32		size;
	__u32		count;
	__aligned_u64	id;
	__aligned_u64	tasks;
	__aligned_u64	digests;
};

/* khup_extent.flags: the extent maps the shared zero page; no pfn. */
#define KHUP_EXTENT_ZERO	(1U << 0)

/**
 * struct khup_extent - a run of pages contiguous in va and pfn
 * @va:		user virtual address of the first page.
 * @pfn:	physical frame number of the first page (0 if ZERO).
 * @nr:		number of pages.
 * @order:	folio order of the folios the pages belong to.
 * @flags:	KHUP_EXTENT_*.
 * @reserved:	0.
 */
struct khup_extent {
	__aligned_u64	va;
	__aligned_u64	pfn;
	__u32		nr;
	__u8		order;
	__u8		flags;
	__u16		reserved;
};

/**
 * struct khup_extents - ioctl(KHUP_IOC_EXTENTS)
 * @size:	Input; sizeof(struct khup_extents).
 * @count:	Input: capacity of @extents; Output: number of extents.
 * @id:		Input; image id.
 * @pid:	Input; task pid as recorded in the image.
 * @reserved:	Must be 0.
 * @extents:	Input; user pointer to an array of struct khup_extent.
 *
 * Physical addresses are sensitive: only a CAP_SYS_ADMIN caller gets
 * the pfns. The image's owner (as for %KHUP_IOC_OPEN_PAGES) gets the
 * extents with @pfn 0.
 */
struct khup_extents {
	__u32		size;
	__u32		count;
	__aligned_u64	id;
	__s32		pid;
	__u32		reserved;
	__aligned_u64	extents;
};

#define KHUP_IOC_CREATE		_IO(KHUP_IOCTL_TYPE, KHUP_CMD_CREATE)
#define KHUP_IOC_PIN		_IO(KHUP_IOCTL_TYPE, KHUP_CMD_PIN)
#define KHUP_IOC_SEAL		_IO(KHUP_IOCTL_TYPE, KHUP_CMD_SEAL)
#define KHUP_IOC_RELEASE	_IO(KHUP_IOCTL_TYPE, KHUP_CMD_RELEASE)
#define KHUP_IOC_INFO		_IO(KHUP_IOCTL_TYPE, KHUP_CMD_INFO)
#define KHUP_IOC_LIST		_IO(KHUP_IOCTL_TYPE, KHUP_CMD_LIST)
#define KHUP_IOC_OPEN_PAGES	_IO(KHUP_IOCTL_TYPE, KHUP_CMD_OPEN_PAGES)
#define KHUP_IOC_RESTORE_SELF	_IO(KHUP_IOCTL_TYPE, KHUP_CMD_RESTORE_SELF)
#define KHUP_IOC_TASKS		_IO(KHUP_IOCTL_TYPE, KHUP_CMD_TASKS)
#define KHUP_IOC_EXTENTS	_IO(KHUP_IOCTL_TYPE, KHUP_CMD_EXTENTS)
#define KHUP_IOC_CLAIM		_IO(KHUP_IOCTL_TYPE, KHUP_CMD_CLAIM)
#define KHUP_IOC_COMMIT		_IO(KHUP_IOCTL_TYPE, KHUP_CMD_COMMIT)
#define KHUP_IOC_PREPARE	_IO(KHUP_IOCTL_TYPE, KHUP_CMD_PREPARE)
#define KHUP_IOC_CLAIM_TIE	_IO(KHUP_IOCTL_TYPE, KHUP_CMD_CLAIM_TIE)

/**
 * DOC: KHO node
 *
 * The module publishes one KHO subtree named %KHUP_KHO_NODE: a flattened
 * device tree (big-endian cells, as FDT requires)::
 *
 *   / {
 *           compatible = "khup-v3";
 *           khup,nr-images = <u32>;
 *           khup,next-id = <u64>;
 *           khup,crc = <u32>;
 *           khup,blocks = [bytes];   KHO's struct kho_vmalloc, or all zero
 *           image-<id> {                       (hex id)
 *                   id = <u64>;
 *                   image-name = "string";
 *                   owner-uid = <u32>;
 *                   created-ns = <u64>;
 *                   release = "string";
 *                   kexec-count = <u64>;
 *                   task-<pid> {               (decimal pid)
 *                           pid = <u32>;
 *                           comm = "string";
 *                           nr-pages = <u64>;
 *                           nr-extents = <u64>;
 *                           table-size = <u64>;
 *                           table-vmalloc = [bytes];  KHO's struct kho_vmalloc
 *                   };
 *           };
 *   };
 *
 * ``table-vmalloc`` is the descriptor kho_preserve_vmalloc() filled in for
 * the extent table (its layout is KHO's, versioned by KHO's own
 * compatible), so a table may be any size. The table is little-endian: a
 * 64-byte
 * header (magic %KHUP_TABLE_MAGIC, version, sizes, counts, two CRC32s),
 * then nr-extents 24-byte extents {le64 va, le64 pfn, le32 nr, u8 order,
 * u8 flags, le16 0}, then a bitmap (one bit per page of the offset space,
 * set = page still held). The table CRC covers header and extents and is
 * checked before any pfn is trusted; the bitmap has its own CRC because
 * punching holes updates it in place. See doc/module.md.
 *
 * ``khup,blocks`` is filled in at the kexec: the descriptor of the
 * preserved block list, the runs of order-0 pages the module preserved as
 * aligned higher-order blocks (kho_preserve_pages()) instead of page by
 * page; the next kernel restores those with kho_restore_pages(). All zero:
 * no block, every page preserved as a folio of its own. The list is
 * little-endian: a 16-byte header {le32 magic %KHUP_BLOCKS_MAGIC, le32
 * CRC32 of the entries, le64 count}, then one le64 per block, pfn << 6 |
 * order, in increasing pfn order, each block aligned to its order.
 *
 * "khup-v2" nodes (written by earlier modules, still read) have no
 * ``khup,blocks``: every page is a folio of its own.
 * "khup-v1" nodes (written by earlier modules, still read) have one
 * ``table = <u64>`` physical address of a contiguous preserved table
 * instead of ``table-vmalloc``.
 */
#define KHUP_KHO_NODE		"khup"
#define KHUP_COMPATIBLE		"khup-v3"
#define KHUP_COMPATIBLE_V2	"khup-v2"
#define KHUP_COMPATIBLE_V1	"khup-v1"
#define KHUP_TABLE_MAGIC	0x5855484bU	/* "KHUX" little endian */
#define KHUP_TABLE_VERSION	1
#define KHUP_BLOCKS_MAGIC	0x4255484bU	/* "KHUB" little endian */

/**
 * DOC: Generic netlink family "khup"
 *
 * Commands:
 *  - %KHUP_NL_CMD_IMAGE_GET: doit with %KHUP_A_IMAGE_ID, or dump: one
 *    message per image with the KHUP_A_IMAGE_* attributes.
 *  - %KHUP_NL_CMD_IMAGE_RELEASE: release %KHUP_A_IMAGE_ID (admin only).
 *  - %KHUP_NL_CMD_STATS_GET: module statistics (KHUP_A_STATS_*).
 *  - %KHUP_NL_CMD_EVENT: sent to the %KHUP_MCGRP_EVENTS multicast group with
 *    %KHUP_A_EVENT_TYPE and the image attributes.
 */
#define KHUP_GENL_NAME		"khup"
#define KHUP_GENL_VERSION	1
#define KHUP_MCGRP_EVENTS	"events"

enum {
	KHUP_NL_CMD_UNSPEC,
	KHUP_NL_CMD_IMAGE_GET,
	KHUP_NL_CMD_IMAGE_RELEASE,
	KHUP_NL_CMD_STATS_GET,
	KHUP_NL_CMD_EVENT,

	__KHUP_NL_CMD_MAX,
	KHUP_NL_CMD_MAX = (__KHUP_NL_CMD_MAX - 1)
};

enum khup_event_type {
	KHUP_EVENT_SEALED = 1,
	KHUP_EVENT_RESTORED = 2,
	KHUP_EVENT_RELEASED = 3,
	KHUP_EVENT_FREED = 4,
};

enum {
	KHUP_A_UNSPEC,
	KHUP_A_PAD,
	KHUP_A_IMAGE_ID,		/* u64 */
	KHUP_A_IMAGE_NAME,		/* string */
	KHUP_A_IMAGE_OWNER,		/* u32 */
	KHUP_A_IMAGE_RELEASE,		/* string */
	KHUP_A_IMAGE_CTIME,		/* u64, ns CLOCK_REALTIME */
	KHUP_A_IMAGE_TASKS,		/* u32 */
	KHUP_A_IMAGE_PAGES,		/* u64 */
	KHUP_A_IMAGE_BYTES,		/* u64 */
	KHUP_A_IMAGE_STATE,		/* u32, enum khup_image_state */
	KHUP_A_EVENT_TYPE,		/* u32, enum khup_event_type */
	KHUP_A_STATS_PINNED,		/* u64 pages */
	KHUP_A_STATS_PRESERVED,		/* u64 pages */
	KHUP_A_STATS_RESTORED,		/* u64 pages */
	KHUP_A_STATS_FREED,		/* u64 pages */
	KHUP_A_STATS_CMA_MIGRATED,	/* u64 pages */
	KHUP_A_STATS_PIN_NS,		/* u64 */
	KHUP_A_STATS_SEAL_NS,		/* u64 */
	KHUP_A_STATS_RESTORE_NS,	/* u64 */
	KHUP_A_IMAGE_KEXEC_COUNT,	/* u64 */
	KHUP_A_IMAGE_CLAIMER,		/* s32, claimer's tgid; 0: not claimed */
	KHUP_A_IMAGE_CONSUMED,		/* u64 pages */
	KHUP_A_IMAGE_LOST,		/* u64 pages */
	KHUP_A_STATS_READ_BYTES,	/* u64, read through read-back fds */
	KHUP_A_STATS_READ_NS,		/* u64 */
	KHUP_A_STATS_CONSUMED,		/* u64 pages consumed by claims */
	KHUP_A_STATS_COMMIT_NS,		/* u64 */
	KHUP_A_STATS_PREPARED,		/* u64 pages looked at by PREPARE */
	KHUP_A_STATS_PREPARE_MIGRATED,	/* u64 pages migrated by PREPARE */
	KHUP_A_STATS_KMEM_BYTES,	/* u64, the module's own tables */
	KHUP_A_STATS_PREPARE_NS,	/* u64 */
	KHUP_A_STATS_HELD,		/* u64 pages held now (max_pinned_pages) */
	KHUP_A_STATS_CHARGED,		/* u64 of those, charged to RLIMIT_MEMLOCK */
	KHUP_A_STATS_SNAPSHOT,		/* u64 pages copied at pin: others could write them */
	KHUP_A_STATS_SNAPSHOT_NS,	/* u64 */

	__KHUP_A_MAX,
	KHUP_A_MAX = (__KHUP_A_MAX - 1)
};

#endif /* _UAPI_LINUX_KHUP_H */
