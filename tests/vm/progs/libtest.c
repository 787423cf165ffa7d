// SPDX-License-Identifier: GPL-2.0-only
/* libtest: see libtest.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/khup.h>

#include "libtest.h"

const char *tl_die_word = "";
int tl_die_status = 1;
void (*tl_at_die)(void);
void (*tl_where)(void);
atomic_int tl_failures;

static void vmsg(const char *word, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", program_invocation_short_name);
	if (tl_where)
		tl_where();
	fputs(word, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(tl_die_word, fmt, ap);
	va_end(ap);
	if (tl_at_die)
		tl_at_die();
	exit(tl_die_status);
}

void fail(const char *fmt, ...)
{
	va_list ap;

	atomic_fetch_add(&tl_failures, 1);
	va_start(ap, fmt);
	vmsg("FAIL: ", fmt, ap);
	va_end(ap);
}

double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

uint64_t fnv(uint64_t h, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len--)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

static int khup_fd = -1;

int dev(void)
{
	if (khup_fd < 0) {
		khup_fd = open("/dev/khup", O_RDWR | O_CLOEXEC);
		if (khup_fd < 0)
			die("open /dev/khup: %s", strerror(errno));
	}
	return khup_fd;
}

int kio(unsigned long cmd, void *arg)
{
	return ioctl(dev(), cmd, arg) ? -errno : 0;
}

uint64_t create(const char *name)
{
	struct khup_create c = { .size = sizeof(c) };
	int err;

	strncpy(c.name, name, sizeof(c.name) - 1);
	err = kio(KHUP_IOC_CREATE, &c);
	if (err)
		die("CREATE %s: %s", name, strerror(-err));
	return c.id;
}

uint64_t image_id(const char *name)
{
	struct khup_info in = { .size = sizeof(in), .flags = KHUP_INFO_BY_NAME };
	int err;

	strncpy(in.name, name, sizeof(in.name) - 1);
	err = kio(KHUP_IOC_INFO, &in);
	if (err)
		die("INFO %s: %s", name, strerror(-err));
	return in.id;
}

int open_pages(uint64_t id, pid_t pid, uint64_t *pages)
{
	struct khup_open_pages op = {
		.size = sizeof(op), .id = id, .pid = pid,
		.flags = KHUP_FD_CLOEXEC,
	};
	int err = kio(KHUP_IOC_OPEN_PAGES, &op);

	if (err)
		die("OPEN_PAGES %d: %s", pid, strerror(-err));
	*pages = op.nr_pages;
	return op.fd;
}

int pin(uint64_t id, pid_t pid, struct iovec *iov, int n, uint64_t *pages)
{
	struct khup_pin p = {
		.size = sizeof(p), .id = id, .pid = pid, .nr_iovecs = n,
		.iovecs = (uintptr_t)iov,
	};
	int err = kio(KHUP_IOC_PIN, &p);

	if (pages)
		*pages = p.nr_pages;
	return err;
}

void nl_hdr(struct nlreq *r, uint32_t seq, uint16_t type, uint8_t cmd,
	    uint16_t flags)
{
	memset(r, 0, sizeof(*r));
	r->n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	r->n.nlmsg_type = type;
	r->n.nlmsg_flags = NLM_F_REQUEST | flags;
	r->n.nlmsg_seq = seq;
	r->g.cmd = cmd;
	r->g.version = KHUP_GENL_VERSION;
}

void nl_put(struct nlreq *r, uint16_t type, const void *p, uint16_t len)
{
	struct nlattr *a = (void *)((char *)r + NLMSG_ALIGN(r->n.nlmsg_len));

	if (NLMSG_ALIGN(r->n.nlmsg_len) + NLA_HDRLEN + len > sizeof(*r))
		return;
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, p, len);
	r->n.nlmsg_len = NLMSG_ALIGN(r->n.nlmsg_len) + NLA_ALIGN(a->nla_len);
}

void nl_attrs(void *p, int len, nl_cb fn, void *ctx)
{
	struct nlattr *a = p;

	while (len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN &&
	       a->nla_len <= len) {
		fn(a, ctx);
		len -= NLA_ALIGN(a->nla_len);
		a = (void *)((char *)a + NLA_ALIGN(a->nla_len));
	}
}

void nl_family_cb(struct nlattr *a, void *ctx)
{
	if (a->nla_type == CTRL_ATTR_FAMILY_ID)
		memcpy(ctx, (char *)a + NLA_HDRLEN, 2);
}

void nl_stats_cb(struct nlattr *a, void *ctx)
{
	uint64_t *v = ctx;

	if (a->nla_type <= KHUP_A_MAX && a->nla_len == NLA_HDRLEN + 8)
		memcpy(&v[a->nla_type], (char *)a + NLA_HDRLEN, 8);
}

/* fail-nth: see libtest.h. */
static int fail_nth_fd = -1;

void fail_nth(int n)
{
	char buf[16];

	/* Opened once: opening it allocates, which must not take the fault. */
	if (fail_nth_fd < 0)
		fail_nth_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (fail_nth_fd < 0)
		die("/proc/thread-self/fail-nth: %s (a kernel with CONFIG_FAULT_INJECTION?)",
		    strerror(errno));
	snprintf(buf, sizeof(buf), "%d", n);
	if (pwrite(fail_nth_fd, buf, strlen(buf), 0) < 0)
		die("fail-nth: %s", strerror(errno));
}

/* A read left at EFAULT: the operation did not reach the armed fault. */
int fail_nth_hit(void)
{
	char buf[16] = "";
	int left;

	if (pread(fail_nth_fd, buf, sizeof(buf) - 1, 0) < 0) {
		if (errno != EFAULT)
			die("fail-nth: %s", strerror(errno));
		return 0;
	}
	left = atoi(buf);
	if (pwrite(fail_nth_fd, "0", 1, 0) < 0 && errno != EFAULT)
		die("fail-nth: %s", strerror(errno));
	return left == 0;
}
