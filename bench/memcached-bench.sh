# SPDX-License-Identifier: GPL-2.0-only
# benchmark: a real application, Debian's memcached filled by libmemcached-tools, checkpointed with khup vs LUO-memfd and CRIU-to-disk across kexec (bench/run --memcached drives it)
#
# A VM "test" of tests/vm/run with bench/lib.sh's parameters and modes
# (BENCH_MIB = the values stored, BENCH_REPS, BENCH_DISKS; bench/run runs
# it with the NVMe-class throttled disk only). Modes: khup, lazy, luo and
# disk-D, in the same order rules and stages as bench/khup-bench.sh; the
# unthrottled disk only holds the small images and the files below.
#
# The workload: Debian's /usr/bin/memcached as a daemon (-d: its own
# session, its cwd /), on 127.0.0.1, one port per mode, -t 1 (one worker
# thread: the guest's CPUs are one TCG thread, and the client makes one
# connection at a time), -m twice the data (no eviction). A client no one
# here wrote does all the work, this script only times it:
#   fill     memccp (libmemcached-tools) of BENCH_MIB MiB of random data,
#            split into 64 KiB files k000000.. (the keys); the checksums
#            of a sample of 64 of them, evenly spread, are kept
#   load     memccat of a batch of 64 keys (4 MiB) to /dev/null; the
#            pre-dump rate is the median of 5 batches, each batch reads
#            the next 64 keys (a batch never reads what the one before
#            did: under lazy restore every batch faults its own pages)
#   restore  from the restore's start (criu restore; for luo after the
#            memfds' retrieval, its attach, as for the other restores):
#            the first successful get (memccat of a known key, retried
#            every 10 ms from the tasks' resume: CRIU's post-resume
#            script starts it) and the end of the first batch whose rate is
#            >= 90 % of the pre-dump rate (guest CLOCK_MONOTONIC through
#            date +%s%N, within one boot)
#   verify   memccat of the 64 sampled keys, compared with their files'
#            checksums (memccat ends every value with a newline): all in
#            one memccat, then one by one if that differs (to count them)
# Numbers go to bench.kv with the mode prefixed "memcached-".
BENCH_MODES="khup lazy luo"
BENCH_PREFIX=memcached-
BENCH_WHAT=memcached
BENCH_THP=0
. "${KHUP_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}/bench/lib.sh"
MC=/usr/bin/memcached
MC_TOOLS="/usr/bin/memccp /usr/bin/memccat /usr/bin/memcping /usr/bin/memcstat"
# run from the guest's tmpfs (bench/lib.sh, localize): the tools by name
BENCH_LOCAL_VARS=MC
BENCH_LOCAL=$MC_TOOLS
MC_VALUE=65536
MC_KEYS=$((BENCH_MIB * 1048576 / MC_VALUE))
MC_BATCH=64
MC_SAMPLE=64
# the fill's files are in tmpfs while memccp runs: room for both
VM_TIMEOUT=${BENCH_TIMEOUT:-$((1500 + BENCH_MIB * 8 * (BENCH_REPS + 1)))}

# mc_port MODE: each mode's memcached listens on a port of its own
mc_port() { echo $((10000 + $(pid_base "$1") / 100)); }
# mc_srv DIR: the server option of the libmemcached tools
mc_srv() { echo "--servers=127.0.0.1:$(cat "$1/port")"; }
# mc_key N: the Nth key (the fill's file name)
mc_key() { printf 'k%06d' "$1"; }
# mc_batch_keys J: the keys of load batch J
mc_batch_keys() {
	local i
	for ((i = 0; i < MC_BATCH; i++)); do mc_key $((($1 * MC_BATCH + i) % MC_KEYS)); echo; done
}
# mc_batch DIR J: one batch, its rate in bytes per second of guest time
# (only memccat is timed)
mc_batch() {
	local t0 t1 srv keys
	srv=$(mc_srv "$1")
	keys=$(mc_batch_keys "$2")
	t0=$(now)
	# shellcheck disable=SC2086 # the keys are words
	memccat "$srv" $keys >/dev/null 2>&1 || return 1
	t1=$(now)
	echo $((MC_BATCH * MC_VALUE * 1000000000 / (t1 - t0)))
}
# mc_idle DIR: memcached holds no connection (CRIU dumps its listening
# socket; a client's connection, closed by the client, may linger a moment
# on the server's side)
mc_idle() {
	local i
	for ((i = 0; i < 500; i++)); do
		[ -z "$(ss -Htn "( sport = :$(cat "$1/port") )")" ] && return 0
		sleep 0.01
	done
	return 1
}

# app_start REP MODE DIR PIDBASE: memcached, filled, its pre-dump rate
# measured; idle when it returns
app_start() {
	local r=$1 m=$2 dir=$3 port src=/tmp/mc-fill i k rates
	port=$(mc_port "$m")
	rm -rf "$dir" "$src"
	mkdir -p "$dir" "$src"
	echo "$port" >"$dir/port"
	quiesce
	echo $(($4 + RANDOM % 1000)) >/proc/sys/kernel/ns_last_pid
	(cd / && exec "$MC" -d -u root -l 127.0.0.1 -p "$port" -U 0 -t 1 -m $((BENCH_MIB * 2 + 64)) \
		-P "$dir/pid") </dev/null >/dev/null 2>&1 || return 1
	for ((i = 0; i < 3000; i++)); do
		[ -s "$dir/pid" ] && memcping "$(mc_srv "$dir")" >/dev/null 2>&1 && break
		sleep 0.02
	done
	[ -s "$dir/pid" ] || { echo "memcached did not start"; return 1; }
	head -c $((BENCH_MIB * 1048576)) /dev/urandom >"$src/all"
	(cd "$src" && split -b "$MC_VALUE" -a 6 -d all k && rm all) || return 1
	(cd "$src" && memccp "$(mc_srv "$dir")" k*) || { echo "memccp failed"; return 1; }
	# the sample: key, md5 of the value as memccat prints it; and the md5
	# of all of them in that order (one memccat verifies them all)
	for ((i = 0; i < MC_SAMPLE; i++)); do
		k=$(mc_key $((i * MC_KEYS / MC_SAMPLE + MC_KEYS / MC_SAMPLE / 2)))
		echo "$k $({ cat "$src/$k"; echo; } | md5sum | cut -d' ' -f1)"
	done >"$dir/sample"
	for k in $(cut -d' ' -f1 "$dir/sample"); do cat "$src/$k"; echo; done | md5sum | cut -d' ' -f1 >"$dir/sample.all"
	rm -rf "$src"
	[ "$(memcstat "$(mc_srv "$dir")" | awk '$1 == "curr_items:" { print $2 }')" = "$MC_KEYS" ] ||
		{ echo "memcached holds $(memcstat "$(mc_srv "$dir")" | grep curr_items) items, not $MC_KEYS"; return 1; }
	rates=$(for ((i = 0; i < 5; i++)); do mc_batch "$dir" "$i"; done | sort -n)
	[ "$(echo "$rates" | wc -l)" = 5 ] || { echo "a load batch failed"; return 1; }
	echo "$rates" | sed -n 3p >"$dir/rate"
	put "$r" "$m" tput_pre_b_s "$(cat "$dir/rate")"
	put "$r" "$m" items "$MC_KEYS"
	put "$r" "$m" pages $(($(awk '$1 == "VmRSS:" { print $2 }' "/proc/$(cat "$dir/pid")/status") / 4))
	mc_idle "$dir" || { echo "memcached keeps a client connection"; return 1; }
}

app_pid() { cat "$1/pid"; }

# app_resume_cmd DIR: the first get, which CRIU's post-resume script
# starts (bench/lib.sh, resume_arm): a sampled key, tried every 10 ms
# for 60 s; the time of the first success goes to DIR/first_get
app_resume_cmd() {
	local key
	key=$(awk 'NR == 1 { print $1 }' "$1/sample")
	rm -f "$1/first_get"
	# shellcheck disable=SC2016 # expanded by the script's shell
	printf 'for ((i = 0; i < 6000; i++)); do memccat %q %q >/dev/null 2>&1 && { t=${EPOCHREALTIME//[.,]/}; echo ${t}000 >%q; break; }; sleep 0.01; done' \
		"$(mc_srv "$1")" "$key" "$1/first_get"
}

# app_answer REP MODE DIR T0: the first get's time, then load batches
# until one runs at >= 90 % of the pre-dump rate (at most 200 batches)
app_answer() {
	local r=$1 m=$2 dir=$3 t0=$4 i rate pre
	# the poller writes the file in one go, but may be caught between
	# creating and writing it
	if wait_file "$dir/first_get" 60 && sleep 0.1 && [ -s "$dir/first_get" ]; then
		put "$r" "$m" first_get_ns $(($(cat "$dir/first_get") - t0))
		pass "rep $r $m: memcached answers a get"
	else
		fail "rep $r $m: memcached answers a get" "no successful get of $(awk 'NR == 1 { print $1 }' "$dir/sample") in 60 s"
		return
	fi
	pre=$(cat "$dir/rate")
	for ((i = 0; i < 200; i++)); do
		rate=$(mc_batch "$dir" "$i") || { fail "rep $r $m: load batch $i" "memccat failed"; return; }
		if [ $((rate * 10)) -ge $((pre * 9)) ]; then
			put "$r" "$m" tput90_ns $(($(now) - t0))
			put "$r" "$m" tput_after_b_s "$rate"
			put "$r" "$m" tput_batches $((i + 1))
			pass "rep $r $m: load back to 90 % of its pre-dump rate after $((i + 1)) batch(es)"
			return
		fi
	done
	# a rate that does not come back is a result, not a failure of the
	# run: no tput90, the last batch's rate, and the batches it took
	put "$r" "$m" tput_after_b_s "$rate"
	put "$r" "$m" tput_batches 200
	pass "rep $r $m: 200 load batches after the restore, none at 90 % of the pre-dump $pre B/s (the last $rate)"
}

# app_verify DIR REP MODE: the sampled values are the files' contents
# (all at once; one by one, to count them, only if that fails)
app_verify() {
	local k sum n ok=0
	n=$(wc -l <"$1/sample")
	# shellcheck disable=SC2046 # the keys are words
	if [ "$(memccat "$(mc_srv "$1")" $(cut -d' ' -f1 "$1/sample") 2>/dev/null | md5sum | cut -d' ' -f1)" = "$(cat "$1/sample.all")" ]; then
		ok=$n
	else
		while read -r k sum; do
			[ "$(memccat "$(mc_srv "$1")" "$k" 2>/dev/null | md5sum | cut -d' ' -f1)" = "$sum" ] && ok=$((ok + 1))
		done <"$1/sample"
	fi
	put "$2" "$3" keys_sampled "$n"
	put "$2" "$3" keys_verified "$ok"
	[ "$n" -gt 0 ] && [ "$ok" = "$n" ]
}
