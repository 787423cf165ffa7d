// SPDX-License-Identifier: GPL-2.0-only
/*
 * khup-blocks: the blocks the module should hand over at the kexec for the
 * pages given on stdin as "pfn nr order" lines (khup-test pfns, one or more
 * images): the order-0 pages, each once, in runs of consecutive pfns, cut
 * by the module's own khup_block_order() (kernel/format.c, compiled in).
 * Prints "BLOCKS PAGES FIRST_ORDER": the blocks, the pages in them, and
 * the order of the first (lowest) block, the one a failure injected at
 * the first block's preservation leaves page by page.
 *
 *   khup-test pfns NAME | khup-blocks [MAX_ORDER]     (default 10)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "format.h"
#include "libtest.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	unsigned long long pfn;
	unsigned int nr, order, max = argc > 1 ? atoi(argv[1]) : 10;
	uint64_t *p = NULL, n = 0, cap = 0, i, j, end, blocks = 0, pages = 0;
	int first = -1;

	while (scanf("%llu %u %u", &pfn, &nr, &order) == 3) {
		if (order)
			continue;
		for (; nr; nr--) {
			if (n == cap) {
				cap = cap ? 2 * cap : 4096;
				p = realloc(p, cap * sizeof(*p));
				if (!p)
					die("out of memory");
			}
			p[n++] = pfn++;
		}
	}
	qsort(p, n, sizeof(*p), cmp_u64);
	for (i = 0; i < n; i = j) {
		/* The run of consecutive pfns from p[i] (duplicates once). */
		for (j = i + 1, end = p[i] + 1; j < n && p[j] <= end; j++)
			end = p[j] + 1;
		for (pfn = p[i]; pfn < end; pfn += 1ULL << order) {
			order = khup_block_order(pfn, end, max);
			if (!order)
				continue;
			if (first < 0)
				first = order;
			blocks++;
			pages += 1ULL << order;
		}
	}
	printf("%llu %llu %d\n", (unsigned long long)blocks,
	       (unsigned long long)pages, first);
	free(p);
	return 0;
}
