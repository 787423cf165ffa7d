# SPDX-License-Identifier: GPL-2.0-only
#
# Helpers for the criu-* VM tests, sourced by them inside the guest (after
# guest-lib.sh). The tests checkpoint khup-workload (see khup-workload.c)
# with the patched CRIU and khup_plugin.so.

WL=$KHUP_BUILD/progs/khup-workload
KHUP_PLUGIN_DIR=$KHUP_BUILD/criu-plugin
IMG=$OUT/img

# need_plugin: use build/criu-plugin/khup_plugin.so if it is up to date
# (newer than its sources and the CRIU binary); otherwise build the plugin
# in the guest's /tmp against $CRIU's tree, so the tests never run a stale
# or missing plugin. Call it in every stage that runs criu.
need_plugin() {
	local so=$KHUP_BUILD/criu-plugin/khup_plugin.so f stale=
	for f in "$KHUP_TOP"/criu-plugin/{khup_plugin.c,khup.proto,Makefile} "$KHUP_TOP/include/uapi/linux/khup.h" "$CRIU"; do
		[ "$so" -nt "$f" ] || stale="$f"
	done
	if [ -z "$stale" ]; then
		KHUP_PLUGIN_DIR=$KHUP_BUILD/criu-plugin
		pass "khup_plugin.so is built and up to date"
		return
	fi
	note "$so is missing or older than $stale: building the plugin in the guest"
	KHUP_PLUGIN_DIR=/tmp/khup-criu-plugin
	check "build khup_plugin.so" make -s -C "$KHUP_TOP/criu-plugin" \
		CRIU_DIR="$(dirname "$(dirname "$CRIU")")" O="$KHUP_PLUGIN_DIR"
}

# criu_run LOG ARGS...: run criu with the plugin and full logging (-v4;
# CRIU_VERBOSITY overrides it: the benchmarks log less), log in -D
criu_run() {
	local log=$1
	shift
	"$CRIU" "$@" --libdir "$KHUP_PLUGIN_DIR" "${CRIU_VERBOSITY:--v4}" -o "$log"
}

# kv FILE KEY: the value of a "key value" line
kv() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }

# wait_file PATH SECONDS
wait_file() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		[ -e "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# wl_start DIR MIB [THP_MIB]: start the workload, wait until it is set up
wl_start() {
	rm -rf "$1"
	mkdir -p "$1"
	# Restoring needs the same pids (and tids): start far above what the
	# next boot's init and the test itself will use before the restore.
	echo $((20000 + RANDOM % 1000)) >/proc/sys/kernel/ns_last_pid
	"$WL" run "$1" "$2" ${3:+"$3"} >"$1/launcher.log" 2>&1 &
	wait_file "$1/ready" 300 || { cat "$1/error" 2>/dev/null; return 1; }
}

# wl_signal DIR SIG [NAME]: send the workload SIG, wait for the report it
# writes, copy it to DIR/NAME
wl_signal() {
	local pid
	pid=$(kv "$1/ready" pid)
	rm -f "$1/report"
	kill -"$2" "$pid" || return 1
	wait_file "$1/report" 300 || return 1
	[ -z "${3:-}" ] || cp "$1/report" "$1/$3"
}

# wl_report DIR [NAME]: ask the workload for a report, copy it to DIR/NAME
wl_report() { wl_signal "$1" USR1 "${2:-}"; }

# wl_join DIR [NAME]: wake the workload's futex waiter and join it, then
# report (to DIR/NAME); fails unless the join returned after the wake-up
wl_join() {
	wl_signal "$1" USR2 "${2:-}" || return 1
	[ "$(kv "$1/report" joined)" = 1 ] || { echo "the futex waiter was not joined"; return 1; }
}

# wl_verify DIR REPORT: every checksum in REPORT equals the one at set-up,
# the regions without PROT_READ kept their protection, every thread is
# alive to glibc and every robust mutex held by its thread
wl_verify() {
	local r rc=0
	for r in anon thp file shared memfd none wronly; do
		if [ "$(kv "$1/ready" "sum.$r")" != "$(kv "$2" "sum.$r")" ]; then
			echo "region $r: checksum $(kv "$2" "sum.$r"), expected $(kv "$1/ready" "sum.$r")"
			rc=1
		fi
	done
	if [ "$(kv "$2" perms.none)" != ---p ] || [ "$(kv "$2" perms.wronly)" != -w-p ]; then
		echo "protection: none $(kv "$2" perms.none) (expected ---p), wronly $(kv "$2" perms.wronly) (expected -w-p)"
		rc=1
	fi
	if [ "$(kv "$2" threads_alive)" != "$(kv "$2" threads_expected)" ] || [ "$(kv "$2" mutexes_held)" != 4 ]; then
		echo "threads alive $(kv "$2" threads_alive) of $(kv "$2" threads_expected), robust mutexes held $(kv "$2" mutexes_held) of 4"
		rc=1
	fi
	[ "$(kv "$2" ok)" = 1 ] || { echo "the workload's own check failed"; rc=1; }
	return $rc
}

# wl_advanced DIR OLD NEW: every thread counter and the child's grew
wl_advanced() {
	local k rc=0
	for k in thread0 thread1 thread2 thread3 childcount; do
		if [ "$(kv "$3" $k)" -le "$(kv "$2" $k)" ]; then
			echo "$k did not advance: $(kv "$2" $k) -> $(kv "$3" $k)"
			rc=1
		fi
	done
	[ "$(kv "$3" childalive)" = 1 ] || { echo "child not alive"; rc=1; }
	return $rc
}

# wl_gone DIR: neither the workload nor its child exists
wl_gone() {
	! kill -0 "$(kv "$1/ready" pid)" 2>/dev/null && ! kill -0 "$(kv "$1/ready" child)" 2>/dev/null
}

# wl_wait_gone DIR: wait up to 10 s until neither the workload nor its
# child exists
wl_wait_gone() {
	local t
	for ((t = 0; t < 100; t++)); do
		wl_gone "$1" && return 0
		sleep 0.1
	done
	return 1
}

wl_stop() {
	kill -TERM "$(kv "$1/ready" pid)" 2>/dev/null || true
	kill -KILL "$(kv "$1/ready" child)" 2>/dev/null || true
}

# pages_img_bytes DIR: total size of pages-*.img
pages_img_bytes() {
	local f n=0
	for f in "$1"/pages-*.img; do
		[ -e "$f" ] && n=$((n + $(stat -c %s "$f")))
	done
	echo $n
}

# khup_images: "id state pages name consumed lost claimer" per /dev/khup image
khup_images() { "$WL" images; }

# Free memory in kB: MemFree plus pages on per-cpu free lists.
memfree_kb() {
	local pcp
	pcp=$(awk '$1 == "count:" { n += $2 } END { print n + 0 }' /proc/zoneinfo)
	echo $(($(awk '/^MemFree:/ { print $2 }' /proc/meminfo) + pcp * 4))
}

# show_log FILE: the errors of a CRIU log, for the console
show_log() {
	grep -E 'Error|khup:|FAIL|refus|differ' "$1" 2>/dev/null | tail -n 25 | sed 's/^/#   /'
}

# dump_with_stats PID: criu dump --kho of PID into $IMG; CRIU prints the
# statistics (--display-stats) to stdout: $IMG/dump-stats.txt
dump_with_stats() {
	criu_run dump.log dump --kho --display-stats -t "$1" -D "$IMG" >"$IMG/dump-stats.txt"
}

# kho_dump WL PID: criu dump --kho of the workload into $IMG, and everything
# a --kho dump must leave behind; sets $held to the image's page count.
kho_dump() {
	local wl=$1 pid=$2 expected t0 t1
	t0=$(date +%s%N)
	check "criu dump --kho" dump_with_stats "$pid"
	t1=$(date +%s%N)
	note "freeze -> dumped: $(((t1 - t0) / 1000000)) ms"
	show_log "$IMG/dump.log"
	check "dumped tasks are gone" wl_gone "$wl"
	check_eq "pages-*.img hold 0 bytes" "$(pages_img_bytes "$IMG")" 0
	check "pagemap images were written" bash -c "ls '$IMG'/pagemap-*.img >/dev/null"
	check "khup.img was written" test -s "$IMG/khup.img"
	khup_images | sed 's/^/#   image: /'
	check_eq "one sealed /dev/khup image" "$(khup_images | awk '{ print $2 }' | tr '\n' ' ')" "2 "
	held=$(khup_images | awk '{ print $3 }')
	expected=$(kv "$wl/ready" pages)
	note "image holds ${held:-?} pages; the workload's regions are $expected pages"
	check "the image holds at least the workload's pages" test "${held:-0}" -ge "$expected"
	check "the image holds the pages the plugin pinned" \
		grep -q "Sealed /dev/khup image .* $held pages" "$IMG/dump.log"
	check "dump statistics: no page written" grep -q "^Memory pages written: 0 " "$IMG/dump-stats.txt"
	check "dump statistics: pages handed over" grep -q "^Memory pages handed over (--kho): [1-9]" "$IMG/dump-stats.txt"
}

# The two stages of criu-kho-kexec and criu-kho-upgrade: dump a workload of
# $WL_MIB MiB with --kho; kexec; restore it with --kho and check everything.
WL_MIB=${WL_MIB:-256}

kho_kexec_stage1() {
	local wl=$OUT/wl pid held
	need_plugin
	check "module loads" insmod "$(khup_ko)"
	check "workload starts (${WL_MIB} MiB anon, THP, file, shared, memfd, 4 threads, child)" wl_start "$wl" "$WL_MIB"
	pid=$(kv "$wl/ready" pid)
	check "report before dump" wl_report "$wl" report.before
	awk '/^AnonHugePages:/ { print $2 }' "/proc/$pid/smaps_rollup" >"$OUT/anonhuge.before"
	if grep -q '^AnonHugePages: *[1-9]' "/proc/$pid/smaps_rollup"; then
		pass "the THP range is backed by huge pages"
	else
		note "no AnonHugePages in smaps_rollup: $(grep AnonHuge /proc/$pid/smaps_rollup)"
	fi

	mkdir -p "$IMG"
	kho_dump "$wl" "$pid"
	echo "$held" >"$OUT/held"
	date +%s%N >"$OUT/kexec-start"
}

kho_kexec_stage2() {
	local wl=$OUT/wl held before after low t0 t1 sampler
	need_plugin
	held=$(cat "$OUT/held")
	t0=$(date +%s%N)
	check "module loads after kexec" insmod "$(khup_ko)"
	t1=$(date +%s%N)
	note "module load: $(((t1 - t0) / 1000000)) ms"
	khup_images | sed 's/^/#   image: /'
	check_eq "the image came over the kexec with every page" "$(khup_images | awk '{ print $2 " " $3 }')" "3 $held"

	# Pages the restore consumed stay until it commits, but the module's
	# shrinker gives them back under pressure: count them as free.
	before=$(memfree_kb)
	echo "$before" >"$OUT/memfree.low"
	(
		low=$before
		while [ ! -e "$OUT/restore-done" ]; do
			c=$(khup_images | awk '{ n += $5 } END { print n + 0 }')
			m=$(($(memfree_kb) + c * 4))
			if [ "$m" -lt "$low" ]; then
				low=$m
				echo "$low" >"$OUT/memfree.low"
			fi
			sleep 0.05
		done
	) &
	sampler=$!
	t0=$(date +%s%N)
	check "criu restore --kho" criu_run restore.log restore --kho -D "$IMG" --restore-detached
	t1=$(date +%s%N)
	touch "$OUT/restore-done"
	wait "$sampler"
	note "restore -> running: $(((t1 - t0) / 1000000)) ms"
	show_log "$IMG/restore.log"
	"$KHUP_BUILD/progs/khup-nl" stats >"$OUT/stats.restore"
	note "module: $(awk '$1 == "read_bytes" { b = $2 } $1 == "read_ns" { n = $2 } $1 == "consumed" { c = $2 } $1 == "commit_ns" { m = $2 }
		END { printf "read %d MiB in %d ms (%.0f ns per 4 KiB page), %d pages consumed, commit %d ms (%.0f ns per page)",
			b / 1048576, n / 1e6, b ? n * 4096 / b : 0, c, m / 1e6, c ? m / c : 0 }' "$OUT/stats.restore")"
	check "the restore read every page it consumed through the module" \
		awk '$1 == "read_bytes" { b = $2 } $1 == "consumed" { c = $2 } END { exit !(c > 0 && b >= c * 4096) }' "$OUT/stats.restore"
	check_eq "restore released the image: the module holds no pages" "$(khup_images | wc -l)" 0

	low=$(cat "$OUT/memfree.low")
	after=$(memfree_kb)
	note "MemFree (+pcp, + consumed pages) before restore ${before} kB, lowest during ${low} kB, after ${after} kB; image $((held * 4)) kB"
	# Measured: 22 % of a 256 MiB image (4 MiB restorer chunks; the rest
	# is CRIU itself, page tables and page cache), 51 % with 128 MiB chunks.
	check "unreclaimable memory did not double during the restore (dip < 40 % of the image)" \
		test $((before - low)) -lt $((held * 4 * 2 / 5))
	check "memory did not double after the restore (within 64 MiB)" \
		test $((before - after)) -lt 65536

	check "report after restore" wl_report "$wl" report.after
	check "every region's checksum is intact (as recorded before kexec)" wl_verify "$wl" "$wl/report.after"
	check "threads and child ran on" wl_advanced "$wl" "$wl/report.before" "$wl/report.after"
	check "the futex waiter wakes and is joined" wl_join "$wl" report.joined
	sleep 1
	check "report again" wl_report "$wl" report.later
	check "threads and child keep running" wl_advanced "$wl" "$wl/report.after" "$wl/report.later"
	wl_stop "$wl"
	check "rmmod" rmmod khup
}

# ---- lazy restore (criu restore --kho --lazy-pages + criu lazy-pages --kho)

# lazy_daemon_start DESCRIPTION LOG: start "criu lazy-pages --kho" for
# $IMG in the background and wait until it holds the image's claim (its
# note khup-lazy.claim is in $IMG); sets $lazypid (a child of the stage's
# shell, to wait for). An assertion itself: check would run it in a
# subshell.
# The daemon listens on a unix socket in the work directory, which the
# restore connects to: the images are on 9p, where no socket can be bound,
# so both work in $LAZY_WD (logs go to $IMG all the same).
LAZY_WD=/tmp/khup-lazy-wd
lazy_daemon_start() {
	rm -f "$IMG/khup-lazy.claim"
	mkdir -p "$LAZY_WD"
	# not through criu_run: $lazypid must be criu itself, not a subshell
	"$CRIU" lazy-pages --kho -D "$IMG" -W "$LAZY_WD" --libdir "$KHUP_PLUGIN_DIR" "${CRIU_VERBOSITY:--v4}" -o "$IMG/$2" \
		>"$IMG/$2.out" 2>&1 </dev/null &
	lazypid=$!
	if wait_file "$IMG/khup-lazy.claim" 120; then
		pass "$1"
	else
		fail "$1" "no khup-lazy.claim after 120 s"
		show_log "$IMG/$2"
	fi
}

# lazy_restore LOG: criu restore --kho --lazy-pages of $IMG, detached
lazy_restore() {
	criu_run "$IMG/$1" restore --kho --lazy-pages -D "$IMG" -W "$LAZY_WD" --restore-detached
}

# wl_ping DIR: ask the workload for a pong (SIGHUP): an answer that reads
# none of its big regions; fails if none comes within 60 s
wl_ping() {
	local pid t
	pid=$(kv "$1/ready" pid)
	rm -f "$1/pong"
	kill -HUP "$pid" || return 1
	wait_file "$1/pong" 5 && return 0
	# slow: say where the workload's threads wait
	for t in /proc/"$pid"/task/*; do
		echo "no pong after 5 s: thread ${t##*/} state $(awk '{ print $3 }' "$t/stat") wchan $(cat "$t/wchan")"
		sed 's/^/    /' "$t/stack" 2>/dev/null | head -n 12
	done
	wait_file "$1/pong" 55
}

# wl_ran DIR OLD PONG: every thread counter and the child's counter in
# PONG are above those of report OLD
wl_ran() {
	local k rc=0
	for k in thread0 thread1 thread2 thread3 childcount; do
		if [ "$(kv "$3" $k)" -le "$(kv "$2" $k)" ]; then
			echo "$k did not advance: $(kv "$2" $k) -> $(kv "$3" $k)"
			rc=1
		fi
	done
	return $rc
}

# now_ms: CLOCK_REALTIME in ms
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# The second stage of criu-kho-lazy and criu-kho-lazy-upgrade: after the
# kexec, restore the workload of kho_kexec_stage1 post-copy; it must answer
# while its memory is still being copied, and be intact after the fill.
kho_lazy_stage2() {
	local wl=$OUT/wl held t0 t1 t2 t3 snap consumed alive rc copied before after
	need_plugin
	held=$(cat "$OUT/held")
	check "module loads after kexec" insmod "$(khup_ko)"
	check_eq "the image came over the kexec with every page" "$(khup_images | awk '{ print $2 " " $3 }')" "3 $held"
	# kdat probing and the first translation of CRIU's code are paid here,
	# not in the timings below
	"$CRIU" check >/dev/null 2>&1 || true

	lazy_daemon_start "criu lazy-pages --kho starts and takes the image's claim" lazy.log
	check_eq "the claim is the daemon's" "$(khup_images | awk '{ print $7 }')" "$lazypid"

	t0=$(now_ms)
	check "criu restore --kho --lazy-pages" lazy_restore restore.log
	t1=$(now_ms)
	check "the workload answers (pong) right after the restore" wl_ping "$wl"
	# what is left at the moment of the answer
	snap=$(khup_images | awk '{ print $3, $5 }')
	alive=0
	kill -0 "$lazypid" 2>/dev/null && alive=1
	t2=$(now_ms)
	consumed=${snap#* }
	show_log "$IMG/restore.log"
	# (the workload stamps its answer; the snapshot comes later, so it
	# counts at most as many pages left as there were at the answer)
	note "restore -> running: $((t1 - t0)) ms; restore start -> first answer (the workload's stamp): $(($(kv "$wl/pong" time_ns) / 1000000 - t0)) ms; snapshot taken at $((t2 - t0)) ms"
	note "at the snapshot after the first answer: image ${snap:-gone} (pages, consumed), daemon alive $alive: ${held} - ${consumed:-?} = $((held - ${consumed:-0})) pages not yet read back"
	check "the workload answered before the fill had finished (daemon running, pages left to copy)" \
		test "$alive" = 1 -a -n "$consumed" -a "${consumed:-0}" -lt "$held"
	check "its threads and child ran since the dump" wl_ran "$wl" "$wl/report.before" "$wl/pong"
	check "the restore left the commit to the daemon" \
		grep -q "the lazy-pages daemon commits image .* once it has copied every page" "$IMG/restore.log"

	rc=0
	wait "$lazypid" || rc=$?
	t3=$(now_ms)
	note "restore start -> fill finished (daemon exited): $((t3 - t0)) ms"
	show_log "$IMG/lazy.log"
	check_eq "the lazy-pages daemon filled everything and exited 0" "$rc" 0
	check "the daemon committed the image" grep -q "Lazy restore complete; committed and released" "$IMG/lazy.log"
	copied=$(grep -o 'UFFD transferred pages: ([0-9]*/[0-9]*)' "$IMG/lazy.log" | tr -dc '0-9/\n' |
		awk -F/ '{ c += $1; t += $2 } END { print c + 0, t + 0 }')
	note "UFFD transferred pages (copied total) over all tasks: $copied"
	check "the daemon copied pages through userfaultfd" test "${copied%% *}" -gt 0
	check_eq "the image is committed and gone" "$(khup_images | wc -l)" 0
	"$KHUP_BUILD/progs/khup-nl" stats >"$OUT/stats.restore"
	note "module: $(awk '$1 == "read_bytes" { b = $2 } $1 == "consumed" { c = $2 } END { printf "read %d MiB, %d pages consumed", b / 1048576, c }' "$OUT/stats.restore")"
	check "every page the restore and the daemon consumed was read through the module" \
		awk '$1 == "read_bytes" { b = $2 } $1 == "consumed" { c = $2 } END { exit !(c > 0 && b >= c * 4096) }' "$OUT/stats.restore"
	before=$(cat "$OUT/anonhuge.before")
	after=$(awk '/^AnonHugePages:/ { print $2 }' "/proc/$(kv "$wl/ready" pid)/smaps_rollup")
	note "AnonHugePages: ${before} kB at dump, ${after} kB after the fill"
	check "the huge pages are back after the fill (>= 90 % of AnonHugePages at dump)" \
		test "${after:-0}" -ge $((${before:-1} * 9 / 10))

	check "report after the fill" wl_report "$wl" report.after
	check "every region's checksum is intact (as recorded before kexec)" wl_verify "$wl" "$wl/report.after"
	check "threads and child ran on" wl_advanced "$wl" "$wl/report.before" "$wl/report.after"
	check "the futex waiter wakes and is joined" wl_join "$wl" report.joined
	sleep 1
	check "report again" wl_report "$wl" report.later
	check "threads and child keep running" wl_advanced "$wl" "$wl/report.after" "$wl/report.later"
	wl_stop "$wl"
	check "rmmod" rmmod khup
}
