# SPDX-License-Identifier: GPL-2.0-only
#
# Assertion helpers for VM tests, sourced by tests/vm/init inside the guest.
# Every assertion is appended to $OUT/results (in the host's output share, so
# it survives kexec and guest crashes) and echoed to the serial console. The
# host reads $OUT/results after the VM exits; it never trusts the console.

# pass DESCRIPTION
pass() {
	_record "ok - stage$STAGE: $1"
}

# fail DESCRIPTION [REASON]
fail() {
	_record "not ok - stage$STAGE: $1${2:+ # $2}"
}

# check DESCRIPTION CMD [ARG...]: passes iff CMD exits 0. CMD's output goes
# to the console and the stage log, where a failure can be read in context.
check() {
	local desc=$1 rc=0 out
	shift
	out=$("$@" 2>&1) || rc=$?
	[ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/#   /'
	if [ "$rc" -eq 0 ]; then
		pass "$desc"
	else
		fail "$desc" "'$*' exited $rc: $(printf '%s' "$out" | tail -n 2 | tr '\n' ' ' | cut -c1-200)"
	fi
}

# check_eq DESCRIPTION ACTUAL EXPECTED
check_eq() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1" "got '$2', expected '$3'"
	fi
}

# check_ne DESCRIPTION ACTUAL UNEXPECTED
check_ne() {
	if [ "$2" != "$3" ]; then
		pass "$1"
	else
		fail "$1" "got '$2', which it must not be"
	fi
}

# note TEXT: a diagnostic line, not an assertion.
note() {
	printf '# %s\n' "$*"
}

# Number of assertions that failed so far, across all stages.
failures() {
	grep -c '^not ok' "$OUT/results" 2>/dev/null || true
}

# khup_ko: the khup.ko built for the running kernel.
khup_ko() {
	echo "$KHUP_BUILD/modules/$(uname -r)/khup.ko"
}

# kt ARGS: the module tests' driver, tests/vm/progs/khup-test.c
kt() { "$KHUP_BUILD/progs/khup-test" "$@"; }

# pages_of NAME: the pages image NAME holds (khup-test info)
pages_of() { kt info "$1" | cut -d' ' -f4; }

# blocks_of NODE: the khup,blocks descriptor of a khup KHO node (file),
# "none" when all zero (no block list), else "set".
blocks_of() {
	fdtget -t bx "$1" / khup,blocks |
		awk '{ for (i = 1; i <= NF; i++) if ($i != "0") { print "set"; exit } print "none" }'
}

# stat_of NAME: one of the module's counters (khup-nl stats)
stat_of() { "$KHUP_BUILD/progs/khup-nl" stats | awk -v k="$1" '$1 == k { print $2 }'; }

# release_restored NAME PAGES RESTORED BEFORE: after module loads that
# failed and one that restored image NAME (PAGES pages; RESTORED pages in
# whole folios) from the kexec, release it, unload khup and check that the
# failed loads lost nothing: settled MemFree is BEFORE, measured before the
# loads, plus the restored pages (within 8 MiB).
release_restored() {
	local after
	check "release" kt release "$1"
	check_eq "the restored pages freed" "$(stat_of freed)" "$2"
	check "rmmod" rmmod khup
	after=$(memfree_settled_kb)
	note "MemFree (settled) before the loads $4 kB, after releasing the image ${after} kB ($3 pages restored)"
	check "the failed loads lost nothing: MemFree up by the restored pages (within 8 MiB)" \
		test $(($4 + $3 * 4 - after)) -lt 8192
}

# memfree_settled_kb: free memory in kB once caches are dropped and memory
# compacted, counting the pages on per-cpu free lists too, so that before /
# after comparisons measure pages really held, not caches.
memfree_settled_kb() {
	local pcp
	sync
	echo 3 >/proc/sys/vm/drop_caches
	echo 1 >/proc/sys/vm/compact_memory 2>/dev/null || true
	pcp=$(awk '$1 == "count:" { n += $2 } END { print n + 0 }' /proc/zoneinfo)
	echo $(($(awk '/^MemFree:/ { print $2 }' /proc/meminfo) + pcp * 4))
}

# memfree_slack_kb: how far MemFree may miss an exact balance (kB), for the
# tests that compare it before and after: 2 MiB; 4 MiB on a KASAN kernel,
# which keeps freed slab objects in its quarantine and frees the shadow of
# vfree()d areas only when vmalloc purges them lazily: after a kexec into
# 7.2-debug, module-self-roundtrip's MemFree came back 2.4-2.6 MB short of
# its 64 MiB image (after the module's load cost; on 7.2 within 2 MiB), most
# likely the objects freed with the image still in the quarantine (not
# proven). A leak of the image's pages is far larger, and kmemleak is
# checked at the end of every stage.
memfree_slack_kb() {
	stage_kasan && echo 4096 || echo 2048
}

# stage_kasan: this stage runs a KASAN kernel (7.2-debug), which TCG runs
# several times slower than the test kernels
stage_kasan() {
	local k="STAGE_KASAN_$STAGE"
	[ "${!k:-0}" = 1 ]
}

# wait_log FILE PATTERN SECONDS: wait until FILE has a line matching PATTERN.
wait_log() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# stage_done: mark this stage complete (kernel log saved, marker written).
# init does it when a stage returns; a stage that kexecs by itself (through
# a tool under test, e.g. khup-upgrade) calls it first.
# kmemleak_check: on a kernel with kmemleak (the debug kernel), scan now
# and fail if an unreferenced object was allocated by khup.ko (boot-time
# reports of the kernel itself are not this test's business).
kmemleak_check() {
	local k=/sys/kernel/debug/kmemleak leaks
	[ -w "$k" ] || return 0
	echo scan >"$k" 2>/dev/null || return 0
	echo scan >"$k" 2>/dev/null
	leaks=$(awk '/^unreferenced object/ { if (obj != "" && khup) print obj; obj = $0; khup = 0; next }
		/\[khup\]/ { khup = 1 } { obj = obj "\n" $0 }
		END { if (obj != "" && khup) print obj }' "$k")
	if [ -n "$leaks" ]; then
		printf '%b\n' "$leaks" | head -n 40 | sed 's/^/#   kmemleak: /'
		fail "no memory leaked by khup.ko (kmemleak)" "kmemleak reports objects allocated by khup.ko"
	fi
}

stage_done() {
	kmemleak_check
	dmesg >"$OUT/dmesg.stage$STAGE" 2>/dev/null
	touch "$OUT/stage$STAGE.done"
	sync
}

# next_cmdline: the running command line with khup.stage= pointing at the
# next stage, for a stage that loads the next kernel itself.
next_cmdline() {
	sed "s/khup\.stage=$STAGE/khup.stage=$((STAGE + 1))/" /proc/cmdline
}

_record() {
	printf '%s\n' "$1" >>"$OUT/results"
	printf '%s\n' "$1"
}
