# SPDX-License-Identifier: GPL-2.0-only
# harness self-test: the guest hangs and the harness's timeout ends it
VM_TIMEOUT=40

stage1() {
	pass "stage 1 passes before hanging"
	sleep 3600
}
