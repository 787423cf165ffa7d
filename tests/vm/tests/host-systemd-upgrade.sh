# SPDX-License-Identifier: GPL-2.0-only
# Under Debian's systemd as PID 1: khupd is ready (Type=notify) only once khup.ko is loaded; khup-upgrade dumps a service and kexecs with systemctl kexec; after the kexec the service is running again as the restored process (same pid, same memory, same state) in its own unit and cgroup, started after khupd was ready; a later restart starts it normally
VM_SYSTEMD=yes
VM_KEXEC=yes
VM_KERNELS="7.2 7.2"
VM_TIMEOUT=1500

# (the host reads this file for its VM_* settings, without KHUP_TOP)
if [ -n "${KHUP_TOP:-}" ]; then
	. "$KHUP_TOP/tests/vm/progs/criu-kho.sh"
fi

UPGRADE=$KHUP_BUILD/tools/khup-upgrade
DEMO=khup-demo.service
DEMO_DIR=$OUT/demo
DEMO_CG=/sys/fs/cgroup/system.slice/$DEMO

# systemd_units DIR: the units of a host with khup installed, from this
# checkout's build: khupd.service and khup-restore.service as 'make install'
# writes them (but the build's programs, and khup.ko of the running kernel),
# the restore generator, the demo service; the stage after khupd (stage 1)
# or after the demo service (stage 2, which the target pulls in as an
# enabled service would be).
systemd_units() {
	local u=$1
	sed -e "s|^ExecStart=@SBINDIR@/khupd --foreground|ExecStart=$KHUP_BUILD/daemon/khupd --foreground --module $(khup_ko)|" \
		"$KHUP_TOP/daemon/khupd.service" >"$u/khupd.service"
	sed -e "s|@SBINDIR@|$KHUP_BUILD/tools|" "$KHUP_TOP/daemon/khup-restore.service" >"$u/khup-restore.service"
	mkdir -p /run/systemd/system-generators
	ln -sf "$KHUP_BUILD/tools/khup-restore-generator" /run/systemd/system-generators/khup-restore-generator
	cat >"$u/$DEMO" <<-EOF
	[Unit]
	Description=khup demo service: 32 MiB of checksummed memory, answers SIGUSR1
	DefaultDependencies=no
	[Service]
	Type=simple
	ExecStart=$KHUP_BUILD/progs/khup-demo-service $DEMO_DIR 32
	# CRIU cannot dump a journal stream (an external unix socket)
	StandardOutput=null
	StandardError=null
	Restart=on-failure
	RestartSec=1s
	EOF
	mkdir -p "$u/khup-vm-stage.service.d"
	if [ "$STAGE" = 1 ]; then
		printf '[Unit]\nWants=khupd.service\nAfter=khupd.service\n' >"$u/khup-vm-stage.service.d/order.conf"
	else
		mkdir -p "$u/khup-vm.target.d"
		printf '[Unit]\nWants=%s\n' "$DEMO" >"$u/khup-vm.target.d/demo.conf"
		printf '[Unit]\nAfter=khupd.service khup-restore.service %s\n' "$DEMO" >"$u/khup-vm-stage.service.d/order.conf"
	fi
}

prop() { systemctl show -p "$2" --value "$1"; }

no_images_within() {
	local i
	for ((i = 0; i < $1 * 10; i++)); do
		[ -z "$(khup_images)" ] && return 0
		sleep 0.1
	done
	khup_images
	return 1
}

# ask: a request to the demo service; its answer in $DEMO_DIR/answer
ask() {
	local pid=$1
	rm -f "$DEMO_DIR/answer"
	kill -USR1 "$pid" || return 1
	wait_file "$DEMO_DIR/answer" 60
}

# khupd_checks: khupd is the hardened Type=notify unit, was ready with
# khup.ko loaded, and says so in its status
khupd_checks() {
	check_eq "khupd.service is Type=notify" "$(prop khupd.service Type)" notify
	check_eq "khupd.service is active" "$(prop khupd.service ActiveState)/$(prop khupd.service SubState)" active/running
	check "khupd's STATUS= says what khup.ko holds" bash -c "systemctl show -p StatusText --value khupd.service | grep -q '^khup.ko loaded; [0-9]* image(s) held'"
	note "khupd status: $(prop khupd.service StatusText)"
	check "khup.ko was loaded when khupd became ready" test -e /sys/module/khup/initstate
	check "khupd loaded khup.ko through libkmod" bash -c "journalctl -b -u khupd.service --no-pager -o cat | grep -q '^loaded .*khup.ko'"
	journalctl -b -u khupd.service --no-pager -o cat | sed 's/^/#   khupd: /'
}

stage1() {
	local pid out=$OUT/upgrade.out rc=0
	need_plugin
	check_eq "PID 1 is systemd" "$(cat /proc/1/comm)" systemd
	khupd_checks
	rm -rf "$DEMO_DIR"
	mkdir -p "$DEMO_DIR"
	# Restoring needs the same pid: start the service far above what the
	# next boot will use before its restore.
	echo 20000 >/proc/sys/kernel/ns_last_pid
	check "the demo service starts" systemctl start "$DEMO"
	check "the demo service is set up" wait_file "$DEMO_DIR/ready" 120
	pid=$(prop "$DEMO" MainPID)
	check_eq "its main process is the demo program" "$(kv "$DEMO_DIR/ready" pid)" "$pid"
	check_eq "it runs in its unit's cgroup" "$(cat "/proc/$pid/cgroup")" "0::/system.slice/$DEMO"
	check "it answers a request, its memory intact" ask "$pid"
	check_eq "first answer: request 1, sums match" "$(kv "$DEMO_DIR/answer" requests) $(kv "$DEMO_DIR/answer" ok)" "1 1"
	cp "$DEMO_DIR/ready" "$OUT/demo.before"
	note "demo service: pid $pid, sum $(kv "$DEMO_DIR/ready" sum)"

	# khup-upgrade kexecs (systemctl kexec) by itself
	stage_done
	"$UPGRADE" --criu "$CRIU" --criu-libdir "$KHUP_PLUGIN_DIR" \
		--next-module "$KHUP_BUILD/modules/$STAGE_RELEASE_2/khup.ko" \
		--kernel "$STAGE_KERNEL_2" --cmdline "$(next_cmdline)" --no-trace \
		--images-dir "$OUT/img" --cgroup "$DEMO_CG" >"$out" 2>&1 || rc=$?
	sed 's/^/#   /' "$out"
	check_eq "khup-upgrade succeeded" "$rc" 0
	check "it dumped the demo as its service" grep -q "pid $pid is the main process of $DEMO: it is dumped as that service" "$out"
	check "it kept the dumped service from restarting (runtime drop-in Restart=no)" \
		grep -qx "Restart=no" "/run/systemd/system/$DEMO.d/khup-upgrade.conf"
	sleep 2
	check_eq "the dumped service did not restart (no main process)" "$(prop "$DEMO" MainPID)" 0
	check "it recorded the unit with the dump" grep -qx "unit $DEMO" "$OUT/img/1-$pid/khup-unit"
	check "it named the images and the unit on the next kernel's command line" \
		grep -q "^+ kexec -s -l .*khup-upgrade.images=$OUT/img khup-upgrade.units=$DEMO" "$out"
	check "it kexecs with systemctl kexec" grep -q "^+ systemctl kexec" "$out"
	check "it logs to the images directory" grep -q "checkpointing .* (pid $pid), main process of $DEMO" "$OUT/img/khup-upgrade.log"
	check "it logs to the journal" bash -c "journalctl -b -t khup-upgrade --no-pager -o cat | grep -q 'checkpointing .* (pid $pid), main process of $DEMO'"
	check "the system is going down for the kexec" bash -c "[ \"\$(systemctl is-system-running)\" = stopping ]"
}

stage2() {
	local pid old t_khupd t_demo pid2
	check_eq "PID 1 is systemd" "$(cat /proc/1/comm)" systemd
	old=$(kv "$OUT/demo.before" pid)
	khupd_checks
	check "khup-restore-generator wrote the demo's drop-in" bash -c "systemctl show -p DropInPaths --value $DEMO | grep -q khup-restore.conf"
	check_eq "khup-restore.service ran" "$(prop khup-restore.service Result)/$(prop khup-restore.service ActiveState)" success/active
	journalctl -b -u khup-restore.service --no-pager -o cat | sed 's/^/#   khup-restore: /'
	journalctl -b -u "$DEMO" --no-pager -o cat | sed 's/^/#   demo: /'
	pid=$(prop "$DEMO" MainPID)
	check_eq "the demo service is running" "$(prop "$DEMO" ActiveState)/$(prop "$DEMO" SubState)" active/running
	check_eq "its main process has the dumped pid" "$pid" "$old"
	check_eq "it is in its unit's cgroup" "$(cat "/proc/$pid/cgroup" 2>/dev/null)" "0::/system.slice/$DEMO"
	# (by identifier: journald may not attribute the last lines of a
	# process that has exited to its unit)
	check "the unit restored it (not a normal start)" bash -c "journalctl -b -t khup-upgrade --no-pager -o cat | grep -q 'restored $DEMO: main process $old (was $old)'"
	check "it answers a request" ask "$pid"
	check_eq "it is the restored process: same pid, memory checksum as at start, its request count went on (2)" \
		"$(kv "$DEMO_DIR/answer" pid) $(kv "$DEMO_DIR/answer" sum) $(kv "$DEMO_DIR/answer" requests) $(kv "$DEMO_DIR/answer" ok)" \
		"$old $(kv "$OUT/demo.before" sum) 2 1"
	t_khupd=$(prop khupd.service ActiveEnterTimestampMonotonic)
	t_demo=$(prop "$DEMO" InactiveExitTimestampMonotonic)
	note "khupd ready at ${t_khupd} us, demo's start at ${t_demo} us (monotonic)"
	check "khupd was ready (READY=1) before the demo's restore started" test "${t_khupd:-0}" -gt 0 -a "${t_khupd:-0}" -le "${t_demo:-0}"
	check "the upgrade is complete (khup-upgrade.order.done)" test -f "$OUT/img/khup-upgrade.order.done"
	check "the restore is logged in the images directory too" grep -q "restored $DEMO: main process $old" "$OUT/img/khup-upgrade.log"
	check "khupd released the committed image: none is left" no_images_within 30

	# Nothing left to restore: a restart is a normal start, in the unit
	rm -f "$DEMO_DIR/ready"
	check "a restart of the service starts it normally" systemctl restart "$DEMO"
	check "the new process is set up" wait_file "$DEMO_DIR/ready" 120
	pid2=$(prop "$DEMO" MainPID)
	check_ne "it is a new process" "$pid2" "$old"
	check_eq "it is the unit's main process" "$(kv "$DEMO_DIR/ready" pid)" "$pid2"
	check_eq "in the unit's cgroup" "$(cat "/proc/$pid2/cgroup" 2>/dev/null)" "0::/system.slice/$DEMO"
	check "the unit said why it started normally" bash -c "journalctl -b -t khup-upgrade --no-pager -o cat | grep -q '$DEMO: its tree (pid $old) was restored already; starting it normally'"
	systemctl stop "$DEMO"
}
