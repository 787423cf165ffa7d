# SPDX-License-Identifier: GPL-2.0-only
#
# lib.sh: what the benchmarks' VM tests share (bench/khup-bench.sh,
# bench/memcached-bench.sh, bench/dump-split.sh): their parameters, the
# boot's setup, the work counts and the memory watcher, and every mode's
# dump and restore (khup, lazy, luo, disk, disk-D; see khup-bench.sh).
# A test sets its parameters, sources this file (on the host, for VM_*;
# in the guest, for everything) and defines its workload:
#   app_start REP MODE DIR PIDBASE  start it (quiesce first) with pids
#                                   above PIDBASE, put its pages
#   app_pid DIR                     its pid
#   app_answer REP MODE DIR T0      right after a restore returned: the
#                                   client's first answer(s), from T0
#   app_verify DIR REP MODE         its data is the dumped one
# and optionally bench_first_stage (stage 1, before the dumps). Optional
# settings: BENCH_MODES (default "khup lazy luo disk"; a disk-D mode is
# added per BENCH_DISKS), BENCH_PREFIX (put before every mode in
# bench.kv), BENCH_LOCAL and BENCH_LOCAL_VARS (more programs localize
# copies to tmpfs), BENCH_WHAT (a note).
#
# Parameters, from the host's environment:
#   BENCH_MIB=N      workload size in MiB (default 64)
#   BENCH_THP=0|1    4 KiB pages (MADV_NOHUGEPAGE, THP "never") or THP
#   BENCH_REPS=N     repetitions (default 3)
#   BENCH_DISKS="D.." names of the throttled reference disks, in the order
#                    of tests/vm/run's --disk-throttle options (bench/run:
#                    "nvme sata"); each adds a mode disk-D on the disk with
#                    serial khup-diskN. Empty: only the unthrottled disk
#   BENCH_THROTTLE="D:RB:WB:RI:WI.." each reference disk's limits (read
#                    and write bytes and requests per second: the device's
#                    speed / F), set as io.max of mode disk-D's cgroup
#                    (cgroups_setup); every disk of BENCH_DISKS needs one
# The host side reads them when it sources the test for VM_*; they reach
# the guest on the kernel command line (khupbench.cfg=MIB:THP:REPS,
# khupbench.disks=D,D and khupbench.throttle=D:RB:WB:RI:WI,..), which init
# passes on to every kexec'd stage.
# Every number goes to $OUT/bench.kv as "REP MODE KEY VALUE" (times in ns,
# sizes in bytes). Spans within a boot are the guest's CLOCK_MONOTONIC;
# kexec + boot is read from the TSC on both sides (put_handover).
#
# Boots: KHO's boot pays for every preserved unit (LUO's memfd folios one
# by one, khup's runs of pages as blocks: doc/module.md), so a mode must
# not be charged for another's preserved memory. Each repetition has one
# boot per group of boot_groups: the LUO baseline's memfds cross a kexec
# of their own; khup, lazy and the disk modes share one (khup and lazy
# both hand over a khup image; the disk modes preserve nothing). Stage 1
# dumps repetition 1's first group; each later stage restores what the
# previous one dumped, then dumps the next group (or repetition).
BENCH_MIB=${BENCH_MIB:-64}
BENCH_THP=${BENCH_THP:-0}
BENCH_REPS=${BENCH_REPS:-3}
BENCH_MODES=${BENCH_MODES:-khup lazy luo disk}
if [ -n "${KHUP_TOP:-}" ] && [ -n "${STAGE:-}" ]; then
	# in the guest: the host's values come on the command line
	BENCH_DISKS= BENCH_THROTTLE=
	for kv in $(cat /proc/cmdline); do
		case "$kv" in
		khupbench.cfg=*) IFS=: read -r BENCH_MIB BENCH_THP BENCH_REPS <<<"${kv#*=}" ;;
		khupbench.disks=*) BENCH_DISKS=$(echo "${kv#*=}" | tr , ' ') ;;
		khupbench.throttle=*) BENCH_THROTTLE=$(echo "${kv#*=}" | tr , ' ') ;;
		esac
	done
	. "$KHUP_TOP/tests/vm/progs/criu-kho.sh"
	# the lazy-pages daemon and the restore log warnings and errors only
	CRIU_VERBOSITY=-v2
	BW=$KHUP_BUILD/bench/bench-workload
	LUO=$KHUP_BUILD/bench/luo-images
	NL=$KHUP_BUILD/progs/khup-nl
	MNT=/tmp/bench
fi
THP=nothp
[ "$BENCH_THP" = 1 ] && THP=thp
# boot_groups: the groups of modes that cross a kexec together, one per
# line ("khup lazy disk", "luo"; the disk-D modes go with disk)
boot_groups() {
	local m main= luo=
	for m in $BENCH_MODES; do
		if [ "$m" = luo ]; then luo=luo; else main+="${main:+ }$m"; fi
	done
	[ -z "$main" ] || echo "$main"
	[ -z "$luo" ] || echo "$luo"
}
BOOT_NG=$(boot_groups | wc -l)
VM_STAGES=$((BENCH_REPS * BOOT_NG + 1))
# liveupdate=on: the LUO-memfd baseline (LUO is off unless asked for)
VM_CMDLINE="khupbench.cfg=$BENCH_MIB:$BENCH_THP:$BENCH_REPS liveupdate=on"
[ -z "${BENCH_DISKS:-}" ] || VM_CMDLINE+=" khupbench.disks=$(echo $BENCH_DISKS | tr ' ' ,)"
[ -z "${BENCH_THROTTLE:-}" ] || VM_CMDLINE+=" khupbench.throttle=$(echo $BENCH_THROTTLE | tr ' ' ,)"
VM_DISK=$((BENCH_MIB * 2 + 512))M
VM_TIMEOUT=${BENCH_TIMEOUT:-$((1200 + BENCH_MIB * 6 * (BENCH_REPS + 1)))}

now() { date +%s%N; }
# mtime of a file in $OUT, in ns of the host's clock
host_ns() { stat -c %.9Y "$1" | tr -d .; }
# put REP MODE KEY VALUE
# (the mode prefixed with BENCH_PREFIX: the memcached run's rows are its own)
put() { echo "$1 ${BENCH_PREFIX:-}$2 $3 $4" >>"$OUT/bench.kv"; }
# put_handover REP MODE: kexec + boot, from the end of the previous
# stage's dumps (slot $((STAGE - 1))) in the old kernel to this stage's
# start, in guest time: the TSC readings on both sides (bench-workload
# tsc; under -icount the TSC counts guest instructions, and a kexec does
# not reset it). The host clock's span (the 9p files' mtimes) is kept as
# handover_host_ns for reference only. boot_images: how many modes'
# images crossed that kexec (the report's share of the boot's growth).
put_handover() {
	local t0 t1 rate slot=$((STAGE - 1)) m n=0
	for m in $(slot_modes "$slot"); do
		case $m in khup | lazy | luo) n=$((n + 1)) ;; esac
	done
	put "$1" "$2" boot_images "$n"
	t0=$(awk '$1 == "tsc" { print $2 }' "$OUT/tsc.end.$slot")
	read -r t1 rate < <(awk '$1 == "tsc" { t = $2 } $1 == "tsc_per_us" { r = $2 } END { print t, r }' "$OUT/tsc.start.$STAGE")
	if [ -n "$t0" ] && [ -n "$t1" ] && [ -n "$rate" ] && [ "$t1" -gt "$t0" ]; then
		put "$1" "$2" handover_ns "$(awk -v a="$t0" -v b="$t1" -v r="$rate" 'BEGIN { printf "%.0f", (b - a) * 1000 / r }')"
	else
		check "the TSC counted across the kexec (${t0:-none} -> ${t1:-none})" false
	fi
	put "$1" "$2" handover_host_ns $(($(host_ns "$OUT/stage$STAGE.started") - $(host_ns "$OUT/t.end.$slot")))
}
# sectors written to the virtio disk DEV (vda, vdb, ...) so far
dev_written() { awk '{ print $7 }' "/sys/block/$1/stat"; }

# slot_rep SLOT: the repetition whose dumps slot SLOT (1..REPS x groups,
# the stage that dumps them) holds
slot_rep() { echo $((($1 - 1) / BOOT_NG + 1)); }

# slot_modes SLOT: the modes slot SLOT dumps, in the order it dumps and
# restores them: odd repetitions in this order, even ones in the reverse,
# so that no mode is always first after a boot (or last, after the
# others' page cache)
slot_modes() {
	local m=($(boot_groups | sed -n "$((($1 - 1) % BOOT_NG + 1))p")) d
	if [ "${m[0]:-}" != luo ]; then
		for d in ${BENCH_DISKS:-}; do m+=("disk-$d"); done
	fi
	if (($(slot_rep "$1") % 2)); then
		echo "${m[*]}"
	else
		printf '%s\n' "${m[@]}" | tac | tr '\n' ' '
	fi
}

# disk_dev MODE: the block device of disk mode MODE, found by its serial
# (the guest's order of the virtio disks is not the command line's): disk
# is the VM_DISK one, which has none; disk-D is the one with serial
# khup-diskN, D being the Nth of BENCH_DISKS (tests/vm/run --disk-throttle)
disk_dev() {
	local d n=0 want= b
	for d in $BENCH_DISKS; do
		n=$((n + 1))
		[ "disk-$d" = "$1" ] && want=khup-disk$n
	done
	[ "$1" = disk ] || [ -n "$want" ] || return 1
	for b in /sys/block/vd*; do
		case $(cat "$b/serial" 2>/dev/null) in
		"$want") basename "$b"; return ;;
		khup-disk*) ;;
		*) [ -n "$want" ] || { basename "$b"; return; } ;;
		esac
	done
	return 1
}
# disk_mnt MODE: where disk mode MODE's ext4 is mounted (the workloads of
# every mode live on disk's, $MNT)
disk_mnt() { if [ "$1" = disk ]; then echo "$MNT"; else echo "$MNT-${1#disk-}"; fi; }

# The modes' cgroups (cgroup v2): each mode's workload, dumps and restores
# run in a cgroup of its own (mode_enter), so every mode pays the memory
# controller's charges alike, and a disk-D mode's cgroup has its reference
# disk's limits as io.max. blk-throttle holds a bio back on the guest's
# clock, which under -icount is the instruction count: the disk is slowed
# by F like the CPU at every moment. QEMU's throttle runs on the host's
# clock and, while the guest CPU is busy, lets a disk read ahead of it
# (doc/bench.md, "Reference disks"). A read is charged to the reader, the
# writeback of a dump's images to the cgroup that dirtied them
# (CONFIG_CGROUP_WRITEBACK), so CRIU's writes and the dump's sync count.
CG=/sys/fs/cgroup

# throttle_spec D: disk-D's limits from BENCH_THROTTLE, "RB:WB:RI:WI"
throttle_spec() {
	local m
	for m in $BENCH_THROTTLE; do
		[ "${m%%:*}" = "$1" ] && { echo "${m#*:}"; return 0; }
	done
	echo "no limits for disk-$1 in khupbench.throttle" >&2
	return 1
}

# cgroups_setup: mount cgroup v2, enable the memory and io controllers,
# make every mode's cgroup and set the disk-D modes' io.max (each boot)
cgroups_setup() {
	local m d spec rb wb ri wi dev want got
	mountpoint -q "$CG" || mount -t cgroup2 cgroup2 "$CG" || return 1
	echo "+memory +io" >"$CG/cgroup.subtree_control" || return 1
	for m in tmpfs $BENCH_MODES; do mkdir -p "$CG/bench-$m" || return 1; done
	for d in $BENCH_DISKS; do
		mkdir -p "$CG/bench-disk-$d" || return 1
		spec=$(throttle_spec "$d") || return 1
		IFS=: read -r rb wb ri wi <<<"$spec"
		dev=$(disk_dev "disk-$d") || { echo "no disk for disk-$d" >&2; return 1; }
		want="$(cat "/sys/block/$dev/dev") rbps=$rb wbps=$wb riops=$ri wiops=$wi"
		echo "$want" >"$CG/bench-disk-$d/io.max" || return 1
		got=$(cat "$CG/bench-disk-$d/io.max")
		[ "$got" = "$want" ] || { echo "disk-$d: io.max reads '$got', not '$want'" >&2; return 1; }
	done
}
# mode_enter MODE: this shell (and what it starts from now on) into MODE's
# cgroup; mode_leave: back to the root cgroup
mode_enter() {
	echo "$BASHPID" 2>/dev/null >"$CG/bench-$1/cgroup.procs" ||
		fail "into the cgroup of mode $1" "$CG/bench-$1: no such cgroup (cgroups_setup failed)"
}
mode_leave() { echo "$BASHPID" >"$CG/cgroup.procs"; }

# throttle_check D: disk-D's limits hold on the guest's clock, for reads
# (O_DIRECT from the device) and for the path a dump takes (writes through
# the page cache, then sync: the writeback is the dirtying cgroup's).
# blk-throttle lets a cgroup that was idle for a slice (100 ms) start with
# a slice's worth of its limit at once, so each transfer must take at
# least (bytes - limit x 0.1 s) / limit; 3 slices' worth is moved, at least
# 64 MiB. A lower bound on guest time, exact under -icount: no timing of
# the host is asserted.
throttle_check() {
	local d=$1 rb wb mib dev f t0 t1 min rc
	IFS=: read -r rb wb _ <<<"$(throttle_spec "$d")"
	dev=$(disk_dev "disk-$d")
	f=$(disk_mnt "disk-$d")/throttle-check
	mib=$(((rb > wb ? rb : wb) * 3 / 10 / 1048576 + 1))
	[ "$mib" -ge 64 ] || mib=64
	t0=$(now) rc=0
	(mode_enter "disk-$d" && dd if="/dev/$dev" of=/dev/null bs=1M count="$mib" iflag=direct status=none) || rc=$?
	t1=$(now)
	min=$(awk -v b=$((mib * 1048576)) -v l="$rb" 'BEGIN { printf "%.0f", (b - l / 10) / l * 1e9 }')
	check "disk-$d: $mib MiB read (O_DIRECT, exit $rc) in $(((t1 - t0) / 1000000)) ms, io.max allows no less than $((min / 1000000)) ms" \
		test "$rc" -eq 0 -a $((t1 - t0)) -ge "$min"
	sync
	t0=$(now) rc=0
	(mode_enter "disk-$d" && dd if=/dev/zero of="$f" bs=1M count="$mib" status=none && sync) || rc=$?
	t1=$(now)
	min=$(awk -v b=$((mib * 1048576)) -v l="$wb" 'BEGIN { printf "%.0f", (b - l / 10) / l * 1e9 }')
	check "disk-$d: $mib MiB written and synced (exit $rc) in $(((t1 - t0) / 1000000)) ms, io.max allows no less than $((min / 1000000)) ms" \
		test "$rc" -eq 0 -a $((t1 - t0)) -ge "$min"
	rm -f "$f"
	sync
}

# pid_base MODE: each mode's workload gets pids of its own
pid_base() {
	case $1 in
	disk) echo 20000 ;; luo) echo 25000 ;; khup) echo 30000 ;; lazy) echo 35000 ;;
	*) echo $((40000 + 5000 * $(printf '%s\n' $BENCH_DISKS | grep -nx "${1#disk-}" | cut -d: -f1))) ;;
	esac
}

# quiesce: the same starting point for every workload and every restore:
# dirty data written, page cache dropped, free memory compacted; then what
# every exec still reads from the 9p root, the dynamic loader (LOADERS,
# see localize), read again: a read over 9p waits for the host, and under
# -icount the wait counts in real time
quiesce() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	echo 1 >/proc/sys/vm/compact_memory
	# shellcheck disable=SC2086 # paths without spaces
	cat ${LOADERS:-} >/dev/null 2>&1 || true
}

# localize: copy the programs the dumps and restores run or restore (CRIU,
# its plugin, the workload, the action script's shell, insmod, mount,
# luo-images, khup-nl; BENCH_LOCAL: the test's own; BENCH_LOCAL_VARS:
# names of variables holding more), with the shared libraries they load,
# to the guest's tmpfs, and use the copies (the variables, PATH,
# LD_LIBRARY_PATH). On the 9p root every open of a file is a round trip to
# QEMU on the host, and under -icount the guest's wait counts in real
# time (with the host's load, restores of the same 32 MiB took 0.1 to
# 0.6 s; 9p was one of the waits).
# Every boot copies them again with their times (cp -p): a restored
# process maps the files it mapped at dump. The dynamic loader stays on
# 9p (one file per exec; LOADERS, which quiesce reads again).
LOCAL=/tmp/bench-local
localize() {
	local v f deps
	mkdir -p "$LOCAL/bin" "$LOCAL/lib" "$LOCAL/plugins" || return 1
	cp -p "$KHUP_PLUGIN_DIR"/*.so "$LOCAL/plugins/" || return 1
	BENCH_SH=$BASH
	for v in CRIU BW LUO NL BENCH_SH ${BENCH_LOCAL_VARS:-}; do
		cp -p "${!v}" "$LOCAL/bin/" || return 1
		printf -v "$v" '%s' "$LOCAL/bin/$(basename "${!v}")"
	done
	for f in "$(command -v insmod)" "$(command -v mount)" ${BENCH_LOCAL:-}; do
		cp -p "$f" "$LOCAL/bin/" || return 1
	done
	deps=$(ldd "$LOCAL"/bin/* "$LOCAL"/plugins/*.so 2>/dev/null)
	for f in $(awk '$2 == "=>" && $3 ~ /^\// { print $3 }' <<<"$deps" | sort -u); do
		cp -p "$f" "$LOCAL/lib/" || return 1
	done
	LOADERS=$(awk '$1 ~ /^\// { print $1 }' <<<"$deps" | sort -u | tr '\n' ' ')
	KHUP_PLUGIN_DIR=$LOCAL/plugins
	export LD_LIBRARY_PATH=$LOCAL/lib PATH=$LOCAL/bin:$PATH
}

# A restore's span ends when CRIU resumes the restored tasks, not when
# criu restore returns: what CRIU does after that (the khup plugin's
# commit, which frees the consumed pages, and its other clean-up) runs
# beside the restored workload. CRIU's post-resume action script
# (RESUME_SCRIPT) stamps the moment (restore_ns ends there;
# restore_exit_ns at criu's return) and starts the workload's first
# request (app_resume_cmd DIR), so that no mode's first answer waits for
# CRIU's exit either. Only bash's own EPOCHREALTIME, builtins and a
# subshell: a program would first have to be read. resume_arm DIR, before
# a restore's start is taken, prepares the request; the restore passes
# --action-script "$RESUME_SCRIPT".
RESUME_SCRIPT=/tmp/bench-resume.sh
RESUMED=/tmp/bench-resumed
resume_script() {
	cat >"$RESUME_SCRIPT" <<EOF
#!${BENCH_SH:-$BASH}
# CRIU action script of the benchmarks (bench/lib.sh)
[ "\${CRTOOLS_SCRIPT_ACTION:-}" = post-resume ] || exit 0
t=\${EPOCHREALTIME//[.,]/}
echo "\${t}000" >$RESUMED
# a subshell, not a program: nothing to read over 9p before the request
[ -z "\${BENCH_ON_RESUME:-}" ] || (eval "\$BENCH_ON_RESUME") </dev/null >/dev/null 2>&1 &
exit 0
EOF
	chmod +x "$RESUME_SCRIPT"
}
resume_arm() {
	rm -f "$RESUMED"
	BENCH_ON_RESUME=$(app_resume_cmd "$1")
	export BENCH_ON_RESUME
}
# put_restore REP MODE T0 T1: restore_ns (T0 to the tasks' resume) and
# restore_exit_ns (T0 to criu's return at T1)
put_restore() {
	local tr
	tr=$(cat "$RESUMED" 2>/dev/null) || tr=
	check "rep $1 $2: CRIU resumed the restored tasks (post-resume script)" test -n "$tr"
	put "$1" "$2" restore_ns $((${tr:-$4} - $3))
	put "$1" "$2" restore_exit_ns $(($4 - $3))
}

# Work counts, hardware-independent: vmstat counters and the disk's
# sectors, as deltas over a phase (PHASE_vm_KEY, PHASE_sectors_*).
VM_KEYS="pgfault pgmajfault pgalloc_dma32 pgalloc_normal pgalloc_movable pgfree pgmigrate_success compact_stall thp_fault_alloc thp_fault_fallback thp_collapse_alloc"
# The module's counters of a read-back (what the restorer or the
# lazy-pages daemon read through it, and the time spent in its read
# calls, copy and faults on the destination included) and of the commit
# that frees the consumed pages: where an eager restore's time goes
MOD_KEYS="read_bytes read_ns consumed commit_ns freed"
# work_snap FILE: the counters now
work_snap() {
	{
		awk -v keys="$VM_KEYS" 'BEGIN { n = split(keys, k, " "); for (i = 1; i <= n; i++) want[k[i]] = 1 }
			$1 in want { print $1, $2 }' /proc/vmstat
		# every virtio disk: a disk mode's images may be on any of them
		cat /sys/block/vd*/stat | awk '{ r += $3; w += $7 } END { print "sectors_read", r; print "sectors_written", w }'
		if [ -e /dev/khup ]; then
			"$NL" stats | awk -v keys="$MOD_KEYS" 'BEGIN { n = split(keys, k, " "); for (i = 1; i <= n; i++) want[k[i]] = 1 }
				$1 in want { print "mod_" $1, $2 }'
		fi
	} | LC_ALL=C sort >"$1"
}
# work_put REP MODE PHASE FILE: put the deltas since work_snap FILE
# (PHASE_vm_KEY, PHASE_sectors_*, PHASE_mod_KEY)
work_put() {
	local k a b
	work_snap "$4.now"
	while read -r k a b; do
		case $k in sectors_* | mod_*) put "$1" "$2" "$3_$k" $((b - a)) ;; *) put "$1" "$2" "$3_vm_$k" $((b - a)) ;; esac
	done < <(LC_ALL=C join "$4" "$4.now")
	rm -f "$4" "$4.now"
}

# stat NAME: one statistic of the module
nlstat() { "$NL" stats | awk -v k="$1" '$1 == k { print $2 }'; }


# app_gone DIR: the dumped workload's pid is free again (its parent, the
# launcher or init, reaps it)
app_gone() {
	local pid i
	pid=$(app_pid "$1")
	for ((i = 0; i < 600; i++)); do
		[ -d "/proc/$pid" ] || return 0
		sleep 0.05
	done
	return 1
}

# app_stop DIR: end the workload and wait until its memory is gone
app_stop() {
	local pid i
	pid=$(app_pid "$1")
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 600; i++)); do
		[ -d "/proc/$pid" ] || return 0
		grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null && return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
}

# memwatch_start / memwatch_stop REP MODE: lowest MemFree during a restore
# (sampled every 100 ms from /proc/meminfo: bench-workload memwatch)
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
	local t0 t1 m dev mnt rc
	if [ "$BENCH_THP" = 1 ]; then
		echo madvise >/sys/kernel/mm/transparent_hugepage/enabled
	else
		echo never >/sys/kernel/mm/transparent_hugepage/enabled
	fi
	# room for every mode's pid range (pid_base)
	echo 4194304 >/proc/sys/kernel/pid_max
	# /tmp holds the tmpfs and LUO modes' images. init mounts it with
	# tmpfs' default size, half of the RAM the kernel manages at that
	# moment: after a kexec the memory still preserved (the khup and LUO
	# images of the last repetition) is not counted, so at 1 GiB /tmp was
	# 930 MiB and the LUO baseline's dump failed with no space. No limit:
	# the benchmark sizes the guest for what it holds.
	check "/tmp without a size limit" mount -o remount,size=0 /tmp
	note "bench: ${BENCH_WHAT:-} ${BENCH_MIB} MiB, $THP, rep/stage $STAGE of $VM_STAGES, $(uname -r), THP $(cat /sys/kernel/mm/transparent_hugepage/enabled), reference disks: ${BENCH_DISKS:-none}"
	need_plugin
	check "bench-workload is built (bench/run builds it)" test -x "$BW"
	# not in check's subshell: it sets the variables of the copies
	rc=0
	localize || rc=$?
	check_eq "the programs of the dumps and restores copied to tmpfs" "$rc" 0
	cp "$(khup_ko)" "$LOCAL/khup.ko"
	resume_script
	t0=$(now)
	check "module loads" insmod "$LOCAL/khup.ko"
	t1=$(now)
	MODULE_NS=$((t1 - t0))
	declare -gA MOUNT_NS
	for m in disk $(for d in $BENCH_DISKS; do echo "disk-$d"; done); do
		dev=$(disk_dev "$m") || { fail "the disk of mode $m is there" "no virtio disk with its serial"; continue; }
		mnt=$(disk_mnt "$m")
		mkdir -p "$mnt"
		if [ "$STAGE" = 1 ]; then
			check "mkfs.ext4 /dev/$dev ($m)" mkfs.ext4 -q -F "/dev/$dev"
		fi
		t0=$(now)
		check "mount the ext4 disk of $m (/dev/$dev)" mount -t ext4 "/dev/$dev" "$mnt"
		t1=$(now)
		MOUNT_NS[$m]=$((t1 - t0))
	done
	check "cgroups of the modes, the reference disks' io.max" cgroups_setup
	# CRIU's first-run feature probe (/run/criu.kdat is per boot): paid
	# here, once, not by whichever mode restores first
	"$CRIU" check >/dev/null 2>&1 || true
}


# dump_disk REP MODE: stock CRIU dump to MODE's ext4 disk, synced
dump_disk() {
	local r=$1 m=$2 wl=$MNT/$2-wl-$1 img dev pid w0 w1 t0 t1
	img=$(disk_mnt "$m")/disk-img-$r
	dev=$(disk_dev "$m")
	check "rep $r $m: workload starts" app_start "$r" "$m" "$wl" "$(pid_base "$m")"
	pid=$(app_pid "$wl")
	mkdir -p "$img"
	sync
	w0=$(dev_written "$dev")
	work_snap /tmp/work
	t0=$(now)
	check "rep $r $m: criu dump to ext4 on /dev/$dev" "$CRIU" dump -t "$pid" -D "$img" -v2 -o dump.log
	sync
	t1=$(now)
	work_put "$r" "$m" dump /tmp/work
	w1=$(dev_written "$dev")
	app_gone "$wl"
	put "$r" "$m" dump_ns $((t1 - t0))
	put "$r" "$m" storage_written_b $(((w1 - w0) * 512))
	put "$r" "$m" pages_img_b "$(pages_img_bytes "$img")"
	put "$r" "$m" image_bytes "$(du -sb "$img" | cut -f1)"
	check "rep $r $m: pages-*.img hold the workload" test "$(pages_img_bytes "$img")" -ge $((BENCH_MIB * 1048576))
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
	check "rep $r luo: workload starts" app_start "$r" luo "$wl" "$(pid_base luo)"
	pid=$(app_pid "$wl")
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
	app_gone "$wl"
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
	put_handover "$r" luo
	quiesce
	memwatch_start
	work_snap /tmp/work
	resume_arm "$wl"
	t0=$(now)
	check "rep $r luo: memfds retrieved from LUO" \
		bash -c "'$LUO' restore luo-$r '$img' >/tmp/luo-restore-$r.out"
	t1=$(now)
	check "rep $r luo: criu restore from the memfds" "$CRIU" restore --action-script "$RESUME_SCRIPT" -D "$img" --restore-detached -v2 -o /tmp/luo-restore-$r.log
	t2=$(now)
	app_answer "$r" luo "$wl" "$t1"
	work_put "$r" luo restore /tmp/work
	memwatch_stop "$r" luo
	put "$r" luo attach_ns $((t1 - t0))
	put_restore "$r" luo "$t1" "$t2"
	put "$r" luo restore_extra_b $((MW_EXTRA - BENCH_MIB * 1048576))
	check "rep $r luo: restored workload intact" app_verify "$wl" "$r" luo
	app_stop "$wl"
	holder=$(kv "/tmp/luo-restore-$r.out" holder)
	[ -z "$holder" ] || kill "$holder"
	rm -rf "$img"
}

# kho_meta REP MODE: bytes of the khup KHO node and of the extent tables
# of MODE's image (named in $MNT/MODE-name-REP). The node holds every image
# preserved so far (khup's and lazy's): each is charged an equal share.
kho_meta() {
	local r=$1 m=$2 blob=/sys/kernel/debug/kho/out/sub_fdts/khup fdt=/tmp/khup.dtb node=0 tables=0 alloc=0 ext=0
	local img task sz n o nimg=0 name
	name=$(cat "$MNT/$m-name-$r")
	cp "$blob" "$fdt" || return 1
	node=$(stat -c %s "$fdt")
	for img in $(fdtget -l "$fdt" /); do
		nimg=$((nimg + 1))
		[ "$(fdtget -t s "$fdt" "/$img" image-name)" = "$name" ] || continue
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
	[ "$nimg" -gt 0 ] || return 1
	node=$((node / nimg))
	put "$r" "$m" meta_node_b "$node"
	put "$r" "$m" meta_tables_b "$tables"
	put "$r" "$m" meta_alloc_b $((alloc + (node + 4095) / 4096 * 4096))
	put "$r" "$m" extents "$ext"
}

# dump_khup REP MODE: criu dump --kho (MODE khup or lazy: the same dump,
# restored eagerly or lazily); the small images go to the ext4 disk. The
# image's name (khup-workload images) goes to $MNT/MODE-name-REP.
dump_khup() {
	local r=$1 m=$2 wl=$MNT/$2-wl-$1 img=$MNT/$2-img-$1 pid w0 w1 t0 t1 p0 pn0 s0 sn0 c0
	check "rep $r $m: workload starts" app_start "$r" "$m" "$wl" "$(pid_base "$m")"
	khup_images | awk '{ print $4 }' >/tmp/images.before
	pid=$(app_pid "$wl")
	mkdir -p "$img"
	# Outside the downtime, as khup-upgrade does: move the workload's
	# pages out of KHO scratch, so the pin below migrates (almost) none.
	p0=$(nlstat prepare_ns) c0=$(nlstat prepare_migrated)
	check "rep $r $m: khupctl prepare" bash -c "'$KHUP_BUILD/tools/khupctl' prepare --tree $pid >/dev/null"
	put "$r" "$m" prepare_ns $(($(nlstat prepare_ns) - p0))
	put "$r" "$m" prepare_migrated $(($(nlstat prepare_migrated) - c0))
	p0=$(nlstat pin_ns) pn0=$(nlstat pinned) s0=$(nlstat seal_ns) sn0=$(nlstat preserved) c0=$(nlstat cma_migrated)
	sync
	w0=$(dev_written "$(disk_dev disk)")
	work_snap /tmp/work
	t0=$(now)
	check "rep $r $m: criu dump --kho" "$CRIU" dump --kho -t "$pid" -D "$img" --libdir "$KHUP_PLUGIN_DIR" -v2 -o dump.log
	sync
	t1=$(now)
	work_put "$r" "$m" dump /tmp/work
	w1=$(dev_written "$(disk_dev disk)")
	app_gone "$wl"
	show_log "$img/dump.log"
	put "$r" "$m" dump_ns $((t1 - t0))
	put "$r" "$m" storage_written_b $(((w1 - w0) * 512))
	put "$r" "$m" pages_img_b "$(pages_img_bytes "$img")"
	put "$r" "$m" image_bytes "$(du -sb "$img" | cut -f1)"
	put "$r" "$m" pin_ns $(($(nlstat pin_ns) - p0))
	put "$r" "$m" pinned $(($(nlstat pinned) - pn0))
	put "$r" "$m" seal_ns $(($(nlstat seal_ns) - s0))
	put "$r" "$m" preserved $(($(nlstat preserved) - sn0))
	put "$r" "$m" cma_migrated $(($(nlstat cma_migrated) - c0))
	put "$r" "$m" kmem_bytes "$(nlstat kmem_bytes)"
	check "rep $r $m: pages-*.img hold 0 bytes" test "$(pages_img_bytes "$img")" -eq 0
	khup_images | awk '{ print $4 }' | grep -vxFf /tmp/images.before >"$MNT/$m-name-$r"
	check "rep $r $m: the dump made one image" test "$(wc -l <"$MNT/$m-name-$r")" -eq 1
	check "rep $r $m: KHO metadata measured" kho_meta "$r" "$m"
}

# image_gone REP MODE: MODE's image of REP is no longer in the module
image_gone() { ! khup_images | awk '{ print $4 }' | grep -qxFf "$MNT/$2-name-$1"; }

# restore_khup REP: the module already claimed the pages at insmod
restore_khup() {
	local r=$1 wl=$MNT/khup-wl-$1 img=$MNT/khup-img-$1 t0 t1 extra
	put_handover "$r" khup
	put "$r" khup attach_ns "$MODULE_NS"
	put "$r" khup module_restore_ns "$(nlstat restore_ns)"
	put "$r" khup restored "$(nlstat restored)"
	quiesce
	memwatch_start
	work_snap /tmp/work
	resume_arm "$wl"
	t0=$(now)
	check "rep $r khup: criu restore --kho" "$CRIU" restore --action-script "$RESUME_SCRIPT" --kho -D "$img" --restore-detached --libdir "$KHUP_PLUGIN_DIR" -v2 -o restore.log
	t1=$(now)
	app_answer "$r" khup "$wl" "$t0"
	work_put "$r" khup restore /tmp/work
	memwatch_stop "$r" khup
	extra=$MW_EXTRA
	show_log "$img/restore.log"
	put_restore "$r" khup "$t0" "$t1"
	put "$r" khup restore_extra_b "$extra"
	check "rep $r khup: restored workload intact" app_verify "$wl" "$r" khup
	app_stop "$wl"
	check "rep $r khup: the image is committed and gone" image_gone "$r" khup
	cp "$img/restore.log" "$OUT/khup-restore-$r.log" 2>/dev/null
	rm -rf "$img"
}

# restore_lazy REP: criu lazy-pages --kho takes the image's claim, criu
# restore --kho --lazy-pages recreates the tree, which runs at once while
# the daemon copies its memory: times to running (restore_ns), to the
# first answer and to the end of the fill (the daemon exits once every
# page is copied and the image committed)
restore_lazy() {
	local r=$1 wl=$MNT/lazy-wl-$1 t0 t1 t2 left rc=0
	IMG=$MNT/lazy-img-$r
	put_handover "$r" lazy
	put "$r" lazy attach_ns "$MODULE_NS"
	quiesce
	lazy_daemon_start "rep $r lazy: criu lazy-pages --kho takes the image's claim" lazy.log
	memwatch_start
	work_snap /tmp/work
	resume_arm "$wl"
	t0=$(now)
	# tests/vm/progs/criu-kho.sh's lazy_restore, with the post-resume script
	if criu_run "$IMG/restore.log" restore --kho --lazy-pages -D "$IMG" -W "$LAZY_WD" \
		--restore-detached --action-script "$RESUME_SCRIPT"; then
		t1=$(now)
		pass "rep $r lazy: criu restore --kho --lazy-pages"
	else
		t1=$(now)
		fail "rep $r lazy: criu restore --kho --lazy-pages" "failed; its log: $IMG/restore.log"
		# the daemon would wait for the restore's tasks for ever
		kill "$lazypid" 2>/dev/null
	fi
	app_answer "$r" lazy "$wl" "$t0"
	# pages of the image not read back yet, just after the answer
	left=$(khup_images | awk 'NR == FNR { n[$1] = 1; next } $4 in n { print $3 - $5 }' "$MNT/lazy-name-$r" -)
	wait "$lazypid" || rc=$?
	t2=$(now)
	work_put "$r" lazy restore /tmp/work
	memwatch_stop "$r" lazy
	show_log "$IMG/lazy.log"
	show_log "$IMG/restore.log"
	check_eq "rep $r lazy: the lazy-pages daemon filled everything and exited 0" "$rc" 0
	put_restore "$r" lazy "$t0" "$t1"
	put "$r" lazy fill_ns $((t2 - t0))
	put "$r" lazy left_at_answer "${left:-0}"
	put "$r" lazy restore_extra_b "$MW_EXTRA"
	check "rep $r lazy: the image is committed and gone" image_gone "$r" lazy
	check "rep $r lazy: restored workload intact after the fill" app_verify "$wl" "$r" lazy
	app_stop "$wl"
	rm -rf "$IMG"
}

# restore_disk REP MODE: stock CRIU from MODE's ext4 disk, guest page
# cache dropped
restore_disk() {
	local r=$1 m=$2 wl=$MNT/$2-wl-$1 img t0 t1 extra
	img=$(disk_mnt "$m")/disk-img-$r
	put_handover "$r" "$m"
	put "$r" "$m" attach_ns "${MOUNT_NS[$m]}"
	quiesce
	memwatch_start
	work_snap /tmp/work
	resume_arm "$wl"
	t0=$(now)
	check "rep $r $m: criu restore from ext4" "$CRIU" restore --action-script "$RESUME_SCRIPT" -D "$img" --restore-detached -v2 -o restore.log
	t1=$(now)
	app_answer "$r" "$m" "$wl" "$t0"
	work_put "$r" "$m" restore /tmp/work
	memwatch_stop "$r" "$m"
	extra=$MW_EXTRA
	put_restore "$r" "$m" "$t0" "$t1"
	# what the restore needed beyond the process's own memory (page cache)
	put "$r" "$m" restore_extra_b $((extra - BENCH_MIB * 1048576))
	check "rep $r $m: restored workload intact" app_verify "$wl" "$r" "$m"
	app_stop "$wl"
	rm -rf "$img"
}

bench_stage() {
	local r m d
	"$BW" tsc >"$OUT/tsc.start.$STAGE"
	stage_setup
	if [ "$STAGE" = 1 ]; then
		for d in $BENCH_DISKS; do throttle_check "$d"; done
		! declare -F bench_first_stage >/dev/null || bench_first_stage
	else
		r=$(slot_rep $((STAGE - 1)))
		for m in $(slot_modes $((STAGE - 1))); do
			mode_enter "$m"
			case $m in
			khup) restore_khup "$r" ;;
			lazy) restore_lazy "$r" ;;
			luo) restore_luo "$r" ;;
			disk*) restore_disk "$r" "$m" ;;
			esac
			mode_leave
		done
	fi
	if [ "$STAGE" -lt "$VM_STAGES" ]; then
		r=$(slot_rep "$STAGE")
		for m in $(slot_modes "$STAGE"); do
			mode_enter "$m"
			case $m in
			khup | lazy) dump_khup "$r" "$m" ;;
			luo) dump_luo "$r" ;;
			disk*) dump_disk "$r" "$m" ;;
			esac
			mode_leave
		done
		for m in disk $(for d in $BENCH_DISKS; do echo "disk-$d"; done); do
			check "umount the ext4 disk of $m" umount "$(disk_mnt "$m")"
		done
		sync
		touch "$OUT/t.end.$STAGE"
		"$BW" tsc >"$OUT/tsc.end.$STAGE"
	fi
	note "bench: stage $STAGE done"
}

for ((_s = 1; _s <= VM_STAGES; _s++)); do
	eval "stage$_s() { bench_stage; }"
done
unset _s
