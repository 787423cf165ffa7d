/* SPDX-License-Identifier: GPL-2.0-only */
/* Tiny KTAP reporter shared by the host unit tests. */
#ifndef KHUP_KTAP_H
#define KHUP_KTAP_H

#include <stdio.h>

extern int ktap_n, ktap_failed;

#define CHECK(cond, ...)						\
	do {								\
		int ktap_ok_ = !!(cond);				\
		ktap_n++;						\
		if (ktap_ok_) {						\
			printf("ok %d ", ktap_n);			\
		} else {						\
			ktap_failed++;					\
			printf("not ok %d ", ktap_n);			\
		}							\
		printf(__VA_ARGS__);					\
		printf("\n");						\
		fflush(stdout);						\
		if (!ktap_ok_)						\
			printf("# failed: %s at %s:%d\n", #cond,	\
			       __FILE__, __LINE__);			\
	} while (0)

void test_fdt(const char *outdir);
void test_format(const char *outdir);
void test_blocklist(const char *outdir);
void test_tracedat(const char *outdir);
void test_out(const char *outdir);

#endif
