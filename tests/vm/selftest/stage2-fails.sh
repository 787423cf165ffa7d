# SPDX-License-Identifier: GPL-2.0-only
# harness self-test: stage 2 fails an assertion after a good kexec
VM_KEXEC=yes

stage1() {
	pass "stage 1 passes"
}

stage2() {
	fail "stage 2 fails on purpose" "harness self-test"
}
