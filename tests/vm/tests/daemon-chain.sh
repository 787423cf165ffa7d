# SPDX-License-Identifier: GPL-2.0-only
# khupd keeps images across a chain of two kexecs and releases them once restored after the second
VM_STAGES=3
VM_TIMEOUT=900

kc() { "$KHUP_BUILD/tools/khupctl" "$@"; }
KHUPD=$KHUP_BUILD/daemon/khupd
# start_khupd LOG: khupd in the background with a long TTL; sets $KHUPD_PID
# (not under check: that runs its command in a subshell)
start_khupd() {
	"$KHUPD" -f -m "$(khup_ko)" --ttl 600 --interval 1 >/dev/null 2>"$1" &
	KHUPD_PID=$!
}
# stop_khupd: SIGTERM, check the exit status (0)
stop_khupd() {
	local rc=0
	kill -TERM "$KHUPD_PID"
	wait "$KHUPD_PID" || rc=$?
	check_eq "khupd exits 0 on SIGTERM" "$rc" 0
}

stage1() {
	start_khupd "$OUT/khupd.1.log"
	check "khupd starts and loads the module" wait_log "$OUT/khupd.1.log" "ready" 30
	check "self image pinned and sealed" kt self-pin self "$OUT/self.state"
	check "remote image pinned and sealed" kt remote-pin remote "$OUT/remote.state"
	check "khupd logs both seals" bash -c "grep -q \"image 1 'self' sealed\" $OUT/khupd.1.log && grep -q \"image 2 'remote' sealed\" $OUT/khupd.1.log"
	stop_khupd
	kt info self | cut -d' ' -f4 >"$OUT/pages.self"
	kt info remote | cut -d' ' -f4 >"$OUT/pages.remote"
}

stage2() {
	start_khupd "$OUT/khupd.2.log"
	check "khupd starts and loads the module after the first kexec" wait_log "$OUT/khupd.2.log" "ready" 30
	check "khupd inventory: self survived 1 kexec" grep -q "image 1 'self': restored, 1 task(s), $(cat "$OUT/pages.self") pages .* kexecs survived 1" "$OUT/khupd.2.log"
	check "khupd inventory: remote survived 1 kexec" grep -q "image 2 'remote': restored, 1 task(s), $(cat "$OUT/pages.remote") pages .* kexecs survived 1" "$OUT/khupd.2.log"
	check "remote image readable, not released" kt remote-check remote "$OUT/remote.state"
	sleep 3
	check_eq "khupd released nothing (TTL not reached, nothing restored)" "$(kc list --json | jq -r '[.[] | .state] | join(" ")')" "restored restored"
	check "both images re-published for the next kexec" bash -c "$KHUP_BUILD/tools/khupctl fdt --out --json | jq -e '.nodes[] | select(.name == \"khup\") | .[\"khup,nr-images\"] == 2'"
	stop_khupd
	check "khupd did not release anything" bash -c "! grep -q 'released image' $OUT/khupd.2.log"
}

stage3() {
	local rs
	start_khupd "$OUT/khupd.3.log"
	check "khupd starts and loads the module after the second kexec" wait_log "$OUT/khupd.3.log" "ready" 30
	check "khupd inventory: self survived 2 kexecs" grep -q "image 1 'self': restored, .* kexecs survived 2" "$OUT/khupd.3.log"
	check "khupd inventory: remote survived 2 kexecs" grep -q "image 2 'remote': restored, .* kexecs survived 2" "$OUT/khupd.3.log"
	check "self image restored into the caller, hashes match" kt self-restore self "$OUT/self.state"
	check "release self after its restore (khupctl)" kc release --force self
	check "khupd logs the release of self" wait_log "$OUT/khupd.3.log" "image 1 'self' released by another client" 20
	# Reading back and punching every page = a completed restore.
	check "remote image read back identical, every page punched" kt remote-verify remote "$OUT/remote.state"
	check "khupd releases the fully restored remote image" wait_log "$OUT/khupd.3.log" "released image 2 'remote' (fully restored)" 20
	check_eq "no image left" "$(kc list --json | jq length)" 0
	check "KHO out tree has no khup node" test ! -e /sys/kernel/debug/kho/out/sub_fdts/khup
	stop_khupd
	check "no errors logged by khupd" bash -c "! grep -q 'error:' $OUT/khupd.*.log"
	for f in "$OUT"/khupd.*.log; do sed "s|^|#   $(basename "$f"): |" "$f"; done
	check "rmmod" rmmod khup
}
