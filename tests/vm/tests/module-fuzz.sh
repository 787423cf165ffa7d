# SPDX-License-Identifier: GPL-2.0-only
# the bounded fuzzer (tests/fuzz/khup-fuzz.c) on the debug kernel: fixed seed, KHUP_FUZZ_OPS operations (ioctls valid, mutated and random, read-back fds, netlink, rmmod with images held, drains and reloads); every read checked against the pages' contents; at the end no image, the module's counters add up, MemFree back, no KASAN/lockdep/kmemleak report
VM_KERNELS=7.2-debug
# The operation count comes from the host's environment (make test-debug
# sets 100000) through the kernel command line.
VM_CMDLINE="khup.fuzz_ops=${KHUP_FUZZ_OPS:-3000} khup.fuzz_seed=${KHUP_FUZZ_SEED:-11}"
VM_TIMEOUT=$((1800 + ${KHUP_FUZZ_OPS:-3000} / 5))

fuzz_arg() {
	tr ' ' '\n' </proc/cmdline | sed -n "s/^khup\.$1=//p"
}

stage1() {
	local ops seed before after
	ops=$(fuzz_arg fuzz_ops) seed=$(fuzz_arg fuzz_seed)
	before=$(memfree_settled_kb)
	check "module loads" insmod "$(khup_ko)"
	check "$ops operations from seed $seed: no undocumented error, every read right, counters add up at each reload" \
		bash -c "'$KHUP_BUILD/progs/khup-fuzz' '$seed' '$ops' '$(khup_ko)' >'$OUT/fuzz.out' 2>&1"
	grep -v '^khup-fuzz: op .*: FAIL' "$OUT/fuzz.out" | tail -n 8 | sed 's/^/#   /'
	grep -m 20 'FAIL' "$OUT/fuzz.out" | sed 's/^/#   /'
	check "the fuzzer ran every operation" grep -q "^$ops ops in " "$OUT/fuzz.out"
	check "rmmod and insmod worked while fuzzing (4 reloads)" grep -q " 4 reloads" "$OUT/fuzz.out"
	check_eq "no image left" "$("$KHUP_BUILD/progs/khup-test" list | wc -l)" 0
	check "rmmod at the end" rmmod khup
	check "module gone" test ! -e /sys/module/khup
	after=$(memfree_settled_kb)
	note "MemFree (settled) before ${before} kB, after ${after} kB"
	# Slack for what the kernel keeps after a run (slab, KASAN's quarantine
	# of freed objects, page tables): far less than what the fuzzer pins
	# and frees (the counters above count every page exactly).
	check "no memory lost (MemFree within 16 MiB)" test $((before - after)) -lt 16384
}
