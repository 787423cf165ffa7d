// SPDX-License-Identifier: GPL-2.0-only
/*
 * khupd's view of the module's images and the reclaim policy.
 *
 * The module is the only authority: every scan rebuilds the view from an
 * image dump, and a release is one netlink request by id that the module
 * answers with ENOENT if the image is already gone, so nothing can be freed
 * twice. The only thing khupd remembers itself is when it first saw each
 * restored image (for the TTL); that lives in the state file, keyed by
 * boot id, image id and creation time, so a restarted khupd keeps the
 * deadlines of the one before.
 *
 * Policy, for images in state RESTORED (came across a kexec):
 *  - all pages read back (punched) by a restore: release ("restored");
 *  - not restored within the TTL: release with a warning ("abandoned");
 *  - never while a restore may be in progress: some process other than
 *    khupd holds /dev/khup or a read-back fd open, or the image's page
 *    count dropped since the previous scan.
 * OPEN and SEALED images belong to this kernel (a dump in progress, or
 * waiting for kexec) and are never touched.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "khupd.h"

#define NSEC 1000000000ULL

struct tracked {
	uint64_t id;
	uint64_t ctime_ns;
	char name[KHUP_NAME_LEN];
	uint32_t state;
	uint64_t pages;
	uint64_t max_pages;	/* most pages seen held */
	uint64_t first_seen;	/* CLOCK_BOOTTIME ns */
	bool seen;		/* in the current dump */
	int32_t claimer;	/* pid of the restore holding it, 0 if none */
	uint64_t reminded;	/* CLOCK_BOOTTIME ns of the last warning, 0 */
	bool busy_logged;
	bool release_failed;
};

static struct tracked *imgs;
static size_t nr_imgs, cap_imgs;
static char boot_id[64];
static char state_path[512];
static int lock_fd = -1;
static uint64_t page_size;

static struct tracked *find(uint64_t id, uint64_t ctime_ns)
{
	size_t i;

	for (i = 0; i < nr_imgs; i++)
		if (imgs[i].id == id && imgs[i].ctime_ns == ctime_ns)
			return &imgs[i];
	return NULL;
}

static struct tracked *add(uint64_t id, uint64_t ctime_ns)
{
	struct tracked *t;

	if (nr_imgs == cap_imgs) {
		size_t cap = cap_imgs ? cap_imgs * 2 : 16;

		t = realloc(imgs, cap * sizeof(*imgs));
		if (!t)
			return NULL;
		imgs = t;
		cap_imgs = cap;
	}
	t = &imgs[nr_imgs++];
	memset(t, 0, sizeof(*t));
	t->id = id;
	t->ctime_ns = ctime_ns;
	t->first_seen = now_ns();
	return t;
}

static void drop(struct tracked *t)
{
	*t = imgs[--nr_imgs];
}

/* Writes the state file atomically (write + rename). */
static void save_state(void)
{
	char tmp[600];
	uint64_t now = now_ns();
	size_t i;
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", state_path);
	f = fopen(tmp, "we");
	if (!f) {
		log_warn("cannot write %s: %m", tmp);
		return;
	}
	fprintf(f, "# khupd state: do not edit (see khupd(8))\n");
	fprintf(f, "version 1\npid %d\nboot_id %s\nttl %lu\n", getpid(),
		boot_id, cfg.ttl);
	for (i = 0; i < nr_imgs; i++) {
		struct tracked *t = &imgs[i];
		long left = -1;

		if (t->state == KHUP_STATE_RESTORED && cfg.ttl) {
			uint64_t dl = t->first_seen + cfg.ttl * NSEC;

			left = dl > now ? (long)((dl - now) / NSEC) : 0;
		}
		/* image ID CTIME FIRST_SEEN STATE PAGES TTL_LEFT NAME */
		fprintf(f, "image %" PRIu64 " %" PRIu64 " %" PRIu64 " %s %"
			PRIu64 " %ld %s\n", t->id, t->ctime_ns, t->first_seen,
			khup_state_name(t->state), t->pages, left, t->name);
	}
	if (fclose(f) || rename(tmp, state_path))
		log_warn("cannot write %s: %m", state_path);
}

/* Takes the first-seen times over from a previous khupd of this boot. */
static void load_state(void)
{
	char line[512], bid[64] = "";
	FILE *f = fopen(state_path, "re");
	uint64_t id, ctime_ns, first;
	int n = 0;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		struct tracked *t;

		if (sscanf(line, "boot_id %63s", bid) == 1) {
			if (strcmp(bid, boot_id)) {
				log_info("state file %s is from another boot; ignored",
					 state_path);
				break;
			}
			continue;
		}
		if (sscanf(line, "image %" SCNu64 " %" SCNu64 " %" SCNu64,
			   &id, &ctime_ns, &first) != 3 || strcmp(bid, boot_id))
			continue;
		t = add(id, ctime_ns);
		if (!t)
			break;
		t->first_seen = first;
		t->pages = UINT64_MAX;	/* unknown yet */
		n++;
	}
	fclose(f);
	if (n)
		log_info("resuming after a previous khupd: %d image(s) known since earlier in this boot",
			 n);
}

int reclaim_init(void)
{
	char path[512];
	FILE *f;

	page_size = sysconf(_SC_PAGESIZE);
	f = fopen("/proc/sys/kernel/random/boot_id", "re");
	if (!f || !fgets(boot_id, sizeof(boot_id), f)) {
		log_err("cannot read the boot id: %m");
		if (f)
			fclose(f);
		return KHUPD_EXIT_FAILURE;
	}
	fclose(f);
	boot_id[strcspn(boot_id, "\n")] = 0;

	if (mkdir(cfg.state_dir, 0755) && errno != EEXIST) {
		log_err("cannot create %s: %m", cfg.state_dir);
		return KHUPD_EXIT_FAILURE;
	}
	snprintf(path, sizeof(path), "%s/lock", cfg.state_dir);
	lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lock_fd < 0) {
		log_err("cannot open %s: %m", path);
		return KHUPD_EXIT_FAILURE;
	}
	if (flock(lock_fd, LOCK_EX | LOCK_NB)) {
		log_err("another khupd is running (%s is locked)", path);
		close(lock_fd);
		lock_fd = -1;
		return KHUPD_EXIT_RUNNING;
	}
	snprintf(state_path, sizeof(state_path), "%s/state", cfg.state_dir);
	load_state();
	return 0;
}

void reclaim_exit(void)
{
	/* The state file stays for the next khupd of this boot. */
	free(imgs);
	imgs = NULL;
	nr_imgs = cap_imgs = 0;
	if (lock_fd >= 0)
		close(lock_fd);
	lock_fd = -1;
}

static void inventory_line(const struct khup_image *img)
{
	char b[32];

	log_info("image %" PRIu64 " '%s': %s, %u task(s), %" PRIu64
		 " pages (%s), created by kernel %s, kexecs survived %" PRIu64
		 ", owner uid %u",
		 img->id, img->name, khup_state_name(img->state), img->tasks,
		 img->pages, khup_human_bytes(img->pages * page_size, b, sizeof(b)),
		 img->release, img->kexec_count, img->owner);
}

struct scan_ctx {
	bool inventory;
	int count;
};

static void scan_one(const struct khup_image *img, void *arg)
{
	struct scan_ctx *sc = arg;
	struct tracked *t = find(img->id, img->ctime_ns);

	sc->count++;
	if (sc->inventory)
		inventory_line(img);
	if (!t) {
		t = add(img->id, img->ctime_ns);
		if (!t) {
			log_err("out of memory tracking image %" PRIu64,
				img->id);
			return;
		}
		t->pages = img->pages;
		if (!sc->inventory)
			log_info("new image %" PRIu64 " '%s' (%s, %" PRIu64
				 " pages)", img->id, img->name,
				 khup_state_name(img->state), img->pages);
	}
	memcpy(t->name, img->name, sizeof(t->name));
	t->state = img->state;
	t->claimer = img->claimer;
	t->pages = img->pages;
	if (img->pages > t->max_pages)
		t->max_pages = img->pages;
	t->seen = true;
}

/* Ids khupd released itself, so their "released" events are not logged. */
static uint64_t ours[16];
static unsigned int nr_ours;

static bool is_ours(uint64_t id)
{
	unsigned int i;

	for (i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
		if (ours[i] == id)
			return true;
	return false;
}

/* Releases @t; returns true if it was dropped from the table. */
static bool release(struct tracked *t, const char *why, bool warn)
{
	char b[32];
	int err;

	if (warn)
		log_warn("image %" PRIu64 " '%s' %s; releasing it", t->id,
			 t->name, why);
	err = khupd_nl_release(t->id);
	if (err == -ENOENT) {
		log_info("image %" PRIu64 " '%s' was already released",
			 t->id, t->name);
	} else if (err) {
		if (!t->release_failed)
			log_err("releasing image %" PRIu64 " '%s': %s", t->id,
				t->name, strerror(-err));
		t->release_failed = true;
		return false;
	} else if (!t->pages) {
		ours[nr_ours++ % (sizeof(ours) / sizeof(ours[0]))] = t->id;
		log_notice("released image %" PRIu64 " '%s' (%s): its %" PRIu64
			   " pages (%s) were returned to the system as they were read back",
			   t->id, t->name, why, t->max_pages,
			   khup_human_bytes(t->max_pages * page_size, b, sizeof(b)));
	} else {
		ours[nr_ours++ % (sizeof(ours) / sizeof(ours[0]))] = t->id;
		log_notice("released image %" PRIu64 " '%s' (%s): %" PRIu64
			   " pages, %s returned to the system", t->id,
			   t->name, warn ? "not restored within the TTL" : why,
			   t->pages,
			   khup_human_bytes(t->pages * page_size, b, sizeof(b)));
	}
	drop(t);
	return true;
}

/* How often an image nobody restores is reported again. */
#define REMIND_NS	(3600ULL * NSEC)

/* Says loudly that @t holds memory nobody has restored yet. */
static void remind(struct tracked *t, uint64_t now)
{
	char b[32];

	if (t->reminded && now < t->reminded + REMIND_NS)
		return;
	t->reminded = now;
	log_warn("image %" PRIu64 " '%s' holds %" PRIu64 " pages (%s) not restored for %" PRIu64
		 " s: restore it (criu restore --kho) or release it for good (khupctl release --force)",
		 t->id, t->name, t->pages, khup_human_bytes(t->pages * page_size, b, sizeof(b)),
		 (uint64_t)((now - t->first_seen) / NSEC));
}

static void apply_policy(void)
{
	uint64_t now = now_ns();
	size_t i = 0;

	while (i < nr_imgs) {
		struct tracked *t = &imgs[i];
		bool due, dropped;

		if (t->state != KHUP_STATE_RESTORED) {
			i++;
			continue;
		}
		due = !t->pages ||
		      (cfg.ttl && now >= t->first_seen + cfg.ttl * NSEC);
		if (!due) {
			if (!t->claimer)
				remind(t, now);
			i++;
			continue;
		}
		/* The module refuses anyway; its commit releases it. */
		if (t->claimer) {
			if (!t->busy_logged)
				log_info("image %" PRIu64 " '%s' is due for release but a restore (pid %d) holds its claim; waiting",
					 t->id, t->name, t->claimer);
			t->busy_logged = true;
			i++;
			continue;
		}
		if (!t->pages) {
			dropped = release(t, "fully restored", false);
		} else {
			char why[96];

			snprintf(why, sizeof(why),
				 "was not restored within the TTL (%lus)",
				 cfg.ttl);
			dropped = release(t, why, true);
		}
		if (!dropped)
			i++;
	}
}

/*
 * Rebuilds the view from the module, applies the policy, saves the state.
 * @inventory: log one line per image (start-up, SIGHUP).
 */
int reclaim_scan(bool inventory)
{
	struct scan_ctx sc = { .inventory = inventory };
	size_t i;
	int err;

	for (i = 0; i < nr_imgs; i++)
		imgs[i].seen = false;
	err = khupd_nl_dump_images(scan_one, &sc);
	if (err) {
		log_err("image dump failed: %s", strerror(-err));
		return err;
	}
	for (i = 0; i < nr_imgs;) {
		if (!imgs[i].seen) {
			if (imgs[i].pages != UINT64_MAX)
				log_info("image %" PRIu64 " '%s' is gone",
					 imgs[i].id, imgs[i].name);
			drop(&imgs[i]);
		} else {
			i++;
		}
	}
	if (inventory)
		log_info("%d image(s) held by khup.ko; TTL for restored images %s",
			 sc.count, cfg.ttl ? "enabled" : "disabled");
	apply_policy();
	save_state();
	return 0;
}

void reclaim_event(uint32_t event, const struct khup_image *img)
{
	struct tracked *t = find(img->id, img->ctime_ns);
	char b[32];

	switch (event) {
	case KHUP_EVENT_SEALED:
		log_info("image %" PRIu64 " '%s' sealed: %u task(s), %" PRIu64
			 " pages, handed over at the next kexec", img->id,
			 img->name, img->tasks, img->pages);
		break;
	case KHUP_EVENT_RESTORED:
		log_info("image %" PRIu64 " '%s' restored from the previous kernel",
			 img->id, img->name);
		break;
	case KHUP_EVENT_RELEASED:
		if (t)
			drop(t);
		/* Our own releases are logged with their reason. */
		if (is_ours(img->id))
			break;
		log_notice("image %" PRIu64 " '%s' released by another client (khupctl, CRIU, its owner): %" PRIu64
			 " pages, %s returned", img->id, img->name, img->pages,
			 khup_human_bytes(img->bytes, b, sizeof(b)));
		break;
	case KHUP_EVENT_FREED:
		log_info("image %" PRIu64 " '%s': every page has been read back",
			 img->id, img->name);
		break;
	default:
		log_debug("unknown event %u for image %" PRIu64, event,
			  img->id);
	}
}

/* Milliseconds until the next TTL deadline or rescan, for poll(). */
int reclaim_timeout_ms(void)
{
	uint64_t now = now_ns(), next = now + cfg.interval * NSEC;
	size_t i;

	for (i = 0; i < nr_imgs; i++) {
		uint64_t dl = imgs[i].first_seen + cfg.ttl * NSEC;

		if (imgs[i].state == KHUP_STATE_RESTORED && cfg.ttl &&
		    dl > now && dl < next)
			next = dl;
	}
	return (int)((next - now + 999999) / 1000000);
}
