# SPDX-License-Identifier: GPL-2.0-only
# the rollback 7.3 -> 7.2 with khup-upgrade: the workload comes back intact, and the trace decodes the 7.3 kernel's events with 7.3's formats and the 7.2 kernel's with 7.2's, on one time axis
VM_KEXEC=yes
VM_KERNELS="7.3 7.2"
VM_CMDLINE="reserve_mem=12M:4096:trace trace_instance=khup@trace trace_instance=khup_prev=khup khup.trace=khup"
VM_TIMEOUT=1200

# (the host reads this file for its VM_* settings, without KHUP_TOP)
if [ -n "${KHUP_TOP:-}" ]; then
	. "$KHUP_TOP/tests/vm/progs/criu-kho.sh"
	. "$KHUP_TOP/tests/vm/progs/upgrade-trace.sh"
fi

stage1() { trace_stage1; }
stage2() { trace_stage2; }
