// SPDX-License-Identifier: GPL-2.0-only
/*
 * khup-secret: the privileged program of the module-exec-race test. The
 * test installs a copy setuid root; run by an unprivileged user it maps
 * SECRET_PAGES pages at SECRET_VA, fills them with a secret pattern, tells
 * fd 3 (if open) that it is ready, and exits after a short while.
 *
 *   khup-secret
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "exec-race.h"

int main(void)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	uint64_t *p, i;

	p = mmap((void *)SECRET_VA, SECRET_PAGES * 4096, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	for (i = 0; i < SECRET_PAGES * 4096 / 8; i++)
		p[i] = SECRET_WORD;
	/* fd 3 may be closed: nobody is listening then */
	(void)!write(3, geteuid() ? "u" : "r", 1);
	nanosleep(&ts, NULL);
	return 0;
}
