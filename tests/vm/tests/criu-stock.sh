# SPDX-License-Identifier: GPL-2.0-only
# the patched CRIU without --kho (khup plugin loaded) dumps to pages-*.img and restores correctly, twice
VM_TIMEOUT=600

# (the host reads this file for its VM_* settings, without KHUP_TOP)
[ -z "${KHUP_TOP:-}" ] || . "$KHUP_TOP/tests/vm/progs/criu-kho.sh"

stage1() {
	local wl=$OUT/wl pid round prev=report.before
	need_plugin
	check "workload starts" wl_start "$wl" 32
	pid=$(kv "$wl/ready" pid)
	check "report before dump" wl_report "$wl" report.before
	for round in 1 2; do
		rm -rf "$IMG"
		mkdir -p "$IMG"
		check "round $round: criu dump (no --kho)" criu_run dump.log dump -t "$pid" -D "$IMG"
		show_log "$IMG/dump.log"
		check "round $round: dumped tasks are gone" wl_gone "$wl"
		check "round $round: pages-*.img hold the pages" \
			test "$(pages_img_bytes "$IMG")" -ge $(($(kv "$wl/ready" pages) * 4096))
		check "round $round: no khup.img" test ! -e "$IMG/khup.img"
		check "round $round: the plugin took nothing" bash -c "! grep -q 'khup: ' '$IMG/dump.log'"
		check "round $round: criu restore (no --kho)" \
			criu_run restore.log restore -D "$IMG" --restore-detached
		show_log "$IMG/restore.log"
		check "round $round: report after restore" wl_report "$wl" report.$round
		check "round $round: every region's checksum is intact" wl_verify "$wl" "$wl/report.$round"
		check "round $round: threads and child ran on" wl_advanced "$wl" "$wl/$prev" "$wl/report.$round"
		prev=report.$round
	done
	check "a dump without the plugin directory restores too" bash -c "
		rm -rf '$IMG' && mkdir -p '$IMG' &&
		'$CRIU' dump -t $pid -D '$IMG' -v4 -o dump.log &&
		'$CRIU' restore -D '$IMG' --restore-detached -v4 -o restore.log"
	check "report" wl_report "$wl" report.3
	check "every region's checksum is intact" wl_verify "$wl" "$wl/report.3"
	wl_stop "$wl"
}
