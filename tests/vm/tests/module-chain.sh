# SPDX-License-Identifier: GPL-2.0-only
# khup images survive a chain of two kexecs unreleased, then come back intact
VM_STAGES=3
VM_TIMEOUT=900


stage1() {
	check "module loads" insmod "$(khup_ko)"
	check "self image pinned and sealed" kt self-pin self "$OUT/self.state"
	check "remote image pinned and sealed" kt remote-pin remote "$OUT/remote.state"
}

stage2() {
	check "module loads after the first kexec" insmod "$(khup_ko)"
	check "remote image readable, not released" kt remote-check remote "$OUT/remote.state"
	# Punch 4 KiB pages and part of a THP (the 4 MiB range starts at page
	# 2048); the published bitmap must carry the holes to the next kernel.
	check "punch 64 small pages" kt remote-punch remote "$OUT/remote.state" 100 64
	check "punch 16 pages inside a THP" kt remote-punch remote "$OUT/remote.state" 2100 16
	check_eq "80 pages fewer held" "$(kt info remote | cut -d' ' -f4)" $((3072 - 80))
	check_eq "self image survived one kexec" "$(kt info self | cut -d' ' -f2,5)" "3 1"
	dtc -q -I dtb -O dts -o "$OUT/node2.dts" /sys/kernel/debug/kho/out/sub_fdts/khup
	check "both images re-published for the next kexec" grep -q 'khup,nr-images = <0x02>' "$OUT/node2.dts"
}

stage3() {
	check "module loads after the second kexec" insmod "$(khup_ko)"
	dmesg >"$OUT/dmesg.load"
	check "no restore errors logged" bash -c '! grep -q "khup: .*\(refused\|could not\|malformed\|not preserved\)" '"$OUT/dmesg.load"
	check_eq "self image survived two kexecs" "$(kt info self | cut -d' ' -f2,5)" "3 2"
	check "self image restored into the caller, hashes match" kt self-restore self "$OUT/self.state"
	check "remote image read back identical (holes read as zeros), then punched" kt remote-verify remote "$OUT/remote.state"
	check "release self" kt release self
	check "release remote" kt release remote
	check "KHO out tree has no khup node" test ! -e /sys/kernel/debug/kho/out/sub_fdts/khup
	check "rmmod" rmmod khup
}
