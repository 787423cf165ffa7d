/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What khupctl's command files share: exit codes, options, the /dev/khup
 * handle (khupctl.c), and the output path and helpers of lib/.
 */
#ifndef KHUP_TOOLS_KHUPCTL_H
#define KHUP_TOOLS_KHUPCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "out.h"	/* lib/: text and JSON output */
#include "util.h"	/* lib/: state names, sizes, times */

/* Exit codes (doc/tools.md). */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,		/* an operation failed */
	EXIT_USAGE = 2,		/* bad command line */
	EXIT_NOMODULE = 3,	/* khup.ko not loaded / /dev/khup missing */
	EXIT_NOIMAGE = 4,	/* no such image */
	EXIT_NOKHO = 5,		/* no KHO tree in debugfs */
};

extern const char *debugfs;

void err_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int open_dev(void);
int kio(unsigned long cmd, void *arg);

/* prepare.c */
int cmd_prepare(int argc, char **argv);

#endif /* KHUP_TOOLS_KHUPCTL_H */
