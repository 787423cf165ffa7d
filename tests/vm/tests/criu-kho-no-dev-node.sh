# SPDX-License-Identifier: GPL-2.0-only
# restored tasks never open /dev/khup: with the node gone while they restore (removed after CRIU's main process took the claim), criu restore --kho still succeeds
VM_TIMEOUT=600

# (the host reads this file for its VM_* settings, without KHUP_TOP)
[ -z "${KHUP_TOP:-}" ] || . "$KHUP_TOP/tests/vm/progs/criu-kho.sh"

stage1() {
	local wl=$OUT/wl
	need_plugin
	check "module loads" insmod "$(khup_ko)"
	check "workload starts (16 MiB)" wl_start "$wl" 16
	mkdir -p "$IMG"
	kho_dump "$wl" "$(kv "$wl/ready" pid)"

	# pre-restore runs after the plugin's init (claim, readers in the
	# fdstore) and before the restored tasks read their memory.
	cat >"$OUT/hide-dev" <<-EOS
		#!/bin/sh
		[ "\$CRTOOLS_SCRIPT_ACTION" = pre-restore ] || exit 0
		mv /dev/khup /dev/.khup-hidden && ! test -e /dev/khup && touch $OUT/hidden
	EOS
	chmod +x "$OUT/hide-dev"
	check "criu restore --kho with /dev/khup gone during the restore" \
		criu_run restore.log restore --kho -D "$IMG" --restore-detached --action-script "$OUT/hide-dev"
	show_log "$IMG/restore.log"
	check "the node was gone while the tasks restored" test -e "$OUT/hidden"
	check "the restored tasks took their readers from the fdstore" \
		grep -q "khup: Pages of task [0-9]*: fd [0-9]*, task" "$IMG/restore.log"
	[ -e /dev/.khup-hidden ] && mv /dev/.khup-hidden /dev/khup
	check_eq "the restore committed: no image left" "$(khup_images | wc -l)" 0
	check "report after restore" wl_report "$wl" report.after
	check "every checksum matches the dump, threads alive, mutexes held" wl_verify "$wl" "$wl/report.after"
	wl_stop "$wl"
	check "rmmod" rmmod khup
}
