# SPDX-License-Identifier: GPL-2.0-only
# corrupted KHO nodes (bad table checksum, unknown compatible, malformed FDT, bad node checksum) are refused after kexec with a clear log line
VM_STAGES=5
VM_TIMEOUT=600


stage1() {
	check "module loads" insmod "$(khup_ko)"
	check "intact image pinned and sealed" kt self-pin good "$OUT/good.state"
	echo 1 >/sys/module/khup/parameters/debug_corrupt
	check "image t sealed with a corrupted table (debug_corrupt=1)" kt bad-input state
	echo 0 >/sys/module/khup/parameters/debug_corrupt
	dmesg >"$OUT/dmesg.seal"
	check "corruption logged" grep -q "debug_corrupt: corrupted extent table" "$OUT/dmesg.seal"
}

stage2() {
	check "module loads despite the corrupted table" insmod "$(khup_ko)"
	dmesg >"$OUT/dmesg.load"
	check "corrupted table refused with a clear reason" \
		grep -q "khup: image [0-9]* task [0-9]*: extent table refused: table checksum mismatch" "$OUT/dmesg.load"
	check "image with no valid task is dropped" grep -q "khup: image [0-9]* 't': no task could be restored" "$OUT/dmesg.load"
	check "image t is gone" bash -c "! $KHUP_BUILD/progs/khup-test info t 2>/dev/null"
	check "intact image restored" kt self-restore good "$OUT/good.state"
	check "no oops or warning" bash -c '! grep -q "Oops\|WARNING\|BUG" '"$OUT/dmesg.load"
	check "release" kt release good
	check "rmmod" rmmod khup
	check "module loads again; node already taken over" insmod "$(khup_ko)"
	dmesg >"$OUT/dmesg.reload"
	check "reload does not restore twice" grep -q "khup: KHO node 'khup' was already taken over" "$OUT/dmesg.reload"

	# Next: a node whose compatible this module does not know.
	echo 2 >/sys/module/khup/parameters/debug_corrupt
	check "image t sealed under an unknown compatible (debug_corrupt=2)" kt bad-input state
	echo 0 >/sys/module/khup/parameters/debug_corrupt
}

stage3() {
	check "module loads despite the unknown compatible" insmod "$(khup_ko)"
	dmesg >"$OUT/dmesg.3"
	check "unknown compatible refused by name" \
		grep -q "khup: KHO node 'khup' has unknown compatible \"khup-v0\" (want \"khup-v3\", \"khup-v2\" or \"khup-v1\"); nothing restored" "$OUT/dmesg.3"
	check "nothing restored" bash -c "! $KHUP_BUILD/progs/khup-test info t 2>/dev/null"
	check "no oops or warning" bash -c '! grep -q "Oops\|WARNING\|BUG" '"$OUT/dmesg.3"

	# Next: a node that is not even a valid FDT.
	echo 3 >/sys/module/khup/parameters/debug_corrupt
	check "image t sealed into a malformed FDT (debug_corrupt=3)" kt bad-input state
	echo 0 >/sys/module/khup/parameters/debug_corrupt
}

stage4() {
	check "module loads despite the malformed node" insmod "$(khup_ko)"
	dmesg >"$OUT/dmesg.4"
	check "malformed FDT refused" grep -q "khup: KHO node 'khup' ([0-9]* bytes) is not a valid FDT; nothing restored" "$OUT/dmesg.4"
	check "no oops or warning" bash -c '! grep -q "Oops\|WARNING\|BUG" '"$OUT/dmesg.4"
	check "module still works: pin, seal, release" kt bad-input double-release

	# Next: a well-formed node changed after its own checksum.
	echo 4 >/sys/module/khup/parameters/debug_corrupt
	check "image t sealed into a node changed after its checksum (debug_corrupt=4)" kt bad-input state
	echo 0 >/sys/module/khup/parameters/debug_corrupt
}

stage5() {
	check "module loads despite the node checksum" insmod "$(khup_ko)"
	dmesg >"$OUT/dmesg.5"
	check "node checksum mismatch refused" grep -q "khup: KHO node 'khup' fails its checksum; nothing restored" "$OUT/dmesg.5"
	check "nothing restored" bash -c "! $KHUP_BUILD/progs/khup-test info t 2>/dev/null"
	check "no oops or warning" bash -c '! grep -q "Oops\|WARNING\|BUG" '"$OUT/dmesg.5"
	check "module still works: pin, seal, release" kt bad-input double-release
	check "rmmod" rmmod khup
}
