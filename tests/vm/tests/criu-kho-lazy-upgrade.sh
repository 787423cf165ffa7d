# SPDX-License-Identifier: GPL-2.0-only
# criu dump --kho on 7.2, kexec into 7.3, lazy restore (criu restore --kho --lazy-pages + criu lazy-pages --kho): the workload answers during the fill and is intact after it, in the new kernel
VM_KEXEC=yes
VM_KERNELS="7.2 7.3"
VM_TIMEOUT=1500

# (the host reads this file for its VM_* settings, without KHUP_TOP)
[ -z "${KHUP_TOP:-}" ] || . "$KHUP_TOP/tests/vm/progs/criu-kho.sh"

stage1() {
	uname -r >"$OUT/release.1"
	kho_kexec_stage1
}

stage2() {
	check_ne "running a different kernel" "$(uname -r)" "$(cat "$OUT/release.1")"
	check_eq "running the 7.3 test kernel" "$(uname -r)" "$STAGE_RELEASE_2"
	kho_lazy_stage2
}
