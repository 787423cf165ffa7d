# SPDX-License-Identifier: GPL-2.0-only
# criu dump --kho, kexec, criu restore --kho --lazy-pages with criu lazy-pages --kho: the workload answers while its memory is still being copied, every checksum verifies after the fill, the daemon commits the image
VM_KEXEC=yes
VM_TIMEOUT=1500

# (the host reads this file for its VM_* settings, without KHUP_TOP)
[ -z "${KHUP_TOP:-}" ] || . "$KHUP_TOP/tests/vm/progs/criu-kho.sh"

stage1() { kho_kexec_stage1; }

stage2() {
	local wl=$OUT/wl held t0 t1 t2 t3 snap consumed alive rc copied
	need_plugin
	held=$(cat "$OUT/held")
	check "module loads after kexec" insmod "$(khup_ko)"
	check_eq "the image came over the kexec with every page" "$(khup_images | awk '{ print $2 " " $3 }')" "3 $held"
	# kdat probing and the first translation of CRIU's code are paid here,
	# not in the timings below
	"$CRIU" check >/dev/null 2>&1 || true

	lazy_daemon_start "criu lazy-pages --kho starts and takes the image's claim" lazy.log
	check_eq "the claim is the daemon's" "$(khup_images | awk '{ print $7 }')" "$lazypid"

	t0=$(now_ms)
	check "criu restore --kho --lazy-pages" lazy_restore restore.log
	t1=$(now_ms)
	check "the workload answers (pong) right after the restore" wl_ping "$wl"
	# what is left at the moment of the answer
	snap=$(khup_images | awk '{ print $3, $5 }')
	alive=0
	kill -0 "$lazypid" 2>/dev/null && alive=1
	t2=$(now_ms)
	consumed=${snap#* }
	show_log "$IMG/restore.log"
	note "restore -> running: $((t1 - t0)) ms; restore start -> first answer: $((t2 - t0)) ms"
	note "at the first answer: image ${snap:-gone} (pages, consumed), daemon alive $alive: ${held} - ${consumed:-?} = $((held - ${consumed:-0})) pages not yet read back"
	check "the workload answered before the fill had finished (daemon running, pages left to copy)" \
		test "$alive" = 1 -a -n "$consumed" -a "${consumed:-0}" -lt "$held"
	check "its threads and child ran since the dump" wl_ran "$wl" "$wl/report.before" "$wl/pong"
	check "the restore left the commit to the daemon" \
		grep -q "the lazy-pages daemon commits image .* once it has copied every page" "$IMG/restore.log"

	rc=0
	wait "$lazypid" || rc=$?
	t3=$(now_ms)
	note "restore start -> fill finished (daemon exited): $((t3 - t0)) ms"
	show_log "$IMG/lazy.log"
	check_eq "the lazy-pages daemon filled everything and exited 0" "$rc" 0
	check "the daemon committed the image" grep -q "Lazy restore complete; committed and released" "$IMG/lazy.log"
	copied=$(grep -o 'UFFD transferred pages: ([0-9]*/[0-9]*)' "$IMG/lazy.log" | tr -dc '0-9/\n' |
		awk -F/ '{ c += $1; t += $2 } END { print c + 0, t + 0 }')
	note "UFFD transferred pages (copied total) over all tasks: $copied"
	check "the daemon copied pages through userfaultfd" test "${copied%% *}" -gt 0
	check_eq "the image is committed and gone" "$(khup_images | wc -l)" 0
	"$KHUP_BUILD/progs/khup-nl" stats >"$OUT/stats.restore"
	note "module: $(awk '$1 == "read_bytes" { b = $2 } $1 == "consumed" { c = $2 } END { printf "read %d MiB, %d pages consumed", b / 1048576, c }' "$OUT/stats.restore")"
	check "every page the restore and the daemon consumed was read through the module" \
		awk '$1 == "read_bytes" { b = $2 } $1 == "consumed" { c = $2 } END { exit !(c > 0 && b >= c * 4096) }' "$OUT/stats.restore"

	check "report after the fill" wl_report "$wl" report.after
	check "every region's checksum is intact (as recorded before kexec)" wl_verify "$wl" "$wl/report.after"
	check "threads and child ran on" wl_advanced "$wl" "$wl/report.before" "$wl/report.after"
	check "the futex waiter wakes and is joined" wl_join "$wl" report.joined
	sleep 1
	check "report again" wl_report "$wl" report.later
	check "threads and child keep running" wl_advanced "$wl" "$wl/report.after" "$wl/report.later"
	wl_stop "$wl"
	check "rmmod" rmmod khup
}
