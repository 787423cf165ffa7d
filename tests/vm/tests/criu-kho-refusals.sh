# SPDX-License-Identifier: GPL-2.0-only
# criu --kho refuses --leave-running, cleans up a failed dump, refuses a missing image or plugin, a second restore and a tampered khup.img
VM_TIMEOUT=900

# (the host reads this file for its VM_* settings, without KHUP_TOP)
[ -z "${KHUP_TOP:-}" ] || . "$KHUP_TOP/tests/vm/progs/criu-kho.sh"


# tamper_release IMG: change the kernel release recorded in khup.img, with a
# valid CRC, so that only the comparison with /dev/khup can catch it
tamper_release() {
	python3 - "$1" <<'PY'
import struct, sys, zlib
p = sys.argv[1]
d = bytearray(open(p, 'rb').read())
magic, ver, ln, crc, z = struct.unpack('<8sIIII', d[:24])
pl = d[24:]
# field 3 (release), wire type 2: tag 0x1a, one-byte length
i = 0
while i < len(pl):
    tag = pl[i]; i += 1
    wt = tag & 7
    if wt == 0:
        while pl[i] & 0x80: i += 1
        i += 1
    elif wt == 2:
        n = pl[i]; i += 1
        if tag >> 3 == 3:
            pl[i] = ord('X') if pl[i] != ord('X') else ord('Y')
            break
        i += n
    else:
        raise SystemExit('unexpected wire type')
else:
    raise SystemExit('no release field')
open(p, 'wb').write(struct.pack('<8sIIII', magic, ver, ln, zlib.crc32(bytes(pl)) & 0xffffffff, z) + pl)
PY
}

image_pages() { khup_images | awk '{ print $3 }'; }

stage1() {
	local wl=$OUT/wl pid name pages
	need_plugin
	check "module loads" insmod "$(khup_ko)"
	check "workload starts" wl_start "$wl" 16
	pid=$(kv "$wl/ready" pid)
	check "report" wl_report "$wl" report.0

	# 1. --leave-running
	mkdir -p "$IMG"
	if criu_run dump-r.log dump --kho --leave-running -t "$pid" -D "$IMG"; then
		fail "dump --kho --leave-running is refused" "it succeeded"
	else
		pass "dump --kho --leave-running is refused"
	fi
	check "the refusal says why" grep -q -- "--kho cannot be used with --leave-running" "$IMG/dump-r.log"
	check_eq "no /dev/khup image was created" "$(khup_images | wc -l)" 0
	check "the workload runs on" wl_report "$wl" report.1
	check "... unharmed" wl_advanced "$wl" "$wl/report.0" "$wl/report.1"
	check "... intact" wl_verify "$wl" "$wl/report.1"

	# 2. a dump that fails after pinning: khup.img cannot be written
	mkdir -p "$IMG/khup.img"
	if criu_run dump-f.log dump --kho -t "$pid" -D "$IMG"; then
		fail "a dump that cannot write khup.img fails" "it succeeded"
	else
		pass "a dump that cannot write khup.img fails"
	fi
	show_log "$IMG/dump-f.log"
	check "pages had been pinned" grep -q "Created /dev/khup image" "$IMG/dump-f.log"
	check "the plugin released the image" grep -q "Dump failed: released /dev/khup image" "$IMG/dump-f.log"
	check_eq "no /dev/khup image is left" "$(khup_images | wc -l)" 0
	check "the workload was resumed" wl_report "$wl" report.f
	check "... and runs on" wl_advanced "$wl" "$wl/report.1" "$wl/report.f"
	check "... intact" wl_verify "$wl" "$wl/report.f"
	check "... with its threads' exit-time pointers back: the futex waiter is joined" wl_join "$wl" report.fj
	rm -rf "$IMG"
	mkdir -p "$IMG"

	# 3. the image is gone
	check "criu dump --kho" criu_run dump.log dump --kho -t "$pid" -D "$IMG"
	show_log "$IMG/dump.log"
	name=$(khup_images | awk '{ print $4 }')
	check "release the image behind CRIU's back" kt release "$name"
	if criu_run restore-1.log restore --kho -D "$IMG" --restore-detached; then
		fail "restore --kho without the image is refused" "it succeeded"
	else
		pass "restore --kho without the image is refused"
	fi
	show_log "$IMG/restore-1.log"
	check "the refusal names the image" grep -q "has no image '$name'" "$IMG/restore-1.log"
	check "nothing was restored" wl_gone "$wl"

	# 4. a tampered khup.img, then the real one
	check "workload starts again" wl_start "$wl" 16
	pid=$(kv "$wl/ready" pid)
	check "report" wl_report "$wl" report.2
	rm -rf "$IMG"
	mkdir -p "$IMG"
	check "criu dump --kho" criu_run dump.log dump --kho -t "$pid" -D "$IMG"
	pages=$(image_pages)
	cp "$IMG/khup.img" "$OUT/khup.img.orig"

	printf 'X' | dd of="$IMG/khup.img" bs=1 seek=30 conv=notrunc status=none
	if criu_run restore-2.log restore --kho -D "$IMG" --restore-detached; then
		fail "restore with a corrupt khup.img is refused" "it succeeded"
	else
		pass "restore with a corrupt khup.img is refused"
	fi
	show_log "$IMG/restore-2.log"
	check "the refusal says khup.img is corrupt" grep -q "khup.img is corrupt" "$IMG/restore-2.log"

	cp "$OUT/khup.img.orig" "$IMG/khup.img"
	check "tamper with the kernel release in khup.img (valid CRC)" tamper_release "$IMG/khup.img"
	if criu_run restore-3.log restore --kho -D "$IMG" --restore-detached; then
		fail "restore with a tampered khup.img is refused" "it succeeded"
	else
		pass "restore with a tampered khup.img is refused"
	fi
	show_log "$IMG/restore-3.log"
	check "the refusal says what differs" grep -q "kernel release at dump is .* in khup.img but $(uname -r) in /dev/khup" "$IMG/restore-3.log"
	check_eq "the image is intact after the refusals" "$(image_pages)" "$pages"
	check "nothing was restored" wl_gone "$wl"

	# 5. without the plugin
	cp "$OUT/khup.img.orig" "$IMG/khup.img"
	if "$CRIU" restore --kho -D "$IMG" --restore-detached -v4 -o restore-np.log; then
		fail "restore without the plugin is refused" "it succeeded"
	else
		pass "restore without the plugin is refused"
	fi
	check "the refusal names the plugin" grep -q "Missing required plugin: khup" "$IMG/restore-np.log"
	check_eq "the image is intact" "$(image_pages)" "$pages"

	# 6. restore, then restore again
	check "criu restore --kho with the real khup.img" criu_run restore-4.log restore --kho -D "$IMG" --restore-detached
	show_log "$IMG/restore-4.log"
	check "report" wl_report "$wl" report.3
	check "restored intact" wl_verify "$wl" "$wl/report.3"
	if criu_run restore-5.log restore --kho -D "$IMG" --restore-detached; then
		fail "a second restore is refused" "it succeeded"
	else
		pass "a second restore is refused"
	fi
	show_log "$IMG/restore-5.log"
	sleep 1
	check "the first restore's workload is unaffected" wl_report "$wl" report.4
	check "... and runs on" wl_advanced "$wl" "$wl/report.3" "$wl/report.4"
	check "... intact" wl_verify "$wl" "$wl/report.4"
	check_eq "no image left" "$(khup_images | wc -l)" 0
	wl_stop "$wl"
	check "rmmod" rmmod khup
}
