# SPDX-License-Identifier: GPL-2.0-only
# fault injection on the debug kernel: every allocation (and user copy) of PIN, SEAL, CLAIM, a consuming read and COMMIT fails in turn (fail-nth); after each failure the state is all or nothing and nothing leaks (KASAN, lockdep, kmemleak watching)
VM_KERNELS=7.2-debug
VM_TIMEOUT=1800
# KHO's WARN_ON_ONCE() when the debugfs file of a published subtree
# cannot be made (a failed allocation during SEAL's publish): the subtree
# is published all the same (kho_add_subtree() returns 0); not khup's.
VM_KERNEL_WARNINGS='kernel/liveupdate/kexec_handover\.c:[0-9]+ at kho_add_subtree\+'

stage1() {
	local d=/sys/kernel/debug op before after
	check "module loads" insmod "$KHUP_BUILD/modules/$(uname -r)/khup.ko"
	# Sleeping allocations too (the module's are GFP_KERNEL), order 0 up,
	# quietly: one line per injected failure is enough.
	check "failslab armed for sleeping allocations" bash -c "echo N >$d/failslab/ignore-gfp-wait && echo 0 >$d/failslab/verbose"
	check "fail_page_alloc armed for sleeping order-0 allocations" bash -c "echo N >$d/fail_page_alloc/ignore-gfp-wait && echo 0 >$d/fail_page_alloc/min-order && echo 0 >$d/fail_page_alloc/verbose"
	before=$(memfree_settled_kb)
	for op in pin seal claim consume commit; do
		check "$op: every injected failure leaves a consistent state" \
			bash -c "'$KHUP_BUILD/progs/khup-test' faults $op >'$OUT/faults.$op' 2>&1"
		tail -n 1 "$OUT/faults.$op" | sed 's/^/#   /'
		grep -m 3 "failed with" "$OUT/faults.$op" | sed 's/^/#   e.g. /'
	done
	check_eq "no image left" "$(kt list | wc -l)" 0
	check "rmmod" rmmod khup
	after=$(memfree_settled_kb)
	note "MemFree (settled) before ${before} kB, after ${after} kB"
	check "no memory lost (MemFree within 8 MiB)" test $((before - after)) -lt 8192
}
