# SPDX-License-Identifier: GPL-2.0-only
# khupctl prepare moves a running workload's pages out of KHO scratch before the dump; the dump's pin then migrates under 2 % of them, and the restore is intact
VM_TIMEOUT=600

[ -z "${KHUP_TOP:-}" ] || . "$KHUP_TOP/tests/vm/progs/criu-kho.sh"

kc() { "$KHUP_BUILD/tools/khupctl" "$@"; }
# sum_of JSON KEY: the sum of KEY over the tasks of a khupctl prepare --json
sum_of() { jq "[.tasks[].$2] | add" "$1"; }

stage1() {
	local wl=$OUT/wl pid hog in_before in_after moved mig0 mig1 pinmig
	need_plugin
	check "module loads" insmod "$(khup_ko)"

	# Fill everything outside scratch, so the workload lands in it.
	mkdir -p "$OUT/hog"
	"$KHUP_BUILD/progs/khup-test" hog "$OUT/hog" 48 &
	hog=$!
	check "memory outside scratch is held" wait_file "$OUT/hog/ready" 120
	sed 's/^/#   hog: /' "$OUT/hog/ready"
	check "workload starts (64 MiB anon and the rest)" wl_start "$wl" 64
	pid=$(kv "$wl/ready" pid)
	kill "$hog"
	wait "$hog" 2>/dev/null

	check "khupctl prepare --dry-run" bash -c "'$KHUP_BUILD/tools/khupctl' --json prepare --dry-run --tree $pid >'$OUT/dry.json'"
	jq -c . "$OUT/dry.json" | sed 's/^/#   /'
	in_before=$(sum_of "$OUT/dry.json" in_scratch_pages)
	note "before: $(sum_of "$OUT/dry.json" present_pages) present pages, $in_before in scratch ($(jq .scratch_bytes "$OUT/dry.json") bytes of scratch)"
	check "a real share of the workload lies in scratch" test "${in_before:-0}" -ge 1024
	check_eq "the dry run changed nothing" "$(stat_of prepared)" 0

	check "khupctl prepare" bash -c "'$KHUP_BUILD/tools/khupctl' --json prepare --tree $pid >'$OUT/prep.json'"
	jq -c . "$OUT/prep.json" | sed 's/^/#   /'
	in_after=$(sum_of "$OUT/prep.json" in_scratch_after)
	moved=$(sum_of "$OUT/prep.json" migrated_pages)
	note "prepare: $(stat_of prepared) pages pinned and unpinned, $(stat_of prepare_migrated) migrated, in $(($(stat_of prepare_ns) / 1000000)) ms; $in_after left in scratch"
	# Pages that need a fault to be pinned (shared copy-on-write with the
	# child since the fork) are skipped: prepare never faults anything in.
	check "under 1 % of the pages stay in scratch" test "$((in_after * 100))" -lt "$in_before"
	check "prepare migrated at least 98 % of the pages that were in scratch" test "$((${moved:-0} * 100))" -ge "$((in_before * 98))"
	check "the workload kept running through prepare" wl_report "$wl" report.before
	check "its memory is intact after prepare" wl_verify "$wl" "$wl/report.before"

	mig0=$(stat_of cma_migrated)
	mkdir -p "$IMG"
	kho_dump "$wl" "$pid"
	mig1=$(stat_of cma_migrated)
	pinmig=$((mig1 - mig0))
	note "the dump's pin migrated $pinmig pages (without prepare: about $in_before)"
	check "the dump's pin migrated under 2 % of what prepare moved" test "$((pinmig * 50))" -lt "$in_before"

	check "criu restore --kho" criu_run restore.log restore --kho -D "$IMG" --restore-detached
	show_log "$IMG/restore.log"
	check "report after restore" wl_report "$wl" report.after
	check "every region's checksum is intact" wl_verify "$wl" "$wl/report.after"
	wl_stop "$wl"

	"$KHUP_BUILD/tools/khupctl" prepare 999999 >"$OUT/missing.out" 2>&1
	check_eq "prepare of a missing pid exits 1" "$?" 1
	check "... saying so" grep -q "pid 999999: no such process" "$OUT/missing.out"
	check "rmmod" rmmod khup
}
