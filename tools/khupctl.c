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
 * Reads images and statistics through the module's "khup" generic netlink
 * family (lib/khup-nl.c, shared with khupd), an image's tasks and prepare
 * through /dev/khup ioctls, the tree from debugfs kho/; khupd need not run.
 * Every command prints through one output path for text and JSON
 * (lib/out.c). See doc/tools.md.
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
#include <linux/khup.h>

#include "khup-nl.h"
#include "khupctl.h"
#include "version.h"	/* generated: scripts/version --header */

static const char *dev_path = "/dev/khup";
const char *debugfs = "/sys/kernel/debug";
static const char *state_path = "/run/khupd/state";
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

/* ---- images over generic netlink ---- */

static struct khup_nl *nl;

/* Connects to the module's netlink family once; an exit code on failure. */
static int open_nl(void)
{
	int err;

	if (nl)
		return 0;
	nl = khup_nl_open(&err);
	if (nl)
		return 0;
	if (err == -ENOENT) {
		err_msg("the khup netlink family is missing (is khup.ko loaded? khupd loads it)");
		return EXIT_NOMODULE;
	}
	err_msg("%s", err == -EIO ? khup_nl_error() : strerror(-err));
	return EXIT_FAIL;
}

struct image_set {
	struct khup_image *v;
	size_t n, cap;
	int err;
};

static void collect(const struct khup_image *img, void *ctx)
{
	struct image_set *set = ctx;

	if (set->n == set->cap) {
		size_t cap = set->cap ? 2 * set->cap : 16;
		struct khup_image *v = realloc(set->v, cap * sizeof(*v));

		if (!v) {
			set->err = -ENOMEM;
			return;
		}
		set->v = v;
		set->cap = cap;
	}
	set->v[set->n++] = *img;
}

/* Every image, in the module's order (by id). */
static int all_images(struct image_set *set)
{
	int err = open_nl();

	memset(set, 0, sizeof(*set));
	if (err)
		return err;
	err = khup_nl_dump_images(nl, collect, set);
	if (!err)
		err = set->err;
	if (err) {
		err_msg("listing images: %s",
			err == -EIO ? khup_nl_error() : strerror(-err));
		free(set->v);
		set->v = NULL;
		return err == -EPERM ? EXIT_FAIL : EXIT_FAIL;
	}
	return 0;
}

/* IMAGE is a name, or a decimal id ("#3" or "3") if no image has that name. */
static int lookup(const char *arg, struct khup_image *img)
{
	struct image_set set;
	const char *num = arg[0] == '#' ? arg + 1 : arg;
	char *end;
	uint64_t id;
	size_t i;
	int err;

	err = all_images(&set);
	if (err)
		return err;
	errno = 0;
	id = strtoull(num, &end, 10);
	if (errno || !*num || *end)
		id = 0;
	err = EXIT_NOIMAGE;
	for (i = 0; i < set.n && err; i++)
		if (arg[0] != '#' && !strcmp(set.v[i].name, arg))
			err = 0, *img = set.v[i];
	for (i = 0; i < set.n && err; i++)
		if (id && set.v[i].id == id)
			err = 0, *img = set.v[i];
	free(set.v);
	if (err)
		err_msg("no image '%s'", arg);
	return err;
}

/* The members of an image object (list and show share them). */
static void print_image_members(const struct khup_image *in)
{
	out_u64(OUT_JSON, "id", NULL, in->id);
	out_str(OUT_JSON, "name", NULL, in->name);
	out_str(OUT_JSON, "state", NULL, khup_state_name(in->state));
	out_u64(OUT_JSON, "owner", NULL, in->owner);
	out_u64(OUT_JSON, "tasks", NULL, in->tasks);
	out_u64(OUT_JSON, "pages", NULL, in->pages);
	out_u64(OUT_JSON, "bytes", NULL, in->pages * (uint64_t)getpagesize());
	out_u64(OUT_JSON, "kexec_count", NULL, in->kexec_count);
	out_u64(OUT_JSON, "created_ns", NULL, in->ctime_ns);
	out_str(OUT_JSON, "release", NULL, in->release);
	out_u64(OUT_JSON, "lost", NULL, in->lost);
	out_u64(OUT_JSON, "consumed", NULL, in->consumed);
	out_s64(OUT_JSON, "claimer", NULL, in->claimer);
}

static int cmd_list(void)
{
	struct image_set set;
	size_t i;
	int err;

	err = all_images(&set);
	if (err)
		return err;
	out_open_array(NULL);
	out_text("%-4s %-20s %-8s %5s %10s %10s %6s %-20s %s\n", "ID", "NAME",
		 "STATE", "TASKS", "PAGES", "SIZE", "KEXECS", "CREATED",
		 "RELEASE");
	for (i = 0; i < set.n; i++) {
		const struct khup_image *in = &set.v[i];
		char sz[32], ct[32];

		out_open_object(NULL);
		print_image_members(in);
		out_text("%-4" PRIu64 " %-20s %-8s %5u %10" PRIu64 " %10s %6" PRIu64 " %-20s %s\n",
			 in->id, in->name, khup_state_name(in->state),
			 in->tasks, in->pages,
			 khup_human_bytes(in->pages * getpagesize(), sz, sizeof(sz)),
			 in->kexec_count,
			 khup_human_time(in->ctime_ns, ct, sizeof(ct)),
			 in->release);
		out_close_object();
	}
	out_close_array();
	out_end();
	free(set.v);
	return EXIT_OK;
}

/* The tasks of an image: the one query netlink has no message for. */
static int image_tasks(uint64_t id, struct khup_task_info **out, uint32_t *n)
{
	struct khup_tasks t = { .size = sizeof(t), .id = id };
	struct khup_task_info *ti = NULL;
	int err;

	err = open_dev();
	if (err)
		return err;
	for (;;) {
		uint32_t cap = t.count;

		err = kio(KHUP_IOC_TASKS, &t);
		if (err) {
			err_msg("tasks of image %" PRIu64 ": %s", id,
				strerror(-err));
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
	*out = ti;
	*n = t.count;
	return 0;
}

static int cmd_show(const char *arg)
{
	struct khup_task_info *ti = NULL;
	struct khup_image in;
	char sz[32], ct[32];
	uint32_t i, n = 0;
	int err;

	err = lookup(arg, &in);
	if (!err)
		err = image_tasks(in.id, &ti, &n);
	if (err)
		return err;
	out_open_object(NULL);
	print_image_members(&in);
	out_text("image %" PRIu64 " '%s'\n", in.id, in.name);
	out_text("  state:    %s\n", khup_state_name(in.state));
	out_text("  owner:    uid %u\n", in.owner);
	out_text("  created:  %s by kernel %s\n",
		 khup_human_time(in.ctime_ns, ct, sizeof(ct)), in.release);
	out_text("  kexecs:   %" PRIu64 "\n", in.kexec_count);
	out_text("  held:     %" PRIu64 " pages (%s)\n", in.pages,
		 khup_human_bytes(in.pages * getpagesize(), sz, sizeof(sz)));
	if (in.lost)
		out_text("  lost:     %" PRIu64 " pages (they read as errors; the image cannot be restored)\n",
			 in.lost);
	if (in.claimer)
		out_text("  claimed:  by pid %d (a restore), %" PRIu64 " pages consumed\n",
			 in.claimer, in.consumed);
	out_text("  tasks:    %u\n", in.tasks);
	out_text("  %8s %-16s %10s %8s %8s\n", "PID", "COMM", "PAGES",
		 "EXTENTS", "LOST");
	out_open_array("task_list");
	for (i = 0; i < n; i++) {
		out_open_object(NULL);
		out_s64(OUT_ANY, "pid", "  %8" PRId64, ti[i].pid);
		out_str(OUT_ANY, "comm", " %-16s", ti[i].comm);
		out_u64(OUT_ANY, "pages", " %10" PRIu64, ti[i].nr_pages);
		out_u64(OUT_ANY, "extents", " %8" PRIu64, ti[i].nr_extents);
		out_u64(OUT_ANY, "lost", " %8" PRIu64 "\n", ti[i].nr_lost);
		out_close_object();
	}
	out_close_array();
	out_close_object();
	out_end();
	free(ti);
	return EXIT_OK;
}

/* release --force / --dry-run */
static bool force, dry_run;

static void busy(const struct khup_image *in)
{
	err_msg("release image %" PRIu64 " '%s': a restore holds it (pid %d has its claim); it is released when that restore commits",
		in->id, in->name, in->claimer);
}

/*
 * An image that still holds pages is the only copy of its processes'
 * memory: releasing it needs --force. --dry-run says what would happen.
 * Text only: the outcome of each image is one line.
 */
static int release_one(const struct khup_image *in)
{
	char sz[32];
	int err;

	khup_human_bytes(in->pages * getpagesize(), sz, sizeof(sz));
	if (in->claimer) {
		busy(in);
		return EXIT_FAIL;
	}
	if (dry_run) {
		printf("would release image %" PRIu64 " '%s' (%s): %" PRIu64 " pages (%s) freed for good%s\n",
		       in->id, in->name, khup_state_name(in->state), in->pages,
		       sz, in->pages && !force ? "; needs --force" : "");
		return EXIT_OK;
	}
	if (in->pages && !force) {
		err_msg("image %" PRIu64 " '%s' (%s) holds %" PRIu64 " pages (%s) that nobody restored: releasing it frees the only copy of its processes' memory; use --force to release it anyway",
			in->id, in->name, khup_state_name(in->state),
			in->pages, sz);
		return EXIT_FAIL;
	}
	err = khup_nl_release(nl, in->id);
	if (err == -ENOENT) {
		/* Someone (khupd, CRIU) released it first: nothing to do. */
		printf("image %" PRIu64 " '%s' already released\n", in->id,
		       in->name);
		return EXIT_OK;
	}
	if (err == -EBUSY) {
		busy(in);
		return EXIT_FAIL;
	}
	if (err) {
		err_msg("release image %" PRIu64 " '%s': %s", in->id, in->name,
			err == -EIO ? khup_nl_error() : strerror(-err));
		return EXIT_FAIL;
	}
	printf("released image %" PRIu64 " '%s': %" PRIu64 " pages (%s) returned\n",
	       in->id, in->name, in->pages, sz);
	return EXIT_OK;
}

static int cmd_release(const char *arg)
{
	struct image_set set;
	struct khup_image in;
	int err, rc = EXIT_OK;
	size_t i;

	if (strcmp(arg, "--all")) {
		err = lookup(arg, &in);
		return err ? err : release_one(&in);
	}
	err = all_images(&set);
	if (err)
		return err;
	for (i = 0; i < set.n; i++)
		if (release_one(&set.v[i]))
			rc = EXIT_FAIL;
	if (!set.n)
		printf("no images\n");
	free(set.v);
	return rc;
}

/* ---- status ---- */

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

static bool debugfs_has(const char *what)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/kho/%s", debugfs, what);
	return access(path, F_OK) == 0;
}

static int cmd_status(void)
{
	bool loaded = access("/sys/module/khup", F_OK) == 0;
	bool kho_out = debugfs_has("out"), kho_in = debugfs_has("in");
	bool node_out = debugfs_has("out/sub_fdts/" KHUP_KHO_NODE);
	uint64_t stats[64] = { 0 };
	struct image_set set = { 0 };
	bool have_stats = false, daemon;
	unsigned long ttl;
	pid_t dpid;
	size_t i;

	daemon = daemon_running(&dpid, &ttl);
	if (loaded && !open_nl()) {
		if (all_images(&set))
			set.n = 0;
		have_stats = khup_nr_stats <= 64 &&
			     !khup_nl_get_stats(nl, stats);
		if (!have_stats)
			err_msg("khup netlink statistics: %s", khup_nl_error());
	}
	out_open_object(NULL);
	out_bool(OUT_JSON, "module_loaded", NULL, loaded);
	out_str(OUT_TEXT, NULL, "module:      %s\n", loaded ? "loaded" : "not loaded");
	out_bool(OUT_JSON, "kho_out", NULL, kho_out);
	out_bool(OUT_JSON, "kho_in", NULL, kho_in);
	out_text("KHO:         %s%s\n",
		 kho_out ? "enabled" : "not visible (kho=on? debugfs?)",
		 kho_in ? ", booted by kexec with a handover" : "");
	out_bool(OUT_JSON, "node_published", NULL, node_out);
	out_text("khup node:   %s\n", node_out ?
		 "published for the next kexec" : "not published");
	out_u64(OUT_ANY, "images", "images:      %" PRIu64 "\n", set.n);
	if (daemon) {
		out_open_object("daemon");
		out_s64(OUT_ANY, "pid", "khupd:       running, pid %" PRId64, dpid);
		out_u64(OUT_ANY, "ttl", ", ttl %" PRIu64 "s\n", ttl);
		out_close_object();
	} else {
		out_null(OUT_ANY, "daemon", "khupd:       not running\n");
	}
	if (have_stats) {
		out_open_object("stats");
		out_text("statistics:\n");
		for (i = 0; i < khup_nr_stats; i++) {
			out_str(OUT_TEXT, NULL, "  %-20s", khup_stats[i].name);
			out_u64(OUT_ANY, khup_stats[i].name, " %" PRIu64 "\n",
				stats[i]);
		}
		out_close_object();
	} else {
		out_null(OUT_JSON, "stats", NULL);
	}
	out_close_object();
	out_end();
	free(set.v);
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
		out_text("    ");
}

/* Prints one property: "name = value" (JSON: "name":value). */
static void print_prop(const char *name, const void *val, int len, int depth)
{
	bool is_size = !strcmp(name, "size") || !strcmp(name, "blob-size") ||
		       !strcmp(name, "table-size");
	bool is_addr = !strcmp(name, "start") ||
		       !strcmp(name, "preserved-data") ||
		       !strcmp(name, "preserved-memory-map") ||
		       !strcmp(name, "table");
	char b[32];
	int i;

	indent(depth);
	out_text("%s%s", name, len ? " = " : "\n");
	if (!len) {
		out_bool(OUT_JSON, name, NULL, true);
	} else if (printable(val, len)) {
		out_str(OUT_ANY, name, "\"%s\"\n", val);
	} else if (len == 4 || len == 8) {
		uint64_t v = prop_u64(val, len, native_prop(name));

		out_u64(OUT_ANY, name, is_addr ? "0x%" PRIx64 : "%" PRIu64, v);
		if (is_size)
			out_text(" (%s)", khup_human_bytes(v, b, sizeof(b)));
		out_text("\n");
	} else {
		snprintf(b, sizeof(b), "<%d bytes>", len);
		out_str(OUT_JSON, name, NULL, b);
		out_text("<%d bytes:", len);
		for (i = 0; i < len && i < 16; i++)
			out_text(" %02x", ((const unsigned char *)val)[i]);
		out_text("%s>\n", len > 16 ? " ..." : "");
	}
}

/* Prints node @off of @fdt and everything under it. */
static void print_node(const void *fdt, int off, const char *name, int depth)
{
	int prop, child, len;

	out_open_object(NULL);
	indent(depth);
	out_str(OUT_ANY, "name", "%s {\n", name);
	fdt_for_each_property_offset(prop, fdt, off) {
		const char *pname;
		const void *val = fdt_getprop_by_offset(fdt, prop, &pname,
							&len);

		if (val)
			print_prop(pname, val, len, depth + 1);
	}
	out_open_array("children");
	fdt_for_each_subnode(child, fdt, off)
		print_node(fdt, child, fdt_get_name(fdt, child, NULL),
			   depth + 1);
	out_close_array();
	indent(depth);
	out_text("}\n");
	out_close_object();
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
	out_open_object(NULL);
	out_str(OUT_ANY, "tree", "kho/%s {\n", dir);
	if (root && len >= sizeof(struct fdt_header) &&
	    !fdt_check_header(root) && fdt_totalsize(root) <= len) {
		const char *c = fdt_getprop(root, 0, "compatible", NULL);

		out_str(OUT_ANY, "compatible", "    compatible = \"%s\"\n",
			c ? c : "");
	} else {
		out_null(OUT_JSON, "compatible", NULL);
		/*
		 * kho/out/fdt is a debugfs blob sized when KHO started; the
		 * root grows as sub trees are added, so it reads truncated.
		 */
		if (root && len >= sizeof(struct fdt_header) &&
		    !fdt_check_header(root))
			out_text("    (root blob in debugfs truncated: %zu of %u bytes)\n",
				 len, fdt_totalsize(root));
		else
			out_text("    (root blob not readable as an FDT)\n");
	}
	free(root);
	out_open_array("nodes");
	for (i = 0; i < nnames; i++) {
		void *blob;

		snprintf(path, sizeof(path), "%s/kho/%s/sub_fdts/%s", debugfs,
			 dir, names[i]);
		blob = read_file(path, &len);
		if (blob && len >= sizeof(struct fdt_header) &&
		    !fdt_check_header(blob) && fdt_totalsize(blob) <= len) {
			print_node(blob, 0, names[i], 1);
		} else {
			out_open_object(NULL);
			out_str(OUT_ANY, "name", "    %s: ", names[i]);
			out_u64(OUT_ANY, "blob_bytes",
				"blob of %" PRIu64 " bytes (not an FDT)\n",
				blob ? len : 0);
			out_close_object();
		}
		free(blob);
		free(names[i]);
	}
	free(names);
	out_close_array();
	out_text("}\n");
	out_close_object();
	out_end();
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
			out_init(true, NULL);
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
