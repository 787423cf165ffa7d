# SPDX-License-Identifier: GPL-2.0-only
# one process with 3 GiB of physically scattered 4 KiB pages (one extent per page, > 400000 extents in one task): criu dump --kho, kexec, restore, every checksum intact; prints the extent count and the pin, seal and module-load costs per page
VM_KEXEC=yes
VM_MEM=8G
VM_TIMEOUT=2400

[ -z "${KHUP_TOP:-}" ] || . "$KHUP_TOP/tests/vm/progs/criu-kho.sh"

SCALE_MIB=3072

# per_page STATS NS_KEY PAGES_KEY: ns per page of a module statistic
per_page() {
	awk -v n="$2" -v p="$3" '$1 == n { t = $2 } $1 == p { c = $2 } END { printf "%.0f", c ? t / c : 0 }' "$1"
}

stage1() {
	local wl=$OUT/wl pid ext
	need_plugin
	check "module loads" insmod "$(khup_ko)"
	export KHUP_WL_SCATTER=1
	check "workload starts (${SCALE_MIB} MiB of scattered 4 KiB pages, and the rest)" wl_start "$wl" "$SCALE_MIB"
	unset KHUP_WL_SCATTER
	pid=$(kv "$wl/ready" pid)
	check "report before dump" wl_report "$wl" report.before

	mkdir -p "$IMG"
	kho_dump "$wl" "$pid"
	echo "$held" >"$OUT/held"
	"$KHUP_BUILD/tools/khupctl" --json show "$(khup_images | awk '{ print $1 }')" >"$OUT/show.json"
	ext=$(jq --argjson p "$pid" '.task_list[] | select(.pid == $p) | .extents' "$OUT/show.json")
	note "task $pid: ${ext:-?} extents for $(jq --argjson p "$pid" '.task_list[] | select(.pid == $p) | .pages' "$OUT/show.json") pages"
	check "more than 400000 extents in one task" test "${ext:-0}" -gt 400000
	"$KHUP_BUILD/progs/khup-nl" stats >"$OUT/stats.dump"
	note "pin: $(per_page "$OUT/stats.dump" pin_ns pinned) ns per page ($(awk '$1 == "cma_migrated" { print $2 }' "$OUT/stats.dump") pages migrated, included); seal: $(per_page "$OUT/stats.dump" seal_ns preserved) ns per page; module memory $(awk '$1 == "kmem_bytes" { print $2 }' "$OUT/stats.dump") bytes ($(awk -v h="$held" '$1 == "kmem_bytes" { printf "%.1f", $2 / h }' "$OUT/stats.dump") per page)"
}

stage2() {
	local wl=$OUT/wl held t0 t1
	need_plugin
	held=$(cat "$OUT/held")
	t0=$(date +%s%N)
	check "module loads after kexec" insmod "$(khup_ko)"
	t1=$(date +%s%N)
	"$KHUP_BUILD/progs/khup-nl" stats >"$OUT/stats.load"
	note "module load: $(((t1 - t0) / 1000000)) ms; restore of the node: $(per_page "$OUT/stats.load" restore_ns restored) ns per page"
	check_eq "the image came over the kexec with every page" "$(khup_images | awk '{ print $2 " " $3 }')" "3 $held"
	t0=$(date +%s%N)
	check "criu restore --kho" criu_run restore.log restore --kho -D "$IMG" --restore-detached
	t1=$(date +%s%N)
	note "restore -> running: $(((t1 - t0) / 1000000)) ms"
	show_log "$IMG/restore.log"
	check_eq "restore released the image: the module holds no pages" "$(khup_images | wc -l)" 0
	check "report after restore" wl_report "$wl" report.after
	check "every region's checksum is intact (as recorded before kexec)" wl_verify "$wl" "$wl/report.after"
	check "threads and child ran on" wl_advanced "$wl" "$wl/report.before" "$wl/report.after"
	wl_stop "$wl"
	check "rmmod" rmmod khup
}
