// SPDX-License-Identifier: GPL-2.0-only
/*
 * khup-test: drives /dev/khup for the VM tests.
 *
 *   khup-test self-pin NAME STATE       fill >= 64 MiB (4 KiB pages, a THP
 *                                       range, a zero-page range), pin it,
 *                                       seal; record layout and hashes
 *   khup-test self-restore NAME STATE   map the same ranges, RESTORE_SELF,
 *                                       compare hashes
 *   khup-test remote-pin NAME STATE     fill a child, ptrace-stop it, pin it
 *                                       by pid, read back via the fd, seal
 *   khup-test remote-verify NAME STATE  read back via the fd, compare, punch
 *   khup-test prot-none NAME            pin a ptrace-stopped child's pages
 *                                       that are PROT_NONE (FOLL_FORCE),
 *                                       read them back identical, seal,
 *                                       release; the child's mapping stays
 *                                       PROT_NONE; pinning the caller's own
 *                                       PROT_NONE page fails with EFAULT
 *   khup-test remote-check NAME STATE   read back via the fd, compare
 *   khup-test faults OP                 fail the 1st, 2nd, ... allocation of
 *                                       OP (pin, seal, claim, consume,
 *                                       commit) with fail-nth; after each,
 *                                       the state is all or nothing
 *   khup-test punch-loop NAME STATE     punch pages one by one, ever slower
 *                                       (2 ms apart, 0.25 ms more each
 *                                       time), until done or a punch fails (EBUSY
 *                                       once frozen for a kexec); outcome
 *                                       in STATE.loop
 *   khup-test check-each NAME STATE     every page reads as the child's
 *                                       data or fails with EIO, and the
 *                                       readable ones are exactly those
 *                                       the module holds
 *   khup-test remote-punch NAME STATE FIRST N
 *                                       punch FIRST..FIRST+N-1 through an
 *                                       unaligned range 100 bytes wider on
 *                                       each side (only whole pages go),
 *                                       check reading them fails with EIO
 *   khup-test exit-writes NAME          a ptrace-stopped child with two
 *                                       threads: SEAL clears both threads'
 *                                       robust lists, RELEASE puts them
 *                                       back; SEAL fails with EBUSY while
 *                                       a thread runs (changing nothing)
 *                                       and with ESRCH once the child died
 *   khup-test claim NAME STATE          claims on a remote-pin image: one at
 *                                       a time, no release or plain punch
 *                                       meanwhile, consume then roll back,
 *                                       the shrinker frees consumed pages
 *                                       (lost, no more claims)
 *   khup-test claim-commit NAME STATE   consume part, COMMIT: image released
 *   khup-test lost NAME N               INFO and TASKS report N lost pages;
 *                                       CLAIM fails with EIO if N > 0
 *   khup-test release NAME              release the image
 *   khup-test info NAME                 print "id state tasks pages kexecs"
 *   khup-test list                      print every image id
 *   khup-test punch-all NAME            punch every page of every task
 *   khup-test pfns NAME                 print "pfn nr" of every extent
 *   khup-test bad-input CASE            exit 0 iff CASE gets its errno
 *   khup-test thp NAME                  exit 0 iff an extent has order > 0
 *   khup-test scratch NAME              squeeze free memory so a 64 MiB range
 *                                       lands in KHO scratch (CMA), pin and
 *                                       seal it, check no pinned pfn is in
 *                                       scratch
 *   khup-test hog DIR MARGIN_MB         hold all free memory but KHO scratch
 *                                       and MARGIN_MB (so what is allocated
 *                                       next lands in scratch); DIR/ready
 *                                       when done; runs until killed
 *
 * Every failure prints what was expected and what happened.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/falloc.h>
#include <linux/khup.h>

#include "../../../tools/scratch.h"
#include "libtest.h"

#define PS 4096UL
#define MB (1024UL * 1024)
#define MAX_RANGES 32

/* xorshift64*: data is a function of (seed, page), so both kernels agree. */
static void fill_page(uint64_t *p, uint64_t seed, uint64_t page)
{
	uint64_t x = (seed ^ (page * 0x9e3779b97f4a7c15ULL)) | 1;
	size_t i;

	for (i = 0; i < PS / 8; i++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		p[i] = x * 0x2545f4914f6cdd1dULL;
	}
}

static void seal(uint64_t id)
{
	struct khup_image_op op = { .size = sizeof(op), .id = id };
	int err = kio(KHUP_IOC_SEAL, &op);

	if (err)
		die("SEAL %" PRIu64 ": %s", id, strerror(-err));
}

struct range {
	uint64_t va, len, hash;
	int kind;		/* 0 random 4K, 1 random THP, 2 zero page */
};

static void *map_at(uint64_t len, int huge, uint64_t fixed)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	uint64_t extra = huge ? 2 * MB : 0;
	char *p;

	if (fixed) {
		p = mmap((void *)fixed, len, PROT_READ | PROT_WRITE,
			 flags | MAP_FIXED_NOREPLACE, -1, 0);
		if (p == MAP_FAILED || (uint64_t)p != fixed)
			die("mmap at %#" PRIx64 ": %s", fixed, strerror(errno));
		return p;
	}
	p = mmap(NULL, len + extra, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	if (huge) {
		p = (char *)(((uintptr_t)p + 2 * MB - 1) & ~(2 * MB - 1));
		if (madvise(p, len, MADV_HUGEPAGE))
			die("MADV_HUGEPAGE: %s", strerror(errno));
	} else if (madvise(p, len, MADV_NOHUGEPAGE)) {
		die("MADV_NOHUGEPAGE: %s", strerror(errno));
	}
	return p;
}

/* Fills a range (kind 2: only read, so the zero page is mapped). */
static uint64_t fill(struct range *r, uint64_t seed)
{
	volatile char *p = (char *)r->va;
	uint64_t off, h = FNV0;

	for (off = 0; off < r->len; off += PS) {
		if (r->kind == 2)
			(void)p[off];
		else
			fill_page((uint64_t *)(p + off), seed, (r->va + off) / PS);
	}
	for (off = 0; off < r->len; off += PS)
		h = fnv(h, (char *)p + off, PS);
	return h;
}

static void layout(struct range *r, int *n)
{
	uint64_t len[] = { 24 * MB, 32 * MB, 64 * 1024 };
	int kind[] = { 0, 1, 2 };
	int i;

	*n = 0;
	for (i = 0; i < 3; i++) {
		r[*n].len = len[i];
		r[*n].kind = kind[i];
		r[*n].va = (uintptr_t)map_at(len[i], kind[i] == 1, 0);
		(*n)++;
	}
	/* Eight scattered 1 MiB ranges: many extents, several iovecs. */
	for (i = 0; i < 8; i++) {
		r[*n].len = MB;
		r[*n].kind = 0;
		r[*n].va = (uintptr_t)map_at(MB, 0, 0);
		(*n)++;
	}
}

static int self_pin(const char *name, const char *state)
{
	struct range r[MAX_RANGES];
	struct iovec iov[MAX_RANGES];
	uint64_t id, pages, total = 0;
	int n, i, err;
	FILE *f;

	layout(r, &n);
	for (i = 0; i < n; i++) {
		r[i].hash = fill(&r[i], 42);
		iov[i].iov_base = (void *)r[i].va;
		iov[i].iov_len = r[i].len;
		total += r[i].len / PS;
	}
	id = create(name);
	err = pin(id, 0, iov, n, &pages);
	if (err)
		die("PIN self: %s", strerror(-err));
	if (pages != total)
		die("PIN self pinned %" PRIu64 " pages, expected %" PRIu64,
		    pages, total);
	seal(id);
	f = fopen(state, "w");
	if (!f)
		die("%s: %s", state, strerror(errno));
	for (i = 0; i < n; i++)
		fprintf(f, "%" PRIx64 " %" PRIx64 " %d %" PRIx64 "\n", r[i].va,
			r[i].len, r[i].kind, r[i].hash);
	fclose(f);
	printf("image %" PRIu64 ": %d ranges, %" PRIu64 " pages pinned and sealed\n",
	       id, n, pages);
	return 0;
}

static int read_state(const char *state, struct range *r)
{
	FILE *f = fopen(state, "r");
	int n = 0;

	if (!f)
		die("%s: %s", state, strerror(errno));
	while (n < MAX_RANGES &&
	       fscanf(f, "%" SCNx64 " %" SCNx64 " %d %" SCNx64, &r[n].va,
		      &r[n].len, &r[n].kind, &r[n].hash) == 4)
		n++;
	fclose(f);
	return n;
}

static int self_restore(const char *name, const char *state)
{
	struct khup_restore_self rs = { .size = sizeof(rs) };
	struct range r[MAX_RANGES];
	uint64_t off, h, total = 0;
	int n, i, bad = 0, err;

	n = read_state(state, r);
	for (i = 0; i < n; i++) {
		map_at(r[i].len, 0, r[i].va);
		/* Poison, so a page the module fails to copy cannot match. */
		memset((void *)r[i].va, 0xa5, r[i].len);
		total += r[i].len / PS;
	}
	rs.id = image_id(name);
	err = kio(KHUP_IOC_RESTORE_SELF, &rs);
	if (err)
		die("RESTORE_SELF: %s", strerror(-err));
	if (rs.nr_pages != total)
		die("RESTORE_SELF copied %llu pages, expected %" PRIu64,
		    (unsigned long long)rs.nr_pages, total);
	for (i = 0; i < n; i++) {
		h = FNV0;
		for (off = 0; off < r[i].len; off += PS)
			h = fnv(h, (char *)r[i].va + off, PS);
		if (h != r[i].hash) {
			fprintf(stderr, "range %d at %#" PRIx64 " (kind %d): hash differs\n",
				i, r[i].va, r[i].kind);
			bad++;
		}
	}
	printf("%d of %d ranges identical, %" PRIu64 " pages\n", n - bad, n,
	       total);
	return bad ? 1 : 0;
}

/* Pages punched so far ("first n" lines of STATE.punched), if any. */
static struct { uint64_t first, n; } punched_ranges[64];
static int nr_punched_ranges;

static int punched(uint64_t idx)
{
	for (int i = 0; i < nr_punched_ranges; i++)
		if (idx >= punched_ranges[i].first &&
		    idx < punched_ranges[i].first + punched_ranges[i].n)
			return 1;
	return 0;
}

/*
 * Hashes the pages of the fd that are still held; a punched page must fail
 * its read with EIO (never read as zeros) and is left out of the hash.
 */
static uint64_t hash_fd(int fd, uint64_t pages)
{
	static char buf[64 * 4096];
	uint64_t h = FNV0, off = 0, len = pages * PS;

	while (off < len) {
		size_t want = len - off < sizeof(buf) ? len - off : sizeof(buf);
		/* preadv, as CRIU's restorer does */
		struct iovec v[2] = {
			{ buf, want / 2 }, { buf + want / 2, want - want / 2 },
		};
		ssize_t got;

		if (punched(off / PS)) {
			if (pread(fd, buf, PS, off) != -1 || errno != EIO)
				die("punched page %" PRIu64 " did not fail with EIO",
				    off / PS);
			off += PS;
			continue;
		}
		for (size_t p = PS; p < want; p += PS)
			if (punched((off + p) / PS)) {
				want = p;
				v[0].iov_len = want / 2;
				v[1].iov_base = buf + want / 2;
				v[1].iov_len = want - want / 2;
				break;
			}
		got = preadv(fd, v, 2, off);
		if (got != (ssize_t)want)
			die("preadv at %" PRIu64 ": got %zd: %s", off, got,
			    strerror(errno));
		h = fnv(h, buf, got);
		off += got;
	}
	return h;
}

static int remote_pin(const char *name, const char *state)
{
	uint64_t addr[2], len[2] = { 8 * MB, 4 * MB }, expect = FNV0, pages;
	int pfd[2], st, fd, i, err;
	struct iovec iov[2];
	uint64_t id, off, got;
	pid_t pid;
	FILE *f;

	if (pipe(pfd))
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid) {
		for (i = 0; i < 2; i++) {
			struct range r = { .len = len[i], .kind = 0 };

			r.va = (uintptr_t)map_at(len[i], i == 1, 0);
			fill(&r, 7);
			addr[i] = r.va;
		}
		if (write(pfd[1], addr, sizeof(addr)) != sizeof(addr))
			_exit(1);
		for (;;)
			pause();
	}
	if (read(pfd[0], addr, sizeof(addr)) != sizeof(addr))
		die("child did not report its ranges");
	if (ptrace(PTRACE_SEIZE, pid, 0, 0) || ptrace(PTRACE_INTERRUPT, pid, 0, 0))
		die("ptrace: %s", strerror(errno));
	if (waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st))
		die("child did not stop");

	for (i = 0; i < 2; i++) {
		iov[i].iov_base = (void *)addr[i];
		iov[i].iov_len = len[i];
		for (off = 0; off < len[i]; off += PS) {
			uint64_t page[PS / 8];

			fill_page(page, 7, (addr[i] + off) / PS);
			expect = fnv(expect, page, PS);
		}
	}
	id = create(name);
	err = pin(id, pid, iov, 2, &pages);
	if (err)
		die("PIN pid %d: %s", pid, strerror(-err));
	fd = open_pages(id, pid, &pages);
	if (pages != (len[0] + len[1]) / PS)
		die("offset space has %" PRIu64 " pages", pages);
	got = hash_fd(fd, pages);
	close(fd);
	if (got != expect)
		die("read-back before kexec differs from the child's data");
	seal(id);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	f = fopen(state, "w");
	if (!f)
		die("%s: %s", state, strerror(errno));
	fprintf(f, "%d %" PRIx64 " %" PRIu64 " %" PRIx64 " %" PRIx64 " %" PRIx64
		" %" PRIx64 "\n", pid, expect, pages, addr[0], len[0], addr[1],
		len[1]);
	fclose(f);
	printf("pid %d: %" PRIu64 " pages pinned, read back identical, sealed; child killed\n",
	       pid, pages);
	return 0;
}

/* Is the mapping at @va of @pid still without any access ("---p")? */
static int maps_prot_none(pid_t pid, uint64_t va)
{
	char path[64], line[512];
	unsigned long lo, hi;
	char perm[5];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "r");
	if (!f)
		die("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perm) == 3 &&
		    va >= lo && va < hi)
			found = !strcmp(perm, "---p");
	fclose(f);
	return found;
}

static int prot_none(const char *name)
{
	const uint64_t len = 4 * PS;
	uint64_t addr, expect = FNV0, pages, id, off, got;
	struct khup_image_op op = { .size = sizeof(op) };
	struct iovec iov;
	int pfd[2], st, fd, err;
	unsigned char *own;
	pid_t pid;

	if (pipe(pfd))
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid) {
		struct range r = { .len = len, .kind = 0 };

		r.va = (uintptr_t)map_at(len, 0, 0);
		fill(&r, 11);
		if (mprotect((void *)r.va, len, PROT_NONE))
			_exit(1);
		if (write(pfd[1], &r.va, sizeof(r.va)) != sizeof(r.va))
			_exit(1);
		for (;;)
			pause();
	}
	if (read(pfd[0], &addr, sizeof(addr)) != sizeof(addr))
		die("child did not report its range");
	if (ptrace(PTRACE_SEIZE, pid, 0, 0) || ptrace(PTRACE_INTERRUPT, pid, 0, 0))
		die("ptrace: %s", strerror(errno));
	if (waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st))
		die("child did not stop");
	if (!maps_prot_none(pid, addr))
		die("the child's range is not PROT_NONE to begin with");
	for (off = 0; off < len; off += PS) {
		uint64_t page[PS / 8];

		fill_page(page, 11, (addr + off) / PS);
		expect = fnv(expect, page, PS);
	}
	iov.iov_base = (void *)addr;
	iov.iov_len = len;
	id = create(name);
	op.id = id;
	err = pin(id, pid, &iov, 1, &pages);
	if (err)
		die("PIN of the child's PROT_NONE range: %s", strerror(-err));
	fd = open_pages(id, pid, &pages);
	got = hash_fd(fd, pages);
	close(fd);
	if (pages != len / PS || got != expect)
		die("read-back of %" PRIu64 " PROT_NONE pages differs from the child's data",
		    pages);
	seal(id);
	if (!maps_prot_none(pid, addr))
		die("pinning changed the child's PROT_NONE mapping");
	if (kio(KHUP_IOC_RELEASE, &op))
		die("RELEASE: %s", strerror(errno));
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);

	/* Our own memory is pinned as we may access it: not at all. */
	own = mmap(NULL, PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		   -1, 0);
	if (own == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	memset(own, 0x5a, PS);
	if (mprotect(own, PS, PROT_NONE))
		die("mprotect: %s", strerror(errno));
	iov.iov_base = own;
	iov.iov_len = PS;
	id = create(name);
	op.id = id;
	err = pin(id, 0, &iov, 1, &pages);
	if (err != -EFAULT)
		die("PIN of the caller's own PROT_NONE page: %s, expected EFAULT",
		    err ? strerror(-err) : "success");
	if (kio(KHUP_IOC_RELEASE, &op))
		die("RELEASE: %s", strerror(errno));
	printf("pid %d: %" PRIu64 " PROT_NONE pages pinned, read back identical, sealed, released; the mapping stayed PROT_NONE; own PROT_NONE page: EFAULT\n",
	       pid, pages);
	return 0;
}

struct remote_state {
	int pid;
	uint64_t expect, pages, addr[2], len[2];
};

static void read_remote(const char *state, struct remote_state *rs)
{
	FILE *f = fopen(state, "r");

	if (!f || fscanf(f, "%d %" SCNx64 " %" SCNu64 " %" SCNx64 " %" SCNx64
			 " %" SCNx64 " %" SCNx64, &rs->pid, &rs->expect,
			 &rs->pages, &rs->addr[0], &rs->len[0], &rs->addr[1],
			 &rs->len[1]) != 7)
		die("%s: unreadable", state);
	fclose(f);
}

/* Loads STATE.punched into punched_ranges. */
static void read_punched(const char *state)
{
	char path[4096];
	uint64_t first, n;
	FILE *f;

	snprintf(path, sizeof(path), "%s.punched", state);
	nr_punched_ranges = 0;
	f = fopen(path, "r");
	while (f && nr_punched_ranges < 64 &&
	       fscanf(f, "%" SCNu64 " %" SCNu64, &first, &n) == 2) {
		punched_ranges[nr_punched_ranges].first = first;
		punched_ranges[nr_punched_ranges++].n = n;
	}
	if (f)
		fclose(f);
}

/* Expected hash of the offset space: the child's data, except punched pages. */
static uint64_t expected_hash(const char *state, const struct remote_state *rs,
			      uint64_t *nr_punched)
{
	uint64_t h = FNV0, off, idx = 0, page[PS / 8];
	int i;

	*nr_punched = 0;
	read_punched(state);
	for (i = 0; i < 2; i++) {
		for (off = 0; off < rs->len[i]; off += PS, idx++) {
			if (punched(idx)) {
				++*nr_punched;
				continue;
			}
			fill_page(page, 7, (rs->addr[i] + off) / PS);
			h = fnv(h, page, PS);
		}
	}
	return h;
}

static int remote_verify(const char *name, const char *state, int punch)
{
	uint64_t got, n2, expect, nr_punched;
	struct remote_state rs;
	int fd;

	read_remote(state, &rs);
	fd = open_pages(image_id(name), rs.pid, &n2);
	if (n2 != rs.pages)
		die("offset space has %" PRIu64 " pages, expected %" PRIu64,
		    n2, rs.pages);
	expect = expected_hash(state, &rs, &nr_punched);
	got = hash_fd(fd, rs.pages);
	if (got != expect)
		die("read-back differs from the child's data (%" PRIu64
		    " pages punched earlier)", nr_punched);
	if (!punch) {
		close(fd);
		printf("pid %d: %" PRIu64 " pages read back identical (%" PRIu64
		       " punched earlier fail with EIO)\n", rs.pid, rs.pages,
		       nr_punched);
		return 0;
	}
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
		      rs.pages * PS))
		die("punch hole: %s", strerror(errno));
	close(fd);
	printf("pid %d: %" PRIu64 " pages read back identical, then punched\n",
	       rs.pid, rs.pages);
	return 0;
}

/* Punches pages [first, first + n) and records them in STATE.punched. */
static int remote_punch(const char *name, const char *state, uint64_t first,
			uint64_t n)
{
	struct khup_info in = { .size = sizeof(in), .flags = KHUP_INFO_BY_NAME };
	uint64_t before, pages, i;
	struct remote_state rs;
	char path[4096], buf[PS];
	int fd, err;
	FILE *f;

	read_remote(state, &rs);
	strncpy(in.name, name, sizeof(in.name) - 1);
	err = kio(KHUP_IOC_INFO, &in);
	if (err)
		die("INFO: %s", strerror(-err));
	before = in.nr_pages;
	fd = open_pages(in.id, rs.pid, &pages);
	/* An unaligned range: only the pages entirely inside are dropped. */
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      first * PS - 100, n * PS + 200))
		die("punch: %s", strerror(errno));
	kio(KHUP_IOC_INFO, &in);
	if (in.nr_pages != before - n)
		die("held %llu pages after punching, expected %" PRIu64,
		    (unsigned long long)in.nr_pages, before - n);
	for (i = first; i < first + n; i++)
		if (pread(fd, buf, PS, i * PS) != -1 || errno != EIO)
			die("punched page %" PRIu64 " does not fail with EIO", i);
	close(fd);
	snprintf(path, sizeof(path), "%s.punched", state);
	f = fopen(path, "a");
	if (!f)
		die("%s: %s", path, strerror(errno));
	fprintf(f, "%" PRIu64 " %" PRIu64 "\n", first, n);
	fclose(f);
	printf("punched pages %" PRIu64 "..%" PRIu64 " (the partly covered pages around them kept)\n",
	       first, first + n - 1);
	return 0;
}

/*
 * Punches the remote image's pages one at a time, in scrambled order, until
 * every page is gone or a punch fails; appends each outcome to STATE.loop.
 * Runs across a kexec's freeze: the punch that meets it fails with EBUSY.
 * The pause grows with each punch (2 ms, then 0.25 ms more each time) so
 * the loop is still going when the kexec comes however long the old kernel
 * takes to get there: a debug kernel took more than the 6 s a fixed 2 ms
 * pause gives 3072 pages; this way they last about 20 minutes, and the
 * first few hundred go within a minute.
 */
static int punch_loop(const char *name, const char *state)
{
	struct remote_state rs;
	uint64_t pages, i, done = 0;
	char path[4096];
	int fd;
	FILE *f;

	read_remote(state, &rs);
	fd = open_pages(image_id(name), rs.pid, &pages);
	snprintf(path, sizeof(path), "%s.loop", state);
	f = fopen(path, "a");
	if (!f)
		die("%s: %s", path, strerror(errno));
	setvbuf(f, NULL, _IOLBF, 0);
	for (i = 0; i < pages; i++) {
		uint64_t p = i * 1009 % pages;

		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      p * PS, PS)) {
			fprintf(f, "punch of page %" PRIu64 " failed after %" PRIu64 " punches: %s\n",
				p, done, strerror(errno));
			return errno == EBUSY ? 0 : 1;
		}
		done++;
		usleep(2000 + i * 250);
	}
	fprintf(f, "all %" PRIu64 " pages punched\n", done);
	return 0;
}

/*
 * Reads every page of the remote image one by one: each must either fail
 * with EIO (punched) or hold exactly what the child wrote, and the pages
 * that read must be the ones the module says it holds, none lost.
 */
static int check_each(const char *name, const char *state)
{
	struct khup_info in = { .size = sizeof(in), .flags = KHUP_INFO_BY_NAME };
	uint64_t pages, idx = 0, off, intact = 0, gone = 0, want[PS / 8];
	char buf[PS];
	struct remote_state rs;
	int fd, i, err;

	read_remote(state, &rs);
	strncpy(in.name, name, sizeof(in.name) - 1);
	err = kio(KHUP_IOC_INFO, &in);
	if (err)
		die("INFO: %s", strerror(-err));
	fd = open_pages(in.id, rs.pid, &pages);
	for (i = 0; i < 2; i++) {
		for (off = 0; off < rs.len[i]; off += PS, idx++) {
			if (pread(fd, buf, PS, idx * PS) != PS) {
				if (errno != EIO)
					die("page %" PRIu64 ": %s", idx, strerror(errno));
				gone++;
				continue;
			}
			fill_page(want, 7, (rs.addr[i] + off) / PS);
			if (memcmp(buf, want, PS))
				die("page %" PRIu64 " differs from what the child wrote", idx);
			intact++;
		}
	}
	printf("%" PRIu64 " pages intact, %" PRIu64 " punched; the module holds %llu, lost %llu\n",
	       intact, gone, (unsigned long long)in.nr_pages,
	       (unsigned long long)in.nr_lost);
	return intact == in.nr_pages && !in.nr_lost ? 0 : 1;
}

static int release(const char *name)
{
	struct khup_image_op op = { .size = sizeof(op), .id = image_id(name) };
	int err = kio(KHUP_IOC_RELEASE, &op);

	if (err)
		die("RELEASE: %s", strerror(-err));
	return 0;
}

static int info(const char *name)
{
	struct khup_info in = { .size = sizeof(in), .flags = KHUP_INFO_BY_NAME };
	int err;

	strncpy(in.name, name, sizeof(in.name) - 1);
	err = kio(KHUP_IOC_INFO, &in);
	if (err)
		die("INFO: %s", strerror(-err));
	printf("%llu %u %u %llu %llu\n", (unsigned long long)in.id, in.state,
	       in.nr_tasks, (unsigned long long)in.nr_pages,
	       (unsigned long long)in.kexec_count);
	return 0;
}

/* Punches every page of every task of image NAME through read-back fds. */
static int punch_all(const char *name)
{
	struct khup_task_info t[64];
	struct khup_tasks ts = {
		.size = sizeof(ts), .count = 64, .id = image_id(name),
		.tasks = (uintptr_t)t,
	};
	unsigned int i;
	uint64_t pages;
	int err, fd;

	err = kio(KHUP_IOC_TASKS, &ts);
	if (err)
		die("TASKS: %s", strerror(-err));
	for (i = 0; i < ts.count && i < 64; i++) {
		fd = open_pages(ts.id, t[i].pid, &pages);
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
			      pages * PS))
			die("punch: %s", strerror(errno));
		close(fd);
	}
	return 0;
}

/* Prints the id of every image, one per line (KHUP_IOC_LIST). */
static int list(void)
{
	uint64_t ids[KHUP_MAX_IMAGES];
	struct khup_list l = {
		.size = sizeof(l), .count = KHUP_MAX_IMAGES,
		.ids = (uintptr_t)ids,
	};
	unsigned int i;
	int err = kio(KHUP_IOC_LIST, &l);

	if (err)
		die("LIST: %s", strerror(-err));
	for (i = 0; i < l.count && i < KHUP_MAX_IMAGES; i++)
		printf("%llu\n", (unsigned long long)ids[i]);
	return 0;
}

/* Prints "pfn nr order" for every non-zero extent of every task. */
static int pfns(const char *name, int want_thp)
{
	struct khup_task_info t[64];
	struct khup_tasks ts = {
		.size = sizeof(ts), .count = 64, .id = image_id(name),
		.tasks = (uintptr_t)t,
	};
	unsigned int i, j;
	int err, thp = 0;

	err = kio(KHUP_IOC_TASKS, &ts);
	if (err)
		die("TASKS: %s", strerror(-err));
	for (i = 0; i < ts.count && i < 64; i++) {
		struct khup_extent *e = calloc(t[i].nr_extents, sizeof(*e));
		struct khup_extents es = {
			.size = sizeof(es), .count = t[i].nr_extents,
			.id = ts.id, .pid = t[i].pid, .extents = (uintptr_t)e,
		};

		err = kio(KHUP_IOC_EXTENTS, &es);
		if (err)
			die("EXTENTS: %s", strerror(-err));
		for (j = 0; j < es.count; j++) {
			if (e[j].flags & KHUP_EXTENT_ZERO)
				continue;
			thp |= e[j].order > 0;
			if (!want_thp)
				printf("%llu %u %u\n",
				       (unsigned long long)e[j].pfn, e[j].nr,
				       e[j].order);
		}
		free(e);
	}
	return want_thp ? !thp : 0;
}

/* ---- KHO scratch (CMA) ---- */

/* The running kernel's KHO scratch ranges (tools/scratch.c). */
static void scratch_spans(struct khup_scratch *s)
{
	int err = khup_scratch_read("/sys/kernel/debug", s);

	if (err)
		die("KHO scratch ranges: %s", strerror(-err));
}

static long meminfo_kb(const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			v = strtol(line + strlen(key), NULL, 10);
	if (f)
		fclose(f);
	return v;
}

/*
 * Movable allocations fall back to CMA pageblocks (KHO scratch is CMA) once
 * the rest of free memory is gone: hog everything but the scratch area and
 * @margin_kb, so that what is allocated next lands in scratch.
 */
static long hog_outside_scratch(const struct khup_scratch *s, long margin_kb)
{
	long hog_kb = meminfo_kb("MemFree:") - (long)(s->pages * (PS / 1024)) -
		      margin_kb;

	if (hog_kb > 0 &&
	    mmap(NULL, hog_kb * 1024, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0) == MAP_FAILED)
		die("hog %ld kB: %s", hog_kb, strerror(errno));
	return hog_kb;
}

/* Holds memory outside scratch until killed; DIR/ready when it does. */
static int __attribute__((noreturn)) hog(const char *dir, long margin_mb)
{
	struct khup_scratch s;
	char path[512];
	long kb;
	FILE *f;

	scratch_spans(&s);
	kb = hog_outside_scratch(&s, margin_mb * 1024);
	snprintf(path, sizeof(path), "%s/ready", dir);
	f = fopen(path, "w");
	if (!f)
		die("%s: %s", path, strerror(errno));
	fprintf(f, "pid %d\nhogged_kb %ld\nscratch_kb %" PRIu64 "\n",
		getpid(), kb, s.pages * (PS / 1024));
	fclose(f);
	for (;;)
		pause();
}

static int scratch(const char *name)
{
	uint64_t len = 64 * MB, off, id, pages, before = 0;
	struct range r = { .len = len, .kind = 0 };
	struct khup_scratch s;
	int pm, err, bad = 0;
	struct iovec iov;
	long hog_kb;

	scratch_spans(&s);
	hog_kb = hog_outside_scratch(&s, 24 * 1024);
	r.va = (uintptr_t)map_at(len, 0, 0);
	fill(&r, 3);
	pm = open("/proc/self/pagemap", O_RDONLY);
	for (off = 0; off < len; off += PS) {
		uint64_t e;

		if (pread(pm, &e, 8, (r.va + off) / PS * 8) != 8)
			die("pagemap: %s", strerror(errno));
		if ((e >> 63) && khup_scratch_has(&s, e & ((1ULL << 55) - 1)))
			before++;
	}
	close(pm);
	printf("scratch %" PRIu64 " kB in %d ranges; hogged %ld kB; %" PRIu64
	       " of %lu pages allocated inside scratch before pinning\n",
	       s.pages * (PS / 1024), s.n, hog_kb, before, len / PS);

	iov.iov_base = (void *)r.va;
	iov.iov_len = len;
	id = create(name);
	err = pin(id, 0, &iov, 1, &pages);
	if (err)
		die("PIN: %s", strerror(-err));
	seal(id);
	{
		struct khup_extent *e = calloc(len / PS, sizeof(*e));
		struct khup_extents es = {
			.size = sizeof(es), .count = len / PS, .id = id,
			.pid = getpid(), .extents = (uintptr_t)e,
		};
		unsigned int j, k;

		err = kio(KHUP_IOC_EXTENTS, &es);
		if (err)
			die("EXTENTS: %s", strerror(-err));
		for (j = 0; j < es.count; j++)
			for (k = 0; k < e[j].nr; k++)
				if (!(e[j].flags & KHUP_EXTENT_ZERO) &&
				    khup_scratch_has(&s, e[j].pfn + k))
					bad++;
		printf("%u extents, %d pinned pages inside scratch\n",
		       es.count, bad);
	}
	/* The evidence must be real: some pages did start in CMA. */
	if (!before)
		printf("warning: no page was allocated in scratch; CMA path not exercised\n");
	return bad ? 1 : (before ? 0 : 3);
}

/* ---- bad input ---- */

static int expect(const char *what, int got, int want)
{
	if (got == want) {
		printf("%s: got %s as documented\n", what,
		       want ? strerror(-want) : "success");
		return 0;
	}
	printf("%s: got %s, expected %s\n", what,
	       got ? strerror(-got) : "success",
	       want ? strerror(-want) : "success");
	return 1;
}

static int count_fds(void)
{
	struct dirent *d;
	DIR *dir = opendir("/proc/self/fd");
	int n = 0;

	while (dir && (d = readdir(dir)))
		n += d->d_name[0] != '.';
	if (dir)
		closedir(dir);
	return n;
}

static int bad_input(const char *c)
{
	static char page[2 * 4096] __attribute__((aligned(4096)));
	struct khup_create cr = { .size = sizeof(cr) };
	struct iovec iov = { page, PS };
	uint64_t id, pages;
	int err;

	page[0] = 1;
	page[PS] = 1;
	if (!strcmp(c, "size-small")) {
		cr.size = 4;
		strcpy(cr.name, "b");
		return expect(c, kio(KHUP_IOC_CREATE, &cr), -EINVAL);
	}
	if (!strcmp(c, "size-trailing-nonzero") ||
	    !strcmp(c, "size-trailing-zero")) {
		struct { struct khup_create c; uint64_t extra; } big = {
			.c.size = sizeof(big),
			.extra = c[14] == 'n' ? 1 : 0,
		};
		strcpy(big.c.name, "b");
		return expect(c, kio(KHUP_IOC_CREATE, &big),
			      big.extra ? -E2BIG : 0);
	}
	if (!strcmp(c, "reserved")) {
		struct khup_info in = { .size = sizeof(in), .reserved = 1 };

		create("r");
		in.id = image_id("r");
		return expect(c, kio(KHUP_IOC_INFO, &in), -EINVAL);
	}
	if (!strcmp(c, "unknown-ioctl"))
		return expect(c, kio(_IO(KHUP_IOCTL_TYPE, 0x3f), &cr), -ENOTTY) |
		       expect("wrong type", kio(_IO('x', 0), &cr), -ENOTTY) |
		       expect("with size", kio(_IOW(KHUP_IOCTL_TYPE, 0, int),
					       &cr), -ENOTTY);
	if (!strcmp(c, "unknown-flag")) {
		cr.flags = 1;
		strcpy(cr.name, "b");
		return expect(c, kio(KHUP_IOC_CREATE, &cr), -EOPNOTSUPP);
	}
	if (!strcmp(c, "bad-name")) {
		int r = expect("empty name", kio(KHUP_IOC_CREATE, &cr), -EINVAL);

		memset(cr.name, 'a', sizeof(cr.name));
		r |= expect("unterminated", kio(KHUP_IOC_CREATE, &cr), -EINVAL);
		memset(cr.name, 0, sizeof(cr.name));
		cr.name[0] = 'a';
		cr.name[5] = 'x';
		r |= expect("garbage after NUL", kio(KHUP_IOC_CREATE, &cr),
			    -EINVAL);
		memset(cr.name, 0, sizeof(cr.name));
		strcpy(cr.name, "a\xff");
		r |= expect("byte 0xff", kio(KHUP_IOC_CREATE, &cr), -EINVAL);
		strcpy(cr.name, "a b");
		r |= expect("a space", kio(KHUP_IOC_CREATE, &cr), -EINVAL);
		strcpy(cr.name, "a\n");
		r |= expect("a newline", kio(KHUP_IOC_CREATE, &cr), -EINVAL);
		return r;
	}
	if (!strcmp(c, "duplicate-name")) {
		create("dup");
		strcpy(cr.name, "dup");
		return expect(c, kio(KHUP_IOC_CREATE, &cr), -EEXIST);
	}
	if (!strcmp(c, "no-such-image")) {
		struct khup_image_op op = { .size = sizeof(op), .id = 999999 };

		return expect(c, kio(KHUP_IOC_SEAL, &op), -ENOENT) |
		       expect("pin", pin(999999, 0, &iov, 1, NULL), -ENOENT);
	}
	id = create("t");
	if (!strcmp(c, "fd-on-efault")) {
		struct khup_open_pages *o;
		int before, after, r;

		if (pin(id, 0, &iov, 1, NULL))
			die("pin");
		/* The struct reads fine but cannot be written back. */
		o = mmap(NULL, PS, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		*o = (struct khup_open_pages){
			.size = sizeof(*o), .id = id, .pid = getpid(),
		};
		mprotect(o, PS, PROT_READ);
		before = count_fds();
		r = expect("OPEN_PAGES into a read-only struct",
			   kio(KHUP_IOC_OPEN_PAGES, o), -EFAULT);
		after = count_fds();
		printf("open fds before %d, after %d\n", before, after);
		return r | (after != before);
	}
	if (!strcmp(c, "no-such-pid"))
		return expect(c, pin(id, 0x3ffffff, &iov, 1, NULL), -ESRCH);
	if (!strcmp(c, "untraced-pid"))
		return expect(c, pin(id, 1, &iov, 1, NULL), -EPERM);
	if (!strcmp(c, "negative-pid"))
		return expect(c, pin(id, -5, &iov, 1, NULL), -EINVAL);
	if (!strcmp(c, "prepare")) {
		struct iovec hole[2] = { { page, PS }, { page, PS } };
		struct khup_prepare p = {
			.size = sizeof(p), .nr_iovecs = 1,
			.iovecs = (uintptr_t)&iov,
		};
		char *gap = mmap(NULL, 4 * PS, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		int r;

		r = expect("prepare own memory", kio(KHUP_IOC_PREPARE, &p), 0);
		r |= expect("one present page looked at", p.nr_pages == 1 ? 0 : -1, 0);
		/* Not present and unmapped pages are skipped, not faulted in. */
		gap[0] = 1;
		munmap(gap + 2 * PS, PS);
		hole[0].iov_base = gap;
		hole[0].iov_len = 4 * PS;
		p.iovecs = (uintptr_t)hole;
		r |= expect("prepare a range with holes", kio(KHUP_IOC_PREPARE, &p), 0);
		r |= expect("only the present page counted", p.nr_pages == 1 ? 0 : -1, 0);
		p.nr_iovecs = 2;
		hole[0].iov_base = page;
		hole[0].iov_len = PS;
		r |= expect("overlapping ranges", kio(KHUP_IOC_PREPARE, &p), -EINVAL);
		p.nr_iovecs = 1;
		p.pid = 1;
		r |= expect("a task not traced by the caller", kio(KHUP_IOC_PREPARE, &p), -EPERM);
		p.pid = 0;
		p.flags = 1;
		r |= expect("unknown flag", kio(KHUP_IOC_PREPARE, &p), -EOPNOTSUPP);
		p.flags = 0;
		p.nr_iovecs = 0;
		r |= expect("no ranges", kio(KHUP_IOC_PREPARE, &p), -EINVAL);
		return r;
	}
	if (!strcmp(c, "unprivileged")) {
		int r;

		dev();
		if (setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			die("cannot drop privileges: %s", strerror(errno));
		r = expect("pin self", pin(id, 0, &iov, 1, NULL), -EPERM);
		r |= expect("pin pid 1", pin(id, 1, &iov, 1, NULL), -EPERM);
		strcpy(cr.name, "u");
		r |= expect("create", kio(KHUP_IOC_CREATE, &cr), -EPERM);
		return r;
	}
	if (!strcmp(c, "not-owner")) {
		struct __user_cap_header_struct h = {
			.version = _LINUX_CAPABILITY_VERSION_3,
		};
		struct __user_cap_data_struct d[2] = { 0 };
		struct khup_image_op op = { .size = sizeof(op), .id = id };
		struct khup_open_pages o = {
			.size = sizeof(o), .id = id, .pid = getpid(),
		};
		int r;

		r = expect("root pins into its image", pin(id, 0, &iov, 1, NULL),
			   0);
		/* Become uid 65534 keeping only CAP_CHECKPOINT_RESTORE. */
		dev();
		if (prctl(PR_SET_KEEPCAPS, 1) ||
		    setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			die("drop uid: %s", strerror(errno));
		d[CAP_CHECKPOINT_RESTORE / 32].effective =
			d[CAP_CHECKPOINT_RESTORE / 32].permitted =
			1U << (CAP_CHECKPOINT_RESTORE % 32);
		if (syscall(SYS_capset, &h, d))
			die("capset: %s", strerror(errno));
		r |= expect("pin into another user's image",
			    pin(id, 0, &iov, 1, NULL), -EPERM);
		r |= expect("seal another user's image",
			    kio(KHUP_IOC_SEAL, &op), -EPERM);
		r |= expect("release another user's image",
			    kio(KHUP_IOC_RELEASE, &op), -EPERM);
		r |= expect("read another user's image",
			    kio(KHUP_IOC_OPEN_PAGES, &o), -EPERM);
		r |= expect("extents need CAP_SYS_ADMIN",
			    kio(KHUP_IOC_EXTENTS, &(struct khup_extents){
				.size = sizeof(struct khup_extents), .id = id,
				.pid = getpid() }), -EPERM);
		strcpy(cr.name, "u");
		r |= expect("create own image with CAP_CHECKPOINT_RESTORE",
			    kio(KHUP_IOC_CREATE, &cr), 0);
		r |= expect("pin own memory into it",
			    pin(cr.id, 0, &iov, 1, NULL), 0);
		{
			struct khup_extent x = { .pfn = 1 };
			struct khup_extents es = {
				.size = sizeof(es), .count = 1, .id = cr.id,
				.pid = getpid(), .extents = (uintptr_t)&x,
			};

			r |= expect("own image's extents with CAP_CHECKPOINT_RESTORE",
				    kio(KHUP_IOC_EXTENTS, &es), 0);
			r |= expect("... without their pfns", x.pfn == 0 && x.nr, 1);
		}
		o.id = cr.id;
		r |= expect("read own image with CAP_CHECKPOINT_RESTORE",
			    kio(KHUP_IOC_OPEN_PAGES, &o), 0);
		op.id = cr.id;
		r |= expect("release own image", kio(KHUP_IOC_RELEASE, &op), 0);
		/* An owner is a bare uid: reading also needs the capability. */
		r |= expect("create own image again",
			    kio(KHUP_IOC_CREATE, &cr), 0);
		r |= expect("pin own memory into it",
			    pin(cr.id, 0, &iov, 1, NULL), 0);
		memset(d, 0, sizeof(d));
		if (syscall(SYS_capset, &h, d))
			die("capset: %s", strerror(errno));
		o.id = cr.id;
		r |= expect("read own image without the capability",
			    kio(KHUP_IOC_OPEN_PAGES, &o), -EPERM);
		return r;
	}
	if (!strcmp(c, "unaligned")) {
		struct iovec a = { page + 1, PS }, b = { page, 100 },
			     z = { page, 0 };

		return expect("unaligned base", pin(id, 0, &a, 1, NULL), -EINVAL) |
		       expect("unaligned length", pin(id, 0, &b, 1, NULL), -EINVAL) |
		       expect("zero length", pin(id, 0, &z, 1, NULL), -EINVAL);
	}
	if (!strcmp(c, "unmapped")) {
		char *p = mmap(NULL, 3 * PS, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		struct iovec v[2] = { { page, PS }, { p, 3 * PS } };
		struct khup_info in = { .size = sizeof(in), .id = id };
		int r;

		munmap(p + 2 * PS, PS);
		r = expect("partly unmapped", pin(id, 0, v, 2, NULL), -EFAULT);
		kio(KHUP_IOC_INFO, &in);
		r |= expect("nothing stays pinned", in.nr_pages ? -1 : 0, 0);
		r |= expect("no task left behind", in.nr_tasks ? -1 : 0, 0);
		v[0].iov_base = p + 2 * PS;
		v[0].iov_len = PS;
		r |= expect("unmapped", pin(id, 0, v, 1, NULL), -EFAULT);
		return r;
	}
	if (!strcmp(c, "overlap")) {
		char *p = mmap(NULL, 4 * PS, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		struct iovec v[3] = { { p + 2 * PS, 2 * PS }, { p, PS }, { p + PS, 2 * PS } };
		struct khup_info in = { .size = sizeof(in), .id = id };
		int r;

		r = expect("overlapping ranges (in any order)", pin(id, 0, v, 3, NULL), -EINVAL);
		kio(KHUP_IOC_INFO, &in);
		r |= expect("nothing pinned", in.nr_pages ? -1 : 0, 0);
		v[2].iov_len = PS;
		r |= expect("the same ranges without the overlap", pin(id, 0, v, 3, NULL), 0);
		return r;
	}
	if (!strcmp(c, "overflow")) {
		struct iovec o = { (void *)0xfffffffffffff000UL, 2 * PS };
		struct iovec k = { (void *)0xffff800000000000UL, PS };
		struct iovec big = { page, (KHUP_MAX_PIN_PAGES + 1UL) * PS };

		return expect("wrapping range", pin(id, 0, &o, 1, NULL), -EOVERFLOW) |
		       expect("kernel range", pin(id, 0, &k, 1, NULL), -EOVERFLOW) |
		       expect("more than KHUP_MAX_PIN_PAGES",
			      pin(id, 0, &big, 1, NULL), -EOVERFLOW);
	}
	if (!strcmp(c, "iovec-count")) {
		struct iovec *many = calloc(KHUP_MAX_IOVECS + 1, sizeof(*many));
		int i, r;

		for (i = 0; i <= KHUP_MAX_IOVECS; i++)
			many[i] = iov;
		r = expect("too many iovecs",
			   pin(id, 0, many, KHUP_MAX_IOVECS + 1, NULL), -EINVAL);
		r |= expect("zero iovecs", pin(id, 0, many, 0, NULL), -EINVAL);
		r |= expect("bad iovec pointer",
			    pin(id, 0, (void *)8, 1, NULL), -EFAULT);
		return r;
	}
	if (!strcmp(c, "state")) {
		struct khup_image_op op = { .size = sizeof(op), .id = id };
		int r = expect("seal empty image", kio(KHUP_IOC_SEAL, &op),
			       -EINVAL);

		r |= expect("pin", pin(id, 0, &iov, 1, NULL), 0);
		r |= expect("seal", kio(KHUP_IOC_SEAL, &op), 0);
		r |= expect("seal twice", kio(KHUP_IOC_SEAL, &op), -EBUSY);
		r |= expect("pin into sealed image", pin(id, 0, &iov, 1, NULL),
			    -EBUSY);
		return r;
	}
	if (!strcmp(c, "read-past-end")) {
		struct khup_open_pages op = {
			.size = sizeof(op), .id = id, .pid = 12345,
		};
		char buf[16];
		int fd, r;

		r = expect("pin", pin(id, 0, &iov, 1, &pages), 0);
		r |= expect("open unknown pid", kio(KHUP_IOC_OPEN_PAGES, &op),
			    -ENOENT);
		fd = open_pages(id, getpid(), &pages);
		r |= expect("pread at end returns 0 bytes (EOF)",
			    (int)pread(fd, buf, sizeof(buf), pages * PS), 0);
		r |= expect("pread far past end returns 0 bytes",
			    (int)pread(fd, buf, sizeof(buf), 1ULL << 50), 0);
		r |= expect("negative offset",
			    pread(fd, buf, sizeof(buf), -4096) < 0 ? -errno : 0,
			    -EINVAL);
		r |= expect("write is not supported",
			    write(fd, buf, 1) < 0 ? -errno : 0, -EINVAL);
		r |= expect("zero range mode",
			    fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, PS) ?
			    -errno : 0, -EOPNOTSUPP);
		close(fd);
		return r;
	}
	if (!strcmp(c, "double-release")) {
		struct khup_image_op op = { .size = sizeof(op), .id = id };

		err = pin(id, 0, &iov, 1, NULL);
		return expect("pin", err, 0) |
		       expect("release", kio(KHUP_IOC_RELEASE, &op), 0) |
		       expect("second release", kio(KHUP_IOC_RELEASE, &op),
			      -ENOENT);
	}
	die("unknown case %s", c);
	return 1;
}

static void *idle_thread(void *arg)
{
	pid_t tid = syscall(SYS_gettid);

	if (write(*(int *)arg, &tid, sizeof(tid)) != sizeof(tid))
		_exit(1);
	for (;;)
		pause();
	return NULL;
}

/* PTRACE_SEIZE + PTRACE_INTERRUPT, then wait for the stop. */
static void stop_thread(pid_t tid, int seize)
{
	int st;

	if ((seize && ptrace(PTRACE_SEIZE, tid, 0, 0)) ||
	    ptrace(PTRACE_INTERRUPT, tid, 0, 0))
		die("ptrace %d: %s", tid, strerror(errno));
	if (waitpid(tid, &st, __WALL) != tid || !WIFSTOPPED(st))
		die("thread %d did not stop", tid);
}

static uint64_t robust_head(pid_t tid)
{
	void *head = NULL;
	size_t len;

	if (syscall(SYS_get_robust_list, tid, &head, &len))
		die("get_robust_list %d: %s", tid, strerror(errno));
	return (uintptr_t)head;
}

static int seal_err(uint64_t id)
{
	struct khup_image_op op = { .size = sizeof(op), .id = id };

	return kio(KHUP_IOC_SEAL, &op);
}

static void release_id(uint64_t id)
{
	struct khup_image_op op = { .size = sizeof(op), .id = id };
	int err = kio(KHUP_IOC_RELEASE, &op);

	if (err)
		die("RELEASE %" PRIu64 ": %s", id, strerror(-err));
}

/*
 * The seal detaches the exit-time writes of a task pinned by pid: its
 * threads' robust lists (and clear_child_tid, which only the task itself
 * can read) are cleared at SEAL and given back at RELEASE.
 */
static int exit_writes(const char *name)
{
	char img[KHUP_NAME_LEN];
	struct iovec iov;
	uint64_t head[2], id, pages;
	pid_t tid[2];
	int pfd[2], bad = 0, st, i;
	char *page;

	page = mmap(NULL, PS, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED || pipe(pfd))
		die("set-up: %s", strerror(errno));
	memset(page, 0x5a, PS);
	tid[0] = fork();
	if (tid[0] < 0)
		die("fork: %s", strerror(errno));
	if (!tid[0]) {
		pthread_t t;

		if (pthread_create(&t, NULL, idle_thread, &pfd[1]))
			_exit(1);
		for (;;)
			pause();
	}
	if (read(pfd[0], &tid[1], sizeof(tid[1])) != sizeof(tid[1]))
		die("child did not start its thread");
	for (i = 0; i < 2; i++) {
		stop_thread(tid[i], 1);
		head[i] = robust_head(tid[i]);
		if (!head[i])
			die("thread %d has no robust list to start with", tid[i]);
	}
	iov.iov_base = page;
	iov.iov_len = PS;

	snprintf(img, sizeof(img), "%s-1", name);
	id = create(img);
	if (pin(id, tid[0], &iov, 1, &pages))
		die("PIN: %s", strerror(errno));
	bad |= expect("SEAL with every thread stopped", seal_err(id), 0);
	for (i = 0; i < 2; i++)
		bad |= expect("robust list cleared by SEAL",
			      robust_head(tid[i]) ? -EEXIST : 0, 0);
	release_id(id);
	for (i = 0; i < 2; i++)
		bad |= expect("robust list back after RELEASE",
			      robust_head(tid[i]) == head[i] ? 0 : -ENOENT, 0);

	snprintf(img, sizeof(img), "%s-2", name);
	id = create(img);
	if (pin(id, tid[0], &iov, 1, &pages))
		die("PIN: %s", strerror(errno));
	if (ptrace(PTRACE_CONT, tid[1], 0, 0))
		die("PTRACE_CONT: %s", strerror(errno));
	bad |= expect("SEAL with a thread running", seal_err(id), -EBUSY);
	bad |= expect("... leaves the stopped thread's robust list alone",
		      robust_head(tid[0]) == head[0] ? 0 : -ENOENT, 0);
	stop_thread(tid[1], 0);
	kill(tid[0], SIGKILL);
	/* The traced thread must be reaped too before the leader is. */
	while (waitpid(-1, &st, __WALL) > 0)
		;
	bad |= expect("SEAL after the task died", seal_err(id), -ESRCH);
	release_id(id);
	return bad;
}

/* ---- claims: one restorer at a time, consume then commit ---- */

static struct khup_info info_of(uint64_t id)
{
	struct khup_info in = { .size = sizeof(in), .id = id };
	int err = kio(KHUP_IOC_INFO, &in);

	if (err)
		die("INFO %" PRIu64 ": %s", id, strerror(-err));
	return in;
}

/* KHUP_IOC_CLAIM: the claim fd, or -errno. */
static int claim(uint64_t id)
{
	struct khup_claim_op op = {
		.size = sizeof(op), .flags = KHUP_FD_CLOEXEC, .id = id,
	};
	int err = kio(KHUP_IOC_CLAIM, &op);

	return err ? err : op.fd;
}

/* A consuming reader of task @pid through @claim_fd, or -errno. */
static int claim_open(int claim_fd, uint64_t id, pid_t pid)
{
	struct khup_open_pages op = {
		.size = sizeof(op), .flags = KHUP_FD_CLOEXEC, .id = id,
		.pid = pid,
	};

	return ioctl(claim_fd, KHUP_IOC_OPEN_PAGES, &op) ? -errno : op.fd;
}

static int commit(int claim_fd, uint64_t id)
{
	struct khup_image_op op = { .size = sizeof(op), .id = id };

	return ioctl(claim_fd, KHUP_IOC_COMMIT, &op) ? -errno : 0;
}

static int punch_all_fd(int fd, uint64_t pages)
{
	return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
			 pages * PS) ? -errno : 0;
}

static int pread_err(int fd, uint64_t page)
{
	char buf[PS];

	return pread(fd, buf, PS, page * PS) < 0 ? -errno : 0;
}

static void write_proc(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0 || write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		die("%s: %s", path, strerror(errno));
	close(fd);
}

/*
 * Free memory in kB as memfree_settled_kb (guest-lib.sh) counts it, but
 * without running the shrinkers: page cache dropped, vmstat folded, the
 * pages on per-cpu free lists included.
 */
static long free_kb(void)
{
	char line[256];
	long pcp = 0, n;
	FILE *f;

	sync();
	write_proc("/proc/sys/vm/drop_caches", "1");
	write_proc("/proc/sys/vm/stat_refresh", "1");
	f = fopen("/proc/zoneinfo", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, " count: %ld", &n) == 1)
			pcp += n;
	if (f)
		fclose(f);
	return meminfo_kb("MemFree:") + pcp * (PS / 1024);
}

static int check_u64(const char *what, uint64_t got, uint64_t want)
{
	printf("%s: %" PRIu64 " (expected %" PRIu64 ")\n", what, got, want);
	return got != want;
}

/* KHUP_IOC_CLAIM_TIE on @claim_fd: 0 or -errno. */
static int tie(int claim_fd, uint32_t flags, int uffd, uint32_t reserved)
{
	struct khup_claim_tie t = { .size = sizeof(t), .flags = flags, .uffd = uffd, .reserved = reserved };

	return ioctl(claim_fd, KHUP_IOC_CLAIM_TIE, &t) ? -errno : 0;
}

static int new_uffd(void)
{
	int fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		die("userfaultfd: %s", strerror(errno));
	return fd;
}

/*
 * A child ties itself (with a userfaultfd) to the claim @c and lets go of
 * its copy of it; when the parent then drops the claim without a commit,
 * the module kills the child. 0 if it did.
 */
static int tie_rollback_kills(int c)
{
	int p[2], status, bad = 0;
	char ok;
	pid_t pid;

	if (pipe(p))
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid) {
		int u = new_uffd();

		ok = tie(c, 0, u, 0) ? 'n' : 'y';
		close(c);
		close(u);
		if (write(p[1], &ok, 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	close(p[1]);
	if (read(p[0], &ok, 1) != 1 || ok != 'y') {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return expect("CLAIM_TIE in a child", -EIO, 0);
	}
	close(p[0]);
	close(c);
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid: %s", strerror(errno));
	bad |= check_u64("the tied child was killed by SIGKILL when the claim rolled back",
			 WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, 1);
	return bad;
}

/*
 * On an image made by remote-pin: a second claim, a release and a plain
 * punch are refused while claimed; pages punched through the claim are
 * consumed, still held and readable; dropping the claim rolls them back;
 * a new claim's consumed pages are freed by the shrinker (drop_caches),
 * counted as lost, and the image can no longer be claimed.
 */
static int claim_test(const char *name, const char *state)
{
	uint64_t id = image_id(name), want, nr_punched, pages, held;
	struct khup_info in;
	struct remote_state rs;
	int c, fd, plain, bad = 0;
	long before, after;

	read_remote(state, &rs);
	want = expected_hash(state, &rs, &nr_punched);
	held = info_of(id).nr_pages;

	c = claim(id);
	bad |= expect("CLAIM", c < 0 ? c : 0, 0);
	if (c < 0)
		return 1;
	bad |= expect("a second CLAIM", claim(id), -EBUSY);
	in = info_of(id);
	bad |= check_u64("INFO says claimed by us", in.info_flags & KHUP_INFO_CLAIMED ? (uint64_t)in.claimer : 0,
			 getpid());
	{
		struct khup_image_op op = { .size = sizeof(op), .id = id };

		bad |= expect("RELEASE of a claimed image", kio(KHUP_IOC_RELEASE, &op), -EBUSY);
	}
	plain = open_pages(id, rs.pid, &pages);
	bad |= expect("punch through a plain reader of a claimed image", punch_all_fd(plain, pages), -EBUSY);
	fd = claim_open(c, id, rs.pid);
	if (fd < 0)
		die("OPEN_PAGES on the claim: %s", strerror(-fd));
	bad |= check_u64("the consuming reader reads the pages (hash)", hash_fd(fd, pages), want);
	bad |= expect("punch through the consuming reader", punch_all_fd(fd, pages), 0);
	in = info_of(id);
	bad |= check_u64("consumed pages", in.nr_consumed, held);
	bad |= check_u64("pages still held", in.nr_pages, held);
	bad |= check_u64("consumed pages still read back (hash)", hash_fd(fd, pages), want);

	/* Dropping the claim kills the processes tied to it. */
	bad |= tie_rollback_kills(c);
	in = info_of(id);
	bad |= check_u64("consumed pages after the claim was dropped", in.nr_consumed, 0);
	bad |= check_u64("claimed after the claim was dropped", in.info_flags & KHUP_INFO_CLAIMED, 0);
	bad |= expect("a consuming reader once its claim ended", pread_err(fd, 0), -ESTALE);
	bad |= check_u64("every page readable again (hash)", hash_fd(plain, pages), want);
	close(fd);

	/* Consumed pages are reclaimable: drop_caches=2 runs the shrinkers. */
	c = claim(id);
	bad |= expect("CLAIM again after the roll-back", c < 0 ? c : 0, 0);
	if (c < 0)
		return 1;
	fd = claim_open(c, id, rs.pid);
	if (fd < 0)
		die("OPEN_PAGES on the claim: %s", strerror(-fd));
	bad |= expect("punch through the consuming reader", punch_all_fd(fd, pages), 0);
	before = free_kb();
	write_proc("/proc/sys/vm/drop_caches", "2");
	after = free_kb();
	in = info_of(id);
	printf("free memory %ld kB before the shrinker, %ld kB after; %" PRIu64 " pages lost\n", before, after,
	       (uint64_t)in.nr_lost);
	bad |= check_u64("the shrinker freed every consumed page: lost", in.nr_lost, held);
	bad |= check_u64("consumed pages left", in.nr_consumed, 0);
	bad |= check_u64("pages held", in.nr_pages, 0);
	bad |= check_u64("free memory grew by the pages freed (within 2 MiB)",
			 after - before + 2048 >= (long)(held * PS / 1024), 1);
	bad |= expect("a lost page reads", pread_err(plain, 0), -EIO);
	close(fd);
	close(c);
	bad |= expect("CLAIM of an image with lost pages", claim(id), -EIO);
	close(plain);
	return bad;
}

/*
 * On an image made by remote-pin: COMMIT on the claim (after consuming
 * part of it) releases the whole image; the claim is then spent.
 */
static int claim_commit(const char *name, const char *state)
{
	uint64_t id = image_id(name), pages;
	struct remote_state rs;
	int c, fd, bad = 0;

	read_remote(state, &rs);
	c = claim(id);
	if (c < 0)
		die("CLAIM: %s", strerror(-c));
	fd = claim_open(c, id, rs.pid);
	if (fd < 0)
		die("OPEN_PAGES on the claim: %s", strerror(-fd));
	pages = rs.pages;
	bad |= expect("consume the first half",
		      fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, pages / 2 * PS) ? -errno : 0,
		      0);
	bad |= expect("COMMIT naming another image", commit(c, id + 1000), -EINVAL);
	{
		int u = new_uffd(), u2 = new_uffd(), nul = open("/dev/null", O_RDONLY | O_CLOEXEC);

		bad |= expect("CLAIM_TIE with an unknown flag", tie(c, 1U << 7, u, 0), -EOPNOTSUPP);
		bad |= expect("CLAIM_TIE with a reserved field set", tie(c, 0, u, 1), -EINVAL);
		bad |= expect("CLAIM_TIE with a file that is not a userfaultfd", tie(c, 0, nul, 0), -EINVAL);
		bad |= expect("CLAIM_TIE with a closed fd", tie(c, 0, 1000, 0), -EBADF);
		bad |= expect("CLAIM_TIE with uffd -2", tie(c, 0, -2, 0), -EINVAL);
		bad |= expect("CLAIM_TIE of a plain /dev/khup fd", tie(dev(), 0, u, 0), -ENOTTY);
		bad |= expect("CLAIM_TIE (ourselves, with a userfaultfd)", tie(c, 0, u, 0), 0);
		bad |= expect("CLAIM_TIE again, without a userfaultfd", tie(c, 0, -1, 0), 0);
		bad |= expect("TIE_FILLED for a userfaultfd not tied", tie(c, KHUP_TIE_FILLED, u2, 0), -ENOENT);
		bad |= expect("TIE_FILLED", tie(c, KHUP_TIE_FILLED, u, 0), 0);
		bad |= expect("TIE_FILLED twice", tie(c, KHUP_TIE_FILLED, u, 0), -ENOENT);
		/* The commit forgets the ties: we live on */
		bad |= expect("COMMIT", commit(c, id), 0);
		bad |= expect("CLAIM_TIE after the commit", tie(c, 0, u2, 0), -ESTALE);
		close(u);
		close(u2);
		close(nul);
	}
	{
		struct khup_info in = { .size = sizeof(in), .id = id };

		bad |= expect("INFO after the commit", kio(KHUP_IOC_INFO, &in), -ENOENT);
	}
	bad |= expect("a second COMMIT", commit(c, id), -ESTALE);
	bad |= expect("a consuming reader after the commit", pread_err(fd, pages - 1), -ENODEV);
	close(fd);
	close(c);
	return bad;
}

/* After a kexec with debug_lose_page: INFO, TASKS and CLAIM see the loss. */
static int lost_check(const char *name, uint64_t want)
{
	uint64_t id = image_id(name);
	struct khup_task_info ti[4];
	struct khup_tasks t = {
		.size = sizeof(t), .count = 4, .id = id, .tasks = (uintptr_t)ti,
	};
	int err, bad = 0;

	bad |= check_u64("INFO: lost pages", info_of(id).nr_lost, want);
	err = kio(KHUP_IOC_TASKS, &t);
	if (err)
		die("TASKS: %s", strerror(-err));
	bad |= check_u64("TASKS: lost pages of the first task", ti[0].nr_lost, want);
	bad |= expect("CLAIM of an image with lost pages", claim(id), want ? -EIO : 0);
	return bad;
}

/* ---- fault injection (the debug kernel) ---- */

static int node_published(void)
{
	return access("/sys/kernel/debug/kho/out/sub_fdts/khup", F_OK) == 0;
}

/*
 * Fails the n-th allocation (or user copy) of one operation, for n = 1, 2,
 * ... until the operation gets through without reaching the n-th, and
 * checks after each failure that the operation did nothing at all or
 * completed: pages pinned all or none, an image sealed (and published) or
 * still open with nothing preserved, a claim taken or not, a commit done
 * or the claim still able to roll back with every page readable.
 * OP: pin, seal, claim, consume, commit.
 */
static int faults(const char *what)
{
	static char buf[(64 + 512) * 4096] __attribute__((aligned(2 * 1024 * 1024)));
	struct iovec iov = { buf, sizeof(buf) };
	int n, hit, err, bad = 0, injected = 0;

	memset(buf, 0x5a, sizeof(buf));
	for (n = 1; n < 100000; n++) {
		uint64_t id = create("f"), pages = 0;
		struct khup_info in;
		int c = -1, fd = -1;

		if (strcmp(what, "pin")) {
			err = pin(id, 0, &iov, 1, &pages);
			if (err)
				die("PIN: %s", strerror(-err));
		}
		if (!strcmp(what, "claim") || !strcmp(what, "consume") ||
		    !strcmp(what, "commit"))
			seal(id);
		if (!strcmp(what, "consume") || !strcmp(what, "commit")) {
			c = claim(id);
			if (c < 0)
				die("CLAIM: %s", strerror(-c));
		}
		if (!strcmp(what, "commit")) {
			fd = claim_open(c, id, getpid());
			if (fd < 0 || punch_all_fd(fd, sizeof(buf) / PS))
				die("consume: %s", strerror(errno));
		}

		fail_nth(n);
		if (!strcmp(what, "pin")) {
			err = pin(id, 0, &iov, 1, &pages);
		} else if (!strcmp(what, "seal")) {
			struct khup_image_op op = { .size = sizeof(op), .id = id };

			err = kio(KHUP_IOC_SEAL, &op);
		} else if (!strcmp(what, "claim")) {
			c = err = claim(id);
			if (c >= 0)
				err = 0;
		} else if (!strcmp(what, "consume")) {
			fd = err = claim_open(c, id, getpid());
			if (fd >= 0)
				err = punch_all_fd(fd, sizeof(buf) / PS);
		} else if (!strcmp(what, "commit")) {
			err = commit(c, id);
		} else {
			die("unknown fault case %s", what);
		}
		hit = fail_nth_hit();
		injected += hit;
		in = (struct khup_info){ .size = sizeof(in), .id = id };
		if (kio(KHUP_IOC_INFO, &in))
			in.state = 0xff;	/* gone: released by a commit */

		if (!strcmp(what, "pin")) {
			if (err ? in.nr_pages != 0 : in.nr_pages != sizeof(buf) / PS) {
				printf("n=%d: PIN %s but the image holds %llu pages\n", n,
				       err ? strerror(-err) : "succeeded",
				       (unsigned long long)in.nr_pages);
				bad = 1;
			}
		} else if (!strcmp(what, "seal")) {
			if (err && (in.state != KHUP_STATE_OPEN || node_published())) {
				printf("n=%d: SEAL failed (%s) but the image is in state %u, node %s\n",
				       n, strerror(-err), in.state,
				       node_published() ? "published" : "absent");
				bad = 1;
			}
			if (err)
				seal(id);	/* the state must allow it */
			if (in.state == KHUP_STATE_OPEN && !err)
				bad = 1;
		} else if (!strcmp(what, "claim")) {
			if (err) {
				/* Not claimed: a claim now must work. */
				c = claim(id);
				if (c < 0) {
					printf("n=%d: CLAIM failed (%s), then again: %s\n",
					       n, strerror(-err), strerror(-c));
					bad = 1;
				}
			}
		} else if (!strcmp(what, "consume") || !strcmp(what, "commit")) {
			if (err && in.state == 0xff) {
				printf("n=%d: %s failed (%s) but the image is gone\n",
				       n, what, strerror(-err));
				bad = 1;
			}
			if (err && in.state != 0xff) {
				/* Roll back: every page readable again. */
				int rfd;
				uint64_t p;

				if (fd >= 0)
					close(fd);
				close(c);
				c = fd = -1;
				rfd = open_pages(id, getpid(), &p);
				for (p = 0; p < sizeof(buf) / PS; p++)
					if (pread_err(rfd, p)) {
						printf("n=%d: page %llu unreadable after the rollback\n",
						       n, (unsigned long long)p);
						bad = 1;
						break;
					}
				close(rfd);
			}
		}
		if (err)
			printf("n=%d: %s failed with %s; consistent\n", n, what,
			       strerror(-err));
		if (fd >= 0)
			close(fd);
		if (c >= 0)
			close(c);
		if (in.state != 0xff) {
			struct khup_image_op op = { .size = sizeof(op), .id = id };

			if (kio(KHUP_IOC_RELEASE, &op))
				die("RELEASE after n=%d: %s", n, strerror(errno));
		}
		if (bad)
			return 1;
		if (!hit) {
			printf("%s: %d fault points, %d injected, every one consistent\n",
			       what, n - 1, injected);
			return injected ? 0 : 1;
		}
	}
	return 1;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "self-pin"))
		return self_pin(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "self-restore"))
		return self_restore(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "remote-pin"))
		return remote_pin(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "remote-verify"))
		return remote_verify(argv[2], argv[3], 1);
	if (argc == 4 && !strcmp(argv[1], "remote-check"))
		return remote_verify(argv[2], argv[3], 0);
	if (argc == 3 && !strcmp(argv[1], "prot-none"))
		return prot_none(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "faults"))
		return faults(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "punch-loop"))
		return punch_loop(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "check-each"))
		return check_each(argv[2], argv[3]);
	if (argc == 6 && !strcmp(argv[1], "remote-punch"))
		return remote_punch(argv[2], argv[3], strtoull(argv[4], NULL, 0),
				    strtoull(argv[5], NULL, 0));
	if (argc == 4 && !strcmp(argv[1], "claim"))
		return claim_test(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "claim-commit"))
		return claim_commit(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "lost"))
		return lost_check(argv[2], strtoull(argv[3], NULL, 0));
	if (argc == 3 && !strcmp(argv[1], "exit-writes"))
		return exit_writes(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "release"))
		return release(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "punch-all"))
		return punch_all(argv[2]);
	if (argc == 2 && !strcmp(argv[1], "list"))
		return list();
	if (argc == 3 && !strcmp(argv[1], "info"))
		return info(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "pfns"))
		return pfns(argv[2], 0);
	if (argc == 3 && !strcmp(argv[1], "thp"))
		return pfns(argv[2], 1);
	if (argc == 3 && !strcmp(argv[1], "scratch"))
		return scratch(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "hog"))
		return hog(argv[2], atol(argv[3]));
	if (argc == 3 && !strcmp(argv[1], "bad-input"))
		return bad_input(argv[2]);
	fprintf(stderr, "usage: see the comment at the top of khup-test.c\n");
	return 2;
}
