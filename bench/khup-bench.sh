# SPDX-License-Identifier: GPL-2.0-only
# benchmark: khup vs CRIU-to-disk across kexec, plus CRIU-to-tmpfs and memcpy references (bench/run drives it)
#
# A VM "test" of tests/vm/run, parameterised by the host's environment:
#   BENCH_MIB=N      workload size in MiB (default 64)
#   BENCH_THP=0|1    4 KiB pages (MADV_NOHUGEPAGE, THP "never") or THP
#   BENCH_REPS=N     repetitions (default 3)
# The host side reads them when it sources this file for VM_*; they reach
# the guest on the kernel command line (khupbench.cfg=MIB:THP:REPS), which
# init passes on to every kexec'd stage.
#
# Stages (REPS + 1 of them, one kexec between each):
#   stage 1        format /dev/vda (ext4); references: REPS x (CRIU dump to
#                  tmpfs + restore, no kexec) and REPS x in-process memcpy;
#                  then rep 1's dumps: "disk" (stock CRIU to ext4, synced),
#                  "luo" (stock CRIU to tmpfs, the images copied into
#                  memfds preserved by LUO, bench/luo-images), then "khup"
#                  (criu dump --kho, small images on the ext4)
#   stage k        insmod khup (this claims the preserved pages), mount the
#                  ext4; rep k-1's restores: khup, luo (from the preserved
#                  memfds in place), then disk (after drop_caches); then
#                  rep k's dumps as in stage 1
#   stage REPS+1   the last restores
# Every number goes to $OUT/bench.kv as "REP MODE KEY VALUE" (times in ns,
# sizes in bytes). Timestamps that must span kexec come from files in $OUT:
# their mtime is the host's clock (9p), the guest reads it with stat.
BENCH_MIB=${BENCH_MIB:-64}
BENCH_THP=${BENCH_THP:-0}
BENCH_REPS=${BENCH_REPS:-3}
if [ -n "${KHUP_TOP:-}" ] && [ -n "${STAGE:-}" ]; then
	# in the guest: the host's values come on the command line
	for kv in $(cat /proc/cmdline); do
		case "$kv" in khupbench.cfg=*) IFS=: read -r BENCH_MIB BENCH_THP BENCH_REPS <<<"${kv#*=}" ;; esac
	done
	. "$KHUP_TOP/tests/vm/progs/criu-kho.sh"
	BW=$KHUP_BUILD/bench/bench-workload
	LUO=$KHUP_BUILD/bench/luo-images
	NL=$KHUP_BUILD/progs/khup-nl
	MNT=/tmp/bench
fi
THP=nothp
[ "$BENCH_THP" = 1 ] && THP=thp
VM_STAGES=$((BENCH_REPS + 1))
# liveupdate=on: the LUO-memfd baseline (LUO is off unless asked for)
VM_CMDLINE="khupbench.cfg=$BENCH_MIB:$BENCH_THP:$BENCH_REPS liveupdate=on"
VM_DISK=$((BENCH_MIB * 2 + 512))M
VM_TIMEOUT=${BENCH_TIMEOUT:-$((900 + BENCH_MIB * 3 * (BENCH_REPS + 1)))}

now() { date +%s%N; }
# mtime of a file in $OUT, in ns of the host's clock
host_ns() { stat -c %.9Y "$1" | tr -d .; }
# put REP MODE KEY VALUE
put() { echo "$1 $2 $3 $4" >>"$OUT/bench.kv"; }
# sectors written to /dev/vda so far
vda_written() { awk '{ print $7 }' /sys/block/vda/stat; }

# Work counts, hardware-independent: vmstat counters and the disk's
# sectors, as deltas over a phase (PHASE_vm_KEY, PHASE_sectors_*).
VM_KEYS="pgfault pgmajfault pgalloc_dma32 pgalloc_normal pgalloc_movable pgfree pgmigrate_success compact_stall thp_fault_alloc thp_fault_fallback thp_collapse_alloc"
# work_snap FILE: the counters now
work_snap() {
	{
		awk -v keys="$VM_KEYS" 'BEGIN { n = split(keys, k, " "); for (i = 1; i <= n; i++) want[k[i]] = 1 }
			$1 in want { print $1, $2 }' /proc/vmstat
		awk '{ print "sectors_read", $3; print "sectors_written", $7 }' /sys/block/vda/stat
	} | LC_ALL=C sort >"$1"
}
# work_put REP MODE PHASE FILE: put the deltas since work_snap FILE
work_put() {
	local k a b
	work_snap "$4.now"
	while read -r k a b; do
		case $k in sectors_*) put "$1" "$2" "$3_$k" $((b - a)) ;; *) put "$1" "$2" "$3_vm_$k" $((b - a)) ;; esac
	done < <(LC_ALL=C join "$4" "$4.now")
	rm -f "$4" "$4.now"
}

# stat NAME: one statistic of the module
nlstat() { "$NL" stats | awk -v k="$1" '$1 == k { print $2 }'; }
put_stats() {
	"$NL" stats | while read -r k v; do put "$1" "$2" "stat_$k" "$v"; done
}

# bw_start DIR PIDBASE: start the workload; its pid is above PIDBASE
bw_start() {
	rm -rf "$1"
	mkdir -p "$1"
	echo $(($2 + RANDOM % 1000)) >/proc/sys/kernel/ns_last_pid
	"$BW" run "$1" "$BENCH_MIB" "$THP" >"$1/launcher.log" 2>&1 &
	wait_file "$1/ready" 1800 || { cat "$1/error" 2>/dev/null; return 1; }
}

# bw_verify DIR REP MODE: the restored workload's checksum is the dumped one
bw_verify() {
	local pid
	pid=$(kv "$1/ready" pid)
	rm -f "$1/report"
	kill -USR1 "$pid" || return 1
	wait_file "$1/report" 1800 || return 1
	put "$2" "$3" huge_kb_after "$(kv "$1/report" huge_kb)"
	[ "$(kv "$1/report" sum)" = "$(kv "$1/ready" sum)" ] && [ "$(kv "$1/report" ok)" = 1 ]
}

# bw_gone DIR: the dumped workload's pid is free again (its launcher reaps it)
bw_gone() {
	local pid i
	pid=$(kv "$1/ready" pid)
	for ((i = 0; i < 600; i++)); do
		[ -d "/proc/$pid" ] || return 0
		sleep 0.05
	done
	return 1
}

# bw_kill DIR: end the workload and wait until its memory is gone
bw_kill() {
	local pid i
	pid=$(kv "$1/ready" pid)
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 600; i++)); do
		[ -d "/proc/$pid" ] || return 0
		grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null && return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
}

# memwatch_start / memwatch_stop REP MODE: lowest MemFree during a restore
memwatch_start() {
	rm -f /tmp/memwatch.stop /tmp/memwatch.out
	"$BW" memwatch /tmp/memwatch.stop /tmp/memwatch.out &
	MEMWATCH=$!
	sleep 0.05
}
# memwatch_stop REP MODE: sets MW_EXTRA (bytes: MemFree before - lowest)
memwatch_stop() {
	local first low
	touch /tmp/memwatch.stop
	wait "$MEMWATCH"
	first=$(kv /tmp/memwatch.out first_kb)
	low=$(kv /tmp/memwatch.out low_kb)
	put "$1" "$2" memfree_before_b $((first * 1024))
	put "$1" "$2" memfree_low_b $((low * 1024))
	MW_EXTRA=$(((first - low) * 1024))
}

stage_setup() {
	local t0 t1
	if [ "$BENCH_THP" = 1 ]; then
		echo madvise >/sys/kernel/mm/transparent_hugepage/enabled
	else
		echo never >/sys/kernel/mm/transparent_hugepage/enabled
	fi
	note "bench: ${BENCH_MIB} MiB, $THP, rep/stage $STAGE of $VM_STAGES, $(uname -r), THP $(cat /sys/kernel/mm/transparent_hugepage/enabled)"
	need_plugin
	check "bench-workload is built (bench/run builds it)" test -x "$BW"
	# CRIU, its libraries and the plugin come over 9p: read them once so
	# that the first restore after boot (khup's) is not charged for it
	"$CRIU" --version >/dev/null 2>&1
	cat "$CRIU" "$KHUP_PLUGIN_DIR"/*.so "$BW" >/dev/null 2>&1
	t0=$(now)
	check "module loads" insmod "$(khup_ko)"
	t1=$(now)
	MODULE_NS=$((t1 - t0))
	mkdir -p "$MNT"
	if [ "$STAGE" = 1 ]; then
		check "mkfs.ext4 /dev/vda" mkfs.ext4 -q -F /dev/vda
	fi
	t0=$(now)
	check "mount the ext4 disk" mount -t ext4 /dev/vda "$MNT"
	t1=$(now)
	MOUNT_NS=$((t1 - t0))
}

# references REP: CRIU to tmpfs without kexec, and memcpy
references() {
	local r=$1 wl=/tmp/ref-wl img=/tmp/ref-img pid t0 t1 t2
	check "ref $r: workload starts" bw_start "$wl" 15000
	pid=$(kv "$wl/ready" pid)
	put "$r" tmpfs pages "$(kv "$wl/ready" pages)"
	put "$r" tmpfs huge_kb "$(kv "$wl/ready" huge_kb)"
	rm -rf "$img"
	mkdir -p "$img"
	work_snap /tmp/work
	t0=$(now)
	check "ref $r: criu dump to tmpfs" "$CRIU" dump -t "$pid" -D "$img" -v2 -o dump.log
	t1=$(now)
	work_put "$r" tmpfs dump /tmp/work
	bw_gone "$wl"
	put "$r" tmpfs dump_ns $((t1 - t0))
	put "$r" tmpfs image_bytes "$(du -sb "$img" | cut -f1)"
	memwatch_start
	work_snap /tmp/work
	t1=$(now)
	check "ref $r: criu restore from tmpfs" "$CRIU" restore -D "$img" --restore-detached -v2 -o restore.log
	t2=$(now)
	work_put "$r" tmpfs restore /tmp/work
	memwatch_stop "$r" tmpfs
	put "$r" tmpfs restore_extra_b $((MW_EXTRA - BENCH_MIB * 1048576))
	put "$r" tmpfs restore_ns $((t2 - t1))
	check "ref $r: tmpfs-restored workload intact" bw_verify "$wl" "$r" tmpfs
	bw_kill "$wl"
	rm -rf "$img"

	"$BW" memcpy "$BENCH_MIB" >/tmp/memcpy.out
	check "ref $r: memcpy ran" test -s /tmp/memcpy.out
	put "$r" memcpy copy_ns "$(kv /tmp/memcpy.out memcpy_ns)"
	put "$r" memcpy copy_fault_ns "$(kv /tmp/memcpy.out memcpy_fault_ns)"
}

# dump_disk REP: stock CRIU dump to the ext4 disk, synced
dump_disk() {
	local r=$1 wl=$MNT/disk-wl-$r img=$MNT/disk-img-$r pid w0 w1 t0 t1
	check "rep $r disk: workload starts" bw_start "$wl" 20000
	pid=$(kv "$wl/ready" pid)
	put "$r" disk pages "$(kv "$wl/ready" pages)"
	put "$r" disk huge_kb "$(kv "$wl/ready" huge_kb)"
	mkdir -p "$img"
	sync
	w0=$(vda_written)
	work_snap /tmp/work
	t0=$(now)
	check "rep $r disk: criu dump to ext4" "$CRIU" dump -t "$pid" -D "$img" -v2 -o dump.log
	sync
	t1=$(now)
	work_put "$r" disk dump /tmp/work
	w1=$(vda_written)
	bw_gone "$wl"
	put "$r" disk dump_ns $((t1 - t0))
	put "$r" disk storage_written_b $(((w1 - w0) * 512))
	put "$r" disk pages_img_b "$(pages_img_bytes "$img")"
	put "$r" disk image_bytes "$(du -sb "$img" | cut -f1)"
	check "rep $r disk: pages-*.img hold the workload" test "$(pages_img_bytes "$img")" -ge $((BENCH_MIB * 1048576))
}

# dump_luo REP: the LUO-memfd baseline (the workload's own directory on the
# ext4 disk, as for the other modes: it must outlive the kexec). Stock CRIU
# dumps to tmpfs, then
# luo-images copies every image into a memfd preserved by LUO (session
# luo-REP) and deletes the tmpfs copy; a process it leaves holds the
# session open until the kexec. The dump is both steps; the peak memory
# beyond the dumped process is the image (tmpfs, then memfd), measured.
dump_luo() {
	local r=$1 wl=$MNT/luo-wl-$r img=/tmp/luo-img-$r pid t0 t1 t2
	check "rep $r luo: workload starts" bw_start "$wl" 25000
	pid=$(kv "$wl/ready" pid)
	put "$r" luo pages "$(kv "$wl/ready" pages)"
	put "$r" luo huge_kb "$(kv "$wl/ready" huge_kb)"
	rm -rf "$img"
	mkdir -p "$img"
	memwatch_start
	work_snap /tmp/work
	t0=$(now)
	check "rep $r luo: criu dump to tmpfs" "$CRIU" dump -t "$pid" -D "$img" -v2 -o dump.log
	t1=$(now)
	check "rep $r luo: images into LUO-preserved memfds" \
		bash -c "'$LUO' save luo-$r '$img' >/tmp/luo-save-$r.out"
	t2=$(now)
	work_put "$r" luo dump /tmp/work
	memwatch_stop "$r" luo
	bw_gone "$wl"
	put "$r" luo dump_ns $((t2 - t0))
	put "$r" luo dump_criu_ns $((t1 - t0))
	put "$r" luo dump_copy_ns $((t2 - t1))
	put "$r" luo image_bytes "$(kv "/tmp/luo-save-$r.out" bytes)"
	put "$r" luo pages_img_b "$(kv "/tmp/luo-save-$r.out" bytes)"
	put "$r" luo storage_written_b 0
	# the workload's memory went away during the dump: add it back
	put "$r" luo dump_extra_b $((MW_EXTRA + BENCH_MIB * 1048576))
	check "rep $r luo: the images are only in the memfds now" \
		test -z "$(ls -A "$img")"
}

# restore_luo REP: the memfds retrieved in place, CRIU reads them by path
restore_luo() {
	local r=$1 wl=$MNT/luo-wl-$r img=/tmp/luo-img-$r t0 t1 t2 holder
	put "$r" luo handover_ns $(($(host_ns "$OUT/stage$STAGE.started") - $(host_ns "$OUT/t.end.$r")))
	memwatch_start
	work_snap /tmp/work
	t0=$(now)
	check "rep $r luo: memfds retrieved from LUO" \
		bash -c "'$LUO' restore luo-$r '$img' >/tmp/luo-restore-$r.out"
	t1=$(now)
	check "rep $r luo: criu restore from the memfds" "$CRIU" restore -D "$img" --restore-detached -v2 -o /tmp/luo-restore-$r.log
	t2=$(now)
	work_put "$r" luo restore /tmp/work
	memwatch_stop "$r" luo
	put "$r" luo attach_ns $((t1 - t0))
	put "$r" luo restore_ns $((t2 - t1))
	put "$r" luo restore_extra_b $((MW_EXTRA - BENCH_MIB * 1048576))
	check "rep $r luo: restored workload intact" bw_verify "$wl" "$r" luo
	bw_kill "$wl"
	holder=$(kv "/tmp/luo-restore-$r.out" holder)
	[ -z "$holder" ] || kill "$holder"
	rm -rf "$img"
}

# kho_meta REP: bytes of the khup KHO node and its extent tables
kho_meta() {
	local r=$1 blob=/sys/kernel/debug/kho/out/sub_fdts/khup fdt=/tmp/khup.dtb node=0 tables=0 alloc=0 ext=0
	local img task sz n o
	cp "$blob" "$fdt" || return 1
	node=$(stat -c %s "$fdt")
	for img in $(fdtget -l "$fdt" /); do
		for task in $(fdtget -l "$fdt" "/$img"); do
			read -r hi lo < <(fdtget -t u "$fdt" "/$img/$task" table-size)
			sz=$(((hi << 32) + lo))
			read -r hi lo < <(fdtget -t u "$fdt" "/$img/$task" nr-extents)
			ext=$((ext + (hi << 32) + lo))
			tables=$((tables + sz))
			# kho_alloc_preserve() takes a folio of order get_order(size)
			n=$(((sz + 4095) / 4096)) o=1
			while [ "$o" -lt "$n" ]; do o=$((o * 2)); done
			alloc=$((alloc + o * 4096))
		done
	done
	put "$r" khup meta_node_b "$node"
	put "$r" khup meta_tables_b "$tables"
	put "$r" khup meta_alloc_b $((alloc + (node + 4095) / 4096 * 4096))
	put "$r" khup extents "$ext"
}

# dump_khup REP: criu dump --kho; the small images go to the ext4 disk
dump_khup() {
	local r=$1 wl=$MNT/khup-wl-$r img=$MNT/khup-img-$r pid w0 w1 t0 t1 p0 pn0 s0 sn0 c0
	check "rep $r khup: workload starts" bw_start "$wl" 30000
	pid=$(kv "$wl/ready" pid)
	put "$r" khup pages "$(kv "$wl/ready" pages)"
	put "$r" khup huge_kb "$(kv "$wl/ready" huge_kb)"
	mkdir -p "$img"
	# Outside the downtime, as khup-upgrade does: move the workload's
	# pages out of KHO scratch, so the pin below migrates (almost) none.
	p0=$(nlstat prepare_ns) c0=$(nlstat prepare_migrated)
	check "rep $r khup: khupctl prepare" bash -c "'$KHUP_BUILD/tools/khupctl' prepare --tree $pid >/dev/null"
	put "$r" khup prepare_ns $(($(nlstat prepare_ns) - p0))
	put "$r" khup prepare_migrated $(($(nlstat prepare_migrated) - c0))
	p0=$(nlstat pin_ns) pn0=$(nlstat pinned) s0=$(nlstat seal_ns) sn0=$(nlstat preserved) c0=$(nlstat cma_migrated)
	sync
	w0=$(vda_written)
	work_snap /tmp/work
	t0=$(now)
	check "rep $r khup: criu dump --kho" "$CRIU" dump --kho -t "$pid" -D "$img" --libdir "$KHUP_PLUGIN_DIR" -v2 -o dump.log
	sync
	t1=$(now)
	work_put "$r" khup dump /tmp/work
	w1=$(vda_written)
	bw_gone "$wl"
	show_log "$img/dump.log"
	put "$r" khup dump_ns $((t1 - t0))
	put "$r" khup storage_written_b $(((w1 - w0) * 512))
	put "$r" khup pages_img_b "$(pages_img_bytes "$img")"
	put "$r" khup image_bytes "$(du -sb "$img" | cut -f1)"
	put "$r" khup pin_ns $(($(nlstat pin_ns) - p0))
	put "$r" khup pinned $(($(nlstat pinned) - pn0))
	put "$r" khup seal_ns $(($(nlstat seal_ns) - s0))
	put "$r" khup preserved $(($(nlstat preserved) - sn0))
	put "$r" khup cma_migrated $(($(nlstat cma_migrated) - c0))
	put "$r" khup kmem_bytes "$(nlstat kmem_bytes)"
	check "rep $r khup: pages-*.img hold 0 bytes" test "$(pages_img_bytes "$img")" -eq 0
	check "rep $r khup: KHO metadata measured" kho_meta "$r"
}

# restore_khup REP: the module already claimed the pages at insmod
restore_khup() {
	local r=$1 wl=$MNT/khup-wl-$r img=$MNT/khup-img-$r t0 t1 extra
	put "$r" khup handover_ns $(($(host_ns "$OUT/stage$STAGE.started") - $(host_ns "$OUT/t.end.$r")))
	put "$r" khup attach_ns "$MODULE_NS"
	put "$r" khup module_restore_ns "$(nlstat restore_ns)"
	put "$r" khup restored "$(nlstat restored)"
	memwatch_start
	work_snap /tmp/work
	t0=$(now)
	check "rep $r khup: criu restore --kho" "$CRIU" restore --kho -D "$img" --restore-detached --libdir "$KHUP_PLUGIN_DIR" -v2 -o restore.log
	t1=$(now)
	work_put "$r" khup restore /tmp/work
	memwatch_stop "$r" khup
	extra=$MW_EXTRA
	show_log "$img/restore.log"
	put "$r" khup restore_ns $((t1 - t0))
	put "$r" khup restore_extra_b "$extra"
	check "rep $r khup: restored workload intact" bw_verify "$wl" "$r" khup
	bw_kill "$wl"
	check_eq "rep $r khup: the module holds no pages after restore" "$(khup_images | wc -l)" 0
	cp "$img/restore.log" "$OUT/khup-restore-$r.log" 2>/dev/null
	rm -rf "$img"
}

# restore_disk REP: stock CRIU from the ext4 disk, guest page cache dropped
restore_disk() {
	local r=$1 wl=$MNT/disk-wl-$r img=$MNT/disk-img-$r t0 t1 extra
	put "$r" disk handover_ns $(($(host_ns "$OUT/stage$STAGE.started") - $(host_ns "$OUT/t.end.$r")))
	put "$r" disk attach_ns "$MOUNT_NS"
	sync
	echo 3 >/proc/sys/vm/drop_caches
	memwatch_start
	work_snap /tmp/work
	t0=$(now)
	check "rep $r disk: criu restore from ext4" "$CRIU" restore -D "$img" --restore-detached -v2 -o restore.log
	t1=$(now)
	work_put "$r" disk restore /tmp/work
	memwatch_stop "$r" disk
	extra=$MW_EXTRA
	put "$r" disk restore_ns $((t1 - t0))
	# what the restore needed beyond the process's own memory (page cache)
	put "$r" disk restore_extra_b $((extra - BENCH_MIB * 1048576))
	check "rep $r disk: restored workload intact" bw_verify "$wl" "$r" disk
	bw_kill "$wl"
	rm -rf "$img"
}

bench_stage() {
	local r
	stage_setup
	if [ "$STAGE" = 1 ]; then
		for ((r = 1; r <= BENCH_REPS; r++)); do references "$r"; done
	else
		r=$((STAGE - 1))
		restore_khup "$r"
		restore_luo "$r"
		restore_disk "$r"
	fi
	if [ "$STAGE" -le "$BENCH_REPS" ]; then
		r=$STAGE
		dump_disk "$r"
		dump_luo "$r"
		dump_khup "$r"
		umount "$MNT"
		sync
		touch "$OUT/t.end.$r"
	fi
	note "bench: stage $STAGE done"
}

for ((_s = 1; _s <= VM_STAGES; _s++)); do
	eval "stage$_s() { bench_stage; }"
done
unset _s
