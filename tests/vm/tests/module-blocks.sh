# SPDX-License-Identifier: GPL-2.0-only
# runs of sealed 4 KiB pages cross the kexec as KHO blocks: exactly the blocks the runs cut into (computed from the image's pfns) are handed over and restored, the image reads back intact and every page is restored once; a block whose preservation fails (injected) stays page by page, a block list that cannot be allocated (injected) and blocks=N hand every page over on its own, the pages in blocks of a task whose table is refused stay reserved, and a block list changed after its checksum makes the next kernel restore nothing
VM_STAGES=7
VM_TIMEOUT=1200

node_in=/sys/kernel/debug/kho/in/sub_fdts/khup
node_out=/sys/kernel/debug/kho/out/sub_fdts/khup

# restored_blocks: "PAGES BLOCKS" from the module's log of its load.
restored_blocks() {
	dmesg | sed -n 's/.*khup: \([0-9]*\) pages restored in \([0-9]*\) blocks$/\1 \2/p'
}

# expect_blocks: "BLOCKS PAGES FIRST_ORDER" for image remote's pages.
expect_blocks() { kt pfns remote | "$KHUP_BUILD/progs/khup-blocks"; }

# restored_intact STAGE: the module restored image remote intact.
restored_intact() {
	local pages
	check "$1: module loads" insmod "$(khup_ko)"
	check "$1: no restore errors logged" bash -c '! dmesg | grep -q "khup: .*\(refused\|could not\|malformed\|not preserved\|lost\|belong to no\)"'
	check "$1: image reads back identical (checksums)" kt remote-check remote "$OUT/remote.state"
	pages=$(pages_of remote)
	check_eq "$1: every page held" "$(stat_of held)" "$pages"
	check "$1: every page restored (whole folios: at least the held pages)" test "$(stat_of restored)" -ge "$pages"
	check "$1: sealed again: the node published" test -e "$node_out"
}

stage1() {
	check "module loads" insmod "$(khup_ko)"
	check "image pinned and sealed" kt remote-pin remote "$OUT/remote.state"
	check "block parameter defaults to Y" test "$(cat /sys/module/khup/parameters/blocks)" = Y
	expect_blocks >"$OUT/expect"
	read -r blocks pages first <"$OUT/expect"
	note "expected at the kexec: $pages pages in $blocks blocks (first of order $first), of $(pages_of remote) held"
	check "the image has runs of 4 KiB pages to hand over as blocks" test "$blocks" -gt 1
	check_eq "the published node has no blocks before the kexec" "$(blocks_of "$node_out")" none
}

stage2() {
	local blocks pages first
	read -r blocks pages first <"$OUT/expect"
	check_eq "the incoming node names a block list" "$(blocks_of "$node_in")" set
	restored_intact "blocks"
	check_eq "the computed blocks restored: pages and blocks" "$(restored_blocks)" "$pages $blocks"
	check_eq "the same pfns after the restore: the same blocks" "$(expect_blocks)" "$(cat "$OUT/expect")"
	# The next kexec's fault points: the list (1), then the first block
	# (2), which then stays page by page.
	echo 2 >/sys/module/khup/parameters/debug_fail_nth
}

stage3() {
	local blocks pages first
	read -r blocks pages first <"$OUT/expect"
	check_eq "the incoming node names a block list" "$(blocks_of "$node_in")" set
	restored_intact "first block failed"
	check_eq "all blocks but the first restored as blocks" "$(restored_blocks)" \
		"$((pages - (1 << first))) $((blocks - 1))"
	echo N >/sys/module/khup/parameters/blocks
}

stage4() {
	check_eq "blocks=N: the incoming node has no block list" "$(blocks_of "$node_in")" none
	restored_intact "blocks=N"
	check "blocks=N: no page restored in blocks" test -z "$(restored_blocks)"
	echo Y >/sys/module/khup/parameters/blocks
	# The next kexec's first fault point: the block list itself.
	echo 1 >/sys/module/khup/parameters/debug_fail_nth
}

stage5() {
	local blocks
	check_eq "no memory for the list: the incoming node has no block list" "$(blocks_of "$node_in")" none
	restored_intact "no list"
	check "no list: no page restored in blocks" test -z "$(restored_blocks)"
	echo 1 >/sys/module/khup/parameters/debug_corrupt
	check "image bad pinned and sealed with a corrupted table (debug_corrupt=1)" \
		kt remote-pin bad "$OUT/bad.state"
	echo 0 >/sys/module/khup/parameters/debug_corrupt
	read -r blocks _ <<<"$(kt pfns bad | "$KHUP_BUILD/progs/khup-blocks")"
	check "image bad has runs of 4 KiB pages to hand over as blocks" test "$blocks" -gt 1
	pages_of bad >"$OUT/bad.pages"
}

stage6() {
	local idle before
	before=$(memfree_settled_kb)
	check "module loads" insmod "$(khup_ko)"
	check "the corrupted table is refused" bash -c \
		'dmesg | grep -q "khup: image [0-9]* task [0-9]*: extent table refused: table checksum mismatch; its pages stay reserved"'
	check "image bad is gone" bash -c "! $KHUP_BUILD/progs/khup-test info bad 2>/dev/null"
	check "image remote reads back identical (checksums)" kt remote-check remote "$OUT/remote.state"
	check_eq "every page of remote held, none of bad" "$(stat_of held)" "$(pages_of remote)"
	idle=$(dmesg | sed -n 's/.*khup: \([0-9]*\) pages of the handed-over blocks belong to no restored task; they stay reserved$/\1/p')
	note "pages of bad's blocks kept reserved: ${idle:-none} of $(cat "$OUT/bad.pages")"
	check "the refused task's pages in blocks are counted as staying reserved" \
		test "${idle:-0}" -gt 1 -a "${idle:-0}" -le "$(cat "$OUT/bad.pages")"
	check "none of them freed: MemFree did not grow by image bad (12 MiB)" \
		test $(($(memfree_settled_kb) - before)) -lt 4096
	echo 5 >/sys/module/khup/parameters/debug_corrupt
}

stage7() {
	local before
	check_eq "the incoming node names a block list" "$(blocks_of "$node_in")" set
	before=$(memfree_settled_kb)
	check "module loads" insmod "$(khup_ko)"
	check "a block list changed after its checksum is refused: nothing restored" bash -c \
		"dmesg | grep -q \"khup: KHO node 'khup': its block list is refused, block list checksum mismatch; nothing restored\""
	check "no image" test -z "$(kt list)"
	check_eq "nothing restored" "$(stat_of restored)" 0
	check "the pages stay reserved: MemFree did not grow by the image" \
		test $(($(memfree_settled_kb) - before)) -lt 4096
	check "rmmod" rmmod khup
}
