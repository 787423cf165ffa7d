# SPDX-License-Identifier: GPL-2.0-only
# generic fault injection (fail-nth, failslab and fail_page_alloc) at module load after a kexec into the debug kernel: every load failed by an injected fault takes nothing over (no module, the incoming node unchanged); the next load restores every page intact
VM_STAGES=2
# Stage 1 on 7.2 (a quick boot and kexec), the sweep on 7.2-debug.
VM_KERNELS="7.2 7.2-debug"
VM_TIMEOUT=1800
# The kernel's own WARN_ON_ONCE()s that failed allocations in the loader
# provoke, none in khup: trace events registering a module's event
# fields (event_define_fields) and dropping a half-made event file
# (event_file_put: the reference count of a file whose directory could
# not be created); see doc/module.md, "Safety".
VM_KERNEL_WARNINGS='kernel/trace/trace_events\.c:[0-9]+ at (event_define_fields|event_file_put)\+'

stage1() {
	check "module loads" insmod "$(khup_ko)"
	check "image pinned and sealed (handed over)" kt remote-pin remote "$OUT/remote.state"
	pages_of remote >"$OUT/pages"
}

stage2() {
	local d=/sys/kernel/debug before pages restored
	check "the khup node came over" test -e "$d/kho/in/sub_fdts/khup"
	# As module-faults: sleeping allocations too, order 0 up, quietly.
	check "failslab armed for sleeping allocations" bash -c "echo N >$d/failslab/ignore-gfp-wait && echo 0 >$d/failslab/verbose"
	check "fail_page_alloc armed for sleeping order-0 allocations" bash -c "echo N >$d/fail_page_alloc/ignore-gfp-wait && echo 0 >$d/fail_page_alloc/min-order && echo 0 >$d/fail_page_alloc/verbose"
	before=$(memfree_settled_kb)
	# The backstop: khup's 8th fault point for one image of one task with
	# a block list is restore-folio-table, the last before the point of
	# no return (see module-faults-handover), so a load whose injected
	# fault the kernel tolerated fails there instead of taking the node
	# over.
	check_eq "the node has a block list" "$(blocks_of "$d/kho/in/sub_fdts/khup")" set
	check "every load failed by an injected fault took nothing over; then a load without faults succeeded" \
		bash -c "'$KHUP_BUILD/progs/khup-load-faults' '$(khup_ko)' debug_fail_nth=8 >'$OUT/load-faults' 2>&1"
	grep -v '^progress:' "$OUT/load-faults" | sed 's/^/#   /'
	pages=$(cat "$OUT/pages")
	check_eq "every page held again" "$(stat_of held)" "$pages"
	restored=$(stat_of restored)
	check "the image reads back identical (checksums)" kt remote-check remote "$OUT/remote.state"
	check "sealed again: the node published" test -e "$d/kho/out/sub_fdts/khup"
	release_restored remote "$pages" "$restored" "$before"
}
