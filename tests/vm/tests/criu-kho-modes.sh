# SPDX-License-Identifier: GPL-2.0-only
# every CRIU mode with --kho works or is refused clearly: pre-dump, --track-mem, --page-server, --stream, --lazy-pages dump, page-server; kho in a config file; --no-auto-dedup; check --feature kho; RPC (swrk) and libcriu dump/restore
VM_TIMEOUT=1200

# (the host reads this file for its VM_* settings, without KHUP_TOP)
[ -z "${KHUP_TOP:-}" ] || . "$KHUP_TOP/tests/vm/progs/criu-kho.sh"

WLD=$OUT/wl
CONF=$OUT/kho.conf
PYCRIU=$KHUP_BUILD/zdtm/criu/lib

# refused DESC LOG MESSAGE CRIU-ARGS...: criu fails, its log (in $IMG) says
# MESSAGE, no /dev/khup image was made, the workload runs on intact
refused() {
	local desc=$1 log=$2 msg=$3
	shift 3
	rm -rf "$IMG"
	mkdir -p "$IMG"
	if criu_run "$log" "$@"; then
		fail "$desc is refused" "it succeeded"
	else
		pass "$desc is refused"
	fi
	show_log "$IMG/$log"
	check "$desc: the refusal says why" grep -qF -- "$msg" "$IMG/$log"
	check_eq "$desc: no /dev/khup image was created" "$(khup_images | wc -l)" 0
	check "$desc: the workload runs on" wl_report "$WLD" report.r
	check "$desc: ... intact" wl_verify "$WLD" "$WLD/report.r"
}

# restore_check DESC: the workload is back, intact, its image released
restore_check() {
	check "$1: the workload answers" wl_report "$WLD" report.back
	check "$1: every region's checksum is intact" wl_verify "$WLD" "$WLD/report.back"
	check_eq "$1: the image was released" "$(khup_images | wc -l)" 0
}

# new_workload: a fresh 16 MiB workload; $pid
new_workload() {
	wl_stop "$WLD"
	wl_wait_gone "$WLD" || true
	check "workload starts" wl_start "$WLD" 16
	pid=$(kv "$WLD/ready" pid)
	check "report before" wl_report "$WLD" report.before
}

# streamer DIR: something listening where criu --stream connects, for a
# minute at most (in the background; $! is its pid)
streamer() {
	timeout 60 python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1] + "/streamer-capture.sock")
s.listen(1)
c = s.accept()
time.sleep(60)' "$1" </dev/null >/dev/null 2>&1 &
}

# rpc MODE: CRIU's RPC (swrk) through pycriu with kho set, in $IMG: a
# pre-dump of $pid (which must be refused), a dump of $pid, or a restore.
# Its log is $IMG/rpc-MODE.log.
rpc() {
	env CRIU_LIBS_DIR="$KHUP_PLUGIN_DIR" \
		python3 - "$PYCRIU" "$CRIU" "$IMG" "$pid" "$1" <<-'EOF'
		import os, sys
		sys.path.insert(0, sys.argv[1])
		import pycriu
		mode = sys.argv[5]
		c = pycriu.criu()
		c.use_binary(sys.argv[2])
		c.opts.images_dir_fd = os.open(sys.argv[3], os.O_DIRECTORY)
		c.opts.kho = True
		c.opts.log_level = 4
		c.opts.log_file = "rpc-" + mode + ".log"
		if mode == "restore":
		    print("restored pid", c.restore().pid)
		    sys.exit(0)
		c.opts.pid = int(sys.argv[4])
		if mode == "dump":
		    c.dump()
		    sys.exit(0)
		try:
		    c.pre_dump()
		except pycriu.CRIUException as e:
		    print("refused:", e)
		    sys.exit(0)
		sys.exit("it succeeded")
	EOF
}

stage1() {
	local pid out ps
	need_plugin
	check "module loads" insmod "$(khup_ko)"

	out=$("$CRIU" check --feature kho 2>&1)
	note "criu check --feature kho: $out"
	check "criu check --feature kho reports support" grep -q "kho is supported" <<<"$out"

	new_workload

	# --kho on the command line of modes that cannot have it
	refused "pre-dump --kho" pre-dump.log "--kho is only valid on dump, restore and lazy-pages" \
		pre-dump --kho -t "$pid" -D "$IMG"
	refused "dump --kho --track-mem" track.log "--kho cannot be used with incremental dumps" \
		dump --kho --track-mem -t "$pid" -D "$IMG"
	mkdir -p "$OUT/parent"
	refused "dump --kho --prev-images-dir" prev.log "--kho cannot be used with incremental dumps" \
		dump --kho --prev-images-dir ../parent -t "$pid" -D "$IMG"
	refused "dump --kho --page-server" ps.log "--kho cannot be used with --page-server or --stream" \
		dump --kho --page-server --address 127.0.0.1 --port 27000 -t "$pid" -D "$IMG"
	refused "dump --kho --lazy-pages" lazy.log "--kho cannot be used with --lazy-pages on dump" \
		dump --kho --lazy-pages --address 127.0.0.1 --port 27000 -t "$pid" -D "$IMG"
	refused "page-server --kho" psrv.log "--kho is only valid on dump, restore and lazy-pages" \
		page-server --kho --port 27000 -D "$IMG"
	# (a unix socket cannot live on the 9p output share: a tmpfs directory)
	local sd=/tmp/kho-stream
	mkdir -p "$sd"
	local spid
	streamer "$sd"
	spid=$!
	check "an image streamer stand-in listens" wait_file "$sd/streamer-capture.sock" 10
	if criu_run stream.log dump --kho --stream -t "$pid" -D "$sd"; then
		fail "dump --kho --stream is refused" "it succeeded"
	else
		pass "dump --kho --stream is refused"
	fi
	show_log "$sd/stream.log"
	check "dump --kho --stream: the refusal says why" \
		grep -qF -- "--kho cannot be used with --page-server or --stream" "$sd/stream.log"
	check_eq "dump --kho --stream: no /dev/khup image was created" "$(khup_images | wc -l)" 0
	check "dump --kho --stream: the workload runs on" wl_report "$WLD" report.st
	kill "$spid" 2>/dev/null || true

	# kho in a configuration file: ignored by the modes it does not concern
	echo kho >"$CONF"
	out=$("$CRIU" check --config "$CONF" 2>&1)
	note "criu check --config (kho): $out"
	check "check with kho in the config file: Looks good." grep -q "Looks good." <<<"$out"
	check "check with kho in the config file: warns that it ignores it" \
		grep -q "Ignoring kho from the configuration file" <<<"$out"
	rm -rf "$IMG"
	mkdir -p "$IMG"
	check "pre-dump with kho in the config file works" \
		criu_run pre-dump.log pre-dump --config "$CONF" -t "$pid" -D "$IMG"
	show_log "$IMG/pre-dump.log"
	check "pre-dump: it warns that it ignores kho" grep -q "Ignoring kho from the configuration file" "$IMG/pre-dump.log"
	check_eq "pre-dump: no /dev/khup image" "$(khup_images | wc -l)" 0
	check "pre-dump: pages went to pages images" test "$(pages_img_bytes "$IMG")" -gt 0
	check "pre-dump: the workload runs on" wl_report "$WLD" report.pd
	rm -rf "$IMG"
	mkdir -p "$IMG"
	check "page-server with kho in the config file starts" \
		criu_run psrv.log page-server --config "$CONF" --port 27001 --daemon --pidfile "$IMG/ps.pid" -D "$IMG"
	check "page-server: it warns that it ignores kho" grep -q "Ignoring kho from the configuration file" "$IMG/psrv.log"
	ps=$(cat "$IMG/ps.pid" 2>/dev/null)
	check "page-server: it runs" kill -0 "${ps:-0}"
	kill "${ps:-0}" 2>/dev/null || true
	refused "dump --leave-running with kho in the config file" dump-lr.log \
		"--kho cannot be used with --leave-running: the pages handed over are the live pages of the tasks, which must not run on after the dump (--kho is set in a configuration file)" \
		dump --config "$CONF" --leave-running -t "$pid" -D "$IMG"

	# dump with kho in the config file; restore --kho --no-auto-dedup:
	# nothing is consumed before the restore ends (post-restore)
	cat >"$OUT/record-image" <<-EOF
		#!/bin/bash
		[ "\$CRTOOLS_SCRIPT_ACTION" = post-restore ] || exit 0
		"$WL" images >"$OUT/image-at-post-restore"
	EOF
	chmod +x "$OUT/record-image"
	rm -rf "$IMG"
	mkdir -p "$IMG"
	check "dump with kho from the config file" criu_run dump.log dump --config "$CONF" -t "$pid" -D "$IMG"
	check "... went to /dev/khup" test -s "$IMG/khup.img"
	check_eq "... pages-*.img hold 0 bytes" "$(pages_img_bytes "$IMG")" 0
	rm -f "$OUT/image-at-post-restore"
	check "restore --kho --no-auto-dedup" criu_run restore-nd.log restore --kho --no-auto-dedup \
		-D "$IMG" --restore-detached --action-script "$OUT/record-image"
	show_log "$IMG/restore-nd.log"
	note "image at post-restore: $(cat "$OUT/image-at-post-restore" 2>/dev/null)"
	check_eq "--no-auto-dedup: no page consumed before the restore ended" \
		"$(awk '{ print $5 }' "$OUT/image-at-post-restore" 2>/dev/null)" 0
	restore_check "restore --kho --no-auto-dedup"
	# the same with --kho alone: every page consumed by then (auto-dedup)
	rm -rf "$IMG"
	mkdir -p "$IMG"
	check "dump --kho" criu_run dump.log dump --kho -t "$pid" -D "$IMG"
	local held
	held=$(khup_images | awk '{ print $3 }')
	rm -f "$OUT/image-at-post-restore"
	check "restore --kho" criu_run restore-d.log restore --kho \
		-D "$IMG" --restore-detached --action-script "$OUT/record-image"
	note "image at post-restore: $(cat "$OUT/image-at-post-restore" 2>/dev/null)"
	check_eq "--kho implies --auto-dedup: every page consumed before the restore ended" \
		"$(awk '{ print $5 }' "$OUT/image-at-post-restore" 2>/dev/null)" "$held"
	restore_check "restore --kho"

	# RPC (criu swrk, through pycriu): dump and restore with kho set; a
	# pre-dump with kho is refused
	rm -rf "$IMG"
	mkdir -p "$IMG"
	check "RPC pre-dump with kho is refused" rpc pre-dump
	check "RPC pre-dump: the refusal says why" \
		grep -qF -- "--kho is only valid on dump, restore and lazy-pages" "$IMG/rpc-pre-dump.log"
	check "RPC pre-dump: the workload runs on" wl_report "$WLD" report.rpd
	check "RPC (swrk) dump with kho" rpc dump
	show_log "$IMG/rpc-dump.log"
	check "RPC dump: the workload is gone" wl_gone "$WLD"
	check "RPC dump: khup.img written" test -s "$IMG/khup.img"
	check_eq "RPC dump: pages-*.img hold 0 bytes" "$(pages_img_bytes "$IMG")" 0
	check "RPC (swrk) restore with kho" rpc restore
	show_log "$IMG/rpc-restore.log"
	restore_check "RPC restore"

	# libcriu: dump and restore with criu_set_kho()
	check "a libcriu program builds" cc -o /tmp/libcriu-kho -x c - \
		-I"$KHUP_BUILD/zdtm/criu/lib/c" -idirafter "$KHUP_BUILD/zdtm/criu/criu/include" -I"$KHUP_BUILD/zdtm/criu/images" \
		-x none "$KHUP_BUILD/zdtm/criu/lib/c/libcriu.a" -lprotobuf-c <<-'EOF'
		#include <fcntl.h>
		#include <stdio.h>
		#include <stdlib.h>
		#include <string.h>
		#include "criu.h"
		int main(int argc, char **argv)
		{
			int ret;
			if (argc != 5)
				return 2;
			criu_init_opts();
			criu_set_service_binary(argv[1]);
			criu_set_images_dir_fd(open(argv[2], O_DIRECTORY));
			criu_set_kho(true);
			criu_set_log_level(4);
			if (!strcmp(argv[3], "dump")) {
				criu_set_log_file("libcriu-dump.log");
				criu_set_pid(atoi(argv[4]));
				ret = criu_dump();
			} else {
				criu_set_log_file("libcriu-restore.log");
				ret = criu_restore();
			}
			printf("%s: %d\n", argv[3], ret);
			return ret < 0;
		}
	EOF
	rm -rf "$IMG"
	mkdir -p "$IMG"
	check "libcriu dump with criu_set_kho(true)" env CRIU_LIBS_DIR="$KHUP_PLUGIN_DIR" /tmp/libcriu-kho "$CRIU" "$IMG" dump "$pid"
	show_log "$IMG/libcriu-dump.log"
	check "libcriu dump: the workload is gone" wl_gone "$WLD"
	check "libcriu dump: khup.img written" test -s "$IMG/khup.img"
	check_eq "libcriu dump: pages-*.img hold 0 bytes" "$(pages_img_bytes "$IMG")" 0
	check "libcriu restore with criu_set_kho(true)" env CRIU_LIBS_DIR="$KHUP_PLUGIN_DIR" /tmp/libcriu-kho "$CRIU" "$IMG" restore 0
	show_log "$IMG/libcriu-restore.log"
	restore_check "libcriu restore"

	wl_stop "$WLD"
	check "rmmod" rmmod khup
}
