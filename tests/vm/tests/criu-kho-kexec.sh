# SPDX-License-Identifier: GPL-2.0-only
# criu dump --kho, kexec, criu restore --kho: 256 MiB + THP + file + shared + memfd come back from the preserved pages, without doubling memory
VM_KEXEC=yes
VM_TIMEOUT=1200
WL_MIB=${WL_MIB:-256}

# (the host reads this file for its VM_* settings, without KHUP_TOP)
[ -z "${KHUP_TOP:-}" ] || . "$KHUP_TOP/tests/vm/progs/criu-kho.sh"

stage1() {
	local wl=$OUT/wl pid held expected t0 t1
	check "module loads" insmod "$(khup_ko)"
	check "workload starts (${WL_MIB} MiB anon, THP, file, shared, memfd, 4 threads, child)" wl_start "$wl" "$WL_MIB"
	pid=$(kv "$wl/ready" pid)
	check "report before dump" wl_report "$wl" report.before
	if grep -q '^AnonHugePages: *[1-9]' "/proc/$pid/smaps_rollup"; then
		pass "the THP range is backed by huge pages"
	else
		note "no AnonHugePages in smaps_rollup: $(grep AnonHuge /proc/$pid/smaps_rollup)"
	fi

	mkdir -p "$IMG"
	t0=$(date +%s%N)
	check "criu dump --kho" criu_run dump.log dump --kho -t "$pid" -D "$IMG"
	t1=$(date +%s%N)
	note "freeze -> dumped: $(((t1 - t0) / 1000000)) ms"
	show_log "$IMG/dump.log"
	check "dumped tasks are gone" wl_gone "$wl"
	check_eq "pages-*.img hold 0 bytes" "$(pages_img_bytes "$IMG")" 0
	khup_images | sed 's/^/#   image: /'
	check_eq "one sealed /dev/khup image" "$(khup_images | awk '{ print $2 }' | tr '\n' ' ')" "2 "
	held=$(khup_images | awk '{ print $3 }')
	expected=$(kv "$wl/ready" pages)
	note "image holds ${held:-?} pages; the workload's regions are $expected pages"
	check "the image holds at least the workload's pages" test "${held:-0}" -ge "$expected"
	check "the image holds the pages the plugin pinned" \
		grep -q "Sealed /dev/khup image .* $held pages" "$IMG/dump.log"
	echo "$held" >"$OUT/held"
	date +%s%N >"$OUT/kexec-start"
}

stage2() {
	local wl=$OUT/wl held before after low t0 t1 sampler
	held=$(cat "$OUT/held")
	t0=$(date +%s%N)
	check "module loads after kexec" insmod "$(khup_ko)"
	t1=$(date +%s%N)
	note "module load: $(((t1 - t0) / 1000000)) ms"
	khup_images | sed 's/^/#   image: /'
	check_eq "the image came over the kexec with every page" "$(khup_images | awk '{ print $2 " " $3 }')" "3 $held"

	before=$(memfree_kb)
	echo "$before" >"$OUT/memfree.low"
	(
		low=$before
		while [ ! -e "$OUT/restore-done" ]; do
			m=$(memfree_kb)
			if [ "$m" -lt "$low" ]; then
				low=$m
				echo "$low" >"$OUT/memfree.low"
			fi
			sleep 0.05
		done
	) &
	sampler=$!
	t0=$(date +%s%N)
	check "criu restore --kho" criu_run restore.log restore --kho -D "$IMG" --restore-detached
	t1=$(date +%s%N)
	touch "$OUT/restore-done"
	wait "$sampler"
	note "restore -> running: $(((t1 - t0) / 1000000)) ms"
	show_log "$IMG/restore.log"
	check_eq "restore released the image: the module holds no pages" "$(khup_images | wc -l)" 0

	low=$(cat "$OUT/memfree.low")
	after=$(memfree_kb)
	note "MemFree (+pcp) before restore ${before} kB, lowest during ${low} kB, after ${after} kB; image $((held * 4)) kB"
	check "memory did not double during the restore (dip < 3/4 of the image)" \
		test $((before - low)) -lt $((held * 4 * 3 / 4))
	check "memory did not double after the restore (within 64 MiB)" \
		test $((before - after)) -lt 65536

	check "report after restore" wl_report "$wl" report.after
	check "every region's checksum is intact (as recorded before kexec)" wl_verify "$wl" "$wl/report.after"
	check "threads and child ran on" wl_advanced "$wl" "$wl/report.before" "$wl/report.after"
	sleep 1
	check "report again" wl_report "$wl" report.later
	check "threads and child keep running" wl_advanced "$wl" "$wl/report.after" "$wl/report.later"
	wl_stop "$wl"
	check "rmmod" rmmod khup
}
