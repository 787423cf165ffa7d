// SPDX-License-Identifier: GPL-2.0-only
/*
 * khupctl prepare: move running processes' pages out of KHO scratch ahead
 * of the dump.
 *
 * KHO scratch is CMA, and the dump's FOLL_LONGTERM pin migrates every page
 * that lies in it, inside the downtime. This finds the present pages of each
 * process that lie in scratch (/proc/PID/pagemap against debugfs
 * kho/out/scratch_*) and has khup.ko pin and unpin them at once
 * (KHUP_IOC_PREPARE) while the process runs, so the pin later only migrates
 * what was allocated since. The module requires the caller to be the
 * process's tracer: it is attached with PTRACE_SEIZE, which does not stop
 * it, and detached afterwards.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include <linux/khup.h>

#include "khupctl.h"
#include "scratch.h"

struct prep_task {
	pid_t pid;
	char comm[32];
	struct khup_scan before;
	uint64_t looked, migrated;
	uint64_t after;		/* pages still in scratch afterwards */
	int err;		/* -errno of the step that failed */
	const char *step;
};

struct pid_list {
	pid_t *v;
	size_t n, cap;
};

static int pid_add(struct pid_list *l, pid_t pid)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i] == pid)
			return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		pid_t *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = pid;
	return 0;
}

/* Adds the children of every thread of @pid, recursively. */
static int add_descendants(struct pid_list *l, pid_t pid)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	int err = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return 0;	/* gone meanwhile */
	while (!err && (d = readdir(dir))) {
		char cpath[300];
		FILE *f;
		int child;

		if (d->d_name[0] == '.')
			continue;
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children",
			 pid, d->d_name);
		f = fopen(cpath, "re");
		if (!f)
			continue;
		while (!err && fscanf(f, "%d", &child) == 1) {
			size_t before = l->n;

			err = pid_add(l, child);
			if (!err && l->n > before)
				err = add_descendants(l, child);
		}
		fclose(f);
	}
	closedir(dir);
	return err;
}

/* Pins and unpins the runs, at most the ioctl's limits per call. */
static int prepare_runs(struct prep_task *t)
{
	const uint64_t ps = sysconf(_SC_PAGESIZE);
	struct iovec iov[KHUP_MAX_IOVECS];
	size_t r = 0;
	uint64_t off = 0;

	while (r < t->before.nr_runs) {
		struct khup_prepare arg = { .size = sizeof(arg), .pid = t->pid };
		uint64_t pages = 0;
		uint32_t n = 0;
		int err;

		while (r < t->before.nr_runs && n < KHUP_MAX_IOVECS &&
		       pages < KHUP_MAX_PIN_PAGES) {
			const struct iovec *run = &t->before.runs[r];
			uint64_t left = (run->iov_len - off) / ps;
			uint64_t take = left;

			if (take > KHUP_MAX_PIN_PAGES - pages)
				take = KHUP_MAX_PIN_PAGES - pages;
			iov[n].iov_base = (char *)run->iov_base + off;
			iov[n].iov_len = take * ps;
			n++;
			pages += take;
			if (take == left) {
				r++;
				off = 0;
			} else {
				off += take * ps;
			}
		}
		arg.nr_iovecs = n;
		arg.iovecs = (uintptr_t)iov;
		err = kio(KHUP_IOC_PREPARE, &arg);
		if (err)
			return err;
		t->looked += arg.nr_pages;
		t->migrated += arg.nr_migrated;
	}
	return 0;
}

/* Attach without stopping, prepare, then stop briefly to detach. */
static void prepare_task(struct prep_task *t)
{
	int status;

	if (ptrace(PTRACE_SEIZE, t->pid, NULL, NULL)) {
		t->err = -errno;
		t->step = "attach (PTRACE_SEIZE)";
		return;
	}
	t->err = prepare_runs(t);
	if (t->err)
		t->step = "KHUP_IOC_PREPARE";
	if (ptrace(PTRACE_INTERRUPT, t->pid, NULL, NULL) == 0 &&
	    waitpid(t->pid, &status, __WALL) == t->pid &&
	    !WIFEXITED(status) && !WIFSIGNALED(status))
		ptrace(PTRACE_DETACH, t->pid, NULL, NULL);
}

static void print_task(const struct prep_task *t, bool dry)
{
	double share = t->before.present ?
		100.0 * t->before.in_scratch / t->before.present : 0;

	out_open_object(NULL);
	out_s64(OUT_ANY, "pid", "pid %" PRId64, t->pid);
	out_str(OUT_ANY, "comm", " (%s): ", t->comm);
	out_u64(OUT_ANY, "present_pages", "%" PRIu64 " pages present, ",
		t->before.present);
	out_u64(OUT_ANY, "in_scratch_pages", "%" PRIu64 " in scratch",
		t->before.in_scratch);
	out_text(" (%.1f %%)", share);
	if (!dry) {
		/* text: only what a task that went through has */
		enum out_when w = t->err ? OUT_JSON : OUT_ANY;

		out_u64(w, "prepared_pages", "; moved %" PRIu64, t->looked);
		out_u64(w, "migrated_pages", " (migrated %" PRIu64 ")",
			t->migrated);
		out_u64(w, "in_scratch_after", "; in scratch now: %" PRIu64,
			t->after);
	}
	if (t->err)
		out_str(OUT_JSON, "error", NULL, strerror(-t->err));
	out_text("\n");
	out_close_object();
}

static void read_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "re");
	if (!f || !fgets(buf, len, f))
		snprintf(buf, len, "?");
	buf[strcspn(buf, "\n")] = '\0';
	if (f)
		fclose(f);
}

int cmd_prepare(int argc, char **argv)
{
	bool dry = false, tree = false;
	struct pid_list pids = { 0 };
	struct khup_scratch s;
	char size[32];
	int i, err, rc = EXIT_OK;
	size_t k;

	for (i = 0; i < argc; i++) {
		char *end;
		long v;

		if (!strcmp(argv[i], "--dry-run")) {
			dry = true;
			continue;
		}
		if (!strcmp(argv[i], "--tree")) {
			tree = true;
			continue;
		}
		v = strtol(argv[i], &end, 10);
		if (*end || end == argv[i] || v <= 0 || v > INT32_MAX) {
			err_msg("prepare: '%s' is not a pid (see khupctl --help)",
				argv[i]);
			free(pids.v);
			return EXIT_USAGE;
		}
		if (pid_add(&pids, v))
			return EXIT_FAIL;
	}
	if (!pids.n) {
		err_msg("prepare: no pid given (see khupctl --help)");
		return EXIT_USAGE;
	}
	err = khup_scratch_read(debugfs, &s);
	if (err) {
		err_msg("cannot read KHO scratch ranges from %s/kho/out: %s (is debugfs mounted and the kernel built with CONFIG_KEXEC_HANDOVER_DEBUGFS?)",
			debugfs, strerror(-err));
		free(pids.v);
		return EXIT_NOKHO;
	}
	if (!dry) {
		rc = open_dev();
		if (rc) {
			free(pids.v);
			return rc;
		}
	}
	for (k = 0; tree && k < pids.n; k++)
		if (add_descendants(&pids, pids.v[k]))
			return EXIT_FAIL;

	out_open_object(NULL);
	out_u64(OUT_JSON, "scratch_bytes", NULL, s.pages * sysconf(_SC_PAGESIZE));
	out_str(OUT_TEXT, NULL, "KHO scratch: %s",
		khup_human_bytes(s.pages * sysconf(_SC_PAGESIZE), size,
				 sizeof(size)));
	out_s64(OUT_ANY, "scratch_ranges", " in %" PRId64 " range(s)\n", s.n);
	out_open_array("tasks");
	for (k = 0; k < pids.n; k++) {
		struct prep_task t = { .pid = pids.v[k] };
		struct khup_scan after = { 0 };

		read_comm(t.pid, t.comm, sizeof(t.comm));
		t.err = khup_scan_task(t.pid, &s, &t.before);
		if (t.err)
			t.step = "read /proc/PID/pagemap";
		if (!t.err && !dry && t.before.nr_runs) {
			prepare_task(&t);
			if (!t.err && !khup_scan_task(t.pid, &s, &after))
				t.after = after.in_scratch;
			khup_scan_free(&after);
		}
		if (t.err == -ESRCH && !t.looked)
			err_msg("pid %d: no such process", t.pid);
		else if (t.err)
			err_msg("pid %d: %s failed: %s", t.pid, t.step,
				strerror(-t.err));
		if (t.err)
			rc = EXIT_FAIL;
		/* a failed task is an error line in text, a member in JSON */
		if (!t.err || out_json())
			print_task(&t, dry);
		khup_scan_free(&t.before);
	}
	out_close_array();
	out_close_object();
	out_end();
	free(pids.v);
	return rc;
}
