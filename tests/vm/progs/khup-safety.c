// SPDX-License-Identifier: GPL-2.0-only
/*
 * khup-safety: the VM tests of the pin limits and of shared-page
 * snapshots (doc/module.md, "Safety").
 *
 *   khup-safety limit-rlimit NL      without CAP_IPC_LOCK, RLIMIT_MEMLOCK
 *                                    1 MiB: a pin up to it is charged, one
 *                                    beyond it fails with ENOMEM and pins
 *                                    nothing; release uncharges
 *   khup-safety limit-uncharge NL    punching, and a claim's COMMIT,
 *                                    uncharge what they free
 *   khup-safety limit-capipc NL      with CAP_IPC_LOCK an image is not
 *                                    charged and RLIMIT_MEMLOCK does not
 *                                    apply; an image created without it is
 *                                    charged, but the limit is not enforced
 *                                    on a pin by a caller with it
 *   khup-safety limit-global NL      max_pinned_pages caps every image
 *                                    together: ENOSPC beyond it, nothing
 *                                    pinned
 *   khup-safety shared-dump NAME STATE NL
 *                                    pin a memfd (1 MiB) and private memory
 *                                    of this process and seal; a process
 *                                    outside the image keeps writing the
 *                                    memfd from then on (it runs on): the
 *                                    image still reads the contents of the
 *                                    pin; only the memfd pages were copied
 *   khup-safety shared-verify NAME STATE
 *                                    the image reads the dump-time contents
 *   khup-safety create NAME          create an (open) image, print its id
 *
 * NL is the khup-nl program (its "stats" prints the module's counters).
 * Every check prints what it expected and what happened; exit 0 iff all
 * of them held.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/falloc.h>
#include <linux/khup.h>

#include "libtest.h"

#define PS 4096UL
#define MAX_PARAM "/sys/module/khup/parameters/max_pinned_pages"

static const char *nl_prog;
static int failed;

static void expect(const char *what, long long got, long long want)
{
	printf("%s %s: got %lld, want %lld\n", got == want ? "ok:" : "FAILED:",
	       what, got, want);
	if (got != want)
		failed = 1;
}

/* One counter of the module's statistics, through khup-nl stats. */
static long long stat_of(const char *key)
{
	char cmd[512], k[64];
	long long v, found = -1;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s stats", nl_prog);
	f = popen(cmd, "r");
	if (!f)
		die("%s: %s", cmd, strerror(errno));
	while (fscanf(f, "%63s %lld", k, &v) == 2)
		if (!strcmp(k, key))
			found = v;
	if (pclose(f) || found < 0)
		die("%s: no counter %s", cmd, key);
	return found;
}

static int image_op(unsigned long cmd, uint64_t id)
{
	struct khup_image_op op = { .size = sizeof(op), .id = id };

	return kio(cmd, &op);
}

static uint64_t image_pages(uint64_t id)
{
	struct khup_info in = { .size = sizeof(in), .id = id };

	if (kio(KHUP_IOC_INFO, &in))
		die("INFO %" PRIu64 ": %s", id, strerror(errno));
	return in.nr_pages;
}

/* Pins @pages pages at @addr of this process: 0 or -errno. */
static int pin_own(uint64_t id, void *addr, uint64_t pages)
{
	struct iovec iov = { addr, pages * PS };

	return pin(id, 0, &iov, 1, NULL);
}

/* @pages pages of private anonymous memory, each page written. */
static char *anon(uint64_t pages)
{
	char *p = mmap(NULL, pages * PS, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t i;

	if (p == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	for (i = 0; i < pages; i++)
		memset(p + i * PS, 0x5a ^ (int)i, PS);
	return p;
}

/* Adds or removes CAP_IPC_LOCK from the effective set. */
static void ipc_lock(int on)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		die("capget: %s", strerror(errno));
	if (on)
		d[0].effective |= 1U << CAP_IPC_LOCK;
	else
		d[0].effective &= ~(1U << CAP_IPC_LOCK);
	if (syscall(SYS_capset, &h, d))
		die("capset: %s", strerror(errno));
}

static void memlock_limit(uint64_t bytes)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_MEMLOCK, &r))
		die("getrlimit: %s", strerror(errno));
	r.rlim_cur = bytes;
	if (r.rlim_max != RLIM_INFINITY && r.rlim_max < bytes)
		r.rlim_max = bytes;
	if (setrlimit(RLIMIT_MEMLOCK, &r))
		die("setrlimit: %s", strerror(errno));
}

static void set_max(long long pages)
{
	FILE *f = fopen(MAX_PARAM, "w");

	if (!f || fprintf(f, "%lld\n", pages) < 0 || fclose(f))
		die("%s: %s", MAX_PARAM, strerror(errno));
}

static void release(uint64_t id)
{
	int err = image_op(KHUP_IOC_RELEASE, id);

	if (err)
		die("RELEASE %" PRIu64 ": %s", id, strerror(-err));
}

static int limit_rlimit(void)
{
	long long held = stat_of("held"), charged = stat_of("charged");
	char *mem = anon(512);
	uint64_t id;

	memlock_limit(256 * PS);
	ipc_lock(0);
	id = create("limit-rlimit");
	expect("pin 128 pages under a 256-page RLIMIT_MEMLOCK", pin_own(id, mem, 128), 0);
	expect("charged after it", stat_of("charged") - charged, 128);
	expect("held after it", stat_of("held") - held, 128);
	expect("pin 192 more (320 > 256): errno", pin_own(id, mem + 128 * PS, 192),
	       -ENOMEM);
	expect("pages of the image after the refused pin", image_pages(id), 128);
	expect("charged after the refused pin", stat_of("charged") - charged, 128);
	expect("held after the refused pin", stat_of("held") - held, 128);
	expect("pin 128 more: up to the limit exactly",
	       pin_own(id, mem + 128 * PS, 128), 0);
	expect("charged at the limit", stat_of("charged") - charged, 256);
	expect("pin 1 more page: errno", pin_own(id, mem + 256 * PS, 1), -ENOMEM);
	release(id);
	expect("charged after release", stat_of("charged") - charged, 0);
	expect("held after release", stat_of("held") - held, 0);
	return failed;
}

static int limit_uncharge(void)
{
	long long charged = stat_of("charged"), held = stat_of("held");
	struct khup_claim_op c = { .size = sizeof(c), .flags = KHUP_FD_CLOEXEC };
	char *mem = anon(128);
	uint64_t id, pages;
	int fd;

	ipc_lock(0);
	id = create("limit-punch");
	expect("pin 128 pages", pin_own(id, mem, 128), 0);
	expect("charged after the pin", stat_of("charged") - charged, 128);
	fd = open_pages(id, getpid(), &pages);
	expect("punch 48 pages",
	       fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
			 48 * PS) ? -errno : 0, 0);
	expect("charged after the punch", stat_of("charged") - charged, 80);
	expect("held after the punch", stat_of("held") - held, 80);
	close(fd);
	release(id);
	expect("charged after release", stat_of("charged") - charged, 0);

	id = create("limit-commit");
	expect("pin 128 pages", pin_own(id, mem, 128), 0);
	expect("seal", image_op(KHUP_IOC_SEAL, id), 0);
	c.id = id;
	expect("claim", kio(KHUP_IOC_CLAIM, &c), 0);
	expect("charged while claimed", stat_of("charged") - charged, 128);
	{
		struct khup_image_op op = { .size = sizeof(op), .id = id };

		expect("commit", ioctl(c.fd, KHUP_IOC_COMMIT, &op) ? -errno : 0,
		       0);
	}
	close(c.fd);
	expect("charged after commit", stat_of("charged") - charged, 0);
	expect("held after commit", stat_of("held") - held, 0);
	return failed;
}

static int limit_capipc(void)
{
	long long charged = stat_of("charged"), held = stat_of("held");
	char *mem = anon(512);
	uint64_t id;

	memlock_limit(256 * PS);
	ipc_lock(1);
	id = create("limit-capipc");
	expect("with CAP_IPC_LOCK: pin 512 pages over a 256-page RLIMIT_MEMLOCK",
	       pin_own(id, mem, 512), 0);
	expect("an image created with CAP_IPC_LOCK is not charged",
	       stat_of("charged") - charged, 0);
	expect("held", stat_of("held") - held, 512);
	release(id);
	expect("held after release", stat_of("held") - held, 0);

	ipc_lock(0);
	id = create("limit-mixed");
	ipc_lock(1);
	expect("image created without CAP_IPC_LOCK, pinned with it: 512 pages",
	       pin_own(id, mem, 512), 0);
	expect("charged (the limit is not enforced)",
	       stat_of("charged") - charged, 512);
	release(id);
	expect("charged after release", stat_of("charged") - charged, 0);
	return failed;
}

static int limit_global(void)
{
	long long held = stat_of("held");
	char *mem = anon(512);
	uint64_t id;

	ipc_lock(1);
	set_max(held + 300);
	id = create("limit-global");
	expect("pin 256 pages under a cap of 300", pin_own(id, mem, 256), 0);
	expect("pin 64 more (320 > 300): errno", pin_own(id, mem + 256 * PS, 64),
	       -ENOSPC);
	expect("pages of the image after the refused pin", image_pages(id), 256);
	expect("held after the refused pin", stat_of("held") - held, 256);
	expect("pin 44 more: up to the cap", pin_own(id, mem + 256 * PS, 44), 0);
	expect("held at the cap", stat_of("held") - held, 300);
	expect("a second image is capped too: errno",
	       pin_own(create("limit-global2"), mem + 300 * PS, 1), -ENOSPC);
	release(image_id("limit-global2"));
	release(id);
	set_max(0);
	expect("held after release", stat_of("held") - held, 0);
	return failed;
}

/* ---- shared memory ---- */

#define SHARED_PAGES 256
#define PRIV_PAGES 64

static void fill(char *p, uint64_t pages, uint64_t seed)
{
	uint64_t i, j, x;

	for (i = 0; i < pages; i++) {
		x = (seed ^ (i * 0x9e3779b97f4a7c15ULL)) | 1;
		for (j = 0; j < PS; j += 8) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			memcpy(p + i * PS + j, &x, 8);
		}
	}
}

/* The process outside the image: writes every page of the memfd, again
 * and again, until it is killed (or the machine kexecs). */
static void __attribute__((noreturn)) writer(int memfd, int go)
{
	char *p = mmap(NULL, SHARED_PAGES * PS, PROT_READ | PROT_WRITE,
		       MAP_SHARED, memfd, 0);
	uint64_t gen = 1;
	char c;

	int null = open("/dev/null", O_RDWR);

	/* Nothing of the test's output stays open in here. */
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
	    dup2(null, 2) < 0)
		_exit(1);
	if (p == MAP_FAILED || read(go, &c, 1) != 1)
		_exit(1);
	setsid();
	for (;; gen++) {
		for (uint64_t i = 0; i < SHARED_PAGES; i++)
			memset(p + i * PS, (int)(gen & 0xff) | 1, PS);
		usleep(1000);
	}
}

static int shared_dump(const char *name, const char *state)
{
	long long snap0 = stat_of("snapshot"), ns0 = stat_of("snapshot_ns");
	int memfd = memfd_create("khup-shared", MFD_CLOEXEC), go[2];
	uint64_t id, hs, hp, pages, hr;
	struct iovec iov[2];
	struct khup_pin p = { .size = sizeof(p), .nr_iovecs = 2 };
	char *shared, *priv, *buf;
	pid_t w;
	FILE *f;
	int fd, i;

	if (memfd < 0 || ftruncate(memfd, SHARED_PAGES * PS) || pipe(go))
		die("memfd: %s", strerror(errno));
	shared = mmap(NULL, SHARED_PAGES * PS, PROT_READ | PROT_WRITE,
		      MAP_SHARED, memfd, 0);
	if (shared == MAP_FAILED)
		die("mmap memfd: %s", strerror(errno));
	priv = anon(PRIV_PAGES);
	fill(shared, SHARED_PAGES, 1);
	fill(priv, PRIV_PAGES, 2);
	hs = fnv(FNV0, shared, SHARED_PAGES * PS);
	hp = fnv(FNV0, priv, PRIV_PAGES * PS);

	w = fork();
	if (w < 0)
		die("fork: %s", strerror(errno));
	if (!w) {
		close(go[1]);
		writer(memfd, go[0]);
	}
	close(go[0]);

	id = create(name);
	iov[0] = (struct iovec){ shared, SHARED_PAGES * PS };
	iov[1] = (struct iovec){ priv, PRIV_PAGES * PS };
	p.id = id;
	p.iovecs = (uintptr_t)iov;
	expect("pin the memfd and private memory", kio(KHUP_IOC_PIN, &p), 0);
	expect("seal", image_op(KHUP_IOC_SEAL, id), 0);
	expect("pages copied at pin: the memfd's, not the private ones",
	       stat_of("snapshot") - snap0, SHARED_PAGES);
	printf("note: %d pages copied in %lld us (%lld ns a page)\n",
	       SHARED_PAGES, (stat_of("snapshot_ns") - ns0) / 1000,
	       (stat_of("snapshot_ns") - ns0) / SHARED_PAGES);

	/* The writer outside the image starts now and never stops. */
	if (write(go[1], "g", 1) != 1)
		die("start the writer: %s", strerror(errno));
	for (i = 0; i < 5000 && fnv(FNV0, shared, SHARED_PAGES * PS) == hs; i++)
		usleep(1000);
	expect("the writer changed the memfd after the dump",
	       fnv(FNV0, shared, SHARED_PAGES * PS) != hs, 1);

	fd = open_pages(id, getpid(), &pages);
	expect("pages in the image", pages, SHARED_PAGES + PRIV_PAGES);
	buf = malloc(pages * PS);
	if (!buf || pread(fd, buf, pages * PS, 0) != (ssize_t)(pages * PS))
		die("read back: %s", strerror(errno));
	hr = fnv(FNV0, buf, SHARED_PAGES * PS);
	expect("the image reads the memfd as at the pin", hr == hs, 1);
	expect("the image reads the private memory as at the pin",
	       fnv(FNV0, buf + SHARED_PAGES * PS, PRIV_PAGES * PS) == hp, 1);
	close(fd);

	f = fopen(state, "w");
	if (!f || fprintf(f, "%d %" PRIu64 " %" PRIu64 " %d\n", getpid(), hs,
			  hp, w) < 0 || fclose(f))
		die("%s: %s", state, strerror(errno));
	/* The writer keeps running after this process exits. */
	return failed;
}

static int shared_verify(const char *name, const char *state)
{
	uint64_t hs, hp, pages;
	pid_t pid, w;
	FILE *f = fopen(state, "r");
	char *buf;
	int fd;

	if (!f || fscanf(f, "%d %" SCNu64 " %" SCNu64 " %d", &pid, &hs, &hp,
			 &w) != 4)
		die("%s: unreadable", state);
	fclose(f);
	fd = open_pages(image_id(name), pid, &pages);
	expect("pages in the image", pages, SHARED_PAGES + PRIV_PAGES);
	buf = malloc(pages * PS);
	if (!buf || pread(fd, buf, pages * PS, 0) != (ssize_t)(pages * PS))
		die("read back: %s", strerror(errno));
	expect("after kexec the image reads the memfd as at the pin",
	       fnv(FNV0, buf, SHARED_PAGES * PS) == hs, 1);
	expect("after kexec the image reads the private memory as at the pin",
	       fnv(FNV0, buf + SHARED_PAGES * PS, PRIV_PAGES * PS) == hp, 1);
	close(fd);
	return failed;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "limit-rlimit"))
		return nl_prog = argv[2], limit_rlimit();
	if (argc == 3 && !strcmp(argv[1], "limit-uncharge"))
		return nl_prog = argv[2], limit_uncharge();
	if (argc == 3 && !strcmp(argv[1], "limit-capipc"))
		return nl_prog = argv[2], limit_capipc();
	if (argc == 3 && !strcmp(argv[1], "limit-global"))
		return nl_prog = argv[2], limit_global();
	if (argc == 5 && !strcmp(argv[1], "shared-dump"))
		return nl_prog = argv[4], shared_dump(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "create"))
		return printf("%" PRIu64 "\n", create(argv[2])) < 0;
	if (argc == 4 && !strcmp(argv[1], "shared-verify"))
		return shared_verify(argv[2], argv[3]);
	fprintf(stderr, "usage: see the comment at the top of khup-safety.c\n");
	return 2;
}
