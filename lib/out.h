/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One output path for text and JSON, after iproute2's json_print: a
 * command prints each value once, with its JSON key and its text format;
 * the mode chosen at start decides which of the two appears. Objects and
 * arrays nest; commas and the final newline of a JSON document are this
 * file's business, not the caller's.
 *
 *   out_open_object(NULL);
 *   out_u64(OUT_ANY, "pages", "%10" PRIu64 " ", n);   text: "   12345 "
 *   out_str(OUT_ANY, "name", "%s\n", name);            JSON: {"pages":12345,"name":"x"}
 *   out_close_object();
 *   out_end();
 */
#ifndef KHUP_LIB_OUT_H
#define KHUP_LIB_OUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum out_when {
	OUT_ANY,	/* in both modes */
	OUT_TEXT,	/* text only: fmt is printed, key ignored */
	OUT_JSON,	/* JSON only: key and value, fmt ignored */
};

/* Chooses the mode and the stream (stdout if NULL); resets the nesting. */
void out_init(bool json, FILE *f);
bool out_json(void);

/* Containers; a key is needed inside an object, NULL at top level or in
 * an array. In text mode they print nothing. */
void out_open_object(const char *key);
void out_close_object(void);
void out_open_array(const char *key);
void out_close_array(void);

/* Values. fmt is a printf format for the one value (text mode); NULL
 * prints nothing there. */
void out_u64(enum out_when w, const char *key, const char *fmt, uint64_t v);
void out_s64(enum out_when w, const char *key, const char *fmt, int64_t v);
void out_str(enum out_when w, const char *key, const char *fmt, const char *s);
void out_bool(enum out_when w, const char *key, const char *fmt, bool v);
/* JSON null; the text is fmt as a plain string. */
void out_null(enum out_when w, const char *key, const char *fmt);

/* Free text in text mode only (headers, labels, newlines). */
void out_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Ends a JSON document with a newline; nothing in text mode. */
void out_end(void);

/* A JSON string literal of any bytes: quotes, backslash and control
 * characters escaped, and every byte outside printable ASCII as \u00XX
 * (names are bytes, not necessarily UTF-8; the result is always valid
 * JSON). */
void out_json_string(FILE *f, const char *s);

#endif /* KHUP_LIB_OUT_H */
