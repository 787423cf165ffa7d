// SPDX-License-Identifier: GPL-2.0-only
/*
 * lib/out.c, the one output path of khupctl: the same calls give the text
 * and a JSON document; commas, nesting and escaping are right, and names
 * of any bytes give valid JSON.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ktap.h"
#include "out.h"

/* A small image listing, printed the way khupctl prints one. */
static void listing(const char *name)
{
	int i;

	out_open_object(NULL);
	out_str(OUT_ANY, "tree", "tree %s:\n", "out");
	out_null(OUT_JSON, "compatible", NULL);
	out_open_array("images");
	for (i = 1; i <= 2; i++) {
		out_open_object(NULL);
		out_u64(OUT_ANY, "id", "%-3" PRIu64, (uint64_t)i);
		out_str(OUT_ANY, "name", " %s", i == 1 ? name : "b");
		out_s64(OUT_ANY, "claimer", " %" PRId64, (int64_t)-i);
		out_bool(OUT_JSON, "sealed", NULL, i == 2);
		out_text(" (text only)");
		out_open_array("tasks");
		out_close_array();
		out_text("\n");
		out_close_object();
	}
	out_close_array();
	out_close_object();
	out_end();
}

static char *capture(bool json, const char *name)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	out_init(json, f);
	listing(name);
	fclose(f);
	out_init(false, NULL);
	return buf;
}

void test_out(const char *outdir)
{
	char *text, *json;

	(void)outdir;
	text = capture(false, "a");
	CHECK(!strcmp(text, "tree out:\n1   a -1 (text only)\n2   b -2 (text only)\n"),
	      "out: text mode prints each value with its format, nothing of JSON");
	json = capture(true, "a");
	CHECK(!strcmp(json, "{\"tree\":\"out\",\"compatible\":null,\"images\":["
			   "{\"id\":1,\"name\":\"a\",\"claimer\":-1,\"sealed\":false,\"tasks\":[]},"
			   "{\"id\":2,\"name\":\"b\",\"claimer\":-2,\"sealed\":true,\"tasks\":[]}]}\n"),
	      "out: JSON mode gives one document: keys, commas, nested arrays and objects, newline at the end");
	free(text);
	free(json);

	/* a name with a quote, a backslash, a tab and bytes 0xff and 0x7f */
	json = capture(true, "q\"b\\t\t\xff\x7f");
	CHECK(strstr(json, "\"name\":\"q\\\"b\\\\t\\u0009\\u00ff\\u007f\"") != NULL,
	      "out: quotes, backslashes, control bytes and bytes over 0x7e are escaped (valid JSON, any name)");
	free(json);

	text = capture(false, "q\xff");
	CHECK(strstr(text, "1   q\xff -1") != NULL,
	      "out: text mode prints a name as it is");
	free(text);

	json = capture(true, "a");
	free(json);
	json = capture(true, "a");
	CHECK(json[0] == '{' && json[1] == '"',
	      "out: a second document starts without a stray comma (state reset by out_end)");
	free(json);
}
