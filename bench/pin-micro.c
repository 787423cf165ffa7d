// SPDX-License-Identifier: GPL-2.0-only
/*
 * pin-micro: the module's pin, seal and release costs per page, without
 * CRIU. Maps MIB MiB of private anonymous memory (4 KiB pages or THP),
 * fills it, moves it out of KHO scratch (KHUP_IOC_PREPARE), then REPS
 * times: PREPARE again (GUP pin + unpin only: the kernel's own cost),
 * CREATE, PIN in calls of BATCH pages, SEAL, RELEASE; prints ns per 4 KiB
 * page of each step. Between SEAL and RELEASE it reads the image back as
 * CRIU's restorer does (preadv() of 4 MiB chunks into fresh memory, which
 * faults it in) and copies the same memory with memcpy() into fresh memory
 * and into present memory: the read-back's cost beyond a copy. Run it
 * under -icount shift=0 (1 ns = 1 instruction).
 *
 *   pin-micro MIB 4k|thp REPS BATCH [remote]
 *
 * With "remote", a child owns the memory and the program pins it through
 * ptrace as CRIU does (the child stopped with PTRACE_INTERRUPT).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <signal.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <linux/khup.h>

static uint64_t now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* What CRIU's restorer reads before it punches with --kho (patch 0004). */
#define CHUNK (4ul << 20)

/*
 * @len bytes of private anonymous memory at a 2 MiB boundary, advised for
 * THP or against it; *@maplen is the whole mapping's length for munmap()
 * of the returned *@map.
 */
static char *map_aligned(size_t len, int thp, char **map, size_t *maplen)
{
	char *p;

	*maplen = len + (2 << 20);
	*map = mmap(NULL, *maplen, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*map == MAP_FAILED)
		die("mmap");
	p = (char *)(((uintptr_t)*map + (2 << 20) - 1) & ~((uintptr_t)(2 << 20) - 1));
	if (madvise(p, len, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))
		die("madvise");
	return p;
}

/*
 * ns to copy @len bytes into fresh memory with the workload's page size
 * (into present memory when @present) in CHUNK steps: with preadv() from
 * the reader @fd, or with memcpy() from @src when @fd < 0. The copy must
 * equal @src.
 */
static uint64_t copy_ns(int fd, const char *src, size_t len, int thp,
			int present)
{
	size_t maplen, off;
	char *map, *dst;
	uint64_t t0;

	dst = map_aligned(len, thp, &map, &maplen);
	if (present)
		memset(dst, 0, len);
	t0 = now();
	for (off = 0; off < len; off += CHUNK) {
		size_t n = len - off < CHUNK ? len - off : CHUNK;
		struct iovec v = { .iov_base = dst + off, .iov_len = n };

		if (fd < 0)
			memcpy(dst + off, src + off, n);
		else if (preadv(fd, &v, 1, off) != (ssize_t)n)
			die("preadv");
	}
	t0 = now() - t0;
	if (memcmp(dst, src, len)) {
		fprintf(stderr, "pin-micro: the copy differs from the memory\n");
		exit(1);
	}
	munmap(map, maplen);
	return t0;
}

int main(int argc, char **argv)
{
	size_t mib, len, pages, batch, i, off;
	uint64_t t0, t_prep, t_pin, t_seal, t_rel, t_read, t_readp, t_cpy, t_cpyp;
	int dev, rep, reps, thp, remote, pfd[2];
	pid_t pid = 0;
	struct iovec iov;
	char *mem, *map;
	size_t maplen;

	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: pin-micro MIB 4k|thp REPS BATCH [remote]\n");
		return 2;
	}
	mib = strtoul(argv[1], NULL, 0);
	thp = !strcmp(argv[2], "thp");
	reps = atoi(argv[3]);
	batch = strtoul(argv[4], NULL, 0);
	remote = argc == 6 && !strcmp(argv[5], "remote");
	len = mib << 20;
	pages = len / 4096;
	if (!batch || batch > KHUP_MAX_PIN_PAGES)
		batch = pages;
	dev = open("/dev/khup", O_RDWR);
	if (dev < 0)
		die("/dev/khup");
	mem = map_aligned(len, thp, &map, &maplen);
	if (remote) {
		char c;

		if (pipe(pfd))
			die("pipe");
		pid = fork();
		if (pid < 0)
			die("fork");
		if (!pid) {
			for (i = 0; i < len; i += 4096)
				memset(mem + i, (int)(i >> 12) | 1, 4096);
			if (write(pfd[1], "r", 1) != 1)
				_exit(1);
			for (;;)
				pause();
		}
		if (read(pfd[0], &c, 1) != 1)
			die("child");
		if (ptrace(PTRACE_SEIZE, pid, 0, 0) ||
		    ptrace(PTRACE_INTERRUPT, pid, 0, 0))
			die("ptrace");
		if (waitpid(pid, NULL, 0) != pid)
			die("waitpid");
	}
	/* the child's contents, here too: what a read-back must return */
	for (i = 0; i < len; i += 4096)
		memset(mem + i, (int)(i >> 12) | 1, 4096);

	iov = (struct iovec){ .iov_base = mem, .iov_len = len };
	{
		struct khup_prepare p = {
			.size = sizeof(p), .nr_iovecs = 1, .pid = pid,
			.iovecs = (uintptr_t)&iov,
		};

		if (ioctl(dev, KHUP_IOC_PREPARE, &p))
			die("PREPARE");
		printf("warm-up prepare: %llu pages, %llu migrated\n",
		       (unsigned long long)p.nr_pages,
		       (unsigned long long)p.nr_migrated);
	}
	for (rep = 0; rep < reps; rep++) {
		struct khup_prepare p = {
			.size = sizeof(p), .nr_iovecs = 1, .pid = pid,
			.iovecs = (uintptr_t)&iov,
		};
		struct khup_create c = { .size = sizeof(c) };
		struct khup_image_op op = { .size = sizeof(op) };
		struct khup_open_pages op_read = { .size = sizeof(op_read) };

		t0 = now();
		if (ioctl(dev, KHUP_IOC_PREPARE, &p))
			die("PREPARE");
		t_prep = now() - t0;

		snprintf(c.name, sizeof(c.name), "pin-micro-%d", rep);
		if (ioctl(dev, KHUP_IOC_CREATE, &c))
			die("CREATE");
		t0 = now();
		for (off = 0; off < pages; off += batch) {
			size_t n = pages - off < batch ? pages - off : batch;
			struct iovec v = {
				.iov_base = mem + off * 4096,
				.iov_len = n * 4096,
			};
			struct khup_pin pin = {
				.size = sizeof(pin), .id = c.id, .nr_iovecs = 1,
				.pid = pid,
				.iovecs = (uintptr_t)&v,
			};

			if (ioctl(dev, KHUP_IOC_PIN, &pin))
				die("PIN");
		}
		t_pin = now() - t0;
		op.id = c.id;
		t0 = now();
		if (ioctl(dev, KHUP_IOC_SEAL, &op))
			die("SEAL");
		t_seal = now() - t0;
		op_read.id = c.id;
		op_read.pid = pid ? pid : getpid();
		if (ioctl(dev, KHUP_IOC_OPEN_PAGES, &op_read) < 0)
			die("OPEN_PAGES");
		t_read = copy_ns(op_read.fd, mem, len, thp, 0);
		t_readp = copy_ns(op_read.fd, mem, len, thp, 1);
		close(op_read.fd);
		t_cpy = copy_ns(-1, mem, len, thp, 0);
		t_cpyp = copy_ns(-1, mem, len, thp, 1);
		t0 = now();
		if (ioctl(dev, KHUP_IOC_RELEASE, &op))
			die("RELEASE");
		t_rel = now() - t0;
		printf("rep %d %s%s %zu MiB batch %zu: ns/page prepare %.0f pin %.0f seal %.0f pin+seal %.0f release %.0f (migrated %llu)\n",
		       rep, thp ? "thp" : "4k", remote ? " remote" : "", mib, batch,
		       (double)t_prep / pages, (double)t_pin / pages,
		       (double)t_seal / pages,
		       (double)(t_pin + t_seal) / pages,
		       (double)t_rel / pages,
		       (unsigned long long)p.nr_migrated);
		printf("rep %d %s%s %zu MiB chunk %lu KiB: ns/page read-back %.0f (into present pages %.0f) memcpy %.0f (%.0f)\n",
		       rep, thp ? "thp" : "4k", remote ? " remote" : "", mib,
		       CHUNK >> 10, (double)t_read / pages,
		       (double)t_readp / pages, (double)t_cpy / pages,
		       (double)t_cpyp / pages);
	}
	if (pid)
		kill(pid, SIGKILL);
	return 0;
}
