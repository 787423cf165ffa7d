# SPDX-License-Identifier: GPL-2.0-only
# a failed criu restore --kho loses nothing: after a failing post-restore script, and after criu is killed mid-read, the image is intact and a retry restores the same memory; a page lost at kexec makes the restore refuse, naming the task
VM_KEXEC=yes
VM_TIMEOUT=1200

# (the host reads this file for its VM_* settings, without KHUP_TOP)
[ -z "${KHUP_TOP:-}" ] || . "$KHUP_TOP/tests/vm/progs/criu-kho.sh"


# image_col N: column N of the only /dev/khup image (see khup_images)
image_col() { khup_images | awk -v n="$1" '{ print $n }'; }

# intact HELD: the image holds HELD pages, none consumed or lost, no claim
intact() {
	[ "$(khup_images | awk '{ print $3, $5, $6, $7 }')" = "$1 0 0 0" ] ||
		{ echo "image: $(khup_images)"; return 1; }
}

# retry_ok WL: criu restore --kho again, and the workload is whole
retry_ok() {
	check "the retry restores" criu_run restore-retry.log restore --kho -D "$IMG" --restore-detached
	show_log "$IMG/restore-retry.log"
	check_eq "the retry committed: no image left" "$(khup_images | wc -l)" 0
	check "report after the retry" wl_report "$1" report.after
	check "every checksum matches the dump, threads alive, mutexes held" wl_verify "$1" "$1/report.after"
	check "the futex waiter wakes and is joined" wl_join "$1" report.joined
	wl_stop "$1"
}

stage1() {
	local wl pid held c t crpid
	need_plugin
	check "module loads" insmod "$(khup_ko)"

	# 1. The restore succeeds up to the post-restore script, which fails:
	# CRIU kills the restored tree after every page was read.
	wl=$OUT/wl1
	check "workload starts (64 MiB)" wl_start "$wl" 64
	IMG=$OUT/img1
	mkdir -p "$IMG"
	kho_dump "$wl" "$(kv "$wl/ready" pid)"
	printf '#!/bin/sh\n[ "$CRTOOLS_SCRIPT_ACTION" = post-restore ] && exit 1\nexit 0\n' >"$OUT/fail-post-restore"
	chmod +x "$OUT/fail-post-restore"
	if criu_run restore-fail.log restore --kho -D "$IMG" --restore-detached \
		--action-script "$OUT/fail-post-restore"; then
		fail "a restore whose post-restore script fails fails" "it succeeded"
	else
		pass "a restore whose post-restore script fails fails"
	fi
	show_log "$IMG/restore-fail.log"
	check "CRIU aborted after the post-restore script" grep -q "post-restore script" "$IMG/restore-fail.log"
	check "the plugin saw consumed pages come back" \
		grep -q "kept for another try; its [1-9][0-9]* consumed pages are readable again" "$IMG/restore-fail.log"
	check "the restored tree was killed" wl_wait_gone "$wl"
	check "the image is intact: every page held, none consumed or lost, no claim" intact "$held"
	retry_ok "$wl"

	# 2. criu is killed with SIGKILL while it reads the pages.
	wl=$OUT/wl2
	check "workload starts (128 MiB)" wl_start "$wl" 128
	IMG=$OUT/img2
	mkdir -p "$IMG"
	kho_dump "$wl" "$(kv "$wl/ready" pid)"
	criu_run restore-killed.log restore --kho -D "$IMG" --restore-detached &
	crpid=$!
	c=0
	for ((t = 0; t < 3000; t++)); do
		c=$(image_col 5)
		[ "${c:-0}" -gt 0 ] && break
		sleep 0.01
	done
	kill -KILL "$crpid"
	wait "$crpid" 2>/dev/null
	note "criu killed after $c pages were consumed (of $held)"
	check "criu was killed in the middle of the read" test "${c:-0}" -gt 0 -a "${c:-0}" -lt "$held"
	# What criu had restored so far dies with it or is killed here.
	kill -KILL "$(kv "$wl/ready" pid)" "$(kv "$wl/ready" child)" 2>/dev/null
	check "nothing of the killed restore is left" wl_wait_gone "$wl"
	for ((t = 0; t < 100; t++)); do intact "$held" >/dev/null && break; sleep 0.1; done
	check "the image is intact: every page held, none consumed or lost, no claim" intact "$held"
	retry_ok "$wl"

	# 3. Dumped here, restored after a kexec in which a page is lost.
	wl=$OUT/wl3
	check "workload starts (16 MiB)" wl_start "$wl" 16
	IMG=$OUT/img3
	mkdir -p "$IMG"
	kho_dump "$wl" "$(kv "$wl/ready" pid)"
	kv "$wl/ready" pid >"$OUT/pid3"
}

stage2() {
	local name pid
	need_plugin
	IMG=$OUT/img3
	pid=$(cat "$OUT/pid3")
	check "module loads after kexec, losing page 5 of every task (test hook)" \
		insmod "$(khup_ko)" debug_lose_page=5
	note "image after the load: $(khup_images)"
	check "the image reports lost pages" test "$(image_col 6)" -gt 0
	if criu_run restore-lost.log restore --kho -D "$IMG" --restore-detached; then
		fail "a restore of an image with lost pages is refused" "it succeeded"
	else
		pass "a restore of an image with lost pages is refused"
	fi
	show_log "$IMG/restore-lost.log"
	check "the refusal counts the lost pages" grep -q "has lost [1-9][0-9]* pages" "$IMG/restore-lost.log"
	check "the refusal names the workload's task" grep -q "task $pid (khup-workload) lost 1 of its" "$IMG/restore-lost.log"
	check "nothing was restored" wl_gone "$OUT/wl3"
	name=$(image_col 4)
	check "the image is still there, unclaimed" test "$(image_col 7)" = 0
	check "release it" kt release "$name"
	check "rmmod" rmmod khup
}
