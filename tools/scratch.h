/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * KHO scratch and where a task's pages lie: the scratch ranges of the
 * running kernel (debugfs kho/out/scratch_phys and scratch_len) and a scan
 * of a task's present pages through /proc/PID/pagemap (root only: without
 * CAP_SYS_ADMIN the kernel reports every pfn as 0).
 */
#ifndef KHUP_TOOLS_SCRATCH_H
#define KHUP_TOOLS_SCRATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define KHUP_MAX_SPANS	64

struct khup_span {
	uint64_t start, end;	/* pfns, end exclusive */
};

struct khup_scratch {
	struct khup_span span[KHUP_MAX_SPANS];
	int n;
	uint64_t pages;		/* total size, in pages */
};

/* What a scan found: counts, and the page runs that lie in scratch. */
struct khup_scan {
	uint64_t present;	/* present pages the dump would hand over */
	uint64_t in_scratch;	/* of them, inside scratch */
	struct iovec *runs;	/* in-scratch pages, coalesced by address */
	size_t nr_runs, cap_runs;
};

int khup_parse_hex_list(const char *text, uint64_t *v, int max);
int khup_scratch_read(const char *debugfs, struct khup_scratch *s);
bool khup_scratch_has(const struct khup_scratch *s, uint64_t pfn);
int khup_scan_add(struct khup_scan *sc, uint64_t va, uint64_t len);
int khup_scan_task(pid_t pid, const struct khup_scratch *s,
		   struct khup_scan *sc);
void khup_scan_free(struct khup_scan *sc);

#endif /* KHUP_TOOLS_SCRATCH_H */
