# SPDX-License-Identifier: GPL-2.0-only
# khup never hands over a page inside KHO scratch, even when the pinned range was allocated in it (CMA)
VM_TIMEOUT=300


stage1() {
	check "module loads" insmod "$KHUP_BUILD/modules/$(uname -r)/khup.ko"
	check "KHO scratch ranges listed" grep -q 0x /sys/kernel/debug/kho/out/scratch_len
	note "scratch: $(paste -d@ /sys/kernel/debug/kho/out/scratch_len /sys/kernel/debug/kho/out/scratch_phys | tr '\n' ' ')"
	# Exit 0: pages started in scratch and all were migrated out;
	# 1: a pinned pfn is inside scratch; 3: nothing started in scratch.
	kt scratch cma >"$OUT/scratch.out" 2>&1
	local rc=$? inside migrated
	sed 's/^/#   /' "$OUT/scratch.out"
	check_eq "pages allocated in scratch were migrated out before pinning; no published pfn in scratch" "$rc" 0
	inside=$(sed -n 's/.*kB; \([0-9]*\) of [0-9]* pages allocated inside scratch.*/\1/p' "$OUT/scratch.out")
	migrated=$("$KHUP_BUILD/progs/khup-nl" stats | awk '$1 == "cma_migrated" { print $2 }')
	note "pages in scratch before pinning: $inside, migrated by the pin (netlink stats): $migrated"
	check "migration statistic counts at least the pages that were in scratch" \
		test "${migrated:-0}" -ge "${inside:-1}"
	check "no KHO warning about scratch overlap" bash -c '! dmesg | grep -q "kho_preserve_folio\|WARNING"'
	check "release" kt release cma
	check "rmmod" rmmod khup
}
