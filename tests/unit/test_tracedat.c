// SPDX-License-Identifier: GPL-2.0-only
/*
 * khup-tracedat's decoding (tools/tracedat.c) against trace-cmd: two fake
 * kernels' tracefs trees whose event tables disagree (khup_pin's id in the
 * old kernel is khup_seal's in the new one, the marker's address is another
 * function in the new kernel's kallsyms, the writer's pid another task), a
 * header file of each made with 'trace-cmd restore -c', raw ring-buffer pages
 * written here, trace.dat files made with 'trace-cmd restore -i'. Each half
 * must decode with its own tables, on one time axis.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <trace-cmd.h>

#include "ktap.h"
#include "../../tools/tracedat.h"

#define PRINT_ID 5
#define OLD_PIN_ID 600
#define NEW_SEAL_ID 600	/* the old khup_pin's id: a wrong table shows */
#define NEW_PIN_ID 601
#define MARK_IP 0xffffffff81100010ULL
#define WRITER_PID 20179

static const char common_fields[] =
	"\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
	"\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
	"\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
	"\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n";

static int write_file(const char *dir, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int write_file(const char *dir, const char *name, const char *fmt, ...)
{
	char path[4096];
	va_list ap;
	FILE *f;
	int err;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	err = ferror(f);
	return fclose(f) || err ? -1 : 0;
}

static int mkdirs(const char *base, const char *sub)
{
	char path[4096], *p;

	snprintf(path, sizeof(path), "%s/%s", base, sub);
	for (p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(path, 0755) && errno != EEXIST ? -1 : 0;
}

static int write_event(const char *tfs, const char *sys, const char *name,
		       int id, const char *fields, const char *fmt)
{
	char sub[256], dir[4096];

	snprintf(sub, sizeof(sub), "events/%s/%s", sys, name);
	if (mkdirs(tfs, sub))
		return -1;
	snprintf(dir, sizeof(dir), "%s/%s", tfs, sub);
	return write_file(dir, "format", "name: %s\nID: %d\nformat:\n%s%s\nprint fmt: %s\n",
			  name, id, common_fields, fields, fmt);
}

static const char pin_fields[] =
	"\tfield:u64 id;\toffset:8;\tsize:8;\tsigned:0;\n"
	"\tfield:pid_t pid;\toffset:16;\tsize:4;\tsigned:1;\n"
	"\tfield:u64 pages;\toffset:24;\tsize:8;\tsigned:0;\n"
	"\tfield:u64 extents;\toffset:32;\tsize:8;\tsigned:0;\n";
static const char pin_fmt[] =
	"\"image=%llu pid=%d pages=%llu new_extents=%llu\", REC->id, REC->pid, REC->pages, REC->extents";
static const char seal_fields[] =
	"\tfield:u64 id;\toffset:8;\tsize:8;\tsigned:0;\n"
	"\tfield:u32 tasks;\toffset:16;\tsize:4;\tsigned:0;\n"
	"\tfield:u64 pages;\toffset:24;\tsize:8;\tsigned:0;\n";
static const char seal_fmt[] =
	"\"image=%llu tasks=%u pages=%llu\", REC->id, REC->tasks, REC->pages";

/* A fake kernel's tracefs tree under @dir/tracefs: headers, ftrace:print. */
static int fake_tracefs(const char *dir)
{
	char tfs[4096];
	int err = 0;

	snprintf(tfs, sizeof(tfs), "%s/tracefs", dir);
	err |= mkdirs(tfs, "events");
	err |= write_file(tfs, "events/header_page",
			  "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n"
			  "\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n"
			  "\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n"
			  "\tfield: char data;\toffset:16;\tsize:%ld;\tsigned:1;\n",
			  sysconf(_SC_PAGESIZE) - 16);
	err |= write_file(tfs, "events/header_event",
			  "# compressed entry header\n"
			  "\ttype_len    :    5 bits\n"
			  "\ttime_delta  :   27 bits\n"
			  "\tarray       :   32 bits\n\n"
			  "\tpadding     : type == 29\n"
			  "\ttime_extend : type == 30\n"
			  "\ttime_stamp : type == 31\n"
			  "\tdata max type_len  == 28\n");
	err |= write_event(tfs, "ftrace", "print", PRINT_ID,
			   "\tfield:unsigned long ip;\toffset:8;\tsize:8;\tsigned:0;\n"
			   "\tfield:char buf[];\toffset:16;\tsize:0;\tsigned:1;\n",
			   "\"%ps: %s\", (void *)REC->ip, REC->buf");
	return err;
}

/* A raw ring-buffer page: timestamp, commit, then events. */
struct page {
	unsigned char *buf;
	size_t size, used;
};

static void page_init(struct page *p, unsigned long long ts)
{
	p->size = sysconf(_SC_PAGESIZE);
	p->buf = calloc(1, p->size);
	memcpy(p->buf, &ts, 8);
	p->used = 16;
}

/* Appends a data event of @len bytes (<= 112) @delta ns after the last. */
static void page_add(struct page *p, unsigned int delta, const void *rec,
		     size_t len)
{
	size_t alen = (len + 3) & ~3UL;
	unsigned int hdr = (alen / 4) | (delta << 5);
	unsigned long long commit;

	memcpy(p->buf + p->used, &hdr, 4);
	memcpy(p->buf + p->used + 4, rec, len);
	p->used += 4 + alen;
	commit = p->used - 16;
	memcpy(p->buf + 8, &commit, 8);
}

static void common(unsigned char *rec, unsigned short type, int pid)
{
	memcpy(rec, &type, 2);
	rec[2] = 0;
	rec[3] = 0;
	memcpy(rec + 4, &pid, 4);
}

static void add_print(struct page *p, unsigned int delta, int pid,
		      unsigned long long ip, const char *text)
{
	unsigned char rec[112] = { 0 };
	size_t n = strlen(text) + 1;

	common(rec, PRINT_ID, pid);
	memcpy(rec + 8, &ip, 8);
	memcpy(rec + 16, text, n);
	page_add(p, delta, rec, 16 + n);
}

static void add_pin(struct page *p, unsigned int delta, unsigned short type,
		    int pid, unsigned long long id, unsigned long long pages)
{
	unsigned char rec[40] = { 0 };
	unsigned long long ext = 2;

	common(rec, type, pid);
	memcpy(rec + 8, &id, 8);
	memcpy(rec + 16, &pid, 4);
	memcpy(rec + 24, &pages, 8);
	memcpy(rec + 32, &ext, 8);
	page_add(p, delta, rec, sizeof(rec));
}

static int page_write(struct page *p, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int err;

	if (fd < 0)
		return -1;
	err = write(fd, p->buf, p->size) != (ssize_t)p->size;
	free(p->buf);
	return close(fd) || err ? -1 : 0;
}

static int run(const char *cmd)
{
	int rc = system(cmd);

	if (rc)
		printf("# '%s' exited with %d\n", cmd, rc);
	return rc;
}

/* The kernel @name under @base: tracefs tree, kallsyms, cmdlines, header
 * file @name/head.dat, one CPU's raw page, @name.dat.
 */
static int make_half(const char *base, const char *name, bool old)
{
	char dir[4096], tfs[4096], cmd[16384];
	struct page pg;
	int err = 0;

	snprintf(dir, sizeof(dir), "%s/%s", base, name);
	snprintf(tfs, sizeof(tfs), "%s/tracefs", dir);
	err |= fake_tracefs(dir);
	if (old) {
		err |= write_event(tfs, "khup", "khup_pin", OLD_PIN_ID,
				   pin_fields, pin_fmt);
	} else {
		err |= write_event(tfs, "khup", "khup_seal", NEW_SEAL_ID,
				   seal_fields, seal_fmt);
		err |= write_event(tfs, "khup", "khup_pin", NEW_PIN_ID,
				   pin_fields, pin_fmt);
	}
	err |= write_file(dir, "tracefs/saved_cmdlines", "%d %s\n", WRITER_PID,
			  old ? "khup-upgrade" : "other-task");
	err |= write_file(dir, "tracefs/printk_formats", "%s", "");
	/* the marker's address: tracing_mark_write in the old kernel only */
	err |= write_file(dir, "kallsyms",
			  "ffffffff81000000 T _stext\n"
			  "ffffffff81100000 t %s\n"
			  "ffffffff81100800 t after_it\n",
			  old ? "tracing_mark_write" : "perf_trace_ext4_mb_release_inode_pa");
	if (err)
		return -1;
	snprintf(cmd, sizeof(cmd),
		 "trace-cmd restore -c -t %s/tracefs -k %s/kallsyms -o %s/head.dat >/dev/null 2>&1",
		 dir, dir, dir);
	if (run(cmd))
		return -1;

	if (old) {
		/* old kernel: booted at wall clock 995 s; events at 5 s */
		page_init(&pg, 5000000000ULL);
		add_print(&pg, 0, WRITER_PID, MARK_IP,
			  "khup-upgrade: clock realtime=1000.000000\n");
		add_pin(&pg, 1000, OLD_PIN_ID, 4242, 1, 16);
		add_print(&pg, 500, WRITER_PID, MARK_IP,
			  "khup-upgrade: upgrade start\n");
	} else {
		/* new kernel: booted at 1008 s; events at 2 s (15 s old axis) */
		page_init(&pg, 2000000000ULL);
		add_print(&pg, 0, WRITER_PID, MARK_IP,
			  "khup-upgrade: clock realtime=1010.000000\n");
		add_pin(&pg, 1000, NEW_PIN_ID, 4343, 2, 32);
	}
	snprintf(cmd, sizeof(cmd), "%s/cpu0.raw", dir);
	if (page_write(&pg, cmd))
		return -1;
	snprintf(cmd, sizeof(cmd),
		 "trace-cmd restore -i %s/head.dat -o %s/%s.dat %s/cpu0.raw >/dev/null 2>&1",
		 dir, base, name, dir);
	return run(cmd);
}

static void test_clock_marker(void)
{
	unsigned long long ns = 0;

	CHECK(khup_parse_clock_marker("khup-upgrade: clock realtime=1795619292.123456\n", &ns) &&
	      ns == 1795619292123456000ULL, "clock marker: seconds and microseconds to ns");
	CHECK(khup_parse_clock_marker("khup-upgrade: clock realtime=12", &ns) &&
	      ns == 12000000000ULL, "clock marker: whole seconds");
	CHECK(!khup_parse_clock_marker("khup-upgrade: upgrade start\n", &ns),
	      "clock marker: another marker is not one");
	CHECK(!khup_parse_clock_marker("khup-upgrade: clock realtime=\n", &ns) &&
	      !khup_parse_clock_marker("khup-upgrade: clock realtime=12x", &ns),
	      "clock marker: no number or trailing junk refused");
}

static void test_drain(const char *base)
{
	char inst[4096], out[4096], *list = NULL, want[8192];
	unsigned char page[8192];
	size_t len = 0, i;
	long pages;
	FILE *f;

	snprintf(inst, sizeof(inst), "%s/inst", base);
	snprintf(out, sizeof(out), "%s/drained", base);
	CHECK(!mkdirs(inst, "per_cpu/cpu0") && !mkdirs(inst, "per_cpu/cpu1") &&
	      !mkdirs(out, "."), "drain: a fake instance with two CPUs");
	for (i = 0; i < sizeof(page); i++)
		page[i] = i * 7;
	/* cpu0: two 4 KiB sub-buffers; cpu1: no trace_pipe_raw (offline) */
	write_file(inst, "buffer_subbuf_size_kb", "4\n");
	snprintf(want, sizeof(want), "%s/per_cpu/cpu0/trace_pipe_raw", inst);
	f = fopen(want, "w");
	fwrite(page, 1, sizeof(page), f);
	fclose(f);
	f = open_memstream(&list, &len);
	pages = khup_drain_instance(inst, out, f);
	fclose(f);
	CHECK(pages == 2, "drain: two sub-buffers read (%ld)", pages);
	snprintf(want, sizeof(want), "%s/cpu0.raw\n%s/cpu1.raw\n", out, out);
	CHECK(list && !strcmp(list, want), "drain: the files listed in CPU order");
	free(list);
	snprintf(want, sizeof(want), "cmp -s %s/per_cpu/cpu0/trace_pipe_raw %s/cpu0.raw && test ! -s %s/cpu1.raw",
		 inst, out, out);
	CHECK(!run(want), "drain: cpu0's pages copied as they are, cpu1 empty");
	CHECK(khup_drain_instance(out, out, stderr) < 0,
	      "drain: a directory without per_cpu/ is refused");
}

static void test_decode(const char *base)
{
	struct tracecmd_input *old = NULL, *new = NULL;
	long long off_old = 0, off_new = 0;
	char path[4096], *text = NULL, *kx, *p, *q;
	size_t len = 0;
	long n = -1;
	FILE *f;

	CHECK(!make_half(base, "old", true), "trace-cmd makes the old kernel's trace.dat from its header file and a raw page");
	CHECK(!make_half(base, "new", false), "trace-cmd makes the new kernel's trace.dat");
	snprintf(path, sizeof(path), "%s/old.dat", base);
	old = tracecmd_open(path, TRACECMD_FL_LOAD_NO_PLUGINS);
	CHECK(old && !khup_clock_offset(old, &off_old) && off_old == 995000000000LL,
	      "old kernel's clock: trace time 0 at wall clock 995 s (%lld)", off_old);
	if (old)
		tracecmd_close(old);
	snprintf(path, sizeof(path), "%s/new.dat", base);
	new = tracecmd_open(path, TRACECMD_FL_LOAD_NO_PLUGINS);
	CHECK(new && !khup_clock_offset(new, &off_new) && off_new == 1008000000000LL,
	      "new kernel's clock: trace time 0 at wall clock 1008 s (%lld)", off_new);
	if (new)
		tracecmd_close(new);

	snprintf(path, sizeof(path), "%s/old.dat", base);
	old = tracecmd_open(path, TRACECMD_FL_LOAD_NO_PLUGINS);
	snprintf(path, sizeof(path), "%s/new.dat", base);
	new = tracecmd_open(path, TRACECMD_FL_LOAD_NO_PLUGINS);
	if (old && new) {
		tracecmd_add_ts_offset(new, off_new - off_old);
		f = open_memstream(&text, &len);
		n = khup_print_timeline(old, new, "7.2-old", "7.3-new", true, f);
		fclose(f);
	}
	for (p = text; p && *p; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] != 0))
		printf("#   %.*s\n", (int)strcspn(p, "\n"), p);
	CHECK(n == 5, "timeline: five events (%ld)", n);
	text = text ? text : strdup("");
	kx = strstr(text, "# ---- kexec ----\n");
	CHECK(kx, "timeline: the kexec is marked");
	kx = kx ? kx : text;
	p = strstr(text, "khup-upgrade-20179 ");
	CHECK(p && p < kx && strstr(p, "5.000002: print: tracing_mark_write: khup-upgrade: upgrade start\n"),
	      "timeline: old marker with the writer's name and the old kernel's function");
	p = strstr(text, "khup_pin: image=1 pid=4242 pages=16 new_extents=2\n");
	CHECK(p && p < kx && strstr(text, "5.000001: khup_pin: image=1"),
	      "timeline: the old kernel's khup_pin under its own name and fields");
	p = strstr(text, "perf_trace_ext4_mb_release_inode_pa: khup-upgrade: clock");
	CHECK(!strstr(text, "khup_seal") && p && p > kx,
	      "timeline: no event or symbol from the wrong kernel's table (the new kernel's own symbol only after the kexec)");
	p = strstr(text, "khup_pin: image=2 pid=4343 pages=32 new_extents=2\n");
	CHECK(p && p > kx && strstr(text, " 15.000001: khup_pin: image=2"),
	      "timeline: the new kernel's khup_pin after the kexec, on the old kernel's axis (15 s)");
	CHECK(strstr(text, "# ---- before: 7.2-old ----") && strstr(text, "# ---- after: 7.3-new ----"),
	      "timeline: both kernels named");
	free(text);
	if (old)
		tracecmd_close(old);
	if (new)
		tracecmd_close(new);

	/* Unaligned (no offset applied): old half first, then the new one */
	snprintf(path, sizeof(path), "%s/old.dat", base);
	old = tracecmd_open(path, TRACECMD_FL_LOAD_NO_PLUGINS);
	snprintf(path, sizeof(path), "%s/new.dat", base);
	new = tracecmd_open(path, TRACECMD_FL_LOAD_NO_PLUGINS);
	text = NULL;
	n = -1;
	if (old && new) {
		f = open_memstream(&text, &len);
		n = khup_print_timeline(old, new, "a", "b", false, f);
		fclose(f);
	}
	text = text ? text : strdup("");
	kx = strstr(text, "# ---- kexec ----\n");
	p = strstr(text, " 2.000001: khup_pin: image=2");
	q = strstr(text, " 5.000001: khup_pin: image=1");
	CHECK(n == 5 && kx && p && p > kx && q && q < kx &&
	      strstr(text, "no clock markers"),
	      "timeline without aligned clocks: the old half, the kexec, the new half on its own clock");
	free(text);
	if (old)
		tracecmd_close(old);
	if (new)
		tracecmd_close(new);
}

void test_tracedat(const char *outdir)
{
	char base[4096];

	snprintf(base, sizeof(base), "%s/tracedat", outdir);
	mkdirs(base, ".");
	test_clock_marker();
	test_drain(base);
	test_decode(base);
}
