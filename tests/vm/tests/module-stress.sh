# SPDX-License-Identifier: GPL-2.0-only
# concurrency stress (tests/vm/progs/khup-stress.c): 8 images, for a bounded time readers, punchers, releases by ioctl and netlink with new images pinned and sealed in their place, claims committed or rolled back, listing and rmmod attempts all at once; then every page is held or freed exactly as counted, nothing preserved or allocated after releasing all, rmmod works, MemFree back. A kexec during a punch loop is module-kexec-freeze.
VM_TIMEOUT=600
# Seconds of stress (the debug kernel does fewer operations in them).
STRESS_SECONDS=${KHUP_STRESS_SECONDS:-30}
VM_CMDLINE="khup.stress_seconds=$STRESS_SECONDS"

stage1() {
	local secs before after
	secs=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^khup\.stress_seconds=//p')
	before=$(memfree_settled_kb)
	check "module loads" insmod "$(khup_ko)"
	check "${secs} s of parallel reads, punches, releases (ioctl and netlink), claims, lists and rmmod attempts: every read right, every page held or freed as counted" \
		bash -c "'$KHUP_BUILD/progs/khup-stress' '$secs' >'$OUT/stress.out' 2>&1"
	grep -v 'FAIL' "$OUT/stress.out" | sed 's/^/#   /'
	grep -m 20 'FAIL' "$OUT/stress.out" | sed 's/^/#   /'
	check "every kind of operation ran" \
		grep -Eq ' [1-9][0-9]* reads .* [1-9][0-9]* punches, [1-9][0-9]* releases by ioctl, [1-9][0-9]* by netlink, .*\([1-9][0-9]* committed, [1-9][0-9]* rolled back\), [1-9][0-9]* list rounds, [1-9][0-9]* rmmod attempts refused, 0 failures' "$OUT/stress.out"
	check_eq "no image left" "$("$KHUP_BUILD/progs/khup-test" list | wc -l)" 0
	check "rmmod once idle" rmmod khup
	after=$(memfree_settled_kb)
	note "MemFree (settled) before ${before} kB, after ${after} kB"
	check "no memory lost (MemFree within 8 MiB)" test $((before - after)) -lt 8192
}
