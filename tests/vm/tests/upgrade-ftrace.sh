# SPDX-License-Identifier: GPL-2.0-only
# khup-upgrade checkpoints a running workload on 7.2 and loads 7.3; after kexec khupd claims the pages, khup-upgrade --restore brings it back intact, and the persistent trace shows dump and restore in one timeline
VM_KEXEC=yes
VM_KERNELS="7.2 7.3"
# What khup-upgrade puts on the next kernel's command line (the harness
# does the kexec itself, with the same command line in every stage).
VM_CMDLINE="reserve_mem=12M:4096:trace trace_instance=khup@trace trace_instance=khup_prev=khup khup.trace=khup"
VM_TIMEOUT=1200

# (the host reads this file for its VM_* settings, without KHUP_TOP)
[ -z "${KHUP_TOP:-}" ] || . "$KHUP_TOP/tests/vm/progs/criu-kho.sh"

KHUPD=$KHUP_BUILD/daemon/khupd
UPGRADE=$KHUP_BUILD/tools/khup-upgrade
INST=/sys/kernel/tracing/instances/khup
WL_MIB=64
# upgrade ARGS...: khup-upgrade with this test's CRIU and plugin (and the
# next kernel's khup.ko, unless ARGS name another)
upgrade() {
	local mod=$KHUP_BUILD/modules/$STAGE_RELEASE_2/khup.ko
	case " $* " in *" --next-module "*) mod= ;; esac
	"$UPGRADE" --criu "$CRIU" --criu-libdir "$KHUP_PLUGIN_DIR" ${mod:+--next-module "$mod"} "$@"
}
# fake_kho_kernel OUT: the next kernel's image, its KHO format renamed kho-v9
# (the payload decompressed, edited, recompressed after the same header)
fake_kho_kernel() {
	local f=$STAGE_KERNEL_2 setup po off
	setup=$(od -An -tu1 -j $((0x1f1)) -N1 "$f" | tr -d ' ')
	po=$(od -An -tu4 -j $((0x248)) -N4 "$f" | tr -d ' ')
	off=$(((setup + 1) * 512 + po))
	{
		head -c "$off" "$f"
		tail -c +$((off + 1)) "$f" | { gzip -dc 2>/dev/null || true; } | sed 's/kho-v4/kho-v9/' | gzip -c
	} >"$1"
}
# run_to FILE CMD...: CMD's output into FILE
run_to() {
	local f=$1
	shift
	"$@" >"$f" 2>&1
}
# refused OUTFILE PATTERN ARGS...: exit 3 and PATTERN in the message
refused() {
	local out=$1 pat=$2 rc=0
	shift 2
	"$@" >"$out" 2>&1 || rc=$?
	sed 's/^/#   /' "$out"
	[ "$rc" -eq 3 ] && grep -q "refusing: .*$pat" "$out"
}

stage1() {
	local wl=$OUT/wl pid kpid rc
	need_plugin
	"$KHUPD" -f -m "$(khup_ko)" 2>"$OUT/khupd.1.log" &
	kpid=$!
	check "khupd starts and loads the module (trace=khup from the command line)" wait_log "$OUT/khupd.1.log" "ready" 30
	check "module parameter taken from the command line" grep -q "loaded .* with trace=khup" "$OUT/khupd.1.log"
	check "workload starts" wl_start "$wl" "$WL_MIB"
	pid=$(kv "$wl/ready" pid)
	check "report before the upgrade" wl_report "$wl" report.before

	check "refuses an images dir on tmpfs" refused "$OUT/r.tmpfs" "on tmpfs" \
		upgrade --kernel "$STAGE_KERNEL_2" --pid "$pid" --images-dir /tmp/img
	check "refuses without root" refused "$OUT/r.root" "not root" \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$UPGRADE" --kernel "$STAGE_KERNEL_2" --pid "$pid" --images-dir "$OUT/img"
	check "refuses a next kernel without KHO" refused "$OUT/r.config" "has no KHO" \
		upgrade --kernel "$STAGE_KERNEL_2" --next-config /dev/null --pid "$pid" --images-dir "$OUT/img"
	check "refuses a missing process" refused "$OUT/r.pid" "no process 999999" \
		upgrade --kernel "$STAGE_KERNEL_2" --pid 999999 --images-dir "$OUT/img"
	check "refuses without a khup.ko for the next kernel" refused "$OUT/r.nomod" "no khup.ko for the next kernel" \
		upgrade --kernel "$STAGE_KERNEL_2" --next-module /nonexistent/khup.ko --pid "$pid" --images-dir "$OUT/img"
	check "refuses a khup.ko built for another kernel" refused "$OUT/r.wrongmod" "is built for kernel '$STAGE_RELEASE_1', not for the next kernel $STAGE_RELEASE_2" \
		upgrade --kernel "$STAGE_KERNEL_2" --next-module "$(khup_ko)" --pid "$pid" --images-dir "$OUT/img"
	check "make a next kernel whose KHO format differs" fake_kho_kernel "$OUT/bzImage-kho-v9"
	check "refuses a next kernel whose KHO format differs" refused "$OUT/r.khofmt" "the next kernel speaks KHO kho-v9, this one kho-v4" \
		upgrade --kernel "$OUT/bzImage-kho-v9" --next-config "$(dirname "$STAGE_KERNEL_2")/config" --pid "$pid" --images-dir "$OUT/img"
	check "dry run lists every failed check and goes on" bash -c "rc=0; $UPGRADE --criu $CRIU --criu-libdir $KHUP_PLUGIN_DIR --dry-run --kernel $OUT/bzImage-kho-v9 --next-config $(dirname "$STAGE_KERNEL_2")/config --next-module /nonexistent/khup.ko --pid $pid --images-dir $OUT/img >$OUT/r.dry 2>&1 || rc=\$?; [ \$rc -eq 3 ] && grep -q 'check FAILED: the next kernel speaks KHO' $OUT/r.dry && grep -q 'check FAILED: no khup.ko' $OUT/r.dry && grep -q '^+ kexec -e' $OUT/r.dry"
	sed 's/^/#   /' "$OUT/r.dry"

	check "dry run" run_to "$OUT/dry-run.txt" upgrade --dry-run --kernel "$STAGE_KERNEL_2" --pid "$pid" --images-dir "$OUT/img"
	sed 's/^/#   /' "$OUT/dry-run.txt"
	check "dry run shows the compatibility checks passing" bash -c "grep -q 'check: KHO format kho-v4 in both kernels' $OUT/dry-run.txt && grep -q 'check: the next kernel.s khup.ko reads node format khup-v2' $OUT/dry-run.txt"
	check "dry run shows the dump" grep -q "^+ $CRIU dump --kho -t $pid -D $OUT/img/1-$pid" "$OUT/dry-run.txt"
	check "dry run shows kexec -s -l with kho=on and the trace instance" \
		grep -q "^+ kexec -s -l $STAGE_KERNEL_2 --command-line=.*kho=on reserve_mem=12M:4096:trace trace_instance=khup@trace trace_instance=khup_prev=khup khup.trace=khup" "$OUT/dry-run.txt"
	check "dry run shows kexec -e" grep -q "^+ kexec -e" "$OUT/dry-run.txt"
	check "dry run changed nothing: the workload runs, no image" bash -c "kill -0 $pid && [ -z \"\$($WL images)\" ] && [ ! -e $OUT/img ]"

	# The harness does the kexec itself (into stage 2), so --no-exec.
	check "khup-upgrade checkpoints and loads the next kernel" \
		run_to "$OUT/upgrade.txt" upgrade --no-exec --kernel "$STAGE_KERNEL_2" --pid "$pid" --images-dir "$OUT/img"
	sed 's/^/#   /' "$OUT/upgrade.txt"
	show_log "$OUT/img/1-$pid/dump.log"
	check "the workload is gone (dumped)" wl_gone "$wl"
	check_eq "one sealed image" "$($WL images | awk '{ print $2 }' | tr '\n' ' ')" "2 "
	check "order recorded" grep -q "^$OUT/img/1-$pid $pid " "$OUT/img/khup-upgrade.order"
	check "kernel loaded for kexec" test "$(cat /sys/kernel/kexec_loaded)" = 1
	check "khup:khup_pin and khup:khup_seal in the persistent instance" \
		bash -c "grep -q 'khup_pin:' $INST/trace && grep -q 'khup_seal:' $INST/trace"
	$WL images | awk '{ print $3 }' >"$OUT/held"
	kill -TERM "$kpid"
	rc=0
	wait "$kpid" || rc=$?
	check_eq "khupd stops with 0" "$rc" 0
}

stage2() {
	local wl=$OUT/wl kpid rc t
	check_eq "running the 7.3 test kernel" "$(uname -r)" "$STAGE_RELEASE_2"
	"$KHUPD" -f -m "$(khup_ko)" --ttl 600 2>"$OUT/khupd.2.log" &
	kpid=$!
	check "khupd starts and loads the module" wait_log "$OUT/khupd.2.log" "ready" 30
	check "khupd inventory: the image came from $STAGE_RELEASE_1 with every page" \
		grep -q "restored, .* $(cat "$OUT/held") pages .* created by kernel $STAGE_RELEASE_1" "$OUT/khupd.2.log"
	check "khup-upgrade --restore" run_to "$OUT/restore.txt" upgrade --restore --images-dir "$OUT/img"
	sed 's/^/#   /' "$OUT/restore.txt"
	show_log "$(ls -d "$OUT"/img/1-*)/restore.log"
	check "report after restore" wl_report "$wl" report.after
	check "every region's checksum is intact" wl_verify "$wl" "$wl/report.after"
	check "threads and child ran on" wl_advanced "$wl" "$wl/report.before" "$wl/report.after"
	check "the futex waiter wakes and is joined (its tid word survived the dump)" wl_join "$wl" report.joined
	check_eq "the image is gone" "$($WL images | wc -l)" 0
	check "khupd saw the release" wait_log "$OUT/khupd.2.log" "released" 20

	t=$OUT/img/khup-upgrade.trace
	check "khup-upgrade wrote the timeline" test -s "$t"
	grep -E 'khup_|khup-upgrade|----' "$t" | awk '!/khup_readback/ || ++n <= 3' | head -n 40 | sed 's/^/#   trace: /'
	check "the persistent instance's copy holds the old kernel's dump (pin, seal, markers)" \
		bash -c "grep -q 'khup_pin:' $INST""_prev/trace && grep -q 'khup_seal:' $INST""_prev/trace && grep -q 'khup-upgrade: dumped pid' $INST""_prev/trace"
	check "the persistent instance holds the new kernel's restore (restore, readback, release)" \
		bash -c "grep -q 'khup_restore:' $INST/trace && grep -q 'khup_readback:' $INST/trace && grep -q 'khup_release:' $INST/trace"
	local pin kx rs end
	pin=$(grep -n 'khup_pin:' "$t" | tail -n1 | cut -d: -f1)
	kx=$(grep -n '^# ---- kexec' "$t" | cut -d: -f1)
	rs=$(grep -n 'khup_restore:' "$t" | head -n1 | cut -d: -f1)
	end=$(grep -n 'khup-upgrade: restore end: 1 of 1' "$t" | cut -d: -f1)
	note "timeline lines: last pin $pin, kexec $kx, first restore $rs, restore end $end"
	check "one timeline: dump (old kernel), kexec, restore (new kernel), in that order" \
		test "${pin:-0}" -gt 0 -a "${pin:-0}" -lt "${kx:-0}" -a "${kx:-0}" -lt "${rs:-0}" -a "${rs:-0}" -lt "${end:-0}"
	kill -TERM "$kpid"
	rc=0
	wait "$kpid" || rc=$?
	check_eq "khupd stops with 0" "$rc" 0
	wl_stop "$wl"
}
