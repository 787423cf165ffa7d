# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# KTAP results for the host checks (tests/host/*.sh), sourced by them after
# they set $work, a scratch directory of their own. Each check is one
# 'ok N DESC' or 'not ok N DESC' line; ktap_end prints the plan and the
# 'N passed, N failed' line that scripts/run-tests adds up.

n=0 passed=0 failed=0
# result RC DESC [DETAIL FILE]: one KTAP line; the file is shown on failure
result() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n $2"
		passed=$((passed + 1))
	else
		echo "not ok $n $2"
		failed=$((failed + 1))
		[ -z "${3:-}" ] || sed 's/^/#   | /' "$3" | tail -n 20
	fi
}
# check DESC CMD...: passes iff CMD exits 0; its output is shown otherwise
check() {
	local desc=$1 rc=0 out
	shift
	out=${work:?tests/host/ktap.sh needs \$work}/out
	"$@" >"$out" 2>&1 || rc=$?
	result "$rc" "$desc" "$out"
}
# ktap_end: the plan and the count; returns 0 only if all passed
ktap_end() {
	echo "1..$n"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
