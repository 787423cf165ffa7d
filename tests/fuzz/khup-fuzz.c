// SPDX-License-Identifier: GPL-2.0-only
/*
 * khup-fuzz: a bounded, reproducible fuzzer of khup.ko (issue 11, "Proof").
 *
 *   khup-fuzz SEED OPS KO       run OPS operations from SEED; KO is the
 *                               khup.ko to load again after a reload
 *
 * Every operation is one of: an ioctl on /dev/khup (every KHUP_IOC_*) with a
 * valid structure, a valid one mutated (size, flags, reserved bytes, ids,
 * pointers, iovecs), or random bytes; an ioctl number the module does not
 * know; a read, punch or close of a read-back fd (plain or consuming) at
 * random offsets and lengths; a generic netlink request to the "khup"
 * family (valid, or random commands, flags and attributes); an rmmod while
 * images exist (must fail and change nothing) and, a few times per run,
 * a drain: every fd closed and image released, the module's counters
 * checked (pinned == freed, nothing preserved, no table memory), rmmod
 * (must succeed) and insmod.
 *
 * Pinned memory is the fuzzer's own arena (a THP range, 4 KiB pages, a
 * never-touched range that maps the zero page, a PROT_NONE range) and the
 * same arena in a ptrace-stopped child: every page has known contents, so
 * every successful read is compared byte for byte with what the page held,
 * a read that fails with EIO must cover a punched page, and a PIN reports
 * the offset the fuzzer's model of the image expects.
 *
 * An error number outside the documented set, a wrong byte, a wrong
 * offset, an image the model does not know, or a counter that does not add
 * up is a failure: printed with the operation's number, counted, and the
 * exit status is 1. The last line is a summary with the ops/s.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/khup.h>

#include "libtest.h"

#define PS 4096UL
#define ARENA_PAGES 1024	/* 4 MiB */
#define THP_PAGES 512		/* [0, 512): one 2 MiB THP range */
#define ZERO_FIRST 896		/* [896, 960): never touched (zero page) */
#define NONE_FIRST 960		/* [960, 1024): PROT_NONE */
#define MAX_IMGS 24
#define MAX_FDS 24
#define MAX_MAP 8192		/* pages per task the model follows */

static uint64_t rng;
static uint64_t op_nr;
static uint64_t nr_checked, nr_pinned;
static int dev_fd = -1;
static const char *ko_path;
static unsigned char *arena;
static unsigned char *argbuf;	/* 512 bytes before a PROT_NONE page */
static unsigned char *guard;
static pid_t child;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static int chance(int percent)
{
	return (int)below(100) < percent;
}

/* What every page of the arena holds: a function of its index. */
static uint64_t word_of(uint64_t page, uint64_t w)
{
	if (page >= ZERO_FIRST && page < NONE_FIRST)
		return 0;
	return 0x6b687570ULL << 32 ^ page << 12 ^ w;
}

/* ---- the model ---------------------------------------------------- */

struct mtask {
	pid_t pid;
	uint32_t n;		/* pages in the offset space */
	int32_t *map;		/* offset page -> arena page, -1 unknown */
	uint8_t *punched;
};

struct mimg {
	uint64_t id;
	int live, sealed, foreign;
	char name[32];
	struct mtask t[2];	/* [0] the fuzzer, [1] the child */
};

enum { FD_PLAIN, FD_CONSUMING, FD_CLAIM };

struct mfd {
	int fd, kind;
	struct mimg *img;	/* NULL if the model does not follow it */
	uint64_t id;
	pid_t pid;
};

static struct mimg imgs[MAX_IMGS];
static struct mfd fds[MAX_FDS];
static unsigned int name_seq;

static struct mtask *mtask_of(struct mimg *m, pid_t pid);

/* The task a read-back fd reads, if the model follows it. */
static struct mtask *fd_task(struct mfd *f)
{
	struct mtask *t;

	if (!f->img || !f->img->live || f->img->id != f->id)
		return NULL;
	t = mtask_of(f->img, f->pid);
	return t && t->n <= MAX_MAP && t->map ? t : NULL;
}

static struct mtask *mtask_of(struct mimg *m, pid_t pid)
{
	if (pid == getpid() || pid == 0)
		return &m->t[0];
	if (pid == child)
		return &m->t[1];
	return NULL;
}

static struct mimg *mimg_of(uint64_t id)
{
	int i;

	for (i = 0; i < MAX_IMGS; i++)
		if (imgs[i].live && imgs[i].id == id)
			return &imgs[i];
	return NULL;
}

static int nr_live(void)
{
	int i, n = 0;

	for (i = 0; i < MAX_IMGS; i++)
		n += imgs[i].live;
	return n;
}

static void mimg_forget(struct mimg *m)
{
	int i;

	for (i = 0; i < 2; i++) {
		free(m->t[i].map);
		free(m->t[i].punched);
	}
	memset(m, 0, sizeof(*m));
}

static struct mimg *mimg_add(uint64_t id, const char *name, int foreign)
{
	int i;

	for (i = 0; i < MAX_IMGS; i++)
		if (!imgs[i].live) {
			struct mimg *m = &imgs[i];

			memset(m, 0, sizeof(*m));
			m->live = 1;
			m->id = id;
			m->foreign = foreign;
			snprintf(m->name, sizeof(m->name), "%s", name);
			m->t[0].pid = getpid();
			m->t[1].pid = child;
			return m;
		}
	return NULL;
}

/* A random live image (or NULL) */
static struct mimg *any_img(void)
{
	int i, n = nr_live(), k;

	if (!n)
		return NULL;
	k = below(n);
	for (i = 0; i < MAX_IMGS; i++)
		if (imgs[i].live && !k--)
			return &imgs[i];
	return NULL;
}

/* An id: mostly a live one, else 0, a stale one, a huge one, random. */
static uint64_t pick_id(void)
{
	struct mimg *m = any_img();

	if (m && chance(75))
		return m->id;
	switch (below(4)) {
	case 0: return 0;
	case 1: return below(64);
	case 2: return ~0ULL - below(2);
	default: return rnd();
	}
}

static pid_t pick_pid(void)
{
	switch (below(8)) {
	case 0: case 1: case 2: return 0;
	case 3: case 4: return getpid();
	case 5: case 6: return child;
	default:
		return chance(50) ? 1 : (pid_t)rnd();
	}
}

/* ---- errnos ------------------------------------------------------- */

static const int ok_errnos[] = {
	ENOTTY, E2BIG, EOPNOTSUPP, EINVAL, ENOENT, EEXIST, EPERM, ESRCH,
	EFAULT, EOVERFLOW, ENOSPC, EBUSY, ENOMEM, EIO, EBADF, ESTALE,
};

static uint64_t errcount[160];
static uint64_t nr_ok, nr_err;

static void account(const char *what, int ret, int err)
{
	unsigned int i;

	if (ret >= 0) {
		nr_ok++;
		return;
	}
	nr_err++;
	if (err > 0 && err < 160)
		errcount[err]++;
	for (i = 0; i < sizeof(ok_errnos) / sizeof(ok_errnos[0]); i++)
		if (err == ok_errnos[i])
			return;
	fail("%s: undocumented error %d (%s)", what, err, strerror(err));
}

static int xioctl(int fd, unsigned long cmd, void *arg, const char *what)
{
	int ret = ioctl(fd, cmd, arg), err = errno;

	account(what, ret, err);
	errno = err;
	return ret;
}

/* ---- argument buffers and mutation --------------------------------- */

static void *arg_of(const void *s, size_t len, int mutate);

/*
 * Copies @len bytes of @s to the argument buffer and maybe mutates it.
 * A user pointer the kernel writes through (LIST, TASKS, EXTENTS) or whose
 * data says what to pin (PIN, PREPARE) is never mutated: a flipped bit
 * would point it at the fuzzer's own variables (the callers pass bad
 * pointers on purpose instead).
 */
static void *arg_keep(const void *s, size_t len, int mutate, size_t ptr_off)
{
	unsigned char *a = arg_of(s, len, mutate);

	if (a == argbuf && ptr_off)
		memcpy(a + ptr_off, (const unsigned char *)s + ptr_off, 8);
	return a;
}

static void *arg_of(const void *s, size_t len, int mutate)
{
	unsigned char *a = argbuf;
	uint32_t size;

	memset(a, 0, 512);
	memcpy(a, s, len);
	if (!mutate)
		return a;
	switch (below(8)) {
	case 0:		/* a size the kernel must refuse or accept */
		switch (below(6)) {
		case 0: size = 0; break;
		case 1: size = below(len); break;
		case 2: size = len + 8 * (1 + below(8)); break;
		case 3: size = 512; break;	/* zeros, then the guard */
		case 4: size = 512 + PS; break;	/* runs into the guard */
		default: size = rnd(); break;
		}
		memcpy(a, &size, 4);
		if (size > len && size <= 512 && chance(50))
			a[len + below(size - len)] = 1 + below(255);
		break;
	case 1:		/* flags */
		a[4 + below(4)] ^= 1 << below(8);
		break;
	case 2:		/* a random byte anywhere past size */
		a[4 + below(len - 4)] = rnd();
		break;
	case 3:		/* a random word anywhere past size */
		if (len >= 16) {
			uint64_t v = chance(50) ? rnd() : pick_id();
			size_t at = 8 + 8 * below((len - 8) / 8);

			memcpy(a + at, &v, 8);
		}
		break;
	case 4: {	/* the struct's tail in the guard page: EFAULT */
		size_t k = 1 + below(len - 1);

		return memmove(guard - k, a, k);
	}
	default:	/* a few bits anywhere */
		a[4 + below(len - 4)] ^= 1 << below(8);
		break;
	}
	return a;
}

static void *bad_ptr(void)
{
	switch (below(5)) {
	case 0: return NULL;
	case 1: return (void *)1;
	case 2: return guard;
	case 3: return (void *)0xffffffff81000000UL;
	default: return guard - 3;
	}
}

/* ---- netlink ------------------------------------------------------- */

static int nl_sock = -1;
static uint16_t nl_family;
static uint32_t nl_seq;

/*
 * Receives everything the kernel has for this socket (a dump continues
 * while we read); calls @fn on each attribute of each genl message.
 * Returns the last error (0 or -errno from NLMSG_ERROR), -EAGAIN if
 * nothing ended the exchange.
 */
static int nl_recv(nl_cb fn, void *ctx)
{
	static char buf[65536];
	int ret = -EAGAIN;

	for (;;) {
		int len = recv(nl_sock, buf, sizeof(buf), MSG_DONTWAIT);
		struct nlmsghdr *n = (void *)buf;

		if (len < 0) {
			if (errno != EAGAIN && errno != EINTR)
				fail("netlink recv: %s", strerror(errno));
			return ret;
		}
		for (; NLMSG_OK(n, (unsigned int)len); n = NLMSG_NEXT(n, len)) {
			if (n->nlmsg_type == NLMSG_DONE) {
				ret = 0;
				continue;
			}
			if (n->nlmsg_type == NLMSG_ERROR) {
				ret = ((struct nlmsgerr *)NLMSG_DATA(n))->error;
				continue;
			}
			if (fn && n->nlmsg_len >= NLMSG_LENGTH(GENL_HDRLEN))
				nl_attrs((char *)NLMSG_DATA(n) + GENL_HDRLEN,
					 n->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN),
					 fn, ctx);
			if (!(n->nlmsg_flags & NLM_F_MULTI) && ret == -EAGAIN)
				ret = 0;
		}
	}
}

static void nl_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct nlreq r;
	int err;

	if (nl_sock >= 0)
		close(nl_sock);
	nl_family = 0;
	nl_sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (nl_sock < 0 || bind(nl_sock, (void *)&sa, sizeof(sa)))
		die("netlink socket: %s", strerror(errno));
	nl_hdr(&r, ++nl_seq, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 0);
	nl_put(&r, CTRL_ATTR_FAMILY_NAME, KHUP_GENL_NAME,
	       sizeof(KHUP_GENL_NAME));
	if (send(nl_sock, &r, r.n.nlmsg_len, 0) < 0)
		die("netlink send: %s", strerror(errno));
	err = nl_recv(nl_family_cb, &nl_family);
	if (err || !nl_family)
		die("family khup not found (%d)", err);
}

struct stats {
	uint64_t v[KHUP_A_MAX + 1];
};

static void get_stats(struct stats *s)
{
	struct nlreq r;
	int err;

	memset(s, 0, sizeof(*s));
	nl_hdr(&r, ++nl_seq, nl_family, KHUP_NL_CMD_STATS_GET, 0);
	if (send(nl_sock, &r, r.n.nlmsg_len, 0) < 0)
		die("netlink send: %s", strerror(errno));
	err = nl_recv(nl_stats_cb, s->v);
	if (err)
		die("stats: %s", strerror(-err));
}

static void nl_result(const char *what, int err)
{
	if (err == -EAGAIN) {
		fail("netlink %s: no answer", what);
		return;
	}
	account(what, err, -err);
}

static void resync(const char *why);
static void *arg_of(const void *s, size_t len, int mutate);

/* One netlink request: valid, valid with a wrong id, or random. */
static void op_netlink(void)
{
	struct nlreq r;
	uint64_t id = pick_id();
	int cmd, i, n, err, release = 0;
	unsigned char junk[64];

	switch (below(6)) {
	case 0:
		nl_hdr(&r, ++nl_seq, nl_family, KHUP_NL_CMD_IMAGE_GET, NLM_F_DUMP);
		break;
	case 1:
		nl_hdr(&r, ++nl_seq, nl_family, KHUP_NL_CMD_IMAGE_GET, 0);
		nl_put(&r, KHUP_A_IMAGE_ID, &id, 8);
		break;
	case 2:
		nl_hdr(&r, ++nl_seq, nl_family, KHUP_NL_CMD_STATS_GET, 0);
		break;
	case 3:
		nl_hdr(&r, ++nl_seq, nl_family, KHUP_NL_CMD_IMAGE_RELEASE, NLM_F_ACK);
		nl_put(&r, KHUP_A_IMAGE_ID, &id, 8);
		release = 1;
		break;
	default:	/* random command, flags, attributes */
		cmd = below(8);
		nl_hdr(&r, ++nl_seq, nl_family, cmd, below(4) == 0 ? NLM_F_DUMP :
		       below(2) ? NLM_F_ACK : 0);
		r.g.version = below(3);
		n = below(5);
		for (i = 0; i < n; i++) {
			uint16_t type = below(KHUP_A_MAX + 4);
			uint16_t len = below(20);

			if (chance(10))
				type |= NLA_F_NESTED;
			if (type == KHUP_A_IMAGE_ID && chance(50)) {
				len = 8;
				memcpy(junk, &id, 8);
			} else {
				size_t k;

				for (k = 0; k < len; k++)
					junk[k] = rnd();
			}
			nl_put(&r, type, junk, len);
		}
		if (chance(10))	/* a length that lies */
			r.n.nlmsg_len = below(r.n.nlmsg_len + 16);
		release = cmd == KHUP_NL_CMD_IMAGE_RELEASE;
		break;
	}
	if (send(nl_sock, &r, r.n.nlmsg_len < sizeof(r) ? r.n.nlmsg_len :
		 sizeof(r), 0) < 0) {
		/* An empty message is refused by the socket layer. */
		if (errno != ENODATA || r.n.nlmsg_len)
			fail("netlink send: %s", strerror(errno));
		return;
	}
	err = nl_recv(NULL, NULL);
	if (err == -EAGAIN && r.n.nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
		return;	/* too short to be a request: dropped */
	if (err == -EAGAIN && !(r.n.nlmsg_flags & (NLM_F_ACK | NLM_F_DUMP)))
		err = 0;	/* a success without a reply and no ACK asked */
	/* Attribute validation reports ERANGE and EMSGSIZE too. */
	if (err == -ERANGE || err == -EMSGSIZE || err == -EACCES)
		err = -EINVAL;
	nl_result("netlink", err);
	if (release && !err)
		resync("netlink release");
}

/* ---- ioctls --------------------------------------------------------- */

static void op_create(void)
{
	struct khup_create c = { .size = sizeof(c) };
	int mutate = chance(30);
	struct khup_create *a;
	struct mimg *m = any_img();

	if (m && chance(10))
		snprintf(c.name, sizeof(c.name), "%s", m->name);
	else
		snprintf(c.name, sizeof(c.name), "fz-%u", name_seq++);
	if (chance(5))		/* a name the kernel refuses */
		c.name[below(6)] = below(2) ? ' ' : 0xff;
	a = arg_of(&c, sizeof(c), mutate);
	if (xioctl(dev_fd, KHUP_IOC_CREATE, a, "CREATE"))
		return;
	if (mutate || a != (void *)argbuf) {
		resync("mutated CREATE");
		return;
	}
	if (mimg_of(a->id))
		fail("CREATE returned the live id %" PRIu64, (uint64_t)a->id);
	if (!mimg_add(a->id, c.name, 0)) {
		/* model full: let it go again */
		struct khup_image_op op = { .size = sizeof(op), .id = a->id };

		xioctl(dev_fd, KHUP_IOC_RELEASE, &op, "RELEASE");
	}
}

/* Builds up to @max iovecs over the arena, non-overlapping, in order. */
static int make_iov(struct iovec *iov, int max, int *valid)
{
	int n = 1 + below(max), i, pg = below(ARENA_PAGES);

	*valid = 1;
	for (i = 0; i < n && pg < ARENA_PAGES; i++) {
		int len = 1 + below(chance(80) ? 8 : 200);

		if (pg + len > ARENA_PAGES)
			len = ARENA_PAGES - pg;
		iov[i].iov_base = arena + pg * PS;
		iov[i].iov_len = len * PS;
		pg += len + below(16);
	}
	n = i;
	if (n > 1 && chance(50)) {	/* any order */
		int a = below(n), b = below(n);
		struct iovec t = iov[a];

		iov[a] = iov[b];
		iov[b] = t;
	}
	if (chance(25)) {
		*valid = 0;
		i = below(n);
		switch (below(7)) {
		case 0: iov[i].iov_base = (char *)iov[i].iov_base + 1 + below(PS - 1); break;
		case 1: iov[i].iov_len += 1 + below(PS - 1); break;
		case 2: iov[i].iov_len = 0; break;
		case 3: iov[i].iov_len = ~0UL - below(PS) * PS; break;
		case 4:
			iov[i].iov_base = bad_ptr();
			*valid = iov[i].iov_base == guard;	/* FOLL_FORCE */
			break;
		case 5:	/* overlap */
			if (n > 1)
				iov[i] = iov[(i + 1) % n];
			else
				*valid = 1;
			break;
		default: iov[i].iov_base = (void *)(0x7fffffff0000UL & ~(PS - 1)); break;
		}
	}
	return n;
}

static void model_pin(struct mimg *m, pid_t pid, struct iovec *iov, int n,
		      uint64_t off, uint64_t pages)
{
	struct mtask *t = mtask_of(m, pid);
	uint64_t total = 0, k;
	int i;

	if (!t || t->n > MAX_MAP)
		return;
	if (off != (uint64_t)t->n * PS)
		fail("PIN into image %" PRIu64 " pid %d: offset %" PRIu64 ", the model says %" PRIu64,
		     m->id, pid, off, (uint64_t)t->n * PS);
	for (i = 0; i < n; i++)
		total += iov[i].iov_len / PS;
	nr_pinned += pages;
	if (total != pages)
		fail("PIN pinned %" PRIu64 " pages of %" PRIu64, pages, total);
	for (i = 0; i < n; i++)
		if ((unsigned char *)iov[i].iov_base < arena ||
		    (unsigned char *)iov[i].iov_base + iov[i].iov_len >
		    arena + ARENA_PAGES * PS)
			total = MAX_MAP + 1;	/* e.g. the guard page */
	if (t->n + total > MAX_MAP) {
		t->n = MAX_MAP + 1;	/* no longer followed */
		return;
	}
	if (!t->map) {
		t->map = malloc(MAX_MAP * sizeof(*t->map));
		t->punched = calloc(MAX_MAP, 1);
		if (!t->map || !t->punched)
			die("out of memory");
	}
	for (i = 0; i < n; i++)
		for (k = 0; k < iov[i].iov_len / PS; k++)
			t->map[t->n++] = ((unsigned char *)iov[i].iov_base -
					  arena) / PS + k;
}

static void op_pin(int prepare)
{
	static struct iovec iov[KHUP_MAX_IOVECS + 8];
	struct mimg *m = any_img();
	int valid, n = make_iov(iov, chance(90) ? 8 : 64, &valid);
	int mutate = chance(20);
	pid_t pid = pick_pid();
	void *a;

	if (prepare) {
		struct khup_prepare p = {
			.size = sizeof(p), .pid = pid, .nr_iovecs = n,
			.iovecs = (uintptr_t)iov,
		};

		if (chance(5))
			p.nr_iovecs = chance(50) ? 0 : KHUP_MAX_IOVECS + 1;
		if (chance(5))
			p.iovecs = (uintptr_t)bad_ptr();
		xioctl(dev_fd, KHUP_IOC_PREPARE,
		       arg_keep(&p, sizeof(p), mutate,
				offsetof(struct khup_prepare, iovecs)),
		       "PREPARE");
		return;
	}
	{
		struct khup_pin p = {
			.size = sizeof(p), .id = m && chance(90) ? m->id : pick_id(),
			.pid = pid, .nr_iovecs = n, .iovecs = (uintptr_t)iov,
		};
		struct khup_pin *r;

		if (chance(5))
			p.nr_iovecs = chance(50) ? 0 : KHUP_MAX_IOVECS + 1;
		if (chance(5))
			p.iovecs = (uintptr_t)bad_ptr();
		a = arg_keep(&p, sizeof(p), mutate,
			     offsetof(struct khup_pin, iovecs));
		if (xioctl(dev_fd, KHUP_IOC_PIN, a, "PIN"))
			return;
		r = a;
		if (a != (void *)argbuf || r->id != p.id || r->pid != p.pid ||
		    r->iovecs != p.iovecs || r->nr_iovecs != p.nr_iovecs) {
			resync("mutated PIN");
			m = mimg_of(r->id);
			if (m)		/* pages the model cannot place */
				m->t[0].n = m->t[1].n = MAX_MAP + 1;
			return;
		}
		m = mimg_of(p.id);
		if (!m) {
			fail("PIN into image %" PRIu64 " the model does not know",
			     (uint64_t)p.id);
			return;
		}
		if (!valid)
			fail("PIN accepted invalid iovecs");
		if (m->sealed)
			fail("PIN into sealed image %" PRIu64 " succeeded", m->id);
		model_pin(m, p.pid, iov, n, r->offset, r->nr_pages);
	}
}

static void op_image_op(int which)
{
	struct khup_image_op op = { .size = sizeof(op), .id = pick_id() };
	static const unsigned long cmd[] = { KHUP_IOC_SEAL, KHUP_IOC_RELEASE };
	static const char *const what[] = { "SEAL", "RELEASE" };
	int mutate = chance(20);
	struct mimg *m;

	if (xioctl(dev_fd, cmd[which], arg_of(&op, sizeof(op), mutate),
		   what[which]))
		return;
	m = mimg_of(op.id);
	if (mutate || !m) {
		resync(what[which]);
		return;
	}
	if (which == 0) {
		if (m->sealed)
			fail("SEAL of sealed image %" PRIu64 " succeeded", m->id);
		m->sealed = 1;
	} else {
		mimg_forget(m);
	}
}

static void op_info(void)
{
	struct khup_info in = { .size = sizeof(in), .id = pick_id() };
	struct mimg *m = any_img();
	struct khup_info *a;

	if (chance(30)) {
		in.flags = KHUP_INFO_BY_NAME;
		snprintf(in.name, sizeof(in.name), "%s",
			 m ? m->name : "fz-none");
	}
	a = arg_of(&in, sizeof(in), chance(20));
	if (xioctl(dev_fd, KHUP_IOC_INFO, a, "INFO") || a != (void *)argbuf)
		return;
	m = mimg_of(a->id);
	if (!m) {
		fail("INFO found image %" PRIu64 " the model does not know",
		     (uint64_t)a->id);
		return;
	}
	if (a->state != (m->sealed ? KHUP_STATE_SEALED : KHUP_STATE_OPEN))
		fail("INFO: image %" PRIu64 " state %u, the model says %s",
		     m->id, a->state, m->sealed ? "sealed" : "open");
}

/* Live ids according to the kernel; -1 on failure. */
static int kernel_ids(uint64_t *ids, int max)
{
	struct khup_list l = { .size = sizeof(l), .count = max,
			       .ids = (uintptr_t)ids };

	if (xioctl(dev_fd, KHUP_IOC_LIST, &l, "LIST"))
		return -1;
	if ((int)l.count > max)
		fail("LIST: %u images, more than %d", l.count, max);
	return l.count;
}

/*
 * After a call the model cannot follow (a mutated structure that still
 * did something), believe the kernel about which images exist: the
 * model's others are gone, the kernel's unknown ones are adopted.
 */
static uint64_t nr_resyncs;

static void resync(const char *why)
{
	uint64_t ids[KHUP_MAX_IMAGES];
	int n = kernel_ids(ids, KHUP_MAX_IMAGES), i, j;

	(void)why;
	nr_resyncs++;
	if (n < 0)
		return;
	for (i = 0; i < MAX_IMGS; i++) {
		struct khup_info in = { .size = sizeof(in), .id = imgs[i].id };

		if (!imgs[i].live)
			continue;
		for (j = 0; j < n && ids[j] != imgs[i].id; j++)
			;
		if (j == n)
			mimg_forget(&imgs[i]);
		else if (!ioctl(dev_fd, KHUP_IOC_INFO, &in))
			imgs[i].sealed = in.state != KHUP_STATE_OPEN;
	}
	for (j = 0; j < n; j++)
		if (!mimg_of(ids[j])) {
			struct khup_info in = { .size = sizeof(in), .id = ids[j] };
			struct mimg *m;

			xioctl(dev_fd, KHUP_IOC_INFO, &in, "INFO");
			m = mimg_add(ids[j], in.name, 1);
			if (m) {
				m->sealed = in.state != KHUP_STATE_OPEN;
				m->t[0].n = m->t[1].n = MAX_MAP + 1;
			}
		}
}

static void op_list(void)
{
	struct khup_list l = { .size = sizeof(l), .count = below(8) };
	/* Room for every image: a mutated count may ask for all of them. */
	static uint64_t ids[KHUP_MAX_IMAGES];

	l.ids = chance(80) ? (uintptr_t)ids : (uintptr_t)bad_ptr();
	if (chance(10))
		l.count = rnd();
	xioctl(dev_fd, KHUP_IOC_LIST,
	       arg_keep(&l, sizeof(l), chance(20),
			offsetof(struct khup_list, ids)), "LIST");
}

static void op_tasks_extents(int extents)
{
	/*
	 * 64 MiB, touched only where written: room for every extent a task
	 * can get in a run (a mutated count may ask for all of them).
	 */
	static unsigned char *out;
	const size_t out_size = 64UL << 20;
	uint32_t cnt = chance(90) ? below(64) : rnd();
	void *p;

	if (!out) {
		out = mmap(NULL, out_size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (out == MAP_FAILED)
			die("mmap: %s", strerror(errno));
	}
	p = chance(85) ? (void *)out : bad_ptr();

	if (!extents) {
		struct khup_tasks t = { .size = sizeof(t), .count = cnt,
					.id = pick_id(), .tasks = (uintptr_t)p };

		if ((uint64_t)cnt * sizeof(struct khup_task_info) > out_size)
			t.count = out_size / sizeof(struct khup_task_info);
		xioctl(dev_fd, KHUP_IOC_TASKS,
		       arg_keep(&t, sizeof(t), chance(20),
				offsetof(struct khup_tasks, tasks)), "TASKS");
	} else {
		struct khup_extents e = { .size = sizeof(e), .count = cnt,
					  .id = pick_id(), .pid = pick_pid(),
					  .extents = (uintptr_t)p };

		if (e.pid == 0)
			e.pid = getpid();
		if ((uint64_t)cnt * sizeof(struct khup_extent) > out_size)
			e.count = out_size / sizeof(struct khup_extent);
		xioctl(dev_fd, KHUP_IOC_EXTENTS,
		       arg_keep(&e, sizeof(e), chance(20),
				offsetof(struct khup_extents, extents)),
		       "EXTENTS");
	}
}

static void op_restore_self(void)
{
	struct khup_restore_self r = { .size = sizeof(r), .id = pick_id(),
				       .pid = pick_pid() };

	xioctl(dev_fd, KHUP_IOC_RESTORE_SELF, arg_of(&r, sizeof(r), chance(20)),
	       "RESTORE_SELF");
}

static struct mfd *fd_slot(void)
{
	int i;

	for (i = 0; i < MAX_FDS; i++)
		if (!fds[i].img && fds[i].fd <= 0)
			return &fds[i];
	return NULL;
}

static struct mfd *any_fd(int kind)
{
	int i, k = below(MAX_FDS);

	for (i = 0; i < MAX_FDS; i++) {
		struct mfd *f = &fds[(i + k) % MAX_FDS];

		if (f->fd > 0 && (kind < 0 || f->kind == kind))
			return f;
	}
	return NULL;
}

static void op_open(int consuming)
{
	struct khup_open_pages o = { .size = sizeof(o), .id = pick_id(),
				     .pid = pick_pid() };
	struct mfd *claim = consuming ? any_fd(FD_CLAIM) : NULL;
	struct mfd *f = fd_slot();
	struct khup_open_pages *a;
	int on = dev_fd;

	if (!f)
		return;
	if (claim) {
		on = claim->fd;
		if (chance(80))
			o.id = claim->img ? claim->img->id : o.id;
	}
	if (o.pid == 0 && chance(80))
		o.pid = getpid();
	if (chance(20))
		o.flags = KHUP_FD_CLOEXEC;
	a = arg_of(&o, sizeof(o), chance(15));
	if (xioctl(on, KHUP_IOC_OPEN_PAGES, a, "OPEN_PAGES"))
		return;
	if (a->fd <= 2) {
		fail("OPEN_PAGES returned fd %d", a->fd);
		return;
	}
	f->fd = a->fd;
	f->kind = claim ? FD_CONSUMING : FD_PLAIN;
	f->img = a == (void *)argbuf ? mimg_of(a->id) : NULL;
	f->id = a->id;
	f->pid = a->pid;
}

static void op_claim(void)
{
	struct khup_claim_op c = { .size = sizeof(c), .id = pick_id() };
	struct mfd *f = fd_slot();
	struct khup_claim_op *a;

	if (!f)
		return;
	a = arg_of(&c, sizeof(c), chance(15));
	if (xioctl(dev_fd, KHUP_IOC_CLAIM, a, "CLAIM"))
		return;
	if (a->fd <= 2) {
		fail("CLAIM returned fd %d", a->fd);
		return;
	}
	f->fd = a->fd;
	f->kind = FD_CLAIM;
	f->img = a == (void *)argbuf ? mimg_of(a->id) : NULL;
	f->id = a->id;
	if (f->img && !f->img->sealed)
		fail("CLAIM of an open image %" PRIu64 " succeeded", f->img->id);
}

static void close_fd(struct mfd *f)
{
	if (f->fd == dev_fd || f->fd == nl_sock)
		die("the model's fd %d is /dev/khup or the netlink socket",
		    f->fd);
	if (close(f->fd))
		fail("close(%d): %s", f->fd, strerror(errno));
	memset(f, 0, sizeof(*f));
}

/* Forgets fds whose image the model lost; the fd itself stays usable. */
static void op_commit(void)
{
	struct mfd *c = any_fd(FD_CLAIM);
	struct khup_image_op op = { .size = sizeof(op) };
	int i;

	if (!c)
		return;
	op.id = c->img && chance(85) ? c->img->id : pick_id();
	if (xioctl(c->fd, KHUP_IOC_COMMIT, arg_of(&op, sizeof(op), chance(15)),
		   "COMMIT"))
		return;
	resync("COMMIT");
	for (i = 0; i < MAX_FDS; i++)
		if (fds[i].img && !fds[i].img->live)
			fds[i].img = NULL;
}

static void op_tie(void)
{
	struct mfd *c = any_fd(FD_CLAIM);
	struct khup_claim_tie t = { .size = sizeof(t) };
	pid_t p;
	int st;

	if (!c)
		return;
	switch (below(4)) {
	case 0:			/* a file that is no userfaultfd */
		t.uffd = dev_fd;
		break;
	case 1:			/* a bad fd */
		t.uffd = 1000 + below(1000);
		break;
	case 2:			/* nothing tied that holds -1 */
		t.uffd = -1;
		t.flags = KHUP_TIE_FILLED;
		break;
	default:		/* a child ties itself and exits */
		p = fork();
		if (p < 0)
			die("fork: %s", strerror(errno));
		if (!p) {
			t.uffd = -1;
			_exit(ioctl(c->fd, KHUP_IOC_CLAIM_TIE, &t) ? errno : 0);
		}
		if (waitpid(p, &st, 0) != p || !WIFEXITED(st))
			fail("tie child did not exit");
		else
			account("CLAIM_TIE", WEXITSTATUS(st) ? -1 : 0,
				WEXITSTATUS(st));
		return;
	}
	if (chance(20))
		t.reserved = 1 + below(9);
	if (chance(10))
		t.flags |= 1U << below(32);
	/* A tie of the fuzzer itself would kill it on a roll-back. */
	if (t.uffd == -1 && !(t.flags & KHUP_TIE_FILLED))
		t.flags = KHUP_TIE_FILLED;
	xioctl(c->fd, KHUP_IOC_CLAIM_TIE, &t, "CLAIM_TIE");
}

static void op_unknown_ioctl(void)
{
	unsigned long cmd;
	unsigned char *a = argbuf;
	size_t i;

	for (i = 0; i < 512; i++)
		a[i] = rnd();
	switch (below(4)) {
	case 0:	/* a khup number the module does not have */
		cmd = _IO(KHUP_IOCTL_TYPE, KHUP_CMD_CLAIM_TIE + 1 + below(64));
		break;
	case 1:	/* a khup command with direction bits or a size */
		cmd = _IOC(below(4), KHUP_IOCTL_TYPE, below(16), below(256));
		if (cmd == _IO(KHUP_IOCTL_TYPE, cmd & 0xff))
			cmd |= _IOC(_IOC_READ, 0, 0, 8);
		break;
	case 2:	/* another type */
		cmd = _IOC(below(4), below(256), below(256), below(256));
		if (_IOC_TYPE(cmd) == KHUP_IOCTL_TYPE)
			cmd ^= _IOC(0, 1, 0, 0);
		break;
	default: /* a khup command, random bytes: a random size refuses it */
		cmd = _IO(KHUP_IOCTL_TYPE, below(KHUP_CMD_CLAIM_TIE + 1));
		if (cmd == KHUP_IOC_RELEASE || cmd == KHUP_IOC_COMMIT ||
		    cmd == KHUP_IOC_CREATE)
			cmd = KHUP_IOC_INFO;
		break;
	}
	if (xioctl(chance(80) ? dev_fd : (any_fd(-1) ? any_fd(-1)->fd : dev_fd),
		   cmd, chance(80) ? (void *)a : bad_ptr(), "random ioctl") == 0)
		resync("random ioctl");
}

/* ---- read-back fds -------------------------------------------------- */

static unsigned char rbuf[64 * 4096 + 64];


/* Checks @n bytes read at byte offset @off against the model. */
static void check_read(struct mfd *f, uint64_t off, ssize_t n, size_t len,
		       int err)
{
	struct mtask *t = fd_task(f);
	uint64_t b;

	if (!t)
		return;
	if (n < 0) {
		struct khup_info in = { .size = sizeof(in), .id = f->id };
		uint64_t p, last;

		if (err != EIO || !len)
			return;
		last = (off + len - 1) / PS;
		for (p = off / PS; p <= last && p < t->n; p++)
			if (t->punched[p])
				return;
		/* The shrinker may have freed consumed pages: lost. */
		if (!ioctl(dev_fd, KHUP_IOC_INFO, &in) && in.nr_lost)
			return;
		if (off / PS < t->n)
			fail("read of image %" PRIu64 " pid %d at %" PRIu64 "+%zu: EIO, but no page in it was punched",
			     f->img->id, f->pid, off, len);
		return;
	}
	for (b = 0; b < (uint64_t)n; b++) {
		uint64_t pos = off + b, p = pos / PS, w;
		unsigned char want;

		if (p >= t->n) {
			fail("read of image %" PRIu64 " returned bytes past its %u pages",
			     f->img->id, t->n);
			return;
		}
		if (t->punched[p]) {
			fail("read of image %" PRIu64 " pid %d page %" PRIu64 " succeeded after it was punched",
			     f->img->id, f->pid, p);
			return;
		}
		w = word_of(t->map[p], pos % PS / 8);
		want = w >> (pos % 8 * 8);
		if (rbuf[b] != want) {
			fail("read of image %" PRIu64 " pid %d offset %" PRIu64 ": byte 0x%02x, page %d of the arena holds 0x%02x",
			     f->img->id, f->pid, pos, rbuf[b], t->map[p], want);
			return;
		}
	}
	nr_checked += n;
}

static uint64_t random_offset(struct mfd *f)
{
	struct mtask *t = fd_task(f);
	uint64_t pages = t ? t->n + 2 : 64;

	switch (below(6)) {
	case 0: return below(pages * PS);
	case 1: return rnd() >> below(64);
	default: return below(pages) * PS;
	}
}

/*
 * A claim fd is no reader: the VFS refuses pread (ESPIPE, not seekable)
 * and fallocate (ENODEV, no such operation) before khup is asked. A
 * reader of an image that was released fails with ENODEV.
 */
static void account_fd(struct mfd *f, const char *what, int ret, int err)
{
	struct khup_info in = { .size = sizeof(in), .id = f->id };

	if (ret < 0 && f->kind == FD_CLAIM && (err == ESPIPE || err == ENODEV))
		ret = 0;
	if (ret < 0 && f->kind != FD_CLAIM && err == ENODEV) {
		if (!ioctl(dev_fd, KHUP_IOC_INFO, &in))
			fail("%s: ENODEV, but image %" PRIu64 " exists", what,
			     f->id);
		ret = 0;
	}
	account(what, ret, err);
}

static void op_read(void)
{
	struct mfd *f = any_fd(-1);
	uint64_t off;
	size_t len;
	ssize_t n;

	if (!f)
		return;
	off = random_offset(f);
	len = chance(50) ? (1 + below(4)) * PS : below(sizeof(rbuf) - 64);
	if (off > (uint64_t)INT64_MAX)
		off &= INT64_MAX;
	if (chance(5)) {
		n = pread(f->fd, bad_ptr(), len, off);
		account_fd(f, "pread", n, errno);
		return;
	}
	if (chance(10)) {	/* two iovecs, one of them at the end */
		struct iovec v[2] = {
			{ rbuf, len / 2 }, { rbuf + len / 2, len - len / 2 },
		};

		n = preadv(f->fd, v, 2, off);
	} else {
		n = pread(f->fd, rbuf, len, off);
	}
	account_fd(f, f->kind == FD_PLAIN ? "pread" : "pread (consuming)", n,
		   errno);
	if (f->kind != FD_CLAIM)
		check_read(f, off, n, len, errno);
}

static void op_punch(void)
{
	struct mfd *f = any_fd(-1);
	struct mtask *t;
	uint64_t off, len, p;
	int mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;

	if (!f)
		return;
	off = random_offset(f);
	len = chance(70) ? (1 + below(8)) * PS : below(40 * PS);
	if (chance(10))
		off += below(PS);
	if (chance(5))
		mode = below(0x80);
	if (off > (uint64_t)INT64_MAX / 2)
		off &= INT64_MAX / 2;
	if (fallocate(f->fd, mode, off, len)) {
		account_fd(f, f->kind == FD_PLAIN ? "punch" : "punch (consuming)",
			   -1, errno);
		return;
	}
	account("fallocate", 0, 0);
	if (f->kind != FD_PLAIN || mode != (FALLOC_FL_PUNCH_HOLE |
					     FALLOC_FL_KEEP_SIZE))
		return;
	t = fd_task(f);
	if (!t || !len)
		return;
	for (p = (off + PS - 1) / PS; (p + 1) * PS <= off + len && p < t->n; p++)
		t->punched[p] = 1;
}

static void op_close(void)
{
	struct mfd *f = any_fd(-1);

	if (f)
		close_fd(f);
}

/* ---- module reload -------------------------------------------------- */

static int module_loaded(void)
{
	return access("/sys/module/khup", F_OK) == 0;
}

static void open_dev(void)
{
	dev_fd = open("/dev/khup", O_RDWR | O_CLOEXEC);
	if (dev_fd < 0)
		die("open /dev/khup: %s", strerror(errno));
	nl_open();
}

static struct stats base;

/* With images held, rmmod must fail and change nothing. */
static void op_rmmod_busy(void)
{
	uint64_t ids[KHUP_MAX_IMAGES];
	int before, after;

	before = kernel_ids(ids, KHUP_MAX_IMAGES);
	if (before <= 0)
		return;
	if (!syscall(SYS_delete_module, "khup", O_NONBLOCK)) {
		fail("rmmod with %d images held succeeded", before);
		die("module gone with images");
	}
	if (errno != EWOULDBLOCK && errno != EBUSY)
		fail("rmmod with images held: %s", strerror(errno));
	after = kernel_ids(ids, KHUP_MAX_IMAGES);
	if (after != before)
		fail("rmmod attempt changed the image count %d -> %d", before,
		     after);
}

static void check_counters(const char *when)
{
	struct stats s;
	uint64_t pinned, freed;

	get_stats(&s);
	pinned = s.v[KHUP_A_STATS_PINNED] - base.v[KHUP_A_STATS_PINNED];
	freed = s.v[KHUP_A_STATS_FREED] - base.v[KHUP_A_STATS_FREED];
	printf("# %s: pinned %" PRIu64 " freed %" PRIu64 " preserved %" PRIu64 " kmem %" PRIu64 " bytes, read %" PRIu64 " bytes\n",
	       when, pinned, freed, (uint64_t)s.v[KHUP_A_STATS_PRESERVED],
	       (uint64_t)s.v[KHUP_A_STATS_KMEM_BYTES],
	       (uint64_t)(s.v[KHUP_A_STATS_READ_BYTES] -
			  base.v[KHUP_A_STATS_READ_BYTES]));
	if (pinned != freed)
		fail("%s: %" PRIu64 " pages pinned but %" PRIu64 " freed", when,
		     pinned, freed);
	if (s.v[KHUP_A_STATS_PRESERVED] != base.v[KHUP_A_STATS_PRESERVED])
		fail("%s: %" PRIu64 " pages still preserved (baseline %" PRIu64 ")",
		     when, (uint64_t)s.v[KHUP_A_STATS_PRESERVED],
		     (uint64_t)base.v[KHUP_A_STATS_PRESERVED]);
	if (s.v[KHUP_A_STATS_KMEM_BYTES] != base.v[KHUP_A_STATS_KMEM_BYTES])
		fail("%s: the module still holds %" PRIu64 " bytes of tables (baseline %" PRIu64 ")",
		     when, (uint64_t)s.v[KHUP_A_STATS_KMEM_BYTES],
		     (uint64_t)base.v[KHUP_A_STATS_KMEM_BYTES]);
}

/* Closes every fd, releases every image (checking the kernel agrees). */
static void drain(const char *when)
{
	uint64_t ids[KHUP_MAX_IMAGES];
	int i, n;

	for (i = 0; i < MAX_FDS; i++)
		if (fds[i].fd > 0)
			close_fd(&fds[i]);
	n = kernel_ids(ids, KHUP_MAX_IMAGES);
	for (i = 0; i < n; i++) {
		struct khup_image_op op = { .size = sizeof(op), .id = ids[i] };
		struct mimg *m = mimg_of(ids[i]);

		if (!m)
			fail("%s: image %" PRIu64 " exists but the model does not know it",
			     when, ids[i]);
		if (ioctl(dev_fd, KHUP_IOC_RELEASE, &op))
			fail("%s: release of image %" PRIu64 ": %s", when,
			     ids[i], strerror(errno));
	}
	for (i = 0; i < MAX_IMGS; i++) {
		if (imgs[i].live && !imgs[i].foreign) {
			int j;

			for (j = 0; j < n && ids[j] != imgs[i].id; j++)
				;
			if (j == n)
				fail("%s: image %" PRIu64 " of the model is not in the kernel's list",
				     when, imgs[i].id);
		}
		if (imgs[i].live)
			mimg_forget(&imgs[i]);
	}
	if (kernel_ids(ids, KHUP_MAX_IMAGES) != 0)
		fail("%s: images left after releasing all", when);
	check_counters(when);
}

static uint64_t nr_reloads;

static void reload(void)
{
	int fd;

	drain("before rmmod");
	close(dev_fd);
	close(nl_sock);
	nl_sock = -1;
	/* A reader of an fd closed just now may still hold the module. */
	if (syscall(SYS_delete_module, "khup", O_NONBLOCK)) {
		usleep(100000);
		if (syscall(SYS_delete_module, "khup", O_NONBLOCK))
			fail("rmmod with no image and no fd: %s", strerror(errno));
	}
	if (module_loaded())
		fail("khup still loaded after rmmod");
	fd = open(ko_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open %s: %s", ko_path, strerror(errno));
	if (syscall(SYS_finit_module, fd, "", 0) && errno != EEXIST)
		die("insmod %s: %s", ko_path, strerror(errno));
	close(fd);
	nr_reloads++;
	open_dev();
	get_stats(&base);
}

/* ---- set-up ---------------------------------------------------------- */

static void setup_arena(void)
{
	unsigned char *raw;
	uint64_t p, w;

	raw = mmap(NULL, (ARENA_PAGES + THP_PAGES) * PS, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	arena = (unsigned char *)(((uintptr_t)raw + THP_PAGES * PS - 1) &
				  ~(THP_PAGES * PS - 1));
	madvise(arena, THP_PAGES * PS, MADV_HUGEPAGE);
	madvise(arena + THP_PAGES * PS, (ARENA_PAGES - THP_PAGES) * PS,
		MADV_NOHUGEPAGE);
	for (p = 0; p < ARENA_PAGES; p++) {
		if (p >= ZERO_FIRST && p < NONE_FIRST)
			continue;
		for (w = 0; w < PS / 8; w++)
			((uint64_t *)(arena + p * PS))[w] = word_of(p, w);
	}
	if (mprotect(arena + NONE_FIRST * PS, (ARENA_PAGES - NONE_FIRST) * PS,
		     PROT_NONE))
		die("mprotect: %s", strerror(errno));

	argbuf = mmap(NULL, 2 * PS, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (argbuf == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	guard = argbuf + PS;
	if (mprotect(guard, PS, PROT_NONE))
		die("mprotect: %s", strerror(errno));
	argbuf = guard - 512;
}

/* A child with the same arena, stopped under our ptrace. */
static void setup_child(void)
{
	int st;

	child = fork();
	if (child < 0)
		die("fork: %s", strerror(errno));
	if (!child) {
		for (;;)
			pause();
	}
	if (ptrace(PTRACE_SEIZE, child, 0, 0) ||
	    ptrace(PTRACE_INTERRUPT, child, 0, 0) ||
	    waitpid(child, &st, 0) != child || !WIFSTOPPED(st))
		die("cannot stop the child under ptrace: %s", strerror(errno));
}

/* Every message names the operation it is about. */
static void where(void)
{
	fprintf(stderr, "op %" PRIu64 ": ", op_nr);
}

/* A fatal error kills the fuzzer's traced child too. */
static void at_die(void)
{
	if (child > 0)
		kill(child, SIGKILL);
}

int main(int argc, char **argv)
{
	uint64_t ops, seed, reload_every;
	double t0, dt;
	int e;

	tl_where = where;
	tl_at_die = at_die;
	tl_die_word = "fatal: ";
	tl_die_status = 2;
	if (argc != 4)
		die("usage: khup-fuzz SEED OPS KHUP_KO");
	seed = strtoull(argv[1], NULL, 0);
	ops = strtoull(argv[2], NULL, 0);
	ko_path = argv[3];
	rng = seed * 0x9e3779b97f4a7c15ULL | 1;
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* fds 0-2 open, so that no fd of the module's is one of them */
	while ((e = open("/dev/null", O_RDWR)) >= 0 && e < 3)
		;
	if (e > 2)
		close(e);
	setup_arena();
	setup_child();
	open_dev();
	get_stats(&base);
	/* Four drains and reloads per run, then the final drain. */
	reload_every = ops / 5 ? ops / 5 : 1;
	t0 = now();
	for (op_nr = 1; op_nr <= ops; op_nr++) {
		unsigned int k = below(100);

		if (op_nr % reload_every == 0 && op_nr < ops) {
			reload();
			continue;
		}
		if (k < 6) op_create();
		else if (k < 22) op_pin(0);
		else if (k < 24) op_pin(1);
		else if (k < 28) op_image_op(0);
		else if (k < 31) op_image_op(1);
		else if (k < 35) op_info();
		else if (k < 37) op_list();
		else if (k < 39) op_tasks_extents(0);
		else if (k < 41) op_tasks_extents(1);
		else if (k < 43) op_restore_self();
		else if (k < 48) op_open(0);
		else if (k < 50) op_open(1);
		else if (k < 53) op_claim();
		else if (k < 54) op_commit();
		else if (k < 55) op_tie();
		else if (k < 59) op_unknown_ioctl();
		else if (k < 74) op_read();
		else if (k < 82) op_punch();
		else if (k < 86) op_close();
		else if (k < 98) op_netlink();
		else op_rmmod_busy();
	}
	dt = now() - t0;
	op_nr = ops;
	drain("at the end");
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	printf("# errors returned:");
	for (e = 1; e < 160; e++)
		if (errcount[e])
			printf(" %s %" PRIu64, strerrorname_np(e) ?
			       strerrorname_np(e) : "?", errcount[e]);
	printf("\n");
	printf("# %" PRIu64 " pages pinned into followed tasks, %" PRIu64 " bytes read back and compared\n",
	       nr_pinned, nr_checked);
	printf("%" PRIu64 " ops in %.1f s (%.0f ops/s), seed %" PRIu64 ": %" PRIu64 " succeeded, %" PRIu64 " refused, %" PRIu64 " reloads, %" PRIu64 " resyncs, %d failures\n",
	       ops, dt, ops / dt, seed, nr_ok, nr_err, nr_reloads, nr_resyncs,
	       (int)tl_failures);
	return tl_failures ? 1 : 0;
}
