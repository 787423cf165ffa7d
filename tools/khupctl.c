// SPDX-License-Identifier: GPL-2.0-only
/*
 * khupctl - inspect and release khup images, print the KHO tree.
 *
 *   khupctl [--json] list
 *   khupctl [--json] show IMAGE
 *   khupctl release IMAGE|--all
 *   khupctl [--json] status
 *   khupctl [--json] fdt [--in|--out]
 *   khupctl [--json] prepare [--dry-run] [--tree] PID...
 *
 * Talks to the module directly (/dev/khup ioctls, the "khup" generic
 * netlink family for statistics, debugfs kho/ for the tree); khupd need not
 * run. See doc/tools.md.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <endian.h>
#include <libfdt.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include <linux/khup.h>

#include "khupctl.h"
#include "version.h"	/* generated: scripts/version --header */

static const char *dev_path = "/dev/khup";
const char *debugfs = "/sys/kernel/debug";
static const char *state_path = "/run/khupd/state";
bool json;
static int khup_fd = -1;

void err_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("khupctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int open_dev(void)
{
	if (khup_fd >= 0)
		return 0;
	khup_fd = open(dev_path, O_RDWR | O_CLOEXEC);
	if (khup_fd < 0) {
		int e = errno;

		err_msg("cannot open %s: %s%s", dev_path, strerror(e),
			e == ENOENT ? " (is khup.ko loaded? khupd loads it)" : "");
		return e == ENOENT ? EXIT_NOMODULE : EXIT_FAIL;
	}
	return 0;
}

int kio(unsigned long cmd, void *arg)
{
	return ioctl(khup_fd, cmd, arg) < 0 ? -errno : 0;
}

/* ---- JSON helpers ---- */

void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			/* Not UTF-8 by necessity: each byte as a code point. */
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static const char *state_name(uint32_t s)
{
	switch (s) {
	case KHUP_STATE_OPEN: return "open";
	case KHUP_STATE_SEALED: return "sealed";
	case KHUP_STATE_RESTORED: return "restored";
	}
	return "unknown";
}

void human_bytes(uint64_t b, char *buf, size_t len)
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = b;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", b);
	else
		snprintf(buf, len, "%.1f %s", v, unit[u]);
}

static void human_time(uint64_t ns, char *buf, size_t len)
{
	time_t t = ns / 1000000000ULL;
	struct tm tm;

	if (!ns || !gmtime_r(&t, &tm))
		snprintf(buf, len, "-");
	else
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- images over ioctls ---- */

static int image_ids(uint64_t **ids, uint32_t *n)
{
	struct khup_list l = { .size = sizeof(l) };
	uint32_t cap = 0;
	int err;

	*ids = NULL;
	for (;;) {
		l.count = cap;
		l.ids = (uintptr_t)*ids;
		err = kio(KHUP_IOC_LIST, &l);
		if (err)
			return err;
		if (l.count <= cap)
			break;
		cap = l.count + 8;
		free(*ids);
		*ids = calloc(cap, sizeof(**ids));
		if (!*ids)
			return -ENOMEM;
	}
	*n = l.count;
	return 0;
}

static int image_info(uint64_t id, struct khup_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	info->id = id;
	return kio(KHUP_IOC_INFO, info);
}

/* IMAGE is a name, or a decimal id ("#3" or "3") if no image has that name. */
static int lookup(const char *arg, struct khup_info *info)
{
	char *end;
	uint64_t id;

	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	info->flags = KHUP_INFO_BY_NAME;
	if (strlen(arg) < KHUP_NAME_LEN && arg[0] != '#') {
		strcpy(info->name, arg);
		if (!kio(KHUP_IOC_INFO, info))
			return 0;
	}
	if (arg[0] == '#')
		arg++;
	errno = 0;
	id = strtoull(arg, &end, 10);
	if (!errno && *arg && !*end && !image_info(id, info))
		return 0;
	return -ENOENT;
}

/* Prints an image object; leaves it open (no '}') if @open. */
static void print_image_json(const struct khup_info *in, bool open)
{
	printf("{\"id\":%llu,\"name\":", (unsigned long long)in->id);
	json_str(in->name);
	printf(",\"state\":\"%s\",\"owner\":%u,\"tasks\":%u,\"pages\":%llu,"
	       "\"bytes\":%llu,\"kexec_count\":%llu,\"created_ns\":%llu,"
	       "\"release\":",
	       state_name(in->state), in->owner_uid, in->nr_tasks,
	       (unsigned long long)in->nr_pages,
	       (unsigned long long)in->nr_pages * (uint64_t)getpagesize(),
	       (unsigned long long)in->kexec_count,
	       (unsigned long long)in->created_ns);
	json_str(in->release);
	printf(",\"lost\":%llu,\"consumed\":%llu,\"claimer\":%d",
	       (unsigned long long)in->nr_lost,
	       (unsigned long long)in->nr_consumed,
	       in->info_flags & KHUP_INFO_CLAIMED ? in->claimer : 0);
	if (!open)
		putchar('}');
}

static int cmd_list(void)
{
	uint64_t *ids;
	uint32_t n, i;
	int err, first = 1;

	err = open_dev();
	if (err)
		return err;
	err = image_ids(&ids, &n);
	if (err) {
		err_msg("listing images: %s", strerror(-err));
		return EXIT_FAIL;
	}
	if (json)
		printf("[");
	else
		printf("%-4s %-20s %-8s %5s %10s %10s %6s %-20s %s\n", "ID",
		       "NAME", "STATE", "TASKS", "PAGES", "SIZE", "KEXECS",
		       "CREATED", "RELEASE");
	for (i = 0; i < n; i++) {
		struct khup_info in;
		char sz[32], ct[32];

		if (image_info(ids[i], &in))
			continue;	/* released meanwhile */
		if (json) {
			printf("%s", first ? "" : ",");
			print_image_json(&in, false);
			first = 0;
			continue;
		}
		human_bytes(in.nr_pages * getpagesize(), sz, sizeof(sz));
		human_time(in.created_ns, ct, sizeof(ct));
		printf("%-4llu %-20s %-8s %5u %10llu %10s %6llu %-20s %s\n",
		       (unsigned long long)in.id, in.name,
		       state_name(in.state), in.nr_tasks,
		       (unsigned long long)in.nr_pages, sz,
		       (unsigned long long)in.kexec_count, ct, in.release);
	}
	if (json)
		printf("]\n");
	free(ids);
	return EXIT_OK;
}

static int cmd_show(const char *arg)
{
	struct khup_tasks t = { .size = sizeof(t) };
	struct khup_task_info *ti = NULL;
	struct khup_info in;
	char sz[32], ct[32];
	uint32_t i;
	int err;

	err = open_dev();
	if (err)
		return err;
	if (lookup(arg, &in)) {
		err_msg("no image '%s'", arg);
		return EXIT_NOIMAGE;
	}
	t.id = in.id;
	for (;;) {
		uint32_t cap = t.count;

		err = kio(KHUP_IOC_TASKS, &t);
		if (err) {
			err_msg("tasks of image %llu: %s",
				(unsigned long long)in.id, strerror(-err));
			free(ti);
			return err == -ENOENT ? EXIT_NOIMAGE : EXIT_FAIL;
		}
		if (t.count <= cap)
			break;
		free(ti);
		ti = calloc(t.count, sizeof(*ti));
		if (!ti)
			return EXIT_FAIL;
		t.tasks = (uintptr_t)ti;
	}
	if (json) {
		print_image_json(&in, true);
		printf(",\"task_list\":[");
		for (i = 0; i < t.count; i++) {
			printf("%s{\"pid\":%d,\"comm\":", i ? "," : "",
			       ti[i].pid);
			json_str(ti[i].comm);
			printf(",\"pages\":%llu,\"extents\":%llu,\"lost\":%u}",
			       (unsigned long long)ti[i].nr_pages,
			       (unsigned long long)ti[i].nr_extents,
			       ti[i].nr_lost);
		}
		printf("]}\n");
		free(ti);
		return EXIT_OK;
	}
	human_bytes(in.nr_pages * getpagesize(), sz, sizeof(sz));
	human_time(in.created_ns, ct, sizeof(ct));
	printf("image %llu '%s'\n", (unsigned long long)in.id, in.name);
	printf("  state:    %s\n", state_name(in.state));
	printf("  owner:    uid %u\n", in.owner_uid);
	printf("  created:  %s by kernel %s\n", ct, in.release);
	printf("  kexecs:   %llu\n", (unsigned long long)in.kexec_count);
	printf("  held:     %llu pages (%s)\n",
	       (unsigned long long)in.nr_pages, sz);
	if (in.nr_lost)
		printf("  lost:     %llu pages (they read as errors; the image cannot be restored)\n",
		       (unsigned long long)in.nr_lost);
	if (in.info_flags & KHUP_INFO_CLAIMED)
		printf("  claimed:  by pid %d (a restore), %llu pages consumed\n",
		       in.claimer, (unsigned long long)in.nr_consumed);
	printf("  tasks:    %u\n", in.nr_tasks);
	printf("  %8s %-16s %10s %8s %8s\n", "PID", "COMM", "PAGES", "EXTENTS",
	       "LOST");
	for (i = 0; i < t.count; i++)
		printf("  %8d %-16s %10llu %8llu %8u\n", ti[i].pid, ti[i].comm,
		       (unsigned long long)ti[i].nr_pages,
		       (unsigned long long)ti[i].nr_extents, ti[i].nr_lost);
	free(ti);
	return EXIT_OK;
}

/* release --force / --dry-run */
static bool force, dry_run;

/*
 * An image that still holds pages is the only copy of its processes'
 * memory: releasing it needs --force. --dry-run says what would happen.
 */
static int release_one(const struct khup_info *in)
{
	struct khup_image_op op = { .size = sizeof(op), .id = in->id };
	char sz[32];
	int err;

	human_bytes(in->nr_pages * getpagesize(), sz, sizeof(sz));
	if (in->info_flags & KHUP_INFO_CLAIMED) {
		err_msg("release image %llu '%s': a restore holds it (pid %d has its claim); it is released when that restore commits",
			(unsigned long long)in->id, in->name, in->claimer);
		return EXIT_FAIL;
	}
	if (dry_run) {
		printf("would release image %llu '%s' (%s): %llu pages (%s) freed for good%s\n",
		       (unsigned long long)in->id, in->name, state_name(in->state),
		       (unsigned long long)in->nr_pages, sz,
		       in->nr_pages && !force ? "; needs --force" : "");
		return EXIT_OK;
	}
	if (in->nr_pages && !force) {
		err_msg("image %llu '%s' (%s) holds %llu pages (%s) that nobody restored: releasing it frees the only copy of its processes' memory; use --force to release it anyway",
			(unsigned long long)in->id, in->name, state_name(in->state),
			(unsigned long long)in->nr_pages, sz);
		return EXIT_FAIL;
	}
	err = kio(KHUP_IOC_RELEASE, &op);
	if (err == -ENOENT) {
		/* Someone (khupd, CRIU) released it first: nothing to do. */
		printf("image %llu '%s' already released\n",
		       (unsigned long long)in->id, in->name);
		return EXIT_OK;
	}
	if (err == -EBUSY) {
		err_msg("release image %llu '%s': a restore holds it (pid %d has its claim); it is released when that restore commits",
			(unsigned long long)in->id, in->name, in->claimer);
		return EXIT_FAIL;
	}
	if (err) {
		err_msg("release image %llu '%s': %s",
			(unsigned long long)in->id, in->name, strerror(-err));
		return EXIT_FAIL;
	}
	printf("released image %llu '%s': %llu pages (%s) returned\n",
	       (unsigned long long)in->id, in->name,
	       (unsigned long long)in->nr_pages, sz);
	return EXIT_OK;
}

static int cmd_release(const char *arg)
{
	struct khup_info in;
	uint64_t *ids;
	uint32_t n, i;
	int err, rc = EXIT_OK;

	err = open_dev();
	if (err)
		return err;
	if (strcmp(arg, "--all")) {
		if (lookup(arg, &in)) {
			err_msg("no image '%s'", arg);
			return EXIT_NOIMAGE;
		}
		return release_one(&in);
	}
	err = image_ids(&ids, &n);
	if (err) {
		err_msg("listing images: %s", strerror(-err));
		return EXIT_FAIL;
	}
	for (i = 0; i < n; i++)
		if (!image_info(ids[i], &in) && release_one(&in))
			rc = EXIT_FAIL;
	if (!n)
		printf("no images\n");
	free(ids);
	return rc;
}

/* ---- status: statistics over generic netlink ---- */

static const struct {
	int attr;
	const char *name;
} stats_attrs[] = {
	{ KHUP_A_STATS_PINNED, "pinned_pages" },
	{ KHUP_A_STATS_PRESERVED, "preserved_pages" },
	{ KHUP_A_STATS_RESTORED, "restored_pages" },
	{ KHUP_A_STATS_FREED, "freed_pages" },
	{ KHUP_A_STATS_CMA_MIGRATED, "cma_migrated_pages" },
	{ KHUP_A_STATS_PIN_NS, "pin_ns" },
	{ KHUP_A_STATS_SEAL_NS, "seal_ns" },
	{ KHUP_A_STATS_RESTORE_NS, "restore_ns" },
	{ KHUP_A_STATS_READ_BYTES, "read_bytes" },
	{ KHUP_A_STATS_READ_NS, "read_ns" },
	{ KHUP_A_STATS_CONSUMED, "consumed_pages" },
	{ KHUP_A_STATS_COMMIT_NS, "commit_ns" },
	{ KHUP_A_STATS_PREPARED, "prepared_pages" },
	{ KHUP_A_STATS_PREPARE_MIGRATED, "prepare_migrated_pages" },
	{ KHUP_A_STATS_KMEM_BYTES, "kmem_bytes" },
	{ KHUP_A_STATS_PREPARE_NS, "prepare_ns" },
	{ KHUP_A_STATS_HELD, "held_pages" },
	{ KHUP_A_STATS_CHARGED, "charged_pages" },
	{ KHUP_A_STATS_SNAPSHOT, "snapshot_pages" },
	{ KHUP_A_STATS_SNAPSHOT_NS, "snapshot_ns" },
};
#define NR_STATS (sizeof(stats_attrs) / sizeof(stats_attrs[0]))

struct stats {
	uint64_t v[NR_STATS];
	bool have;
};

static int stats_cb(struct nl_msg *msg, void *arg)
{
	struct stats *st = arg;
	struct nlattr *tb[KHUP_A_MAX + 1];
	size_t i;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, KHUP_A_MAX, NULL))
		return NL_SKIP;
	for (i = 0; i < NR_STATS; i++)
		if (tb[stats_attrs[i].attr])
			st->v[i] = nla_get_u64(tb[stats_attrs[i].attr]);
	st->have = true;
	return NL_OK;
}

static int get_stats(struct stats *st)
{
	struct nl_sock *sk;
	struct nl_msg *msg = NULL;
	int family, err;

	memset(st, 0, sizeof(*st));
	sk = nl_socket_alloc();
	if (!sk)
		return -ENOMEM;
	err = genl_connect(sk);
	if (err)
		goto out;
	family = genl_ctrl_resolve(sk, KHUP_GENL_NAME);
	if (family < 0) {
		err = family;
		goto out;
	}
	msg = nlmsg_alloc();
	if (!msg) {
		err = -NLE_NOMEM;
		goto out;
	}
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, 0,
			 KHUP_NL_CMD_STATS_GET, KHUP_GENL_VERSION)) {
		err = -NLE_NOMEM;
		goto out;
	}
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, stats_cb, st);
	err = nl_send_auto(sk, msg);
	if (err < 0)
		goto out;
	err = nl_recvmsgs_default(sk);
	if (!err)
		err = nl_wait_for_ack(sk);
out:
	nlmsg_free(msg);
	nl_socket_free(sk);
	if (err < 0) {
		err_msg("khup netlink statistics: %s", nl_geterror(err));
		return -EIO;
	}
	return 0;
}

/* The daemon's state file: "key value" lines, then "image ..." lines. */
static bool daemon_running(pid_t *pid, unsigned long *ttl)
{
	FILE *f = fopen(state_path, "r");
	char line[256];
	bool alive = false;

	*pid = 0;
	*ttl = 0;
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "pid %d", pid) == 1)
			continue;
		sscanf(line, "ttl %lu", ttl);
	}
	fclose(f);
	if (*pid > 0) {
		char p[64];

		snprintf(p, sizeof(p), "/proc/%d/comm", *pid);
		f = fopen(p, "r");
		if (f) {
			alive = fgets(line, sizeof(line), f) &&
				!strncmp(line, "khupd", 5);
			fclose(f);
		}
	}
	return alive;
}

static int cmd_status(void)
{
	bool loaded = access("/sys/module/khup", F_OK) == 0;
	char path[512];
	bool kho_out, kho_in, node_out;
	unsigned long ttl;
	struct stats st = { 0 };
	uint64_t *ids = NULL;
	uint32_t nimg = 0;
	bool daemon;
	pid_t dpid;
	size_t i;

	snprintf(path, sizeof(path), "%s/kho/out", debugfs);
	kho_out = access(path, F_OK) == 0;
	snprintf(path, sizeof(path), "%s/kho/in", debugfs);
	kho_in = access(path, F_OK) == 0;
	snprintf(path, sizeof(path), "%s/kho/out/sub_fdts/%s", debugfs,
		 KHUP_KHO_NODE);
	node_out = access(path, F_OK) == 0;
	daemon = daemon_running(&dpid, &ttl);
	if (loaded) {
		if (!open_dev() && image_ids(&ids, &nimg))
			nimg = 0;
		get_stats(&st);
	}
	if (json) {
		printf("{\"module_loaded\":%s,\"kho_out\":%s,\"kho_in\":%s,"
		       "\"node_published\":%s,\"images\":%u,\"daemon\":",
		       loaded ? "true" : "false", kho_out ? "true" : "false",
		       kho_in ? "true" : "false",
		       node_out ? "true" : "false", nimg);
		if (daemon)
			printf("{\"pid\":%d,\"ttl\":%lu}", dpid, ttl);
		else
			printf("null");
		printf(",\"stats\":");
		if (st.have) {
			putchar('{');
			for (i = 0; i < NR_STATS; i++)
				printf("%s\"%s\":%llu", i ? "," : "",
				       stats_attrs[i].name,
				       (unsigned long long)st.v[i]);
			putchar('}');
		} else {
			printf("null");
		}
		printf("}\n");
	} else {
		printf("module:      %s\n", loaded ? "loaded" : "not loaded");
		printf("KHO:         %s%s\n",
		       kho_out ? "enabled" : "not visible (kho=on? debugfs?)",
		       kho_in ? ", booted by kexec with a handover" : "");
		printf("khup node:   %s\n", node_out ?
		       "published for the next kexec" : "not published");
		printf("images:      %u\n", nimg);
		if (daemon)
			printf("khupd:       running, pid %d, ttl %lus\n", dpid,
			       ttl);
		else
			printf("khupd:       not running\n");
		if (st.have) {
			printf("statistics:\n");
			for (i = 0; i < NR_STATS; i++)
				printf("  %-20s %llu\n", stats_attrs[i].name,
				       (unsigned long long)st.v[i]);
		}
	}
	free(ids);
	return loaded ? EXIT_OK : EXIT_NOMODULE;
}

/* ---- fdt: the KHO tree from debugfs with libfdt ---- */

static void *read_file(const char *path, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((r = read(fd, buf + n, cap - n)) > 0) {
		n += r;
		if (n == cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				close(fd);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
	}
	close(fd);
	if (r < 0) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

static bool printable(const char *s, int len)
{
	int i;

	if (len < 1 || s[len - 1])
		return false;
	for (i = 0; i < len - 1; i++)
		if ((s[i] < 0x20 || s[i] > 0x7e) && s[i])
			return false;
	return len > 1 && s[0];
}

/*
 * KHO's own properties (root "preserved-memory-map", a sub-tree's
 * "preserved-data" and "blob-size", memblock's "start" and "size") are
 * native-endian u64s; everything else follows the FDT convention of
 * big-endian cells.
 */
static bool native_prop(const char *name)
{
	return !strcmp(name, "preserved-memory-map") ||
	       !strcmp(name, "preserved-data") ||
	       !strcmp(name, "blob-size") || !strcmp(name, "start") ||
	       !strcmp(name, "size");
}

static uint64_t prop_u64(const void *p, int len, bool native)
{
	uint64_t v64;
	uint32_t v32;

	if (len == 8) {
		memcpy(&v64, p, 8);
		return native ? v64 : be64toh(v64);
	}
	if (len == 4) {
		memcpy(&v32, p, 4);
		return native ? v32 : be32toh(v32);
	}
	return 0;
}

static void indent(int depth)
{
	int i;

	for (i = 0; i < depth; i++)
		fputs("    ", stdout);
}

/* Prints one property: "name = value". */
static void print_prop(const char *name, const void *val, int len, int depth)
{
	bool is_size = !strcmp(name, "size") || !strcmp(name, "blob-size") ||
		       !strcmp(name, "table-size");
	int i;

	if (json) {
		json_str(name);
		putchar(':');
		if (printable(val, len))
			json_str(val);
		else if (len == 4 || len == 8)
			printf("%llu", (unsigned long long)
			       prop_u64(val, len, native_prop(name)));
		else if (len == 0)
			printf("true");
		else
			printf("\"<%d bytes>\"", len);
		return;
	}
	indent(depth);
	printf("%s", name);
	if (!len) {
		putchar('\n');
		return;
	}
	printf(" = ");
	if (printable(val, len)) {
		printf("\"%s\"\n", (const char *)val);
	} else if (len == 4 || len == 8) {
		uint64_t v = prop_u64(val, len, native_prop(name));

		if (is_size) {
			char b[32];

			human_bytes(v, b, sizeof(b));
			printf("%llu (%s)\n", (unsigned long long)v, b);
		} else if (!strcmp(name, "start") ||
			   !strcmp(name, "preserved-data") ||
			   !strcmp(name, "preserved-memory-map") ||
			   !strcmp(name, "table")) {
			printf("0x%llx\n", (unsigned long long)v);
		} else {
			printf("%llu\n", (unsigned long long)v);
		}
	} else {
		printf("<%d bytes:", len);
		for (i = 0; i < len && i < 16; i++)
			printf(" %02x", ((const unsigned char *)val)[i]);
		printf("%s>\n", len > 16 ? " ..." : "");
	}
}

/* Prints node @off of @fdt and everything under it. */
static void print_node(const void *fdt, int off, const char *name, int depth)
{
	int prop, child, len, n = 0;

	if (json) {
		putchar('{');
		json_str("name");
		putchar(':');
		json_str(name);
	} else {
		indent(depth);
		printf("%s {\n", name);
	}
	fdt_for_each_property_offset(prop, fdt, off) {
		const char *pname;
		const void *val = fdt_getprop_by_offset(fdt, prop, &pname,
							&len);

		if (!val)
			continue;
		if (json)
			putchar(',');
		print_prop(pname, val, len, depth + 1);
	}
	if (json)
		printf(",\"children\":[");
	fdt_for_each_subnode(child, fdt, off) {
		if (json && n++)
			putchar(',');
		print_node(fdt, child, fdt_get_name(fdt, child, NULL),
			   depth + 1);
	}
	if (json) {
		printf("]}");
	} else {
		indent(depth);
		printf("}\n");
	}
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Prints the root FDT's compatible and one entry per sub tree: the sub
 * trees are taken from sub_fdts/ (the root blob in debugfs is sized when
 * KHO starts and may be truncated after nodes were added). A sub tree that
 * is not an FDT is shown as a blob.
 */
static int cmd_fdt(const char *dir)
{
	char path[512], **names = NULL;
	size_t len, nnames = 0, i;
	struct dirent *de;
	void *root;
	DIR *d;
	int rc = EXIT_OK;

	snprintf(path, sizeof(path), "%s/kho/%s/sub_fdts", debugfs, dir);
	d = opendir(path);
	if (!d) {
		err_msg("no KHO tree at %s: %s%s", path, strerror(errno),
			!strcmp(dir, "in") ? " (this boot did not come from a "
			"kexec with KHO)" : " (boot with kho=on; is debugfs "
			"mounted?)");
		return EXIT_NOKHO;
	}
	while ((de = readdir(d))) {
		char **nn;

		if (de->d_name[0] == '.')
			continue;
		nn = realloc(names, (nnames + 1) * sizeof(*names));
		if (!nn)
			break;
		names = nn;
		names[nnames++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, nnames, sizeof(*names), name_cmp);

	snprintf(path, sizeof(path), "%s/kho/%s/fdt", debugfs, dir);
	root = read_file(path, &len);
	if (json) {
		printf("{\"tree\":\"%s\",\"compatible\":", dir);
	} else {
		printf("kho/%s {\n", dir);
	}
	if (root && len >= sizeof(struct fdt_header) &&
	    !fdt_check_header(root) && fdt_totalsize(root) <= len) {
		const char *c = fdt_getprop(root, 0, "compatible", NULL);

		if (json)
			json_str(c ? c : "");
		else
			printf("    compatible = \"%s\"\n", c ? c : "");
	} else if (json) {
		printf("null");
	} else if (root && len >= sizeof(struct fdt_header) &&
		   !fdt_check_header(root)) {
		/*
		 * kho/out/fdt is a debugfs blob sized when KHO started; the
		 * root grows as sub trees are added, so it reads truncated.
		 */
		printf("    (root blob in debugfs truncated: %zu of %u bytes)\n",
		       len, fdt_totalsize(root));
	} else {
		printf("    (root blob not readable as an FDT)\n");
	}
	free(root);
	if (json)
		printf(",\"nodes\":[");
	for (i = 0; i < nnames; i++) {
		void *blob;

		snprintf(path, sizeof(path), "%s/kho/%s/sub_fdts/%s", debugfs,
			 dir, names[i]);
		blob = read_file(path, &len);
		if (json && i)
			putchar(',');
		if (blob && len >= sizeof(struct fdt_header) &&
		    !fdt_check_header(blob) && fdt_totalsize(blob) <= len) {
			print_node(blob, 0, names[i], 1);
		} else if (json) {
			printf("{\"name\":");
			json_str(names[i]);
			printf(",\"blob_bytes\":%zu}", blob ? len : 0);
		} else {
			printf("    %s: blob of %zu bytes (not an FDT)\n",
			       names[i], blob ? len : 0);
		}
		free(blob);
		free(names[i]);
	}
	free(names);
	if (json)
		printf("]}\n");
	else
		printf("}\n");
	return rc;
}

static void usage(FILE *f)
{
	fputs("Usage: khupctl [OPTIONS] COMMAND [ARGS]\n"
	      "Inspect and release khup images; print the KHO handover tree.\n"
	      "\n"
	      "Commands:\n"
	      "  list                  one line per image held by khup.ko\n"
	      "  show IMAGE            an image and its tasks (IMAGE: name or id)\n"
	      "  release [--force] [--dry-run] IMAGE|--all\n"
	      "                        release an image (or all): unpin/free its\n"
	      "                        pages, withdraw it from KHO; an image that\n"
	      "                        still holds pages needs --force (they are\n"
	      "                        the only copy of its processes' memory);\n"
	      "                        --dry-run only says what would be freed\n"
	      "  status                module, KHO, daemon and statistics\n"
	      "  fdt [--in|--out]      print the KHO tree (default --out: what\n"
	      "                        the next kexec carries; --in: what this\n"
	      "                        boot received)\n"
	      "  prepare [--dry-run] [--tree] PID...\n"
	      "                        move the processes' pages out of KHO\n"
	      "                        scratch while they run, so the dump's\n"
	      "                        pin has little to migrate (--tree: and\n"
	      "                        their descendants; --dry-run: only report\n"
	      "                        the scratch size and their share in it)\n"
	      "\n"
	      "Options:\n"
	      "  -j, --json            machine-readable output\n"
	      "      --device PATH     khup device (default /dev/khup)\n"
	      "      --debugfs DIR     debugfs mount (default /sys/kernel/debug)\n"
	      "  -h, --help            this text\n"
	      "  -V, --version         print the version\n"
	      "\n"
	      "Exit status: 0 success, 1 an operation failed, 2 usage error,\n"
	      "3 khup.ko not loaded, 4 no such image, 5 no KHO tree.\n"
	      "See khupctl(8).\n", f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "device", required_argument, NULL, 'D' },
		{ "debugfs", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd;
	int c, i;

	/* Options may come before or after the command. */
	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j"))
			json = true;
	while ((c = getopt_long(argc, argv, "+jhV", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			break;
		case 'D':
			dev_path = optarg;
			break;
		case 'd':
			debugfs = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("khupctl %s\n", KHUP_VERSION);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind++];
	/* drop --json/-j from the remaining arguments */
	for (i = c = optind; i < argc; i++)
		if (strcmp(argv[i], "--json") && strcmp(argv[i], "-j"))
			argv[c++] = argv[i];
	argc = c;

	if (!strcmp(cmd, "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "list") && argc == optind)
		return cmd_list();
	if (!strcmp(cmd, "show") && argc == optind + 1)
		return cmd_show(argv[optind]);
	if (!strcmp(cmd, "release")) {
		const char *target = NULL;

		for (i = optind; i < argc; i++) {
			if (!strcmp(argv[i], "--force"))
				force = true;
			else if (!strcmp(argv[i], "--dry-run"))
				dry_run = true;
			else if (!target)
				target = argv[i];
			else
				target = "";
		}
		if (target && *target)
			return cmd_release(target);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(cmd, "status") && argc == optind)
		return cmd_status();
	if (!strcmp(cmd, "fdt") && argc == optind)
		return cmd_fdt("out");
	if (!strcmp(cmd, "fdt") && argc == optind + 1 &&
	    (!strcmp(argv[optind], "--in") || !strcmp(argv[optind], "--out")))
		return cmd_fdt(argv[optind] + 2);
	if (!strcmp(cmd, "prepare"))
		return cmd_prepare(argc - optind, argv + optind);
	err_msg("bad command line: '%s' (see khupctl --help)", cmd);
	return EXIT_USAGE;
}
