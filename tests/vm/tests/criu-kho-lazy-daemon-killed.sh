# SPDX-License-Identifier: GPL-2.0-only
# lazy restore in the same kernel (no kexec), then the lazy-pages daemon killed mid-fill: the restored tree is killed before it can read a page that was not copied, the image keeps every page, and an eager restore brings the workload back intact; khup-upgrade --restore --lazy
VM_TIMEOUT=1500

# (the host reads this file for its VM_* settings, without KHUP_TOP)
[ -z "${KHUP_TOP:-}" ] || . "$KHUP_TOP/tests/vm/progs/criu-kho.sh"

# image_col N: column N of the only /dev/khup image (see khup_images)
image_col() { khup_images | awk -v n="$1" '{ print $n }'; }

# intact HELD: the image holds HELD pages, none consumed or lost, no claim
intact() {
	[ "$(khup_images | awk '{ print $3, $5, $6, $7 }')" = "$1 0 0 0" ] ||
		{ echo "image: $(khup_images)"; return 1; }
}

stage1() {
	local wl pid held c t rc alive
	need_plugin
	check "module loads" insmod "$(khup_ko)"
	"$CRIU" check >/dev/null 2>&1 || true

	# 1. A lazy restore in the same kernel: the image is SEALED, not
	# carried over a kexec.
	wl=$OUT/wl1
	check "workload starts (64 MiB)" wl_start "$wl" 64
	check "report before dump" wl_report "$wl" report.before
	IMG=$OUT/img1
	mkdir -p "$IMG"
	kho_dump "$wl" "$(kv "$wl/ready" pid)"
	lazy_daemon_start "criu lazy-pages --kho starts and takes the claim" lazy.log
	# While a daemon holds a tree's image, khup-upgrade refuses to dump or
	# kexec (the daemon waits for the restore: it holds it for sure).
	rc=0
	"$KHUP_TOP/tools/khup-upgrade" --dry-run --kernel "$STAGE_KERNEL_1" --assume-kho --no-trace \
		--criu "$CRIU" --criu-libdir "$KHUP_PLUGIN_DIR" -D "$OUT" --pid $$ >"$OUT/upgrade-refused.txt" 2>&1 || rc=$?
	grep refusing "$OUT/upgrade-refused.txt" | sed 's/^/#   /'
	check_eq "khup-upgrade refuses an upgrade while a lazy restore holds a tree's image (exit 3)" "$rc" 3
	check "it says that a lazy restore is still copying" \
		grep -q "refusing: a lazy restore is still copying the memory of the tree in $IMG (criu lazy-pages, pid $lazypid)" \
		"$OUT/upgrade-refused.txt"
	if criu_run "$IMG/restore-attached.log" restore --kho --lazy-pages -D "$IMG" -W "$LAZY_WD"; then
		fail "a lazy restore without --restore-detached is refused" "it succeeded"
	else
		pass "a lazy restore without --restore-detached is refused"
	fi
	check "it says why" grep -q "a lazy restore (--lazy-pages) with --kho needs --restore-detached" "$IMG/restore-attached.log"
	check "criu restore --kho --lazy-pages" lazy_restore restore.log
	show_log "$IMG/restore.log"
	check "the workload answers (pong)" wl_ping "$wl"
	rc=0
	wait "$lazypid" || rc=$?
	show_log "$IMG/lazy.log"
	check_eq "the daemon filled everything and exited 0" "$rc" 0
	check "the daemon committed the image" grep -q "Lazy restore complete; committed and released" "$IMG/lazy.log"
	check_eq "no image left" "$(khup_images | wc -l)" 0
	check "report after the fill" wl_report "$wl" report.after
	check "every checksum matches the dump, threads alive, mutexes held" wl_verify "$wl" "$wl/report.after"
	check "threads and child ran on" wl_advanced "$wl" "$wl/report.before" "$wl/report.after"
	check "the futex waiter wakes and is joined" wl_join "$wl" report.joined
	wl_stop "$wl"
	check "the first workload is gone" wl_wait_gone "$wl"
	# (only if the above failed: part 2 expects a single image)
	[ "$(khup_images | wc -l)" = 0 ] || "$KHUP_BUILD/tools/khupctl" release --force --all

	# 2. The daemon is killed while it fills, and while the workload
	# computes a report over all its memory (so it faults on pages not
	# copied yet).
	wl=$OUT/wl2
	check "workload starts (256 MiB)" wl_start "$wl" 256
	IMG=$OUT/img2
	mkdir -p "$IMG"
	kho_dump "$wl" "$(kv "$wl/ready" pid)"
	lazy_daemon_start "criu lazy-pages --kho starts again" lazy.log
	check "criu restore --kho --lazy-pages" lazy_restore restore.log
	show_log "$IMG/restore.log"
	rm -f "$wl/report"
	kill -USR1 "$(kv "$wl/ready" pid)"
	c=0
	for ((t = 0; t < 6000; t++)); do
		c=$(image_col 5)
		[ "${c:-0}" -ge $((held / 4)) ] && break
		sleep 0.01
	done
	alive=0
	kill -0 "$lazypid" 2>/dev/null && alive=1
	kill -KILL "$lazypid"
	wait "$lazypid" 2>/dev/null
	note "daemon killed after $c of $held pages were consumed (daemon was alive: $alive)"
	check "the daemon was killed in the middle of the fill" test "$alive" = 1 -a "${c:-0}" -gt 0 -a "${c:-0}" -lt "$held"
	check "the restored tree is killed" wl_wait_gone "$wl"
	dmesg | grep 'processes restored post-copy' | tail -n 2 | sed 's/^/#   /'
	check "the module killed the tied processes" bash -c "dmesg | grep -q 'killed [1-9][0-9]* of the [0-9]* processes restored post-copy'"
	if [ -e "$wl/report" ]; then
		check "a report written before the kill is from intact memory" wl_verify "$wl" "$wl/report"
	else
		pass "the workload never reported from memory the daemon had not filled"
	fi
	for ((t = 0; t < 100; t++)); do intact "$held" >/dev/null && break; sleep 0.1; done
	khup_images | sed 's/^/#   image: /'
	check "the image keeps every page: none consumed or lost, no claim" intact "$held"
	"$KHUP_BUILD/tools/khupctl" show "$(image_col 4)" 2>&1 | sed 's/^/#   khupctl: /'
	check "khupctl shows the image, unclaimed, with every page" bash -c \
		"'$KHUP_BUILD/tools/khupctl' --json show '$(image_col 4)' | grep -q '\"tasks\":[0-9]*,\"pages\":$held,'"

	# A lazy restore that fails (its post-restore script exits 1): CRIU
	# kills the tree, the daemon gets no "ok" and drops the claim.
	lazy_daemon_start "criu lazy-pages --kho takes the image again" lazy-fail.log
	printf '#!/bin/sh\n[ "$CRTOOLS_SCRIPT_ACTION" = post-restore ] && exit 1\nexit 0\n' >"$OUT/fail-post-restore"
	chmod +x "$OUT/fail-post-restore"
	if criu_run "$IMG/restore-fail.log" restore --kho --lazy-pages -D "$IMG" -W "$LAZY_WD" --restore-detached \
		--action-script "$OUT/fail-post-restore"; then
		fail "a lazy restore whose post-restore script fails fails" "it succeeded"
	else
		pass "a lazy restore whose post-restore script fails fails"
	fi
	rc=0
	wait "$lazypid" || rc=$?
	show_log "$IMG/lazy-fail.log"
	check_ne "the daemon exits with an error" "$rc" 0
	check "the daemon dropped the claim without a commit" grep -q "dropping its claim" "$IMG/lazy-fail.log"
	check "nothing of the failed restore is left" wl_wait_gone "$wl"
	for ((t = 0; t < 100; t++)); do intact "$held" >/dev/null && break; sleep 0.1; done
	check "the image still keeps every page: none consumed or lost, no claim" intact "$held"

	check "an eager restore of the same image" criu_run restore-retry.log restore --kho -D "$IMG" --restore-detached
	show_log "$IMG/restore-retry.log"
	check_eq "the retry committed: no image left" "$(khup_images | wc -l)" 0
	check "report after the retry" wl_report "$wl" report.after
	check "every checksum matches the dump, threads alive, mutexes held" wl_verify "$wl" "$wl/report.after"
	check "the futex waiter wakes and is joined" wl_join "$wl" report.joined
	wl_stop "$wl"
	check "the second workload is gone" wl_wait_gone "$wl"

	# 3. khup-upgrade --restore --lazy runs the daemon and the restore for
	# a tree it finds in its order file (as written by an upgrade).
	wl=$OUT/wl3
	check "workload starts (64 MiB)" wl_start "$wl" 64
	check "report before dump" wl_report "$wl" report.before
	pid=$(kv "$wl/ready" pid)
	IMG=$OUT/up/1-$pid
	mkdir -p "$IMG"
	kho_dump "$wl" "$pid"
	echo "$IMG $pid khup-workload" >"$OUT/up/khup-upgrade.order"
	rc=0
	"$KHUP_TOP/tools/khup-upgrade" --restore --lazy -D "$OUT/up" --criu "$CRIU" --criu-libdir "$KHUP_PLUGIN_DIR" \
		--no-trace >"$OUT/upgrade-lazy.txt" 2>&1 || rc=$?
	sed 's/^/#   /' "$OUT/upgrade-lazy.txt"
	check_eq "khup-upgrade --restore --lazy exits 0" "$rc" 0
	check "it reports the time to running" grep -q "time to running: [0-9]* ms for 1 of 1 tree" "$OUT/upgrade-lazy.txt"
	check "it reports the fill's end and the commit" grep -q "memory fully copied, image committed" "$OUT/upgrade-lazy.txt"
	check "it reports the time to fully copied" grep -q "time to fully copied: [0-9]* ms" "$OUT/upgrade-lazy.txt"
	check "the order file is done" test -e "$OUT/up/khup-upgrade.order.done"
	check_eq "no image left" "$(khup_images | wc -l)" 0
	check "report after the restore" wl_report "$wl" report.after
	check "every checksum matches the dump, threads alive, mutexes held" wl_verify "$wl" "$wl/report.after"
	check "threads and child ran on" wl_advanced "$wl" "$wl/report.before" "$wl/report.after"
	wl_stop "$wl"
	check "rmmod" rmmod khup
}
