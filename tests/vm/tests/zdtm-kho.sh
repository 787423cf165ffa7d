# SPDX-License-Identifier: GPL-2.0-only
# CRIU's own ZDTM tests (a representative subset, tests/zdtm/subset) pass through zdtm.py with --kho on dump and restore, in the same kernel; a few also with CRIU's test plugin memfd_pages
VM_TIMEOUT=1200

# (the host reads this file for its VM_* settings, without KHUP_TOP)
[ -z "${KHUP_TOP:-}" ] || . "$KHUP_TOP/tests/vm/progs/zdtm-kho.sh"

stage1() {
	zdtm_setup
	zdtm_set "$ZDTM_LISTS/subset"
	check "the set ran to its end (its summary is written)" test -s "$OUT/zdtm/summary"
	zdtm_memfd maps00 memfd03 shmemfd cow01
	check "rmmod" rmmod khup
}
