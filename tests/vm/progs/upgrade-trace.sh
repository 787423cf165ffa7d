# SPDX-License-Identifier: GPL-2.0-only
#
# The upgrade with its trace, shared by upgrade-ftrace (7.2 -> 7.3) and
# upgrade-ftrace-rollback (7.3 -> 7.2); sourced in the guest after
# criu-kho.sh. Stage 1 makes khup's event ids differ from stage 2's (a
# uprobe event registered before khup.ko loads takes the next free id), runs
# khup-upgrade --no-exec on a workload and keeps the old kernel's own text
# of its trace; stage 2 restores with khup-upgrade --restore and checks that
# the trace files decode every old-kernel event exactly as the old kernel
# printed it, and the new kernel's events in order on one time axis.

. "$KHUP_TOP/tests/vm/progs/upgrade.sh"

KHUPD=$KHUP_BUILD/daemon/khupd
TRACEFS=/sys/kernel/tracing
INST=$TRACEFS/instances/khup
WL_MIB=${WL_MIB:-64}
TF=$OUT/img/khup-upgrade
# khup_events FILE: "TIMESTAMP: khup_EVENT: FIELDS" of every khup event in
# a text trace (the kernel's own 'trace' file or khup-upgrade.trace)
khup_events() {
	sed -nE 's/.* ([0-9]+\.[0-9]{6}): (khup_[a-z]+: .*)$/\1: \2/p' "$1"
}
# event_names FILE: the khup event names of FILE in order, one a line
event_names() {
	sed -nE 's/.* [0-9]+\.[0-9]{6}: (khup_[a-z]+): .*/\1/p' "$1"
}
# upgrade_start_line FILE: the 'upgrade start' marker line of a text trace
upgrade_start_line() {
	grep -m1 'khup-upgrade: upgrade start' "$1"
}

# trace_stage1: khup-upgrade checkpoints a workload and loads the next
# kernel
trace_stage1() {
	local wl=$OUT/wl pid kpid rc
	need_plugin
	# A dynamic event takes the first free event id before khup.ko
	# registers its events: khup's ids here are one above stage 2's.
	check "a uprobe event registered before khup.ko" \
		bash -c "echo 'p:khupshift/shift /bin/true:0x1000' >>$TRACEFS/uprobe_events"
	"$KHUPD" -f -m "$(khup_ko)" 2>"$OUT/khupd.1.log" &
	kpid=$!
	check "khupd starts and loads the module (trace=khup from the command line)" wait_log "$OUT/khupd.1.log" "ready" 30
	cat "$TRACEFS/events/khup/khup_pin/id" >"$OUT/pin_id.1"
	note "khup_pin's event id in $(uname -r): $(cat "$OUT/pin_id.1")"
	check "workload starts" wl_start "$wl" "$WL_MIB"
	pid=$(kv "$wl/ready" pid)
	echo "$pid" >"$OUT/wl_pid"
	check "report before the upgrade" wl_report "$wl" report.before

	# The harness does the kexec itself (into stage 2), so --no-exec.
	check "khup-upgrade checkpoints, loads the next kernel, saves the trace formats" \
		run_to "$OUT/upgrade.txt" upgrade --no-exec --kernel "$STAGE_KERNEL_2" --pid "$pid" --images-dir "$OUT/img"
	sed 's/^/#   /' "$OUT/upgrade.txt"
	show_log "$OUT/img/1-$pid/dump.log"
	check "the workload is gone (dumped)" wl_gone "$wl"
	check "kernel loaded for kexec" test "$(cat /sys/kernel/kexec_loaded)" = 1
	check "the old kernel's formats, symbols and command lines are saved (trace-cmd header file)" \
		test -s "$TF.old-head.dat"
	check_eq "the old kernel's release is saved" "$(cat "$TF.old-kernel")" "$(uname -r)"
	# The old kernel's own decoding of its buffer: what stage 2 must match.
	cp "$INST/trace" "$OUT/old-kernel.trace"
	check "khup_pin and khup_seal in the persistent instance" \
		bash -c "grep -q 'khup_pin:' $OUT/old-kernel.trace && grep -q 'khup_seal:' $OUT/old-kernel.trace"
	note "the old kernel's own trace: $(grep -c . "$OUT/old-kernel.trace") lines"
	grep -E 'khup_|khup-upgrade' "$OUT/old-kernel.trace" | head -n 8 | sed 's/^/#   old: /'
	$WL images | awk '{ print $3 }' >"$OUT/held"
	kill -TERM "$kpid"
	rc=0
	wait "$kpid" || rc=$?
	check_eq "khupd stops with 0" "$rc" 0
}

# check_order FILE NAME...: the first occurrences of the khup events NAME...
# in FILE come in this order
check_order() {
	local f=$1 prev=0 n line
	shift
	for n in "$@"; do
		line=$(grep -n -m1 " $n: " "$f" | cut -d: -f1)
		[ -n "$line" ] && [ "$line" -gt "$prev" ] || { echo "$n: line ${line:-none}, after $prev"; return 1; }
		prev=$line
	done
}

# trace_stage2: khup-upgrade --restore, then the trace files
trace_stage2() {
	local wl=$OUT/wl kpid rc t=$TF.trace pid kx sealed want got l a
	need_plugin
	check_eq "running the next kernel" "$(uname -r)" "$STAGE_RELEASE_2"
	"$KHUPD" -f -m "$(khup_ko)" --ttl 600 2>"$OUT/khupd.2.log" &
	kpid=$!
	check "khupd starts and loads the module" wait_log "$OUT/khupd.2.log" "ready" 30
	note "khup_pin's event id in $(uname -r): $(cat "$TRACEFS/events/khup/khup_pin/id")"
	check_ne "khup's event ids differ between the two kernels (decoding with the wrong table would show)" \
		"$(cat "$TRACEFS/events/khup/khup_pin/id")" "$(cat "$OUT/pin_id.1")"
	check "khupd inventory: the image came from $STAGE_RELEASE_1 with every page" \
		grep -q "restored, .* $(cat "$OUT/held") pages .* created by kernel $STAGE_RELEASE_1" "$OUT/khupd.2.log"
	# The negative control: the new kernel prints the old buffer with its
	# own tables (what khup-upgrade printed before it saved the formats)
	cp "$INST""_prev/trace" "$OUT/new-kernel-view.trace"
	note "the new kernel's own print of the old marker: $(upgrade_start_line "$OUT/new-kernel-view.trace")"
	khup_events "$OUT/new-kernel-view.trace" | head -n 2 | sed 's/^/#   new kernel prints: /'
	check "the new kernel's own print of the old buffer differs from the old kernel's (wrong event table: the test can tell)" \
		bash -c "! diff -q <(sed -nE 's/.* ([0-9]+\.[0-9]{6}): (khup_[a-z]+: .*)$/\1: \2/p' $OUT/old-kernel.trace) <(sed -nE 's/.* ([0-9]+\.[0-9]{6}): (khup_[a-z]+: .*)$/\1: \2/p' $OUT/new-kernel-view.trace) >/dev/null"
	check "khup-upgrade --restore" run_to "$OUT/restore.txt" upgrade --restore --images-dir "$OUT/img"
	sed 's/^/#   /' "$OUT/restore.txt"
	show_log "$(ls -d "$OUT"/img/1-*)/restore.log"
	check "report after restore" wl_report "$wl" report.after
	check "every region's checksum is intact" wl_verify "$wl" "$wl/report.after"
	check "threads and child ran on" wl_advanced "$wl" "$wl/report.before" "$wl/report.after"
	check "the futex waiter wakes and is joined (its tid word survived the dump)" wl_join "$wl" report.joined
	check_eq "the image is gone" "$($WL images | wc -l)" 0

	check "trace.dat of the old kernel's half" test -s "$TF.old.dat"
	check "trace.dat of the new kernel's half" test -s "$TF.new.dat"
	check "the timeline" test -s "$t"
	grep -E 'khup_|khup-upgrade|^#' "$t" | awk '!/khup_(readback|consume)/ || ++n <= 3' | head -n 40 | sed 's/^/#   trace: /'
	check "the backup instance is gone once read (its copy of the buffer freed)" \
		bash -c "for i in \$(seq 50); do [ -d $INST""_prev ] || exit 0; sleep 0.1; done; exit 1"

	# The old kernel's half, decoded with its own formats: every khup event
	# under its own name with the fields and timestamp the old kernel
	# printed itself.
	kx=$(grep -n -m1 '^# ---- kexec ----' "$t" | cut -d: -f1)
	check "the kexec is marked in the timeline" test -n "$kx"
	head -n "${kx:-0}" "$t" >"$OUT/old-half.txt"
	tail -n +"$((${kx:-0} + 1))" "$t" >"$OUT/new-half.txt"
	khup_events "$OUT/old-kernel.trace" >"$OUT/want.events"
	khup_events "$OUT/old-half.txt" >"$OUT/got.events"
	note "old kernel's khup events: $(wc -l <"$OUT/want.events") printed by it, $(wc -l <"$OUT/got.events") decoded after the kexec"
	check "every old-kernel khup event decoded as the old kernel printed it (name, fields, timestamp)" \
		diff "$OUT/want.events" "$OUT/got.events"
	check "the old kernel's events include pin and seal" \
		bash -c "grep -q ': khup_pin: ' $OUT/got.events && grep -q ': khup_seal: ' $OUT/got.events"
	# ... and with the values the dump logged
	pid=$(cat "$OUT/wl_pid")
	sealed=$(grep -o "Sealed /dev/khup image [0-9]* '[^']*': [0-9]* pages of [0-9]* tasks" "$OUT/img/1-$pid/dump.log")
	note "dump.log: $sealed"
	want=$(sed -E "s/.*image ([0-9]+) .*: ([0-9]+) pages of ([0-9]+) tasks/image=\1 tasks=\3 pages=\2/" <<<"$sealed")
	got=$(sed -nE 's/.*khup_seal: //p' "$OUT/got.events")
	check_eq "khup_seal's fields are the dump's (image, tasks, pages)" "$got" "$want"
	got=$(sed -nE 's/.*khup_pin: .* pages=([0-9]+) .*/\1/p' "$OUT/got.events" | awk '{ s += $1 } END { print s + 0 }')
	check_eq "the khup_pin events' pages add up to the dump's" "$got" "$(sed -E 's/.* pages=//' <<<"$want")"
	check "khup_pin events for the workload's pid" grep -q "khup_pin: image=[0-9]* pid=$pid " "$OUT/got.events"

	# The trace_marker lines: the writer's task name and the marker's real
	# function, resolved in the old kernel's symbols
	l=$(upgrade_start_line "$OUT/old-half.txt")
	a=$(upgrade_start_line "$OUT/old-kernel.trace")
	note "old kernel printed: $a"
	note "decoded after kexec: $l"
	check "the marker's writer is named (khup-upgrade-PID)" \
		grep -qE '^ *khup-upgrade-[0-9]+ ' <<<"$l"
	check_eq "the marker's function is the old kernel's" \
		"$(sed -nE 's/.* ([A-Za-z0-9_.]+): khup-upgrade: .*/\1/p' <<<"$l")" \
		"$(sed -nE 's/.* ([A-Za-z0-9_.]+): khup-upgrade: .*/\1/p' <<<"$a")"
	check "the marker's function is tracing_mark_write" grep -q ' tracing_mark_write: khup-upgrade: upgrade start' <<<"$l"

	# The new kernel's half: the restore in order, after the old half on
	# the same axis
	event_names "$OUT/new-half.txt" | uniq -c | sed 's/^/#   new: /'
	check "the new kernel's events in order: restore, claim, readback, consume, commit, release" \
		check_order "$OUT/new-half.txt" khup_restore khup_claim khup_readback khup_consume khup_commit khup_release
	check "khup_restore for the workload's pid" grep -q "khup_restore: image=[0-9]* pid=$pid pages=[0-9]* lost=0" "$OUT/new-half.txt"
	check_eq "khup_restore: every page came across (pages of all tasks), none lost" \
		"$(sed -nE 's/.*khup_restore: .* pages=([0-9]+) lost=([0-9]+)$/\1 \2/p' "$OUT/new-half.txt" | awk '{ p += $1; l += $2 } END { print p + 0, l + 0 }')" \
		"$(cat "$OUT/held") 0"
	check "khup_claim holds the image's pages" grep -q "khup_claim: image=[0-9]* pages=$(cat "$OUT/held")$" "$OUT/new-half.txt"
	check "no khup_lost, no khup_rollback" bash -c "! grep -qE ' khup_(lost|rollback): ' $OUT/new-half.txt"
	check "the restore end marker is the new half's last khup-upgrade line" \
		bash -c "grep 'khup-upgrade: ' $OUT/new-half.txt | grep -v 'clock realtime' | tail -n1 | grep -q 'restore end: 1 of 1'"
	a=$(sed -nE 's/.* ([0-9]+\.[0-9]{6}): .*/\1/p' "$OUT/old-half.txt" | tail -n1)
	l=$(sed -nE 's/.* ([0-9]+\.[0-9]{6}): .*/\1/p' "$OUT/new-half.txt" | head -n1)
	note "last event before the kexec at $a s, first after at $l s (one axis)"
	check "one time axis: the new kernel's first event follows the old kernel's last, within 10 minutes" \
		awk -v a="$a" -v b="$l" 'BEGIN { exit !(b > a && b - a < 600) }'

	# trace-cmd report opens the files: each alone, and both on one axis
	check "trace-cmd report of the old half lists its khup events" \
		bash -c "trace-cmd report -i $TF.old.dat >$OUT/report.old 2>&1 && grep -q 'khup_pin:' $OUT/report.old && grep -q 'khup_seal:' $OUT/report.old"
	check "khup-upgrade --report: trace-cmd report of both kernels" \
		run_to "$OUT/report.both" upgrade --report --images-dir "$OUT/img"
	grep -E 'khup_(pin|seal|restore|claim|commit|release)|upgrade start|restore end' "$OUT/report.both" | head -n 12 | sed 's/^/#   report: /'
	check "trace-cmd report lists both kernels' events" \
		bash -c "grep -q 'khup_pin:' $OUT/report.both && grep -q 'khup_seal:' $OUT/report.both && grep -q 'khup_restore:' $OUT/report.both && grep -q 'khup_commit:' $OUT/report.both"
	check "trace-cmd report puts them in time order (seal before restore)" \
		bash -c "[ \$(grep -n -m1 'khup_seal:' $OUT/report.both | cut -d: -f1) -lt \$(grep -n -m1 'khup_restore:' $OUT/report.both | cut -d: -f1) ]"

	kill -TERM "$kpid"
	rc=0
	wait "$kpid" || rc=$?
	check_eq "khupd stops with 0" "$rc" 0
	wl_stop "$wl"
}
