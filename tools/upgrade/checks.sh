# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# khup-upgrade's library: the checks before anything is done. An upgrade
# runs every one of them before it acts (check_upgrade): that the running
# system can dump and kexec, that the next kernel can claim the pages (KHO,
# its KHO format, a khup.ko for it that reads this module's node format),
# and that the images directory survives the kexec. Each refusal says
# what is wrong and how to fix it (exit 3); with --dry-run the next
# kernel's checks all run and the plan goes on.

# check_common: what dumping and restoring need (root, khup.ko, khup's CRIU)
check_common() {
	[ "$(id -u)" -eq 0 ] || refuse "not root (checkpointing, kexec and khup.ko need root)"
	if [ ! -e /sys/module/khup ] || [ ! -c /dev/khup ]; then
		refuse "khup.ko is not loaded (/dev/khup missing): start khupd or insmod khup.ko"
	fi
	command -v "$CRIU" >/dev/null ||
		refuse "criu not found ('$CRIU'): 'make install' puts khup's CRIU in $KHUP_LIBDIR, or use --criu PATH"
	"$CRIU" check --feature kho >/dev/null 2>&1 ||
		refuse "$CRIU has no --kho ('criu check --feature kho' fails: it needs khup's CRIU patches: 'make install' puts that CRIU in $KHUP_LIBDIR; use --criu PATH)"
	if [ -n "$CRIU_LIBDIR" ] && [ ! -f "$CRIU_LIBDIR/khup_plugin.so" ]; then
		refuse "no khup_plugin.so in $CRIU_LIBDIR"
	fi
}

# fs_type DIR: filesystem type of DIR or of its nearest existing parent
fs_type() {
	local d=$1
	while [ ! -e "$d" ]; do d=$(dirname "$d"); done
	stat -f -c %T "$d"
}

# kernel_version BZIMAGE: the version string in the x86 boot header
kernel_version() {
	local off
	off=$(od -An -tu2 -j $((0x20e)) -N2 "$1" 2>/dev/null | tr -d ' ')
	[ -n "$off" ] && [ "$off" -gt 0 ] || return 1
	dd if="$1" bs=1 skip=$((off + 0x200)) count=128 2>/dev/null | tr '\0' '\n' | head -n1 | cut -d' ' -f1
}

# kho_format_of BZIMAGE: the KHO format (kho-vN) the kernel image reads and
# writes, from its decompressed payload (x86 boot protocol: setup_sects at
# 0x1f1, payload_offset at 0x248)
kho_format_of() {
	local f=$1 setup po off magic dec
	setup=$(od -An -tu1 -j $((0x1f1)) -N1 "$f" 2>/dev/null | tr -d ' ')
	po=$(od -An -tu4 -j $((0x248)) -N4 "$f" 2>/dev/null | tr -d ' ')
	[ -n "$setup" ] && [ -n "$po" ] || return 1
	[ "$setup" -gt 0 ] || setup=4
	off=$(((setup + 1) * 512 + po))
	magic=$(od -An -tx1 -j "$off" -N4 "$f" 2>/dev/null | tr -d ' \n')
	case $magic in
	1f8b*) dec=(gzip -dc) ;;
	fd377a58) dec=(xz -dc) ;;
	28b52ffd) dec=(zstd -dc) ;;
	02214c18) dec=(lz4 -dc) ;;
	425a68*) dec=(bzip2 -dc) ;;
	5d00*) dec=(xz --format=lzma -dc) ;;
	*) return 1 ;;
	esac
	command -v "${dec[0]}" >/dev/null || return 1
	tail -c +$((off + 1)) "$f" | "${dec[@]}" 2>/dev/null | grep -a -o -m1 'kho-v[0-9][0-9]*' | head -n1
}

CHECKS_FAILED=0
check_failed() {
	if [ "$DRY_RUN" = yes ]; then
		printf '%s: check FAILED: %s\n' "$PROG" "$*" >&2
		CHECKS_FAILED=$((CHECKS_FAILED + 1))
	else
		refuse "$*"
	fi
}
check_ok() { say "check: $*"; }

# check_next_kernel VERSION: KHO format and khup.ko of the next kernel
check_next_kernel() {
	local ver=$1 cur nxt mod vm want formats
	cur=$(grep -a -o -m1 'kho-v[0-9][0-9]*' "$DEBUGFS/kho/out/fdt" 2>/dev/null | head -n1)
	nxt=$(kho_format_of "$KERNEL" || true)
	if [ -z "$cur" ]; then
		check_failed "cannot read the running kernel's KHO format ($DEBUGFS/kho/out/fdt)"
	elif [ -z "$nxt" ]; then
		check_failed "cannot find the KHO format in $KERNEL (not an x86 bzImage, or compressed with a format this host cannot decompress): the next kernel must read $cur"
	elif [ "$cur" != "$nxt" ]; then
		check_failed "the next kernel speaks KHO $nxt, this one $cur: it would boot as if nothing was handed over and every page would be lost"
	else
		check_ok "KHO format $cur in both kernels"
	fi

	mod=$NEXT_MODULE
	[ -n "$mod" ] || [ -z "$ver" ] || mod=$(modinfo -k "$ver" -n khup 2>/dev/null || true)
	if [ -z "$mod" ] || [ ! -f "$mod" ]; then
		check_failed "no khup.ko for the next kernel ${ver:-($KERNEL)}${mod:+ ($mod does not exist)}: build and install it for that kernel (make install-module KREL=${ver:-VERSION}) or name it with --next-module; without it nothing claims the pages after the kexec"
		return
	fi
	vm=$(modinfo -F vermagic "$mod" 2>/dev/null | cut -d' ' -f1)
	if [ -n "$ver" ] && [ "$vm" != "$ver" ]; then
		check_failed "$mod is built for kernel '${vm:-?}', not for the next kernel $ver"
	else
		check_ok "khup.ko for the next kernel: $mod"
	fi
	want=$(cat /sys/class/misc/khup/node_format 2>/dev/null || true)
	formats=$(modinfo -F khup_node_formats "$mod" 2>/dev/null || true)
	if [ -z "$want" ]; then
		check_failed "the running khup.ko does not say which node format it writes (/sys/class/misc/khup/node_format): load a current one"
	elif ! grep -qw -- "$want" <<<"$formats"; then
		check_failed "$mod reads node format(s) '${formats:-none}', but this kernel's khup.ko writes '$want': the next kernel could not claim the pages"
	else
		check_ok "the next kernel's khup.ko reads node format $want"
	fi
}

# check_next_config: the next kernel has KHO, by its .config (--next-config,
# /boot/config-VERSION, or config or .config next to the image)
check_next_config() {
	local c kdir
	kdir=$(dirname "$KERNEL")
	if [ -z "$NEXT_CONFIG" ]; then
		for c in "/boot/config-$NEXT_VERSION" "$kdir/config" "$kdir/.config"; do
			# /boot/config-VERSION only when the version is known
			[ -n "$NEXT_VERSION" ] || [ "${c#/boot/config-}" = "$c" ] || continue
			if [ -f "$c" ]; then
				NEXT_CONFIG=$c
				break
			fi
		done
	fi
	if [ -n "$NEXT_CONFIG" ]; then
		grep -q '^CONFIG_KEXEC_HANDOVER=y' "$NEXT_CONFIG" ||
			refuse "the next kernel has no KHO (CONFIG_KEXEC_HANDOVER=y missing in $NEXT_CONFIG)"
	elif [ "$ASSUME_KHO" = no ]; then
		refuse "cannot tell whether the next kernel ${NEXT_VERSION:-($KERNEL)} has KHO: no /boot/config-$NEXT_VERSION or config next to it (use --next-config FILE or --assume-kho)"
	fi
}

# check_images_dir: IMAGES_DIR survives the kexec, no restore is still
# using an image, and no earlier upgrade there waits for its restore
check_images_dir() {
	local note lp cl comm
	IMAGES_FSTYPE=$(fs_type "$IMAGES_DIR")
	case $IMAGES_FSTYPE in
	tmpfs|ramfs) refuse "images directory $IMAGES_DIR is on $IMAGES_FSTYPE: it would not survive the kexec (use --images-dir on a disk)" ;;
	esac
	for note in "$IMAGES_DIR"/*/khup-lazy.claim; do
		[ -e "$note" ] || continue
		# (its one line: pid N claim N verdict N)
		lp=$(awk '$1 == "pid" { print $2 }' "$note")
		if [ -n "$lp" ] && [ "$(cat "/proc/$lp/comm" 2>/dev/null)" = criu ]; then
			refuse "a lazy restore is still copying the memory of the tree in $(dirname "$note") (criu lazy-pages, pid $lp): wait for it to finish before dumping or kexec'ing again"
		fi
	done
	# Any restore still holding an image (a lazy fill above all): its
	# pages are not the processes' yet.
	if command -v "$KHUPCTL" >/dev/null; then
		cl=$("$KHUPCTL" --json list 2>/dev/null | grep -o '"claimer":[1-9][0-9]*' | head -n1 | cut -d: -f2)
		if [ -n "$cl" ]; then
			comm=
			[ "$(cat "/proc/$cl/comm" 2>/dev/null)" != criu ] || comm=", criu"
			refuse "a restore (pid $cl$comm) still holds a khup image; a lazy restore's fill must finish before the next dump or kexec (khupctl list)"
		fi
	fi
	if [ -e "$IMAGES_DIR/khup-upgrade.order" ]; then
		refuse "$IMAGES_DIR holds an upgrade that was not restored yet (khup-upgrade.order); restore it or remove it first"
	fi
	case $IMAGES_DIR in
	*[[:space:]]*) refuse "images directory '$IMAGES_DIR' has white space: the next kernel's command line names it (khup-upgrade.images=)" ;;
	esac
}

# check_upgrade: every check of an upgrade, before anything is done; sets
# NEXT_VERSION (the next kernel's release, if its image says) and
# IMAGES_FSTYPE
check_upgrade() {
	check_common
	[ -f "$KERNEL" ] || refuse "next kernel $KERNEL does not exist"
	if [ -n "$INITRD" ] && [ ! -f "$INITRD" ]; then
		refuse "initrd $INITRD does not exist"
	fi
	command -v kexec >/dev/null || refuse "kexec (kexec-tools) not found"
	if [ "$TRACE" = yes ]; then
		command -v "$TRACE_CMD" >/dev/null ||
			refuse "trace-cmd not found: it saves the event formats that decode this kernel's trace after the kexec (install trace-cmd, or --no-trace)"
	fi
	[ -d "$DEBUGFS/kho/out" ] ||
		refuse "KHO is not enabled in the running kernel ($DEBUGFS/kho/out missing: boot with kho=on, CONFIG_KEXEC_HANDOVER=y, debugfs mounted)"
	NEXT_VERSION=$(kernel_version "$KERNEL" || true)
	check_next_config
	check_next_kernel "$NEXT_VERSION"
	check_images_dir
}
