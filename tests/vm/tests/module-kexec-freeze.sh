# SPDX-License-Identifier: GPL-2.0-only
# a kexec while a punch loop runs on a sealed image: the reboot notifier freezes khup, the next kernel restores a consistent image (every page intact or punched, none lost, no checksum refusal)
VM_KEXEC=yes
VM_TIMEOUT=600


stage1() {
	check "module loads" insmod "$KHUP_BUILD/modules/$(uname -r)/khup.ko"
	check "remote image pinned and sealed" kt remote-pin remote "$OUT/remote.state"
	# Punch page after page, across the kexec the init does next.
	setsid "$KHUP_BUILD/progs/khup-test" punch-loop remote "$OUT/remote.state" \
		>"$OUT/loop.out" 2>&1 </dev/null &
	sleep 2
	check "the punch loop is running when the stage ends" kill -0 $!
}

stage2() {
	check "module loads after kexec" insmod "$KHUP_BUILD/modules/$(uname -r)/khup.ko"
	check "the old kernel froze khup on its way down" \
		grep -q "khup: frozen for restart or kexec" "$OUT/serial.log"
	sed 's/^/#   loop: /' "$OUT/remote.state.loop" 2>/dev/null
	check "no table was refused" bash -c '! dmesg | grep "khup:" | grep -q "refused\|checksum"'
	check_eq "the image came over (restored)" "$(kt info remote | awk '{ print $2 }')" 3
	check "every page is intact or punched, and the module holds exactly the intact ones" \
		bash -c "'$KHUP_BUILD/progs/khup-test' check-each remote '$OUT/remote.state' | tee '$OUT/check.out'"
	sed 's/^/#   /' "$OUT/check.out"
	check "some pages were punched before the freeze" \
		grep -q " [1-9][0-9]* punched" "$OUT/check.out"
	check "some pages were still held at the freeze" \
		grep -q "^[1-9][0-9]* pages intact" "$OUT/check.out"
	check "release" kt release remote
	check "rmmod" rmmod khup
}
