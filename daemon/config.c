// SPDX-License-Identifier: GPL-2.0-only
/*
 * khupd's settings: the configuration file (/etc/khup/khupd.conf), then
 * the command line on top of it. Both go through config_set(), so a value
 * is checked the same way wherever it comes from, and every key of the file
 * is the long option of the same name (see khupd(8), CONFIGURATION).
 *
 * Format: "key = value" lines; '#' starts a comment line; blank lines are
 * ignored; the value is the rest of the line without surrounding blanks
 * (module-params may hold several words). An empty value keeps the default.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "khupd.h"

/* Longest TTL and rescan period accepted: beyond, a typo is likelier. */
#define MAX_TTL		(10UL * 365 * 86400)
#define MAX_INTERVAL	86400UL

static int parse_ulong(const char *s, unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 10);
	return errno || !*s || *end || s[0] == '-' ? -1 : 0;
}

static int parse_bool(const char *s, bool *v)
{
	if (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "1"))
		*v = true;
	else if (!strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "0"))
		*v = false;
	else
		return -1;
	return 0;
}

/* A copy that lives as long as the process (settings are never freed). */
static const char *keep(const char *s)
{
	char *c = strdup(s);

	if (!c) {
		fprintf(stderr, "khupd: out of memory\n");
		exit(KHUPD_EXIT_FAILURE);
	}
	return c;
}

/*
 * Sets @key (a long option's name) to @value. @where names the source for
 * the error message ("--ttl", "/etc/khup/khupd.conf:3"). Returns 0, or
 * KHUPD_EXIT_USAGE after printing why.
 */
int config_set(const char *key, const char *value, const char *where)
{
	unsigned long n;
	const char *why = NULL;

	if (!strcmp(key, "module")) {
		cfg.module_path = *value ? keep(value) : NULL;
	} else if (!strcmp(key, "module-params")) {
		cfg.module_params = *value ? keep(value) : NULL;
	} else if (!strcmp(key, "state-dir")) {
		if (value[0] != '/')
			why = "an absolute directory";
		else
			cfg.state_dir = keep(value);
	} else if (!strcmp(key, "ttl")) {
		if (parse_ulong(value, &n) || n > MAX_TTL)
			why = "seconds, 0 (never) to 315360000";
		else
			cfg.ttl = n;
	} else if (!strcmp(key, "interval")) {
		if (parse_ulong(value, &n) || !n || n > MAX_INTERVAL)
			why = "seconds, 1 to 86400";
		else
			cfg.interval = n;
	} else if (!strcmp(key, "verbose")) {
		if (parse_bool(value, &cfg.verbose))
			why = "yes or no";
	} else {
		fprintf(stderr, "khupd: %s: unknown setting '%s' (see khupd(8))\n",
			where, key);
		return KHUPD_EXIT_USAGE;
	}
	if (why) {
		fprintf(stderr, "khupd: %s: bad value '%s' for %s (expected %s)\n",
			where, value, key, why);
		return KHUPD_EXIT_USAGE;
	}
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

/*
 * Reads @path. A missing file is fine unless @must_exist (the operator
 * named it with --config). Returns 0 or a KHUPD_EXIT_* code.
 */
int config_load(const char *path, bool must_exist)
{
	char line[1024], where[600];
	unsigned int nr = 0;
	int ret = 0;
	FILE *f;

	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && !must_exist)
			return 0;
		fprintf(stderr, "khupd: cannot read %s: %s\n", path,
			strerror(errno));
		return KHUPD_EXIT_USAGE;
	}
	while (!ret && fgets(line, sizeof(line), f)) {
		char *l, *eq;

		nr++;
		snprintf(where, sizeof(where), "%s:%u", path, nr);
		if (!strchr(line, '\n') && !feof(f)) {
			fprintf(stderr, "khupd: %s: line too long\n", where);
			ret = KHUPD_EXIT_USAGE;
			break;
		}
		l = trim(line);
		if (!*l || *l == '#')
			continue;
		eq = strchr(l, '=');
		if (!eq) {
			fprintf(stderr, "khupd: %s: expected 'key = value'\n",
				where);
			ret = KHUPD_EXIT_USAGE;
			break;
		}
		*eq = 0;
		ret = config_set(trim(l), trim(eq + 1), where);
	}
	fclose(f);
	return ret;
}
