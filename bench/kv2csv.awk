# SPDX-License-Identifier: GPL-2.0-only
#
# bench.kv of one VM run ("REP MODE KEY VALUE", ns and bytes) -> CSV rows,
# one per (mode, rep), times in ms. Variables: size (MiB), thp (0/1).
# Usage: awk -v size=N -v thp=T -f kv2csv.awk bench.kv
# Repetition 0 holds what is per run, not per repetition: mode "calib"
# (bench/run's calibration: host_ns_per_page, vm_ns_per_page, f, host_load
# (the host's load average then, or "given" for --host-calib), and this
# VM's own guest_ns_per_page) becomes one row of its own; the throttle_*
# keys of a disk-D mode go into each of its rows. The memcached run's modes
# are memcached-MODE (bench/memcached-bench.sh: first get, throughput back
# to 90 %, keys verified). restore_mod_* are the module's counters over
# the restore (bench/lib.sh, MOD_KEYS).

BEGIN {
	ncol = split("size_mib,thp,mode,rep,pages,dump_ms,handover_ms,attach_ms,restore_ms,total_ms," \
		"storage_written_b,pages_img_b,image_b,restore_extra_b,meta_node_b,meta_tables_b,meta_alloc_b," \
		"extents,pin_ns_per_page,seal_ns_per_page,load_restore_ns_per_page,restore_ns_per_page," \
		"copy_ms,copy_fault_ms,huge_kb,huge_kb_after,pin_ms,seal_ms,load_restore_ms,cma_migrated," \
		"prepare_ms,prepare_migrated,kmem_b,dump_extra_b," \
		"dump_pgalloc,dump_pgfault,dump_pgmigrate,dump_sectors_written," \
		"restore_pgalloc,restore_pgfault,restore_pgmigrate,restore_compact_stall,restore_thp_alloc,restore_sectors_read," \
		"first_answer_ms,fill_ms,fill_mib_s,left_at_answer," \
		"calib_host_ns_per_page,calib_vm_ns_per_page,calib_guest_ns_per_page,calib_f,calib_host_load," \
		"throttle_bps_read,throttle_bps_write,throttle_iops_read,throttle_iops_write," \
		"first_get_ms,tput90_ms,tput_pre_mib_s,tput_after_mib_s,tput_batches,items,keys_sampled,keys_verified," \
		"boot_images,readback_ms,readback_ns_per_page,commit_ms,restore_exit_ms,throttle_in_guest", col, ",")
}

/^#/ { next }
{ v[$1 SUBSEP $2 SUBSEP $3] = $4; seen[$1 SUBSEP $2] = 1 }

function get(r, m, k) { return ((r SUBSEP m SUBSEP k) in v) ? v[r, m, k] : "" }
function ms(x) { return x == "" ? "" : sprintf("%.1f", x / 1e6) }
function sum3(a, b, c) { return (a == "" && b == "" && c == "") ? "" : a + b + c }
function mibs(x) { return x == "" ? "" : sprintf("%.1f", x / 1048576) }
function per(a, b) { return (a == "" || b == "" || b == 0) ? "" : sprintf("%.1f", a / b) }

END {
	if (header) {
		for (i = 1; i <= ncol; i++)
			printf "%s%s", col[i], i < ncol ? "," : "\n"
	}
	for (key in seen) {
		split(key, kk, SUBSEP)
		r = kk[1]; m = kk[2]
		if (r == 0 && m != "calib")
			continue
		# a repetition that did not finish (its VM stopped between a
		# mode's dump and its restore, or the dump itself failed: then
		# the stage stops before the kexec) leaves a dump without a
		# restore: no row, so that medians only count complete ones
		if (r != 0 && m != "memcpy" && get(r, m, "restore_ns") == "" && get(r, m, "dump_ns") != "")
			continue
		delete o
		o["size_mib"] = size; o["thp"] = thp; o["mode"] = m; o["rep"] = r
		o["pages"] = get(r, m, "pages")
		o["dump_ms"] = ms(get(r, m, "dump_ns"))
		o["handover_ms"] = ms(get(r, m, "handover_ns"))
		o["boot_images"] = get(r, m, "boot_images")
		o["attach_ms"] = ms(get(r, m, "attach_ns"))
		o["restore_ms"] = ms(get(r, m, "restore_ns"))
		o["restore_exit_ms"] = ms(get(r, m, "restore_exit_ns"))
		b = m; sub(/^memcached-/, "", b)
		if (b == "khup" || b == "lazy" || b == "luo" || b ~ /^disk/) {
			d = get(r, m, "dump_ns"); h = get(r, m, "handover_ns"); a = get(r, m, "attach_ns"); s = get(r, m, "restore_ns")
			if (d != "" && h != "" && a != "" && s != "")
				o["total_ms"] = ms(d + h + a + s)
		} else if (m == "tmpfs") {
			d = get(r, m, "dump_ns"); s = get(r, m, "restore_ns")
			if (d != "" && s != "")
				o["total_ms"] = ms(d + s)
		} else if (m == "memcpy") {
			o["copy_ms"] = ms(get(r, m, "copy_ns"))
			o["copy_fault_ms"] = ms(get(r, m, "copy_fault_ns"))
			o["restore_ms"] = o["copy_fault_ms"]
			o["total_ms"] = o["copy_fault_ms"]
			o["pages"] = size * 256
		}
		o["storage_written_b"] = get(r, m, "storage_written_b")
		o["pages_img_b"] = get(r, m, "pages_img_b")
		o["image_b"] = get(r, m, "image_bytes")
		o["restore_extra_b"] = get(r, m, "restore_extra_b")
		o["meta_node_b"] = get(r, m, "meta_node_b")
		o["meta_tables_b"] = get(r, m, "meta_tables_b")
		o["meta_alloc_b"] = get(r, m, "meta_alloc_b")
		o["extents"] = get(r, m, "extents")
		o["pin_ns_per_page"] = per(get(r, m, "pin_ns"), get(r, m, "pinned"))
		o["seal_ns_per_page"] = per(get(r, m, "seal_ns"), get(r, m, "preserved"))
		o["load_restore_ns_per_page"] = per(get(r, m, "module_restore_ns"), get(r, m, "restored"))
		o["restore_ns_per_page"] = per(get(r, m, "restore_ns"), o["pages"])
		o["pin_ms"] = ms(get(r, m, "pin_ns"))
		o["seal_ms"] = ms(get(r, m, "seal_ns"))
		o["load_restore_ms"] = ms(get(r, m, "module_restore_ns"))
		o["cma_migrated"] = get(r, m, "cma_migrated")
		o["prepare_ms"] = ms(get(r, m, "prepare_ns"))
		o["prepare_migrated"] = get(r, m, "prepare_migrated")
		o["kmem_b"] = get(r, m, "kmem_bytes")
		o["huge_kb"] = get(r, m, "huge_kb")
		o["huge_kb_after"] = get(r, m, "huge_kb_after")
		o["dump_extra_b"] = get(r, m, "dump_extra_b")
		for (ph = 1; ph <= 2; ph++) {
			p = ph == 1 ? "dump" : "restore"
			o[p "_pgalloc"] = sum3(get(r, m, p "_vm_pgalloc_dma32"), get(r, m, p "_vm_pgalloc_normal"),
				get(r, m, p "_vm_pgalloc_movable"))
			o[p "_pgfault"] = get(r, m, p "_vm_pgfault")
			o[p "_pgmigrate"] = get(r, m, p "_vm_pgmigrate_success")
		}
		o["dump_sectors_written"] = get(r, m, "dump_sectors_written")
		o["restore_compact_stall"] = get(r, m, "restore_vm_compact_stall")
		o["restore_thp_alloc"] = get(r, m, "restore_vm_thp_fault_alloc")
		o["restore_sectors_read"] = get(r, m, "restore_sectors_read")
		# the module's read calls during the restore (for lazy: the
		# daemon's, until the end of the fill) and its commit
		b = get(r, m, "restore_mod_read_bytes")
		if (b != "" && b > 0) {
			o["readback_ms"] = ms(get(r, m, "restore_mod_read_ns"))
			o["readback_ns_per_page"] = per(get(r, m, "restore_mod_read_ns"), b / 4096)
			o["commit_ms"] = ms(get(r, m, "restore_mod_commit_ns"))
		}
		o["first_answer_ms"] = ms(get(r, m, "first_answer_ns"))
		o["fill_ms"] = ms(get(r, m, "fill_ns"))
		f = get(r, m, "fill_ns")
		o["fill_mib_s"] = (f == "" || f == 0 || o["pages"] == "") ? "" : sprintf("%.1f", o["pages"] * 4096 / 1048576 / (f / 1e9))
		o["left_at_answer"] = get(r, m, "left_at_answer")
		o["first_get_ms"] = ms(get(r, m, "first_get_ns"))
		o["tput90_ms"] = ms(get(r, m, "tput90_ns"))
		o["tput_pre_mib_s"] = mibs(get(r, m, "tput_pre_b_s"))
		o["tput_after_mib_s"] = mibs(get(r, m, "tput_after_b_s"))
		o["tput_batches"] = get(r, m, "tput_batches")
		o["items"] = get(r, m, "items")
		o["keys_sampled"] = get(r, m, "keys_sampled")
		o["keys_verified"] = get(r, m, "keys_verified")
		o["calib_host_ns_per_page"] = get(r, m, "host_ns_per_page")
		o["calib_vm_ns_per_page"] = get(r, m, "vm_ns_per_page")
		o["calib_guest_ns_per_page"] = get(r, m, "guest_ns_per_page")
		o["calib_f"] = get(r, m, "f")
		o["calib_host_load"] = get(r, m, "host_load")
		o["throttle_bps_read"] = get(0, m, "throttle_bps_read")
		o["throttle_bps_write"] = get(0, m, "throttle_bps_write")
		o["throttle_iops_read"] = get(0, m, "throttle_iops_read")
		o["throttle_iops_write"] = get(0, m, "throttle_iops_write")
		o["throttle_in_guest"] = get(0, m, "throttle_in_guest")
		for (i = 1; i <= ncol; i++)
			printf "%s%s", o[col[i]], i < ncol ? "," : "\n"
	}
}
