// SPDX-License-Identifier: GPL-2.0-only
/* Runs every host unit test and prints KTAP plus a summary line. */
#include <stdio.h>

#include "ktap.h"

int ktap_n, ktap_failed;

int main(int argc, char **argv)
{
	const char *outdir = argc > 1 ? argv[1] : ".";

	printf("KTAP version 1\n");
	test_fdt(outdir);
	test_format(outdir);
	test_blocklist(outdir);
	test_tracedat(outdir);
	test_out(outdir);
	printf("1..%d\n", ktap_n);
	printf("%d passed, %d failed\n", ktap_n - ktap_failed, ktap_failed);
	return ktap_failed ? 1 : 0;
}
