# SPDX-License-Identifier: GPL-2.0-only
# khup images cross an upgrade 7.2 -> 7.3 and a rollback 7.3 -> 7.2 intact
VM_STAGES=3
VM_KERNELS="7.2 7.3 7.2"
VM_TIMEOUT=900


stage1() {
	uname -r >"$OUT/release1"
	check "module loads on $(uname -r)" insmod "$(khup_ko)"
	check "self image pinned and sealed" kt self-pin self "$OUT/self.state"
	check "remote image pinned and sealed" kt remote-pin remote "$OUT/remote.state"
}

stage2() {
	check_ne "running another kernel release" "$(uname -r)" "$(cat "$OUT/release1")"
	check "module loads on $(uname -r)" insmod "$(khup_ko)"
	dmesg >"$OUT/dmesg.2"
	check "no restore errors logged" bash -c '! grep -q "khup: .*\(refused\|could not\|malformed\|not preserved\|unknown\)" '"$OUT/dmesg.2"
	check "remote image read back identical after the upgrade" kt remote-check remote "$OUT/remote.state"
	check_eq "self image restored, one kexec" "$(kt info self | cut -d' ' -f2,5)" "3 1"
}

stage3() {
	check_eq "rolled back to the first release" "$(uname -r)" "$(cat "$OUT/release1")"
	check "module loads after the rollback" insmod "$(khup_ko)"
	check "self image restored into the caller, hashes match" kt self-restore self "$OUT/self.state"
	check "remote image read back identical, then punched" kt remote-verify remote "$OUT/remote.state"
	check "release self" kt release self
	check "release remote" kt release remote
	check "KHO out tree has no khup node" test ! -e /sys/kernel/debug/kho/out/sub_fdts/khup
	check "rmmod" rmmod khup
}
