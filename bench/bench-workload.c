// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench-workload: the process the benchmarks checkpoint, and two helpers.
 *
 *   bench-workload run DIR MIB thp|nothp
 *       Start (as a child, in its own session) one process with MIB MiB of
 *       private anonymous random data: MADV_HUGEPAGE ("thp", 2 MiB aligned)
 *       or MADV_NOHUGEPAGE ("nothp"). Write DIR/ready ("pid P", "sum S",
 *       "pages N", "huge_kb K" from smaps_rollup) when set up, then wait
 *       for signals: SIGUSR1 recomputes the checksum and writes DIR/report
 *       ("sum S", "ok 1|0"); SIGHUP writes DIR/pong ("time_ns T", the
 *       CLOCK_REALTIME of the answer) without reading the data: the first
 *       answer of a lazily restored process, which needs none of its
 *       lazy memory; SIGTERM exits. The caller stays as a subreaper that
 *       reaps the tree (run it with &).
 *   bench-workload memcpy MIB
 *       Copy MIB MiB of random data in-process and print "memcpy_ns N"
 *       (destination already faulted in) and "memcpy_fault_ns N"
 *       (destination freshly mapped: every page is faulted in by the copy,
 *       which is what a copying restore does).
 *   bench-workload calib
 *       The calibration loop of bench/run, run the same on the host and in
 *       the guest: copy 2 MiB into freshly mapped 4 KiB pages (each faulted
 *       in by the copy, as a copying restore does), 128 rounds; print
 *       "calib_ns_per_page N", the fastest round's ns per page, and
 *       "calib_median_ns_per_page M". Short rounds, so that on a loaded
 *       host the fastest is one no other task interrupted.
 *   bench-workload tsc
 *       Print "tsc T" (the time-stamp counter now) and "tsc_per_us R" (its
 *       rate, measured against CLOCK_MONOTONIC_RAW over 20 ms). The TSC
 *       keeps counting across a kexec (nothing resets the CPU) and under
 *       -icount it counts the guest's instructions, so two readings on both
 *       sides of a kexec time the kexec and the boot in guest time.
 *   bench-workload memwatch STOPFILE OUTFILE
 *       Sample MemFree from /proc/meminfo (nothing else: a reader of
 *       /proc/zoneinfo costs the single emulated CPU far more) every
 *       100 ms until STOPFILE exists; write "first_kb F\nlow_kb L\n
 *       samples N" to OUTFILE.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../tests/vm/progs/workload-data.h"

#define MiB (1UL << 20)

static const char *dir;

static void die(const char *what)
{
	char msg[512], path[4096];
	int fd, n;

	n = snprintf(msg, sizeof(msg), "bench-workload: %s: %s\n", what, strerror(errno));
	fputs(msg, stderr);
	if (!dir)
		exit(1);
	snprintf(path, sizeof(path), "%s/error", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (write(fd, msg, n) < 0)
			n = 0;
		close(fd);
	}
	exit(1);
}


static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void write_file(const char *name, const char *text)
{
	char path[4096], tmp[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die(tmp);
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		die(tmp);
	if (fsync(fd) || close(fd))
		die(tmp);
	if (rename(tmp, path))
		die(path);
}

static long huge_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/smaps_rollup", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static int run(int mib, int thp)
{
	size_t len = (size_t)mib * MiB;
	unsigned char *p;
	uint64_t sum;
	char buf[512];
	sigset_t set;
	pid_t pid;
	int fd;

	if (getrandom(&rng_state, sizeof(rng_state), 0) != sizeof(rng_state))
		die("getrandom");
	rng_state |= 1;

	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid) {
		prctl(PR_SET_CHILD_SUBREAPER, 1);
		while (wait(NULL) > 0 || errno == EINTR)
			;
		return 0;
	}
	setsid();
	if (chdir("/"))
		die("chdir");
	fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		die("/dev/null");
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);

	p = mmap(NULL, len + 2 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	p = (unsigned char *)(((uintptr_t)p + 2 * MiB - 1) & ~(2 * MiB - 1));
	if (madvise(p, len, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))
		die("madvise");
	fill(p, len);
	sum = checksum(p, len);

	snprintf(buf, sizeof(buf), "pid %d\nsum %016llx\npages %zu\nhuge_kb %ld\n", getpid(),
		 (unsigned long long)sum, len / 4096, huge_kb());
	write_file("ready", buf);

	for (;;) {
		int sig = sigwaitinfo(&set, NULL);

		if (sig == SIGUSR1) {
			uint64_t s = checksum(p, len);

			snprintf(buf, sizeof(buf), "sum %016llx\nok %d\nhuge_kb %ld\n", (unsigned long long)s,
				 s == sum, huge_kb());
			write_file("report", buf);
		}
		if (sig == SIGHUP) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			snprintf(buf, sizeof(buf), "time_ns %llu\n",
				 (unsigned long long)ts.tv_sec * 1000000000ULL + ts.tv_nsec);
			write_file("pong", buf);
		}
		if (sig == SIGTERM)
			return 0;
	}
}

static int do_memcpy(int mib)
{
	size_t len = (size_t)mib * MiB;
	unsigned char *src, *dst, *dst2;
	uint64_t t0, t1, t2;

	rng_state = 0x9e3779b97f4a7c15ULL;
	src = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	dst = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (src == MAP_FAILED || dst == MAP_FAILED)
		die("mmap");
	fill(src, len);
	memset(dst, 1, len);
	t0 = now_ns();
	memcpy(dst, src, len);
	t1 = now_ns();
	if (munmap(dst, len))
		die("munmap");
	dst2 = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (dst2 == MAP_FAILED)
		die("mmap");
	t2 = now_ns();
	memcpy(dst2, src, len);
	t2 = now_ns() - t2;
	if (checksum(dst2, len) != checksum(src, len))
		die("memcpy mismatch");
	printf("memcpy_ns %llu\nmemcpy_fault_ns %llu\n", (unsigned long long)(t1 - t0), (unsigned long long)t2);
	return 0;
}

#define CALIB_MIB 2
#define CALIB_ROUNDS 128

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int calib(void)
{
	size_t len = (size_t)CALIB_MIB * MiB, pages = len / 4096;
	uint64_t t[CALIB_ROUNDS];
	unsigned char *src, *dst;
	int i;

	rng_state = 0x9e3779b97f4a7c15ULL;
	src = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (src == MAP_FAILED)
		die("mmap");
	madvise(src, len, MADV_NOHUGEPAGE);
	fill(src, len);
	for (i = 0; i < CALIB_ROUNDS; i++) {
		dst = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (dst == MAP_FAILED)
			die("mmap");
		/* 4 KiB pages on both sides, whatever the THP setting */
		madvise(dst, len, MADV_NOHUGEPAGE);
		t[i] = now_ns();
		memcpy(dst, src, len);
		t[i] = now_ns() - t[i];
		if (munmap(dst, len))
			die("munmap");
	}
	qsort(t, CALIB_ROUNDS, sizeof(t[0]), cmp_u64);
	printf("calib_ns_per_page %.1f\ncalib_median_ns_per_page %.1f\n", (double)t[0] / pages,
	       (double)t[CALIB_ROUNDS / 2] / pages);
	return 0;
}

static long free_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemFree: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static int memwatch(const char *stop, const char *out)
{
	long first = free_kb(), low = first, m, samples = 1;
	struct timespec ts = { 0, 100 * 1000000L };
	FILE *f;

	while (access(stop, F_OK)) {
		nanosleep(&ts, NULL);
		m = free_kb();
		samples++;
		if (m < low)
			low = m;
	}
	f = fopen(out, "w");
	if (!f)
		die(out);
	fprintf(f, "first_kb %ld\nlow_kb %ld\nsamples %ld\n", first, low, samples);
	return fclose(f) ? 1 : 0;
}

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static uint64_t mono_raw_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int tsc(void)
{
	struct timespec ts = { 0, 20 * 1000000L };
	uint64_t c0, t0, c1, t1, now = rdtsc();

	t0 = mono_raw_ns();
	c0 = rdtsc();
	nanosleep(&ts, NULL);
	t1 = mono_raw_ns();
	c1 = rdtsc();
	printf("tsc %llu\ntsc_per_us %.6f\n", (unsigned long long)now,
	       (double)(c1 - c0) * 1000.0 / (double)(t1 - t0));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "run")) {
		dir = argv[2];
		return run(atoi(argv[3]), !strcmp(argv[4], "thp"));
	}
	if (argc == 3 && !strcmp(argv[1], "memcpy"))
		return do_memcpy(atoi(argv[2]));
	if (argc == 2 && !strcmp(argv[1], "calib"))
		return calib();
	if (argc == 2 && !strcmp(argv[1], "tsc"))
		return tsc();
	if (argc == 4 && !strcmp(argv[1], "memwatch"))
		return memwatch(argv[2], argv[3]);
	fprintf(stderr, "usage: bench-workload run DIR MIB thp|nothp | memcpy MIB | calib | tsc | memwatch STOP OUT\n");
	return 2;
}
