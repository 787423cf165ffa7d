# SPDX-License-Identifier: GPL-2.0-only
# khup self path: a process pins >= 64 MiB of its own memory (4 KiB pages, THP, zero page), kexec, gets it back
VM_KEXEC=yes
VM_TIMEOUT=600


stage1() {
	local load
	load=$(memfree_settled_kb)
	check "module loads" insmod "$(khup_ko)"
	# What loading the module costs by itself (module text, the 2 MiB
	# execmem chunk on x86, tracefs, genetlink), so stage 2 can tell it
	# apart from pages the image failed to give back.
	echo $((load - $(memfree_settled_kb))) >"$OUT/load_cost"
	note "module load costs $(cat "$OUT/load_cost") kB"
	check "/dev/khup exists" test -c /dev/khup

	# Same-kernel round trip first: pin, read back, release, and MemFree
	# must come back (within memfree_slack_kb) once the image is released.
	local before after
	before=$(memfree_settled_kb)
	check "same-kernel: pin + seal 64 MiB" kt self-pin warmup "$OUT/warmup.state"
	check "same-kernel: image holds pages" test "$(kt info warmup | cut -d' ' -f4)" -ge 16384
	check "same-kernel: KHO node published" test -e /sys/kernel/debug/kho/out/sub_fdts/khup
	check "same-kernel: release" kt release warmup
	check "same-kernel: KHO node withdrawn after last release" test ! -e /sys/kernel/debug/kho/out/sub_fdts/khup
	after=$(memfree_settled_kb)
	note "MemFree before pin ${before} kB, after release ${after} kB"
	check "same-kernel: MemFree back within $(($(memfree_slack_kb) / 1024)) MiB after release" test $((before - after)) -le "$(memfree_slack_kb)"

	cat /proc/sys/kernel/random/boot_id >"$OUT/boot_id"
	check "pin + seal 64 MiB for kexec" kt self-pin roundtrip "$OUT/self.state"
	check "THP range kept as a large folio (order > 0 extent)" kt thp roundtrip
	check "KHO node published" test -e /sys/kernel/debug/kho/out/sub_fdts/khup
	if command -v dtc >/dev/null; then
		check "published node decompiles with dtc" \
			dtc -q -I dtb -O dts -o "$OUT/khup.dts" /sys/kernel/debug/kho/out/sub_fdts/khup
		check "node has compatible khup-v3" grep -q 'compatible = "khup-v3";' "$OUT/khup.dts"
	fi
	kt info roundtrip >"$OUT/info1"
	note "image before kexec: $(cat "$OUT/info1")"
	# An image left open at the kexec is not handed over, but its id
	# was handed out: the next kernel must not give it out again.
	"$KHUP_BUILD/progs/khup-safety" create idprobe >"$OUT/idprobe"
	check "an open image took id $(cat "$OUT/idprobe") after the sealed one" \
		test "$(cat "$OUT/idprobe")" -gt "$(cut -d' ' -f1 "$OUT/info1")"
}

stage2() {
	check_ne "this is a new boot" "$(cat /proc/sys/kernel/random/boot_id)" "$(cat "$OUT/boot_id")"
	check "khup node handed over" test -e /sys/kernel/debug/kho/in/sub_fdts/khup
	local held freed
	held=$(memfree_settled_kb)
	check "module loads after kexec" insmod "$(khup_ko)"
	dmesg >"$OUT/dmesg.load"
	check "log says image restored" grep -q "khup: restored image .* 'roundtrip'" "$OUT/dmesg.load"
	check "no restore errors logged" bash -c '! dmesg | grep -q "khup: .*\(refused\|could not\|malformed\|not preserved\)"'
	read -r id state tasks pages kexecs < <(kt info roundtrip)
	check_eq "image state is RESTORED" "$state" 3
	check_eq "image survived one kexec" "$kexecs" 1
	check_eq "same page count as before kexec" "$pages" "$(cut -d' ' -f4 "$OUT/info1")"
	check "restored image re-published for the next kexec" test -e /sys/kernel/debug/kho/out/sub_fdts/khup
	check "ranges restored into the caller, hashes match" kt self-restore roundtrip "$OUT/self.state"
	check "rmmod refused while an image is held" bash -c '! rmmod khup'
	check "release" kt release roundtrip
	freed=$(memfree_settled_kb)
	note "MemFree with image held ${held} kB, after release ${freed} kB, image $((pages * 4)) kB, module load $(cat "$OUT/load_cost") kB"
	check "MemFree grew by the image size after release (within $(($(memfree_slack_kb) / 1024)) MiB, after the module's own load cost)" \
		test $((freed - held)) -ge $((pages * 4 - $(memfree_slack_kb) - $(cat "$OUT/load_cost")))
	check "KHO out tree has no khup node" test ! -e /sys/kernel/debug/kho/out/sub_fdts/khup
	check "rmmod after release" rmmod khup

	# Ids go on after the kexec and after a reload.
	local id1 id2
	check "module loads again" insmod "$(khup_ko)"
	id1=$("$KHUP_BUILD/progs/khup-safety" create idafter)
	check "after kexec and a reload a new image gets an id above any of the last kernel ($id1 > $(cat "$OUT/idprobe"))" \
		test "$id1" -gt "$(cat "$OUT/idprobe")"
	check "release it" kt release idafter
	check "rmmod" rmmod khup
	check "module loads a third time" insmod "$(khup_ko)"
	id2=$("$KHUP_BUILD/progs/khup-safety" create idreload)
	check "after another reload ids go on ($id2 > $id1)" test "$id2" -gt "$id1"
	check "release it" kt release idreload
	check "rmmod at the end" rmmod khup
}
