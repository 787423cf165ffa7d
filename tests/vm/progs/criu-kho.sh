# SPDX-License-Identifier: GPL-2.0-only
#
# Helpers for the criu-* VM tests, sourced by them inside the guest (after
# guest-lib.sh). The tests checkpoint khup-workload (see khup-workload.c)
# with the patched CRIU and khup_plugin.so.

WL=$KHUP_BUILD/progs/khup-workload
KHUP_PLUGIN_DIR=${KHUP_PLUGIN_DIR:-$KHUP_BUILD/criu-plugin}
IMG=$OUT/img

khup_ko() { echo "$KHUP_BUILD/modules/$(uname -r)/khup.ko"; }

# criu_run LOG ARGS...: run criu with the plugin and full logging, log in -D
criu_run() {
	local log=$1
	shift
	"$CRIU" "$@" --libdir "$KHUP_PLUGIN_DIR" -v4 -o "$log"
}

# kv FILE KEY: the value of a "key value" line
kv() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }

# wait_file PATH SECONDS
wait_file() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		[ -e "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# wl_start DIR MIB: start the workload, wait until it is set up
wl_start() {
	rm -rf "$1"
	mkdir -p "$1"
	"$WL" run "$1" "$2" >"$1/launcher.log" 2>&1 &
	wait_file "$1/ready" 300 || { cat "$1/error" 2>/dev/null; return 1; }
}

# wl_report DIR [NAME]: ask the workload for a report, copy it to DIR/NAME
wl_report() {
	local pid
	pid=$(kv "$1/ready" pid)
	rm -f "$1/report"
	kill -USR1 "$pid" || return 1
	wait_file "$1/report" 300 || return 1
	[ -z "${2:-}" ] || cp "$1/report" "$1/$2"
}

# wl_verify DIR REPORT: every checksum in REPORT equals the one at set-up
wl_verify() {
	local r rc=0
	for r in anon thp file shared memfd; do
		if [ "$(kv "$1/ready" "sum.$r")" != "$(kv "$2" "sum.$r")" ]; then
			echo "region $r: checksum $(kv "$2" "sum.$r"), expected $(kv "$1/ready" "sum.$r")"
			rc=1
		fi
	done
	[ "$(kv "$2" ok)" = 1 ] || { echo "the workload's own check failed"; rc=1; }
	return $rc
}

# wl_advanced DIR OLD NEW: every thread counter and the child's grew
wl_advanced() {
	local k rc=0
	for k in thread0 thread1 thread2 thread3 childcount; do
		if [ "$(kv "$3" $k)" -le "$(kv "$2" $k)" ]; then
			echo "$k did not advance: $(kv "$2" $k) -> $(kv "$3" $k)"
			rc=1
		fi
	done
	[ "$(kv "$3" childalive)" = 1 ] || { echo "child not alive"; rc=1; }
	return $rc
}

# wl_gone DIR: neither the workload nor its child exists
wl_gone() {
	! kill -0 "$(kv "$1/ready" pid)" 2>/dev/null && ! kill -0 "$(kv "$1/ready" child)" 2>/dev/null
}

wl_stop() {
	kill -TERM "$(kv "$1/ready" pid)" 2>/dev/null || true
	kill -KILL "$(kv "$1/ready" child)" 2>/dev/null || true
}

# pages_img_bytes DIR: total size of pages-*.img
pages_img_bytes() {
	local f n=0
	for f in "$1"/pages-*.img; do
		[ -e "$f" ] && n=$((n + $(stat -c %s "$f")))
	done
	echo $n
}

# khup_images: "id state pages name" per /dev/khup image
khup_images() { "$WL" images; }

# Free memory in kB: MemFree plus pages on per-cpu free lists.
memfree_kb() {
	local pcp
	pcp=$(awk '$1 == "count:" { n += $2 } END { print n + 0 }' /proc/zoneinfo)
	echo $(($(awk '/^MemFree:/ { print $2 }' /proc/meminfo) + pcp * 4))
}

# show_log FILE: the errors of a CRIU log, for the console
show_log() {
	grep -E 'Error|khup:|FAIL|refus|differ' "$1" 2>/dev/null | tail -n 25 | sed 's/^/#   /'
}
