// SPDX-License-Identifier: GPL-2.0-only
/*
 * Host tests for kernel/fdt.c: blobs written by our writer must be valid
 * for the real libfdt and dtc, blobs written by libfdt must be readable by
 * our reader, and no malformed blob may make the reader step outside it.
 */
#include <errno.h>
#include <libfdt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fdt.h"
#include "ktap.h"

static int write_sample(void *buf, uint32_t cap)
{
	struct khup_fdtw w;

	khup_fdtw_init(&w, buf, cap);
	khup_fdtw_begin_node(&w, "");
	khup_fdtw_prop_str(&w, "compatible", "khup-v1");
	khup_fdtw_prop_u32(&w, "khup,nr-images", 2);
	khup_fdtw_begin_node(&w, "image-1");
	khup_fdtw_prop_u64(&w, "id", 1);
	khup_fdtw_prop_str(&w, "image-name", "first");
	khup_fdtw_prop_u64(&w, "created-ns", 0x1122334455667788ULL);
	khup_fdtw_begin_node(&w, "task-42");
	khup_fdtw_prop_u32(&w, "pid", 42);
	khup_fdtw_prop_str(&w, "comm", "cat");
	khup_fdtw_prop_u64(&w, "table", 0xfedcba9876543000ULL);
	khup_fdtw_prop(&w, "empty", NULL, 0);
	khup_fdtw_end_node(&w);
	khup_fdtw_end_node(&w);
	khup_fdtw_begin_node(&w, "image-2");
	khup_fdtw_prop_u64(&w, "id", 2);
	khup_fdtw_prop_str(&w, "image-name", "second, longer name");
	khup_fdtw_end_node(&w);
	khup_fdtw_end_node(&w);
	return khup_fdtw_finish(&w);
}

static void test_libfdt_reads_ours(const char *outdir)
{
	static char buf[4096];
	const fdt64_t *p64;
	const fdt32_t *p32;
	const char *s;
	int size, off, len;
	char cmd[1024], path[512];
	FILE *f;

	size = write_sample(buf, sizeof(buf));
	CHECK(size > 0, "fdt: writer finishes sample tree (%d bytes)", size);
	CHECK(fdt_check_header(buf) == 0, "fdt: libfdt accepts our header");
	CHECK(fdt_totalsize(buf) == (uint32_t)size,
	      "fdt: totalsize matches returned size");
	CHECK(fdt_check_full(buf, size) == 0,
	      "fdt: libfdt fdt_check_full accepts our blob");
	off = fdt_path_offset(buf, "/");
	CHECK(fdt_node_check_compatible(buf, off, "khup-v1") == 0,
	      "fdt: libfdt sees compatible khup-v1");
	p32 = fdt_getprop(buf, off, "khup,nr-images", &len);
	CHECK(p32 && len == 4 && fdt32_ld(p32) == 2,
	      "fdt: libfdt reads u32 big endian");
	off = fdt_path_offset(buf, "/image-1/task-42");
	CHECK(off >= 0, "fdt: libfdt finds nested node by path");
	p64 = fdt_getprop(buf, off, "table", &len);
	CHECK(p64 && len == 8 &&
	      fdt64_ld((const fdt64_t *)p64) == 0xfedcba9876543000ULL,
	      "fdt: libfdt reads u64 big endian");
	s = fdt_getprop(buf, off, "empty", &len);
	CHECK(s && len == 0, "fdt: libfdt reads empty property");
	off = fdt_path_offset(buf, "/image-2");
	s = fdt_getprop(buf, off, "image-name", &len);
	CHECK(s && !strcmp(s, "second, longer name"),
	      "fdt: libfdt reads string property");
	CHECK(fdt_num_mem_rsv(buf) == 0, "fdt: empty reservation map");

	snprintf(path, sizeof(path), "%s/sample.dtb", outdir);
	f = fopen(path, "wb");
	if (f) {
		fwrite(buf, 1, size, f);
		fclose(f);
	}
	snprintf(cmd, sizeof(cmd),
		 "dtc -q -I dtb -O dts -o %s/sample.dts %s && "
		 "grep -q 'compatible = \"khup-v1\";' %s/sample.dts && "
		 "grep -q 'pid = <0x2a>;' %s/sample.dts && "
		 "grep -q 'table = <0xfedcba98 0x76543000>;' %s/sample.dts && "
		 "grep -q 'task-42 {' %s/sample.dts",
		 outdir, path, outdir, outdir, outdir, outdir);
	CHECK(f && system(cmd) == 0, "fdt: dtc -I dtb decompiles our blob");
}

static void test_ours_reads_ours(void)
{
	static char buf[4096];
	int size, root, img, task, n;
	uint32_t v32;
	uint64_t v64;
	const char *s;

	size = write_sample(buf, sizeof(buf));
	CHECK(khup_fdt_check(buf, size) == 0, "fdt: reader accepts our blob");
	root = khup_fdt_root(buf);
	CHECK(root >= 0 && !strcmp(khup_fdt_name(buf, root), ""),
	      "fdt: reader finds root");
	s = khup_fdt_prop_str(buf, root, "compatible");
	CHECK(s && !strcmp(s, "khup-v1"), "fdt: reader reads compatible");
	CHECK(khup_fdt_prop_u32(buf, root, "khup,nr-images", &v32) == 0 &&
	      v32 == 2, "fdt: reader reads u32");
	CHECK(khup_fdt_prop_u64(buf, root, "khup,nr-images", &v64) == -EINVAL,
	      "fdt: reader rejects u64 read of a u32");
	CHECK(khup_fdt_prop_u32(buf, root, "missing", &v32) == -ENOENT,
	      "fdt: reader reports missing property");
	img = khup_fdt_first_child(buf, root);
	CHECK(img >= 0 && !strcmp(khup_fdt_name(buf, img), "image-1"),
	      "fdt: first child");
	CHECK(khup_fdt_prop_u64(buf, img, "created-ns", &v64) == 0 &&
	      v64 == 0x1122334455667788ULL, "fdt: reader reads u64");
	task = khup_fdt_first_child(buf, img);
	CHECK(task >= 0 && !strcmp(khup_fdt_name(buf, task), "task-42") &&
	      khup_fdt_prop_u64(buf, task, "table", &v64) == 0 &&
	      v64 == 0xfedcba9876543000ULL, "fdt: nested child and prop");
	CHECK(khup_fdt_prop_str(buf, task, "empty") == NULL,
	      "fdt: empty property is not a string");
	CHECK(khup_fdt_next_sibling(buf, task) == -ENOENT,
	      "fdt: no sibling of only child");
	img = khup_fdt_next_sibling(buf, img);
	CHECK(img >= 0 && !strcmp(khup_fdt_name(buf, img), "image-2"),
	      "fdt: next sibling skips subtree");
	CHECK(khup_fdt_first_child(buf, img) == -ENOENT,
	      "fdt: leaf has no child");
	n = khup_fdt_next_sibling(buf, img);
	CHECK(n == -ENOENT, "fdt: last sibling");
}

static void test_ours_reads_libfdt(void)
{
	static char buf[4096];
	uint32_t v32;
	int root, n, err = 0, off;

	err |= fdt_create(buf, sizeof(buf));
	err |= fdt_add_reservemap_entry(buf, 0x1000, 0x2000);
	err |= fdt_finish_reservemap(buf);
	err |= fdt_begin_node(buf, "");
	err |= fdt_property_string(buf, "compatible", "khup-v1");
	err |= fdt_property_u32(buf, "zap", 7);
	err |= fdt_property_u32(buf, "x", 5);
	err |= fdt_begin_node(buf, "a");
	err |= fdt_property_u32(buf, "x", 1);
	err |= fdt_end_node(buf);
	err |= fdt_begin_node(buf, "b");
	err |= fdt_end_node(buf);
	err |= fdt_end_node(buf);
	err |= fdt_finish(buf);
	CHECK(err == 0, "fdt: libfdt builds reference tree");
	/* NOPs in the middle of properties, as fdt_nop_property() leaves. */
	off = fdt_path_offset(buf, "/");
	CHECK(fdt_nop_property(buf, off, "zap") == 0, "fdt: libfdt nops a prop");
	CHECK(khup_fdt_check(buf, fdt_totalsize(buf)) == 0,
	      "fdt: reader accepts libfdt blob with rsvmap entry and NOPs");
	root = khup_fdt_root(buf);
	CHECK(khup_fdt_prop_u32(buf, root, "x", &v32) == 0 && v32 == 5,
	      "fdt: reader finds prop after NOP");
	CHECK(khup_fdt_prop_u32(buf, root, "zap", &v32) == -ENOENT,
	      "fdt: reader skips NOP'd prop");
	n = khup_fdt_first_child(buf, root);
	CHECK(n >= 0 && !strcmp(khup_fdt_name(buf, n), "a") &&
	      khup_fdt_prop_u32(buf, n, "x", &v32) == 0 && v32 == 1,
	      "fdt: reader reads libfdt child");
	n = khup_fdt_next_sibling(buf, n);
	CHECK(n >= 0 && !strcmp(khup_fdt_name(buf, n), "b"),
	      "fdt: reader reads libfdt sibling");
}

static void test_writer_errors(void)
{
	static char ref[4096];
	struct khup_fdtw w;
	int size, cap, bad = 0, i;
	char *buf;

	size = write_sample(ref, sizeof(ref));
	/* Every too-small buffer fails with ENOSPC and stays in bounds. */
	for (cap = 0; cap < size; cap++) {
		buf = malloc(cap ? cap : 1);
		if (write_sample(buf, cap) != -ENOSPC)
			bad++;
		free(buf);
	}
	CHECK(bad == 0, "fdt: writer reports ENOSPC for all %d short sizes",
	      size);
	buf = malloc(size);
	CHECK(write_sample(buf, size) == size && !memcmp(buf, ref, size),
	      "fdt: writer fits exactly");
	free(buf);

	khup_fdtw_init(&w, ref, sizeof(ref));
	khup_fdtw_prop_u32(&w, "x", 1);
	CHECK(khup_fdtw_finish(&w) == -EINVAL, "fdt: prop outside node fails");
	khup_fdtw_init(&w, ref, sizeof(ref));
	khup_fdtw_begin_node(&w, "");
	CHECK(khup_fdtw_finish(&w) == -EINVAL, "fdt: unbalanced node fails");
	khup_fdtw_init(&w, ref, sizeof(ref));
	khup_fdtw_begin_node(&w, "");
	khup_fdtw_end_node(&w);
	khup_fdtw_begin_node(&w, "");
	CHECK(khup_fdtw_finish(&w) == -EINVAL, "fdt: second root fails");
	khup_fdtw_init(&w, ref, sizeof(ref));
	for (i = 0; i <= KHUP_FDT_MAX_DEPTH; i++)
		khup_fdtw_begin_node(&w, "n");
	CHECK(khup_fdtw_finish(&w) == -EINVAL, "fdt: too deep fails");
	khup_fdtw_init(&w, ref, sizeof(ref));
	CHECK(khup_fdtw_finish(&w) == -EINVAL, "fdt: empty tree fails");
}

static void put32(char *p, uint32_t v)
{
	fdt32_st(p, v);
}

static void test_reader_rejects(void)
{
	static char good[4096], buf[4096];
	int size, off_st, off_str, i, accepted = 0, crashed = 0;
	unsigned int seed = 1;

	size = write_sample(good, sizeof(good));
	off_st = fdt_off_dt_struct(good);
	off_str = fdt_off_dt_strings(good);

#define MUT(desc, stmt) do {						\
		memcpy(buf, good, size);				\
		stmt;							\
		CHECK(khup_fdt_check(buf, size) == -EINVAL,		\
		      "fdt: reader rejects %s", desc);			\
	} while (0)

	MUT("bad magic", put32(buf, 0xd00dfeee));
	MUT("totalsize beyond buffer", put32(buf + 4, size + 4));
	MUT("tiny totalsize", put32(buf + 4, 8));
	MUT("struct offset beyond blob", put32(buf + 8, size + 64));
	MUT("struct size beyond blob", put32(buf + 36, size));
	MUT("strings size beyond blob", put32(buf + 32, size));
	MUT("unaligned struct offset", put32(buf + 8, off_st + 1));
	MUT("unknown version", put32(buf + 24, 99));
	MUT("unknown token", put32(buf + off_st, 7));
	MUT("missing root", put32(buf + off_st, 2));
	MUT("unterminated root name", memset(buf + off_st + 4, 'x', size));
	MUT("missing FDT_END", put32(buf + 36, fdt_size_dt_struct(good) - 4));
	/* First prop of root: token, len, nameoff */
	MUT("prop length beyond block", put32(buf + off_st + 12, 0x7ffffff0));
	MUT("prop length wrapping", put32(buf + off_st + 12, 0xfffffffe));
	MUT("prop name offset beyond strings", put32(buf + off_st + 16, 9999));
	MUT("strings not terminated", memset(buf + off_str, 'x', size - off_str));
	MUT("rsvmap not terminated", memset(buf + 40, 1, 16));
	MUT("second root", put32(buf + fdt_size_dt_struct(good) + off_st - 4,
				 1));
	CHECK(khup_fdt_check(good, size - 1) == -EINVAL,
	      "fdt: reader rejects blob larger than its buffer");
	CHECK(khup_fdt_check(good, 39) == -EINVAL && khup_fdt_check(NULL, 0),
	      "fdt: reader rejects tiny or NULL buffer");

	/*
	 * Random byte flips: the reader must either reject or accept a blob
	 * that every lookup then walks in bounds (ASan/UBSan watch this run).
	 */
	for (i = 0; i < 20000; i++) {
		int j, root, n, k;
		uint32_t v;

		memcpy(buf, good, size);
		for (j = 0; j < 1 + i % 4; j++)
			buf[rand_r(&seed) % size] ^= 1 << (rand_r(&seed) % 8);
		if (khup_fdt_check(buf, size))
			continue;
		accepted++;
		root = khup_fdt_root(buf);
		if (root < 0) {
			crashed++;
			continue;
		}
		khup_fdt_prop_u32(buf, root, "khup,nr-images", &v);
		for (n = khup_fdt_first_child(buf, root), k = 0;
		     n >= 0 && k < 100; n = khup_fdt_next_sibling(buf, n), k++) {
			khup_fdt_prop_str(buf, n, "image-name");
			khup_fdt_first_child(buf, n);
		}
	}
	CHECK(crashed == 0,
	      "fdt: 20000 random corruptions stay in bounds (%d accepted)",
	      accepted);
}

void test_fdt(const char *outdir)
{
	test_libfdt_reads_ours(outdir);
	test_ours_reads_ours();
	test_ours_reads_libfdt();
	test_writer_errors();
	test_reader_rejects();
}
