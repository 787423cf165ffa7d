# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# khup-upgrade's library: the next kernel. Its command line, loading it
# with kexec_file_load (which carries KHO), and the kexec itself: 'systemctl
# kexec' under systemd (an orderly shutdown), else 'kexec -e'.

# next_cmdline: NEXT_ARGS, the next kernel's command line: the running
# one's (or --cmdline) without what khup-upgrade sets, plus kho=on, the
# persistent trace instance and what the next boot needs to know of this
# upgrade
next_cmdline() {
	local base=() extra=() w joined
	if [ -n "$CMDLINE" ]; then
		read -ra base <<<"$CMDLINE"
	else
		read -ra base </proc/cmdline
	fi
	NEXT_ARGS=()
	for w in "${base[@]}"; do
		case $w in
		kho=*|khup.trace=*|BOOT_IMAGE=*|initrd=*|khup-upgrade.*) ;;
		reserve_mem=*:trace|trace_instance=*) [ "$TRACE" = yes ] || NEXT_ARGS+=("$w") ;;
		*) NEXT_ARGS+=("$w") ;;
		esac
	done
	NEXT_ARGS+=(kho=on)
	if [ "$TRACE" = yes ]; then
		# The second instance is the kernel's backup copy of the first,
		# made at boot: enabling events in a persistent instance clears
		# the last boot's data, so the old kernel's part of the trace is
		# read from the copy (see --restore).
		NEXT_ARGS+=("reserve_mem=$RESERVE_MEM:4096:trace" "trace_instance=$TRACE_INSTANCE@trace"
			"trace_instance=${TRACE_INSTANCE}_prev=$TRACE_INSTANCE" "khup.trace=$TRACE_INSTANCE")
		if ! grep -q "trace_instance=$TRACE_INSTANCE@" /proc/cmdline; then
			warn "the running kernel has no persistent instance '$TRACE_INSTANCE' (reserve_mem=...:trace trace_instance=$TRACE_INSTANCE@trace): the trace after kexec will not include the dump"
		fi
	fi
	if [ -n "$APPEND" ]; then
		read -ra extra <<<"$APPEND"
		NEXT_ARGS+=("${extra[@]}")
	fi
	# For the next boot: where this upgrade's images are
	# (khup-restore.service, khupd), and which services restore
	# themselves (khup-restore-generator).
	NEXT_ARGS+=("khup-upgrade.images=$IMAGES_DIR")
	if [ ${#UNITS[@]} -gt 0 ]; then
		joined=$(IFS=,; echo "${UNITS[*]}")
		NEXT_ARGS+=("khup-upgrade.units=$joined")
	fi
}

# load_kernel: kexec -s -l, the next kernel with NEXT_ARGS
load_kernel() {
	local kargs=(-s -l "$KERNEL" --command-line="${NEXT_ARGS[*]}")
	[ -z "$INITRD" ] || kargs+=(--initrd="$INITRD")
	run kexec "${kargs[@]}" || die "kexec -s -l failed; the checkpointed processes are held by khup.ko: '$PROG --restore' restores them in this kernel"
}

# do_kexec: into the loaded kernel (unless --no-exec); returns only on a
# dry run
do_kexec() {
	if [ "$EXEC" = no ]; then
		say "next kernel loaded; not executing it (--no-exec). After 'kexec -e' and boot, run '$PROG --restore -D $IMAGES_DIR'"
		[ "$CHECKS_FAILED" -eq 0 ] || exit "$EXIT_REFUSED"
		exit 0
	fi
	marker "kexec"
	run sync
	if [ "$SYSTEMD" = yes ]; then
		# An orderly shutdown (units stopped, journal flushed,
		# filesystems unmounted), then the kernel loaded above:
		# systemctl kexec uses a kernel that is already loaded.
		say "systemctl kexec: the system stops its units and kexecs into ${NEXT_VERSION:-$KERNEL}; after boot, khup-restore.service and the dumped services' units restore the trees (log: ${LOG_FILE:-journal})"
		run systemctl kexec || die "systemctl kexec failed; the next kernel is loaded: 'systemctl kexec' or 'kexec -e' runs it, '$PROG --restore' restores the trees in this kernel"
		[ "$DRY_RUN" = yes ] || exit 0
	else
		run kexec -e
	fi
	[ "$DRY_RUN" = yes ] || die "kexec -e returned"
}
