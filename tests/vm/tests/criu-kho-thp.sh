# SPDX-License-Identifier: GPL-2.0-only
# THP survives criu dump --kho, kexec, criu restore --kho: the restored process has its huge pages back (AnonHugePages >= 90 % of the dump's)
VM_KEXEC=yes
VM_TIMEOUT=900

# (the host reads this file for its VM_* settings, without KHUP_TOP)
[ -z "${KHUP_TOP:-}" ] || . "$KHUP_TOP/tests/vm/progs/criu-kho.sh"

# anon_huge_kb PID: AnonHugePages of the process, in kB
anon_huge_kb() { awk '/^AnonHugePages:/ { print $2 }' "/proc/$1/smaps_rollup"; }

stage1() {
	local wl=$OUT/wl pid held
	need_plugin
	check "module loads" insmod "$(khup_ko)"
	check "workload starts (8 MiB anon, 64 MiB THP)" wl_start "$wl" 8 64
	pid=$(kv "$wl/ready" pid)
	anon_huge_kb "$pid" >"$OUT/huge.before"
	note "AnonHugePages at dump: $(cat "$OUT/huge.before") kB"
	check "the THP range is backed by huge pages (>= 60 MiB)" test "$(cat "$OUT/huge.before")" -ge 61440
	mkdir -p "$IMG"
	kho_dump "$wl" "$pid"
}

stage2() {
	local wl=$OUT/wl pid before after
	need_plugin
	check "module loads after kexec" insmod "$(khup_ko)"
	check "criu restore --kho" criu_run restore.log restore --kho -D "$IMG" --restore-detached
	show_log "$IMG/restore.log"
	pid=$(kv "$wl/ready" pid)
	before=$(cat "$OUT/huge.before")
	after=$(anon_huge_kb "$pid")
	note "AnonHugePages at dump ${before} kB, after the restore ${after:-?} kB"
	check "the restored process has at least 90 % of its huge pages back" \
		test "${after:-0}" -ge $((before * 9 / 10))
	check "report after restore" wl_report "$wl" report.after
	check "every checksum matches the dump, threads alive, mutexes held" wl_verify "$wl" "$wl/report.after"
	wl_stop "$wl"
	check "rmmod" rmmod khup
}
