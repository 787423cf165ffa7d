// SPDX-License-Identifier: GPL-2.0-only
/*
 * Small helpers khupd and khupctl both print with (see util.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include <linux/khup.h>

#include "util.h"

const char *khup_state_name(uint32_t s)
{
	switch (s) {
	case KHUP_STATE_OPEN: return "open";
	case KHUP_STATE_SEALED: return "sealed";
	case KHUP_STATE_RESTORED: return "restored";
	}
	return "unknown";
}

const char *khup_human_bytes(uint64_t b, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = b;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (!u)
		snprintf(buf, len, "%" PRIu64 " B", b);
	else
		snprintf(buf, len, "%.1f %s", v, unit[u]);
	return buf;
}

const char *khup_human_time(uint64_t ns, char *buf, size_t len)
{
	time_t t = ns / 1000000000ULL;
	struct tm tm;

	if (!ns || !gmtime_r(&t, &tm))
		snprintf(buf, len, "-");
	else
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}
