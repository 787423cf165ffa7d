# SPDX-License-Identifier: GPL-2.0-only
# fault injection (debug_fail_nth) at publish after a release and at every step of the restore at module load after a kexec: a failed publish withdraws the node and frees the released pages; a failed load fails with ENOMEM having taken nothing over; the next load restores every page intact
VM_STAGES=2
VM_TIMEOUT=1800

node=/sys/kernel/debug/kho/out/sub_fdts/khup
fail_nth=/sys/module/khup/parameters/debug_fail_nth

# dmesg since the last call (the kernel log is cleared each time).
new_log() { dmesg -c >"$OUT/$1"; }

stage1() {
	local n p p0 site freed pages before after
	check "module loads" insmod "$(khup_ko)"
	check "image pinned and sealed (handed over)" kt remote-pin remote "$OUT/remote.state"
	before=$(memfree_settled_kb) p0=$(stat_of preserved)
	local -a pres
	for n in 1 2 3 4; do
		p=$(stat_of preserved)
		check "throw-away image $n pinned and sealed" kt remote-pin "tmp$n" "$OUT/tmp$n.state"
		pres[n]=$(($(stat_of preserved) - p))
	done
	new_log dmesg.sealed
	# A release then publishes the node without the image: its fault
	# points are, in order, publish-alloc, publish-preserve, publish-add.
	for n in 1 2 3; do
		site=$(echo publish-alloc publish-preserve publish-add | cut -d' ' -f"$n")
		pages=$(pages_of "tmp$n") freed=$(stat_of freed) p=$(stat_of preserved)
		echo "$n" >"$fail_nth"
		check "$site: release of tmp$n succeeds" kt release "tmp$n"
		new_log "dmesg.release$n"
		check "$site: the failure was injected there" \
			grep -q "khup: debug_fail_nth: injected a failure at $site\$" "$OUT/dmesg.release$n"
		check "$site: logged 'cannot publish KHO node (-12)'" \
			grep -q "khup: cannot publish KHO node (-12): sealed images will not survive kexec" "$OUT/dmesg.release$n"
		check "$site: the node is withdrawn, not left stale" test ! -e "$node"
		check_eq "$site: the released image's $pages pages freed" $(($(stat_of freed) - freed)) "$pages"
		check_eq "$site: the others' pages stay preserved" "$(stat_of preserved)" $((p - pres[n]))
		# The next publish, without a fault, brings the node back.
		check "$site: the next seal publishes again" kt remote-pin "again$n" "$OUT/again$n.state"
		check "$site: node back" test -e "$node"
		check "release again$n" kt release "again$n"
	done
	check "release tmp4 (no fault)" kt release tmp4
	check "node published with the one image left" bash -c "dtc -q -I dtb -O dts $node | grep -q 'khup,nr-images = <0x01>'"
	check_eq "preserved: the handed-over image's pages only" "$(stat_of preserved)" "$p0"
	after=$(memfree_settled_kb)
	note "MemFree (settled) before the throw-away images ${before} kB, after releasing them ${after} kB"
	check "their memory came back (MemFree within 8 MiB)" test $((before - after)) -lt 8192
	new_log dmesg.end1
}

stage2() {
	local n rc site sites= before pages restored
	# Fault points of one image with one task, in order; then the load
	# succeeds and the next one (re-sealing the image) fails after the
	# point of no return.
	# The node's block list (the image's runs of 4 KiB pages) comes first.
	local want="restore-blocks restore-tasks restore-image restore-table restore-task restore-bitmap restore-extents restore-folio-table"
	check_eq "the node has a block list" "$(blocks_of /sys/kernel/debug/kho/in/sub_fdts/khup)" set
	before=$(memfree_settled_kb)
	dmesg -C
	for n in $(seq 1 20); do
		rc=0
		insmod "$(khup_ko)" "debug_fail_nth=$n" 2>"$OUT/insmod.$n" || rc=$?
		new_log "dmesg.load$n"
		[ "$rc" -eq 0 ] && break
		site=$(sed -n 's/.*khup: debug_fail_nth: injected a failure at //p' "$OUT/dmesg.load$n")
		sites="$sites${sites:+ }$site"
		check "load $n ($site) fails with ENOMEM" grep -q "Cannot allocate memory" "$OUT/insmod.$n"
		check "load $n ($site) logged 'nothing taken over'" \
			grep -q "khup: cannot restore the KHO node (-12); nothing taken over, a later load tries again" "$OUT/dmesg.load$n"
		check "load $n ($site) left no module" test ! -e /sys/module/khup
	done
	check_eq "every restore step failed once, in order, before the load that worked" "$sites" "$want"
	check "the load after them succeeded" test "$rc" -eq 0
	check "it failed re-sealing (after the point of no return)" \
		grep -q "khup: debug_fail_nth: injected a failure at restore-seal\$" "$OUT/dmesg.load$n"
	check "logged 'cannot preserve again (-12)'" \
		grep -q "khup: image [0-9]*: cannot preserve again (-12); it will not survive the next kexec" "$OUT/dmesg.load$n"
	check "no restore errors logged" bash -c "! grep -q 'khup: .*\\(refused\\|could not\\|malformed\\|not preserved\\|stay reserved\\)' $OUT/dmesg.load$n"
	pages=$(pages_of remote)
	check_eq "every page held again" "$(stat_of held)" "$pages"
	restored=$(stat_of restored)
	note "$restored pages restored (whole folios), $pages held"
	check "the image reads back identical (checksums)" kt remote-check remote "$OUT/remote.state"
	check_eq "nothing preserved (the re-seal failed)" "$(stat_of preserved)" 0
	check "no node published" test ! -e "$node"
	release_restored remote "$pages" "$restored" "$before"
}
