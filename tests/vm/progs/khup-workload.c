// SPDX-License-Identifier: GPL-2.0-only
/*
 * khup-workload: the process tree the CRIU tests checkpoint.
 *
 *   khup-workload run DIR MIB [THP_MIB]
 *                                 start the workload as a child; write
 *                                 DIR/ready when set up; return when the
 *                                 workload tree is gone (run it with &)
 *   khup-workload images          list /dev/khup images: "id state pages name
 *                                 consumed lost claimer" (claimer: the pid
 *                                 holding the claim, 0 if none)
 *
 * "run" sets up, in this order:
 *   shared   MAP_SHARED|MAP_ANONYMOUS, 4 MiB random, shared with a child
 *            process that keeps incrementing a counter in it;
 *   memfd    a memfd mapped MAP_SHARED, 4 MiB random;
 *   anon     MIB MiB private anonymous random data (after the fork, so only
 *            the parent has it); with KHUP_WL_SCATTER set in the
 *            environment, in 4 KiB pages faulted in scrambled order, so
 *            that each is its own physical extent;
 *   thp      THP_MIB (default 16) MiB private anonymous, 2 MiB aligned,
 *            MADV_HUGEPAGE, random;
 *   file     a 4 MiB file DIR/file mapped MAP_PRIVATE, every other page
 *            overwritten with random data (dirty private file pages);
 *   none     16 KiB private anonymous, random, then PROT_NONE (data that
 *            neither the task nor a plain read can see);
 *   wronly   16 KiB private anonymous, random, then PROT_WRITE only (no
 *            VM_READ: GUP without FOLL_FORCE refuses it as for PROT_NONE);
 *            both are made readable only while their checksum is taken,
 *            and each report also checks that /proc/self/maps shows them
 *            as "---p" and "-w-p" (a restore must bring the protection
 *            back, not just the data);
 *   threads  4 threads, each holding its own robust mutex and incrementing
 *            its own counter, and a fifth one waiting in FUTEX_WAIT;
 *            glibc keeps each thread's tid where the kernel zeroes it at
 *            thread exit (clear_child_tid), and a robust mutex held by a
 *            thread that exits is marked owner-dead by the kernel.
 * It then writes DIR/ready ("key value" lines: pid, child, sum.REGION) and
 * waits for signals. SIGUSR1: recompute every checksum, look at the child,
 * the counters and the threads, and write DIR/report (same sums, perms.none
 * and perms.wronly, counters, threads alive, mutexes held, "ok 1" if all
 * sums match the ones taken at set-up, both unreadable regions kept their
 * protection, every thread is alive to glibc and every mutex is still held
 * by its thread). SIGUSR2: wake the futex waiter, join it (at most 10 s), then
 * report as for SIGUSR1 ("joined 1" if the join returned after the waiter
 * woke). SIGHUP: write DIR/pong (pid, the counters, the time) without
 * touching the big regions: an answer that a lazily restored workload can
 * give before its memory is filled. SIGTERM: kill the child, exit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <linux/futex.h>
#include <linux/khup.h>

#include "workload-data.h"

#define MiB		(1UL << 20)
#define SHARED_SIZE	(4 * MiB)
#define MEMFD_SIZE	(4 * MiB)
#define THP_MIB		16	/* default size of the THP range */
#define FILE_SIZE	(4 * MiB)
#define NONE_SIZE	(16 * 1024)	/* each of R_NONE and R_WONLY */
#define NR_THREADS	4

enum { R_ANON, R_THP, R_FILE, R_SHARED, R_MEMFD, R_NONE, R_WONLY, NR_REGIONS };
static const char *const rname[NR_REGIONS] = { "anon", "thp", "file", "shared", "memfd", "none", "wronly" };

/* The regions kept without PROT_READ: their protection, as maps shows it */
static const struct {
	int prot;
	const char *perms;
} unreadable[NR_REGIONS] = {
	[R_NONE] = { PROT_NONE, "---p" },
	[R_WONLY] = { PROT_WRITE, "-w-p" },
};

struct region {
	unsigned char *p;
	size_t len;
	uint64_t sum;
};

static struct region reg[NR_REGIONS];
static volatile uint64_t counters[NR_THREADS];
static pthread_t threads[NR_THREADS], waiter;
static pthread_mutex_t locks[NR_THREADS];
static volatile int nr_locked;
/* The futex the waiter sleeps on, and what it did once woken. */
static volatile uint32_t wake_word;
static volatile int waiter_woke;
static int joined;
/* First page of the shared region: the child's counter. */
static volatile uint64_t *child_counter;
static const char *dir;
static pid_t child;

/* Once detached, stderr is /dev/null: errors also go to DIR/error. */
static void die(const char *what)
{
	char msg[512], path[4096];
	int fd, n;

	n = snprintf(msg, sizeof(msg), "khup-workload: %s: %s\n", what, strerror(errno));
	fputs(msg, stderr);
	snprintf(path, sizeof(path), "%s/error", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (write(fd, msg, n) < 0)
			n = 0;
		close(fd);
	}
	exit(1);
}


/*
 * The shared region's checksum leaves out the child's counter page; the
 * unreadable ones are made readable just for the checksum.
 */
static uint64_t region_sum(int r)
{
	uint64_t s;

	if (r == R_SHARED)
		return checksum(reg[r].p + 4096, reg[r].len - 4096);
	if (!unreadable[r].perms)
		return checksum(reg[r].p, reg[r].len);
	if (mprotect(reg[r].p, reg[r].len, PROT_READ))
		die("mprotect");
	s = checksum(reg[r].p, reg[r].len);
	if (mprotect(reg[r].p, reg[r].len, unreadable[r].prot))
		die("mprotect");
	return s;
}

/*
 * The permissions /proc/self/maps shows for the mapping holding region r's
 * first byte ("?" if none does), into perms[5].
 */
static void region_perms(int r, char *perms)
{
	uintptr_t a = (uintptr_t)reg[r].p;
	unsigned long start, end;
	char line[4096], p[5];
	FILE *f = fopen("/proc/self/maps", "re");

	strcpy(perms, "?");
	if (!f)
		die("/proc/self/maps");
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %4s", &start, &end, p) == 3 && start <= a && a < end) {
			memcpy(perms, p, 5);
			break;
		}
	}
	fclose(f);
}

/*
 * KHUP_WL_SCATTER: back the range with 4 KiB pages faulted in a scrambled
 * order (page i * 1000003 mod n), so that pages next to each other in the
 * address space are far apart physically: every page becomes its own
 * extent of the dump.
 */
static void scatter(unsigned char *p, size_t len)
{
	size_t n = len / 4096, i;

	if (madvise(p, len, MADV_NOHUGEPAGE))
		die("madvise(MADV_NOHUGEPAGE)");
	for (i = 0; i < n; i++)
		p[(i * 1000003ULL % n) * 4096] = 1;
}

static void *map(size_t len, int flags, int fd)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, 0);

	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void *thread_fn(void *arg)
{
	long i = (long)arg;

	if ((errno = pthread_mutex_lock(&locks[i])))
		die("pthread_mutex_lock");
	__atomic_add_fetch(&nr_locked, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		counters[i]++;
		sleep_ms(10);
	}
	return NULL;
}

static void *waiter_fn(void *arg)
{
	(void)arg;
	while (!wake_word)
		syscall(SYS_futex, &wake_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	waiter_woke = 1;
	return NULL;
}

static void start_threads(void)
{
	pthread_mutexattr_t ma;

	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	for (long i = 0; i < NR_THREADS; i++) {
		pthread_mutex_init(&locks[i], &ma);
		if ((errno = pthread_create(&threads[i], NULL, thread_fn, (void *)i)))
			die("pthread_create");
	}
	if ((errno = pthread_create(&waiter, NULL, waiter_fn, NULL)))
		die("pthread_create");
	while (nr_locked < NR_THREADS)
		sleep_ms(1);
}

/*
 * Threads alive to glibc (its tid in struct pthread is not 0) and mutexes
 * still held by their live thread (trylock: EBUSY, not EOWNERDEAD).
 */
static int thread_state(char *buf, size_t size, int *ok)
{
	int alive = 0, held = 0, n;

	for (int i = 0; i < NR_THREADS; i++) {
		int r = pthread_mutex_trylock(&locks[i]);

		alive += pthread_kill(threads[i], 0) == 0;
		if (r == EBUSY) {
			held++;
			continue;
		}
		if (r == EOWNERDEAD)
			pthread_mutex_consistent(&locks[i]);
		if (r == 0 || r == EOWNERDEAD)
			pthread_mutex_unlock(&locks[i]);
	}
	if (!joined)
		alive += pthread_kill(waiter, 0) == 0;
	if (alive != NR_THREADS + !joined || held != NR_THREADS)
		*ok = 0;
	n = snprintf(buf, size, "threads_alive %d\nthreads_expected %d\nmutexes_held %d\njoined %d\n", alive,
		     NR_THREADS + !joined, held, joined);
	return n;
}

/* Wakes the futex waiter and joins it: pthread_join() needs its tid word. */
static void join_waiter(void)
{
	struct timespec ts;

	if (joined)
		return;
	wake_word = 1;
	syscall(SYS_futex, &wake_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	joined = pthread_timedjoin_np(waiter, NULL, &ts) == 0 && waiter_woke;
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

/* Answers without reading the regions: see SIGHUP above. */
static void pong(void)
{
	char buf[512];
	struct timespec ts;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(buf, sizeof(buf), "pid %d\ntime_ns %lld\n", getpid(),
		     (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	for (int i = 0; i < NR_THREADS; i++)
		n += snprintf(buf + n, sizeof(buf) - n, "thread%d %llu\n", i, (unsigned long long)counters[i]);
	snprintf(buf + n, sizeof(buf) - n, "childcount %llu\n", (unsigned long long)*child_counter);
	write_file("pong", buf);
}

static void report(void)
{
	char buf[4096];
	int n = 0, ok = 1;

	n += snprintf(buf + n, sizeof(buf) - n, "pid %d\nchild %d\n", getpid(), child);
	for (int r = 0; r < NR_REGIONS; r++) {
		uint64_t s = region_sum(r);

		if (s != reg[r].sum)
			ok = 0;
		n += snprintf(buf + n, sizeof(buf) - n, "sum.%s %016llx\n", rname[r], (unsigned long long)s);
	}
	for (int r = 0; r < NR_REGIONS; r++) {
		char perms[5];

		if (!unreadable[r].perms)
			continue;
		region_perms(r, perms);
		if (strcmp(perms, unreadable[r].perms))
			ok = 0;
		n += snprintf(buf + n, sizeof(buf) - n, "perms.%s %s\n", rname[r], perms);
	}
	for (int i = 0; i < NR_THREADS; i++)
		n += snprintf(buf + n, sizeof(buf) - n, "thread%d %llu\n", i, (unsigned long long)counters[i]);
	n += thread_state(buf + n, sizeof(buf) - n, &ok);
	n += snprintf(buf + n, sizeof(buf) - n, "childcount %llu\nchildalive %d\nok %d\n",
		      (unsigned long long)*child_counter, kill(child, 0) == 0 && waitpid(child, NULL, WNOHANG) == 0,
		      ok);
	write_file("report", buf);
}

static int run(int mib, int thp_mib)
{
	char buf[4096], path[4096];
	sigset_t set;
	int fd, n = 0;

	if (getrandom(&rng_state, sizeof(rng_state), 0) != sizeof(rng_state))
		die("getrandom");
	rng_state |= 1;

	/*
	 * The caller stays as the parent and a subreaper of the workload: it
	 * reaps the tree when CRIU's dump kills it, so that its pids are free
	 * for the restore. The workload itself is a session leader, not a
	 * shell job.
	 */
	child = fork();
	if (child < 0)
		die("fork");
	if (child) {
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

	/* Signals go to the main thread only, via sigtimedwait() */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);

	reg[R_SHARED].len = SHARED_SIZE;
	reg[R_SHARED].p = map(SHARED_SIZE, MAP_SHARED | MAP_ANONYMOUS, -1);
	fill(reg[R_SHARED].p, SHARED_SIZE);
	child_counter = (volatile uint64_t *)reg[R_SHARED].p;
	*child_counter = 0;

	fd = memfd_create("khup-workload", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, MEMFD_SIZE))
		die("memfd");
	reg[R_MEMFD].len = MEMFD_SIZE;
	reg[R_MEMFD].p = map(MEMFD_SIZE, MAP_SHARED, fd);
	close(fd);
	fill(reg[R_MEMFD].p, MEMFD_SIZE);

	child = fork();
	if (child < 0)
		die("fork");
	if (!child) {
		for (;;) {
			(*child_counter)++;
			sleep_ms(10);
		}
	}

	reg[R_ANON].len = (size_t)mib * MiB;
	reg[R_ANON].p = map(reg[R_ANON].len, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	if (getenv("KHUP_WL_SCATTER"))
		scatter(reg[R_ANON].p, reg[R_ANON].len);
	fill(reg[R_ANON].p, reg[R_ANON].len);

	/* 2 MiB aligned, so that it can be backed by huge pages */
	reg[R_THP].len = (size_t)thp_mib * MiB;
	reg[R_THP].p = map(reg[R_THP].len + 2 * MiB, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	reg[R_THP].p = (unsigned char *)(((uintptr_t)reg[R_THP].p + 2 * MiB - 1) & ~(2 * MiB - 1));
	if (madvise(reg[R_THP].p, reg[R_THP].len, MADV_HUGEPAGE))
		die("madvise");
	fill(reg[R_THP].p, reg[R_THP].len);

	snprintf(path, sizeof(path), "%s/file", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die(path);
	for (size_t off = 0; off < FILE_SIZE; off += sizeof(buf)) {
		fill((unsigned char *)buf, sizeof(buf));
		if (write(fd, buf, sizeof(buf)) != sizeof(buf))
			die(path);
	}
	if (fsync(fd))
		die(path);
	reg[R_FILE].len = FILE_SIZE;
	reg[R_FILE].p = map(FILE_SIZE, MAP_PRIVATE, fd);
	close(fd);
	for (size_t off = 0; off < FILE_SIZE; off += 2 * 4096)
		fill(reg[R_FILE].p + off, 4096);

	for (int r = R_NONE; r <= R_WONLY; r++) {
		reg[r].len = NONE_SIZE;
		reg[r].p = map(NONE_SIZE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
		fill(reg[r].p, NONE_SIZE);
		if (mprotect(reg[r].p, NONE_SIZE, unreadable[r].prot))
			die("mprotect");
	}

	for (int r = 0; r < NR_REGIONS; r++)
		reg[r].sum = region_sum(r);

	start_threads();

	n += snprintf(buf + n, sizeof(buf) - n, "pid %d\nchild %d\n", getpid(), child);
	for (int r = 0; r < NR_REGIONS; r++)
		n += snprintf(buf + n, sizeof(buf) - n, "sum.%s %016llx\n", rname[r], (unsigned long long)reg[r].sum);
	n += snprintf(buf + n, sizeof(buf) - n, "pages %zu\n",
		      (reg[R_ANON].len + reg[R_THP].len + FILE_SIZE / 2 + SHARED_SIZE + MEMFD_SIZE + 2 * NONE_SIZE) / 4096);
	write_file("ready", buf);

	for (;;) {
		int sig = sigwaitinfo(&set, NULL);

		if (sig == SIGUSR2)
			join_waiter();
		if (sig == SIGUSR1 || sig == SIGUSR2)
			report();
		if (sig == SIGHUP)
			pong();
		if (sig == SIGTERM) {
			kill(child, SIGKILL);
			return 0;
		}
	}
}

static int images(void)
{
	uint64_t ids[KHUP_MAX_IMAGES];
	struct khup_list l = { .size = sizeof(l), .count = KHUP_MAX_IMAGES, .ids = (uintptr_t)ids };
	int fd = open("/dev/khup", O_RDWR);

	if (fd < 0)
		die("/dev/khup");
	if (ioctl(fd, KHUP_IOC_LIST, &l))
		die("KHUP_IOC_LIST");
	for (unsigned int i = 0; i < l.count && i < KHUP_MAX_IMAGES; i++) {
		struct khup_info in = { .size = sizeof(in), .id = ids[i] };

		if (ioctl(fd, KHUP_IOC_INFO, &in))
			die("KHUP_IOC_INFO");
		in.name[sizeof(in.name) - 1] = '\0';
		printf("%llu %u %llu %s %llu %llu %d\n", (unsigned long long)in.id, in.state,
		       (unsigned long long)in.nr_pages, in.name, (unsigned long long)in.nr_consumed,
		       (unsigned long long)in.nr_lost, (in.info_flags & KHUP_INFO_CLAIMED) ? in.claimer : 0);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "run")) {
		dir = argv[2];
		return run(atoi(argv[3]), argc == 5 ? atoi(argv[4]) : THP_MIB);
	}
	if (argc == 2 && !strcmp(argv[1], "images"))
		return images();
	fprintf(stderr, "usage: khup-workload run DIR MIB [THP_MIB] | images\n");
	return 2;
}
