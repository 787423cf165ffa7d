# SPDX-License-Identifier: GPL-2.0-only
# the test kernel reaches userspace and CRIU's 'criu check' passes
stage1() {
	check_eq "init runs as PID 1 in the test kernel" "$(cut -d' ' -f1 /proc/1/stat)-$(uname -r)" "1-$STAGE_RELEASE_1"
	check "KHO is enabled (kho=on)" test -d /sys/kernel/debug/kho/out
	check "/tmp is writable" touch /tmp/khup-boot
	local out
	out=$("$CRIU" check 2>&1)
	note "criu check: $out"
	check "criu check says \"Looks good.\"" grep -q 'Looks good.' <<<"$out"
}
