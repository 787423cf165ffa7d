# SPDX-License-Identifier: GPL-2.0-only
# criu dump --kho, kexec, criu restore --kho --lazy-pages with criu lazy-pages --kho: the workload answers while its memory is still being copied, every checksum verifies after the fill, the huge pages come back, the daemon commits the image
VM_KEXEC=yes
VM_TIMEOUT=1500

# (the host reads this file for its VM_* settings, without KHUP_TOP)
[ -z "${KHUP_TOP:-}" ] || . "$KHUP_TOP/tests/vm/progs/criu-kho.sh"

stage1() { kho_kexec_stage1; }
stage2() { kho_lazy_stage2; }
