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

stage1() { trace_stage1; }
stage2() { trace_stage2; }
