# SPDX-License-Identifier: GPL-2.0-only
# demo: boot the 7.2 test kernel, kexec with KHO into 7.3, show what crossed
#
# Run by 'make demo' through the VM harness (tests/vm/run --show-output).
# It grows with the project into the full khup flow (CRIU dump --kho, kexec,
# restore); for now it shows the foundation: a KHO kexec that carries the
# KHO tree and the persistent ftrace buffer from one kernel into the next.
VM_KERNELS="7.2 7.3"
VM_KEXEC=yes
VM_CMDLINE="reserve_mem=12M:4096:trace trace_instance=khup@trace"

inst=/sys/kernel/tracing/instances/khup

say() { printf '%s\n' "$*"; }

stage1() {
	local marker
	say "== stage 1: running $(uname -r), boot_id $(cat /proc/sys/kernel/random/boot_id)"
	say "KHO nodes this kernel will hand over (kho/out/sub_fdts): $(ls /sys/kernel/debug/kho/out/sub_fdts | tr '\n' ' ')"
	marker="khup demo marker written by $(uname -r) at $(date -u +%T)"
	echo 1 >"$inst/tracing_on"
	echo "$marker" >"$inst/trace_marker"
	echo "$marker" >"$OUT/marker"
	uname -r >"$OUT/release"
	cat /proc/sys/kernel/random/boot_id >"$OUT/boot_id"
	check "marker written to the persistent trace instance" grep -q "$marker" "$inst/trace"
	say "kexec -s -l $STAGE_KERNEL_2 (kho=on) ; kexec -e"
}

stage2() {
	say "== stage 2: running $(uname -r), boot_id $(cat /proc/sys/kernel/random/boot_id)"
	say "kernel log: $(dmesg | grep -o 'KHO: exec from: .*')"
	say "KHO nodes received from $(cat "$OUT/release") (kho/in/sub_fdts): $(ls /sys/kernel/debug/kho/in/sub_fdts | tr '\n' ' ')"
	check_ne "a new kernel booted" "$(uname -r) $(cat /proc/sys/kernel/random/boot_id)" "$(cat "$OUT/release") $(cat "$OUT/boot_id")"
	say "persistent trace instance after kexec:"
	grep -v '^#' "$inst/trace" | sed 's/^/    /'
	check "the marker from the old kernel is in the new kernel's trace" grep -qF "$(cat "$OUT/marker")" "$inst/trace"
}
