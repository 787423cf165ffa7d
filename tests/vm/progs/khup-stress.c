// SPDX-License-Identifier: GPL-2.0-only
/*
 * khup-stress: concurrency stress of khup.ko for the module-stress VM test.
 *
 *   khup-stress SECONDS
 *
 * SLOTS images, each pinning its own 64-page slot of an arena whose pages
 * hold known data, most of them sealed. For SECONDS, threads at once:
 * readers (open read-back fds, read random pages, every byte compared),
 * punchers (punch random pages through plain readers), a releaser by
 * ioctl and one by netlink (release an image, create a new one in its slot,
 * pin, seal), a claimer (claim, consume a few pages, then commit or roll
 * back), a lister (LIST, INFO, TASKS, netlink dump and stats) and an rmmod
 * thread (delete_module must fail while images exist).
 *
 * Then, with every thread stopped: each image holds exactly the pages of
 * its slot that were not punched (INFO nr_pages), the module's counters
 * add up (pages pinned = pages freed + pages held; pages preserved = pages
 * held by sealed images), and after releasing everything nothing is
 * pinned, preserved or allocated. Prints one line per failure and a
 * summary; exit status 1 on any failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/khup.h>

#include "libtest.h"

#define PS 4096UL
#define SLOTS 8
#define SLOT_PAGES 64

static int dev_fd;
static unsigned char *arena;
static atomic_int stop;

static uint64_t word_of(uint64_t page, uint64_t w)
{
	return 0x73747273ULL << 32 ^ page << 12 ^ w;
}

/* Thread-local xorshift. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/* One image that lived in a slot; never freed during the run. */
struct gen {
	uint64_t id;
	int slot, sealed;
	atomic_uchar punched[SLOT_PAGES];
	atomic_int nr_punched;
	atomic_int gone;		/* released or committed */
};

static struct {
	pthread_mutex_t lock;		/* release/commit and re-create */
	struct gen *_Atomic cur;
} slots[SLOTS];

static atomic_uint_least64_t nr_reads, nr_bytes, nr_punches, nr_releases,
	nr_nl_releases, nr_claims, nr_commits, nr_rollbacks, nr_lists,
	nr_rmmods, nr_creates;
static atomic_uint name_seq;

/* Creates an image over @slot's pages, pinned, and sealed if @seal. */
static struct gen *make_image(int slot, int seal)
{
	struct khup_create c = { .size = sizeof(c) };
	struct iovec iov = {
		arena + (uint64_t)slot * SLOT_PAGES * PS, SLOT_PAGES * PS,
	};
	struct khup_pin p = { .size = sizeof(p), .nr_iovecs = 1,
			      .iovecs = (uintptr_t)&iov };
	struct khup_image_op op = { .size = sizeof(op) };
	struct gen *g = calloc(1, sizeof(*g));

	if (!g)
		die("out of memory");
	snprintf(c.name, sizeof(c.name), "st-%u", atomic_fetch_add(&name_seq, 1));
	if (ioctl(dev_fd, KHUP_IOC_CREATE, &c))
		die("CREATE: %s", strerror(errno));
	p.id = op.id = g->id = c.id;
	g->slot = slot;
	if (ioctl(dev_fd, KHUP_IOC_PIN, &p))
		die("PIN: %s", strerror(errno));
	if (p.nr_pages != SLOT_PAGES || p.offset)
		fail("PIN of image %" PRIu64 ": %llu pages at %llu", g->id,
		     (unsigned long long)p.nr_pages,
		     (unsigned long long)p.offset);
	if (seal) {
		if (ioctl(dev_fd, KHUP_IOC_SEAL, &op))
			die("SEAL: %s", strerror(errno));
		g->sealed = 1;
	}
	atomic_fetch_add(&nr_creates, 1);
	return g;
}

static int open_reader(uint64_t id, int on)
{
	struct khup_open_pages o = { .size = sizeof(o), .id = id,
				     .pid = getpid(), .flags = KHUP_FD_CLOEXEC };

	if (ioctl(on, KHUP_IOC_OPEN_PAGES, &o))
		return -errno;
	return o.fd;
}

/*
 * Opens the pages of a random slot's image for reading: the fd, or -1 if
 * the image was just released (any other error is a failure).
 */
static int open_any(uint64_t *s, struct gen **g)
{
	int fd;

	*g = slots[rnd(s) % SLOTS].cur;
	fd = open_reader((*g)->id, dev_fd);
	if (fd == -ENOENT)
		return -1;
	if (fd < 0)
		fail("OPEN_PAGES %" PRIu64 ": %s", (*g)->id, strerror(-fd));
	return fd;
}

/* Reads page @pg of @g's slot through @fd; compares every byte. */
static void read_page(struct gen *g, int fd, int pg, unsigned char *buf)
{
	ssize_t n = pread(fd, buf, PS, (uint64_t)pg * PS);
	uint64_t w, apage = (uint64_t)g->slot * SLOT_PAGES + pg;

	atomic_fetch_add(&nr_reads, 1);
	if (n < 0) {
		/* punched, lost, or the image went away */
		if (errno != EIO && errno != ENODEV && errno != ESTALE)
			fail("read image %" PRIu64 " page %d: %s", g->id, pg,
			     strerror(errno));
		return;
	}
	if (n != (ssize_t)PS) {
		fail("read image %" PRIu64 " page %d: %zd bytes", g->id, pg, n);
		return;
	}
	for (w = 0; w < PS / 8; w++)
		if (((uint64_t *)buf)[w] != word_of(apage, w)) {
			fail("read image %" PRIu64 " page %d word %" PRIu64 ": wrong data",
			     g->id, pg, w);
			return;
		}
	atomic_fetch_add(&nr_bytes, PS);
}

/*
 * Until told to stop: opens a random slot's pages and calls @work on them
 * (an image just released is skipped).
 */
static void on_slots(uint64_t s, void (*work)(struct gen *g, int fd,
					      uint64_t *s, void *ctx),
		     void *ctx)
{
	while (!stop) {
		struct gen *g;
		int fd = open_any(&s, &g);

		if (fd < 0)
			continue;
		work(g, fd, &s, ctx);
		close(fd);
	}
}

static void read_some(struct gen *g, int fd, uint64_t *s, void *buf)
{
	int i;

	for (i = 0; i < 16 && !stop; i++)
		read_page(g, fd, rnd(s) % SLOT_PAGES, buf);
}

static void *reader(void *arg)
{
	unsigned char *buf = malloc(PS);

	on_slots((uintptr_t)arg, read_some, buf);
	free(buf);
	return NULL;
}

static void punch_some(struct gen *g, int fd, uint64_t *s, void *ctx)
{
	int i;

	(void)ctx;
	for (i = 0; i < 4 && !stop; i++) {
		int pg = rnd(s) % SLOT_PAGES;

		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (uint64_t)pg * PS, PS)) {
			/* claimed, or released meanwhile */
			if (errno != EBUSY && errno != ENODEV)
				fail("punch image %" PRIu64 " page %d: %s",
				     g->id, pg, strerror(errno));
			continue;
		}
		atomic_fetch_add(&nr_punches, 1);
		if (!atomic_exchange(&g->punched[pg], 1))
			atomic_fetch_add(&g->nr_punched, 1);
	}
	usleep(1000);
}

static void *puncher(void *arg)
{
	on_slots((uintptr_t)arg, punch_some, NULL);
	return NULL;
}

/* ---- netlink ------------------------------------------------------- */

struct nl {
	int sock;
	uint16_t family;
	uint32_t seq;
};

/*
 * Sends @r, reads until DONE, an error or a message that is not part of
 * a dump; calls @fn per attribute. Returns 0 or -errno.
 */
static int nl_call(struct nl *nl, struct nlreq *r, nl_cb fn, void *ctx)
{
	static __thread char buf[32768];

	if (send(nl->sock, r, r->n.nlmsg_len, 0) < 0)
		die("netlink send: %s", strerror(errno));
	for (;;) {
		int len = recv(nl->sock, buf, sizeof(buf), 0);
		struct nlmsghdr *n = (void *)buf;

		if (len < 0)
			die("netlink recv: %s", strerror(errno));
		for (; NLMSG_OK(n, (unsigned int)len); n = NLMSG_NEXT(n, len)) {
			if (n->nlmsg_type == NLMSG_DONE)
				return 0;
			if (n->nlmsg_type == NLMSG_ERROR)
				return ((struct nlmsgerr *)NLMSG_DATA(n))->error;
			if (fn)
				nl_attrs((char *)NLMSG_DATA(n) + GENL_HDRLEN,
					 n->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN),
					 fn, ctx);
			if (!(n->nlmsg_flags & NLM_F_MULTI) &&
			    !(r->n.nlmsg_flags & NLM_F_ACK))
				return 0;
		}
	}
}

static void nl_open(struct nl *nl)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct nlreq r;

	nl->sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (nl->sock < 0 || bind(nl->sock, (void *)&sa, sizeof(sa)))
		die("netlink socket: %s", strerror(errno));
	nl_hdr(&r, ++nl->seq, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 0);
	nl_put(&r, CTRL_ATTR_FAMILY_NAME, KHUP_GENL_NAME,
	       sizeof(KHUP_GENL_NAME));
	if (nl_call(nl, &r, nl_family_cb, &nl->family) || !nl->family)
		die("family khup not found");
}

static void get_stats(struct nl *nl, uint64_t *v)
{
	struct nlreq r;
	int err;

	memset(v, 0, (KHUP_A_MAX + 1) * sizeof(*v));
	nl_hdr(&r, ++nl->seq, nl->family, KHUP_NL_CMD_STATS_GET, 0);
	err = nl_call(nl, &r, nl_stats_cb, v);
	if (err)
		die("stats: %s", strerror(-err));
}

/* ---- releasers, claimer, lister, rmmod ------------------------------ */

/* Replaces the image in @slot with a new one; 0 or -errno. */
static int replace(int slot, int by_netlink, struct nl *nl, uint64_t *s)
{
	struct gen *g;
	int err = 0;

	pthread_mutex_lock(&slots[slot].lock);
	g = slots[slot].cur;
	if (by_netlink) {
		struct nlreq r;

		nl_hdr(&r, ++nl->seq, nl->family, KHUP_NL_CMD_IMAGE_RELEASE, NLM_F_ACK);
		nl_put(&r, KHUP_A_IMAGE_ID, &g->id, 8);
		err = nl_call(nl, &r, NULL, NULL);
	} else {
		struct khup_image_op op = { .size = sizeof(op), .id = g->id };

		err = ioctl(dev_fd, KHUP_IOC_RELEASE, &op) ? -errno : 0;
	}
	if (!err) {
		atomic_store(&g->gone, 1);
		slots[slot].cur = make_image(slot, rnd(s) % 4 != 0);
	} else if (err != -EBUSY) {	/* EBUSY: claimed */
		fail("%s release of image %" PRIu64 ": %s",
		     by_netlink ? "netlink" : "ioctl", g->id, strerror(-err));
	}
	pthread_mutex_unlock(&slots[slot].lock);
	return err;
}

static void *releaser(void *arg)
{
	uint64_t s = (uintptr_t)arg;
	int by_netlink = s & 1;
	struct nl nl;

	nl_open(&nl);
	while (!stop) {
		if (!replace(rnd(&s) % SLOTS, by_netlink, &nl, &s))
			atomic_fetch_add(by_netlink ? &nr_nl_releases :
					 &nr_releases, 1);
		usleep(5000 + rnd(&s) % 10000);
	}
	close(nl.sock);
	return NULL;
}

static void *claimer(void *arg)
{
	uint64_t s = (uintptr_t)arg;
	unsigned char *buf = malloc(PS);
	int i;

	while (!stop) {
		int slot = rnd(&s) % SLOTS, fd, c;
		struct gen *g;
		struct khup_claim_op co = { .size = sizeof(co),
					    .flags = KHUP_FD_CLOEXEC };

		pthread_mutex_lock(&slots[slot].lock);
		g = slots[slot].cur;
		co.id = g->id;
		if (!g->sealed || ioctl(dev_fd, KHUP_IOC_CLAIM, &co)) {
			if (g->sealed && errno != EIO)	/* EIO: lost pages */
				fail("CLAIM %" PRIu64 ": %s", g->id,
				     strerror(errno));
			pthread_mutex_unlock(&slots[slot].lock);
			usleep(2000);
			continue;
		}
		pthread_mutex_unlock(&slots[slot].lock);
		atomic_fetch_add(&nr_claims, 1);
		c = co.fd;
		fd = open_reader(g->id, c);
		if (fd < 0) {
			fail("consuming OPEN_PAGES %" PRIu64 ": %s", g->id,
			     strerror(-fd));
			close(c);
			continue;
		}
		for (i = 0; i < 8; i++) {
			int pg = rnd(&s) % SLOT_PAGES;

			read_page(g, fd, pg, buf);
			if (fallocate(fd, FALLOC_FL_PUNCH_HOLE |
				      FALLOC_FL_KEEP_SIZE, (uint64_t)pg * PS, PS) &&
			    errno != EIO)
				fail("consuming punch %" PRIu64 ": %s", g->id,
				     strerror(errno));
		}
		close(fd);
		if (rnd(&s) % 2) {
			struct khup_image_op op = { .size = sizeof(op),
						    .id = g->id };

			pthread_mutex_lock(&slots[slot].lock);
			if (ioctl(c, KHUP_IOC_COMMIT, &op)) {
				fail("COMMIT %" PRIu64 ": %s", g->id,
				     strerror(errno));
			} else {
				atomic_store(&g->gone, 1);
				slots[slot].cur = make_image(slot, 1);
				atomic_fetch_add(&nr_commits, 1);
			}
			pthread_mutex_unlock(&slots[slot].lock);
		} else {
			atomic_fetch_add(&nr_rollbacks, 1);
		}
		close(c);
		usleep(3000);
	}
	free(buf);
	return NULL;
}

static void *lister(void *arg)
{
	uint64_t s = (uintptr_t)arg, ids[KHUP_MAX_IMAGES], v[KHUP_A_MAX + 1];
	struct khup_task_info ti[4];
	struct nl nl;

	nl_open(&nl);
	while (!stop) {
		struct khup_list l = { .size = sizeof(l),
				       .count = KHUP_MAX_IMAGES,
				       .ids = (uintptr_t)ids };
		struct nlreq r;
		unsigned int i;
		int err;

		if (ioctl(dev_fd, KHUP_IOC_LIST, &l))
			fail("LIST: %s", strerror(errno));
		else if (l.count < SLOTS - 3 || l.count > SLOTS)
			fail("LIST: %u images, %d slots", l.count, SLOTS);
		for (i = 0; i < l.count && i < KHUP_MAX_IMAGES; i++) {
			struct khup_info in = { .size = sizeof(in), .id = ids[i] };
			struct khup_tasks t = { .size = sizeof(t), .count = 4,
						.id = ids[i],
						.tasks = (uintptr_t)ti };

			if (ioctl(dev_fd, KHUP_IOC_INFO, &in) && errno != ENOENT)
				fail("INFO: %s", strerror(errno));
			if (ioctl(dev_fd, KHUP_IOC_TASKS, &t) && errno != ENOENT)
				fail("TASKS: %s", strerror(errno));
		}
		nl_hdr(&r, ++nl.seq, nl.family, KHUP_NL_CMD_IMAGE_GET, NLM_F_DUMP);
		err = nl_call(&nl, &r, NULL, NULL);
		if (err)
			fail("netlink dump: %s", strerror(-err));
		get_stats(&nl, v);
		atomic_fetch_add(&nr_lists, 1);
		usleep(1000 + rnd(&s) % 2000);
	}
	close(nl.sock);
	return NULL;
}

static void *rmmoder(void *arg)
{
	(void)arg;
	while (!stop) {
		if (!syscall(SYS_delete_module, "khup", O_NONBLOCK))
			die("rmmod succeeded while images are held");
		if (errno != EWOULDBLOCK && errno != EBUSY)
			fail("rmmod: %s", strerror(errno));
		atomic_fetch_add(&nr_rmmods, 1);
		usleep(20000);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	uint64_t v0[KHUP_A_MAX + 1], v[KHUP_A_MAX + 1], held = 0, sealed = 0;
	uint64_t pinned, freed, p, w;
	void *(*fn[])(void *) = { reader, reader, puncher, puncher, releaser,
				  releaser, claimer, lister, rmmoder };
	pthread_t th[sizeof(fn) / sizeof(fn[0])];
	double secs, t0;
	struct nl nl;
	unsigned int i;

	tl_die_word = "fatal: ";
	tl_die_status = 2;
	if (argc != 2)
		die("usage: khup-stress SECONDS");
	secs = atof(argv[1]);
	dev_fd = open("/dev/khup", O_RDWR | O_CLOEXEC);
	if (dev_fd < 0)
		die("open /dev/khup: %s", strerror(errno));
	nl_open(&nl);
	get_stats(&nl, v0);
	arena = mmap(NULL, SLOTS * SLOT_PAGES * PS, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (arena == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	/* 4 KiB folios: one page preserved per page held */
	madvise(arena, SLOTS * SLOT_PAGES * PS, MADV_NOHUGEPAGE);
	for (p = 0; p < SLOTS * SLOT_PAGES; p++)
		for (w = 0; w < PS / 8; w++)
			((uint64_t *)(arena + p * PS))[w] = word_of(p, w);
	for (i = 0; i < SLOTS; i++) {
		pthread_mutex_init(&slots[i].lock, NULL);
		slots[i].cur = make_image(i, i % 4 != 3);
	}
	t0 = now();
	for (i = 0; i < sizeof(fn) / sizeof(fn[0]); i++)
		if (pthread_create(&th[i], NULL, fn[i],
				   (void *)(uintptr_t)(0x9e3779b97f4a7c15ULL * (i + 1))))
			die("pthread_create");
	while (now() - t0 < secs)
		usleep(100000);
	stop = 1;
	for (i = 0; i < sizeof(fn) / sizeof(fn[0]); i++)
		pthread_join(th[i], NULL);

	/* Every image holds exactly its slot's pages that were not punched. */
	for (i = 0; i < SLOTS; i++) {
		struct gen *g = slots[i].cur;
		struct khup_info in = { .size = sizeof(in), .id = g->id };

		if (ioctl(dev_fd, KHUP_IOC_INFO, &in)) {
			fail("INFO of image %" PRIu64 ": %s", g->id,
			     strerror(errno));
			continue;
		}
		if (in.nr_pages + in.nr_lost != SLOT_PAGES - (uint64_t)g->nr_punched)
			fail("image %" PRIu64 " holds %llu pages (%llu lost), its slot %d minus %d punched",
			     g->id, (unsigned long long)in.nr_pages,
			     (unsigned long long)in.nr_lost, SLOT_PAGES,
			     (int)g->nr_punched);
		held += in.nr_pages;
		if (in.state == KHUP_STATE_SEALED)
			sealed += in.nr_pages;
	}
	get_stats(&nl, v);
	pinned = v[KHUP_A_STATS_PINNED] - v0[KHUP_A_STATS_PINNED];
	freed = v[KHUP_A_STATS_FREED] - v0[KHUP_A_STATS_FREED];
	printf("# after the run: %" PRIu64 " pages pinned = %" PRIu64 " freed + %" PRIu64 " held; %" PRIu64 " preserved, %" PRIu64 " held by sealed images\n",
	       pinned, freed, held, (uint64_t)v[KHUP_A_STATS_PRESERVED],
	       sealed);
	if (pinned != freed + held)
		fail("pinned %" PRIu64 " != freed %" PRIu64 " + held %" PRIu64,
		     pinned, freed, held);
	if (v[KHUP_A_STATS_PRESERVED] - v0[KHUP_A_STATS_PRESERVED] != sealed)
		fail("%" PRIu64 " pages preserved, sealed images hold %" PRIu64,
		     (uint64_t)(v[KHUP_A_STATS_PRESERVED] -
				v0[KHUP_A_STATS_PRESERVED]), sealed);

	/* Release everything: nothing pinned, preserved or allocated. */
	for (i = 0; i < SLOTS; i++) {
		struct khup_image_op op = { .size = sizeof(op),
					    .id = slots[i].cur->id };

		if (ioctl(dev_fd, KHUP_IOC_RELEASE, &op))
			fail("release %" PRIu64 ": %s", (uint64_t)op.id, strerror(errno));
	}
	get_stats(&nl, v);
	pinned = v[KHUP_A_STATS_PINNED] - v0[KHUP_A_STATS_PINNED];
	freed = v[KHUP_A_STATS_FREED] - v0[KHUP_A_STATS_FREED];
	printf("# after releasing all: %" PRIu64 " pinned, %" PRIu64 " freed, %" PRIu64 " preserved, %" PRIu64 " bytes of tables\n",
	       pinned, freed, (uint64_t)v[KHUP_A_STATS_PRESERVED],
	       (uint64_t)v[KHUP_A_STATS_KMEM_BYTES]);
	if (pinned != freed)
		fail("after releasing all: %" PRIu64 " pinned, %" PRIu64 " freed",
		     pinned, freed);
	if (v[KHUP_A_STATS_PRESERVED] != v0[KHUP_A_STATS_PRESERVED] ||
	    v[KHUP_A_STATS_KMEM_BYTES] != v0[KHUP_A_STATS_KMEM_BYTES])
		fail("after releasing all: %" PRIu64 " preserved, %" PRIu64 " bytes of tables",
		     (uint64_t)v[KHUP_A_STATS_PRESERVED],
		     (uint64_t)v[KHUP_A_STATS_KMEM_BYTES]);
	printf("%.0f s: %" PRIu64 " reads (%" PRIu64 " MiB compared), %" PRIu64 " punches, %" PRIu64 " releases by ioctl, %" PRIu64 " by netlink, %" PRIu64 " images created, %" PRIu64 " claims (%" PRIu64 " committed, %" PRIu64 " rolled back), %" PRIu64 " list rounds, %" PRIu64 " rmmod attempts refused, %d failures\n",
	       secs, (uint64_t)nr_reads, (uint64_t)nr_bytes >> 20,
	       (uint64_t)nr_punches, (uint64_t)nr_releases,
	       (uint64_t)nr_nl_releases, (uint64_t)nr_creates,
	       (uint64_t)nr_claims, (uint64_t)nr_commits,
	       (uint64_t)nr_rollbacks, (uint64_t)nr_lists,
	       (uint64_t)nr_rmmods, (int)tl_failures);
	return tl_failures ? 1 : 0;
}
