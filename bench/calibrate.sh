# SPDX-License-Identifier: GPL-2.0-only
# calibration: the guest's ns per page of bench-workload's calib loop (a copy into freshly faulted pages), for bench/run's factor F
#
# A VM "test" of tests/vm/run that bench/run boots, with the benchmark
# VMs' profile, before them: F = this guest's ns per page / the same
# loop's on the host, and the throttled reference disks of the benchmark
# VMs are set to reference speed / F (doc/bench.md). Under -icount the
# guest's time is its instruction count, so F does not depend on the
# host's load; the loop runs three times and the fastest counts, as on
# the host.
VM_TIMEOUT=1200

stage1() {
	local i
	check "bench-workload is built (bench/run builds it)" test -x "$KHUP_BUILD/bench/bench-workload"
	for i in 1 2 3; do
		"$KHUP_BUILD/bench/bench-workload" calib >"$OUT/calib.$i" || true
	done
	awk '$1 == "calib_ns_per_page" && (m == "" || $2 < m) { m = $2 } END { if (m != "") print "calib_ns_per_page", m }' \
		"$OUT"/calib.? >"$OUT/calib.out"
	check "the calibration loop ran" grep -q '^calib_ns_per_page [0-9]' "$OUT/calib.out"
	note "guest: $(cat "$OUT/calib.out")"
}
