# SPDX-License-Identifier: GPL-2.0-only
# make zdtm: every static test of CRIU's ZDTM through zdtm.py with --kho on dump and restore (same kernel)
VM_TIMEOUT=21600

# (the host reads this file for its VM_* settings, without KHUP_TOP)
[ -z "${KHUP_TOP:-}" ] || . "$KHUP_TOP/tests/vm/progs/zdtm-kho.sh"

stage1() {
	zdtm_setup
	zdtm_set "$ZDTM_BUILD/static.list"
	check "rmmod" rmmod khup
}
