// SPDX-License-Identifier: GPL-2.0-only
/*
 * One output path for text and JSON (see out.h).
 */
#include <inttypes.h>
#include <stdarg.h>

#include "out.h"

#define OUT_MAX_DEPTH	16

static FILE *out_f;
static bool json_mode;
static int depth;
/* Per nesting level: no member printed yet (no comma needed). */
static bool first[OUT_MAX_DEPTH];

static FILE *stream(void)
{
	return out_f ? out_f : stdout;
}

void out_init(bool json, FILE *f)
{
	json_mode = json;
	out_f = f;
	depth = 0;
	first[0] = true;
}

bool out_json(void)
{
	return json_mode;
}

void out_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* The comma before a member and its key, if any. */
static void member(const char *key)
{
	FILE *f = stream();

	if (!first[depth])
		fputc(',', f);
	first[depth] = false;
	if (key) {
		out_json_string(f, key);
		fputc(':', f);
	}
}

static void open_container(const char *key, char c)
{
	if (!json_mode)
		return;
	member(key);
	fputc(c, stream());
	if (depth < OUT_MAX_DEPTH - 1)
		depth++;
	first[depth] = true;
}

static void close_container(char c)
{
	if (!json_mode)
		return;
	fputc(c, stream());
	if (depth > 0)
		depth--;
}

void out_open_object(const char *key)
{
	open_container(key, '{');
}

void out_close_object(void)
{
	close_container('}');
}

void out_open_array(const char *key)
{
	open_container(key, '[');
}

void out_close_array(void)
{
	close_container(']');
}

static bool want(enum out_when w)
{
	return w == OUT_ANY || (w == OUT_JSON) == json_mode;
}

void out_u64(enum out_when w, const char *key, const char *fmt, uint64_t v)
{
	if (!want(w))
		return;
	if (json_mode) {
		member(key);
		fprintf(stream(), "%" PRIu64, v);
	} else if (fmt) {
		fprintf(stream(), fmt, v);
	}
}

void out_s64(enum out_when w, const char *key, const char *fmt, int64_t v)
{
	if (!want(w))
		return;
	if (json_mode) {
		member(key);
		fprintf(stream(), "%" PRId64, v);
	} else if (fmt) {
		fprintf(stream(), fmt, v);
	}
}

void out_str(enum out_when w, const char *key, const char *fmt, const char *s)
{
	if (!want(w))
		return;
	if (json_mode) {
		member(key);
		out_json_string(stream(), s);
	} else if (fmt) {
		fprintf(stream(), fmt, s);
	}
}

void out_bool(enum out_when w, const char *key, const char *fmt, bool v)
{
	if (!want(w))
		return;
	if (json_mode) {
		member(key);
		fputs(v ? "true" : "false", stream());
	} else if (fmt) {
		fprintf(stream(), fmt, v ? "yes" : "no");
	}
}

void out_null(enum out_when w, const char *key, const char *fmt)
{
	if (!want(w))
		return;
	if (json_mode) {
		member(key);
		fputs("null", stream());
	} else if (fmt) {
		fputs(fmt, stream());
	}
}

void out_text(const char *fmt, ...)
{
	va_list ap;

	if (json_mode)
		return;
	va_start(ap, fmt);
	vfprintf(stream(), fmt, ap);
	va_end(ap);
}

void out_end(void)
{
	if (json_mode)
		fputc('\n', stream());
	depth = 0;
	first[0] = true;
}
