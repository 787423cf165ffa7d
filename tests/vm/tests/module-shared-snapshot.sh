# SPDX-License-Identifier: GPL-2.0-only
# khup shared pages: a memfd written by a process outside the image after the dump is handed over as it was at the pin (a snapshot copy), also after kexec
VM_KEXEC=yes
VM_TIMEOUT=600

ks() { "$KHUP_BUILD/progs/khup-safety" "$@"; }

stage1() {
	check "module loads" insmod "$(khup_ko)"
	check "pin a memfd and private memory, seal; a writer outside the image keeps writing the memfd; the image reads the contents of the pin; only the memfd pages were copied" \
		ks shared-dump shared "$OUT/shared.state" "$KHUP_BUILD/progs/khup-nl"
	read -r _ _ _ writer <"$OUT/shared.state"
	check "the writer still runs at the kexec" test -e "/proc/$writer"
	if command -v dtc >/dev/null; then
		dtc -q -I dtb -O dts -o "$OUT/khup.dts" /sys/kernel/debug/kho/out/sub_fdts/khup
	fi
}

stage2() {
	check "module loads after kexec" insmod "$(khup_ko)"
	check "after kexec the image reads the memfd and the private memory as at the pin" \
		ks shared-verify shared "$OUT/shared.state"
	check "release" "$KHUP_BUILD/progs/khup-test" release shared
	check "rmmod after release" rmmod khup
}
