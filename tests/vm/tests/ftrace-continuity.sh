# SPDX-License-Identifier: GPL-2.0-only
# a trace_marker line written before kexec is read from the persistent instance after it
VM_KEXEC=yes
VM_CMDLINE="reserve_mem=12M:4096:trace trace_instance=khup@trace"

inst=/sys/kernel/tracing/instances/khup

stage1() {
	local marker
	marker=khup-marker-$(cat /proc/sys/kernel/random/uuid)
	echo "$marker" >"$OUT/marker"
	check "persistent trace instance exists" test -w "$inst/trace_marker"
	echo 1 >"$inst/tracing_on"
	echo "$marker" >"$inst/trace_marker"
	check "marker is in the instance before kexec" grep -q "$marker" "$inst/trace"
}

stage2() {
	local marker
	marker=$(cat "$OUT/marker")
	# reserve_mem regions travel in KHO's memblock node.
	check "memblock node (reserve_mem) handed over" test -e /sys/kernel/debug/kho/in/sub_fdts/memblock
	check "persistent trace instance exists after kexec" test -r "$inst/trace"
	check "stage 1's marker survived kexec in the instance" grep -q "$marker" "$inst/trace"
}
