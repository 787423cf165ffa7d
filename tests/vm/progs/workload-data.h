/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Random fill and checksum shared by the workloads of the VM tests
 * (khup-workload.c) and of the benchmarks (bench/bench-workload.c), so both
 * verify a restore the same way.
 */
#ifndef KHUP_WORKLOAD_DATA_H
#define KHUP_WORKLOAD_DATA_H

#include <stddef.h>
#include <stdint.h>

static uint64_t rng_state;

/* xorshift64*: fast enough to fill GiBs in a TCG guest. */
static inline uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static inline void fill(unsigned char *p, size_t len)
{
	uint64_t *w = (uint64_t *)p;

	for (size_t i = 0; i < len / 8; i++)
		w[i] = rnd();
}

/* FNV-1a over 64-bit words. */
static inline uint64_t checksum(const unsigned char *p, size_t len)
{
	const uint64_t *w = (const uint64_t *)p;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len / 8; i++) {
		h ^= w[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

#endif
