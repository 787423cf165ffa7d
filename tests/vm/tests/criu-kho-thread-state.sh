# SPDX-License-Identifier: GPL-2.0-only
# criu dump --kho hands over the memory at the freeze: the dying tasks' exit (clear_child_tid, robust futexes) writes nothing into it; same kernel, --leave-stopped then kill, and across kexec
VM_KEXEC=yes
VM_TIMEOUT=900

# (the host reads this file for its VM_* settings, without KHUP_TOP)
[ -z "${KHUP_TOP:-}" ] || . "$KHUP_TOP/tests/vm/progs/criu-kho.sh"

# The workload's threads each hold a robust mutex, a fifth waits in
# FUTEX_WAIT; wl_verify checks that glibc sees every thread alive and every
# mutex held (not EOWNERDEAD), wl_join that the waiter wakes and is joined.
restored_ok() {
	local wl=$1 what=$2
	check "$what: report after restore" wl_report "$wl" report.after
	check "$what: every thread alive to glibc, every robust mutex held by its thread, memory intact" \
		wl_verify "$wl" "$wl/report.after"
	check "$what: the futex waiter wakes on the post-restore signal and is joined" wl_join "$wl" report.joined
	check "$what: still intact after the join" wl_verify "$wl" "$wl/report.joined"
	wl_stop "$wl"
}

# stopped PID: the process is in a stopped state (T), not running or gone
stopped() { [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = T ]; }

stage1() {
	local wl pid child
	need_plugin
	check "module loads" insmod "$(khup_ko)"

	# 1. dump (tasks killed by CRIU) and restore in the same kernel
	wl=$OUT/wl1
	check "workload starts" wl_start "$wl" 8
	pid=$(kv "$wl/ready" pid)
	check "report before dump" wl_report "$wl" report.before
	check "before dump: threads alive and mutexes held" wl_verify "$wl" "$wl/report.before"
	IMG=$OUT/img1
	mkdir -p "$IMG"
	kho_dump "$wl" "$pid"
	check "criu restore --kho" criu_run restore.log restore --kho -D "$IMG" --restore-detached
	show_log "$IMG/restore.log"
	restored_ok "$wl" "same kernel"

	# 2. --leave-stopped, then the tasks are killed outside CRIU
	wl=$OUT/wl2
	check "workload starts" wl_start "$wl" 8
	pid=$(kv "$wl/ready" pid)
	child=$(kv "$wl/ready" child)
	IMG=$OUT/img2
	mkdir -p "$IMG"
	check "criu dump --kho --leave-stopped" criu_run dump.log dump --kho --leave-stopped -t "$pid" -D "$IMG"
	show_log "$IMG/dump.log"
	check "the dumped process is left stopped" stopped "$pid"
	check_eq "one sealed /dev/khup image" "$(khup_images | awk '{ print $2 }' | tr '\n' ' ')" "2 "
	kill -KILL "$pid" "$child"
	check "SIGKILL ends the stopped tasks" wl_wait_gone "$wl"
	check "criu restore --kho" criu_run restore.log restore --kho -D "$IMG" --restore-detached
	show_log "$IMG/restore.log"
	restored_ok "$wl" "--leave-stopped + kill"

	# 3. dump here, restore after the kexec (stage 2)
	wl=$OUT/wl3
	check "workload starts" wl_start "$wl" 8
	pid=$(kv "$wl/ready" pid)
	IMG=$OUT/img3
	mkdir -p "$IMG"
	kho_dump "$wl" "$pid"
	echo "$held" >"$OUT/held"
}

stage2() {
	need_plugin
	check "module loads after kexec" insmod "$(khup_ko)"
	check_eq "the image came over the kexec with every page" \
		"$(khup_images | awk '{ print $2 " " $3 }')" "3 $(cat "$OUT/held")"
	IMG=$OUT/img3
	check "criu restore --kho" criu_run restore.log restore --kho -D "$IMG" --restore-detached
	show_log "$IMG/restore.log"
	restored_ok "$OUT/wl3" "across kexec"
	check "rmmod" rmmod khup
}
