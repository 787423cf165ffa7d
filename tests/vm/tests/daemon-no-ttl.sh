# SPDX-License-Identifier: GPL-2.0-only
# by default khupd never releases an image nobody restored: it is kept past many rescans, reported loudly, and khupctl release needs --force
VM_KEXEC=yes
VM_TIMEOUT=600

kc() { "$KHUP_BUILD/tools/khupctl" "$@"; }
KHUPD=$KHUP_BUILD/daemon/khupd

stage1() {
	check "module loads" insmod "$(khup_ko)"
	check "pin + seal 64 MiB of this process" kt self-pin keep "$OUT/self.state"
}

stage2() {
	local pid rc pages
	"$KHUPD" -f -m "$(khup_ko)" --interval 1 2>"$OUT/khupd.log" &
	pid=$!
	check "khupd starts with the defaults and loads the module" wait_log "$OUT/khupd.log" "ready" 30
	check "khupd says it keeps unrestored images" grep -q "no TTL: unrestored images are kept" "$OUT/khupd.log"
	pages=$(kt info keep | cut -d' ' -f4)
	check "khupd warns about the unrestored image, naming its size" \
		wait_log "$OUT/khupd.log" "warning: image 1 'keep' holds $pages pages (.*) not restored for" 20
	sleep 8
	check_eq "after 8 s of rescans every second the image is still held" "$(kt info keep | cut -d' ' -f2,4)" "3 $pages"
	rc=0
	kc release keep >"$OUT/release.out" 2>&1 || rc=$?
	sed 's/^/#   /' "$OUT/release.out"
	check_eq "khupctl release without --force fails" "$rc" 1
	check "... saying it is the only copy" grep -q "frees the only copy of its processes' memory; use --force" "$OUT/release.out"
	check "khupctl release --dry-run says what would go" \
		bash -c "$KHUP_BUILD/tools/khupctl release --dry-run keep | grep -q \"would release image 1 'keep' (restored): $pages pages\""
	check_eq "... and changes nothing" "$(kt info keep | cut -d' ' -f2,4)" "3 $pages"
	check "khupctl release --force releases it" kc release --force keep
	check "khupd logs the release" wait_log "$OUT/khupd.log" "image 1 'keep' released by another client" 20
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	check_eq "khupd stops with 0" "$rc" 0
	check "no error logged" bash -c "! grep -q 'error' $OUT/khupd.log"
	check "rmmod" rmmod khup
}
