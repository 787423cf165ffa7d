# SPDX-License-Identifier: GPL-2.0-only
# the detach-and-exec race of the remote pin: an unprivileged tracer with CAP_CHECKPOINT_RESTORE pins its tracee again and again while the tracee, detached, execs a setuid-root program that writes a secret at the pinned address; no round ever pins a privileged page (every pinned page is the tracee's data from before the exec; PIN otherwise fails with EPERM or ESRCH)
VM_TIMEOUT=600
ROUNDS=${KHUP_EXEC_RACE_ROUNDS:-200}
VM_CMDLINE="khup.exec_race_rounds=$ROUNDS"

stage1() {
	local rounds uid=1000 bin=/tmp/khup-secret
	rounds=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^khup\.exec_race_rounds=//p')
	check "module loads" insmod "$(khup_ko)"
	# The setuid-root program, on /tmp (tmpfs, suid allowed).
	check "setuid-root program installed" \
		bash -c "install -o root -g root -m 4755 '$KHUP_BUILD/progs/khup-secret' $bin"
	# The checkpointing user may open /dev/khup (as a deployment that
	# grants it to a checkpoint user would); it is not root.
	check "/dev/khup opened to uid $uid" chown "$uid" /dev/khup
	# Its pins are charged to uid $uid's RLIMIT_MEMLOCK; a round may pin
	# the same pages a few hundred times before the detach, so the limit
	# is lifted: the race, not the limit, is under test (module-pin-limit
	# tests the limit).
	check "$rounds rounds of the detach-and-exec race: no privileged page pinned" \
		bash -c "prlimit --memlock=unlimited:unlimited setpriv --reuid=$uid --regid=$uid --clear-groups --inh-caps=-all,+checkpoint_restore --ambient-caps=-all,+checkpoint_restore '$KHUP_BUILD/progs/khup-exec-race' '$rounds' $bin >'$OUT/race.out' 2>&1; rc=\$?; tail -n 2 '$OUT/race.out'; exit \$rc"
	check "pins of the tracee went through before the detach and were refused after it" \
		grep -Eq "^$rounds rounds as uid $uid: [1-9][0-9]* pins before the detach, [1-9][0-9]* attempts refused after it, [0-9]+ pins after it, 0 other errors, 0 rounds with privileged pages" "$OUT/race.out"
	chown root /dev/khup
	check_eq "no image left" "$("$KHUP_BUILD/progs/khup-test" list | wc -l)" 0
	check "rmmod" rmmod khup
}
