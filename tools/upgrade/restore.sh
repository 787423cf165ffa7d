# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# khup-upgrade's library: the restore after the kexec. --restore restores
# every tree of IMAGES_DIR/khup-upgrade.order in order ('criu restore
# --kho', or post-copy with --lazy) but those their own unit restores;
# --restore-unit UNIT is such a unit's ExecStart=. Once every tree is
# back, the order file becomes khup-upgrade.order.done.

# lazy_restore_one DIR PID COMM: start a lazy-pages daemon for the tree,
# wait until it holds the image's claim, restore the tree post-copy. The
# daemon's pid goes to LAZY_PIDS (the restore's to LAZY_TREES); 0 if
# the tree was restored.
lazy_restore_one() {
	local dir=$1 pid=$2 comm=$3 wd d i
	# The daemon and the restore meet on a unix socket in their work
	# directory: one per tree, on a filesystem that has sockets.
	wd=$(mktemp -d "${TMPDIR:-/tmp}/khup-upgrade-lazy.XXXXXX") || return 1
	rm -f "$dir/khup-lazy.claim"
	printf '+ %s\n' "$CRIU lazy-pages --kho -D $dir -W $wd ${CRIU_ARGS[*]} -v4 -o $dir/lazy.log &"
	"$CRIU" lazy-pages --kho -D "$dir" -W "$wd" "${CRIU_ARGS[@]}" -v4 -o "$dir/lazy.log" </dev/null >/dev/null 2>&1 &
	d=$!
	for ((i = 0; i < 600; i++)); do
		[ -e "$dir/khup-lazy.claim" ] && break
		kill -0 "$d" 2>/dev/null || break
		sleep 0.1
	done
	if [ ! -e "$dir/khup-lazy.claim" ]; then
		kill "$d" 2>/dev/null
		wait "$d" 2>/dev/null
		rm -rf "$wd"
		warn "the lazy-pages daemon for $comm (pid $pid) did not take its image; see $dir/lazy.log"
		return 1
	fi
	if ! run "$CRIU" restore --kho --lazy-pages -D "$dir" -W "$wd" --restore-detached "${CRIU_ARGS[@]}" -v4 -o "$dir/restore.log"; then
		# Without the restore's "ok" the daemon drops the claim: the
		# image keeps every page. (A restore that failed before it
		# connected would leave the daemon waiting for it.)
		kill "$d" 2>/dev/null
		wait "$d" 2>/dev/null
		rm -rf "$wd"
		return 1
	fi
	LAZY_PIDS+=("$d")
	LAZY_TREES+=("$comm (pid $pid)|$dir")
	LAZY_WDS+=("$wd")
	return 0
}

# restore_all: --restore; exits 0 if every tree came back, else 1
restore_all() {
	local order=$IMAGES_DIR/khup-upgrade.order dir pid comm n=0 failed=0 t0 t_run i rc u how=
	check_common
	[ -f "$order" ] || refuse "no $order: nothing was dumped by $PROG into $IMAGES_DIR"
	[ "$LAZY" = no ] || how=" (lazy)"
	marker "restore start$how"
	clock_marker
	LAZY_PIDS=() LAZY_TREES=() LAZY_WDS=()
	t0=$(ms)
	while read -r dir pid comm; do
		[ -n "$dir" ] || continue
		if [ -e "$dir/khup-restored" ]; then
			say "$comm (pid $pid) was restored already"
			continue
		fi
		if u=$(adopted_unit "$dir"); then
			say "$comm (pid $pid) is restored by its unit $u, as that service (khup-restore-generator)"
			continue
		fi
		n=$((n + 1))
		say "restoring $comm (pid $pid) from $dir$how"
		if [ "$LAZY" = yes ] && [ "$DRY_RUN" = no ]; then
			if lazy_restore_one "$dir" "$pid" "$comm"; then
				say "$comm (pid $pid) is running; its memory is being copied"
				touch "$dir/khup-restored"
				marker "running pid $pid ($comm), lazy"
			else
				warn "restore of $comm (pid $pid) failed; see $dir/restore.log and $dir/lazy.log (its khup image is kept for another try: '$PROG --restore' or criu restore --kho; khupctl release --force gives it up)"
				failed=$((failed + 1))
			fi
		elif run "$CRIU" restore --kho -D "$dir" --restore-detached "${CRIU_ARGS[@]}" -v4 -o restore.log; then
			[ "$DRY_RUN" = yes ] || touch "$dir/khup-restored"
			say "restored $comm (pid $pid)"
			marker "restored pid $pid ($comm)"
		else
			warn "restore of $comm (pid $pid) failed; see $dir/restore.log (its khup image is kept for another try: '$PROG --restore' or criu restore --kho; khupctl release --force gives it up)"
			failed=$((failed + 1))
		fi
	done <"$order"
	t_run=$(ms)
	if [ "$LAZY" = yes ]; then
		say "time to running: $((t_run - t0)) ms for $((n - failed)) of $n tree(s); waiting for the fills"
		for i in "${!LAZY_PIDS[@]}"; do
			rc=0
			wait "${LAZY_PIDS[i]}" || rc=$?
			if [ "$rc" -eq 0 ] && grep -q "Lazy restore complete; committed" "${LAZY_TREES[i]#*|}/lazy.log"; then
				say "${LAZY_TREES[i]%|*}: memory fully copied, image committed ($(($(ms) - t0)) ms after the start)"
			else
				warn "${LAZY_TREES[i]%|*}: the lazy fill failed (see ${LAZY_TREES[i]#*|}/lazy.log): the tree was killed, its image keeps every page for another try"
				failed=$((failed + 1))
			fi
		done
		say "time to fully copied: $(($(ms) - t0)) ms"
		[ ${#LAZY_WDS[@]} -eq 0 ] || rm -rf "${LAZY_WDS[@]}"
	fi
	marker "restore end: $((n - failed)) of $n"
	say "$((n - failed)) of $n process tree(s) restored"
	write_trace
	if [ "$DRY_RUN" = no ] && [ "$failed" -eq 0 ]; then
		order_done
	fi
	[ "$failed" -eq 0 ] || exit "$EXIT_FAIL"
	exit 0
}

# order_done: once every tree is restored, the upgrade is over
# (khup-upgrade.order becomes khup-upgrade.order.done)
order_done() {
	local order=$IMAGES_DIR/khup-upgrade.order dir pid comm left=0
	[ -f "$order" ] || return 0
	while read -r dir pid comm; do
		[ -z "$dir" ] || [ -e "$dir/khup-restored" ] || left=$((left + 1))
	done <"$order"
	if [ "$left" -eq 0 ]; then
		mv "$order" "$order.done"
	else
		say "$left tree(s) left to restore (by their units)"
	fi
}

# adopted_unit DIR: the service whose main process the tree in DIR was,
# when that service restores it itself in this boot: PID 1 is systemd and
# the kernel command line names the unit (khup-upgrade.units=, which
# khup-restore-generator turns into the unit's drop-in)
adopted_unit() {
	local u units
	[ -f "$1/khup-unit" ] && [ -d /run/systemd/system ] || return 1
	u=$(field "$1/khup-unit" unit)
	units=$(cmdline_arg khup-upgrade.units) || return 1
	case ",$units," in *",$u,"*) echo "$u"; return 0 ;; esac
	return 1
}

# restore_unit UNIT: run as the ExecStart= of UNIT (Type=forking, in its
# cgroup): restore the tree that was its main process, same pid, and write
# that pid to PIDFILE_DIR/UNIT.pid for systemd to adopt. When there is no
# such tree left, or it cannot be restored, start the unit's own command
# (recorded at dump time) instead: the service comes back either way, and
# the image stays with khup.ko for another try.
restore_unit() {
	local unit=$1 order=$IMAGES_DIR/khup-upgrade.order dir='' pid='' comm='' d p c f
	local pidfile=$PIDFILE_DIR/$unit.pid why='' line='' u='' g=''
	local -a argv
	mkdir -p "$PIDFILE_DIR"
	rm -f "$pidfile"
	# the upgrade may be complete already (a later restart of the unit)
	for f in "$order" "$order.done"; do
		if [ ! -f "$f" ] || [ -n "$dir" ]; then
			continue
		fi
		while read -r d p c; do
			[ -f "$d/khup-unit" ] || continue
			[ "$(field "$d/khup-unit" unit)" = "$unit" ] || continue
			dir=$d pid=$p comm=$c
		done <"$f"
	done
	if [ -z "$dir" ]; then
		why="no tree of $unit in $order"
	elif [ -e "$dir/khup-restored" ]; then
		why="its tree (pid $pid) was restored already"
	elif ! (check_common) 2>/dev/null; then
		why="$(check_common 2>&1 | sed "s/^$PROG: refusing: //")"
	else
		say "restoring $unit: $comm (pid $pid) from $dir, in the unit's cgroup"
		marker "restore unit $unit (pid $pid)"
		if run "$CRIU" restore --kho -D "$dir" --restore-detached --pidfile "$pidfile" \
			--manage-cgroups=ignore "${CRIU_ARGS[@]}" -v4 -o restore.log; then
			touch "$dir/khup-restored"
			say "restored $unit: main process $(cat "$pidfile" 2>/dev/null) (was $pid)"
			marker "restored unit $unit (pid $pid)"
			order_done
			exit 0
		fi
		why="the restore failed, see $dir/restore.log (its khup image is kept: khupctl list)"
		rm -f "$pidfile"
	fi
	if [ -n "$dir" ]; then
		line=$(field "$dir/khup-unit" exec)
		u=$(field "$dir/khup-unit" user)
		g=$(field "$dir/khup-unit" group)
	fi
	if [ -z "$line" ]; then
		line=$(unit_exec "$unit")
		# our own drop-in's ExecStart is no normal start
		case $line in *--restore-unit*) line= ;; esac
	fi
	[ -n "$line" ] || die "$unit: $why, and its own command is unknown (no $dir/khup-unit): cannot start it"
	warn "$unit: $why; starting it normally: $line"
	read -ra argv <<<"$line"
	if [ -n "$u" ] && [ "$u" != root ]; then
		argv=(setpriv --reuid="$u" --regid="${g:-$u}" --init-groups -- "${argv[@]}")
	fi
	"${argv[@]}" </dev/null &
	echo $! >"$pidfile"
	exit 0
}
