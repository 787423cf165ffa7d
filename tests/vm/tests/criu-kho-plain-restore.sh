# SPDX-License-Identifier: GPL-2.0-only
# a --kho dump records it in CRIU's inventory: a restore without --kho reads the pages from /dev/khup, intact; --kho on an ordinary dump is refused, naming why, and that dump then restores as usual
VM_TIMEOUT=600

# (the host reads this file for its VM_* settings, without KHUP_TOP)
[ -z "${KHUP_TOP:-}" ] || . "$KHUP_TOP/tests/vm/progs/criu-kho.sh"

stage1() {
	local wl=$OUT/wl pid held
	need_plugin
	check "module loads" insmod "$(khup_ko)"
	check "workload starts" wl_start "$wl" 32
	pid=$(kv "$wl/ready" pid)
	check "report before dump" wl_report "$wl" report.before

	mkdir -p "$IMG"
	kho_dump "$wl" "$pid"
	check "criu restore WITHOUT --kho of the --kho dump" \
		criu_run restore.log restore -D "$IMG" --restore-detached
	show_log "$IMG/restore.log"
	check "the restore says where the pages came from" \
		grep -q "Dumped with --kho: the page contents come from the plugin" "$IMG/restore.log"
	check_eq "the pages came from /dev/khup: the image was committed" "$(khup_images | wc -l)" 0
	check "report after restore" wl_report "$wl" report.after
	check "every region's checksum is intact" wl_verify "$wl" "$wl/report.after"
	check "threads and child ran on" wl_advanced "$wl" "$wl/report.before" "$wl/report.after"

	# the other way round: an ordinary dump restored with --kho
	rm -rf "$IMG"
	mkdir -p "$IMG"
	check "ordinary criu dump (no --kho)" criu_run dump.log dump -t "$pid" -D "$IMG"
	check "the pages are in pages-*.img" test "$(pages_img_bytes "$IMG")" -gt 0
	check "criu restore --kho of it is refused" \
		bash -c "! '$CRIU' restore --kho -D '$IMG' --restore-detached --libdir '$KHUP_PLUGIN_DIR' -v4 -o restore-kho.log"
	show_log "$IMG/restore-kho.log"
	check "... saying the dump was made without --kho" \
		grep -q "this dump was made without --kho, its page contents are in pages-\*.img; restore it without --kho" "$IMG/restore-kho.log"
	check "the workload was not restored by the refused restore" wl_gone "$wl"
	check "the ordinary dump restores without --kho" criu_run restore.log restore -D "$IMG" --restore-detached
	show_log "$IMG/restore.log"
	check "report after the ordinary restore" wl_report "$wl" report.plain
	check "every region's checksum is intact" wl_verify "$wl" "$wl/report.plain"
	wl_stop "$wl"
	check "rmmod" rmmod khup
}
