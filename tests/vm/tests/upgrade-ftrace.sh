# SPDX-License-Identifier: GPL-2.0-only
# khup-upgrade checkpoints a running workload on 7.2 and loads 7.3; after kexec khupd claims the pages, khup-upgrade --restore brings it back intact, and the upgrade's trace decodes each kernel's events with its own formats, on one time axis, readable by trace-cmd report
VM_KEXEC=yes
VM_KERNELS="7.2 7.3"
# What khup-upgrade puts on the next kernel's command line (the harness
# does the kexec itself, with the same command line in every stage).
VM_CMDLINE="reserve_mem=12M:4096:trace trace_instance=khup@trace trace_instance=khup_prev=khup khup.trace=khup"
VM_TIMEOUT=1200

# (the host reads this file for its VM_* settings, without KHUP_TOP)
if [ -n "${KHUP_TOP:-}" ]; then
	. "$KHUP_TOP/tests/vm/progs/criu-kho.sh"
	. "$KHUP_TOP/tests/vm/progs/upgrade-trace.sh"
fi

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
# refused OUTFILE PATTERN ARGS...: exit 3 and PATTERN in the message
refused() {
	local out=$1 pat=$2 rc=0
	shift 2
	"$@" >"$out" 2>&1 || rc=$?
	sed 's/^/#   /' "$out"
	[ "$rc" -eq 3 ] && grep -q "refusing: .*$pat" "$out"
}

# refusals PID: every check refuses before anything is done; the dry run
# prints every step and changes nothing
refusals() {
	local pid=$1
	check "refuses an images dir on tmpfs" refused "$OUT/r.tmpfs" "on tmpfs" \
		upgrade --kernel "$STAGE_KERNEL_2" --pid "$pid" --images-dir /tmp/img
	check "refuses without root" refused "$OUT/r.root" "not root" \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$UPGRADE" --kernel "$STAGE_KERNEL_2" --pid "$pid" --images-dir "$OUT/img"
	check "refuses a next kernel without KHO" refused "$OUT/r.config" "has no KHO" \
		upgrade --kernel "$STAGE_KERNEL_2" --next-config /dev/null --pid "$pid" --images-dir "$OUT/img"
	check "refuses a missing process" refused "$OUT/r.pid" "no process 999999" \
		upgrade --kernel "$STAGE_KERNEL_2" --pid 999999 --images-dir "$OUT/img"
	check "refuses without trace-cmd (it saves the formats that decode this kernel's trace)" \
		refused "$OUT/r.tracecmd" "trace-cmd not found" \
		env TRACE_CMD=/nonexistent/trace-cmd "$UPGRADE" --criu "$CRIU" --criu-libdir "$KHUP_PLUGIN_DIR" \
		--next-module "$KHUP_BUILD/modules/$STAGE_RELEASE_2/khup.ko" --kernel "$STAGE_KERNEL_2" --pid "$pid" --images-dir "$OUT/img"
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
	check "dry run reports KHO scratch and the tree's share in it" bash -c "grep -q 'khup-upgrade: KHO scratch: .* in [0-9]* range' $OUT/dry-run.txt && grep -q 'khup-upgrade: pid $pid (.*): [0-9]* pages present, [0-9]* in scratch' $OUT/dry-run.txt"
	check "dry run shows the dump" grep -q "^+ $CRIU dump --kho -t $pid -D $OUT/img/1-$pid" "$OUT/dry-run.txt"
	check "dry run shows kexec -s -l with kho=on and the trace instance" \
		grep -q "^+ kexec -s -l $STAGE_KERNEL_2 --command-line=.*kho=on reserve_mem=12M:4096:trace trace_instance=khup@trace trace_instance=khup_prev=khup khup.trace=khup" "$OUT/dry-run.txt"
	check "dry run shows the trace formats saved before the kexec" \
		grep -q "^+ trace-cmd restore -c -t /sys/kernel/tracing -o $OUT/img/khup-upgrade.old-head.dat" "$OUT/dry-run.txt"
	check "dry run shows kexec -e" grep -q "^+ kexec -e" "$OUT/dry-run.txt"
	check "dry run changed nothing: the workload runs, no image" bash -c "kill -0 $pid && [ -z \"\$($WL images)\" ] && [ ! -e $OUT/img ]"
}

stage1() { trace_stage1 refusals; }
stage2() { trace_stage2; }
