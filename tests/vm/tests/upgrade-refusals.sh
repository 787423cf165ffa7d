# SPDX-License-Identifier: GPL-2.0-only
# khup-upgrade refuses, before it does anything, an upgrade the next kernel (7.3, never booted) could not complete: no khup.ko for it, a khup.ko of another kernel, no KHO, another KHO format; and one this system could not: not root, images on tmpfs, no such process, no trace-cmd. Each exits 3 naming the reason, and nothing is dumped, no image held, no kernel loaded, the workload runs on; the dry run prints every step and every failed check and changes nothing
VM_KERNELS="7.2 7.3"
VM_TIMEOUT=600

# (the host reads this file for its VM_* settings, without KHUP_TOP)
if [ -n "${KHUP_TOP:-}" ]; then
	. "$KHUP_TOP/tests/vm/progs/criu-kho.sh"
	. "$KHUP_TOP/tests/vm/progs/upgrade.sh"
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

# nothing_done DIR PID: khup-upgrade left no trace of an upgrade: no images
# directory DIR (so no dump), no image held by khup.ko, no kernel loaded
# for kexec, and the workload PID still running
nothing_done() {
	local dir=$1 pid=$2 held
	if [ -e "$dir" ]; then
		echo "$dir exists:"
		find "$dir" | head -n 20
		return 1
	fi
	held=$(khup_images) || { echo "cannot list khup.ko's images"; return 1; }
	[ -z "$held" ] || { echo "khup.ko holds: $held"; return 1; }
	[ "$(cat /sys/kernel/kexec_loaded)" = 0 ] || { echo "a kernel is loaded for kexec"; return 1; }
	kill -0 "$pid" || { echo "the workload (pid $pid) is gone"; return 1; }
}

# refused NAME DIR PID PATTERN CMD...: CMD (a khup-upgrade run with images
# directory DIR and target PID) exits 3 with PATTERN in its refusal; then
# nothing was done
refused() {
	local name=$1 dir=$2 pid=$3 pat=$4 out=$OUT/r.$1 rc=0
	shift 4
	"$@" >"$out" 2>&1 || rc=$?
	sed 's/^/#   /' "$out"
	if [ "$rc" -eq 3 ] && grep -q "refusing: .*$pat" "$out"; then
		pass "$name: refused (exit 3, '$pat')"
	else
		fail "$name: refused (exit 3, '$pat')" "exit $rc"
	fi
	check "$name: nothing dumped, no image held, no kernel loaded, the workload runs" nothing_done "$dir" "$pid"
}

stage1() {
	local wl=$OUT/wl pid img=$OUT/img cfg
	cfg=$(dirname "$STAGE_KERNEL_2")/config
	need_plugin
	check "module loads" insmod "$(khup_ko)"
	check "workload starts" wl_start "$wl" 16
	pid=$(kv "$wl/ready" pid)
	check "report before" wl_report "$wl" report.before
	note "next kernel: $STAGE_KERNEL_2 ($STAGE_RELEASE_2), never booted"

	# What the next kernel lacks
	refused "no khup.ko for the next kernel (--next-module)" "$img" "$pid" "no khup.ko for the next kernel" \
		upgrade --kernel "$STAGE_KERNEL_2" --next-module /nonexistent/khup.ko --pid "$pid" --images-dir "$img"
	# (no /lib/modules/$STAGE_RELEASE_2 in the guest: modinfo -k finds none)
	refused "no khup.ko installed for the next kernel (modinfo -k)" "$img" "$pid" \
		"no khup.ko for the next kernel $STAGE_RELEASE_2: build and install it for that kernel (make install-module KREL=$STAGE_RELEASE_2)" \
		"$UPGRADE" --criu "$CRIU" --criu-libdir "$KHUP_PLUGIN_DIR" --kernel "$STAGE_KERNEL_2" --pid "$pid" --images-dir "$img"
	refused "a khup.ko built for another kernel" "$img" "$pid" \
		"is built for kernel '$STAGE_RELEASE_1', not for the next kernel $STAGE_RELEASE_2" \
		upgrade --kernel "$STAGE_KERNEL_2" --next-module "$(khup_ko)" --pid "$pid" --images-dir "$img"
	refused "a next kernel without KHO" "$img" "$pid" "the next kernel has no KHO" \
		upgrade --kernel "$STAGE_KERNEL_2" --next-config /dev/null --pid "$pid" --images-dir "$img"
	check "make a next kernel whose KHO format differs" fake_kho_kernel "$OUT/bzImage-kho-v9"
	refused "a next kernel whose KHO format differs" "$img" "$pid" \
		"the next kernel speaks KHO kho-v9, this one kho-v4: it would boot as if nothing was handed over" \
		upgrade --kernel "$OUT/bzImage-kho-v9" --next-config "$cfg" --pid "$pid" --images-dir "$img"

	# What this system lacks
	refused "images dir on tmpfs" /tmp/img "$pid" "on tmpfs" \
		upgrade --kernel "$STAGE_KERNEL_2" --pid "$pid" --images-dir /tmp/img
	refused "not root" "$img" "$pid" "not root" \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$UPGRADE" --kernel "$STAGE_KERNEL_2" --pid "$pid" --images-dir "$img"
	refused "a missing process" "$img" "$pid" "no process 999999" \
		upgrade --kernel "$STAGE_KERNEL_2" --pid 999999 --images-dir "$img"
	refused "no trace-cmd (it saves the formats that decode this kernel's trace)" "$img" "$pid" "trace-cmd not found" \
		env TRACE_CMD=/nonexistent/trace-cmd "$UPGRADE" --criu "$CRIU" --criu-libdir "$KHUP_PLUGIN_DIR" \
		--next-module "$KHUP_BUILD/modules/$STAGE_RELEASE_2/khup.ko" --kernel "$STAGE_KERNEL_2" --pid "$pid" --images-dir "$img"

	# A bad command line: exit 2 before any check
	check "a pid that is no number is a usage error (exit 2)" bash -c "
		'$UPGRADE' --kernel '$STAGE_KERNEL_2' --pid self --images-dir '$img' >'$OUT/r.usage' 2>&1; [ \$? -eq 2 ] &&
		grep -q -- \"--pid takes a process id, not 'self'\" '$OUT/r.usage'"
	check "a usage error did nothing" nothing_done "$img" "$pid"

	# The dry run: every failed check listed, the plan printed to the end
	check "dry run lists every failed check and goes on (exit 3)" bash -c "rc=0
		'$UPGRADE' --criu '$CRIU' --criu-libdir '$KHUP_PLUGIN_DIR' --dry-run --kernel '$OUT/bzImage-kho-v9' \
			--next-config '$cfg' --next-module /nonexistent/khup.ko --pid $pid --images-dir '$img' >'$OUT/r.dry' 2>&1 || rc=\$?
		[ \$rc -eq 3 ] && grep -q 'check FAILED: the next kernel speaks KHO' '$OUT/r.dry' &&
		grep -q 'check FAILED: no khup.ko' '$OUT/r.dry' && grep -q '^+ kexec -e' '$OUT/r.dry'"
	sed 's/^/#   /' "$OUT/r.dry"
	check "the failing dry run did nothing" nothing_done "$img" "$pid"

	# ... and with everything in place (the control: the refusals above
	# are each one missing piece)
	check "dry run with every check passing (exit 0)" run_to "$OUT/dry-run.txt" \
		upgrade --dry-run --kernel "$STAGE_KERNEL_2" --pid "$pid" --images-dir "$img"
	sed 's/^/#   /' "$OUT/dry-run.txt"
	check "dry run shows the compatibility checks passing" bash -c "grep -q 'check: KHO format kho-v4 in both kernels' '$OUT/dry-run.txt' &&
		grep -q 'check: khup.ko for the next kernel: ' '$OUT/dry-run.txt' &&
		grep -q 'check: the next kernel.s khup.ko reads node format khup-v3' '$OUT/dry-run.txt'"
	check "dry run reports KHO scratch and the tree's share in it" bash -c "grep -q 'khup-upgrade: KHO scratch: .* in [0-9]* range' '$OUT/dry-run.txt' &&
		grep -q 'khup-upgrade: pid $pid (.*): [0-9]* pages present, [0-9]* in scratch' '$OUT/dry-run.txt'"
	check "dry run shows the dump" grep -q "^+ $CRIU dump --kho -t $pid -D $img/1-$pid" "$OUT/dry-run.txt"
	check "dry run shows kexec -s -l with kho=on, the trace instance and the images directory" \
		grep -q "^+ kexec -s -l $STAGE_KERNEL_2 --command-line=.*kho=on reserve_mem=12M:4096:trace trace_instance=khup@trace trace_instance=khup_prev=khup khup.trace=khup khup-upgrade.images=$img" "$OUT/dry-run.txt"
	check "dry run shows the trace formats saved before the kexec" \
		grep -q "^+ trace-cmd restore -c -t /sys/kernel/tracing -o $img/khup-upgrade.old-head.dat" "$OUT/dry-run.txt"
	check "dry run shows kexec -e" grep -q "^+ kexec -e" "$OUT/dry-run.txt"
	check "the dry run did nothing" nothing_done "$img" "$pid"

	check "report after" wl_report "$wl" report.after
	check "every region's checksum is intact" wl_verify "$wl" "$wl/report.after"
	wl_stop "$wl"
}
