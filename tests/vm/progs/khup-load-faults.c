// SPDX-License-Identifier: GPL-2.0-only
/*
 * khup-load-faults: the kernel's generic fault injection (fail-nth, with
 * failslab and fail_page_alloc armed) at module load after a kexec.
 *
 *   khup-load-faults KO BACKSTOP
 *
 * Loads KO (finit_module) with the 1st, 2nd, ... fault-injectable call of
 * the load failed: the module loader's allocations, khup_init()'s and
 * those of the restore of the incoming KHO node. The kernel tolerates
 * some failures (kmemleak falls back to its pool, trace events and slab
 * refills go on without), so a load whose fault was tolerated would go on
 * and take the node over, ending the sweep early. BACKSTOP, module
 * parameters such as "debug_fail_nth=7", makes such a load fail at one of
 * khup's own fault points instead, still before it takes anything over;
 * the sweep ends when the load no longer reaches the armed fault.
 *
 * After every failed load: no module is loaded and the incoming node
 * (/sys/kernel/debug/kho/in/sub_fdts/khup) is byte for byte as it came
 * ("claimed" is written into it at the point of no return). Then one load
 * without faults must succeed. Prints a summary; exits 0 iff every check
 * held and at least one load was failed by an injected fault.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "libtest.h"

#define IN_NODE		"/sys/kernel/debug/kho/in/sub_fdts/khup"
#define MAX_NODE	(1 << 20)
#define MAX_LOG		(256 * 1024)
/* What khup logs when its restore fails having taken nothing over. */
#define NOTHING_TAKEN	"nothing taken over, a later load tries again"
#define BACKSTOP_HIT	"khup: debug_fail_nth: injected a failure at "

static char *read_node(size_t *len)
{
	char *buf = malloc(MAX_NODE);
	int fd = open(IN_NODE, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (!buf || fd < 0)
		die("%s: %s (no khup node came over the kexec?)", IN_NODE, strerror(errno));
	*len = 0;
	while ((n = read(fd, buf + *len, MAX_NODE - *len)) > 0)
		*len += n;
	if (n < 0)
		die("%s: %s", IN_NODE, strerror(errno));
	close(fd);
	return buf;
}

/* The kernel log records written since the last call, as text. */
static const char *new_log(int kmsg)
{
	static char log[MAX_LOG];
	size_t len = 0;
	ssize_t n;

	for (;;) {
		char rec[8192];
		char *msg;

		n = read(kmsg, rec, sizeof(rec) - 1);
		/* EPIPE: records were overwritten before this read; read on */
		if (n < 0 && errno == EPIPE)
			continue;
		if (n <= 0)
			break;
		rec[n] = '\0';
		/* "prio,seq,time,flags;message\n": keep the message */
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		n = strcspn(msg, "\n") + 1;
		if (len + n < sizeof(log)) {
			memcpy(log + len, msg, n);
			len += n;
		}
	}
	log[len] = '\0';
	return log;
}

static int finit(int fd, const char *params)
{
	return syscall(SYS_finit_module, fd, params, 0) ? -errno : 0;
}

int main(int argc, char **argv)
{
	int ko, kmsg, n, err, hit, errs[256] = { 0 };
	int in_loader = 0, in_restore = 0, tolerated = 0, failed = 0;
	size_t len, len2;
	char *node, *again;
	const char *log;
	double start;

	if (argc != 3)
		die("usage: khup-load-faults KO BACKSTOP");
	ko = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (ko < 0)
		die("%s: %s", argv[1], strerror(errno));
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg < 0)
		die("/dev/kmsg: %s", strerror(errno));
	if (access("/sys/module/khup", F_OK) == 0)
		die("khup is loaded already");
	node = read_node(&len);
	start = now();

	for (n = 1; n < 1000000; n++) {
		/* The debug kernel under TCG is slow: show the pace. */
		if (n % 50 == 0)
			fprintf(stderr, "progress: load %d, %.0f s\n", n, now() - start);
		lseek(kmsg, 0, SEEK_END);
		fail_nth(n);
		err = finit(ko, argv[2]);
		hit = fail_nth_hit();
		log = new_log(kmsg);
		if (!err) {
			fail("load %d (fault %s) succeeded in spite of the backstop: the node is taken over", n,
			     hit ? "injected" : "not reached");
			fputs(log, stderr);
			return 1;
		}
		errs[-err < 256 ? -err : 0]++;
		if (access("/sys/module/khup", F_OK) == 0)
			fail("load %d failed (%s) but left the module loaded", n, strerror(-err));
		again = read_node(&len2);
		if (len2 != len || memcmp(node, again, len))
			fail("load %d failed (%s) but the incoming node changed", n, strerror(-err));
		free(again);
		if (tl_failures) {
			fputs(log, stderr);
			return 1;
		}
		if (strstr(log, BACKSTOP_HIT)) {
			if (!hit)
				break;	/* past the last fault point before it */
			tolerated++;
			continue;
		}
		if (!hit) {
			fail("load %d failed (%s) with no fault injected", n, strerror(-err));
			fputs(log, stderr);
			return 1;
		}
		failed++;
		if (strstr(log, NOTHING_TAKEN))
			in_restore++;
		else
			in_loader++;
	}
	printf("%d fault points before the backstop, in %.0f s: %d loads failed by the fault (%d in the loader or khup_init before the restore, %d in the restore, logging '" NOTHING_TAKEN "'), %d faults tolerated and the load failed at the backstop\n",
	       n - 1, now() - start, failed, in_loader, in_restore, tolerated);
	printf("errors:");
	for (int e = 1; e < 256; e++)
		if (errs[e])
			printf(" %s %d", strerrorname_np(e), errs[e]);
	printf("\nafter every failed load: no module, the incoming node unchanged\n");

	lseek(kmsg, 0, SEEK_END);
	err = finit(ko, "");
	log = new_log(kmsg);
	if (err) {
		fail("the load without faults failed: %s", strerror(-err));
		fputs(log, stderr);
		return 1;
	}
	printf("the load without faults succeeded\n");
	return failed ? 0 : 1;
}
