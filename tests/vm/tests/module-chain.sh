# SPDX-License-Identifier: GPL-2.0-only
# khup images survive a chain of two kexecs unreleased, then come back intact
VM_STAGES=3
VM_TIMEOUT=900

ko() { echo "$KHUP_BUILD/modules/$(uname -r)/khup.ko"; }
kt() { "$KHUP_BUILD/progs/khup-test" "$@"; }

stage1() {
	check "module loads" insmod "$(ko)"
	check "self image pinned and sealed" kt self-pin self "$OUT/self.state"
	check "remote image pinned and sealed" kt remote-pin remote "$OUT/remote.state"
}

stage2() {
	check "module loads after the first kexec" insmod "$(ko)"
	check "remote image readable, not released" kt remote-check remote "$OUT/remote.state"
	check_eq "self image survived one kexec" "$(kt info self | cut -d' ' -f2,5)" "3 1"
	dtc -q -I dtb -O dts -o "$OUT/node2.dts" /sys/kernel/debug/kho/out/sub_fdts/khup
	check "both images re-published for the next kexec" grep -q 'khup,nr-images = <0x02>' "$OUT/node2.dts"
}

stage3() {
	check "module loads after the second kexec" insmod "$(ko)"
	dmesg >"$OUT/dmesg.load"
	check "no restore errors logged" bash -c '! grep -q "khup: .*\(refused\|could not\|malformed\|not preserved\)" '"$OUT/dmesg.load"
	check_eq "self image survived two kexecs" "$(kt info self | cut -d' ' -f2,5)" "3 2"
	check "self image restored into the caller, hashes match" kt self-restore self "$OUT/self.state"
	check "remote image read back identical, then punched" kt remote-verify remote "$OUT/remote.state"
	check "release self" kt release self
	check "release remote" kt release remote
	check "KHO out tree has no khup node" test ! -e /sys/kernel/debug/kho/out/sub_fdts/khup
	check "rmmod" rmmod khup
}
