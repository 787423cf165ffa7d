# SPDX-License-Identifier: GPL-2.0-only
# khup CRIU path: pin a ptrace-stopped child's ranges by pid, read them back through the fd before and after kexec
VM_KEXEC=yes
VM_TIMEOUT=600



stage1() {
	local before
	before=$(memfree_settled_kb)
	check "module loads" insmod "$(khup_ko)"
	# What loading the module costs by itself (module text, the 2 MiB
	# execmem chunk on x86, tracefs, genetlink), so stage 2 can tell it
	# apart from pages the image failed to give back.
	echo $((before - $(memfree_settled_kb))) >"$OUT/load_cost"
	note "module load costs $(cat "$OUT/load_cost") kB"
	check "seal clears a traced task's robust lists, release puts them back; EBUSY while a thread runs, ESRCH once it died" \
		kt exit-writes xw
	check_eq "those images are gone" "$(kt list | wc -l)" 0
	# Data behind PROT_NONE (CRIU's --kho dump has no parasite to add
	# PROT_READ): pinned as ptrace reads it, read back identical.
	check "a traced task's PROT_NONE pages pin (FOLL_FORCE) and read back identical; its mapping stays PROT_NONE; the caller's own PROT_NONE page: EFAULT" \
		kt prot-none pn
	check_eq "that image is gone" "$(kt list | wc -l)" 0
	check "pin stopped child by pid, read back via fd, seal" kt remote-pin remote "$OUT/remote.state"
	read -r pid _ pages _ <"$OUT/remote.state"
	check "child is gone; its pages stay pinned" test ! -e "/proc/$pid"
	check_eq "image holds all pages" "$(kt info remote | cut -d' ' -f4)" "$pages"
}

stage2() {
	local held freed pages
	read -r _ _ pages _ <"$OUT/remote.state"
	held=$(memfree_settled_kb)
	# trace=top enables khup:* in module init, before the restore.
	check "module loads after kexec" insmod "$(khup_ko)" trace=top
	check "read back via fd after kexec, identical; punch hole" kt remote-verify remote "$OUT/remote.state"
	cat /sys/kernel/tracing/trace >"$OUT/trace"
	check "khup_restore traced at module load" \
		grep -q "khup_restore: image=[0-9]* pid=[0-9]* pages=$pages lost=0" "$OUT/trace"
	check "khup_readback traced" grep -q "khup_readback: image=[0-9]* pid=[0-9]* offset=0" "$OUT/trace"
	check "khup_release traced for the punched pages" grep -q "khup_release: image=[0-9]* pid=[0-9]* pages=$pages" "$OUT/trace"
	check_eq "punching freed every page" "$(kt info remote | cut -d' ' -f4)" 0
	freed=$(memfree_settled_kb)
	note "free memory with image held ${held} kB, after punching ${freed} kB, image $((pages * 4)) kB, module load $(cat "$OUT/load_cost") kB"
	check "punched pages returned to the allocator (within $(($(memfree_slack_kb) / 1024)) MiB, after the module's own load cost)" \
		test $((freed - held)) -ge $((pages * 4 - $(memfree_slack_kb) - $(cat "$OUT/load_cost")))
	check "release" kt release remote
	check "KHO out tree has no khup node" test ! -e /sys/kernel/debug/kho/out/sub_fdts/khup
	check "rmmod after release" rmmod khup
}
