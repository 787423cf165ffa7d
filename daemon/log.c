// SPDX-License-Identifier: GPL-2.0-only
/*
 * khupd logging: to syslog (--syslog), or to stderr. When stderr is
 * connected to the journal (systemd sets JOURNAL_STREAM), every line gets
 * the sd-daemon "<N>" priority prefix so journald records its level;
 * otherwise lines read "khupd: LEVEL: message".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "khupd.h"

static bool to_journal;

void log_init(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long dev, ino;
	struct stat st;

	if (cfg.syslog) {
		openlog("khupd", LOG_PID, LOG_DAEMON);
		return;
	}
	if (js && sscanf(js, "%lu:%lu", &dev, &ino) == 2 &&
	    !fstat(STDERR_FILENO, &st) && st.st_dev == dev &&
	    st.st_ino == ino)
		to_journal = true;
}

static const char *level(int prio)
{
	switch (prio) {
	case LOG_ERR: return "error";
	case LOG_WARNING: return "warning";
	case LOG_NOTICE: return "notice";
	case LOG_INFO: return "info";
	}
	return "debug";
}

void log_msg(int prio, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (prio == LOG_DEBUG && !cfg.verbose)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (cfg.syslog)
		syslog(prio, "%s", buf);
	else if (to_journal)
		fprintf(stderr, "<%d>%s\n", prio, buf);
	else
		fprintf(stderr, "khupd: %s: %s\n", level(prio), buf);
}
