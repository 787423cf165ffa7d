# SPDX-License-Identifier: GPL-2.0-only
# benchmark: the dump alone — CRIU to tmpfs vs criu dump --kho, the latter split into the module's pin and seal and CRIU's own work (no kexec, no restore)
#
# Parameterised like bench/khup-bench.sh (BENCH_MIB, BENCH_THP; one
# repetition). Run it under the benchmarks' profile with enough memory:
#   BENCH_MIB=1024 tests/vm/run --kernel 7.2-bench --icount 0 \
#     --cpu max,-erms --mem 5G --show-output bench/dump-split.sh
BENCH_REPS=1
. "${KHUP_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}/bench/khup-bench.sh"
VM_STAGES=1

stage1() {
	# r: dump_khup reads the caller's r (bash expands its locals first)
	local wl=/tmp/ref-wl img=/tmp/ref-img pid t0 t1 r=1
	stage_setup
	check "tmpfs: workload starts" bw_start "$wl" 15000
	pid=$(kv "$wl/ready" pid)
	rm -rf "$img"
	mkdir -p "$img"
	t0=$(now)
	check "tmpfs: criu dump to tmpfs" "$CRIU" dump -t "$pid" -D "$img" -v2 -o dump.log
	t1=$(now)
	app_gone "$wl"
	put 1 tmpfs dump_ns $((t1 - t0))
	rm -rf "$img"
	dump_khup 1
	sed 's/^/#   /' "$OUT/bench.kv"
}
