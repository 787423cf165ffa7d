# SPDX-License-Identifier: GPL-2.0-only
# criu dump --kho, kexec, criu restore --kho: 256 MiB + THP + file + shared + memfd come back from the preserved pages, without doubling memory
VM_KEXEC=yes
VM_TIMEOUT=1200

# (the host reads this file for its VM_* settings, without KHUP_TOP)
[ -z "${KHUP_TOP:-}" ] || . "$KHUP_TOP/tests/vm/progs/criu-kho.sh"

stage1() { kho_kexec_stage1; }
stage2() { kho_kexec_stage2; }
