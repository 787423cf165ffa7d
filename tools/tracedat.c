// SPDX-License-Identifier: GPL-2.0-only
/*
 * The upgrade's trace across a kexec (see tracedat.h and doc/tools.md).
 *
 * Each kernel's half of the trace is a trace.dat file: raw ring-buffer pages
 * behind the event formats, header page, kallsyms and command lines of the
 * kernel that wrote them (khup-upgrade saves those before the kexec with
 * 'trace-cmd restore -c'). Decoding a half with its own file's tables is
 * what makes event names, fields, caller symbols and task names right; this
 * file only reads raw pages, finds the clock markers, and merges the halves.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <trace-cmd.h>

#include "tracedat.h"

bool khup_parse_clock_marker(const char *text, unsigned long long *realtime_ns)
{
	const size_t len = strlen(KHUP_CLOCK_MARKER);
	unsigned long long sec = 0, frac = 0;
	const char *p;
	int digits = 0;

	if (strncmp(text, KHUP_CLOCK_MARKER, len))
		return false;
	p = text + len;
	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (sec > ULLONG_MAX / 10 / 1000000000ULL)
			return false;
		sec = sec * 10 + (*p - '0');
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			if (digits < 9) {
				frac = frac * 10 + (*p - '0');
				digits++;
			}
		}
	}
	if (*p && *p != '\n' && *p != ' ')
		return false;
	for (; digits < 9; digits++)
		frac *= 10;
	*realtime_ns = sec * 1000000000ULL + frac;
	return true;
}

/* The text of an ftrace:print (trace_marker) record, or NULL. */
static const char *marker_text(struct tep_handle *tep, struct tep_record *rec)
{
	struct tep_event *ev = tep_find_event_by_record(tep, rec);
	struct tep_format_field *f;

	if (!ev || strcmp(ev->system, "ftrace") || strcmp(ev->name, "print"))
		return NULL;
	f = tep_find_field(ev, "buf");
	if (!f || f->offset < 0 || f->offset >= rec->size)
		return NULL;
	/* The kernel writes the text NUL-terminated inside the record. */
	if (!memchr((char *)rec->data + f->offset, '\0', rec->size - f->offset))
		return NULL;
	return (char *)rec->data + f->offset;
}

struct clock_search {
	long long offset;
	bool found;
};

static int clock_cb(struct tracecmd_input *in, struct tep_record *rec,
		    int cpu, void *data)
{
	struct clock_search *cs = data;
	unsigned long long rt;
	const char *text;

	(void)cpu;
	text = marker_text(tracecmd_get_tep(in), rec);
	if (!text || !khup_parse_clock_marker(text, &rt))
		return 0;
	cs->offset = (long long)(rt - rec->ts);
	cs->found = true;
	return 1;
}

int khup_clock_offset(struct tracecmd_input *in, long long *offset)
{
	struct clock_search cs = { 0 };

	tracecmd_iterate_events(in, NULL, 0, clock_cb, &cs);
	if (!cs.found)
		return -1;
	*offset = cs.offset;
	return 0;
}

/* The sub-buffer size of the instance: one read of trace_pipe_raw. */
static size_t subbuf_size(const char *inst)
{
	char path[PATH_MAX];
	unsigned long kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/buffer_subbuf_size_kb", inst);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%lu", &kb) != 1)
			kb = 0;
		fclose(f);
	}
	return kb ? kb * 1024 : (size_t)sysconf(_SC_PAGESIZE);
}

static int max_cpu(const char *inst)
{
	char path[PATH_MAX];
	struct dirent *de;
	int max = -1, n;
	DIR *d;

	snprintf(path, sizeof(path), "%s/per_cpu", inst);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (sscanf(de->d_name, "cpu%d", &n) == 1 && n > max)
			max = n;
	closedir(d);
	return max;
}

/* Copies what @in holds now to @out, page by page; returns pages or -1. */
static long drain_fd(int in, int out, char *buf, size_t size)
{
	long pages = 0;
	ssize_t r;

	for (;;) {
		r = read(in, buf, size);
		if (r < 0 && errno == EINTR)
			continue;
		/* Empty: EAGAIN, or EOF once a previous boot's data is read. */
		if (r == 0 || (r < 0 && errno == EAGAIN))
			return pages;
		if (r < 0)
			return -1;
		if (write(out, buf, r) != r)
			return -1;
		pages++;
	}
}

long khup_drain_instance(const char *inst, const char *outdir, FILE *list)
{
	size_t size = subbuf_size(inst);
	int ncpu = max_cpu(inst) + 1, cpu, *fds;
	char path[PATH_MAX];
	long total = 0, n;
	char *buf;

	if (ncpu <= 0) {
		fprintf(stderr, "khup-tracedat: %s/per_cpu: no CPUs (not a trace instance?)\n",
			inst);
		return -1;
	}
	fds = calloc(ncpu, sizeof(*fds));
	buf = malloc(size);
	if (!fds || !buf) {
		free(fds);
		free(buf);
		return -1;
	}
	/*
	 * Open every CPU's file before reading any: once the last data of a
	 * previous boot is read, the kernel removes a backup instance as soon
	 * as nobody holds it.
	 */
	for (cpu = 0; cpu < ncpu; cpu++) {
		snprintf(path, sizeof(path), "%s/per_cpu/cpu%d/trace_pipe_raw",
			 inst, cpu);
		fds[cpu] = open(path, O_RDONLY | O_NONBLOCK);
	}
	for (cpu = 0; cpu < ncpu && total >= 0; cpu++) {
		int out;

		snprintf(path, sizeof(path), "%s/cpu%d.raw", outdir, cpu);
		out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (out < 0) {
			fprintf(stderr, "khup-tracedat: %s: %s\n", path, strerror(errno));
			total = -1;
			break;
		}
		n = fds[cpu] < 0 ? 0 : drain_fd(fds[cpu], out, buf, size);
		if (close(out) || n < 0) {
			fprintf(stderr, "khup-tracedat: %s: cpu %d: %s\n", inst, cpu,
				strerror(errno));
			total = -1;
			break;
		}
		total += n;
		fprintf(list, "%s\n", path);
	}
	for (cpu = 0; cpu < ncpu; cpu++)
		if (fds[cpu] >= 0)
			close(fds[cpu]);
	free(fds);
	free(buf);
	return total;
}

struct timeline {
	struct tracecmd_input *old;
	const char *old_name, *new_name;
	bool in_new;
	long events;
	FILE *out;
	struct trace_seq seq;
};

/* Seconds and microseconds, rounded to the microsecond as ftrace does. */
static void print_time(struct trace_seq *s, unsigned long long ts)
{
	unsigned long long us = (ts + 500) / 1000;

	trace_seq_printf(s, "%6llu.%06llu", us / 1000000, us % 1000000);
}

static int timeline_cb(struct tracecmd_input *in, struct tep_record *rec,
		       int cpu, void *data)
{
	struct tep_handle *tep = tracecmd_get_tep(in);
	struct timeline *tl = data;

	(void)cpu;
	if (in != tl->old && !tl->in_new) {
		fprintf(tl->out, "# ---- kexec ----\n# ---- after: %s ----\n",
			tl->new_name);
		tl->in_new = true;
	} else if (in == tl->old && tl->in_new) {
		/* The clock markers disagree with the order; say so. */
		fprintf(tl->out, "# (an event of %s after the kexec line)\n",
			tl->old_name);
	}
	trace_seq_reset(&tl->seq);
	tep_print_event(tep, &tl->seq, rec, "%16s-%-7d [%03d] ", TEP_PRINT_COMM,
			TEP_PRINT_PID, TEP_PRINT_CPU);
	print_time(&tl->seq, rec->ts);
	tep_print_event(tep, &tl->seq, rec, ": %s: %s", TEP_PRINT_NAME,
			TEP_PRINT_INFO);
	trace_seq_terminate(&tl->seq);
	/* trace_marker text ends with its own newline */
	fprintf(tl->out, "%.*s\n", (int)strcspn(tl->seq.buffer, "\n"),
		tl->seq.buffer);
	tl->events++;
	return 0;
}

long khup_print_timeline(struct tracecmd_input *old, struct tracecmd_input *new,
			 const char *old_name, const char *new_name,
			 bool aligned, FILE *out)
{
	struct tracecmd_input *both[2] = { old, new };
	struct timeline tl = {
		.old = old, .old_name = old_name, .new_name = new_name, .out = out,
	};
	int err;

	fprintf(out, "# ---- before: %s ----\n", old_name);
	trace_seq_init(&tl.seq);
	if (aligned) {
		err = tracecmd_iterate_events_multi(both, 2, timeline_cb, &tl);
	} else {
		fprintf(out, "# (no clock markers in both halves: each half on its own kernel's clock)\n");
		err = tracecmd_iterate_events(old, NULL, 0, timeline_cb, &tl);
		if (err >= 0)
			err = tracecmd_iterate_events(new, NULL, 0, timeline_cb, &tl);
	}
	if (err >= 0 && !tl.in_new)
		fprintf(out, "# ---- kexec ----\n# ---- after: %s ----\n", new_name);
	trace_seq_destroy(&tl.seq);
	return err < 0 ? -1 : tl.events;
}
