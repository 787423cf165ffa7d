# SPDX-License-Identifier: GPL-2.0-only
# kexec with KHO from the base kernel (7.2) into the upgrade kernel (7.3)
VM_KERNELS="7.2 7.3"

VM_KEXEC=yes

stage1() {
	uname -r >"$OUT/release"
	cat /proc/sys/kernel/random/boot_id >"$OUT/boot_id"
	check_eq "stage 1 runs the base kernel" "$(uname -r)" "$STAGE_RELEASE_1"
}

stage2() {
	check_ne "uname -r changed across kexec" "$(uname -r)" "$(cat "$OUT/release")"
	check_eq "stage 2 runs the upgrade kernel" "$(uname -r)" "$STAGE_RELEASE_2"
	check_ne "boot_id changed across kexec" "$(cat /proc/sys/kernel/random/boot_id)" "$(cat "$OUT/boot_id")"
	check "KHO in tree present after kexec" test -d /sys/kernel/debug/kho/in/sub_fdts
	check "kernel log names the previous kernel" grep -q "KHO: exec from: $(cat "$OUT/release") (count 1)\$" <(dmesg)
}
