// SPDX-License-Identifier: GPL-2.0-only
/*
 * Host tests for kernel/format.c: the extent table round-trips, its CRC is
 * zlib's CRC-32, every single-bit corruption of header or extents is
 * caught before a pfn is used, and semantically bad extents are refused
 * even when their checksum is right.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "format.h"
#include "ktap.h"
#include "../../include/uapi/linux/khup.h"

#define PS 12

static struct khup_ext sample[] = {
	{ .va = 0x7f0000000000ULL, .pfn = 0x1234, .nr = 3, .order = 0 },
	{ .va = 0x7f0000200000ULL, .pfn = 0x40000, .nr = 512, .order = 9 },
	{ .va = 0x7f0000400000ULL, .pfn = 0, .nr = 2, .order = 0,
	  .flags = KHUP_EXT_F_ZERO },
	{ .va = 0x7f0000403000ULL, .pfn = 0x40100, .nr = 5, .order = 9 },
};
#define NR_EXT 4
#define NR_PAGES (3 + 512 + 2 + 5)

static void *make(uint64_t *size)
{
	void *buf;

	khup_tbl_size(NR_EXT, NR_PAGES, size);
	buf = malloc(*size);
	khup_tbl_encode(buf, 4242, PS, sample, NR_EXT, NR_PAGES, NULL);
	return buf;
}

/* Re-seal after a deliberate semantic corruption so only sanity checks fire. */
static void reseal(uint8_t *b, uint64_t size)
{
	struct khup_ext e[NR_EXT];
	uint8_t map[(NR_PAGES + 7) / 8];
	uint64_t i;
	uint32_t pid = b[12] | b[13] << 8 | b[14] << 16 | (uint32_t)b[15] << 24;

	for (i = 0; i < NR_EXT; i++)
		khup_tbl_get_ext(b, i, &e[i]);
	memcpy(map, khup_tbl_bitmap(b), sizeof(map));
	khup_tbl_encode(b, pid, PS, e, NR_EXT, NR_PAGES, map);
	(void)size;
}

/*
 * khup_bits_set()/khup_bits_count() against the bit-by-bit helpers, for
 * every start and length within a few bytes (the byte-at-a-time middle,
 * the partial bytes on either side, empty ranges).
 */
static void test_bit_ranges(void)
{
	uint8_t a[16], b[16];
	uint64_t first, n, i, c, want;
	int bad = 0;

	for (first = 0; first < 40; first++) {
		for (n = 0; first + n <= 8 * sizeof(a); n++) {
			memset(a, 0, sizeof(a));
			memset(b, 0, sizeof(b));
			khup_bits_set(a, first, n);
			for (i = first; i < first + n; i++)
				khup_bit_set(b, i);
			bad |= memcmp(a, b, sizeof(a)) != 0;
			/* Count over a pattern with holes. */
			for (i = 0; i < sizeof(a); i++)
				a[i] = (uint8_t)(i * 37 + 11);
			c = khup_bits_count(a, first, n);
			for (want = 0, i = first; i < first + n; i++)
				want += khup_bit_test(a, i);
			bad |= c != want;
		}
	}
	CHECK(!bad, "format: khup_bits_set and khup_bits_count agree with the bit-by-bit helpers for every range");
}

void test_format(const char *outdir)
{
	const char *why = NULL;
	struct khup_tbl_info info;
	struct khup_ext e;
	uint64_t size, sz, i, missed = 0;

	test_bit_ranges();
	uint8_t *b, *c;
	unsigned int bit;
	int ok;

	(void)outdir;
	CHECK(khup_crc32(0, "123456789", 9) == 0xcbf43926U,
	      "format: crc32 check value");
	b = malloc(100000);
	for (i = 0; i < 100000; i++)
		b[i] = i * 7 + (i >> 8);
	CHECK(khup_crc32(0, b, 100000) == crc32(0, b, 100000) &&
	      khup_crc32(khup_crc32(0, b, 500), b + 500, 99500) ==
	      crc32(0, b, 100000), "format: crc32 equals zlib, incremental");
	free(b);

	CHECK(KHUP_TBL_HDR_SIZE == 64 && KHUP_TBL_EXT_SIZE == 24 &&
	      sizeof(struct khup_extent) == 24 &&
	      KHUP_EXT_F_ZERO == KHUP_EXTENT_ZERO,
	      "format: sizes agree with the UAPI header");

	b = make(&size);
	CHECK(size == 64 + NR_EXT * 24 + 72, "format: table size %llu",
	      (unsigned long long)size);
	CHECK(b[0] == 'K' && b[1] == 'H' && b[2] == 'U' && b[3] == 'X' &&
	      (b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24) ==
	      KHUP_TABLE_MAGIC, "format: magic is \"KHUX\" = KHUP_TABLE_MAGIC");
	CHECK(b[64 + 24 + 8] == 0x00 && b[64 + 24 + 9] == 0x00 &&
	      b[64 + 24 + 10] == 0x04 && b[64 + 24 + 16] == 0x00 &&
	      b[64 + 24 + 17] == 0x02 && b[64 + 24 + 20] == 9,
	      "format: extent fields little endian at fixed offsets");
	ok = khup_tbl_decode(b, size, PS, &info, &why);
	CHECK(ok == 0, "format: fresh table decodes (%s)", why ? why : "ok");
	CHECK(info.pid == 4242 && info.nr_extents == NR_EXT &&
	      info.nr_pages == NR_PAGES && info.total_size == size,
	      "format: header fields round-trip");
	ok = 1;
	for (i = 0; i < NR_EXT; i++) {
		khup_tbl_get_ext(b, i, &e);
		ok &= e.va == sample[i].va && e.pfn == sample[i].pfn &&
		      e.nr == sample[i].nr && e.order == sample[i].order &&
		      e.flags == sample[i].flags;
	}
	CHECK(ok, "format: extents round-trip");
	ok = 1;
	for (i = 0; i < NR_PAGES; i++)
		ok &= khup_bit_test(khup_tbl_bitmap(b), i);
	CHECK(ok, "format: NULL bitmap means every page held");

	khup_tbl_clear_page(b, 3);
	khup_tbl_clear_page(b, 514);
	khup_tbl_update_bitmap_crc(b);
	CHECK(khup_tbl_decode(b, size, PS, &info, &why) == 0 &&
	      !khup_bit_test(khup_tbl_bitmap(b), 3) &&
	      khup_bit_test(khup_tbl_bitmap(b), 4),
	      "format: punched bitmap with updated crc decodes");
	khup_tbl_clear_page(b, 5);
	CHECK(khup_tbl_decode(b, size, PS, &info, &why) == -EINVAL &&
	      !strcmp(why, "bitmap checksum mismatch"),
	      "format: bitmap change without crc refused");
	khup_tbl_update_bitmap_crc(b);

	/* Every single-bit flip anywhere in the table must be refused. */
	c = malloc(size);
	for (i = 0; i < size; i++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(c, b, size);
			c[i] ^= 1 << bit;
			if (khup_tbl_decode(c, size, PS, &info, &why) == 0)
				missed++;
		}
	}
	CHECK(missed == 0, "format: all %llu single-bit flips detected",
	      (unsigned long long)size * 8);

	CHECK(khup_tbl_decode(b, size - 1, PS, &info, &why) == -EINVAL,
	      "format: truncated table refused (%s)", why);
	CHECK(khup_tbl_decode(b, 10, PS, &info, &why) == -EINVAL,
	      "format: header-only fragment refused (%s)", why);
	CHECK(khup_tbl_decode(b, size, 14, &info, &why) == -EINVAL,
	      "format: other page size refused (%s)", why);

#define SEM(desc, stmt) do {						\
		memcpy(c, b, size);					\
		stmt;							\
		reseal(c, size);					\
		CHECK(khup_tbl_decode(c, size, PS, &info, &why) == -EINVAL, \
		      "format: refuses %s (%s)", desc, why);		\
	} while (0)
#define EXT(n) (c + 64 + 24 * (n))
	SEM("empty extent", memset(EXT(0) + 16, 0, 4));
	SEM("unknown extent flag", EXT(0)[21] = 0x80);
	SEM("order too large", EXT(1)[20] = 40);
	SEM("unaligned va", EXT(0)[0] = 0x10);
	SEM("va range overflow", memset(EXT(3), 0xff, 8); EXT(3)[0] = 0;
	    EXT(3)[1] = 0xf0);
	SEM("zero extent with pfn", EXT(2)[8] = 1);
	SEM("zero pfn", memset(EXT(0) + 8, 0, 8));
	SEM("pfn range overflow", memset(EXT(0) + 8, 0xff, 8));
	SEM("page total mismatch", EXT(0)[16] = 4);
	free(c);

	memcpy(b + 56, "\1", 1);
	CHECK(khup_tbl_decode(b, size, PS, &info, &why) == -EINVAL,
	      "format: non-zero reserved header refused (%s)", why);
	free(b);

	CHECK(khup_tbl_size(UINT64_MAX / 8, 1, &sz) == -EOVERFLOW &&
	      khup_tbl_size(1, UINT64_MAX, &sz) == -EOVERFLOW,
	      "format: size overflow detected");
}
