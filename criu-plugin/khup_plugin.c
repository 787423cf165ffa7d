// SPDX-License-Identifier: GPL-2.0-only
/*
 * khup_plugin.so - keeps the memory CRIU checkpoints in /dev/khup.
 *
 * With "criu dump --kho", CRIU hands the page contents it would write to
 * pages-*.img to the DUMP_PAGES hook as ranges of the frozen tasks (or of
 * CRIU itself for shared memory). We pin them into one /dev/khup image, in
 * the order given, so that the image's offset space per task is the one the
 * pages image would have had. DUMP_PAGES_DONE seals the image (its folios
 * are preserved with KHO from then on, across kexec) and writes khup.img,
 * which names the image and records what it must hold.
 *
 * With "criu restore --kho", we check khup.img against what /dev/khup
 * reports, take the image's claim (one restorer at a time) and open a
 * consuming read-back fd per task through it, in CRIU's main process; the
 * fds reach the restored tasks through CRIU's fdstore, so they never open
 * /dev/khup themselves. RESTORE_PAGES hands CRIU the fd of a pagemap;
 * CRIU punches every page out of it once restored, which only marks the
 * page consumed. A restore that succeeds commits the claim (the image is
 * released); one that fails - at any point, or by dying - drops the claim
 * and every consumed page is readable again for a retry. A dump that fails
 * releases the image it created.
 *
 * With "criu restore --kho --lazy-pages", the lazy-pages daemon ("criu
 * lazy-pages --kho", started first) takes the claim and leaves a note,
 * khup-lazy.claim in the images directory, with its pid and the numbers
 * of the claim fd and of the write end of a pipe. The restore takes
 * copies of both with pidfd_getfd(), restores what cannot be lazy through
 * the claim as above, and ties every restored task to the claim with the
 * userfaultfd the daemon fills (KHUP_IOC_CLAIM_TIE). A restore that
 * succeeds writes "ok" into the pipe and lets go of the claim without
 * committing. The daemon reads the rest of the pages through its own
 * consuming readers, and commits once every page is filled and the
 * restore said "ok". If the daemon dies, or the restore fails, the claim
 * ends without a commit: the module kills the tied tasks before their
 * faults can be resolved with zero pages, and every page is readable
 * again for another restore.
 */

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>

#include <linux/khup.h>

#include "criu-plugin.h"
#include "criu-log.h"
#include "cr_options.h"
#include "fdstore.h"
#include "image.h"

#include "khup.pb-c.h"

#undef LOG_PREFIX
#define LOG_PREFIX "khup: "

#define KHUP_PLUGIN_NAME "khup"
#define KHUP_DEV	 "/dev/khup"
#define KHUP_IMG	 "khup.img"
#define KHUP_IMG_MAGIC	 "KHUPCRIU"
#define KHUP_IMG_VERSION 1
/* Refuse absurd khup.img sizes before allocating. */
#define KHUP_IMG_MAX (64 << 20)
/* The lazy-pages daemon's note to the restore (see the top) */
#define KHUP_LAZY_NOTE "khup-lazy.claim"
#define KHUP_VERDICT_OK "ok\n"

struct khup_img_hdr {
	char magic[8];
	uint32_t version; /* le */
	uint32_t len;	  /* le, payload bytes */
	uint32_t crc;	  /* le, CRC32 of the payload */
	uint32_t zero;
};

static struct {
	bool active; /* restore: the images have a khup.img we checked */
	pid_t criu;  /* the CRIU process that loaded us */
	int dev;     /* /dev/khup in the CRIU process, -1 if not open */
	uint64_t id; /* /dev/khup image id, 0 if none */
	bool img_written;
	char name[KHUP_NAME_LEN];
	size_t nr_pm;
	KhupPagemapEntry **pm;
	KhupImageEntry *ie; /* restore: khup.img as read */
	int claim;	    /* restore: the image's claim fd, -1 if none */
	int *readers;	    /* restore: fdstore id of each ie->tasks[i]'s reader */
	int stage;
	bool lazy;	 /* restore with --lazy-pages, or the lazy-pages daemon */
	int claim_id;	 /* lazy restore: fdstore id of the claim, for the tasks */
	int verdict;	 /* lazy: daemon: read end; restore: write end; or -1 */
	int verdict_w;	 /* daemon: its own write end until the restore took one */
	bool note_written; /* daemon: KHUP_LAZY_NOTE is ours */
} st = { .dev = -1, .claim = -1, .claim_id = -1, .verdict = -1, .verdict_w = -1 };

static long page_size(void)
{
	static long ps;

	if (!ps)
		ps = sysconf(_SC_PAGESIZE);
	return ps;
}

static const char *type_name(int type)
{
	return type == CR_PLUGIN_PAGES_SHMEM ? "shmem" : "task";
}

/* CRC32 (IEEE 802.3, reflected), bitwise: khup.img is small. */
static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
	uint32_t crc = ~0U;

	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320U & -(crc & 1));
	}
	return ~crc;
}

static uint64_t fnv1a(uint64_t h, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++) {
		h ^= (v >> (8 * i)) & 0xff;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int dev_open(void)
{
	int fd = open(KHUP_DEV, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		pr_perror("Can't open " KHUP_DEV " (is khup.ko loaded?)");
	return fd;
}

static int image_info(int dev, uint64_t id, struct khup_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	info->id = id;
	if (ioctl(dev, KHUP_IOC_INFO, info)) {
		pr_perror("Can't query " KHUP_DEV " image %" PRIu64, id);
		return -1;
	}
	return 0;
}

/*
 * The tasks of an image and the checksum of their extents: what khup.img
 * records at dump and what a restore compares. Returns the number of tasks
 * (*tasks is malloc()ed) or -1.
 */
static int image_tasks(int dev, uint64_t id, struct khup_task_info **tasks, uint64_t *csum, bool *digest)
{
	struct khup_tasks q = { .size = sizeof(q), .id = id };
	struct khup_task_info *t = NULL;
	uint64_t h = 0xcbf29ce484222325ULL, *dig = NULL, none;
	struct khup_extent *ext = NULL;
	uint32_t i, n;
	int rc;

	/* A module without digests refuses the field with E2BIG. */
	q.digests = *digest ? (uintptr_t)&none : 0;
	rc = ioctl(dev, KHUP_IOC_TASKS, &q);
	if (rc && errno == E2BIG && *digest) {
		*digest = false;
		q.digests = 0;
		q.count = 0;
		rc = ioctl(dev, KHUP_IOC_TASKS, &q);
	}
	if (rc) {
		pr_perror("Can't list the tasks of " KHUP_DEV " image %" PRIu64, id);
		return -1;
	}
	n = q.count;
	t = calloc(n ? n : 1, sizeof(*t));
	dig = calloc(n ? n : 1, sizeof(*dig));
	if (!t || !dig)
		goto err;
	q.count = n;
	q.tasks = (uintptr_t)t;
	q.digests = *digest ? (uintptr_t)dig : 0;
	if (ioctl(dev, KHUP_IOC_TASKS, &q) || q.count != n) {
		pr_perror("Can't list the tasks of " KHUP_DEV " image %" PRIu64, id);
		goto err;
	}

	/* The kernel's digests need no pfns, so no CAP_SYS_ADMIN. */
	for (i = 0; *digest && i < n; i++) {
		h = fnv1a(h, (uint32_t)t[i].pid, 4);
		h = fnv1a(h, t[i].nr_extents, 8);
		h = fnv1a(h, dig[i], 8);
	}
	for (i = 0; !*digest && i < n; i++) {
		struct khup_extents e = { .size = sizeof(e), .id = id, .pid = t[i].pid };
		uint64_t j;

		if (t[i].nr_extents > UINT32_MAX)
			goto err;
		free(ext);
		ext = calloc(t[i].nr_extents ? t[i].nr_extents : 1, sizeof(*ext));
		if (!ext)
			goto err;
		e.count = t[i].nr_extents;
		e.extents = (uintptr_t)ext;
		if (ioctl(dev, KHUP_IOC_EXTENTS, &e) || e.count != t[i].nr_extents) {
			pr_perror("Can't read the extents of task %d of " KHUP_DEV " image %" PRIu64, t[i].pid, id);
			goto err;
		}
		h = fnv1a(h, (uint32_t)t[i].pid, 4);
		h = fnv1a(h, t[i].nr_extents, 8);
		for (j = 0; j < t[i].nr_extents; j++) {
			h = fnv1a(h, ext[j].va, 8);
			h = fnv1a(h, ext[j].pfn, 8);
			h = fnv1a(h, ext[j].nr, 4);
			h = fnv1a(h, ext[j].order, 1);
			h = fnv1a(h, ext[j].flags, 1);
		}
	}
	free(ext);
	free(dig);
	*tasks = t;
	*csum = h;
	return n;
err:
	free(ext);
	free(dig);
	free(t);
	return -1;
}

/* ---- dump ---- */

static int create_image(void)
{
	struct khup_create c = { .size = sizeof(c) };
	struct timespec ts;

	st.dev = dev_open();
	if (st.dev < 0)
		return -1;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(st.name, sizeof(st.name), "criu-%d-%lld.%09ld", getpid(), (long long)ts.tv_sec, ts.tv_nsec);
	memcpy(c.name, st.name, sizeof(c.name));
	if (ioctl(st.dev, KHUP_IOC_CREATE, &c)) {
		pr_perror("Can't create " KHUP_DEV " image %s", st.name);
		return -1;
	}
	st.id = c.id;
	pr_info("Created " KHUP_DEV " image %" PRIu64 " '%s'\n", st.id, st.name);
	return 0;
}

static KhupPagemapEntry *pagemap_entry(int type, unsigned long id, bool create)
{
	KhupPagemapEntry *pm, **n;

	for (size_t i = 0; i < st.nr_pm; i++)
		if (st.pm[i]->type == (uint32_t)type && st.pm[i]->id == id)
			return st.pm[i];
	if (!create)
		return NULL;

	n = realloc(st.pm, (st.nr_pm + 1) * sizeof(*n));
	pm = malloc(sizeof(*pm));
	if (n)
		st.pm = n;
	if (!n || !pm) {
		free(pm);
		return NULL;
	}
	khup_pagemap_entry__init(pm);
	pm->type = type;
	pm->id = id;
	pm->khup_pid = -1;
	st.pm[st.nr_pm++] = pm;
	return pm;
}

static int khup_dump_pages(int type, unsigned long id, int pid, const struct iovec *iov, unsigned int nr_iov)
{
	KhupPagemapEntry *pm;

	if (getpid() != st.criu) {
		/* e.g. SysV IPC shared memory, dumped from a child of CRIU */
		pr_err("Pages of %s %lu are handed over from a helper process: not supported\n", type_name(type), id);
		return -EOPNOTSUPP;
	}
	if (!st.id && create_image())
		return -EIO;

	pm = pagemap_entry(type, id, true);
	if (!pm)
		return -ENOMEM;

	while (nr_iov) {
		unsigned int n = nr_iov < KHUP_MAX_IOVECS ? nr_iov : KHUP_MAX_IOVECS;
		struct khup_pin p = {
			.size = sizeof(p),
			.id = st.id,
			.pid = pid,
			.nr_iovecs = n,
			.iovecs = (uintptr_t)iov,
		};
		pid_t holder = pid ? pid : getpid();

		if (ioctl(st.dev, KHUP_IOC_PIN, &p)) {
			int err = errno;

			pr_perror("Can't pin %u ranges of %s %lu (pid %d) starting at %p", n, type_name(type), id, pid,
				  iov->iov_base);
			return -err;
		}
		if (pm->khup_pid == -1) {
			pm->khup_pid = holder;
			pm->offset = p.offset;
		} else if (pm->khup_pid != holder || p.offset != pm->offset + pm->nr_pages * page_size()) {
			/* The pages of a pagemap must be contiguous in the image */
			pr_err("Pages of %s %lu are not contiguous in " KHUP_DEV " (task %d offset %llu, expected %d/%" PRIu64
			       ")\n",
			       type_name(type), id, holder, (unsigned long long)p.offset, pm->khup_pid,
			       pm->offset + pm->nr_pages * page_size());
			return -EIO;
		}
		pm->nr_pages += p.nr_pages;
		iov += n;
		nr_iov -= n;
	}
	return 0;
}
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__DUMP_PAGES, khup_dump_pages)

static int write_khup_img(KhupImageEntry *ie)
{
	struct khup_img_hdr hdr = {};
	size_t len = khup_image_entry__get_packed_size(ie);
	uint8_t *buf;
	int fd, ret = -1;

	buf = malloc(len ? len : 1);
	if (!buf)
		return -1;
	khup_image_entry__pack(ie, buf);

	memcpy(hdr.magic, KHUP_IMG_MAGIC, sizeof(hdr.magic));
	hdr.version = htole32(KHUP_IMG_VERSION);
	hdr.len = htole32(len);
	hdr.crc = htole32(crc32_ieee(buf, len));

	fd = openat(criu_get_image_dir(), KHUP_IMG, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		pr_perror("Can't create " KHUP_IMG);
		goto out;
	}
	st.img_written = true;
	if (write(fd, &hdr, sizeof(hdr)) != sizeof(hdr) || write(fd, buf, len) != (ssize_t)len) {
		pr_perror("Can't write " KHUP_IMG);
		close(fd);
		goto out;
	}
	if (close(fd)) {
		pr_perror("Can't write " KHUP_IMG);
		goto out;
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

static int khup_dump_pages_done(void)
{
	struct khup_image_op op = { .size = sizeof(op), .id = st.id };
	KhupImageEntry ie = KHUP_IMAGE_ENTRY__INIT;
	struct khup_task_info *tasks = NULL;
	KhupTaskEntry *te = NULL, **tep = NULL;
	struct khup_info info;
	struct timespec ts;
	int n, i, ret = -EIO;
	bool digest = true;

	if (!st.id) {
		pr_warn("No page contents were handed over: no " KHUP_DEV " image\n");
		return 0;
	}

	if (ioctl(st.dev, KHUP_IOC_SEAL, &op)) {
		pr_perror("Can't seal " KHUP_DEV " image %" PRIu64, st.id);
		return -EIO;
	}
	if (image_info(st.dev, st.id, &info))
		return -EIO;
	n = image_tasks(st.dev, st.id, &tasks, &ie.extents_csum, &digest);
	if (n < 0)
		return -EIO;
	if (digest) {
		ie.has_tasks_digest = true;
		ie.tasks_digest = ie.extents_csum;
		ie.extents_csum = 0;
	}

	te = calloc(n ? n : 1, sizeof(*te));
	tep = calloc(n ? n : 1, sizeof(*tep));
	if (!te || !tep)
		goto out;
	for (i = 0; i < n; i++) {
		khup_task_entry__init(&te[i]);
		te[i].pid = tasks[i].pid;
		te[i].nr_pages = tasks[i].nr_pages;
		te[i].nr_extents = tasks[i].nr_extents;
		tasks[i].comm[sizeof(tasks[i].comm) - 1] = '\0';
		te[i].comm = tasks[i].comm;
		tep[i] = &te[i];
	}

	clock_gettime(CLOCK_REALTIME, &ts);
	ie.image_id = st.id;
	ie.name = st.name;
	info.release[sizeof(info.release) - 1] = '\0';
	ie.release = info.release;
	ie.nr_pages = info.nr_pages;
	ie.dump_time_ns = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	ie.n_tasks = n;
	ie.tasks = tep;
	ie.n_pagemaps = st.nr_pm;
	ie.pagemaps = st.pm;

	if (write_khup_img(&ie))
		goto out;
	if (add_inventory_plugin(KHUP_PLUGIN_NAME))
		goto out;

	pr_info("Sealed " KHUP_DEV " image %" PRIu64 " '%s': %" PRIu64 " pages of %d tasks, %zu pagemaps\n", st.id,
		st.name, (uint64_t)info.nr_pages, n, st.nr_pm);
	ret = 0;
out:
	free(te);
	free(tep);
	free(tasks);
	return ret;
}
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__DUMP_PAGES_DONE, khup_dump_pages_done)

static void dump_fini(int ret)
{
	if (ret && st.id) {
		struct khup_image_op op = { .size = sizeof(op), .id = st.id };

		/* The tasks run on: their pages must not stay pinned */
		if (ioctl(st.dev, KHUP_IOC_RELEASE, &op))
			pr_perror("Can't release " KHUP_DEV " image %" PRIu64 " after the failed dump", st.id);
		else
			pr_info("Dump failed: released " KHUP_DEV " image %" PRIu64 " '%s'\n", st.id, st.name);
		if (st.img_written)
			unlinkat(criu_get_image_dir(), KHUP_IMG, 0);
	}
	for (size_t i = 0; i < st.nr_pm; i++)
		free(st.pm[i]);
	free(st.pm);
	st.pm = NULL;
	st.nr_pm = 0;
}

/* ---- restore ---- */

static KhupImageEntry *read_khup_img(bool *missing)
{
	struct khup_img_hdr hdr;
	KhupImageEntry *ie = NULL;
	uint8_t *buf = NULL;
	struct stat s;
	uint32_t len;
	int fd;

	*missing = false;
	fd = openat(criu_get_image_dir(), KHUP_IMG, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			*missing = true;
			return NULL;
		}
		pr_perror("Can't open " KHUP_IMG);
		return NULL;
	}
	if (fstat(fd, &s) || read(fd, &hdr, sizeof(hdr)) != sizeof(hdr)) {
		pr_err(KHUP_IMG " is truncated\n");
		goto out;
	}
	if (memcmp(hdr.magic, KHUP_IMG_MAGIC, sizeof(hdr.magic))) {
		pr_err(KHUP_IMG " is not a khup image (bad magic)\n");
		goto out;
	}
	if (le32toh(hdr.version) != KHUP_IMG_VERSION) {
		pr_err(KHUP_IMG " has format version %u, this plugin reads %u\n", le32toh(hdr.version),
		       KHUP_IMG_VERSION);
		goto out;
	}
	len = le32toh(hdr.len);
	if (len > KHUP_IMG_MAX || (off_t)(sizeof(hdr) + len) != s.st_size) {
		pr_err(KHUP_IMG " is corrupt: payload of %u bytes in a file of %lld\n", len, (long long)s.st_size);
		goto out;
	}
	buf = malloc(len ? len : 1);
	if (!buf || read(fd, buf, len) != (ssize_t)len) {
		pr_err("Can't read " KHUP_IMG "\n");
		goto out;
	}
	if (crc32_ieee(buf, len) != le32toh(hdr.crc)) {
		pr_err(KHUP_IMG " is corrupt: checksum mismatch\n");
		goto out;
	}
	ie = khup_image_entry__unpack(NULL, len, buf);
	if (!ie)
		pr_err(KHUP_IMG " is corrupt: can't decode it\n");
out:
	free(buf);
	close(fd);
	return ie;
}

/*
 * An image with lost pages (not claimed after a kexec, or consumed pages
 * freed under memory pressure after a failed restore) cannot be restored:
 * say which tasks miss how many pages.
 */
static int report_lost(int dev, KhupImageEntry *ie, const struct khup_info *info)
{
	struct khup_task_info *tasks = NULL;
	bool digest = true;
	uint64_t csum;
	int n;

	pr_err("Image '%s' has lost %" PRIu64 " pages: they can no longer be read, so its processes cannot be "
	       "restored\n",
	       ie->name, (uint64_t)info->nr_lost);
	n = image_tasks(dev, info->id, &tasks, &csum, &digest);
	for (int i = 0; i < n; i++)
		if (tasks[i].nr_lost)
			pr_err("Image '%s': task %d (%.16s) lost %u of its %" PRIu64 " pages\n", ie->name,
			       tasks[i].pid, tasks[i].comm, tasks[i].nr_lost, (uint64_t)tasks[i].nr_pages);
	free(tasks);
	return -1;
}

/*
 * Compare khup.img with what /dev/khup holds; say what differs. The pfns
 * are part of the extent checksum (the kernel's digests, or for older
 * dumps a hash of KHUP_IOC_EXTENTS, which needs CAP_SYS_ADMIN): pages
 * stay in place across kexec.
 */
static int check_image(int dev, KhupImageEntry *ie)
{
	struct khup_info info = { .size = sizeof(info), .flags = KHUP_INFO_BY_NAME };
	struct khup_task_info *tasks = NULL;
	bool digest = ie->has_tasks_digest;
	int n, bad = 0;
	uint64_t csum;

	if (strlen(ie->name) >= sizeof(info.name)) {
		pr_err(KHUP_IMG " names an invalid image\n");
		return -1;
	}
	strcpy(info.name, ie->name);
	if (ioctl(dev, KHUP_IOC_INFO, &info)) {
		if (errno == ENOENT)
			pr_err(KHUP_DEV " has no image '%s' (id %" PRIu64 "): released, already restored, "
					"or not carried over the kexec\n",
			       ie->name, ie->image_id);
		else
			pr_perror("Can't look up " KHUP_DEV " image '%s'", ie->name);
		return -1;
	}
	info.release[sizeof(info.release) - 1] = '\0';
	if (info.nr_lost)
		return report_lost(dev, ie, &info);

#define differs(what, fmt, img, dev_)                                                                             \
	do {                                                                                                      \
		pr_err("Image '%s': " what " is " fmt " in " KHUP_IMG " but " fmt " in " KHUP_DEV "\n", ie->name, \
		       img, dev_);                                                                                \
		bad = 1;                                                                                          \
	} while (0)

	if (info.id != ie->image_id)
		differs("id", "%" PRIu64, ie->image_id, (uint64_t)info.id);
	if (strcmp(info.release, ie->release))
		differs("kernel release at dump", "%s", ie->release, info.release);
	if (info.state != KHUP_STATE_SEALED && info.state != KHUP_STATE_RESTORED) {
		pr_err("Image '%s' is not sealed (state %u)\n", ie->name, info.state);
		bad = 1;
	}
	if (info.nr_pages != ie->nr_pages)
		differs("page count", "%" PRIu64, ie->nr_pages, (uint64_t)info.nr_pages);
	if (info.nr_tasks != ie->n_tasks)
		differs("task count", "%zu", ie->n_tasks, (size_t)info.nr_tasks);
	if (bad)
		return -1;

	n = image_tasks(dev, info.id, &tasks, &csum, &digest);
	if (n < 0)
		return -1;
	if (digest != ie->has_tasks_digest) {
		pr_err("Image '%s' was dumped with extent digests, but " KHUP_DEV " has none (an older khup.ko)\n",
		       ie->name);
		free(tasks);
		return -1;
	}
	for (int i = 0; i < n && i < (int)ie->n_tasks; i++) {
		KhupTaskEntry *t = ie->tasks[i];

		if (t->pid != tasks[i].pid) {
			differs("task pid", "%d", t->pid, tasks[i].pid);
		} else if (t->nr_pages != tasks[i].nr_pages) {
			pr_err("Image '%s': task %d has %" PRIu64 " pages in " KHUP_IMG " but %" PRIu64 " in " KHUP_DEV "\n",
			       ie->name, t->pid, t->nr_pages, (uint64_t)tasks[i].nr_pages);
			bad = 1;
		} else if (t->nr_extents != tasks[i].nr_extents) {
			pr_err("Image '%s': task %d has %" PRIu64 " extents in " KHUP_IMG " but %" PRIu64
			       " in " KHUP_DEV "\n",
			       ie->name, t->pid, t->nr_extents, (uint64_t)tasks[i].nr_extents);
			bad = 1;
		}
	}
	if (!bad && csum != (digest ? ie->tasks_digest : ie->extents_csum))
		differs("extent checksum", "%016" PRIx64, digest ? ie->tasks_digest : ie->extents_csum, csum);
#undef differs
	free(tasks);

	for (size_t i = 0; !bad && i < ie->n_pagemaps; i++) {
		KhupPagemapEntry *pm = ie->pagemaps[i];
		bool found = false;

		for (size_t j = 0; j < ie->n_tasks; j++) {
			KhupTaskEntry *t = ie->tasks[j];

			if (t->pid == pm->khup_pid && pm->offset / page_size() + pm->nr_pages <= t->nr_pages)
				found = true;
		}
		if (!found) {
			pr_err("Image '%s': the pages of %s %" PRIu64 " are not in it\n", ie->name,
			       type_name(pm->type), pm->id);
			bad = 1;
		}
	}
	if (bad)
		return -1;

	pr_info("Image '%s' (id %" PRIu64 ", dumped on %s, %" PRIu64 " pages) matches " KHUP_IMG "\n", ie->name,
		ie->image_id, ie->release, ie->nr_pages);
	return 0;
}

/* Takes the image's claim: no other restore can read or release it. */
static int claim_image(void)
{
	struct khup_claim_op op = { .size = sizeof(op), .flags = KHUP_FD_CLOEXEC, .id = st.id };
	struct khup_info info;

	if (!ioctl(st.dev, KHUP_IOC_CLAIM, &op)) {
		st.claim = op.fd;
		pr_info("Claimed " KHUP_DEV " image '%s'\n", st.ie->name);
		return 0;
	}
	if (errno == EBUSY && !image_info(st.dev, st.id, &info) && (info.info_flags & KHUP_INFO_CLAIMED))
		pr_err("Image '%s' is being restored by another process (pid %d holds its claim); refusing a "
		       "second restore\n",
		       st.ie->name, info.claimer);
	else
		pr_perror("Can't claim " KHUP_DEV " image '%s'", st.ie->name);
	return -1;
}

/*
 * Opens a consuming reader per task through the claim, here in CRIU's
 * main process, and puts it in CRIU's fdstore: the restored tasks take
 * theirs from there, whatever /dev they see.
 */
static int open_readers(void)
{
	st.readers = calloc(st.ie->n_tasks, sizeof(*st.readers));
	if (!st.readers)
		return -1;
	for (size_t i = 0; i < st.ie->n_tasks; i++) {
		struct khup_open_pages op = {
			.size = sizeof(op), .flags = KHUP_FD_CLOEXEC, .id = st.id, .pid = st.ie->tasks[i]->pid
		};

		if (ioctl(st.claim, KHUP_IOC_OPEN_PAGES, &op)) {
			pr_perror("Can't open the pages of task %d of image '%s'", op.pid, st.ie->name);
			return -1;
		}
		st.readers[i] = fdstore_add(op.fd);
		close(op.fd);
		if (st.readers[i] < 0) {
			pr_err("Can't keep the reader of task %d in the fdstore\n", op.pid);
			return -1;
		}
	}
	return 0;
}

/*
 * Reads khup.img and checks the image it names: 1 if the dump is in
 * /dev/khup, 0 if it is not a khup dump, -1 on error.
 */
static int load_image(void)
{
	bool missing;

	/* (the lazy-pages daemon does not read the inventory: khup.img says) */
	if (st.stage == CR_PLUGIN_STAGE__RESTORE &&
	    !check_and_remove_inventory_plugin(KHUP_PLUGIN_NAME, strlen(KHUP_PLUGIN_NAME)))
		return 0; /* not a khup dump */

	st.ie = read_khup_img(&missing);
	if (!st.ie) {
		if (missing) {
			pr_info("No " KHUP_IMG ": the pages are in pages images\n");
			return 0;
		}
		return -1;
	}

	st.dev = dev_open();
	if (st.dev < 0) {
		pr_err("The pages of this dump are in " KHUP_DEV " image '%s'\n", st.ie->name);
		return -1;
	}
	if (check_image(st.dev, st.ie)) {
		pr_err("Refusing to restore from " KHUP_DEV " image '%s'; it is left as it is\n", st.ie->name);
		return -1;
	}
	st.id = st.ie->image_id;
	return 1;
}

/*
 * A lazy restore: take copies of the claim the lazy-pages daemon holds and
 * of the pipe it waits on for our verdict, from the daemon's note.
 */
static int join_lazy_claim(void)
{
	char buf[128], link[64], path[64];
	int fd, pidfd, pid, claim, verdict;
	struct khup_info info;
	ssize_t n;

	fd = openat(criu_get_image_dir(), KHUP_LAZY_NOTE, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			pr_err("Image '%s': no lazy-pages daemon serves it; start 'criu lazy-pages --kho' with the "
			       "same images directory before 'criu restore --kho --lazy-pages'\n",
			       st.ie->name);
		else
			pr_perror("Can't open " KHUP_LAZY_NOTE);
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || (buf[n] = '\0', sscanf(buf, "pid %d claim %d verdict %d", &pid, &claim, &verdict) != 3)) {
		pr_err(KHUP_LAZY_NOTE " is corrupt\n");
		return -1;
	}
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		pr_perror("The lazy-pages daemon of image '%s' (pid %d) is gone", st.ie->name, pid);
		return -1;
	}
	st.claim = syscall(SYS_pidfd_getfd, pidfd, claim, 0);
	st.verdict = syscall(SYS_pidfd_getfd, pidfd, verdict, 0);
	close(pidfd);
	if (st.claim < 0 || st.verdict < 0) {
		pr_perror("Can't take the claim of image '%s' from the lazy-pages daemon (pid %d)", st.ie->name, pid);
		return -1;
	}

	/* It must be a claim, and the daemon must hold this image's */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", st.claim);
	n = readlink(path, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = '\0';
	if (strcmp(link, "anon_inode:[khup-claim]") || image_info(st.dev, st.id, &info) ||
	    !(info.info_flags & KHUP_INFO_CLAIMED) || info.claimer != pid) {
		pr_err("Image '%s': pid %d in " KHUP_LAZY_NOTE " holds no claim of it (a stale note?)\n",
		       st.ie->name, pid);
		return -1;
	}
	pr_info("Joined the claim of image '%s' that the lazy-pages daemon (pid %d) holds\n", st.ie->name, pid);
	return 0;
}

static int restore_init(void)
{
	int ret = load_image();

	if (ret <= 0)
		return ret;
	st.lazy = opts.lazy_pages;
	/*
	 * Without --restore-detached, criu waits for the restored tree before
	 * it says how the restore went (our fini): the daemon could not
	 * commit before the tree exits, and if it died, the tasks tied to the
	 * claim would wait on their faults while criu waits for them.
	 */
	if (st.lazy && !opts.restore_detach && !opts.exec_cmd) {
		pr_err("Image '%s': a lazy restore (--lazy-pages) with --kho needs --restore-detached\n", st.ie->name);
		return -1;
	}
	if (st.lazy ? join_lazy_claim() : claim_image())
		return -1;
	if (open_readers())
		return -1;
	if (st.lazy) {
		/* The restored tasks tie themselves to it (LAZY_PAGES_UFFD) */
		st.claim_id = fdstore_add(st.claim);
		if (st.claim_id < 0) {
			pr_err("Can't keep the claim in the fdstore\n");
			return -1;
		}
	}
	st.active = true;
	return 0;
}

/*
 * The lazy-pages daemon: claim the image and leave the restore a note
 * with the claim and the pipe for its verdict.
 */
static int lazy_daemon_init(void)
{
	int ret = load_image(), p[2], fd;

	if (ret <= 0)
		return ret;
	if (claim_image())
		return -1;
	if (pipe2(p, O_CLOEXEC)) {
		pr_perror("Can't create a pipe");
		return -1;
	}
	st.verdict = p[0];
	st.verdict_w = p[1];

	fd = openat(criu_get_image_dir(), KHUP_LAZY_NOTE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		pr_perror("Can't create " KHUP_LAZY_NOTE);
		return -1;
	}
	st.note_written = true;
	if (dprintf(fd, "pid %d claim %d verdict %d\n", getpid(), st.claim, st.verdict_w) < 0 || close(fd)) {
		pr_perror("Can't write " KHUP_LAZY_NOTE);
		return -1;
	}
	st.lazy = true;
	st.active = true;
	pr_info("The lazy-pages daemon holds the claim of image '%s' (%" PRIu64 " pages)\n", st.ie->name,
		st.ie->nr_pages);
	return 0;
}

static int khup_restore_pages(int type, unsigned long id, uint64_t *base)
{
	KhupPagemapEntry *pm = NULL;
	int task = -1, fd;

	if (!st.active)
		return -ENOTSUP;

	for (size_t i = 0; i < st.ie->n_pagemaps; i++)
		if (st.ie->pagemaps[i]->type == (uint32_t)type && st.ie->pagemaps[i]->id == id)
			pm = st.ie->pagemaps[i];
	if (!pm) {
		/* Nothing was handed over for it (no page with contents) */
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

		pr_debug("No pages of %s %lu in the image\n", type_name(type), id);
		*base = 0;
		return fd < 0 ? -errno : fd;
	}

	/*
	 * This runs in restored tasks too, which close what they inherit:
	 * the claim's reader of the task comes from the fdstore.
	 */
	for (size_t i = 0; i < st.ie->n_tasks; i++)
		if (st.ie->tasks[i]->pid == pm->khup_pid)
			task = i;
	if (task < 0) {
		pr_err("The pages of %s %lu name task %d, which image '%s' lacks\n", type_name(type), id, pm->khup_pid,
		       st.ie->name);
		return -ENOENT;
	}
	if (st.stage == CR_PLUGIN_STAGE__LAZY_PAGES) {
		struct khup_open_pages op = {
			.size = sizeof(op), .flags = KHUP_FD_CLOEXEC, .id = st.id, .pid = pm->khup_pid
		};

		/* The restore has connected: it has its copy of the pipe */
		if (st.verdict_w >= 0) {
			close(st.verdict_w);
			st.verdict_w = -1;
		}
		if (ioctl(st.claim, KHUP_IOC_OPEN_PAGES, &op)) {
			pr_perror("Can't open the pages of task %d of image '%s'", op.pid, st.ie->name);
			return -errno;
		}
		*base = pm->offset;
		pr_debug("Pages of %s %lu: fd %d, task %d, offset %" PRIu64 "\n", type_name(type), id, op.fd,
			 pm->khup_pid, pm->offset);
		return op.fd;
	}
	fd = fdstore_get(st.readers[task]);
	if (fd < 0) {
		pr_err("Can't get the reader of task %d of image '%s' from the fdstore\n", pm->khup_pid, st.ie->name);
		return -EBADF;
	}
	*base = pm->offset;
	pr_debug("Pages of %s %lu: fd %d, task %d, offset %" PRIu64 ", %" PRIu64 " pages\n", type_name(type), id, fd,
		 pm->khup_pid, pm->offset, pm->nr_pages);
	return fd;
}
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__RESTORE_PAGES, khup_restore_pages)

/*
 * In a restored task, with --lazy-pages: if the claim ends without a
 * commit (the daemon died, or the restore failed), the module kills us
 * before it lets go of our userfaultfd, so that we never run on reading
 * zeros where a page was not copied yet.
 */
static int khup_lazy_pages_uffd(int pid, int uffd)
{
	struct khup_claim_tie t = { .size = sizeof(t), .uffd = uffd };
	int fd, ret = 0;

	if (!st.active || !st.lazy || st.claim_id < 0)
		return -ENOTSUP;
	fd = fdstore_get(st.claim_id);
	if (fd < 0) {
		pr_err("Can't get the claim of image '%s' from the fdstore\n", st.ie->name);
		return -EBADF;
	}
	if (ioctl(fd, KHUP_IOC_CLAIM_TIE, &t)) {
		ret = -errno;
		pr_perror("Can't tie task %d to the claim of image '%s'", pid, st.ie->name);
	} else {
		pr_debug("Task %d (userfaultfd %d) tied to the claim of image '%s'\n", pid, uffd, st.ie->name);
	}
	close(fd);
	return ret;
}
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__LAZY_PAGES_UFFD, khup_lazy_pages_uffd)

/*
 * In the daemon: the memory of task @pid is filled and @uffd is closed
 * next. The module must let go of it, or the task's later faults (on
 * memory that had no contents at dump) would wait for the commit.
 */
static int khup_lazy_pages_filled(int pid, int uffd)
{
	struct khup_claim_tie t = { .size = sizeof(t), .flags = KHUP_TIE_FILLED, .uffd = uffd };

	if (!st.active || st.stage != CR_PLUGIN_STAGE__LAZY_PAGES)
		return -ENOTSUP;
	if (ioctl(st.claim, KHUP_IOC_CLAIM_TIE, &t)) {
		/* a child forked during the fill has a userfaultfd of its own */
		if (errno != ENOENT)
			pr_perror("Can't untie the userfaultfd of task %d", pid);
		return 0;
	}
	pr_info("Task %d: every page copied\n", pid);
	return 0;
}
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__LAZY_PAGES_FILLED, khup_lazy_pages_filled)

/*
 * Success commits the claim: the image is released and its pages freed.
 * Failure (here, or CRIU dying before it gets here) drops the claim: the
 * consumed pages are readable again and the image can be restored anew.
 */
static void restore_fini(int ret)
{
	struct khup_image_op op = { .size = sizeof(op), .id = st.id };
	struct khup_info info;

	if (st.claim < 0 || getpid() != st.criu)
		return;
	if (st.lazy) {
		/* The daemon commits once it has copied the rest */
		if (st.active && !ret && write(st.verdict, KHUP_VERDICT_OK, strlen(KHUP_VERDICT_OK)) > 0)
			pr_info("Restored; the lazy-pages daemon commits image '%s' once it has copied every page\n",
				st.ie->name);
		else
			pr_info("Restore failed: the lazy-pages daemon drops the claim of image '%s' without a commit; "
				"every page is kept for another try\n",
				st.ie->name);
		return;
	}
	if (!st.active || ret) {
		if (!image_info(st.dev, st.id, &info))
			pr_info("Restore failed: " KHUP_DEV " image '%s' is kept for another try; its %" PRIu64
				" consumed pages are readable again\n",
				st.ie->name, (uint64_t)info.nr_consumed);
		return;
	}
	if (!image_info(st.dev, st.id, &info) && info.nr_pages != info.nr_consumed)
		pr_info("%" PRIu64 " pages of image '%s' were not read back\n",
			(uint64_t)(info.nr_pages - info.nr_consumed), st.ie->name);
	if (ioctl(st.claim, KHUP_IOC_COMMIT, &op))
		pr_perror("Can't commit the restore of " KHUP_DEV " image %" PRIu64, st.id);
	else
		pr_info("Restored; committed and released " KHUP_DEV " image '%s'\n", st.ie->name);
}

#define THP_SIZE (2UL << 20)
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

/*
 * The daemon filled the tasks' memory a base page at a time. Give them back
 * the huge pages they had at dump: every 2 MiB range that was one folio (an
 * extent of order 9) is collapsed with process_madvise(MADV_COLLAPSE), now
 * that all its pages are present. Best effort: returns the bytes collapsed.
 */
static uint64_t collapse_thp(void)
{
	struct khup_extent *ext = NULL;
	struct iovec iov[256];
	uint64_t done = 0;

	for (size_t i = 0; i < st.ie->n_tasks; i++) {
		KhupTaskEntry *t = st.ie->tasks[i];
		struct khup_extents e = { .size = sizeof(e), .id = st.id, .pid = t->pid };
		int n = 0, pidfd;
		ssize_t r;

		free(ext);
		ext = calloc(t->nr_extents ? t->nr_extents : 1, sizeof(*ext));
		if (!ext)
			break;
		e.count = t->nr_extents;
		e.extents = (uintptr_t)ext;
		if (ioctl(st.dev, KHUP_IOC_EXTENTS, &e))
			continue;
		pidfd = syscall(SYS_pidfd_open, t->pid, 0);
		if (pidfd < 0)
			continue; /* exited */
		for (uint64_t j = 0; j <= e.count; j++) {
			uint64_t s, end;

			if (j < e.count) {
				if (ext[j].order != 9 || (ext[j].flags & KHUP_EXTENT_ZERO))
					continue;
				s = (ext[j].va + THP_SIZE - 1) & ~(THP_SIZE - 1);
				end = (ext[j].va + ext[j].nr * page_size()) & ~(THP_SIZE - 1);
				if (s >= end)
					continue;
				if (n && (uint64_t)iov[n - 1].iov_base + iov[n - 1].iov_len == s) {
					iov[n - 1].iov_len += end - s;
					continue;
				}
				if (n < (int)(sizeof(iov) / sizeof(iov[0]))) {
					iov[n].iov_base = (void *)s;
					iov[n++].iov_len = end - s;
					continue;
				}
			}
			if (!n)
				continue;
			r = syscall(SYS_process_madvise, pidfd, iov, n, MADV_COLLAPSE, 0);
			if (r < 0)
				pr_warn("Can't collapse the huge pages of task %d: %s\n", t->pid, strerror(errno));
			else
				done += r;
			n = 0;
			if (j < e.count)
				j--; /* this extent again, in a new batch */
		}
		close(pidfd);
	}
	free(ext);
	return done;
}

/*
 * The lazy-pages daemon is done: @ret is 0 if every task's memory was
 * filled (or the task exited) after a restore that reached its end. Commit
 * only if the restore also said it succeeded; otherwise drop the claim:
 * the module kills the tasks tied to it and the image keeps every page.
 */
static void lazy_daemon_fini(int ret)
{
	struct khup_image_op op = { .size = sizeof(op), .id = st.id };
	struct khup_info info;
	char buf[8];
	size_t n = 0;
	ssize_t r;

	if (st.verdict_w >= 0)
		close(st.verdict_w);
	st.verdict_w = -1;
	if (st.note_written)
		unlinkat(criu_get_image_dir(), KHUP_LAZY_NOTE, 0);
	st.note_written = false;
	if (!st.active || getpid() != st.criu)
		return;
	if (ret) {
		pr_err("The lazy restore of image '%s' failed: dropping its claim; the restored tasks are killed and "
		       "the image keeps every page for another restore\n",
		       st.ie->name);
		return;
	}
	/* Wait for the restore's verdict: "ok", or EOF if it failed or died */
	while (n < sizeof(buf) - 1) {
		r = read(st.verdict, buf + n, sizeof(buf) - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += r;
	}
	buf[n] = '\0';
	if (strcmp(buf, KHUP_VERDICT_OK)) {
		pr_err("The restore of image '%s' did not succeed: dropping its claim without a commit; the image "
		       "keeps every page\n",
		       st.ie->name);
		return;
	}
	if (!image_info(st.dev, st.id, &info))
		pr_info("Every page filled: %" PRIu64 " of the %" PRIu64 " pages of image '%s' were read back\n",
			(uint64_t)info.nr_consumed, (uint64_t)info.nr_pages, st.ie->name);
	pr_info("Huge pages back: %" PRIu64 " KiB collapsed where the dump had huge pages\n", collapse_thp() >> 10);
	if (ioctl(st.claim, KHUP_IOC_COMMIT, &op))
		pr_perror("Can't commit the restore of " KHUP_DEV " image %" PRIu64, st.id);
	else
		pr_info("Lazy restore complete; committed and released " KHUP_DEV " image '%s'\n", st.ie->name);
}

/* ---- registration ---- */

static int khup_plugin_init(int stage)
{
	st.criu = getpid();
	st.stage = stage;
	if (stage == CR_PLUGIN_STAGE__RESTORE)
		return restore_init();
	if (stage == CR_PLUGIN_STAGE__LAZY_PAGES)
		return lazy_daemon_init();
	return 0;
}

static void khup_plugin_fini(int stage, int ret)
{
	if (stage == CR_PLUGIN_STAGE__DUMP)
		dump_fini(ret);
	else if (stage == CR_PLUGIN_STAGE__RESTORE)
		restore_fini(ret);
	else if (stage == CR_PLUGIN_STAGE__LAZY_PAGES)
		lazy_daemon_fini(ret);

	if (st.ie) {
		khup_image_entry__free_unpacked(st.ie, NULL);
		st.ie = NULL;
	}
	if (st.claim >= 0)
		close(st.claim);
	st.claim = -1;
	free(st.readers);
	st.readers = NULL;
	if (st.verdict >= 0)
		close(st.verdict);
	if (st.verdict_w >= 0)
		close(st.verdict_w);
	st.verdict = st.verdict_w = st.claim_id = -1;
	st.lazy = false;
	if (st.dev >= 0)
		close(st.dev);
	st.dev = -1;
	st.id = 0;
	st.active = false;
}

CR_PLUGIN_REGISTER(KHUP_PLUGIN_NAME, khup_plugin_init, khup_plugin_fini)
