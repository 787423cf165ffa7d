# SPDX-License-Identifier: GPL-2.0-only
# one restorer at a time: a second criu restore --kho of an image being restored is refused naming the claim, khupctl release is refused meanwhile, the first restore completes intact
VM_TIMEOUT=900

# (the host reads this file for its VM_* settings, without KHUP_TOP)
[ -z "${KHUP_TOP:-}" ] || . "$KHUP_TOP/tests/vm/progs/criu-kho.sh"

stage1() {
	local wl=$OUT/wl held a t claimer name rc
	need_plugin
	check "module loads" insmod "$(khup_ko)"
	check "workload starts (128 MiB)" wl_start "$wl" 128
	mkdir -p "$IMG"
	kho_dump "$wl" "$(kv "$wl/ready" pid)"
	name=$(khup_images | awk '{ print $4 }')

	# The first restore waits in its post-restore script, claim held,
	# until the gate opens: the checks below run while it restores.
	printf '#!/bin/sh\n[ "$CRTOOLS_SCRIPT_ACTION" = post-restore ] || exit 0\nwhile [ ! -e %s ]; do sleep 0.1; done\n' \
		"$OUT/gate" >"$OUT/wait-gate"
	chmod +x "$OUT/wait-gate"
	criu_run restore-a.log restore --kho -D "$IMG" --restore-detached --action-script "$OUT/wait-gate" &
	a=$!
	claimer=0
	for ((t = 0; t < 3000; t++)); do
		claimer=$(khup_images | awk '{ print $7 }')
		[ "${claimer:-0}" != 0 ] && break
		sleep 0.01
	done
	check "the first restore holds the image's claim" test "${claimer:-0}" != 0
	if criu_run restore-b.log restore --kho -D "$IMG" --restore-detached; then
		fail "a second restore of the same image is refused" "it succeeded"
	else
		pass "a second restore of the same image is refused"
	fi
	show_log "$IMG/restore-b.log"
	check "the refusal names the claim" \
		grep -q "is being restored by another process (pid $claimer holds its claim)" "$IMG/restore-b.log"
	rc=0
	"$KHUP_BUILD/tools/khupctl" release "$name" >"$OUT/release.out" 2>&1 || rc=$?
	sed 's/^/#   /' "$OUT/release.out"
	check_ne "khupctl release of the claimed image fails" "$rc" 0
	check "... saying a restore holds it" grep -q "a restore holds it (pid $claimer has its claim)" "$OUT/release.out"
	check_eq "the image is still claimed by the first restore" "$(khup_images | awk '{ print $7 }')" "$claimer"
	touch "$OUT/gate"
	rc=0
	wait "$a" || rc=$?
	check_eq "the first restore succeeds" "$rc" 0
	show_log "$IMG/restore-a.log"
	check_eq "it committed: no image left" "$(khup_images | wc -l)" 0
	check "report after restore" wl_report "$wl" report.after
	check "every checksum matches the dump, threads alive, mutexes held" wl_verify "$wl" "$wl/report.after"
	check "the futex waiter wakes and is joined" wl_join "$wl" report.joined
	wl_stop "$wl"
	check "rmmod" rmmod khup
}
