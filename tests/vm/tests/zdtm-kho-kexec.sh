# SPDX-License-Identifier: GPL-2.0-only
# CRIU's own ZDTM tests (tests/zdtm/kexec-subset) dumped with --kho, carried across a kexec, restored with --kho: each test's own check passes
VM_TIMEOUT=1200
VM_KEXEC=yes

# (the host reads this file for its VM_* settings, without KHUP_TOP)
[ -z "${KHUP_TOP:-}" ] || . "$KHUP_TOP/tests/vm/progs/zdtm-kho.sh"

STATIC=$ZDTM/test/zdtm/static

# The tests run as zdtm.py starts them (the static Makefile's NAME.pid
# target), are dumped and restored with the options zdtm.py gives a test of
# the h flavor, and are stopped as zdtm.py stops them: SIGTERM, then the
# test writes PASS or FAIL into NAME.out.
stage1() {
	local t pid
	zdtm_setup
	# The tests must get their pids back after the kexec: start them far
	# above what the next boot uses before the restore.
	echo 20000 >/proc/sys/kernel/ns_last_pid
	mkdir -p "$OUT/img"
	touch /tmp/zdtm-started
	sleep 1
	while read -r t _; do
		case "$t" in '' | '#'*) continue ;; esac
		if ! check "$t: starts" make --no-print-directory -C "$STATIC" "$t.pid"; then
			continue
		fi
		pid=$(cat "$STATIC/$t.pid")
		mkdir -p "$OUT/img/$t"
		check "$t: criu dump --kho" "$CRIU" dump --kho --libdir "$KHUP_PLUGIN_DIR" \
			-t "$pid" -D "$OUT/img/$t" -v4 -o dump.log --timeout 10
		show_log "$OUT/img/$t/dump.log"
		check "$t: dumped tasks are gone" bash -c "! kill -0 $pid 2>/dev/null"
		check_eq "$t: pages-*.img hold 0 bytes" "$(pages_img_bytes "$OUT/img/$t")" 0
	done <"$ZDTM_LISTS/kexec-subset"
	khup_images | sed 's/^/#   image: /'
	# What the tests made or changed next to them (pid, output and their
	# own files), for stage 2.
	check "the tests' pid, output and own files are saved" \
		bash -c "cd '$STATIC' && find . -mindepth 1 -newer /tmp/zdtm-started -print0 | tar --null --no-recursion -T - -cf '$OUT/zdtm-state.tar'"
	tar -tf "$OUT/zdtm-state.tar" | tr '\n' ' ' | sed 's/^/# saved: /'
	echo
}

# wait_out NAME: the test wrote its verdict into NAME.out
wait_out() {
	local i
	for ((i = 0; i < 300; i++)); do
		grep -qE '\b(PASS|FAIL)\b' "$STATIC/$1.out" 2>/dev/null && break
		sleep 0.1
	done
	cat "$STATIC/$1.out"
	grep -qw PASS "$STATIC/$1.out"
}

stage2() {
	local t pid
	zdtm_setup
	check "the tests' pid, output and own files are back in place" tar -C "$STATIC" -xf "$OUT/zdtm-state.tar"
	while read -r t _; do
		case "$t" in '' | '#'*) continue ;; esac
		[ -s "$OUT/img/$t/inventory.img" ] || { fail "$t: restore" "not dumped in stage 1"; continue; }
		pid=$(cat "$STATIC/$t.pid")
		check "$t: criu restore --kho" "$CRIU" restore --kho --libdir "$KHUP_PLUGIN_DIR" \
			-D "$OUT/img/$t" -v4 -o restore.log --restore-detached --pidfile "$STATIC/$t.rpid"
		show_log "$OUT/img/$t/restore.log"
		check "$t: restored with its pid" kill -0 "$pid"
		kill -TERM "$pid" 2>/dev/null
		check "$t: the test's own check passes (PASS in $t.out)" wait_out "$t"
	done <"$ZDTM_LISTS/kexec-subset"
	check_eq "every /dev/khup image was restored and released" "$(khup_images | wc -l)" 0
	check "rmmod" rmmod khup
}
