# SPDX-License-Identifier: GPL-2.0-only
# microbenchmark: what the next kernel's boot and the module's restore cost for the same pages handed over with blocks and without (the module's blocks parameter)
#
# Parameterised from the host's environment: MICRO_MIB (default 1024),
# rounded down to 64 MiB images of khup-test self-pin (about half of each
# in 4 KiB folios, the rest THP and the zero page). Stage 1 pins them;
# they cross a kexec with blocks (stage 2), are restored and sealed again,
# then cross another with blocks=N (stage 3). kexec + boot is the guest's
# TSC from before the kexec to the stage's start (as bench/lib.sh's
# put_handover). Run it under the benchmarks' profile:
#   tests/vm/run --kernel 7.2-bench --icount 0 --cpu max,-erms --mem 5G bench/boot-micro.sh
MICRO_MIB=${MICRO_MIB:-1024}
VM_CMDLINE="khupmicro.mib=$MICRO_MIB"
VM_STAGES=3
VM_TIMEOUT=$((1800 + MICRO_MIB * 3))
BW=${KHUP_BUILD:-}/bench/bench-workload

# handover LABEL: kexec + boot since the last stage's end, and the restore
handover() {
	local t0 t1 rate
	"$BW" tsc >"$OUT/tsc.start"
	t0=$(awk '$1 == "tsc" { print $2 }' "$OUT/tsc.end")
	read -r t1 rate < <(awk '$1 == "tsc" { t = $2 } $1 == "tsc_per_us" { r = $2 } END { print t, r }' "$OUT/tsc.start")
	check "module loads" insmod "$(khup_ko)"
	note "$1: kexec + boot $(awk -v a="$t0" -v b="$t1" -v r="$rate" 'BEGIN { printf "%.3f", (b - a) / r / 1e6 }') s (guest TSC); restore at load $(($(stat_of restore_ns) / 1000000)) ms for $(stat_of restored) pages; $(dmesg | sed -n 's/.*khup: \([0-9]* pages restored in [0-9]* blocks\)$/\1/p' | grep . || echo 'no blocks')"
}

stage1() {
	local kv mib=64 i
	for kv in $(cat /proc/cmdline); do
		case "$kv" in khupmicro.mib=*) mib=${kv#*=} ;; esac
	done
	check "bench-workload is built (bench/run builds it)" test -x "$BW"
	check "module loads" insmod "$(khup_ko)"
	for ((i = 1; i <= mib / 64 || i == 1; i++)); do
		check "image $i pinned and sealed" kt self-pin "img$i" "$OUT/img$i.state"
	done
	note "$(stat_of preserved) pages preserved in $((i - 1)) images"
	"$BW" tsc >"$OUT/tsc.end"
}

stage2() {
	handover "blocks"
	echo N >/sys/module/khup/parameters/blocks
	"$BW" tsc >"$OUT/tsc.end"
}

stage3() {
	handover "blocks=N"
	check "image 1 restored into the caller, hashes match" kt self-restore img1 "$OUT/img1.state"
}
