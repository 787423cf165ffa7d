# SPDX-License-Identifier: GPL-2.0-only
# benchmark: khup (eager and lazy restore) vs CRIU-to-disk and LUO-memfd across kexec, plus CRIU-to-tmpfs and memcpy references (bench/run drives it)
#
# A VM "test" of tests/vm/run, parameterised by the host's environment
# (BENCH_MIB, BENCH_THP, BENCH_REPS, BENCH_DISKS: bench/lib.sh, which
# holds the modes' dumps and restores; this file is the workload,
# bench-workload, and the references).
#
# Modes (each repetition runs every one; the order alternates, see
# slot_modes): khup (criu dump --kho, eager criu restore --kho), lazy (the
# same dump, criu restore --kho --lazy-pages with criu lazy-pages --kho),
# luo (stock CRIU to tmpfs, the images copied into memfds preserved by
# LUO, bench/luo-images), disk (stock CRIU to ext4 on the unthrottled
# VM_DISK disk: a labelled reference only) and disk-D (the same on the
# throttled reference disk D).
#
# Stages (2 x REPS + 1 of them, one kexec between each: luo's memfds
# cross a kexec of their own, see bench/lib.sh, "Boots"):
#   stage 1        format the disks (ext4); the calibration loop; the
#                  references: REPS x (CRIU dump to tmpfs + restore, no
#                  kexec) and REPS x in-process memcpy; then rep 1's dumps
#                  of khup, lazy and the disk modes
#   stage k        insmod khup (this claims the preserved pages), mount the
#                  disks; the restores of what stage k-1 dumped; then the
#                  next dumps: rep j's luo after rep j's others, then rep
#                  j+1's others
#   stage 2xREPS+1 the last restores (luo's)
# Before any timed run of a boot, "criu check" (CRIU's first-run feature
# probe, /run/criu.kdat); before every workload start and every restore,
# quiesce (sync, drop caches, compact, then read the dynamic loader again).
. "${KHUP_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}/bench/lib.sh"

# bw_start DIR PIDBASE: start the workload; its pid is above PIDBASE
bw_start() {
	rm -rf "$1"
	mkdir -p "$1"
	quiesce
	echo $(($2 + RANDOM % 1000)) >/proc/sys/kernel/ns_last_pid
	"$BW" run "$1" "$BENCH_MIB" "$THP" >"$1/launcher.log" 2>&1 &
	wait_file "$1/ready" 1800 || { cat "$1/error" 2>/dev/null; return 1; }
}

# app_resume_cmd DIR: the first request to the restored workload, which
# CRIU's post-resume script sends (bench/lib.sh, resume_arm): SIGHUP,
# which reads none of its data (bench-workload's pong)
app_resume_cmd() {
	rm -f "$1/pong"
	echo "kill -HUP $(kv "$1/ready" pid)"
}

# answer REP MODE DIR T0: the restored workload's answer to that request;
# its time from T0, the restore's start
answer() {
	check "rep $1 $2: the restored workload answers" wait_file "$3/pong" 60
	[ -f "$3/pong" ] && put "$1" "$2" first_answer_ns $(($(kv "$3/pong" time_ns) - $4))
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



# calibrate: bench/run's calibration loop in this guest (its ns per page,
# divided by the same loop's on the host, is the factor F; bench/run
# measures F in a VM of its own before the benchmark VMs, this is the
# same run's check)
calibrate() {
	"$BW" calib >/tmp/calib.out
	check "the calibration loop ran" test -s /tmp/calib.out
	put 0 calib guest_ns_per_page "$(kv /tmp/calib.out calib_ns_per_page)"
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
	app_gone "$wl"
	put "$r" tmpfs dump_ns $((t1 - t0))
	put "$r" tmpfs image_bytes "$(du -sb "$img" | cut -f1)"
	quiesce
	memwatch_start
	work_snap /tmp/work
	resume_arm "$wl"
	t1=$(now)
	check "ref $r: criu restore from tmpfs" "$CRIU" restore --action-script "$RESUME_SCRIPT" -D "$img" --restore-detached -v2 -o restore.log
	t2=$(now)
	answer "$r" tmpfs "$wl" "$t1"
	work_put "$r" tmpfs restore /tmp/work
	memwatch_stop "$r" tmpfs
	put "$r" tmpfs restore_extra_b $((MW_EXTRA - BENCH_MIB * 1048576))
	put_restore "$r" tmpfs "$t1" "$t2"
	check "ref $r: tmpfs-restored workload intact" bw_verify "$wl" "$r" tmpfs
	app_stop "$wl"
	rm -rf "$img"

	"$BW" memcpy "$BENCH_MIB" >/tmp/memcpy.out
	check "ref $r: memcpy ran" test -s /tmp/memcpy.out
	put "$r" memcpy copy_ns "$(kv /tmp/memcpy.out memcpy_ns)"
	put "$r" memcpy copy_fault_ns "$(kv /tmp/memcpy.out memcpy_fault_ns)"
}

# The workload of bench/lib.sh's modes: bench-workload
# app_start REP MODE DIR PIDBASE
app_start() {
	bw_start "$3" "$4" || return 1
	put "$1" "$2" pages "$(kv "$3/ready" pages)"
	put "$1" "$2" huge_kb "$(kv "$3/ready" huge_kb)"
}
app_pid() { kv "$1/ready" pid; }
app_answer() { answer "$@"; }
app_verify() { bw_verify "$@"; }

bench_first_stage() {
	local r
	calibrate
	mode_enter tmpfs
	for ((r = 1; r <= BENCH_REPS; r++)); do references "$r"; done
	mode_leave
}
