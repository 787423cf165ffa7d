#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# install.sh: what 'make install' puts on a host is there and works there,
# checked on the host in seconds (no VM, no root needed): stages 'make
# install-programs' and, apart, khup's CRIU and plugin (which need the CRIU
# build) in temporary DESTDIRs, then checks the file lists, the unit
# (its Documentation= pages exist, systemd-analyze verify), each man page
# with man -l, --version of each program against scripts/version, khupd's
# settings file, and the bash completion sourced in bash. KTAP output,
# 'N passed, N failed' last; exit 0 only if all passed.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest=$work/dest
prefix=/usr/local
sbin=$dest$prefix/sbin
compdir=$dest$prefix/share/bash-completion/completions
version=$("$top/scripts/version")

# shellcheck source=tests/host/ktap.sh
. "$top/tests/host/ktap.sh"

echo "KTAP version 1"
echo "# version $version"

# --- what make install depends on --------------------------------------------
# Walks the top Makefile's rules from 'install': it must reach the CRIU
# build (the plugin) and deps-build, never the test set-up.
make -pRrq -C "$top" : 2>/dev/null | sed -nE 's/^([a-z][a-z0-9-]*):( (.*))?$/\1 \3/p' >"$work/rules"
reach() {
	local todo=("$@") seen=" " t
	while [ ${#todo[@]} -gt 0 ]; do
		t=${todo[0]}
		todo=("${todo[@]:1}")
		case $seen in *" $t "*) continue ;; esac
		seen+="$t "
		echo "$t"
		# shellcheck disable=SC2207
		todo+=($(awk -v t="$t" '$1 == t { $1 = ""; print }' "$work/rules"))
	done
}
reach install >"$work/reached"
bad=$(grep -xE 'deps|kernel|kernel-bench|modules|modules-bench|progs|userspace' "$work/reached")
result "$([ -z "$bad" ] && grep -qx deps-build "$work/reached"; echo $?)" \
	"make install needs deps-build, not the tests' set-up (reached: $(tr '\n' ' ' <"$work/reached"))"

# --- the staged installation ---------------------------------------------
check "make install-programs DESTDIR=<tmp> succeeds" \
	make -s -C "$top" install-programs DESTDIR="$dest"

# khup-upgrade's library: every file of tools/upgrade/
upgrade_lib=$(cd "$top/tools/upgrade" && printf 'usr/local/lib/khup/upgrade/%s\n' *.sh)
expected="etc/khup/khupd.conf
lib/systemd/system-generators/khup-restore-generator
lib/systemd/system/khup-restore.service
lib/systemd/system/khupd.service
$upgrade_lib
usr/local/sbin/khup-tracedat
usr/local/sbin/khup-upgrade
usr/local/sbin/khupctl
usr/local/sbin/khupd
usr/local/share/bash-completion/completions/khup-upgrade
usr/local/share/bash-completion/completions/khupctl
usr/local/share/man/man7/khup_plugin.7
usr/local/share/man/man8/khup-upgrade.8
usr/local/share/man/man8/khupctl.8
usr/local/share/man/man8/khupd.8"
(cd "$dest" 2>/dev/null && find . \( -type f -o -type l \) | sed 's|^\./||' | sort) >"$work/files"
diff -u <(echo "$expected" | sort) "$work/files" >"$work/diff"
result $? "the installed files are exactly the expected ones" "$work/diff"
# The staged driver finds the staged library (relative to its own path),
# and says so clearly when it is missing
mv "$dest$prefix/lib/khup/upgrade" "$work/upgrade-lib"
"$sbin/khup-upgrade" --version >"$work/out" 2>&1
rc=$?
mv "$work/upgrade-lib" "$dest$prefix/lib/khup/upgrade"
result "$([ "$rc" -eq 1 ] && grep -q "khup-upgrade: error: its library is missing: no common.sh in $dest$prefix/sbin/../lib/khup/upgrade" "$work/out"; echo $?)" \
	"khup-upgrade without its library fails at once, naming where it looked (exit $rc)" "$work/out"
check "khup-upgrade runs with its library from $prefix/lib/khup/upgrade, relative to itself" \
	test "$("$sbin/khup-upgrade" --version 2>&1)" = "khup-upgrade $version"

# --- DKMS source tree --------------------------------------------------------
base=$("$top/scripts/version" --base)
src=$work/dkms/usr/src/khup-$base
check "make install-dkms DESTDIR=<tmp> stages /usr/src/khup-$base" \
	make -s -C "$top" install-dkms DESTDIR="$work/dkms"
# every object Kbuild links into khup.ko has its source in the tree
objs=$(sed -nE '/^khup-y/,/[^\\]$/p' "$top/kernel/Makefile" | grep -oE '[a-z_]+\.o')
missing=
for o in $objs; do
	[ -f "$src/kernel/${o%.o}.c" ] || missing+=" ${o%.o}.c"
done
[ -f "$src/include/uapi/linux/khup.h" ] || missing+=" include/uapi/linux/khup.h"
echo "#   missing:$missing" >"$work/out"
result "$([ -z "$missing" ] && [ -n "$objs" ]; echo $?)" \
	"the DKMS tree has every source of khup.ko ($(echo "$objs" | wc -w) objects) and the UAPI header" "$work/out"
check "dkms.conf names khup $base and builds kernel/khup.ko" bash -c "
	kernel_source_dir=/k dkms_tree=/d; . '$src/dkms.conf' &&
	[ \"\$PACKAGE_NAME/\$PACKAGE_VERSION\" = khup/$base ] &&
	[ \"\${BUILT_MODULE_NAME[0]}\" = khup ] && [ \"\${BUILT_MODULE_LOCATION[0]}\" = kernel/ ] &&
	[ \"\$BUILD_EXCLUSIVE_CONFIG\" = CONFIG_KEXEC_HANDOVER ]"

# --- khup's CRIU and plugin: beside, never instead of, the distribution's ------
# (make test builds CRIU before this runs; on its own, make check-install
# builds it.) A stock CRIU loads every plugin in /usr/lib/criu and refuses
# khup's, so nothing may land there, nor a criu on PATH.
full=$work/full
check "make install-plugin install-criu DESTDIR=<tmp> succeeds" \
	make -s -C "$top" install-plugin install-criu DESTDIR="$full"
expected="usr/local/lib/khup/criu
usr/local/lib/khup/plugins/khup_plugin.so"
(cd "$full" 2>/dev/null && find . \( -type f -o -type l \) | sed 's|^\./||' | sort) >"$work/files"
diff -u <(echo "$expected") "$work/files" >"$work/diff"
result $? "CRIU and the plugin go to $prefix/lib/khup only (not /usr/lib/criu, not PATH)" "$work/diff"
check "the installed CRIU is the patched one (criu --help names --kho)" \
	grep -q -- '--kho' <("$full$prefix/lib/khup/criu" --help 2>&1)
check "khup-upgrade's default CRIU directory is $prefix/lib/khup" \
	grep -qx "KHUP_LIBDIR=$prefix/lib/khup" "$sbin/khup-upgrade"
rm -rf "$work/full2"
check "KHUPLIBDIR=/opt/khup moves CRIU, plugin, khup-upgrade's library and its default together" bash -c "
	make -s -C '$top' install-plugin install-criu install-programs DESTDIR='$work/full2' KHUPLIBDIR=/opt/khup &&
	test -x '$work/full2/opt/khup/criu' && test -f '$work/full2/opt/khup/plugins/khup_plugin.so' &&
	test -f '$work/full2/opt/khup/upgrade/common.sh' &&
	grep -qx 'KHUP_LIBDIR=/opt/khup' '$work/full2$prefix/sbin/khup-upgrade' &&
	test \"\$('$work/full2$prefix/sbin/khup-upgrade' --version)\" = 'khup-upgrade $version'"
# That rebuilt build/tools/khup-upgrade for /opt/khup: back to the default,
# which the VM tests run (the next checks use $dest's copies anyway).
make -s -C "$top" programs >/dev/null 2>&1

# --- the units ------------------------------------------------------------
for u in khupd.service khup-restore.service; do
	unit=$dest/lib/systemd/system/$u
	missing=
	# Documentation= holds several words on one line
	# shellcheck disable=SC2013
	for page in $(sed -n 's/^Documentation=//p' "$unit" 2>/dev/null); do
		p=${page#man:} name=${p%(*} sec=${p#*(}
		sec=${sec%)}
		[ -f "$dest$prefix/share/man/man$sec/$name.$sec" ] || missing+=" $page"
	done
	echo "#   missing:$missing" >"$work/out"
	result "$([ -z "$missing" ] && grep -q '^Documentation=man:' "$unit"; echo $?)" \
		"every man page $u's Documentation= names is installed" "$work/out"
done
unit=$dest/lib/systemd/system/khupd.service
check "the unit runs the installed khupd" grep -qx "ExecStart=$prefix/sbin/khupd --foreground" "$unit"
check "khupd.service is Type=notify (ready once the pages are claimed)" grep -qx "Type=notify" "$unit"
check "khup-restore.service runs the installed khup-upgrade --restore" \
	grep -qx "ExecStart=$prefix/sbin/khup-upgrade --restore" "$dest/lib/systemd/system/khup-restore.service"
check "khup-restore.service runs only after a kexec by khup-upgrade, after khupd" bash -c "
	grep -qx 'ConditionKernelCommandLine=khup-upgrade.images' '$dest/lib/systemd/system/khup-restore.service' &&
	grep -qx 'Requires=khupd.service' '$dest/lib/systemd/system/khup-restore.service'"
check "the generator runs the installed khup-upgrade" \
	grep -q "^\[ -x \"\$upgrade\" \] || upgrade=$prefix/sbin/khup-upgrade" "$dest/lib/systemd/system-generators/khup-restore-generator"
# systemd-analyze comes with scripts/deps (package systemd) and is required: the check fails without it.
# verify checks that executables exist: ExecReload's kill too
install -D /bin/kill "$dest/bin/kill"
check "systemd-analyze verify accepts the units" \
	systemd-analyze verify --man=no --root="$dest" khupd.service khup-restore.service
rm -f "$dest/bin/kill"

# --- man pages -----------------------------------------------------------
for page in "$dest$prefix"/share/man/man*/*; do
	name=$(basename "$page")
	MANWIDTH=80 man --warnings -l "$page" >"$work/man" 2>"$work/man.err"
	rc=$?
	# groff warnings, if any, are on stderr; the page has its version
	[ -s "$work/man.err" ] && rc=1
	grep -q '^NAME' "$work/man" && grep -q "khup $version" "$work/man" || rc=1
	cat "$work/man.err" "$work/man" >"$work/out"
	result "$rc" "man -l $name renders without warnings, with NAME and 'khup $version'" "$work/out"
done

# --- --version -----------------------------------------------------------
for prog in khupd khupctl khup-upgrade khup-tracedat; do
	check "$prog --version prints '$prog $version'" \
		test "$("$sbin/$prog" --version 2>&1)" = "$prog $version"
	check "$prog -V equals --version" \
		test "$("$sbin/$prog" -V 2>&1)" = "$("$sbin/$prog" --version 2>&1)"
	check "$prog --help names -V and --version" grep -qE -- '-V(, |\|)--version' <("$sbin/$prog" --help)
done

# --- khupd's settings file -------------------------------------------------
# Exit 2 is a bad setting. With settings that parse, khupd goes on: it stops
# at loading the module (exit 3) where khup.ko is not loaded, finds another
# khupd (5), or runs until the timeout (124) — any of them but 2 means the
# file was read and accepted, so this check runs on every host.
khupd_rc() {
	timeout 5 "$sbin/khupd" --foreground --state-dir "$work/state" \
		--module /nonexistent/khup.ko "$@" >"$work/out" 2>&1
	echo $?
}
rc=$(khupd_rc -c "$dest/etc/khup/khupd.conf")
result "$(case $rc in 3 | 5 | 124) echo 0 ;; *) echo 1 ;; esac)" \
	"khupd reads the installed khupd.conf (every key at its default; exit $rc)" "$work/out"
printf 'ttl = 60\nbogus = 1\n' >"$work/bad.conf"
rc=$(khupd_rc -c "$work/bad.conf")
result "$([ "$rc" -eq 2 ] && grep -q "bad.conf:2: unknown setting 'bogus'" "$work/out"; echo $?)" \
	"khupd refuses an unknown key naming file and line (exit 2)" "$work/out"
printf 'ttl = soon\n' >"$work/bad.conf"
rc=$(khupd_rc -c "$work/bad.conf" --ttl 5)
result "$([ "$rc" -eq 2 ] && grep -q "bad value 'soon' for ttl" "$work/out"; echo $?)" \
	"khupd refuses a bad value in the file even when the option is given" "$work/out"
printf 'ttl = 60\n' >"$work/ok.conf"
rc=$(khupd_rc -c "$work/ok.conf" --ttl x)
result "$([ "$rc" -eq 2 ] && grep -q -- "--ttl: bad value 'x'" "$work/out"; echo $?)" \
	"the command line is checked like the file" "$work/out"

# --- bash completion -------------------------------------------------------
# A fake khupctl: the real --help, and 'list' with two images, so that
# image names can be completed without the module.
cat >"$work/khupctl" <<FAKE
#!/bin/sh
[ "\$1" = list ] || exec "$sbin/khupctl" "\$@"
echo 'ID   NAME                 STATE    TASKS      PAGES       SIZE KEXECS CREATED              RELEASE'
echo '1    db                   restored     3      16400   64.1 MiB      1 2026-11-26T00:00:00  7.2.13-khup'
echo '2    cache                sealed       1         10   40.0 KiB      0 2026-11-26T00:00:00  7.2.13-khup'
FAKE
chmod +x "$work/khupctl"
mkdir -p "$work/cg/db.service"

# complete FILE WORD...: the completions bash offers for the command line
# WORD... (the last word is the one being completed), one per line, after
# sourcing FILE the way bash-completion does.
complete_words() {
	local file=$1
	shift
	bash --norc --noprofile -c '
		. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		f=$(complete -p "$(basename "$1")" | sed -E "s/.*-F ([^ ]+).*/\1/")
		"$f" "$(basename "$1")" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		[ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}"' complete "$file" "$@" 2>&1
}
# expect_completion DESC FILE WANTED WORD...: every word of WANTED offered
expect_completion() {
	local desc=$1 file=$2 want=$3 w rc=0
	shift 3
	complete_words "$file" "$@" >"$work/out"
	for w in $want; do
		grep -qxF -- "$w" "$work/out" || { echo "# missing: $w" >>"$work/out"; rc=1; }
	done
	result "$rc" "$desc" "$work/out"
}

check "both completion files define their command's completion" bash --norc --noprofile -c "
	. '$compdir/khupctl' && . '$compdir/khup-upgrade' && complete -p khupctl khup-upgrade"
expect_completion "khupctl <TAB>: its commands" "$compdir/khupctl" \
	"list show release status fdt prepare" "$sbin/khupctl" ""
expect_completion "khupctl release --<TAB>: the command's options" "$compdir/khupctl" \
	"--force --dry-run --all" "$sbin/khupctl" release --
expect_completion "khupctl --json show <TAB>: image names from khupctl list" "$compdir/khupctl" \
	"db cache" "$work/khupctl" --json show ""
expect_completion "khupctl prepare <TAB>: pids" "$compdir/khupctl" \
	"$$" "$sbin/khupctl" prepare "$$"
expect_completion "khup-upgrade --<TAB>: its options and modes" "$compdir/khup-upgrade" \
	"--kernel --pid --cgroup --dry-run --restore --report --version" "$sbin/khup-upgrade" --
expect_completion "khup-upgrade --kernel <TAB>: files" "$compdir/khup-upgrade" \
	"$work/khupctl" "$sbin/khup-upgrade" --kernel "$work/khup"
expect_completion "khup-upgrade -c <TAB>: directories" "$compdir/khup-upgrade" \
	"$work/cg/db.service" "$sbin/khup-upgrade" -c "$work/cg/"
complete_words "$compdir/khup-upgrade" "$sbin/khup-upgrade" --report -- - >"$work/out"
result "$([ ! -s "$work/out" ]; echo $?)" "khup-upgrade --report -- <TAB>: nothing (trace-cmd's options)" "$work/out"
# bash-completion comes with scripts/deps: required, the checks fail without it. Its own loader
# finds the files under PREFIX (XDG_DATA_DIRS).
check "bash-completion loads both from $prefix/share on demand" bash --norc --noprofile -c "
	. /usr/share/bash-completion/bash_completion
	export XDG_DATA_DIRS='$dest$prefix/share'
	__load_completion khupctl && __load_completion khup-upgrade &&
		complete -p khupctl khup-upgrade"

# --- make uninstall ---------------------------------------------------------
# Last: it removes what the checks above use. Only the settings file stays.
check "make uninstall DESTDIR=<tmp> succeeds" make -s -C "$top" uninstall DESTDIR="$dest"
(cd "$dest" 2>/dev/null && find . \( -type f -o -type l \) | sed 's|^\./||' | sort) >"$work/files"
diff -u <(echo etc/khup/khupd.conf) "$work/files" >"$work/diff"
result $? "make uninstall leaves only /etc/khup/khupd.conf (the administrator's settings)" "$work/diff"
check "make uninstall DESTDIR=<tmp> KHUPLIBDIR=/opt/khup removes CRIU, plugin and library too" bash -c "
	make -s -C '$top' uninstall DESTDIR='$work/full2' KHUPLIBDIR=/opt/khup &&
	[ ! -e '$work/full2/opt/khup' ] && [ -z \"\$(cd '$work/full2' && find . -type f ! -path ./etc/khup/khupd.conf)\" ]"

ktap_end
