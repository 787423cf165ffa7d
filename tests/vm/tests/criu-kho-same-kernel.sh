# SPDX-License-Identifier: GPL-2.0-only
# criu dump --kho then criu restore --kho in the same kernel: pages go to /dev/khup, not to pages-*.img, and come back intact
VM_TIMEOUT=600

# (the host reads this file for its VM_* settings, without KHUP_TOP)
[ -z "${KHUP_TOP:-}" ] || . "$KHUP_TOP/tests/vm/progs/criu-kho.sh"

stage1() {
	local wl=$OUT/wl pid held
	need_plugin
	check "module loads" insmod "$(khup_ko)"
	check "workload starts (64 MiB anon, THP, file, shared, memfd, 4 threads, child)" wl_start "$wl" 64
	pid=$(kv "$wl/ready" pid)
	check "report before dump" wl_report "$wl" report.before

	mkdir -p "$IMG"
	kho_dump "$wl" "$pid"

	check "criu restore --kho" criu_run restore.log restore --kho -D "$IMG" --restore-detached
	show_log "$IMG/restore.log"
	check_eq "restore released the image" "$(khup_images | wc -l)" 0
	check "report after restore" wl_report "$wl" report.after
	check "every region's checksum is intact" wl_verify "$wl" "$wl/report.after"
	check "threads and child ran on" wl_advanced "$wl" "$wl/report.before" "$wl/report.after"
	check "the futex waiter wakes and is joined" wl_join "$wl" report.joined
	sleep 1
	check "report again" wl_report "$wl" report.later
	check "threads and child keep running" wl_advanced "$wl" "$wl/report.after" "$wl/report.later"
	wl_stop "$wl"
	check "rmmod" rmmod khup
}
