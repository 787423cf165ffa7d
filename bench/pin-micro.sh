# SPDX-License-Identifier: GPL-2.0-only
# microbenchmark: the module's pin, seal and release cost per page without CRIU (bench/pin-micro.c)
#
# Parameterised from the host's environment: MICRO_MIB (default 256),
# MICRO_REPS (3), MICRO_BATCH (pages per PIN call, 0 = all at once).
# Run it under the benchmarks' profile:
#   tests/vm/run --kernel 7.2-bench --icount 0 --cpu max,-erms bench/pin-micro.sh
MICRO_MIB=${MICRO_MIB:-256}
MICRO_REPS=${MICRO_REPS:-3}
MICRO_BATCH=${MICRO_BATCH:-0}
VM_CMDLINE="khupmicro.cfg=$MICRO_MIB:$MICRO_REPS:$MICRO_BATCH"
VM_TIMEOUT=1800

stage1() {
	local kv mib reps batch thp
	for kv in $(cat /proc/cmdline); do
		case "$kv" in khupmicro.cfg=*) IFS=: read -r mib reps batch <<<"${kv#*=}" ;; esac
	done
	check "module loads" insmod "$(khup_ko)"
	for thp in 4k thp; do
		for how in remote self; do
			"$KHUP_BUILD/bench/pin-micro" "$mib" "$thp" "$reps" "$batch" "$how" >"$OUT/micro-$thp-$how.out" 2>&1
			check_eq "pin-micro $thp $how ran" "$?" 0
			sed 's/^/#   /' "$OUT/micro-$thp-$how.out"
		done
	done
	check "rmmod" rmmod khup
}
