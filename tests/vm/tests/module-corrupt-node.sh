# SPDX-License-Identifier: GPL-2.0-only
# a corrupted extent table is refused after kexec with a clear log line; intact images still come back
VM_KEXEC=yes
VM_TIMEOUT=600

ko() { echo "$KHUP_BUILD/modules/$(uname -r)/khup.ko"; }
kt() { "$KHUP_BUILD/progs/khup-test" "$@"; }

stage1() {
	check "module loads" insmod "$(ko)"
	check "intact image pinned and sealed" kt self-pin good "$OUT/good.state"
	echo Y >/sys/module/khup/parameters/debug_corrupt
	check "image t sealed with a corrupted table (debug_corrupt)" kt bad-input state
	echo N >/sys/module/khup/parameters/debug_corrupt
	dmesg >"$OUT/dmesg.seal"
	check "corruption logged" grep -q "debug_corrupt: corrupted extent table" "$OUT/dmesg.seal"
}

stage2() {
	check "module loads despite the corrupted table" insmod "$(ko)"
	dmesg >"$OUT/dmesg.load"
	check "corrupted table refused with a clear reason" \
		grep -q "khup: image [0-9]* task [0-9]*: extent table refused: table checksum mismatch" "$OUT/dmesg.load"
	check "image with no valid task is dropped" grep -q "khup: image [0-9]* 't': no task could be restored" "$OUT/dmesg.load"
	check "image t is gone" bash -c "! $KHUP_BUILD/progs/khup-test info t 2>/dev/null"
	check "intact image restored" kt self-restore good "$OUT/good.state"
	check "no oops or warning" bash -c '! grep -q "Oops\|WARNING\|BUG" '"$OUT/dmesg.load"
	check "release" kt release good
	check "rmmod" rmmod khup
	check "module loads again; node already taken over" insmod "$(ko)"
	dmesg >"$OUT/dmesg.reload"
	check "reload does not restore twice" grep -q "khup: KHO node 'khup' was already taken over" "$OUT/dmesg.reload"
	check "rmmod again" rmmod khup
}
