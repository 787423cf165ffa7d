/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * libtest: what the VM tests' C programs (khup-test, khup-safety,
 * khup-stress, khup-fuzz, khup-load-faults) share: messages and failures,
 * /dev/khup calls, generic netlink requests to the khup family, hashing,
 * time and fail-nth fault injection. Linked
 * into every program of tests/vm/progs and tests/fuzz (progs Makefile).
 */
#ifndef KHUP_TEST_LIBTEST_H
#define KHUP_TEST_LIBTEST_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

/*
 * Messages are "PROGRAM: [tl_where()][WORD]message" on stderr, PROGRAM
 * the program's name. die() adds tl_die_word, runs tl_at_die and exits
 * with tl_die_status (1 unless set); fail() adds "FAIL: " and counts in
 * tl_failures (atomically: threads fail too).
 */
extern const char *tl_die_word;
extern int tl_die_status;
extern void (*tl_at_die)(void);
extern void (*tl_where)(void);
extern atomic_int tl_failures;

void die(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));
void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Monotonic seconds. */
double now(void);

/* FNV-1a, 64 bits: fnv(FNV0, buf, len), continued with the result. */
#define FNV0 0xcbf29ce484222325ULL
uint64_t fnv(uint64_t h, const void *buf, size_t len);

/* /dev/khup, opened on first use; kio() returns 0 or -errno. */
int dev(void);
int kio(unsigned long cmd, void *arg);
/* These die on an error. */
uint64_t create(const char *name);
uint64_t image_id(const char *name);
int open_pages(uint64_t id, pid_t pid, uint64_t *pages);
/* Pins @n iovecs of @pid (0: the caller): 0 or -errno; *@pages if set. */
int pin(uint64_t id, pid_t pid, struct iovec *iov, int n, uint64_t *pages);

/*
 * Fault injection on a kernel with CONFIG_FAULT_INJECTION (the debug
 * kernel). fail_nth(n) arms /proc/thread-self/fail-nth: the @n-th
 * fault-injectable call of this thread (a slab or page allocation, with
 * failslab/fail_page_alloc set to include sleeping allocations, or a user
 * copy) fails. fail_nth_hit() is true if that fault was injected, and
 * disarms it either way: reading and writing the file copy to and from
 * user memory, itself a fault point, so when the operation did not reach
 * the armed one it may fire right there (EFAULT), which disarms it too.
 */
void fail_nth(int n);
int fail_nth_hit(void);

/* A generic netlink request with room for attributes. */
struct nlreq {
	struct nlmsghdr n;
	struct genlmsghdr g;
	unsigned char buf[1024];
};

typedef void (*nl_cb)(struct nlattr *a, void *ctx);

/* A request of @cmd to family @type (khup's or GENL_ID_CTRL). */
void nl_hdr(struct nlreq *r, uint32_t seq, uint16_t type, uint8_t cmd,
	    uint16_t flags);
/* Appends an attribute; one that does not fit is left out. */
void nl_put(struct nlreq *r, uint16_t type, const void *p, uint16_t len);
/* Calls @fn on each well-formed attribute of [@p, @p + @len). */
void nl_attrs(void *p, int len, nl_cb fn, void *ctx);
/* Callbacks: the family id (@ctx: uint16_t *), the statistics (@ctx:
 * uint64_t[KHUP_A_MAX + 1], indexed by attribute). */
void nl_family_cb(struct nlattr *a, void *ctx);
void nl_stats_cb(struct nlattr *a, void *ctx);

#endif
