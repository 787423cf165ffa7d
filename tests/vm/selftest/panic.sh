# SPDX-License-Identifier: GPL-2.0-only
# harness self-test: the guest kernel panics in stage 1
stage1() {
	pass "stage 1 passes before the panic"
	sync
	echo c >/proc/sysrq-trigger
}
