#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# selftest.sh: checks that tests/vm/run turns every kind of guest failure into
# 'not ok', never into a pass: a failed assertion in stage 2 after
# kexec, a kernel panic, a hang, a test that asserts nothing, and a stage 2
# that never runs. Each case boots a VM whose test is meant to fail, and this script
# asserts how the harness reported it. KTAP output, 'N passed, N failed' last.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# result, ktap_end: shared with the host checks
# shellcheck source=tests/host/ktap.sh
. "$here/../host/ktap.sh"

# expect CASE PATTERN...: the harness exits 1 and prints every PATTERN.
expect() {
	local case=$1 out rc=0 p bad=0
	shift
	out=$("$here/run" "$here/selftest/$case.sh" 2>&1) || rc=$?
	if [ "$rc" -ne 1 ]; then
		echo "# $case: harness exited $rc, expected 1"
		bad=1
	fi
	for p in "$@"; do
		if ! grep -qE -- "$p" <<<"$out"; then
			echo "# $case: no line matching '$p'"
			bad=1
		fi
	done
	[ "$bad" -eq 0 ] || sed 's/^/#   | /' <<<"$out" | tail -n 30
	result "$bad" "harness reports $case as a failure"
}

echo "KTAP version 1"
expect stage2-fails '^not ok 1 stage2-fails # 1 assertion\(s\) failed$' \
	'^    not ok 2 stage2: stage 2 fails on purpose # harness self-test$' \
	'^# serial console, last 40 lines' '^0 passed, 1 failed$'
expect panic '^not ok 1 panic # kernel: .*Kernel panic|^not ok 1 panic # kernel: .*sysrq' \
	'^# serial console, last 40 lines'
expect hang '^not ok 1 hang # timeout after 40s$' '^    ok 1 stage1: stage 1 passes before hanging$'
expect no-assertions '^not ok 1 no-assertions # the test asserted nothing$'
expect no-stage2 '^not ok 1 no-stage2 # stage 2 did not complete$' \
	'^    not ok 2 stage1: kexec load for stage 2'
ktap_end
