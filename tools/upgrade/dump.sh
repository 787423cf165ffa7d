# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# khup-upgrade's library: the dump. The targets (--pid, --cgroup, --name)
# become process trees (ROOTS); under systemd a root that is a service's
# main process is dumped as that service (UNIT_OF, UNITS); then each tree's
# pages leave KHO scratch and 'criu dump --kho' checkpoints it, its pages
# held by khup.ko, its images in IMAGES_DIR/N-PID.

declare -A UNIT_OF=()
UNITS=()
ROOTS=()

# ppid PID: the parent of PID
ppid() { awk '/^PPid:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# find_roots: the targets' tree roots into ROOTS
find_roots() {
	local p cg n members found
	ROOTS=()
	for p in "${PIDS[@]}"; do
		[ -d "/proc/$p" ] || refuse "no process $p"
		ROOTS+=("$p")
	done
	for cg in "${CGROUPS[@]}"; do
		[ -f "$cg/cgroup.procs" ] || refuse "$cg is not a cgroup v2 directory"
		mapfile -t members <"$cg/cgroup.procs"
		[ ${#members[@]} -gt 0 ] || refuse "cgroup $cg has no processes"
		for p in "${members[@]}"; do
			grep -qx -- "$(ppid "$p")" "$cg/cgroup.procs" || ROOTS+=("$p")
		done
	done
	for n in "${NAMES[@]}"; do
		mapfile -t found < <(pgrep -x -- "$n")
		[ ${#found[@]} -gt 0 ] || refuse "no process named '$n'"
		for p in "${found[@]}"; do
			printf '%s\n' "${found[@]}" | grep -qx -- "$(ppid "$p")" || ROOTS+=("$p")
		done
	done
	for p in "${ROOTS[@]}"; do
		if [ "$p" = $$ ] || [ "$p" = 1 ]; then
			refuse "will not checkpoint pid $p"
		fi
	done
}

# service_of PID: the service PID is the main process of, if any
service_of() {
	local cg u
	[ "$SYSTEMD" = yes ] || return 1
	cg=$(sed -n 's/^0:://p' "/proc/$1/cgroup" 2>/dev/null)
	u=${cg##*/}
	case $u in *.service) ;; *) return 1 ;; esac
	[ "$(systemctl show -p MainPID --value "$u" 2>/dev/null)" = "$1" ] || return 1
	echo "$u"
}

# find_services: under systemd (SYSTEMD=yes), a tree root that is the main
# process of a service is dumped as that service: recorded, kept from
# restarting, and at boot its unit restores it (khup-restore-generator)
# instead of starting anew. UNIT_OF[PID] and UNITS.
find_services() {
	local p u t
	SYSTEMD=no
	[ -d /run/systemd/system ] && [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && SYSTEMD=yes
	UNIT_OF=()
	UNITS=()
	for p in "${ROOTS[@]}"; do
		u=$(service_of "$p") || continue
		t=$(systemctl show -p Type --value "$u")
		case $t in
		simple|exec|notify|notify-reload|idle|dbus) ;;
		*) refuse "$u (main process $p) is Type=$t: only a service whose main process runs in the foreground (simple, exec, notify, dbus, idle) can come back as itself after the kexec; dump it with --pid in a unit of another type" ;;
		esac
		UNIT_OF[$p]=$u
		UNITS+=("$u")
		say "pid $p is the main process of $u: it is dumped as that service"
	done
}

# prepare_pages: while the trees still run, move their pages out of KHO
# scratch: the dump's FOLL_LONGTERM pin would migrate each of them inside
# the downtime. The dry run reports the scratch size and the trees' share
# in it.
prepare_pages() {
	local prep=(prepare --tree)
	[ "$PREPARE" = yes ] || return 0
	[ "$DRY_RUN" = no ] || prep+=(--dry-run)
	say "moving the trees' pages out of KHO scratch: $KHUPCTL ${prep[*]} ${ROOTS[*]}"
	if ! "$KHUPCTL" "${prep[@]}" "${ROOTS[@]}" 2>&1 | sed "s/^/$PROG: /"; then
		warn "khupctl prepare failed: the dump will migrate those pages itself, inside the downtime"
	fi
	marker "pages moved out of KHO scratch"
}

# hold_services: the dumped services must not restart in this kernel after
# their main process is gone (Restart=): a runtime drop-in, gone with the
# kexec
hold_services() {
	local u conf
	[ ${#UNITS[@]} -gt 0 ] || return 0
	for u in "${UNITS[@]}"; do
		conf=/run/systemd/system/$u.d/khup-upgrade.conf
		run mkdir -p "${conf%/*}"
		if [ "$DRY_RUN" = yes ]; then
			printf '+ printf "[Service]\\nRestart=no\\n" > %s\n' "$conf"
		else
			printf '# %s: dumped for a kexec; must not restart in this kernel\n[Service]\nRestart=no\n' "$PROG" >"$conf"
		fi
	done
	run systemctl daemon-reload
}

# dump_trees: checkpoint every tree; pages stay in RAM. What restores them
# goes with them: IMAGES_DIR/khup-upgrade.criu (the CRIU, plugin and
# options), khup-unit in a service's tree directory (its own command, user
# and group, should its restore fail), and khup-upgrade.order last (the
# trees in order), written once every dump succeeded.
dump_trees() {
	local order_tmp=$IMAGES_DIR/khup-upgrade.order.tmp i=0 p comm dir u
	run mkdir -p "$IMAGES_DIR"
	log_to_dir
	log_line info "$PROG $VERSION: upgrade to ${NEXT_VERSION:-$KERNEL}; trees ${ROOTS[*]}"
	if [ "$DRY_RUN" = no ]; then
		{
			echo "criu $(command -v "$CRIU")"
			[ -z "$CRIU_LIBDIR" ] || echo "libdir $(readlink -f "$CRIU_LIBDIR")"
			echo "opts $CRIU_OPTS"
			echo "trace $TRACE"
		} >"$CRIU_RECORD.tmp" && mv "$CRIU_RECORD.tmp" "$CRIU_RECORD"
	fi
	hold_services
	[ "$DRY_RUN" = yes ] || : >"$order_tmp"
	for p in "${ROOTS[@]}"; do
		i=$((i + 1))
		comm=$(cat "/proc/$p/comm" 2>/dev/null || echo "?")
		dir=$IMAGES_DIR/$i-$p
		run mkdir -p "$dir"
		rm -f "$dir/khup-unit" "$dir/khup-restored"
		u=${UNIT_OF[$p]:-}
		if [ -n "$u" ]; then
			say "checkpointing $comm (pid $p), main process of $u, into $dir"
			[ "$DRY_RUN" = yes ] || {
				echo "unit $u"
				echo "pid $p"
				echo "type $(systemctl show -p Type --value "$u")"
				echo "user $(systemctl show -p User --value "$u")"
				echo "group $(systemctl show -p Group --value "$u")"
				echo "exec $(unit_exec "$u")"
			} >"$dir/khup-unit"
		else
			say "checkpointing $comm (pid $p) into $dir"
		fi
		if ! run "$CRIU" dump --kho -t "$p" -D "$dir" "${CRIU_ARGS[@]}" -v4 -o dump.log; then
			die "criu dump of pid $p failed (see $dir/dump.log); trees dumped before it are held by khup.ko: '$PROG --restore' brings them back (rename $order_tmp to khup-upgrade.order), or khupctl release --force them"
		fi
		[ "$DRY_RUN" = yes ] || echo "$dir $p $comm" >>"$order_tmp"
		marker "dumped pid $p ($comm)"
	done
	run mv "$order_tmp" "$IMAGES_DIR/khup-upgrade.order"
	run sync
}
