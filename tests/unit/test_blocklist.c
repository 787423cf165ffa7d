// SPDX-License-Identifier: GPL-2.0-only
/*
 * Host tests for the block list of kernel/format.c: it round-trips, every
 * single-bit corruption is caught, entries the next kernel must not trust
 * are refused even under a right checksum, and khup_block_order() cuts
 * every run into the blocks kho_preserve_pages() would make.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "ktap.h"
#include "../../include/uapi/linux/khup.h"

#define MAX_ORDER 10

static const struct { uint64_t pfn; uint32_t order; } sample[] = {
	{ 0x1000, 3 }, { 0x1008, 1 }, { 0x1400, 10 }, { 0x40002, 1 },
};
#define NR ((uint64_t)(sizeof(sample) / sizeof(sample[0])))

static void fill(uint8_t *b)
{
	uint64_t i;

	for (i = 0; i < NR; i++)
		khup_blocks_put(b, i, sample[i].pfn, sample[i].order);
	khup_blocks_finish(b, NR);
}

/* What kho_preserve_pages() does: min(alignment, size), at most @max. */
static uint32_t reference_order(uint64_t pfn, uint64_t end, uint32_t max)
{
	uint32_t order = pfn ? __builtin_ctzll(pfn) : 63;
	uint32_t fit = 63 - __builtin_clzll(end - pfn);

	if (fit < order)
		order = fit;
	return order < max ? order : max;
}

static void test_block_order(void)
{
	uint64_t start, len, pfn, bad = 0, blocks = 0;
	uint32_t order;

	for (start = 1; start < 1100; start++) {
		for (len = 1; len < 1300; len += 7) {
			for (pfn = start; pfn < start + len; pfn += 1ULL << order) {
				order = khup_block_order(pfn, start + len, MAX_ORDER);
				blocks++;
				if (order != reference_order(pfn, start + len,
							     MAX_ORDER) ||
				    (pfn & ((1ULL << order) - 1)) ||
				    pfn + (1ULL << order) > start + len)
					bad++;
			}
		}
	}
	CHECK(bad == 0, "blocklist: %llu blocks of runs cut as kho_preserve_pages() cuts them (aligned, inside, largest, order <= %d)",
	      (unsigned long long)blocks, MAX_ORDER);
	CHECK(khup_block_order(0x400, 0x400 + 4096, MAX_ORDER) == MAX_ORDER &&
	      khup_block_order(0x401, 0x500, MAX_ORDER) == 0 &&
	      khup_block_order(0x402, 0x404, MAX_ORDER) == 1,
	      "blocklist: order capped at the maximum; unaligned or short starts small");
}

void test_blocklist(const char *outdir)
{
	uint64_t size, i, nr, pfn, missed = 0;
	const char *why = NULL;
	uint8_t *b, *c;
	uint32_t order;
	unsigned int bit;
	int ok;

	(void)outdir;
	test_block_order();
	CHECK(khup_blocks_size(NR, &size) == 0 && size == 16 + NR * 8,
	      "blocklist: size %llu for %llu blocks", (unsigned long long)size,
	      (unsigned long long)NR);
	CHECK(khup_blocks_size(UINT64_MAX / 8, &size) == -EOVERFLOW,
	      "blocklist: an overflowing count refused");
	khup_blocks_size(NR, &size);
	b = calloc(1, size);
	c = malloc(size);
	fill(b);
	CHECK(b[0] == 'K' && b[1] == 'H' && b[2] == 'U' && b[3] == 'B' &&
	      (b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24) ==
	      KHUP_BLOCKS_MAGIC &&
	      b[8] == NR && b[16] == 3 && b[17] == 0 && b[18] == 4,
	      "blocklist: magic \"KHUB\" = KHUP_BLOCKS_MAGIC, count and entries little endian at fixed offsets");
	ok = khup_blocks_decode(b, size, MAX_ORDER, &nr, &why);
	CHECK(ok == 0 && nr == NR, "blocklist: fresh list decodes (%s)",
	      why ? why : "ok");
	ok = 1;
	for (i = 0; i < NR; i++) {
		khup_blocks_get(b, i, &pfn, &order);
		ok &= pfn == sample[i].pfn && order == sample[i].order;
	}
	CHECK(ok, "blocklist: entries round-trip");
	khup_blocks_finish(c, 0);
	CHECK(khup_blocks_decode(c, 16, MAX_ORDER, &nr, &why) == 0 && nr == 0,
	      "blocklist: an empty list decodes");

	for (i = 0; i < size; i++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(c, b, size);
			c[i] ^= 1 << bit;
			if (khup_blocks_decode(c, size, MAX_ORDER, &nr, &why) == 0)
				missed++;
		}
	}
	CHECK(missed == 0, "blocklist: all %llu single-bit flips detected",
	      (unsigned long long)size * 8);
	CHECK(khup_blocks_decode(b, size - 1, MAX_ORDER, &nr, &why) == -EINVAL,
	      "blocklist: truncated list refused (%s)", why);
	CHECK(khup_blocks_decode(b, 15, MAX_ORDER, &nr, &why) == -EINVAL,
	      "blocklist: header fragment refused (%s)", why);

	/* Wrong entries under a right checksum. */
#define SEM(desc, idx, p, o) do {					\
		memcpy(c, b, size);					\
		khup_blocks_put(c, idx, p, o);				\
		khup_blocks_finish(c, NR);				\
		CHECK(khup_blocks_decode(c, size, MAX_ORDER, &nr, &why) == -EINVAL, \
		      "blocklist: refuses %s (%s)", desc, why);		\
	} while (0)
	SEM("order 0", 1, 0x1008, 0);
	SEM("order above the maximum", 2, 0x1800, 11);
	SEM("a block not aligned to its order", 0, 0x1004, 3);
	SEM("overlapping blocks", 1, 0x1006, 1);
	SEM("blocks out of order", 3, 0x800, 1);
	SEM("pfn 0", 0, 0, 3);
	free(c);
	free(b);
}
