# SPDX-License-Identifier: GPL-2.0-only
# with khup installed (patched CRIU and plugin in PREFIX/lib/khup), a stock CRIU on PATH still dumps and restores a process; khup's CRIU from the installed paths dumps with --kho
VM_TIMEOUT=600

# (the host reads this file for its VM_* settings, without KHUP_TOP)
[ -z "${KHUP_TOP:-}" ] || . "$KHUP_TOP/tests/vm/progs/criu-kho.sh"

# The guest's root is the host's, read-only; khup is installed under a tmpfs
# on /usr/local (the default PREFIX) with exactly the two files make install
# puts there for CRIU (install-criu, install-plugin; tests/host/install.sh
# checks that list on the host). The stock CRIU is CRIU 4.2.1 without any
# patch (scripts/build-criu --stock), installed as a distribution installs
# it: /usr/local/sbin/criu, plugins in /usr/lib/criu. (Debian 12's own criu,
# 3.17, cannot run on the test kernels at all: its feature probe takes
# memfd_create(MFD_HUGETLB) failing with ENOSYS for an error.)
STOCK=/usr/local/sbin/criu
KHUPLIB=/usr/local/lib/khup

# stock_round N WL PID: the stock criu dumps the workload and restores it
stock_round() {
	local n=$1 wl=$2 pid=$3 img=$OUT/stock$1
	mkdir -p "$img"
	check "round $n: the stock criu dumps the workload" \
		"$STOCK" dump -t "$pid" -D "$img" -v4 -o dump.log
	show_log "$img/dump.log"
	check "round $n: dumped tasks are gone" wl_gone "$wl"
	check "round $n: the stock criu restores it" \
		"$STOCK" restore -D "$img" --restore-detached -v4 -o restore.log
	show_log "$img/restore.log"
	check "round $n: report after restore" wl_report "$wl" "report.stock$n"
	check "round $n: every region's checksum is intact" wl_verify "$wl" "$wl/report.stock$n"
}

stage1() {
	local wl=$OUT/wl pid img=$OUT/bad held
	need_plugin
	check "tmpfs on /usr/local (the guest's root is read-only)" mount -t tmpfs khup-prefix /usr/local
	check "the stock CRIU installed on PATH" install -D -m 0755 "$STOCK_CRIU" "$STOCK"
	check "the stock CRIU has no --kho (no khup patch)" bash -c "! '$STOCK' --help 2>&1 | grep -q -- --kho"
	check "install khup's CRIU, plugin and khup-upgrade (driver and library) as make install does" bash -c "
		install -D -m 0755 '$CRIU' '$KHUPLIB/criu' &&
		install -D -m 0644 '$KHUP_PLUGIN_DIR/khup_plugin.so' '$KHUPLIB/plugins/khup_plugin.so' &&
		install -D -m 0755 '$KHUP_BUILD/tools/khup-upgrade' /usr/local/sbin/khup-upgrade &&
		install -d '$KHUPLIB/upgrade' && install -m 0644 '$KHUP_BUILD'/tools/upgrade/*.sh '$KHUPLIB/upgrade/'"
	check "nothing of khup's in the stock CRIU's plugin directory" \
		bash -c "! ls /usr/lib/criu/*.so 2>/dev/null | grep -q ."
	check "criu on PATH is the stock one" test "$(command -v criu)" = "$STOCK"
	check "khup-upgrade defaults to the installed CRIU and plugin" bash -c "
		env -u CRIU /usr/local/sbin/khup-upgrade --help | grep -q '$KHUPLIB/criu if installed' &&
		grep -qx 'KHUP_LIBDIR=$KHUPLIB' /usr/local/sbin/khup-upgrade"
	# (and no other: without it, it stops)
	check "the installed khup-upgrade runs with the installed library ($KHUPLIB/upgrade), and only with it" bash -c "
		/usr/local/sbin/khup-upgrade --version | grep -q '^khup-upgrade ' &&
			mv '$KHUPLIB/upgrade' '$KHUPLIB/upgrade.off' || exit 1
		/usr/local/sbin/khup-upgrade --version >/dev/null 2>&1; rc=\$?
		mv '$KHUPLIB/upgrade.off' '$KHUPLIB/upgrade'
		[ \$rc -eq 1 ]"

	check "workload starts" wl_start "$wl" 16
	pid=$(kv "$wl/ready" pid)
	check "report before dump" wl_report "$wl" report.before
	stock_round 1 "$wl" "$pid"
	stock_round 2 "$wl" "$pid"

	# Why the layout matters: were khup's plugin where the stock criu looks
	# for plugins (its --libdir stands for /usr/lib/criu), every criu run
	# on the host would fail.
	mkdir -p "$img"
	check "negative control: the stock criu refuses khup's plugin in its plugin directory" \
		bash -c "! '$STOCK' dump -t $pid -D '$img' --libdir '$KHUPLIB/plugins' -v4 -o dump.log"
	show_log "$img/dump.log"
	check "... naming the plugin" grep -q "khup_plugin.so" "$img/dump.log"
	check "the workload still runs after the refused dump" wl_report "$wl" report.refused

	# khup's CRIU from the installed paths, with --kho, in the same kernel
	check "module loads" insmod "$(khup_ko)"
	mkdir -p "$IMG"
	check "installed khup CRIU: criu dump --kho" \
		"$KHUPLIB/criu" dump --kho -t "$pid" -D "$IMG" --libdir "$KHUPLIB/plugins" -v4 -o dump.log
	show_log "$IMG/dump.log"
	check_eq "pages-*.img hold 0 bytes" "$(pages_img_bytes "$IMG")" 0
	held=$(khup_images | awk '{ print $3 }')
	check "one image holds the workload's pages" test "${held:-0}" -ge "$(kv "$wl/ready" pages)"
	check "installed khup CRIU: criu restore --kho" \
		"$KHUPLIB/criu" restore --kho -D "$IMG" --restore-detached --libdir "$KHUPLIB/plugins" -v4 -o restore.log
	show_log "$IMG/restore.log"
	check "report after the --kho restore" wl_report "$wl" report.kho
	check "every region's checksum is intact" wl_verify "$wl" "$wl/report.kho"
	check_eq "the restore committed the image" "$(khup_images | wc -l)" 0
	wl_stop "$wl"
	check "rmmod" rmmod khup
	check "umount /usr/local" umount /usr/local
}
