# SPDX-License-Identifier: GPL-2.0-only
# demo: a 256 MiB process survives a kernel upgrade (7.2 -> 7.3) with its memory in place
#
# Run by 'make demo' through the VM harness (tests/vm/run --show-output).
# The operator flow of a real host, inside the test VM:
#   stage 1 (7.2): khupd runs; a workload with 256 MiB of random data, a THP
#     range, a dirtied private file mapping, shared anonymous memory with a
#     child, a memfd and 4 counting threads is started; khup-upgrade
#     checkpoints it with 'criu dump --kho' (pages pinned, not written),
#     loads 7.3 with kho=on and the persistent trace instance, and kexecs.
#   stage 2 (7.3): khupd loads khup.ko, which claims the preserved pages;
#     khupctl shows what came across; 'khup-upgrade --restore' runs
#     'criu restore --kho'; the workload verifies every checksum and its
#     threads keep counting; the upgrade's trace shows both kernels' events.
# Times are taken from the host's clock (mtimes of files in $OUT, set by the
# host over 9p), so they are comparable across the kexec.
VM_KERNELS="7.2 7.3"
VM_KEXEC=yes
VM_CMDLINE="reserve_mem=12M:4096:trace trace_instance=khup@trace khup.trace=khup"
VM_TIMEOUT=1200

# (the host reads this file for its VM_* settings, without KHUP_TOP)
[ -z "${KHUP_TOP:-}" ] || . "$KHUP_TOP/tests/vm/progs/criu-kho.sh"

KHUPD=$KHUP_BUILD/daemon/khupd
KHUPCTL=$KHUP_BUILD/tools/khupctl
UPGRADE=$KHUP_BUILD/tools/khup-upgrade

say() { printf '%s\n' "$*"; }
stamp() { touch "$OUT/t.$1"; }
at() { stat -c %.3Y "$OUT/t.$1"; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%8.0f ms", (b - a) * 1000 }'; }

# start_khupd LOG: khupd in the foreground mode, in the background
start_khupd() {
	# stdout too: check() waits for every holder of its output pipe.
	"$KHUPD" -f -m "$(khup_ko)" >/dev/null 2>"$1" &
	echo $! >"$OUT/khupd.pid"
	for _ in $(seq 300); do
		grep -q ready "$1" && return 0
		sleep 0.1
	done
	return 1
}

stage1() {
	local wl=$OUT/wl pid
	need_plugin
	say "== stage 1: $(uname -r), boot_id $(cat /proc/sys/kernel/random/boot_id)"
	check "khupd starts and loads khup.ko" start_khupd "$OUT/khupd.1.log"
	check "workload starts (${WL_MIB} MiB anon + THP + file + shared + memfd, 4 threads, a child)" \
		wl_start "$wl" "$WL_MIB"
	pid=$(kv "$wl/ready" pid)
	check "workload reports its checksums" wl_report "$wl" report.before
	say "workload pid $pid, $(kv "$wl/ready" pages) pages; MemFree $(memfree_kb) kB"
	say "khup-upgrade --kernel $STAGE_KERNEL_2 --pid $pid --images-dir $OUT/img"
	stamp freeze
	# khup-upgrade kexecs by itself: mark stage 1 complete first.
	stage_done
	"$UPGRADE" --criu "$CRIU" --criu-libdir "$KHUP_PLUGIN_DIR" \
		--next-module "$KHUP_BUILD/modules/$STAGE_RELEASE_2/khup.ko" \
		--kernel "$STAGE_KERNEL_2" --cmdline "$(next_cmdline)" \
		--pid "$pid" --images-dir "$OUT/img" 2>&1 | tee "$OUT/upgrade.txt"
	fail "khup-upgrade kexecs into the next kernel" "it returned"
}

stage2() {
	local wl=$OUT/wl dumped t
	need_plugin
	stamp boot
	say "== stage 2: $(uname -r), boot_id $(cat /proc/sys/kernel/random/boot_id)"
	say "kernel log: $(dmesg | grep -o 'KHO: exec from: .*')"
	check_eq "running the upgrade kernel" "$(uname -r)" "$STAGE_RELEASE_2"
	check "pages-*.img of the dump hold 0 bytes" test "$(pages_img_bytes "$(ls -d "$OUT"/img/1-*)")" -eq 0
	check "khupd starts, loads khup.ko, claims the preserved pages" start_khupd "$OUT/khupd.2.log"
	stamp ready
	sed 's/^/khupd: /' "$OUT/khupd.2.log"
	say "\$ khupctl list"
	"$KHUPCTL" list
	say "\$ khupctl fdt --in    (what the old kernel handed over)"
	"$KHUPCTL" fdt --in | head -n 40
	stamp restore
	check "khup-upgrade --restore (criu restore --kho)" \
		"$UPGRADE" --restore --criu "$CRIU" --criu-libdir "$KHUP_PLUGIN_DIR" --images-dir "$OUT/img"
	# criu's restore log is last written when the restore is done, before
	# khup-upgrade goes on to write the trace files (which the workload
	# does not wait for)
	touch -r "$(ls -d "$OUT"/img/1-*)/restore.log" "$OUT/t.running"
	check "workload reports after restore" wl_report "$wl" report.after
	check "every region's checksum is intact" wl_verify "$wl" "$wl/report.after"
	check "threads and child ran on" wl_advanced "$wl" "$wl/report.before" "$wl/report.after"
	check "the futex waiter wakes and is joined" wl_join "$wl" report.joined
	check_eq "khup.ko holds no image any more" "$("$KHUPCTL" --json list)" "[]"
	# Enabling events in the new kernel clears the persistent instance, so
	# khup-upgrade had the new kernel back it up first (instance khup_prev);
	# --restore decoded that copy with the old kernel's formats, saved
	# before the kexec, and this kernel's instance with its own.
	t=$OUT/img/khup-upgrade.trace
	say "the upgrade's trace, each kernel decoded with its own formats (khup-upgrade.trace, trimmed):"
	grep -E '^# |khup_(pin|seal|restore|claim|commit|release):|khup-upgrade: (upgrade start|dumped|kexec|restore)' "$t" |
		awk '!/khup_(pin|restore):/ || ++n[$0 ~ /khup_pin/] <= 3' | sed 's/^/    /'
	check "one trace holds the dump (old kernel) and the restore (new kernel)" \
		bash -c "grep -q 'khup_seal:' $t && grep -q 'khup_restore:' $t"
	check "the old kernel's marker names its writer and its function" \
		grep -qE '^ *khup-upgrade-[0-9]+ .* tracing_mark_write: khup-upgrade: upgrade start' "$t"
	check "trace-cmd report opens both kernels' trace.dat (khup-upgrade --report)" \
		bash -c "'$UPGRADE' --report --images-dir '$OUT/img' >'$OUT/report.txt' 2>&1 && grep -q 'khup_seal:' '$OUT/report.txt' && grep -q 'khup_commit:' '$OUT/report.txt'"

	# The dump ends when khup-upgrade writes its order file (renamed to
	# .done by a complete --restore; a rename keeps the mtime).
	dumped=$(stat -c %.3Y "$OUT/img/khup-upgrade.order.done")
	say "== timings (host clock)"
	say "freeze -> dumped (criu dump --kho)       $(ms "$(at freeze)" "$dumped")"
	say "dumped -> new kernel's userspace (kexec)  $(ms "$dumped" "$(at boot)")"
	say "userspace -> module ready (khupd)         $(ms "$(at boot)" "$(at ready)")"
	say "restore -> running (criu restore --kho)   $(ms "$(at restore)" "$(at running)")"
	say "freeze -> running (total downtime)        $(ms "$(at freeze)" "$(at running)")"
	kill -TERM "$(cat "$OUT/khupd.pid")" 2>/dev/null
	wl_stop "$wl"
}
