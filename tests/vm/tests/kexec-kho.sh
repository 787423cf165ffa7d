# SPDX-License-Identifier: GPL-2.0-only
# kexec with KHO into the same kernel: a new boot, KHO state handed over
VM_KEXEC=yes

stage1() {
	cat /proc/sys/kernel/random/boot_id >"$OUT/boot_id"
	check "boot_id recorded" test -s "$OUT/boot_id"
	check "KHO out tree present before kexec" test -d /sys/kernel/debug/kho/out/sub_fdts
	check "this is a cold boot (no KHO in tree)" test ! -e /sys/kernel/debug/kho/in
}

stage2() {
	check_ne "boot_id changed across kexec" "$(cat /proc/sys/kernel/random/boot_id)" "$(cat "$OUT/boot_id")"
	check "KHO in tree present after kexec" test -d /sys/kernel/debug/kho/in
	note "kho/in/sub_fdts: $(ls /sys/kernel/debug/kho/in/sub_fdts | tr '\n' ' ')"
	check "previous kernel's kexec-metadata node handed over" test -e /sys/kernel/debug/kho/in/sub_fdts/kexec-metadata
	check "kernel log counts exactly one kexec" grep -q 'KHO: exec from: .* (count 1)$' <(dmesg)
}
