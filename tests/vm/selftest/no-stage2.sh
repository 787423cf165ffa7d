# SPDX-License-Identifier: GPL-2.0-only
# harness self-test: kexec is refused, so stage 2 never runs
VM_KEXEC=yes

stage1() {
	pass "stage 1 passes"
	# From now on this kernel refuses to load another one.
	echo 1 >/proc/sys/kernel/kexec_load_disabled
}

stage2() {
	pass "stage 2 must not run"
}
