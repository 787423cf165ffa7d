// SPDX-License-Identifier: GPL-2.0-only
/*
 * khup-tracedat: the helper khup-upgrade uses for the upgrade's trace.
 *
 *   khup-tracedat drain INSTANCE_DIR OUTDIR
 *   khup-tracedat clock FILE.dat
 *   khup-tracedat timeline [--before NAME] [--after NAME] OLD.dat NEW.dat
 *
 * See doc/tools.md ("The upgrade's trace").
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <trace-cmd.h>

#include "tracedat.h"
#include "version.h"	/* generated: scripts/version --header */

#define PROG "khup-tracedat"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " drain INSTANCE_DIR OUTDIR\n"
		"       " PROG " clock FILE.dat\n"
		"       " PROG " timeline [--before NAME] [--after NAME] OLD.dat NEW.dat\n"
		"       " PROG " -h|--help | -V|--version\n"
		"drain     read every CPU's trace_pipe_raw of a trace instance (without\n"
		"          blocking) into OUTDIR/cpuN.raw; print the files in CPU order\n"
		"clock     print the wall-clock time (ns) of the file's trace time 0, from\n"
		"          its 'khup-upgrade: clock realtime=' marker (exit 1 if none)\n"
		"timeline  print both kernels' events, each decoded with its own file's\n"
		"          formats, on the old kernel's clock, '# ---- kexec ----' between\n"
		"Exit status: 0 success, 1 failure, 2 usage error.\n");
}

static struct tracecmd_input *open_dat(const char *file)
{
	struct tracecmd_input *in = tracecmd_open(file, 0);

	if (!in)
		fprintf(stderr, PROG ": cannot read %s as a trace.dat file\n", file);
	return in;
}

/* The clock offset of @file from a handle of its own; -1 if it has none. */
static int file_clock(const char *file, long long *offset)
{
	struct tracecmd_input *in = open_dat(file);
	int err;

	if (!in)
		return -1;
	err = khup_clock_offset(in, offset);
	tracecmd_close(in);
	return err;
}

static int cmd_drain(int argc, char **argv)
{
	long pages;

	if (argc != 3) {
		usage(stderr);
		return 2;
	}
	pages = khup_drain_instance(argv[1], argv[2], stdout);
	if (pages < 0)
		return 1;
	fprintf(stderr, PROG ": %s: %ld pages\n", argv[1], pages);
	return 0;
}

static int cmd_clock(int argc, char **argv)
{
	long long off;

	if (argc != 2) {
		usage(stderr);
		return 2;
	}
	if (file_clock(argv[1], &off)) {
		fprintf(stderr, PROG ": %s: no '%s' marker\n", argv[1],
			KHUP_CLOCK_MARKER);
		return 1;
	}
	printf("%lld\n", off);
	return 0;
}

static int cmd_timeline(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "before", required_argument, NULL, 'b' },
		{ "after", required_argument, NULL, 'a' },
		{ }
	};
	const char *before = "the previous kernel", *after = "this kernel";
	struct tracecmd_input *old, *new;
	long long off_old, off_new;
	bool aligned;
	long n;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			before = optarg;
			break;
		case 'a':
			after = optarg;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	aligned = !file_clock(argv[optind], &off_old) &&
		  !file_clock(argv[optind + 1], &off_new);
	old = open_dat(argv[optind]);
	new = old ? open_dat(argv[optind + 1]) : NULL;
	if (!new) {
		if (old)
			tracecmd_close(old);
		return 1;
	}
	if (aligned) {
		/* The old kernel's axis: its trace time + wall-clock offset. */
		tracecmd_add_ts_offset(new, off_new - off_old);
		printf("# one axis: the previous kernel's trace clock; this kernel's events shifted by %+.6f s (clock markers)\n",
		       (off_new - off_old) / 1e9);
	}
	n = khup_print_timeline(old, new, before, after, aligned, stdout);
	tracecmd_close(new);
	tracecmd_close(old);
	return n < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf(PROG " %s\n", KHUP_VERSION);
		return 0;
	}
	tracecmd_set_loglevel(TEP_LOG_ERROR);
	if (!strcmp(argv[1], "drain"))
		return cmd_drain(argc - 1, argv + 1);
	if (!strcmp(argv[1], "clock"))
		return cmd_clock(argc - 1, argv + 1);
	if (!strcmp(argv[1], "timeline"))
		return cmd_timeline(argc - 1, argv + 1);
	fprintf(stderr, PROG ": unknown command '%s' (see --help)\n", argv[1]);
	return 2;
}
