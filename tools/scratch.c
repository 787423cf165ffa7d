// SPDX-License-Identifier: GPL-2.0-only
/*
 * KHO scratch ranges and a scan of a task's pages against them (scratch.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scratch.h"

#define PM_PRESENT	(1ULL << 63)
#define PM_FILE_SHARED	(1ULL << 61)	/* file page or shared anonymous */
#define PM_PFN_MASK	((1ULL << 55) - 1)
#define PM_BATCH	4096

/* Parses whitespace-separated hex numbers ("0x..." or bare); -1 if junk. */
int khup_parse_hex_list(const char *text, uint64_t *v, int max)
{
	const char *p = text;
	int n = 0;

	for (;;) {
		char *end;

		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			return n;
		if (n == max)
			return -1;
		errno = 0;
		v[n] = strtoull(p, &end, 16);
		if (end == p || errno ||
		    (*end && *end != ' ' && *end != '\t' && *end != '\n'))
			return -1;
		n++;
		p = end;
	}
}

static int read_hex_file(const char *path, uint64_t *v, int max)
{
	char buf[4096];
	ssize_t len;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len < 0)
		return -errno;
	buf[len] = '\0';
	len = khup_parse_hex_list(buf, v, max);
	return len < 0 ? -EINVAL : (int)len;
}

/* 0, or -errno: -ENOENT without KHO's debugfs, -EINVAL for junk. */
int khup_scratch_read(const char *debugfs, struct khup_scratch *s)
{
	uint64_t phys[KHUP_MAX_SPANS], len[KHUP_MAX_SPANS];
	long ps = sysconf(_SC_PAGESIZE);
	char path[512];
	int n, m, i;

	snprintf(path, sizeof(path), "%s/kho/out/scratch_phys", debugfs);
	n = read_hex_file(path, phys, KHUP_MAX_SPANS);
	if (n < 0)
		return n;
	snprintf(path, sizeof(path), "%s/kho/out/scratch_len", debugfs);
	m = read_hex_file(path, len, KHUP_MAX_SPANS);
	if (m < 0)
		return m;
	if (m != n)
		return -EINVAL;
	s->n = n;
	s->pages = 0;
	for (i = 0; i < n; i++) {
		s->span[i].start = phys[i] / ps;
		s->span[i].end = (phys[i] + len[i]) / ps;
		s->pages += s->span[i].end - s->span[i].start;
	}
	return 0;
}

bool khup_scratch_has(const struct khup_scratch *s, uint64_t pfn)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (pfn >= s->span[i].start && pfn < s->span[i].end)
			return true;
	return false;
}

/* Records [va, va + len) as in scratch, extending the last run if adjacent. */
int khup_scan_add(struct khup_scan *sc, uint64_t va, uint64_t len)
{
	struct iovec *last = sc->nr_runs ? &sc->runs[sc->nr_runs - 1] : NULL;

	if (last && (uint64_t)(uintptr_t)last->iov_base + last->iov_len == va) {
		last->iov_len += len;
		return 0;
	}
	if (sc->nr_runs == sc->cap_runs) {
		size_t cap = sc->cap_runs ? sc->cap_runs * 2 : 64;
		struct iovec *r = realloc(sc->runs, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		sc->runs = r;
		sc->cap_runs = cap;
	}
	sc->runs[sc->nr_runs].iov_base = (void *)(uintptr_t)va;
	sc->runs[sc->nr_runs].iov_len = len;
	sc->nr_runs++;
	return 0;
}

/*
 * The pages a dump hands over are the present anonymous ones (private
 * anonymous memory, dirty pages of private file mappings) and every present
 * page of a shared mapping (shmem, memfd, shared anonymous).
 */
static int scan_vma(int pm, uint64_t start, uint64_t end, bool shared,
		    const struct khup_scratch *s, struct khup_scan *sc)
{
	long ps = sysconf(_SC_PAGESIZE);
	uint64_t buf[PM_BATCH], va = start;
	int err;

	while (va < end) {
		size_t n = (end - va) / ps, i;
		ssize_t got;

		if (n > PM_BATCH)
			n = PM_BATCH;
		got = pread(pm, buf, n * sizeof(*buf), va / ps * sizeof(*buf));
		if (got <= 0)
			return got < 0 ? -errno : 0;
		n = got / sizeof(*buf);
		for (i = 0; i < n; i++, va += ps) {
			if (!(buf[i] & PM_PRESENT) ||
			    (!shared && (buf[i] & PM_FILE_SHARED)))
				continue;
			sc->present++;
			if (!khup_scratch_has(s, buf[i] & PM_PFN_MASK))
				continue;
			sc->in_scratch++;
			err = khup_scan_add(sc, va, ps);
			if (err)
				return err;
		}
	}
	return 0;
}

/* 0 or -errno (-ESRCH: no such process, -EPERM: not root). */
int khup_scan_task(pid_t pid, const struct khup_scratch *s,
		   struct khup_scan *sc)
{
	char path[64], line[4096], perms[8];
	uint64_t start, end;
	int pm, err = 0;
	FILE *maps;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = fopen(path, "re");
	if (!maps)
		return errno == ENOENT ? -ESRCH : -errno;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	pm = open(path, O_RDONLY | O_CLOEXEC);
	if (pm < 0) {
		err = errno == ENOENT ? -ESRCH : -errno;
		goto out_maps;
	}
	while (!err && fgets(line, sizeof(line), maps)) {
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s", &start, &end,
			   perms) != 3) {
			err = -EINVAL;
			break;
		}
		/* Kernel-provided mappings ([vdso], [vvar], ...) are not dumped. */
		if (strstr(line, "[vsyscall]") || strstr(line, "[vvar") ||
		    strstr(line, "[vdso]"))
			continue;
		err = scan_vma(pm, start, end, perms[3] == 's', s, sc);
	}
	close(pm);
out_maps:
	fclose(maps);
	return err;
}

void khup_scan_free(struct khup_scan *sc)
{
	free(sc->runs);
	memset(sc, 0, sizeof(*sc));
}
