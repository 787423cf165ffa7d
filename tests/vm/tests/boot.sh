# SPDX-License-Identifier: GPL-2.0-only
# the test kernel reaches userspace; CRIU's 'criu check' passes, and CRIU can dump and restore a process holding unix sockets
VM_TIMEOUT=300

# unix_holder DIR: a process (its own session, no terminal) holding a
# connected unix stream socket pair (with data in flight), a datagram pair
# and a listening socket bound to a path, until killed; its pid in DIR/pid;
# on SIGUSR1 it writes what the stream socket received to DIR/received
unix_holder() {
	mkdir -p "$1"
	setsid python3 -c '
import os, signal, socket, sys, time
d = sys.argv[1]
def report(sig, frame):
    open(d + "/received", "wb").write(b.recv(64))
signal.signal(signal.SIGUSR1, report)
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
c, e = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
l.bind(d + "/listen.sock")
l.listen(1)
a.send(b"in flight")
open(d + "/pid", "w").write("%d\n" % os.getpid())
while True:
    time.sleep(1)
' "$1" </dev/null >"$1/holder.log" 2>&1 &
	for _ in $(seq 100); do [ -s "$1/pid" ] && return 0; sleep 0.1; done
	return 1
}

stage1() {
	check_eq "init runs as PID 1 in the test kernel" "$(cut -d' ' -f1 /proc/1/stat)-$(uname -r)" "1-$STAGE_RELEASE_1"
	check "KHO is enabled (kho=on)" test -d /sys/kernel/debug/kho/out
	check "/tmp is writable" touch /tmp/khup-boot
	local out d=/tmp/unix pid
	out=$("$CRIU" check 2>&1)
	note "criu check: $out"
	check "criu check says \"Looks good.\"" grep -q 'Looks good.' <<<"$out"
	# 'criu check' does not try what CRIU's dump of every socket does:
	# getsockopt(SO_PASSSEC) (34), which fails with EOPNOTSUPP without
	# CONFIG_SECURITY_NETWORK, so no process holding a socket could be
	# dumped.
	check "getsockopt(SOL_SOCKET, SO_PASSSEC) works on a unix socket (CONFIG_SECURITY_NETWORK)" \
		python3 -c 'import socket; socket.socket(socket.AF_UNIX).getsockopt(socket.SOL_SOCKET, 34)'
	check "a process holding unix sockets starts" unix_holder "$d"
	pid=$(cat "$d/pid")
	mkdir -p "$d/img"
	check "criu dump of a process holding unix sockets" \
		"$CRIU" dump -t "$pid" -D "$d/img" -v4 -o dump.log
	grep -E 'Error' "$d/img/dump.log" | head -n 5 | sed 's/^/#   /'
	check "criu restore of it" "$CRIU" restore -D "$d/img" --restore-detached -v4 -o restore.log
	grep -E 'Error' "$d/img/restore.log" | head -n 5 | sed 's/^/#   /'
	check "the restored process runs" kill -0 "$pid"
	kill -USR1 "$pid"
	check "its stream socket still holds the data sent before the dump" \
		bash -c "for i in \$(seq 50); do [ -s '$d/received' ] && break; sleep 0.1; done; grep -qx 'in flight' '$d/received'"
	kill -KILL "$pid" 2>/dev/null || true
}
