# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# khup-upgrade's library: the upgrade's trace (doc/tools.md, "The upgrade's
# trace"). Files in IMAGES_DIR, all named khup-upgrade.* (TRACE_FILES.*):
#   old-kernel, old-head.dat  the previous kernel's release and everything
#                             needed to decode its buffer (event formats, header
#                             page, kallsyms, saved command lines), saved before
#                             the kexec with 'trace-cmd restore -c'
#   old.dat, new.dat          each kernel's half as a trace.dat: raw pages of
#                             INSTANCE_prev (resp. INSTANCE) behind that
#                             kernel's own headers
#   trace                     both halves as text on one time axis

# clock_marker: ties this kernel's trace clock to the wall clock
clock_marker() {
	marker "clock realtime=${EPOCHREALTIME/,/.}"
}

# trace_start: khup's events on in the persistent instance, so that it
# traces the dump
trace_start() {
	local ev=$TRACEFS/instances/$TRACE_INSTANCE/events/khup/enable
	[ "$TRACE" = yes ] || return 0
	if [ -e "$ev" ] || [ "$DRY_RUN" = yes ]; then
		run_write 1 "$ev"
	else
		warn "no $ev: khup:* events are not traced before the kexec"
	fi
}

# save_trace_headers: before the kexec, what decodes this kernel's buffer
save_trace_headers() {
	[ "$TRACE" = yes ] || return 0
	# an earlier upgrade's trace in this directory is not this one's
	[ "$DRY_RUN" = yes ] || rm -f "$TRACE_FILES".{old,new}.dat "$TRACE_FILES.new-head.dat" "$TRACE_FILES.trace"
	clock_marker
	run "$TRACE_CMD" restore -c -t "$TRACEFS" -o "$TRACE_FILES.old-head.dat" ||
		warn "trace-cmd restore -c failed: this kernel's event formats are not saved, its half of the trace will not be decoded after the kexec"
	[ "$DRY_RUN" = yes ] || uname -r >"$TRACE_FILES.old-kernel"
}

# make_dat INSTANCE HEAD OUT: OUT is INSTANCE's raw buffer behind HEAD's
# headers (the instance is drained: its pages are consumed)
make_dat() {
	local inst=$1 head=$2 out=$3 raw cpus rc
	raw=$(mktemp -d "$TRACE_FILES.raw.XXXXXX") || return 1
	mapfile -t cpus < <("$TRACEDAT" drain "$inst" "$raw")
	if [ ${#cpus[@]} -eq 0 ]; then
		rm -rf "$raw"
		return 1
	fi
	"$TRACE_CMD" restore -i "$head" -o "$out" "${cpus[@]}" >/dev/null
	rc=$?
	rm -rf "$raw"
	return $rc
}

# write_trace: after the restore, both halves as trace.dat and as text
write_trace() {
	local prev=$TRACEFS/instances/${TRACE_INSTANCE}_prev
	local cur=$TRACEFS/instances/$TRACE_INSTANCE
	local old=$TRACE_FILES.old.dat new=$TRACE_FILES.new.dat
	local before
	[ "$TRACE" = yes ] || return 0
	if [ "$DRY_RUN" = yes ]; then
		printf '+ %s drain %s | %s restore -i %s -o %s\n' "$TRACEDAT" "$prev" "$TRACE_CMD" "$TRACE_FILES.old-head.dat" "$old"
		printf '+ %s drain %s | %s restore -i %s -o %s\n' "$TRACEDAT" "$cur" "$TRACE_CMD" "$TRACE_FILES.new-head.dat" "$new"
		printf '+ %s timeline %s %s > %s\n' "$TRACEDAT" "$old" "$new" "$TRACE_FILES.trace"
		return 0
	fi
	if [ ! -d "$cur" ]; then
		warn "no persistent trace instance '$TRACE_INSTANCE' in this kernel: no trace of the upgrade"
		return 0
	fi
	if ! command -v "$TRACE_CMD" >/dev/null || ! command -v "$TRACEDAT" >/dev/null; then
		warn "trace-cmd or khup-tracedat not found: no trace of the upgrade"
		return 0
	fi
	# The previous kernel's half, decoded with its own formats
	if [ -d "$prev" ] && [ -s "$TRACE_FILES.old-head.dat" ]; then
		make_dat "$prev" "$TRACE_FILES.old-head.dat" "$old" ||
			warn "could not read instance ${TRACE_INSTANCE}_prev into $old"
	elif [ -s "$old" ]; then
		say "the previous kernel's half was read by an earlier run: $old"
	elif [ -d "$prev" ]; then
		warn "no $TRACE_FILES.old-head.dat (the previous kernel's event formats): its half of the trace cannot be decoded; left in instances/${TRACE_INSTANCE}_prev"
	else
		warn "no instance ${TRACE_INSTANCE}_prev: the previous kernel's half of the trace is missing"
	fi
	# This kernel's half
	clock_marker
	if ! "$TRACE_CMD" restore -c -t "$TRACEFS" -o "$TRACE_FILES.new-head.dat" >/dev/null ||
		! make_dat "$cur" "$TRACE_FILES.new-head.dat" "$new"; then
		warn "could not read instance $TRACE_INSTANCE into $new"
		return 0
	fi
	if [ ! -s "$old" ]; then
		warn "only this kernel's half of the trace: $new"
		return 0
	fi
	before=$(cat "$TRACE_FILES.old-kernel" 2>/dev/null || echo "the previous kernel")
	if "$TRACEDAT" timeline --before "$before" --after "$(uname -r)" "$old" "$new" >"$TRACE_FILES.trace"; then
		say "trace of the upgrade: $TRACE_FILES.trace; trace.dat files: $old $new (view: $PROG --report -D $IMAGES_DIR)"
	else
		warn "could not print the timeline of $old and $new"
	fi
}

# report: trace-cmd report of both halves on one axis (clock markers)
report() {
	local old=$TRACE_FILES.old.dat new=$TRACE_FILES.new.dat a b
	if [ ! -s "$old" ] || [ ! -s "$new" ]; then
		refuse "no $old and $new: nothing to report (run '$PROG --restore' first)"
	fi
	command -v "$TRACE_CMD" >/dev/null || refuse "trace-cmd not found"
	if ! a=$("$TRACEDAT" clock "$old") || ! b=$("$TRACEDAT" clock "$new"); then
		refuse "no clock markers in $old or $new: cannot put them on one axis"
	fi
	exec "$TRACE_CMD" report "${REPORT_ARGS[@]}" -i "$old" -i "$new" --ts-offset $((b - a))
}
