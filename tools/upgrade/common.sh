# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# khup-upgrade's library: messages, the run's log, and running or only
# printing a step (--dry-run). Sourced by the driver, tools/khup-upgrade,
# before every other part of the library.

# Exit codes (doc/tools.md)
EXIT_FAIL=1      # a step failed after something was done (see the message)
EXIT_USAGE=2     # bad command line
EXIT_REFUSED=3   # a precondition is not met; nothing was done

# The run's log: IMAGES_DIR/khup-upgrade.log (once the directory exists,
# never in a dry run) and the journal (when there is one and stderr is not
# already a journal stream, as it is in a unit). Every line, synchronously:
# the log of an upgrade must be complete before the kexec.
LOG_FILE=
LOG_JOURNAL=no
log_line() {
	local prio=$1
	shift
	if [ -n "$LOG_FILE" ]; then
		printf '%(%F %T)T %s\n' -1 "$*" >>"$LOG_FILE" 2>/dev/null || LOG_FILE=
	fi
	[ "$LOG_JOURNAL" = no ] || printf '%s\n' "$*" | systemd-cat -t "$PROG" -p "$prio" 2>/dev/null || true
}
start_logging() {
	local js=${JOURNAL_STREAM:-} st
	if [ -S /run/systemd/journal/stdout ] && command -v systemd-cat >/dev/null; then
		LOG_JOURNAL=yes
		# (this shell's stderr: stat's own is /dev/null here)
		st=$(stat -L -c '%d:%i' /proc/$$/fd/2 2>/dev/null || true)
		[ -z "$js" ] || [ "$js" != "$st" ] || LOG_JOURNAL=no
	fi
	log_to_dir
}
# log_to_dir: the log file too, once IMAGES_DIR exists (not in a dry run)
log_to_dir() {
	[ "$DRY_RUN" = no ] && [ -d "$IMAGES_DIR" ] && [ -w "$IMAGES_DIR" ] || return 0
	LOG_FILE=$IMAGES_DIR/khup-upgrade.log
}

say() { printf '%s: %s\n' "$PROG" "$*"; log_line info "$*"; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; log_line warning "warning: $*"; }
refuse() {
	printf '%s: refusing: %s\n' "$PROG" "$*" >&2
	log_line err "refusing: $*"
	exit "$EXIT_REFUSED"
}
die() {
	printf '%s: error: %s\n' "$PROG" "$*" >&2
	log_line err "error: $*"
	exit "$EXIT_FAIL"
}
# usage_error TEXT: a bad command line (before anything is logged)
usage_error() {
	printf '%s: %s\n' "$PROG" "$*" >&2
	exit "$EXIT_USAGE"
}
# run CMD...: print it; run it unless --dry-run
run() {
	printf '+ %s\n' "$*"
	log_line info "+ $*"
	[ "$DRY_RUN" = yes ] || "$@"
}
# run_write VALUE FILE: 'echo VALUE > FILE', printed, not run in a dry run
run_write() {
	printf '+ echo %s > %s\n' "$1" "$2"
	log_line info "+ echo $1 > $2"
	[ "$DRY_RUN" = yes ] || printf '%s\n' "$1" >"$2"
}
# marker TEXT: a line in the persistent trace instance (best effort)
marker() {
	local m=$TRACEFS/instances/$TRACE_INSTANCE/trace_marker
	[ "$TRACE" = yes ] || return 0
	if [ "$DRY_RUN" = yes ]; then
		printf '+ echo %q > %s\n' "$PROG: $*" "$m"
	elif [ -w "$m" ]; then
		echo "$PROG: $*" >"$m" 2>/dev/null || true
	fi
}

# cmdline_arg NAME: the value of NAME= on this kernel's command line
cmdline_arg() {
	local w words=()
	read -ra words 2>/dev/null </proc/cmdline || true
	for w in "${words[@]}"; do
		case $w in "$1="*) echo "${w#*=}"; return 0 ;; esac
	done
	return 1
}

# ms: milliseconds since the epoch
ms() { echo $(($(date +%s%N) / 1000000)); }

# field FILE KEY: the rest of the line 'KEY VALUE...' in one of the small
# KEY VALUE files khup-upgrade writes (khup-upgrade.criu, khup-unit)
field() {
	awk -v k="$2" '$1 == k { sub("^" k " ?", ""); print; exit }' "$1"
}

# unit_exec UNIT: the command line of UNIT's first ExecStart=
unit_exec() {
	systemctl show -p ExecStart --value "$1" 2>/dev/null | sed -n 's/.*argv\[\]=\([^;]*\) ;.*/\1/p' | head -n1
}
