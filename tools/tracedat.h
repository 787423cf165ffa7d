/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The upgrade's trace across a kexec: read a trace instance's raw per-CPU
 * buffers, put the two kernels' trace.dat files on one time axis, print one
 * timeline. Used by khup-tracedat (tools/khup-tracedat.c) and the unit tests.
 */
#ifndef KHUP_TRACEDAT_H
#define KHUP_TRACEDAT_H

#include <stdbool.h>
#include <stdio.h>

struct tracecmd_input;

/* The marker khup-upgrade writes in each kernel to tie its trace clock to
 * the wall clock: "khup-upgrade: clock realtime=SECONDS.MICROSECONDS".
 */
#define KHUP_CLOCK_MARKER "khup-upgrade: clock realtime="

/*
 * Parses a trace_marker text; on a clock marker stores the wall-clock time
 * it names in ns and returns true.
 */
bool khup_parse_clock_marker(const char *text, unsigned long long *realtime_ns);

/*
 * The wall-clock time (ns) of trace time 0 in @in: realtime named by its
 * first clock marker minus that marker's timestamp. Returns 0 and stores it
 * in @offset, or -1 when the file has no clock marker. Reads @in's records:
 * use a handle of its own.
 */
int khup_clock_offset(struct tracecmd_input *in, long long *offset);

/*
 * Drains every per-CPU trace_pipe_raw of the trace instance @inst (its
 * tracefs directory) into @outdir/cpuN.raw without blocking; a CPU with no
 * data gets an empty file. Writes the files' paths in CPU order, one a line,
 * to @list (the arguments of 'trace-cmd restore'). Returns the number of
 * pages read, or -1 with a message on stderr.
 */
long khup_drain_instance(const char *inst, const char *outdir, FILE *list);

/*
 * Prints the events of @old (the kernel before the kexec) and @new (after)
 * to @out, each decoded with its own file's formats, symbols and command
 * lines, a line "# ---- kexec ----" between the kernels. With @aligned (the
 * caller put both on one clock with tracecmd_add_ts_offset) in time order,
 * else @old's events, then @new's. Returns the number of events printed,
 * or -1.
 */
long khup_print_timeline(struct tracecmd_input *old, struct tracecmd_input *new,
			 const char *old_name, const char *new_name,
			 bool aligned, FILE *out);

#endif
